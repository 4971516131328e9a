//! REES46 on the wire (DESIGN.md §3 "rees46"): every documented answer,
//! status and exact body, from a server on 127.0.0.1:0 — spoken through
//! the dialect's own client side, whose classification is checked too.

use otpbench::dialect::{Dialect, Operation, SendOp};
use otpbench::{Observed, OutcomeKind, Receipt};
use serde_json::{json, Value};

use crate::support::dialect::{advance, golden, latest_code, Speaker};
use crate::support::http::get;
use crate::support::provider::TestProvider;
use crate::support::server::TestServer;

const SEND: &str = "/loyalty/otp/send";
const VERIFY: &str = "/loyalty/otp/verify";
/// The seed's shape: 7 and ten digits, no plus.
const PHONE: &str = "79991234567";

fn failure(message: &str) -> Value {
    json!({"success": false, "payload": {"message": message}})
}

async fn speaker(server: &TestServer) -> Speaker {
    Speaker::new(server.addr, Dialect::Rees46).await
}

#[tokio::test]
async fn a_code_verifies_once_per_event() {
    let server = TestServer::start().await;
    let rees46 = speaker(&server).await;
    let (reply, observed) = rees46.send(PHONE).await;
    golden(&reply, 200, json!({"success": true}));
    assert_eq!(observed, Observed::Sent(Receipt::default()));
    let code = latest_code(server.addr, "+79991234567").await;
    assert_eq!(code.len(), 6);

    let (reply, observed) = rees46.verify(PHONE, None, &code).await;
    golden(&reply, 200, json!({"success": true}));
    assert_eq!(observed, Observed::Verified);
    let (reply, observed) = rees46.verify(PHONE, None, &code).await;
    golden(&reply, 404, failure("Code not found"));
    assert_eq!(observed, Observed::NotFound);
}

#[tokio::test]
async fn events_are_independent_challenges() {
    let server = TestServer::start().await;
    let rees46 = speaker(&server).await;
    for event in ["password_recovery", "charge_bonuses"] {
        let send = SendOp {
            to: PHONE.into(),
            purpose: Some(event.into()),
            ..SendOp::default()
        };
        assert_eq!(rees46.send_op(send).await.1.kind(), OutcomeKind::Sent);
    }
    // The newest code belongs to charge_bonuses; password_recovery's is
    // still pending and is not replaced by it.
    let code = latest_code(server.addr, "+79991234567").await;
    let body = |event: &str| {
        json!({"shop_id": "test-shop", "shop_secret": "test-secret",
               "identifier": PHONE, "event": event, "code": code})
        .to_string()
    };
    let headers = [("Content-Type", "application/json")];
    let reply = rees46
        .post(VERIFY, &headers, body("charge_bonuses").as_bytes())
        .await;
    golden(&reply, 200, json!({"success": true}));
    let reply = rees46
        .post(VERIFY, &headers, body("password_recovery").as_bytes())
        .await;
    let observed = rees46.classify(Operation::Verify, &reply);
    assert!(
        matches!(observed, Observed::WrongCode { .. } | Observed::Verified),
        "{observed:?}"
    );
}

#[tokio::test]
async fn wrong_expired_and_exhausted_codes() {
    let server = TestServer::start().await;
    let rees46 = speaker(&server).await;
    rees46.send(PHONE).await;
    for _ in 0..3 {
        let (reply, observed) = rees46.verify(PHONE, None, "000000x").await;
        golden(&reply, 400, failure("Code is not valid"));
        assert_eq!(
            observed,
            Observed::WrongCode {
                attempts_remaining: None
            }
        );
    }
    let (reply, observed) = rees46.verify(PHONE, None, "000000x").await;
    golden(&reply, 429, failure("Too many attempts"));
    assert_eq!(observed.kind(), OutcomeKind::AttemptsExceeded);
    assert!(reply.header("retry-after").is_some());

    rees46.send(PHONE).await;
    let code = latest_code(server.addr, "+79991234567").await;
    advance(server.addr, 300_000).await;
    let (reply, observed) = rees46.verify(PHONE, None, &code).await;
    golden(&reply, 400, failure("Code expired"));
    assert_eq!(observed, Observed::Expired);
}

#[tokio::test]
async fn the_sixth_send_in_an_hour_is_too_many() {
    let server = TestServer::start().await;
    let rees46 = speaker(&server).await;
    for _ in 0..5 {
        assert_eq!(rees46.send(PHONE).await.1.kind(), OutcomeKind::Sent);
    }
    let (reply, observed) = rees46.send(PHONE).await;
    golden(&reply, 429, failure("Too many requests"));
    let wait = reply.header("retry-after").unwrap().parse::<u64>().unwrap();
    assert!((1..=3600).contains(&wait), "{wait}");
    assert_eq!(
        observed,
        Observed::RateLimited {
            retry_after: Some(std::time::Duration::from_secs(wait))
        }
    );
}

#[tokio::test]
async fn bad_requests_get_the_documented_messages() {
    let server = TestServer::start().await;
    let rees46 = speaker(&server).await;
    let headers = [("Content-Type", "application/json")];
    let cases = [
        (
            json!({"shop_id": "test-shop", "shop_secret": "nope", "identifier": PHONE, "event": "e"}),
            401,
            "Invalid shop credentials",
        ),
        (
            json!({"identifier": PHONE, "event": "e"}),
            401,
            "Invalid shop credentials",
        ),
        (
            json!({"shop_id": "test-shop", "shop_secret": "test-secret", "identifier": "12", "event": "e"}),
            400,
            "Identifier is not valid",
        ),
        (
            json!({"shop_id": "test-shop", "shop_secret": "test-secret", "identifier": "a@b.c", "event": "e"}),
            400,
            "Identifier is not valid",
        ),
        (
            json!({"shop_id": "test-shop", "shop_secret": "test-secret", "identifier": PHONE, "event": "no-dashes"}),
            400,
            "Event is not valid",
        ),
        (
            json!({"shop_id": "test-shop", "shop_secret": "test-secret", "identifier": PHONE}),
            400,
            "Event is not valid",
        ),
        (json!([1, 2]), 400, "Bad request"),
    ];
    for (body, status, message) in cases {
        let reply = rees46
            .post(SEND, &headers, body.to_string().as_bytes())
            .await;
        golden(&reply, status, failure(message));
        assert_ne!(
            rees46.classify(Operation::Send, &reply).kind(),
            OutcomeKind::Unrecognized
        );
    }
    let reply = rees46.post(SEND, &headers, b"{not json").await;
    golden(&reply, 400, failure("Bad request"));
    // Verify without a code.
    let body = json!({"shop_id": "test-shop", "shop_secret": "test-secret", "identifier": PHONE, "event": "e"});
    let reply = rees46
        .post(VERIFY, &headers, body.to_string().as_bytes())
        .await;
    golden(&reply, 400, failure("Bad request"));
}

#[tokio::test]
async fn unknown_paths_methods_and_huge_bodies_keep_the_shape() {
    let server = TestServer::start().await;
    let reply = get(server.addr, "/loyalty/otp/nothing").await;
    golden(&reply, 404, failure("Not found"));
    let reply = get(server.addr, SEND).await;
    golden(&reply, 405, failure("Method not allowed"));
    let rees46 = speaker(&server).await;
    let reply = rees46.post(SEND, &[], &vec![b' '; 70_000]).await;
    golden(&reply, 413, failure("Request too large"));
}

#[tokio::test]
async fn the_first_send_creates_a_customer_with_source_loyalty_otp() {
    let server = TestServer::start().await;
    let unknown = get(server.addr, "/_admin/customers/79991234567").await;
    assert_eq!(unknown.status, 404);
    speaker(&server).await.send(PHONE).await;
    let reply = get(server.addr, "/_admin/customers/79991234567").await;
    golden(
        &reply,
        200,
        json!({"identifier": "+79991234567", "source": "loyalty_otp"}),
    );
    let same = get(server.addr, "/_admin/customers/%2B79991234567").await;
    assert_eq!(same.json(), reply.json());
}

#[tokio::test]
async fn delivery_cascades_sms_telegram_email_then_fails() {
    let provider = TestProvider::start().await;
    let server = provider.server().await;
    let rees46 = speaker(&server).await;
    provider
        .faults(json!({"rules": [{"channel": "sms", "down": true}]}))
        .await;
    let (reply, _) = rees46.send(PHONE).await;
    golden(&reply, 200, json!({"success": true}));
    let journal = get(provider.addr, "/_admin/messages").await.json();
    assert_eq!(journal["messages"][0]["channel"], "telegram");

    provider.faults(json!({"rules": [{"down": true}]})).await;
    let (reply, observed) = rees46.send(PHONE).await;
    golden(&reply, 503, failure("Delivery failed"));
    assert_eq!(observed, Observed::ProviderUnavailable);
}

/// Regression: an unknown customer was answered "no such path", as if the
/// route did not exist; the 404 now says the customer is unknown.
#[tokio::test]
async fn an_unknown_customer_is_said_to_be_unknown() {
    let server = TestServer::start().await;
    let reply = get(server.addr, "/_admin/customers/79991234567").await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let body = reply.json();
    assert_eq!(body["type"], "urn:otpbench:not-found");
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("+79991234567"), "{detail}");
    assert!(detail.contains("customer"), "{detail}");
    assert!(!detail.contains("no such path"), "{detail}");
}

/// Regression: with sms and telegram down, REES46 answered success and
/// the journal showed channel `email` to `+7999…`. A customer created
/// from a phone has no e-mail: nothing is left, so "Delivery failed".
#[tokio::test]
async fn no_email_goes_to_a_phone_when_sms_and_telegram_are_down() {
    let provider = TestProvider::start().await;
    let server = provider.server().await;
    let rees46 = speaker(&server).await;
    provider
        .faults(json!({"rules": [
            {"channel": "sms", "down": true},
            {"channel": "telegram", "down": true}]}))
        .await;
    let (reply, observed) = rees46.send(PHONE).await;
    golden(&reply, 503, failure("Delivery failed"));
    assert_eq!(observed, Observed::ProviderUnavailable);
    let journal = get(provider.addr, "/_admin/messages").await.json();
    assert_eq!(journal, json!({"messages": []}));
    let stats = get(provider.addr, "/_admin/stats").await.json();
    assert!(stats["channels"].get("email").is_none(), "{stats}");
}
