//! `otpbench run`: flags, their conversion into [`RunOptions`], and the
//! one mapping from how a run ended to an exit code (DESIGN.md §7: 0 all
//! passed, 1 usage, 2 an invalid scenario or target file, 3 a target
//! nobody answers at, 4 an expectation failed).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::cli::exit;
use crate::cli::vars::VarsFlags;
use crate::client::TargetSpec;
use crate::dialect::Dialect;
use crate::scenario::render::{self, Style};
use crate::scenario::runner::{self, RunError, RunOptions, RunReport};
use crate::scenario::{html, summary};
use crate::server::StoreSpec;
use crate::source::{self, FileError};
use crate::vars::{Masked, Vars};

/// Where target files for the embedded engine live, one per dialect.
pub const TARGETS_DIR: &str = "scenarios/targets";

/// The scenarios run without a PATH.
pub const SCENARIOS_DIR: &str = "scenarios";

/// Flags of `otpbench run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Scenario files or directories (default: `scenarios/`; `targets/` and
    /// `load/` below them are not scenarios and are skipped).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// A target file (repeatable); without it, the embedded engine in
    /// every dialect (or those `--dialect` names), with the target files in
    /// `scenarios/targets/` where they exist.
    #[arg(long, value_name = "FILE", conflicts_with = "dialect")]
    pub target: Vec<PathBuf>,

    /// A name for the target given before it in reports (repeatable: the
    /// first `--name` names the first `--target`, …); default: the file's
    /// `name:`, else its file name.
    #[arg(long, value_name = "NAME", requires = "target")]
    pub name: Vec<String>,

    /// Only these dialects of the embedded engine (repeatable).
    #[arg(long, value_name = "NAME", value_parser = parse_dialect)]
    pub dialect: Vec<Dialect>,

    /// Only scenarios with this tag (repeatable: any of them).
    #[arg(long, value_name = "TAG")]
    pub tag: Vec<String>,

    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Also write a JSON report here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Also write a Markdown summary here (counts, failures with
    /// expected/got, skips with reasons), e.g. for `$GITHUB_STEP_SUMMARY`.
    #[arg(long, value_name = "FILE")]
    pub summary: Option<PathBuf>,

    /// Also write a self-contained HTML report, `DIR/index.html` (every
    /// case and its steps; failures first, with the failing request and
    /// answer, secrets masked).
    #[arg(long, value_name = "DIR")]
    pub html: Option<PathBuf>,

    /// Cases run at once (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,

    /// Where embedded engines keep state: `memory` or a Redis URL (each
    /// case gets a namespace of its own).
    #[arg(long, value_name = "URL", default_value = "memory", value_parser = super::parse_store)]
    pub store: StoreSpec,

    /// List the cases (scenario × target) and exit.
    #[arg(long)]
    pub list: bool,

    /// Only check the files: every problem in every scenario and target
    /// file, at once, each at its `file:line:col` (exit 2); nothing is
    /// sent.
    #[arg(long, conflicts_with = "list")]
    pub check: bool,

    /// Stop starting cases after the first failure.
    #[arg(long)]
    pub fail_fast: bool,

    /// Show the full request and answer of failing steps.
    #[arg(long, short)]
    pub verbose: bool,

    /// Longest wait to sleep through on a target with a real clock; cases
    /// that need more are skipped.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub max_wait: Duration,

    #[command(flatten)]
    pub vars: VarsFlags,
}

pub(crate) fn parse_dialect(name: &str) -> Result<Dialect, String> {
    Dialect::from_name(name).ok_or_else(|| {
        let known: Vec<&str> = Dialect::ALL.iter().map(|d| d.name()).collect();
        format!("expected one of {}", known.join(", "))
    })
}

/// Per dialect (every one when `dialects` is empty) its target file under
/// `scenarios/targets/` where there is one, else the dialect itself: the
/// embedded engine with its defaults.
pub(crate) fn dialect_sources(dialects: &[Dialect]) -> Vec<Result<PathBuf, Dialect>> {
    let dialects = if dialects.is_empty() {
        &Dialect::ALL[..]
    } else {
        dialects
    };
    dialects
        .iter()
        .map(|&dialect| {
            let file = Path::new(TARGETS_DIR).join(format!("{}.yaml", dialect.name()));
            if file.exists() {
                Ok(file)
            } else {
                Err(dialect)
            }
        })
        .collect()
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text).map_err(|e| e.to_string())
}

impl RunArgs {
    /// The run these flags describe (reads the target files, their
    /// variables from `vars`).
    pub fn options(&self, vars: &Arc<Vars>) -> Result<RunOptions, RunError> {
        // A target file given; else per dialect its file under
        // scenarios/targets/, or the embedded engine's defaults.
        let sources = if self.target.is_empty() {
            dialect_sources(&self.dialect)
        } else {
            self.target.iter().cloned().map(Ok).collect()
        };
        if self.name.len() > self.target.len() {
            return Err(RunError::Setup(format!(
                "{} --name for {} --target: each --name names the --target before it",
                self.name.len(),
                self.target.len()
            )));
        }
        let paths = if self.paths.is_empty() {
            let default = PathBuf::from(SCENARIOS_DIR);
            if !default.is_dir() {
                let here = std::env::current_dir()
                    .map(|d| d.display().to_string())
                    .unwrap_or_else(|_| ".".into());
                return Err(RunError::Setup(format!(
                    "no scenario to run: without a PATH, `otpbench run` reads `{SCENARIOS_DIR}/`, \
                     and there is none in {here}; name your scenario files or directories \
                     (`otpbench run my-scenarios/ --target my-service.yaml`), or run it \
                     from otpbench's repository for the suite"
                )));
            }
            vec![default]
        } else {
            self.paths.clone()
        };
        let mut targets = Vec::new();
        let mut errors = Vec::new();
        for source in sources {
            match source.map(|file| TargetSpec::load(&file, vars)) {
                Ok(Ok(spec)) => targets.push(spec),
                Ok(Err(error)) => errors.push(error),
                Err(dialect) => targets.push(TargetSpec::embedded(dialect)),
            }
        }
        for (spec, name) in targets.iter_mut().zip(&self.name) {
            spec.name = name.clone();
        }
        let jobs = self
            .jobs
            .map(usize::from)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
        let options = RunOptions {
            paths,
            targets,
            tags: self.tag.clone(),
            jobs,
            fail_fast: self.fail_fast,
            store: self.store.clone(),
            max_wait: self.max_wait,
            vars: vars.clone(),
        };
        if !errors.is_empty() {
            // The scenario files' problems too: every problem at once.
            if let Err(RunError::Files(more)) = runner::load_all(&options) {
                errors.extend(more);
            }
            return Err(RunError::Files(errors));
        }
        Ok(options)
    }
}

/// The exit code of a run that could not happen.
pub fn exit_code(error: &RunError) -> i32 {
    match error {
        RunError::Files(_) => exit::INVALID_FILE,
        RunError::Unreachable { .. } => exit::UNREACHABLE,
        RunError::Setup(_) | RunError::NoCases => exit::USAGE,
    }
}

/// The exit code of a run that happened.
pub fn report_code(report: &RunReport) -> i32 {
    if report.failed() > 0 {
        exit::FAILED
    } else {
        exit::OK
    }
}

/// `otpbench run`: everything but the runtime; returns the exit code.
/// Every value from outside the files is masked in all it writes.
pub async fn run(args: RunArgs, stdout: &mut impl Write, stderr: &mut impl Write) -> i32 {
    let vars = match args.vars.resolve() {
        Ok(vars) => Arc::new(vars),
        Err(error) => {
            let _ = writeln!(stderr, "error: {}", error.render());
            return exit::INVALID_FILE;
        }
    };
    let stdout = &mut Masked::new(stdout, &vars);
    let stderr = &mut Masked::new(stderr, &vars);
    let options = match args.options(&vars) {
        Ok(options) => options,
        Err(error) => return fail_with_summary(&args, &vars, &error, stderr),
    };
    if args.check {
        return match runner::plan(&options) {
            Ok(cases) => {
                let mut files: Vec<&str> = cases.iter().map(|(s, _)| s.file.as_str()).collect();
                files.dedup();
                let scenarios = {
                    let mut seen: Vec<*const crate::scenario::Scenario> = cases
                        .iter()
                        .map(|(s, _)| std::sync::Arc::as_ptr(s))
                        .collect();
                    seen.dedup();
                    seen.len()
                };
                let _ = writeln!(
                    stdout,
                    "ok: {} file{}, {scenarios} scenario{}, {} case{} ({} target{}); nothing was sent",
                    files.len(),
                    plural(files.len()),
                    plural(scenarios),
                    cases.len(),
                    plural(cases.len()),
                    options.targets.len(),
                    plural(options.targets.len()),
                );
                exit::OK
            }
            Err(error) => fail_with_summary(&args, &vars, &error, stderr),
        };
    }
    if args.list {
        return match runner::plan(&options) {
            Ok(cases) => {
                for (scenario, target) in cases {
                    let spec = &options.targets[target];
                    let _ = writeln!(
                        stdout,
                        "{}:{}:{}  {} [{}]",
                        scenario.file,
                        scenario.position.line,
                        scenario.position.column,
                        scenario.name,
                        spec.name
                    );
                }
                exit::OK
            }
            Err(error) => fail(&error, stderr),
        };
    }
    let style = Style {
        color: std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        verbose: args.verbose,
    };
    let report = runner::run(&options, |case| {
        let _ = writeln!(stdout, "{}", render::case_line(case, style));
        let _ = stdout.flush();
    })
    .await;
    let report = match report {
        Ok(report) => report,
        Err(error) => return fail_with_summary(&args, &vars, &error, stderr),
    };
    let _ = write!(stdout, "{}", render::summary(&report, style));
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, vars.mask(&render::junit(&report)).as_ref()) {
            let _ = writeln!(stderr, "otpbench run: cannot write {}: {e}", path.display());
            return exit::USAGE;
        }
    }
    if let Some(path) = &args.json {
        let mut json = render::json(&report);
        vars.mask_json(&mut json, &[]);
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            let _ = writeln!(stderr, "otpbench run: cannot write {}: {e}", path.display());
            return exit::USAGE;
        }
    }
    if let Err(code) = write_pages(&args, &report, stderr) {
        return code;
    }
    report_code(&report)
}

/// [`fail`], and with `--summary` the same words on the CI page: a run
/// that could not happen says why there too, not only in the job log.
fn fail_with_summary(
    args: &RunArgs,
    vars: &Vars,
    error: &RunError,
    stderr: &mut impl Write,
) -> i32 {
    let mut said = Vec::new();
    let code = fail(error, &mut said);
    let _ = stderr.write_all(&said);
    if let RunError::Files(errors) = error {
        if let Err(code) = write_file_errors(args, vars, errors, stderr) {
            return code;
        }
    }
    if let Some(path) = &args.summary {
        let text = summary::not_run(&String::from_utf8_lossy(&said), code);
        if let Err(e) = std::fs::write(path, text) {
            let _ = writeln!(stderr, "otpbench run: cannot write {}: {e}", path.display());
        }
    }
    code
}

/// `--junit` and `--json` of a run refused for its files: each problem
/// as a JUnit error and in `invalid_files`, so CI shows why nothing ran.
/// Every value from outside the files is masked, as in every report.
fn write_file_errors(
    args: &RunArgs,
    vars: &Vars,
    errors: &[FileError],
    stderr: &mut impl Write,
) -> Result<(), i32> {
    let mut cannot = |path: &Path, e: std::io::Error| {
        let _ = writeln!(stderr, "otpbench run: cannot write {}: {e}", path.display());
        exit::USAGE
    };
    if let Some(path) = &args.junit {
        let junit = source::junit("otpbench run", errors);
        std::fs::write(path, vars.mask(&junit).as_ref()).map_err(|e| cannot(path, e))?;
    }
    if let Some(path) = &args.json {
        let mut json = source::json(errors);
        json["passed"] = 0.into();
        json["failed"] = 0.into();
        json["skipped"] = 0.into();
        json["cases"] = serde_json::Value::Array(Vec::new());
        vars.mask_json(&mut json, &[]);
        let text = serde_json::to_string_pretty(&json).unwrap_or_default();
        std::fs::write(path, text + "\n").map_err(|e| cannot(path, e))?;
    }
    Ok(())
}

/// `--summary` and `--html`: the run as Markdown and as a page.
fn write_pages(args: &RunArgs, report: &RunReport, stderr: &mut impl Write) -> Result<(), i32> {
    let mut cannot = |path: &Path, e: std::io::Error| {
        let _ = writeln!(stderr, "otpbench run: cannot write {}: {e}", path.display());
        exit::USAGE
    };
    if let Some(path) = &args.summary {
        std::fs::write(path, summary::render(report)).map_err(|e| cannot(path, e))?;
    }
    if let Some(dir) = &args.html {
        std::fs::create_dir_all(dir).map_err(|e| cannot(dir, e))?;
        let path = dir.join(html::FILE_NAME);
        std::fs::write(&path, html::render(report)).map_err(|e| cannot(&path, e))?;
    }
    Ok(())
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Says why a run could not happen; returns its exit code.
pub(crate) fn fail(error: &RunError, stderr: &mut impl Write) -> i32 {
    match error {
        RunError::Files(errors) => {
            for error in errors {
                let _ = writeln!(stderr, "error: {}\n", error.render());
            }
            let mut files: Vec<&str> = errors.iter().map(|e| e.file()).collect();
            files.sort_unstable();
            files.dedup();
            let problems = if errors.len() == files.len() {
                String::new()
            } else {
                format!("{} problems in ", errors.len())
            };
            let _ = writeln!(
                stderr,
                "{problems}{} invalid file{}; nothing was run",
                files.len(),
                plural(files.len())
            );
        }
        RunError::Unreachable { target, why } => {
            let _ = writeln!(stderr, "error: target {target} is unreachable: {why}");
        }
        RunError::Setup(why) => {
            let _ = writeln!(stderr, "error: {why}");
        }
        RunError::NoCases => {
            let _ = writeln!(
                stderr,
                "error: no case to run: no scenario under the paths speaks a target's \
                 dialect and has one of the tags"
            );
        }
    }
    exit_code(error)
}
