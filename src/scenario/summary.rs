//! `run --summary FILE`: a run's results as Markdown for a CI page
//! (`cat summary.md >> "$GITHUB_STEP_SUMMARY"`, a merge-request note):
//! the counts (in all and per target), every failure with its place, step
//! and expected/got lines, and every skip with its reason — or, when
//! nothing could run (an invalid file, an unreachable target), why. It
//! reads the same [`RunReport`] as the terminal, JUnit and JSON
//! renderers, so the four agree; it shows only what they show (requests
//! were masked when the failure was recorded).
//!
//! Values go into table cells as inline HTML (`<code>`, entities), which
//! GitHub and GitLab both render, so a `|`, a backtick or a newline in an
//! answer cannot break the table. Long lists are cut (a job summary holds
//! at most 1 MiB); the cut says how many were left out.

use std::fmt::Write as _;

use crate::scenario::case::Failure;
use crate::scenario::runner::{CaseReport, CaseStatus, RunReport};

/// At most this many failures are written out in full.
const MAX_FAILURES: usize = 50;
/// At most this many skipped cases are listed.
const MAX_SKIPS: usize = 200;
/// A value longer than this is cut in a cell.
const MAX_VALUE: usize = 400;

/// The Markdown summary of `report`.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let total = report.cases.len();
    let headline = if report.failed() > 0 {
        format!("❌ {} of {total} cases failed", report.failed())
    } else if report.passed() == 0 {
        format!("⚠️ no case passed ({} skipped)", report.skipped())
    } else {
        format!("✅ all {} cases that ran passed", report.passed())
    };
    let _ = writeln!(out, "## otpbench run: {headline}\n");
    let _ = writeln!(out, "| | passed | failed | skipped | time |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|");
    let mut targets: Vec<&str> = Vec::new();
    for case in &report.cases {
        if !targets.contains(&case.target.as_str()) {
            targets.push(&case.target);
        }
    }
    for target in &targets {
        let cases: Vec<&CaseReport> = report
            .cases
            .iter()
            .filter(|c| c.target == *target)
            .collect();
        let seconds: f64 = cases.iter().map(|c| c.elapsed.as_secs_f64()).sum();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {seconds:.2} s |",
            cell(target),
            count(&cases, |s| matches!(s, CaseStatus::Passed)),
            count(&cases, |s| matches!(s, CaseStatus::Failed(_))),
            count(&cases, |s| matches!(s, CaseStatus::Skipped(_))),
        );
    }
    let _ = writeln!(
        out,
        "| **all** | **{}** | **{}** | **{}** | **{:.2} s** |\n",
        report.passed(),
        report.failed(),
        report.skipped(),
        report.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "<sub>Target times add up each case's own time; cases run in parallel, \
         so the run's wall time (last row) is shorter.</sub>\n"
    );

    let failed = report.failures();
    if !failed.is_empty() {
        let _ = writeln!(out, "### Failures\n");
        for (case, failure) in failed.iter().take(MAX_FAILURES) {
            failure_section(&mut out, case, failure);
        }
        if failed.len() > MAX_FAILURES {
            let _ = writeln!(
                out,
                "… and {} more failures (the JUnit, JSON and HTML reports hold them all).\n",
                failed.len() - MAX_FAILURES
            );
        }
    }

    let skipped = report.skips();
    if !skipped.is_empty() {
        let _ = writeln!(out, "### Skipped\n");
        let _ = writeln!(out, "| case | reason |\n|---|---|");
        for (case, reason) in skipped.iter().take(MAX_SKIPS) {
            let _ = writeln!(out, "| {} | {} |", cell(&case.title()), cell(reason));
        }
        if skipped.len() > MAX_SKIPS {
            let _ = writeln!(out, "\n… and {} more skipped.", skipped.len() - MAX_SKIPS);
        }
        out.push('\n');
    }
    out
}

/// The summary of a run that could not happen: why, as the terminal said
/// it, and the exit code.
pub fn not_run(why: &str, exit_code: i32) -> String {
    format!(
        "## otpbench run: ⛔ nothing ran (exit {exit_code})\n\n<pre>{}</pre>\n",
        html(why.trim_end())
    )
}

fn count(cases: &[&CaseReport], f: impl Fn(&CaseStatus) -> bool) -> usize {
    cases.iter().filter(|c| f(&c.status)).count()
}

fn failure_section(out: &mut String, case: &CaseReport, failure: &Failure) {
    let _ = writeln!(out, "#### ❌ {}\n", text(&case.title()));
    let _ = write!(
        out,
        "<code>{}:{}:{}</code> — {}",
        html(&case.scenario.file),
        failure.position.line,
        failure.position.column,
        html(&step_name(failure))
    );
    let _ = writeln!(out, "\n");
    if let Some(error) = &failure.error {
        let _ = writeln!(out, "**error:** {}\n", cell(error));
    }
    if !failure.problems.is_empty() {
        let _ = writeln!(out, "| check | expected | got |\n|---|---|---|");
        for problem in &failure.problems {
            let _ = writeln!(
                out,
                "| {} | {} | {} |",
                cell(&problem.what),
                code(&problem.expected),
                code(&problem.actual)
            );
        }
        out.push('\n');
    }
}

/// `step 3 (verify: a label), run 2 of 5`.
pub(crate) fn step_name(failure: &Failure) -> String {
    let mut step = format!("step {} ({}", failure.step + 1, failure.keyword);
    if let Some(label) = &failure.label {
        let _ = write!(step, ": {label}");
    }
    step.push(')');
    if let Some((run, of)) = failure.run {
        let _ = write!(step, ", run {run} of {of}");
    }
    step
}

/// Text for a table cell: HTML-escaped, `|` as an entity, lines joined.
fn cell(value: &str) -> String {
    html(&cut(value))
        .replace('|', "&#124;")
        .replace('\n', "<br>")
}

/// A value in a cell, as code.
fn code(value: &str) -> String {
    format!("<code>{}</code>", cell(value))
}

/// Markdown text outside tables: the characters Markdown would read
/// escaped.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in html(value).chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn cut(value: &str) -> String {
    if value.chars().count() <= MAX_VALUE {
        return value.to_string();
    }
    let kept: String = value.chars().take(MAX_VALUE).collect();
    format!("{kept}… ({} characters in all)", value.chars().count())
}

/// `text` safe in HTML (the XML entities serve).
pub(crate) fn html(text: &str) -> String {
    crate::source::xml::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_cannot_break_the_table() {
        assert_eq!(cell("a|b\nc<d>"), "a&#124;b<br>c&lt;d&gt;");
        assert_eq!(code("`x`"), "<code>`x`</code>");
        assert_eq!(text("*a* [b] #1"), "\\*a\\* \\[b\\] \\#1");
        let long = "x".repeat(MAX_VALUE + 10);
        assert!(cell(&long).ends_with(&format!("… ({} characters in all)", MAX_VALUE + 10)));
    }
}
