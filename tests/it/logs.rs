//! What `serve` logs (docs/cli.md, "Logs"): start and stop at info, an access
//! line per request at debug, store and delivery failures at warn with
//! their cause — as JSON with `--log-format json` — and never a code, a
//! secret or a token.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn otpbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_otpbench"))
}

/// Runs `otpbench serve ARGS --log-format json` with `RUST_LOG=trace`,
/// calls `exercise` with its address, stops it with SIGTERM and returns
/// its log lines, each checked to be one JSON object.
fn logs_of(args: &[&str], exercise: impl FnOnce(&str)) -> Vec<serde_json::Value> {
    let mut child = otpbench()
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(args)
        .env("RUST_LOG", "trace")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    exercise(&addr);
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    (first + &rest)
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:?}"))
        })
        .collect()
}

/// A blocking HTTP/1.1 exchange (`Connection: close`): status and body.
fn exchange(addr: &str, path: &str, headers: &[&str], body: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for header in headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    stream
        .write_all(format!("{head}\r\n{body}").as_bytes())
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer[9..12].parse().unwrap();
    let json = answer.split("\r\n\r\n").nth(1).unwrap_or("null");
    (
        status,
        serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    )
}

fn field<'a>(line: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    line.get(name)
        .or_else(|| line.get("fields").and_then(|f| f.get(name)))
        .unwrap_or(&serde_json::Value::Null)
}

/// Regression: a server printed one startup line and nothing else, even
/// with RUST_LOG=trace. Now every request has an access line at debug,
/// start and stop are at info — and no line carries a code or a token.
#[test]
fn logs_show_requests_but_never_a_code_or_a_token() {
    let dir = std::env::temp_dir().join(format!("otpbench-logs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("otpbench.yaml");
    // Twelve letters: a code that cannot turn up in a log by chance.
    std::fs::write(
        &config,
        "native:\n  policy:\n    code: alpha\n    length: 12\n",
    )
    .unwrap();
    let mut code = String::new();
    let lines = logs_of(
        &[
            "--test-mode",
            "--echo-codes",
            "--config",
            config.to_str().unwrap(),
        ],
        |addr| {
            let auth = "Authorization: Bearer test-token";
            let json = "Content-Type: application/json";
            let (status, sent) = exchange(
                addr,
                "/v1/otp/send",
                &[auth, json],
                r#"{"to": "+14155550100"}"#,
            );
            assert_eq!(status, 200, "{sent}");
            code = sent["code"].as_str().unwrap().to_string();
            let verify = format!(r#"{{"to": "+14155550100", "code": "{code}"}}"#);
            let (status, verified) = exchange(addr, "/v1/otp/verify", &[auth, json], &verify);
            assert_eq!(status, 200, "{verified}");
            let (status, _) = exchange(
                addr,
                "/v1/otp/send",
                &["Authorization: Bearer wrong-secret", json],
                "{}",
            );
            assert_eq!(status, 401);
        },
    );
    std::fs::remove_dir_all(&dir).unwrap();
    let text = lines
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(code.len(), 12);
    for secret in [code.as_str(), "test-token", "wrong-secret"] {
        assert!(!text.contains(secret), "{secret:?} in the logs:\n{text}");
    }
    let message =
        |line: &serde_json::Value| field(line, "message").as_str().unwrap_or("").to_string();
    let start = message(&lines[0]);
    for part in [
        "listening on http://",
        "dialects: native",
        "store: memory",
        "test mode: on",
        "echo codes: on",
    ] {
        assert!(start.contains(part), "{start:?} lacks {part:?}");
    }
    assert_eq!(field(&lines[0], "level"), "INFO");
    assert!(lines
        .iter()
        .any(|l| message(l).contains("stopped") && field(l, "level") == "INFO"));
    let access: Vec<_> = lines
        .iter()
        .filter(|l| field(l, "target") == "otpbench::access")
        .collect();
    for (path, outcome, status) in [
        ("/v1/otp/send", "sent", 200),
        ("/v1/otp/verify", "verified", 200),
        ("/v1/otp/send", "unauthorized", 401),
    ] {
        assert!(
            access.iter().any(|l| field(l, "path") == path
                && field(l, "outcome") == outcome
                && field(l, "status") == status
                && field(l, "method") == "POST"
                && field(l, "dialect") == "native"
                && field(l, "operation").is_string()
                && field(l, "duration_us").is_u64()
                && field(l, "level") == "DEBUG"),
            "no access line for {path} {outcome}:\n{text}"
        );
    }
}

/// A store outage and a provider failure are warnings naming the cause.
#[test]
fn store_and_delivery_failures_are_warnings_with_their_cause() {
    let dir = std::env::temp_dir().join(format!("otpbench-warn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("otpbench.yaml");
    std::fs::write(&config, "secret: 000102030405060708090a0b0c0d0e0f\n").unwrap();
    let send = |addr: &str| {
        let headers = [
            "Authorization: Bearer test-token",
            "Content-Type: application/json",
        ];
        exchange(addr, "/v1/otp/send", &headers, r#"{"to": "+14155550100"}"#).0
    };
    // Nothing listens on port 1.
    let store_down = logs_of(
        &[
            "--store",
            "redis://127.0.0.1:1",
            "--config",
            config.to_str().unwrap(),
        ],
        |addr| assert_eq!(send(addr), 503),
    );
    let provider_down = logs_of(&["--provider", "http://127.0.0.1:1"], |addr| {
        assert_eq!(send(addr), 503)
    });
    std::fs::remove_dir_all(&dir).unwrap();
    let warned = |lines: &[serde_json::Value], what: &str| {
        lines.iter().any(|l| {
            field(l, "level") == "WARN"
                && field(l, "message")
                    .as_str()
                    .is_some_and(|m| m.contains(what))
                && field(l, "cause").as_str().is_some_and(|c| !c.is_empty())
        })
    };
    assert!(warned(&store_down, "store failed"), "{store_down:#?}");
    assert!(
        warned(&provider_down, "delivery failed"),
        "{provider_down:#?}"
    );
}

#[test]
fn serve_and_provider_take_a_log_format() {
    for command in ["serve", "provider"] {
        let out = otpbench().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(help.contains("--log-format"), "{command} --help:\n{help}");
        let out = otpbench()
            .args([command, "--log-format", "xml"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{command}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--log-format"));
    }
}
