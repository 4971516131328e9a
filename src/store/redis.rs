//! The Redis store: several engines, one truth, one clock.
//!
//! Every operation is one Lua script (`redis/*.lua`, each after
//! `redis/prelude.lua`) on the keys of one subject, so it is atomic
//! however many engines share the Redis, and Redis-Cluster-safe: a
//! subject's keys share one hash slot (`redis/keys.rs` has the layout).
//! Scripts are called by SHA and reloaded by the client when Redis answers
//! NOSCRIPT (after a restart). Only keyed hashes of codes are stored.
//!
//! Time is the Redis server's: scripts read `TIME` themselves, plus an
//! offset kept in Redis in test mode ([`RedisClock`]), so replicas agree on
//! expiry and windows whatever their hosts' clocks say, and a test-mode
//! clock move by one is seen by all. Redis TTLs only collect garbage.
//!
//! Every call is bounded: Redis has [`RedisOptions::timeout`] to take it
//! up and a quarter more for the answer to come back. A call that fails
//! changes nothing, then or later: each script is handed a deadline on
//! Redis's own clock and touches nothing once it has passed, so a Redis
//! that stalls (paused, swapped out, SIGSTOPped) and resumes does not
//! carry out what the engine already answered `store_unavailable` to.
//! `redis/time.rs` derives the deadline and states the guarantee.
//!
//! A background task reads Redis's clock every 250 ms: that keeps the
//! deadline anchor fresh and, through the connection manager, notices a
//! dead connection and reconnects before a request needs it — after a
//! Redis restart, idle replicas are ready again within half a second.
//!
//! A circuit breaker keeps an outage cheap. A call that fails for want of
//! Redis (refused, dropped, or timed out while no other call was answered
//! either) or a background reading that fails so marks Redis down; while it is down every call is answered
//! `store_unavailable` at once, without being sent — so, as ever, nothing
//! changed — instead of queueing behind reconnect attempts. The
//! background task then reads the clock every [`PROBE_EVERY`] (each
//! reading one connection attempt) and the first that succeeds lets calls
//! through again: recovery within a few tens of milliseconds of Redis
//! answering.
//!
//! `redis+cluster://host:port,host:port` connects to a Redis Cluster.
//! URLs are shown only through [`redact_url`], errors only after
//! [`scrub`]: passwords never reach a log line or a response.

mod connection;
mod keys;
mod redact;
mod time;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClientBuilder;
use ::redis::{Client, Cmd, FromRedisValue, RedisError, Script, ScriptInvocation, Value};
use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::engine::clock::Clock;
use crate::engine::code::CodeDigest;
use crate::engine::outcome::ChallengeId;
use crate::store::{
    ChallengeKey, Lookup, SendDecision, Sending, Store, StoreError, VerifyDecision,
};
use connection::{ClusterState, Connection, Handle};
use time::{Anchor, StoreTime};

pub use redact::{redact_url, scrub};
pub use time::RedisClock;

/// How long an id index entry outlives its challenge's purge time.
const INDEX_SLACK_MS: u64 = 60_000;
/// How often the background task reads Redis's clock.
const KEEP_EVERY: Duration = Duration::from_millis(250);
/// How often it tries while Redis is known to be down.
const PROBE_EVERY: Duration = Duration::from_millis(20);
/// A clock reading older than this is renewed before a call (the
/// background task keeps it younger; this covers a store used without a
/// runtime to run that task, or a long outage).
const ANCHOR_MAX_AGE: Duration = Duration::from_secs(2);

/// How to reach Redis.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// `redis://[[user]:password@]host:port[/db]`, `rediss://…`, or
    /// `redis+cluster://host:port[,host:port…]` for Redis Cluster.
    pub url: String,
    /// Prefix of every key; `[A-Za-z0-9_-]+`.
    pub namespace: String,
    /// How long Redis has to take up any one operation, connecting
    /// included: a script that has not started by then changes nothing.
    /// The engine waits a quarter longer for the answer (the reply's
    /// way back), then answers `store_unavailable`.
    pub timeout: Duration,
    /// Where "now" comes from (`serve` picks `Shifted` in test mode).
    pub clock: RedisClock,
}

impl RedisOptions {
    /// Options for `url` with the default namespace, timeout and clock.
    pub fn new(url: impl Into<String>) -> RedisOptions {
        RedisOptions {
            url: url.into(),
            namespace: "otpbench".into(),
            timeout: Duration::from_millis(500),
            clock: RedisClock::Server,
        }
    }
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &redact_url(&self.url))
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .field("clock", &self.clock)
            .finish()
    }
}

/// The URL scheme that selects Redis Cluster.
pub const CLUSTER_SCHEME: &str = "redis+cluster://";

/// The Redis-backed store.
pub struct RedisStore {
    shared: Arc<Shared>,
    /// Reads Redis's clock every [`KEEP_EVERY`]; stopped on drop.
    keeper: Option<tokio::task::JoinHandle<()>>,
}

/// What the store and its background task share.
struct Shared {
    connection: Connection,
    namespace: String,
    clock_key: String,
    /// How long after a call starts its script must have started.
    timeout: Duration,
    /// How much longer the engine waits: the time the reply of a script
    /// that started in time has to come back in.
    grace: Duration,
    time: Arc<StoreTime>,
    /// Held while a call reads the clock for want of a fresh reading.
    reading: tokio::sync::Mutex<()>,
    /// Kept only to blank its passwords out of error texts.
    url: String,
    scripts: Scripts,
    /// The circuit breaker: Redis is known to be down, calls are not sent.
    down: AtomicBool,
    /// Wakes the background task when Redis is found down, so probing
    /// starts at once.
    tripped: Arc<tokio::sync::Notify>,
    /// When Redis last answered anything, in microseconds after `epoch`:
    /// a call that times out while others are answered met a slow Redis,
    /// not a gone one, and does not trip the breaker.
    answered_us: AtomicU64,
    epoch: Instant,
}

struct Scripts {
    send: Script,
    verify: Script,
    revoke: Script,
    now: Script,
    advance: Script,
}

/// A script with the shared prelude in front.
macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(
            include_str!("redis/prelude.lua"),
            include_str!(concat!("redis/", $file))
        ))
    };
}

impl RedisStore {
    /// A store for `options`. Connects lazily: a Redis that is down at
    /// start-up makes operations fail (and `/healthz` degrade) until it is
    /// up, not the server refuse to start. A malformed URL or namespace is
    /// an error here. Inside a tokio runtime, starts the background task
    /// that keeps the clock reading fresh and the connection alive.
    pub fn open(options: &RedisOptions) -> Result<RedisStore, String> {
        let namespace_ok = !options.namespace.is_empty()
            && options
                .namespace
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !namespace_ok {
            return Err(format!(
                "namespace {:?}: expected letters, digits, _ and -",
                options.namespace
            ));
        }
        let shown = redact_url(&options.url);
        let why = |e: RedisError| scrub(&e.to_string(), &options.url);
        let connection = match options.url.strip_prefix(CLUSTER_SCHEME) {
            Some(nodes) => {
                let nodes: Vec<String> = nodes.split(',').map(|n| format!("redis://{n}")).collect();
                let client = ClusterClientBuilder::new(nodes)
                    .connection_timeout(options.timeout)
                    .response_timeout(options.timeout + grace(options.timeout))
                    .build()
                    .map_err(|e| format!("{shown}: not a Redis Cluster URL: {}", why(e)))?;
                Connection::Cluster(Box::new(ClusterState {
                    client,
                    connection: OnceCell::new(),
                }))
            }
            None => {
                let client = Client::open(options.url.as_str())
                    .map_err(|e| format!("{shown}: not a Redis URL: {}", why(e)))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(options.timeout))
                    // Never the binding limit: it starts when the request is
                    // written, after the call's own clock (see `within`).
                    .set_response_timeout(Some(options.timeout + grace(options.timeout)))
                    // One connection attempt per reconnect: while Redis is
                    // down the breaker answers calls, and the background
                    // task's readings are the retries.
                    .set_number_of_retries(0)
                    .set_max_delay(Duration::from_millis(200));
                let manager = ConnectionManager::new_lazy_with_config(client, config)
                    .map_err(|e| format!("{shown}: {}", why(e)))?;
                Connection::Single(manager)
            }
        };
        let shared = Arc::new(Shared {
            connection,
            namespace: options.namespace.clone(),
            clock_key: keys::clock_key(&options.namespace),
            timeout: options.timeout,
            grace: grace(options.timeout),
            time: Arc::new(StoreTime::new(options.clock)),
            reading: tokio::sync::Mutex::new(()),
            url: options.url.clone(),
            scripts: Scripts {
                send: script!("send.lua"),
                verify: script!("verify.lua"),
                revoke: script!("revoke.lua"),
                now: script!("now.lua"),
                advance: script!("advance.lua"),
            },
            down: AtomicBool::new(false),
            tripped: Arc::new(tokio::sync::Notify::new()),
            answered_us: AtomicU64::new(0),
            epoch: Instant::now(),
        });
        let keeper = tokio::runtime::Handle::try_current()
            .ok()
            .map(|runtime| runtime.spawn(keep(Arc::downgrade(&shared), shared.tripped.clone())));
        Ok(RedisStore { shared, keeper })
    }
}

impl Drop for RedisStore {
    fn drop(&mut self) {
        if let Some(keeper) = &self.keeper {
            keeper.abort();
        }
    }
}

/// The background task: reads Redis's clock every [`KEEP_EVERY`]. Besides
/// the fresh reading, each round trip lets the connection manager find a
/// dead connection and reconnect while nobody is waiting for it.
///
/// It also runs the circuit breaker: a failed reading marks Redis down; a
/// reading that succeeds lets calls through again. While Redis is down it
/// reads every [`PROBE_EVERY`].
async fn keep(shared: Weak<Shared>, tripped: Arc<tokio::sync::Notify>) {
    loop {
        let wait = match shared.upgrade() {
            Some(shared) if shared.down.load(Ordering::Acquire) => PROBE_EVERY,
            Some(_) => KEEP_EVERY,
            None => return,
        };
        // A trip while nobody waits leaves a permit: none is missed.
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tripped.notified() => {}
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let began = Instant::now();
        match shared.bounded(began, shared.read_anchor()).await {
            Ok(_) => shared.down.store(false, Ordering::Release),
            Err(_) if !shared.answered_since(began) => shared.trip(),
            // Slow, not gone: other calls were answered meanwhile.
            Err(_) => {}
        }
    }
}

impl Shared {
    fn is_cluster(&self) -> bool {
        matches!(self.connection, Connection::Cluster(_))
    }

    /// A handle to run commands on, connecting first if need be.
    async fn handle(&self) -> Result<Handle, StoreError> {
        match &self.connection {
            Connection::Single(manager) => Ok(Handle::Single(manager.clone())),
            Connection::Cluster(cluster) => {
                let connect = || async {
                    cluster
                        .client
                        .get_async_connection()
                        .await
                        .map_err(|e| self.failure(e))
                };
                let connection = cluster.connection.get_or_try_init(connect).await?;
                Ok(Handle::Cluster(connection.clone()))
            }
        }
    }

    /// A Redis error as the store reports it, passwords blanked. Any
    /// error but Redis refusing the command means Redis is not there:
    /// the breaker trips.
    fn failure(&self, error: RedisError) -> StoreError {
        let why = scrub(&error.to_string(), &self.url);
        if error.kind() == ::redis::ErrorKind::Server(::redis::ServerErrorKind::ResponseError) {
            StoreError::Corrupt(why)
        } else {
            self.trip();
            StoreError::Unavailable(why)
        }
    }

    /// Notes that Redis answered just now.
    fn note_answer(&self) {
        let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.answered_us.fetch_max(now, Ordering::AcqRel);
    }

    /// Whether Redis answered any call after `instant`.
    fn answered_since(&self, instant: Instant) -> bool {
        let since = instant.saturating_duration_since(self.epoch).as_micros();
        u128::from(self.answered_us.load(Ordering::Acquire)) > since
    }

    /// Marks Redis down (calls are answered without being sent) and wakes
    /// the background task to probe for its return.
    fn trip(&self) {
        if !self.down.swap(true, Ordering::AcqRel) {
            self.tripped.notify_one();
        }
    }

    /// Runs `work` for a call that started at `started` — unless Redis is
    /// known to be down: then the call is refused at once, never sent.
    async fn within<T>(
        &self,
        started: Instant,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if self.down.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable(
                "Redis is down (a call or the background check failed); \
                 not tried until it answers again"
                    .into(),
            ));
        }
        self.bounded(started, work).await
    }

    /// Runs `work`, giving up after the timeout and the grace (which
    /// trips the breaker: Redis did not answer).
    async fn bounded<T>(
        &self,
        started: Instant,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let give_up = started + self.timeout + self.grace;
        match tokio::time::timeout_at(give_up.into(), work).await {
            Ok(result) => {
                if !matches!(result, Err(StoreError::Unavailable(_))) {
                    self.note_answer();
                }
                result
            }
            Err(_) => {
                if !self.answered_since(started) {
                    self.trip();
                }
                Err(StoreError::Unavailable(format!(
                    "no answer within {} ms",
                    (self.timeout + self.grace).as_millis()
                )))
            }
        }
    }

    /// One plain command (unbounded: callers run it `within` a call).
    async fn query<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, StoreError> {
        let mut connection = self.handle().await?;
        command
            .query_async::<T>(&mut connection)
            .await
            .map_err(|e| self.failure(e))
    }

    /// Reads Redis's clock (and the kept value) and anchors deadlines and
    /// [`Store::clock`] on it.
    async fn read_anchor(&self) -> Result<Anchor, StoreError> {
        let mark = self.time.mark();
        let (seconds, micros): (u64, u64) = self.query(&::redis::cmd("TIME")).await?;
        let at = Instant::now();
        let offset_ms = match self.time.clock().is_kept() {
            true => self.kept_value().await?,
            false => 0,
        };
        let anchor = Anchor {
            redis_us: seconds.saturating_mul(1_000_000).saturating_add(micros),
            at,
            offset_ms,
        };
        Ok(self.time.set_anchor(anchor, mark))
    }

    /// A clock reading younger than [`ANCHOR_MAX_AGE`], read first if
    /// need be — by one caller at a time, so a burst of calls on a cold
    /// store reads it once, not once per call.
    async fn fresh_anchor(&self) -> Result<Anchor, StoreError> {
        let fresh = |anchor: &Anchor| anchor.age() < ANCHOR_MAX_AGE;
        if let Some(anchor) = self.time.anchor().filter(fresh) {
            return Ok(anchor);
        }
        let _reading = self.reading.lock().await;
        match self.time.anchor().filter(fresh) {
            Some(anchor) => Ok(anchor),
            None => self.read_anchor().await,
        }
    }

    /// The kept clock value, as Redis holds it now.
    async fn kept_value(&self) -> Result<u64, StoreError> {
        let kept: Option<u64> = self.query(::redis::cmd("GET").arg(&self.clock_key)).await?;
        Ok(kept.unwrap_or(self.time.clock().initial_offset_ms()))
    }

    /// Adds what the prelude takes to a script call that started at
    /// `started`: after the script's own keys, before its own arguments.
    async fn prelude(
        &self,
        call: &mut ScriptInvocation<'_>,
        started: Instant,
    ) -> Result<(), StoreError> {
        let anchor = self.fresh_anchor().await?;
        let take_up_by = started + self.timeout;
        call.arg(anchor.deadline_us(take_up_by));
        let clock = self.time.clock();
        let (server, kept) = (clock.follows_server(), clock.is_kept());
        if kept && !self.is_cluster() {
            // The script reads the clock key itself: the last of its keys.
            call.arg(if server { "T" } else { "K" })
                .arg(clock.initial_offset_ms())
                .key(&self.clock_key);
        } else {
            // On a Cluster the clock key lives in a slot of its own: read
            // it here, just before the call.
            let value = if kept { self.kept_value().await? } else { 0 };
            call.arg(if server { "t" } else { "k" }).arg(value);
        }
        Ok(())
    }

    /// Runs a prepared script call; a refusal for lateness is
    /// `Unavailable`.
    async fn invoke(&self, call: &ScriptInvocation<'_>) -> Result<Vec<Value>, StoreError> {
        let mut connection = self.handle().await?;
        let reply: Vec<Value> = call
            .invoke_async(&mut connection)
            .await
            .map_err(|e| self.failure(e))?;
        if int_at(&reply, 0)? == -1 {
            return Err(StoreError::Unavailable(format!(
                "Redis ran the call {} ms past its deadline and changed nothing",
                int_at(&reply, 1)?
            )));
        }
        Ok(reply)
    }
}

/// How much longer than `timeout` the engine waits for an answer.
fn grace(timeout: Duration) -> Duration {
    timeout / 4
}

fn hex(digest: &CodeDigest) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(64);
    for byte in digest.0 {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn int_at(reply: &[Value], at: usize) -> Result<i64, StoreError> {
    match reply.get(at) {
        Some(Value::Int(n)) => Ok(*n),
        Some(Value::BulkString(bytes)) => std::str::from_utf8(bytes)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("expected a number, got {bytes:?}"))),
        other => Err(StoreError::Corrupt(format!(
            "expected a number, got {other:?}"
        ))),
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn send(&self, sending: Sending<'_>) -> Result<SendDecision, StoreError> {
        let Sending(key, challenge, rules) = sending;
        let s = &*self.shared;
        let started = Instant::now();
        let subject_key = keys::subject_key(&s.namespace, &key.subject);
        let id = keys::stamp(challenge.id, keys::slot_of(&subject_key));
        let index_key = keys::index_key(&s.namespace, id);
        s.within(started, async {
            let mut call = s.scripts.send.key(&subject_key);
            call.key(&index_key);
            s.prelude(&mut call, started).await?;
            call.arg(&key.purpose)
                .arg(id.to_string())
                .arg(hex(&challenge.digest))
                .arg(challenge.ttl_ms)
                .arg(challenge.purge_after_ms)
                .arg(challenge.max_attempts)
                .arg(rules.cooldown_ms.map_or(-1, |c| c as i64))
                .arg(INDEX_SLACK_MS);
            for limit in rules.limits {
                call.arg(limit.count).arg(limit.window_ms());
            }
            let reply = s.invoke(&call).await?;
            match int_at(&reply, 0)? {
                0 => Ok(SendDecision::Limited {
                    retry_after_ms: int_at(&reply, 1)?.max(1) as u64,
                }),
                1 => Ok(SendDecision::Stored {
                    id,
                    sends_remaining: u32::try_from(int_at(&reply, 1)?).ok(),
                }),
                other => Err(StoreError::Corrupt(format!("send script answered {other}"))),
            }
        })
        .await
    }

    async fn verify(
        &self,
        lookup: Lookup<'_>,
        candidate: &CodeDigest,
    ) -> Result<VerifyDecision, StoreError> {
        let s = &*self.shared;
        let started = Instant::now();
        // (first key, mode, purpose or tenant prefix, id, index prefix)
        let (first_key, mode, which, id, index_prefix) = match lookup {
            Lookup::Key(key) => {
                let subject_key = keys::subject_key(&s.namespace, &key.subject);
                let index_prefix = keys::index_prefix(&s.namespace, keys::slot_of(&subject_key));
                let purpose = key.purpose.clone();
                (subject_key, "key", purpose, String::new(), index_prefix)
            }
            Lookup::Id { tenant, id } => (
                keys::index_key(&s.namespace, id),
                "id",
                keys::tenant_prefix(&s.namespace, tenant),
                id.to_string(),
                String::new(),
            ),
        };
        s.within(started, async {
            let mut call = s.scripts.verify.key(&first_key);
            s.prelude(&mut call, started).await?;
            call.arg(mode)
                .arg(&which)
                .arg(&id)
                .arg(hex(candidate))
                .arg(&index_prefix);
            let reply = s.invoke(&call).await?;
            let decision = match (int_at(&reply, 0)?, reply.len()) {
                (0, _) => VerifyDecision::NotFound,
                (1, _) => VerifyDecision::Verified,
                (2, _) => VerifyDecision::Expired,
                (3, 2) => VerifyDecision::AttemptsExceeded {
                    retry_after_ms: int_at(&reply, 1)?.max(0) as u64,
                },
                (4, 2) => VerifyDecision::WrongCode {
                    attempts_remaining: int_at(&reply, 1)?.max(0) as u32,
                },
                _ => {
                    return Err(StoreError::Corrupt(format!(
                        "verify script answered {reply:?}"
                    )))
                }
            };
            Ok(decision)
        })
        .await
    }

    async fn revoke(&self, key: &ChallengeKey, id: ChallengeId) -> Result<(), StoreError> {
        let s = &*self.shared;
        let started = Instant::now();
        let subject_key = keys::subject_key(&s.namespace, &key.subject);
        let index_key = keys::index_key(&s.namespace, id);
        s.within(started, async {
            let mut call = s.scripts.revoke.key(&subject_key);
            call.key(&index_key);
            s.prelude(&mut call, started).await?;
            call.arg(&key.purpose).arg(id.to_string());
            s.invoke(&call).await.map(|_| ())
        })
        .await
    }

    async fn purge(&self) -> Result<usize, StoreError> {
        // Redis expires the keys itself.
        Ok(0)
    }

    /// Forgets every key of the namespace but the clock's (test-mode reset
    /// keeps the clock where it is).
    async fn reset(&self) -> Result<(), StoreError> {
        let s = &*self.shared;
        let pattern = format!("{}:*", s.namespace);
        let ours = |key: &Vec<u8>| key.as_slice() != s.clock_key.as_bytes();
        if s.is_cluster() {
            // KEYS goes to every primary and the answers are combined; keys
            // of different slots must then be deleted one by one.
            let keys = s
                .within(
                    Instant::now(),
                    s.query::<Vec<Vec<u8>>>(::redis::cmd("KEYS").arg(&pattern)),
                )
                .await?;
            for key in keys.into_iter().filter(ours) {
                let mut unlink = ::redis::cmd("UNLINK");
                unlink.arg(key);
                s.within(Instant::now(), s.query::<()>(&unlink)).await?;
            }
            return Ok(());
        }
        let mut cursor: u64 = 0;
        loop {
            let mut scan = ::redis::cmd("SCAN");
            scan.arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000);
            let (next, keys) = s
                .within(Instant::now(), s.query::<(u64, Vec<Vec<u8>>)>(&scan))
                .await?;
            let keys: Vec<Vec<u8>> = keys.into_iter().filter(ours).collect();
            if !keys.is_empty() {
                let mut unlink = ::redis::cmd("UNLINK");
                unlink.arg(keys);
                s.within(Instant::now(), s.query::<()>(&unlink)).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn health(&self) -> Result<(), StoreError> {
        let s = &*self.shared;
        s.within(Instant::now(), s.query::<String>(&::redis::cmd("PING")))
            .await
            .map(|_| ())
    }

    async fn now_ms(&self) -> Result<u64, StoreError> {
        let s = &*self.shared;
        let started = Instant::now();
        s.within(started, async {
            let mut call = s.scripts.now.prepare_invoke();
            s.prelude(&mut call, started).await?;
            let reply = s.invoke(&call).await?;
            Ok(int_at(&reply, 1)?.max(0) as u64)
        })
        .await
    }

    async fn advance_clock(&self, ms: u64) -> Result<Option<u64>, StoreError> {
        let s = &*self.shared;
        if !s.time.clock().is_kept() {
            return Ok(None);
        }
        let started = Instant::now();
        s.within(started, async {
            let mut call = s.scripts.advance.key(&s.clock_key);
            s.prelude(&mut call, started).await?;
            call.arg(ms);
            let reply = s.invoke(&call).await?;
            s.time.set_offset(int_at(&reply, 2)?.max(0) as u64);
            Ok(Some(int_at(&reply, 1)?.max(0) as u64))
        })
        .await
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.shared.time.clone()
    }
}
