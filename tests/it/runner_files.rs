//! `otpbench run` as users meet it, in the manner of Hurl's
//! `tests_ok` / `tests_failed`: scenario files under `tests/scenarios/`
//! that must pass, that must fail with the report next to them (`.out`),
//! and that must be refused with the error next to them (`.err`), run by
//! the binary against the embedded engine. Timings in reports are
//! replaced by `N ms` / `T s` before comparing.

use std::path::{Path, PathBuf};
use std::process::Command;

fn otpbench() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otpbench"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no {extension} files in {}",
        dir.display()
    );
    files
}

/// The path as the binary, run from the crate root, names it.
fn relative(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .display()
        .to_string()
}

fn normalise(text: &str) -> String {
    let ms = regex::Regex::new(r"\(\d+ ms\)").unwrap();
    let s = regex::Regex::new(r"\(\d+\.\d+ s\)").unwrap();
    s.replace_all(&ms.replace_all(text, "(N ms)"), "(T s)")
        .into_owned()
}

#[test]
fn scenarios_that_must_pass_pass() {
    let out = otpbench()
        .args(["run", "tests/scenarios/ok"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 failed, 0 skipped"), "{stdout}");
}

#[test]
fn scenarios_that_must_fail_fail_with_their_report() {
    for file in files("failed", "yaml") {
        let out = otpbench().args(["run", &relative(&file)]).output().unwrap();
        let stdout = normalise(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(out.status.code(), Some(4), "{}: {stdout}", file.display());
        let expected = std::fs::read_to_string(file.with_extension("out")).unwrap();
        assert_eq!(stdout, expected, "{}", file.display());
    }
}

#[test]
fn invalid_scenarios_are_refused_at_their_position() {
    for file in files("invalid", "yaml") {
        let out = otpbench().args(["run", &relative(&file)]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(out.stdout.is_empty(), "{}: ran something", file.display());
        let expected = std::fs::read_to_string(file.with_extension("err")).unwrap();
        assert_eq!(stderr, expected, "{}", file.display());
    }
}

#[test]
fn a_target_nobody_listens_on_exits_three() {
    let dir = tempdir("unreachable");
    let target = dir.join("target.yaml");
    // Bind and drop: a port nobody listens on now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &target,
        format!("dialect: native\nbase_url: http://127.0.0.1:{port}\n"),
    )
    .unwrap();
    let out = otpbench()
        .args(["run", "scenarios/conformance/happy_path.yaml", "--target"])
        .arg(&target)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("unreachable"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_invalid_target_file_exits_two_at_its_position() {
    let dir = tempdir("target");
    let target = dir.join("mine.yaml");
    std::fs::write(&target, "dialect: native\nbase_url: http://x\nclok: real\n").unwrap();
    let out = otpbench()
        .args(["run", "--target"])
        .arg(&target)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("mine.yaml:3:1: unknown field `clok`"),
        "{stderr}"
    );
    assert!(stderr.contains("did you mean `clock`?"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn list_names_every_case_and_tags_filter() {
    let out = otpbench()
        .args(["run", "--list", "--dialect", "valify", "--tag", "smoke"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines.iter().all(|l| l.ends_with("[valify]")), "{stdout}");
    assert!(stdout.contains("scenarios/conformance/happy_path.yaml:1:1  a sent code verifies"));
}

#[test]
fn junit_and_json_reports_say_the_same_as_the_terminal() {
    let dir = tempdir("reports");
    let (junit, json) = (dir.join("junit.xml"), dir.join("run.json"));
    let out = otpbench()
        .args([
            "run",
            "tests/scenarios/failed/wrong_outcome.yaml",
            "--junit",
        ])
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(junit.contains(r#"<testsuites name="otpbench run" tests="1" failures="1" skipped="0""#));
    assert!(junit.contains(
        r#"<failure message="tests/scenarios/failed/wrong_outcome.yaml:6:3: outcome: expected verified, got wrong_code">"#
    ), "{junit}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(json["failed"], 1);
    let case = &json["cases"][0];
    assert_eq!(case["status"], "failed");
    assert_eq!(case["dialect"], "native");
    assert_eq!(case["failure"]["line"], 6);
    assert_eq!(case["failure"]["problems"][0]["expected"], "verified");
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "otpbench-run-{name}-{}-{:x}",
        std::process::id(),
        rand::random::<u32>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_selection_with_no_case_is_a_usage_error() {
    let out = otpbench()
        .args(["run", "--tag", "no-such-tag"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no case to run"));
}

#[test]
fn verbose_reports_mask_the_targets_secrets() {
    let dir = tempdir("verbose");
    let scenario = dir.join("wrong.yaml");
    std::fs::write(
        &scenario,
        "name: wrong\ndialects: [rees46]\nsteps:\n  - send: { to: \"${phone}\" }\n    expect: { outcome: rate_limited }\n",
    )
    .unwrap();
    let out = otpbench()
        .args(["run", "-v"])
        .arg(&scenario)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(stdout.contains(r#""shop_secret":"***""#), "{stdout}");
    assert!(!stdout.contains("test-secret"), "{stdout}");
    std::fs::remove_dir_all(dir).unwrap();
}
