//! The raw-throughput path of the executor: plain `http://` HTTP/1.1 over
//! one TCP connection per in-flight request, as wrk does it — a request
//! written from bytes built once ([`RawRequest`]), the answer parsed with
//! `httparse` (hyper's own parser) out of one buffer per connection that
//! is reused for every exchange ([`RawConnection`]). No pool, no channel
//! between tasks, no allocation per request.
//!
//! It exists for `otpbench load --url` (comparing with wrk on equal terms)
//! and the `--reference-url` workload; everything that speaks a dialect
//! goes through [`crate::client::Target`]. It reads only what it needs of
//! an answer: the status, and enough of the framing (`Content-Length`,
//! `Transfer-Encoding: chunked`, `Connection: close`) to find where the
//! next answer starts. The body is skipped, never kept.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use hyper::Uri;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bytes of answer a connection can hold at once; a longer head is an
/// error, a longer body is read through in pieces.
const BUFFER_BYTES: usize = 64 * 1024;
/// Headers an answer may have.
const MAX_HEADERS: usize = 64;

/// Why a raw exchange failed.
#[derive(Debug)]
pub enum RawError {
    /// The connection could not be opened.
    Connect(io::Error),
    /// The connection broke, or the answer was not HTTP/1.x.
    Io(String),
}

impl fmt::Display for RawError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawError::Connect(e) => write!(f, "cannot connect: {e}"),
            RawError::Io(why) => write!(f, "connection failed: {why}"),
        }
    }
}

impl std::error::Error for RawError {}

/// A request made ready once: where it goes and every byte it is.
#[derive(Debug, Clone)]
pub struct RawRequest {
    addr: SocketAddr,
    bytes: Vec<u8>,
    /// A `HEAD` request's answer has no body whatever it says.
    head: bool,
    label: String,
}

impl RawRequest {
    /// Builds `method url` with extra `headers` and `body`, resolving the
    /// host once. Only `http://` URLs: the raw path has no TLS.
    pub async fn new(
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<RawRequest, String> {
        let uri: Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not a URL: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("{url:?}: the raw path takes http:// URLs only"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url:?}: no host"))?
            .clone();
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", authority.host()))?
            .next()
            .ok_or_else(|| format!("{} resolves to no address", authority.host()))?;
        let method = method.to_ascii_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(format!("{method:?} is not an HTTP method"));
        }
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut bytes = Vec::with_capacity(128 + body.len());
        bytes.extend_from_slice(format!("{method} {path} HTTP/1.1\r\n").as_bytes());
        let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
        if !has("host") {
            bytes.extend_from_slice(format!("Host: {authority}\r\n").as_bytes());
        }
        if !has("user-agent") {
            bytes.extend_from_slice(
                concat!("User-Agent: otpbench/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes(),
            );
        }
        for (name, value) in headers {
            let bad = |b: u8| b == b'\r' || b == b'\n';
            if name.is_empty()
                || name.bytes().any(|b| bad(b) || b == b':')
                || value.bytes().any(bad)
            {
                return Err(format!("{name:?}: {value:?} is not a valid header"));
            }
            bytes.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        let bodiless = matches!(method.as_str(), "GET" | "HEAD" | "DELETE" | "OPTIONS");
        if (!body.is_empty() || !bodiless) && !has("content-length") {
            bytes.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        Ok(RawRequest {
            addr,
            bytes,
            head: method == "HEAD",
            label: format!("{method} {url}"),
        })
    }

    /// Where the request goes.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `GET http://…`, for reports.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The request as written on the wire.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// One keep-alive connection and its reused answer buffer. Reconnects by
/// itself when the server closed the previous one.
pub struct RawConnection {
    addr: SocketAddr,
    stream: Option<TcpStream>,
    buffer: Box<[u8]>,
    /// Unread answer bytes are `buffer[start..end]`.
    start: usize,
    end: usize,
}

/// How an answer's body is framed.
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl RawConnection {
    /// A connection to `addr`, not opened yet.
    pub fn new(addr: SocketAddr) -> RawConnection {
        RawConnection {
            addr,
            stream: None,
            buffer: vec![0; BUFFER_BYTES].into_boxed_slice(),
            start: 0,
            end: 0,
        }
    }

    /// Opens the connection now (so a run's first requests do not pay for
    /// it); a no-op when it is open.
    pub async fn connect(&mut self) -> Result<(), RawError> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(RawError::Connect)?;
            let _ = stream.set_nodelay(true);
            self.stream = Some(stream);
            self.start = 0;
            self.end = 0;
        }
        Ok(())
    }

    /// Drops the connection (after a timeout, say); the next exchange
    /// opens a new one.
    pub fn close(&mut self) {
        self.stream = None;
    }

    /// Writes `request` and reads its answer through; returns the status.
    /// A connection the server had closed while idle is reopened once.
    pub async fn exchange(&mut self, request: &RawRequest) -> Result<u16, RawError> {
        let reused = self.stream.is_some();
        match self.try_exchange(request).await {
            Err(RawError::Io(_)) if reused && self.start == 0 && self.end == 0 => {
                self.close();
                self.try_exchange(request).await
            }
            result => result,
        }
    }

    async fn try_exchange(&mut self, request: &RawRequest) -> Result<u16, RawError> {
        self.connect().await?;
        let result = self.write_and_read(request).await;
        if result.is_err() {
            self.close();
        }
        result
    }

    async fn write_and_read(&mut self, request: &RawRequest) -> Result<u16, RawError> {
        let stream = self.stream.as_mut().expect("connected");
        stream.write_all(&request.bytes).await.map_err(io_error)?;
        loop {
            let (status, head_len, framing, close) = loop {
                if let Some(head) = self.parse_head(request.head)? {
                    break head;
                }
                self.fill().await?;
            };
            self.start += head_len;
            if (100..200).contains(&status) && status != 101 {
                // An interim answer (100 Continue): the real one follows.
                continue;
            }
            match framing {
                Framing::None => {}
                Framing::Length(n) => self.skip(n).await?,
                Framing::Chunked => self.skip_chunked().await?,
                Framing::UntilClose => {
                    while self.fill_or_eof().await? {
                        self.start = self.end;
                    }
                    self.close();
                    return Ok(status);
                }
            }
            if close {
                self.close();
            }
            if self.start == self.end {
                self.start = 0;
                self.end = 0;
            }
            return Ok(status);
        }
    }

    /// Parses the head at `start`, if it is all there: status, its
    /// length, the body's framing and whether the server closes.
    fn parse_head(
        &self,
        head_request: bool,
    ) -> Result<Option<(u16, usize, Framing, bool)>, RawError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let parsed = response
            .parse(&self.buffer[self.start..self.end])
            .map_err(|e| RawError::Io(format!("the answer is not HTTP/1.x: {e}")))?;
        let httparse::Status::Complete(len) = parsed else {
            return Ok(None);
        };
        let status = response.code.unwrap_or(0);
        let mut close = response.version == Some(0);
        let mut framing = Framing::UntilClose;
        for header in response.headers.iter() {
            if header.name.eq_ignore_ascii_case("content-length") {
                let n = std::str::from_utf8(header.value)
                    .ok()
                    .and_then(|v| v.trim().parse().ok())
                    .ok_or_else(|| RawError::Io("a Content-Length that is not a number".into()))?;
                if !matches!(framing, Framing::Chunked) {
                    framing = Framing::Length(n);
                }
            } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
                if header.value.eq_ignore_ascii_case(b"chunked") {
                    framing = Framing::Chunked;
                }
            } else if header.name.eq_ignore_ascii_case("connection") {
                if header.value.eq_ignore_ascii_case(b"close") {
                    close = true;
                } else if header.value.eq_ignore_ascii_case(b"keep-alive") {
                    close = false;
                }
            }
        }
        if head_request || status == 204 || status == 304 || (100..200).contains(&status) {
            framing = Framing::None;
        }
        Ok(Some((status, len, framing, close)))
    }

    /// Reads more of the answer; an early end is an error.
    async fn fill(&mut self) -> Result<(), RawError> {
        if self.fill_or_eof().await? {
            Ok(())
        } else {
            Err(RawError::Io(
                "the server closed the connection mid-answer".into(),
            ))
        }
    }

    /// Reads more of the answer; `false` at the end of the stream.
    async fn fill_or_eof(&mut self) -> Result<bool, RawError> {
        if self.start > 0 && (self.start == self.end || self.end == self.buffer.len()) {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            return Err(RawError::Io(format!(
                "an answer head over {BUFFER_BYTES} bytes"
            )));
        }
        let stream = self.stream.as_mut().expect("connected");
        let n = stream
            .read(&mut self.buffer[self.end..])
            .await
            .map_err(io_error)?;
        self.end += n;
        Ok(n > 0)
    }

    /// Consumes `n` body bytes.
    async fn skip(&mut self, mut n: u64) -> Result<(), RawError> {
        loop {
            let here = ((self.end - self.start) as u64).min(n);
            self.start += here as usize;
            n -= here;
            if n == 0 {
                return Ok(());
            }
            self.fill().await?;
        }
    }

    /// Consumes a chunked body, trailers included.
    async fn skip_chunked(&mut self) -> Result<(), RawError> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buffer[self.start..self.end]) {
                    Ok(httparse::Status::Complete((len, size))) => {
                        self.start += len;
                        break size;
                    }
                    Ok(httparse::Status::Partial) => self.fill().await?,
                    Err(_) => return Err(RawError::Io("a malformed chunk size".into())),
                }
            };
            if size == 0 {
                // Trailers, each ending in CRLF, then an empty line.
                loop {
                    let line_end = loop {
                        let unread = &self.buffer[self.start..self.end];
                        if let Some(i) = unread.windows(2).position(|w| w == b"\r\n") {
                            break i;
                        }
                        self.fill().await?;
                    };
                    self.start += line_end + 2;
                    if line_end == 0 {
                        return Ok(());
                    }
                }
            }
            self.skip(size + 2).await?;
        }
    }
}

fn io_error(error: io::Error) -> RawError {
    RawError::Io(error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    /// A server that answers each request with the next canned answer.
    async fn serve(answers: Vec<&'static [u8]>) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0u8; 4096];
            for answer in answers {
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buffer).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buffer[..n]);
                }
                // Dribble the answer out in small pieces.
                for piece in answer.chunks(7) {
                    stream.write_all(piece).await.unwrap();
                    stream.flush().await.unwrap();
                }
            }
        });
        addr
    }

    #[tokio::test]
    async fn answers_of_every_framing_are_read_through_on_one_connection() {
        let addr = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\n\r\n",
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        ])
        .await;
        let request = RawRequest::new("get", &format!("http://{addr}/healthz"), &[], b"")
            .await
            .unwrap();
        let text = String::from_utf8_lossy(request.bytes());
        assert!(
            text.starts_with("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:"),
            "{text}"
        );
        assert!(!text.contains("Content-Length"), "{text}");
        let mut connection = RawConnection::new(request.addr());
        for status in [200, 201, 204, 503] {
            assert_eq!(connection.exchange(&request).await.unwrap(), status);
        }
        assert!(connection.stream.is_none(), "Connection: close was obeyed");
    }

    #[tokio::test]
    async fn a_body_is_framed_and_bad_urls_are_refused() {
        let request = RawRequest::new(
            "POST",
            "http://127.0.0.1:9/v1/otp/send",
            &[("Content-Type".into(), "application/json".into())],
            b"{}",
        )
        .await
        .unwrap();
        let text = String::from_utf8_lossy(request.bytes());
        assert!(
            text.ends_with("Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"),
            "{text}"
        );
        for (url, why) in [
            ("https://127.0.0.1/", "http:// URLs only"),
            ("not a url", "not a URL"),
        ] {
            let error = RawRequest::new("GET", url, &[], b"").await.unwrap_err();
            assert!(error.contains(why), "{error}");
        }
        let bad = [("X\r\nY".to_string(), "1".to_string())];
        let error = RawRequest::new("GET", "http://127.0.0.1/", &bad, b"")
            .await
            .unwrap_err();
        assert!(error.contains("not a valid header"), "{error}");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let request = RawRequest::new("GET", &format!("http://{addr}/"), &[], b"")
            .await
            .unwrap();
        let error = RawConnection::new(addr)
            .exchange(&request)
            .await
            .unwrap_err();
        assert!(matches!(error, RawError::Connect(_)), "{error}");
    }
}
