//! Layers in front of an engine: a small HTTP proxy that owns the
//! target's listener and forwards every request to the engine on a
//! loopback port of its own, letting a [`Layer`] rewrite what passes on
//! the dialects' routes — the request before it goes on, the answer
//! before it goes back — or answer a request itself.
//!
//! Requests stream through untouched unless the layer asks to read them
//! ([`Layer::reads`]); answers are read whole (they are small). Paths that
//! are no dialect's route (`/_admin/*`, `/healthz`) pass untouched. This
//! module knows no defect: the layers themselves live in `rewrites` and
//! `raw_limits`; it must not reach into the engine.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::client::MAX_RESPONSE_BYTES;
use crate::dialect::{Dialect, Operation, Rejection, WireResponse};
use crate::engine::outcome::Observed;
use crate::http::body::{self, BodyError};
use crate::server::{self, ServerConfig, ServerError, Shutdown};
use crate::store::Store;

/// A dialect route: who speaks there, and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Route {
    pub dialect: Dialect,
    pub operation: Operation,
}

/// A request on its way to the engine.
pub(crate) struct Forward {
    pub head: hyper::http::request::Parts,
    body: Passing,
}

/// A request body: streaming through, or read whole by the proxy.
enum Passing {
    Streaming(Incoming),
    Read(Bytes),
}

impl Forward {
    /// The body, when the proxy read it.
    pub fn body(&self) -> Option<&Bytes> {
        match &self.body {
            Passing::Read(bytes) => Some(bytes),
            Passing::Streaming(_) => None,
        }
    }

    /// The body as a JSON object, when it was read and is one.
    pub fn json(&self) -> Option<Map<String, Value>> {
        match serde_json::from_slice(self.body()?) {
            Ok(Value::Object(object)) => Some(object),
            _ => None,
        }
    }

    /// Replaces the body (its length is set when it goes on).
    pub fn set_body(&mut self, body: Bytes) {
        self.body = Passing::Read(body);
    }

    /// Replaces the body with this JSON object.
    pub fn set_json(&mut self, object: Map<String, Value>) {
        self.set_body(Bytes::from(Value::Object(object).to_string()));
    }
}

/// An answer on its way back, read whole.
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// What the dialect's client side reads in this answer.
    pub fn observed(&self, route: Route) -> Observed {
        let response = WireResponse {
            status: self.status.as_u16(),
            headers: &self.headers,
            body: &self.body,
        };
        route.dialect.classify(route.operation, &response)
    }

    /// The body as a JSON object, when it is one.
    pub fn json(&self) -> Option<Map<String, Value>> {
        match serde_json::from_slice(&self.body) {
            Ok(Value::Object(object)) => Some(object),
            _ => None,
        }
    }

    /// Replaces the body with this JSON object.
    pub fn set_json(&mut self, object: Map<String, Value>) {
        self.body = Bytes::from(Value::Object(object).to_string());
    }

    fn into_response(mut self) -> Response<Full<Bytes>> {
        // hyper writes the length of the body as it now is.
        self.headers.remove(CONTENT_LENGTH);
        self.headers.remove(TRANSFER_ENCODING);
        let mut response = Response::new(Full::new(self.body));
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        response
    }
}

/// What stands between a client and the engine on the dialects' routes.
#[async_trait]
pub(crate) trait Layer: Send + Sync + 'static {
    /// Whether requests on `route` are read whole before [`Layer::call`]
    /// (else their bodies stream through and [`Forward::body`] is `None`).
    fn reads(&self, _route: Route) -> bool {
        false
    }

    /// Handles one request on `route`: usually rewrites it, sends it on
    /// with `upstream` and rewrites the answer.
    async fn call(&self, route: Route, request: Forward, upstream: &Upstream) -> Answer;
}

/// The engine behind the proxy.
pub(crate) struct Upstream {
    client: Client<HttpConnector, Either<Incoming, Full<Bytes>>>,
    addr: SocketAddr,
}

impl Upstream {
    /// Sends `request` to the engine and reads its answer (a 502 when
    /// the engine cannot be reached: the proxy's own failure, never a
    /// defect it stands for).
    pub async fn send(&self, request: Forward) -> Answer {
        let Forward { mut head, body } = request;
        let path = head
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let uri = format!("http://{}{path}", self.addr);
        head.uri = match uri.parse() {
            Ok(uri) => uri,
            Err(_) => return bad_gateway("the request's path cannot be forwarded"),
        };
        let body = match body {
            Passing::Streaming(incoming) => Either::Left(incoming),
            Passing::Read(bytes) => {
                head.headers.remove(CONTENT_LENGTH);
                head.headers.remove(TRANSFER_ENCODING);
                Either::Right(Full::new(bytes))
            }
        };
        let response = match self.client.request(Request::from_parts(head, body)).await {
            Ok(response) => response,
            Err(error) => return bad_gateway(&format!("the engine did not answer: {error}")),
        };
        let (parts, body) = response.into_parts();
        match Limited::new(body, MAX_RESPONSE_BYTES).collect().await {
            Ok(collected) => Answer {
                status: parts.status,
                headers: parts.headers,
                body: collected.to_bytes(),
            },
            Err(error) => bad_gateway(&format!("the engine's answer broke off: {error}")),
        }
    }
}

fn bad_gateway(why: &str) -> Answer {
    Answer {
        status: StatusCode::BAD_GATEWAY,
        headers: HeaderMap::new(),
        body: Bytes::from(format!("mutant proxy: {why}")),
    }
}

/// Serves the engine behind `layer`: the engine on a loopback port of its
/// own (over `store`), the proxy on `listener`, until `shutdown`.
pub(crate) async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    store: Arc<dyn Store>,
    layer: Arc<dyn Layer>,
    shutdown: Shutdown,
) -> Result<(), ServerError> {
    let inner = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(ServerError::Listener)?;
    let addr = inner.local_addr().map_err(ServerError::Listener)?;
    let (stop, stopped) = oneshot::channel::<()>();
    let engine = tokio::spawn(server::run_with_store(inner, config, store, async {
        let _ = stopped.await;
    }));
    let upstream = Arc::new(Upstream {
        client: Client::builder(TokioExecutor::new()).build_http(),
        addr,
    });
    let for_connection = |stream| {
        let (layer, upstream) = (layer.clone(), upstream.clone());
        let service = service_fn(move |request| {
            let (layer, upstream) = (layer.clone(), upstream.clone());
            async move { Ok::<_, Infallible>(pass(&*layer, &upstream, request).await) }
        });
        Some((stream, service))
    };
    crate::http::accept::serve(listener, shutdown, for_connection, || {}).await;
    let _ = stop.send(());
    match engine.await {
        Ok(result) => result,
        Err(_) => Ok(()),
    }
}

/// One request through the proxy.
async fn pass(
    layer: &dyn Layer,
    upstream: &Upstream,
    request: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (head, incoming) = request.into_parts();
    let route =
        Dialect::route(head.uri.path()).map(|(dialect, operation)| Route { dialect, operation });
    let Some(route) = route else {
        let forward = Forward {
            head,
            body: Passing::Streaming(incoming),
        };
        return upstream.send(forward).await.into_response();
    };
    let body = if layer.reads(route) {
        match body::read(&head.headers, incoming, server::DEFAULT_BODY_TIMEOUT).await {
            Ok(bytes) => Passing::Read(bytes),
            Err(error) => return refuse_body(route.dialect, error),
        }
    } else {
        Passing::Streaming(incoming)
    };
    layer
        .call(route, Forward { head, body }, upstream)
        .await
        .into_response()
}

/// A body the proxy could not read, answered as the engine would.
fn refuse_body(dialect: Dialect, error: BodyError) -> Response<Full<Bytes>> {
    let rejection = match error {
        BodyError::TooLarge => Rejection::PayloadTooLarge,
        BodyError::TimedOut => Rejection::RequestTimeout,
        BodyError::Unreadable => Rejection::UnreadableBody,
    };
    let mut response = dialect.reject(rejection).into_response();
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}
