//! The one request type the executor sends ([`HttpRequest`]): a method, a
//! URL, headers and a body, checked once when it is built — never per
//! send — and reused for as many sends as the caller likes. Both paths of
//! the [`crate::client::Executor`] take it: hyper's pool clones its parts
//! (cheap: shared bytes), the raw path writes the HTTP/1.1 bytes built
//! with it. Also the record of a request as it went out, for reports
//! ([`RequestLog`]).
//!
//! It knows nothing of dialects, targets or load models.

use std::borrow::Cow;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Request, Uri};

/// A request made ready once.
#[derive(Debug, Clone)]
pub(crate) struct HttpRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
    /// The request as HTTP/1.1 bytes for the raw path, headers as the
    /// caller spelt them: written by [`HttpRequest::new`] for an
    /// `http://` URL; `None` for a request built for the pool only.
    wire: Option<Box<[u8]>>,
}

impl HttpRequest {
    /// `method url` with extra `headers` and `body`, checked now: the
    /// method, the URL (`http://` or `https://`, with a host) and every
    /// header. For `http://` the bytes the raw path writes are built here
    /// too: a `Host` and a `User-Agent` unless given, a `Content-Length`
    /// when there is a body or the method usually has one.
    pub(crate) fn new(
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: impl Into<Bytes>,
    ) -> Result<HttpRequest, String> {
        let upper = method.to_ascii_uppercase();
        if upper.is_empty() || !upper.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("{method:?} is not an HTTP method"));
        }
        let method = Method::from_bytes(upper.as_bytes())
            .map_err(|_| format!("{method:?} is not an HTTP method"))?;
        let mut request = HttpRequest::build(method, url, headers, body.into())?;
        if request.uri.scheme_str() == Some("http") {
            let spelt = headers
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_bytes()));
            let bytes = http1(&request.method, &request.uri, spelt, &request.body);
            request.wire = Some(bytes.into_boxed_slice());
        }
        Ok(request)
    }

    /// The same for the pool only (no raw bytes): a request built for one
    /// send, such as a scenario's raw HTTP step.
    pub(crate) fn build(
        method: Method,
        url: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<HttpRequest, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        if !matches!(uri.scheme_str(), Some("http" | "https")) {
            return Err(format!("{url:?}: expected an http:// or https:// URL"));
        }
        if uri.authority().is_none() {
            return Err(format!("{url:?}: no host"));
        }
        let mut map = HeaderMap::with_capacity(headers.len());
        for (name, value) in headers {
            let bad = || format!("{name:?}: {value:?} is not a valid header");
            let parsed_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let parsed_value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| bad())?;
            map.append(parsed_name, parsed_value);
        }
        Ok(HttpRequest::from_parts(method, uri, map, body))
    }

    /// `GET url` with no headers.
    pub(crate) fn get(url: &str) -> Result<HttpRequest, String> {
        HttpRequest::new("GET", url, &[], Bytes::new())
    }

    /// A request from parts already checked (a dialect's call, built per
    /// call): for the pool, no raw bytes.
    pub(crate) fn from_parts(
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> HttpRequest {
        HttpRequest {
            method,
            uri,
            headers,
            body,
            wire: None,
        }
    }

    /// Where the request goes.
    pub(crate) fn uri(&self) -> &Uri {
        &self.uri
    }

    /// Whether the answer has no body whatever it says (`HEAD`).
    pub(crate) fn is_head(&self) -> bool {
        self.method == Method::HEAD
    }

    /// The request as hyper sends it: its parts cloned (the body and the
    /// URL share their bytes; the headers are copied).
    pub(crate) fn to_hyper(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = self.method.clone();
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }

    /// The HTTP/1.1 bytes the raw path writes: the ones built with the
    /// request (borrowed: nothing is copied per send), or, for a request
    /// built for the pool and sent raw, built now.
    pub(crate) fn wire(&self) -> Cow<'_, [u8]> {
        match &self.wire {
            Some(bytes) => Cow::Borrowed(bytes),
            None => {
                let headers: Vec<(&str, &[u8])> = self
                    .headers
                    .iter()
                    .map(|(name, value)| (name.as_str(), value.as_bytes()))
                    .collect();
                let headers = headers.iter().copied();
                Cow::Owned(http1(&self.method, &self.uri, headers, &self.body))
            }
        }
    }

    /// The request as it goes out, for reports (`--verbose`).
    pub(crate) fn log(&self) -> RequestLog {
        RequestLog {
            method: self.method.to_string(),
            url: self.uri.to_string(),
            headers: self
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: self.body.clone(),
        }
    }
}

/// `method uri` as HTTP/1.1 bytes with `headers` in the order and case
/// given.
fn http1<'a>(
    method: &Method,
    uri: &Uri,
    headers: impl Iterator<Item = (&'a str, &'a [u8])> + Clone,
    body: &[u8],
) -> Vec<u8> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut bytes = Vec::with_capacity(128 + body.len());
    bytes.extend_from_slice(format!("{method} {path} HTTP/1.1\r\n").as_bytes());
    let has = |name: &str| headers.clone().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("host") {
        if let Some(authority) = uri.authority() {
            bytes.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
        }
    }
    if !has("user-agent") {
        bytes.extend_from_slice(
            concat!("User-Agent: otpbench/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes(),
        );
    }
    for (name, value) in headers.clone() {
        bytes.extend_from_slice(name.as_bytes());
        bytes.extend_from_slice(b": ");
        bytes.extend_from_slice(value);
        bytes.extend_from_slice(b"\r\n");
    }
    let bodiless = matches!(
        *method,
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
    );
    if (!body.is_empty() || !bodiless) && !has("content-length") {
        bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

/// A request as it went out, for reports (`--verbose`).
#[derive(Debug, Clone, Default)]
pub struct RequestLog {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(request: &HttpRequest) -> String {
        String::from_utf8_lossy(&request.wire()).into_owned()
    }

    #[test]
    fn the_raw_bytes_keep_the_headers_as_spelt_and_frame_the_body() {
        let request = HttpRequest::new(
            "post",
            "http://127.0.0.1:9/v1/otp/send?x=1",
            &[("Content-Type".into(), "application/json".into())],
            &b"{}"[..],
        )
        .unwrap();
        assert_eq!(
            text(&request),
            concat!(
                "POST /v1/otp/send?x=1 HTTP/1.1\r\nHost: 127.0.0.1:9\r\n",
                "User-Agent: otpbench/",
                env!("CARGO_PKG_VERSION"),
                "\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
            )
        );
        let get = HttpRequest::get("http://example.test").unwrap();
        let get = text(&get);
        assert!(
            get.starts_with("GET / HTTP/1.1\r\nHost: example.test\r\n"),
            "{get}"
        );
        assert!(!get.contains("Content-Length"), "{get}");
        let given = [("host".to_string(), "other".to_string())];
        let request = HttpRequest::new("GET", "http://a.test/", &given, Bytes::new()).unwrap();
        assert_eq!(text(&request).matches("ost: ").count(), 1);
    }

    #[test]
    fn the_pool_gets_the_same_request() {
        let request = HttpRequest::new(
            "PUT",
            "https://a.test/x",
            &[("X-Tag".into(), "1".into())],
            &b"body"[..],
        )
        .unwrap();
        assert!(request.wire.is_none(), "no raw bytes for https://");
        let hyper = request.to_hyper();
        assert_eq!(hyper.method(), Method::PUT);
        assert_eq!(hyper.uri(), "https://a.test/x");
        assert_eq!(hyper.headers()["x-tag"], "1");
        let log = request.log();
        assert_eq!(log.headers, [("x-tag".to_string(), "1".to_string())]);
        assert_eq!(&log.body[..], b"body");
    }

    #[test]
    fn bad_requests_are_refused_when_built() {
        for (method, url, header, why) in [
            ("GET", "not a url", None, "not a URL"),
            (
                "GET",
                "ftp://a.test/",
                None,
                "expected an http:// or https:// URL",
            ),
            ("GET", "/path", None, "expected an http:// or https:// URL"),
            ("G T", "http://a.test/", None, "not an HTTP method"),
            (
                "GET",
                "http://a.test/",
                Some(("X\r\nY", "1")),
                "not a valid header",
            ),
            (
                "GET",
                "http://a.test/",
                Some(("X", "a\nb")),
                "not a valid header",
            ),
            (
                "GET",
                "http://a.test/",
                Some(("", "1")),
                "not a valid header",
            ),
        ] {
            let headers: Vec<(String, String)> = header
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            let error = HttpRequest::new(method, url, &headers, Bytes::new()).unwrap_err();
            assert!(error.contains(why), "{method} {url}: {error}");
        }
    }
}
