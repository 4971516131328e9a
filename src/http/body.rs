//! Reading a request body whole, within [`MAX_BODY_BYTES`] and a time
//! limit: a declared length over the limit is refused before a byte is
//! read, a body that grows past it while streaming is refused when it
//! does, a body that is not all there by the deadline is refused (408),
//! and a body the client stops sending is unreadable — one decision for
//! every server.
//!
//! Memory is bounded by what is kept, not by how the client sends it: a
//! body that arrives in one piece is taken as is, and any other is copied
//! into one buffer sized by the declared `Content-Length` (up to the
//! limit) as it comes, so a body trickled one byte per read holds one
//! buffer, not one of hyper's read buffers per byte.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming};
use hyper::header::CONTENT_LENGTH;
use hyper::HeaderMap;

/// Largest request body any otpbench server takes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long a server waits for a whole request body by default, counted
/// from the end of the request head (the head has its own 30 s limit).
/// 64 KiB take milliseconds on any working link; a client that takes
/// longer is trickling.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyError {
    /// Over [`MAX_BODY_BYTES`] (413).
    TooLarge,
    /// Not all there within the time limit (408).
    TimedOut,
    /// The client went away mid-body, or sent a broken chunked body (400).
    Unreadable,
}

/// Reads the whole body within `timeout`, refusing more than
/// [`MAX_BODY_BYTES`].
pub(crate) async fn read(
    headers: &HeaderMap,
    mut body: Incoming,
    timeout: Duration,
) -> Result<Bytes, BodyError> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(BodyError::TooLarge);
    }
    // The deadline is set (and a timer armed) only when the body is not
    // all there yet: the usual body came with its head and is taken
    // without touching the timer wheel. The first wait starts within the
    // same poll as this call, so the limit still counts from here.
    let mut deadline = None;
    // The usual body is one frame: keep it as hyper gave it. From the
    // second frame on, everything is copied into one buffer.
    let mut first: Option<Bytes> = None;
    let mut buffer: Option<BytesMut> = None;
    while !body.is_end_stream() {
        let next = match ready_frame(&mut body).await {
            Poll::Ready(next) => next,
            Poll::Pending => {
                let deadline =
                    *deadline.get_or_insert_with(|| tokio::time::Instant::now() + timeout);
                match tokio::time::timeout_at(deadline, body.frame()).await {
                    Err(_) => return Err(BodyError::TimedOut),
                    Ok(next) => next,
                }
            }
        };
        let frame = match next {
            None => break,
            Some(Err(_)) => return Err(BodyError::Unreadable),
            Some(Ok(frame)) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let held = first.as_ref().map_or(0, Bytes::len) + buffer.as_ref().map_or(0, BytesMut::len);
        if held + data.len() > MAX_BODY_BYTES {
            return Err(BodyError::TooLarge);
        }
        match (&mut first, &mut buffer) {
            (None, None) => first = Some(data),
            (Some(_), None) => {
                let capacity = declared.map_or(MAX_BODY_BYTES, |n| n as usize);
                let mut copy = BytesMut::with_capacity(capacity.max(held + data.len()));
                copy.extend_from_slice(&first.take().unwrap_or_default());
                copy.extend_from_slice(&data);
                buffer = Some(copy);
            }
            (_, Some(copy)) => copy.extend_from_slice(&data),
        }
    }
    Ok(match (first, buffer) {
        (_, Some(copy)) => copy.freeze(),
        (Some(whole), None) => whole,
        (None, None) => Bytes::new(),
    })
}

/// The body's next frame if it is already there; `Pending` (with the
/// task's waker registered) if it is not.
async fn ready_frame(body: &mut Incoming) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
    poll_fn(|cx| Poll::Ready(Pin::new(&mut *body).poll_frame(cx))).await
}
