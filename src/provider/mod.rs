//! The mock provider: the SMS/e-mail gateway an OTP service delivers
//! through (DESIGN.md §4), recording every message and misbehaving on
//! demand.
//!
//! - `POST /v1/messages` `{"channel", "to", "text", "from"?}` → 202
//!   `{"id", "status": "queued"}`; errors `{"error": "…"}` (400, 415, 404,
//!   405, 413, and 408 for a body not all there within
//!   [`ProviderConfig::body_timeout`]).
//! - `POST /2010-04-01/Accounts/{sid}/Messages.json` — Twilio-compatible
//!   (`twilio.rs`).
//! - `GET|DELETE /_admin/messages` — the journal (its wire view lives
//!   beside it in `delivery::journal`), long-poll with `wait_ms`.
//! - `PUT|DELETE|GET /_admin/faults` — the fault rules ([`faults`]);
//!   `GET /_admin/stats` — requests per channel and per fault.
//! - `GET /healthz`.
//!
//! [`run`] has the shape of every otpbench server: the caller owns the
//! listener and the shutdown future. It is built from `http` (accept loop,
//! body limit, JSON) and `delivery` (messages, the journal) alone, and must
//! not know about the engine, its stores, the dialects or the server.

pub mod faults;
mod twilio;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::delivery::journal::{self, Journal, JournalQuery};
use crate::delivery::{Channel, Message};
use crate::http::body::{self, BodyError};
use crate::http::json::{self as json_http, is_json};
use crate::provider::faults::{FaultSet, Verdict};

/// What `provider` needs besides its listener.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Messages the journal keeps (the newest).
    pub journal_capacity: usize,
    /// Longest wait for a whole request body after its head (408 after).
    pub body_timeout: Duration,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        ProviderConfig {
            journal_capacity: journal::DEFAULT_CAPACITY,
            body_timeout: crate::http::DEFAULT_BODY_TIMEOUT,
        }
    }
}

/// Why a request gets no answer at all.
#[derive(Debug)]
enum NoAnswer {
    /// The connection is to be reset (linger 0 is already set).
    Reset,
    /// A hang ended by shutdown.
    HungUp,
}

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            NoAnswer::Reset => "fault: connection reset",
            NoAnswer::HungUp => "fault: hang ended by shutdown",
        })
    }
}

impl std::error::Error for NoAnswer {}

/// Counters per channel, for `GET /_admin/stats`.
#[derive(Debug, Clone, Default, Serialize)]
struct ChannelStats {
    requests: u64,
    journaled: u64,
    delayed: u64,
    down: u64,
    errors: u64,
    dropped: u64,
    hung: u64,
    reset: u64,
}

struct State {
    journal: Journal,
    body_timeout: Duration,
    faults: RwLock<Arc<FaultSet>>,
    /// A std mutex: increments only, never held across an await.
    stats: Mutex<BTreeMap<Channel, ChannelStats>>,
    stopping: watch::Receiver<bool>,
}

/// Serves the mock provider on `listener` until `shutdown` completes.
pub async fn run(
    listener: TcpListener,
    config: ProviderConfig,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    listener.local_addr()?;
    let (stop, stopping) = watch::channel(false);
    let state = Arc::new(State {
        journal: Journal::on_wall_clock(config.journal_capacity),
        body_timeout: config.body_timeout,
        faults: RwLock::new(Arc::new(FaultSet::default())),
        stats: Mutex::new(BTreeMap::new()),
        stopping,
    });
    let for_connection = |stream: tokio::net::TcpStream| {
        // A second handle on the socket, so a reset fault can set
        // SO_LINGER 0 while hyper owns the stream.
        let socket = stream.into_std().ok()?;
        let twin = Arc::new(socket.try_clone().ok()?);
        let stream = tokio::net::TcpStream::from_std(socket).ok()?;
        let state = state.clone();
        let service = service_fn(move |request| {
            let (state, twin) = (state.clone(), twin.clone());
            async move { respond(&state, &twin, request).await }
        });
        Some((stream, service))
    };
    let on_stop = || {
        let _ = stop.send(true);
    };
    crate::http::accept::serve(listener, shutdown, for_connection, on_stop).await;
    Ok(())
}

fn json(status: StatusCode, body: &impl Serialize) -> Response<Full<Bytes>> {
    json_http::response(status, "application/json", body)
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
}

fn error(status: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json(status, &ErrorBody { error: message })
}

fn not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// The response with `Connection: close`.
fn closing(mut response: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    response
        .headers_mut()
        .insert(hyper::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn no_content() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// Answers one request and writes its access line (debug, target
/// `otpbench::access`): method, path, status (or the fault that kept the
/// answer back) and duration — never a body (messages hold codes).
async fn respond(
    state: &State,
    twin: &std::net::TcpStream,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, NoAnswer> {
    if !tracing::enabled!(target: "otpbench::access", tracing::Level::DEBUG) {
        return handle(state, twin, request).await;
    }
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let answer = handle(state, twin, request).await;
    let duration_us = started.elapsed().as_micros() as u64;
    match &answer {
        Ok(response) => tracing::debug!(
            target: "otpbench::access",
            %method,
            path,
            status = response.status().as_u16(),
            duration_us,
            "request"
        ),
        Err(no_answer) => tracing::debug!(
            target: "otpbench::access",
            %method,
            path,
            fault = %no_answer,
            duration_us,
            "request"
        ),
    }
    answer
}

async fn handle(
    state: &State,
    twin: &std::net::TcpStream,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, NoAnswer> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_string();
    // Twilio's Basic credentials are checked before the body is read.
    if let Some(sid) = twilio::account_of(&path) {
        if parts.method == Method::POST {
            if let Some(refused) = twilio::refuse_credentials(sid, &parts.headers) {
                // Answered before the body: the connection cannot be
                // reused, and the answer says so (RFC 9112 §9.6).
                if hyper::body::Body::is_end_stream(&body) {
                    return Ok(refused);
                }
                return Ok(closing(refused));
            }
        }
    }
    let body = match body::read(&parts.headers, body, state.body_timeout).await {
        Ok(body) => body,
        // The rest of the body is not read: the connection closes after
        // the answer, lingering so the client still reads it.
        Err(BodyError::TooLarge) => {
            return Ok(closing(error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "bodies are limited to 64 KiB",
            )))
        }
        Err(BodyError::TimedOut) => {
            return Ok(closing(error(
                StatusCode::REQUEST_TIMEOUT,
                "the request body did not arrive in time",
            )))
        }
        Err(BodyError::Unreadable) => {
            return Ok(error(
                StatusCode::BAD_REQUEST,
                "the request body could not be read",
            ))
        }
    };
    let method = &parts.method;
    match path.as_str() {
        "/healthz" => Ok(json(StatusCode::OK, &serde_json::json!({"status": "ok"}))),
        "/v1/messages" if method == Method::POST => {
            let message = match parse_message(&parts.headers, &body) {
                Ok(message) => message,
                Err((status, why)) => return Ok(error(status, &why)),
            };
            let id = match accept(state, twin, message).await? {
                Accepted::Journaled(id) => id.to_string(),
                Accepted::Dropped => format!("dropped-{}", uuid_like()),
                Accepted::Refused(response) => return Ok(response),
            };
            Ok(json(
                StatusCode::ACCEPTED,
                &Queued {
                    id,
                    status: "queued",
                },
            ))
        }
        "/v1/messages" => Ok(not_allowed("POST")),
        "/_admin/messages" => match *method {
            Method::GET => match JournalQuery::parse(parts.uri.query()) {
                Ok(query) => Ok(json(
                    StatusCode::OK,
                    &query.read(&state.journal, &state.stopping).await,
                )),
                Err(why) => Ok(error(StatusCode::BAD_REQUEST, &why)),
            },
            Method::DELETE => {
                state.journal.clear();
                Ok(no_content())
            }
            _ => Ok(not_allowed("GET, DELETE")),
        },
        "/_admin/faults" => match *method {
            Method::PUT => {
                let parsed = serde_json::from_slice::<FaultSet>(&body)
                    .map_err(|e| e.to_string())
                    .and_then(|set| set.validate().map(|()| set));
                match parsed {
                    Ok(set) => {
                        *state.faults.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(set);
                        Ok(no_content())
                    }
                    Err(why) => Ok(error(StatusCode::BAD_REQUEST, &why)),
                }
            }
            Method::DELETE => {
                *state.faults.write().unwrap_or_else(|p| p.into_inner()) =
                    Arc::new(FaultSet::default());
                Ok(no_content())
            }
            Method::GET => Ok(json(StatusCode::OK, &*current_faults(state))),
            _ => Ok(not_allowed("GET, PUT, DELETE")),
        },
        "/_admin/stats" if method == Method::GET => {
            let stats = state
                .stats
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            Ok(json(
                StatusCode::OK,
                &serde_json::json!({ "channels": stats }),
            ))
        }
        "/_admin/stats" => Ok(not_allowed("GET")),
        other => match twilio::account_of(other) {
            Some(sid) if method == Method::POST => {
                twilio::handle(state, twin, sid, &parts.headers, &body).await
            }
            Some(_) => Ok(not_allowed("POST")),
            None => Ok(error(StatusCode::NOT_FOUND, "no such path")),
        },
    }
}

/// A random (version 4) UUID, for message ids.
fn uuid_like() -> String {
    uuid::Builder::from_random_bytes(rand::random())
        .into_uuid()
        .hyphenated()
        .to_string()
}

fn current_faults(state: &State) -> Arc<FaultSet> {
    state
        .faults
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

#[derive(Serialize)]
struct Queued {
    id: String,
    status: &'static str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    channel: Channel,
    to: String,
    text: String,
    #[serde(default)]
    from: Option<String>,
}

fn parse_message(headers: &hyper::HeaderMap, body: &[u8]) -> Result<Message, (StatusCode, String)> {
    if !is_json(headers) {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send Content-Type: application/json".into(),
        ));
    }
    let body: MessageBody = serde_json::from_slice(body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("invalid message: {e}")))?;
    if body.to.trim().is_empty() {
        return Err((StatusCode::BAD_REQUEST, "to: must not be empty".into()));
    }
    Ok(Message {
        channel: body.channel,
        to: body.to.into(),
        text: body.text.into(),
        from: body.from.map(Into::into),
    })
}

/// What became of a message.
enum Accepted {
    Journaled(u64),
    /// Answered as accepted, never journaled (the drop fault).
    Dropped,
    /// Answered with this error instead.
    Refused(Response<Full<Bytes>>),
}

/// Applies the fault rules and journals the message if it survives.
async fn accept(
    state: &State,
    twin: &std::net::TcpStream,
    message: Message,
) -> Result<Accepted, NoAnswer> {
    let count = |pick: fn(&mut ChannelStats) -> &mut u64| {
        let mut stats = state.stats.lock().unwrap_or_else(|p| p.into_inner());
        *pick(stats.entry(message.channel).or_default()) += 1;
    };
    count(|s| &mut s.requests);
    let faults = current_faults(state);
    let verdict = match faults.rule_for(message.channel, &message.to) {
        None => Verdict::Deliver,
        Some(rule) => {
            if let Some(latency) = rule.latency() {
                count(|s| &mut s.delayed);
                tokio::time::sleep(latency).await;
            }
            rule.verdict()
        }
    };
    match verdict {
        Verdict::Deliver => {
            count(|s| &mut s.journaled);
            Ok(Accepted::Journaled(state.journal.record(message)))
        }
        Verdict::Down => {
            count(|s| &mut s.down);
            let why = format!("channel {} is down", message.channel);
            Ok(Accepted::Refused(error(
                StatusCode::SERVICE_UNAVAILABLE,
                &why,
            )))
        }
        Verdict::Error(status) => {
            count(|s| &mut s.errors);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            Ok(Accepted::Refused(error(status, "injected error")))
        }
        Verdict::Drop => {
            count(|s| &mut s.dropped);
            Ok(Accepted::Dropped)
        }
        Verdict::Hang => {
            count(|s| &mut s.hung);
            let mut stopping = state.stopping.clone();
            let _ = stopping.wait_for(|&stop| stop).await;
            Err(NoAnswer::HungUp)
        }
        Verdict::Reset => {
            count(|s| &mut s.reset);
            // With linger 0 the close that follows sends RST, not FIN.
            let _ = socket2::SockRef::from(twin).set_linger(Some(Duration::ZERO));
            Err(NoAnswer::Reset)
        }
    }
}

impl From<Infallible> for NoAnswer {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}
