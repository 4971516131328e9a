//! What `check` and `fuzz` share: which targets they run against, the
//! flags for what they write (`--save`, `--junit`, `--json`, the vars),
//! and the loop around them — one target after another with a progress
//! line, the report as text, the files, and the exit code (DESIGN.md §7):
//! 0 when every target held, 4 when one did not, 3 when a target does not
//! answer, 2 for an invalid target file, 1 for usage.

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use serde_json::{json, Map, Value};

use crate::check::{CheckError, RunHead};
use crate::cli::exit;
use crate::cli::run::{dialect_sources, parse_dialect};
use crate::client::TargetSpec;
use crate::dialect::Dialect;
use crate::server::StoreSpec;
use crate::source::xml::escape as xml;
use crate::source::FileError;
use crate::vars::{Masked, Vars};

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

impl TargetChoice {
    /// The targets these flags name (reads the target files).
    pub fn targets(&self, vars: &Vars) -> Result<Vec<TargetSpec>, FileError> {
        let targets = self.files(vars)?;
        Ok(match self.mutant {
            Some(mutant) => targets.iter().map(|t| mutant.target(t)).collect(),
            None => targets,
        })
    }

    fn files(&self, vars: &Vars) -> Result<Vec<TargetSpec>, FileError> {
        if let Some(file) = &self.target {
            return Ok(vec![TargetSpec::load(file, vars)?]);
        }
        dialect_sources(&self.dialect)
            .into_iter()
            .map(|source| match source {
                Ok(file) => TargetSpec::load(&file, vars),
                Err(dialect) => Ok(TargetSpec::embedded(dialect)),
            })
            .collect()
    }
}

/// What `check` and `fuzz` write besides their text on stdout.
#[derive(Debug, Args)]
pub struct Outputs {
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

/// One target's report as `check` and `fuzz` write it.
pub(crate) trait TargetReport {
    /// The command's word in the reports: `check` or `fuzz`.
    const COMMAND: &'static str;
    /// What every report has.
    fn head(&self) -> &RunHead;
    /// The shrunk counterexample as a scenario, if the target failed.
    fn found(&self) -> Option<&str>;
    /// The report as text.
    fn render(&self) -> String;
    /// The JUnit test case's name: the property that held or not.
    fn case_name(&self) -> String;
    /// The JUnit failure's one-line message, if the target failed.
    fn failure_message(&self) -> Option<String>;
    /// The JSON fields beyond those every report has.
    fn json_fields(&self) -> Map<String, Value>;
}

/// Runs `each` against every target `choice` names, one after another,
/// with a progress line on a terminal; writes each report as text, then
/// `--save`, `--json` and `--junit`; returns the exit code. `headline`
/// opens the output, given the seed. Every value from outside the files
/// is masked in all it writes.
pub(crate) async fn drive<R: TargetReport>(
    choice: &TargetChoice,
    outputs: &Outputs,
    seed: Option<u64>,
    headline: impl FnOnce(u64) -> String,
    mut each: impl AsyncFnMut(TargetSpec, u64, bool) -> Result<R, CheckError>,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> i32 {
    let command = format!("otpbench {}", R::COMMAND);
    let vars = match outputs.vars.resolve() {
        Ok(vars) => vars,
        Err(error) => {
            let _ = writeln!(stderr, "error: {}", error.render());
            return exit::INVALID_FILE;
        }
    };
    let stdout = &mut Masked::new(stdout, &vars);
    let stderr = &mut Masked::new(stderr, &vars);
    let targets = match choice.targets(&vars) {
        Ok(targets) => targets,
        Err(error) => return refuse(&error, &command, outputs, &vars, stderr),
    };
    let seed = seed.unwrap_or_else(rand::random);
    let _ = writeln!(stdout, "{command}: {}", headline(seed));
    let _ = stdout.flush();
    let terminal = std::io::stderr().is_terminal();
    let mut reports = Vec::new();
    for spec in targets {
        let report = each(spec, seed, terminal).await;
        if terminal {
            eprint!("\r\x1b[2K");
        }
        match report {
            Ok(report) => {
                let _ = write!(stdout, "{}", report.render());
                let _ = stdout.flush();
                reports.push(report);
            }
            Err(error) => {
                let _ = writeln!(stderr, "{command}: {error}");
                return match error {
                    CheckError::Unreachable { .. } => exit::UNREACHABLE,
                    CheckError::Setup(_) => exit::USAGE,
                };
            }
        }
    }
    let found: Vec<(&str, Dialect)> = reports
        .iter()
        .filter_map(|r| Some((r.found()?, r.head().dialect)))
        .collect();
    if let (Some(path), false) = (&outputs.save, found.is_empty()) {
        if let Err(code) = save_found(&command, path, choice, &found, &vars, stdout, stderr) {
            return code;
        }
    }
    let texts = [
        (&outputs.json, json_report(&reports).to_string()),
        (&outputs.junit, junit(&reports)),
    ];
    if let Err(code) = write_reports(&command, texts, &vars, stderr) {
        return code;
    }
    if found.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// A target file refused: the rendered error on stderr and, so CI shows
/// why nothing ran, in the `--json` and `--junit` reports too; returns the
/// exit code.
fn refuse(
    error: &FileError,
    command: &str,
    outputs: &Outputs,
    vars: &Vars,
    stderr: &mut impl Write,
) -> i32 {
    let _ = writeln!(stderr, "error: {}", error.render());
    let errors = std::slice::from_ref(error);
    let texts = [
        (&outputs.json, crate::source::json(errors).to_string()),
        (&outputs.junit, crate::source::junit(command, errors)),
    ];
    match write_reports(command, texts, vars, stderr) {
        Ok(()) => exit::INVALID_FILE,
        Err(code) => code,
    }
}

/// `text`, masked, to `path`; on failure says so and gives the exit code.
fn write_masked(
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
fn write_reports(
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
fn save_found(
    command: &str,
    path: &Path,
    choice: &TargetChoice,
    found: &[(&str, Dialect)],
    vars: &Vars,
    stdout: &mut impl Write,
    stderr: &mut impl Write,
) -> Result<(), i32> {
    let text: Vec<&str> = found.iter().map(|(scenario, _)| *scenario).collect();
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

fn json_report<R: TargetReport>(reports: &[R]) -> Value {
    let targets: Vec<Value> = reports
        .iter()
        .map(|r| {
            let mut fields = r.json_fields();
            let head = r.head();
            let common = json!({
                "target": head.target,
                "dialect": head.dialect.name(),
                "seed": head.seed,
                "cases": head.cases,
                "elapsed_s": head.elapsed.as_secs_f64(),
                "cases_per_s": head.per_second(),
                "passed": r.found().is_none(),
            });
            if let Value::Object(common) = common {
                fields.extend(common);
            }
            Value::Object(fields)
        })
        .collect();
    json!({ "version": 1, "command": R::COMMAND, "targets": targets })
}

fn junit<R: TargetReport>(reports: &[R]) -> String {
    let suite = format!("otpbench {}", R::COMMAND);
    let failures = reports.iter().filter(|r| r.found().is_some()).count();
    let time: f64 = reports.iter().map(|r| r.head().elapsed.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    for indent in ["", "  "] {
        let tag = if indent.is_empty() {
            "testsuites"
        } else {
            "testsuite"
        };
        let _ = writeln!(
            out,
            "{indent}<{tag} name=\"{suite}\" tests=\"{}\" failures=\"{failures}\" time=\"{time:.3}\">",
            reports.len()
        );
    }
    for r in reports {
        let head = r.head();
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&head.target),
            xml(&r.case_name()),
            head.elapsed.as_secs_f64()
        );
        match r.failure_message() {
            None => out.push_str("/>\n"),
            Some(message) => {
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(&message),
                    xml(&r.render())
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
