//! The store decorators at the store's edge, where no scenario reaches:
//! each defect shows (races with many tasks on one key), and what a
//! decorator does not break still behaves as the store does. The wire
//! side is `tests/it/mutants.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::client::TargetSpec;
use crate::dialect::Dialect;
use crate::engine::clock::ManualClock;
use crate::engine::code::{CodeDigest, CodeHasher};
use crate::engine::outcome::ChallengeId;
use crate::engine::policy::SendLimit;
use crate::mutants::challenges::{
    AttemptsOutliveCodes, CompareThenDelete, OldCodesStayValid, ReadThenCountAttempt,
};
use crate::mutants::decorate::{Decorated, Decorator};
use crate::mutants::limits::{CountThenRecord, FailedSendsUncounted, RefusalBurnsCode};
use crate::mutants::{Mutant, MUTANTS};
use crate::store::memory::MemoryStore;
use crate::store::{
    ChallengeKey, Lookup, NewChallenge, SendDecision, SendRules, Sending, Store, Subject,
    VerifyDecision,
};

const TENANT: &str = "native";
const LIMITS: [SendLimit; 1] = [SendLimit {
    count: 5,
    window: Duration::from_secs(3600),
}];
const RULES: SendRules<'static> = SendRules {
    limits: &LIMITS,
    cooldown_ms: None,
};

fn store(decorator: impl Decorator) -> Arc<dyn Store> {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    Decorated::wrap(Arc::new(MemoryStore::with_clock(clock)), decorator)
}

fn key(to: &str) -> ChallengeKey {
    ChallengeKey {
        subject: Subject {
            tenant: TENANT.into(),
            identifier: to.into(),
        },
        purpose: "login".into(),
    }
}

fn digest(code: &str) -> CodeDigest {
    CodeHasher::new(b"mutant tests").digest(code)
}

fn challenge(code: &str) -> NewChallenge {
    NewChallenge {
        id: ChallengeId::random(),
        digest: digest(code),
        ttl_ms: 300_000,
        purge_after_ms: 600_000,
        max_attempts: 3,
    }
}

async fn send(store: &Arc<dyn Store>, to: &str, code: &str) -> SendDecision {
    store
        .send(Sending(&key(to), challenge(code), RULES))
        .await
        .unwrap()
}

fn stored(decision: SendDecision) -> ChallengeId {
    match decision {
        SendDecision::Stored { id, .. } => id,
        other => panic!("not stored: {other:?}"),
    }
}

async fn verify(store: &Arc<dyn Store>, to: &str, code: &str) -> VerifyDecision {
    let key = key(to);
    store
        .verify(Lookup::Key(&key), &digest(code))
        .await
        .unwrap()
}

/// `n` calls of `op` at once on the multi-thread runtime, counted by
/// what they decided.
async fn race<T, F, Fut>(n: usize, op: F) -> BTreeMap<String, usize>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
    T: std::fmt::Debug + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|_| tokio::spawn(op())).collect();
    let mut counts = BTreeMap::new();
    for task in tasks {
        let decided = format!("{:?}", task.await.unwrap());
        let name = decided.split([' ', '{']).next().unwrap_or("").to_string();
        *counts.entry(name).or_default() += 1;
    }
    counts
}

/// Twelve verifies of `code` for `to` at once: how many decided what.
async fn race_verify(
    store: &Arc<dyn Store>,
    to: &'static str,
    code: &'static str,
) -> BTreeMap<String, usize> {
    let racing = store.clone();
    race(12, move || {
        let store = racing.clone();
        async move {
            let key = key(to);
            store
                .verify(Lookup::Key(&key), &digest(code))
                .await
                .unwrap()
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counting_then_recording_lets_parallel_sends_past_the_limit() {
    let store = store(CountThenRecord::default());
    let racing = store.clone();
    let counts = race(20, move || {
        let store = racing.clone();
        async move {
            store
                .send(Sending(&key("+1"), challenge("1"), RULES))
                .await
                .unwrap()
        }
    })
    .await;
    assert!(counts.get("Stored").copied().unwrap_or(0) > 5, "{counts:?}");
    // One at a time it is exact: a fresh subject gets 5, then a refusal.
    for _ in 0..5 {
        stored(send(&store, "+2", "1").await);
    }
    assert!(matches!(
        send(&store, "+2", "1").await,
        SendDecision::Limited { retry_after_ms } if retry_after_ms > 0
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_then_delete_verifies_parallel_right_codes_more_than_once() {
    let store = store(CompareThenDelete::default());
    send(&store, "+1", "123456").await;
    let counts = race_verify(&store, "+1", "123456").await;
    assert!(
        counts.get("Verified").copied().unwrap_or(0) > 1,
        "{counts:?}"
    );
    // One at a time, a used code is gone.
    send(&store, "+2", "123456").await;
    assert_eq!(
        verify(&store, "+2", "123456").await,
        VerifyDecision::Verified
    );
    assert_eq!(
        verify(&store, "+2", "123456").await,
        VerifyDecision::NotFound
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn reading_then_counting_lets_parallel_guesses_past_the_cap() {
    let store = store(ReadThenCountAttempt::default());
    send(&store, "+1", "123456").await;
    let counts = race_verify(&store, "+1", "000000").await;
    assert!(
        counts.get("WrongCode").copied().unwrap_or(0) > 3,
        "{counts:?}"
    );
    // One at a time the cap holds.
    send(&store, "+2", "123456").await;
    for left in [2, 1, 0] {
        assert_eq!(
            verify(&store, "+2", "000000").await,
            VerifyDecision::WrongCode {
                attempts_remaining: left
            }
        );
    }
    assert!(matches!(
        verify(&store, "+2", "123456").await,
        VerifyDecision::AttemptsExceeded { .. }
    ));
}

#[tokio::test]
async fn an_old_code_verifies_by_its_own_id_and_by_key_after_a_resend() {
    let store = store(OldCodesStayValid::default());
    let first = stored(send(&store, "+1", "111111").await);
    stored(send(&store, "+1", "222222").await);
    let by_id = Lookup::Id {
        tenant: TENANT,
        id: first,
    };
    assert_eq!(
        store.verify(by_id, &digest("111111")).await.unwrap(),
        VerifyDecision::Verified
    );
    stored(send(&store, "+1", "333333").await);
    assert_eq!(
        verify(&store, "+1", "222222").await,
        VerifyDecision::Verified
    );
    // The newest code's answer stands for a code that matches none.
    assert_eq!(
        verify(&store, "+1", "000000").await,
        VerifyDecision::WrongCode {
            attempts_remaining: 2
        }
    );
    assert_eq!(
        verify(&store, "+1", "333333").await,
        VerifyDecision::Verified
    );
}

#[tokio::test]
async fn a_refused_send_burns_the_code_and_a_failed_delivery_is_given_back() {
    let store = store(RefusalBurnsCode::default());
    for _ in 0..5 {
        stored(send(&store, "+1", "123456").await);
    }
    assert!(matches!(
        send(&store, "+1", "654321").await,
        SendDecision::Limited { .. }
    ));
    assert_eq!(
        verify(&store, "+1", "123456").await,
        VerifyDecision::NotFound
    );

    let store = self::store(FailedSendsUncounted::default());
    for _ in 0..8 {
        let id = stored(send(&store, "+1", "123456").await);
        // The engine revokes a challenge no channel delivered.
        store.revoke(&key("+1"), id).await.unwrap();
    }
    for _ in 0..5 {
        stored(send(&store, "+2", "123456").await);
    }
    assert!(matches!(
        send(&store, "+2", "123456").await,
        SendDecision::Limited { .. }
    ));
}

#[tokio::test]
async fn wrong_codes_of_an_old_challenge_are_held_against_the_new_one() {
    let store = store(AttemptsOutliveCodes::default());
    send(&store, "+1", "123456").await;
    for _ in 0..3 {
        verify(&store, "+1", "000000").await;
    }
    send(&store, "+1", "654321").await;
    assert!(matches!(
        verify(&store, "+1", "654321").await,
        VerifyDecision::AttemptsExceeded { .. }
    ));
    // A success clears the count.
    send(&store, "+2", "123456").await;
    verify(&store, "+2", "000000").await;
    assert_eq!(
        verify(&store, "+2", "123456").await,
        VerifyDecision::Verified
    );
    send(&store, "+2", "111111").await;
    assert_eq!(
        verify(&store, "+2", "000000").await,
        VerifyDecision::WrongCode {
            attempts_remaining: 2
        }
    );
}

#[test]
fn names_are_unique_kebab_case() {
    let mut names: Vec<&str> = MUTANTS.iter().map(|m| m.name).collect();
    for name in &names {
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{name}"
        );
    }
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), MUTANTS.len());
}

#[test]
fn every_mutant_applies_to_some_dialect_as_documented() {
    for mutant in &MUTANTS {
        let applies: Vec<Dialect> = Dialect::ALL
            .into_iter()
            .filter(|&d| mutant.applies(&TargetSpec::embedded(d)))
            .collect();
        assert!(!applies.is_empty(), "{} applies nowhere", mutant.name);
    }
    let applies = |name: &str, dialect: Dialect| {
        Mutant::by_name(name)
            .unwrap()
            .applies(&TargetSpec::embedded(dialect))
    };
    assert!(applies("framework-error-shape", Dialect::Sigmasms));
    assert!(!applies("framework-error-shape", Dialect::Nomado));
    assert!(!applies("framework-error-shape", Dialect::Loyaltydog));
    assert!(applies("longer-window-ignored", Dialect::Loyaltydog));
    assert!(!applies("longer-window-ignored", Dialect::Native));
    assert!(applies("no-415", Dialect::Valify) && applies("no-415", Dialect::Native));
    assert!(!applies("no-415", Dialect::Rees46));
    assert!(!applies("four-digit-codes", Dialect::Nomado));
}
