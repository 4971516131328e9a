//! The reference engine behind every dialect, on one listener.
//!
//! [`run`] takes a bound listener, a [`ServerConfig`] and a shutdown future:
//! the caller owns the socket (tests bind `127.0.0.1:0`) and decides when to
//! stop. On shutdown the listener closes at once, in-flight requests finish
//! (up to [`DRAIN_TIMEOUT`]), idle keep-alive connections are closed and
//! journal long-polls return early.
//!
//! Routing: `/healthz`, `/metrics` and `/openapi/<dialect>.json` (each
//! dialect's OpenAPI document, [`openapi`]) always; `/_admin/*` only in test
//! mode; every dialect path; a LoyaltyDog path with a trailing slash 307
//! to the path without it (FastAPI's `redirect_slashes`); anything else
//! 404 in the shape of the dialect whose prefix it has. Dialect paths take
//! only `POST` (405 otherwise) and bodies up to 64 KiB (413 beyond,
//! decided from `Content-Length` before reading when it is given).

mod admin;
mod metrics;
pub mod openapi;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::delivery::http::{HttpDelivery, RetryPolicy};
use crate::delivery::journal::{self, Journal};
use crate::delivery::Delivery;
use crate::dialect::{self, Dialect, DialectState, Operation, Rejection, Reply, ServeContext};
use crate::engine::clock::ShiftedClock;
use crate::engine::code::CodeHasher;
use crate::engine::identifier::PossibleLengths;
use crate::engine::outcome::OutcomeKind;
use crate::engine::Engine;
use crate::http::body::{self, BodyError};
use crate::http::json;
use crate::server::metrics::Metrics;
use crate::store::memory::MemoryStore;
use crate::store::redis::{RedisClock, RedisOptions, RedisStore};
use crate::store::Store;

pub use crate::http::{DEFAULT_BODY_TIMEOUT, DRAIN_TIMEOUT, MAX_BODY_BYTES};
/// How often expired state is purged.
const PURGE_EVERY: Duration = Duration::from_secs(1);

/// Which store the engine keeps its state in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum StoreSpec {
    /// In this process (the default).
    #[default]
    Memory,
    /// A Redis shared by any number of engines.
    Redis(RedisOptions),
}

/// What `serve` needs besides its listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Credentials and policies (the config file).
    pub config: Config,
    /// Where state lives.
    pub store: StoreSpec,
    /// Deliver over HTTP to this provider (`http://host:port`) instead of
    /// the in-process journal.
    pub provider: Option<String>,
    /// How hard to try each channel when delivering over HTTP.
    pub retry: RetryPolicy,
    /// Serve `/_admin/*` and give the store a clock that can be moved
    /// (with Redis: one kept in Redis, shared by every replica).
    pub test_mode: bool,
    /// Put codes into responses (native `code`).
    pub echo_codes: bool,
    /// Longest wait for a whole request body after its head; a body not
    /// all there by then is answered 408 and its connection closed.
    pub body_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            config: Config::default(),
            store: StoreSpec::default(),
            provider: None,
            retry: RetryPolicy::default(),
            test_mode: false,
            echo_codes: false,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }
}

/// A server failure that stops `run`.
#[derive(Debug)]
pub enum ServerError {
    /// The listener's address could not be read.
    Listener(std::io::Error),
    /// The store cannot be used as configured (not: is down right now).
    Store(String),
    /// The provider URL cannot be used.
    Provider(String),
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServerError::Listener(e) => write!(f, "listener failed: {e}"),
            ServerError::Store(why) => write!(f, "store: {why}"),
            ServerError::Provider(why) => write!(f, "provider: {why}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// A future that completes when a server is to stop.
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What serving through an [`Assembly`] returns.
pub type Serving = Pin<Box<dyn Future<Output = Result<(), ServerError>> + Send>>;

/// Another way to serve an embedded engine than [`run`]: a caller that
/// puts something around the reference engine (a wrapped store from
/// [`open_store`] passed to [`run_with_store`], a layer in front of the
/// listener) says so here, and the embedded target
/// ([`crate::client::Embedded`]) calls it instead of [`run`]. The server
/// knows nothing of what an assembly does.
pub trait Assembly: std::fmt::Debug + Send + Sync + 'static {
    /// Serves on `listener` with `config` until `shutdown` completes.
    fn serve(&self, listener: TcpListener, config: ServerConfig, shutdown: Shutdown) -> Serving;
}

/// Everything a request handler reads.
pub(crate) struct State {
    engine: Engine,
    config: ServerConfig,
    /// REES46 customers, LoyaltyDog token keys.
    dialects: DialectState,
    journal: Arc<Journal>,
    metrics: Metrics,
    /// Flips to true at shutdown, so long-polls return early.
    stopping: watch::Receiver<bool>,
}

/// Serves every dialect on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let store = open_store(&config)?;
    run_with_store(listener, config, store, shutdown).await
}

/// The store [`run`] keeps its state in: the one `config.store` names,
/// with a clock `/_admin/clock` can move in test mode. One time source
/// per deployment: the store's (see `crate::store`).
pub fn open_store(config: &ServerConfig) -> Result<Arc<dyn Store>, ServerError> {
    Ok(match &config.store {
        StoreSpec::Memory if config.test_mode => {
            Arc::new(MemoryStore::with_clock(Arc::new(ShiftedClock::new())))
        }
        StoreSpec::Memory => Arc::new(MemoryStore::new()),
        StoreSpec::Redis(options) => {
            let options = RedisOptions {
                clock: match config.test_mode {
                    true => RedisClock::Shifted,
                    false => RedisClock::Server,
                },
                ..options.clone()
            };
            Arc::new(RedisStore::open(&options).map_err(ServerError::Store)?)
        }
    })
}

/// [`run`] over a store the caller built (from [`open_store`], possibly
/// wrapped); `config.store` is not read again.
pub async fn run_with_store(
    listener: TcpListener,
    config: ServerConfig,
    store: Arc<dyn Store>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    listener.local_addr().map_err(ServerError::Listener)?;
    // Pay the phone metadata load (~130 ms) now, not in the first request.
    PossibleLengths::get();
    let delivery: Option<Arc<dyn Delivery>> = match &config.provider {
        None => None,
        Some(url) => Some(Arc::new(
            HttpDelivery::new(url, config.retry).map_err(ServerError::Provider)?,
        )),
    };
    let (stop, stopping) = watch::channel(false);
    let state = Arc::new(State::new(config, store, delivery, stopping));
    let sweeper = tokio::spawn(sweep(state.clone()));

    let for_connection = |stream| {
        let state = state.clone();
        let service = service_fn(move |request| {
            let state = state.clone();
            async move { Ok::<_, Infallible>(respond(&state, request).await) }
        });
        Some((stream, service))
    };
    let on_stop = || {
        let _ = stop.send(true);
        sweeper.abort();
    };
    crate::http::accept::serve(listener, shutdown, for_connection, on_stop).await;
    Ok(())
}

/// Serves one HTTP/1.1 byte stream (keep-alive: any number of requests)
/// with the engine's service, as a TCP connection to [`run`] would be
/// served, until the peer closes it. No listener and no socket: for
/// benchmarks of a whole request, bytes in to bytes out
/// (`benches/requests.rs`).
pub async fn serve_stream<I>(config: ServerConfig, store: Arc<dyn Store>, stream: I)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    PossibleLengths::get();
    let (_stop, stopping) = watch::channel(false);
    let state = Arc::new(State::new(config, store, None, stopping));
    let service = service_fn(move |request| {
        let state = state.clone();
        async move { Ok::<_, Infallible>(respond(&state, request).await) }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

impl State {
    fn new(
        config: ServerConfig,
        store: Arc<dyn Store>,
        delivery: Option<Arc<dyn Delivery>>,
        stopping: watch::Receiver<bool>,
    ) -> State {
        let journal = Arc::new(Journal::new(journal::DEFAULT_CAPACITY, store.clock()));
        let hasher = match &config.config.secret {
            Some(secret) => CodeHasher::new(secret),
            None => CodeHasher::random(),
        };
        let delivery = delivery.unwrap_or_else(|| journal.clone());
        let engine = Engine::new(store, delivery, hasher);
        State {
            engine,
            dialects: DialectState::new(&config.config),
            config,
            journal,
            metrics: Metrics::default(),
            stopping,
        }
    }
}

async fn sweep(state: Arc<State>) {
    let mut every = tokio::time::interval(PURGE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let _ = state.engine.purge().await;
    }
}

/// What a dialect request was, for the access log.
struct Served {
    dialect: Dialect,
    operation: Operation,
    outcome: OutcomeKind,
}

/// Answers one request and writes its access line (debug, target
/// `otpbench::access`): method, path, dialect, operation, outcome, status
/// and duration — never a header, a body or a query (codes, tokens and
/// credentials travel there).
async fn respond(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let started = Instant::now();
    if !tracing::enabled!(target: "otpbench::access", tracing::Level::DEBUG) {
        return answer(state, request, started).await.0;
    }
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let (response, served) = answer(state, request, started).await;
    let (dialect, operation, outcome) = match &served {
        Some(served) => (
            served.dialect.name(),
            served.operation.name(),
            served.outcome.name(),
        ),
        None => ("-", "-", "-"),
    };
    tracing::debug!(
        target: "otpbench::access",
        %method,
        path,
        dialect,
        operation,
        outcome,
        status = response.status().as_u16(),
        duration_us = started.elapsed().as_micros() as u64,
        "request"
    );
    response
}

/// [`handle`], closing the connection after an answer given without
/// reading the whole body the request declared (RFC 9112 §9.6): a body
/// refused (too large, too slow, unreadable) or not wanted (a 405, a 404,
/// credentials refused from the headers). Hyper would close it anyway
/// when the rest of the body is not in its buffer yet, but without saying
/// so, and a client that reuses the connection in that moment loses its
/// next request. The rest of the body is drained for a while, not read
/// (`http::linger`).
async fn answer(
    state: &State,
    request: Request<Incoming>,
    started: Instant,
) -> (Response<Full<Bytes>>, Option<Served>) {
    let carries_body = !hyper::body::Body::is_end_stream(request.body());
    let mut body_read = false;
    let (mut response, served) = handle(state, request, started, &mut body_read).await;
    if carries_body && !body_read {
        response
            .headers_mut()
            .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    }
    (response, served)
}

/// Answers one request; `body_read` is set once its body was read whole.
async fn handle(
    state: &State,
    request: Request<Incoming>,
    started: Instant,
    body_read: &mut bool,
) -> (Response<Full<Bytes>>, Option<Served>) {
    let path = request.uri().path();
    match path {
        "/healthz" => return (health(state, request.method()).await, None),
        "/metrics" => return (metrics(state, request.method()), None),
        _ => {}
    }
    if let Some(name) = path.strip_prefix(openapi::PREFIX) {
        return (openapi::respond(request.method(), name), None);
    }
    if path.starts_with("/_admin/") {
        if !state.config.test_mode {
            return (
                Dialect::Native.reject(Rejection::NotFound).into_response(),
                None,
            );
        }
        let (parts, body) = request.into_parts();
        let response = match read_body(state, &parts.headers, body).await {
            Ok(body) => {
                *body_read = true;
                admin::handle(
                    state,
                    &parts.method,
                    parts.uri.path(),
                    parts.uri.query(),
                    &body,
                )
                .await
            }
            Err(rejection) => Dialect::Native.reject(rejection).into_response(),
        };
        return (response, None);
    }
    let Some((dialect, operation)) = Dialect::route(path) else {
        if let Some((dialect, bare)) = Dialect::slash_redirect(path) {
            let reply = slash_redirect(&request, bare);
            return finish(state, dialect, Operation::Other, started, reply);
        }
        let dialect = Dialect::owner_of(path);
        return finish(
            state,
            dialect,
            Operation::Other,
            started,
            dialect.reject(Rejection::NotFound),
        );
    };
    if request.method() != Method::POST {
        let reply = dialect.reject(Rejection::MethodNotAllowed("POST"));
        return finish(state, dialect, operation, started, reply);
    }
    let context = ServeContext {
        engine: &state.engine,
        config: &state.config.config,
        echo_codes: state.config.echo_codes,
        test_mode: state.config.test_mode,
        state: &state.dialects,
    };
    // Credentials in headers are checked before the body is read, so a
    // client without them cannot make the server hold a body.
    if let Some(refused) = dialect.admit_headers(&context, operation, request.headers()) {
        return finish(state, dialect, operation, started, refused);
    }
    let (parts, body) = request.into_parts();
    let body = match read_body(state, &parts.headers, body).await {
        Ok(body) => {
            *body_read = true;
            body
        }
        Err(rejection) => {
            let reply = dialect.reject(rejection);
            return finish(state, dialect, operation, started, reply);
        }
    };
    let request = dialect::Request {
        operation,
        headers: &parts.headers,
        body: &body,
    };
    let reply = dialect.serve_admitted(&context, request).await;
    finish(state, dialect, operation, started, reply)
}

fn finish(
    state: &State,
    dialect: Dialect,
    operation: Operation,
    started: Instant,
    reply: Reply,
) -> (Response<Full<Bytes>>, Option<Served>) {
    state
        .metrics
        .record(dialect, operation, reply.outcome, started.elapsed());
    let served = Served {
        dialect,
        operation,
        outcome: reply.outcome,
    };
    (reply.into_response(), Some(served))
}

/// FastAPI's answer to a known path with a trailing slash: 307 (the
/// method and body are kept by the client) to the same URL without the
/// slash, absolute when the request named its host, as Starlette builds it.
fn slash_redirect(request: &Request<Incoming>, bare: &str) -> Reply {
    let query = request
        .uri()
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let host = request
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok());
    let location = match host {
        Some(host) => format!("http://{host}{bare}{query}"),
        None => format!("{bare}{query}"),
    };
    let mut headers = hyper::HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(hyper::header::LOCATION, value);
    }
    headers.insert(hyper::header::CONTENT_LENGTH, HeaderValue::from(0));
    Reply {
        status: StatusCode::TEMPORARY_REDIRECT,
        headers,
        body: Bytes::new(),
        outcome: OutcomeKind::NotFound,
    }
}

/// Reads the whole body within the size and time limits, or says how the
/// request is refused.
async fn read_body(
    state: &State,
    headers: &hyper::HeaderMap,
    body: Incoming,
) -> Result<Bytes, Rejection> {
    body::read(headers, body, state.config.body_timeout)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => Rejection::PayloadTooLarge,
            BodyError::TimedOut => Rejection::RequestTimeout,
            BodyError::Unreadable => Rejection::UnreadableBody,
        })
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    store: String,
}

async fn health(state: &State, method: &Method) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        return Dialect::Native
            .reject(Rejection::MethodNotAllowed("GET, HEAD"))
            .into_response();
    }
    let (status, health) = match state.engine.health().await {
        Ok(()) => (
            StatusCode::OK,
            Health {
                status: "ok",
                store: "ok".into(),
            },
        ),
        Err(error) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Health {
                status: "degraded",
                store: error.to_string(),
            },
        ),
    };
    json::response(status, "application/json", &health)
}

fn metrics(state: &State, method: &Method) -> Response<Full<Bytes>> {
    if method != Method::GET {
        return Dialect::Native
            .reject(Rejection::MethodNotAllowed("GET"))
            .into_response();
    }
    let mut response = Response::new(Full::new(Bytes::from(state.metrics.render())));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
