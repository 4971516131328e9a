//! `report.html`: one self-contained page (inline CSS and SVG, no
//! scripts, no external assets) with the run's figures and plots, readable
//! offline and as a CI artifact. Plots come from [`crate::report::plots`].

use std::fmt::Write as _;

use crate::report::markdown::describe_run;
use crate::report::model::{ratio, Report};
use crate::report::plots;
use crate::report::text::{latency, outcomes, percent, rate};
use crate::source::xml::escape;

/// The file name of the page inside a run directory.
pub const FILE_NAME: &str = "report.html";

/// What every page otpbench writes looks like: the body, headings, the
/// run line and the headline figures (`run --html` adds its own rules).
pub(crate) const PAGE_STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 2rem auto;
       max-width: 820px; padding: 0 1rem; color: #1f2328; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .3rem; }
.run { color: #59636e; font-size: .9rem; }
.headline { display: flex; gap: 1rem; flex-wrap: wrap; margin: 1rem 0; }
.headline div { background: #f6f8fa; border-radius: 6px; padding: .6rem 1rem; }
.headline b { display: block; font-size: 1.3rem; }
";

const STYLE: &str = "
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: right; }
th:first-child, td:first-child, td.text { text-align: left; }
td:first-child { white-space: nowrap; }
th { background: #f6f8fa; }
.held { color: #1a7f37; } .broken { color: #cf222e; font-weight: bold; }
figure { margin: 1rem 0; } figure svg { max-width: 100%; height: auto; }
.note { color: #59636e; font-style: italic; }
";

/// The page for `report`.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let target = report.run.target.as_deref().unwrap_or("load run");
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>otpbench report: {}</title>\n<style>{PAGE_STYLE}{STYLE}</style>\n</head>\n<body>\n",
        escape(target)
    );
    let _ = writeln!(out, "<h1>otpbench report: {}</h1>", escape(target));
    let _ = writeln!(
        out,
        "<p class=\"run\">{}</p>",
        escape(&describe_run(report))
    );
    if !report.run.command_line.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"run\"><code>{}</code></p>",
            escape(&report.run.command_line.join(" "))
        );
    }
    // A capacity search's result is what its page is for: first.
    capacity(&mut out, report);
    let _ = writeln!(
        out,
        "<div class=\"headline\"><div><b>{}</b>requests</div><div><b>{:.1}s</b>duration</div>\
         <div><b>{}</b>throughput (answered requests)</div><div><b>{} ({})</b>errors</div>\
         <div><b>{} ({})</b>dropped</div></div>",
        report.requests,
        report.duration_s,
        rate(report.throughput_rps),
        report.errors,
        percent(report.error_ratio()),
        report.dropped,
        percent(report.dropped_ratio())
    );
    generator(&mut out, report);
    gates(&mut out, report);
    operations(&mut out, report);

    let _ = writeln!(out, "<h2>Latency by percentile</h2>");
    for (name, op) in &report.operations {
        let svg = plots::latency_curve(
            &format!("{name}: latency by percentile"),
            &op.histogram.0,
            &op.service_time_histogram.0,
        );
        let _ = writeln!(
            out,
            "<figure>{svg}<figcaption>{}: the blue curve counts from each request's intended \
             start (coordinated-omission corrected); the orange one from its actual start.\
             </figcaption></figure>",
            escape(name)
        );
    }
    let _ = writeln!(out, "<h2>Over time</h2>");
    let _ = writeln!(
        out,
        "<figure>{}</figure>",
        plots::throughput(&report.series)
    );
    let _ = writeln!(out, "<figure>{}</figure>", plots::p99(&report.series));

    if let Some(reference) = &report.reference {
        let _ = writeln!(
            out,
            "<h2>Reference: {}</h2>\n<p>{} requests in {:.1}s, {}, {} errors.</p>",
            escape(&reference.label),
            reference.requests,
            reference.duration_s,
            rate(reference.throughput_rps),
            reference.errors
        );
    }
    let _ = writeln!(out, "</body>\n</html>");
    out
}

/// Where the generator itself was the limit, said plainly at the top.
fn generator(out: &mut String, report: &Report) {
    let Some(generator) = &report.generator else {
        return;
    };
    let limits = generator.limits(report.dropped);
    let _ = writeln!(
        out,
        "<h2>The generator</h2>\n<p>{} arrivals over {} connection(s) and {} worker(s); {} \
         found every connection busy, {} were released over 1 ms late, {} were dropped.</p>",
        generator.arrivals,
        generator.connections,
        generator.workers,
        generator.queued,
        generator.late,
        report.dropped
    );
    if limits.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"held\">The generator was not the limit: the latencies are the \
             target's.</p>"
        );
    } else {
        let _ = writeln!(out, "<ul>");
        for why in limits {
            let _ = writeln!(
                out,
                "<li class=\"broken\">Generator limit: {}</li>",
                escape(&why)
            );
        }
        let _ = writeln!(out, "</ul>");
    }
}

fn gates(out: &mut String, report: &Report) {
    if report.gates.is_empty() {
        return;
    }
    let _ = writeln!(out, "<h2>Gates</h2>\n<ul>");
    for gate in &report.gates {
        let (class, mark) = if gate.passed {
            ("held", "✔")
        } else {
            ("broken", "✘")
        };
        let _ = writeln!(
            out,
            "<li class=\"{class}\">{mark} {}</li>",
            escape(&gate.message)
        );
    }
    let _ = writeln!(out, "</ul>");
}

fn operations(out: &mut String, report: &Report) {
    let _ = writeln!(
        out,
        "<h2>Operations</h2>\n<table>\n<tr><th>operation</th><th>count</th><th>rate</th>\
         <th>p50</th><th>p90</th><th>p99</th><th>p99.9</th><th>max</th><th>errors</th>\
         <th>outcomes</th></tr>"
    );
    for (name, op) in &report.operations {
        for (label, p) in [
            ("", &op.latency_us),
            (" (send to answer)", &op.service_time_us),
            (" (waiting for a connection)", &op.wait_us),
        ] {
            let first = label.is_empty();
            let _ = writeln!(
                out,
                "<tr><td>{}{label}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>",
                escape(name),
                if first {
                    op.count.to_string()
                } else {
                    String::new()
                },
                if first && report.duration_s > 0.0 {
                    rate(op.count as f64 / report.duration_s)
                } else {
                    String::new()
                },
                latency(p.p50 as f64),
                latency(p.p90 as f64),
                latency(p.p99 as f64),
                latency(p.p999 as f64),
                latency(p.max as f64),
                if first {
                    percent(ratio(op.errors, op.count))
                } else {
                    String::new()
                },
                if first {
                    escape(&outcomes(&op.outcomes))
                } else {
                    String::new()
                },
            );
        }
    }
    let _ = writeln!(out, "</table>");
}

fn capacity(out: &mut String, report: &Report) {
    let Some(capacity) = &report.capacity else {
        return;
    };
    let _ = writeln!(
        out,
        "<h2>Capacity</h2>\n<p><b>{}</b> — SLO <code>{}</code>; {}.</p>",
        match capacity.max_sustainable_rps {
            Some(best) => format!(
                "highest sustainable rate {best:.1} {}",
                crate::report::text::offered_unit(&report.run)
            ),
            None => "no rate met the SLO".to_string(),
        },
        escape(&capacity.slo.join(", ")),
        escape(&capacity.stopped)
    );
    let _ = writeln!(
        out,
        "<figure>{}</figure>",
        plots::capacity(
            &capacity.steps,
            crate::report::text::offered_unit(&report.run)
        )
    );
    let _ = writeln!(
        out,
        "<table>\n<tr><th>step</th><th>offered</th><th>achieved</th><th>p50</th><th>p99</th>\
         <th>errors</th><th>result</th></tr>"
    );
    for (i, step) in capacity.steps.iter().enumerate() {
        let by_op = |read: fn(&crate::report::model::Percentiles) -> u64| {
            step.latency_us
                .iter()
                .map(|(name, p)| format!("{} {}", escape(name), latency(read(p) as f64)))
                .collect::<Vec<_>>()
                .join("<br>")
        };
        let class = if step.passed { "held" } else { "broken" };
        let verdict = step.verdict();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td class=\"{class}\">{verdict}</td></tr>",
            i + 1,
            rate(step.rate_rps),
            rate(step.throughput_rps),
            by_op(|p| p.p50),
            by_op(|p| p.p99),
            step.errors,
        );
    }
    let _ = writeln!(out, "</table>");
}
