//! The accept loop every otpbench server shares: HTTP/1.1 connections
//! served by hyper until the shutdown future completes, then a graceful
//! drain. The engine server and the mock provider differ only in the
//! service they build per connection. Every connection closes lingering
//! (`linger`), so a client still sending reads the answer.
//!
//! A client that half-closes after its request (`shutdown(SHUT_WR)`, as
//! `nc -N` and some proxies do) is answered: hyper's half-close support
//! is on. And every request's handler runs to its end ([`ToTheEnd`]):
//! one that does not finish in its first poll goes on on a task of its
//! own, so a connection that goes away mid-request cannot cut a store
//! call short after it was sent, and an answer that finds nobody to take
//! it is logged (warn, target `otpbench::access`) — a send never takes
//! effect unnoticed.

use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};

use crate::http::linger::Lingering;

/// How long shutdown waits for in-flight requests.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for a request head on a connection (slow-loris guard).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves every connection `listener` accepts with the service
/// `for_connection` builds for it (it may also swap the stream, or refuse
/// the connection with `None`), until `shutdown` completes. Then the
/// listener closes, `on_stop` runs (to end long-polls and the like), and
/// in-flight requests get up to [`DRAIN_TIMEOUT`] to finish.
pub(crate) async fn serve<S, E>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    mut for_connection: impl FnMut(TcpStream) -> Option<(TcpStream, S)>,
    on_stop: impl FnOnce(),
) where
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = E> + Send + 'static,
    S::Future: Send + 'static,
    E: Into<Box<dyn std::error::Error + Send + Sync>> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .half_close(true);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    // Out of descriptors, or a connection reset before
                    // accept: back off briefly instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let Some((stream, service)) = for_connection(stream) else { continue };
                let stream = TokioIo::new(Lingering::new(stream));
                let service = ToTheEnd(service);
                let connection = graceful.watch(http.serve_connection(stream, service));
                tokio::spawn(async move {
                    let _ = connection.await;
                });
            }
            _ = &mut shutdown => break,
        }
    }
    drop(listener);
    on_stop();
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown()).await;
}

/// A service whose every call runs to its end, whether or not the
/// connection is still there to take the answer: a call that is not done
/// in its first poll (which runs in the connection's task, so the usual
/// request costs no task of its own) goes on on a task of its own.
struct ToTheEnd<S>(S);

impl<S, B, E> Service<Request<B>> for ToTheEnd<S>
where
    S: Service<Request<B>, Response = Response<Full<Bytes>>, Error = E>,
    S::Future: Send + 'static,
    E: Send + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = E;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, E>> + Send>>;

    fn call(&self, request: Request<B>) -> Self::Future {
        let method = request.method().clone();
        // The path is kept as the `Uri` (a shared buffer, no copy): it is
        // written only in the rare warning below.
        let uri = request.uri().clone();
        let mut work = Box::pin(self.0.call(request));
        Box::pin(async move {
            // Most handlers finish in their first poll (memory store,
            // in-process journal, a body that came with its head): then
            // there is nothing a departing client could cut short, and no
            // task is spawned. A panic there is answered as one on a task
            // would be.
            let first = poll_fn(|cx| {
                Poll::Ready(catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx))))
            })
            .await;
            match first {
                Ok(Poll::Ready(result)) => return result,
                Ok(Poll::Pending) => {}
                Err(_) => return Ok(handler_failed()),
            }
            // Not done: the rest runs on a task of its own, to its end.
            let (answer, answered) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                let result = work.await;
                if let Err(Ok(response)) = answer.send(result) {
                    tracing::warn!(
                        target: "otpbench::access",
                        %method,
                        path = uri.path(),
                        status = response.status().as_u16(),
                        "answered after the client went away: whatever the request did stands, unseen by it"
                    );
                }
            });
            match answered.await {
                Ok(result) => result,
                // The handler panicked: a bug, answered as one.
                Err(_) => Ok(handler_failed()),
            }
        })
    }
}

/// The answer to a handler that panicked.
fn handler_failed() -> Response<Full<Bytes>> {
    crate::http::json::response(
        hyper::StatusCode::INTERNAL_SERVER_ERROR,
        "application/json",
        &serde_json::json!({
            "error": "internal_error",
            "message": "the handler failed; nothing is known of what it did",
        }),
    )
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use hyper::service::service_fn;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Serves `handler` on a loopback port until the test ends.
    async fn start<F, Fut>(handler: F) -> std::net::SocketAddr
    where
        F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let for_connection = move |stream| {
            let handler = handler.clone();
            let service = service_fn(move |request| {
                let answer = handler(request);
                async move { Ok::<_, Infallible>(answer.await) }
            });
            Some((stream, service))
        };
        tokio::spawn(serve(
            listener,
            std::future::pending(),
            for_connection,
            || {},
        ));
        addr
    }

    async fn exchange(addr: std::net::SocketAddr) -> String {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
    }

    #[tokio::test]
    async fn a_handler_that_panics_in_its_first_poll_is_a_500() {
        let addr = start(|request: Request<Incoming>| async move {
            if request.uri().path() == "/" {
                panic!("a bug in the first poll");
            }
            Response::new(Full::new(Bytes::new()))
        })
        .await;
        let answer = exchange(addr).await;
        assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
        assert!(answer.contains("the handler failed"), "{answer}");
    }

    #[tokio::test]
    async fn a_handler_that_panics_after_waiting_is_a_500() {
        let addr = start(|_| async {
            tokio::task::yield_now().await;
            panic!("a bug after the first poll");
        })
        .await;
        let answer = exchange(addr).await;
        assert!(answer.starts_with("HTTP/1.1 500"), "{answer}");
    }

    /// The inline first poll must not make a waiting handler cancellable:
    /// the answer's future dropped (its connection gone) mid-wait, the
    /// handler still runs to its end.
    #[tokio::test]
    async fn a_waiting_handler_runs_to_its_end_when_its_answer_is_dropped() {
        let finished = Arc::new(AtomicBool::new(false));
        let service = {
            let finished = finished.clone();
            ToTheEnd(service_fn(move |_: Request<Full<Bytes>>| {
                let finished = finished.clone();
                async move {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    finished.store(true, Ordering::SeqCst);
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                }
            }))
        };
        let mut answer = service.call(Request::new(Full::new(Bytes::new())));
        let waited = tokio::time::timeout(Duration::from_millis(5), &mut answer).await;
        assert!(
            waited.is_err(),
            "the handler answered before it was dropped"
        );
        drop(answer);
        for _ in 0..100 {
            if finished.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the handler was cut short when its answer was dropped");
    }
}
