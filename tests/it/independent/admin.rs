//! The test-mode routes the independent service offers (DESIGN.md §4):
//! the clock (`GET|POST /_admin/clock`, moved forward only) and REES46's
//! customer records (`GET /_admin/customers/<phone>`). Nothing else of
//! `serve --test-mode` — no reset, no journal: codes go to the provider.

use serde_json::{json, Value};

use super::http::{Body, Call, Reply};
use super::ledger::MAX_ADVANCE_MS;
use super::{recipient, Service};

pub(super) async fn answer(service: &Service, call: Call) -> Reply {
    if call.path == "/_admin/clock" {
        return clock(service, &call).await;
    }
    if let Some(who) = call.path.strip_prefix("/_admin/customers/") {
        if call.method == hyper::Method::GET {
            return customer(service, who).await;
        }
    }
    Reply::json(
        404,
        json!({"error": format!("no admin route {} {}", call.method, call.path)}),
    )
}

fn refused(why: String) -> Reply {
    Reply::json(400, json!({"error": why}))
}

async fn clock(service: &Service, call: &Call) -> Reply {
    let now = match call.method {
        hyper::Method::GET => service.ledger.now().await,
        hyper::Method::POST => {
            let Body::Object(body) = call.json() else {
                return refused("the body must be a JSON object {\"advance_ms\": n}".into());
            };
            let Some(ms) = body.get("advance_ms").and_then(Value::as_u64) else {
                return refused(
                    "`advance_ms` must be a whole number of milliseconds, 0 or more".into(),
                );
            };
            if ms > MAX_ADVANCE_MS {
                return refused(format!(
                    "`advance_ms` is at most {MAX_ADVANCE_MS} (a century)"
                ));
            }
            service.ledger.advance(ms).await
        }
        _ => {
            return Reply::json(405, json!({"error": "GET or POST"}))
                .header("allow", "GET, POST".into())
        }
    };
    match now {
        Ok(now_ms) => Reply::json(200, json!({"now_ms": now_ms})),
        Err(_) => Reply::json(503, json!({"error": "the ledger is gone"})),
    }
}

async fn customer(service: &Service, who: &str) -> Reply {
    let who = who.replace("%2B", "+").replace("%2b", "+");
    let Some(phone) = recipient::phone(&who) else {
        return refused(format!("`{who}` is not a phone number"));
    };
    match service.ledger.is_customer(phone.clone()).await {
        Ok(true) => Reply::json(200, json!({"identifier": phone, "source": "loyalty_otp"})),
        Ok(false) => Reply::json(404, json!({"error": format!("no customer {phone}")})),
        Err(_) => Reply::json(503, json!({"error": "the ledger is gone"})),
    }
}
