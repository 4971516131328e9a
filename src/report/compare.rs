//! `otpbench report compare A B`: the figures of two reports side by side
//! with the relative change from A to B — per operation the corrected
//! percentiles, count and outcome shares, and the throughput and error
//! share of the whole run. Gating on the change is `--max-regression`
//! ([`crate::report::gate::baseline_gates`]); this module only tabulates.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::report::model::{ratio, OperationReport, Report};
use crate::report::text;

/// How a row's values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// µs.
    Latency,
    /// Requests per second.
    Rate,
    /// A share of requests, 0..=1.
    Share,
    Count,
}

/// One compared figure; `None` where a report lacks it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `throughput`, `send.p99`, `send.rate_limited` …
    pub metric: String,
    pub kind: Kind,
    pub a: Option<f64>,
    pub b: Option<f64>,
}

impl Row {
    /// `(b - a) / a`, when both exist and `a` is not 0.
    pub fn change(&self) -> Option<f64> {
        match (self.a, self.b) {
            (Some(a), Some(b)) if a != 0.0 => Some((b - a) / a),
            _ => None,
        }
    }

    fn show(&self, value: Option<f64>) -> String {
        match value {
            None => "—".into(),
            Some(v) => match self.kind {
                Kind::Latency => text::latency(v),
                Kind::Rate => text::rate(v),
                Kind::Share => text::percent(v),
                Kind::Count => format!("{v:.0}"),
            },
        }
    }
}

/// Every compared figure of A and B.
pub fn compare(a: &Report, b: &Report) -> Vec<Row> {
    let mut rows = vec![
        Row {
            metric: "throughput".into(),
            kind: Kind::Rate,
            a: Some(a.throughput_rps),
            b: Some(b.throughput_rps),
        },
        Row {
            metric: "requests".into(),
            kind: Kind::Count,
            a: Some(a.requests as f64),
            b: Some(b.requests as f64),
        },
        Row {
            metric: "errors".into(),
            kind: Kind::Share,
            a: Some(a.error_ratio()),
            b: Some(b.error_ratio()),
        },
        Row {
            metric: "dropped".into(),
            kind: Kind::Count,
            a: Some(a.dropped as f64),
            b: Some(b.dropped as f64),
        },
    ];
    let names: BTreeSet<&String> = a.operations.keys().chain(b.operations.keys()).collect();
    for name in names {
        let (op_a, op_b) = (a.operations.get(name), b.operations.get(name));
        let row = |measure: &str, kind, read: &dyn Fn(&OperationReport) -> f64| Row {
            metric: format!("{name}.{measure}"),
            kind,
            a: op_a.map(read),
            b: op_b.map(read),
        };
        rows.push(row("count", Kind::Count, &|o| o.count as f64));
        for (measure, read) in [
            (
                "p50",
                (|o: &OperationReport| o.latency_us.p50) as fn(&OperationReport) -> u64,
            ),
            ("p90", |o| o.latency_us.p90),
            ("p99", |o| o.latency_us.p99),
            ("p999", |o| o.latency_us.p999),
            ("max", |o| o.latency_us.max),
        ] {
            rows.push(row(measure, Kind::Latency, &|o| read(o) as f64));
        }
        let outcomes: BTreeSet<&String> = op_a
            .into_iter()
            .chain(op_b)
            .flat_map(|o| o.outcomes.keys())
            .collect();
        for outcome in outcomes {
            rows.push(row(outcome, Kind::Share, &|o| {
                ratio(o.outcomes.get(outcome).copied().unwrap_or(0), o.count)
            }));
        }
    }
    rows
}

/// The rows as a Markdown table (readable in a terminal too).
pub fn render(rows: &[Row], a_label: &str, b_label: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| metric | A | B | change |");
    let _ = writeln!(out, "|---|---:|---:|---:|");
    for row in rows {
        let change = match (row.a, row.b) {
            (Some(a), Some(b)) => text::change(a, b),
            _ => "—".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {change} |",
            row.metric,
            row.show(row.a),
            row.show(row.b)
        );
    }
    let _ = writeln!(out, "\nA: {a_label}\nB: {b_label}");
    out
}
