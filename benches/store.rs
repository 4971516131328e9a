//! The engine on the memory store against the engine on Redis: one send or
//! verify at a time (latency) and 64 at a time (throughput, reported as
//! time per operation). Starts its own redis-server on a free loopback
//! port (or uses OTPBENCH_REDIS_URL).
//!
//! Run: `cargo bench --bench store`. Figures are in docs/performance.md.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otpbench::delivery::journal::Journal;
use otpbench::delivery::Template;
use otpbench::engine::code::CodeHasher;
use otpbench::engine::identifier::Identifier;
use otpbench::engine::outcome::ChallengeId;
use otpbench::engine::policy::Policy;
use otpbench::engine::{ChallengeRef, Engine, SendRequest, VerifyRequest};
use otpbench::store::memory::MemoryStore;
use otpbench::store::redis::{RedisOptions, RedisStore};
use otpbench::store::Store;
use otpbench::Outcome;

const CONCURRENCY: u64 = 64;

/// A redis-server for the run, stopped on drop.
struct OwnRedis(Option<Child>, String);

impl OwnRedis {
    fn start() -> OwnRedis {
        if let Ok(url) = std::env::var("OTPBENCH_REDIS_URL") {
            return OwnRedis(None, url);
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server (or set OTPBENCH_REDIS_URL)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        OwnRedis(Some(child), format!("redis://127.0.0.1:{port}"))
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct Subject {
    engine: Engine,
    send_policy: Policy,
    template: Template,
    next: AtomicU64,
    /// A challenge that never locks, for wrong-code verifies.
    locked: ChallengeId,
}

impl Subject {
    async fn new(store: Arc<dyn Store>) -> Subject {
        let journal = Arc::new(Journal::new(100_000, store.clock()));
        let engine = Engine::new(store, journal, CodeHasher::new(b"bench secret"));
        let mut subject = Subject {
            engine,
            // Checked on every send, never reached.
            send_policy: Policy {
                send_limits: vec!["1000000/1h".parse().unwrap()],
                ..Policy::default()
            },
            template: Template::new("Your code is {{ code }}", "{{ code }}").unwrap(),
            next: AtomicU64::new(0),
            locked: ChallengeId::random(),
        };
        let unlimited = Policy {
            max_attempts: u32::MAX,
            ..Policy::default()
        };
        // Its own purpose, so the send benchmark never replaces it.
        let mut request = subject.request();
        request.purpose = "locked".into();
        let Outcome::Sent(sent) = subject.engine.send(&unlimited, request).await else {
            panic!("send failed")
        };
        subject.locked = sent.id;
        subject
    }

    fn request(&self) -> SendRequest {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % 100_000;
        SendRequest {
            tenant: "bench".into(),
            to: Identifier::Phone(format!("+1415{n:07}")),
            purpose: "login".into(),
            channel: None,
            reachable: None,
            template: self.template.clone(),
            from: None,
        }
    }

    async fn send(&self) {
        let outcome = self.engine.send(&self.send_policy, self.request()).await;
        assert!(matches!(outcome, Outcome::Sent(_)), "{outcome:?}");
    }

    async fn verify_wrong(&self) {
        let request = VerifyRequest {
            by: ChallengeRef::Id {
                tenant: "bench".into(),
                id: self.locked,
            },
            code: "not-it".into(),
        };
        let outcome = self.engine.verify(request).await;
        assert!(matches!(outcome, Outcome::WrongCode { .. }), "{outcome:?}");
    }
}

fn stores(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let redis = OwnRedis::start();
    let mut options = RedisOptions::new(&redis.1);
    options.namespace = format!("otpbench-bench-{}", std::process::id());
    options.timeout = Duration::from_secs(5);
    let candidates: Vec<(&str, Arc<dyn Store>)> = vec![
        ("memory", Arc::new(MemoryStore::new())),
        (
            "redis",
            Arc::new(
                runtime
                    .block_on(async { RedisStore::open(&options) })
                    .unwrap(),
            ),
        ),
    ];
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(4));
    for (name, store) in candidates {
        let subject = Arc::new(runtime.block_on(Subject::new(store)));
        group.bench_function(format!("{name}/send"), |b| {
            b.iter(|| runtime.block_on(subject.send()))
        });
        group.bench_function(format!("{name}/verify_wrong_code"), |b| {
            b.iter(|| runtime.block_on(subject.verify_wrong()))
        });
        group.bench_function(format!("{name}/send_x{CONCURRENCY}"), |b| {
            b.iter_custom(|iters| concurrently(&runtime, &subject, iters, false))
        });
        group.bench_function(format!("{name}/verify_wrong_code_x{CONCURRENCY}"), |b| {
            b.iter_custom(|iters| concurrently(&runtime, &subject, iters, true))
        });
    }
    group.finish();
}

/// `iters` operations spread over `CONCURRENCY` tasks; the wall time.
fn concurrently(
    runtime: &tokio::runtime::Runtime,
    subject: &Arc<Subject>,
    iters: u64,
    verify: bool,
) -> Duration {
    runtime.block_on(async {
        let started = Instant::now();
        let tasks: Vec<_> = (0..CONCURRENCY)
            .map(|task| {
                let subject = subject.clone();
                let share = iters / CONCURRENCY + u64::from(task < iters % CONCURRENCY);
                tokio::spawn(async move {
                    for _ in 0..share {
                        if verify {
                            subject.verify_wrong().await;
                        } else {
                            subject.send().await;
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        started.elapsed()
    })
}

criterion_group!(benches, stores);
criterion_main!(benches);
