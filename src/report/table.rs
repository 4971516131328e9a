//! The per-operation table of a report, made once and written two ways:
//! fixed-width text for the terminal summary of `otpbench load` and a
//! Markdown table for `summary.md`. Each rendering picks its columns; a
//! cell reads the same in both (through [`crate::report::text`]).

use std::fmt::Write as _;

use crate::report::model::{per_second, ratio, OperationReport, Report};
use crate::report::text::{latency, outcomes, percent, rate};

/// A column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Column {
    Operation,
    Count,
    Rate,
    P50,
    P90,
    P99,
    P999,
    Max,
    ServiceP99,
    WaitP99,
    /// Errors as a share of the operation's requests.
    Errors,
    Outcomes,
}

impl Column {
    fn header(self) -> &'static str {
        match self {
            Column::Operation => "operation",
            Column::Count => "count",
            Column::Rate => "rate",
            Column::P50 => "p50",
            Column::P90 => "p90",
            Column::P99 => "p99",
            Column::P999 => "p99.9",
            Column::Max => "max",
            Column::ServiceP99 => "service p99",
            Column::WaitP99 => "wait p99",
            Column::Errors => "errors",
            Column::Outcomes => "outcomes",
        }
    }

    /// The terminal width; the name and the outcomes are not right-aligned.
    fn width(self) -> usize {
        match self {
            Column::Operation | Column::WaitP99 => 10,
            Column::Rate => 12,
            Column::ServiceP99 => 13,
            Column::Outcomes => 0,
            _ => 9,
        }
    }

    fn cell(self, row: &Row<'_>) -> String {
        let op = row.operation;
        let l = &op.latency_us;
        match self {
            Column::Operation => row.name.to_string(),
            Column::Count => op.count.to_string(),
            Column::Rate => rate(per_second(op.count, row.duration_s)),
            Column::P50 => latency(l.p50 as f64),
            Column::P90 => latency(l.p90 as f64),
            Column::P99 => latency(l.p99 as f64),
            Column::P999 => latency(l.p999 as f64),
            Column::Max => latency(l.max as f64),
            Column::ServiceP99 => latency(op.service_time_us.p99 as f64),
            Column::WaitP99 => latency(op.wait_us.p99 as f64),
            Column::Errors => percent(ratio(op.errors, op.count)),
            Column::Outcomes => outcomes(&op.outcomes),
        }
    }
}

/// The columns every latency table opens with.
const LATENCY: [Column; 8] = [
    Column::Operation,
    Column::Count,
    Column::Rate,
    Column::P50,
    Column::P90,
    Column::P99,
    Column::P999,
    Column::Max,
];

/// The columns of the terminal summary.
pub(crate) const TERMINAL: [Column; 11] = then(
    LATENCY,
    [Column::ServiceP99, Column::WaitP99, Column::Outcomes],
);

/// The columns of `summary.md`'s latency table.
pub(crate) const MARKDOWN: [Column; 10] = then(LATENCY, [Column::Errors, Column::Outcomes]);

/// `first`, then `rest` (`N` must be their lengths' sum).
const fn then<const A: usize, const B: usize, const N: usize>(
    first: [Column; A],
    rest: [Column; B],
) -> [Column; N] {
    assert!(A + B == N);
    let mut all = [Column::Operation; N];
    let mut i = 0;
    while i < N {
        all[i] = if i < A { first[i] } else { rest[i - A] };
        i += 1;
    }
    all
}

/// One operation's line: its name, figures, and the time they cover.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row<'a> {
    pub(crate) name: &'a str,
    pub(crate) operation: &'a OperationReport,
    /// Seconds the operation's requests were made over (for its rate).
    pub(crate) duration_s: f64,
}

/// The report's operations, by name.
pub(crate) fn operations(report: &Report) -> Vec<Row<'_>> {
    report
        .operations
        .iter()
        .map(|(name, operation)| Row {
            name,
            operation,
            duration_s: report.duration_s,
        })
        .collect()
}

/// The reference section's operations, each named `reference`.
pub(crate) fn reference(report: &Report) -> Vec<Row<'_>> {
    report
        .reference
        .iter()
        .flat_map(|reference| {
            reference.operations.values().map(|operation| Row {
                name: "reference",
                operation,
                duration_s: reference.duration_s,
            })
        })
        .collect()
}

/// Fixed-width lines, each indented by two spaces, the header first.
pub(crate) fn terminal(rows: &[Row<'_>], columns: &[Column]) -> String {
    let line = |cell: &dyn Fn(Column) -> String| {
        let mut text = String::from(" ");
        for &column in columns {
            let value = cell(column);
            let _ = match column {
                Column::Operation => write!(text, " {value:<width$}", width = column.width()),
                Column::Outcomes => write!(text, "  {value}"),
                _ => write!(text, " {value:>width$}", width = column.width()),
            };
        }
        text + "\n"
    };
    let mut text = line(&|column| column.header().to_string());
    for row in rows {
        text.push_str(&line(&|column| column.cell(row)));
    }
    text
}

/// A Markdown table: names and outcomes left-aligned, figures right.
pub(crate) fn markdown(rows: &[Row<'_>], columns: &[Column]) -> String {
    let line = |cells: Vec<String>| format!("| {} |\n", cells.join(" | "));
    let mut text = line(columns.iter().map(|c| c.header().to_string()).collect());
    let rule: Vec<&str> = columns
        .iter()
        .map(|c| match c {
            Column::Operation | Column::Outcomes => "---",
            _ => "---:",
        })
        .collect();
    let _ = writeln!(text, "|{}|", rule.join("|"));
    for row in rows {
        text.push_str(&line(columns.iter().map(|c| c.cell(row)).collect()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_read_as_the_summaries_always_printed_them() {
        let terminal = terminal(&[], &TERMINAL);
        let expected = format!(
            "  {:<10} {:>9} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>13} {:>10}  outcomes\n",
            "operation",
            "count",
            "rate",
            "p50",
            "p90",
            "p99",
            "p99.9",
            "max",
            "service p99",
            "wait p99"
        );
        assert_eq!(terminal, expected);
        assert_eq!(
            markdown(&[], &MARKDOWN),
            "| operation | count | rate | p50 | p90 | p99 | p99.9 | max | errors | outcomes |\n\
             |---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
        );
    }
}
