//! What the fuzz suites share: a server owned for the whole run and an
//! arbitrary-JSON strategy over given field names and telling strings.

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::Value;

use crate::support::server::TestServer;

/// A test-mode server and the runtime it runs on.
pub struct Served {
    pub runtime: tokio::runtime::Runtime,
    pub server: TestServer,
}

/// Runs `cases` cases of `strategy` against one server that this test
/// owns for the whole run (a static would never be dropped, and under
/// `OTPBENCH_TEST_STORE=redis` would leave its redis-server running).
pub fn fuzz<S: Strategy>(
    cases: u32,
    strategy: S,
    check: impl Fn(&Served, S::Value) -> Result<(), String>,
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TestServer::start());
    let served = Served { runtime, server };
    let mut runner = TestRunner::new(ProptestConfig {
        cases,
        ..ProptestConfig::default()
    });
    let result = runner.run(&strategy, |value| {
        check(&served, value).map_err(TestCaseError::fail)
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Arbitrary JSON: scalars of every type, the given `words` (credentials,
/// recipients and the like, so some requests get deep), huge strings, and
/// nested arrays and objects whose keys are drawn from `fields`.
pub fn any_json(
    fields: &'static [&'static str],
    words: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (0u64..30).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "[+]?[0-9 ]{0,20}".prop_map(Value::from),
        prop::sample::select(words.to_vec()).prop_map(Value::from),
        Just(Value::from("x".repeat(70_000))),
        Just(Value::from("y".repeat(300))),
    ];
    leaf.prop_recursive(3, 24, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(fields.to_vec()).prop_map(String::from),
                inner,
                0..7
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
