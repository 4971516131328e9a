//! The one seam between otpbench and a target: an [`Executor`] sends an
//! [`HttpRequest`] and gives back its answer or one [`TransportError`],
//! within its own timeout. Callers never wrap it in another.
//!
//! Behind it, two paths:
//! - **pooled** — hyper's client ([`super::http`]): keep-alive pooling,
//!   `https://` through rustls, whole answers (status, headers, body).
//!   The scenario runner, the model checker and the OTP load flow reach
//!   targets this way, through [`crate::client::Target`].
//! - **raw** — plain `http://` over one connection per [`Lane`]
//!   ([`super::raw`]): request bytes built once with the request, one
//!   reused answer buffer, the status read and the rest skipped; no
//!   allocation per request. `otpbench load --url` and the
//!   `--reference-url` workload go this way, comparable with wrk.
//!
//! It knows nothing of dialects, scenarios or load models.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::{HeaderMap, Uri};

use super::exchange::{Exchange, HttpOptions, TransportError};
use super::http::Pooled;
use super::raw::RawConnection;
use super::request::HttpRequest;

/// Sends requests to a target, each within the timeout it was made with.
/// Cheap to clone (a clone shares the pool).
#[derive(Clone)]
pub(crate) struct Executor {
    timeout: Duration,
    path: Path,
}

#[derive(Clone)]
enum Path {
    Pooled {
        pool: Pooled,
        /// To build another pool like it ([`Executor::for_worker`]).
        options: HttpOptions,
    },
    /// Where every request goes; each lane holds its own connection.
    Raw(SocketAddr),
}

impl Executor {
    /// Hyper's pool with these options.
    pub(crate) fn pooled(options: HttpOptions) -> Result<Executor, String> {
        Ok(Executor {
            timeout: options.timeout,
            path: Path::Pooled {
                pool: Pooled::new(options)?,
                options,
            },
        })
    }

    /// The raw path to `uri`'s host (resolved once, now). Only `http://`:
    /// the raw path has no TLS.
    pub(crate) async fn raw(uri: &Uri, timeout: Duration) -> Result<Executor, String> {
        if uri.scheme_str() != Some("http") {
            return Err(format!("{uri}: the raw path takes http:// URLs only"));
        }
        let authority = uri.authority().ok_or_else(|| format!("{uri}: no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let addr = tokio::net::lookup_host((authority.host(), port))
            .await
            .map_err(|e| format!("cannot resolve {}: {e}", authority.host()))?
            .next()
            .ok_or_else(|| format!("{} resolves to no address", authority.host()))?;
        Ok(Executor {
            timeout,
            path: Path::Raw(addr),
        })
    }

    /// The same executor for a load worker's own runtime: a pool of its
    /// own (its connections and their tasks stay on that runtime), or the
    /// same address for the raw path.
    pub(crate) fn for_worker(&self) -> Result<Executor, String> {
        match &self.path {
            Path::Pooled { options, .. } => Executor::pooled(*options),
            Path::Raw(_) => Ok(self.clone()),
        }
    }

    /// The longest wait for one exchange.
    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends `request` and reads the whole answer, within the timeout.
    pub(crate) async fn execute(&self, request: &HttpRequest) -> Result<Exchange, TransportError> {
        self.execute_within(request, self.timeout).await
    }

    /// The same with another timeout (a long-poll's wait plus the usual).
    /// The raw path uses a connection of its own for it.
    pub(crate) async fn execute_within(
        &self,
        request: &HttpRequest,
        timeout: Duration,
    ) -> Result<Exchange, TransportError> {
        let started = Instant::now();
        let exchange = async {
            match &self.path {
                Path::Pooled { pool, .. } => pool.execute(request.to_hyper(), started).await,
                Path::Raw(addr) => {
                    let mut connection = RawConnection::new(*addr);
                    let status = connection.exchange(request).await?;
                    Ok(Exchange {
                        status,
                        headers: HeaderMap::new(),
                        body: Bytes::new(),
                        elapsed: started.elapsed(),
                    })
                }
            }
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::Timeout(timeout)),
        }
    }

    /// What one request at a time needs: on the raw path a connection (not
    /// opened yet, see [`Lane::connect`]); nothing on the pooled one.
    pub(crate) fn lane(&self) -> Lane {
        Lane {
            connection: match &self.path {
                Path::Raw(addr) => Some(RawConnection::new(*addr)),
                Path::Pooled { .. } => None,
            },
        }
    }

    /// Sends `request` on `lane` and gives the answer's status, within the
    /// timeout — the load generator's call. On the raw path nothing is
    /// allocated; a timeout drops the lane's connection (its answer may
    /// still come) and the next request opens another.
    pub(crate) async fn status(
        &self,
        lane: &mut Lane,
        request: &HttpRequest,
    ) -> Result<u16, TransportError> {
        match &mut lane.connection {
            Some(connection) => {
                match tokio::time::timeout(self.timeout, connection.exchange(request)).await {
                    Ok(result) => result,
                    Err(_) => {
                        connection.close();
                        Err(TransportError::Timeout(self.timeout))
                    }
                }
            }
            None => self.execute(request).await.map(|exchange| exchange.status),
        }
    }
}

/// One request at a time's share of an executor: the raw path's
/// keep-alive connection and its answer buffer.
pub(crate) struct Lane {
    connection: Option<RawConnection>,
}

impl Lane {
    /// Opens the lane's connection now (so a run's first requests do not
    /// pay for it); nothing to do on the pooled path or when it is open.
    pub(crate) async fn connect(&mut self) -> Result<(), TransportError> {
        match &mut self.connection {
            Some(connection) => connection.connect().await,
            None => Ok(()),
        }
    }

    /// Drops the lane's connection (a request cut short); the next request
    /// opens another.
    pub(crate) fn close(&mut self) {
        if let Some(connection) = &mut self.connection {
            connection.close();
        }
    }
}

/// Whether anything answers `request`: its status (any status will do),
/// or why not. The one probe of a target, its provider and `--url`.
pub(crate) async fn probe(
    executor: &Executor,
    request: &HttpRequest,
) -> Result<u16, TransportError> {
    executor.status(&mut executor.lane(), request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// The system allocator, counting the allocations a thread makes while
    /// it asks to be counted (this crate's unit tests only).
    struct Counting;

    thread_local! {
        static COUNTED: Cell<Option<u64>> = const { Cell::new(None) };
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let _ = COUNTED.try_with(|c| c.set(c.get().map(|n| n + 1)));
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let _ = COUNTED.try_with(|c| c.set(c.get().map(|n| n + 1)));
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    /// A blocking loopback server on a thread of its own (its allocations
    /// are not the test thread's) answering every request `200` with a
    /// small body, keep-alive.
    fn serve_blocking() -> SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 4096];
                    let mut seen = Vec::new();
                    loop {
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            seen.drain(..end + 4);
                            let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                            if stream.write_all(answer).is_err() {
                                return;
                            }
                        }
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buffer[..n]),
                        }
                    }
                });
            }
        });
        addr
    }

    /// Regression guard for the raw path's promise (what keeps `--url`
    /// level with wrk): once a lane is connected, a request through the
    /// executor — its timeout included — allocates nothing.
    #[tokio::test]
    async fn the_raw_path_allocates_nothing_per_request() {
        let addr = serve_blocking();
        let request = HttpRequest::get(&format!("http://{addr}/healthz")).unwrap();
        let executor = Executor::raw(request.uri(), Duration::from_secs(10))
            .await
            .unwrap();
        let mut lane = executor.lane();
        lane.connect().await.unwrap();
        for _ in 0..100 {
            assert_eq!(executor.status(&mut lane, &request).await, Ok(200));
        }
        COUNTED.with(|c| c.set(Some(0)));
        for _ in 0..1_000 {
            assert_eq!(executor.status(&mut lane, &request).await, Ok(200));
        }
        let allocations = COUNTED.with(|c| c.replace(None)).unwrap();
        assert_eq!(allocations, 0, "allocations in 1,000 raw requests");
        // The counter counts: a pooled request allocates.
        let pooled = Executor::pooled(HttpOptions::default()).unwrap();
        COUNTED.with(|c| c.set(Some(0)));
        assert_eq!(pooled.status(&mut pooled.lane(), &request).await, Ok(200));
        let allocations = COUNTED.with(|c| c.replace(None)).unwrap();
        assert!(allocations > 0, "{allocations}");
    }

    /// A server that answers every request on each connection with
    /// `answer`, after `delay`.
    async fn serve(answer: &'static [u8], delay: Duration) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(async move {
                    let mut buffer = vec![0u8; 4096];
                    loop {
                        let mut seen = Vec::new();
                        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buffer).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => seen.extend_from_slice(&buffer[..n]),
                            }
                        }
                        tokio::time::sleep(delay).await;
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-A: 1\r\n\r\nhi";

    #[tokio::test]
    async fn both_paths_answer_the_same_request() {
        let addr = serve(OK, Duration::ZERO).await;
        let url = format!("http://{addr}/healthz");
        let request = HttpRequest::get(&url).unwrap();
        let timeout = Duration::from_secs(5);
        let raw = Executor::raw(request.uri(), timeout).await.unwrap();
        let pooled = Executor::pooled(HttpOptions {
            timeout,
            ..HttpOptions::default()
        })
        .unwrap();
        let whole = pooled.execute(&request).await.unwrap();
        assert_eq!((whole.status, &whole.body[..]), (200, &b"hi"[..]));
        assert_eq!(whole.headers["x-a"], "1");
        let head = raw.execute(&request).await.unwrap();
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty() && head.headers.is_empty());
        for executor in [&raw, &pooled] {
            let mut lane = executor.lane();
            lane.connect().await.unwrap();
            for _ in 0..3 {
                assert_eq!(executor.status(&mut lane, &request).await, Ok(200));
            }
            assert_eq!(probe(executor, &request).await, Ok(200));
        }
    }

    #[tokio::test]
    async fn the_executor_applies_its_own_timeout_on_both_paths() {
        let addr = serve(OK, Duration::from_secs(30)).await;
        let request = HttpRequest::get(&format!("http://{addr}/")).unwrap();
        let timeout = Duration::from_millis(100);
        let raw = Executor::raw(request.uri(), timeout).await.unwrap();
        let pooled = Executor::pooled(HttpOptions {
            timeout,
            ..HttpOptions::default()
        })
        .unwrap();
        for executor in [&raw, &pooled] {
            let started = Instant::now();
            let mut lane = executor.lane();
            let error = executor.status(&mut lane, &request).await.unwrap_err();
            assert_eq!(error, TransportError::Timeout(timeout));
            assert!(started.elapsed() < Duration::from_secs(5));
            let error = executor.execute(&request).await.unwrap_err();
            assert_eq!(error, TransportError::Timeout(timeout));
        }
    }

    #[tokio::test]
    async fn nobody_listening_is_a_connect_error_on_both_paths() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let request = HttpRequest::get(&format!("http://{addr}/")).unwrap();
        let timeout = Duration::from_secs(5);
        let raw = Executor::raw(request.uri(), timeout).await.unwrap();
        let pooled = Executor::pooled(HttpOptions::default()).unwrap();
        for executor in [&raw, &pooled] {
            let error = probe(executor, &request).await.unwrap_err();
            assert!(matches!(error, TransportError::Connect(_)), "{error}");
            assert!(error.to_string().starts_with("cannot connect: "), "{error}");
        }
        let https = HttpRequest::get("https://127.0.0.1/").unwrap();
        let error = Executor::raw(https.uri(), timeout).await.err().unwrap();
        assert!(error.contains("http:// URLs only"), "{error}");
    }
}
