//! `otpbench run` as users meet it, in the manner of Hurl's
//! `tests_ok` / `tests_failed`: scenario files under `tests/scenarios/`
//! that must pass, that must fail with the report next to them (`.out`),
//! and that must be refused with the error next to them (`.err`), run by
//! the binary against the embedded engine. Timings in reports are
//! replaced by `N ms` / `T s` before comparing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::pairs::{at_root as otpbench, expected, files, relative};

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
    for file in files("tests/scenarios/failed", "yaml") {
        let out = otpbench().args(["run", &relative(&file)]).output().unwrap();
        let stdout = normalise(&String::from_utf8_lossy(&out.stdout));
        assert_eq!(out.status.code(), Some(4), "{}: {stdout}", file.display());
        assert_eq!(stdout, expected(&file, "out"), "{}", file.display());
    }
}

#[test]
fn invalid_scenarios_are_refused_at_their_position() {
    for file in files("tests/scenarios/invalid", "yaml") {
        let out = otpbench().args(["run", &relative(&file)]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(out.stdout.is_empty(), "{}: ran something", file.display());
        assert_eq!(stderr, expected(&file, "err"), "{}", file.display());
    }
}

/// Target files a user might write wrong, under `tests/files/targets/`,
/// each with the error `run --check` must print (`.err`): the problem at
/// its `file:line:col` — a check made after parsing too (`provider`,
/// `code_source`, `policy`) — the line, a caret under the value, and the
/// fix where there is an obvious one.
#[test]
fn invalid_target_files_are_refused_at_their_position() {
    let targets = files("tests/files/targets", "yaml");
    assert!(targets.len() >= 10, "{}", targets.len());
    for file in targets {
        let out = otpbench()
            .args([
                "run",
                "--check",
                "scenarios/conformance/happy_path.yaml",
                "--target",
            ])
            .arg(relative(&file))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", file.display());
        assert!(out.stdout.is_empty(), "{}", file.display());
        assert_eq!(stderr, expected(&file, "err"), "{}", file.display());
    }
}

/// A run refused for its files says so in `--junit` and `--json` too:
/// one JUnit error and one `invalid_files` entry per problem.
#[test]
fn file_errors_reach_the_junit_and_json_reports() {
    let dir = tempdir("file-errors");
    let (junit, json) = (dir.join("junit.xml"), dir.join("run.json"));
    let out = otpbench()
        .args(["run", "tests/scenarios/invalid/typo.yaml", "--junit"])
        .arg(&junit)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let junit = std::fs::read_to_string(&junit).unwrap();
    assert!(
        junit.contains(r#"tests="1" failures="0" errors="1""#),
        "{junit}"
    );
    assert!(
        junit.contains(
            r#"<error type="invalid file" message="tests/scenarios/invalid/typo.yaml:4:5: steps[0]: unknown field `expext`"#
        ),
        "{junit}"
    );
    assert!(junit.contains("did you mean `expect`?"), "{junit}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let error = &json["invalid_files"][0];
    assert_eq!(error["file"], "tests/scenarios/invalid/typo.yaml");
    assert_eq!(error["line"], 4);
    assert_eq!(error["column"], 5);
    assert_eq!(error["hint"], "did you mean `expect`?");
    assert_eq!(json["cases"].as_array().map(Vec::len), Some(0));
    std::fs::remove_dir_all(dir).unwrap();
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

/// `run --check`: every problem in every scenario and target file at
/// once, exit 2, nothing sent; a clean selection says what it checked.
#[test]
fn check_reports_every_problem_in_every_file_and_sends_nothing() {
    let dir = tempdir("check");
    let target = dir.join("bad-target.yaml");
    std::fs::write(&target, "dialect: native\ntimeout: 4 minutes\n").unwrap();
    let out = otpbench()
        .args(["run", "--check", "tests/scenarios/invalid", "--target"])
        .arg(&target)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    // The target's problem and every scenario file's, all at once.
    assert!(stderr.contains("bad-target.yaml:2:"), "{stderr}");
    let files = files("tests/scenarios/invalid", "yaml");
    for file in &files {
        assert!(
            stderr.contains(&relative(file)),
            "{} missing: {stderr}",
            file.display()
        );
    }
    let every = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios/invalid/every_problem.err"),
    )
    .unwrap();
    let count = every.matches("\nerror: ").count() + usize::from(every.starts_with("error: "));
    assert!(count >= 6, "every_problem.err holds {count} errors");
    assert!(
        stderr.contains("invalid files; nothing was run"),
        "{stderr}"
    );

    let out = otpbench()
        .args(["run", "--check", "scenarios", "tests/scenarios/ok"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("ok: ") && stdout.contains("(6 targets); nothing was sent"),
        "{stdout}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A value only the target's policy decides is checked before any case
/// runs, for every target: a mistake in the file is exit 2, never a
/// failed case.
#[test]
fn values_read_from_the_policy_are_checked_before_any_case_runs() {
    let dir = tempdir("policy-values");
    let scenario = dir.join("over.yaml");
    std::fs::write(
        &scenario,
        "name: too many\ndialects: [native]\nsteps:\n  - send: { to: \"${phone}\" }\n  - parallel: \"${policy.send_limit} * 10000\"\n    send: { to: \"${phone2}\" }\n",
    )
    .unwrap();
    let out = otpbench().arg("run").arg(&scenario).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "ran something");
    assert!(
        stderr.contains("over.yaml:5:16: parallel: `${policy.send_limit} * 10000` is 50000; expected 1 to 10000 (with target `native`'s policy)"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// Outside the repository there is no `scenarios/`: the run says what to
/// pass instead of reporting an invalid file.
#[test]
fn without_a_path_outside_the_repository_it_says_what_to_pass() {
    let dir = tempdir("elsewhere");
    let out = Command::new(env!("CARGO_BIN_EXE_otpbench"))
        .arg("run")
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("reads `scenarios/`, and there is none in")
            && stderr.contains("name your scenario files or directories"),
        "{stderr}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// `--name` names the `--target` before it in every report.
#[test]
fn a_target_is_named_on_the_command_line() {
    let out = otpbench()
        .args([
            "run",
            "--list",
            "scenarios/conformance/resend.yaml",
            "--target",
            "scenarios/targets/native.yaml",
            "--name",
            "staging",
            "--target",
            "scenarios/targets/valify.yaml",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("a resend makes the previous code invalid [staging]")
            && stdout.contains("a resend makes the previous code invalid [valify]"),
        "{stdout}"
    );
    let out = otpbench()
        .args([
            "run",
            "--name",
            "x",
            "--name",
            "y",
            "--target",
            "scenarios/targets/native.yaml",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 --name for 1 --target"));
}
