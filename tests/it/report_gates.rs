//! `--threshold` and `--baseline` gates against reports: what holds, what
//! breaks and by how much, and parse errors that point at the mistake.

use otpbench::load::{Tally, Transport};
use otpbench::report::gate::{baseline_gates, breached, evaluate_all, parse_percent};
use otpbench::report::{Gate, Reference, Report};
use otpbench::OutcomeKind;

use crate::support::reports::{report, samples, Samples};

const SENT: Tally = Tally::Outcome(OutcomeKind::Sent);
const LIMITED: Tally = Tally::Outcome(OutcomeKind::RateLimited);
const VERIFIED: Tally = Tally::Outcome(OutcomeKind::Verified);

/// 10 s: 990 sends at 4 ms and 10 rate-limited at 1 ms; 500 verifies at
/// 15 ms, 5 of them timing out at 30 ms.
fn otp_run() -> Report {
    report(
        10,
        &["send", "verify"],
        &[
            samples("send", SENT, 4_000, 990),
            samples("send", LIMITED, 1_000, 10),
            samples("verify", VERIFIED, 15_000, 495),
            samples("verify", Tally::Transport(Transport::Timeout), 30_000, 5),
        ],
    )
}

fn check(expression: &str, report: &Report) -> (bool, Option<f64>) {
    let result = Gate::parse(expression).unwrap().evaluate(report);
    (result.passed, result.measured)
}

#[test]
fn latency_gates_compare_the_corrected_percentiles() {
    let run = otp_run();
    assert!(check("verify.p50<20ms", &run).0);
    assert!(!check("verify.p50<10ms", &run).0);
    assert!(check("send.p50 <= 5 ms", &run).0);
    assert!(check("send.p50<5000us", &run).0);
    assert!(!check("verify.max<0.02s", &run).0);
    let (_, measured) = check("verify.p999<1s", &run);
    let measured = measured.unwrap();
    assert!((30_000.0..30_100.0).contains(&measured), "{measured}");
}

#[test]
fn shares_and_counts_of_outcomes_and_errors() {
    let run = otp_run();
    // 5 errors (the timeouts) of 1500 requests = 0.33%.
    assert_eq!(run.errors, 5);
    assert!(check("errors<0.5%", &run).0);
    assert!(!check("errors<0.3%", &run).0);
    assert!(check("errors<=5", &run).0);
    // rate_limited is 1% of sends exactly, and is no error.
    assert!(!check("send.rate_limited<1%", &run).0);
    assert!(check("send.rate_limited<=1%", &run).0);
    assert!(check("send.errors<1", &run).0);
    assert!(check("verify.timeout<=1%", &run).0);
    assert!(check("send.count>100", &run).0);
    assert!(!check("send.count>1000", &run).0);
    assert!(check("requests>=1500", &run).0);
}

#[test]
fn dropped_arrivals_are_their_own_gate_and_count_as_errors() {
    let mut run = otp_run();
    assert!(check("dropped<1", &run).0);
    assert!(check("dropped<1%", &run).0);
    // 1000 sends were sent of 1100 arrivals: 100 dropped (9.09%).
    run.dropped = 100;
    run.generator = Some(otpbench::report::GeneratorReport {
        arrivals: 1100,
        queued: 0,
        late: 0,
        connections: 64,
        workers: 1,
        clamped_from_rps: None,
    });
    let (held, measured) = check("dropped<1%", &run);
    assert!(!held);
    assert!((measured.unwrap() - 100.0 / 1100.0).abs() < 1e-12);
    assert!(!check("dropped<=99", &run).0);
    // (5 errors + 100 dropped) of (1500 requests + 100 dropped).
    let (held, measured) = check("errors<5%", &run);
    assert!(!held);
    assert!((measured.unwrap() - 105.0 / 1600.0).abs() < 1e-12);
    assert!(!check("errors<=104", &run).0);
    // And the report says so.
    let limits = run.generator.unwrap().limits(run.dropped);
    assert!(
        limits[0].contains("100 of 1100 arrivals (9.09%) were DROPPED"),
        "{limits:?}"
    );
    // The throughput is still what was answered.
    assert!(check("throughput>149", &run).0);
}

#[test]
fn throughput_gates_read_requests_per_second() {
    let run = otp_run();
    // Answered requests only: the 5 timeouts are not throughput.
    assert!((run.throughput_rps - 149.5).abs() < 1e-9);
    assert!(check("throughput>149", &run).0);
    assert!(!check("throughput>149.5", &run).0);
    assert!(!check("throughput>5000/s", &run).0);
    assert!(check("send.throughput>=100", &run).0);
}

#[test]
fn a_broken_gate_says_by_how_much() {
    let result = Gate::parse("verify.p50<10ms").unwrap().evaluate(&otp_run());
    assert!(!result.passed);
    assert_eq!(result.unit, "us");
    assert_eq!(result.limit, 10_000.0);
    let measured = result.measured.unwrap();
    assert!((result.excess - (measured - 10_000.0)).abs() < 1e-9);
    assert!(
        result.message.contains("BROKEN by 5."),
        "{}",
        result.message
    );
    assert!(result.message.contains("limit 10ms"), "{}", result.message);
    let held = Gate::parse("throughput>100").unwrap().evaluate(&otp_run());
    assert!(held.passed && held.excess == 0.0, "{held:?}");
    assert!(held.message.contains("held"), "{}", held.message);
}

#[test]
fn a_gate_on_a_missing_operation_fails_instead_of_holding() {
    let result = Gate::parse("login.p99<1s").unwrap().evaluate(&otp_run());
    assert!(!result.passed);
    assert_eq!(result.measured, None);
    assert!(
        result.message.contains("no operation \"login\""),
        "{}",
        result.message
    );
    assert!(
        result.message.contains("send, verify"),
        "{}",
        result.message
    );
}

#[test]
fn ratio_gates_divide_by_the_reference_workload() {
    let mut run = otp_run();
    let failing = Gate::parse("throughput/reference>0.6").unwrap();
    let result = failing.evaluate(&run);
    assert!(!result.passed);
    assert!(
        result.message.contains("no reference"),
        "{}",
        result.message
    );
    // The reference did 200/s in 5 s, its one operation at 2 ms.
    let healthz = report(
        5,
        &["http"],
        &[samples("http", Tally::Status(200), 2_000, 1000)],
    );
    run.reference = Some(Reference {
        label: "GET /healthz".into(),
        duration_s: healthz.duration_s,
        requests: healthz.requests,
        errors: healthz.errors,
        throughput_rps: healthz.throughput_rps,
        operations: healthz.operations,
    });
    let result = failing.evaluate(&run);
    // 1495 answered in 10 s against 200/s.
    assert_eq!(result.measured, Some(0.7475));
    assert!(result.passed);
    assert!(!check("throughput/reference>0.8", &run).0);
    // The reference's only operation stands in for any name.
    let (passed, ratio) = check("send.p50/reference<3", &run);
    assert!(passed, "{ratio:?}");
    assert!(check("throughput / reference > 60%", &run).0);
}

#[test]
fn parse_errors_name_the_expression_and_column() {
    let cases = [
        ("verify.p99<<20ms", 12, "expected a number"),
        ("verify.p99=20ms", 11, "expected <, <=, > or >="),
        ("verify.p98<20ms", 8, "unknown measure \"p98\""),
        ("verify.p99<20", 14, "expected a unit: us, ms or s"),
        ("verify.p99<20%", 14, "unit \"%\" does not fit"),
        ("send.rate_limted<1%", 6, "unknown measure \"rate_limted\""),
        ("latency<20ms", 1, "unknown metric \"latency\""),
        ("throughput>5k", 13, "unit \"k\" does not fit"),
        ("throughput/refrence>0.6", 12, "expected `reference`"),
        ("", 1, "expected a metric"),
        ("send.<1", 6, "expected what to measure of send"),
        ("errors<.1%", 8, "expected a number"),
    ];
    for (expression, column, reason) in cases {
        let error = Gate::parse(expression).unwrap_err();
        assert_eq!(error.column, column, "{expression}: {error}");
        assert!(error.reason.contains(reason), "{expression}: {error}");
        let text = error.to_string();
        assert!(text.contains(&format!("{expression:?}")), "{text}");
        let caret_line = text.lines().last().unwrap();
        assert_eq!(caret_line.find('^'), Some(2 + column - 1), "{text}");
    }
}

#[test]
fn baseline_gates_allow_the_given_regression() {
    let baseline = otp_run();
    // Same figures: every gate holds.
    let results = baseline_gates(&otp_run(), &baseline, 0.10);
    assert_eq!(
        results.len(),
        5,
        "p50 and p99 per operation and the throughput"
    );
    assert!(!breached(&results), "{results:#?}");
    // Verify twice as slow, and half the requests in the same time.
    let slower = report(
        10,
        &["send", "verify"],
        &[
            samples("send", SENT, 4_000, 495),
            samples("verify", VERIFIED, 30_000, 250),
        ],
    );
    let results = baseline_gates(&slower, &baseline, 0.10);
    let broken: Vec<&str> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.expression.as_str())
        .collect();
    assert_eq!(
        broken,
        [
            "verify.p50 within +10% of baseline",
            "verify.p99 within +10% of baseline",
            "throughput within -10% of baseline"
        ]
    );
    // An operation missing from the run breaks its gates.
    let only_send = report(10, &["send"], &[samples("send", SENT, 4_000, 1500)]);
    let results = baseline_gates(&only_send, &baseline, 0.10);
    assert!(results
        .iter()
        .any(|r| !r.passed && r.message.contains("no verify requests")));
}

#[test]
fn uncorrected_service_time_is_reported_beside_the_latency() {
    // Meant to start 50 ms before they did (a stalled generator): latency
    // shows the wait, service time does not.
    let run = report(
        1,
        &["http"],
        &[Samples {
            op: "http",
            tally: Tally::Status(200),
            latency_us: 52_000,
            service_us: 2_000,
            count: 10,
        }],
    );
    let http = &run.operations["http"];
    assert_eq!(http.latency_us.p50 / 1000, 52);
    assert_eq!(http.service_time_us.p50 / 1000, 2);
    assert!(!check("http.p50<10ms", &run).0);
}

#[test]
fn every_gate_is_evaluated_and_percentages_parse() {
    let gates = Gate::parse_all(&["errors<1%", "throughput>1e9"]);
    assert!(gates.is_err(), "1e9 is not a number here");
    let gates = Gate::parse_all(&["errors<1%", "send.p99<1ms"]).unwrap();
    let results = evaluate_all(&gates, &otp_run());
    assert_eq!(
        results.iter().map(|r| r.passed).collect::<Vec<_>>(),
        [true, false]
    );
    assert_eq!(parse_percent("10%"), Ok(0.1));
    assert_eq!(parse_percent(" 2.5 %"), Ok(0.025));
    assert!(parse_percent("10").unwrap_err().contains("10%"));
    assert!(parse_percent("-1%").is_err());
}
