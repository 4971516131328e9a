//! The mock provider on the wire: journal, faults, stats, Twilio.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use otpbench::provider::{run, ProviderConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::support::http::{get, request, Reply};

struct TestProvider {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn provider() -> TestProvider {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        run(listener, ProviderConfig::default(), async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    TestProvider { addr, _stop: stop }
}

async fn send(addr: SocketAddr, message: Value) -> Reply {
    let body = message.to_string();
    request(
        addr,
        "POST",
        "/v1/messages",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await
}

async fn put_faults(addr: SocketAddr, rules: Value) -> Reply {
    let body = rules.to_string();
    request(
        addr,
        "PUT",
        "/_admin/faults",
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await
}

fn sms(to: &str) -> Value {
    json!({"channel": "sms", "to": to, "text": "Your code is 123456"})
}

async fn journal(addr: SocketAddr, query: &str) -> Vec<Value> {
    let reply = get(addr, &format!("/_admin/messages{query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn messages_are_journaled_and_listed() {
    let p = provider().await;
    let reply = send(
        p.addr,
        json!({"channel": "email", "to": "a@b.co", "text": "hi", "from": "otp"}),
    )
    .await;
    assert_eq!(reply.status, 202, "{}", reply.text());
    assert_eq!(reply.json()["status"], "queued");
    send(p.addr, sms("+14155550100")).await;
    let all = journal(p.addr, "").await;
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["channel"], "email");
    assert_eq!(all[0]["from"], "otp");
    assert_eq!(all[0]["id"], reply.json()["id"]);
    assert_eq!(journal(p.addr, "?to=+14155550100").await.len(), 1);
    assert_eq!(journal(p.addr, "?channel=sms").await.len(), 1);
    let first = all[0]["id"].as_str().unwrap();
    assert_eq!(journal(p.addr, &format!("?after={first}")).await.len(), 1);
    let cleared = request(p.addr, "DELETE", "/_admin/messages", &[], b"").await;
    assert_eq!(cleared.status, 204);
    assert!(journal(p.addr, "").await.is_empty());
}

#[tokio::test]
async fn a_long_poll_returns_as_soon_as_a_match_lands() {
    let p = provider().await;
    let addr = p.addr;
    let poll = tokio::spawn(async move {
        let started = Instant::now();
        (
            journal(addr, "?to=%2B15550001&wait_ms=20000").await,
            started.elapsed(),
        )
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(p.addr, sms("+15550002")).await;
    send(p.addr, sms("+15550001")).await;
    let (messages, waited) = poll.await.unwrap();
    assert_eq!(messages.len(), 1);
    assert!(waited < Duration::from_secs(10), "{waited:?}");
}

#[tokio::test]
async fn bad_requests_are_refused_with_a_reason() {
    let p = provider().await;
    let cases = [
        (
            json!({"channel": "fax", "to": "+1", "text": "x"}),
            400,
            "fax",
        ),
        (json!({"channel": "sms", "text": "x"}), 400, "to"),
        (json!({"channel": "sms", "to": " ", "text": "x"}), 400, "to"),
        (
            json!({"channel": "sms", "to": "+1", "text": "x", "cc": "y"}),
            400,
            "cc",
        ),
    ];
    for (body, status, mentions) in cases {
        let reply = send(p.addr, body.clone()).await;
        assert_eq!(reply.status, status, "{body}");
        assert!(
            reply.json()["error"].as_str().unwrap().contains(mentions),
            "{}",
            reply.text()
        );
    }
    let plain = request(
        p.addr,
        "POST",
        "/v1/messages",
        &[("Content-Type", "text/plain")],
        b"x",
    )
    .await;
    assert_eq!(plain.status, 415);
    assert_eq!(get(p.addr, "/v1/messages").await.status, 405);
    assert_eq!(get(p.addr, "/nope").await.status, 404);
    let bad_rule = put_faults(p.addr, json!({"rules": [{"drop_rate": 2}]})).await;
    assert_eq!(bad_rule.status, 400);
    assert!(bad_rule.json()["error"]
        .as_str()
        .unwrap()
        .contains("rules[0].drop_rate"));
}

#[tokio::test]
async fn down_error_and_drop_faults_answer_as_configured() {
    let p = provider().await;
    let rules = json!({"rules": [
        {"channel": "sms", "to_prefix": "+7", "down": true},
        {"channel": "sms", "to_prefix": "+44", "error_rate": 1.0, "error_status": 500},
        {"to_prefix": "+33", "drop_rate": 1.0},
    ]});
    assert_eq!(put_faults(p.addr, rules.clone()).await.status, 204);
    assert_eq!(get(p.addr, "/_admin/faults").await.json(), {
        let mut expected = rules.clone();
        for rule in expected["rules"].as_array_mut().unwrap() {
            let defaults = json!({"channel": null, "to_prefix": null, "latency_ms": null, "error_rate": 0.0,
                "error_status": 503, "drop_rate": 0.0, "hang_rate": 0.0, "reset_rate": 0.0, "down": false});
            let mut full = defaults.as_object().unwrap().clone();
            full.extend(rule.as_object().unwrap().clone());
            *rule = Value::Object(full);
        }
        expected
    });
    assert_eq!(send(p.addr, sms("+79991234567")).await.status, 503);
    assert_eq!(send(p.addr, sms("+447700900123")).await.status, 500);
    let dropped = send(p.addr, sms("+33612345678")).await;
    assert_eq!(dropped.status, 202);
    // Email to +7 is not covered by the sms rule.
    let email = json!({"channel": "email", "to": "+79991234567", "text": "x"});
    assert_eq!(send(p.addr, email).await.status, 202);
    let journaled: Vec<String> = journal(p.addr, "")
        .await
        .iter()
        .map(|m| m["channel"].to_string())
        .collect();
    assert_eq!(journaled, vec!["\"email\""]);
    let stats = get(p.addr, "/_admin/stats").await.json();
    assert_eq!(stats["channels"]["sms"]["requests"], 3);
    assert_eq!(stats["channels"]["sms"]["down"], 1);
    assert_eq!(stats["channels"]["sms"]["errors"], 1);
    assert_eq!(stats["channels"]["sms"]["dropped"], 1);
    assert_eq!(stats["channels"]["email"]["journaled"], 1);
    assert_eq!(
        request(p.addr, "DELETE", "/_admin/faults", &[], b"")
            .await
            .status,
        204
    );
    assert_eq!(send(p.addr, sms("+79991234567")).await.status, 202);
}

#[tokio::test]
async fn latency_is_waited_out() {
    let p = provider().await;
    put_faults(p.addr, json!({"rules": [{"latency_ms": {"fixed": 150}}]})).await;
    let started = Instant::now();
    assert_eq!(send(p.addr, sms("+14155550100")).await.status, 202);
    assert!(
        started.elapsed() >= Duration::from_millis(150),
        "{:?}",
        started.elapsed()
    );
}

/// Sends one message on a raw connection and returns what reading gave.
async fn raw_send(addr: SocketAddr, wait: Duration) -> Result<Option<Vec<u8>>, std::io::Error> {
    let body = sms("+14155550100").to_string();
    let head = format!(
        "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut buffer = vec![0u8; 4096];
    match tokio::time::timeout(wait, stream.read(&mut buffer)).await {
        Err(_) => Ok(None),
        Ok(Ok(n)) => Ok(Some(buffer[..n].to_vec())),
        Ok(Err(error)) => Err(error),
    }
}

#[tokio::test]
async fn reset_sends_a_tcp_rst() {
    let p = provider().await;
    put_faults(p.addr, json!({"rules": [{"reset_rate": 1.0}]})).await;
    let error = raw_send(p.addr, Duration::from_secs(5)).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset, "{error}");
    let stats = get(p.addr, "/_admin/stats").await.json();
    assert_eq!(stats["channels"]["sms"]["reset"], 1);
}

#[tokio::test]
async fn hang_never_answers() {
    let p = provider().await;
    put_faults(p.addr, json!({"rules": [{"hang_rate": 1.0}]})).await;
    let outcome = raw_send(p.addr, Duration::from_millis(500)).await.unwrap();
    assert!(
        outcome.is_none(),
        "answered: {:?}",
        outcome.map(|b| String::from_utf8_lossy(&b).into_owned())
    );
    assert!(journal(p.addr, "").await.is_empty());
}

mod twilio {
    use super::*;

    const PATH: &str = "/2010-04-01/Accounts/AC0123456789abcdef/Messages.json";
    // "AC0123456789abcdef:auth-token", as the Twilio libraries send it.
    const AUTH: &str = "Basic QUMwMTIzNDU2Nzg5YWJjZGVmOmF1dGgtdG9rZW4=";
    const FORM: &str = "application/x-www-form-urlencoded";

    async fn post(addr: SocketAddr, auth: &str, body: &str) -> Reply {
        request(
            addr,
            "POST",
            PATH,
            &[("Authorization", auth), ("Content-Type", FORM)],
            body.as_bytes(),
        )
        .await
    }

    #[tokio::test]
    async fn a_message_is_created_in_twilio_shape() {
        let p = provider().await;
        let reply = post(
            p.addr,
            AUTH,
            "To=%2B14155550100&From=%2B15005550006&Body=Your+code%3A+123456",
        )
        .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let m = reply.json();
        assert!(
            m["sid"].as_str().unwrap().starts_with("SM") && m["sid"].as_str().unwrap().len() == 34
        );
        assert_eq!(m["account_sid"], "AC0123456789abcdef");
        assert_eq!(m["status"], "queued");
        assert_eq!(m["to"], "+14155550100");
        assert_eq!(m["from"], "+15005550006");
        assert_eq!(m["body"], "Your code: 123456");
        assert_eq!(m["direction"], "outbound-api");
        assert!(m["date_created"].as_str().unwrap().ends_with("+0000"));
        assert_eq!(
            m["uri"],
            format!(
                "/2010-04-01/Accounts/AC0123456789abcdef/Messages/{}.json",
                m["sid"].as_str().unwrap()
            )
        );
        let messages = journal(p.addr, "?to=%2B14155550100").await;
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["channel"], "sms");
        assert_eq!(messages[0]["text"], "Your code: 123456");
    }

    #[tokio::test]
    async fn whatsapp_recipients_go_to_the_whatsapp_channel() {
        let p = provider().await;
        let reply = post(
            p.addr,
            AUTH,
            "To=whatsapp%3A%2B14155550100&From=whatsapp%3A%2B15005550006&Body=hi",
        )
        .await;
        assert_eq!(reply.status, 201);
        assert_eq!(
            journal(p.addr, "?channel=whatsapp").await[0]["to"],
            "+14155550100"
        );
    }

    #[tokio::test]
    async fn errors_use_twilio_codes() {
        let p = provider().await;
        let wrong_account = "Basic QUM5OTk6dG9rZW4="; // AC999:token
        for (auth, body, status, code) in [
            (wrong_account, "To=%2B1&From=%2B2&Body=x", 401, 20003),
            (AUTH, "From=%2B2&Body=x", 400, 21604),
            (AUTH, "To=%2B1&From=%2B2", 400, 21602),
            (AUTH, "To=%2B1&Body=x", 400, 21603),
        ] {
            let reply = post(p.addr, auth, body).await;
            assert_eq!(reply.status, status, "{body}: {}", reply.text());
            assert_eq!(reply.json()["code"], code, "{body}");
        }
    }
}
