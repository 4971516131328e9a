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
use serde::Serialize;

use crate::dialect::prelude::*;
use crate::engine::code::Alphabet;
use crate::engine::policy::MAX_CODE_LENGTH;

/// The Nomado dialect.
pub struct Nomado;

pub(super) const CREATE_PATH: &str = "/2fa/create";
pub(super) const VERIFY_PATH: &str = "/2fa/verify";
const TENANT: &str = "nomado";
const PURPOSE: &str = "2fa";
/// The placeholder every template must hold.
pub(super) const PLACEHOLDER: &str = "{{CODE}}";
/// The longest expiry a request may ask for.
const MAX_EXPIRY_SECS: u64 = 30 * 86_400;
/// What every invalid-input message starts with.
const BAD_REQUEST: &str = "Bad request: ";
const NOT_AN_OBJECT: &str = "the body must be a JSON object";

/// Every documented error but "Bad request: …": outcome, status, message.
pub(super) const ERRORS: ErrorTable = ErrorTable::new(&[
    ErrorRow::new(
        OutcomeKind::Unauthorized,
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
    ),
    ErrorRow::new(
        OutcomeKind::WrongCode,
        StatusCode::BAD_REQUEST,
        "Invalid token",
    ),
    ErrorRow::new(
        OutcomeKind::Expired,
        StatusCode::BAD_REQUEST,
        "Token expired",
    ),
    ErrorRow::new(
        OutcomeKind::NotFound,
        StatusCode::NOT_FOUND,
        "No pending token",
    ),
    ErrorRow::new(
        OutcomeKind::RateLimited,
        StatusCode::TOO_MANY_REQUESTS,
        "Too many requests",
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
    // Requests that never reach an operation.
    ErrorRow::new(OutcomeKind::NotFound, StatusCode::NOT_FOUND, "Not found"),
    METHOD_NOT_ALLOWED,
    PAYLOAD_TOO_LARGE,
    REQUEST_TIMEOUT,
]);

const INTERNAL_ERROR: ErrorRow = ErrorRow::new(
    OutcomeKind::InternalError,
    StatusCode::INTERNAL_SERVER_ERROR,
    "Internal server error",
);
const METHOD_NOT_ALLOWED: ErrorRow = ErrorRow::new(
    OutcomeKind::InvalidInput,
    StatusCode::METHOD_NOT_ALLOWED,
    "Method not allowed",
);
const PAYLOAD_TOO_LARGE: ErrorRow = ErrorRow::new(
    OutcomeKind::InvalidInput,
    StatusCode::PAYLOAD_TOO_LARGE,
    "Payload too large",
);
const REQUEST_TIMEOUT: ErrorRow = ErrorRow::new(
    OutcomeKind::InvalidInput,
    StatusCode::REQUEST_TIMEOUT,
    "Request timeout",
);

impl Protocol for Nomado {
    const NAME: &'static str = "nomado";
    const PREFIX: &'static str = "/2fa/";
    const ALSO_PRODUCES: &'static [OutcomeKind] = &[];

    const ROUTES: &'static [(&'static str, Operation)] = &[
        (CREATE_PATH, Operation::Send),
        (VERIFY_PATH, Operation::Verify),
    ];

    /// Basic credentials, before the body is read.
    fn admit_headers(
        context: &ServeContext<'_>,
        _: Operation,
        headers: &HeaderMap,
    ) -> Admitted<()> {
        let authorized = basic_credentials(headers)
            .is_some_and(|given| secret_eq(&given, &context.config.nomado.basic));
        if !authorized {
            return Err(Outcome::Unauthorized.into());
        }
        Ok(())
    }

    fn admit_send<'a>(context: &ServeContext<'a>, request: &Request<'_>) -> Admitted<SendCall<'a>> {
        let (body, to) = admit(request)?;
        let template_text = wire::optional(&body, "template")
            .map_err(|fault| Invalid::new("template", fault))?
            .unwrap_or(PLACEHOLDER);
        let template = Template::new(template_text, PLACEHOLDER).ok_or_else(|| {
            Invalid::new("template", Fault::Malformed).because("template must contain {{CODE}}")
        })?;
        let alphabet = match wire::optional(&body, "type") {
            Ok(None) => Alphabet::Alphanumeric,
            Ok(Some(kind)) => alphabet(kind).ok_or_else(|| {
                Invalid::new("type", Fault::Malformed)
                    .because("type must be NUMERIC, ALPHA or ALPHANUMERIC")
            })?,
            Err(fault) => return Err(Invalid::new("type", fault).into()),
        };
        let mut policy = context.config.nomado.policy.clone();
        policy.alphabet = alphabet;
        if let Some(length) = number(&body, "length", 1..=u64::from(MAX_CODE_LENGTH))? {
            policy.length = length as u8;
        }
        if let Some(expiry) = number(&body, "expiry", 1..=MAX_EXPIRY_SECS)? {
            policy.ttl = Duration::from_secs(expiry);
        }
        let echo = Echo {
            to: Some(to.as_str().trim_start_matches('+').to_string()),
            template: Some(template.clone()),
            ..Echo::default()
        };
        let mut call = SendCall::new(
            &context.config.nomado.policy,
            TENANT,
            to,
            PURPOSE,
            &template,
        )
        .under(policy);
        call.echo = echo;
        Ok(call)
    }

    fn admit_verify(_context: &ServeContext<'_>, request: &Request<'_>) -> Admitted<VerifyCall> {
        let (body, to) = admit(request)?;
        let token = wire::field(&body, "token")?;
        // The engine's own check names its field `code`; Nomado's is
        // `token`.
        if token.is_empty() || token.len() > crate::engine::MAX_SUBMITTED_CODE_LEN {
            let fault = if token.is_empty() {
                Fault::Empty
            } else {
                Fault::TooLong
            };
            let max = crate::engine::MAX_SUBMITTED_CODE_LEN;
            return Err(Invalid::new("token", fault)
                .because(format!("token must be 1 to {max} characters"))
                .into());
        }
        Ok(VerifyCall::by_key(TENANT, to, PURPOSE, token))
    }

    /// The token and its expiry (the skeleton adds the recipient and text
    /// from the request); invalid input as its "Bad request: …" says it.
    fn observe(outcome: &Outcome, _echo_codes: bool) -> Observed {
        match outcome {
            Outcome::Sent(sent) => Observed::Sent(Receipt {
                code: Some(sent.code.as_str().to_string()),
                expires_in: Some(Duration::from_secs(sent.expires_in.as_secs())),
                ..Receipt::default()
            }),
            Outcome::UnsupportedMediaType => Observed::invalid(read_bad_request(NOT_AN_OBJECT)),
            Outcome::Forbidden => Observed::Unauthorized,
            _ => observe_common(outcome, |reason| read_bad_request(&bad_request(reason))),
        }
    }

    fn render(observed: &Observed, _operation: Operation, _id: Option<&str>) -> Reply {
        let kind = observed.kind();
        match observed {
            Observed::Sent(receipt) => {
                let body = Created {
                    code: 200,
                    message: "OK",
                    data: CreatedData(receipt),
                };
                return Reply::json(StatusCode::OK, JSON, &body, kind);
            }
            Observed::Verified => {
                let body = json!({"code": 200, "message": "OK", "data": {"verified": true}});
                return Reply::json(StatusCode::OK, JSON, &body, kind);
            }
            Observed::InvalidInput { reason } => {
                let message = format!("{BAD_REQUEST}{}", bad_request(reason));
                return error(StatusCode::BAD_REQUEST, &message, kind);
            }
            _ => {}
        }
        let row = ERRORS.by_kind(kind).unwrap_or(&INTERNAL_ERROR);
        error(row.status, row.text, row.kind).with_retry_after(observed)
    }

    fn reject(rejection: Rejection) -> Reply {
        let row = match rejection {
            Rejection::NotFound => ERRORS.by_status_text(404, "Not found"),
            Rejection::MethodNotAllowed(_) => Some(&METHOD_NOT_ALLOWED),
            Rejection::PayloadTooLarge => Some(&PAYLOAD_TOO_LARGE),
            Rejection::RequestTimeout => Some(&REQUEST_TIMEOUT),
            Rejection::UnreadableBody => {
                let message = format!("{BAD_REQUEST}the body could not be read");
                return error(StatusCode::BAD_REQUEST, &message, OutcomeKind::InvalidInput);
            }
        };
        let row = row.unwrap_or(&INTERNAL_ERROR);
        error(row.status, row.text, row.kind)
    }

    fn send_request(credentials: &Credentials, _session: &Session, send: &SendOp) -> Built {
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

    fn verify_request(credentials: &Credentials, _session: &Session, verify: &VerifyOp) -> Built {
        let body = json!({"to": verify.to, "token": verify.code});
        Ok(WireRequest::json(
            VERIFY_PATH,
            vec![basic(credentials)],
            &body,
        ))
    }

    fn read(operation: Operation, response: &WireResponse<'_>) -> Classified {
        read(operation, response)
    }
}

/// After the credentials: a JSON object and a possible phone in `to`.
fn admit(request: &Request<'_>) -> Result<(Map<String, Value>, Identifier), Refusal> {
    let body = wire::object(request.body)?;
    let to = wire::field(&body, "to")?;
    let to = Identifier::phone(to)
        .map_err(|e| Invalid::new("to", Fault::Malformed).because(format!("to: {e}")))?;
    Ok((body, to))
}

/// An optional whole number in `range`.
fn number(
    body: &Map<String, Value>,
    name: &'static str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, Invalid> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(n) if range.contains(&n) => Ok(Some(n)),
            _ => Err(Invalid::new(name, Fault::OutOfRange).because(format!(
                "{name} must be a whole number from {} to {}",
                range.start(),
                range.end()
            ))),
        },
    }
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

/// How Nomado words invalid input after "Bad request: " (its first
/// problem): the explanation where there is one, else by the fault.
fn bad_request(reason: &Invalid) -> String {
    let problem = reason.problems().next().expect("a reason has a problem");
    if let Some(why) = &problem.why {
        return why.to_string();
    }
    match problem.fault {
        Fault::NotJson | Fault::NotAnObject => NOT_AN_OBJECT.to_string(),
        Fault::Missing => format!("{} is required", problem.field),
        Fault::WrongType => format!("{} must be a string", problem.field),
        fault => format!("{} is {}", problem.field, fault.name().replace('_', " ")),
    }
}

/// The reason a "Bad request: …" message gives, read back: the field is
/// its first word.
fn read_bad_request(message: &str) -> Invalid {
    if message == NOT_AN_OBJECT {
        return Invalid::body(Fault::NotAnObject);
    }
    let word_end = message.find([' ', ':']).unwrap_or(message.len());
    let (field, rest) = message.split_at(word_end);
    let field = if field.is_empty() { BODY } else { field };
    let fault = match rest {
        " is required" => Some(Fault::Missing),
        " must be a string" => Some(Fault::WrongType),
        _ => None,
    };
    match fault {
        Some(fault) => Invalid::new(field.to_string(), fault),
        None => Invalid::new(field.to_string(), Fault::Invalid).because(message.to_string()),
    }
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

fn error(status: StatusCode, message: &str, kind: OutcomeKind) -> Reply {
    let body = json!({"code": status.as_u16(), "message": message});
    let reply = Reply::json(status, JSON, &body, kind);
    if kind == OutcomeKind::Unauthorized {
        reply.with_header(WWW_AUTHENTICATE, HeaderValue::from_static("Basic"))
    } else {
        reply
    }
}

fn basic(credentials: &Credentials) -> (&'static str, String) {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&credentials.basic);
    ("Authorization", format!("Basic {encoded}"))
}

/// By the seed: statuses 200, 400 (incorrect or missing parameters) and
/// 401 (invalid credentials), and the create 200's body — the token in
/// `data.token`, and where present `code` 200, a string `message`, a
/// recipient entry `{"code", "status": "SENT"}`, `text`, an integer
/// `expiry` and `total_messages`. The seed fixes no error body and no
/// verify route: an error's status says which it is; DESIGN.md's
/// `{"code", "message"}` texts, when they come, tell the 400s and 429s
/// apart; a verify 200 is a verification unless `data.verified` is false.
fn read(operation: Operation, response: &WireResponse<'_>) -> Classified {
    const STATUSES: &str = "the seed documents 200, 400 and 401";
    let status = response.status;
    let body = response.object().ok();
    if let Some(code) = body.as_ref().and_then(|body| body.get("code")) {
        if count(code) != Some(u32::from(status)) {
            return response
                .unrecognized("the body's code is not the status (the seed's 200 has code 200)")
                .into();
        }
    }
    if status == 200 {
        let Some(body) = body else {
            return response
                .unrecognized("the seed's 200 is a JSON object")
                .into();
        };
        if body.get("message").is_some_and(|m| !m.is_string()) {
            return response
                .unrecognized("the seed's 200 has a string message")
                .into();
        }
        let data = body.get("data").and_then(Value::as_object);
        return match operation {
            Operation::Send => match data.map(sent) {
                Some(Ok(observed)) => observed.into(),
                Some(Err(rule)) => response.unrecognized(rule).into(),
                None => response
                    .unrecognized("the seed's create 200 has a data object")
                    .into(),
            },
            _ => match data.and_then(|data| data.get("verified")) {
                Some(Value::Bool(true)) => Observed::Verified.into(),
                Some(_) => response
                    .unrecognized("a verify 200 whose data.verified is not true")
                    .into(),
                None => Classified::noted(
                    Observed::Verified,
                    "a 200 to the verify route, which the seed does not document, read as \
                     verified (no data.verified says otherwise)",
                ),
            },
        };
    }
    let message = body.as_ref().and_then(|body| text(body, "message"));
    if let Some(message) = message {
        if let Some(row) = ERRORS.by_status_text(status, message) {
            return documented(row.kind, response, || {
                Invalid::new(
                    if row.status == 405 { "method" } else { BODY },
                    Fault::Invalid,
                )
            })
            .into();
        }
        if let (400, Some(rest)) = (status, message.strip_prefix(BAD_REQUEST)) {
            return Observed::invalid(read_bad_request(rest)).into();
        }
    }
    let why = match message {
        Some(message) => format!("the message {message:?} is none DESIGN.md names"),
        None => "the seed fixes no error body".to_string(),
    };
    match status {
        400 | 401 => read_status(operation, response, &why, STATUSES, || {
            Invalid::body(Fault::Invalid)
        }),
        // DESIGN.md's statuses beyond the seed's: read as HTTP means them.
        404 | 405 | 408 | 413 | 429 | 500 | 503 => {
            read_status(operation, response, &why, STATUSES, || {
                Invalid::body(Fault::Invalid)
            })
        }
        _ => response.unrecognized(STATUSES).into(),
    }
}

/// A create's `data`: the token, and the seed's other members typed as
/// the seed shows them where present; or the rule it broke.
fn sent(data: &Map<String, Value>) -> Result<Observed, &'static str> {
    let token = text(data, "token").ok_or("the seed's create 200 has data.token, a string")?;
    let mut to = None;
    for (key, value) in data {
        match key.as_str() {
            "token" => {}
            "text" if !value.is_string() && !value.is_null() => {
                return Err("the seed's data.text is a string")
            }
            "expiry" | "total_messages" if !value.is_u64() && !value.is_null() => {
                return Err("the seed's data.expiry and data.total_messages are integers")
            }
            "text" | "expiry" | "total_messages" => {}
            recipient => match value.get("status") {
                Some(Value::String(s)) if s.eq_ignore_ascii_case("SENT") => {
                    to = Some(recipient.to_string())
                }
                Some(_) => return Err("the seed's recipient entry has status SENT"),
                None => {}
            },
        }
    }
    Ok(Observed::Sent(Receipt {
        code: Some(token.to_string()),
        expires_in: data
            .get("expiry")
            .and_then(Value::as_u64)
            .map(Duration::from_secs),
        to,
        text: text(data, "text").map(str::to_string),
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
