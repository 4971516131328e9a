//! REES46 (seed 000, DESIGN.md §3 "rees46") in the independent service:
//! `POST /loyalty/otp/send` and `/verify` with the shop's credentials in
//! the body, `event` as the purpose, `{"success": false, "payload":
//! {"message"}}` for every refusal. Checks run: body, credentials,
//! identifier, event, code. The first send to a number enrols it as a
//! customer with source `loyalty_otp`.

use serde_json::{json, Map, Value};

use super::http::{text, Body, Call, Reply};
use super::ledger::{Checked, Desk, LedgerGone, Lookup};
use super::otp::{self, Alphabet, Dispatch, Sent};
use super::{recipient, Service};

const SHOP_ID: &str = "test-shop";
const SHOP_SECRET: &str = "test-secret";

fn refuse(status: u16, message: &str) -> Reply {
    Reply::json(
        status,
        json!({"success": false, "payload": {"message": message}}),
    )
}

pub(super) async fn answer(service: &Service, call: Call) -> Reply {
    let verifying = match (call.is_post(), call.path.as_str()) {
        (true, "/loyalty/otp/send") => false,
        (true, "/loyalty/otp/verify") => true,
        _ => return refuse(404, "Not found"),
    };
    let Body::Object(body) = call.json() else {
        return refuse(400, "Bad request");
    };
    let credentials = (text(&body, "shop_id"), text(&body, "shop_secret"));
    if credentials != (Ok(Some(SHOP_ID)), Ok(Some(SHOP_SECRET))) {
        return refuse(401, "Invalid shop credentials");
    }
    let Some(to) = text(&body, "identifier")
        .ok()
        .flatten()
        .and_then(recipient::phone)
    else {
        return refuse(400, "Identifier is not valid");
    };
    let event = match text(&body, "event") {
        Ok(Some(e))
            if (1..=64).contains(&e.len())
                && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            e
        }
        _ => return refuse(400, "Event is not valid"),
    };
    let answered = if verifying {
        verify(service, &body, to, event).await
    } else {
        send(service, to, event).await
    };
    answered.unwrap_or_else(|LedgerGone| refuse(503, "Service unavailable"))
}

async fn send(service: &Service, to: String, event: &str) -> Result<Reply, LedgerGone> {
    let sent = otp::send(
        service,
        Dispatch {
            desk: Desk::Rees46,
            to: &to,
            purpose: event,
            alphabet: Alphabet::Digits,
            length: 6,
            terms: otp::standard_terms(),
            // The cascade is sms, telegram, e-mail, found by phone; a
            // customer created here has only a phone, so only sms is left.
            channels: &["sms"],
            text: &|code| "Ваш код подтверждения: {{ code }}".replace("{{ code }}", code),
        },
    )
    .await?;
    Ok(match sent {
        Sent::Delivered { .. } => {
            service.ledger.enrol(to);
            Reply::json(200, json!({"success": true}))
        }
        Sent::Limited { .. } => refuse(429, "Too many requests"),
        Sent::Undelivered => {
            service.ledger.enrol(to);
            refuse(503, "Delivery failed")
        }
    })
}

async fn verify(
    service: &Service,
    body: &Map<String, Value>,
    to: String,
    event: &str,
) -> Result<Reply, LedgerGone> {
    let Ok(Some(code)) = text(body, "code") else {
        return Ok(refuse(400, "Bad request"));
    };
    let lookup = Lookup::Key {
        to,
        purpose: event.to_string(),
    };
    Ok(
        match otp::verify(service, Desk::Rees46, lookup, code).await? {
            Checked::Verified => Reply::json(200, json!({"success": true})),
            Checked::Wrong { .. } => refuse(400, "Code is not valid"),
            Checked::Expired => refuse(400, "Code expired"),
            Checked::Exhausted { .. } => refuse(429, "Too many attempts"),
            Checked::Missing => refuse(404, "Code not found"),
        },
    )
}
