//! Whatever arrives at any dialect's endpoint — arbitrary bytes, arbitrary
//! JSON built from every dialect's field names, wrong types, huge strings,
//! wrong content types, methods and credentials — the answer is never a
//! 5xx and always one of the dialect's documented shapes: its own client
//! side must classify it as something other than `unrecognized`.

use otpbench::dialect::loyaltydog::{read_token, token_request};
use otpbench::dialect::{Credentials, Dialect, Operation, WireResponse};
use otpbench::OutcomeKind;
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use serde_json::Value;

use crate::support::dialect::{call, classify};
use crate::support::http::{request, Reply};
use crate::support::server::TestServer;

const ENDPOINTS: &[(Dialect, &str, Operation)] = &[
    (Dialect::Rees46, "/loyalty/otp/send", Operation::Send),
    (Dialect::Rees46, "/loyalty/otp/verify", Operation::Verify),
    (Dialect::Rees46, "/loyalty/otp/other", Operation::Other),
    (Dialect::Sigmasms, "/api/n/otp-handler/", Operation::Send),
    (
        Dialect::Sigmasms,
        "/api/n/otp-handler/check",
        Operation::Verify,
    ),
    (Dialect::Valify, "/api/v1/otp/send/", Operation::Send),
    (Dialect::Valify, "/api/v1/otp/verify/", Operation::Verify),
    (Dialect::Nomado, "/2fa/create", Operation::Send),
    (Dialect::Nomado, "/2fa/verify", Operation::Verify),
    (Dialect::Loyaltydog, "/v2/token", Operation::Token),
    (
        Dialect::Loyaltydog,
        "/v2/giftcards/customers/otp/send",
        Operation::Send,
    ),
    (
        Dialect::Loyaltydog,
        "/v2/giftcards/customers/otp/verify",
        Operation::Verify,
    ),
    (Dialect::Loyaltydog, "/v2/nothing", Operation::Other),
];

const FIELDS: &[&str] = &[
    "shop_id",
    "shop_secret",
    "identifier",
    "event",
    "code",
    "widgetId",
    "recipient",
    "requestId",
    "phone_number",
    "bundle_key",
    "lang",
    "transaction_id",
    "otp",
    "data",
    "to",
    "template",
    "type",
    "length",
    "expiry",
    "token",
    "api_key",
    "target",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "test-shop",
            "test-secret",
            "test-bundle",
            "test-key",
            "79991234567",
            "+14155550100",
            "01012345678",
            "32412345678",
            "a@b.co",
            "en",
            "ar",
            "NUMERIC",
            "{{CODE}}",
            "123634df-ddfe-4dda-b31d-f3b4e75fc5dc",
            "00000000-0000-4000-8000-00000000b10c",
            "123456",
            "",
        ])
        .prop_map(Value::from),
        (0u64..30).prop_map(Value::from),
        Just(Value::from("x".repeat(70_000))),
        Just(Value::from("y".repeat(300))),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::btree_map(
                prop::sample::select(FIELDS.to_vec()).prop_map(String::from),
                inner,
                0..7
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

struct Served {
    runtime: tokio::runtime::Runtime,
    server: TestServer,
    /// A valid LoyaltyDog access token.
    jwt: String,
}

/// Runs `cases` cases against one server this test owns for the run.
fn fuzz<S: Strategy>(strategy: S, check: impl Fn(&Served, S::Value) -> Result<(), String>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TestServer::start());
    let reply = runtime.block_on(call(server.addr, &token_request(&Credentials::default())));
    let headers = hyper::HeaderMap::new();
    let response = WireResponse {
        status: reply.status,
        headers: &headers,
        body: &reply.body,
    };
    let (jwt, _) = read_token(&response).unwrap();
    let served = Served {
        runtime,
        server,
        jwt,
    };
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 384,
        ..ProptestConfig::default()
    });
    let result = runner.run(&strategy, |value| {
        check(&served, value).map_err(TestCaseError::fail)
    });
    if let Err(error) = result {
        panic!("{error}");
    }
}

/// Credentials that get a request past authentication, or none.
fn auth(dialect: Dialect, served: &Served, valid: bool) -> Option<String> {
    if !valid {
        return None;
    }
    match dialect {
        Dialect::Nomado => Some("Basic dGVzdDp0ZXN0".into()),
        Dialect::Loyaltydog => Some(format!("Bearer {}", served.jwt)),
        _ => Some("Bearer test-token".into()),
    }
}

fn check(
    served: &Served,
    (dialect, path, operation): (Dialect, &str, Operation),
    method: &str,
    content_type: &str,
    authorization: Option<String>,
    body: &[u8],
) -> Result<(), String> {
    let mut headers = vec![("Content-Type", content_type)];
    if let Some(value) = &authorization {
        headers.push(("Authorization", value.as_str()));
    }
    let reply: Reply =
        served
            .runtime
            .block_on(request(served.server.addr, method, path, &headers, body));
    let text = reply.text();
    let shown: String = text.chars().take(300).collect();
    if reply.status >= 500 {
        return Err(format!(
            "{} {path}: 5xx {} {shown}",
            dialect.name(),
            reply.status
        ));
    }
    if operation == Operation::Token && reply.status == 200 {
        let headers = hyper::HeaderMap::new();
        let response = WireResponse {
            status: reply.status,
            headers: &headers,
            body: &reply.body,
        };
        return read_token(&response)
            .map(|_| ())
            .map_err(|e| format!("{path}: {e}: {shown}"));
    }
    let observed = classify(dialect, operation, &reply);
    if observed.kind() == OutcomeKind::Unrecognized {
        return Err(format!(
            "{} {method} {path}: {observed:?} for {} {shown}",
            dialect.name(),
            reply.status
        ));
    }
    Ok(())
}

#[test]
fn arbitrary_json_gets_a_documented_answer() {
    let strategy = (
        prop::sample::select(ENDPOINTS.to_vec()),
        any::<bool>(),
        any_json(),
    );
    fuzz(strategy, |served, (endpoint, valid, body)| {
        let authorization = auth(endpoint.0, served, valid);
        let body = body.to_string();
        check(
            served,
            endpoint,
            "POST",
            "application/json",
            authorization,
            body.as_bytes(),
        )
    });
}

#[test]
fn arbitrary_bytes_types_and_methods_get_a_documented_answer() {
    let strategy = (
        prop::sample::select(ENDPOINTS.to_vec()),
        prop::sample::select(vec!["POST", "POST", "GET", "PUT", "DELETE"]),
        prop::sample::select(vec![
            "application/json",
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
        ]),
        any::<bool>(),
        prop::collection::vec(any::<u8>(), 0..256),
    );
    fuzz(
        strategy,
        |served, (endpoint, method, content_type, valid, body)| {
            let authorization = auth(endpoint.0, served, valid);
            check(served, endpoint, method, content_type, authorization, &body)
        },
    );
}
