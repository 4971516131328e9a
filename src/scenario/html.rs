//! `run --html DIR`: a run's results as one self-contained page
//! (`DIR/index.html`: inline CSS, no script, no network), for a CI
//! artifact or a browser. Failures come first, each with its place (and
//! the source line), step, expected/got table, and the failing request and
//! answer as the runner recorded them — secrets already masked there
//! ([`crate::scenario::request`]); then the skips with their reasons; then
//! every case with its steps and time, each unfolding with `<details>`.
//!
//! It reads the same [`RunReport`] as the other renderers and writes
//! nothing itself: the caller puts the text in a file.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::client::{Exchange, RequestLog};
use crate::report::html::PAGE_STYLE;
use crate::scenario::case::Failure;
use crate::scenario::model::Step;
use crate::scenario::runner::{CaseReport, CaseStatus, RunReport};
use crate::scenario::summary::{html as escape, step_name};

/// The page's file name inside the `--html` directory.
pub const FILE_NAME: &str = "index.html";

/// Bodies longer than this are cut on the page.
const MAX_BODY: usize = 16 * 1024;

/// The rules beyond [`PAGE_STYLE`]'s.
const STYLE: &str = "
body { max-width: 980px; }
.headline div { min-width: 6rem; }
.headline .bad { background: #ffebe9; color: #cf222e; }
.headline .good { background: #dafbe1; color: #1a7f37; }
.headline .warn { background: #fff8c5; color: #7d4e00; }
.failure { border: 1px solid #ff818266; border-left: 4px solid #cf222e; border-radius: 6px;
           padding: .2rem 1rem .8rem; margin: 1rem 0; background: #fffafa; }
.failure h3 { font-size: 1rem; margin: .6rem 0 .3rem; color: #cf222e; }
.place { font-family: ui-monospace, monospace; font-size: .85rem; color: #59636e; }
table { border-collapse: collapse; font-size: .85rem; margin: .5rem 0; width: 100%; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.expected { color: #1a7f37; } td.got { color: #cf222e; }
td code, td.expected, td.got { font-family: ui-monospace, monospace; word-break: break-word; }
pre { background: #f6f8fa; border-radius: 6px; padding: .5rem .7rem; font-size: .8rem;
      overflow-x: auto; white-space: pre-wrap; word-break: break-word; margin: .3rem 0; }
pre.source { background: #fff; border: 1px solid #d0d7de; }
.exchange { display: grid; grid-template-columns: 1fr 1fr; gap: .8rem; }
.exchange h4 { margin: .5rem 0 0; font-size: .85rem; }
.status { display: inline-block; min-width: 4.2rem; font-size: .75rem; font-weight: 600;
          text-align: center; border-radius: 1rem; padding: .05rem .4rem; }
.passed { background: #dafbe1; color: #1a7f37; }
.failed { background: #ffebe9; color: #cf222e; }
.skipped { background: #fff8c5; color: #7d4e00; }
details.case { border-bottom: 1px solid #eaeef2; padding: .2rem 0; font-size: .88rem; }
details.case summary { cursor: pointer; display: flex; gap: .6rem; align-items: baseline;
                       list-style: none; }
details.case summary::-webkit-details-marker { display: none; }
details.case summary::before { content: '▸'; color: #8c959f; width: .7rem; }
details.case[open] summary::before { content: '▾'; }
nav { font-size: .9rem; margin: .5rem 0 1rem; } nav a { margin-right: 1rem; }
details.case summary .name { flex: 1; }
details.case summary .time { color: #59636e; font-variant-numeric: tabular-nums; }
ol.steps { margin: .3rem 0 .5rem 1.5rem; padding: 0; font-size: .82rem; }
ol.steps li.ok::marker { color: #1a7f37; } ol.steps li.bad { color: #cf222e; font-weight: 600; }
ol.steps li.unrun { color: #8c959f; }
.note { color: #59636e; font-style: italic; font-size: .85rem; }
";

/// The page for `report`.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let mut targets: Vec<&str> = Vec::new();
    for case in &report.cases {
        if !targets.contains(&case.target.as_str()) {
            targets.push(&case.target);
        }
    }
    let title = format!("otpbench run: {}", targets.join(", "));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{PAGE_STYLE}{STYLE}</style>\n</head>\n<body>\n",
        escape(&title)
    );
    let verdict = if report.failed() > 0 {
        "failed"
    } else {
        "passed"
    };
    let _ = writeln!(out, "<h1>otpbench run {verdict}</h1>");
    let _ = writeln!(
        out,
        "<p class=\"run\">{} case{} (scenario × target) on {} in {:.2} s: {}</p>",
        report.cases.len(),
        if report.cases.len() == 1 { "" } else { "s" },
        plural(targets.len(), "target"),
        report.elapsed.as_secs_f64(),
        escape(&targets.join(", "))
    );
    let _ = writeln!(
        out,
        "<div class=\"headline\"><div class=\"{}\"><b>{}</b>failed</div>\
         <div class=\"good\"><b>{}</b>passed</div><div class=\"{}\"><b>{}</b>skipped</div>\
         <div><b>{:.2} s</b>wall time</div></div>",
        if report.failed() > 0 { "bad" } else { "good" },
        report.failed(),
        report.passed(),
        if report.skipped() > 0 { "warn" } else { "good" },
        report.skipped(),
        report.elapsed.as_secs_f64()
    );

    let mut links = Vec::new();
    if report.failed() > 0 {
        links.push(format!(
            "<a href=\"#failures\">Failures ({})</a>",
            report.failed()
        ));
    }
    if report.skipped() > 0 {
        links.push(format!(
            "<a href=\"#skipped\">Skipped ({})</a>",
            report.skipped()
        ));
    }
    links.push(format!(
        "<a href=\"#cases\">Every case ({})</a>",
        report.cases.len()
    ));
    let _ = writeln!(out, "<nav>{}</nav>", links.join(""));

    let mut sources: HashMap<String, Option<String>> = HashMap::new();
    let failures = report.failures();
    if !failures.is_empty() {
        let _ = writeln!(
            out,
            "<h2 id=\"failures\">Failures ({})</h2>",
            failures.len()
        );
        for (case, failure) in &failures {
            failure_card(&mut out, case, failure, &mut sources);
        }
    }

    let skips = report.skips();
    if !skips.is_empty() {
        let _ = writeln!(out, "<h2 id=\"skipped\">Skipped ({})</h2>", skips.len());
        let _ = writeln!(out, "<table><tr><th>case</th><th>reason</th></tr>");
        for (case, reason) in &skips {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(&case.title()),
                escape(reason)
            );
        }
        let _ = writeln!(out, "</table>");
    }

    let _ = writeln!(
        out,
        "<h2 id=\"cases\">Every case ({})</h2>\n<p class=\"note\">In run order; open a case \
         for its steps. Times are each case's own, from its first step to its last.</p>",
        report.cases.len()
    );
    for case in &report.cases {
        case_row(&mut out, case);
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

fn failure_card(
    out: &mut String,
    case: &CaseReport,
    failure: &Failure,
    sources: &mut HashMap<String, Option<String>>,
) {
    let file = &case.scenario.file;
    let _ = writeln!(out, "<div class=\"failure\">");
    let _ = writeln!(out, "<h3>{}</h3>", escape(&case.title()));
    let _ = writeln!(
        out,
        "<div class=\"place\">{}:{}:{} — {} — {} ms</div>",
        escape(file),
        failure.position.line,
        failure.position.column,
        escape(&step_name(failure)),
        case.elapsed.as_millis()
    );
    let source = sources
        .entry(file.clone())
        .or_insert_with(|| std::fs::read_to_string(file).ok());
    if let Some(line) = source
        .as_deref()
        .and_then(|text| text.lines().nth(failure.position.line.saturating_sub(1)))
    {
        let number = failure.position.line.to_string();
        let caret = " ".repeat(failure.position.column.saturating_sub(1));
        let _ = writeln!(
            out,
            "<pre class=\"source\">{number} | {}\n{} | {caret}^</pre>",
            escape(line),
            " ".repeat(number.len())
        );
    }
    if let Some(error) = &failure.error {
        let _ = writeln!(out, "<p><b>error:</b> {}</p>", escape(error));
    }
    if !failure.problems.is_empty() {
        let _ = writeln!(
            out,
            "<table><tr><th>check</th><th>expected</th><th>got</th></tr>"
        );
        for problem in &failure.problems {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"expected\">{}</td><td class=\"got\">{}</td></tr>",
                escape(&problem.what),
                escape(&problem.expected),
                escape(&problem.actual)
            );
        }
        let _ = writeln!(out, "</table>");
    }
    if let Some((request, answer)) = &failure.exchange {
        let _ = writeln!(out, "<div class=\"exchange\">");
        let _ = writeln!(
            out,
            "<div><h4>Request</h4><pre>{}</pre></div>",
            escape(&request_text(request))
        );
        let _ = writeln!(
            out,
            "<div><h4>Answer ({:.1} ms)</h4><pre>{}</pre></div>",
            answer.elapsed.as_secs_f64() * 1000.0,
            escape(&answer_text(answer))
        );
        let _ = writeln!(out, "</div>");
    }
    let _ = writeln!(out, "</div>");
}

fn request_text(request: &RequestLog) -> String {
    let mut text = format!("{} {}\n", request.method, request.url);
    for (name, value) in &request.headers {
        let _ = writeln!(text, "{name}: {value}");
    }
    text.push_str(&body_text(&request.body));
    text
}

fn answer_text(answer: &Exchange) -> String {
    let mut text = format!("{}\n", answer.status);
    for (name, value) in &answer.headers {
        let _ = writeln!(
            text,
            "{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    text.push_str(&body_text(&answer.body));
    text
}

/// A body as text: JSON pretty-printed, anything else as it came, cut
/// when long.
fn body_text(body: &[u8]) -> String {
    if body.is_empty() {
        return String::new();
    }
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => serde_json::to_string_pretty(&json).unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let mut out = String::from("\n");
    if text.len() > MAX_BODY {
        let mut end = MAX_BODY;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let _ = write!(out, "{}… ({} bytes in all)", &text[..end], text.len());
    } else {
        out.push_str(&text);
    }
    out
}

fn case_row(out: &mut String, case: &CaseReport) {
    let (class, word) = match &case.status {
        CaseStatus::Passed => ("passed", "passed"),
        CaseStatus::Failed(_) => ("failed", "FAILED"),
        CaseStatus::Skipped(_) => ("skipped", "skipped"),
    };
    let time = match &case.status {
        CaseStatus::Skipped(_) => "not run".to_string(),
        _ => format!("{} ms", case.elapsed.as_millis()),
    };
    let _ = writeln!(
        out,
        "<details class=\"case\"><summary><span class=\"status {class}\">{word}</span>\
         <span class=\"name\">{}</span><span class=\"time\">{time}</span></summary>",
        escape(&case.title()),
    );
    let _ = writeln!(
        out,
        "<div class=\"place\">{}:{}:{}</div>",
        escape(&case.scenario.file),
        case.scenario.position.line,
        case.scenario.position.column
    );
    if let CaseStatus::Skipped(reason) = &case.status {
        let _ = writeln!(out, "<p class=\"note\">not run: {}</p>", escape(reason));
    }
    let _ = writeln!(out, "<ol class=\"steps\">");
    for (index, step) in case.scenario.steps.iter().enumerate() {
        let class = match &case.status {
            CaseStatus::Passed => "ok",
            CaseStatus::Skipped(_) => "unrun",
            // The case's engine did not start: no step ran.
            CaseStatus::Failed(failure) if failure.keyword == "setup" => "unrun",
            CaseStatus::Failed(failure) if index == failure.step => "bad",
            CaseStatus::Failed(failure) if index > failure.step => "unrun",
            CaseStatus::Failed(_) => "ok",
        };
        let _ = writeln!(
            out,
            "<li class=\"{class}\">{}</li>",
            escape(&step_text(step))
        );
    }
    let _ = writeln!(out, "</ol></details>");
}

/// `verify ×3 (name), line 12` — what a step does, in a few words.
fn step_text(step: &Step) -> String {
    let mut text = step.keyword().to_string();
    if let Some(repeat) = &step.repeat {
        let _ = write!(text, " repeat {}", repeat.source());
    }
    if let Some(parallel) = &step.parallel {
        let _ = write!(text, " parallel {}", parallel.source());
    }
    if let Some(label) = &step.label {
        let _ = write!(text, ": {label}");
    }
    let _ = write!(text, " (line {})", step.position.line);
    text
}
