//! Clients that half-close after their request (`shutdown(SHUT_WR)`, as
//! `nc -N` and some proxies do) are answered by every server, and a send
//! is answered exactly when it took effect (issue 19, item 3).

use std::net::SocketAddr;
use std::time::Duration;

use otpbench::server::ServerConfig;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::http::{get, parse, Reply};
use crate::support::provider::TestProvider;
use crate::support::redis::RedisServer;
use crate::support::server::TestServer;

const TRIALS: usize = 30;

/// Writes one whole request, shuts the write side, and reads what comes
/// back until the server closes (`None`: nothing came back).
async fn half_closed(addr: SocketAddr, path: &str, body: &str) -> Option<Reply> {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Authorization: Bearer test-token\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut bytes));
    match read.await {
        Ok(Ok(_)) if !bytes.is_empty() => Some(parse(&bytes)),
        _ => None,
    }
}

/// Half-closed sends to `TRIALS` recipients: every one answered, and the
/// journal holds a message exactly for each send answered 2xx (a 503 —
/// a store too slow on a busy machine — means nothing was sent).
async fn every_half_closed_send_is_answered(server: &TestServer) {
    let mut sent = 0;
    for trial in 0..TRIALS {
        let to = format!("+1415555{trial:04}");
        let body = json!({"to": to, "purpose": "login"}).to_string();
        let reply = half_closed(server.addr, "/v1/otp/send", &body).await;
        let reply = reply.unwrap_or_else(|| panic!("trial {trial}: no answer"));
        let expected = match reply.status {
            200..=299 => 1,
            503 => 0,
            other => panic!("trial {trial}: {other} {}", reply.text()),
        };
        sent += expected;
        let journal = get(server.addr, &format!("/_admin/messages?to={to}")).await;
        let messages = journal.json()["messages"].as_array().unwrap().len();
        assert_eq!(messages, expected, "trial {trial}: {}", journal.text());
    }
    assert!(
        sent >= TRIALS / 2,
        "only {sent} of {TRIALS} sends went through"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_half_closed_clients_are_answered_on_the_memory_store() {
    let server = TestServer::with(ServerConfig {
        test_mode: true,
        echo_codes: true,
        store: otpbench::server::StoreSpec::Memory,
        ..ServerConfig::default()
    })
    .await;
    every_half_closed_send_is_answered(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_half_closed_clients_are_answered_on_the_redis_store() {
    let config = ServerConfig {
        test_mode: true,
        echo_codes: true,
        ..ServerConfig::default()
    };
    let server = TestServer::on(config, RedisServer::start()).await;
    every_half_closed_send_is_answered(&server).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_half_closed_clients_are_answered_by_the_provider() {
    let provider = TestProvider::start().await;
    for trial in 0..TRIALS {
        let to = format!("+1415556{trial:04}");
        let body = json!({"channel": "sms", "to": to, "text": "hi"}).to_string();
        let reply = half_closed(provider.addr, "/v1/messages", &body).await;
        let reply = reply.unwrap_or_else(|| panic!("trial {trial}: no answer"));
        assert_eq!(reply.status, 202, "trial {trial}: {}", reply.text());
        let journal = get(provider.addr, &format!("/_admin/messages?to={to}")).await;
        let messages = journal.json()["messages"].as_array().unwrap().len();
        assert_eq!(messages, 1, "trial {trial}: {}", journal.text());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_19_the_provider_refuses_fault_rules_it_could_not_honour() {
    let provider = TestProvider::start().await;
    let rules = json!({"rules": [{"latency_ms": {"lognormal": {"median": 50, "sigma": 1000}}}]});
    let reply = crate::support::http::request(
        provider.addr,
        "PUT",
        "/_admin/faults",
        &[("Content-Type", "application/json")],
        rules.to_string().as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(
        reply.text().contains("rules[0].latency_ms"),
        "{}",
        reply.text()
    );
    // And the provider still delivers.
    let body = json!({"channel": "sms", "to": "+14155550100", "text": "hi"});
    let reply = crate::support::http::post(provider.addr, "/v1/messages", body).await;
    assert_eq!(reply.status, 202, "{}", reply.text());
}
