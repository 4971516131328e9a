//! LoyaltyDog (seed 004, DESIGN.md §3 "loyaltydog") in the independent
//! service, answering as the FastAPI app the seed describes: an API key
//! traded for an HS256 JWT at `POST /v2/token`, OTP send and verify for
//! an e-mail address or a phone number, `{"success", "message", "error"}`
//! bodies, and pydantic-style 422s for schema violations. The order is
//! FastAPI's: JSON decoding, then the bearer dependency, then the schema,
//! then the handler. Tokens live on the wall clock (they are auth, not
//! OTP state), so moving the OTP clock does not log clients out.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::http::{Body, Call, Reply};
use super::ledger::{Checked, Desk, LedgerGone, Lookup, Terms};
use super::otp::{self, Alphabet, Dispatch, Sent};
use super::recipient::{self, Recipient};
use super::Service;

const API_KEY: &str = "test-key";
/// How long a token lasts, in seconds.
const TOKEN_LIFE_S: u64 = 1800;
const PURPOSE: &str = "giftcard";

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
}

fn detail(status: u16, text: &str) -> Reply {
    Reply::json(status, json!({"detail": text}))
}

fn wall_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub(super) async fn answer(service: &Service, call: Call) -> Reply {
    let route = match call.path.as_str() {
        "/v2/token" => Route::Token,
        "/v2/giftcards/customers/otp/send" => Route::Send,
        "/v2/giftcards/customers/otp/verify" => Route::Verify,
        _ => return detail(404, "Not Found"),
    };
    if !call.is_post() {
        return detail(405, "Method Not Allowed").header("allow", "POST".into());
    }
    let body = match parsed(&call) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    if route != Route::Token && !authenticated(service, &call) {
        return detail(401, "Not authenticated").header("www-authenticate", "Bearer".into());
    }
    let fields: &[&str] = match route {
        Route::Token => &["api_key"],
        Route::Send => &["target"],
        Route::Verify => &["target", "code"],
    };
    let problems: Vec<Value> = fields
        .iter()
        .filter_map(|field| schema_problem(&body, field))
        .collect();
    if !problems.is_empty() {
        return Reply::json(422, json!({"detail": problems}));
    }
    let field = |name: &str| body.get(name).and_then(Value::as_str).unwrap_or_default();
    match route {
        Route::Token => token(service, field("api_key")),
        Route::Send => send(service, field("target")).await,
        Route::Verify => verify(service, field("target"), field("code")).await,
    }
    .unwrap_or_else(|LedgerGone| failure(503, "Service unavailable", false))
}

#[derive(PartialEq)]
enum Route {
    Token,
    Send,
    Verify,
}

/// The body as FastAPI reads it for a JSON model: JSON when the content
/// type is absent or JSON, else the raw text (which no model accepts).
fn parsed(call: &Call) -> Result<Map<String, Value>, Reply> {
    let not_a_model = |input: Value| {
        Reply::json(
            422,
            json!({"detail": [{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary or object to extract fields from", "input": input}]}),
        )
    };
    if call.media_type().is_some() && !call.says_json() {
        return Err(not_a_model(json!(String::from_utf8_lossy(&call.body))));
    }
    match call.json() {
        Body::Object(body) => Ok(body),
        Body::Other(value) => Err(not_a_model(value)),
        Body::Broken(e) => {
            // Python counts the position in characters from the start.
            let text = String::from_utf8_lossy(&call.body);
            let line_start: usize = text
                .split_inclusive('\n')
                .take(e.line().saturating_sub(1))
                .map(|l| l.chars().count())
                .sum();
            let position = line_start + e.column().saturating_sub(1);
            Err(Reply::json(
                422,
                json!({"detail": [{"type": "json_invalid", "loc": ["body", position], "msg": "JSON decode error", "input": {}, "ctx": {"error": "Expecting value"}}]}),
            ))
        }
    }
}

/// A required string of 1 to 255 characters, as pydantic words it.
fn schema_problem(body: &Map<String, Value>, field: &str) -> Option<Value> {
    let loc = json!(["body", field]);
    let Some(value) = body.get(field) else {
        return Some(
            json!({"type": "missing", "loc": loc, "msg": "Field required", "input": body}),
        );
    };
    let Some(text) = value.as_str() else {
        return Some(
            json!({"type": "string_type", "loc": loc, "msg": "Input should be a valid string", "input": value}),
        );
    };
    let length = text.chars().count();
    if length == 0 {
        return Some(
            json!({"type": "string_too_short", "loc": loc, "msg": "String should have at least 1 character", "input": value, "ctx": {"min_length": 1}}),
        );
    }
    if length > 255 {
        return Some(
            json!({"type": "string_too_long", "loc": loc, "msg": "String should have at most 255 characters", "input": value, "ctx": {"max_length": 255}}),
        );
    }
    None
}

fn authenticated(service: &Service, call: &Call) -> bool {
    let Some(token) = call.bearer() else {
        return false;
    };
    let validation = Validation::new(Algorithm::HS256);
    jsonwebtoken::decode::<Claims>(
        token,
        &DecodingKey::from_secret(&service.token_key),
        &validation,
    )
    .is_ok()
}

fn token(service: &Service, api_key: &str) -> Result<Reply, LedgerGone> {
    if api_key != API_KEY {
        return Ok(detail(401, "Invalid API key"));
    }
    let now = wall_seconds();
    let claims = Claims {
        sub: "test-client".into(),
        iat: now,
        exp: now + TOKEN_LIFE_S,
    };
    let Ok(jwt) = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&service.token_key),
    ) else {
        return Ok(detail(500, "Internal Server Error"));
    };
    Ok(Reply::json(
        200,
        json!({"access_token": jwt, "token_type": "bearer", "expires_in": TOKEN_LIFE_S}),
    ))
}

/// A refusal in the success body's shape; a send's also carries its
/// two extra fields.
fn failure(status: u16, error: &str, sending: bool) -> Reply {
    let mut body = json!({"success": false, "message": null, "error": error});
    if sending {
        body["otpType"] = Value::Null;
        body["mockCode"] = Value::Null;
    }
    Reply::json(status, body)
}

async fn send(service: &Service, target: &str) -> Result<Reply, LedgerGone> {
    let Some(to) = recipient::phone_or_email(target) else {
        return Ok(failure(400, "Invalid target format", true));
    };
    let (channel, kind) = match to {
        Recipient::Phone(_) => ("sms", "sms"),
        Recipient::Email(_) => ("email", "email"),
    };
    let sent = otp::send(
        service,
        Dispatch {
            desk: Desk::Loyaltydog,
            to: to.text(),
            purpose: PURPOSE,
            alphabet: Alphabet::Digits,
            length: 6,
            terms: Terms {
                limits: vec![(5, 3_600_000), (10, 86_400_000)],
                ..otp::standard_terms()
            },
            channels: &[channel],
            text: &|code| format!("Your LoyaltyDog gift card code: {code}"),
        },
    )
    .await?;
    Ok(match sent {
        // Every run of this service is a test run: the code is echoed.
        Sent::Delivered { code, .. } => Reply::json(
            200,
            json!({"success": true, "message": "OTP sent", "error": null, "otpType": kind, "mockCode": code}),
        ),
        Sent::Limited { .. } => failure(429, "Rate limit exceeded", true),
        Sent::Undelivered => failure(503, "Delivery failed", true),
    })
}

async fn verify(service: &Service, target: &str, code: &str) -> Result<Reply, LedgerGone> {
    let Some(to) = recipient::phone_or_email(target) else {
        return Ok(failure(400, "Invalid target format", false));
    };
    let lookup = Lookup::Key {
        to: to.text().to_string(),
        purpose: PURPOSE.to_string(),
    };
    Ok(
        match otp::verify(service, Desk::Loyaltydog, lookup, code).await? {
            Checked::Verified => Reply::json(
                200,
                json!({"success": true, "message": "OTP verified", "error": null}),
            ),
            Checked::Wrong { .. } => failure(400, "Invalid code", false),
            Checked::Expired => failure(400, "Code expired", false),
            Checked::Exhausted { .. } => failure(429, "Too many attempts", false),
            Checked::Missing => failure(400, "No active code", false),
        },
    )
}
