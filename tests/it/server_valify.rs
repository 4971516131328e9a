//! Valify on the wire (DESIGN.md §3 "valify"): every documented answer,
//! status and exact body, spoken through the client side.

use otpbench::dialect::{Dialect, Operation, SendOp};
use otpbench::{Fault, Invalid, Observed, OutcomeKind};
use serde_json::{json, Value};

use crate::support::dialect::{advance, golden, latest_code, Speaker};
use crate::support::http::get;
use crate::support::provider::TestProvider;
use crate::support::server::TestServer;

const SEND: &str = "/api/v1/otp/send/";
const VERIFY: &str = "/api/v1/otp/verify/";
const PHONE: &str = "01012345678";
const E164: &str = "+201012345678";
const AUTH: (&str, &str) = ("Authorization", "Bearer test-token");
const JSON: (&str, &str) = ("Content-Type", "application/json");
const BAD_REQUEST: &str = "Bad Request – invalid request received (e.g. missing Bundle key, required parameters or invalid json) | Make sure all the required parameters are included";

fn message(text: &str) -> Value {
    json!({ "message": text })
}

fn domain(text: &str, code: u32) -> Value {
    json!({"message": text, "error_code": code})
}

async fn sent(valify: &Speaker, trials: u32) -> String {
    let (reply, observed) = valify.send(PHONE).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let id = reply.json()["transaction_id"].as_str().unwrap().to_string();
    golden(
        &reply,
        200,
        json!({"result": {"success": true}, "transaction_id": id, "trials_remaining": trials}),
    );
    let Observed::Sent(receipt) = observed else {
        panic!("{observed:?}")
    };
    assert_eq!(receipt.sends_remaining, Some(trials));
    id
}

#[tokio::test]
async fn send_counts_trials_and_verify_confirms_once() {
    let server = TestServer::start().await;
    let valify = Speaker::new(server.addr, Dialect::Valify).await;
    sent(&valify, 4).await;
    let id = sent(&valify, 3).await;
    let code = latest_code(server.addr, E164).await;
    let (reply, observed) = valify.verify(PHONE, Some(&id), &code).await;
    golden(
        &reply,
        200,
        json!({"result": {"verified": true}, "transaction_id": id}),
    );
    assert_eq!(observed, Observed::Verified);
    let (reply, observed) = valify.verify(PHONE, Some(&id), &code).await;
    golden(&reply, 422, domain("Unknown transaction ID", 1006));
    assert_eq!(observed, Observed::NotFound);
}

#[tokio::test]
async fn domain_errors_carry_their_codes() {
    let server = TestServer::start().await;
    let valify = Speaker::new(server.addr, Dialect::Valify).await;
    let id = sent(&valify, 4).await;
    for _ in 0..3 {
        let (reply, _) = valify.verify(PHONE, Some(&id), "x").await;
        golden(&reply, 422, domain("Invalid OTP", 1003));
    }
    let (reply, observed) = valify.verify(PHONE, Some(&id), "x").await;
    golden(
        &reply,
        422,
        domain("Maximum number of verification attempts exceeded", 1005),
    );
    assert_eq!(observed.kind(), OutcomeKind::AttemptsExceeded);

    let id = sent(&valify, 3).await;
    let code = latest_code(server.addr, E164).await;
    advance(server.addr, 300_000).await;
    let (reply, _) = valify.verify(PHONE, Some(&id), &code).await;
    golden(&reply, 422, domain("OTP expired", 1004));
    for trials in (0..3).rev() {
        sent(&valify, trials).await;
    }
    let (reply, observed) = valify.send(PHONE).await;
    golden(
        &reply,
        422,
        domain("Maximum number of trials reached", 1002),
    );
    assert_eq!(observed.kind(), OutcomeKind::RateLimited);

    let (reply, observed) = valify.send("+14155550100").await;
    golden(&reply, 422, domain("Invalid phone number", 1001));
    assert_eq!(
        observed,
        Observed::invalid(Invalid::new("phone_number", Fault::Invalid))
    );
    let (reply, _) = valify.send("0223456789").await;
    golden(&reply, 422, domain("Invalid phone number", 1001));
}

#[tokio::test]
async fn wrapped_bodies_and_arabic_texts() {
    let server = TestServer::start().await;
    let valify = Speaker::new(server.addr, Dialect::Valify).await;
    let body = json!({"data": {"phone_number": PHONE, "bundle_key": "test-bundle", "lang": "ar"}});
    let reply = valify
        .post(SEND, &[AUTH, JSON], body.to_string().as_bytes())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let journal = get(server.addr, "/_admin/messages?to=%2B201012345678").await;
    let text = journal.json()["messages"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.starts_with("رمز التحقق"), "{text}");
    let send = SendOp {
        to: PHONE.into(),
        lang: Some("en".into()),
        ..SendOp::default()
    };
    assert_eq!(valify.send_op(send).await.1.kind(), OutcomeKind::Sent);
}

#[tokio::test]
async fn transport_errors_use_the_seed_texts() {
    let server = TestServer::start().await;
    let valify = Speaker::new(server.addr, Dialect::Valify).await;
    let good = json!({"phone_number": PHONE, "bundle_key": "test-bundle"}).to_string();
    let text_plain = ("Content-Type", "text/plain");
    let reply = valify.post(SEND, &[AUTH, text_plain], b"x").await;
    golden(&reply, 415, message("Unsupported Media Type"));
    assert_eq!(
        valify.classify(Operation::Send, &reply),
        Observed::UnsupportedMediaType
    );
    let forbidden = message("Forbidden – specified access_token could not be found");
    let reply = valify.post(SEND, &[JSON], good.as_bytes()).await;
    golden(&reply, 403, forbidden.clone());
    assert_eq!(
        valify.classify(Operation::Send, &reply),
        Observed::Forbidden
    );
    let wrong = ("Authorization", "Bearer wrong");
    golden(
        &valify.post(SEND, &[wrong, JSON], good.as_bytes()).await,
        403,
        forbidden,
    );
    let bad_key = json!({"phone_number": PHONE, "bundle_key": "nope"}).to_string();
    let reply = valify.post(SEND, &[AUTH, JSON], bad_key.as_bytes()).await;
    golden(
        &reply,
        401,
        message("Unauthorized – your Bundle key is invalid"),
    );
    assert_eq!(
        valify.classify(Operation::Send, &reply),
        Observed::Unauthorized
    );
    for body in [
        "{",
        r#"{"phone_number": "01012345678"}"#,
        r#"{"bundle_key": "test-bundle"}"#,
        r#"{"phone_number": 1012345678, "bundle_key": "test-bundle"}"#,
        r#"{"phone_number": "01012345678", "bundle_key": "test-bundle", "lang": "fr"}"#,
    ] {
        let reply = valify.post(SEND, &[AUTH, JSON], body.as_bytes()).await;
        golden(&reply, 400, message(BAD_REQUEST));
    }
    let reply = valify
        .post(VERIFY, &[AUTH, JSON], br#"{"bundle_key": "test-bundle"}"#)
        .await;
    golden(&reply, 400, message(BAD_REQUEST));
    // A malformed transaction id is an unknown one.
    let (reply, observed) = valify.verify(PHONE, Some("nope"), "123456").await;
    golden(&reply, 422, domain("Unknown transaction ID", 1006));
    assert_eq!(observed, Observed::NotFound);
    golden(
        &get(server.addr, "/api/v1/otp/other/").await,
        404,
        message("Not Found"),
    );
    golden(
        &get(server.addr, SEND).await,
        405,
        message("Method Not Allowed"),
    );
}

#[tokio::test]
async fn failed_delivery_is_1007() {
    let provider = TestProvider::start().await;
    provider.faults(json!({"rules": [{"down": true}]})).await;
    let server = provider.server().await;
    let valify = Speaker::new(server.addr, Dialect::Valify).await;
    let (reply, observed) = valify.send(PHONE).await;
    golden(&reply, 422, domain("Failed to deliver OTP", 1007));
    assert_eq!(observed, Observed::ProviderUnavailable);
}

/// Regression: junk around a number was taken as a valid Egyptian mobile
/// (200, extension dropped); now only the forms people write pass, and
/// the rest is Valify's invalid-phone error.
#[tokio::test]
async fn junk_around_a_number_is_an_invalid_phone() {
    let server = TestServer::start().await;
    let valify = Speaker::new(server.addr, Dialect::Valify).await;
    for junk in [
        "x01012345678\u{0}",
        "01012345678#",
        "tel:+201012345678",
        "01012345678;ext=5",
        "+20 10 1234 5678 x99",
    ] {
        let (reply, observed) = valify.send(junk).await;
        golden(&reply, 422, domain("Invalid phone number", 1001));
        assert_eq!(
            observed,
            Observed::invalid(Invalid::new("phone_number", Fault::Invalid)),
            "{junk:?}"
        );
    }
    for written in ["+20 10 1234 5678", "0020-10-1234-5678", "010 1234 5678"] {
        let (reply, observed) = valify.send(written).await;
        assert_eq!(
            observed.kind(),
            OutcomeKind::Sent,
            "{written}: {}",
            reply.text()
        );
    }
    let journal = get(server.addr, "/_admin/messages").await.json();
    let to: Vec<&str> = journal["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["to"].as_str().unwrap())
        .collect();
    assert_eq!(to, [E164; 3]);
}

/// Regression: a store outage answered 503, which Valify never documents;
/// its one 5xx is 500 "Internal Server Error", read as `internal_error`.
#[tokio::test]
async fn a_store_outage_is_the_documented_500() {
    use otpbench::config::Config;
    use otpbench::server::{ServerConfig, StoreSpec};
    use otpbench::store::redis::RedisOptions;
    let server = TestServer::with(ServerConfig {
        config: Config {
            secret: Some(vec![7; 32]),
            ..Config::default()
        },
        store: StoreSpec::Redis(RedisOptions {
            timeout: std::time::Duration::from_millis(300),
            ..RedisOptions::new("redis://127.0.0.1:1")
        }),
        test_mode: true,
        ..ServerConfig::default()
    })
    .await;
    let valify = Speaker::new(server.addr, Dialect::Valify).await;
    let (reply, observed) = valify.send(PHONE).await;
    golden(&reply, 500, message("Internal Server Error"));
    assert_eq!(observed, Observed::InternalError);
    let (reply, observed) = valify
        .verify(
            PHONE,
            Some("3d21c0de-0000-4000-8000-000000000001"),
            "123456",
        )
        .await;
    golden(&reply, 500, message("Internal Server Error"));
    assert_eq!(observed, Observed::InternalError);
}
