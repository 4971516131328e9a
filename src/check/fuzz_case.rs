//! What `otpbench fuzz` generates, and how one generated request is made
//! and judged.
//!
//! A [`Case`] is one bad request, described against the dialect's valid
//! one rather than as bytes: which endpoint (send, verify, LoyaltyDog's
//! token, or an unknown path under the dialect's prefix), which method,
//! which content type, which credentials, and what is done to the valid
//! body (a field set to a wrong type, a huge or unicode value, the
//! recipient in full-width or Arabic-Indic digits, a field removed or
//! added, the body cut short, or replaced by arbitrary JSON or bytes).
//! Each alternative lists the plainest first, so proptest shrinks a
//! failing request towards the valid request with one thing wrong.
//!
//! [`Case::request`] makes the request with the target's real
//! credentials and a fresh recipient; [`judge`] checks the answer against
//! the properties (no 5xx but the contract's named ones, an answer within
//! the timeout, a documented shape on the send, verify and token routes).
//! Nothing here talks to a target.

use std::fmt;

use proptest::prelude::*;
use serde_json::{Map, Value};

use crate::check::exec::Trace;
use crate::client::{CallError, Exchange, TransportError};
use crate::dialect::{Credentials, Dialect, Operation, SendOp, Session, VerifyOp, WireRequest};
use crate::engine::outcome::OutcomeKind;

/// Which endpoint a case hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Send,
    Verify,
    /// LoyaltyDog's `/v2/token` (only generated where the dialect logs in).
    Token,
    /// A path under the dialect's prefix that it does not serve.
    Unknown,
}

/// The request's method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Post,
    Get,
    Put,
    Delete,
    Patch,
    Options,
    Head,
}

impl Verb {
    pub fn name(self) -> &'static str {
        match self {
            Verb::Post => "POST",
            Verb::Get => "GET",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
            Verb::Patch => "PATCH",
            Verb::Options => "OPTIONS",
            Verb::Head => "HEAD",
        }
    }

    pub fn method(self) -> hyper::Method {
        hyper::Method::from_bytes(self.name().as_bytes()).unwrap_or(hyper::Method::POST)
    }
}

/// The `Content-Type` header: absent, or this value.
pub const CONTENT_TYPES: &[Option<&str>] = &[
    Some("application/json"),
    None,
    Some("text/plain"),
    Some("application/x-www-form-urlencoded"),
    Some("multipart/form-data; boundary=x"),
    Some("application/xml"),
    Some(""),
    Some("application/json; charset=latin1"),
    Some("APPLICATION/JSON"),
    Some("application/problem+json"),
    Some("application/jsonx"),
    Some("*/*"),
];

/// The credentials a case presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// The target's own (a LoyaltyDog session's token).
    Valid,
    /// No `Authorization` header.
    Absent,
    /// This `Authorization` value instead (never derived from the real
    /// credentials, so a saved counterexample leaks nothing).
    Broken(String),
}

/// How the recipient's own value is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reshape {
    /// ASCII digits and `+` as their full-width forms (`＋１４１…`).
    FullWidth,
    /// Digits as Arabic-Indic digits (`٠١٠…`).
    ArabicIndic,
    /// Surrounded by spaces and a zero-width space inside.
    Padded,
    /// Repeated ten times.
    Repeated,
    /// As a JSON number instead of a string (where it is all digits).
    Number,
    /// Cut to its first three characters.
    Cut,
}

/// What is done to the endpoint's valid body.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// Left as it is (something else in the request is wrong).
    Valid,
    /// The recipient rewritten.
    Recipient(Reshape),
    /// The `n`th field (modulo the field count, in key order) set to a
    /// generated value.
    Set { field: u16, value: Value },
    /// The `n`th field removed.
    Remove { field: u16 },
    /// A field added (or replaced, when the name is one of the body's).
    Extra { name: String, value: Value },
    /// The valid body with its last `n` bytes cut off.
    Truncated(u16),
    /// Nothing.
    Empty,
    /// Arbitrary JSON instead.
    Json(Value),
    /// Arbitrary bytes instead.
    Bytes(Vec<u8>),
}

/// One generated bad request.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub route: Route,
    pub verb: Verb,
    /// Index into [`CONTENT_TYPES`].
    pub content_type: u8,
    pub auth: Auth,
    pub body: Body,
}

/// The path of an unknown route in `dialect`: under its prefix, so the
/// answer is the dialect's (DESIGN.md §3 "Unknown paths").
pub fn unknown_path(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Native => "/v1/otp/nothing",
        Dialect::Rees46 => "/loyalty/otp/nothing",
        Dialect::Sigmasms => "/api/n/nothing",
        Dialect::Valify => "/api/v1/otp/nothing/",
        Dialect::Nomado => "/2fa/nothing",
        Dialect::Loyaltydog => "/v2/nothing",
    }
}

/// Field names every dialect's bodies use (so extra fields collide with
/// real ones), and a few no dialect knows.
const FIELDS: &[&str] = &[
    "to",
    "purpose",
    "channel",
    "id",
    "code",
    "shop_id",
    "shop_secret",
    "identifier",
    "event",
    "widgetId",
    "recipient",
    "requestId",
    "phone_number",
    "bundle_key",
    "lang",
    "transaction_id",
    "otp",
    "data",
    "template",
    "type",
    "length",
    "expiry",
    "token",
    "api_key",
    "target",
    "__proto__",
    "",
];

/// Texts that mean something somewhere: recipients in other writings,
/// full-width and Arabic-Indic digits, codes, enum values, unicode that
/// breaks naive handling.
const WORDS: &[&str] = &[
    "+14155550100",
    "14155550100",
    "79991234567",
    "01012345678",
    "a@b.co",
    "A@B.CO",
    "＋１４１５５５５０１００",
    "０１０１２３４５６７８",
    "٠١٠١٢٣٤٥٦٧٨",
    "۰۱۰۱۲۳۴۵۶۷۸",
    "１２３４５６",
    "123456",
    "12345",
    "1234567",
    "000000",
    "sms",
    "email",
    "en",
    "ar",
    "NUMERIC",
    "ALPHA",
    "{{CODE}}",
    "login",
    "00000000-0000-0000-0000-000000000000",
    "123634df-ddfe-4dda-b31d-f3b4e75fc5dc",
    "not-a-uuid",
    "null",
    "true",
    "0",
    "-1",
    "1e309",
    " ",
    "\u{0}",
    "\u{200b}",
    "\u{202e}14155550100",
    "e\u{301}",
    "😀😀😀",
    "𝟏𝟐𝟑𝟒𝟓𝟔",
    "\u{feff}+14155550100",
    "+1 (415) 555-0100",
    "tel:+14155550100",
    "${phone}",
    "'; DROP TABLE otp; --",
    "../../../etc/passwd",
    "%00",
    "\\u0000",
];

/// A JSON value of every kind: wrong types, huge and unicode strings,
/// numbers at the edges, nested arrays and objects.
pub fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        6 => prop::sample::select(WORDS).prop_map(Value::from),
        2 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::from),
        2 => any::<i64>().prop_map(Value::from),
        1 => (0u64..30).prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        3 => "\\PC{0,40}".prop_map(Value::from),
        1 => "[+]?[0-9０-９ ]{0,24}".prop_map(Value::from),
        1 => (1usize..=4).prop_map(|k| Value::from("x".repeat(k * 300))),
        1 => Just(Value::from("x".repeat(70_000))),
        1 => Just(Value::from("é".repeat(40_000))),
    ];
    leaf.prop_recursive(3, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(FIELDS).prop_map(String::from),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn any_body() -> impl Strategy<Value = Body> {
    let reshape = prop_oneof![
        Just(Reshape::FullWidth),
        Just(Reshape::ArabicIndic),
        Just(Reshape::Padded),
        Just(Reshape::Repeated),
        Just(Reshape::Number),
        Just(Reshape::Cut),
    ];
    prop_oneof![
        2 => Just(Body::Valid),
        3 => reshape.prop_map(Body::Recipient),
        6 => (any::<u16>(), any_value()).prop_map(|(field, value)| Body::Set { field, value }),
        2 => any::<u16>().prop_map(|field| Body::Remove { field }),
        2 => (prop::sample::select(FIELDS), any_value())
            .prop_map(|(name, value)| Body::Extra { name: name.to_string(), value }),
        1 => (1u16..64).prop_map(Body::Truncated),
        1 => Just(Body::Empty),
        3 => any_value().prop_map(Body::Json),
        2 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Body::Bytes),
    ]
}

fn any_auth() -> impl Strategy<Value = Auth> {
    let broken = prop_oneof![
        Just(String::new()),
        Just("Bearer".to_string()),
        Just("Bearer ".to_string()),
        "Bearer [A-Za-z0-9._-]{1,40}".prop_map(String::from),
        "Basic [A-Za-z0-9+/=]{0,24}".prop_map(String::from),
        Just("Basic Og==".to_string()),
        Just("Bearer a.b.c".to_string()),
        Just("Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_string()),
        "[A-Za-z]{1,10} [ -~]{0,30}".prop_map(String::from),
        Just(format!("Bearer {}", "x".repeat(4_000))),
    ];
    prop_oneof![
        8 => Just(Auth::Valid),
        1 => Just(Auth::Absent),
        2 => broken.prop_map(Auth::Broken),
    ]
}

/// Every generated request for a dialect; `token` where it logs in.
pub fn any_case(token: bool) -> impl Strategy<Value = Case> {
    let route = if token {
        prop_oneof![
            4 => Just(Route::Send),
            4 => Just(Route::Verify),
            1 => Just(Route::Token),
            1 => Just(Route::Unknown),
        ]
        .boxed()
    } else {
        prop_oneof![
            4 => Just(Route::Send),
            4 => Just(Route::Verify),
            1 => Just(Route::Unknown),
        ]
        .boxed()
    };
    let verb = prop_oneof![
        16 => Just(Verb::Post),
        1 => Just(Verb::Get),
        1 => Just(Verb::Put),
        1 => Just(Verb::Delete),
        1 => Just(Verb::Patch),
        1 => Just(Verb::Options),
        1 => Just(Verb::Head),
    ];
    let content_type = prop_oneof![
        8 => Just(0u8),
        3 => 1..CONTENT_TYPES.len() as u8,
    ];
    (route, verb, content_type, any_auth(), any_body()).prop_map(
        |(route, verb, content_type, auth, body)| Case {
            route,
            verb,
            content_type,
            auth,
            body,
        },
    )
}

impl Case {
    /// The `Content-Type` value sent, if any.
    pub fn content_type(&self) -> Option<&'static str> {
        CONTENT_TYPES
            .get(self.content_type as usize)
            .copied()
            .unwrap_or(None)
    }

    /// The request's path in `dialect`.
    pub fn path(&self, dialect: Dialect, base: &WireRequest) -> &'static str {
        match self.route {
            Route::Unknown => unknown_path(dialect),
            _ => base.path,
        }
    }

    /// The operation a client reads the answer as; `None` where no
    /// documented shape is required (an unknown path, a HEAD without a
    /// body).
    pub fn operation(&self) -> Option<Operation> {
        if self.verb == Verb::Head {
            return None;
        }
        match self.route {
            Route::Send => Some(Operation::Send),
            Route::Verify => Some(Operation::Verify),
            Route::Token => Some(Operation::Token),
            Route::Unknown => None,
        }
    }

    /// What the case does, in words.
    /// `fields` are the valid body's field names, in key order (to name
    /// the field a change picks).
    pub fn describe(&self, dialect: Dialect, fields: &[String]) -> String {
        let name = |field: u16| match fields.len() {
            0 => "no field".to_string(),
            n => format!("{:?}", fields[field as usize % n]),
        };
        let mut parts = Vec::new();
        let route = match self.route {
            Route::Send => "send",
            Route::Verify => "verify",
            Route::Token => "token",
            Route::Unknown => unknown_path(dialect),
        };
        parts.push(format!("{} {route}", self.verb.name()));
        match self.content_type() {
            Some("application/json") => {}
            Some(other) => parts.push(format!("Content-Type {other:?}")),
            None => parts.push("no Content-Type".into()),
        }
        match &self.auth {
            Auth::Valid => {}
            Auth::Absent => parts.push("no credentials".into()),
            Auth::Broken(value) => parts.push(format!("Authorization {:?}", shorten(value, 60))),
        }
        parts.push(match &self.body {
            Body::Valid => "the valid body".into(),
            Body::Recipient(how) => format!("the recipient {how}"),
            Body::Set { field, value } => {
                format!(
                    "field {} set to {}",
                    name(*field),
                    shorten(&value.to_string(), 80)
                )
            }
            Body::Remove { field } => format!("field {} removed", name(*field)),
            Body::Extra { name, value } => format!(
                "field {name:?} added as {}",
                shorten(&value.to_string(), 80)
            ),
            Body::Truncated(n) => format!("the valid body less its last {n} bytes"),
            Body::Empty => "an empty body".into(),
            Body::Json(value) => format!("the JSON {}", shorten(&value.to_string(), 80)),
            Body::Bytes(bytes) => format!("{} arbitrary bytes", bytes.len()),
        });
        parts.join(", ")
    }
}

impl fmt::Display for Reshape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reshape::FullWidth => "in full-width digits",
            Reshape::ArabicIndic => "in Arabic-Indic digits",
            Reshape::Padded => "padded with spaces and a zero-width space",
            Reshape::Repeated => "repeated ten times",
            Reshape::Number => "as a JSON number",
            Reshape::Cut => "cut to three characters",
        })
    }
}

/// `text` cut to `max` characters, with `…` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max).collect();
    out.push('…');
    out
}

/// The recipient rewritten.
pub fn reshape(to: &str, how: Reshape) -> Value {
    match how {
        Reshape::FullWidth => Value::from(
            to.chars()
                .map(|c| match c {
                    '0'..='9' | '+' | '@' | '.' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
                    c => c,
                })
                .collect::<String>(),
        ),
        Reshape::ArabicIndic => Value::from(
            to.chars()
                .map(|c| match c {
                    '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0x0660).unwrap_or(c),
                    c => c,
                })
                .collect::<String>(),
        ),
        Reshape::Padded => {
            let mut chars: Vec<char> = to.chars().collect();
            chars.insert(chars.len() / 2, '\u{200b}');
            Value::from(format!("  {}  ", chars.into_iter().collect::<String>()))
        }
        Reshape::Repeated => Value::from(to.repeat(10)),
        Reshape::Number => {
            let digits: String = to.chars().filter(char::is_ascii_digit).collect();
            match digits.parse::<u64>() {
                Ok(n) => Value::from(n),
                Err(_) => Value::from(to),
            }
        }
        Reshape::Cut => Value::from(to.chars().take(3).collect::<String>()),
    }
}

/// The endpoint's valid request, built by the dialect's client side.
pub fn base_request(
    dialect: Dialect,
    route: Route,
    credentials: &Credentials,
    session: &Session,
    to: &str,
    code: &str,
) -> WireRequest {
    let send = || {
        dialect.send_request(
            credentials,
            session,
            &SendOp {
                to: to.to_string(),
                ..SendOp::default()
            },
        )
    };
    let built = match route {
        Route::Send | Route::Unknown => send(),
        Route::Verify => dialect.verify_request(
            credentials,
            session,
            &VerifyOp {
                to: to.to_string(),
                purpose: None,
                id: Some(VERIFY_ID.to_string()),
                code: code.to_string(),
            },
        ),
        Route::Token => match dialect.login_request(credentials) {
            Some(login) => Ok(login),
            None => send(),
        },
    };
    built.unwrap_or(WireRequest {
        path: "/",
        headers: Vec::new(),
        body: Vec::new(),
    })
}

/// The handle a generated verify quotes: a well-formed one no send made.
pub const VERIFY_ID: &str = "00000000-0000-4000-8000-00000000f022";

/// The valid body's field names, in key order.
pub fn fields(base: &[u8]) -> Vec<String> {
    match serde_json::from_slice::<Value>(base) {
        Ok(Value::Object(object)) => object.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// What the body becomes.
pub fn body_bytes(body: &Body, base: &[u8], to: &str) -> Vec<u8> {
    let object = || match serde_json::from_slice::<Value>(base) {
        Ok(Value::Object(object)) => object,
        _ => Map::new(),
    };
    match body {
        Body::Valid => base.to_vec(),
        Body::Empty => Vec::new(),
        Body::Bytes(bytes) => bytes.clone(),
        Body::Json(value) => value.to_string().into_bytes(),
        Body::Truncated(n) => base[..base
            .len()
            .saturating_sub(*n as usize)
            .max(1)
            .min(base.len())]
            .to_vec(),
        Body::Recipient(_) | Body::Set { .. } | Body::Remove { .. } | Body::Extra { .. } => {
            let mut object = object();
            apply(&mut object, body, to, |v| v.clone());
            Value::Object(object).to_string().into_bytes()
        }
    }
}

/// Applies a field change to the valid body; `value` maps a generated
/// value (the saver escapes `${` in it).
pub fn apply(
    object: &mut Map<String, Value>,
    body: &Body,
    to: &str,
    value: impl Fn(&Value) -> Value,
) {
    let nth = |object: &Map<String, Value>, field: u16| -> Option<String> {
        if object.is_empty() {
            return None;
        }
        object.keys().nth(field as usize % object.len()).cloned()
    };
    match body {
        Body::Recipient(how) => {
            let field = object
                .iter()
                .find(|(_, v)| v.as_str() == Some(to))
                .map(|(k, _)| k.clone());
            if let Some(field) = field {
                object.insert(field, reshape(to, *how));
            }
        }
        Body::Set { field, value: v } => {
            if let Some(name) = nth(object, *field) {
                object.insert(name, value(v));
            }
        }
        Body::Remove { field } => {
            if let Some(name) = nth(object, *field) {
                object.remove(&name);
            }
        }
        Body::Extra { name, value: v } => {
            object.insert(name.clone(), value(v));
        }
        _ => {}
    }
}

/// The headers sent: the valid request's, less `Authorization` unless the
/// case's credentials are valid, plus the case's `Authorization` and
/// `Content-Type`.
pub fn headers(case: &Case, base: &WireRequest) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = base
        .headers
        .iter()
        .filter(|(name, _)| case.auth == Auth::Valid || !name.eq_ignore_ascii_case("authorization"))
        .map(|(n, v)| (n.to_string(), v.clone()))
        .collect();
    if let Auth::Broken(value) = &case.auth {
        out.push(("Authorization".into(), value.clone()));
    }
    if let Some(content_type) = case.content_type() {
        out.push(("Content-Type".into(), content_type.into()));
    }
    out
}

/// Which property an answer broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Property {
    /// A 5xx other than the contract's named ones.
    No5xx,
    /// No answer within the target's timeout.
    NoHang,
    /// The connection broke, or the answer was not HTTP.
    Answered,
    /// An answer no documented shape of the dialect fits.
    Documented,
    /// A correct flow failed afterwards, twice.
    StillServing,
}

impl Property {
    pub fn name(self) -> &'static str {
        match self {
            Property::No5xx => "no 5xx",
            Property::NoHang => "an answer within the timeout",
            Property::Answered => "an HTTP answer",
            Property::Documented => "a documented shape",
            Property::StillServing => "still serving a correct flow",
        }
    }
}

/// The outcomes a bad request may be answered with: every documented
/// one but `internal_error` (and never `unrecognized`).
pub fn acceptable() -> Vec<OutcomeKind> {
    OutcomeKind::ALL
        .into_iter()
        .filter(|k| !matches!(k, OutcomeKind::Unrecognized | OutcomeKind::InternalError))
        .collect()
}

/// How an answer reads, and the property it breaks, if any.
pub fn judge(
    dialect: Dialect,
    case: &Case,
    answer: &Result<Exchange, CallError>,
) -> (String, Option<Property>) {
    let exchange = match answer {
        Ok(exchange) => exchange,
        Err(CallError::Transport(TransportError::Timeout(after))) => {
            return (
                format!("no answer within {}", crate::duration::format(*after)),
                Some(Property::NoHang),
            )
        }
        Err(e) => return (format!("no answer: {e}"), Some(Property::Answered)),
    };
    let status = exchange.status;
    let body = shorten(&exchange.text(), 200);
    let response = exchange.response();
    let Some(operation) = case.operation() else {
        let shown = format!("HTTP {status} {body}");
        // No shape is required here, but a 5xx must still be one of the
        // named ones in the dialect's words.
        let read = dialect.read(Operation::Other, &response);
        let named = read.observed.kind() != OutcomeKind::Unrecognized
            && (read.admits(OutcomeKind::StoreUnavailable)
                || read.admits(OutcomeKind::ProviderUnavailable));
        // A HEAD answer has no body to show its shape: the named 5xx's
        // status is taken at its word.
        let named = named || (case.verb == Verb::Head && status == 503);
        return match status >= 500 && !named {
            true => (shown, Some(Property::No5xx)),
            false => (shown, None),
        };
    };
    if operation == Operation::Token && status == 200 {
        return match dialect.read_login(&response) {
            Ok(_) => (format!("a session (HTTP {status})"), None),
            Err(e) => (
                format!("HTTP {status} {body}: {e}"),
                Some(Property::Documented),
            ),
        };
    }
    let read = dialect.read(operation, &response);
    let kind = read.observed.kind();
    let shown = match kind {
        OutcomeKind::Unrecognized => {
            format!("unrecognized (HTTP {status}): {}", reason(&read.observed))
        }
        kind => format!("{} (HTTP {status})", kind.name()),
    };
    // A 5xx is allowed only as the contract's named ones, in their
    // documented shape: the store or the provider unavailable.
    let named = kind != OutcomeKind::Unrecognized
        && (read.admits(OutcomeKind::StoreUnavailable)
            || read.admits(OutcomeKind::ProviderUnavailable));
    if (status >= 500 && !named) || kind == OutcomeKind::InternalError {
        let shown = match kind {
            OutcomeKind::Unrecognized => shown,
            _ => format!("{shown} {body}"),
        };
        return (shown, Some(Property::No5xx));
    }
    if kind == OutcomeKind::Unrecognized {
        return (shown, Some(Property::Documented));
    }
    (shown, None)
}

fn reason(observed: &crate::engine::outcome::Observed) -> String {
    match observed {
        crate::engine::outcome::Outcome::Unrecognized { reason } => reason.clone(),
        other => other.kind().name().to_string(),
    }
}

/// One bad request as it ran.
#[derive(Debug, Clone)]
pub struct Sent {
    pub case: Case,
    /// What it was, in words.
    pub what: String,
    /// `METHOD path`.
    pub line: String,
    /// How the answer read (`invalid_input (HTTP 400)`, `no answer …`).
    pub observed: String,
    /// The property it broke.
    pub broke: Option<Property>,
}

/// A batch as it ran.
#[derive(Debug, Clone, Default)]
pub struct FuzzTrace {
    pub sent: Vec<Sent>,
    /// The recipient the batch's valid bodies named.
    pub to: String,
    /// The correct flow afterwards, if it ran: its last try.
    pub flow: Option<Trace>,
    /// The flow failed both tries.
    pub stopped: bool,
}

impl FuzzTrace {
    /// The property broken, and where (`None`: the flow).
    pub fn broken(&self) -> Option<(Option<usize>, Property)> {
        if let Some(i) = self.sent.iter().position(|s| s.broke.is_some()) {
            return self.sent[i].broke.map(|p| (Some(i), p));
        }
        self.stopped.then_some((None, Property::StillServing))
    }

    pub fn failed(&self) -> bool {
        self.broken().is_some()
    }

    /// The flow's failing step, in words.
    pub fn flow_failure(&self) -> Option<String> {
        let flow = self.flow.as_ref()?;
        let step = flow.steps.get(flow.failed?)?;
        Some(format!(
            "{}: expected {}, observed {}",
            step.what, step.expected, step.observed
        ))
    }
}
