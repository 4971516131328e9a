//! Engine costs on the memory store, without HTTP: one send, one verify,
//! the whole send → verify flow, and the parts a send is made of.
//!
//! Run: `cargo bench --bench engine`. Figures are in docs/performance.md.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otpbench::delivery::journal::Journal;
use otpbench::delivery::Template;
use otpbench::engine::clock::ManualClock;
use otpbench::engine::code::{Alphabet, Code, CodeHasher};
use otpbench::engine::identifier::{Identifier, PossibleLengths};
use otpbench::engine::policy::Policy;
use otpbench::engine::{ChallengeRef, Engine, SendRequest, VerifyRequest};
use otpbench::store::memory::MemoryStore;
use otpbench::Outcome;

struct Bench {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    policy: Policy,
    template: Template,
    next: AtomicU64,
}

impl Bench {
    fn new(policy: Policy) -> Bench {
        let clock = Arc::new(ManualClock::default());
        let journal = Arc::new(Journal::new(100_000, clock.clone()));
        let engine = Engine::new(
            Arc::new(MemoryStore::with_clock(clock)),
            journal,
            CodeHasher::new(b"bench secret"),
        );
        Bench {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            engine,
            policy,
            template: Template::new("Your code is {{ code }}", "{{ code }}").unwrap(),
            next: AtomicU64::new(0),
        }
    }

    /// The next of a pool of 100,000 identifiers: the store holds a steady
    /// population (as a real one does once the clock passes the longest
    /// window) instead of growing all run.
    fn pool_phone(&self) -> Identifier {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % 100_000;
        Identifier::Phone(format!("+1415{n:07}"))
    }

    fn send(&self, to: Identifier) -> Outcome {
        let request = SendRequest {
            tenant: "bench".into(),
            to,
            purpose: "login".into(),
            channel: None,
            reachable: None,
            template: self.template.clone(),
            from: None,
        };
        self.runtime
            .block_on(self.engine.send(&self.policy, request))
    }

    fn verify(&self, id: otpbench::engine::outcome::ChallengeId, code: &str) -> Outcome {
        let request = VerifyRequest {
            by: ChallengeRef::Id {
                tenant: "bench".into(),
                id,
            },
            code: code.into(),
        };
        self.runtime.block_on(self.engine.verify(request))
    }
}

fn engine(c: &mut Criterion) {
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(4));

    // The sliding-log check runs on every send but never limits.
    let unlimited = Policy {
        send_limits: vec!["1000000/1h".parse().unwrap()],
        ..Policy::default()
    };
    let bench = Bench::new(unlimited.clone());
    group.bench_function("send", |b| {
        b.iter(|| {
            let outcome = bench.send(bench.pool_phone());
            assert!(matches!(outcome, Outcome::Sent(_)));
        })
    });

    let locked = Bench::new(Policy {
        max_attempts: u32::MAX,
        ..Policy::default()
    });
    let Outcome::Sent(sent) = locked.send(locked.pool_phone()) else {
        panic!("send failed")
    };
    let wrong = if sent.code.as_str() == "000000" {
        "111111"
    } else {
        "000000"
    };
    group.bench_function("verify_wrong_code", |b| {
        b.iter(|| {
            let outcome = locked.verify(sent.id, wrong);
            assert!(matches!(outcome, Outcome::WrongCode { .. }));
        })
    });

    let flow = Bench::new(unlimited);
    group.bench_function("send_then_verify", |b| {
        b.iter(|| {
            let Outcome::Sent(sent) = flow.send(flow.pool_phone()) else {
                panic!("send failed")
            };
            let outcome = flow.verify(sent.id, sent.code.as_str());
            assert_eq!(outcome, Outcome::Verified);
        })
    });
    group.finish();
}

fn parts(c: &mut Criterion) {
    let mut group = c.benchmark_group("parts");
    group.throughput(Throughput::Elements(1));
    group.bench_function("code_generate_6_numeric", |b| {
        b.iter(|| Code::generate(Alphabet::Numeric, 6))
    });
    let hasher = CodeHasher::new(b"bench secret");
    group.bench_function("code_digest", |b| b.iter(|| hasher.digest("123456")));
    PossibleLengths::get();
    group.bench_function("phone_possible_check", |b| {
        b.iter(|| Identifier::phone("+14155550100").unwrap())
    });
    group.bench_function("phonenumber_crate_parse_and_is_valid", |b| {
        b.iter(|| {
            let number = phonenumber::parse(None, "+14155550100").unwrap();
            phonenumber::is_valid(&number)
        })
    });
    group.bench_function("email_check", |b| {
        b.iter(|| Identifier::email("Alice@Example.com").unwrap())
    });
    group.finish();
}

criterion_group!(benches, engine, parts);
criterion_main!(benches);
