//! Random sequences of send / verify-right / verify-wrong / verify-by-id /
//! advance-clock / delivery-down over two identifiers and two purposes:
//! the engine on a manual clock against a plain model of DESIGN.md §2.
//!
//! The model keeps every send forever and finds retry-after by trying
//! every instant at which something could change, so it shares no
//! arithmetic with the stores' sliding logs.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

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
/// (count, window ms)
const LIMITS: [(usize, u64); 2] = [(3, 30_000), (5, 120_000)];

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

#[derive(Debug, Clone)]
struct ModelChallenge {
    seq: usize,
    expires_at: u64,
    attempts_used: u32,
}

#[derive(Debug, Clone, Default)]
pub struct Model {
    now: u64,
    sends: BTreeMap<usize, Vec<u64>>,
    challenges: BTreeMap<(usize, usize), ModelChallenge>,
    /// Key of every challenge issued, by sequence number.
    issued: Vec<(usize, usize)>,
    delivery_down: bool,
    expected: Option<Expect>,
}

impl Model {
    fn send_allowed_at(sends: &[u64], at: u64) -> bool {
        let cooled = sends.last().is_none_or(|&last| at >= last + COOLDOWN_MS);
        cooled
            && LIMITS
                .iter()
                .all(|&(count, window)| sends.iter().filter(|&&t| at < t + window).count() < count)
    }

    fn send(&mut self, who: usize, purpose: usize) -> Expect {
        let sends = self.sends.entry(who).or_default();
        if !Model::send_allowed_at(sends, self.now) {
            let mut candidates: Vec<u64> = sends
                .iter()
                .flat_map(|&t| {
                    LIMITS
                        .iter()
                        .map(move |&(_, w)| t + w)
                        .chain([t + COOLDOWN_MS])
                })
                .filter(|&t| t > self.now)
                .collect();
            candidates.sort_unstable();
            let free = candidates
                .into_iter()
                .find(|&t| Model::send_allowed_at(sends, t))
                .expect("some instant frees a slot");
            return Expect::RateLimited(free - self.now);
        }
        sends.push(self.now);
        let sends_remaining = LIMITS
            .iter()
            .map(|&(count, window)| {
                let used = sends.iter().filter(|&&t| self.now < t + window).count();
                (count - used) as u32
            })
            .min()
            .unwrap();
        if self.delivery_down {
            self.challenges.remove(&(who, purpose));
            return Expect::ProviderUnavailable;
        }
        let seq = self.issued.len();
        self.issued.push((who, purpose));
        self.challenges.insert(
            (who, purpose),
            ModelChallenge {
                seq,
                expires_at: self.now + TTL_MS,
                attempts_used: 0,
            },
        );
        Expect::Sent {
            seq,
            sends_remaining,
        }
    }

    fn verify(&mut self, key: (usize, usize), seq: Option<usize>, right: bool) -> Expect {
        let now = self.now;
        let Some(c) = self.challenges.get_mut(&key) else {
            return Expect::NotFound;
        };
        if seq.is_some_and(|s| s != c.seq) || now >= c.expires_at + TTL_MS {
            return Expect::NotFound;
        }
        if now >= c.expires_at {
            return Expect::Expired;
        }
        if c.attempts_used >= MAX_ATTEMPTS {
            return Expect::AttemptsExceeded(c.expires_at - now);
        }
        if right {
            self.challenges.remove(&key);
            return Expect::Verified;
        }
        c.attempts_used += 1;
        Expect::WrongCode(MAX_ATTEMPTS - c.attempts_used)
    }
}

pub struct ModelMachine;

impl ReferenceStateMachine for ModelMachine {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        let key = (0..WHO.len(), 0..PURPOSES.len());
        let by_id = if state.issued.is_empty() { 0 } else { 3 };
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

    fn preconditions(state: &Model, step: &Step) -> bool {
        !matches!(step, Step::VerifyById { .. }) || !state.issued.is_empty()
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        state.expected = match *step {
            Step::Send { who, purpose } => Some(state.send(who, purpose)),
            Step::VerifyRight { who, purpose } => Some(state.verify((who, purpose), None, true)),
            Step::VerifyWrong { who, purpose } => Some(state.verify((who, purpose), None, false)),
            Step::VerifyById { pick, right } => {
                let seq = pick % state.issued.len();
                let key = state.issued[seq];
                Some(state.verify(key, Some(seq), right))
            }
            Step::Advance(ms) => {
                state.now += ms;
                None
            }
            Step::DeliveryDown(down) => {
                state.delivery_down = down;
                None
            }
        };
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

    fn init_test(_: &Model) -> Sut {
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

    fn apply(mut sut: Sut, model: &Model, step: Step) -> Sut {
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
            observed, model.expected,
            "after {step:?} at t+{}ms",
            model.now
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
