//! The accept loop every otpbench server shares: HTTP/1.1 connections
//! served by hyper until the shutdown future completes, then a graceful
//! drain. The engine server and the mock provider differ only in the
//! service they build per connection. Every connection closes lingering
//! (`linger`), so a client still sending reads the answer.
//!
//! A client that half-closes after its request (`shutdown(SHUT_WR)`, as
//! `nc -N` and some proxies do) is answered: hyper's half-close support
//! is on. And every request's handler runs to its end on a task of its
//! own ([`ToTheEnd`]): a connection that goes away mid-request cannot
//! cut a store call short after it was sent, and an answer that finds
//! nobody to take it is logged (warn, target `otpbench::access`) — a
//! send never takes effect unnoticed.

use std::future::Future;
use std::pin::Pin;
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

/// A service whose every call runs on a task of its own, to its end,
/// whether or not the connection is still there to take the answer.
struct ToTheEnd<S>(S);

impl<S, E> Service<Request<Incoming>> for ToTheEnd<S>
where
    S: Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = E>,
    S::Future: Send + 'static,
    E: Send + 'static,
{
    type Response = Response<Full<Bytes>>;
    type Error = E;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, E>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let work = self.0.call(request);
        let (answer, answered) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let result = work.await;
            if let Err(Ok(response)) = answer.send(result) {
                tracing::warn!(
                    target: "otpbench::access",
                    %method,
                    path,
                    status = response.status().as_u16(),
                    "answered after the client went away: whatever the request did stands, unseen by it"
                );
            }
        });
        Box::pin(async move {
            match answered.await {
                Ok(result) => result,
                // The handler panicked: a bug, answered as one.
                Err(_) => Ok(crate::http::json::response(
                    hyper::StatusCode::INTERNAL_SERVER_ERROR,
                    "application/json",
                    &serde_json::json!({
                        "error": "internal_error",
                        "message": "the handler failed; nothing is known of what it did",
                    }),
                )),
            }
        })
    }
}
