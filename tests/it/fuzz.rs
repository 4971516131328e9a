//! `otpbench fuzz`: no false alarm on the embedded engine in any dialect;
//! defective targets — a proxy in front of the engine that answers 500
//! to a body that is not ASCII, or that wedges for a few requests after
//! one — caught, shrunk to one request and saved as a scenario that fails
//! on the defective target and passes on the engine; the same seed sends
//! the same requests; a single hiccup is retried, not reported.
//!
//! Seeds are fixed so a failure here reproduces with the same command
//! line (`otpbench fuzz --dialect D --seed S`). docs/check.md has the
//! figures of longer runs.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use otpbench::check::fuzz::{self, FuzzOptions, FuzzReport};
use otpbench::check::fuzz_case::Property;
use otpbench::client::TargetSpec;
use otpbench::dialect::Dialect;
use otpbench::server::StoreSpec;
use tokio::net::TcpListener;

use crate::runner_targets::run as run_scenarios;
use crate::support::server::TestServer;

fn embedded(dialect: Dialect) -> TargetSpec {
    let file = PathBuf::from("scenarios/targets").join(format!("{}.yaml", dialect.name()));
    TargetSpec::load(&file, &otpbench::vars::Vars::default())
        .unwrap_or_else(|_| TargetSpec::embedded(dialect))
}

async fn fuzz_on(spec: TargetSpec, cases: u32, seed: u64) -> FuzzReport {
    let options = FuzzOptions {
        spec,
        store: StoreSpec::Memory,
        cases,
        seed,
    };
    fuzz::fuzz(options, |_| {}).await.unwrap()
}

fn failure(report: &FuzzReport) -> String {
    match &report.failure {
        Some(found) => format!(
            "{}\n{}",
            otpbench::cli::fuzz::render(report),
            found.scenario
        ),
        None => String::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_engine_answers_every_bad_request_as_documented() {
    for dialect in Dialect::ALL {
        let report = fuzz_on(embedded(dialect), 200, 20_261_203).await;
        assert!(report.failure.is_none(), "{dialect}: {}", failure(&report));
        assert_eq!(report.head.cases, 200, "{dialect}");
        // Bad input got past the first checks too: some were sent.
        assert!(
            report.seen.keys().any(|k| k == "invalid_input"),
            "{dialect}: {:?}",
            report.seen
        );
        assert!(
            report.flows >= 200 / 16,
            "{dialect}: {} flows",
            report.flows
        );
    }
}

/// What the defective front does wrong.
#[derive(Clone, Copy)]
enum Defect {
    /// A body with a byte that is not ASCII is answered 500.
    Unicode500,
    /// A body with a byte that is not ASCII is served, then the next
    /// `n` requests are answered 503 store-unavailable (a documented
    /// answer, so only the flow afterwards can tell).
    WedgesAfterUnicode(usize),
    /// Every request is answered 503 store-unavailable.
    Down,
    /// A body with a byte that is not ASCII is never answered.
    HangsOnUnicode,
}

/// A front for the engine at `engine` with `defect`: everything else is
/// passed through.
async fn defective(engine: SocketAddr, defect: Defect) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let wedged = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let wedged = wedged.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let wedged = wedged.clone();
                    if matches!(defect, Defect::Down) {
                        wedged.store(usize::MAX, Ordering::SeqCst);
                    }
                    async move {
                        let method = request.method().to_string();
                        let path = request.uri().to_string();
                        let headers: Vec<(String, String)> = request
                            .headers()
                            .iter()
                            .filter(|(n, _)| matches!(n.as_str(), "authorization" | "content-type"))
                            .map(|(n, v)| {
                                (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into())
                            })
                            .collect();
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let plain = |status: u16, text: &str| {
                            let mut response =
                                Response::new(Full::new(Bytes::from(text.to_string())));
                            *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
                            Ok::<_, Infallible>(response)
                        };
                        let unicode = body.iter().any(|b| *b >= 0x80);
                        if wedged
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok()
                        {
                            let body = r#"{"type":"urn:otpbench:store-unavailable","title":"Store unavailable","status":503,"detail":"wedged","retry_after":1}"#;
                            let mut response = Response::new(Full::new(Bytes::from(body)));
                            *response.status_mut() = hyper::StatusCode::SERVICE_UNAVAILABLE;
                            let headers = response.headers_mut();
                            headers.insert(
                                "content-type",
                                "application/problem+json".parse().unwrap(),
                            );
                            headers.insert("retry-after", "1".parse().unwrap());
                            return Ok(response);
                        }
                        match defect {
                            Defect::Unicode500 if unicode => return plain(500, "boom"),
                            Defect::HangsOnUnicode if unicode => {
                                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                                return plain(200, "late");
                            }
                            Defect::WedgesAfterUnicode(n) if unicode => {
                                wedged.store(n, Ordering::SeqCst)
                            }
                            _ => {}
                        }
                        let pairs: Vec<(&str, &str)> = headers
                            .iter()
                            .map(|(n, v)| (n.as_str(), v.as_str()))
                            .collect();
                        let reply =
                            crate::support::http::request(engine, &method, &path, &pairs, &body)
                                .await;
                        let mut response = Response::new(Full::new(Bytes::from(reply.body)));
                        *response.status_mut() = hyper::StatusCode::from_u16(reply.status).unwrap();
                        for (name, value) in reply.headers {
                            let lower = name.to_ascii_lowercase();
                            if matches!(
                                lower.as_str(),
                                "connection" | "content-length" | "transfer-encoding"
                            ) {
                                continue;
                            }
                            if let (Ok(name), Ok(value)) = (
                                hyper::header::HeaderName::from_bytes(name.as_bytes()),
                                hyper::header::HeaderValue::from_str(&value),
                            ) {
                                response.headers_mut().append(name, value);
                            }
                        }
                        Ok(response)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "otpbench-fuzz-{name}-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn target_file(dir: &std::path::Path, name: &str, addr: SocketAddr) -> String {
    target_with(dir, name, addr, "")
}

fn target_with(dir: &std::path::Path, name: &str, addr: SocketAddr, extra: &str) -> String {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!(
            "name: {name}\ndialect: native\nbase_url: http://{addr}\ncode_source: echo\n{extra}"
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_500_on_unicode_is_caught_shrunk_saved_and_replayed() {
    let engine = TestServer::start().await;
    let front = defective(engine.addr, Defect::Unicode500).await;
    let dir = tempdir("500");
    let faulty = target_file(&dir, "faulty", front);
    let clean = target_file(&dir, "clean", engine.addr);
    let spec = TargetSpec::load(std::path::Path::new(&faulty), &Default::default()).unwrap();

    let report = fuzz_on(spec.clone(), 400, 5).await;
    let found = report.failure.as_ref().expect("the 500 is found");
    let shown = failure(&report);
    assert_eq!(found.trace.sent.len(), 1, "{shown}");
    assert_eq!(found.reproduced, 3, "{shown}");
    let (at, property) = found.trace.broken().unwrap();
    assert_eq!((at, property), (Some(0), Property::No5xx), "{shown}");
    assert!(found.trace.sent[0].observed.contains("500"), "{shown}");
    assert!(shown.contains("seed 5"), "{shown}");

    // The same seed sends the same requests: the same shrunk request.
    let again = fuzz_on(spec, 400, 5).await;
    let twin = again.failure.as_ref().expect("found again");
    assert_eq!(twin.trace.sent[0].case, found.trace.sent[0].case);
    assert_eq!(twin.original_requests, found.original_requests);
    assert_eq!(again.head.cases, report.head.cases);

    let saved = dir.join("found.yaml");
    std::fs::write(&saved, &found.scenario).unwrap();
    let saved = saved.display().to_string();
    let (code, out) = run_scenarios(&[&saved, "--target", &faulty]).await;
    assert_eq!(
        code, 4,
        "the replay fails on the faulty target:\n{out}\n{shown}"
    );
    let (code, out) = run_scenarios(&[&saved, "--target", &clean]).await;
    assert_eq!(code, 0, "the replay passes on the engine:\n{out}\n{shown}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_target_that_stops_serving_is_caught_and_a_hiccup_is_retried() {
    let engine = TestServer::start().await;
    let dir = tempdir("wedge");

    // Wedged for one request: the flow's retry passes.
    let hiccup = defective(engine.addr, Defect::WedgesAfterUnicode(1)).await;
    let file = target_file(&dir, "hiccup", hiccup);
    let spec = TargetSpec::load(std::path::Path::new(&file), &Default::default()).unwrap();
    let report = fuzz_on(spec, 300, 9).await;
    assert!(report.failure.is_none(), "{}", failure(&report));

    // Wedged for three: the flow fails twice.
    let wedge = defective(engine.addr, Defect::WedgesAfterUnicode(3)).await;
    let faulty = target_file(&dir, "wedge", wedge);
    let spec = TargetSpec::load(std::path::Path::new(&faulty), &Default::default()).unwrap();
    let report = fuzz_on(spec, 300, 9).await;
    let found = report.failure.as_ref().expect("the wedge is found");
    let shown = failure(&report);
    assert!(found.trace.stopped, "{shown}");
    assert_eq!(found.trace.sent.len(), 1, "{shown}");
    assert_eq!(
        found.trace.broken(),
        Some((None, Property::StillServing)),
        "{shown}"
    );
    assert!(shown.contains("a correct flow failed twice"), "{shown}");

    let saved = dir.join("found.yaml");
    std::fs::write(&saved, &found.scenario).unwrap();
    let saved = saved.display().to_string();
    let (code, out) = run_scenarios(&[&saved, "--target", &faulty]).await;
    assert_eq!(code, 4, "{out}\n{shown}");
    let clean = target_file(&dir, "clean", engine.addr);
    let (code, out) = run_scenarios(&[&saved, "--target", &clean]).await;
    assert_eq!(code, 0, "{out}\n{shown}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_command_finds_a_mutant_saves_it_and_writes_the_reports() {
    let dir = tempdir("cli");
    let (save, json, junit) = (
        dir.join("found.yaml"),
        dir.join("fuzz.json"),
        dir.join("fuzz.xml"),
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_otpbench"))
        .args([
            "fuzz",
            "--dialect",
            "native",
            "--mutant",
            "framework-error-shape",
        ])
        .args(["--cases", "200", "--seed", "2", "--save"])
        .arg(&save)
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(4), "{stdout}");
    assert!(
        stdout.contains("seed 2") && stdout.contains("<- breaks \"a documented shape\""),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["command"], "fuzz");
    assert_eq!(report["targets"][0]["passed"], false);
    assert_eq!(report["targets"][0]["failure"]["shrunk_requests"], 1);
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains("failures=\"1\""), "{xml}");
    let replay = std::process::Command::new(env!("CARGO_BIN_EXE_otpbench"))
        .arg("run")
        .arg(&save)
        .args(["--dialect", "native"])
        .output()
        .unwrap();
    assert_eq!(
        replay.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replay.stdout)
    );
    let mutants = std::process::Command::new(env!("CARGO_BIN_EXE_otpbench"))
        .arg("mutants")
        .arg(&save)
        .args(["--dialect", "native"])
        .output()
        .unwrap();
    let matrix = String::from_utf8_lossy(&mutants.stdout);
    assert!(
        matrix
            .lines()
            .any(|l| l.starts_with("framework-error-shape") && l.contains("[1]")),
        "{matrix}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_clean_run_exits_0_and_an_unreachable_target_3() {
    let dir = tempdir("exit");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_otpbench"))
        .args([
            "fuzz",
            "--dialect",
            "valify",
            "--cases",
            "40",
            "--seed",
            "1",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("ok     valify"), "{stdout}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let target = dir.join("gone.yaml");
    std::fs::write(
        &target,
        format!("dialect: native\nbase_url: http://127.0.0.1:{port}\ncode_source: echo\n"),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_otpbench"))
        .args(["fuzz", "--cases", "5", "--target"])
        .arg(&target)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_documented_counterexample_is_a_valid_scenario() {
    let docs =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/check.md")).unwrap();
    let at = docs
        .find("**Replaying a fuzz failure in CI.**")
        .expect("the section");
    let rest = &docs[at..];
    let open = rest.find("```yaml\n").expect("a yaml block") + "```yaml\n".len();
    let close = rest[open..].find("```").expect("a closing fence");
    let scenarios = otpbench::scenario::parse(&rest[open..open + close], "docs/check.md").unwrap();
    assert_eq!(scenarios[0].steps.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_target_that_fails_the_flow_before_any_bad_input_is_reported_so() {
    let engine = TestServer::start().await;
    let dir = tempdir("down");
    let down = defective(engine.addr, Defect::Down).await;
    let file = target_file(&dir, "down", down);
    let spec = TargetSpec::load(std::path::Path::new(&file), &Default::default()).unwrap();
    let report = fuzz_on(spec, 100, 1).await;
    let found = report.failure.as_ref().expect("reported");
    let shown = failure(&report);
    assert!(
        found.trace.sent.is_empty() && found.trace.stopped,
        "{shown}"
    );
    assert_eq!(report.head.cases, 0, "{shown}");
    assert!(
        shown.contains("before any bad request a correct flow failed twice"),
        "{shown}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hang_past_the_targets_timeout_is_caught_and_replayed() {
    let engine = TestServer::start().await;
    let dir = tempdir("hang");
    let front = defective(engine.addr, Defect::HangsOnUnicode).await;
    // Warm the engine up (its first answers are slow in a debug build).
    crate::support::http::get(front, "/healthz").await;
    let faulty = target_with(&dir, "hangs", front, "timeout: 1s\n");
    let spec = TargetSpec::load(std::path::Path::new(&faulty), &Default::default()).unwrap();
    let report = fuzz_on(spec, 200, 4).await;
    let found = report.failure.as_ref().expect("the hang is found");
    let shown = failure(&report);
    assert_eq!(found.trace.sent.len(), 1, "{shown}");
    assert_eq!(
        found.trace.broken(),
        Some((Some(0), Property::NoHang)),
        "{shown}"
    );
    assert!(
        found.trace.sent[0].observed.contains("no answer within 1s"),
        "{shown}"
    );
    let saved = dir.join("found.yaml");
    std::fs::write(&saved, &found.scenario).unwrap();
    let saved = saved.display().to_string();
    let (code, out) = run_scenarios(&[&saved, "--target", &faulty]).await;
    assert_eq!(code, 4, "{out}\n{shown}");
    std::fs::remove_dir_all(dir).unwrap();
}
