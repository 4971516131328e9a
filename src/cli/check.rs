//! `otpbench check`: flags, the report as text (and `--junit`, `--json`),
//! `--save`, and the exit code (DESIGN.md §7): 0 when no program
//! diverged, 4 when one did (shrunk, or non-deterministic), 3 when a
//! target does not answer, 2 for an invalid target file, 1 for usage.

use crate::vars::{Masked, Vars};
use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::{json, Value};

use crate::check::{self, CheckError, CheckOptions, CheckReport, Progress};
use crate::cli::exit;
use crate::cli::run::{parse_dialect, TARGETS_DIR};
use crate::client::TargetSpec;
use crate::dialect::Dialect;
use crate::server::StoreSpec;
use crate::source::xml::escape as xml;

/// Which targets `check` and `fuzz` run against, and how embedded engines
/// are served: one set of flags for both.
#[derive(Debug, Clone, Args)]
pub struct TargetChoice {
    /// A target file; without it, the embedded engine in each dialect
    /// `--dialect` names (every dialect without either), with the target
    /// files in `scenarios/targets/` where they exist.
    #[arg(long, value_name = "FILE", conflicts_with = "dialect")]
    pub target: Option<PathBuf>,

    /// Dialects of the embedded engine (repeatable).
    #[arg(long, value_name = "NAME", value_parser = parse_dialect)]
    pub dialect: Vec<Dialect>,

    /// Where embedded engines keep state: `memory` or a Redis URL.
    #[arg(long, value_name = "URL", default_value = "memory", value_parser = super::parse_store)]
    pub store: StoreSpec,

    /// Serve the embedded engine with this defect around it (a mutant of
    /// `otpbench mutants --list`), to watch the command find it.
    #[arg(long, value_name = "NAME", value_parser = super::mutants::parse_mutant)]
    pub mutant: Option<&'static crate::mutants::Mutant>,
}

const COMMAND: &str = "otpbench check";

/// Flags of `otpbench check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub choice: TargetChoice,

    /// Random programs to run per target.
    #[arg(long, value_name = "N", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub cases: u32,

    /// The random seed (printed by every run; the same seed replays the
    /// same programs). Default: a random one.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

    /// The longest program, in steps.
    #[arg(long, value_name = "K", default_value_t = 16,
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub max_steps: u16,

    /// Write the shrunk counterexample(s) here as a scenario file.
    #[arg(long, value_name = "FILE")]
    pub save: Option<PathBuf>,

    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Also write a JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    #[command(flatten)]
    pub vars: crate::cli::vars::VarsFlags,
}

impl TargetChoice {
    /// The targets these flags name (reads the target files).
    pub fn targets(&self, vars: &Vars) -> Result<Vec<TargetSpec>, crate::source::FileError> {
        let targets = self.files(vars)?;
        Ok(match self.mutant {
            Some(mutant) => targets.iter().map(|t| mutant.target(t)).collect(),
            None => targets,
        })
    }

    fn files(&self, vars: &Vars) -> Result<Vec<TargetSpec>, crate::source::FileError> {
        if let Some(file) = &self.target {
            return Ok(vec![TargetSpec::load(file, vars)?]);
        }
        let dialects = if self.dialect.is_empty() {
            Dialect::ALL.to_vec()
        } else {
            self.dialect.clone()
        };
        dialects
            .into_iter()
            .map(|dialect| {
                let file = Path::new(TARGETS_DIR).join(format!("{}.yaml", dialect.name()));
                if file.exists() {
                    TargetSpec::load(&file, vars)
                } else {
                    Ok(TargetSpec::embedded(dialect))
                }
            })
            .collect()
    }
}

/// A target file refused: the rendered error on stderr and, so CI shows
/// why nothing ran, in the `--json` and `--junit` reports (`reports` in
/// that order) too; returns the exit code.
pub(crate) fn refuse(
    error: &crate::source::FileError,
    command: &str,
    reports: [&Option<PathBuf>; 2],
    vars: &Vars,
    stderr: &mut impl Write,
) -> i32 {
    let _ = writeln!(stderr, "error: {}", error.render());
    let errors = std::slice::from_ref(error);
    let [json, junit] = reports;
    let texts = [
        (json, crate::source::json(errors).to_string()),
        (junit, crate::source::junit(command, errors)),
    ];
    match write_reports(command, texts, vars, stderr) {
        Ok(()) => exit::INVALID_FILE,
        Err(code) => code,
    }
}

/// `text`, masked, to `path`; on failure says so and gives the exit code.
pub(crate) fn write_masked(
    command: &str,
    path: &Path,
    text: &str,
    vars: &Vars,
    stderr: &mut impl Write,
) -> Result<(), i32> {
    std::fs::write(path, vars.mask(text).as_ref()).map_err(|e| {
        let _ = writeln!(stderr, "{command}: cannot write {}: {e}", path.display());
        exit::USAGE
    })
}

/// Each report whose path was given (`--json`, `--junit`), masked.
pub(crate) fn write_reports(
    command: &str,
    reports: [(&Option<PathBuf>, String); 2],
    vars: &Vars,
    stderr: &mut impl Write,
) -> Result<(), i32> {
    for (path, text) in reports {
        if let Some(path) = path {
            write_masked(command, path, &text, vars, stderr)?;
        }
    }
    Ok(())
}

/// `--save`: the counterexamples (each a scenario, with its dialect) in
/// one file, and the command that replays them.
pub(crate) fn save_found(
    command: &str,
    path: &Path,
    choice: &TargetChoice,
    found: &[(String, Dialect)],
    vars: &Vars,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> Result<(), i32> {
    let text: Vec<&str> = found
        .iter()
        .map(|(scenario, _)| scenario.as_str())
        .collect();
    write_masked(command, path, &text.join("---\n"), vars, stderr)?;
    let replay = match &choice.target {
        Some(target) => format!("--target {}", target.display()),
        None => found
            .iter()
            .map(|(_, dialect)| format!("--dialect {}", dialect.name()))
            .collect::<Vec<_>>()
            .join(" "),
    };
    let _ = writeln!(
        stdout,
        "saved: {} (replay: otpbench run {} {replay})",
        path.display(),
        path.display()
    );
    Ok(())
}

/// Updates a progress line on stderr at most five times a second, when
/// stderr is a terminal; `line` writes it after the target's name.
pub(crate) fn progress_line<P>(
    name: String,
    terminal: bool,
    line: impl Fn(&P) -> String + Send + Sync + 'static,
) -> impl Fn(P) + Send + Sync + 'static {
    let started = Instant::now();
    let last = Arc::new(AtomicU64::new(0));
    move |p: P| {
        if !terminal {
            return;
        }
        let now = started.elapsed().as_millis() as u64;
        let before = last.load(Ordering::Relaxed);
        if now >= before + 200 || before == 0 {
            last.store(now.max(1), Ordering::Relaxed);
            eprint!("\r\x1b[2K{name}: {}", line(&p));
        }
    }
}

/// `otpbench check`: everything but the runtime (a multi-thread one);
/// returns the exit code.
/// Every value from outside the files is masked in all it writes.
pub async fn run(args: CheckArgs, stdout: &mut impl Write, stderr: &mut impl Write) -> i32 {
    let vars = match args.vars.resolve() {
        Ok(vars) => vars,
        Err(error) => {
            let _ = writeln!(stderr, "error: {}", error.render());
            return exit::INVALID_FILE;
        }
    };
    let stdout = &mut Masked::new(stdout, &vars);
    let stderr = &mut Masked::new(stderr, &vars);
    let targets = match args.choice.targets(&vars) {
        Ok(targets) => targets,
        Err(error) => {
            return refuse(
                &error,
                "otpbench check",
                [&args.json, &args.junit],
                &vars,
                stderr,
            )
        }
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let _ = writeln!(
        stdout,
        "otpbench check: {} programs of up to {} steps per target, seed {seed}",
        args.cases, args.max_steps
    );
    let _ = stdout.flush();
    let terminal = std::io::stderr().is_terminal();
    let mut reports = Vec::new();
    for spec in targets {
        let name = spec.name.clone();
        let options = CheckOptions {
            spec,
            store: args.choice.store.clone(),
            cases: args.cases,
            seed,
            max_steps: args.max_steps as usize,
        };
        let progress = progress_line(name.clone(), terminal, |p: &Progress| {
            format!("{} programs run, {} diverged", p.runs, p.divergences)
        });
        let report = check::check(options, progress).await;
        if terminal {
            eprint!("\r\x1b[2K");
        }
        match report {
            Ok(report) => {
                let _ = write!(stdout, "{}", render(&report));
                reports.push(report);
            }
            Err(error) => {
                let _ = writeln!(stderr, "otpbench check: {error}");
                return match error {
                    CheckError::Unreachable { .. } => exit::UNREACHABLE,
                    CheckError::Setup(_) => exit::USAGE,
                };
            }
        }
    }
    let found: Vec<&CheckReport> = reports
        .iter()
        .filter(|r| r.counterexample.is_some())
        .collect();
    if let (Some(path), false) = (&args.save, found.is_empty()) {
        let found: Vec<(String, Dialect)> = found
            .iter()
            .filter_map(|r| Some((r.counterexample.as_ref()?.scenario.clone(), r.dialect)))
            .collect();
        let saved = save_found(COMMAND, path, &args.choice, &found, &vars, stdout, stderr);
        if let Err(code) = saved {
            return code;
        }
    }
    let reports = [
        (&args.json, json_report(&reports).to_string()),
        (&args.junit, junit(&reports)),
    ];
    if let Err(code) = write_reports(COMMAND, reports, &vars, stderr) {
        return code;
    }
    if found.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// The report of one target as text.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::new();
    let rate = report.cases as f64 / report.elapsed.as_secs_f64().max(1e-9);
    let Some(found) = &report.counterexample else {
        let _ = writeln!(
            out,
            "ok     {} ({}): {} programs, no divergence ({:.1} s, {rate:.0} programs/s, seed {})",
            report.target,
            report.dialect,
            report.cases,
            report.elapsed.as_secs_f64(),
            report.seed
        );
        if let Some(why) = &report.no_clock {
            let _ = writeln!(out, "       no clock moves: {why}");
        }
        return out;
    };
    let verdict = if found.flaky() { "FLAKY " } else { "FAILED" };
    let _ = writeln!(
        out,
        "{verdict} {} ({}): program {} diverged from DESIGN.md §2 (seed {})",
        report.target, report.dialect, report.cases, report.seed
    );
    let _ = writeln!(
        out,
        "       found after {:.2} s; shrunk from {} to {} steps by {:.2} s; the shrunk program diverged in {} of {} re-runs",
        found.found_after.as_secs_f64(),
        found.original_steps,
        found.trace.ran(),
        found.shrunk_after.as_secs_f64(),
        found.reproduced,
        check::RERUNS
    );
    if found.flaky() {
        let _ = writeln!(
            out,
            "       non-deterministic: the target answered this program two ways (a flaky target, or a race it loses only sometimes)"
        );
    }
    let mut number = 0;
    for (index, step) in found.trace.steps.iter().enumerate() {
        if step.yaml.is_none() {
            continue;
        }
        number += 1;
        let mark = if found.trace.failed == Some(index) {
            "  <- diverges"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  {number:>2}. {}\n      expected {}; observed {}{mark}",
            step.what, step.expected, step.observed
        );
    }
    out
}

fn json_report(reports: &[CheckReport]) -> Value {
    let targets: Vec<Value> = reports
        .iter()
        .map(|r| {
            let counterexample = r.counterexample.as_ref().map(|c| {
                let steps: Vec<Value> = c
                    .trace
                    .steps
                    .iter()
                    .filter(|s| s.yaml.is_some())
                    .map(|s| {
                        json!({
                            "what": s.what,
                            "expected": s.expected,
                            "observed": s.observed,
                            "holds": s.holds,
                        })
                    })
                    .collect();
                json!({
                    "steps": steps,
                    "original_steps": c.original_steps,
                    "shrunk_steps": c.trace.ran(),
                    "reproduced": c.reproduced,
                    "reruns": check::RERUNS,
                    "flaky": c.flaky(),
                    "found_after_s": c.found_after.as_secs_f64(),
                    "shrunk_after_s": c.shrunk_after.as_secs_f64(),
                    "scenario": c.scenario,
                })
            });
            json!({
                "target": r.target,
                "dialect": r.dialect.name(),
                "seed": r.seed,
                "cases": r.cases,
                "runs": r.runs,
                "elapsed_s": r.elapsed.as_secs_f64(),
                "cases_per_s": r.cases as f64 / r.elapsed.as_secs_f64().max(1e-9),
                "passed": r.counterexample.is_none(),
                "counterexample": counterexample,
            })
        })
        .collect();
    json!({ "version": 1, "command": "check", "targets": targets })
}

fn junit(reports: &[CheckReport]) -> String {
    let failures = reports
        .iter()
        .filter(|r| r.counterexample.is_some())
        .count();
    let time: f64 = reports.iter().map(|r| r.elapsed.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"otpbench check\" tests=\"{}\" failures=\"{failures}\" time=\"{time:.3}\">",
        reports.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"otpbench check\" tests=\"{}\" failures=\"{failures}\" time=\"{time:.3}\">",
        reports.len()
    );
    for r in reports {
        let name = format!(
            "DESIGN.md §2 holds in {} programs (seed {})",
            r.cases, r.seed
        );
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&r.target),
            xml(&name),
            r.elapsed.as_secs_f64()
        );
        match &r.counterexample {
            None => out.push_str("/>\n"),
            Some(c) => {
                let message = match c.trace.failed.and_then(|i| c.trace.steps.get(i)) {
                    Some(step) => format!(
                        "{}: expected {}, observed {}",
                        step.what, step.expected, step.observed
                    ),
                    None => "diverged".into(),
                };
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(&message),
                    xml(&render(r))
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
