//! Reading a request body whole, within [`MAX_BODY_BYTES`]: a declared
//! length over the limit is refused before a byte is read, a body that
//! grows past it while streaming is refused when it does, and a body the
//! client stops sending is unreadable — one decision for every server.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::CONTENT_LENGTH;
use hyper::HeaderMap;

/// Largest request body any otpbench server takes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Over [`MAX_BODY_BYTES`] (413).
    TooLarge,
    /// The client went away mid-body, or sent a broken chunked body (400).
    Unreadable,
}

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`].
pub(crate) async fn read(headers: &HeaderMap, body: Incoming) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Unreadable),
    }
}
