//! The LoyaltyDog dialect (seed `004_f0d69d7b0978c4f0.txt`, DESIGN.md §3
//! "loyaltydog"): a FastAPI service with JWT access tokens.
//!
//! - `POST /v2/token` `{"api_key"}` → 200 `{"access_token": JWT (HS256),
//!   "token_type": "bearer", "expires_in": s}`; a wrong key is 401
//!   `{"detail": "Invalid API key"}`.
//! - `POST /v2/giftcards/customers/otp/send` Bearer JWT `{"target": e-mail
//!   or phone}` → 200 `{"success": true, "message": "OTP sent", "error":
//!   null, "otpType": "email"|"sms", "mockCode": null}` (`mockCode` holds
//!   the code in the seed's dev/test mode: `--test-mode` or
//!   `--echo-codes`).
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
//! As FastAPI does, a known path with a trailing slash is answered 307
//! with `Location` the path without it (the server does that, asked by
//! [`Protocol::REDIRECTS_SLASHES`]), and a UTF-8 byte order mark before
//! the JSON is skipped.
//!
//! Tokens live in `tokens` (signed, checked against the engine's
//! clock); the FastAPI-style body checks and their 422s in `validation`.
//! The client side logs in through the [`Protocol::login_request`] hook.

use std::time::Duration;

use hyper::header::{HeaderValue, WWW_AUTHENTICATE};

use crate::delivery::Channel;
use crate::dialect::prelude::*;
use crate::engine::MAX_SUBMITTED_CODE_LEN;

mod tokens;
mod validation;

pub use tokens::TokenKeys;

/// The LoyaltyDog dialect.
pub struct LoyaltyDog;

pub(super) const TOKEN_PATH: &str = "/v2/token";
pub(super) const SEND_PATH: &str = "/v2/giftcards/customers/otp/send";
pub(super) const VERIFY_PATH: &str = "/v2/giftcards/customers/otp/verify";
const TENANT: &str = "loyaltydog";
const PURPOSE: &str = "otp";
const TARGET: &str = "target";
const MAX_TARGET_CHARS: usize = 255;
const NOT_AUTHENTICATED: &str = "Not authenticated";

/// Domain errors: outcome, status, `error` text.
pub(super) const ERRORS: ErrorTable = ErrorTable::new(&[
    ErrorRow::new(
        OutcomeKind::InvalidInput,
        StatusCode::BAD_REQUEST,
        "Invalid target format",
    ),
    ErrorRow::new(
        OutcomeKind::WrongCode,
        StatusCode::BAD_REQUEST,
        "Invalid code",
    ),
    ErrorRow::new(
        OutcomeKind::Expired,
        StatusCode::BAD_REQUEST,
        "Code expired",
    ),
    ErrorRow::new(
        OutcomeKind::NotFound,
        StatusCode::BAD_REQUEST,
        "No active code",
    ),
    ErrorRow::new(
        OutcomeKind::RateLimited,
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded",
    ),
    ErrorRow::new(
        OutcomeKind::AttemptsExceeded,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many attempts",
    ),
    ErrorRow::new(
        OutcomeKind::ProviderUnavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "Delivery failed",
    ),
    ErrorRow::new(
        OutcomeKind::StoreUnavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "Service unavailable",
    ),
    INTERNAL_ERROR,
]);

const INTERNAL_ERROR: ErrorRow = ErrorRow::new(
    OutcomeKind::InternalError,
    StatusCode::INTERNAL_SERVER_ERROR,
    "Internal server error",
);

/// `{"detail": "<text>"}` answers: outcome, status, text, and for invalid
/// input the field it is about.
pub(super) const DETAILS: ErrorTable<&str> = ErrorTable::new(&[
    ErrorRow::keyed(
        OutcomeKind::Unauthorized,
        StatusCode::UNAUTHORIZED,
        NOT_AUTHENTICATED,
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "Invalid API key",
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::NotFound,
        StatusCode::NOT_FOUND,
        "Not Found",
        "",
    ),
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::METHOD_NOT_ALLOWED,
        "Method Not Allowed",
        "method",
    ),
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::PAYLOAD_TOO_LARGE,
        "Request Entity Too Large",
        BODY,
    ),
    // After the 413, so that an invalid body never renders as it.
    ErrorRow::keyed(
        OutcomeKind::InvalidInput,
        StatusCode::REQUEST_TIMEOUT,
        "Request Timeout",
        BODY,
    ),
]);

static TEMPLATE: std::sync::LazyLock<Template> = std::sync::LazyLock::new(|| {
    Template::new("Your LoyaltyDog code is {code}", "{code}").expect("has a placeholder")
});

impl Protocol for LoyaltyDog {
    const NAME: &'static str = "loyaltydog";
    const PREFIX: &'static str = "/v2/";
    const ALSO_PRODUCES: &'static [OutcomeKind] = &[];

    const ROUTES: &'static [(&'static str, Operation)] = &[
        (TOKEN_PATH, Operation::Token),
        (SEND_PATH, Operation::Send),
        (VERIFY_PATH, Operation::Verify),
    ];

    /// The access token of send and verify, before the body is read (the
    /// token endpoint takes none).
    fn admit_headers(
        context: &ServeContext<'_>,
        operation: Operation,
        headers: &HeaderMap,
    ) -> Admitted<()> {
        if operation == Operation::Token {
            return Ok(());
        }
        let now_ms = context.engine.clock().now_ms();
        let authenticated =
            bearer_token(headers).is_some_and(|token| context.state.tokens.accepts(token, now_ms));
        if !authenticated {
            return Err(Outcome::Unauthorized.into());
        }
        Ok(())
    }

    fn admit_send<'a>(context: &ServeContext<'a>, request: &Request<'_>) -> Admitted<SendCall<'a>> {
        let (target, _) = admit(request, &[(TARGET, MAX_TARGET_CHARS)])?;
        let policy = &context.config.loyaltydog.policy;
        Ok(SendCall::new(policy, TENANT, target, PURPOSE, &TEMPLATE))
    }

    fn admit_verify(_context: &ServeContext<'_>, request: &Request<'_>) -> Admitted<VerifyCall> {
        let fields = [(TARGET, MAX_TARGET_CHARS), ("code", MAX_SUBMITTED_CODE_LEN)];
        let (target, values) = admit(request, &fields)?;
        Ok(VerifyCall::by_key(TENANT, target, PURPOSE, &values[1]))
    }

    /// `/v2/token`: the API key for a JWT.
    fn serve_other(context: &ServeContext<'_>, request: &Request<'_>) -> Reply {
        if request.operation != Operation::Token {
            return Self::reject(Rejection::NotFound);
        }
        let fields = match validation::check(request.headers, request.body, &[("api_key", 255)]) {
            Ok(fields) => fields,
            Err(reply) => return reply,
        };
        let config = &context.config.loyaltydog;
        if !secret_eq(&fields[0], &config.api_key) {
            return detail(DETAILS.by_status_text(401, "Invalid API key"));
        }
        let now_ms = context.engine.clock().now_ms();
        match context.state.tokens.issue(now_ms, config.token_ttl) {
            Some(token) => {
                let body = json!({
                    "access_token": token,
                    "token_type": "bearer",
                    "expires_in": config.token_ttl.as_secs(),
                });
                Reply::json(StatusCode::OK, JSON, &body, OutcomeKind::Sent)
            }
            None => Self::render(&Observed::InternalError, Operation::Token, None),
        }
    }

    /// The code goes into `mockCode` in the seed's "dev/test mode": test
    /// mode here, or `--echo-codes`.
    fn echoes_codes(context: &ServeContext<'_>) -> bool {
        context.echo_codes || context.test_mode
    }

    /// FastAPI answers `…/otp/send/` with 307 to `…/otp/send`.
    const REDIRECTS_SLASHES: bool = true;

    /// The target's type and, in dev mode, the code; invalid input is the
    /// target's format or a schema problem, as its 422 item says it.
    fn observe(outcome: &Outcome, echo_codes: bool) -> Observed {
        match outcome {
            Outcome::Sent(sent) => Observed::Sent(Receipt {
                channel: Some(otp_type(sent.channel)),
                code: echo_codes.then(|| sent.code.as_str().to_string()),
                ..Receipt::default()
            }),
            Outcome::UnsupportedMediaType => Observed::invalid(validation::read(
                &validation::items(&Invalid::body(Fault::NotJson)),
            )),
            Outcome::Forbidden => Observed::Unauthorized,
            _ => observe_common(outcome, |reason| {
                if is_target_format(reason) {
                    Invalid::new(TARGET, Fault::Invalid)
                } else {
                    validation::read(&validation::items(reason))
                }
            }),
        }
    }

    fn render(observed: &Observed, operation: Operation, _id: Option<&str>) -> Reply {
        let kind = observed.kind();
        let send = operation == Operation::Send;
        let body = |success: bool,
                    message: Option<&str>,
                    error: Option<&str>,
                    receipt: Option<&Receipt>| {
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
                return Reply::json(StatusCode::OK, JSON, &body, kind);
            }
            Observed::Verified => {
                let body = body(true, Some("OTP verified"), None, None);
                return Reply::json(StatusCode::OK, JSON, &body, kind);
            }
            Observed::Unauthorized => return detail(DETAILS.by_kind(kind)),
            Observed::InvalidInput { reason } if !is_target_format(reason) => {
                let answered = match reason.only() {
                    Some(only) if only.why.is_none() => DETAILS
                        .by_kind_and(kind, &only.field.as_ref())
                        .filter(|row| {
                            row.status != StatusCode::PAYLOAD_TOO_LARGE
                                || only.fault == Fault::TooLong
                        }),
                    _ => None,
                };
                return match answered {
                    Some(row) => detail(Some(row)),
                    None => validation::unprocessable(validation::items(reason)),
                };
            }
            _ => {}
        }
        let row = ERRORS.by_kind(kind).unwrap_or(&INTERNAL_ERROR);
        let reply = Reply::json(
            row.status,
            JSON,
            &body(false, None, Some(row.text), None),
            row.kind,
        );
        reply.with_retry_after(observed)
    }

    fn reject(rejection: Rejection) -> Reply {
        match rejection {
            Rejection::NotFound => detail(DETAILS.by_kind(OutcomeKind::NotFound)),
            Rejection::MethodNotAllowed(_) => {
                detail(DETAILS.by_status_text(405, "Method Not Allowed"))
            }
            Rejection::PayloadTooLarge => {
                detail(DETAILS.by_status_text(413, "Request Entity Too Large"))
            }
            Rejection::RequestTimeout => detail(DETAILS.by_status_text(408, "Request Timeout")),
            Rejection::UnreadableBody => {
                validation::unprocessable(validation::items(&Invalid::body(Fault::Missing)))
            }
        }
    }

    /// Exchanges the API key for a JWT at `/v2/token`.
    fn login_request(credentials: &Credentials) -> Option<WireRequest> {
        Some(WireRequest::json(
            TOKEN_PATH,
            Vec::new(),
            &json!({"api_key": credentials.api_key}),
        ))
    }

    /// The JWT and its lifetime from a token response.
    fn read_login(response: &WireResponse<'_>) -> Result<Session, ClientError> {
        let bad = |why: &str| ClientError::BadResponse(format!("{TOKEN_PATH}: {why}"));
        if response.status != 200 {
            return Err(bad(&format!("status {}", response.status)));
        }
        let body: Map<String, Value> =
            serde_json::from_slice(response.body).map_err(|_| bad("not a JSON object"))?;
        let token = text(&body, "access_token").ok_or_else(|| bad("no access_token"))?;
        // The seed names only the token ("JWT access token obtained from
        // POST /v2/token"): without `expires_in` the session lasts until a
        // 401 asks for a new one.
        let lifetime = match body.get("expires_in") {
            None | Some(Value::Null) => None,
            Some(ttl) => Some(Duration::from_secs(
                ttl.as_u64()
                    .ok_or_else(|| bad("expires_in is not whole seconds"))?,
            )),
        };
        Ok(Session {
            access_token: Some(token.to_string()),
            lifetime,
        })
    }

    fn send_request(_credentials: &Credentials, session: &Session, send: &SendOp) -> Built {
        Ok(WireRequest::json(
            SEND_PATH,
            authorization(session)?,
            &json!({"target": send.to}),
        ))
    }

    fn verify_request(_credentials: &Credentials, session: &Session, verify: &VerifyOp) -> Built {
        Ok(WireRequest::json(
            VERIFY_PATH,
            authorization(session)?,
            &json!({"target": verify.to, "code": verify.code}),
        ))
    }

    fn read(operation: Operation, response: &WireResponse<'_>) -> Classified {
        read(operation, response)
    }
}

/// After the token: the body's schema, then the target.
fn admit(
    request: &Request<'_>,
    fields: &[(&'static str, usize)],
) -> Result<(Identifier, Vec<String>), Refusal> {
    let values = validation::check(request.headers, request.body, fields)?;
    match Identifier::parse(&values[0]) {
        Ok(target) => Ok((target, values)),
        Err(_) => Err(Invalid::new(TARGET, Fault::Malformed).into()),
    }
}

/// Whether this is the one invalid input LoyaltyDog answers with 400
/// "Invalid target format": a target of the right type and length that is
/// neither an e-mail address nor a phone number.
fn is_target_format(reason: &Invalid) -> bool {
    matches!(reason.only(), Some(only) if only.field == TARGET
        && matches!(only.fault, Fault::Malformed | Fault::Invalid)
        && only.why.is_none())
}

fn detail(row: Option<&ErrorRow<&str>>) -> Reply {
    let row = row.unwrap_or(&DETAILS.rows()[0]);
    let reply = Reply::json(row.status, JSON, &json!({ "detail": row.text }), row.kind);
    if row.status == StatusCode::UNAUTHORIZED {
        reply.with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    } else {
        reply
    }
}

/// `otpType` says what kind of target it went to: e-mail or phone.
fn otp_type(channel: Channel) -> Channel {
    match channel {
        Channel::Email => Channel::Email,
        _ => Channel::Sms,
    }
}

fn authorization(session: &Session) -> Result<Vec<(&'static str, String)>, ClientError> {
    let token = session.access_token.as_deref().ok_or(ClientError::Missing(
        "an access token (log in with login_request first)",
    ))?;
    Ok(vec![bearer(token)])
}

/// By the seed: a send's 200 is `SendOTPResponse` (`success` a boolean,
/// required; `message`, `error`, `otpType`, `mockCode` each a string or
/// null); 422 is `HTTPValidationError` (`detail`: items with `loc`, `msg`,
/// `type`); its prose adds 400 (invalid target format) and 429 (rate
/// limit exceeded) without a body. No text is fixed: `error` texts of
/// [`ERRORS`] and `detail` texts of [`DETAILS`] (DESIGN.md's, FastAPI's)
/// tell apart what shares a status, the status decides the rest. The
/// verify route is not in the seed and is read with the send's schema.
fn read(operation: Operation, response: &WireResponse<'_>) -> Classified {
    const STATUSES: &str = "the seed documents 200 (SendOTPResponse) and 422 \
                            (HTTPValidationError), and in prose 400 and 429";
    const SCHEMA: &str = "the seed's SendOTPResponse is {\"success\": boolean (required), \
                          \"message\", \"error\", \"otpType\", \"mockCode\": string or null}";
    let status = response.status;
    let body = response.object().ok();
    if status == 422 {
        return match body.as_ref().map(|body| body.get("detail")) {
            Some(Some(Value::Array(items))) if items.is_empty() => {
                Observed::invalid(Invalid::body(Fault::Invalid)).into()
            }
            Some(Some(Value::Array(items))) => match validation::problems(items) {
                Some(reason) => Observed::invalid(reason).into(),
                None => response
                    .unrecognized("the seed's ValidationError items have loc, msg and type")
                    .into(),
            },
            Some(None) => Observed::invalid(Invalid::body(Fault::Invalid)).into(),
            _ => response
                .unrecognized("the seed's 422 is HTTPValidationError {\"detail\": [items]}")
                .into(),
        };
    }
    // FastAPI's HTTPException body, {"detail": "<text>"}.
    if let Some(Value::String(detail)) = body.as_ref().and_then(|body| body.get("detail")) {
        if let Some(row) = DETAILS.by_status_text(status, detail) {
            return documented(row.kind, response, || {
                let fault = if row.status == StatusCode::PAYLOAD_TOO_LARGE {
                    Fault::TooLong
                } else {
                    Fault::Invalid
                };
                Invalid::new(row.extra, fault)
            })
            .into();
        }
        if let Some(row) = ERRORS.by_status_text(status, detail) {
            let observed = documented(row.kind, response, || Invalid::new(TARGET, Fault::Invalid));
            return Classified::noted(
                observed,
                format!("DESIGN.md's error {detail:?} in FastAPI's {{\"detail\"}} body"),
            );
        }
        if status == 403 && detail == NOT_AUTHENTICATED {
            return Classified::noted(
                Observed::Unauthorized,
                "403 \"Not authenticated\" is what FastAPI's HTTPBearer answered before 0.115",
            );
        }
    }
    let shaped = body.as_ref().filter(|body| body.contains_key("success"));
    if let Some(body) = shaped {
        if let Err(rule) = schema(body) {
            return response.unrecognized(rule).into();
        }
    }
    let success = shaped
        .and_then(|body| body.get("success"))
        .and_then(Value::as_bool);
    if status == 200 {
        return match (success, operation) {
            (Some(true), Operation::Send) => {
                let body = shaped.expect("success is there");
                let (channel, reading) = match text(body, "otpType") {
                    Some(kind) if kind.eq_ignore_ascii_case("sms") => (Some(Channel::Sms), None),
                    Some(kind) if kind.eq_ignore_ascii_case("email") => {
                        (Some(Channel::Email), None)
                    }
                    Some(other) => (
                        None,
                        Some(format!("otpType {other:?} names no channel otpbench knows")),
                    ),
                    None => (None, None),
                };
                let observed = Observed::Sent(Receipt {
                    channel,
                    code: text(body, "mockCode").map(str::to_string),
                    ..Receipt::default()
                });
                match reading {
                    Some(reading) => Classified::noted(observed, reading),
                    None => observed.into(),
                }
            }
            (Some(true), _) => Observed::Verified.into(),
            (Some(false), _) => response
                .unrecognized(
                    "success: false at 200, which the seed says is \"OTP sent successfully\"",
                )
                .into(),
            (None, _) => response.unrecognized(SCHEMA).into(),
        };
    }
    let error = shaped.and_then(|body| text(body, "error"));
    if let Some(row) = error.and_then(|error| ERRORS.by_status_text(status, error)) {
        return documented(row.kind, response, || Invalid::new(TARGET, Fault::Invalid)).into();
    }
    let why = match (error, body.as_ref().and_then(|b| b.get("detail"))) {
        (Some(error), _) => format!("the error {error:?} is none DESIGN.md names"),
        (None, Some(detail)) => format!("the detail {detail} is none FastAPI or DESIGN.md names"),
        (None, None) => "the seed fixes no body for it".to_string(),
    };
    let invalid = || Invalid::new(TARGET, Fault::Invalid);
    match status {
        400 | 429 => read_status(operation, response, &why, STATUSES, invalid),
        // The bearer scheme's refusals, and DESIGN.md's statuses beyond
        // the seed's: read as HTTP means them.
        401 | 403 | 404 | 405 | 408 | 413 | 500 | 503 => {
            read_status(operation, response, &why, STATUSES, invalid)
        }
        _ => response.unrecognized(STATUSES).into(),
    }
}

/// The seed's SendOTPResponse types: `success` a boolean, the others
/// strings or null.
fn schema(body: &Map<String, Value>) -> Result<(), &'static str> {
    if !body.get("success").is_some_and(Value::is_boolean) {
        return Err("the seed's SendOTPResponse has success, a boolean");
    }
    for name in ["message", "error", "otpType", "mockCode"] {
        if !matches!(body.get(name), None | Some(Value::Null | Value::String(_))) {
            return Err(
                "the seed's SendOTPResponse has message, error, otpType and mockCode as a string \
                 or null",
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed names only the token; its lifetime may be left out.
    #[test]
    fn a_login_needs_the_token_and_nothing_else() {
        let headers = HeaderMap::new();
        let login = |status: u16, body: &str| {
            let response = WireResponse {
                status,
                headers: &headers,
                body: body.as_bytes(),
            };
            LoyaltyDog::read_login(&response)
        };
        let session = login(200, r#"{"access_token": "a.b.c"}"#).unwrap();
        assert_eq!(session.access_token.as_deref(), Some("a.b.c"));
        assert_eq!(session.lifetime, None);
        let session = login(200, r#"{"access_token": "a.b.c", "expires_in": 60}"#).unwrap();
        assert_eq!(session.lifetime, Some(Duration::from_secs(60)));
        for (status, body) in [
            (200, r#"{"token": "a.b.c"}"#),
            (200, r#"{"access_token": "a.b.c", "expires_in": "soon"}"#),
            (401, r#"{"detail": "Invalid API key"}"#),
        ] {
            assert!(login(status, body).is_err(), "{status} {body}");
        }
    }
}
