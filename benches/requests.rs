//! A whole request per dialect, bytes in to bytes out: the request's
//! bytes written into an in-memory stream, hyper's parsing, the dialect,
//! the engine on the memory store, the journal, rendering, and the answer's
//! bytes read back — everything a send over TCP costs but the socket and
//! the kernel. `GET /healthz` through the same path is the floor, so
//! `send ÷ healthz` here is the share of the send path that is ours.
//! Each send goes to a new recipient, so no send limit short-circuits it.
//!
//! Run: `cargo bench --bench requests`. Figures are in docs/performance.md.

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use otpbench::server::{serve_stream, ServerConfig};
use otpbench::store::memory::MemoryStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// One keep-alive connection to an in-process engine.
struct Connection {
    stream: DuplexStream,
    buffer: Vec<u8>,
}

impl Connection {
    fn open(runtime: &tokio::runtime::Runtime) -> Connection {
        let (client, server) = tokio::io::duplex(64 * 1024);
        runtime.spawn(serve_stream(
            ServerConfig::default(),
            Arc::new(MemoryStore::new()),
            server,
        ));
        Connection {
            stream: client,
            buffer: Vec::with_capacity(4096),
        }
    }

    /// Writes `request`, reads the whole answer; returns its status and
    /// body.
    async fn exchange(&mut self, request: &[u8]) -> (u16, Vec<u8>) {
        self.stream
            .write_all(request)
            .await
            .expect("the server reads");
        self.buffer.clear();
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut response = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) =
                response.parse(&self.buffer).expect("a valid answer")
            {
                let length: usize = response
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                    .unwrap_or(0);
                let status = response.code.unwrap_or(0);
                if self.buffer.len() >= head + length {
                    let body = self.buffer[head..head + length].to_vec();
                    return (status, body);
                }
            }
            let mut chunk = [0u8; 4096];
            let n = self
                .stream
                .read(&mut chunk)
                .await
                .expect("the server answers");
            assert!(n > 0, "the server closed the connection");
            self.buffer.extend_from_slice(&chunk[..n]);
        }
    }
}

fn post(path: &str, authorization: Option<&str>, body: &str) -> Vec<u8> {
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(value) = authorization {
        request.push_str(&format!("Authorization: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(body);
    request.into_bytes()
}

/// A send in `dialect` to the `n`th recipient (seven digits).
fn send(dialect: &str, n: u64, jwt: &str) -> Vec<u8> {
    let n = format!("{:07}", n % 10_000_000);
    match dialect {
        "native" => post(
            "/v1/otp/send",
            Some("Bearer test-token"),
            &format!(r#"{{"to":"+1415{n}"}}"#),
        ),
        "rees46" => post(
            "/loyalty/otp/send",
            None,
            &format!(
                r#"{{"shop_id":"test-shop","shop_secret":"test-secret","identifier":"1415{n}","event":"login"}}"#
            ),
        ),
        "sigmasms" => post(
            "/api/n/otp-handler/",
            Some("Bearer test-token"),
            &format!(
                r#"{{"widgetId":"123634df-ddfe-4dda-b31d-f3b4e75fc5dc","recipient":"+1415{n}"}}"#
            ),
        ),
        "valify" => post(
            "/api/v1/otp/send/",
            Some("Bearer test-token"),
            &format!(r#"{{"phone_number":"010{n}0","bundle_key":"test-bundle"}}"#),
        ),
        "nomado" => post(
            "/2fa/create",
            Some("Basic dGVzdDp0ZXN0"),
            &format!(
                r#"{{"to":"1415{n}","template":"Your code is {{{{CODE}}}}","type":"NUMERIC","length":6}}"#
            ),
        ),
        "loyaltydog" => post(
            "/v2/giftcards/customers/otp/send",
            Some(&format!("Bearer {jwt}")),
            &format!(r#"{{"target":"+1415{n}"}}"#),
        ),
        other => panic!("unknown dialect {other}"),
    }
}

fn requests(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("request");

    let mut connection = Connection::open(&runtime);
    let healthz = b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n".to_vec();
    group.bench_function("healthz", |b| {
        b.iter(|| {
            let (status, _) = runtime.block_on(connection.exchange(&healthz));
            assert_eq!(status, 200);
        })
    });

    for dialect in [
        "native",
        "rees46",
        "sigmasms",
        "valify",
        "nomado",
        "loyaltydog",
    ] {
        let mut connection = Connection::open(&runtime);
        let jwt = if dialect == "loyaltydog" {
            let token = post("/v2/token", None, r#"{"api_key":"test-key"}"#);
            let (status, body) = runtime.block_on(connection.exchange(&token));
            assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
            let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
            answer["access_token"].as_str().unwrap().to_string()
        } else {
            String::new()
        };
        let mut n = 0u64;
        group.bench_function(format!("{dialect}_send"), |b| {
            b.iter(|| {
                n += 1;
                let request = send(dialect, n, &jwt);
                let (status, body) = runtime.block_on(connection.exchange(&request));
                assert!(
                    (200..300).contains(&status),
                    "{dialect}: {status} {}",
                    String::from_utf8_lossy(&body)
                );
            })
        });
    }
    group.finish();
}

criterion_group!(benches, requests);
criterion_main!(benches);
