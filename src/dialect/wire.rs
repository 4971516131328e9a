//! Server-side reading helpers the dialect files share: JSON objects,
//! string fields, Basic credentials, and the `Retry-After` header every
//! dialect adds to a 429 or a store 503.

use base64::Engine as _;
use hyper::header::{HeaderValue, AUTHORIZATION, RETRY_AFTER};
use hyper::HeaderMap;
use serde_json::{Map, Value};

use crate::dialect::{retry_after_secs, Reply};
use crate::engine::outcome::Observed;

/// The body as a JSON object, if it is one.
pub(crate) fn object(body: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// Why a field is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FieldError {
    Missing,
    WrongType,
}

/// A required string member (`null` counts as missing).
pub(crate) fn string<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<&'a str, FieldError> {
    optional(object, name)?.ok_or(FieldError::Missing)
}

/// An optional string member (`null` counts as absent).
pub(crate) fn optional<'a>(
    object: &'a Map<String, Value>,
    name: &str,
) -> Result<Option<&'a str>, FieldError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(FieldError::WrongType),
    }
}

/// The user and password of `Authorization: Basic <base64(user:pass)>`
/// (scheme case-insensitive: Nomado's docs write `BASIC`).
pub(crate) fn basic_credentials(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    String::from_utf8(decoded).ok()
}

/// Adds `Retry-After` when the outcome knows how long to wait.
pub(crate) fn with_retry_after(reply: Reply, observed: &Observed) -> Reply {
    let wait = match observed {
        Observed::RateLimited { retry_after }
        | Observed::AttemptsExceeded { retry_after }
        | Observed::StoreUnavailable { retry_after } => *retry_after,
        _ => None,
    };
    match wait {
        Some(wait) => reply.with_header(RETRY_AFTER, HeaderValue::from(retry_after_secs(wait))),
        None => reply,
    }
}
