//! `otpbench check`: its flags and its report (as text, `--junit` and
//! `--json`); the loop over targets, `--save` and the exit code are
//! shared with `fuzz` ([`crate::cli::targets`]): 0 when no program
//! diverged, 4 when one did (shrunk, or non-deterministic), 3 when a
//! target does not answer, 2 for an invalid target file, 1 for usage.

use std::fmt::Write as _;
use std::io::Write;

use clap::Args;
use serde_json::{json, Map, Value};

use crate::check::{self, CheckOptions, CheckReport, Progress, RunHead};
use crate::cli::targets::{drive, progress_line, Outputs, TargetChoice, TargetReport};

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

    #[command(flatten)]
    pub outputs: Outputs,
}

/// `otpbench check`: everything but the runtime (a multi-thread one);
/// returns the exit code.
pub async fn run(args: CheckArgs, stdout: &mut impl Write, stderr: &mut impl Write) -> i32 {
    let headline = |seed| {
        format!(
            "{} programs of up to {} steps per target, seed {seed}",
            args.cases, args.max_steps
        )
    };
    let each = async |spec: crate::client::TargetSpec, seed, terminal| {
        let progress = progress_line(spec.name.clone(), terminal, |p: &Progress| {
            format!("{} programs run, {} diverged", p.runs, p.divergences)
        });
        let options = CheckOptions {
            spec,
            store: args.choice.store.clone(),
            cases: args.cases,
            seed,
            max_steps: args.max_steps as usize,
        };
        check::check(options, progress).await
    };
    let (choice, outputs) = (&args.choice, &args.outputs);
    drive(choice, outputs, args.seed, headline, each, stdout, stderr).await
}

impl TargetReport for CheckReport {
    const COMMAND: &'static str = "check";

    fn head(&self) -> &RunHead {
        &self.head
    }

    fn found(&self) -> Option<&str> {
        Some(&self.counterexample.as_ref()?.scenario)
    }

    fn render(&self) -> String {
        render(self)
    }

    fn case_name(&self) -> String {
        format!(
            "DESIGN.md §2 holds in {} programs (seed {})",
            self.head.cases, self.head.seed
        )
    }

    fn failure_message(&self) -> Option<String> {
        let c = self.counterexample.as_ref()?;
        Some(match c.trace.failed.and_then(|i| c.trace.steps.get(i)) {
            Some(step) => format!(
                "{}: expected {}, observed {}",
                step.what, step.expected, step.observed
            ),
            None => "diverged".into(),
        })
    }

    fn json_fields(&self) -> Map<String, Value> {
        let counterexample = self.counterexample.as_ref().map(|c| {
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
        let mut fields = Map::new();
        fields.insert("runs".into(), self.runs.into());
        fields.insert("counterexample".into(), counterexample.into());
        fields
    }
}

/// The report of one target as text.
pub fn render(report: &CheckReport) -> String {
    let mut out = String::new();
    let rate = report.head.per_second();
    let Some(found) = &report.counterexample else {
        let _ = writeln!(
            out,
            "ok     {} ({}): {} programs, no divergence ({:.1} s, {rate:.0} programs/s, seed {})",
            report.head.target,
            report.head.dialect,
            report.head.cases,
            report.head.elapsed.as_secs_f64(),
            report.head.seed
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
        report.head.target, report.head.dialect, report.head.cases, report.head.seed
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
