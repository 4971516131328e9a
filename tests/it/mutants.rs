//! `otpbench mutants`: every mutant's defect shows on the wire (each is
//! killed by a scenario written for it, in every dialect that scenario
//! reaches, while the clean engine passes it), and the command's matrix,
//! exit codes and JSON.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use otpbench::client::TargetSpec;
use otpbench::dialect::Dialect;
use otpbench::mutants::matrix::{self, Cell, MatrixOptions};
use otpbench::mutants::{Mutant, MUTANTS};
use otpbench::server::StoreSpec;
use serde_json::Value;

const FIXTURES: &str = "tests/scenarios/mutants";

/// The scenario that shows each mutant's defect.
const SHOWN_BY: [(&str, &str); 23] = [
    ("longer-window-ignored", "longer_window.yaml"),
    ("send-limit-race", "send_race.yaml"),
    ("one-send-too-many", "limit.yaml"),
    ("refused-send-burns-code", "refused_send.yaml"),
    ("failed-delivery-uncounted", "failed_delivery.yaml"),
    ("limits-keyed-on-raw-text", "writings.yaml"),
    ("rate-limit-400", "limit.yaml"),
    ("no-retry-after", "limit.yaml"),
    ("resend-keeps-old-code", "resend.yaml"),
    ("code-verifies-other-recipient", "other_recipient.yaml"),
    ("purposes-shared", "purposes.yaml"),
    ("late-expiry", "expiry.yaml"),
    ("no-attempt-cap", "attempt_cap.yaml"),
    ("attempt-counter-race", "attempt_race.yaml"),
    ("attempts-survive-resend", "attempts_reset.yaml"),
    ("reusable-code", "single_use.yaml"),
    ("single-use-race", "verify_race.yaml"),
    ("wrong-code-200", "attempt_cap.yaml"),
    ("invalid-phone-accepted", "invalid_phone.yaml"),
    ("no-415", "media_type.yaml"),
    ("framework-error-shape", "invalid_phone.yaml"),
    ("four-digit-codes", "code_shape.yaml"),
    ("requested-length-ignored", "code_shape.yaml"),
];

fn targets() -> Vec<TargetSpec> {
    Dialect::ALL
        .into_iter()
        .map(|d| {
            TargetSpec::load(
                Path::new(&format!("scenarios/targets/{}.yaml", d.name())),
                &Default::default(),
            )
            .unwrap()
        })
        .collect()
}

#[test]
fn every_mutant_has_a_scenario_that_shows_it() {
    let named: BTreeSet<&str> = SHOWN_BY.iter().map(|(m, _)| *m).collect();
    let all: BTreeSet<&str> = MUTANTS.iter().map(|m| m.name).collect();
    assert_eq!(named, all);
}

/// Each mutant against the scenario written for it: the clean engine
/// passes, and every dialect the scenario has a case in kills the
/// mutant (where it applies) at that scenario.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_mutant_is_killed_where_its_scenario_reaches() {
    let targets = targets();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(4));
    let mut checks = Vec::new();
    for (name, file) in SHOWN_BY {
        let mutant = Mutant::by_name(name).unwrap();
        let options = MatrixOptions {
            paths: vec![PathBuf::from(FIXTURES).join(file)],
            targets: targets.clone(),
            mutants: vec![mutant],
            store: StoreSpec::Memory,
            jobs: 2,
            max_wait: Duration::from_secs(5),
        };
        let limit = limit.clone();
        checks.push(tokio::spawn(async move {
            let _permit = limit.acquire_owned().await;
            let matrix = matrix::run(&options, |_| {}).await.unwrap();
            (name, file, matrix)
        }));
    }
    let mut problems = Vec::new();
    for check in checks {
        let (name, file, matrix) = check.await.unwrap();
        assert_eq!(matrix.clean.failed(), 0, "{file} fails the clean engine");
        let reached: BTreeSet<Dialect> = matrix.clean.cases.iter().map(|c| c.dialect).collect();
        for (target, cell) in targets.iter().zip(&matrix.rows[0].cells) {
            let expected_kill =
                reached.contains(&target.dialect) && Mutant::by_name(name).unwrap().applies(target);
            match cell {
                Cell::Killed(kill) => assert!(kill.file.ends_with(file), "{name}: {kill:?}"),
                Cell::NotApplicable => assert!(!Mutant::by_name(name).unwrap().applies(target)),
                Cell::Survived { .. } if expected_kill => {
                    problems.push(format!("{name} survived {file} in {}", target.name))
                }
                Cell::Survived { .. } => {}
            }
        }
        assert!(
            matrix.rows[0].killed(),
            "{name} is killed nowhere by {file}"
        );
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

fn otpbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_otpbench"))
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("otpbench-mutants-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn every_mutant_killed_exits_zero_with_the_matrix_and_its_json() {
    let dir = tempdir("killed");
    let json = dir.join("matrix.json");
    let out = otpbench()
        .args(["mutants", "tests/scenarios/mutants/limit.yaml"])
        .args([
            "--mutant",
            "one-send-too-many",
            "--mutant",
            "no-retry-after",
        ])
        .args(["--dialect", "native", "--dialect", "rees46", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|w: &Vec<&str>| {
            matches!(
                w.first(),
                Some(&"mutant" | &"one-send-too-many" | &"no-retry-after")
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            vec!["mutant", "native", "rees46"],
            vec!["one-send-too-many", "[1]", "[1]"],
            vec!["no-retry-after", "[2]", "-"],
        ],
        "{stdout}"
    );
    assert!(
        stdout.contains("[1] the limit-th send passes and the next is refused"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[2] a native refusal says when to retry"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 of 2 mutants killed, 0 survived"),
        "{stdout}"
    );

    let matrix: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(matrix["passed"], true);
    assert_eq!(matrix["targets"], serde_json::json!(["native", "rees46"]));
    assert_eq!(matrix["clean"]["failed"], 0);
    assert_eq!(matrix["survivors"], serde_json::json!([]));
    let retry = &matrix["mutants"][1];
    assert_eq!(retry["name"], "no-retry-after");
    assert_eq!(retry["cells"]["rees46"]["status"], "not_applicable");
    let kill = &retry["cells"]["native"];
    assert_eq!(kill["status"], "killed");
    assert_eq!(kill["scenario"], "a native refusal says when to retry");
    assert_eq!(kill["file"], "tests/scenarios/mutants/limit.yaml");
    assert!(
        kill["reason"].as_str().unwrap().contains("Retry-After"),
        "{kill}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_survivor_exits_four_and_is_named() {
    let dir = tempdir("survivor");
    let json = dir.join("matrix.json");
    let out = otpbench()
        .args(["mutants", "tests/scenarios/mutants/expiry.yaml"])
        .args(["--mutant", "late-expiry", "--mutant", "purposes-shared"])
        .args(["--dialect", "rees46", "--dialect", "valify", "--json"])
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(stdout.contains("purposes-shared  survived  -"), "{stdout}");
    assert!(
        stdout.contains("1 of 2 mutants killed, 1 survived"),
        "{stdout}"
    );
    let matrix: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(matrix["passed"], false);
    assert_eq!(matrix["survivors"], serde_json::json!(["purposes-shared"]));
    assert_eq!(matrix["mutants"][0]["cells"]["valify"]["status"], "killed");
    let survived = &matrix["mutants"][1]["cells"]["rees46"];
    assert_eq!(survived["status"], "survived");
    assert_eq!(survived["passed"], 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_clean_engine_that_fails_the_suite_exits_four_before_any_mutant() {
    let out = otpbench()
        .args(["mutants", "tests/scenarios/failed/wrong_outcome.yaml"])
        .args(["--mutant", "late-expiry", "--dialect", "native"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(4), "{stdout}");
    assert!(
        stdout.contains("the clean engine fails the suite: no mutant was run"),
        "{stdout}"
    );
    assert!(!stdout.contains("late-expiry"), "{stdout}");
}

#[test]
fn mutants_are_listed_and_an_unknown_one_is_a_usage_error() {
    let out = otpbench().args(["mutants", "--list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let listed = String::from_utf8_lossy(&out.stdout);
    for mutant in &MUTANTS {
        assert!(
            listed.contains(&format!("{}\n  bug:", mutant.name)),
            "{listed}"
        );
    }
    let out = otpbench()
        .args(["mutants", "--mutant", "late-expiry-x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("late-expiry-x") && stderr.contains("late-expiry"),
        "{stderr}"
    );
}

/// The walkthrough scenario of docs/scenarios.md passes on the reference engine in
/// every dialect and kills, in every dialect, the engine whose resend
/// leaves the old code valid.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_walkthrough_resend_scenario_kills_old_codes_kept_in_every_dialect() {
    let targets = targets();
    let options = MatrixOptions {
        paths: vec![PathBuf::from("scenarios/conformance/resend.yaml")],
        targets: targets.clone(),
        mutants: vec![Mutant::by_name("resend-keeps-old-code").unwrap()],
        store: StoreSpec::Memory,
        jobs: 2,
        max_wait: Duration::from_secs(5),
    };
    let matrix = matrix::run(&options, |_| {}).await.unwrap();
    assert_eq!(matrix.clean.failed(), 0, "the clean engine fails it");
    assert_eq!(
        matrix.clean.passed(),
        10,
        "six dialects, three by handle, the raw native resend"
    );
    for (target, cell) in targets.iter().zip(&matrix.rows[0].cells) {
        assert!(
            matches!(cell, Cell::Killed(kill) if kill.file.ends_with("resend.yaml")),
            "survived in {}: {cell:?}",
            target.name
        );
    }
}
