//! The native dialect: otpbench's own API (DESIGN.md §3 "native").
//!
//! - `POST /v1/otp/send` `{"to", "purpose"?, "channel"?}` → 200
//!   `{"id", "expires_in", "attempts_remaining", "sends_remaining"}` (+ `code`
//!   with `--echo-codes`).
//! - `POST /v1/otp/verify` `{"id", "code"}` or `{"to", "purpose"?, "code"}`
//!   → 200 `{"verified": true}`.
//! - Everything else is RFC 9457 `application/problem+json` with
//!   `type = urn:otpbench:<outcome-with-dashes>`, `attempts_remaining` /
//!   `retry_after` where they apply and `Retry-After` on every 429 and 503
//!   (a provider outage: a fixed 5 s).
//!
//! Both endpoints take `Authorization: Bearer <native.bearer>` and
//! `Content-Type: application/json`; the checks run in that order (401,
//! then 415, then 400 for the body). Unknown JSON fields are ignored.

use std::sync::LazyLock;
use std::time::Duration;

use hyper::header::{HeaderValue, ALLOW, RETRY_AFTER, WWW_AUTHENTICATE};
use serde::Serialize;
use uuid::Uuid;

use crate::delivery::Channel;
use crate::dialect::prelude::*;
use crate::dialect::reply::retry_after_secs;
use crate::dialect::wire::Fields;
use crate::engine::outcome::ChallengeId;
use crate::engine::ChallengeRef;

/// The native dialect.
pub struct Native;

/// Path of the send operation.
pub(super) const SEND_PATH: &str = "/v1/otp/send";
/// Path of the verify operation.
pub(super) const VERIFY_PATH: &str = "/v1/otp/verify";
/// Content type of every error.
pub(super) const PROBLEM_JSON: &str = "application/problem+json";
/// Limits and challenges of this dialect are kept apart from the others'.
const TENANT: &str = "native";
/// The purpose of requests that name none.
pub(super) const DEFAULT_PURPOSE: &str = "default";
const MAX_PURPOSE_LEN: usize = 64;
/// The `Retry-After` of a provider-unavailable 503, whose wait the engine
/// cannot know: long enough for a gateway's blip to pass.
const PROVIDER_RETRY_AFTER_SECS: u64 = 5;
const EXPECTED_STRING: &str = "expected a string";

static TEMPLATE: LazyLock<Template> = LazyLock::new(|| {
    Template::new("Your otpbench code is {{ code }}", "{{ code }}").expect("has a placeholder")
});

impl Protocol for Native {
    const NAME: &'static str = "native";
    const PREFIX: &'static str = "/v1/";
    const ALSO_PRODUCES: &'static [OutcomeKind] = &[OutcomeKind::UnsupportedMediaType];

    const ROUTES: &'static [(&'static str, Operation)] = &[
        (SEND_PATH, Operation::Send),
        (VERIFY_PATH, Operation::Verify),
    ];

    const BEARER: Option<fn(&Config) -> &str> = Some(|config| &config.native.bearer);

    fn admit_send<'a>(context: &ServeContext<'a>, request: &Request<'_>) -> Admitted<SendCall<'a>> {
        let body = admit(request, SEND_FIELDS)?;
        let to = recipient(&body)?;
        let purpose = purpose(&body)?;
        let channel = match string_field(&body, "channel")? {
            None => None,
            Some(name) => Some(Channel::from_name(name).ok_or_else(|| {
                Invalid::new("channel", Fault::Malformed)
                    .because("expected one of sms, email, push, telegram, max, whatsapp")
            })?),
        };
        let mut call = SendCall::new(
            &context.config.native.policy,
            TENANT,
            to,
            purpose,
            &TEMPLATE,
        );
        call.request.channel = channel;
        Ok(call)
    }

    fn admit_verify(_context: &ServeContext<'_>, request: &Request<'_>) -> Admitted<VerifyCall> {
        let body = admit(request, VERIFY_FIELDS)?;
        let code = required(&body, "code")?.to_string();
        let by = match (string_field(&body, "id")?, body.contains("to")) {
            (Some(_), true) => {
                return Err(Invalid::new("id", Fault::Conflict)
                    .because("give either id or to (with purpose), not both")
                    .into())
            }
            (Some(id), false) => {
                let id = Uuid::parse_str(id)
                    .map_err(|_| Invalid::new("id", Fault::Malformed).because("expected a UUID"))?;
                ChallengeRef::Id {
                    tenant: TENANT.to_string(),
                    id: ChallengeId(id),
                }
            }
            (None, true) => ChallengeRef::Key {
                tenant: TENANT.to_string(),
                to: recipient(&body)?,
                purpose: purpose(&body)?,
            },
            (None, false) => {
                return Err(Invalid::new("id", Fault::Missing)
                    .because("give id or to (with purpose)")
                    .into())
            }
        };
        Ok(VerifyCall::new(by, &code))
    }

    /// Everything but the code, which only `--echo-codes` adds; invalid
    /// input as its detail says it.
    fn observe(outcome: &Outcome, echo_codes: bool) -> Observed {
        match outcome {
            Outcome::Sent(sent) => Observed::Sent(Receipt {
                id: Some(sent.id.to_string()),
                code: echo_codes.then(|| sent.code.as_str().to_string()),
                expires_in: Some(Duration::from_secs(sent.expires_in.as_secs())),
                attempts_remaining: Some(sent.attempts_remaining),
                sends_remaining: sent.sends_remaining,
                ..Receipt::default()
            }),
            Outcome::WrongCode { attempts_remaining } => Observed::WrongCode {
                attempts_remaining: Some(*attempts_remaining),
            },
            _ => observe_common(outcome, |reason| {
                reason
                    .through_text()
                    .unwrap_or_else(|| read_invalid(&reason.to_string()))
            }),
        }
    }

    fn render(observed: &Observed, _operation: Operation, _id: Option<&str>) -> Reply {
        match observed {
            Outcome::Sent(receipt) => Reply::json(
                StatusCode::OK,
                JSON,
                &SentBody {
                    id: receipt.id.as_deref().unwrap_or_default(),
                    expires_in: receipt.expires_in.unwrap_or_default().as_secs(),
                    attempts_remaining: receipt.attempts_remaining.unwrap_or_default(),
                    sends_remaining: receipt.sends_remaining,
                    code: receipt.code.as_deref(),
                },
                OutcomeKind::Sent,
            ),
            Outcome::Verified => Reply::json(
                StatusCode::OK,
                JSON,
                &VerifiedBody { verified: true },
                OutcomeKind::Verified,
            ),
            _ => problem(observed),
        }
    }

    /// 404 / 405 / 413 / 400 for requests that never reached an operation.
    fn reject(rejection: Rejection) -> Reply {
        reject(rejection)
    }

    fn send_request(credentials: &Credentials, _session: &Session, send: &SendOp) -> Built {
        let mut body = Map::new();
        body.insert("to".into(), send.to.clone().into());
        if let Some(purpose) = &send.purpose {
            body.insert("purpose".into(), purpose.clone().into());
        }
        if let Some(channel) = send.channel {
            body.insert("channel".into(), channel.name().into());
        }
        let headers = vec![bearer(&credentials.bearer)];
        Ok(WireRequest::json(SEND_PATH, headers, &Value::Object(body)))
    }

    fn verify_request(credentials: &Credentials, _session: &Session, verify: &VerifyOp) -> Built {
        let mut body = Map::new();
        match &verify.id {
            Some(id) => {
                body.insert("id".into(), id.clone().into());
            }
            None => {
                body.insert("to".into(), verify.to.clone().into());
                if let Some(purpose) = &verify.purpose {
                    body.insert("purpose".into(), purpose.clone().into());
                }
            }
        }
        body.insert("code".into(), verify.code.clone().into());
        let headers = vec![bearer(&credentials.bearer)];
        Ok(WireRequest::json(
            VERIFY_PATH,
            headers,
            &Value::Object(body),
        ))
    }

    /// DESIGN.md is native's own document, so its shapes are exact.
    fn read(operation: Operation, response: &WireResponse<'_>) -> Classified {
        Classified::plain(classify(operation, response))
    }
}

/// The members a send reads.
const SEND_FIELDS: [&str; 3] = ["to", "purpose", "channel"];
/// The members a verify reads.
const VERIFY_FIELDS: [&str; 4] = ["id", "to", "purpose", "code"];

/// After the token: content type and JSON object, in that order. The
/// named members are read straight from the body when they are strings
/// (the usual request); anything else is parsed whole, so a refusal says
/// exactly what the parser found.
fn admit<'a, const N: usize>(
    request: &Request<'a>,
    names: [&'static str; N],
) -> Result<Fields<'a, N>, Refusal> {
    if !is_json(request.headers) {
        return Err(Outcome::UnsupportedMediaType.into());
    }
    if let Some(fields) = Fields::read(request.body, names) {
        return Ok(fields);
    }
    match serde_json::from_slice::<Value>(request.body) {
        Ok(Value::Object(object)) => Ok(Fields::Tree(object)),
        Ok(_) => Err(Invalid::body(Fault::NotAnObject)
            .because("expected a JSON object")
            .into()),
        Err(error) => Err(Invalid::body(Fault::NotJson)
            .because(format!("invalid JSON: {error}"))
            .into()),
    }
}

fn string_field<'a, const N: usize>(
    body: &'a Fields<'_, N>,
    name: &'static str,
) -> Result<Option<&'a str>, Invalid> {
    body.optional(name)
        .map_err(|fault| Invalid::new(name, fault).because(EXPECTED_STRING))
}

fn required<'a, const N: usize>(
    body: &'a Fields<'_, N>,
    name: &'static str,
) -> Result<&'a str, Invalid> {
    string_field(body, name)?.ok_or_else(|| Invalid::new(name, Fault::Missing))
}

fn recipient<const N: usize>(body: &Fields<'_, N>) -> Result<Identifier, Invalid> {
    Identifier::parse(required(body, "to")?)
        .map_err(|e| Invalid::new("to", Fault::Malformed).because(e.to_string()))
}

fn purpose<const N: usize>(body: &Fields<'_, N>) -> Result<String, Invalid> {
    let Some(purpose) = string_field(body, "purpose")? else {
        return Ok(DEFAULT_PURPOSE.to_string());
    };
    let well_formed = !purpose.is_empty()
        && purpose.len() <= MAX_PURPOSE_LEN
        && purpose
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !well_formed {
        return Err(
            Invalid::new("purpose", Fault::Malformed).because("expected 1 to 64 of a-z, 0-9 and _")
        );
    }
    Ok(purpose.to_string())
}

#[derive(Serialize)]
struct SentBody<'a> {
    id: &'a str,
    expires_in: u64,
    attempts_remaining: u32,
    sends_remaining: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
}

#[derive(Serialize)]
struct VerifiedBody {
    verified: bool,
}

/// An RFC 9457 problem with otpbench's extension members.
#[derive(Serialize)]
struct Problem {
    #[serde(rename = "type")]
    kind: String,
    title: &'static str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    attempts_remaining: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

/// The status and title of each error outcome.
fn status_and_title(kind: OutcomeKind) -> (StatusCode, &'static str) {
    match kind {
        OutcomeKind::InvalidInput => (StatusCode::BAD_REQUEST, "Invalid input"),
        OutcomeKind::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
        OutcomeKind::Forbidden => (StatusCode::FORBIDDEN, "Forbidden"),
        OutcomeKind::NotFound => (StatusCode::NOT_FOUND, "Not found"),
        OutcomeKind::Expired => (StatusCode::GONE, "Code expired"),
        OutcomeKind::UnsupportedMediaType => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported media type")
        }
        OutcomeKind::WrongCode => (StatusCode::UNPROCESSABLE_ENTITY, "Wrong code"),
        OutcomeKind::AttemptsExceeded => (StatusCode::TOO_MANY_REQUESTS, "Too many attempts"),
        OutcomeKind::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "Too many sends"),
        OutcomeKind::ProviderUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "Delivery failed"),
        OutcomeKind::StoreUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "Store unavailable"),
        OutcomeKind::Sent
        | OutcomeKind::Verified
        | OutcomeKind::InternalError
        | OutcomeKind::Unrecognized => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error"),
    }
}

fn detail(outcome: &Observed) -> String {
    match outcome {
        Outcome::InvalidInput { reason } => reason.to_string(),
        Outcome::Unauthorized => "missing or wrong bearer token".into(),
        Outcome::Forbidden => "not allowed".into(),
        Outcome::NotFound => "no active code for this request".into(),
        Outcome::Expired => "the code has expired; request a new one".into(),
        Outcome::UnsupportedMediaType => "send Content-Type: application/json".into(),
        Outcome::WrongCode {
            attempts_remaining: Some(left),
        } => format!("wrong code; {left} attempts left"),
        Outcome::WrongCode { .. } => "wrong code".into(),
        Outcome::AttemptsExceeded { .. } => "no attempts left; request a new code".into(),
        Outcome::RateLimited { .. } => "send limit reached for this recipient".into(),
        Outcome::ProviderUnavailable => "the code could not be delivered on any channel".into(),
        Outcome::StoreUnavailable { .. } => "the store is unavailable; try again".into(),
        _ => "unexpected server error".into(),
    }
}

/// An engine outcome as a native problem (the admin routes use it).
pub(crate) fn render_outcome(outcome: &Outcome) -> Reply {
    Native::render(&Native::observe(outcome, false), Operation::Other, None)
}

/// A `not-found` problem whose detail says what was not found (the admin
/// routes name the thing they were asked about).
pub(crate) fn not_found(detail: String) -> Reply {
    let (status, title) = status_and_title(OutcomeKind::NotFound);
    let body = Problem {
        kind: "urn:otpbench:not-found".into(),
        title,
        status: status.as_u16(),
        detail,
        attempts_remaining: None,
        retry_after: None,
    };
    Reply::json(status, PROBLEM_JSON, &body, OutcomeKind::NotFound)
}

fn problem(outcome: &Observed) -> Reply {
    // `unrecognized` is a client-side verdict; a server never answers it.
    let kind = match outcome.kind() {
        OutcomeKind::Unrecognized => OutcomeKind::InternalError,
        kind => kind,
    };
    let (status, title) = status_and_title(kind);
    let retry_after = match outcome {
        Outcome::RateLimited { retry_after }
        | Outcome::AttemptsExceeded { retry_after }
        | Outcome::StoreUnavailable { retry_after } => {
            Some(retry_after.map_or(1, retry_after_secs))
        }
        // Every channel failed after its retries: the engine knows no
        // better time, so the client is told a fixed one (docs/known-limits.md).
        Outcome::ProviderUnavailable => Some(PROVIDER_RETRY_AFTER_SECS),
        _ => None,
    };
    let attempts_remaining = match outcome {
        Outcome::WrongCode { attempts_remaining } => Some(attempts_remaining.unwrap_or(0)),
        Outcome::AttemptsExceeded { .. } => Some(0),
        _ => None,
    };
    let body = Problem {
        kind: format!("urn:otpbench:{}", kind.name().replace('_', "-")),
        title,
        status: status.as_u16(),
        detail: detail(outcome),
        attempts_remaining,
        retry_after,
    };
    let mut reply = Reply::json(status, PROBLEM_JSON, &body, kind);
    if let Some(seconds) = retry_after {
        reply = reply.with_header(RETRY_AFTER, HeaderValue::from(seconds));
    }
    if kind == OutcomeKind::Unauthorized {
        reply = reply.with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    reply
}

/// 404 / 405 / 413 / 400 / 408 for requests that never reached an
/// operation.
pub(crate) fn reject(rejection: Rejection) -> Reply {
    let (status, kind, title, detail) = match rejection {
        Rejection::NotFound => (
            StatusCode::NOT_FOUND,
            "not-found",
            "Not found",
            "no such path",
        ),
        Rejection::MethodNotAllowed(_) => (
            StatusCode::METHOD_NOT_ALLOWED,
            "method-not-allowed",
            "Method not allowed",
            "this path does not take that method",
        ),
        Rejection::PayloadTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
            "request bodies are limited to 64 KiB",
        ),
        Rejection::UnreadableBody => (
            StatusCode::BAD_REQUEST,
            "invalid-input",
            "Invalid input",
            "the request body could not be read",
        ),
        Rejection::RequestTimeout => (
            StatusCode::REQUEST_TIMEOUT,
            "request-timeout",
            "Request timeout",
            "the request body did not arrive in time",
        ),
    };
    let body = Problem {
        kind: format!("urn:otpbench:{kind}"),
        title,
        status: status.as_u16(),
        detail: detail.to_string(),
        attempts_remaining: None,
        retry_after: None,
    };
    let reply = Reply::json(status, PROBLEM_JSON, &body, rejection.outcome());
    match rejection {
        Rejection::MethodNotAllowed(allow) => {
            reply.with_header(ALLOW, HeaderValue::from_static(allow))
        }
        _ => reply,
    }
}

fn classify(operation: Operation, response: &WireResponse<'_>) -> Observed {
    let body = match response.object() {
        Ok(body) => body,
        Err(unrecognized) => return unrecognized,
    };
    if response.status == 200 {
        return match operation {
            Operation::Send => sent(&body).unwrap_or_else(|| {
                response.unrecognized(
                    "a send 200 without id, expires_in, attempts_remaining and sends_remaining",
                )
            }),
            Operation::Verify if is(&body, "verified", Value::Bool(true)) => Observed::Verified,
            _ => response.unrecognized("an undocumented 200"),
        };
    }
    let Some(kind) = text(&body, "type").and_then(|t| t.strip_prefix("urn:otpbench:")) else {
        return response.unrecognized("an error that is not an otpbench problem");
    };
    let detail = text(&body, "detail").unwrap_or_default();
    let kind = match kind {
        "method-not-allowed" | "payload-too-large" | "request-timeout" => OutcomeKind::InvalidInput,
        other => match OutcomeKind::from_name(&other.replace('-', "_")) {
            Some(kind) => kind,
            None => return response.unrecognized("an unknown problem type"),
        },
    };
    let expected = match kind {
        OutcomeKind::InvalidInput => match response.status {
            405 | 408 | 413 => response.status,
            _ => 400,
        },
        kind => status_and_title(kind).0.as_u16(),
    };
    if response.status != expected || !is(&body, "status", Value::from(expected)) {
        return response.unrecognized("a problem type at the wrong status");
    }
    let wait = body
        .get("retry_after")
        .and_then(Value::as_u64)
        .map(Duration::from_secs)
        .or_else(|| response.retry_after());
    match kind {
        OutcomeKind::WrongCode => Observed::WrongCode {
            attempts_remaining: body.get("attempts_remaining").and_then(count),
        },
        OutcomeKind::AttemptsExceeded => Observed::AttemptsExceeded { retry_after: wait },
        OutcomeKind::RateLimited => Observed::RateLimited { retry_after: wait },
        OutcomeKind::StoreUnavailable => Observed::StoreUnavailable { retry_after: wait },
        kind => documented(kind, response, || read_invalid(detail)),
    }
}

/// The reason a problem's `detail` gives: the text form of [`Invalid`],
/// or (from another implementation) any text, as a reason about the body.
fn read_invalid(detail: &str) -> Invalid {
    Invalid::parse(detail)
        .unwrap_or_else(|| Invalid::body(Fault::Invalid).because(detail.to_string()))
}

/// A send's 200 body, if it has the documented fields.
fn sent(body: &Map<String, Value>) -> Option<Observed> {
    let sends_remaining = match body.get("sends_remaining")? {
        Value::Null => None,
        value => Some(count(value)?),
    };
    let code = match body.get("code") {
        None => None,
        Some(code) => Some(code.as_str()?.to_string()),
    };
    Some(Observed::Sent(Receipt {
        id: Some(text(body, "id")?.to_string()),
        code,
        expires_in: Some(Duration::from_secs(body.get("expires_in")?.as_u64()?)),
        attempts_remaining: Some(count(body.get("attempts_remaining")?)?),
        sends_remaining,
        ..Receipt::default()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::delivery::Channel;
    use crate::engine::code::{Alphabet, Code};
    use crate::engine::outcome::Sent;

    fn body(reply: Reply) -> (u16, serde_json::Value, hyper::HeaderMap) {
        (
            reply.status.as_u16(),
            serde_json::from_slice(&reply.body).unwrap(),
            reply.headers,
        )
    }

    #[test]
    fn every_error_outcome_has_its_documented_status_and_type() {
        let second = Duration::from_secs(1);
        let cases = [
            (
                Outcome::invalid(Invalid::new("to", Fault::Missing)),
                400,
                "invalid-input",
            ),
            (Outcome::Unauthorized, 401, "unauthorized"),
            (Outcome::Forbidden, 403, "forbidden"),
            (Outcome::NotFound, 404, "not-found"),
            (Outcome::Expired, 410, "expired"),
            (Outcome::UnsupportedMediaType, 415, "unsupported-media-type"),
            (
                Outcome::WrongCode {
                    attempts_remaining: 2,
                },
                422,
                "wrong-code",
            ),
            (
                Outcome::AttemptsExceeded {
                    retry_after: second,
                },
                429,
                "attempts-exceeded",
            ),
            (
                Outcome::RateLimited {
                    retry_after: second,
                },
                429,
                "rate-limited",
            ),
            (Outcome::ProviderUnavailable, 503, "provider-unavailable"),
            (
                Outcome::StoreUnavailable {
                    retry_after: second,
                },
                503,
                "store-unavailable",
            ),
            (Outcome::InternalError, 500, "internal-error"),
            (
                Outcome::Unrecognized { reason: "x".into() },
                500,
                "internal-error",
            ),
        ];
        for (outcome, status, kind) in cases {
            let reply = render_outcome(&outcome);
            let content_type = reply.headers[hyper::header::CONTENT_TYPE].clone();
            assert_eq!(content_type, PROBLEM_JSON, "{outcome:?}");
            let (got, json, headers) = body(reply);
            assert_eq!(got, status, "{outcome:?}");
            assert_eq!(json["type"], format!("urn:otpbench:{kind}"), "{outcome:?}");
            assert_eq!(json["status"], status);
            let retries = status == 429 || status == 503;
            assert_eq!(headers.contains_key(RETRY_AFTER), retries, "{outcome:?}");
            assert_eq!(json.get("retry_after").is_some(), retries, "{outcome:?}");
        }
    }

    #[test]
    fn sent_renders_the_code_only_when_asked() {
        let sent = Outcome::Sent(Sent {
            id: ChallengeId::random(),
            code: Code::generate(Alphabet::Numeric, 6),
            expires_in: Duration::from_secs(300),
            attempts_remaining: 3,
            sends_remaining: None,
            channel: Channel::Sms,
        });
        let render = |echo| Native::render(&Native::observe(&sent, echo), Operation::Send, None);
        let (status, json, _) = body(render(false));
        assert_eq!(status, 200);
        assert!(json.get("code").is_none());
        assert_eq!(json["sends_remaining"], serde_json::Value::Null);
        let (_, json, _) = body(render(true));
        assert_eq!(json["code"].as_str().map(str::len), Some(6));
    }

    #[test]
    fn purposes_are_checked() {
        let body = |purpose: serde_json::Value| {
            let object = serde_json::json!({ "purpose": purpose });
            Fields::<1>::Tree(object.as_object().unwrap().clone())
        };
        assert_eq!(purpose(&body("login_2".into())), Ok("login_2".into()));
        let empty = Fields::read(b"{}", ["purpose"]).unwrap();
        assert_eq!(purpose(&empty), Ok(DEFAULT_PURPOSE.into()));
        let refused = purpose(&body("Log In".into())).unwrap_err();
        assert_eq!(
            (refused.field(), refused.fault()),
            ("purpose", Fault::Malformed)
        );
        for bad in ["", "Login", "a-b", &"x".repeat(65)] {
            assert!(purpose(&body(bad.into())).is_err(), "{bad:?}");
        }
        assert!(purpose(&body(5.into())).is_err());
    }
}
