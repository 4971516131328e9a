//! The Markdown summary (`summary.md`): a few tables fit for a CI job
//! summary (`cat summary.md >> "$GITHUB_STEP_SUMMARY"`) or a pull-request
//! comment. Figures only; the plots are in the HTML page. The latency
//! table is the one the terminal summary prints ([`crate::report::table`]).

use std::fmt::Write as _;

use crate::report::model::Report;
use crate::report::table;
use crate::report::text::{latency, percent, rate};

/// The summary of `report`.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let target = report.run.target.as_deref().unwrap_or("load run");
    let _ = writeln!(out, "## otpbench: {target}\n");
    let _ = writeln!(
        out,
        "**{} requests in {:.1}s — {} answered, {} errors ({}), {} dropped**\n",
        report.requests,
        report.duration_s,
        rate(report.throughput_rps),
        report.errors,
        percent(report.error_ratio()),
        report.dropped
    );
    let _ = writeln!(out, "{}\n", describe_run(report));
    if let Some(generator) = &report.generator {
        for why in generator.limits(report.dropped) {
            let _ = writeln!(out, "> **Generator limit:** {why}\n");
        }
    }

    if !report.gates.is_empty() {
        let broken = report.gates.iter().filter(|g| !g.passed).count();
        let _ = writeln!(
            out,
            "### Gates: {}\n",
            if broken == 0 {
                "all held".to_string()
            } else {
                format!("{broken} of {} broken", report.gates.len())
            }
        );
        for gate in &report.gates {
            let mark = if gate.passed { "✅" } else { "❌" };
            let _ = writeln!(out, "- {mark} {}", gate.message);
        }
        out.push('\n');
    }

    let _ = writeln!(
        out,
        "### Latency from the intended start (coordinated-omission corrected)\n"
    );
    out.push_str(&table::markdown(
        &table::operations(report),
        &table::MARKDOWN,
    ));
    let _ = writeln!(
        out,
        "\n### Where the time went: send to answer (what a closed-loop tool reports), and \
         waiting inside the generator for a connection\n"
    );
    let _ = writeln!(out, "| operation | part | p50 | p90 | p99 | p99.9 | max |");
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|");
    for (name, op) in &report.operations {
        for (part, s) in [
            ("send to answer", &op.service_time_us),
            ("wait", &op.wait_us),
        ] {
            let _ = writeln!(
                out,
                "| {name} | {part} | {} | {} | {} | {} | {} |",
                latency(s.p50 as f64),
                latency(s.p90 as f64),
                latency(s.p99 as f64),
                latency(s.p999 as f64),
                latency(s.max as f64)
            );
        }
    }

    if let Some(reference) = &report.reference {
        let _ = writeln!(
            out,
            "\n### Reference: {}\n\n{} requests, {}, {} errors; the run did {:.2}× its throughput.",
            reference.label,
            reference.requests,
            rate(reference.throughput_rps),
            reference.errors,
            if reference.throughput_rps > 0.0 {
                report.throughput_rps / reference.throughput_rps
            } else {
                0.0
            }
        );
    }

    if let Some(capacity) = &report.capacity {
        let _ = writeln!(
            out,
            "\n### Capacity: {}\n\nSLO: `{}`; {}.\n",
            match capacity.max_sustainable_rps {
                Some(best) => format!("highest sustainable rate {}", rate(best)),
                None => "no rate met the SLO".to_string(),
            },
            capacity.slo.join("`, `"),
            capacity.stopped
        );
        let _ = writeln!(out, "| offered | achieved | p99 per operation | result |");
        let _ = writeln!(out, "|---:|---:|---|---|");
        for step in &capacity.steps {
            let p99: Vec<String> = step
                .latency_us
                .iter()
                .map(|(name, p)| format!("{name} {}", latency(p.p99 as f64)))
                .collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                rate(step.rate_rps),
                rate(step.throughput_rps),
                p99.join(", "),
                step.verdict()
            );
        }
    }
    out
}

/// One line saying how the run was made.
pub(crate) fn describe_run(report: &Report) -> String {
    let run = &report.run;
    let mut parts = Vec::new();
    match (run.model.as_deref(), run.rate_rps, run.concurrency) {
        (Some("open"), Some(r), _) => parts.push(format!(
            "open model at {r:.1} {} offered",
            crate::report::text::offered_unit(run)
        )),
        (Some("closed"), _, Some(c)) => parts.push(format!("closed model, {c} connections")),
        (Some(model), _, _) => parts.push(format!("{model} model")),
        _ => {}
    }
    if let Some(dialect) = &run.dialect {
        parts.push(format!("dialect {dialect}"));
    }
    if let Some(shard) = &run.shard {
        parts.push(format!("shard {shard}"));
    }
    if !run.merged_from.is_empty() {
        parts.push(format!("merged from {} reports", run.merged_from.len()));
    }
    parts.push(format!("started {}", run.started_at));
    parts.push(format!("otpbench {}", run.otpbench_version));
    parts.join(" · ")
}
