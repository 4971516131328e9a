//! The in-memory store: the embedded default.
//!
//! State is split into 64 shards by subject (tenant + identifier), each
//! behind its own std `Mutex` — no global lock. Everything about a subject
//! lives in its shard: the send log, the challenges, the id → subject index
//! entries of those challenges, and the subject's place in the shard's
//! purge queue. So every operation, verify by id included, is decided under
//! exactly one lock, which is what makes it atomic. For that, the store
//! writes the shard number into six of the random bits of each challenge id
//! (ids stay RFC 4122 version 4 with 116 random bits).
//!
//! Memory stays flat under endless load: every shard keeps a min-heap of
//! `(deadline, subject)` — the earliest moment something of the subject can
//! go (a send leaving the longest window, a challenge reaching its purge
//! time), as mini-redis does for expiring keys. Each operation retires a
//! few due entries of the shard it touches, and the server's sweeper calls
//! [`Store::purge`] every second for the rest. Heap entries are invalidated
//! lazily: a subject remembers the deadline it is queued under and ignores
//! others.
//!
//! Each subject key (`tenant NUL identifier`) is hashed once per operation
//! with foldhash (keyed per process): the middle bits pick the shard, the
//! rest place it in the shard's `hashbrown::HashTable`, which keeps the hash
//! so growing never re-hashes a string. The key is one `Arc<str>` shared by
//! table, heap and index, so a send to a new identifier costs a handful of
//! allocations — which matters: with random identifiers every send adds a
//! subject, and fresh memory is the dearest part of a send.
//!
//! Time is the store's [`Clock`] (the wall clock unless given another),
//! read under the shard lock of each decision, so a subject's send log is
//! appended in the order its sends were decided.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use foldhash::fast::RandomState;
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use crate::engine::clock::{Clock, SystemClock};
use crate::engine::code::CodeDigest;
use crate::engine::outcome::ChallengeId;
use crate::store::{
    retry_after_ms, sends_remaining, ChallengeKey, Lookup, SendDecision, Sending, Store,
    StoreError, Subject, VerifyDecision,
};

/// Bits of a challenge id that name its shard.
const SHARD_BITS: u32 = 6;
/// Shards; a power of two well above the core count keeps the chance that
/// two requests wait on one lock small.
const SHARDS: usize = 1 << SHARD_BITS;
const SHARD_MASK: u128 = (SHARDS as u128) - 1;
/// Where in a subject's hash the shard number is taken from: above the
/// bits that place it in a table, below the bits hashbrown tags with.
const SHARD_SHIFT: u32 = 32;
/// Due heap entries each operation retires in passing.
const PURGE_BUDGET: usize = 4;
/// Subject keys are `tenant NUL identifier`; neither part holds a NUL.
const SEPARATOR: u8 = 0;
/// Keys up to this length are built on the stack for lookups.
const STACK_KEY: usize = 320;

/// The sharded in-memory store.
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    router: RandomState,
    /// The time every decision is made at.
    clock: Arc<dyn Clock>,
}

/// A subject key with its hash: how shards find subjects.
#[derive(Clone, Copy)]
struct Locator<'a> {
    hash: u64,
    key: &'a str,
}

#[derive(Default)]
struct Shard {
    subjects: HashTable<SubjectState>,
    /// Challenge id → (subject hash, subject key), for this shard's
    /// challenges.
    ids: HashMap<u128, (u64, Arc<str>), RandomState>,
    /// `(deadline, subject hash, subject key)`, earliest first.
    deadlines: BinaryHeap<Reverse<(u64, u64, Arc<str>)>>,
}

struct SubjectState {
    /// The table key, shared with heap and index entries.
    key: Arc<str>,
    hash: u64,
    /// Send times, oldest first; only those that can still matter.
    sends: VecDeque<u64>,
    /// How long a send can matter: the longest window or the cooldown.
    keep_sends_ms: u64,
    /// How many sends can matter: the largest limit count (or 1 for a
    /// cooldown); the sliding log needs no more to be exact.
    keep_sends: usize,
    /// Challenges by purpose; a subject has few purposes, so a Vec.
    challenges: Vec<(Box<str>, Stored)>,
    /// The deadline this subject is queued under in the shard's heap.
    queued: Option<u64>,
}

struct Stored {
    id: ChallengeId,
    digest: CodeDigest,
    expires_at_ms: u64,
    purge_at_ms: u64,
    max_attempts: u32,
    attempts_used: u32,
}

impl SubjectState {
    fn new(key: Arc<str>, hash: u64) -> SubjectState {
        SubjectState {
            key,
            hash,
            sends: VecDeque::new(),
            keep_sends_ms: 0,
            keep_sends: 0,
            challenges: Vec::new(),
            queued: None,
        }
    }

    fn is(&self, at: Locator<'_>) -> bool {
        self.hash == at.hash && *self.key == *at.key
    }

    fn trim_sends(&mut self, now_ms: u64) {
        while self
            .sends
            .front()
            .is_some_and(|&t| t.saturating_add(self.keep_sends_ms) <= now_ms)
        {
            self.sends.pop_front();
        }
        while self.sends.len() > self.keep_sends {
            self.sends.pop_front();
        }
    }

    fn next_deadline(&self) -> Option<u64> {
        let send = self
            .sends
            .front()
            .map(|&t| t.saturating_add(self.keep_sends_ms));
        let challenge = self.challenges.iter().map(|(_, c)| c.purge_at_ms).min();
        match (send, challenge) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn position(&self, which: Which<'_>) -> Option<usize> {
        self.challenges.iter().position(|(purpose, c)| match which {
            Which::Purpose(p) => &**purpose == p,
            Which::Id(id) => c.id == id,
        })
    }
}

/// How a verify or revoke picks a subject's challenge.
#[derive(Clone, Copy)]
enum Which<'a> {
    Purpose(&'a str),
    Id(ChallengeId),
}

impl Shard {
    fn subject(&mut self, at: Locator<'_>) -> Option<&mut SubjectState> {
        self.subjects.find_mut(at.hash, |s| s.is(at))
    }

    /// Queues the subject under its next deadline if that is earlier than
    /// the one it is queued under; forgets the subject when nothing is left.
    fn settle(&mut self, at: Locator<'_>) {
        let Some(state) = self.subject(at) else {
            return;
        };
        match state.next_deadline() {
            None => {
                if let Ok(entry) = self.subjects.find_entry(at.hash, |s| s.is(at)) {
                    entry.remove();
                }
            }
            Some(next) => {
                if state.queued.is_none_or(|queued| next < queued) {
                    state.queued = Some(next);
                    let entry = (next, state.hash, state.key.clone());
                    self.deadlines.push(Reverse(entry));
                }
            }
        }
    }

    /// Retires up to `budget` due heap entries; returns how many.
    fn purge_due(&mut self, now_ms: u64, budget: usize) -> usize {
        let mut retired = 0;
        while retired < budget {
            match self.deadlines.peek() {
                Some(Reverse((due, _, _))) if *due <= now_ms => {}
                _ => break,
            }
            let Some(Reverse((due, hash, key))) = self.deadlines.pop() else {
                break;
            };
            retired += 1;
            let at = Locator { hash, key: &key };
            let Some(state) = self.subjects.find_mut(hash, |s| s.is(at)) else {
                continue;
            };
            if state.queued != Some(due) {
                continue; // a stale entry: the subject is queued elsewhere
            }
            state.queued = None;
            state.trim_sends(now_ms);
            let ids = &mut self.ids;
            state.challenges.retain(|(_, c)| {
                let keep = c.purge_at_ms > now_ms;
                if !keep {
                    ids.remove(&c.id.as_u128());
                }
                keep
            });
            self.settle(at);
        }
        retired
    }

    /// Removes challenge `index` of the subject and its index entry.
    fn remove_challenge(&mut self, at: Locator<'_>, index: usize) {
        if let Some(state) = self.subject(at) {
            let (_, gone) = state.challenges.swap_remove(index);
            self.ids.remove(&gone.id.as_u128());
        }
    }

    /// The decision of DESIGN.md §2 for one verify, under the shard lock.
    fn verify(
        &mut self,
        at: Locator<'_>,
        which: Which<'_>,
        candidate: &CodeDigest,
        now_ms: u64,
    ) -> VerifyDecision {
        let Some(state) = self.subject(at) else {
            return VerifyDecision::NotFound;
        };
        let Some(index) = state.position(which) else {
            return VerifyDecision::NotFound;
        };
        let c = &mut state.challenges[index].1;
        let decision = if now_ms >= c.purge_at_ms {
            VerifyDecision::NotFound
        } else if now_ms >= c.expires_at_ms {
            VerifyDecision::Expired
        } else if c.attempts_used >= c.max_attempts {
            VerifyDecision::AttemptsExceeded {
                retry_after_ms: c.expires_at_ms - now_ms,
            }
        } else if c.digest.matches(candidate) {
            VerifyDecision::Verified
        } else {
            c.attempts_used += 1;
            VerifyDecision::WrongCode {
                attempts_remaining: c.max_attempts - c.attempts_used,
            }
        };
        if decision == VerifyDecision::Verified {
            self.remove_challenge(at, index);
            self.settle(at);
        }
        decision
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store on the wall clock.
    pub fn new() -> MemoryStore {
        MemoryStore::with_clock(Arc::new(SystemClock))
    }

    /// An empty store deciding by `clock` (a `ShiftedClock` in test mode,
    /// a `ManualClock` in tests).
    pub fn with_clock(clock: Arc<dyn Clock>) -> MemoryStore {
        MemoryStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            router: RandomState::default(),
            clock,
        }
    }

    /// The subject's hash and its shard's lock.
    fn locate<'k>(&self, key: &'k str) -> (Locator<'k>, MutexGuard<'_, Shard>) {
        let hash = self.router.hash_one(key);
        let shard = (hash >> SHARD_SHIFT) as usize & (SHARDS - 1);
        (Locator { hash, key }, lock(&self.shards[shard]))
    }

    /// Subjects and challenges held now (for tests and memory figures).
    pub fn footprint(&self) -> Footprint {
        let mut footprint = Footprint::default();
        for shard in self.shards.iter() {
            let shard = lock(shard);
            footprint.subjects += shard.subjects.len();
            footprint.heap_entries += shard.deadlines.len();
            footprint.indexed_ids += shard.ids.len();
            footprint.challenges += shard
                .subjects
                .iter()
                .map(|s| s.challenges.len())
                .sum::<usize>();
        }
        footprint
    }
}

/// The subject at `at`, created empty if it is new: one probe either way.
/// (A free function so the caller can still use the shard's other fields.)
fn subject_or_new<'t>(
    subjects: &'t mut HashTable<SubjectState>,
    at: Locator<'_>,
) -> &'t mut SubjectState {
    match subjects.entry(at.hash, |s| s.is(at), |s| s.hash) {
        Entry::Occupied(entry) => entry.into_mut(),
        Entry::Vacant(entry) => entry
            .insert(SubjectState::new(Arc::from(at.key), at.hash))
            .into_mut(),
    }
}

/// Calls `f` with the subject's map key (`tenant NUL identifier`), built on
/// the stack when it fits so lookups do not allocate.
fn with_key<R>(subject: &Subject, f: impl FnOnce(&str) -> R) -> R {
    let (tenant, identifier) = (subject.tenant.as_bytes(), subject.identifier.as_bytes());
    let len = tenant.len() + 1 + identifier.len();
    if len > STACK_KEY {
        return f(&format!("{}\0{}", subject.tenant, subject.identifier));
    }
    let mut buffer = [0u8; STACK_KEY];
    buffer[..tenant.len()].copy_from_slice(tenant);
    buffer[tenant.len()] = SEPARATOR;
    buffer[tenant.len() + 1..len].copy_from_slice(identifier);
    match std::str::from_utf8(&buffer[..len]) {
        Ok(key) => f(key),
        // Two strs joined by an ASCII NUL are UTF-8; this arm cannot run.
        Err(_) => f(&format!("{}\0{}", subject.tenant, subject.identifier)),
    }
}

/// Whether a subject key belongs to `tenant`.
fn of_tenant(key: &str, tenant: &str) -> bool {
    key.len() > tenant.len() && key.starts_with(tenant) && key.as_bytes()[tenant.len()] == SEPARATOR
}

/// Writes the shard number into the id's lowest bits (random in v4).
fn stamp(id: ChallengeId, shard: usize) -> ChallengeId {
    let bits = (id.as_u128() & !SHARD_MASK) | shard as u128;
    ChallengeId(uuid::Uuid::from_u128(bits))
}

/// A poisoned shard is still consistent: every mutation under the lock is
/// a sequence of infallible steps, and a panic can only come from a bug
/// elsewhere in the same thread. Keep serving rather than failing forever.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What the store holds, for tests and memory figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    pub subjects: usize,
    pub challenges: usize,
    pub indexed_ids: usize,
    pub heap_entries: usize,
}

impl Footprint {
    /// The larger of each count.
    pub fn max(self, other: Footprint) -> Footprint {
        Footprint {
            subjects: self.subjects.max(other.subjects),
            challenges: self.challenges.max(other.challenges),
            indexed_ids: self.indexed_ids.max(other.indexed_ids),
            heap_entries: self.heap_entries.max(other.heap_entries),
        }
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn send(&self, sending: Sending<'_>) -> Result<SendDecision, StoreError> {
        let Sending(key, challenge, rules) = sending;
        Ok(with_key(&key.subject, |subject_key| {
            let (at, mut guard) = self.locate(subject_key);
            let now_ms = self.clock.now_ms();
            let shard_number = (at.hash >> SHARD_SHIFT) as usize & (SHARDS - 1);
            let shard = &mut *guard;
            shard.purge_due(now_ms, PURGE_BUDGET);
            let state = subject_or_new(&mut shard.subjects, at);
            state.keep_sends_ms = rules
                .limits
                .iter()
                .map(|l| l.window_ms())
                .chain(rules.cooldown_ms)
                .max()
                .unwrap_or(0);
            state.keep_sends = rules
                .limits
                .iter()
                .map(|l| l.count as usize)
                .chain(rules.cooldown_ms.map(|_| 1))
                .max()
                .unwrap_or(0);
            state.trim_sends(now_ms);
            let decision = match retry_after_ms(state.sends.make_contiguous(), rules, now_ms) {
                Some(retry_after_ms) => SendDecision::Limited { retry_after_ms },
                None => {
                    if state.sends.len() == state.sends.capacity() {
                        // Grow one or two at a time, not by doubling from
                        // four: one send per subject is the usual case.
                        state.sends.reserve_exact(state.sends.len().clamp(1, 2));
                    }
                    state.sends.push_back(now_ms);
                    state.trim_sends(now_ms);
                    let id = stamp(challenge.id, shard_number);
                    let stored = Stored {
                        id,
                        digest: challenge.digest,
                        expires_at_ms: now_ms.saturating_add(challenge.ttl_ms),
                        purge_at_ms: now_ms.saturating_add(challenge.purge_after_ms),
                        max_attempts: challenge.max_attempts,
                        attempts_used: 0,
                    };
                    match state.position(Which::Purpose(&key.purpose)) {
                        Some(old) => {
                            let replaced = std::mem::replace(&mut state.challenges[old].1, stored);
                            shard.ids.remove(&replaced.id.as_u128());
                        }
                        None => {
                            // Most subjects hold one challenge: grow by one,
                            // not to the default of four (88 bytes each).
                            state.challenges.reserve_exact(1);
                            state.challenges.push((key.purpose.as_str().into(), stored));
                        }
                    }
                    let entry = (state.hash, state.key.clone());
                    let sends_remaining =
                        sends_remaining(state.sends.make_contiguous(), rules.limits, now_ms);
                    shard.ids.insert(id.as_u128(), entry);
                    SendDecision::Stored {
                        id,
                        sends_remaining,
                    }
                }
            };
            shard.settle(at);
            decision
        }))
    }

    async fn verify(
        &self,
        lookup: Lookup<'_>,
        candidate: &CodeDigest,
    ) -> Result<VerifyDecision, StoreError> {
        Ok(match lookup {
            Lookup::Key(key) => with_key(&key.subject, |subject_key| {
                let (at, mut shard) = self.locate(subject_key);
                let now_ms = self.clock.now_ms();
                shard.purge_due(now_ms, PURGE_BUDGET);
                shard.verify(at, Which::Purpose(&key.purpose), candidate, now_ms)
            }),
            Lookup::Id { tenant, id } => {
                let mut shard = lock(&self.shards[(id.as_u128() & SHARD_MASK) as usize]);
                let now_ms = self.clock.now_ms();
                shard.purge_due(now_ms, PURGE_BUDGET);
                match shard.ids.get(&id.as_u128()).cloned() {
                    Some((hash, key)) if of_tenant(&key, tenant) => {
                        let at = Locator { hash, key: &key };
                        shard.verify(at, Which::Id(id), candidate, now_ms)
                    }
                    _ => VerifyDecision::NotFound,
                }
            }
        })
    }

    async fn revoke(&self, key: &ChallengeKey, id: ChallengeId) -> Result<(), StoreError> {
        with_key(&key.subject, |subject_key| {
            let (at, mut shard) = self.locate(subject_key);
            let index = shard.subject(at).and_then(|state| {
                state
                    .position(Which::Id(id))
                    .filter(|&i| *state.challenges[i].0 == key.purpose)
            });
            if let Some(index) = index {
                shard.remove_challenge(at, index);
            }
            shard.settle(at);
        });
        Ok(())
    }

    async fn purge(&self) -> Result<usize, StoreError> {
        Ok(self
            .shards
            .iter()
            .map(|shard| {
                let mut shard = lock(shard);
                shard.purge_due(self.clock.now_ms(), usize::MAX)
            })
            .sum())
    }

    async fn reset(&self) -> Result<(), StoreError> {
        for shard in self.shards.iter() {
            *lock(shard) = Shard::default();
        }
        Ok(())
    }

    async fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn now_ms(&self) -> Result<u64, StoreError> {
        Ok(self.clock.now_ms())
    }

    async fn advance_clock(&self, ms: u64) -> Result<Option<u64>, StoreError> {
        Ok(self.clock.advance_ms(ms))
    }

    fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::clock::ManualClock;
    use crate::engine::code::CodeHasher;
    use crate::engine::policy::SendLimit;
    use crate::store::{NewChallenge, SendRules};
    use std::time::Duration;

    #[test]
    fn stamped_ids_stay_version_4_and_name_their_shard() {
        for shard in [0, 1, 37, SHARDS - 1] {
            let id = stamp(ChallengeId::random(), shard);
            assert_eq!(id.0.get_version_num(), 4);
            assert_eq!(id.0.get_variant(), uuid::Variant::RFC4122);
            assert_eq!((id.as_u128() & SHARD_MASK) as usize, shard);
        }
    }

    #[test]
    fn subject_keys_separate_tenants() {
        let subject = Subject {
            tenant: "native".into(),
            identifier: "+1".into(),
        };
        with_key(&subject, |key| {
            assert!(of_tenant(key, "native"));
            assert!(!of_tenant(key, "nativ"));
            assert!(!of_tenant(key, "native2"));
        });
        let long = Subject {
            tenant: "t".into(),
            identifier: "x".repeat(400),
        };
        assert_eq!(with_key(&long, |key| key.len()), 402);
    }

    impl MemoryStore {
        fn footprint_if(&self, take: bool) -> Footprint {
            if take {
                self.footprint()
            } else {
                Footprint::default()
            }
        }
    }

    fn key(identifier: String) -> ChallengeKey {
        ChallengeKey {
            subject: Subject {
                tenant: "t".into(),
                identifier,
            },
            purpose: "login".into(),
        }
    }

    fn challenge() -> NewChallenge {
        NewChallenge {
            id: ChallengeId::random(),
            digest: CodeHasher::new(b"k").digest("123456"),
            ttl_ms: 300_000,
            purge_after_ms: 600_000,
            max_attempts: 3,
        }
    }

    /// Endless sends to fresh identifiers: what the store holds levels off
    /// at what fits in its horizons (a send matters for the 1 h window, a
    /// challenge until its purge time 10 min after sending) instead of
    /// growing with the number of sends.
    #[tokio::test]
    async fn memory_stays_flat_under_endless_sends() {
        const PER_SECOND: u64 = 5;
        const SAMPLE_EVERY_S: u64 = 600;
        let clock = Arc::new(ManualClock::new(1_000_000));
        let store = MemoryStore::with_clock(clock.clone());
        let limits = [SendLimit {
            count: 5,
            window: Duration::from_secs(3600),
        }];
        let rules = SendRules {
            limits: &limits,
            cooldown_ms: None,
        };
        let mut peaks = Vec::new();
        for round in 0..3 {
            let mut peak = Footprint::default();
            for second in 0..7_200u64 {
                for n in 0..PER_SECOND {
                    let identifier = format!("+1{round}{second:06}{n}");
                    let key = key(identifier);
                    let decision = store.send(Sending(&key, challenge(), rules)).await;
                    assert!(matches!(decision, Ok(SendDecision::Stored { .. })));
                }
                clock.advance_ms(1_000);
                if second % SAMPLE_EVERY_S == 0 {
                    store.purge().await.unwrap();
                }
                let now = store.footprint_if(second % 60 == 0);
                peak = peak.max(now);
            }
            peaks.push(peak);
        }
        let slack = SAMPLE_EVERY_S * PER_SECOND; // between two sweeps
        let subjects = (3_600 * PER_SECOND + slack) as usize;
        let challenges = (600 * PER_SECOND + slack) as usize;
        for peak in &peaks[1..] {
            assert!(peak.subjects <= subjects, "{peaks:?}");
            assert!(peak.heap_entries <= subjects, "{peaks:?}");
            assert!(peak.challenges <= challenges, "{peaks:?}");
            assert!(peak.indexed_ids <= challenges, "{peaks:?}");
        }
        // Round 0 fills up to the horizon; later rounds hold the level.
        assert!(
            peaks[0].subjects >= (3_600 * PER_SECOND) as usize,
            "{peaks:?}"
        );
        let growth = peaks[2].subjects as f64 / peaks[1].subjects as f64;
        assert!(growth < 1.01, "still growing: {peaks:?}");
    }

    #[tokio::test]
    async fn verified_and_revoked_challenges_leave_no_index_entry() {
        let clock = Arc::new(ManualClock::new(0));
        let store = MemoryStore::with_clock(clock.clone());
        let rules = SendRules {
            limits: &[],
            cooldown_ms: None,
        };
        let stored_id = |decision| match decision {
            Ok(SendDecision::Stored { id, .. }) => id,
            other => panic!("{other:?}"),
        };
        let first_id = stored_id(
            store
                .send(Sending(&key("+1".into()), challenge(), rules))
                .await,
        );
        // Replacing unindexes the old id; revoking unindexes the new one.
        let second = store
            .send(Sending(&key("+1".into()), challenge(), rules))
            .await;
        let second_id = stored_id(second);
        assert_eq!(store.footprint().indexed_ids, 1);
        store.revoke(&key("+1".into()), first_id).await.unwrap();
        let left = store.footprint();
        assert_eq!(left.challenges, 1, "revoking a replaced id is a no-op");
        store.revoke(&key("+1".into()), second_id).await.unwrap();
        let left = store.footprint();
        assert_eq!((left.challenges, left.indexed_ids), (0, 0));
        clock.advance_ms(u64::MAX / 2);
        store.purge().await.unwrap();
        assert_eq!(store.footprint(), Footprint::default());
    }
}
