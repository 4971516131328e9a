//! What speaking a dialect costs on top of the engine, without sockets:
//! per dialect, a whole send (parse + validate + engine + render) and the
//! same request refused at its last check (parse + validate + render, no
//! engine); the client side's classification of a send answer; and phone
//! validation, the possible-number table against libphonenumber's full
//! check that Valify needs.
//!
//! Run: `cargo bench --bench dialects`. Figures are in docs/performance.md.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::HeaderMap;
use otpbench::config::Config;
use otpbench::delivery::journal::Journal;
use otpbench::dialect::{
    egyptian_mobile, Credentials, Dialect, DialectState, Operation, Reply, Request, ServeContext,
    Session, WireResponse,
};
use otpbench::engine::clock::ManualClock;
use otpbench::engine::code::CodeHasher;
use otpbench::engine::identifier::Identifier;
use otpbench::engine::Engine;
use otpbench::store::memory::MemoryStore;
use otpbench::OutcomeKind;

struct Bench {
    runtime: tokio::runtime::Runtime,
    engine: Engine,
    config: Config,
    state: DialectState,
    next: AtomicU64,
}

impl Bench {
    fn new() -> Bench {
        let clock = Arc::new(ManualClock::default());
        let journal = Arc::new(Journal::new(100_000, clock.clone()));
        let engine = Engine::new(
            Arc::new(MemoryStore::with_clock(clock)),
            journal,
            CodeHasher::new(b"bench secret"),
        );
        let mut config = Config::default();
        // No limits: every send does the whole work.
        for policy in [
            &mut config.native.policy,
            &mut config.rees46.policy,
            &mut config.sigmasms.policy,
            &mut config.valify.policy,
            &mut config.nomado.policy,
            &mut config.loyaltydog.policy,
        ] {
            policy.send_limits.clear();
        }
        let state = DialectState::new(&config);
        Bench {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            engine,
            config,
            state,
            next: AtomicU64::new(0),
        }
    }

    /// A steady pool of 100,000 numbers (`n` digits after the prefix).
    fn next(&self) -> u64 {
        self.next.fetch_add(1, Ordering::Relaxed) % 100_000
    }

    /// Serves one request in process, as the server does after routing.
    fn serve(
        &self,
        dialect: Dialect,
        operation: Operation,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Reply {
        let context = ServeContext {
            engine: &self.engine,
            config: &self.config,
            echo_codes: false,
            test_mode: false,
            state: &self.state,
        };
        let request = Request {
            operation,
            headers,
            body,
        };
        self.runtime.block_on(dialect.serve(&context, request))
    }

    /// The headers a client of `dialect` sends.
    fn headers(&self, dialect: Dialect) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let credentials = Credentials::default();
        let mut session = Session::default();
        if let Some(login) = dialect.login_request(&credentials) {
            let reply = self.serve(dialect, Operation::Token, &headers, &login.body);
            let response = WireResponse {
                status: reply.status.as_u16(),
                headers: &reply.headers,
                body: &reply.body,
            };
            session = dialect.read_login(&response).unwrap();
        }
        let probe = otpbench::dialect::SendOp {
            to: "x".into(),
            ..Default::default()
        };
        let probe = dialect
            .send_request(&credentials, &session, &probe)
            .unwrap();
        for (name, value) in probe.headers {
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        headers
    }
}

/// A send body of `dialect` to number `n`; `valid: false` spoils only the
/// last check (the recipient), so the whole body is still parsed.
fn body(dialect: Dialect, n: u64, valid: bool) -> Vec<u8> {
    let phone = if valid {
        format!("+1415{n:07}")
    } else {
        format!("+999{n:07}")
    };
    let body = match dialect {
        Dialect::Native => serde_json::json!({"to": phone, "purpose": "login"}),
        Dialect::Rees46 => serde_json::json!({
            "shop_id": "test-shop", "shop_secret": "test-secret",
            "identifier": phone, "event": "verify_phone"}),
        Dialect::Sigmasms => serde_json::json!({
            "widgetId": "123634df-ddfe-4dda-b31d-f3b4e75fc5dc", "recipient": phone}),
        Dialect::Valify => {
            let phone = if valid {
                format!("010{:08}", n)
            } else {
                format!("020{:08}", n)
            };
            serde_json::json!({"phone_number": phone, "bundle_key": "test-bundle"})
        }
        Dialect::Nomado => serde_json::json!({
            "to": phone, "template": "Your code is {{CODE}}", "type": "NUMERIC", "length": 6}),
        Dialect::Loyaltydog => serde_json::json!({ "target": phone }),
    };
    body.to_string().into_bytes()
}

fn dialects(c: &mut Criterion) {
    let bench = Bench::new();
    let mut group = c.benchmark_group("dialect");
    for dialect in Dialect::ALL {
        let headers = bench.headers(dialect);
        group.bench_function(format!("send/{}", dialect.name()), |b| {
            b.iter(|| {
                let reply = bench.serve(
                    dialect,
                    Operation::Send,
                    &headers,
                    &body(dialect, bench.next(), true),
                );
                let outcome = reply.outcome;
                assert_eq!(outcome, OutcomeKind::Sent);
            })
        });
        group.bench_function(format!("refused/{}", dialect.name()), |b| {
            b.iter(|| {
                let reply = bench.serve(
                    dialect,
                    Operation::Send,
                    &headers,
                    &body(dialect, bench.next(), false),
                );
                let outcome = reply.outcome;
                assert_eq!(outcome, OutcomeKind::InvalidInput);
            })
        });
    }
    group.finish();
}

fn classification(c: &mut Criterion) {
    let bench = Bench::new();
    let mut group = c.benchmark_group("classify");
    for dialect in Dialect::ALL {
        let headers = bench.headers(dialect);
        let reply = bench.serve(dialect, Operation::Send, &headers, &body(dialect, 1, true));
        group.bench_function(format!("sent/{}", dialect.name()), |b| {
            b.iter(|| {
                let response = WireResponse {
                    status: reply.status.as_u16(),
                    headers: &reply.headers,
                    body: &reply.body,
                };
                let observed = dialect.classify(Operation::Send, &response);
                assert_eq!(observed.kind(), OutcomeKind::Sent);
            })
        });
    }
    group.finish();
}

fn phones(c: &mut Criterion) {
    let mut group = c.benchmark_group("phone");
    Identifier::phone("+14155550100").unwrap();
    group.bench_function("possible (table)", |b| {
        b.iter(|| Identifier::phone(std::hint::black_box("+14155550100")).unwrap())
    });
    group.bench_function("valify egyptian mobile (phonenumber)", |b| {
        b.iter(|| egyptian_mobile(std::hint::black_box("01012345678")).unwrap())
    });
    group.finish();
}

criterion_group!(benches, dialects, classification, phones);
criterion_main!(benches);
