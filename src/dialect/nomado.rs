//! The Nomado dialect (seed `003_4894d9d5f1ee8485.txt`, DESIGN.md §3
//! "nomado"): 2FA codes whose shape each request chooses.
//!
//! - `POST /2fa/create` Basic auth `{"to": E.164 digits, "template"?
//!   (must contain `{{CODE}}`), "type"?: NUMERIC|ALPHA|ALPHANUMERIC,
//!   "length"?: 1..=20, "expiry"?: seconds}` → 200 `{"code": 200,
//!   "message": "OK", "data": {"<to>": {"code": 200, "status": "SENT"},
//!   "text", "token", "expiry", "total_messages": 1}}`. Nomado returns the
//!   code (`token`) by design.
//! - `POST /2fa/verify` Basic auth `{"to", "token"}` → 200 `{"code": 200,
//!   "message": "OK", "data": {"verified": true}}`; letters compare
//!   case-insensitively.
//! - Errors `{"code": n, "message"}` ([`ERRORS`]); invalid parameters are
//!   400 `"Bad request: <what>"`.
//!
//! Defaults: template `{{CODE}}`, type ALPHANUMERIC, length 4, expiry
//! 7200 s (at most 30 days). Attempts, send limits and channels come from
//! the config's `nomado.policy`. `type` is read case-insensitively; the
//! content type is not checked.

use std::time::Duration;

use hyper::header::{HeaderValue, WWW_AUTHENTICATE};
use hyper::StatusCode;
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::delivery::Template;
use crate::dialect::client::{
    count, is, text, ClientError, Credentials, SendOp, VerifyOp, WireRequest,
};
use crate::dialect::wire::{self, with_retry_after, FieldError};
use crate::dialect::{
    documented, observe_common, rejection_outcome, secret_eq, Operation, Rejection, Reply, Request,
    ServeContext, WireResponse,
};
use crate::engine::code::Alphabet;
use crate::engine::identifier::Identifier;
use crate::engine::outcome::{Observed, Outcome, OutcomeKind, Receipt};
use crate::engine::policy::MAX_CODE_LENGTH;
use crate::engine::{ChallengeRef, SendRequest, VerifyRequest};

pub(crate) const PREFIX: &str = "/2fa/";
pub const CREATE_PATH: &str = "/2fa/create";
pub const VERIFY_PATH: &str = "/2fa/verify";
const TENANT: &str = "nomado";
const PURPOSE: &str = "2fa";
/// The placeholder every template must hold.
pub const PLACEHOLDER: &str = "{{CODE}}";
/// The longest expiry a request may ask for.
const MAX_EXPIRY_SECS: u64 = 30 * 86_400;
const BAD_REQUEST: &str = "Bad request";

/// Every documented error but "Bad request: …": outcome, status, message.
pub const ERRORS: &[(OutcomeKind, u16, &str)] = &[
    (OutcomeKind::Unauthorized, 401, "Unauthorized"),
    (OutcomeKind::WrongCode, 400, "Invalid token"),
    (OutcomeKind::Expired, 400, "Token expired"),
    (OutcomeKind::NotFound, 404, "No pending token"),
    (OutcomeKind::RateLimited, 429, "Too many requests"),
    (OutcomeKind::AttemptsExceeded, 429, "Too many attempts"),
    (OutcomeKind::ProviderUnavailable, 503, "Delivery failed"),
    (OutcomeKind::StoreUnavailable, 503, "Service unavailable"),
    (OutcomeKind::InternalError, 500, "Internal server error"),
    // Requests that never reach an operation.
    (OutcomeKind::NotFound, 404, "Not found"),
    (OutcomeKind::InvalidInput, 405, "Method not allowed"),
    (OutcomeKind::InvalidInput, 413, "Payload too large"),
];

/// What this dialect answers besides [`super::COMMON_OUTCOMES`].
pub(crate) const ALSO_PRODUCES: &[OutcomeKind] = &[];

pub(crate) fn route(path: &str) -> Option<Operation> {
    match path {
        CREATE_PATH => Some(Operation::Send),
        VERIFY_PATH => Some(Operation::Verify),
        _ => None,
    }
}

pub(crate) async fn serve(context: &ServeContext<'_>, request: Request<'_>) -> Reply {
    let observed = match request.operation {
        Operation::Send => send(context, &request).await,
        Operation::Verify => verify(context, &request).await,
        Operation::Token | Operation::Other => return reject(Rejection::NotFound),
    };
    let observed = observed.unwrap_or_else(|refused| observe(&refused, false));
    render(&observed, request.operation, None)
}

/// Basic credentials, then a JSON object and a possible phone in `to`.
fn admit(
    context: &ServeContext<'_>,
    request: &Request<'_>,
) -> Result<(Map<String, Value>, Identifier), Outcome> {
    let authorized = wire::basic_credentials(request.headers)
        .is_some_and(|given| secret_eq(&given, &context.config.nomado.basic));
    if !authorized {
        return Err(Outcome::Unauthorized);
    }
    let body = wire::object(request.body).ok_or_else(|| bad("the body must be a JSON object"))?;
    let to = match wire::string(&body, "to") {
        Ok(to) => Identifier::phone(to).map_err(|e| bad(&format!("to: {e}")))?,
        Err(FieldError::Missing) => return Err(bad("to is required")),
        Err(FieldError::WrongType) => return Err(bad("to must be a string")),
    };
    Ok((body, to))
}

fn bad(what: &str) -> Outcome {
    Outcome::invalid(format!("{BAD_REQUEST}: {what}"))
}

/// An optional whole number in `range`.
fn number(
    body: &Map<String, Value>,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, Outcome> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(bad(&format!(
                "{name} must be a whole number from {} to {}",
                range.start(),
                range.end()
            ))),
        },
    }
}

async fn send(context: &ServeContext<'_>, request: &Request<'_>) -> Result<Observed, Outcome> {
    let (body, to) = admit(context, request)?;
    let template_text = match wire::optional(&body, "template") {
        Ok(text) => text.unwrap_or(PLACEHOLDER),
        Err(_) => return Err(bad("template must be a string")),
    };
    let template = Template::new(template_text, PLACEHOLDER)
        .ok_or_else(|| bad("template must contain {{CODE}}"))?;
    let alphabet = match wire::optional(&body, "type") {
        Ok(None) => Alphabet::Alphanumeric,
        Ok(Some(kind)) => {
            alphabet(kind).ok_or_else(|| bad("type must be NUMERIC, ALPHA or ALPHANUMERIC"))?
        }
        Err(_) => return Err(bad("type must be a string")),
    };
    let mut policy = context.config.nomado.policy.clone();
    policy.alphabet = alphabet;
    if let Some(length) = number(&body, "length", 1..=u64::from(MAX_CODE_LENGTH))? {
        policy.length = length as u8;
    }
    if let Some(expiry) = number(&body, "expiry", 1..=MAX_EXPIRY_SECS)? {
        policy.ttl = Duration::from_secs(expiry);
    }
    let send = SendRequest {
        tenant: TENANT.to_string(),
        to: to.clone(),
        purpose: PURPOSE.to_string(),
        channel: None,
        template: template.clone(),
        from: None,
    };
    let outcome = context.engine.send(&policy, send).await;
    let mut observed = observe(&outcome, context.echo_codes);
    if let (Observed::Sent(receipt), Outcome::Sent(sent)) = (&mut observed, &outcome) {
        receipt.to = Some(to.as_str().trim_start_matches('+').to_string());
        receipt.text = Some(template.render(sent.code.as_str()));
    }
    Ok(observed)
}

fn alphabet(kind: &str) -> Option<Alphabet> {
    [Alphabet::Numeric, Alphabet::Alpha, Alphabet::Alphanumeric]
        .into_iter()
        .find(|a| type_name(*a).eq_ignore_ascii_case(kind))
}

fn type_name(alphabet: Alphabet) -> &'static str {
    match alphabet {
        Alphabet::Numeric => "NUMERIC",
        Alphabet::Alpha => "ALPHA",
        Alphabet::Alphanumeric => "ALPHANUMERIC",
    }
}

async fn verify(context: &ServeContext<'_>, request: &Request<'_>) -> Result<Observed, Outcome> {
    let (body, to) = admit(context, request)?;
    let token = match wire::string(&body, "token") {
        Ok(token) => token,
        Err(FieldError::Missing) => return Err(bad("token is required")),
        Err(FieldError::WrongType) => return Err(bad("token must be a string")),
    };
    let by = ChallengeRef::Key {
        tenant: TENANT.to_string(),
        to,
        purpose: PURPOSE.to_string(),
    };
    let outcome = context
        .engine
        .verify(VerifyRequest {
            by,
            code: token.to_string(),
        })
        .await;
    Ok(observe(&outcome, context.echo_codes))
}

/// What Nomado shows of an outcome: the token and its expiry (the server
/// adds the recipient and text, which the engine outcome does not hold).
pub(crate) fn observe(outcome: &Outcome, _echo_codes: bool) -> Observed {
    match outcome {
        Outcome::Sent(sent) => Observed::Sent(Receipt {
            code: Some(sent.code.as_str().to_string()),
            expires_in: Some(Duration::from_secs(sent.expires_in.as_secs())),
            ..Receipt::default()
        }),
        Outcome::InvalidInput { reason } if !is_bad_request(reason) => {
            Observed::invalid(format!("{BAD_REQUEST}: {reason}"))
        }
        Outcome::UnsupportedMediaType => Observed::invalid(format!("{BAD_REQUEST}: not JSON")),
        Outcome::Forbidden => Observed::Unauthorized,
        _ => observe_common(outcome),
    }
}

fn is_bad_request(reason: &str) -> bool {
    reason.starts_with(BAD_REQUEST)
        || ERRORS
            .iter()
            .any(|e| e.0 == OutcomeKind::InvalidInput && e.2 == reason)
}

pub(crate) fn render(observed: &Observed, _operation: Operation, _id: Option<&str>) -> Reply {
    let kind = observed.kind();
    match observed {
        Observed::Sent(receipt) => {
            let body = Created {
                code: 200,
                message: "OK",
                data: CreatedData(receipt),
            };
            return Reply::json(StatusCode::OK, "application/json", &body, kind);
        }
        Observed::Verified => {
            let body = json!({"code": 200, "message": "OK", "data": {"verified": true}});
            return Reply::json(StatusCode::OK, "application/json", &body, kind);
        }
        _ => {}
    }
    let (kind, status, message) = match observed {
        Observed::InvalidInput { reason } => ERRORS
            .iter()
            .find(|e| e.0 == kind && e.2 == reason)
            .map(|&(k, s, _)| (k, s, reason.as_str()))
            .unwrap_or((kind, 400, reason.as_str())),
        _ => ERRORS.iter().find(|e| e.0 == kind).copied().unwrap_or((
            OutcomeKind::InternalError,
            500,
            "Internal server error",
        )),
    };
    with_retry_after(error(status, message, kind), observed)
}

#[derive(Serialize)]
struct Created<'a> {
    code: u16,
    message: &'static str,
    data: CreatedData<'a>,
}

/// `{"<to>": {"code": 200, "status": "SENT"}, "text", "token", "expiry",
/// "total_messages": 1}`, in the seed's order.
struct CreatedData<'a>(&'a Receipt);

#[derive(Serialize)]
struct Delivered {
    code: u16,
    status: &'static str,
}

impl Serialize for CreatedData<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let receipt = self.0;
        let mut map = serializer.serialize_map(Some(5))?;
        let delivered = Delivered {
            code: 200,
            status: "SENT",
        };
        map.serialize_entry(receipt.to.as_deref().unwrap_or_default(), &delivered)?;
        map.serialize_entry("text", &receipt.text)?;
        map.serialize_entry("token", &receipt.code)?;
        map.serialize_entry("expiry", &receipt.expires_in.map(|e| e.as_secs()))?;
        map.serialize_entry("total_messages", &1)?;
        map.end()
    }
}

fn error(status: u16, message: &str, kind: OutcomeKind) -> Reply {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = json!({"code": status, "message": message});
    let reply = Reply::json(code, "application/json", &body, kind);
    if kind == OutcomeKind::Unauthorized {
        reply.with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"))
    } else {
        reply
    }
}

pub(crate) fn reject(rejection: Rejection) -> Reply {
    let (status, message) = match rejection {
        Rejection::NotFound => (404, "Not found"),
        Rejection::MethodNotAllowed(_) => (405, "Method not allowed"),
        Rejection::PayloadTooLarge => (413, "Payload too large"),
        Rejection::UnreadableBody => (400, "Bad request: the body could not be read"),
    };
    error(status, message, rejection_outcome(rejection))
}

fn basic(credentials: &Credentials) -> (&'static str, String) {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&credentials.basic);
    ("Authorization", format!("Basic {encoded}"))
}

pub(crate) fn send_request(
    credentials: &Credentials,
    send: &SendOp,
) -> Result<WireRequest, ClientError> {
    let mut body = Map::new();
    body.insert("to".into(), send.to.clone().into());
    if let Some(template) = &send.template {
        body.insert("template".into(), template.clone().into());
    }
    if let Some(alphabet) = send.alphabet {
        body.insert("type".into(), type_name(alphabet).into());
    }
    if let Some(length) = send.length {
        body.insert("length".into(), length.into());
    }
    if let Some(expiry) = send.expiry {
        body.insert("expiry".into(), expiry.as_secs().into());
    }
    Ok(WireRequest::json(
        CREATE_PATH,
        vec![basic(credentials)],
        &Value::Object(body),
    ))
}

pub(crate) fn verify_request(
    credentials: &Credentials,
    verify: &VerifyOp,
) -> Result<WireRequest, ClientError> {
    let body = json!({"to": verify.to, "token": verify.code});
    Ok(WireRequest::json(
        VERIFY_PATH,
        vec![basic(credentials)],
        &body,
    ))
}

pub(crate) fn classify(operation: Operation, response: &WireResponse<'_>) -> Observed {
    let body = match response.object() {
        Ok(body) => body,
        Err(unrecognized) => return unrecognized,
    };
    let (Some(code), Some(message)) = (body.get("code").and_then(count), text(&body, "message"))
    else {
        return response.unrecognized("a body without code and message");
    };
    if u32::from(response.status) != code {
        return response.unrecognized("code differs from the status");
    }
    if response.status == 200 {
        let data = body.get("data").and_then(Value::as_object);
        return match (operation, data) {
            (Operation::Send, Some(data)) if message == "OK" => sent(data).unwrap_or_else(|| {
                response.unrecognized("a create 200 without the documented data")
            }),
            (Operation::Verify, Some(data))
                if message == "OK" && is(data, "verified", Value::Bool(true)) =>
            {
                Observed::Verified
            }
            _ => response.unrecognized("an undocumented 200"),
        };
    }
    if let Some(&(kind, ..)) = ERRORS
        .iter()
        .find(|e| e.1 == response.status && e.2 == message)
    {
        return documented(kind, message, response);
    }
    if response.status == 400 && message.starts_with(BAD_REQUEST) {
        return Observed::invalid(message);
    }
    response.unrecognized("an undocumented status and message")
}

/// A create's `data`: one recipient entry with status SENT, and the rest.
fn sent(data: &Map<String, Value>) -> Option<Observed> {
    let (to, _) = data.iter().find(|(key, value)| {
        !matches!(key.as_str(), "text" | "token" | "expiry" | "total_messages")
            && value.get("status") == Some(&json!("SENT"))
    })?;
    if !is(data, "total_messages", Value::from(1)) {
        return None;
    }
    Some(Observed::Sent(Receipt {
        code: Some(text(data, "token")?.to_string()),
        expires_in: Some(Duration::from_secs(data.get("expiry")?.as_u64()?)),
        to: Some(to.clone()),
        text: Some(text(data, "text")?.to_string()),
        ..Receipt::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_read_case_insensitively() {
        assert_eq!(alphabet("NUMERIC"), Some(Alphabet::Numeric));
        assert_eq!(alphabet("alpha"), Some(Alphabet::Alpha));
        assert_eq!(alphabet("AlphaNumeric"), Some(Alphabet::Alphanumeric));
        assert_eq!(alphabet("HEX"), None);
    }
}
