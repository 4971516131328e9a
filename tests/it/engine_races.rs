//! The concurrency promises of DESIGN.md §2, proven by racing: 1000 tasks on
//! one key, released together by a barrier, on a 4-thread runtime.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use otpbench::engine::Engine;
use otpbench::store::Store;
use otpbench::{Outcome, OutcomeKind};

use crate::support::{code_of, policy, send_request, verify_request, wrong, Rig};

const RACERS: usize = 1000;
const PHONE: &str = "+14155550100";

async fn race<F, Fut>(engine: &Arc<Engine>, op: F) -> BTreeMap<OutcomeKind, usize>
where
    F: Fn(Arc<Engine>) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    crate::support::race(std::slice::from_ref(engine), RACERS, op).await
}

async fn concurrent_wrong_codes_use_exactly_the_attempt_cap(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let code = code_of(&rig.send(&policy(5, &[]), PHONE, "login").await);
    let guess = wrong(&code);
    let counts = race(&rig.engine, |engine| {
        let request = verify_request(PHONE, "login", &guess);
        async move { engine.verify(request).await }
    })
    .await;
    assert_eq!(
        counts,
        BTreeMap::from([
            (OutcomeKind::WrongCode, 5),
            (OutcomeKind::AttemptsExceeded, RACERS - 5)
        ])
    );
}

async fn concurrent_right_codes_verify_exactly_once(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let code = code_of(&rig.send(&policy(3, &[]), PHONE, "login").await);
    let counts = race(&rig.engine, |engine| {
        let request = verify_request(PHONE, "login", &code);
        async move { engine.verify(request).await }
    })
    .await;
    assert_eq!(
        counts,
        BTreeMap::from([
            (OutcomeKind::Verified, 1),
            (OutcomeKind::NotFound, RACERS - 1)
        ])
    );
}

async fn concurrent_sends_pass_exactly_the_limit(store: Arc<dyn Store>) {
    let rig = Rig::new(store);
    let policy = Arc::new(policy(3, &["7/1h", "20/1d"]));
    let counts = race(&rig.engine, |engine| {
        let policy = policy.clone();
        let request = send_request(PHONE, "login");
        async move { engine.send(&policy, request).await }
    })
    .await;
    assert_eq!(
        counts,
        BTreeMap::from([
            (OutcomeKind::Sent, 7),
            (OutcomeKind::RateLimited, RACERS - 7)
        ])
    );
    assert_eq!(rig.delivery.journal.len(), 7);
}

async fn sends_racing_verifies_never_verify_twice(store: Arc<dyn Store>) {
    // Half the racers resend, half verify with the first code: whatever the
    // interleaving, that code verifies at most once.
    let rig = Rig::new(store);
    let policy = Arc::new(policy(3, &[]));
    let code = code_of(&rig.send(&policy, PHONE, "login").await);
    let flip = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counts = race(&rig.engine, |engine| {
        let policy = policy.clone();
        let send = flip.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % 2 == 0;
        let verify = verify_request(PHONE, "login", &code);
        async move {
            if send {
                engine.send(&policy, send_request(PHONE, "login")).await
            } else {
                engine.verify(verify).await
            }
        }
    })
    .await;
    assert!(
        counts.get(&OutcomeKind::Verified).copied().unwrap_or(0) <= 1,
        "{counts:?}"
    );
    assert_eq!(counts[&OutcomeKind::Sent], RACERS / 2);
}

crate::for_each_store!(
    concurrent_wrong_codes_use_exactly_the_attempt_cap,
    concurrent_right_codes_verify_exactly_once,
    concurrent_sends_pass_exactly_the_limit,
    sends_racing_verifies_never_verify_twice,
);
