//! Store decorators that get challenges wrong, each the way a shipped
//! OTP service did: expiry judged late, no attempt cap, purposes mixed
//! up, old codes kept alive by a resend, a code looked up without its
//! recipient, a code not consumed, single use and the attempt counter
//! raced, the attempt counter kept per recipient instead of per code.
//!
//! Each decides through the inner store's calls and what it noted of the
//! challenges it saw stored (a [`Ledger`]); none touches the engine.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::engine::code::CodeDigest;
use crate::engine::outcome::ChallengeId;
use crate::mutants::decorate::{
    lock, note_send, Decorator, Ledger, RevokeCall, Revoked, SendCall, Sent, Verdict, VerifyCall,
    ROUND_TRIP,
};
use crate::store::{ChallengeKey, Lookup, NewChallenge, SendDecision, Sending, VerifyDecision};

/// How late [`LateExpiry`] judges expiry.
const EXPIRY_SLACK_MS: u64 = 60_000;
/// The one purpose [`OnePurpose`] keeps every challenge under.
const THE_PURPOSE: &str = "otp";
/// How many earlier codes per key [`OldCodesStayValid`] keeps.
const KEPT_CODES: usize = 16;

/// Stores the ttl a minute long: codes are still accepted for a minute
/// after they should have expired (an expiry check that adds a grace
/// period, or compares against the wrong timestamp).
pub(crate) struct LateExpiry;

#[async_trait]
impl Decorator for LateExpiry {
    async fn send(&self, SendCall(inner, key, mut challenge, rules): SendCall<'_>) -> Sent {
        challenge.ttl_ms = challenge.ttl_ms.saturating_add(EXPIRY_SLACK_MS);
        challenge.purge_after_ms = challenge.purge_after_ms.saturating_add(EXPIRY_SLACK_MS);
        inner.send(Sending(key, challenge, rules)).await
    }
}

/// Never locks a challenge: wrong codes are counted nowhere, so a code
/// can be guessed for as long as it lives.
pub(crate) struct NoAttemptCap;

#[async_trait]
impl Decorator for NoAttemptCap {
    async fn send(&self, SendCall(inner, key, mut challenge, rules): SendCall<'_>) -> Sent {
        challenge.max_attempts = u32::MAX;
        inner.send(Sending(key, challenge, rules)).await
    }
}

/// Keys challenges by recipient alone: a code for one purpose (REES46
/// `event`, native `purpose`) replaces the other purposes' codes and
/// verifies under any of them.
pub(crate) struct OnePurpose;

fn one_purpose(key: &ChallengeKey) -> ChallengeKey {
    ChallengeKey {
        subject: key.subject.clone(),
        purpose: THE_PURPOSE.to_string(),
    }
}

#[async_trait]
impl Decorator for OnePurpose {
    async fn send(&self, SendCall(inner, key, challenge, rules): SendCall<'_>) -> Sent {
        inner
            .send(Sending(&one_purpose(key), challenge, rules))
            .await
    }

    async fn verify(&self, VerifyCall(inner, lookup, candidate): VerifyCall<'_>) -> Verdict {
        match lookup {
            Lookup::Key(key) => {
                inner
                    .verify(Lookup::Key(&one_purpose(key)), candidate)
                    .await
            }
            by_id => inner.verify(by_id, candidate).await,
        }
    }

    async fn revoke(&self, RevokeCall(inner, key, id): RevokeCall<'_>) -> Revoked {
        inner.revoke(&one_purpose(key), id).await
    }
}

/// A resend adds a code instead of replacing it: every code sent to the
/// recipient (for the purpose) and not yet used or expired verifies —
/// codes kept in a list, and the verify looks for the typed one among
/// them (a code that matches none counts against the newest).
#[derive(Default)]
pub(crate) struct OldCodesStayValid {
    /// Each key's codes, oldest first.
    slots: Mutex<HashMap<ChallengeKey, Vec<Slot>>>,
    next_slot: AtomicU64,
}

/// One of a key's codes: the key it is stored under, its id and digest.
#[derive(Clone)]
struct Slot {
    key: ChallengeKey,
    id: ChallengeId,
    digest: CodeDigest,
}

#[async_trait]
impl Decorator for OldCodesStayValid {
    async fn send(&self, SendCall(inner, key, challenge, rules): SendCall<'_>) -> Sent {
        // Each code under a key of its own; limits count per subject, so
        // the codes share them.
        let slot = ChallengeKey {
            subject: key.subject.clone(),
            purpose: format!(
                "{}#{}",
                key.purpose,
                self.next_slot.fetch_add(1, Ordering::Relaxed)
            ),
        };
        let digest = challenge.digest;
        let decision = inner.send(Sending(&slot, challenge, rules)).await?;
        if let SendDecision::Stored { id, .. } = decision {
            let mut slots = lock(&self.slots);
            let codes = slots.entry(key.clone()).or_default();
            codes.push(Slot {
                key: slot,
                id,
                digest,
            });
            if codes.len() > KEPT_CODES {
                codes.remove(0);
            }
        }
        Ok(decision)
    }

    async fn verify(&self, VerifyCall(inner, lookup, candidate): VerifyCall<'_>) -> Verdict {
        let slot = match lookup {
            Lookup::Id { tenant, id } => {
                self.slot(|slot| slot.id == id && slot.key.subject.tenant == tenant)
            }
            Lookup::Key(key) => {
                let codes = lock(&self.slots).get(key).cloned().unwrap_or_default();
                let matching = codes.iter().rev().find(|s| s.digest.matches(candidate));
                matching.or(codes.last()).cloned()
            }
        };
        let decision = match &slot {
            Some(slot) => inner.verify(Lookup::Key(&slot.key), candidate).await?,
            None => inner.verify(lookup, candidate).await?,
        };
        if let (VerifyDecision::Verified, Some(slot)) = (decision, slot) {
            self.drop_id(slot.id);
        }
        Ok(decision)
    }

    async fn revoke(&self, RevokeCall(inner, key, id): RevokeCall<'_>) -> Revoked {
        match self.slot(|slot| slot.id == id) {
            Some(slot) => {
                inner.revoke(&slot.key, id).await?;
                self.drop_id(id);
                Ok(())
            }
            None => inner.revoke(key, id).await,
        }
    }

    async fn forget(&self) {
        lock(&self.slots).clear();
    }
}

impl OldCodesStayValid {
    fn slot(&self, which: impl Fn(&Slot) -> bool) -> Option<Slot> {
        let slots = lock(&self.slots);
        let found = slots.values().flatten().find(|slot| which(slot)).cloned();
        found
    }

    fn drop_id(&self, id: ChallengeId) {
        for codes in lock(&self.slots).values_mut() {
            codes.retain(|slot| slot.id != id);
        }
    }
}

/// Finds the challenge by its code within the tenant, not by the
/// recipient the verify names (`WHERE code_hash = ?`): a code sent to
/// one recipient verifies another recipient's challenge.
#[derive(Default)]
pub(crate) struct CodeFindsChallenge {
    ledger: Mutex<Ledger>,
}

#[async_trait]
impl Decorator for CodeFindsChallenge {
    fn ledger(&self) -> Option<&Mutex<Ledger>> {
        Some(&self.ledger)
    }

    async fn verify(&self, VerifyCall(inner, lookup, candidate): VerifyCall<'_>) -> Verdict {
        let tenant = match lookup {
            Lookup::Id { tenant, .. } => tenant,
            Lookup::Key(key) => key.subject.tenant.as_str(),
        };
        let found = {
            let ledger = lock(&self.ledger);
            let named = ledger.id_of(lookup);
            let found = ledger
                .iter()
                .find(|(id, noted)| {
                    Some(**id) != named
                        && noted.key.subject.tenant == tenant
                        && noted.digest.matches(candidate)
                })
                .map(|(id, noted)| (*id, noted.key.clone()));
            found
        };
        let decision = match &found {
            Some((_, key)) => inner.verify(Lookup::Key(key), candidate).await?,
            None => inner.verify(lookup, candidate).await?,
        };
        if decision == VerifyDecision::Verified {
            let mut ledger = lock(&self.ledger);
            match found {
                Some((id, _)) => ledger.take(id),
                None => ledger.id_of(lookup).and_then(|id| ledger.take(id)),
            };
        }
        Ok(decision)
    }
}

/// Marks a verified code used but never checks the mark: the code keeps
/// verifying until it expires.
#[derive(Default)]
pub(crate) struct UsedCodesStayValid {
    ledger: Mutex<Ledger>,
    /// Challenges the store consumed, still noted here.
    used: Mutex<Vec<ChallengeId>>,
}

#[async_trait]
impl Decorator for UsedCodesStayValid {
    fn ledger(&self) -> Option<&Mutex<Ledger>> {
        Some(&self.ledger)
    }

    async fn verify(&self, VerifyCall(inner, lookup, candidate): VerifyCall<'_>) -> Verdict {
        let decision = inner.verify(lookup, candidate).await?;
        let id = lock(&self.ledger).id_of(lookup);
        let Some(id) = id else {
            return Ok(decision);
        };
        match decision {
            VerifyDecision::Verified => lock(&self.used).push(id),
            VerifyDecision::NotFound if lock(&self.used).contains(&id) => {
                let now = inner.now_ms().await?;
                let again = lock(&self.ledger).get(id).is_some_and(|noted| {
                    noted.digest.matches(candidate) && now < noted.expires_at_ms
                });
                if again {
                    return Ok(VerifyDecision::Verified);
                }
            }
            _ => {}
        }
        Ok(decision)
    }

    async fn forget(&self) {
        lock(&self.ledger).clear();
        lock(&self.used).clear();
    }
}

/// Single use as read, compare, then delete — a round trip apart, and
/// the delete's result unchecked: verifies of the right code that arrive
/// together all pass.
#[derive(Default)]
pub(crate) struct CompareThenDelete {
    ledger: Mutex<Ledger>,
}

#[async_trait]
impl Decorator for CompareThenDelete {
    fn ledger(&self) -> Option<&Mutex<Ledger>> {
        Some(&self.ledger)
    }

    async fn verify(&self, VerifyCall(inner, lookup, candidate): VerifyCall<'_>) -> Verdict {
        let now = inner.now_ms().await?;
        let read = {
            let ledger = lock(&self.ledger);
            ledger.id_of(lookup).and_then(|id| {
                let noted = ledger.get(id)?;
                let live = now < noted.expires_at_ms && noted.attempts_remaining > 0;
                (live && noted.digest.matches(candidate)).then_some(id)
            })
        };
        let Some(id) = read else {
            let decision = inner.verify(lookup, candidate).await?;
            note_verify(&self.ledger, lookup, decision);
            return Ok(decision);
        };
        // The code matched what was read: delete, and call it verified
        // whatever the delete found.
        tokio::time::sleep(ROUND_TRIP).await;
        let _deleted = inner.verify(lookup, candidate).await?;
        lock(&self.ledger).take(id);
        Ok(VerifyDecision::Verified)
    }
}

/// Reads the attempt counter, compares the code, then writes the counter
/// back as read + 1 — a round trip later: wrong codes that arrive
/// together each use "the same" attempt, so many more than the cap are
/// tried.
#[derive(Default)]
pub(crate) struct ReadThenCountAttempt {
    ledger: Mutex<Ledger>,
}

#[async_trait]
impl Decorator for ReadThenCountAttempt {
    fn ledger(&self) -> Option<&Mutex<Ledger>> {
        Some(&self.ledger)
    }

    async fn send(&self, SendCall(inner, key, challenge, rules): SendCall<'_>) -> Sent {
        let now = inner.now_ms().await?;
        // The store never locks: the counter is kept here.
        let counted_here = NewChallenge {
            max_attempts: u32::MAX,
            ..challenge.clone()
        };
        let decision = inner.send(Sending(key, counted_here, rules)).await?;
        if let SendDecision::Stored { id, .. } = decision {
            lock(&self.ledger).note(id, key, &challenge, now);
        }
        Ok(decision)
    }

    async fn verify(&self, VerifyCall(inner, lookup, candidate): VerifyCall<'_>) -> Verdict {
        let now = inner.now_ms().await?;
        let read = {
            let ledger = lock(&self.ledger);
            ledger.id_of(lookup).and_then(|id| {
                let noted = ledger.get(id)?;
                let used = noted.max_attempts - noted.attempts_remaining;
                Some((id, used, noted.max_attempts, noted.expires_at_ms))
            })
        };
        let Some((id, used, max, expires_at_ms)) = read else {
            return inner.verify(lookup, candidate).await;
        };
        if now < expires_at_ms && used >= max {
            return Ok(VerifyDecision::AttemptsExceeded {
                retry_after_ms: expires_at_ms - now,
            });
        }
        tokio::time::sleep(ROUND_TRIP).await;
        let decision = inner.verify(lookup, candidate).await?;
        let mut ledger = lock(&self.ledger);
        match decision {
            VerifyDecision::WrongCode { .. } => {
                let remaining = max - (used + 1).min(max);
                if let Some(noted) = ledger.get_mut(id) {
                    noted.attempts_remaining = remaining;
                }
                Ok(VerifyDecision::WrongCode {
                    attempts_remaining: remaining,
                })
            }
            VerifyDecision::Verified => {
                ledger.take(id);
                Ok(decision)
            }
            other => Ok(other),
        }
    }
}

/// Counts wrong codes per recipient and purpose instead of per code, and
/// resets the count only on success: a new send does not give the
/// attempts back.
#[derive(Default)]
pub(crate) struct AttemptsOutliveCodes {
    /// Wrong codes per key since its last success.
    wrong: Mutex<HashMap<ChallengeKey, u32>>,
    /// Which key each stored challenge belongs to.
    ledger: Mutex<Ledger>,
}

#[async_trait]
impl Decorator for AttemptsOutliveCodes {
    async fn send(&self, SendCall(inner, key, mut challenge, rules): SendCall<'_>) -> Sent {
        let used = lock(&self.wrong).get(key).copied().unwrap_or(0);
        challenge.max_attempts = challenge.max_attempts.saturating_sub(used);
        note_send(&self.ledger, inner, key, challenge, rules).await
    }

    async fn verify(&self, VerifyCall(inner, lookup, candidate): VerifyCall<'_>) -> Verdict {
        let decision = inner.verify(lookup, candidate).await?;
        let key = {
            let ledger = lock(&self.ledger);
            ledger
                .id_of(lookup)
                .and_then(|id| ledger.get(id))
                .map(|noted| noted.key.clone())
        };
        if let Some(key) = key {
            let mut wrong = lock(&self.wrong);
            match decision {
                VerifyDecision::WrongCode { .. } => *wrong.entry(key).or_default() += 1,
                VerifyDecision::Verified => {
                    wrong.remove(&key);
                }
                _ => {}
            }
        }
        Ok(decision)
    }

    async fn forget(&self) {
        lock(&self.wrong).clear();
        lock(&self.ledger).clear();
    }
}

/// What a verify the store decided changes in the notes.
fn note_verify(ledger: &Mutex<Ledger>, lookup: Lookup<'_>, decision: VerifyDecision) {
    let mut ledger = lock(ledger);
    let Some(id) = ledger.id_of(lookup) else {
        return;
    };
    match decision {
        VerifyDecision::Verified | VerifyDecision::NotFound => {
            ledger.take(id);
        }
        VerifyDecision::WrongCode { attempts_remaining } => {
            if let Some(noted) = ledger.get_mut(id) {
                noted.attempts_remaining = attempts_remaining;
            }
        }
        VerifyDecision::AttemptsExceeded { .. } => {
            if let Some(noted) = ledger.get_mut(id) {
                noted.attempts_remaining = 0;
            }
        }
        VerifyDecision::Expired => {}
    }
}
