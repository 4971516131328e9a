//! What a dialect's server side answers, as plain data: a [`Reply`]
//! (status, headers, body bytes and the outcome it stands for), turned into
//! a hyper response only at the server's edge; and the [`ErrorTable`] each
//! dialect keeps of its documented error answers, looked up by outcome when
//! rendering and by status and text when classifying.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use hyper::{HeaderMap, Response, StatusCode};
use serde::Serialize;

use crate::engine::outcome::{Observed, OutcomeKind};
use crate::http::json;

/// `application/json`, the content type of most answers.
pub(crate) const JSON: &str = "application/json";

/// A rendered answer and the outcome it stands for (for metrics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
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
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        Reply {
            status,
            headers,
            body: json::to_bytes(body),
            outcome,
        }
    }

    /// Adds a header.
    pub(crate) fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Reply {
        self.headers.insert(name, value);
        self
    }

    /// Adds `Retry-After` (whole seconds) when the outcome knows how long
    /// to wait.
    pub(crate) fn with_retry_after(self, observed: &Observed) -> Reply {
        match wait_of(observed) {
            Some(wait) => self.with_header(RETRY_AFTER, HeaderValue::from(retry_after_secs(wait))),
            None => self,
        }
    }

    /// The hyper response this reply stands for.
    pub fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// How long an outcome tells the client to wait, if it does.
pub(crate) fn wait_of(observed: &Observed) -> Option<std::time::Duration> {
    match observed {
        Observed::RateLimited { retry_after }
        | Observed::AttemptsExceeded { retry_after }
        | Observed::StoreUnavailable { retry_after } => *retry_after,
        _ => None,
    }
}

/// Whole seconds for a `Retry-After`: rounded up, at least 1.
pub(crate) fn retry_after_secs(retry_after: std::time::Duration) -> u64 {
    retry_after.as_millis().div_ceil(1000).max(1) as u64
}

/// One documented error answer: the outcome it stands for, its status, its
/// text, and whatever else the dialect keys it by (`X`: SigmaSMS's
/// exception name, Valify's error code, the field REES46 names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorRow<X: 'static = ()> {
    pub kind: OutcomeKind,
    pub status: StatusCode,
    pub text: &'static str,
    pub extra: X,
}

impl ErrorRow {
    /// A row keyed by outcome, status and text alone.
    pub(crate) const fn new(kind: OutcomeKind, status: StatusCode, text: &'static str) -> Self {
        ErrorRow {
            kind,
            status,
            text,
            extra: (),
        }
    }
}

impl<X> ErrorRow<X> {
    /// A row with the dialect's own key.
    pub(crate) const fn keyed(
        kind: OutcomeKind,
        status: StatusCode,
        text: &'static str,
        extra: X,
    ) -> Self {
        ErrorRow {
            kind,
            status,
            text,
            extra,
        }
    }
}

/// A dialect's documented error answers. The first row of a kind is what
/// an engine outcome of that kind renders as.
#[derive(Debug, Clone, Copy)]
pub struct ErrorTable<X: 'static = ()> {
    rows: &'static [ErrorRow<X>],
}

impl<X> ErrorTable<X> {
    pub(crate) const fn new(rows: &'static [ErrorRow<X>]) -> Self {
        ErrorTable { rows }
    }

    /// Every row, in the documented order.
    pub fn rows(&self) -> &'static [ErrorRow<X>] {
        self.rows
    }

    /// The row an outcome of `kind` renders as.
    pub fn by_kind(&self, kind: OutcomeKind) -> Option<&'static ErrorRow<X>> {
        self.rows.iter().find(|row| row.kind == kind)
    }

    /// The row of `kind` with this key.
    pub fn by_kind_and<Q>(&self, kind: OutcomeKind, extra: &Q) -> Option<&'static ErrorRow<X>>
    where
        X: PartialEq<Q>,
    {
        self.rows
            .iter()
            .find(|row| row.kind == kind && row.extra == *extra)
    }

    /// The row a response with this status and text is.
    pub fn by_status_text(&self, status: u16, text: &str) -> Option<&'static ErrorRow<X>> {
        self.rows
            .iter()
            .find(|row| row.status.as_u16() == status && row.text == text)
    }

    /// The row a response with this status and key is.
    pub fn by_status_and<Q>(&self, status: u16, extra: &Q) -> Option<&'static ErrorRow<X>>
    where
        X: PartialEq<Q>,
    {
        self.rows
            .iter()
            .find(|row| row.status.as_u16() == status && row.extra == *extra)
    }

    /// The first row with this key.
    pub fn by_key<Q>(&self, extra: &Q) -> Option<&'static ErrorRow<X>>
    where
        X: PartialEq<Q>,
    {
        self.rows.iter().find(|row| row.extra == *extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        use std::time::Duration;
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(30)), 30);
    }

    #[test]
    fn a_reply_becomes_the_response_it_describes() {
        let reply = Reply::json(
            StatusCode::CREATED,
            JSON,
            &serde_json::json!({"a": 1}),
            OutcomeKind::Sent,
        )
        .with_header(RETRY_AFTER, HeaderValue::from(3));
        assert_eq!(&reply.body[..], br#"{"a":1}"#);
        let response = reply.into_response();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[CONTENT_TYPE], JSON);
        assert_eq!(response.headers()[RETRY_AFTER], "3");
    }
}
