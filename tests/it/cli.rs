//! The `otpbench` binary: exit codes, error messages, signals.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn otpbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_otpbench"))
}

#[test]
fn help_and_version_exit_zero() {
    for flag in ["--help", "--version"] {
        let out = otpbench().arg(flag).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert!(!out.stdout.is_empty());
    }
    let out = otpbench().args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--listen", "--config", "--test-mode", "--echo-codes"] {
        assert!(help.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn bad_flags_exit_one_naming_the_flag() {
    for args in [
        &["serve", "--listen", "nowhere"][..],
        &["serve", "--bogus"],
        &["sevre"],
    ] {
        let out = otpbench().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(args[args.len() - 1]) || stderr.contains(args[1]),
            "{stderr}"
        );
    }
}

#[test]
fn a_bad_config_file_exits_two_naming_file_field_line_and_caret() {
    let dir = std::env::temp_dir().join(format!("otpbench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("otpbench.yaml");
    std::fs::write(&path, "native:\n  policy:\n    ttl: forever\n").unwrap();
    let out = otpbench()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for part in [
        path.to_str().unwrap(),
        "native.policy.ttl",
        "invalid duration",
        "otpbench.yaml:3:10:",
        "3 |     ttl: forever\n  |          ^",
    ] {
        assert!(stderr.contains(part), "{stderr:?} lacks {part:?}");
    }
    let missing = otpbench()
        .args(["serve", "--config", "/nonexistent/otpbench.yaml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/otpbench.yaml"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_taken_port_exits_one_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = otpbench()
        .args(["serve", "--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&addr));
}

#[test]
fn serve_stops_cleanly_on_sigterm() {
    let mut child = otpbench()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    let healthy = std::net::TcpStream::connect(&addr);
    assert!(healthy.is_ok(), "not listening on {addr}");
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "serve ignored SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn the_startup_line_hides_the_redis_password() {
    let dir = std::env::temp_dir().join(format!("otpbench-cli-redact-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("otpbench.yaml");
    std::fs::write(&config, format!("secret: {}\n", "ab".repeat(32))).unwrap();
    // Nothing listens on port 1: the server starts anyway (Redis is
    // connected lazily) and announces its store.
    let mut child = otpbench()
        .args(["serve", "--listen", "127.0.0.1:0", "--config"])
        .arg(&config)
        .args(["--store", "redis://app:hunter2@127.0.0.1:1/0"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(
        line.contains("store: redis://app:***@127.0.0.1:1/0"),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");
}
