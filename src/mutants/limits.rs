//! Store decorators that get send limits wrong, each the way a shipped
//! OTP service did: only the tightest window enforced, a `>` for a `>=`,
//! counting and recording in two steps, a refused send that still burns
//! the code, a send whose delivery failed taken off the count, and no
//! limits at all in the store (for a limiter in front that keys on the
//! wrong thing, see `raw_limits`).
//!
//! Each decides through the inner store's calls only; none touches the
//! engine.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::engine::outcome::ChallengeId;
use crate::engine::policy::SendLimit;
use crate::mutants::decorate::{lock, Decorator, RevokeCall, Revoked, SendCall, Sent, ROUND_TRIP};
use crate::store::{
    retry_after_ms, sends_remaining, ChallengeKey, SendDecision, SendRules, Sending, Subject,
};

/// No limit and no cooldown.
const UNLIMITED: SendRules<'static> = SendRules {
    limits: &[],
    cooldown_ms: None,
};

/// Enforces only the limit with the shortest window: `5/1h, 10/1d`
/// becomes `5/1h` — the day's budget is never looked at.
pub(crate) struct TightestWindowOnly;

#[async_trait]
impl Decorator for TightestWindowOnly {
    async fn send(&self, SendCall(inner, key, challenge, rules): SendCall<'_>) -> Sent {
        let tightest: Vec<SendLimit> = rules
            .limits
            .iter()
            .min_by_key(|limit| limit.window)
            .copied()
            .into_iter()
            .collect();
        let rules = SendRules {
            limits: &tightest,
            ..rules
        };
        inner.send(Sending(key, challenge, rules)).await
    }
}

/// Refuses only once a window holds *more* than its limit: one send too
/// many gets through (`count > limit` where `>=` was meant).
pub(crate) struct OneTooMany;

#[async_trait]
impl Decorator for OneTooMany {
    async fn send(&self, SendCall(inner, key, challenge, rules): SendCall<'_>) -> Sent {
        let loose: Vec<SendLimit> = rules
            .limits
            .iter()
            .map(|limit| SendLimit {
                count: limit.count.saturating_add(1),
                ..*limit
            })
            .collect();
        let rules = SendRules {
            limits: &loose,
            ..rules
        };
        inner.send(Sending(key, challenge, rules)).await
    }
}

/// Counts the subject's sends, then — a round trip later — records the
/// new one: check-then-act. One at a time it is exact; sends that arrive
/// together all read the same count and all pass.
#[derive(Default)]
pub(crate) struct CountThenRecord {
    /// Each subject's send times, oldest first (the inner store keeps
    /// none: it is asked with no limits).
    log: Mutex<HashMap<Subject, Vec<u64>>>,
}

#[async_trait]
impl Decorator for CountThenRecord {
    async fn send(&self, SendCall(inner, key, challenge, rules): SendCall<'_>) -> Sent {
        let now = inner.now_ms().await?;
        let counted = lock(&self.log)
            .get(&key.subject)
            .cloned()
            .unwrap_or_default();
        if let Some(wait) = retry_after_ms(&counted, rules, now) {
            return Ok(SendDecision::Limited {
                retry_after_ms: wait,
            });
        }
        tokio::time::sleep(ROUND_TRIP).await;
        let decision = inner.send(Sending(key, challenge, UNLIMITED)).await?;
        let SendDecision::Stored { id, .. } = decision else {
            return Ok(decision);
        };
        let mut log = lock(&self.log);
        let sends = log.entry(key.subject.clone()).or_default();
        sends.push(now);
        sends.sort_unstable();
        // Older than every window: never counted again.
        let horizon = rules.limits.iter().map(SendLimit::window_ms).max();
        let horizon = horizon.unwrap_or(0).max(rules.cooldown_ms.unwrap_or(0));
        sends.retain(|&at| at.saturating_add(horizon) > now);
        Ok(SendDecision::Stored {
            id,
            sends_remaining: sends_remaining(sends, rules.limits, now),
        })
    }

    async fn forget(&self) {
        lock(&self.log).clear();
    }
}

/// A send refused by a limit still throws away the code the recipient
/// already has: the old challenge is cleared before the limit is looked
/// at, and the refusal leaves nothing in its place.
#[derive(Default)]
pub(crate) struct RefusalBurnsCode {
    /// Each key's last stored challenge.
    last: Mutex<HashMap<ChallengeKey, ChallengeId>>,
}

#[async_trait]
impl Decorator for RefusalBurnsCode {
    async fn send(&self, SendCall(inner, key, challenge, rules): SendCall<'_>) -> Sent {
        let decision = inner.send(Sending(key, challenge, rules)).await?;
        match decision {
            SendDecision::Stored { id, .. } => {
                lock(&self.last).insert(key.clone(), id);
            }
            SendDecision::Limited { .. } => {
                let burnt = lock(&self.last).remove(key);
                if let Some(id) = burnt {
                    inner.revoke(key, id).await?;
                }
            }
        }
        Ok(decision)
    }

    async fn forget(&self) {
        lock(&self.last).clear();
    }
}

/// Counts only sends that were delivered: a send whose delivery failed on
/// every channel (the engine revokes its challenge) is taken off the
/// count, though DESIGN.md §2 says it still counts — so a recipient
/// whose gateway is down can be sent to without end.
#[derive(Default)]
pub(crate) struct FailedSendsUncounted {
    /// Each subject's counted sends, oldest first, with the challenge
    /// each stored (the inner store keeps none: it is asked with no
    /// limits). An async lock, held across the inner call, so check and
    /// record stay one step: no race here, only the uncounting.
    log: tokio::sync::Mutex<HashMap<Subject, Vec<(u64, ChallengeId)>>>,
}

#[async_trait]
impl Decorator for FailedSendsUncounted {
    async fn send(&self, SendCall(inner, key, challenge, rules): SendCall<'_>) -> Sent {
        let mut log = self.log.lock().await;
        let now = inner.now_ms().await?;
        let sends = log.entry(key.subject.clone()).or_default();
        let times: Vec<u64> = sends.iter().map(|&(at, _)| at).collect();
        if let Some(wait) = retry_after_ms(&times, rules, now) {
            return Ok(SendDecision::Limited {
                retry_after_ms: wait,
            });
        }
        let decision = inner.send(Sending(key, challenge, UNLIMITED)).await?;
        let SendDecision::Stored { id, .. } = decision else {
            return Ok(decision);
        };
        sends.push((now, id));
        let times: Vec<u64> = sends.iter().map(|&(at, _)| at).collect();
        Ok(SendDecision::Stored {
            id,
            sends_remaining: sends_remaining(&times, rules.limits, now),
        })
    }

    async fn revoke(&self, RevokeCall(inner, key, id): RevokeCall<'_>) -> Revoked {
        if let Some(sends) = self.log.lock().await.get_mut(&key.subject) {
            sends.retain(|&(_, at)| at != id);
        }
        inner.revoke(key, id).await
    }

    async fn forget(&self) {
        self.log.lock().await.clear();
    }
}

/// Keeps no limits in the store at all: the engine's sends all pass, for
/// a limiter in front of it to decide (see `raw_limits`).
pub(crate) struct LimitsElsewhere;

#[async_trait]
impl Decorator for LimitsElsewhere {
    async fn send(&self, SendCall(inner, key, challenge, _): SendCall<'_>) -> Sent {
        inner.send(Sending(key, challenge, UNLIMITED)).await
    }
}
