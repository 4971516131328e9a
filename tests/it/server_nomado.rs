//! Nomado on the wire (DESIGN.md §3 "nomado"): every documented answer,
//! status and exact body, spoken through the client side.

use std::time::Duration;

use otpbench::dialect::{Dialect, SendOp};
use otpbench::engine::code::Alphabet;
use otpbench::{Observed, OutcomeKind};
use serde_json::{json, Value};

use crate::support::dialect::{advance, golden, Speaker};
use crate::support::http::get;
use crate::support::provider::TestProvider;
use crate::support::server::TestServer;

const CREATE: &str = "/2fa/create";
/// The seed's example: possible, though not an assigned Belgian mobile.
const PHONE: &str = "32412345678";
/// `test:test`.
const AUTH: (&str, &str) = ("Authorization", "BASIC dGVzdDp0ZXN0");

fn error(code: u16, message: &str) -> Value {
    json!({"code": code, "message": message})
}

fn ok(data: Value) -> Value {
    json!({"code": 200, "message": "OK", "data": data})
}

/// Creates a code; returns the token.
async fn create(nomado: &Speaker, op: SendOp) -> (String, Value) {
    let (reply, observed) = nomado.send_op(op).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let body = reply.json();
    let token = body["data"]["token"].as_str().unwrap().to_string();
    let Observed::Sent(receipt) = observed else {
        panic!("{observed:?}")
    };
    assert_eq!(receipt.code.as_deref(), Some(token.as_str()));
    (token, body)
}

#[tokio::test]
async fn the_seed_example_answers_the_seed_shape() {
    let server = TestServer::start().await;
    let nomado = Speaker::new(server.addr, Dialect::Nomado).await;
    let op = SendOp {
        to: PHONE.into(),
        template: Some("Your verification code is {{CODE}}".into()),
        alphabet: Some(Alphabet::Numeric),
        length: Some(4),
        expiry: Some(Duration::from_secs(7200)),
        ..SendOp::default()
    };
    let (token, body) = create(&nomado, op).await;
    assert!(token.len() == 4 && token.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(
        body,
        ok(json!({
            PHONE: {"code": 200, "status": "SENT"},
            "text": format!("Your verification code is {token}"),
            "token": token,
            "expiry": 7200,
            "total_messages": 1,
        }))
    );
    let journal = get(server.addr, "/_admin/messages?to=%2B32412345678").await;
    assert_eq!(
        journal.json()["messages"][0]["text"],
        format!("Your verification code is {token}")
    );
    let (reply, observed) = nomado.verify(PHONE, None, &token).await;
    golden(&reply, 200, ok(json!({"verified": true})));
    assert_eq!(observed, Observed::Verified);
    let (reply, observed) = nomado.verify(PHONE, None, &token).await;
    golden(&reply, 404, error(404, "No pending token"));
    assert_eq!(observed, Observed::NotFound);
}

#[tokio::test]
async fn defaults_are_four_alphanumerics_for_two_hours_compared_case_insensitively() {
    let server = TestServer::start().await;
    let nomado = Speaker::new(server.addr, Dialect::Nomado).await;
    let (token, body) = create(
        &nomado,
        SendOp {
            to: PHONE.into(),
            ..SendOp::default()
        },
    )
    .await;
    assert_eq!(token.len(), 4);
    assert!(token
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
    assert_eq!(body["data"]["text"], token);
    assert_eq!(body["data"]["expiry"], 7200);
    let (reply, _) = nomado.verify(PHONE, None, &token.to_lowercase()).await;
    golden(&reply, 200, ok(json!({"verified": true})));
}

#[tokio::test]
async fn wrong_expired_exhausted_and_too_many() {
    let server = TestServer::start().await;
    let nomado = Speaker::new(server.addr, Dialect::Nomado).await;
    let short = |expiry| SendOp {
        to: PHONE.into(),
        expiry: Some(Duration::from_secs(expiry)),
        ..SendOp::default()
    };
    create(&nomado, short(60)).await;
    for _ in 0..3 {
        let (reply, _) = nomado.verify(PHONE, None, "!!!!").await;
        golden(&reply, 400, error(400, "Invalid token"));
    }
    let (reply, observed) = nomado.verify(PHONE, None, "!!!!").await;
    golden(&reply, 429, error(429, "Too many attempts"));
    assert_eq!(observed.kind(), OutcomeKind::AttemptsExceeded);

    let (token, _) = create(&nomado, short(60)).await;
    advance(server.addr, 60_000).await;
    let (reply, observed) = nomado.verify(PHONE, None, &token).await;
    golden(&reply, 400, error(400, "Token expired"));
    assert_eq!(observed, Observed::Expired);

    for _ in 0..3 {
        create(&nomado, short(60)).await;
    }
    let (reply, observed) = nomado.send(PHONE).await;
    golden(&reply, 429, error(429, "Too many requests"));
    assert_eq!(observed.kind(), OutcomeKind::RateLimited);
}

#[tokio::test]
async fn bad_parameters_and_credentials() {
    let server = TestServer::start().await;
    let nomado = Speaker::new(server.addr, Dialect::Nomado).await;
    let cases = [
        (
            json!({"to": PHONE, "template": "no code"}),
            "Bad request: template must contain {{CODE}}",
        ),
        (
            json!({"to": PHONE, "type": "HEX"}),
            "Bad request: type must be NUMERIC, ALPHA or ALPHANUMERIC",
        ),
        (
            json!({"to": PHONE, "length": 21}),
            "Bad request: length must be a whole number from 1 to 20",
        ),
        (
            json!({"to": PHONE, "length": 0}),
            "Bad request: length must be a whole number from 1 to 20",
        ),
        (
            json!({"to": PHONE, "expiry": -5}),
            "Bad request: expiry must be a whole number from 1 to 2592000",
        ),
        (
            json!({"template": "{{CODE}}"}),
            "Bad request: to is required",
        ),
        (
            json!({"to": 32412345678u64}),
            "Bad request: to must be a string",
        ),
        (json!([]), "Bad request: the body must be a JSON object"),
    ];
    for (body, message) in cases {
        let reply = nomado
            .post(CREATE, &[AUTH], body.to_string().as_bytes())
            .await;
        golden(&reply, 400, error(400, message));
    }
    let reply = nomado
        .post(CREATE, &[AUTH], json!({"to": "12"}).to_string().as_bytes())
        .await;
    assert_eq!(reply.status, 400);
    assert!(reply.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("Bad request: to: "));
    let body = json!({"to": PHONE}).to_string();
    for auth in [
        ("Authorization", "Basic dGVzdDp3cm9uZw=="),
        ("Authorization", "Bearer test-token"),
        ("X-None", "x"),
    ] {
        let reply = nomado.post(CREATE, &[auth], body.as_bytes()).await;
        golden(&reply, 401, error(401, "Unauthorized"));
    }
    golden(
        &get(server.addr, "/2fa/other").await,
        404,
        error(404, "Not found"),
    );
    golden(
        &get(server.addr, CREATE).await,
        405,
        error(405, "Method not allowed"),
    );
}

#[tokio::test]
async fn failed_delivery() {
    let provider = TestProvider::start().await;
    provider.faults(json!({"rules": [{"down": true}]})).await;
    let server = provider.server().await;
    let nomado = Speaker::new(server.addr, Dialect::Nomado).await;
    let (reply, observed) = nomado.send(PHONE).await;
    golden(&reply, 503, error(503, "Delivery failed"));
    assert_eq!(observed, Observed::ProviderUnavailable);
}
