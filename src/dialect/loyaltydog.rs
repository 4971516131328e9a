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
//! Tokens live in `tokens` (signed, checked against the engine's
//! clock); the FastAPI-style body checks and their 422s in `validation`.

use std::time::Duration;

use hyper::header::{HeaderValue, WWW_AUTHENTICATE};
use hyper::StatusCode;
use serde_json::{json, Map, Value};

use crate::delivery::Channel;
use crate::dialect::client::{
    bearer, text, ClientError, Credentials, SendOp, VerifyOp, WireRequest,
};
use crate::dialect::wire::with_retry_after;
use crate::dialect::{
    bearer_token, documented, observe_common, secret_eq, Operation, Rejection, Reply, Request,
    ServeContext, WireResponse,
};
use crate::engine::identifier::Identifier;
use crate::engine::outcome::{Observed, Outcome, OutcomeKind, Receipt};
use crate::engine::{ChallengeRef, SendRequest, VerifyRequest, MAX_SUBMITTED_CODE_LEN};

mod tokens;
mod validation;

pub use tokens::TokenKeys;
use validation::unprocessable;

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
pub const ERRORS: &[(OutcomeKind, u16, &str)] = &[
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
pub const DETAILS: &[(OutcomeKind, u16, &str)] = &[
    (OutcomeKind::Unauthorized, 401, NOT_AUTHENTICATED),
    (OutcomeKind::Unauthorized, 401, "Invalid API key"),
    (OutcomeKind::NotFound, 404, "Not Found"),
    (OutcomeKind::InvalidInput, 405, "Method Not Allowed"),
    (OutcomeKind::InvalidInput, 413, "Request Entity Too Large"),
];

/// What this dialect answers besides [`super::COMMON_OUTCOMES`].
pub(crate) const ALSO_PRODUCES: &[OutcomeKind] = &[];

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
    let fields = match validation::check(request.headers, request.body, &[("api_key", 255)]) {
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
    let values = validation::check(request.headers, request.body, fields)?;
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
            return unprocessable(reason.split("; ").map(validation::item_from).collect());
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
            return match validation::problems(items) {
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
