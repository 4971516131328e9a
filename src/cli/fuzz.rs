//! `otpbench fuzz`: its flags and its report (as text, `--junit` and
//! `--json`); targets are chosen, run and saved as `check` does it
//! ([`crate::cli::targets`]), with the same exit codes: 0 when every
//! answer was documented and the target kept serving, 4 when not (shrunk,
//! or non-deterministic), 3 when a target does not answer, 2 for an
//! invalid target file, 1 for usage.

use std::fmt::Write as _;
use std::io::Write;

use clap::Args;
use serde_json::{json, Map, Value};

use crate::check::fuzz::{self, FuzzOptions, FuzzProgress, FuzzReport, BATCH};
use crate::check::{RunHead, RERUNS};
use crate::cli::targets::{drive, progress_line, Outputs, TargetChoice, TargetReport};

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

    #[command(flatten)]
    pub outputs: Outputs,
}

/// `otpbench fuzz`: everything but the runtime (a multi-thread one);
/// returns the exit code.
pub async fn run(args: FuzzArgs, stdout: &mut impl Write, stderr: &mut impl Write) -> i32 {
    let headline = |seed| {
        format!(
            "{} bad requests per target (batches of up to {BATCH}, each followed by a correct flow), seed {seed}",
            args.cases
        )
    };
    let each = async |spec: crate::client::TargetSpec, seed, terminal| {
        let progress = progress_line(spec.name.clone(), terminal, |p: &FuzzProgress| {
            format!(
                "{} bad requests sent, {} failing batches",
                p.requests, p.failures
            )
        });
        let options = FuzzOptions {
            spec,
            store: args.choice.store.clone(),
            cases: args.cases,
            seed,
        };
        fuzz::fuzz(options, progress).await
    };
    let (choice, outputs) = (&args.choice, &args.outputs);
    drive(choice, outputs, args.seed, headline, each, stdout, stderr).await
}

impl TargetReport for FuzzReport {
    const COMMAND: &'static str = "fuzz";

    fn head(&self) -> &RunHead {
        &self.head
    }

    fn found(&self) -> Option<&str> {
        Some(&self.failure.as_ref()?.scenario)
    }

    fn render(&self) -> String {
        render(self)
    }

    fn case_name(&self) -> String {
        format!(
            "{} bad requests answered as documented (seed {})",
            self.head.cases, self.head.seed
        )
    }

    fn failure_message(&self) -> Option<String> {
        let f = self.failure.as_ref()?;
        Some(match f.trace.broken() {
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
        })
    }

    fn json_fields(&self) -> Map<String, Value> {
        let failure = self.failure.as_ref().map(|f| {
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
        let mut fields = Map::new();
        fields.insert("requests".into(), self.requests.into());
        fields.insert("flows".into(), self.flows.into());
        fields.insert("answered".into(), json!(self.seen));
        fields.insert("failure".into(), failure.into());
        fields
    }
}

/// The report of one target as text.
pub fn render(report: &FuzzReport) -> String {
    let mut out = String::new();
    let rate = report.head.per_second();
    let seen: Vec<String> = report
        .seen
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let Some(found) = &report.failure else {
        let _ = writeln!(
            out,
            "ok     {} ({}): {} bad requests, every answer documented, {} correct flows after them ({:.1} s, {rate:.0} requests/s, seed {})",
            report.head.target,
            report.head.dialect,
            report.head.cases,
            report.flows,
            report.head.elapsed.as_secs_f64(),
            report.head.seed
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
            report.head.target, report.head.dialect, report.head.seed
        );
    } else {
        let _ = writeln!(
            out,
            "{verdict} {} ({}): bad input broke \"{property}\" after {} requests (seed {})",
            report.head.target, report.head.dialect, report.head.cases, report.head.seed
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
