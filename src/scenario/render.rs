//! A run's results as text: the terminal report in the style of a
//! compiler (each failure at `file:line:col` with the source line, what
//! was expected and what came), JUnit XML (one testcase per scenario ×
//! target, skips as `<skipped message=…>`), and JSON. One renderer per
//! format; they all read the same [`RunReport`], so they say the same.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

use crate::client::Exchange;
use crate::scenario::case::Failure;
use crate::scenario::expect::Problem;
use crate::scenario::runner::{CaseReport, CaseStatus, RunReport};
use crate::source::snippet;
use crate::source::xml::escape as xml;

/// How the terminal report looks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    /// ANSI colours (a terminal, and `NO_COLOR` unset).
    pub color: bool,
    /// Show the request and answer of failing steps.
    pub verbose: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
}

/// The one line a case gets as it finishes.
pub fn case_line(case: &CaseReport, style: Style) -> String {
    let (word, code) = match &case.status {
        CaseStatus::Passed => ("ok     ", "32"),
        CaseStatus::Failed(_) => ("FAILED ", "31;1"),
        CaseStatus::Skipped(_) => ("skipped", "33"),
    };
    let mut line = format!("{} {}", style.paint(code, word), case.title());
    match &case.status {
        CaseStatus::Skipped(reason) => {
            let _ = write!(line, ": {reason}");
        }
        _ => {
            let _ = write!(line, " ({})", millis(case.elapsed));
        }
    }
    if style.verbose {
        for reading in &case.readings {
            let _ = write!(line, "\n        read: {reading}");
        }
    }
    line
}

fn millis(elapsed: Duration) -> String {
    format!("{} ms", elapsed.as_millis())
}

/// The failures in detail, then the summary line.
pub fn summary(report: &RunReport, style: Style) -> String {
    let mut out = String::new();
    for case in &report.cases {
        if let CaseStatus::Failed(failure) = &case.status {
            out.push('\n');
            out.push_str(&failure_text(case, failure, style));
        }
    }
    let _ = write!(
        out,
        "\n{} passed, {} failed, {} skipped ({:.2} s)\n",
        report.passed(),
        report.failed(),
        report.skipped(),
        report.elapsed.as_secs_f64()
    );
    out
}

fn failure_text(case: &CaseReport, failure: &Failure, style: Style) -> String {
    let scenario = &case.scenario;
    let mut out = format!("{}: {}\n", style.paint("31;1", "failure"), case.title());
    let place = snippet::place(&scenario.file, Some(failure.position));
    // rustc's gutter: as wide as the line number.
    let pad = snippet::pad(failure.position.line);
    let _ = writeln!(out, "{pad}--> {place}");
    // The file as it was read, kept with the scenario: never read again.
    if let Some(line) = scenario.source.line(failure.position.line) {
        let _ = writeln!(out, "{}", snippet::excerpt_block(line, failure.position));
    }
    let step = crate::scenario::summary::step_name(failure);
    let _ = writeln!(out, "{pad} = {step}");
    if let Some(error) = &failure.error {
        let _ = writeln!(out, "{pad} = error: {error}");
    }
    for problem in &failure.problems {
        out.push_str(&problem_text(problem, style, &pad));
    }
    if style.verbose {
        if let Some((request, exchange)) = &failure.exchange {
            let _ = writeln!(out, "{pad} = request:");
            let _ = writeln!(out, "{pad}     {} {}", request.method, request.url);
            for (name, value) in &request.headers {
                let _ = writeln!(out, "{pad}     {name}: {}", redact(name, value));
            }
            if !request.body.is_empty() {
                let _ = writeln!(out, "{pad}     {}", String::from_utf8_lossy(&request.body));
            }
            out.push_str(&exchange_text(exchange, &pad));
        }
    }
    out
}

fn problem_text(problem: &Problem, style: Style, pad: &str) -> String {
    format!(
        "{pad} = {}: expected {}\n{pad}   {}  got      {}\n",
        problem.what,
        style.paint("32", &problem.expected),
        " ".repeat(problem.what.chars().count()),
        style.paint("31", &problem.actual)
    )
}

fn exchange_text(exchange: &Exchange, pad: &str) -> String {
    let mut out = format!("{pad} = answer ({} ms):\n", exchange.elapsed.as_millis());
    let _ = writeln!(out, "{pad}     {}", exchange.status);
    for (name, value) in &exchange.headers {
        let _ = writeln!(
            out,
            "{pad}     {name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    let body = exchange.text();
    if !body.is_empty() {
        let _ = writeln!(out, "{pad}     {body}");
    }
    out
}

/// Credentials never reach a report: `Authorization` keeps its scheme
/// (the dialect's rule; the other headers were masked with the target's
/// credentials when the failure was made).
fn redact(name: &str, value: &str) -> String {
    if name.eq_ignore_ascii_case("authorization") {
        crate::dialect::authorization_scheme_only(value)
    } else {
        value.to_string()
    }
}

/// JUnit XML: one testsuite, one testcase per case.
pub fn junit(report: &RunReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"otpbench run\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        report.cases.len(),
        report.failed(),
        report.skipped(),
        report.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"otpbench\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        report.cases.len(),
        report.failed(),
        report.skipped(),
        report.elapsed.as_secs_f64()
    );
    for case in &report.cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
            xml(&case.target),
            xml(&case.scenario.name),
            xml(&case.scenario.file),
            case.elapsed.as_secs_f64()
        );
        match &case.status {
            CaseStatus::Passed => out.push_str("/>\n"),
            CaseStatus::Skipped(reason) => {
                let _ = write!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    xml(reason)
                );
            }
            CaseStatus::Failed(failure) => {
                let message = headline(case, failure);
                let detail = failure_text(case, failure, Style::default());
                let _ = write!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                    xml(&message),
                    xml(&detail)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// One line for a failure: where, and the first problem.
fn headline(case: &CaseReport, failure: &Failure) -> String {
    let place = snippet::place(&case.scenario.file, Some(failure.position));
    match (failure.problems.first(), &failure.error) {
        (Some(p), _) => format!(
            "{place}: {}: expected {}, got {}",
            p.what, p.expected, p.actual
        ),
        (None, Some(error)) => format!("{place}: {error}"),
        (None, None) => place,
    }
}

/// The run as JSON.
pub fn json(report: &RunReport) -> Value {
    let cases: Vec<Value> = report
        .cases
        .iter()
        .map(|case| {
            let mut value = json!({
                "scenario": case.scenario.name,
                "file": case.scenario.file,
                "target": case.target,
                "dialect": case.dialect.name(),
                "elapsed_ms": case.elapsed.as_secs_f64() * 1000.0,
            });
            match &case.status {
                CaseStatus::Passed => value["status"] = "passed".into(),
                CaseStatus::Skipped(reason) => {
                    value["status"] = "skipped".into();
                    value["reason"] = reason.clone().into();
                }
                CaseStatus::Failed(failure) => {
                    value["status"] = "failed".into();
                    value["failure"] = json!({
                        "message": headline(case, failure),
                        "step": failure.step + 1,
                        "action": failure.keyword,
                        "label": failure.label,
                        "line": failure.position.line,
                        "column": failure.position.column,
                        "run": failure.run.map(|(i, n)| json!({"index": i, "of": n})),
                        "error": failure.error,
                        "problems": failure.problems.iter().map(|p| json!({
                            "what": p.what, "expected": p.expected, "actual": p.actual,
                        })).collect::<Vec<_>>(),
                    });
                }
            }
            value
        })
        .collect();
    json!({
        "passed": report.passed(),
        "failed": report.failed(),
        "skipped": report.skipped(),
        "elapsed_s": report.elapsed.as_secs_f64(),
        "cases": cases,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--verbose` shows how answers were read; the plain line does not.
    #[test]
    fn verbose_case_lines_say_how_answers_were_read() {
        let scenario = crate::scenario::model::Scenario {
            name: "wrong codes".into(),
            file: "x.yaml".into(),
            source: std::sync::Arc::new(crate::source::Source::new("x.yaml", "", "")),
            document: 0,
            position: crate::source::Position { line: 1, column: 1 },
            dialects: None,
            tags: Vec::new(),
            needs: Vec::new(),
            steps: Vec::new(),
        };
        let case = CaseReport {
            scenario: std::sync::Arc::new(scenario),
            target: "nomado".into(),
            dialect: crate::dialect::Dialect::Nomado,
            status: CaseStatus::Passed,
            elapsed: Duration::from_millis(3),
            readings: vec!["line 9: read by its status 400".into()],
        };
        let quiet = case_line(&case, Style::default());
        assert!(!quiet.contains("read:"), "{quiet}");
        let verbose = Style {
            verbose: true,
            ..Style::default()
        };
        let loud = case_line(&case, verbose);
        assert!(
            loud.ends_with("\n        read: line 9: read by its status 400"),
            "{loud}"
        );
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(redact("Authorization", "Bearer abc"), "Bearer ***");
        assert_eq!(redact("Content-Type", "x"), "x");
    }
}
