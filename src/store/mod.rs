//! Where challenges and send logs live: the [`Store`] trait and its
//! implementations.
//!
//! Every operation is one atomic decision — a send checks the limits,
//! records itself and replaces the challenge in one step; a verify reads,
//! compares and updates in one step — so the engine's guarantees hold
//! under any concurrency and, with a shared store, across engines. Stores
//! keep only [`CodeDigest`]s, never codes. This module must not know about
//! HTTP or dialects.
//!
//! # Time
//!
//! A store owns the time its decisions are made at; the engine passes
//! durations (a challenge's ttl, how long to keep it), never instants. So
//! one deployment has one time source, read where the state lives:
//!
//! - [`memory::MemoryStore`] reads a [`Clock`] of this process (the wall
//!   clock, a [`ShiftedClock`] in test mode, a [`ManualClock`] in tests),
//!   inside the shard lock of the decision;
//! - [`redis::RedisStore`] reads the Redis server's `TIME` inside each
//!   script, plus an offset kept in Redis in test mode, so every engine on
//!   one Redis decides by the same clock and a move by one is seen by all.
//!
//! Around the decisions: [`Store::now_ms`] reads that time,
//! [`Store::advance_clock`] moves it (test mode: `POST /_admin/clock`), and
//! [`Store::clock`] is a synchronous reading of it for what is not a store
//! decision (the journal's `received_at`, LoyaltyDog's token expiry). The
//! store's own expiry mechanisms (Redis TTLs) only collect garbage.
//!
//! [`Clock`]: crate::engine::clock::Clock
//! [`ShiftedClock`]: crate::engine::clock::ShiftedClock
//! [`ManualClock`]: crate::engine::clock::ManualClock

pub mod memory;
pub mod redis;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::engine::clock::Clock;
use crate::engine::code::CodeDigest;
use crate::engine::outcome::ChallengeId;
use crate::engine::policy::SendLimit;

/// Whose sends are counted together: one identifier within one tenant
/// (a dialect, or a dialect's shop/widget).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject {
    pub tenant: String,
    /// The normalised identifier.
    pub identifier: String,
}

/// Where one challenge lives: a subject and a purpose. Purposes of one
/// subject are independent challenges but share the subject's limits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChallengeKey {
    pub subject: Subject,
    pub purpose: String,
}

/// A challenge about to be stored. Its times count from the instant the
/// store records the send, by the store's time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewChallenge {
    /// A proposed random (v4) id; see [`SendDecision::Stored`].
    pub id: ChallengeId,
    pub digest: CodeDigest,
    /// Verifies this long after the send or later are `expired`.
    pub ttl_ms: u64,
    /// This long after the send the challenge may be forgotten (verifies
    /// then answer `not_found`). The engine sets it one ttl past expiry.
    pub purge_after_ms: u64,
    pub max_attempts: u32,
}

/// The limits a send must pass.
#[derive(Debug, Clone, Copy)]
pub struct SendRules<'a> {
    pub limits: &'a [SendLimit],
    pub cooldown_ms: Option<u64>,
}

/// What the store decided about a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendDecision {
    /// Recorded and stored; the old challenge of the key, if any, is gone.
    Stored {
        /// The id the challenge is stored under: the one proposed, possibly
        /// with some of its random bits set by the store (the memory store
        /// writes its shard number there so a verify by id takes one lock).
        id: ChallengeId,
        /// Sends left in the tightest window after this one (`None`
        /// without limits).
        sends_remaining: Option<u32>,
    },
    /// A limit or the cooldown applies; nothing was recorded.
    Limited { retry_after_ms: u64 },
}

/// A send as the engine asks the store to record it: `(key, challenge,
/// rules)` — where the challenge goes, the challenge, and the limits the
/// send must pass.
#[derive(Debug, Clone)]
pub struct Sending<'a>(pub &'a ChallengeKey, pub NewChallenge, pub SendRules<'a>);

/// How a verify names its challenge.
#[derive(Debug, Clone, Copy)]
pub enum Lookup<'a> {
    /// By public id; a challenge of another tenant is `NotFound`.
    Id {
        tenant: &'a str,
        id: ChallengeId,
    },
    Key(&'a ChallengeKey),
}

/// What the store decided about a verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyDecision {
    /// Right code; the challenge is consumed.
    Verified,
    /// Wrong code; one attempt used.
    WrongCode { attempts_remaining: u32 },
    /// Past the challenge's expiry.
    Expired,
    /// All attempts used; `retry_after_ms` until the challenge expires.
    AttemptsExceeded { retry_after_ms: u64 },
    /// No active challenge there.
    NotFound,
}

/// The store could not give an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// Unreachable or too slow; the request should be retried later.
    Unavailable(String),
    /// The store answered something this code cannot read.
    Corrupt(String),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Unavailable(why) => write!(f, "store unavailable: {why}"),
            StoreError::Corrupt(why) => write!(f, "store returned unreadable data: {why}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// The atomic operations the engine needs. Implementations must give the
/// semantics of DESIGN.md §2 under any number of concurrent callers.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Counts the subject's sends in every window (sliding log, exact); if
    /// a limit or the cooldown applies, decides `Limited` and records
    /// nothing. Otherwise records the send at the store's now and stores
    /// `challenge` under `key`, replacing the old one.
    ///
    /// An `Err` means nothing changed, then or later: a call the store
    /// could not answer in time must never take effect afterwards.
    async fn send(&self, sending: Sending<'_>) -> Result<SendDecision, StoreError>;

    /// Checks `candidate` against the challenge `lookup` names, in this
    /// order: none → `NotFound`; expired → `Expired`; attempts used up →
    /// `AttemptsExceeded`; match → `Verified` (consumed); else one attempt
    /// is used → `WrongCode`. Expiry is judged at the store's now. An
    /// `Err` means nothing changed, as for [`Store::send`].
    async fn verify(
        &self,
        lookup: Lookup<'_>,
        candidate: &CodeDigest,
    ) -> Result<VerifyDecision, StoreError>;

    /// Removes the challenge under `key` if it is still `id` (a later send
    /// may have replaced it). The send stays counted.
    async fn revoke(&self, key: &ChallengeKey, id: ChallengeId) -> Result<(), StoreError>;

    /// Forgets what is past its purge time; returns how many records went.
    async fn purge(&self) -> Result<usize, StoreError>;

    /// Forgets everything (test mode).
    async fn reset(&self) -> Result<(), StoreError>;

    /// Whether the store answers.
    async fn health(&self) -> Result<(), StoreError>;

    /// The store's time, in milliseconds since the Unix epoch: the time
    /// its decisions are made at.
    async fn now_ms(&self) -> Result<u64, StoreError>;

    /// Moves the store's time forward by `ms` for every engine that shares
    /// the store (test mode) and returns the new time; `Ok(None)` when the
    /// store follows a clock that cannot be moved (production).
    async fn advance_clock(&self, ms: u64) -> Result<Option<u64>, StoreError>;

    /// The store's time as a synchronous [`Clock`], for what is not a
    /// store decision (the journal's `received_at`, token expiry). The
    /// memory store's clock itself; the Redis store's last reading of the
    /// Redis time carried forward by this host's monotonic clock (renewed
    /// every 250 ms, so a move by another engine shows within that).
    fn clock(&self) -> Arc<dyn Clock>;
}

/// How long after `now_ms` the oldest send that keeps `limits` or the
/// cooldown closed leaves its window; `None` when a send may go now.
///
/// `sends` are the subject's send times, oldest first. Shared by every store
/// so they all answer the same retry-after.
pub fn retry_after_ms(sends: &[u64], rules: SendRules<'_>, now_ms: u64) -> Option<u64> {
    let mut wait: Option<u64> = None;
    let mut hold = |until: u64| {
        let ms = until.saturating_sub(now_ms).max(1);
        wait = Some(wait.map_or(ms, |w| w.max(ms)));
    };
    if let (Some(cooldown), Some(&last)) = (rules.cooldown_ms, sends.last()) {
        if now_ms < last.saturating_add(cooldown) {
            hold(last + cooldown);
        }
    }
    for limit in rules.limits {
        let window = limit.window_ms();
        let start = sends.partition_point(|&t| t.saturating_add(window) <= now_ms);
        let in_window = sends.len() - start;
        let count = limit.count as usize;
        if in_window >= count {
            // The send may go once enough of the oldest in-window sends
            // have left: the (in_window - count)-th one's exit frees a slot.
            hold(sends[start + in_window - count] + window);
        }
    }
    wait
}

/// Sends left in the tightest window once a send at `now_ms` is recorded
/// (`sends` already holds it).
pub fn sends_remaining(sends: &[u64], limits: &[SendLimit], now_ms: u64) -> Option<u32> {
    limits
        .iter()
        .map(|limit| {
            let window = limit.window_ms();
            let start = sends.partition_point(|&t| t.saturating_add(window) <= now_ms);
            limit.count.saturating_sub((sends.len() - start) as u32)
        })
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limit(count: u32, secs: u64) -> SendLimit {
        SendLimit {
            count,
            window: Duration::from_secs(secs),
        }
    }

    #[test]
    fn a_full_window_holds_until_its_oldest_send_leaves() {
        let limits = [limit(2, 10)];
        let rules = SendRules {
            limits: &limits,
            cooldown_ms: None,
        };
        assert_eq!(retry_after_ms(&[1_000], rules, 2_000), None);
        assert_eq!(retry_after_ms(&[1_000, 3_000], rules, 4_000), Some(7_000));
        // At exactly 11 s the first send has left the 10 s window.
        assert_eq!(retry_after_ms(&[1_000, 3_000], rules, 11_000), None);
    }

    #[test]
    fn the_longest_hold_of_several_limits_wins() {
        let limits = [limit(1, 10), limit(2, 100)];
        let rules = SendRules {
            limits: &limits,
            cooldown_ms: Some(50_000),
        };
        // 1/10s is free again at 25 s, 2/100s holds until 110 s.
        assert_eq!(
            retry_after_ms(&[10_000, 15_000], rules, 30_000),
            Some(80_000)
        );
    }

    #[test]
    fn cooldown_holds_after_the_last_send() {
        let rules = SendRules {
            limits: &[],
            cooldown_ms: Some(30_000),
        };
        assert_eq!(retry_after_ms(&[100_000], rules, 110_000), Some(20_000));
        assert_eq!(retry_after_ms(&[100_000], rules, 130_000), None);
    }

    #[test]
    fn sends_remaining_reports_the_tightest_window() {
        let limits = [limit(5, 3600), limit(10, 86_400)];
        assert_eq!(sends_remaining(&[1_000, 2_000], &limits, 3_000), Some(3));
        assert_eq!(sends_remaining(&[1_000], &[], 3_000), None);
    }
}
