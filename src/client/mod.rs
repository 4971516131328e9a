//! The one HTTP executor that reaches a target: the scenario runner, the
//! load generator and the model checker all talk to implementations
//! through it (DESIGN.md §1, §5).
//!
//! - `Executor` (`executor.rs`) — the seam every request goes through:
//!   one request type (`HttpRequest`, `request.rs`, built once and
//!   reused), one [`TransportError`], its
//!   own timeout; behind it hyper's pool (`https://` through rustls,
//!   `insecure` for self-signed test servers) or, for plain `http://`
//!   load (`otpbench load --url`), a raw connection per lane: request
//!   bytes built once, one reused buffer per connection, as wrk does it.
//!   One probe (`probe`) for targets, providers and `--url`.
//! - [`TargetSpec`] — a target file: dialect, URLs, credentials, code
//!   source, clock, policy, what it lacks.
//! - [`Target`] — a target opened for use: embedded servers started, the
//!   dialect's session kept (LoyaltyDog's JWT, fetched before first use,
//!   renewed before it expires and after a 401), requests built by the
//!   dialect's client side and answers classified by it, codes read by the
//!   target's code source (the response, or the provider's journal, read
//!   by one long-polling reader), the clock hook (`POST /_admin/clock`, or
//!   a sleep), provider faults. `Target::for_worker` gives a load worker
//!   thread the same target with a connection pool of its own.
//!
//! Session state lives here, never in configuration structs. This module
//! must not know about scenarios or load models.

mod embedded;
mod exchange;
mod executor;
mod http;
mod inbox;
mod raw;
mod request;
mod target;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue, CONTENT_TYPE};
use hyper::{HeaderMap, Method};
use serde_json::json;
use tokio::sync::Mutex;

pub(crate) use embedded::Embedded;
pub(crate) use exchange::MAX_RESPONSE_BYTES;
pub use exchange::{Exchange, HttpOptions, TransportError};
pub(crate) use executor::{probe, Executor, Lane};
pub(crate) use inbox::Message;
pub(crate) use request::HttpRequest;
pub use request::RequestLog;
pub use target::{BaseUrl, Capability, ClockMode, CodeSource, Endpoint, TargetSpec};

use crate::dialect::{ClientError, Dialect, Operation, SendOp, Session, VerifyOp, WireRequest};
use crate::engine::code::Alphabet;
use crate::engine::outcome::{Observed, OutcomeKind};
use crate::server::StoreSpec;
use inbox::Journal;

/// A request the target answered, and what the dialect makes of it.
#[derive(Debug, Clone)]
pub struct Called {
    /// What was sent (for reports).
    pub request: RequestLog,
    pub exchange: Exchange,
    /// The reading taken of the answer.
    pub observed: Observed,
    /// Other outcomes the vendor document lets the answer mean.
    pub also: Vec<OutcomeKind>,
    /// How the answer was read, when not the one obvious way (for
    /// `--verbose`).
    pub reading: Option<String>,
}

/// Why a call got no answer to judge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The request cannot be built from what was given (a verify without
    /// the handle its dialect needs, a header value HTTP does not allow).
    Build(String),
    /// The exchange did not complete.
    Transport(TransportError),
    /// The dialect's login failed (LoyaltyDog `/v2/token`).
    Login(String),
    /// A test-mode hook (clock, faults, journal) answered something else
    /// than documented.
    Hook(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Build(why) => write!(f, "cannot build the request: {why}"),
            CallError::Transport(e) => e.fmt(f),
            CallError::Login(why) => write!(f, "login failed: {why}"),
            CallError::Hook(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for CallError {}

impl From<TransportError> for CallError {
    fn from(error: TransportError) -> Self {
        CallError::Transport(error)
    }
}

/// A target opened for use.
pub struct Target {
    pub(crate) spec: Arc<TargetSpec>,
    /// Hyper's pool, with the target file's timeout.
    executor: Executor,
    base: BaseUrl,
    provider: Option<BaseUrl>,
    /// The dialect's session, and when it was opened.
    session: Mutex<Option<(Session, Instant)>>,
    /// The pattern codes were last found by, for the shape it was built
    /// for: compiled once, not per read.
    code_pattern: std::sync::OnceLock<((Alphabet, u8), regex::Regex)>,
    /// Keeps embedded servers running as long as the target (or a
    /// worker's copy of it) is open.
    _embedded: Arc<Embedded>,
}

impl Target {
    /// Opens `spec`: starts what is embedded (keeping its state in
    /// `store`) and builds the HTTP client. Nothing is sent yet.
    pub async fn open(spec: TargetSpec, store: &StoreSpec) -> Result<Target, String> {
        let embedded = Embedded::start(&spec, store).await?;
        let base = match (&spec.base, embedded.engine) {
            (Endpoint::Url(url), _) => url.clone(),
            (Endpoint::Embedded, Some(addr)) => BaseUrl::local(addr),
            (Endpoint::Embedded, None) => return Err("the embedded engine did not start".into()),
        };
        let provider = match (&spec.provider, embedded.provider) {
            (Some(Endpoint::Url(url)), _) => Some(url.clone()),
            (Some(Endpoint::Embedded), Some(addr)) => Some(BaseUrl::local(addr)),
            _ => None,
        };
        let executor = Executor::pooled(spec.http)?;
        Ok(Target {
            spec: Arc::new(spec),
            executor,
            base,
            provider,
            session: Mutex::new(None),
            code_pattern: Default::default(),
            _embedded: Arc::new(embedded),
        })
    }

    /// The same target for a load worker: the same servers, credentials
    /// and current session, but a connection pool of its own, so a worker
    /// thread with its own runtime keeps its connections (and their
    /// tasks) to itself and shares no lock with other workers. Use it on
    /// the runtime that will send with it.
    pub(crate) fn for_worker(&self) -> Result<Target, String> {
        let session = self
            .session
            .try_lock()
            .map(|held| held.clone())
            .unwrap_or(None);
        Ok(Target {
            spec: self.spec.clone(),
            executor: self.executor.for_worker()?,
            base: self.base.clone(),
            provider: self.provider.clone(),
            session: Mutex::new(session),
            code_pattern: Default::default(),
            _embedded: self._embedded.clone(),
        })
    }

    /// The dialect spoken.
    pub(crate) fn dialect(&self) -> Dialect {
        self.spec.dialect
    }

    /// Where the target listens.
    pub(crate) fn base(&self) -> &BaseUrl {
        &self.base
    }

    /// Where its provider listens, if it has one.
    pub(crate) fn provider(&self) -> Option<&BaseUrl> {
        self.provider.as_ref()
    }

    /// Whether anything answers HTTP at the target's address ([`probe`]).
    pub(crate) async fn probe(&self) -> Result<(), TransportError> {
        self.probe_at(&self.base, "/").await
    }

    /// Whether the provider answers HTTP (its journal, without waiting).
    pub(crate) async fn probe_provider(&self) -> Result<(), TransportError> {
        match &self.provider {
            Some(provider) => self.probe_at(provider, "/_admin/messages?to=probe").await,
            None => Ok(()),
        }
    }

    async fn probe_at(&self, base: &BaseUrl, path: &str) -> Result<(), TransportError> {
        let request = HttpRequest::get(&base.join(path)).map_err(TransportError::Connect)?;
        probe(&self.executor, &request).await.map(|_| ())
    }

    /// A send through the dialect's client side.
    pub async fn send(&self, send: &SendOp) -> Result<Called, CallError> {
        let dialect = self.dialect();
        let credentials = &self.spec.credentials;
        self.call(Operation::Send, |session| {
            dialect.send_request(credentials, session, send)
        })
        .await
    }

    /// A verify through the dialect's client side.
    pub async fn verify(&self, verify: &VerifyOp) -> Result<Called, CallError> {
        let dialect = self.dialect();
        let credentials = &self.spec.credentials;
        self.call(Operation::Verify, |session| {
            dialect.verify_request(credentials, session, verify)
        })
        .await
    }

    /// Builds with the current session, sends, classifies; a 401 on a
    /// dialect with a login renews the session and tries once more.
    async fn call(
        &self,
        operation: Operation,
        build: impl Fn(&Session) -> Result<WireRequest, ClientError>,
    ) -> Result<Called, CallError> {
        let mut renewed = false;
        loop {
            let session = self.session(renewed).await?;
            let wire = build(&session).map_err(|e| CallError::Build(e.to_string()))?;
            let request = self.post(&wire)?;
            let log = request.log();
            let exchange = self.executor.execute(&request).await?;
            if exchange.status == 401 && self.dialect().has_login() && !renewed {
                renewed = true;
                continue;
            }
            let read = self.dialect().read(operation, &exchange.response());
            return Ok(Called {
                request: log,
                exchange,
                observed: read.observed,
                also: read.also,
                reading: read.reading,
            });
        }
    }

    /// The session to send with: opened on first use, renewed when 90% of
    /// its lifetime has passed or when `renew` says the last one was
    /// refused.
    async fn session(&self, renew: bool) -> Result<Session, CallError> {
        let dialect = self.dialect();
        let Some(login) = dialect.login_request(&self.spec.credentials) else {
            return Ok(Session::default());
        };
        let mut held = self.session.lock().await;
        if let (false, Some((session, opened))) = (renew, held.as_ref()) {
            let fresh = session
                .lifetime
                .is_none_or(|life| opened.elapsed() < life.mul_f64(0.9));
            if fresh {
                return Ok(session.clone());
            }
        }
        let exchange = self.executor.execute(&self.post(&login)?).await?;
        let session = dialect
            .read_login(&exchange.response())
            .map_err(|e| CallError::Login(e.to_string()))?;
        *held = Some((session.clone(), Instant::now()));
        Ok(session)
    }

    /// The session requests are sent with now (logging in first, if the
    /// dialect has a login and no session is open).
    pub async fn current_session(&self) -> Result<Session, CallError> {
        self.session(false).await
    }

    /// The headers the dialect authenticates with (a send's, which carry
    /// the bearer token, Basic credentials or JWT), for raw requests.
    pub(crate) async fn auth_headers(&self) -> Result<Vec<(&'static str, String)>, CallError> {
        let session = self.session(false).await?;
        let probe = SendOp {
            to: String::new(),
            ..SendOp::default()
        };
        let wire = self
            .dialect()
            .send_request(&self.spec.credentials, &session, &probe)
            .map_err(|e| CallError::Build(e.to_string()))?;
        Ok(wire.headers)
    }

    /// A raw request to `path` on the target.
    pub(crate) async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(String, String)],
        body: Bytes,
    ) -> Result<Exchange, CallError> {
        let request = HttpRequest::build(method, &self.base.join(path), headers, body)
            .map_err(CallError::Build)?;
        Ok(self.executor.execute(&request).await?)
    }

    fn post(&self, wire: &WireRequest) -> Result<HttpRequest, CallError> {
        let mut headers = HeaderMap::with_capacity(wire.headers.len() + 1);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in &wire.headers {
            let bad = || CallError::Build(format!("the {name} header is not valid HTTP"));
            let value = HeaderValue::from_str(value).map_err(|_| bad())?;
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            headers.insert(name, value);
        }
        let url = self.base.join(wire.path);
        let uri = url
            .parse()
            .map_err(|_| CallError::Build(format!("{url} is not a URL")))?;
        let body = Bytes::from(wire.body.clone());
        Ok(HttpRequest::from_parts(Method::POST, uri, headers, body))
    }

    /// Moves the target's clock forward: `POST /_admin/clock`, or a sleep
    /// on a real clock.
    pub(crate) async fn advance_clock(&self, by: Duration) -> Result<(), CallError> {
        if self.spec.clock == ClockMode::Real {
            tokio::time::sleep(by).await;
            return Ok(());
        }
        let body = json!({ "advance_ms": by.as_millis() as u64 }).to_string();
        let exchange = self
            .raw(
                Method::POST,
                "/_admin/clock",
                &[("Content-Type".into(), "application/json".into())],
                Bytes::from(body),
            )
            .await?;
        if exchange.status != 200 {
            return Err(CallError::Hook(format!(
                "POST /_admin/clock answered {}: {}",
                exchange.status,
                exchange.text()
            )));
        }
        Ok(())
    }

    /// Replaces the provider's fault rules (`PUT /_admin/faults`).
    pub(crate) async fn set_faults(&self, rules: &serde_json::Value) -> Result<(), CallError> {
        let provider = self.provider_url()?;
        let request = HttpRequest::build(
            Method::PUT,
            &provider.join("/_admin/faults"),
            &[("content-type".into(), "application/json".into())],
            Bytes::from(rules.to_string()),
        )
        .map_err(CallError::Hook)?;
        let exchange = self.executor.execute(&request).await?;
        if exchange.status / 100 != 2 {
            return Err(CallError::Hook(format!(
                "PUT /_admin/faults answered {}: {}",
                exchange.status,
                exchange.text()
            )));
        }
        Ok(())
    }

    /// Clears the provider's fault rules.
    pub(crate) async fn clear_faults(&self) -> Result<(), CallError> {
        let provider = self.provider_url()?;
        let request = HttpRequest::build(
            Method::DELETE,
            &provider.join("/_admin/faults"),
            &[],
            Bytes::new(),
        )
        .map_err(CallError::Hook)?;
        self.executor.execute(&request).await?;
        Ok(())
    }

    fn provider_url(&self) -> Result<&BaseUrl, CallError> {
        self.provider.as_ref().ok_or_else(|| {
            CallError::Hook(format!("target `{}` names no provider", self.spec.name))
        })
    }

    /// The provider's journal.
    fn journal(&self) -> Result<Journal<'_>, CallError> {
        Ok(Journal {
            executor: &self.executor,
            provider: self.provider_url()?,
        })
    }

    /// The journal's newest message id for `to` so far (0 for none): read
    /// before a send, so the code read after it is that send's.
    pub(crate) async fn inbox_mark(&self, to: &str) -> Result<u64, CallError> {
        let messages = self.journal()?.read(&self.journal_key(to), 0, None).await?;
        Ok(messages.last().map_or(0, |m| m.id))
    }

    /// The newest message to `to` after message `after`, waiting up to
    /// `wait` for one (the one reader every caller goes through).
    async fn newest_message(
        &self,
        to: &str,
        after: u64,
        wait: Duration,
    ) -> Result<Option<Message>, CallError> {
        let journal = self.journal()?;
        let key = self.journal_key(to);
        let mut messages = journal.read(&key, after, Some(wait)).await?;
        if messages.is_empty() && key != to {
            // Another implementation may journal the identifier as sent.
            messages = journal.read(to, after, None).await?;
        }
        Ok(messages.pop())
    }

    /// The pattern codes of `shape` are found by: compiled once for the
    /// shape first asked for, not per read.
    fn code_pattern(&self, shape: (Alphabet, u8)) -> Cow<'_, regex::Regex> {
        let cached = self
            .code_pattern
            .get_or_init(|| (shape, self.spec.code_regex(shape.0, shape.1)));
        if cached.0 == shape {
            Cow::Borrowed(&cached.1)
        } else {
            Cow::Owned(self.spec.code_regex(shape.0, shape.1))
        }
    }

    /// The code in the newest message to `to` after message `after`,
    /// waiting up to `wait` for one; `None` when none came.
    pub(crate) async fn read_code(
        &self,
        to: &str,
        after: u64,
        shape: (Alphabet, u8),
        wait: Duration,
    ) -> Result<Option<String>, CallError> {
        Ok(self
            .read_code_message(to, after, shape, wait)
            .await?
            .map(|(_, code)| code))
    }

    /// [`Target::read_code`], with the id of the message the code came
    /// from (to read the next code after it without another
    /// [`Target::inbox_mark`]). `None` when no message came, or the
    /// newest holds no code.
    pub(crate) async fn read_code_message(
        &self,
        to: &str,
        after: u64,
        shape: (Alphabet, u8),
        wait: Duration,
    ) -> Result<Option<(u64, String)>, CallError> {
        let message = self.newest_message(to, after, wait).await?;
        Ok(message.and_then(|message| {
            inbox::code_in(&self.code_pattern(shape), &message.text).map(|code| (message.id, code))
        }))
    }

    /// The newest message to `to` after message `after` — its id in the
    /// journal, its text, and the code in it if it holds one — waiting up
    /// to `wait` for one; `None` when none came.
    pub(crate) async fn read_message(
        &self,
        to: &str,
        after: u64,
        shape: (Alphabet, u8),
        wait: Duration,
    ) -> Result<Option<(u64, String, Option<String>)>, CallError> {
        let message = self.newest_message(to, after, wait).await?;
        Ok(message.map(|message| {
            let code = inbox::code_in(&self.code_pattern(shape), &message.text);
            (message.id, message.text, code)
        }))
    }

    /// How the journal names `to`: the normalised identifier (E.164, a
    /// lower-cased e-mail address), as the reference engine delivers it.
    fn journal_key(&self, to: &str) -> String {
        let normalised = match self.dialect() {
            Dialect::Valify => crate::dialect::egyptian_mobile(to).map(|i| i.to_string()),
            _ => crate::engine::identifier::Identifier::parse(to)
                .ok()
                .map(|i| i.to_string()),
        };
        normalised.unwrap_or_else(|| to.to_string())
    }
}
