//! What one exchange with a target is, on either path of the
//! [`super::executor::Executor`]: the options it is made with, the answer
//! ([`Exchange`]) and the one error ([`TransportError`]).

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use hyper::HeaderMap;

/// The largest response body read (bigger ones are a transport error).
pub(crate) const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

/// How an executor behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpOptions {
    /// Longest wait for one whole exchange, connecting included.
    pub(crate) timeout: Duration,
    /// Accept any TLS certificate (self-signed test servers). Never for a
    /// real service.
    pub(crate) insecure: bool,
    /// Idle keep-alive connections kept per host.
    pub(crate) max_idle_per_host: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            timeout: Duration::from_secs(10),
            insecure: false,
            max_idle_per_host: 256,
        }
    }
}

/// One request and its answer.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: u16,
    /// Empty on the raw path, which reads only the status.
    pub headers: HeaderMap,
    /// Empty on the raw path, which skips the body.
    pub body: Bytes,
    /// From the first byte written to the last byte read.
    pub(crate) elapsed: Duration,
}

impl Exchange {
    /// The answer as a dialect's client side reads it.
    pub(crate) fn response(&self) -> crate::dialect::WireResponse<'_> {
        crate::dialect::WireResponse {
            status: self.status,
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// The body as text (lossy), for reports.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Why an exchange did not complete, on either path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportError {
    /// Nobody answered at the address (refused, unresolvable, TLS
    /// handshake failed).
    Connect(String),
    /// No whole answer within the executor's timeout.
    Timeout(Duration),
    /// The connection broke mid-exchange, or the answer was not HTTP.
    Io(String),
    /// The answer's body was over 8 MiB (`MAX_RESPONSE_BYTES`).
    TooLarge,
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TransportError::Connect(why) => write!(f, "cannot connect: {why}"),
            TransportError::Timeout(after) => {
                write!(f, "no answer within {}", crate::duration::format(*after))
            }
            TransportError::Io(why) => write!(f, "connection failed: {why}"),
            TransportError::TooLarge => {
                write!(f, "answer body over {} bytes", MAX_RESPONSE_BYTES)
            }
        }
    }
}

impl std::error::Error for TransportError {}
