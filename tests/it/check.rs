//! `otpbench check`: no false alarm on the embedded engine (memory and
//! Redis, every dialect), and every behavioural mutant found, shrunk to a
//! short program, and replayed by the saved scenario (the clean engine
//! passes it, the mutant fails it).
//!
//! Seeds are fixed so a failure here reproduces with the same command
//! line (`otpbench check --dialect D --mutant M --seed S`). docs/check.md
//! has the figures of longer runs.

use std::path::PathBuf;
use std::time::Duration;

use otpbench::check::{self, CheckOptions, CheckReport};
use otpbench::client::TargetSpec;
use otpbench::dialect::Dialect;
use otpbench::mutants::matrix::{self, Cell, MatrixOptions};
use otpbench::mutants::Mutant;
use otpbench::server::StoreSpec;

fn embedded(dialect: Dialect) -> TargetSpec {
    let file = PathBuf::from("scenarios/targets").join(format!("{}.yaml", dialect.name()));
    TargetSpec::load(&file, &otpbench::vars::Vars::default())
        .unwrap_or_else(|_| TargetSpec::embedded(dialect))
}

async fn run(spec: TargetSpec, store: StoreSpec, cases: u32, seed: u64) -> CheckReport {
    let options = CheckOptions {
        spec,
        store,
        cases,
        seed,
        max_steps: 16,
    };
    check::check(options, |_| {}).await.unwrap()
}

fn divergence(report: &CheckReport) -> String {
    report
        .counterexample
        .as_ref()
        .map(|c| c.scenario.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_engine_never_diverges_in_any_dialect() {
    for dialect in Dialect::ALL {
        let report = run(embedded(dialect), StoreSpec::Memory, 60, 20_261_202).await;
        assert!(
            report.counterexample.is_none(),
            "{dialect}: {}",
            divergence(&report)
        );
        assert_eq!(report.head.cases, 60);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_engine_on_redis_never_diverges() {
    let redis = crate::support::redis::RedisServer::start();
    for dialect in [Dialect::Native, Dialect::Sigmasms, Dialect::Loyaltydog] {
        let mut options = otpbench::store::redis::RedisOptions::new(&redis.url);
        options.namespace = crate::support::redis::unique_namespace();
        let report = run(embedded(dialect), StoreSpec::Redis(options), 30, 7).await;
        assert!(
            report.counterexample.is_none(),
            "{dialect}: {}",
            divergence(&report)
        );
    }
}

/// Behavioural mutants and a dialect each applies to (what `check`
/// generates reaches them: no fault injection, no other writings).
const FOUND: [(&str, Dialect); 18] = [
    ("longer-window-ignored", Dialect::Loyaltydog),
    ("send-limit-race", Dialect::Native),
    ("one-send-too-many", Dialect::Native),
    ("refused-send-burns-code", Dialect::Native),
    ("rate-limit-400", Dialect::Native),
    ("resend-keeps-old-code", Dialect::Native),
    ("resend-keeps-old-code", Dialect::Nomado),
    ("code-verifies-other-recipient", Dialect::Native),
    ("purposes-shared", Dialect::Native),
    ("late-expiry", Dialect::Native),
    ("no-attempt-cap", Dialect::Native),
    ("attempt-counter-race", Dialect::Native),
    ("attempts-survive-resend", Dialect::Native),
    ("reusable-code", Dialect::Native),
    ("single-use-race", Dialect::Native),
    ("single-use-race", Dialect::Sigmasms),
    ("wrong-code-200", Dialect::Native),
    ("four-digit-codes", Dialect::Native),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_behavioural_mutant_is_found_shrunk_and_replayed() {
    let dir = std::env::temp_dir().join(format!("otpbench-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut problems = Vec::new();
    for (name, dialect) in FOUND {
        let mutant = Mutant::by_name(name).unwrap();
        let clean = embedded(dialect);
        assert!(mutant.applies(&clean), "{name} in {dialect}");
        let report = run(mutant.target(&clean), StoreSpec::Memory, 1_000, 11).await;
        let Some(found) = &report.counterexample else {
            problems.push(format!("{name} ({dialect}): not found in 1000 programs"));
            continue;
        };
        if found.flaky() || found.trace.ran() > 6 {
            problems.push(format!(
                "{name} ({dialect}): {} steps, reproduced {}/{}",
                found.trace.ran(),
                found.reproduced,
                check::RERUNS
            ));
        }
        let file = dir.join(format!("{name}-{dialect}.yaml"));
        std::fs::write(&file, &found.scenario).unwrap();
        let options = MatrixOptions {
            paths: vec![file],
            targets: vec![clean],
            mutants: vec![mutant],
            store: StoreSpec::Memory,
            jobs: 1,
            max_wait: Duration::from_secs(5),
        };
        let matrix = matrix::run(&options, |_| {}).await.unwrap();
        if matrix.clean.failed() != 0 || matrix.clean.passed() != 1 {
            problems.push(format!(
                "{name} ({dialect}): the saved scenario does not pass on the clean engine:\n{}",
                found.scenario
            ));
            continue;
        }
        if !matches!(matrix.rows[0].cells[0], Cell::Killed(_)) {
            problems.push(format!(
                "{name} ({dialect}): the saved scenario passes on the mutant:\n{}",
                found.scenario
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_command_saves_a_replayable_counterexample_and_exits_4() {
    let dir = std::env::temp_dir().join(format!("otpbench-check-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (save, json) = (dir.join("found.yaml"), dir.join("check.json"));
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_otpbench"))
        .args(["check", "--dialect", "native", "--mutant", "late-expiry"])
        .args(["--cases", "300", "--seed", "3", "--save"])
        .arg(&save)
        .arg("--json")
        .arg(&json)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(4), "{stdout}");
    assert!(
        stdout.contains("seed 3") && stdout.contains("<- diverges"),
        "{stdout}"
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["targets"][0]["passed"], false);
    assert!(report["targets"][0]["counterexample"]["shrunk_steps"].as_u64() <= Some(6));
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
    let _ = std::fs::remove_dir_all(&dir);
}
