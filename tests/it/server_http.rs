//! The server around the dialects: routing, body limits, health, metrics,
//! test-mode admin routes and graceful shutdown.

use std::time::Duration;

use otpbench::server::ServerConfig;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::support::http::{get, post, raw, read_reply, request};
use crate::support::server::TestServer;

#[tokio::test]
async fn unknown_paths_and_methods_answer_in_the_native_shape() {
    let server = TestServer::start().await;
    let missing = post(server.addr, "/v1/otp/sned", json!({})).await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(missing.json()["type"], "urn:otpbench:not-found");
    for method in ["GET", "PUT", "DELETE", "PATCH"] {
        let reply = request(server.addr, method, "/v1/otp/verify", &[], b"").await;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("POST"));
        assert_eq!(reply.json()["type"], "urn:otpbench:method-not-allowed");
    }
}

#[tokio::test]
async fn bodies_over_64_kib_are_refused_with_413() {
    let server = TestServer::start().await;
    let headers = [
        ("Authorization", "Bearer test-token"),
        ("Content-Type", "application/json"),
    ];
    // Exactly at the limit is read (and is bad JSON); one byte more is not.
    let at_limit = vec![b' '; 64 * 1024];
    let reply = request(server.addr, "POST", "/v1/otp/send", &headers, &at_limit).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    let over = vec![b' '; 64 * 1024 + 1];
    let reply = request(server.addr, "POST", "/v1/otp/send", &headers, &over).await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["type"], "urn:otpbench:payload-too-large");
    // Chunked, with no Content-Length to go by: counted while reading.
    let chunk = vec![b' '; 40 * 1024];
    let mut body = Vec::new();
    for _ in 0..2 {
        body.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        body.extend(&chunk);
        body.extend(b"\r\n");
    }
    body.extend(b"0\r\n\r\n");
    let head = "POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer test-token\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let reply = raw(server.addr, head, &body).await;
    assert_eq!(reply.status, 413);
}

#[tokio::test]
async fn a_body_cut_short_is_not_a_server_error() {
    let server = TestServer::start().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = "POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nAuthorization: Bearer test-token\r\nContent-Type: application/json\r\n\r\n{\"to\":";
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut bytes = Vec::new();
    let _ = tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut bytes).await;
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.starts_with("HTTP/1.1 5"), "{text}");
    // The server is still healthy afterwards.
    assert_eq!(get(server.addr, "/healthz").await.status, 200);
}

#[tokio::test]
async fn admin_routes_are_absent_without_test_mode() {
    let server = TestServer::with(ServerConfig::default()).await;
    for (method, path) in [
        ("GET", "/_admin/clock"),
        ("POST", "/_admin/clock"),
        ("POST", "/_admin/reset"),
        ("GET", "/_admin/messages"),
    ] {
        let reply = request(server.addr, method, path, &[], br#"{"advance_ms":1}"#).await;
        assert_eq!(reply.status, 404, "{method} {path}");
    }
    assert_eq!(get(server.addr, "/healthz").await.status, 200);
}

#[tokio::test]
async fn health_reports_the_store() {
    let server = TestServer::start().await;
    let reply = get(server.addr, "/healthz").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json(), json!({"status": "ok", "store": "ok"}));
    let wrong = request(server.addr, "POST", "/healthz", &[], b"").await;
    assert_eq!(wrong.status, 405);
}

#[tokio::test]
async fn metrics_count_outcomes_per_operation() {
    let server = TestServer::start().await;
    post(server.addr, "/v1/otp/send", json!({"to": "+14155550100"})).await;
    post(server.addr, "/v1/otp/send", json!({"to": "bad"})).await;
    post(
        server.addr,
        "/v1/otp/verify",
        json!({"to": "+14155550100", "code": "x"}),
    )
    .await;
    let reply = get(server.addr, "/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .header("content-type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    let text = reply.text();
    for line in [
        "otpbench_requests_total{dialect=\"native\",operation=\"send\",outcome=\"sent\"} 1",
        "otpbench_requests_total{dialect=\"native\",operation=\"send\",outcome=\"invalid_input\"} 1",
        "otpbench_requests_total{dialect=\"native\",operation=\"verify\",outcome=\"wrong_code\"} 1",
        "otpbench_request_duration_seconds_count{dialect=\"native\",operation=\"send\"} 2",
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn the_admin_clock_only_moves_forward() {
    let server = TestServer::start().await;
    let before = get(server.addr, "/_admin/clock").await.json()["now_ms"]
        .as_u64()
        .unwrap();
    let after = post(
        server.addr,
        "/_admin/clock",
        json!({"advance_ms": 86_400_000}),
    )
    .await;
    let after = after.json()["now_ms"].as_u64().unwrap();
    assert!(after >= before + 86_400_000);
    for bad in [
        json!({"advance_ms": -5}),
        json!({"advance_ms": "1h"}),
        json!({}),
    ] {
        let reply = post(server.addr, "/_admin/clock", bad.clone()).await;
        assert_eq!(reply.status, 400, "{bad}");
        assert_eq!(reply.json()["type"], "urn:otpbench:invalid-input");
    }
}

#[tokio::test]
async fn reset_forgets_limits_challenges_and_messages() {
    let server = TestServer::start().await;
    let mut id = String::new();
    for _ in 0..5 {
        id = post(server.addr, "/v1/otp/send", json!({"to": "+14155550100"}))
            .await
            .json()["id"]
            .as_str()
            .unwrap()
            .to_string();
    }
    assert_eq!(
        post(server.addr, "/v1/otp/send", json!({"to": "+14155550100"}))
            .await
            .status,
        429
    );
    let reset = request(server.addr, "POST", "/_admin/reset", &[], b"").await;
    assert_eq!(reset.status, 204);
    let messages = get(server.addr, "/_admin/messages").await.json();
    assert_eq!(messages, json!({"messages": []}));
    let verify = post(
        server.addr,
        "/v1/otp/verify",
        json!({"id": id, "code": "123456"}),
    )
    .await;
    assert_eq!(verify.status, 404);
    assert_eq!(
        post(server.addr, "/v1/otp/send", json!({"to": "+14155550100"}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn journal_long_poll_returns_when_the_message_lands() {
    let server = TestServer::start().await;
    let addr = server.addr;
    let poll = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let reply = get(addr, "/_admin/messages?to=%2B14155550199&wait_ms=20000").await;
        (reply, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    post(server.addr, "/v1/otp/send", json!({"to": "+14155550100"})).await;
    post(server.addr, "/v1/otp/send", json!({"to": "+14155550199"})).await;
    let (reply, waited) = poll.await.unwrap();
    let messages = reply.json()["messages"].as_array().unwrap().clone();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["to"], "+14155550199");
    assert!(
        waited < Duration::from_secs(15),
        "long-poll took {waited:?}"
    );
    // `after` skips what was seen; an empty poll times out with [].
    let last = messages[0]["id"].as_str().unwrap();
    let reply = get(
        server.addr,
        &format!("/_admin/messages?after={last}&wait_ms=50"),
    )
    .await;
    assert_eq!(reply.json(), json!({"messages": []}));
    let bad = get(server.addr, "/_admin/messages?channel=fax").await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish() {
    let mut server = TestServer::start().await;
    // A request whose body is only half sent is in flight.
    let body = json!({"to": "+14155550100"}).to_string();
    let (first, rest) = body.as_bytes().split_at(5);
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let head = format!(
        "POST /v1/otp/send HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer test-token\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let task = server.begin_shutdown();
    tokio::time::sleep(Duration::from_millis(50)).await;
    // New connections are refused once shutdown has begun.
    assert!(TcpStream::connect(server.addr).await.is_err());
    stream.write_all(rest).await.unwrap();
    let reply = read_reply(&mut stream).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("server stops once the request is done")
        .unwrap();
}

#[tokio::test]
async fn shutdown_ends_long_polls_early() {
    let mut server = TestServer::start().await;
    let addr = server.addr;
    let poll = tokio::spawn(async move { get(addr, "/_admin/messages?wait_ms=30000").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let task = server.begin_shutdown();
    let reply = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply.json(), json!({"messages": []}));
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
}

/// Regression: `POST /_admin/clock` added any 64-bit value with
/// wrap-around; 2^64−1 jammed the clock, after which Redis sends answered
/// 500 and `GET /_admin/messages` dropped the connection (a date past
/// 9999). Jumps that leave a sane range are refused and change nothing.
#[tokio::test]
async fn an_admin_clock_jump_out_of_range_is_refused() {
    let server = TestServer::start().await;
    let before = get(server.addr, "/_admin/clock").await.json()["now_ms"]
        .as_u64()
        .unwrap();
    for advance_ms in [
        u64::MAX,
        i64::MAX as u64,
        253_402_300_800_000,
        400 * 86_400_000 * 10,
    ] {
        let reply = post(
            server.addr,
            "/_admin/clock",
            json!({ "advance_ms": advance_ms }),
        )
        .await;
        assert_eq!(reply.status, 400, "{advance_ms}: {}", reply.text());
        assert_eq!(reply.json()["type"], "urn:otpbench:invalid-input");
        assert!(reply.json()["detail"]
            .as_str()
            .unwrap()
            .contains("advance_ms"));
    }
    let now = get(server.addr, "/_admin/clock").await.json()["now_ms"]
        .as_u64()
        .unwrap();
    assert!(now >= before && now < before + 60_000, "{before} -> {now}");
    // Ten years in one call is still fine, and everything keeps working.
    let moved = post(
        server.addr,
        "/_admin/clock",
        json!({"advance_ms": 10u64 * 365 * 86_400_000}),
    )
    .await;
    assert_eq!(moved.status, 200, "{}", moved.text());
    let sent = post(server.addr, "/v1/otp/send", json!({"to": "+14155550100"})).await;
    assert_eq!(sent.status, 200, "{}", sent.text());
    let messages = get(server.addr, "/_admin/messages").await;
    assert_eq!(messages.status, 200);
    assert_eq!(messages.json()["messages"].as_array().unwrap().len(), 1);
}
