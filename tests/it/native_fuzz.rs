//! Whatever arrives at a native endpoint — arbitrary bytes, arbitrary JSON,
//! wrong types, huge strings, wrong content types and methods — the answer
//! is never a 5xx and always a documented shape: a 200 success body or a
//! problem+json whose status matches its `type`.

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::{json, Value};

use crate::support::http::{request, Reply};
use crate::support::server::TestServer;

/// Runs `cases` cases of `strategy` against one server that this test
/// owns for the whole run (a static would never be dropped, and under
/// `OTPBENCH_TEST_STORE=redis` would leave its redis-server running).
fn fuzz<S: Strategy>(strategy: S, check: impl Fn(&Served, S::Value) -> Result<(), String>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TestServer::start());
    let served = Served { runtime, server };
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 128,
        ..ProptestConfig::default()
    });
    let result = runner.run(&strategy, |value| {
        check(&served, value).map_err(TestCaseError::fail)
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

struct Served {
    runtime: tokio::runtime::Runtime,
    server: TestServer,
}

fn documented(reply: &Reply) -> Result<(), String> {
    let text = reply.text();
    if reply.status >= 500 {
        return Err(format!("5xx: {} {text}", reply.status));
    }
    let body: Value =
        serde_json::from_slice(&reply.body).map_err(|e| format!("not JSON ({e}): {text}"))?;
    if reply.status == 200 {
        let ok = body.get("verified") == Some(&json!(true))
            || body.get("id").is_some_and(Value::is_string);
        return if ok {
            Ok(())
        } else {
            Err(format!("unknown 200 body: {text}"))
        };
    }
    if reply.header("content-type") != Some("application/problem+json") {
        return Err(format!("error without problem+json: {text}"));
    }
    let expected = match body["type"].as_str().unwrap_or("") {
        "urn:otpbench:invalid-input" => 400,
        "urn:otpbench:unauthorized" => 401,
        "urn:otpbench:not-found" => 404,
        "urn:otpbench:method-not-allowed" => 405,
        "urn:otpbench:expired" => 410,
        "urn:otpbench:payload-too-large" => 413,
        "urn:otpbench:unsupported-media-type" => 415,
        "urn:otpbench:wrong-code" => 422,
        "urn:otpbench:attempts-exceeded" | "urn:otpbench:rate-limited" => 429,
        other => return Err(format!("undocumented type {other:?}: {text}")),
    };
    if reply.status != expected || body["status"] != expected {
        return Err(format!("status {} for {text}", reply.status));
    }
    Ok(())
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        "[+]?[0-9 ]{0,20}".prop_map(Value::from),
        Just(Value::from("x".repeat(70_000))),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(vec!["to", "purpose", "channel", "id", "code", "x"])
                    .prop_map(String::from),
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn post(served: &Served, path: &str, content_type: &str, body: &[u8], method: &str) -> Reply {
    let headers = [
        ("Authorization", "Bearer test-token"),
        ("Content-Type", content_type),
    ];
    served
        .runtime
        .block_on(request(served.server.addr, method, path, &headers, body))
}

#[test]
fn arbitrary_json_gets_a_documented_answer() {
    let paths = prop::sample::select(vec!["/v1/otp/send", "/v1/otp/verify"]);
    fuzz((paths, any_json()), |served, (path, body)| {
        documented(&post(
            served,
            path,
            "application/json",
            body.to_string().as_bytes(),
            "POST",
        ))
    });
}

#[test]
fn arbitrary_bytes_types_and_methods_get_a_documented_answer() {
    let strategy = (
        prop::sample::select(vec![
            "/v1/otp/send",
            "/v1/otp/verify",
            "/v1/otp",
            "/v1/otp/send/",
        ]),
        prop::sample::select(vec![
            "application/json",
            "text/plain",
            "",
            "application/json; charset=latin1",
        ]),
        prop::sample::select(vec!["POST", "GET", "PUT", "DELETE"]),
        prop::collection::vec(any::<u8>(), 0..256),
    );
    fuzz(strategy, |served, (path, content_type, method, body)| {
        documented(&post(served, path, content_type, &body, method))
    });
}
