//! The Redis store: several engines, one truth.
//!
//! Every decision is one Lua script (`redis/*.lua`) run on one key — the
//! subject's hash — so it is atomic however many engines share the Redis,
//! and trivially Redis-Cluster-safe (the subject is the hash tag). Scripts
//! are called by SHA and reloaded by the client when Redis answers
//! NOSCRIPT (after a restart). Decisions use the `now` the engine passes
//! (its `Clock`, so test-mode time travel works); Redis TTLs only collect
//! garbage. Only keyed hashes of codes are stored.
//!
//! `redis+cluster://host:port,host:port` connects to a Redis Cluster: every
//! script touches exactly one key, and every key of a subject carries the
//! subject as its hash tag, so nothing else changes.
//!
//! Keys, under a namespace (`otpbench` by default):
//! - `NS:{tenant NUL identifier}` — hash: `s` = send times, `c:<purpose>` =
//!   `id,digest,expires_at,purge_at,max_attempts,attempts_used`;
//! - `NS:id:{uuid}` — `subject key` NUL `purpose`, so a verify by id can
//!   find its subject. It lives in another slot, so it is written in a
//!   step of its own, *before* the send script: an entry whose challenge
//!   never got stored (or was replaced) is harmless, since the verify
//!   script checks the id, and can only ever mean `not_found`.
//!
//! Every call is bounded by [`RedisOptions::timeout`]: when Redis is down
//! or frozen, operations fail with `StoreError::Unavailable` in bounded
//! time (the dialects answer `store_unavailable`), and the connection
//! manager reconnects by itself when Redis is back.
//!
//! URLs are shown only through [`redact_url`], errors only after
//! [`scrub`]: passwords never reach a log line or a response.

mod redact;

use std::fmt::Write as _;
use std::future::Future;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::{ClusterClient, ClusterClientBuilder};
use ::redis::cluster_async::ClusterConnection;
use ::redis::{Client, Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture, Script, Value};
use async_trait::async_trait;
use tokio::sync::OnceCell;

use crate::engine::code::CodeDigest;
use crate::engine::outcome::ChallengeId;
use crate::store::{
    ChallengeKey, Lookup, NewChallenge, SendDecision, SendRules, Store, StoreError, Subject,
    VerifyDecision,
};

pub use redact::{redact_url, scrub};

/// Extra life of the id index beyond the challenge's purge time.
const INDEX_SLACK_MS: u64 = 60_000;

/// How to reach Redis.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// `redis://[:password@]host:port[/db]`, `rediss://…`, or
    /// `redis+cluster://host:port[,host:port…]` for Redis Cluster.
    pub url: String,
    /// Prefix of every key; `[A-Za-z0-9_-]+`.
    pub namespace: String,
    /// Longest wait for any one operation, connecting included.
    pub timeout: Duration,
}

impl RedisOptions {
    /// Options for `url` with the default namespace and timeout.
    pub fn new(url: impl Into<String>) -> RedisOptions {
        RedisOptions {
            url: url.into(),
            namespace: "otpbench".into(),
            timeout: Duration::from_millis(500),
        }
    }
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisOptions")
            .field("url", &redact_url(&self.url))
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// The URL scheme that selects Redis Cluster.
pub const CLUSTER_SCHEME: &str = "redis+cluster://";

/// A single Redis or a cluster.
enum Connection {
    /// Reconnects by itself.
    Single(ConnectionManager),
    /// Created on first use (so a cluster that is down at start-up does
    /// not stop the server); then it follows slot moves and reconnects by
    /// itself.
    Cluster(Box<ClusterState>),
}

struct ClusterState {
    client: ClusterClient,
    connection: OnceCell<ClusterConnection>,
}

/// One connection handle, whichever kind.
#[derive(Clone)]
enum Handle {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Handle {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Handle::Single(c) => c.req_packed_command(cmd),
            Handle::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Handle::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Handle::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Handle::Single(c) => c.get_db(),
            Handle::Cluster(c) => c.get_db(),
        }
    }
}

/// The Redis-backed store.
pub struct RedisStore {
    connection: Connection,
    namespace: String,
    timeout: Duration,
    send: Script,
    verify: Script,
    revoke: Script,
    /// Kept only to blank its passwords out of error texts.
    url: String,
}

impl RedisStore {
    /// A store for `options`. Connects lazily: a Redis that is down at
    /// start-up makes operations fail (and `/healthz` degrade) until it is
    /// up, not the server refuse to start. A malformed URL or namespace is
    /// an error here.
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
                    .response_timeout(options.timeout)
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
                    .set_response_timeout(Some(options.timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(200));
                let manager = ConnectionManager::new_lazy_with_config(client, config)
                    .map_err(|e| format!("{shown}: {}", why(e)))?;
                Connection::Single(manager)
            }
        };
        Ok(RedisStore {
            connection,
            namespace: options.namespace.clone(),
            timeout: options.timeout,
            send: Script::new(include_str!("redis/send.lua")),
            verify: Script::new(include_str!("redis/verify.lua")),
            revoke: Script::new(include_str!("redis/revoke.lua")),
            url: options.url.clone(),
        })
    }

    /// A handle to run commands on, connecting first if need be.
    async fn handle(&self) -> Result<Handle, StoreError> {
        match &self.connection {
            Connection::Single(manager) => Ok(Handle::Single(manager.clone())),
            Connection::Cluster(cluster) => {
                let connect = || self.bounded(cluster.client.get_async_connection());
                let connection = cluster.connection.get_or_try_init(connect).await?;
                Ok(Handle::Cluster(connection.clone()))
            }
        }
    }

    fn subject_key(&self, subject: &Subject) -> String {
        format!(
            "{}:{{{}\0{}}}",
            self.namespace, subject.tenant, subject.identifier
        )
    }

    fn id_key(&self, id: ChallengeId) -> String {
        format!("{}:id:{{{id}}}", self.namespace)
    }

    /// Runs `operation` within the timeout, mapping failures.
    async fn bounded<T>(
        &self,
        operation: impl Future<Output = Result<T, RedisError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, operation).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error))
                if error.kind()
                    == ::redis::ErrorKind::Server(::redis::ServerErrorKind::ResponseError) =>
            {
                Err(StoreError::Corrupt(scrub(&error.to_string(), &self.url)))
            }
            Ok(Err(error)) => Err(StoreError::Unavailable(scrub(
                &error.to_string(),
                &self.url,
            ))),
            Err(_) => Err(StoreError::Unavailable(format!(
                "no answer within {} ms",
                self.timeout.as_millis()
            ))),
        }
    }

    async fn run_verify(
        &self,
        subject_key: &str,
        purpose: &str,
        expected: Option<ChallengeId>,
        candidate: &CodeDigest,
        now_ms: u64,
    ) -> Result<VerifyDecision, StoreError> {
        let mut connection = self.handle().await?;
        let mut invocation = self.verify.key(subject_key);
        invocation
            .arg(now_ms)
            .arg(purpose)
            .arg(expected.map(|id| id.to_string()).unwrap_or_default())
            .arg(hex(candidate));
        let reply: Vec<Value> = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        let decision = match (int_at(&reply, 0)?, reply.len()) {
            (0, _) => VerifyDecision::NotFound,
            (1, 2) => {
                if let Some(id) = string_at(&reply, 1).and_then(|s| uuid::Uuid::parse_str(&s).ok())
                {
                    self.forget_index(ChallengeId(id)).await;
                }
                VerifyDecision::Verified
            }
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
    }

    /// One plain command, bounded.
    async fn query<T: FromRedisValue>(&self, command: &Cmd) -> Result<T, StoreError> {
        let mut connection = self.handle().await?;
        self.bounded(command.query_async::<T>(&mut connection))
            .await
    }

    /// Best effort: a stale index entry is harmless (the scripts check ids)
    /// and expires by itself.
    async fn forget_index(&self, id: ChallengeId) {
        let _ = self
            .query::<()>(::redis::cmd("DEL").arg(self.id_key(id)))
            .await;
    }
}

fn hex(digest: &CodeDigest) -> String {
    let mut out = String::with_capacity(64);
    for byte in digest.0 {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

fn int_at(reply: &[Value], at: usize) -> Result<i64, StoreError> {
    match reply.get(at) {
        Some(Value::Int(n)) => Ok(*n),
        other => Err(StoreError::Corrupt(format!(
            "expected a number, got {other:?}"
        ))),
    }
}

fn string_at(reply: &[Value], at: usize) -> Option<String> {
    match reply.get(at) {
        Some(Value::BulkString(bytes)) => String::from_utf8(bytes.clone()).ok(),
        Some(Value::SimpleString(s)) => Some(s.clone()),
        _ => None,
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn send(
        &self,
        key: &ChallengeKey,
        challenge: NewChallenge,
        rules: SendRules<'_>,
        now_ms: u64,
    ) -> Result<SendDecision, StoreError> {
        let subject_key = self.subject_key(&key.subject);
        // The index entry goes first: alone it is harmless (the scripts
        // check ids), so if Redis fails between the two steps nothing
        // half-written is left — no challenge stored and counted that the
        // caller was told failed.
        let index_ttl = challenge.purge_at_ms.saturating_sub(now_ms) + INDEX_SLACK_MS;
        let mut set = ::redis::cmd("SET");
        set.arg(self.id_key(challenge.id))
            .arg(format!("{subject_key}\0{}", key.purpose))
            .arg("PX")
            .arg(index_ttl);
        self.query::<()>(&set).await?;

        let mut connection = self.handle().await?;
        let mut invocation = self.send.key(&subject_key);
        invocation
            .arg(now_ms)
            .arg(&key.purpose)
            .arg(challenge.id.to_string())
            .arg(hex(&challenge.digest))
            .arg(challenge.expires_at_ms)
            .arg(challenge.purge_at_ms)
            .arg(challenge.max_attempts)
            .arg(rules.cooldown_ms.map_or(-1, |c| c as i64));
        for limit in rules.limits {
            invocation.arg(limit.count).arg(limit.window_ms());
        }
        let reply: Vec<Value> = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        match int_at(&reply, 0)? {
            0 => {
                self.forget_index(challenge.id).await;
                Ok(SendDecision::Limited {
                    retry_after_ms: int_at(&reply, 1)?.max(1) as u64,
                })
            }
            1 => {
                let remaining = int_at(&reply, 1)?;
                if let Some(old) = string_at(&reply, 2).and_then(|s| uuid::Uuid::parse_str(&s).ok())
                {
                    self.forget_index(ChallengeId(old)).await;
                }
                Ok(SendDecision::Stored {
                    id: challenge.id,
                    sends_remaining: u32::try_from(remaining).ok(),
                })
            }
            other => Err(StoreError::Corrupt(format!("send script answered {other}"))),
        }
    }

    async fn verify(
        &self,
        lookup: Lookup<'_>,
        candidate: &CodeDigest,
        now_ms: u64,
    ) -> Result<VerifyDecision, StoreError> {
        match lookup {
            Lookup::Key(key) => {
                let subject_key = self.subject_key(&key.subject);
                self.run_verify(&subject_key, &key.purpose, None, candidate, now_ms)
                    .await
            }
            Lookup::Id { tenant, id } => {
                let entry = self
                    .query::<Option<String>>(::redis::cmd("GET").arg(self.id_key(id)))
                    .await?;
                let Some(entry) = entry else {
                    return Ok(VerifyDecision::NotFound);
                };
                let Some((subject_key, purpose)) = entry.rsplit_once('\0') else {
                    return Err(StoreError::Corrupt(format!(
                        "unreadable id index entry for {id}"
                    )));
                };
                let tenant_prefix = format!("{}:{{{tenant}\0", self.namespace);
                if !subject_key.starts_with(&tenant_prefix) {
                    return Ok(VerifyDecision::NotFound);
                }
                self.run_verify(subject_key, purpose, Some(id), candidate, now_ms)
                    .await
            }
        }
    }

    async fn revoke(&self, key: &ChallengeKey, id: ChallengeId) -> Result<(), StoreError> {
        let mut connection = self.handle().await?;
        let mut invocation = self.revoke.key(self.subject_key(&key.subject));
        invocation.arg(&key.purpose).arg(id.to_string());
        let _: i64 = self
            .bounded(invocation.invoke_async(&mut connection))
            .await?;
        self.forget_index(id).await;
        Ok(())
    }

    async fn purge(&self, _now_ms: u64) -> Result<usize, StoreError> {
        // Redis expires the keys itself.
        Ok(0)
    }

    async fn reset(&self) -> Result<(), StoreError> {
        let pattern = format!("{}:*", self.namespace);
        if let Connection::Cluster(_) = self.connection {
            // KEYS goes to every primary and the answers are combined; keys
            // of different slots must then be deleted one by one.
            let keys = self
                .query::<Vec<Vec<u8>>>(::redis::cmd("KEYS").arg(&pattern))
                .await?;
            for key in keys {
                self.query::<()>(::redis::cmd("UNLINK").arg(key)).await?;
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
            let (next, keys) = self.query::<(u64, Vec<Vec<u8>>)>(&scan).await?;
            if !keys.is_empty() {
                self.query::<()>(::redis::cmd("UNLINK").arg(keys)).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.query::<String>(&::redis::cmd("PING"))
            .await
            .map(|_| ())
    }
}
