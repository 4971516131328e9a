//! Shared test scaffolding: an engine over any store whose clock stands
//! still until a test moves it (a `ManualClock` in the memory store, a
//! clock kept in Redis for the Redis stores), a delivery that can be
//! switched off, and the per-store test macro.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use otpbench::delivery::journal::Journal;
use otpbench::delivery::{Channel, Delivery, DeliveryError, Message, Template};
use otpbench::engine::clock::{Clock, ManualClock};
use otpbench::engine::code::CodeHasher;
use otpbench::engine::identifier::Identifier;
use otpbench::engine::policy::{Policy, SendLimit};
use otpbench::engine::{ChallengeRef, Engine, SendRequest, VerifyRequest};
use otpbench::store::memory::MemoryStore;
use otpbench::store::Store;
use otpbench::{Outcome, OutcomeKind};
use tokio::sync::Barrier;

/// Runs each listed `async fn(Arc<dyn Store>)` against every store.
#[macro_export]
macro_rules! for_each_store {
    ($($case:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case($crate::support::memory_store()).await
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let server = $crate::support::redis::RedisServer::start();
                    super::$case(server.store()).await
                }
            )*
        }
        mod redis_cluster {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    let cluster = $crate::support::redis::RedisCluster::start();
                    super::$case(cluster.store()).await
                }
            )*
        }
    };
}

/// Runs each listed `async fn(Dialect)` once per dialect, as a test of its
/// own (`<dialect>::<case>`), so one failing dialect hides no other.
#[macro_export]
macro_rules! for_each_dialect {
    ($($case:ident),* $(,)?) => {
        $crate::for_each_dialect!(@dialects [$($case),*]
            native => Native, rees46 => Rees46, sigmasms => Sigmasms,
            valify => Valify, nomado => Nomado, loyaltydog => Loyaltydog);
    };
    (@dialects $cases:tt $($module:ident => $dialect:ident),*) => {
        $( $crate::for_each_dialect!(@one $module $dialect $cases); )*
    };
    (@one $module:ident $dialect:ident [$($case:ident),*]) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(otpbench::dialect::Dialect::$dialect).await
                }
            )*
        }
    };
}

/// A memory store on a manual clock.
pub fn memory_store() -> Arc<dyn Store> {
    Arc::new(MemoryStore::with_clock(Arc::new(ManualClock::default())))
}

/// A delivery that journals messages, can be switched down per channel,
/// and counts attempts.
pub struct Switchboard {
    pub journal: Journal,
    down: Vec<(Channel, AtomicBool)>,
    pub attempts: AtomicUsize,
}

impl Switchboard {
    pub fn new(clock: Arc<dyn Clock>) -> Switchboard {
        Switchboard {
            journal: Journal::new(1_000_000, clock),
            down: Channel::ALL
                .into_iter()
                .map(|c| (c, AtomicBool::new(false)))
                .collect(),
            attempts: AtomicUsize::new(0),
        }
    }

    pub fn set_down(&self, channel: Channel, down: bool) {
        for (c, flag) in &self.down {
            if *c == channel {
                flag.store(down, Ordering::SeqCst);
            }
        }
    }

    pub fn set_all_down(&self, down: bool) {
        for (_, flag) in &self.down {
            flag.store(down, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl Delivery for Switchboard {
    async fn deliver(&self, message: &Message) -> Result<(), DeliveryError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let down = self
            .down
            .iter()
            .any(|(c, flag)| *c == message.channel && flag.load(Ordering::SeqCst));
        if down {
            return Err(DeliveryError::Rejected("503 channel down".into()));
        }
        self.journal.record(message.clone());
        Ok(())
    }
}

/// An engine with the parts tests poke at. Time is the store's: it stands
/// still until [`Rig::advance`] moves it.
pub struct Rig {
    pub engine: Arc<Engine>,
    pub delivery: Arc<Switchboard>,
}

pub const TENANT: &str = "test";

impl Rig {
    pub fn new(store: Arc<dyn Store>) -> Rig {
        let delivery = Arc::new(Switchboard::new(store.clock()));
        let engine = Arc::new(Engine::new(
            store,
            delivery.clone(),
            CodeHasher::new(b"test secret"),
        ));
        Rig { engine, delivery }
    }

    pub async fn send(&self, policy: &Policy, to: &str, purpose: &str) -> Outcome {
        self.engine.send(policy, send_request(to, purpose)).await
    }

    pub async fn verify(&self, to: &str, purpose: &str, code: &str) -> Outcome {
        self.engine.verify(verify_request(to, purpose, code)).await
    }

    /// Moves the store's time forward.
    pub async fn advance(&self, duration: Duration) {
        let moved = self.engine.advance_clock(duration.as_millis() as u64).await;
        assert!(matches!(moved, Ok(Some(_))), "clock not moved: {moved:?}");
    }
}

pub fn send_request(to: &str, purpose: &str) -> SendRequest {
    SendRequest {
        tenant: TENANT.into(),
        to: Identifier::parse(to).expect("test identifiers are valid"),
        purpose: purpose.into(),
        channel: None,
        reachable: None,
        template: Template::new("Your code is {{ code }}", "{{ code }}").unwrap(),
        from: None,
    }
}

pub fn verify_request(to: &str, purpose: &str, code: &str) -> VerifyRequest {
    VerifyRequest {
        by: ChallengeRef::Key {
            tenant: TENANT.into(),
            to: Identifier::parse(to).expect("test identifiers are valid"),
            purpose: purpose.into(),
        },
        code: code.into(),
    }
}

/// A policy with the given attempts and limits, otherwise the default.
pub fn policy(max_attempts: u32, limits: &[&str]) -> Policy {
    Policy {
        max_attempts,
        send_limits: limits
            .iter()
            .map(|l| l.parse::<SendLimit>().unwrap())
            .collect(),
        ..Policy::default()
    }
}

/// The code of a `Sent` outcome; panics with the outcome otherwise.
pub fn code_of(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Sent(sent) => sent.code.as_str().to_string(),
        other => panic!("expected sent, got {other:?}"),
    }
}

/// A code that differs from `code` in its first character.
pub fn wrong(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    chars[0] = if chars[0] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

pub mod dialect;
pub mod fuzz;
pub mod http;
pub mod pairs;
pub mod process;
pub mod provider;
pub mod redis;
pub mod reports;
pub mod server;

/// Runs `racers` copies of `op` at once — released together by a barrier,
/// taking the engines in turn — and counts their outcomes.
pub async fn race<F, Fut>(
    engines: &[Arc<Engine>],
    racers: usize,
    op: F,
) -> BTreeMap<OutcomeKind, usize>
where
    F: Fn(Arc<Engine>) -> Fut,
    Fut: Future<Output = Outcome> + Send + 'static,
{
    let barrier = Arc::new(Barrier::new(racers));
    let tasks: Vec<_> = (0..racers)
        .map(|n| {
            let barrier = barrier.clone();
            let work = op(engines[n % engines.len()].clone());
            tokio::spawn(async move {
                barrier.wait().await;
                work.await
            })
        })
        .collect();
    let mut counts = BTreeMap::new();
    for task in tasks {
        *counts.entry(task.await.unwrap().kind()).or_default() += 1;
    }
    counts
}
