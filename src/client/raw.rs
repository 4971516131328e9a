//! The raw path of the [`crate::client::Executor`]: plain `http://`
//! HTTP/1.1 over one TCP connection per in-flight request, as wrk does it
//! — a request written from the bytes built with its
//! [`crate::client::HttpRequest`], the answer parsed with `httparse`
//! (hyper's own parser) out of one buffer per connection that is reused
//! for every exchange ([`RawConnection`]). No pool, no channel between
//! tasks, no allocation per request. The timeout is the executor's.
//!
//! It exists for `otpbench load --url` (comparing with wrk on equal terms)
//! and the `--reference-url` workload; everything that speaks a dialect
//! goes through [`crate::client::Target`]. It reads only what it needs of
//! an answer: the status, and enough of the framing (`Content-Length`,
//! `Transfer-Encoding: chunked`, `Connection: close`) to find where the
//! next answer starts. The body is skipped, never kept.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::exchange::TransportError;
use super::request::HttpRequest;

/// Bytes of answer a connection can hold at once; a longer head is an
/// error, a longer body is read through in pieces.
const BUFFER_BYTES: usize = 64 * 1024;
/// Headers an answer may have.
const MAX_HEADERS: usize = 64;

/// One keep-alive connection and its reused answer buffer. Reconnects by
/// itself when the server closed the previous one.
pub(crate) struct RawConnection {
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
    pub(crate) fn new(addr: SocketAddr) -> RawConnection {
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
    pub(crate) async fn connect(&mut self) -> Result<(), TransportError> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(self.addr)
                .await
                .map_err(|e| TransportError::Connect(e.to_string()))?;
            let _ = stream.set_nodelay(true);
            self.stream = Some(stream);
            self.start = 0;
            self.end = 0;
        }
        Ok(())
    }

    /// Drops the connection (after a timeout, say); the next exchange
    /// opens a new one.
    pub(crate) fn close(&mut self) {
        self.stream = None;
    }

    /// Writes `request` and reads its answer through; returns the status.
    /// A connection the server had closed while idle is reopened once.
    pub(crate) async fn exchange(&mut self, request: &HttpRequest) -> Result<u16, TransportError> {
        let reused = self.stream.is_some();
        match self.try_exchange(request).await {
            Err(TransportError::Io(_)) if reused && self.start == 0 && self.end == 0 => {
                self.close();
                self.try_exchange(request).await
            }
            result => result,
        }
    }

    async fn try_exchange(&mut self, request: &HttpRequest) -> Result<u16, TransportError> {
        self.connect().await?;
        let result = self.write_and_read(request).await;
        if result.is_err() {
            self.close();
        }
        result
    }

    async fn write_and_read(&mut self, request: &HttpRequest) -> Result<u16, TransportError> {
        let stream = self.stream.as_mut().expect("connected");
        stream.write_all(&request.wire()).await.map_err(io_error)?;
        let head_request = request.is_head();
        loop {
            let (status, head_len, framing, close) = loop {
                if let Some(head) = self.parse_head(head_request)? {
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
    ) -> Result<Option<(u16, usize, Framing, bool)>, TransportError> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let parsed = response
            .parse(&self.buffer[self.start..self.end])
            .map_err(|e| TransportError::Io(format!("the answer is not HTTP/1.x: {e}")))?;
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
                    .ok_or_else(|| {
                        TransportError::Io("a Content-Length that is not a number".into())
                    })?;
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
    async fn fill(&mut self) -> Result<(), TransportError> {
        if self.fill_or_eof().await? {
            Ok(())
        } else {
            Err(TransportError::Io(
                "the server closed the connection mid-answer".into(),
            ))
        }
    }

    /// Reads more of the answer; `false` at the end of the stream.
    async fn fill_or_eof(&mut self) -> Result<bool, TransportError> {
        if self.start > 0 && (self.start == self.end || self.end == self.buffer.len()) {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buffer.len() {
            return Err(TransportError::Io(format!(
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
    async fn skip(&mut self, mut n: u64) -> Result<(), TransportError> {
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
    async fn skip_chunked(&mut self) -> Result<(), TransportError> {
        loop {
            let size = loop {
                match httparse::parse_chunk_size(&self.buffer[self.start..self.end]) {
                    Ok(httparse::Status::Complete((len, size))) => {
                        self.start += len;
                        break size;
                    }
                    Ok(httparse::Status::Partial) => self.fill().await?,
                    Err(_) => return Err(TransportError::Io("a malformed chunk size".into())),
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

fn io_error(error: io::Error) -> TransportError {
    TransportError::Io(error.to_string())
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
        let request = HttpRequest::get(&format!("http://{addr}/healthz")).unwrap();
        let mut connection = RawConnection::new(addr);
        for status in [200, 201, 204, 503] {
            assert_eq!(connection.exchange(&request).await.unwrap(), status);
        }
        assert!(connection.stream.is_none(), "Connection: close was obeyed");
    }

    #[tokio::test]
    async fn a_head_answer_has_no_body_whatever_it_says() {
        let addr = serve(vec![
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        ])
        .await;
        let url = format!("http://{addr}/");
        let request = HttpRequest::new("HEAD", &url, &[], bytes::Bytes::new()).unwrap();
        let mut connection = RawConnection::new(addr);
        for _ in 0..2 {
            assert_eq!(connection.exchange(&request).await.unwrap(), 200);
        }
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_connect_error() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let request = HttpRequest::get(&format!("http://{addr}/")).unwrap();
        let error = RawConnection::new(addr)
            .exchange(&request)
            .await
            .unwrap_err();
        assert!(matches!(error, TransportError::Connect(_)), "{error}");
    }
}
