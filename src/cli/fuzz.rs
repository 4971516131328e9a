//! `otpbench fuzz`: flags, the report as text (and `--junit`, `--json`),
//! `--save`, and the exit code (DESIGN.md §7): 0 when every answer was
//! documented and the target kept serving, 4 when not (shrunk, or
//! non-deterministic), 3 when a target does not answer, 2 for an invalid
//! target file, 1 for usage. Targets are chosen as `check` chooses them
//! ([`TargetChoice::targets`]).

use std::fmt::Write as _;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::Args;
use serde_json::{json, Value};

use crate::check::fuzz::{self, FuzzOptions, FuzzProgress, FuzzReport, BATCH};
use crate::check::{CheckError, RERUNS};
use crate::cli::check::{progress_line, refuse, save_found, write_reports, TargetChoice};
use crate::cli::exit;
use crate::dialect::Dialect;
use crate::source::xml::escape as xml;
use crate::vars::Masked;

const COMMAND: &str = "otpbench fuzz";

/// Flags of `otpbench fuzz`.
#[derive(Debug, Args)]
pub struct FuzzArgs {
    #[command(flatten)]
    pub choice: TargetChoice,

    /// Bad requests to send per target (in batches of 1 to 16, each
    /// followed by a correct flow).
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = clap::value_parser!(u32).range(1..=10_000_000))]
    pub cases: u32,

    /// The random seed (printed by every run; the same seed sends the same
    /// requests). Default: a random one.
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,

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

/// `otpbench fuzz`: everything but the runtime (a multi-thread one);
/// returns the exit code. Every value from outside the files is masked in
/// all it writes.
pub async fn run(args: FuzzArgs, stdout: &mut impl Write, stderr: &mut impl Write) -> i32 {
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
                "otpbench fuzz",
                [&args.json, &args.junit],
                &vars,
                stderr,
            )
        }
    };
    let seed = args.seed.unwrap_or_else(rand::random);
    let _ = writeln!(
        stdout,
        "otpbench fuzz: {} bad requests per target (batches of up to {BATCH}, each followed by a correct flow), seed {seed}",
        args.cases
    );
    let _ = stdout.flush();
    let terminal = std::io::stderr().is_terminal();
    let mut reports = Vec::new();
    for spec in targets {
        let name = spec.name.clone();
        let options = FuzzOptions {
            spec,
            store: args.choice.store.clone(),
            cases: args.cases,
            seed,
        };
        let report = fuzz::fuzz(
            options,
            progress_line(name, terminal, |p: &FuzzProgress| {
                format!(
                    "{} bad requests sent, {} failing batches",
                    p.requests, p.failures
                )
            }),
        )
        .await;
        if terminal {
            eprint!("\r\x1b[2K");
        }
        match report {
            Ok(report) => {
                let _ = write!(stdout, "{}", render(&report));
                let _ = stdout.flush();
                reports.push(report);
            }
            Err(error) => {
                let _ = writeln!(stderr, "otpbench fuzz: {error}");
                return match error {
                    CheckError::Unreachable { .. } => exit::UNREACHABLE,
                    CheckError::Setup(_) => exit::USAGE,
                };
            }
        }
    }
    let found: Vec<&FuzzReport> = reports.iter().filter(|r| r.failure.is_some()).collect();
    if let (Some(path), false) = (&args.save, found.is_empty()) {
        let found: Vec<(String, Dialect)> = found
            .iter()
            .filter_map(|r| Some((r.failure.as_ref()?.scenario.clone(), r.dialect)))
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
pub fn render(report: &FuzzReport) -> String {
    let mut out = String::new();
    let rate = report.cases as f64 / report.elapsed.as_secs_f64().max(1e-9);
    let seen: Vec<String> = report
        .seen
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let Some(found) = &report.failure else {
        let _ = writeln!(
            out,
            "ok     {} ({}): {} bad requests, every answer documented, {} correct flows after them ({:.1} s, {rate:.0} requests/s, seed {})",
            report.target,
            report.dialect,
            report.cases,
            report.flows,
            report.elapsed.as_secs_f64(),
            report.seed
        );
        let _ = writeln!(out, "       answered: {}", seen.join(", "));
        return out;
    };
    let trace = &found.trace;
    let verdict = if found.flaky() { "FLAKY " } else { "FAILED" };
    let property = trace
        .broken()
        .map_or("a property", |(_, property)| property.name());
    if trace.sent.is_empty() {
        let _ = writeln!(
            out,
            "{verdict} {} ({}): a correct flow failed before any bad input, so nothing was fuzzed (seed {})",
            report.target, report.dialect, report.seed
        );
    } else {
        let _ = writeln!(
            out,
            "{verdict} {} ({}): bad input broke \"{property}\" after {} requests (seed {})",
            report.target, report.dialect, report.cases, report.seed
        );
    }
    let _ = writeln!(
        out,
        "       found after {:.2} s; shrunk from {} to {} requests by {:.2} s; the shrunk batch failed in {} of {} re-runs",
        found.found_after.as_secs_f64(),
        found.original_requests,
        trace.sent.len(),
        found.shrunk_after.as_secs_f64(),
        found.reproduced,
        RERUNS
    );
    if found.flaky() {
        let _ = writeln!(
            out,
            "       non-deterministic: the target answered this batch two ways (a flaky target, or a race it loses only sometimes)"
        );
    }
    for (i, sent) in trace.sent.iter().enumerate() {
        let mark = match sent.broke {
            Some(property) => format!("  <- breaks \"{}\"", property.name()),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "  {:>2}. {}: {}\n      observed {}{mark}",
            i + 1,
            sent.line,
            sent.what,
            sent.observed
        );
    }
    if trace.stopped {
        let then = match trace.sent.is_empty() {
            true => "before any bad request",
            false => "then",
        };
        let _ = writeln!(
            out,
            "  {then} a correct flow failed twice: {}  <- breaks \"{}\"",
            trace.flow_failure().unwrap_or_default(),
            crate::check::fuzz_case::Property::StillServing.name()
        );
    }
    out
}

fn json_report(reports: &[FuzzReport]) -> Value {
    let targets: Vec<Value> = reports
        .iter()
        .map(|r| {
            let failure = r.failure.as_ref().map(|f| {
                let requests: Vec<Value> = f
                    .trace
                    .sent
                    .iter()
                    .map(|s| {
                        json!({
                            "request": s.line,
                            "what": s.what,
                            "observed": s.observed,
                            "broke": s.broke.map(|p| p.name()),
                        })
                    })
                    .collect();
                json!({
                    "property": f.trace.broken().map(|(_, p)| p.name()),
                    "requests": requests,
                    "stopped_serving": f.trace.stopped,
                    "flow": f.trace.flow_failure(),
                    "original_requests": f.original_requests,
                    "shrunk_requests": f.trace.sent.len(),
                    "reproduced": f.reproduced,
                    "reruns": RERUNS,
                    "flaky": f.flaky(),
                    "found_after_s": f.found_after.as_secs_f64(),
                    "shrunk_after_s": f.shrunk_after.as_secs_f64(),
                    "scenario": f.scenario,
                })
            });
            json!({
                "target": r.target,
                "dialect": r.dialect.name(),
                "seed": r.seed,
                "cases": r.cases,
                "requests": r.requests,
                "flows": r.flows,
                "elapsed_s": r.elapsed.as_secs_f64(),
                "cases_per_s": r.cases as f64 / r.elapsed.as_secs_f64().max(1e-9),
                "answered": r.seen,
                "passed": r.failure.is_none(),
                "failure": failure,
            })
        })
        .collect();
    json!({ "version": 1, "command": "fuzz", "targets": targets })
}

fn junit(reports: &[FuzzReport]) -> String {
    let failures = reports.iter().filter(|r| r.failure.is_some()).count();
    let time: f64 = reports.iter().map(|r| r.elapsed.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"otpbench fuzz\" tests=\"{}\" failures=\"{failures}\" time=\"{time:.3}\">",
        reports.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"otpbench fuzz\" tests=\"{}\" failures=\"{failures}\" time=\"{time:.3}\">",
        reports.len()
    );
    for r in reports {
        let name = format!(
            "{} bad requests answered as documented (seed {})",
            r.cases, r.seed
        );
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&r.target),
            xml(&name),
            r.elapsed.as_secs_f64()
        );
        match &r.failure {
            None => out.push_str("/>\n"),
            Some(f) => {
                let message = match f.trace.broken() {
                    Some((Some(i), property)) => format!(
                        "{}: {} — {}",
                        property.name(),
                        f.trace.sent[i].what,
                        f.trace.sent[i].observed
                    ),
                    Some((None, property)) => format!(
                        "{}: {}",
                        property.name(),
                        f.trace.flow_failure().unwrap_or_default()
                    ),
                    None => "failed".into(),
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
