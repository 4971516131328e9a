//! Wire dialects: one file per dialect, holding everything that dialect
//! says on the wire.
//!
//! A dialect's server side turns an HTTP request into an engine operation
//! and renders the [`Outcome`] in the dialect's own shape — including the
//! shape of 404, 405 and 413 answers. Dialects know nothing of stores; the
//! server hands them an [`Engine`] and the config. Paths of different
//! dialects never collide, so all of them are served on one listener.

pub mod native;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Response, StatusCode};
use serde::Serialize;

use crate::config::Config;
use crate::engine::outcome::OutcomeKind;
use crate::engine::Engine;

/// Every dialect the server speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Native,
}

impl Dialect {
    /// Every dialect (`dialect as usize` indexes it).
    pub const ALL: [Dialect; 1] = [Dialect::Native];

    /// The name used in targets, metrics and the CLI.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Native => "native",
        }
    }

    /// The dialect and operation served at `path`, if any.
    pub fn route(path: &str) -> Option<(Dialect, Operation)> {
        native::route(path).map(|op| (Dialect::Native, op))
    }

    /// Whose error shape an unknown path gets: the dialect whose path
    /// prefix it has, else native (otpbench's own).
    pub fn owner_of(_path: &str) -> Dialect {
        Dialect::Native
    }

    /// Serves one routed request.
    pub(crate) async fn serve(self, context: &ServeContext<'_>, request: Request<'_>) -> Reply {
        match self {
            Dialect::Native => native::serve(context, request).await,
        }
    }

    /// Answers a request that never reached an operation.
    pub(crate) fn reject(self, rejection: Rejection) -> Reply {
        match self {
            Dialect::Native => native::reject(rejection),
        }
    }
}

/// What a request asks the engine to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Send,
    Verify,
    /// Anything else a dialect serves (tokens, unknown paths).
    Other,
}

impl Operation {
    /// Every operation (`operation as usize` indexes it).
    pub const ALL: [Operation; 3] = [Operation::Send, Operation::Verify, Operation::Other];

    /// The metrics label.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Send => "send",
            Operation::Verify => "verify",
            Operation::Other => "other",
        }
    }
}

/// What a dialect handler gets besides the request.
pub(crate) struct ServeContext<'a> {
    pub engine: &'a Engine,
    pub config: &'a Config,
    /// `--echo-codes`: put the code into responses that have a field for it.
    pub echo_codes: bool,
}

/// A request that was routed and whose body was read within the limit.
pub(crate) struct Request<'a> {
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
