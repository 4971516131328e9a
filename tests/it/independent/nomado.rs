//! Nomado (seed 003, DESIGN.md §3 "nomado") in the independent service:
//! `POST /2fa/create` and `/2fa/verify` behind Basic auth, `{"code",
//! "message"}` answers. The request chooses the code (type, length), its
//! expiry and the message template, and the code comes back as `token`
//! by design. Letters compare case-insensitively. Checks run: route,
//! credentials, body, fields in the order of the seed's table.

use serde_json::{json, Map, Value};

use super::http::{text, Body, Call, Reply};
use super::ledger::{Checked, Desk, LedgerGone, Lookup, Terms};
use super::otp::{self, Alphabet, Dispatch, Sent};
use super::{recipient, Service};

const CREDENTIALS: &str = "test:test";
/// One challenge per number: Nomado has no purposes.
const PURPOSE: &str = "2fa";

fn status(code: u16, message: &str) -> Reply {
    Reply::json(code, json!({"code": code, "message": message}))
}

fn bad(field: &str, why: &str) -> Reply {
    status(400, &format!("Bad request: `{field}` {why}"))
}

pub(super) async fn answer(service: &Service, call: Call) -> Reply {
    let verifying = match (call.is_post(), call.path.as_str()) {
        (true, "/2fa/create") => false,
        (true, "/2fa/verify") => true,
        _ => return status(404, "Not Found"),
    };
    if call.basic().as_deref() != Some(CREDENTIALS) {
        return status(401, "Unauthorized: invalid credentials");
    }
    let Body::Object(body) = call.json() else {
        return status(400, "Bad request: the body must be a JSON object");
    };
    let answered = if verifying {
        verify(service, &body).await
    } else {
        create(service, &body).await
    };
    answered.unwrap_or_else(|LedgerGone| status(503, "Service unavailable"))
}

/// An optional whole number within `range`, or `default`.
fn whole(
    body: &Map<String, Value>,
    field: &str,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, Reply> {
    match body.get(field) {
        None => Ok(default),
        Some(value) => value.as_u64().filter(|n| range.contains(n)).ok_or_else(|| {
            bad(
                field,
                &format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
            )
        }),
    }
}

async fn create(service: &Service, body: &Map<String, Value>) -> Result<Reply, LedgerGone> {
    let Some(to) = text(body, "to").ok().flatten().and_then(recipient::phone) else {
        return Ok(bad("to", "must be a mobile number in E.164"));
    };
    let template = match text(body, "template") {
        Ok(None) => "{{CODE}}",
        Ok(Some(t)) if t.contains("{{CODE}}") => t,
        _ => return Ok(bad("template", "must be text containing {{CODE}}")),
    };
    let alphabet = match text(body, "type") {
        Ok(None | Some("ALPHANUMERIC")) => Alphabet::LettersAndDigits,
        Ok(Some("NUMERIC")) => Alphabet::Digits,
        Ok(Some("ALPHA")) => Alphabet::Letters,
        _ => return Ok(bad("type", "must be NUMERIC, ALPHA or ALPHANUMERIC")),
    };
    let length = match whole(body, "length", 1..=20, 4) {
        Ok(n) => n as usize,
        Err(reply) => return Ok(reply),
    };
    let expiry = match whole(body, "expiry", 1..=u32::MAX as u64, 7200) {
        Ok(s) => s,
        Err(reply) => return Ok(reply),
    };
    let render = |code: &str| template.replace("{{CODE}}", code);
    let sent = otp::send(
        service,
        Dispatch {
            desk: Desk::Nomado,
            to: &to,
            purpose: PURPOSE,
            alphabet,
            length,
            terms: Terms {
                ttl_ms: expiry * 1000,
                ..otp::standard_terms()
            },
            channels: &["sms"],
            text: &render,
        },
    )
    .await?;
    Ok(match sent {
        Sent::Delivered { code, text, .. } => {
            // Keyed by the number as Nomado writes it: digits, no `+`.
            let mut data = Map::new();
            data.insert(
                to.trim_start_matches('+').to_string(),
                json!({"code": 200, "status": "SENT"}),
            );
            data.insert("text".into(), json!(text));
            data.insert("token".into(), json!(code));
            data.insert("expiry".into(), json!(expiry));
            data.insert("total_messages".into(), json!(1));
            Reply::json(200, json!({"code": 200, "message": "OK", "data": data}))
        }
        Sent::Limited { .. } => status(429, "Too many requests"),
        Sent::Undelivered => status(503, "Delivery failed"),
    })
}

async fn verify(service: &Service, body: &Map<String, Value>) -> Result<Reply, LedgerGone> {
    let Some(to) = text(body, "to").ok().flatten().and_then(recipient::phone) else {
        return Ok(bad("to", "must be a mobile number in E.164"));
    };
    let token = match text(body, "token") {
        Ok(Some(t)) if !t.is_empty() => t.to_ascii_uppercase(),
        _ => return Ok(bad("token", "is required")),
    };
    let lookup = Lookup::Key {
        to,
        purpose: PURPOSE.to_string(),
    };
    Ok(
        match otp::verify(service, Desk::Nomado, lookup, &token).await? {
            Checked::Verified => Reply::json(
                200,
                json!({"code": 200, "message": "OK", "data": {"verified": true}}),
            ),
            Checked::Wrong { .. } => status(400, "Invalid token"),
            Checked::Expired => status(400, "Token expired"),
            Checked::Exhausted { .. } => status(429, "Too many attempts"),
            Checked::Missing => status(404, "No pending token"),
        },
    )
}
