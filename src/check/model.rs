//! The one reference model of DESIGN.md §2, parameterised by a policy:
//! what any correct OTP service answers to a sequence of sends, verifies
//! and clock moves. `otpbench check` compares targets with it, and the
//! engine's own state-machine test (`tests/it/engine_state_machine.rs`)
//! compares the engine with it, so §2 is written once in code.
//!
//! The model knows keys only as small numbers (`who`, `purpose`) and time
//! only as milliseconds since the program began. It keeps every send of
//! an identifier and finds `retry_after` by trying each instant at which
//! something could change, so it shares no arithmetic with the stores'
//! sliding logs. It must not know about HTTP, dialects or the engine.

use std::collections::BTreeMap;

use crate::engine::policy::Policy;

/// A challenge's key: an identifier and a purpose, by index. Sends are
/// counted per identifier, across its purposes.
pub type Key = (usize, usize);

/// What the model reads of a policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPolicy {
    pub ttl_ms: u64,
    pub max_attempts: u32,
    /// `(count, window ms)`.
    pub limits: Vec<(usize, u64)>,
    pub cooldown_ms: Option<u64>,
    /// After how long past its expiry an expired challenge is purged (and
    /// answered `not_found`): the engine's own choice, `None` when it is
    /// not known (then `Expired` stands for either answer, see
    /// [`Expected::admits`]).
    pub purge_after_ms: Option<u64>,
}

impl ModelPolicy {
    /// `policy` as the model reads it, purge unknown.
    pub fn of(policy: &Policy) -> ModelPolicy {
        ModelPolicy {
            ttl_ms: policy.ttl.as_millis() as u64,
            max_attempts: policy.max_attempts,
            limits: policy
                .send_limits
                .iter()
                .map(|l| (l.count as usize, l.window_ms()))
                .collect(),
            cooldown_ms: policy.cooldown.map(|d| d.as_millis() as u64),
            purge_after_ms: None,
        }
    }
}

/// What the model says a step must answer, with every detail it knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expected {
    /// `seq` numbers the challenges issued so far (from 0).
    Sent {
        seq: usize,
        /// Sends left in the tightest window; `None` without limits.
        sends_remaining: Option<u32>,
        attempts_remaining: u32,
        expires_in_ms: u64,
    },
    Verified,
    WrongCode {
        attempts_remaining: u32,
    },
    Expired,
    AttemptsExceeded {
        retry_after_ms: u64,
    },
    NotFound,
    RateLimited {
        retry_after_ms: u64,
    },
    ProviderUnavailable,
}

impl Expected {
    /// The outcome's name, as scenarios write it.
    pub fn name(&self) -> &'static str {
        match self {
            Expected::Sent { .. } => "sent",
            Expected::Verified => "verified",
            Expected::WrongCode { .. } => "wrong_code",
            Expected::Expired => "expired",
            Expected::AttemptsExceeded { .. } => "attempts_exceeded",
            Expected::NotFound => "not_found",
            Expected::RateLimited { .. } => "rate_limited",
            Expected::ProviderUnavailable => "provider_unavailable",
        }
    }

    /// The outcome names a target may answer for this expectation: the
    /// outcome itself, and `not_found` for an expired challenge when the
    /// model does not know when the target purges (§2: expired challenges
    /// are purged).
    pub fn admits(&self, purge_known: bool) -> &'static [&'static str] {
        match self {
            Expected::Expired if !purge_known => &["expired", "not_found"],
            Expected::Sent { .. } => &["sent"],
            Expected::Verified => &["verified"],
            Expected::WrongCode { .. } => &["wrong_code"],
            Expected::Expired => &["expired"],
            Expected::AttemptsExceeded { .. } => &["attempts_exceeded"],
            Expected::NotFound => &["not_found"],
            Expected::RateLimited { .. } => &["rate_limited"],
            Expected::ProviderUnavailable => &["provider_unavailable"],
        }
    }
}

#[derive(Debug, Clone)]
struct Challenge {
    seq: usize,
    expires_at: u64,
    attempts_used: u32,
}

/// The state of every challenge and send log at one instant.
#[derive(Debug, Clone)]
pub struct Model {
    policy: ModelPolicy,
    now: u64,
    sends: BTreeMap<usize, Vec<u64>>,
    challenges: BTreeMap<Key, Challenge>,
    /// Key of every challenge issued, by sequence number.
    issued: Vec<Key>,
    delivery_down: bool,
}

impl Model {
    pub fn new(policy: ModelPolicy) -> Model {
        Model {
            policy,
            now: 0,
            sends: BTreeMap::new(),
            challenges: BTreeMap::new(),
            issued: Vec::new(),
            delivery_down: false,
        }
    }

    pub fn policy(&self) -> &ModelPolicy {
        &self.policy
    }

    /// Milliseconds since the start.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Keys of the challenges issued, by sequence number.
    pub fn issued(&self) -> &[Key] {
        &self.issued
    }

    /// Whether `key` has a challenge that has not been consumed or
    /// replaced by a failed send (expired or locked ones count).
    pub fn has_challenge(&self, key: Key) -> bool {
        self.challenges.contains_key(&key)
    }

    /// The sequence number of `key`'s challenge, if it has one.
    pub fn current(&self, key: Key) -> Option<usize> {
        self.challenges.get(&key).map(|c| c.seq)
    }

    /// Whether `key`'s challenge has passed its expiry.
    pub fn expired(&self, key: Key) -> bool {
        self.challenges
            .get(&key)
            .is_some_and(|c| self.now >= c.expires_at)
    }

    /// Moves time forward.
    pub fn advance(&mut self, ms: u64) {
        self.now += ms;
    }

    /// Makes every later delivery fail (or succeed again).
    pub fn set_delivery_down(&mut self, down: bool) {
        self.delivery_down = down;
    }

    fn send_allowed_at(&self, sends: &[u64], at: u64) -> bool {
        let cooled = match (sends.last(), self.policy.cooldown_ms) {
            (Some(&last), Some(cooldown)) => at >= last + cooldown,
            _ => true,
        };
        cooled
            && self
                .policy
                .limits
                .iter()
                .all(|&(count, window)| sends.iter().filter(|&&t| at < t + window).count() < count)
    }

    /// A send to `key`.
    pub fn send(&mut self, key: Key) -> Expected {
        let sends = self.sends.get(&key.0).cloned().unwrap_or_default();
        if !self.send_allowed_at(&sends, self.now) {
            let mut candidates: Vec<u64> = sends
                .iter()
                .flat_map(|&t| {
                    self.policy
                        .limits
                        .iter()
                        .map(move |&(_, w)| t + w)
                        .chain(self.policy.cooldown_ms.map(|c| t + c))
                })
                .filter(|&t| t > self.now)
                .collect();
            candidates.sort_unstable();
            // Some instant frees a slot: the last send's window ends.
            let free = candidates
                .into_iter()
                .find(|&t| self.send_allowed_at(&sends, t))
                .unwrap_or(self.now);
            return Expected::RateLimited {
                retry_after_ms: free - self.now,
            };
        }
        let now = self.now;
        let log = self.sends.entry(key.0).or_default();
        log.push(now);
        let sends_remaining = self
            .policy
            .limits
            .iter()
            .map(|&(count, window)| {
                let used = log.iter().filter(|&&t| now < t + window).count();
                (count - used) as u32
            })
            .min();
        if self.delivery_down {
            self.challenges.remove(&key);
            return Expected::ProviderUnavailable;
        }
        let seq = self.issued.len();
        self.issued.push(key);
        self.challenges.insert(
            key,
            Challenge {
                seq,
                expires_at: now + self.policy.ttl_ms,
                attempts_used: 0,
            },
        );
        Expected::Sent {
            seq,
            sends_remaining,
            attempts_remaining: self.policy.max_attempts,
            expires_in_ms: self.policy.ttl_ms,
        }
    }

    /// A verify of `key`'s challenge (by its handle `seq`, when given)
    /// with the right code or a wrong one.
    pub fn verify(&mut self, key: Key, seq: Option<usize>, right: bool) -> Expected {
        let now = self.now;
        let purge_after = self.policy.purge_after_ms;
        let max_attempts = self.policy.max_attempts;
        let Some(c) = self.challenges.get_mut(&key) else {
            return Expected::NotFound;
        };
        let purged = purge_after.is_some_and(|after| now >= c.expires_at + after);
        if seq.is_some_and(|s| s != c.seq) || purged {
            return Expected::NotFound;
        }
        if now >= c.expires_at {
            return Expected::Expired;
        }
        if c.attempts_used >= max_attempts {
            return Expected::AttemptsExceeded {
                retry_after_ms: c.expires_at - now,
            };
        }
        if right {
            self.challenges.remove(&key);
            return Expected::Verified;
        }
        c.attempts_used += 1;
        Expected::WrongCode {
            attempts_remaining: max_attempts - c.attempts_used,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ModelPolicy {
        ModelPolicy {
            ttl_ms: 1_000,
            max_attempts: 2,
            limits: vec![(2, 10_000), (3, 100_000)],
            cooldown_ms: None,
            purge_after_ms: None,
        }
    }

    #[test]
    fn wrong_codes_lock_then_every_verify_is_attempts_exceeded() {
        let mut model = Model::new(policy());
        assert!(matches!(model.send((0, 0)), Expected::Sent { seq: 0, .. }));
        assert_eq!(
            model.verify((0, 0), None, false),
            Expected::WrongCode {
                attempts_remaining: 1
            }
        );
        model.verify((0, 0), None, false);
        assert_eq!(model.verify((0, 0), None, true).name(), "attempts_exceeded");
        model.advance(1_000);
        assert_eq!(model.verify((0, 0), None, true), Expected::Expired);
    }

    #[test]
    fn every_window_holds_and_a_resend_replaces() {
        let mut model = Model::new(policy());
        model.send((0, 0));
        model.send((0, 1));
        assert_eq!(
            model.send((0, 0)),
            Expected::RateLimited {
                retry_after_ms: 10_000
            }
        );
        model.advance(10_000);
        assert!(matches!(model.send((0, 0)), Expected::Sent { seq: 2, .. }));
        assert_eq!(model.verify((0, 0), Some(0), true), Expected::NotFound);
        model.advance(10_000);
        // 3/100s: the longer window refuses until the first send leaves it.
        assert_eq!(
            model.send((0, 0)),
            Expected::RateLimited {
                retry_after_ms: 80_000
            }
        );
        assert_eq!(model.verify((0, 0), Some(2), true), Expected::Expired);
        assert_eq!(model.verify((0, 1), None, true), Expected::Expired);
    }
}
