//! Report files end to end: the run directory, the schema, reading back,
//! merging, the HTML page and the Markdown summary.

use std::path::Path;

use otpbench::load::capacity::{search, CapacityPlan};
use otpbench::load::{Tally, Transport};
use otpbench::report::gate::evaluate_all;
use otpbench::report::{dir, html, json, markdown, merge::merge, Gate, Reference, Report};
use otpbench::OutcomeKind;

use crate::support::reports::{
    assert_matches_schema, report, samples, schema_errors, Samples, TempDir,
};

const SENT: Tally = Tally::Outcome(OutcomeKind::Sent);
const LIMITED: Tally = Tally::Outcome(OutcomeKind::RateLimited);
const VERIFIED: Tally = Tally::Outcome(OutcomeKind::Verified);

pub(crate) fn part_a() -> Vec<Samples> {
    vec![
        samples("send", SENT, 3_000, 400),
        samples("verify", VERIFIED, 9_000, 380),
        samples("send", LIMITED, 800, 20),
    ]
}

pub(crate) fn part_b() -> Vec<Samples> {
    vec![
        samples("send", SENT, 5_000, 300),
        Samples {
            op: "verify",
            tally: VERIFIED,
            latency_us: 250_000,
            service_us: 11_000,
            count: 30,
        },
        samples("verify", Tally::Transport(Transport::Timeout), 2_000_000, 3),
    ]
}

/// A report with everything optional filled in: reference and gates.
fn rich() -> Report {
    let mut run = report(4, &["send", "verify"], &[part_a(), part_b()].concat());
    let healthz = report(
        4,
        &["http"],
        &[samples("http", Tally::Status(200), 400, 4000)],
    );
    run.reference = Some(Reference {
        label: "GET http://127.0.0.1:8080/healthz".into(),
        duration_s: healthz.duration_s,
        requests: healthz.requests,
        errors: healthz.errors,
        throughput_rps: healthz.throughput_rps,
        operations: healthz.operations,
    });
    let gates =
        Gate::parse_all(&["verify.p99<100ms", "errors<1%", "throughput/reference>0.1"]).unwrap();
    run.gates = evaluate_all(&gates, &run);
    run
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn a_run_directory_holds_every_rendering_and_reads_back() {
    let temp = TempDir::new("report-dir");
    let report = rich();
    let written = dir::write(&report, &temp.0, None).unwrap();
    assert_eq!(
        written.file_name().unwrap().to_str().unwrap(),
        dir::run_name(&report)
    );
    for file in [
        "report.json",
        "send.hgrm",
        "send.service.hgrm",
        "verify.hgrm",
        "verify.service.hgrm",
        "report.html",
        "summary.md",
    ] {
        assert!(written.join(file).is_file(), "{file} missing");
    }
    let text = read(&written.join("report.json"));
    assert_matches_schema(&text);
    assert_eq!(json::read(&written).unwrap(), report, "lossless round trip");
    assert!(read(&written.join("verify.hgrm")).contains("#[Max     ="));
    // A second run of the same start gets its own directory.
    let again = dir::write(&report, &temp.0, None).unwrap();
    assert_ne!(again, written);
    assert!(again.to_str().unwrap().ends_with("-2"));
}

#[test]
fn the_schema_refuses_what_is_not_a_report() {
    let good = json::to_json(&rich());
    assert_eq!(schema_errors(&good), None);
    let mut value: serde_json::Value = serde_json::from_str(&good).unwrap();
    value.as_object_mut().unwrap().remove("series");
    assert!(schema_errors(&value.to_string())
        .unwrap()
        .contains("series"));
    let mut value: serde_json::Value = serde_json::from_str(&good).unwrap();
    value["operations"]["send"]["latency_us"]["p99"] = serde_json::json!("fast");
    assert!(schema_errors(&value.to_string()).is_some());
    let mut value: serde_json::Value = serde_json::from_str(&good).unwrap();
    value["version"] = serde_json::json!(2);
    assert!(schema_errors(&value.to_string()).is_some());
}

#[test]
fn merging_two_runs_equals_one_run_over_both() {
    let a = report(4, &["send", "verify"], &part_a());
    let b = report(4, &["send", "verify"], &part_b());
    let both = report(4, &["send", "verify"], &[part_a(), part_b()].concat());
    let merged = merge(&[("a.json".into(), a.clone()), ("b.json".into(), b.clone())]).unwrap();
    assert_matches_schema(&json::to_json(&merged));
    assert_eq!(merged.requests, both.requests);
    assert_eq!(merged.errors, both.errors);
    assert_eq!(merged.duration_s, 4.0);
    assert_eq!(merged.throughput_rps, both.throughput_rps);
    for (name, op) in &both.operations {
        let m = &merged.operations[name];
        assert_eq!(m.count, op.count, "{name}");
        assert_eq!(m.outcomes, op.outcomes, "{name}");
        assert_eq!(m.histogram.0, op.histogram.0, "{name}: histograms added");
        assert_eq!(
            m.latency_us, op.latency_us,
            "{name}: percentiles from the sum"
        );
        assert_eq!(m.service_time_us, op.service_time_us, "{name}");
    }
    // Not the average of the parts' p99s: the slow verifies dominate it.
    let p99 = merged.operations["verify"].latency_us.p99;
    assert!(p99 > 200_000, "{p99}");
    // Rows add by second; percentiles are the higher of the inputs'.
    assert_eq!(merged.series.len(), a.series.len().max(b.series.len()));
    for row in &merged.series {
        let rows = [&a, &b].map(|r| r.series.iter().find(|s| s.second == row.second));
        let requests: u64 = rows.iter().flatten().map(|r| r.requests).sum();
        assert_eq!(row.requests, requests);
        let highest = rows.iter().flatten().filter_map(|r| r.p99_us).max();
        assert_eq!(row.p99_us, highest);
    }
    assert_eq!(merged.run.merged_from, ["a.json", "b.json"]);
}

#[test]
fn merging_refuses_capacity_reports_and_mixed_references() {
    let plain = report(1, &["send"], &[samples("send", SENT, 1_000, 10)]);
    let error = merge(&[("x.json".into(), plain.clone()), ("y.json".into(), rich())]).unwrap_err();
    assert!(
        error.to_string().contains("y.json") && error.to_string().contains("reference"),
        "{error}"
    );
    let mut capacity = plain.clone();
    capacity.capacity = Some(otpbench::report::CapacityReport {
        slo: vec![],
        steps: vec![],
        max_sustainable_rps: None,
        stopped: "test".into(),
    });
    let error = merge(&[("c.json".into(), capacity)])
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("c.json") && error.contains("capacity"),
        "{error}"
    );
    assert!(merge(&[]).is_err());
}

#[test]
fn the_html_page_is_self_contained_with_its_plots() {
    let page = html::render(&rich());
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains("<title>otpbench report: http://127.0.0.1:8080</title>"));
    for heading in [
        "Gates",
        "Operations",
        "Latency by percentile",
        "Over time",
        "Reference: GET",
    ] {
        assert!(page.contains(&format!("<h2>{heading}")), "no {heading}");
    }
    // One percentile curve per operation, throughput and p99 per second.
    assert_eq!(page.matches("<svg").count(), 4, "{page}");
    assert_eq!(page.matches("</svg>").count(), 4);
    for title in [
        "send: latency by percentile",
        "verify: latency by percentile",
        "Throughput per second",
        "p99 latency per second",
        "99.9%",
    ] {
        assert!(page.contains(title), "no {title}");
    }
    // Nothing to fetch: no scripts, stylesheets, images or fonts.
    for external in [
        "<script", "<link", "src=", "href=", "url(", "@import", "<img",
    ] {
        assert!(!page.contains(external), "{external} in the page");
    }
    assert!(page.contains("✘") || page.contains("✔"), "gate marks");
}

#[tokio::test]
async fn a_capacity_report_shows_its_steps_plot_and_table() {
    let plan = CapacityPlan::new(Gate::parse_all(&["send.p99<20ms"]).unwrap(), 100.0);
    let result = search(&plan, |rate| async move {
        let latency = if rate > 700.0 { 40_000 } else { 2_000 };
        report(1, &["send"], &[samples("send", SENT, latency, rate as u64)])
    })
    .await;
    let report = result.into_report();
    assert_matches_schema(&json::to_json(&report));
    let page = html::render(&report);
    assert!(page.contains("<h2>Capacity</h2>"));
    assert!(page.contains("p99 latency against offered rate"));
    assert_eq!(
        page.matches("<svg").count(),
        4,
        "curve, 2 over time, capacity"
    );
    assert!(page.contains("highest sustainable rate"));
    let summary = markdown::render(&report);
    assert!(
        summary.contains("### Capacity: highest sustainable rate"),
        "{summary}"
    );
    assert!(summary.contains("| 800.0/s |"), "{summary}");
}

#[test]
fn the_summary_is_a_markdown_table_per_latency_kind() {
    let summary = markdown::render(&rich());
    assert!(summary.starts_with("## otpbench: http://127.0.0.1:8080"));
    assert!(summary.contains("### Gates: 1 of 3 broken"), "{summary}");
    assert!(
        summary.contains(
            "- ❌ verify.p99<100ms: 250.111ms — BROKEN by 150.111ms (+150.1%), limit 100ms"
        ),
        "{summary}"
    );
    let send = summary.lines().find(|l| l.starts_with("| send |")).unwrap();
    assert!(send.contains("sent 700, rate_limited 20"), "{send}");
    assert!(
        summary.contains("| verify | send to answer | 9.01ms |"),
        "service time row: {summary}"
    );
    assert!(summary.contains("| verify | wait |"), "wait row: {summary}");
}

#[test]
fn bad_report_files_are_named_with_what_is_wrong() {
    let temp = TempDir::new("report-bad");
    let good = json::to_json(&report(1, &["send"], &[samples("send", SENT, 1_000, 10)]));
    let cases: Vec<(&str, String, &str)> = vec![
        ("missing.json", String::new(), "cannot read"),
        (
            "garbage.json",
            "{\"version\": 1,\n  oops".into(),
            "garbage.json:2:3",
        ),
        (
            "array.json",
            "[1, 2]".into(),
            "not an otpbench report: the top level",
        ),
        (
            "other.json",
            "{\"hello\": 1}".into(),
            "no \"version\" field",
        ),
        (
            "future.json",
            good.replacen("\"version\": 1", "\"version\": 2", 1),
            "report version 2 is not supported (this otpbench reads version 1)",
        ),
        (
            "fields.json",
            good.replacen("\"requests\": 10", "\"requests\": \"ten\"", 1),
            "fields.json:14:19: invalid type: string \"ten\", expected u64",
        ),
        (
            "counts.json",
            good.replacen("\"count\": 10", "\"count\": 11", 1),
            "operations.send: count is 11 but its histogram holds 10",
        ),
        (
            "histogram.json",
            good.replacen("\"histogram\": \"HISTFAAA", "\"histogram\": \"AAAA", 1),
            "not an HdrHistogram V2 encoding",
        ),
    ];
    for (name, text, expected) in cases {
        let path = temp.0.join(name);
        if !text.is_empty() {
            std::fs::write(&path, text).unwrap();
        }
        let error = json::read(&path).unwrap_err().to_string();
        assert!(error.contains(name), "{name}: {error}");
        assert!(error.contains(expected), "{name}: {error}");
    }
}
