//! `otpbench run` against targets that are not the embedded engine: a
//! deliberately racy implementation (a `parallel` step must catch what a
//! sequential loop cannot), and the reference engine behind TLS with a
//! self-signed certificate whose codes come only through the provider's
//! inbox (every step kind must work there). Runs in-process through the
//! library's `run`, so the test's servers live beside it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use otpbench::cli::{Cli, Command};
use otpbench::config::Config;
use otpbench::server::ServerConfig;
use tokio::net::TcpListener;

use crate::support::provider::TestProvider;
use crate::support::server::TestServer;

/// `otpbench run ARGS…` in-process: exit code and stdout.
pub(crate) async fn run(args: &[&str]) -> (i32, String) {
    let mut all = vec!["otpbench", "run"];
    all.extend(args);
    let Command::Run(args) = Cli::try_parse_from(all).unwrap().command else {
        panic!("not run")
    };
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = otpbench::cli::run::run(args, &mut out, &mut err).await;
    let text = String::from_utf8_lossy(&out).into_owned() + &String::from_utf8_lossy(&err);
    (code, text)
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "otpbench-targets-{name}-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A native-dialect send endpoint with a check-then-act send limit of 5:
/// it reads the count, thinks for 50 ms, then records the send. Correct
/// one request at a time; concurrent sends all pass the check.
async fn racy_target() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let count = sent.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let sent = count.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let sent = sent.clone();
                    async move {
                        if request.uri().path() != "/v1/otp/send" {
                            let mut response = Response::new(Full::new(Bytes::new()));
                            *response.status_mut() = hyper::StatusCode::NOT_FOUND;
                            return Ok::<_, Infallible>(response);
                        }
                        let seen = sent.load(Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        let (status, body) = if seen < 5 {
                            sent.fetch_add(1, Ordering::SeqCst);
                            let id = uuid::Uuid::nil().to_string();
                            (
                                200,
                                format!(
                                    r#"{{"id":"{id}","expires_in":300,"attempts_remaining":3,"sends_remaining":{}}}"#,
                                    4 - seen.min(4)
                                ),
                            )
                        } else {
                            (429, r#"{"type":"urn:otpbench:rate-limited","title":"Too many sends","status":429,"detail":"limit","retry_after":60}"#.to_string())
                        };
                        let mut response = Response::new(Full::new(Bytes::from(body)));
                        *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                        response
                            .headers_mut()
                            .insert("content-type", "application/json".parse().unwrap());
                        Ok(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_step_catches_a_race_a_sequential_loop_cannot() {
    let dir = tempdir("race");
    let scenario = |modifier: &str| {
        format!(
            "name: the limit holds\ndialects: [native]\nsteps:\n  - {modifier}: 20\n    send: {{ to: \"${{phone}}\" }}\n    expect_counts: {{ sent: 5, rate_limited: rest }}\n"
        )
    };
    let sequential = write(&dir, "sequential.yaml", &scenario("repeat"));
    let parallel = write(&dir, "parallel.yaml", &scenario("parallel"));

    let (addr, sent) = racy_target().await;
    let target = write(
        &dir,
        "racy.yaml",
        &format!("dialect: native\nbase_url: http://{addr}\ncode_source: echo\n"),
    );
    let (code, out) = run(&[&sequential, "--target", &target]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(sent.load(Ordering::SeqCst), 5);

    let (addr, sent) = racy_target().await;
    let target = write(
        &dir,
        "racy2.yaml",
        &format!("dialect: native\nbase_url: http://{addr}\ncode_source: echo\n"),
    );
    let (code, out) = run(&[&parallel, "--target", &target]).await;
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("counts: expected {sent: 5, rate_limited: 15}"),
        "{out}"
    );
    // All twenty were in flight before the first one was recorded.
    assert_eq!(sent.load(Ordering::SeqCst), 20, "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A TLS front for `backend` with a fresh self-signed certificate.
async fn tls_front(backend: SocketAddr) -> SocketAddr {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let Ok(mut plain) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_step_kind_works_over_https_with_codes_only_in_the_inbox() {
    let provider = TestProvider::start().await;
    // No echoed codes: the inbox is the only way to a code.
    let server = TestServer::with(ServerConfig {
        config: Config::default(),
        provider: Some(format!("http://{}", provider.addr)),
        test_mode: true,
        echo_codes: false,
        ..ServerConfig::default()
    })
    .await;
    let front = tls_front(server.addr).await;
    let dir = tempdir("https");
    let target = |insecure: bool| {
        format!(
            "dialect: native\nbase_url: https://127.0.0.1:{}\nprovider: http://{}\ncode_source: inbox\nclock: admin\ninsecure: {insecure}\n",
            front.port(),
            provider.addr
        )
    };
    let trusting = write(&dir, "tls.yaml", &target(true));
    let scenario = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scenarios/ok/every_step_kind.yaml"
    );
    let (code, out) = run(&[scenario, "--target", &trusting]).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1 passed, 0 failed"), "{out}");

    // Without `insecure`, the self-signed certificate is refused.
    let strict = write(&dir, "strict.yaml", &target(false));
    let (code, out) = run(&[scenario, "--target", &strict]).await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("unreachable"), "{out}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_that_cannot_run_on_a_target_is_skipped_with_its_reason() {
    let dir = tempdir("skips");
    let (addr, sent) = racy_target().await;
    let target = write(
        &dir,
        "bare.yaml",
        &format!("dialect: native\nbase_url: http://{addr}\nlacks: [echo]\n"),
    );
    let conformance = |file: &str| {
        format!(
            "{}/scenarios/conformance/{file}",
            env!("CARGO_MANIFEST_DIR")
        )
    };
    let files = ["happy_path.yaml", "expiry.yaml", "send_limit.yaml"].map(conformance);
    let mut args: Vec<&str> = files.iter().map(String::as_str).collect();
    args.extend(["--target", &target]);
    let (code, out) = run(&args).await;
    assert!(
        out.contains("skipped a sent code verifies [bare]: reads codes, and target `bare` neither echoes them nor names a provider"),
        "{out}"
    );
    assert!(
        out.contains("skipped a code has expired just after its ttl [bare]: reads codes"),
        "{out}"
    );
    assert!(
        out.contains(
            "skipped a full window opens again when its oldest send leaves it [bare]: \
             waits 1h1s on a real clock (the limit is --max-wait 1m)"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "skipped a send within the cooldown is refused [bare]: reads \
             `${policy.cooldown}`: the target's policy has no cooldown"
        ),
        "{out}"
    );
    // Only the first send-limit scenario can run here, and it finds the
    // racy target's limit shared by every recipient.
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("FAILED  sends beyond the limit are refused [bare]"),
        "{out}"
    );
    assert!(out.contains("0 passed, 1 failed, 10 skipped"), "{out}");
    assert_eq!(sent.load(Ordering::SeqCst), 5);
    let every = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/scenarios/ok/every_step_kind.yaml"
    );
    let (code, out) = run(&[every, "--target", &target]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(
            "skipped every step kind [bare]: sets provider faults: target `bare` names no provider"
        ),
        "{out}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `${code}` belongs to the send that made it, fixed when that send is
/// accepted: a raw resend between the send and a verify does not move it.
/// Checked against the provider's journal: the verify sends the first
/// message's code, not the resend's (shown by `--verbose` in a last step
/// that fails on purpose).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_raw_resend_does_not_move_the_code_of_the_send_before_it() {
    let provider = TestProvider::start().await;
    let server = TestServer::with(ServerConfig {
        config: Config::default(),
        provider: Some(format!("http://{}", provider.addr)),
        test_mode: true,
        echo_codes: false,
        ..ServerConfig::default()
    })
    .await;
    let dir = tempdir("resend");
    let target = write(
        &dir,
        "engine.yaml",
        &format!(
            "dialect: native\nbase_url: http://{}\nprovider: http://{}\ncode_source: inbox\nclock: admin\n",
            server.addr, provider.addr
        ),
    );
    let scenario = write(
        &dir,
        "resend.yaml",
        r#"name: a raw resend
dialects: [native]
steps:
  - send: { to: "${phone}" }
    expect: { outcome: sent }
  - http: { method: POST, path: /v1/otp/send, auth: true, json: { to: "${phone}" } }
    expect: { status: 200 }
  - name: the first code, replaced by the resend
    http: { method: POST, path: /v1/otp/verify, auth: true, json: { to: "${phone}", code: "${code}" } }
    expect: { outcome: wrong_code }
  - name: shows the code it sends
    http: { method: POST, path: /v1/otp/verify, auth: true, json: { to: "${phone}", code: "${code}" } }
    expect: { outcome: verified }
"#,
    );
    let (code, out) = run(&[&scenario, "--target", &target, "--verbose"]).await;
    assert_eq!(code, 4, "{out}");
    assert!(
        out.contains("step 4 (http: shows the code it sends)")
            && out.contains("got      wrong_code"),
        "{out}"
    );
    let journal =
        crate::support::http::request(provider.addr, "GET", "/_admin/messages", &[], b"").await;
    let journal: serde_json::Value = serde_json::from_str(&journal.text()).unwrap();
    let digits = regex::Regex::new(r"\d{6}").unwrap();
    let codes: Vec<String> = journal["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let text = m["text"].as_str().unwrap();
            digits.find_iter(text).last().unwrap().as_str().to_string()
        })
        .collect();
    assert_eq!(codes.len(), 2, "{journal}");
    assert_ne!(
        codes[0], codes[1],
        "two sends drew the same code: run again"
    );
    assert!(
        out.contains(&format!("\"code\":\"{}\"", codes[0])),
        "the verify did not send the first send's code {}: {out}",
        codes[0]
    );
    assert!(
        !out.contains(&format!("\"code\":\"{}\"", codes[1])),
        "{out}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
