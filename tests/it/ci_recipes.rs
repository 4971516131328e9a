//! The CI recipes under `examples/ci/` cannot rot: each one's commands
//! run here, in order, as its CI would run them (bash, `-e -o pipefail`),
//! with its own variables — on loopback, against the embedded engine its
//! target and workload name.
//!
//! Three things differ from a CI machine, and only these: the build step
//! (`cargo build --release`) is not run — cargo already built the binary
//! this test runs, and `OTPBENCH` points at it; each recipe writes under
//! a directory of its own (`OUT`, `BASELINE`), so the two can run at once;
//! and `MAX_REGRESSION` is wide, since two debug-build runs a minute apart
//! on a loaded test machine differ by more than a CI gate allows — the
//! test proves the baseline is read and compared, not this machine's
//! steadiness. The steps that use a published action (checkout, cache,
//! artifact upload) are not run; the test checks that the paths they name
//! are the ones the commands wrote.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn recipe(name: &str) -> Value {
    let path = Path::new(ROOT).join("examples/ci").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The recipe's variables, with the test's two changes (see the module
/// docs): the binary, and where the outputs go.
fn variables(declared: &Value, label: &str) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = declared
        .as_mapping()
        .expect("variables")
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other).unwrap().trim().to_string(),
            };
            (k.as_str().unwrap().to_string(), value)
        })
        .collect();
    let names: Vec<&str> = vars.iter().map(|(k, _)| k.as_str()).collect();
    for needed in ["OTPBENCH", "TARGET", "WORKLOAD", "OUT", "BASELINE"] {
        assert!(names.contains(&needed), "{label}: no variable {needed}");
    }
    for (name, value) in &mut vars {
        match name.as_str() {
            "OTPBENCH" => *value = env!("CARGO_BIN_EXE_otpbench").to_string(),
            "OUT" => *value = format!("reports/recipe-{label}"),
            "BASELINE" => *value = format!("reports/recipe-{label}-baseline"),
            "MAX_REGRESSION" => *value = "1000%".into(),
            _ => {}
        }
    }
    vars
}

fn var<'a>(vars: &'a [(String, String)], name: &str) -> &'a str {
    &vars.iter().find(|(k, _)| k == name).unwrap().1
}

/// Runs `script` as the CI would; returns its output, failing the test
/// (with the output) when it fails.
fn bash(script: &str, vars: &[(String, String)], what: &str) -> String {
    assert!(
        !script.contains("${{"),
        "{what}: a CI expression in a script cannot run here"
    );
    let output = Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(ROOT)
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("NO_COLOR", "1")
        .output()
        .expect("bash runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{what} failed:\n{script}\n---\n{text}"
    );
    text
}

fn fresh(vars: &[(String, String)]) {
    for name in ["OUT", "BASELINE"] {
        let _ = std::fs::remove_dir_all(Path::new(ROOT).join(var(vars, name)));
    }
}

/// What both recipes must leave behind.
fn check_outputs(vars: &[(String, String)], label: &str) -> PathBuf {
    let out = Path::new(ROOT).join(var(vars, "OUT"));
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("<testsuites"), "{label}");
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary.md");
    assert!(
        summary.starts_with("## otpbench run: "),
        "{label}: {summary}"
    );
    let page = std::fs::read_to_string(out.join("html/index.html")).expect("index.html");
    assert!(page.starts_with("<!DOCTYPE html>"), "{label}");
    assert!(
        out.join("load/report.json").is_file(),
        "{label}: no load report"
    );
    assert!(
        out.join("load/summary.md").is_file(),
        "{label}: no load summary"
    );
    out
}

#[test]
fn github_actions_recipe_runs_in_order() {
    let workflow = recipe("github-actions.yml");
    let vars = variables(&workflow["env"], "github");
    fresh(&vars);
    let summary_file = Path::new(ROOT)
        .join(var(&vars, "OUT"))
        .with_extension("step-summary.md");
    let _ = std::fs::remove_file(&summary_file);
    let mut vars = vars;
    vars.push((
        "GITHUB_STEP_SUMMARY".into(),
        summary_file.to_string_lossy().into_owned(),
    ));
    let jobs = workflow["jobs"].as_mapping().expect("jobs");
    assert_eq!(jobs.len(), 1);
    let steps = jobs.values().next().unwrap()["steps"]
        .as_sequence()
        .expect("steps")
        .clone();
    let known = [
        "actions/checkout@",
        "dtolnay/rust-toolchain@",
        "Swatinem/rust-cache@",
        "actions/cache/restore@",
        "actions/cache/save@",
        "mikepenz/action-junit-report@",
        "actions/upload-artifact@",
    ];
    let (mut ran, mut load_step) = (Vec::new(), None);
    for (index, step) in steps.iter().enumerate() {
        let name = step["name"].as_str().unwrap_or("").to_string();
        if let Some(action) = step["uses"].as_str() {
            assert!(
                known.iter().any(|k| action.starts_with(k)),
                "unknown action {action}"
            );
            continue;
        }
        let script = step["run"].as_str().expect("a step runs or uses");
        if script.trim_start().starts_with("cargo build") {
            continue;
        }
        if name.starts_with("Load run") {
            load_step = Some(index);
        }
        let output = bash(script, &vars, &format!("step {name:?}"));
        ran.push((name, output));
    }
    let names: Vec<&str> = ran.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "Scenarios",
            "Scenario summary",
            "Load run, gated",
            "Keep this run as main's baseline"
        ]
    );
    assert!(ran[2].1.contains("no baseline yet"), "{}", ran[2].1);
    let out = check_outputs(&vars, "github");
    // The job summary holds the run's summary and the load run's.
    let page = std::fs::read_to_string(&summary_file).expect("the step summary");
    assert!(page.contains("## otpbench run: "), "{page}");
    assert!(
        page.matches("## otpbench").count() >= 2,
        "no load summary: {page}"
    );
    // The actions' paths are the ones the commands wrote (with the
    // recipe's own OUT and BASELINE).
    let (own_out, own_baseline) = (
        workflow["env"]["OUT"].as_str().unwrap().to_string(),
        workflow["env"]["BASELINE"].as_str().unwrap().to_string(),
    );
    for step in &steps {
        let with = &step["with"];
        for key in ["path", "report_paths"] {
            if let Some(path) = with[key].as_str() {
                let ours = path
                    .replace(&own_baseline, var(&vars, "BASELINE"))
                    .replace(&own_out, var(&vars, "OUT"));
                assert!(
                    Path::new(ROOT).join(&ours).exists(),
                    "{key}: {path} (here {ours}) was not written"
                );
            }
        }
    }
    // The next run (a pull request after main) gates on that baseline.
    let script = steps[load_step.unwrap()]["run"].as_str().unwrap();
    let again = bash(script, &vars, "the load step, with a baseline");
    assert!(!again.contains("no baseline yet"), "{again}");
    let report = std::fs::read_to_string(out.join("load/summary.md")).unwrap();
    assert!(report.to_lowercase().contains("baseline"), "{report}");
    fresh(&vars);
    let _ = std::fs::remove_file(&summary_file);
}

#[test]
fn gitlab_ci_recipe_runs_in_order() {
    let file = recipe("gitlab-ci.yml");
    let job = &file["otpbench"];
    let mut vars = variables(&job["variables"], "gitlab");
    fresh(&vars);
    vars.push(("CI_COMMIT_BRANCH".into(), "main".into()));
    vars.push(("CI_DEFAULT_BRANCH".into(), "main".into()));
    let lines: Vec<String> = job["script"]
        .as_sequence()
        .expect("script")
        .iter()
        .map(|line| line.as_str().expect("a script line").to_string())
        .filter(|line| !line.trim_start().starts_with("cargo build"))
        .collect();
    // GitLab runs the lines in one shell, stopping at the first failure.
    let output = bash(&lines.join("\n"), &vars, "the script");
    assert!(output.contains("no baseline yet"), "{output}");
    assert!(output.contains("## otpbench run: "), "{output}");
    check_outputs(&vars, "gitlab");
    let baseline = Path::new(ROOT).join(var(&vars, "BASELINE"));
    assert!(baseline.join("report.json").is_file(), "no baseline kept");
    let junit = job["artifacts"]["reports"]["junit"].as_str().unwrap();
    assert!(junit.starts_with(job["variables"]["OUT"].as_str().unwrap()));
    // The next pipeline gates on that baseline (its load part: the
    // scenario part is the same as above).
    let load = lines
        .iter()
        .position(|line| line.trim() == "gate=()")
        .expect("the load part starts with gate=()");
    let output = bash(
        &lines[load..].join("\n"),
        &vars,
        "the load part, with a baseline",
    );
    assert!(!output.contains("no baseline yet"), "{output}");
    fresh(&vars);
}
