//! Gates: `--threshold` expressions, `--baseline` regressions and the SLO
//! of a capacity search, evaluated against a [`Report`] into
//! [`GateResult`]s. A breach is exit code 5 (the command line's choice).
//!
//! # Grammar
//!
//! ```text
//! gate       = metric ["/reference"] comparator number [unit]
//! metric     = "throughput" | "errors" | "dropped" | "requests" | OP "." measure
//! measure    = "p50" | "p90" | "p99" | "p999" | "min" | "mean" | "max"
//!            | "count" | "errors" | "throughput" | OUTCOME
//! comparator = "<" | "<=" | ">" | ">="
//! unit       = "us" | "µs" | "ms" | "s"   latencies (required)
//!            | "%"                        errors, dropped, outcomes: a share
//!            |                            errors, dropped, outcomes, counts: a count
//!            | "/s"                       throughput (optional)
//! ```
//!
//! `throughput` counts completed (answered) requests only. `dropped` is the
//! open model's arrivals never sent, as a share of all arrivals (`%`) or a
//! count; `errors` counts them too (`errors<1%` is over requests sent and
//! arrivals dropped), so a run that could not send its load breaks it.
//!
//! `OUTCOME` is a report outcome name: `sent`, `rate_limited`, a status
//! like `503`, `timeout` … — checked when parsed, so a typo is an error,
//! not a gate that always holds. A `/reference` gate divides the measure by
//! the same measure of the report's `reference` section (its operation of
//! the same name, or its only one), so `throughput/reference>0.6` holds
//! while the target does at least 60% of what the reference endpoint did in
//! the same run. Spaces are allowed between the parts.
//!
//! This module evaluates figures; it must not run load or exit the process.
//! The grammar's reader is the private `parse` module.

use std::collections::BTreeMap;
use std::fmt;

mod parse;

use crate::report::model::{
    per_second, ratio, GateResult, OperationReport, Percentiles, Reference, Report,
};

/// A gate expression that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateError {
    pub expression: String,
    /// 1-based character column where reading failed.
    pub column: usize,
    pub reason: String,
}

impl fmt::Display for GateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "invalid gate {:?} at column {}: {}",
            self.expression, self.column, self.reason
        )?;
        writeln!(f, "  {}", self.expression)?;
        write!(f, "  {}^", " ".repeat(self.column.saturating_sub(1)))
    }
}

impl std::error::Error for GateError {}

/// A latency read-out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quantile {
    P50,
    P90,
    P99,
    P999,
    Min,
    Mean,
    Max,
}

impl Quantile {
    fn read(self, p: &Percentiles) -> f64 {
        match self {
            Quantile::P50 => p.p50 as f64,
            Quantile::P90 => p.p90 as f64,
            Quantile::P99 => p.p99 as f64,
            Quantile::P999 => p.p999 as f64,
            Quantile::Min => p.min as f64,
            Quantile::Mean => p.mean,
            Quantile::Max => p.max as f64,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Measure {
    Latency(Quantile),
    Count,
    Errors,
    Throughput,
    Outcome(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Metric {
    Throughput,
    Requests,
    Errors,
    Dropped,
    Operation { op: String, measure: Measure },
}

/// What the limit is measured in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Micros,
    /// A share of the requests, 0..=1.
    Share,
    Count,
    PerSecond,
    /// A `/reference` quotient.
    Ratio,
}

impl Unit {
    fn name(self) -> &'static str {
        match self {
            Unit::Micros => "us",
            Unit::Share => "share",
            Unit::Count => "count",
            Unit::PerSecond => "rps",
            Unit::Ratio => "ratio",
        }
    }

    fn show(self, value: f64) -> String {
        match self {
            Unit::Micros if value >= 1e6 => format!("{}s", round(value / 1e6, 3)),
            Unit::Micros if value >= 1000.0 => format!("{}ms", round(value / 1000.0, 3)),
            Unit::Micros => format!("{}µs", round(value, 1)),
            Unit::Share => format!("{}%", round(value * 100.0, 3)),
            Unit::Count => format!("{}", round(value, 0)),
            Unit::PerSecond => format!("{}/s", round(value, 1)),
            Unit::Ratio => format!("{}", round(value, 3)),
        }
    }
}

fn round(value: f64, places: i32) -> f64 {
    let scale = 10f64.powi(places);
    (value * scale).round() / scale
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparator {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparator {
    fn holds(self, measured: f64, limit: f64) -> bool {
        match self {
            Comparator::Less => measured < limit,
            Comparator::LessOrEqual => measured <= limit,
            Comparator::Greater => measured > limit,
            Comparator::GreaterOrEqual => measured >= limit,
        }
    }

    fn is_upper_bound(self) -> bool {
        matches!(self, Comparator::Less | Comparator::LessOrEqual)
    }
}

/// One parsed gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Gate {
    expression: String,
    metric: Metric,
    relative_to_reference: bool,
    comparator: Comparator,
    /// In `unit`'s base (µs, share 0..=1, count, rps, ratio).
    limit: f64,
    unit: Unit,
}

impl Gate {
    /// Reads one expression.
    pub fn parse(expression: &str) -> Result<Gate, GateError> {
        parse::Parser::new(expression).gate()
    }

    /// Reads every expression, stopping at the first bad one.
    pub fn parse_all<S: AsRef<str>>(expressions: &[S]) -> Result<Vec<Gate>, GateError> {
        expressions
            .iter()
            .map(|e| Gate::parse(e.as_ref()))
            .collect()
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// Evaluates the gate against `report`.
    pub fn evaluate(&self, report: &Report) -> GateResult {
        let measured = self.read(&Figures::of(report)).and_then(|main| {
            if !self.relative_to_reference {
                return Ok(main);
            }
            let reference = report
                .reference
                .as_ref()
                .ok_or("the report has no reference section")?;
            let base = self.read(&Figures::of_reference(reference))?;
            if base == 0.0 {
                return Err("the reference measured 0".to_string());
            }
            Ok(main / base)
        });
        match measured {
            Ok(value) => verdict(
                &self.expression,
                value,
                self.limit,
                self.unit,
                self.comparator,
            ),
            Err(reason) => GateResult {
                expression: self.expression.clone(),
                measured: None,
                limit: self.limit,
                unit: self.unit.name().to_string(),
                passed: false,
                excess: 0.0,
                message: format!("{}: cannot be measured: {reason}", self.expression),
            },
        }
    }

    /// The measured value in the unit's base (a share for `%` gates).
    fn read(&self, figures: &Figures<'_>) -> Result<f64, String> {
        let share = self.unit == Unit::Share;
        Ok(match &self.metric {
            Metric::Throughput => figures.throughput_rps,
            Metric::Requests => figures.requests as f64,
            Metric::Errors if share => ratio(
                figures.errors + figures.dropped,
                figures.requests + figures.dropped,
            ),
            Metric::Errors => (figures.errors + figures.dropped) as f64,
            Metric::Dropped if share => figures.dropped_share,
            Metric::Dropped => figures.dropped as f64,
            Metric::Operation { op, measure } => {
                let operation = figures.operation(op)?;
                match measure {
                    Measure::Latency(q) => {
                        if operation.count == 0 {
                            return Err(format!("operation {op:?} recorded no requests"));
                        }
                        q.read(&operation.latency_us)
                    }
                    Measure::Throughput => per_second(operation.answered(), figures.duration_s),
                    counted if share => ratio(count_of(operation, counted), operation.count),
                    counted => count_of(operation, counted) as f64,
                }
            }
        })
    }
}

/// The figures a gate reads: of a report, or of its reference section.
struct Figures<'a> {
    operations: &'a BTreeMap<String, OperationReport>,
    requests: u64,
    errors: u64,
    /// Arrivals never sent, and their share of all arrivals.
    dropped: u64,
    dropped_share: f64,
    throughput_rps: f64,
    duration_s: f64,
    /// A reference section's only operation stands for any name, so
    /// `send.p99/reference` compares with `/healthz`'s `http`.
    any_single_operation: bool,
}

impl<'a> Figures<'a> {
    fn of(report: &'a Report) -> Figures<'a> {
        Figures {
            operations: &report.operations,
            requests: report.requests,
            errors: report.errors,
            dropped: report.dropped,
            dropped_share: report.dropped_ratio(),
            throughput_rps: report.throughput_rps,
            duration_s: report.duration_s,
            any_single_operation: false,
        }
    }

    fn of_reference(reference: &'a Reference) -> Figures<'a> {
        Figures {
            operations: &reference.operations,
            requests: reference.requests,
            errors: reference.errors,
            dropped: 0,
            dropped_share: 0.0,
            throughput_rps: reference.throughput_rps,
            duration_s: reference.duration_s,
            any_single_operation: true,
        }
    }

    fn operation(&self, op: &str) -> Result<&'a OperationReport, String> {
        if let Some(found) = self.operations.get(op) {
            return Ok(found);
        }
        if self.any_single_operation && self.operations.len() == 1 {
            return Ok(self.operations.values().next().expect("one operation"));
        }
        let known: Vec<&str> = self.operations.keys().map(String::as_str).collect();
        Err(format!(
            "no operation {op:?} in the {} (it has: {})",
            if self.any_single_operation {
                "reference"
            } else {
                "report"
            },
            known.join(", ")
        ))
    }
}

/// Evaluates every gate.
pub fn evaluate_all(gates: &[Gate], report: &Report) -> Vec<GateResult> {
    gates.iter().map(|g| g.evaluate(report)).collect()
}

/// Whether any gate broke.
pub fn breached(results: &[GateResult]) -> bool {
    results.iter().any(|r| !r.passed)
}

fn verdict(expression: &str, measured: f64, limit: f64, unit: Unit, cmp: Comparator) -> GateResult {
    let passed = cmp.holds(measured, limit);
    let excess = if passed {
        0.0
    } else if cmp.is_upper_bound() {
        measured - limit
    } else {
        limit - measured
    };
    let message = if passed {
        format!("{expression}: {} — held", unit.show(measured))
    } else {
        let relative = if limit != 0.0 {
            format!(" ({:+.1}%)", (measured - limit) / limit * 100.0)
        } else {
            String::new()
        };
        format!(
            "{expression}: {} — BROKEN by {}{relative}, limit {}",
            unit.show(measured),
            unit.show(excess),
            unit.show(limit)
        )
    };
    GateResult {
        expression: expression.to_string(),
        measured: Some(measured),
        limit,
        unit: unit.name().to_string(),
        passed,
        excess,
        message,
    }
}

fn count_of(operation: &OperationReport, measure: &Measure) -> u64 {
    match measure {
        Measure::Errors => operation.errors,
        Measure::Outcome(name) => operation.outcomes.get(name).copied().unwrap_or(0),
        _ => operation.count,
    }
}

/// The gates of `--baseline FILE --max-regression R`: every operation's
/// p50 and p99 may grow by at most `R` (a fraction: 0.1 for 10%) over the
/// baseline's, and the throughput may fall by at most `R`.
pub fn baseline_gates(current: &Report, baseline: &Report, max_regression: f64) -> Vec<GateResult> {
    let pct = format!("{}%", round(max_regression * 100.0, 3));
    let mut results = Vec::new();
    for (name, base) in &baseline.operations {
        if base.count == 0 {
            continue;
        }
        for (label, read) in [
            ("p50", (|p: &Percentiles| p.p50) as fn(&Percentiles) -> u64),
            ("p99", |p: &Percentiles| p.p99),
        ] {
            let expression = format!("{name}.{label} within +{pct} of baseline");
            let limit = read(&base.latency_us) as f64 * (1.0 + max_regression);
            results.push(match current.operations.get(name) {
                Some(op) if op.count > 0 => verdict(
                    &expression,
                    read(&op.latency_us) as f64,
                    limit,
                    Unit::Micros,
                    Comparator::LessOrEqual,
                ),
                _ => GateResult {
                    expression: expression.clone(),
                    measured: None,
                    limit,
                    unit: Unit::Micros.name().to_string(),
                    passed: false,
                    excess: 0.0,
                    message: format!("{expression}: the run recorded no {name} requests"),
                },
            });
        }
    }
    results.push(verdict(
        &format!("throughput within -{pct} of baseline"),
        current.throughput_rps,
        baseline.throughput_rps * (1.0 - max_regression),
        Unit::PerSecond,
        Comparator::GreaterOrEqual,
    ));
    results
}

/// Reads `10%` as 0.1 (for `--max-regression`).
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text
        .trim()
        .strip_suffix('%')
        .ok_or_else(|| format!("{text:?}: write a percentage, like 10%"))?;
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{text:?}: not a number before %"))?;
    if !(value.is_finite() && value >= 0.0) {
        return Err(format!("{text:?}: must be a percentage of 0 or more"));
    }
    Ok(value / 100.0)
}
