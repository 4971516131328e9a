//! Wire dialects: one file per dialect, holding everything that dialect
//! says on the wire.
//!
//! A dialect's server side turns an HTTP request into an engine operation
//! and renders the [`Outcome`] in the dialect's own shape — including the
//! shape of 404, 405 and 413 answers. Dialects know nothing of stores; the
//! server hands them an [`Engine`] and the config. Paths of different
//! dialects never collide, so all of them are served on one listener.
//!
//! A dialect's server side renders in two steps: [`Dialect::observe`] says
//! what of an engine [`Outcome`] reaches the wire (an [`Observed`]), and
//! [`Dialect::render`] writes that. Its client side builds requests from
//! abstract operations ([`SendOp`], [`VerifyOp`]) and [`Dialect::classify`]
//! reads any response back into an [`Observed`] — so `classify(render(o))
//! == o` is a property the tests check for every dialect.
//!
//! The client side in a few lines (the caller does the HTTP):
//!
//! ```
//! use otpbench::dialect::{Credentials, Dialect, Operation, SendOp, WireResponse};
//! use otpbench::OutcomeKind;
//!
//! let send = SendOp { to: "79991234567".into(), purpose: Some("login".into()), ..SendOp::default() };
//! let request = Dialect::Rees46.send_request(&Credentials::default(), &send).unwrap();
//! assert_eq!(request.path, "/loyalty/otp/send");
//!
//! let headers = hyper::HeaderMap::new();
//! let body = br#"{"success": false, "payload": {"message": "Too many requests"}}"#;
//! let response = WireResponse { status: 429, headers: &headers, body };
//! let observed = Dialect::Rees46.classify(Operation::Send, &response);
//! assert_eq!(observed.kind(), OutcomeKind::RateLimited);
//!
//! let odd = WireResponse { status: 429, headers: &headers, body: b"slow down" };
//! assert_eq!(Dialect::Rees46.classify(Operation::Send, &odd).kind(), OutcomeKind::Unrecognized);
//! ```
//!
//! Each dialect file offers the same items, dispatched by [`Dialect`]:
//! `PREFIX`, `ALSO_PRODUCES`, `route`, `serve`, `reject`, `observe`, `render`,
//! `send_request`, `verify_request`, `classify`.

// Refusals travel as ready `Reply`s or `Observed`s (~150 bytes) on the
// cold path; boxing them would buy nothing but an allocation.
#![allow(clippy::result_large_err)]

pub mod client;
pub mod loyaltydog;
pub mod native;
pub mod nomado;
pub mod rees46;
pub mod sigmasms;
pub mod valify;
mod wire;

use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Body;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Response, StatusCode};
use serde::Serialize;

pub use client::{ClientError, Credentials, SendOp, VerifyOp, WireRequest, WireResponse};

use crate::config::Config;
use crate::engine::outcome::{Observed, Outcome, OutcomeKind, Receipt};
use crate::engine::Engine;

/// Every dialect the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dialect {
    Native,
    Rees46,
    Sigmasms,
    Valify,
    Nomado,
    Loyaltydog,
}

/// Dispatches one call to the dialect's own file.
macro_rules! each {
    ($dialect:expr, $module:ident => $call:expr) => {
        match $dialect {
            Dialect::Native => {
                use native as $module;
                $call
            }
            Dialect::Rees46 => {
                use rees46 as $module;
                $call
            }
            Dialect::Sigmasms => {
                use sigmasms as $module;
                $call
            }
            Dialect::Valify => {
                use valify as $module;
                $call
            }
            Dialect::Nomado => {
                use nomado as $module;
                $call
            }
            Dialect::Loyaltydog => {
                use loyaltydog as $module;
                $call
            }
        }
    };
}

impl Dialect {
    /// Every dialect (`dialect as usize` indexes it).
    pub const ALL: [Dialect; 6] = [
        Dialect::Native,
        Dialect::Rees46,
        Dialect::Sigmasms,
        Dialect::Valify,
        Dialect::Nomado,
        Dialect::Loyaltydog,
    ];

    /// The name used in targets, metrics and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Native => "native",
            Dialect::Rees46 => "rees46",
            Dialect::Sigmasms => "sigmasms",
            Dialect::Valify => "valify",
            Dialect::Nomado => "nomado",
            Dialect::Loyaltydog => "loyaltydog",
        }
    }

    /// The dialect with this name.
    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The dialect and operation served at `path`, if any.
    pub fn route(path: &str) -> Option<(Dialect, Operation)> {
        Dialect::ALL
            .into_iter()
            .find_map(|dialect| each!(dialect, d => d::route(path)).map(|op| (dialect, op)))
    }

    /// Whose error shape an unknown path gets: the dialect whose path
    /// prefix it has, else native (otpbench's own).
    pub fn owner_of(path: &str) -> Dialect {
        Dialect::ALL
            .into_iter()
            .find(|&dialect| path.starts_with(dialect.prefix()))
            .unwrap_or(Dialect::Native)
    }

    /// The path prefix all of this dialect's routes share.
    fn prefix(self) -> &'static str {
        each!(self, d => d::PREFIX)
    }

    /// The outcomes this dialect's server side can answer, in
    /// [`OutcomeKind::ALL`] order.
    pub fn produces(self) -> Vec<OutcomeKind> {
        let also = each!(self, d => d::ALSO_PRODUCES);
        OutcomeKind::ALL
            .into_iter()
            .filter(|kind| COMMON_OUTCOMES.contains(kind) || also.contains(kind))
            .collect()
    }

    /// Serves one routed request (what the server does after routing and
    /// reading the body; public so benchmarks and embedders can call it).
    pub async fn serve(self, context: &ServeContext<'_>, request: Request<'_>) -> Reply {
        each!(self, d => d::serve(context, request).await)
    }

    /// Answers a request that never reached an operation.
    pub fn reject(self, rejection: Rejection) -> Reply {
        each!(self, d => d::reject(rejection))
    }

    /// What of an engine outcome this dialect puts on the wire.
    /// `echo_codes` is the server's `--echo-codes`.
    pub fn observe(self, outcome: &Outcome, echo_codes: bool) -> Observed {
        each!(self, d => d::observe(outcome, echo_codes))
    }

    /// Renders an outcome, as observed, for `operation`; `id` is the
    /// challenge handle the request quoted (echoed by some verifies).
    pub fn render(self, observed: &Observed, operation: Operation, id: Option<&str>) -> Reply {
        each!(self, d => d::render(observed, operation, id))
    }

    /// Client side: the request for a send.
    pub fn send_request(
        self,
        credentials: &Credentials,
        send: &SendOp,
    ) -> Result<WireRequest, ClientError> {
        each!(self, d => d::send_request(credentials, send))
    }

    /// Client side: the request for a verify.
    pub fn verify_request(
        self,
        credentials: &Credentials,
        verify: &VerifyOp,
    ) -> Result<WireRequest, ClientError> {
        each!(self, d => d::verify_request(credentials, verify))
    }

    /// Client side: what a response to `operation` says, or
    /// [`Outcome::Unrecognized`] with the reason when it fits none of the
    /// dialect's documented shapes.
    pub fn classify(self, operation: Operation, response: &WireResponse<'_>) -> Observed {
        each!(self, d => d::classify(operation, response))
    }
}

/// The outcomes every dialect's server side answers; each dialect file
/// lists the rest it can answer as `ALSO_PRODUCES`.
pub const COMMON_OUTCOMES: [OutcomeKind; 12] = [
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

/// What a request asks the engine to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Send,
    Verify,
    /// Obtaining an access token (LoyaltyDog `/v2/token`).
    Token,
    /// Anything else (unknown paths).
    Other,
}

impl Operation {
    /// Every operation (`operation as usize` indexes it).
    pub const ALL: [Operation; 4] = [
        Operation::Send,
        Operation::Verify,
        Operation::Token,
        Operation::Other,
    ];

    /// The metrics label.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Send => "send",
            Operation::Verify => "verify",
            Operation::Token => "token",
            Operation::Other => "other",
        }
    }
}

/// What a dialect handler gets besides the request.
pub struct ServeContext<'a> {
    pub engine: &'a Engine,
    pub config: &'a Config,
    /// `--echo-codes`: put the code into responses that have a field for it.
    pub echo_codes: bool,
    /// State some dialects keep besides challenges.
    pub state: &'a DialectState,
}

/// What dialects remember besides challenges: REES46's customer records
/// and the key LoyaltyDog signs its access tokens with.
pub struct DialectState {
    pub customers: rees46::Customers,
    pub tokens: loyaltydog::TokenKeys,
}

impl DialectState {
    /// Fresh state for a server with this config.
    pub fn new(config: &Config) -> DialectState {
        DialectState {
            customers: rees46::Customers::default(),
            tokens: loyaltydog::TokenKeys::new(config.secret.as_deref()),
        }
    }
}

/// A request that was routed and whose body was read within the limit.
pub struct Request<'a> {
    pub operation: Operation,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Why a request never reached an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// No such path.
    NotFound,
    /// Path exists, method does not; the value lists allowed methods.
    MethodNotAllowed(&'static str),
    /// Body over the 64 KiB limit.
    PayloadTooLarge,
    /// The body could not be read (the client went away mid-body).
    UnreadableBody,
}

/// A rendered answer and the outcome it stands for (for metrics).
pub struct Reply {
    pub response: Response<Full<Bytes>>,
    pub outcome: OutcomeKind,
}

impl Reply {
    /// Status, headers and body bytes (a rendered body is already whole).
    pub fn into_parts(self) -> (StatusCode, HeaderMap, Bytes) {
        let (parts, body) = self.response.into_parts();
        let mut body = std::pin::pin!(body);
        let mut context = Context::from_waker(Waker::noop());
        let bytes = match body.as_mut().poll_frame(&mut context) {
            Poll::Ready(Some(Ok(frame))) => frame.into_data().unwrap_or_default(),
            _ => Bytes::new(),
        };
        (parts.status, parts.headers, bytes)
    }

    /// A JSON reply.
    pub(crate) fn json(
        status: StatusCode,
        content_type: &'static str,
        body: &impl Serialize,
        outcome: OutcomeKind,
    ) -> Reply {
        Reply {
            response: json_response(status, content_type, body),
            outcome,
        }
    }

    /// Adds a header.
    pub(crate) fn with_header(
        mut self,
        name: hyper::header::HeaderName,
        value: HeaderValue,
    ) -> Reply {
        self.response.headers_mut().insert(name, value);
        self
    }
}

/// A JSON response: the one place every otpbench server builds one.
pub(crate) fn json_response(
    status: StatusCode,
    content_type: &'static str,
    body: &impl Serialize,
) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Whether the request says its body is JSON (`application/json` or
/// `application/*+json`, parameters allowed).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
        || (essence.len() > 17
            && essence[..12].eq_ignore_ascii_case("application/")
            && essence[essence.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Constant-time equality for secrets from requests.
pub(crate) fn secret_eq(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Whole seconds for a `Retry-After`: rounded up, at least 1.
pub(crate) fn retry_after_secs(retry_after: std::time::Duration) -> u64 {
    retry_after.as_millis().div_ceil(1000).max(1) as u64
}

/// A wait as the wire carries it: whole seconds in `Retry-After`.
pub(crate) fn wire_wait(wait: Duration) -> Option<Duration> {
    Some(Duration::from_secs(retry_after_secs(wait)))
}

/// What most dialects show of an engine outcome: a bare receipt, no
/// attempt counts, waits in whole seconds (the `Retry-After` header).
pub(crate) fn observe_common(outcome: &Outcome) -> Observed {
    match outcome {
        Outcome::Sent(_) => Observed::Sent(Receipt::default()),
        Outcome::Verified => Observed::Verified,
        Outcome::WrongCode { .. } => Observed::WrongCode {
            attempts_remaining: None,
        },
        Outcome::Expired => Observed::Expired,
        Outcome::AttemptsExceeded { retry_after } => Observed::AttemptsExceeded {
            retry_after: wire_wait(*retry_after),
        },
        Outcome::NotFound => Observed::NotFound,
        Outcome::RateLimited { retry_after } => Observed::RateLimited {
            retry_after: wire_wait(*retry_after),
        },
        Outcome::InvalidInput { reason } => Observed::invalid(reason.as_str()),
        Outcome::Unauthorized => Observed::Unauthorized,
        Outcome::Forbidden => Observed::Forbidden,
        Outcome::UnsupportedMediaType => Observed::UnsupportedMediaType,
        Outcome::ProviderUnavailable => Observed::ProviderUnavailable,
        Outcome::StoreUnavailable { retry_after } => Observed::StoreUnavailable {
            retry_after: wire_wait(*retry_after),
        },
        // A server never answers `unrecognized`; it stands for a bug.
        Outcome::InternalError | Outcome::Unrecognized { .. } => Observed::InternalError,
    }
}

/// The observed outcome of a documented error answer of `kind` whose text
/// was `text`; waits come from the response's `Retry-After`.
pub(crate) fn documented(kind: OutcomeKind, text: &str, response: &WireResponse<'_>) -> Observed {
    let wait = response.retry_after();
    match kind {
        OutcomeKind::WrongCode => Observed::WrongCode {
            attempts_remaining: None,
        },
        OutcomeKind::Expired => Observed::Expired,
        OutcomeKind::AttemptsExceeded => Observed::AttemptsExceeded { retry_after: wait },
        OutcomeKind::NotFound => Observed::NotFound,
        OutcomeKind::RateLimited => Observed::RateLimited { retry_after: wait },
        OutcomeKind::InvalidInput => Observed::invalid(text),
        OutcomeKind::Unauthorized => Observed::Unauthorized,
        OutcomeKind::Forbidden => Observed::Forbidden,
        OutcomeKind::UnsupportedMediaType => Observed::UnsupportedMediaType,
        OutcomeKind::ProviderUnavailable => Observed::ProviderUnavailable,
        OutcomeKind::StoreUnavailable => Observed::StoreUnavailable { retry_after: wait },
        OutcomeKind::InternalError => Observed::InternalError,
        OutcomeKind::Sent | OutcomeKind::Verified | OutcomeKind::Unrecognized => {
            response.unrecognized("a success kind among the errors")
        }
    }
}

/// The outcome a rejection counts as.
pub(crate) fn rejection_outcome(rejection: Rejection) -> OutcomeKind {
    match rejection {
        Rejection::NotFound => OutcomeKind::NotFound,
        _ => OutcomeKind::InvalidInput,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types_are_recognised() {
        let mut headers = HeaderMap::new();
        for (value, json) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/problem+json", true),
            ("text/plain", false),
            ("application/jsonx", false),
            ("application/x-www-form-urlencoded", false),
        ] {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&headers), json, "{value}");
        }
        headers.clear();
        assert!(!is_json(&headers));
    }

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let mut headers = HeaderMap::new();
        headers.insert(
            hyper::header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer_token(&headers), Some("abc"));
        headers.insert(
            hyper::header::AUTHORIZATION,
            HeaderValue::from_static("Basic abc"),
        );
        assert_eq!(bearer_token(&headers), None);
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        use std::time::Duration;
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(30)), 30);
    }
}
