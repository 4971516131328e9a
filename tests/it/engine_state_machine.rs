//! Random sequences of send / verify-right / verify-wrong / verify-by-id /
//! advance-clock / delivery-down over two identifiers and two purposes:
//! the engine on a manual clock against a plain model of DESIGN.md §2.
//!
//! The model is the product's one statement of §2
//! ([`otpbench::check::model`], what `otpbench check` judges targets by),
//! given this test's policy; it shares no arithmetic with the stores'
//! sliding logs.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use otpbench::check::model::{Expected, Model, ModelPolicy};
use otpbench::delivery::Channel;
use otpbench::engine::outcome::{ChallengeId, Outcome};
use otpbench::engine::policy::Policy;
use otpbench::engine::{ChallengeRef, VerifyRequest};
use otpbench::store::Store;
use proptest::prelude::*;
use proptest_state_machine::{prop_state_machine, ReferenceStateMachine, StateMachineTest};

use crate::support::{memory_store, policy, send_request, verify_request, wrong, Rig, TENANT};

const WHO: [&str; 2] = ["+14155550100", "+14155550101"];
const PURPOSES: [&str; 2] = ["login", "pay"];
const TTL_MS: u64 = 10_000;
const MAX_ATTEMPTS: u32 = 2;
const COOLDOWN_MS: u64 = 1_000;

fn machine_policy() -> Policy {
    let mut policy = policy(MAX_ATTEMPTS, &["3/30s", "5/2m"]);
    policy.length = 4;
    policy.ttl = Duration::from_millis(TTL_MS);
    policy.cooldown = Some(Duration::from_millis(COOLDOWN_MS));
    policy.channels = vec![Channel::Sms];
    policy
}

#[derive(Debug, Clone)]
pub enum Step {
    Send {
        who: usize,
        purpose: usize,
    },
    VerifyRight {
        who: usize,
        purpose: usize,
    },
    VerifyWrong {
        who: usize,
        purpose: usize,
    },
    /// Verify the `pick % issued`-th challenge ever issued by its id.
    VerifyById {
        pick: usize,
        right: bool,
    },
    Advance(u64),
    DeliveryDown(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    Sent { seq: usize, sends_remaining: u32 },
    Verified,
    WrongCode(u32),
    Expired,
    AttemptsExceeded(u64),
    NotFound,
    RateLimited(u64),
    ProviderUnavailable,
}

impl Expect {
    /// The product's model's answer, in this test's terms (the engine
    /// gives every detail, so every detail is compared).
    fn of(expected: Expected) -> Expect {
        match expected {
            Expected::Sent {
                seq,
                sends_remaining,
                attempts_remaining,
                expires_in_ms,
            } => {
                assert_eq!((attempts_remaining, expires_in_ms), (MAX_ATTEMPTS, TTL_MS));
                Expect::Sent {
                    seq,
                    sends_remaining: sends_remaining.expect("the policy has limits"),
                }
            }
            Expected::Verified => Expect::Verified,
            Expected::WrongCode { attempts_remaining } => Expect::WrongCode(attempts_remaining),
            Expected::Expired => Expect::Expired,
            Expected::AttemptsExceeded { retry_after_ms } => {
                Expect::AttemptsExceeded(retry_after_ms)
            }
            Expected::NotFound => Expect::NotFound,
            Expected::RateLimited { retry_after_ms } => Expect::RateLimited(retry_after_ms),
            Expected::ProviderUnavailable => Expect::ProviderUnavailable,
        }
    }
}

/// DESIGN.md §2 as `otpbench check` states it ([`otpbench::check::model`]),
/// plus what the engine alone chooses: an expired challenge is purged a
/// ttl after it expired.
#[derive(Debug, Clone)]
pub struct State {
    model: Model,
    expected: Option<Expect>,
}

impl Default for State {
    fn default() -> Self {
        let mut policy = ModelPolicy::of(&machine_policy());
        policy.purge_after_ms = Some(TTL_MS);
        State {
            model: Model::new(policy),
            expected: None,
        }
    }
}

pub struct ModelMachine;

impl ReferenceStateMachine for ModelMachine {
    type State = State;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<State> {
        Just(State::default()).boxed()
    }

    fn transitions(state: &State) -> BoxedStrategy<Step> {
        let key = (0..WHO.len(), 0..PURPOSES.len());
        let by_id = if state.model.issued().is_empty() {
            0
        } else {
            3
        };
        prop_oneof![
            4 => key.clone().prop_map(|(who, purpose)| Step::Send { who, purpose }),
            3 => key.clone().prop_map(|(who, purpose)| Step::VerifyRight { who, purpose }),
            3 => key.prop_map(|(who, purpose)| Step::VerifyWrong { who, purpose }),
            by_id => (any::<usize>(), any::<bool>())
                .prop_map(|(pick, right)| Step::VerifyById { pick, right }),
            3 => prop::sample::select(vec![1u64, 500, 1_000, 5_000, 10_000, 20_000, 61_000])
                .prop_map(Step::Advance),
            1 => any::<bool>().prop_map(Step::DeliveryDown),
        ]
        .boxed()
    }

    fn preconditions(state: &State, step: &Step) -> bool {
        !matches!(step, Step::VerifyById { .. }) || !state.model.issued().is_empty()
    }

    fn apply(mut state: State, step: &Step) -> State {
        let model = &mut state.model;
        state.expected = match *step {
            Step::Send { who, purpose } => Some(model.send((who, purpose))),
            Step::VerifyRight { who, purpose } => Some(model.verify((who, purpose), None, true)),
            Step::VerifyWrong { who, purpose } => Some(model.verify((who, purpose), None, false)),
            Step::VerifyById { pick, right } => {
                let seq = pick % model.issued().len();
                let key = model.issued()[seq];
                Some(model.verify(key, Some(seq), right))
            }
            Step::Advance(ms) => {
                model.advance(ms);
                None
            }
            Step::DeliveryDown(down) => {
                model.set_delivery_down(down);
                None
            }
        }
        .map(Expect::of);
        state
    }
}

/// Makes the store under test; one impl per store.
pub trait StoreFactory {
    fn make() -> Arc<dyn Store>;
}

pub struct Memory;

impl StoreFactory for Memory {
    fn make() -> Arc<dyn Store> {
        memory_store()
    }
}

pub struct Sut {
    runtime: tokio::runtime::Runtime,
    rig: Rig,
    policy: Policy,
    /// (id, code) of every challenge issued, by sequence number.
    issued: Vec<(ChallengeId, String)>,
    /// The newest code per key.
    latest: BTreeMap<(usize, usize), String>,
}

impl Sut {
    fn latest_code(&self, key: (usize, usize)) -> String {
        self.latest
            .get(&key)
            .cloned()
            .unwrap_or_else(|| "0000".into())
    }

    fn observe(&mut self, outcome: Outcome) -> Expect {
        match outcome {
            Outcome::Sent(sent) => {
                assert_eq!(sent.attempts_remaining, MAX_ATTEMPTS);
                assert_eq!(sent.expires_in, Duration::from_millis(TTL_MS));
                self.issued.push((sent.id, sent.code.as_str().to_string()));
                Expect::Sent {
                    seq: self.issued.len() - 1,
                    sends_remaining: sent.sends_remaining.expect("policy has limits"),
                }
            }
            Outcome::Verified => Expect::Verified,
            Outcome::WrongCode { attempts_remaining } => Expect::WrongCode(attempts_remaining),
            Outcome::Expired => Expect::Expired,
            Outcome::AttemptsExceeded { retry_after } => {
                Expect::AttemptsExceeded(retry_after.as_millis() as u64)
            }
            Outcome::NotFound => Expect::NotFound,
            Outcome::RateLimited { retry_after } => {
                Expect::RateLimited(retry_after.as_millis() as u64)
            }
            Outcome::ProviderUnavailable => Expect::ProviderUnavailable,
            other => panic!("outcome the model never produces: {other:?}"),
        }
    }
}

pub struct EngineMachine<F>(PhantomData<F>);

impl<F: StoreFactory> StateMachineTest for EngineMachine<F> {
    type SystemUnderTest = Sut;
    type Reference = ModelMachine;

    fn init_test(_: &State) -> Sut {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let rig = runtime.block_on(async { Rig::new(F::make()) });
        Sut {
            runtime,
            rig,
            policy: machine_policy(),
            issued: Vec::new(),
            latest: BTreeMap::new(),
        }
    }

    fn apply(mut sut: Sut, state: &State, step: Step) -> Sut {
        let engine = sut.rig.engine.clone();
        let outcome = match step {
            Step::Send { who, purpose } => {
                let request = send_request(WHO[who], PURPOSES[purpose]);
                let outcome = sut.runtime.block_on(engine.send(&sut.policy, request));
                if let Outcome::Sent(sent) = &outcome {
                    sut.latest
                        .insert((who, purpose), sent.code.as_str().to_string());
                }
                Some(outcome)
            }
            Step::VerifyRight { who, purpose } | Step::VerifyWrong { who, purpose } => {
                let code = sut.latest_code((who, purpose));
                let code = if matches!(step, Step::VerifyWrong { .. }) {
                    wrong(&code)
                } else {
                    code
                };
                let request = verify_request(WHO[who], PURPOSES[purpose], &code);
                Some(sut.runtime.block_on(engine.verify(request)))
            }
            Step::VerifyById { pick, right } => {
                let (id, code) = sut.issued[pick % sut.issued.len()].clone();
                let request = VerifyRequest {
                    by: ChallengeRef::Id {
                        tenant: TENANT.into(),
                        id,
                    },
                    code: if right { code } else { wrong(&code) },
                };
                Some(sut.runtime.block_on(engine.verify(request)))
            }
            Step::Advance(ms) => {
                sut.runtime
                    .block_on(sut.rig.advance(Duration::from_millis(ms)));
                sut.runtime.block_on(engine.purge()).unwrap();
                None
            }
            Step::DeliveryDown(down) => {
                sut.rig.delivery.set_all_down(down);
                None
            }
        };
        let observed = outcome.map(|o| sut.observe(o));
        assert_eq!(
            observed,
            state.expected,
            "after {step:?} at t+{}ms",
            state.model.now()
        );
        sut
    }
}

/// The Redis server of the Redis run (one per test process; see below).
static REDIS_URL: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

pub struct Redis;

impl StoreFactory for Redis {
    fn make() -> Arc<dyn Store> {
        let url = REDIS_URL
            .lock()
            .unwrap()
            .clone()
            .expect("redis run sets the URL");
        crate::support::redis::RedisServer::at(url).store()
    }
}

/// The same machine on Redis. Written out instead of through the macro so
/// the test owns its redis-server for the whole run.
#[test]
fn redis_store_matches_the_model() {
    let server = crate::support::redis::RedisServer::start();
    *REDIS_URL.lock().unwrap() = Some(server.url.clone());
    let config = ProptestConfig {
        cases: 96,
        ..ProptestConfig::default()
    };
    let mut runner = proptest::test_runner::TestRunner::new(config.clone());
    let result = runner.run(
        &ModelMachine::sequential_strategy(1..60),
        |(initial, steps, seen)| {
            EngineMachine::<Redis>::test_sequential(config.clone(), initial, steps, seen);
            Ok(())
        },
    );
    if let Err(error) = result {
        panic!("{error}");
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]
    #[test]
    fn memory_store_matches_the_model(sequential 1..80 => EngineMachine<Memory>);
}
