//! The LoyaltyDog dialect (seed `004_f0d69d7b0978c4f0.txt`, DESIGN.md §3
//! "loyaltydog"): a FastAPI service with JWT access tokens.
//!
//! - `POST /v2/token` `{"api_key"}` → 200 `{"access_token": JWT (HS256),
//!   "token_type": "bearer", "expires_in": s}`; a wrong key is 401
//!   `{"detail": "Invalid API key"}`.
//! - `POST /v2/giftcards/customers/otp/send` Bearer JWT `{"target": e-mail
//!   or phone}` → 200 `{"success": true, "message": "OTP sent", "error":
//!   null, "otpType": "email"|"sms", "mockCode": null}` (`mockCode` holds
//!   the code only with `--echo-codes`).
//! - `POST /v2/giftcards/customers/otp/verify` Bearer JWT `{"target",
//!   "code"}` → 200 `{"success": true, "message": "OTP verified", "error":
//!   null}`.
//! - Domain errors: the same body with `"success": false`, `"message":
//!   null` and `error` from [`ERRORS`]. A missing or invalid token is 401
//!   `{"detail": "Not authenticated"}`.
//! - Schema violations are FastAPI's 422 `{"detail": [{"type", "loc",
//!   "msg", "input", "ctx"?}]}`, one item per problem, as pydantic 2 words
//!   them: missing field, wrong type, empty, too long (`target` 255
//!   characters, `code` 64, `api_key` 255), invalid JSON, not an object.
//!
//! Tokens are checked against the engine's clock (so test-mode time
//! travel expires them) and signed with a key derived from the config's
//! `secret` (so replicas sharing a store accept each other's tokens), or a
//! random one.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use hmac::{Hmac, Mac};
use hyper::header::{HeaderValue, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{HeaderMap, StatusCode};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::delivery::Channel;
use crate::dialect::client::{
    bearer, count, text, ClientError, Credentials, SendOp, VerifyOp, WireRequest,
};
use crate::dialect::wire::with_retry_after;
use crate::dialect::{
    bearer_token, documented, observe_common, secret_eq, Operation, Rejection, Reply, Request,
    ServeContext, WireResponse,
};
use crate::engine::identifier::Identifier;
use crate::engine::outcome::{Observed, Outcome, OutcomeKind, Receipt};
use crate::engine::{ChallengeRef, SendRequest, VerifyRequest, MAX_SUBMITTED_CODE_LEN};

pub(crate) const PREFIX: &str = "/v2/";
pub const TOKEN_PATH: &str = "/v2/token";
pub const SEND_PATH: &str = "/v2/giftcards/customers/otp/send";
pub const VERIFY_PATH: &str = "/v2/giftcards/customers/otp/verify";
const TENANT: &str = "loyaltydog";
const PURPOSE: &str = "otp";
const MAX_TARGET_CHARS: usize = 255;
const TARGET_INVALID: &str = "Invalid target format";
const NOT_AUTHENTICATED: &str = "Not authenticated";

/// Domain errors: outcome, status, `error` text.
pub(crate) const ERRORS: &[(OutcomeKind, u16, &str)] = &[
    (OutcomeKind::InvalidInput, 400, TARGET_INVALID),
    (OutcomeKind::WrongCode, 400, "Invalid code"),
    (OutcomeKind::Expired, 400, "Code expired"),
    (OutcomeKind::NotFound, 400, "No active code"),
    (OutcomeKind::RateLimited, 429, "Rate limit exceeded"),
    (OutcomeKind::AttemptsExceeded, 429, "Too many attempts"),
    (OutcomeKind::ProviderUnavailable, 503, "Delivery failed"),
    (OutcomeKind::StoreUnavailable, 503, "Service unavailable"),
    (OutcomeKind::InternalError, 500, "Internal server error"),
];

/// `{"detail": "<text>"}` answers: outcome, status, text.
pub(crate) const DETAILS: &[(OutcomeKind, u16, &str)] = &[
    (OutcomeKind::Unauthorized, 401, NOT_AUTHENTICATED),
    (OutcomeKind::Unauthorized, 401, "Invalid API key"),
    (OutcomeKind::NotFound, 404, "Not Found"),
    (OutcomeKind::InvalidInput, 405, "Method Not Allowed"),
    (OutcomeKind::InvalidInput, 413, "Request Entity Too Large"),
];

pub(crate) const PRODUCES: &[OutcomeKind] = &[
    OutcomeKind::Sent,
    OutcomeKind::Verified,
    OutcomeKind::WrongCode,
    OutcomeKind::Expired,
    OutcomeKind::AttemptsExceeded,
    OutcomeKind::NotFound,
    OutcomeKind::RateLimited,
    OutcomeKind::InvalidInput,
    OutcomeKind::Unauthorized,
    OutcomeKind::ProviderUnavailable,
    OutcomeKind::StoreUnavailable,
    OutcomeKind::InternalError,
];

static TEMPLATE: std::sync::LazyLock<crate::delivery::Template> = std::sync::LazyLock::new(|| {
    crate::delivery::Template::new("Your LoyaltyDog code is {code}", "{code}")
        .expect("has a placeholder")
});

pub(crate) fn route(path: &str) -> Option<Operation> {
    match path {
        TOKEN_PATH => Some(Operation::Token),
        SEND_PATH => Some(Operation::Send),
        VERIFY_PATH => Some(Operation::Verify),
        _ => None,
    }
}

/// The key access tokens are signed and checked with.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// Tokens whose signature checked out, with their expiry (seconds):
    /// a client reuses its token for every request, and the HMAC, base64
    /// and JSON of a full check cost more than the rest of a send's
    /// parsing. Cleared when full; only ever holds tokens we signed.
    verified: RwLock<HashMap<Box<str>, u64>>,
}

/// Most verified tokens remembered at once.
const VERIFIED_TOKENS: usize = 1024;

#[derive(Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: u64,
    exp: u64,
}

impl TokenKeys {
    /// Keys derived from the server secret, or random ones without it.
    pub fn new(secret: Option<&[u8]>) -> TokenKeys {
        let key: [u8; 32] = match secret {
            Some(secret) => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
                    .expect("HMAC takes keys of any length");
                mac.update(b"otpbench loyaltydog access tokens");
                mac.finalize().into_bytes().into()
            }
            None => rand::random(),
        };
        TokenKeys {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            verified: RwLock::new(HashMap::new()),
        }
    }

    /// A token valid from `now_ms` for `ttl`.
    fn issue(&self, now_ms: u64, ttl: Duration) -> Option<String> {
        let iat = now_ms / 1000;
        let claims = Claims {
            sub: "api-key".into(),
            iat,
            exp: iat + ttl.as_secs(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).ok()
    }

    /// Whether `token` is ours, HS256, and unexpired at `now_ms`.
    fn accepts(&self, token: &str, now_ms: u64) -> bool {
        let now = now_ms / 1000;
        let known = self
            .verified
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .copied();
        if let Some(exp) = known {
            return now < exp;
        }
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is judged by the engine's clock, not the system's.
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        let Ok(data) = jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation) else {
            return false;
        };
        let mut verified = self.verified.write().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= VERIFIED_TOKENS {
            verified.clear();
        }
        verified.insert(token.into(), data.claims.exp);
        now < data.claims.exp
    }
}

pub(crate) async fn serve(context: &ServeContext<'_>, request: Request<'_>) -> Reply {
    match request.operation {
        Operation::Token => token(context, &request),
        Operation::Send => match send(context, &request).await {
            Ok(observed) => render(&observed, Operation::Send, None),
            Err(reply) => reply,
        },
        Operation::Verify => match verify(context, &request).await {
            Ok(observed) => render(&observed, Operation::Verify, None),
            Err(reply) => reply,
        },
        Operation::Other => reject(Rejection::NotFound),
    }
}

fn token(context: &ServeContext<'_>, request: &Request<'_>) -> Reply {
    let fields = match schema(request.headers, request.body, &[("api_key", 255)]) {
        Ok(fields) => fields,
        Err(reply) => return reply,
    };
    let config = &context.config.loyaltydog;
    if !secret_eq(&fields[0], &config.api_key) {
        return detail(401, "Invalid API key", OutcomeKind::Unauthorized);
    }
    let now_ms = context.engine.clock().now_ms();
    match context.state.tokens.issue(now_ms, config.token_ttl) {
        Some(token) => {
            let body = json!({
                "access_token": token,
                "token_type": "bearer",
                "expires_in": config.token_ttl.as_secs(),
            });
            Reply::json(StatusCode::OK, "application/json", &body, OutcomeKind::Sent)
        }
        None => render(&Observed::InternalError, Operation::Token, None),
    }
}

/// Token, then the body's schema, then the target.
fn admit(
    context: &ServeContext<'_>,
    request: &Request<'_>,
    fields: &[(&'static str, usize)],
) -> Result<(Identifier, Vec<String>), Reply> {
    let now_ms = context.engine.clock().now_ms();
    let authenticated = bearer_token(request.headers)
        .is_some_and(|token| context.state.tokens.accepts(token, now_ms));
    if !authenticated {
        return Err(detail(401, NOT_AUTHENTICATED, OutcomeKind::Unauthorized));
    }
    let values = schema(request.headers, request.body, fields)?;
    match Identifier::parse(&values[0]) {
        Ok(target) => Ok((target, values)),
        Err(_) => Err(render(
            &Observed::invalid(TARGET_INVALID),
            request.operation,
            None,
        )),
    }
}

async fn send(context: &ServeContext<'_>, request: &Request<'_>) -> Result<Observed, Reply> {
    let (target, _) = admit(context, request, &[("target", MAX_TARGET_CHARS)])?;
    let send = SendRequest {
        tenant: TENANT.to_string(),
        to: target,
        purpose: PURPOSE.to_string(),
        channel: None,
        template: TEMPLATE.clone(),
        from: None,
    };
    let outcome = context
        .engine
        .send(&context.config.loyaltydog.policy, send)
        .await;
    Ok(observe(&outcome, context.echo_codes))
}

async fn verify(context: &ServeContext<'_>, request: &Request<'_>) -> Result<Observed, Reply> {
    let fields = [
        ("target", MAX_TARGET_CHARS),
        ("code", MAX_SUBMITTED_CODE_LEN),
    ];
    let (target, mut values) = admit(context, request, &fields)?;
    let by = ChallengeRef::Key {
        tenant: TENANT.to_string(),
        to: target,
        purpose: PURPOSE.to_string(),
    };
    let code = values.pop().unwrap_or_default();
    let outcome = context.engine.verify(VerifyRequest { by, code }).await;
    Ok(observe(&outcome, context.echo_codes))
}

/// Checks the body against a model of required string fields (name, most
/// characters) the way FastAPI and pydantic 2 do, returning the values in
/// order or the 422.
fn schema(
    headers: &HeaderMap,
    body: &[u8],
    fields: &[(&'static str, usize)],
) -> Result<Vec<String>, Reply> {
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let json_type = content_type.is_none_or(|_| crate::dialect::is_json(headers));
    let not_object = |input: Value| {
        json!({
            "type": "model_attributes_type",
            "loc": ["body"],
            "msg": "Input should be a valid dictionary or object to extract fields from",
            "input": input,
        })
    };
    if !json_type {
        let input = String::from_utf8_lossy(body).into_owned();
        return Err(unprocessable(vec![not_object(input.into())]));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        let item =
            json!({"type": "missing", "loc": ["body"], "msg": "Field required", "input": null});
        return Err(unprocessable(vec![item]));
    }
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => object,
        Ok(other) => return Err(unprocessable(vec![not_object(other)])),
        Err(error) => {
            let item = json!({
                "type": "json_invalid",
                "loc": ["body", byte_offset(body, error.line(), error.column())],
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": json_error_text(&error)},
            });
            return Err(unprocessable(vec![item]));
        }
    };
    let mut values = Vec::with_capacity(fields.len());
    let mut problems = Vec::new();
    for &(name, max) in fields {
        let loc = json!(["body", name]);
        match object.get(name) {
            None => problems.push(json!({
                "type": "missing", "loc": loc, "msg": "Field required", "input": object,
            })),
            Some(Value::String(value)) if value.is_empty() => problems.push(json!({
                "type": "string_too_short", "loc": loc,
                "msg": "String should have at least 1 character",
                "input": value, "ctx": {"min_length": 1},
            })),
            Some(Value::String(value)) if value.chars().count() > max => problems.push(json!({
                "type": "string_too_long", "loc": loc,
                "msg": format!("String should have at most {max} characters"),
                "input": value, "ctx": {"max_length": max},
            })),
            Some(Value::String(value)) => values.push(value.clone()),
            Some(other) => problems.push(json!({
                "type": "string_type", "loc": loc,
                "msg": "Input should be a valid string", "input": other,
            })),
        }
    }
    if problems.is_empty() {
        Ok(values)
    } else {
        Err(unprocessable(problems))
    }
}

/// The offset of a 1-based line and column, as Python's decoder reports.
fn byte_offset(body: &[u8], line: usize, column: usize) -> usize {
    let line_start: usize = body
        .split(|&b| b == b'\n')
        .take(line.saturating_sub(1))
        .map(|l| l.len() + 1)
        .sum();
    (line_start + column.saturating_sub(1)).min(body.len())
}

/// serde_json's message without its " at line L column C" suffix.
fn json_error_text(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

fn unprocessable(items: Vec<Value>) -> Reply {
    Reply::json(
        StatusCode::UNPROCESSABLE_ENTITY,
        "application/json",
        &json!({ "detail": items }),
        OutcomeKind::InvalidInput,
    )
}

fn detail(status: u16, text: &str, kind: OutcomeKind) -> Reply {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reply = Reply::json(code, "application/json", &json!({ "detail": text }), kind);
    if status == 401 {
        reply.with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    } else {
        reply
    }
}

/// What LoyaltyDog shows of an outcome: the target's type and, in dev
/// mode, the code. Invalid input other than the target's format is a
/// schema problem, worded `"<loc>: <msg>"`.
pub(crate) fn observe(outcome: &Outcome, echo_codes: bool) -> Observed {
    match outcome {
        Outcome::Sent(sent) => Observed::Sent(Receipt {
            channel: Some(otp_type(sent.channel)),
            code: echo_codes.then(|| sent.code.as_str().to_string()),
            ..Receipt::default()
        }),
        Outcome::InvalidInput { reason }
            if reason != TARGET_INVALID && !reason.starts_with("body") =>
        {
            Observed::invalid(format!("body: {reason}"))
        }
        Outcome::UnsupportedMediaType => Observed::invalid("body: not JSON"),
        Outcome::Forbidden => Observed::Unauthorized,
        _ => observe_common(outcome),
    }
}

/// `otpType` says what kind of target it went to: e-mail or phone.
fn otp_type(channel: Channel) -> Channel {
    match channel {
        Channel::Email => Channel::Email,
        _ => Channel::Sms,
    }
}

pub(crate) fn render(observed: &Observed, operation: Operation, _id: Option<&str>) -> Reply {
    let kind = observed.kind();
    let send = operation == Operation::Send;
    let body =
        |success: bool, message: Option<&str>, error: Option<&str>, receipt: Option<&Receipt>| {
            let mut body = json!({"success": success, "message": message, "error": error});
            if send {
                let receipt = receipt.cloned().unwrap_or_default();
                body["otpType"] = receipt.channel.map(|c| c.name()).into();
                body["mockCode"] = receipt.code.into();
            }
            body
        };
    match observed {
        Observed::Sent(receipt) => {
            let body = body(true, Some("OTP sent"), None, Some(receipt));
            return Reply::json(StatusCode::OK, "application/json", &body, kind);
        }
        Observed::Verified => {
            let body = body(true, Some("OTP verified"), None, None);
            return Reply::json(StatusCode::OK, "application/json", &body, kind);
        }
        Observed::Unauthorized => return detail(401, NOT_AUTHENTICATED, kind),
        Observed::InvalidInput { reason } if reason != TARGET_INVALID => {
            if let Some(&(kind, status, text)) = DETAILS.iter().find(|d| d.2 == reason) {
                return detail(status, text, kind);
            }
            return unprocessable(reason.split("; ").map(schema_item).collect());
        }
        _ => {}
    }
    let &(kind, status, text) = ERRORS.iter().find(|e| e.0 == kind).unwrap_or(&(
        OutcomeKind::InternalError,
        500,
        "Internal server error",
    ));
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reply = Reply::json(
        code,
        "application/json",
        &body(false, None, Some(text), None),
        kind,
    );
    with_retry_after(reply, observed)
}

/// A 422 item from its `"<loc>: <msg>"` wording.
fn schema_item(problem: &str) -> Value {
    let (loc, msg) = problem.split_once(": ").unwrap_or(("body", problem));
    let loc: Vec<Value> = loc
        .split('.')
        .map(|part| match part.parse::<u64>() {
            Ok(n) => n.into(),
            Err(_) => part.into(),
        })
        .collect();
    json!({"type": "value_error", "loc": loc, "msg": msg, "input": null})
}

pub(crate) fn reject(rejection: Rejection) -> Reply {
    match rejection {
        Rejection::NotFound => detail(404, "Not Found", OutcomeKind::NotFound),
        Rejection::MethodNotAllowed(_) => {
            detail(405, "Method Not Allowed", OutcomeKind::InvalidInput)
        }
        Rejection::PayloadTooLarge => {
            detail(413, "Request Entity Too Large", OutcomeKind::InvalidInput)
        }
        Rejection::UnreadableBody => unprocessable(vec![json!({
            "type": "missing", "loc": ["body"], "msg": "Field required", "input": null,
        })]),
    }
}

/// Client side: the request that exchanges the API key for a JWT.
pub fn token_request(credentials: &Credentials) -> WireRequest {
    WireRequest::json(
        TOKEN_PATH,
        Vec::new(),
        &json!({"api_key": credentials.api_key}),
    )
}

/// Client side: the JWT and its lifetime from a token response.
pub fn read_token(response: &WireResponse<'_>) -> Result<(String, Duration), ClientError> {
    let bad = |why: &str| ClientError::BadResponse(format!("{TOKEN_PATH}: {why}"));
    if response.status != 200 {
        return Err(bad(&format!("status {}", response.status)));
    }
    let body: Map<String, Value> =
        serde_json::from_slice(response.body).map_err(|_| bad("not a JSON object"))?;
    let token = text(&body, "access_token").ok_or_else(|| bad("no access_token"))?;
    let ttl = body
        .get("expires_in")
        .and_then(Value::as_u64)
        .ok_or_else(|| bad("no expires_in"))?;
    Ok((token.to_string(), Duration::from_secs(ttl)))
}

fn authorization(credentials: &Credentials) -> Result<Vec<(&'static str, String)>, ClientError> {
    let token = credentials
        .access_token
        .as_deref()
        .ok_or(ClientError::Missing(
            "an access token (fetch one with token_request)",
        ))?;
    Ok(vec![bearer(token)])
}

pub(crate) fn send_request(
    credentials: &Credentials,
    send: &SendOp,
) -> Result<WireRequest, ClientError> {
    Ok(WireRequest::json(
        SEND_PATH,
        authorization(credentials)?,
        &json!({"target": send.to}),
    ))
}

pub(crate) fn verify_request(
    credentials: &Credentials,
    verify: &VerifyOp,
) -> Result<WireRequest, ClientError> {
    Ok(WireRequest::json(
        VERIFY_PATH,
        authorization(credentials)?,
        &json!({"target": verify.to, "code": verify.code}),
    ))
}

pub(crate) fn classify(operation: Operation, response: &WireResponse<'_>) -> Observed {
    let body = match response.object() {
        Ok(body) => body,
        Err(unrecognized) => return unrecognized,
    };
    match body.get("detail") {
        Some(Value::String(text)) => {
            return match DETAILS
                .iter()
                .find(|d| d.1 == response.status && d.2 == text)
            {
                Some(&(kind, _, text)) => documented(kind, text, response),
                None => response.unrecognized("an undocumented detail"),
            }
        }
        Some(Value::Array(items)) if response.status == 422 => {
            return match schema_problems(items) {
                Some(reason) => Observed::invalid(reason),
                None => response.unrecognized("a 422 whose items lack loc, msg and type"),
            }
        }
        Some(_) => return response.unrecognized("an undocumented detail"),
        None => {}
    }
    let success = body.get("success").and_then(Value::as_bool);
    let message = text(&body, "message");
    if response.status == 200 && success == Some(true) {
        return match (operation, message) {
            (Operation::Send, Some("OTP sent")) => {
                let channel = match text(&body, "otpType") {
                    Some("sms") => Some(Channel::Sms),
                    Some("email") => Some(Channel::Email),
                    _ => return response.unrecognized("otpType is neither sms nor email"),
                };
                let code = match body.get("mockCode") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(code)) => Some(code.clone()),
                    Some(_) => return response.unrecognized("mockCode is not a string"),
                };
                Observed::Sent(Receipt {
                    channel,
                    code,
                    ..Receipt::default()
                })
            }
            (Operation::Verify, Some("OTP verified")) => Observed::Verified,
            _ => response.unrecognized("an undocumented 200"),
        };
    }
    let error = text(&body, "error");
    match (success, error) {
        (Some(false), Some(error)) => match ERRORS
            .iter()
            .find(|e| e.1 == response.status && e.2 == error)
        {
            Some(&(kind, _, text)) => documented(kind, text, response),
            None => response.unrecognized("an undocumented status and error"),
        },
        _ => response.unrecognized("an error without success: false and error"),
    }
}

/// `"<loc>: <msg>"` for each 422 item, joined by `"; "`.
fn schema_problems(items: &[Value]) -> Option<String> {
    let mut problems = Vec::with_capacity(items.len());
    for item in items {
        let loc = item.get("loc")?.as_array()?;
        let loc: Vec<String> = loc
            .iter()
            .map(|part| match part {
                Value::String(s) => Some(s.clone()),
                Value::Number(n) => count(part).map(|n| n.to_string()).or(Some(n.to_string())),
                _ => None,
            })
            .collect::<Option<_>>()?;
        let msg = item.get("msg")?.as_str()?;
        item.get("type")?.as_str()?;
        problems.push(format!("{}: {msg}", loc.join(".")));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_expire_by_the_given_clock() {
        let keys = TokenKeys::new(Some(b"0123456789abcdef"));
        let now = 1_700_000_000_000;
        let token = keys.issue(now, Duration::from_secs(60)).unwrap();
        assert!(keys.accepts(&token, now));
        assert!(keys.accepts(&token, now + 59_000));
        assert!(!keys.accepts(&token, now + 60_000));
        assert!(!TokenKeys::new(Some(b"another secret!!")).accepts(&token, now));
        assert!(TokenKeys::new(Some(b"0123456789abcdef")).accepts(&token, now));
        assert!(!keys.accepts("not.a.jwt", now));
        // Remembered tokens still expire, and a tampered one is no token.
        assert!(!keys.accepts(&token, now + 61_000));
        let mut tampered = token.clone();
        tampered.pop();
        assert!(!keys.accepts(&tampered, now));
    }

    #[test]
    fn json_errors_point_at_the_offending_byte() {
        let body = b"{\n  \"target\": x}";
        let error = serde_json::from_slice::<Value>(body).unwrap_err();
        assert_eq!(byte_offset(body, error.line(), error.column()), 14);
        assert_eq!(json_error_text(&error), "expected value");
    }
}
