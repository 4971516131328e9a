//! The native dialect on the wire (DESIGN.md §3 "native"), black-box
//! against a server on 127.0.0.1:0.

use std::time::Duration;

use otpbench::config::Config;
use otpbench::server::ServerConfig;
use serde_json::{json, Value};

use crate::support::http::{post, request, Reply};
use crate::support::server::TestServer;

const SEND: &str = "/v1/otp/send";
const VERIFY: &str = "/v1/otp/verify";
const PHONE: &str = "+14155550100";

fn assert_problem(reply: &Reply, status: u16, kind: &str) -> Value {
    assert_eq!(reply.status, status, "{}", reply.text());
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json")
    );
    let body = reply.json();
    assert_eq!(body["type"], format!("urn:otpbench:{kind}"), "{body}");
    assert_eq!(body["status"], status);
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    body
}

async fn send_code(server: &TestServer, to: &str) -> (String, String) {
    let reply = post(server.addr, SEND, json!({"to": to, "purpose": "login"})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    (
        body["id"].as_str().unwrap().into(),
        body["code"].as_str().unwrap().into(),
    )
}

#[tokio::test]
async fn send_answers_the_documented_fields() {
    let server = TestServer::with(ServerConfig {
        test_mode: true,
        ..ServerConfig::default()
    })
    .await;
    let reply = post(server.addr, SEND, json!({"to": PHONE})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let body = reply.json();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4, "{body}");
    assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["attempts_remaining"], 3);
    assert_eq!(body["sends_remaining"], 4);
    assert!(
        body.get("code").is_none(),
        "code echoed without --echo-codes"
    );
}

#[tokio::test]
async fn right_code_verifies_by_id_once() {
    let server = TestServer::start().await;
    let (id, code) = send_code(&server, PHONE).await;
    let reply = post(server.addr, VERIFY, json!({"id": id, "code": code})).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json(), json!({"verified": true}));
    let again = post(server.addr, VERIFY, json!({"id": id, "code": code})).await;
    assert_problem(&again, 404, "not-found");
}

#[tokio::test]
async fn verify_by_recipient_and_purpose() {
    let server = TestServer::start().await;
    let (_, code) = send_code(&server, PHONE).await;
    let other_purpose = post(
        server.addr,
        VERIFY,
        json!({"to": PHONE, "purpose": "pay", "code": code}),
    )
    .await;
    assert_problem(&other_purpose, 404, "not-found");
    let reply = post(
        server.addr,
        VERIFY,
        json!({"to": "+1 415 555 0100", "purpose": "login", "code": code}),
    )
    .await;
    assert_eq!(reply.json(), json!({"verified": true}));
}

#[tokio::test]
async fn wrong_codes_count_down_then_lock_with_retry_after() {
    let server = TestServer::start().await;
    let (id, code) = send_code(&server, PHONE).await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for left in [2, 1, 0] {
        let reply = post(server.addr, VERIFY, json!({"id": id, "code": wrong})).await;
        let body = assert_problem(&reply, 422, "wrong-code");
        assert_eq!(body["attempts_remaining"], left);
    }
    let locked = post(server.addr, VERIFY, json!({"id": id, "code": code})).await;
    let body = assert_problem(&locked, 429, "attempts-exceeded");
    assert_eq!(body["attempts_remaining"], 0);
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!((295..=300).contains(&retry), "{retry}");
    assert_eq!(body["retry_after"], retry);
}

#[tokio::test]
async fn sixth_send_in_an_hour_is_rate_limited() {
    let server = TestServer::start().await;
    for left in (0..5).rev() {
        let reply = post(server.addr, SEND, json!({"to": PHONE})).await;
        assert_eq!(reply.json()["sends_remaining"], left);
    }
    let reply = post(server.addr, SEND, json!({"to": PHONE})).await;
    let body = assert_problem(&reply, 429, "rate-limited");
    let retry: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&retry), "{retry}");
    assert_eq!(body["retry_after"], retry);
    // Another recipient is not affected.
    assert_eq!(
        post(server.addr, SEND, json!({"to": "a@b.co"}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn codes_expire_when_the_admin_clock_passes_the_ttl() {
    let server = TestServer::start().await;
    let (id, code) = send_code(&server, PHONE).await;
    let moved = post(server.addr, "/_admin/clock", json!({"advance_ms": 300_000})).await;
    assert_eq!(moved.status, 200);
    let reply = post(server.addr, VERIFY, json!({"id": id, "code": code})).await;
    assert_problem(&reply, 410, "expired");
}

#[tokio::test]
async fn credentials_are_checked_before_anything_else() {
    let server = TestServer::start().await;
    let body = json!({"to": PHONE}).to_string();
    for auth in [
        None,
        Some("Bearer wrong"),
        Some("Basic dGVzdDp0ZXN0"),
        Some("Bearer test-token2"),
    ] {
        let mut headers = vec![("Content-Type", "text/plain")];
        headers.extend(auth.map(|a| ("Authorization", a)));
        let reply = request(server.addr, "POST", SEND, &headers, body.as_bytes()).await;
        assert_problem(&reply, 401, "unauthorized");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
    }
}

#[tokio::test]
async fn bodies_must_be_declared_json() {
    let server = TestServer::start().await;
    let body = json!({"to": PHONE}).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut headers = vec![("Authorization", "Bearer test-token")];
        headers.extend(content_type.map(|c| ("Content-Type", c)));
        let reply = request(server.addr, "POST", SEND, &headers, body.as_bytes()).await;
        assert_problem(&reply, 415, "unsupported-media-type");
    }
}

#[tokio::test]
async fn malformed_requests_are_invalid_input_naming_the_field() {
    let server = TestServer::start().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        (SEND, json!({}), "to: required"),
        (SEND, json!({"to": 14155550100u64}), "to: expected a string"),
        (SEND, json!({"to": "+1415"}), "to:"),
        (SEND, json!({"to": "not-an-address@"}), "to:"),
        (SEND, json!({"to": PHONE, "purpose": "Log In"}), "purpose:"),
        (SEND, json!({"to": PHONE, "channel": "fax"}), "channel:"),
        (SEND, json!({"to": "a@b.co", "channel": "sms"}), "sms"),
        (SEND, json!([PHONE]), "JSON object"),
        (VERIFY, json!({"code": "123456"}), "id or to"),
        (
            VERIFY,
            json!({"id": "nope", "code": "123456"}),
            "id: expected a UUID",
        ),
        (
            VERIFY,
            json!({"id": uuid::Uuid::nil().to_string(), "to": PHONE, "code": "1"}),
            "not both",
        ),
        (VERIFY, json!({"to": PHONE}), "code: required"),
        (
            VERIFY,
            json!({"to": PHONE, "code": 123456}),
            "code: expected a string",
        ),
        (VERIFY, json!({"to": PHONE, "code": ""}), "code must be"),
    ];
    for (path, body, detail) in cases {
        let reply = post(server.addr, path, body.clone()).await;
        let problem = assert_problem(&reply, 400, "invalid-input");
        let said = problem["detail"].as_str().unwrap();
        assert!(said.contains(detail), "{body}: {said:?} lacks {detail:?}");
    }
    let broken = request(
        server.addr,
        "POST",
        SEND,
        &[
            ("Authorization", "Bearer test-token"),
            ("Content-Type", "application/json"),
        ],
        b"{\"to\": ",
    )
    .await;
    let problem = assert_problem(&broken, 400, "invalid-input");
    assert!(problem["detail"].as_str().unwrap().contains("invalid JSON"));
}

#[tokio::test]
async fn the_config_file_sets_credentials_and_policy() {
    let text = "native:\n  bearer: s3cret\n  policy:\n    max_attempts: 1\n    send_limits: [1/1h]\n    length: 8\n    code: alpha\n";
    let config = Config::parse(text, "test.yaml").unwrap();
    let server = TestServer::with(ServerConfig {
        config,
        test_mode: true,
        echo_codes: true,
        ..ServerConfig::default()
    })
    .await;
    let send = |token: &'static str| {
        let addr = server.addr;
        async move {
            let body = json!({"to": PHONE}).to_string();
            let auth = format!("Bearer {token}");
            let headers = [
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/json"),
            ];
            request(addr, "POST", SEND, &headers, body.as_bytes()).await
        }
    };
    assert_eq!(send("test-token").await.status, 401);
    let sent = send("s3cret").await.json();
    let code = sent["code"].as_str().unwrap();
    assert_eq!(code.len(), 8);
    assert!(code.chars().all(|c| c.is_ascii_uppercase()), "{code}");
    assert_eq!(sent["attempts_remaining"], 1);
    assert_eq!(sent["sends_remaining"], 0);
    assert_eq!(send("s3cret").await.status, 429);
}

#[tokio::test]
async fn sent_messages_reach_the_journal() {
    let server = TestServer::start().await;
    let (_, code) = send_code(&server, PHONE).await;
    let reply = crate::support::http::get(server.addr, "/_admin/messages?to=+14155550100").await;
    let messages = reply.json()["messages"].clone();
    assert_eq!(messages.as_array().unwrap().len(), 1, "{messages}");
    let message = &messages[0];
    assert_eq!(message["channel"], "sms");
    assert_eq!(message["to"], PHONE);
    assert_eq!(message["text"], format!("Your otpbench code is {code}"));
    assert!(message["received_at"].as_str().unwrap().ends_with('Z'));
    tokio::time::sleep(Duration::ZERO).await;
}

/// Regression: the provider-unavailable 503 carried neither `retry_after`
/// nor `Retry-After`, though every other 429 and 503 does.
#[tokio::test]
async fn the_provider_unavailable_503_says_when_to_retry() {
    let provider = crate::support::provider::TestProvider::start().await;
    provider.faults(json!({"rules": [{"down": true}]})).await;
    let server = provider.server().await;
    let reply = post(server.addr, SEND, json!({"to": PHONE})).await;
    let body = assert_problem(&reply, 503, "provider-unavailable");
    let retry: u64 = reply
        .header("retry-after")
        .expect("a Retry-After header")
        .parse()
        .unwrap();
    assert!(retry >= 1, "{retry}");
    assert_eq!(body["retry_after"], retry);
}
