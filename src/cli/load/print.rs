//! What `otpbench load` and `otpbench capacity` print: a run's summary,
//! its soak trends and gates, and the capacity search as it goes.

use std::io::Write;

use crate::cli::exit;
use crate::cli::report::print_gates;
use crate::load::command::{CapacityEvent, CapacityOutcome, LoadOutcome, Verdict};
use crate::report::model::Report;
use crate::report::table;
use crate::report::text::{latency, percent, rate};

/// Prints a load run's summary, its soak trends and its gates' verdicts;
/// returns the exit code its verdict says.
pub(super) fn print_load(outcome: &LoadOutcome, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let report = &outcome.report;
    let _ = write!(
        out,
        "{}",
        summary(report, &outcome.written, outcome.first_error.as_deref())
    );
    if let Some(soak) = &outcome.soak {
        crate::load::soak::write_trends(soak, out);
    }
    print_gates(&report.gates, out);
    match outcome.verdict() {
        Verdict::Passed => exit::OK,
        Verdict::GateBreached(_) => exit::GATE,
        Verdict::NothingReached => {
            let _ = writeln!(
                err,
                "error: {} could not be reached by any request",
                report.run.target.as_deref().unwrap_or("the target")
            );
            exit::UNREACHABLE
        }
    }
}

/// One line per capacity event, as the search goes.
pub(super) fn print_capacity_event(event: &CapacityEvent, out: &mut dyn Write) {
    match event {
        CapacityEvent::Started {
            target,
            slo,
            step_duration,
            start_rate,
        } => {
            let _ = writeln!(
                out,
                "capacity of {target}: SLO {}, {} per step, from {}",
                slo.join(", "),
                crate::duration::format(*step_duration),
                rate(*start_rate)
            );
        }
        CapacityEvent::Step {
            step,
            offered,
            achieved,
            p99_us,
            held,
            again,
        } => {
            let figures: Vec<String> = p99_us
                .iter()
                .map(|(name, p99)| format!("{name}.p99 {}", latency(*p99 as f64)))
                .collect();
            let _ = writeln!(
                out,
                "  step {step:>2}: {:>12} offered, {:>12} achieved, {} — {}",
                rate(*offered),
                rate(*achieved),
                figures.join(", "),
                match (*held, *again) {
                    (true, false) => "held",
                    (false, false) => "BROKEN",
                    (true, true) => "held when measured again",
                    (false, true) => "BROKEN again",
                }
            );
        }
    }
}

/// The capacity found (or not) and where the report is; exit 5 when no
/// rate met the SLO.
pub(super) fn print_capacity(outcome: &CapacityOutcome, out: &mut dyn Write) -> i32 {
    let stopped = outcome.stopped();
    let code = match outcome.found {
        Some(best) => {
            let _ = writeln!(out, "highest sustainable rate: {} ({stopped})", rate(best));
            exit::OK
        }
        None => {
            let _ = writeln!(out, "no rate met the SLO ({stopped})");
            exit::GATE
        }
    };
    let _ = writeln!(out, "report: {}", outcome.written.display());
    code
}

/// The run's figures as a few lines of text for the terminal.
fn summary(report: &Report, written: &std::path::Path, first_error: Option<&str>) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let target = report.run.target.as_deref().unwrap_or("load");
    let _ = writeln!(
        text,
        "{target}: {}",
        crate::report::markdown::describe_run(report)
    );
    let _ = writeln!(
        text,
        "  {} requests in {:.2}s, {} answered ({} completed), {} errors ({}), {} dropped",
        report.requests,
        report.duration_s,
        report.answered(),
        rate(report.throughput_rps),
        report.errors,
        percent(report.error_ratio()),
        report.dropped,
    );
    if let Some(generator) = &report.generator {
        for why in generator.limits(report.dropped) {
            let _ = writeln!(text, "  GENERATOR LIMIT: {why}");
        }
    }
    let mut rows = table::operations(report);
    rows.extend(table::reference(report));
    text.push_str(&table::terminal(&rows, &table::TERMINAL));
    if let Some(reference) = &report.reference {
        let _ = writeln!(
            text,
            "  reference: {} ({}); throughput/reference {:.3}",
            reference.label,
            rate(reference.throughput_rps),
            ratio_f(report.throughput_rps, reference.throughput_rps)
        );
    }
    if report.errors > 0 {
        if let Some(first) = first_error {
            let _ = writeln!(text, "  first error: {first}");
        }
    }
    let _ = writeln!(text, "report: {}", written.display());
    text
}

fn ratio_f(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}
