//! LoyaltyDog on the wire (DESIGN.md §3 "loyaltydog"): tokens, every
//! documented answer and FastAPI's 422s, status and exact body.

use otpbench::config::Config;
use otpbench::delivery::Channel;
use otpbench::dialect::{Dialect, Operation};
use otpbench::server::ServerConfig;
use otpbench::{Fault, Invalid, Observed, OutcomeKind, Receipt};
use serde_json::{json, Value};

use crate::support::dialect::{advance, golden, latest_code, Speaker};
use crate::support::http::get;
use crate::support::provider::TestProvider;
use crate::support::server::TestServer;

const TOKEN: &str = "/v2/token";
const SEND: &str = "/v2/giftcards/customers/otp/send";
const VERIFY: &str = "/v2/giftcards/customers/otp/verify";
const PHONE: &str = "+14155550100";
const EMAIL: &str = "Ann@Example.com";
const JSON: (&str, &str) = ("Content-Type", "application/json");

fn send_failure(error: &str) -> Value {
    json!({"success": false, "message": null, "error": error, "otpType": null, "mockCode": null})
}

fn verify_failure(error: &str) -> Value {
    json!({"success": false, "message": null, "error": error})
}

async fn bearer(speaker: &Speaker) -> String {
    format!("Bearer {}", speaker.access_token().await)
}

#[tokio::test]
async fn tokens_are_issued_for_the_api_key_and_expire() {
    let server = TestServer::start().await;
    let reply = Speaker::new(server.addr, Dialect::Native)
        .await
        .post(TOKEN, &[JSON], br#"{"api_key": "test-key"}"#)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    let token = body["access_token"].as_str().unwrap();
    let header = token.split('.').next().unwrap();
    use base64::Engine as _;
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let header: Value = serde_json::from_slice(&header).unwrap();
    assert_eq!(header["alg"], "HS256");

    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    assert_eq!(dog.send(PHONE).await.1.kind(), OutcomeKind::Sent);
    let expired = bearer(&dog).await;
    advance(server.addr, 3_600_000).await;
    let body = json!({ "target": PHONE }).to_string();
    let reply = dog
        .post(SEND, &[JSON, ("Authorization", &expired)], body.as_bytes())
        .await;
    golden(&reply, 401, json!({"detail": "Not authenticated"}));
    assert_eq!(
        dog.classify(Operation::Send, &reply),
        Observed::Unauthorized
    );
    // The executor logs in again after the 401 and sends.
    assert_eq!(dog.send(PHONE).await.1.kind(), OutcomeKind::Sent);
    assert_ne!(bearer(&dog).await, expired);

    let reply = dog.post(TOKEN, &[JSON], br#"{"api_key": "wrong"}"#).await;
    golden(&reply, 401, json!({"detail": "Invalid API key"}));
    for auth in ["Bearer not.a.jwt", "Basic dGVzdDp0ZXN0"] {
        let reply = dog
            .post(
                SEND,
                &[JSON, ("Authorization", auth)],
                br#"{"target": "a@b.c"}"#,
            )
            .await;
        golden(&reply, 401, json!({"detail": "Not authenticated"}));
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
}

#[tokio::test]
async fn phones_get_sms_emails_get_email_and_codes_verify_once() {
    let server = TestServer::with(ServerConfig {
        config: Config::default(),
        test_mode: true,
        ..ServerConfig::default()
    })
    .await;
    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    for (target, otp_type, channel, journal_to) in [
        (PHONE, "sms", Channel::Sms, PHONE),
        (EMAIL, "email", Channel::Email, "ann@example.com"),
    ] {
        let (reply, observed) = dog.send(target).await;
        let code = latest_code(server.addr, journal_to).await;
        assert_eq!(code.len(), 6);
        // Test mode is the seed's dev/test mode: mockCode holds the code.
        golden(
            &reply,
            200,
            json!({"success": true, "message": "OTP sent", "error": null, "otpType": otp_type, "mockCode": code}),
        );
        assert_eq!(
            observed,
            Observed::Sent(Receipt {
                channel: Some(channel),
                code: Some(code.clone()),
                ..Receipt::default()
            })
        );
        let (reply, observed) = dog.verify(target, None, &code).await;
        golden(
            &reply,
            200,
            json!({"success": true, "message": "OTP verified", "error": null}),
        );
        assert_eq!(observed, Observed::Verified);
        let (reply, observed) = dog.verify(target, None, &code).await;
        golden(&reply, 400, verify_failure("No active code"));
        assert_eq!(observed, Observed::NotFound);
    }
}

#[tokio::test]
async fn mock_codes_with_echo_codes() {
    let server = TestServer::start().await;
    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    let (reply, observed) = dog.send(PHONE).await;
    let code = latest_code(server.addr, PHONE).await;
    assert_eq!(reply.json()["mockCode"], code.as_str());
    let Observed::Sent(receipt) = observed else {
        panic!("{observed:?}")
    };
    assert_eq!(receipt.code, Some(code));
}

#[tokio::test]
async fn wrong_expired_exhausted_and_limits_of_the_seed() {
    let server = TestServer::start().await;
    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    dog.send(PHONE).await;
    for _ in 0..3 {
        let (reply, _) = dog.verify(PHONE, None, "000000x").await;
        golden(&reply, 400, verify_failure("Invalid code"));
    }
    let (reply, observed) = dog.verify(PHONE, None, "000000x").await;
    golden(&reply, 429, verify_failure("Too many attempts"));
    assert_eq!(observed.kind(), OutcomeKind::AttemptsExceeded);

    dog.send(PHONE).await;
    let code = latest_code(server.addr, PHONE).await;
    advance(server.addr, 300_000).await;
    let (reply, _) = dog.verify(PHONE, None, &code).await;
    golden(&reply, 400, verify_failure("Code expired"));

    // 5 per hour...
    for _ in 0..3 {
        assert_eq!(dog.send(PHONE).await.1.kind(), OutcomeKind::Sent);
    }
    let (reply, observed) = dog.send(PHONE).await;
    golden(&reply, 429, send_failure("Rate limit exceeded"));
    assert_eq!(observed.kind(), OutcomeKind::RateLimited);
    // ...and 10 per day: after the hour, five more, then none for the day.
    advance(server.addr, 3_700_000).await;
    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    for _ in 0..5 {
        assert_eq!(dog.send(PHONE).await.1.kind(), OutcomeKind::Sent);
    }
    advance(server.addr, 3_600_000).await;
    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    let (reply, _) = dog.send(PHONE).await;
    golden(&reply, 429, send_failure("Rate limit exceeded"));
    let wait: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 3600, "{wait}");
}

#[tokio::test]
async fn schema_violations_are_fastapi_422s() {
    let server = TestServer::start().await;
    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    let auth = bearer(&dog).await;
    let headers = [JSON, ("Authorization", auth.as_str())];
    let long = "a".repeat(256);
    let cases: Vec<(&[u8], Value)> = vec![
        (
            br#"{}"#,
            json!([{"type": "missing", "loc": ["body", "target"], "msg": "Field required", "input": {}}]),
        ),
        (
            br#"{"target": 5}"#,
            json!([{"type": "string_type", "loc": ["body", "target"], "msg": "Input should be a valid string", "input": 5}]),
        ),
        (
            br#"{"target": null}"#,
            json!([{"type": "string_type", "loc": ["body", "target"], "msg": "Input should be a valid string", "input": null}]),
        ),
        (
            br#"{"target": ""}"#,
            json!([{"type": "string_too_short", "loc": ["body", "target"], "msg": "String should have at least 1 character", "input": "", "ctx": {"min_length": 1}}]),
        ),
        (
            br#"[1]"#,
            json!([{"type": "model_attributes_type", "loc": ["body"], "msg": "Input should be a valid dictionary or object to extract fields from", "input": [1]}]),
        ),
        (
            b"",
            json!([{"type": "missing", "loc": ["body"], "msg": "Field required", "input": null}]),
        ),
        (
            br#"{"target": x}"#,
            json!([{"type": "json_invalid", "loc": ["body", 11], "msg": "JSON decode error", "input": {}, "ctx": {"error": "expected value"}}]),
        ),
    ];
    for (body, detail) in cases {
        let reply = dog.post(SEND, &headers, body).await;
        golden(&reply, 422, json!({ "detail": detail }));
        assert_eq!(
            dog.classify(Operation::Send, &reply).kind(),
            OutcomeKind::InvalidInput
        );
    }
    let body = json!({ "target": long }).to_string();
    let reply = dog.post(SEND, &headers, body.as_bytes()).await;
    golden(
        &reply,
        422,
        json!({"detail": [{"type": "string_too_long", "loc": ["body", "target"],
            "msg": "String should have at most 255 characters", "input": long, "ctx": {"max_length": 255}}]}),
    );
    // Every problem is reported, field by field.
    let reply = dog.post(VERIFY, &headers, br#"{"code": 7}"#).await;
    assert_eq!(reply.status, 422);
    let observed = dog.classify(Operation::Verify, &reply);
    assert_eq!(
        observed,
        Observed::invalid(Invalid::new("target", Fault::Missing).and("code", Fault::WrongType))
    );
    let reply = dog
        .post(SEND, &headers, br#"{"target": "not a target"}"#)
        .await;
    golden(&reply, 400, send_failure("Invalid target format"));
    golden(
        &get(server.addr, "/v2/other").await,
        404,
        json!({"detail": "Not Found"}),
    );
    golden(
        &get(server.addr, SEND).await,
        405,
        json!({"detail": "Method Not Allowed"}),
    );
}

#[tokio::test]
async fn failed_delivery() {
    let provider = TestProvider::start().await;
    provider.faults(json!({"rules": [{"down": true}]})).await;
    let server = provider.server().await;
    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    let (reply, observed) = dog.send(EMAIL).await;
    golden(&reply, 503, send_failure("Delivery failed"));
    assert_eq!(observed, Observed::ProviderUnavailable);
}

/// Regression: the seed returns `mockCode` "only in dev/test mode", yet
/// `--test-mode` without `--echo-codes` answered `null`; outside test mode
/// it stays `null`.
#[tokio::test]
async fn mock_codes_in_test_mode_without_echo_codes() {
    let server = TestServer::with(ServerConfig {
        test_mode: true,
        ..ServerConfig::default()
    })
    .await;
    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    let (reply, _) = dog.send(PHONE).await;
    let code = latest_code(server.addr, PHONE).await;
    assert_eq!(reply.json()["mockCode"], code.as_str(), "{}", reply.text());

    let production = TestServer::with(ServerConfig::default()).await;
    let dog = Speaker::new(production.addr, Dialect::Loyaltydog).await;
    let (reply, _) = dog.send(PHONE).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["mockCode"], Value::Null);
}

/// Regression: a UTF-8 byte order mark before the JSON got a 422, where
/// FastAPI (Python's json.loads) reads the body.
#[tokio::test]
async fn a_byte_order_mark_before_the_json_is_read() {
    let server = TestServer::start().await;
    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    let auth = bearer(&dog).await;
    let mut body = b"\xEF\xBB\xBF".to_vec();
    body.extend_from_slice(br#"{"target": "+14155550100"}"#);
    let reply = dog
        .post(SEND, &[JSON, ("Authorization", auth.as_str())], &body)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        dog.classify(Operation::Send, &reply).kind(),
        OutcomeKind::Sent
    );
    let mut login = b"\xEF\xBB\xBF".to_vec();
    login.extend_from_slice(br#"{"api_key": "test-key"}"#);
    assert_eq!(dog.post(TOKEN, &[JSON], &login).await.status, 200);
}

/// Regression: `…/otp/send/` got 404 where FastAPI answers 307 to the
/// path without the slash (clients then repeat the POST there).
#[tokio::test]
async fn a_trailing_slash_is_redirected_like_fastapi() {
    let server = TestServer::start().await;
    let dog = Speaker::new(server.addr, Dialect::Loyaltydog).await;
    let auth = bearer(&dog).await;
    let headers = [JSON, ("Authorization", auth.as_str())];
    for path in [SEND, VERIFY, TOKEN] {
        let slashed = format!("{path}/");
        let reply = dog
            .post(&slashed, &headers, br#"{"target": "a@b.co"}"#)
            .await;
        assert_eq!(reply.status, 307, "{slashed}: {}", reply.text());
        let location = reply.header("location").unwrap();
        assert!(
            location == path || location.ends_with(&format!("{}{path}", server.addr)),
            "{slashed}: {location}"
        );
        assert!(reply.body.is_empty());
    }
    let reply = dog.post(&format!("{SEND}/?x=1"), &headers, b"{}").await;
    assert!(reply
        .header("location")
        .unwrap()
        .ends_with(&format!("{SEND}?x=1")));
    // Unknown paths stay 404, slash or not.
    golden(
        &get(server.addr, "/v2/other/").await,
        404,
        json!({"detail": "Not Found"}),
    );
}
