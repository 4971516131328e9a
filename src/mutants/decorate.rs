//! Store decorators: a [`Decorator`] changes how some decisions are made
//! and [`Decorated`] puts it around any [`Store`] (memory or Redis),
//! passing everything else through. A decorator decides only through the
//! inner store's own calls and what it notes on the way (ids, keys and
//! digests of challenges it saw stored); it must never reach into a
//! store's state.
//!
//! Also the small bookkeeping most challenge decorators share
//! ([`Ledger`]): which challenge a lookup names, its digest, when it
//! expires.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;

use crate::engine::clock::Clock;
use crate::engine::code::CodeDigest;
use crate::engine::outcome::ChallengeId;
use crate::store::{
    ChallengeKey, Lookup, NewChallenge, SendDecision, SendRules, Sending, Store, StoreError,
    VerifyDecision,
};

/// The pause a check-then-act decorator leaves between reading state and
/// writing it back: what the buggy services that shipped these races did
/// between the two (a database round trip, a call to the SMS gateway),
/// widened to 50 ms so that requests a scenario starts together — which
/// reach the engine a few milliseconds apart on a loaded machine — always
/// meet inside it. The bug is the two steps; the width only makes the
/// race show every time, not now and then.
pub(crate) const ROUND_TRIP: Duration = Duration::from_millis(50);

/// A send as the decorated store received it, with the store inside:
/// `(inner, key, challenge, rules)`.
pub(crate) struct SendCall<'a>(
    pub &'a dyn Store,
    pub &'a ChallengeKey,
    pub NewChallenge,
    pub SendRules<'a>,
);

/// A verify as the decorated store received it, with the store inside:
/// `(inner, lookup, candidate)`.
pub(crate) struct VerifyCall<'a>(pub &'a dyn Store, pub Lookup<'a>, pub &'a CodeDigest);

/// A revoke as the decorated store received it, with the store inside:
/// `(inner, key, id)`.
pub(crate) struct RevokeCall<'a>(pub &'a dyn Store, pub &'a ChallengeKey, pub ChallengeId);

/// What a send, a verify and a revoke answer.
pub(crate) type Sent = Result<SendDecision, StoreError>;
pub(crate) type Verdict = Result<VerifyDecision, StoreError>;
pub(crate) type Revoked = Result<(), StoreError>;

/// How a decorator changes the store's decisions. Every method defaults
/// to passing the call through; a decorator with a [`Ledger`] (see
/// [`Decorator::ledger`]) has the challenges it saw stored noted there.
#[async_trait]
pub(crate) trait Decorator: Send + Sync + 'static {
    /// The notes this decorator keeps of stored challenges, if any: the
    /// default `send` notes each challenge the store stored, and the
    /// default `forget` clears them.
    fn ledger(&self) -> Option<&Mutex<Ledger>> {
        None
    }

    async fn send(&self, SendCall(inner, key, challenge, rules): SendCall<'_>) -> Sent {
        match self.ledger() {
            Some(ledger) => note_send(ledger, inner, key, challenge, rules).await,
            None => inner.send(Sending(key, challenge, rules)).await,
        }
    }

    async fn verify(&self, VerifyCall(inner, lookup, candidate): VerifyCall<'_>) -> Verdict {
        inner.verify(lookup, candidate).await
    }

    async fn revoke(&self, RevokeCall(inner, key, id): RevokeCall<'_>) -> Revoked {
        inner.revoke(key, id).await
    }

    /// Forgets what the decorator noted (the store was reset).
    async fn forget(&self) {
        if let Some(ledger) = self.ledger() {
            lock(ledger).clear();
        }
    }
}

/// A send passed to the store, and the challenge noted when it was
/// stored.
pub(crate) async fn note_send(
    ledger: &Mutex<Ledger>,
    inner: &dyn Store,
    key: &ChallengeKey,
    challenge: NewChallenge,
    rules: SendRules<'_>,
) -> Result<SendDecision, StoreError> {
    let now = inner.now_ms().await?;
    let decision = inner.send(Sending(key, challenge.clone(), rules)).await?;
    if let SendDecision::Stored { id, .. } = decision {
        lock(ledger).note(id, key, &challenge, now);
    }
    Ok(decision)
}

/// A store whose decisions `decorator` changes.
pub(crate) struct Decorated<D> {
    inner: Arc<dyn Store>,
    decorator: D,
}

impl<D: Decorator> Decorated<D> {
    pub fn wrap(inner: Arc<dyn Store>, decorator: D) -> Arc<dyn Store> {
        Arc::new(Decorated { inner, decorator })
    }
}

#[async_trait]
impl<D: Decorator> Store for Decorated<D> {
    async fn send(&self, sending: Sending<'_>) -> Result<SendDecision, StoreError> {
        let Sending(key, challenge, rules) = sending;
        let call = SendCall(&*self.inner, key, challenge, rules);
        self.decorator.send(call).await
    }

    async fn verify(
        &self,
        lookup: Lookup<'_>,
        candidate: &CodeDigest,
    ) -> Result<VerifyDecision, StoreError> {
        let call = VerifyCall(&*self.inner, lookup, candidate);
        self.decorator.verify(call).await
    }

    async fn revoke(&self, key: &ChallengeKey, id: ChallengeId) -> Result<(), StoreError> {
        let call = RevokeCall(&*self.inner, key, id);
        self.decorator.revoke(call).await
    }

    async fn purge(&self) -> Result<usize, StoreError> {
        self.inner.purge().await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.decorator.forget().await;
        self.inner.reset().await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.inner.health().await
    }

    async fn now_ms(&self) -> Result<u64, StoreError> {
        self.inner.now_ms().await
    }

    async fn advance_clock(&self, ms: u64) -> Result<Option<u64>, StoreError> {
        self.inner.advance_clock(ms).await
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.inner.clock()
    }
}

/// What a decorator noted about one stored challenge.
#[derive(Debug, Clone)]
pub(crate) struct Noted {
    pub key: ChallengeKey,
    pub digest: CodeDigest,
    /// The store's time at which it expires.
    pub expires_at_ms: u64,
    pub max_attempts: u32,
    /// Attempts left, as the store last answered.
    pub attempts_remaining: u32,
}

/// The challenges a decorator saw stored, by id and by key (the key's
/// newest only). Bounded by the engine's purge horizon: entries are
/// dropped when their key gets a new challenge or they are taken out.
#[derive(Default)]
pub(crate) struct Ledger {
    by_id: HashMap<ChallengeId, Noted>,
    by_key: HashMap<ChallengeKey, ChallengeId>,
}

impl Ledger {
    /// Notes a challenge the store just stored under `id`; the key's
    /// previous one is forgotten.
    pub fn note(
        &mut self,
        id: ChallengeId,
        key: &ChallengeKey,
        challenge: &NewChallenge,
        now_ms: u64,
    ) {
        if let Some(old) = self.by_key.insert(key.clone(), id) {
            self.by_id.remove(&old);
        }
        self.by_id.insert(
            id,
            Noted {
                key: key.clone(),
                digest: challenge.digest,
                expires_at_ms: now_ms.saturating_add(challenge.ttl_ms),
                max_attempts: challenge.max_attempts,
                attempts_remaining: challenge.max_attempts,
            },
        );
    }

    /// The id a lookup names, if this ledger noted it.
    pub fn id_of(&self, lookup: Lookup<'_>) -> Option<ChallengeId> {
        match lookup {
            Lookup::Id { tenant, id } => self
                .by_id
                .get(&id)
                .filter(|noted| noted.key.subject.tenant == tenant)
                .map(|_| id),
            Lookup::Key(key) => self.by_key.get(key).copied(),
        }
    }

    pub fn get(&self, id: ChallengeId) -> Option<&Noted> {
        self.by_id.get(&id)
    }

    pub fn get_mut(&mut self, id: ChallengeId) -> Option<&mut Noted> {
        self.by_id.get_mut(&id)
    }

    /// Forgets a challenge.
    pub fn take(&mut self, id: ChallengeId) -> Option<Noted> {
        let noted = self.by_id.remove(&id)?;
        if self.by_key.get(&noted.key) == Some(&id) {
            self.by_key.remove(&noted.key);
        }
        Some(noted)
    }

    /// Every noted challenge.
    pub fn iter(&self) -> impl Iterator<Item = (&ChallengeId, &Noted)> {
        self.by_id.iter()
    }

    pub fn clear(&mut self) {
        self.by_id.clear();
        self.by_key.clear();
    }
}

/// Locks a decorator's bookkeeping; a panic elsewhere never poisons it
/// for good (the data is notes, not invariants).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
