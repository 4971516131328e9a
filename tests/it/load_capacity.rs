//! The capacity search against fake targets whose latency rises past a
//! knee: it finds the knee within the tolerance, with its evidence, and
//! stays within its step budget.

use std::cell::RefCell;

use otpbench::load::capacity::{search, CapacityPlan};
use otpbench::load::Tally;
use otpbench::report::{Gate, Report};
use otpbench::OutcomeKind;

use crate::support::reports::{report, Samples};

/// One second at `rate` against a target with `latency_us(rate)` that
/// completes at most `ceiling` requests per second.
fn fake(rate: f64, ceiling: f64, latency_us: impl Fn(f64) -> u64) -> Report {
    let served = rate.min(ceiling).round() as u64;
    report(
        1,
        &["send"],
        &[Samples {
            op: "send",
            tally: Tally::Outcome(OutcomeKind::Sent),
            latency_us: latency_us(rate),
            service_us: latency_us(rate),
            count: served,
        }],
    )
}

/// 5 ms up to 1000/s, then growing with the cube of the rate: p99 reaches
/// 20 ms at 1000 · 4^(1/3) ≈ 1587/s.
fn knee(rate: f64) -> u64 {
    let factor = (rate / 1000.0).max(1.0);
    (5_000.0 * factor.powi(3)) as u64
}

fn plan(slo: &str, start: f64) -> CapacityPlan {
    CapacityPlan::new(Gate::parse_all(&[slo]).unwrap(), start)
}

#[tokio::test]
async fn finds_the_knee_within_the_tolerance() {
    let plan = plan("send.p99<20ms", 100.0);
    let measured = RefCell::new(Vec::new());
    let result = search(&plan, |rate| {
        measured.borrow_mut().push(rate);
        async move { fake(rate, f64::INFINITY, knee) }
    })
    .await;
    let capacity = &result.capacity;
    let best = capacity.max_sustainable_rps.unwrap();
    assert!(
        (1587.0 * 0.95..1587.0).contains(&best),
        "{best} {capacity:#?}"
    );
    assert!(
        capacity.stopped.starts_with("converged"),
        "{}",
        capacity.stopped
    );
    // Doubling until it broke, then bisecting.
    assert_eq!(measured.borrow()[..5], [100.0, 200.0, 400.0, 800.0, 1600.0]);
    assert_eq!(capacity.steps.len(), measured.borrow().len());
    assert!(capacity.steps.len() <= plan.max_steps);
    let broke = &capacity.steps[4];
    assert!(!broke.passed);
    let gate = &broke.gates[0];
    assert_eq!(gate.expression, "send.p99<20ms");
    assert!(!gate.passed && gate.excess > 0.0, "{gate:?}");
    assert!(broke.latency_us["send"].p99 > 20_000);
    // Every rate that held is below every rate that broke.
    let held = capacity
        .steps
        .iter()
        .filter(|s| s.passed)
        .map(|s| s.rate_rps);
    let lowest_broken = capacity
        .steps
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.rate_rps)
        .fold(f64::INFINITY, f64::min);
    assert!(held.into_iter().all(|r| r < lowest_broken));
    // The report to write is the best step's, with the section attached.
    let report = result.into_report();
    assert_eq!(report.requests, best.round() as u64);
    assert_eq!(report.capacity.unwrap().max_sustainable_rps, Some(best));
}

#[tokio::test]
async fn a_target_that_drops_load_has_not_sustained_it() {
    // Fast at any rate, but never more than 1200/s served.
    let plan = plan("send.p99<20ms", 100.0);
    let result = search(&plan, |rate| async move { fake(rate, 1200.0, |_| 1_000) }).await;
    let best = result.capacity.max_sustainable_rps.unwrap();
    assert!(best <= 1200.0 / 0.9, "{best}");
    assert!(best >= 1200.0 / 0.9 * 0.95, "{best}");
    let dropped = result.capacity.steps.iter().find(|s| !s.passed).unwrap();
    let gate = dropped.gates.last().unwrap();
    assert!(gate.expression.starts_with("throughput>="), "{gate:?}");
    assert!(!gate.passed);
}

#[tokio::test]
async fn a_start_rate_that_breaks_the_slo_searches_downwards() {
    let plan = plan("send.p99<20ms", 8000.0);
    let result = search(&plan, |rate| async move { fake(rate, f64::INFINITY, knee) }).await;
    let rates: Vec<f64> = result.capacity.steps.iter().map(|s| s.rate_rps).collect();
    // Each rate that broke was measured again before the search went on.
    assert_eq!(rates[..5], [8000.0, 8000.0, 4000.0, 4000.0, 2000.0]);
    let again: Vec<bool> = result.capacity.steps.iter().map(|s| s.again).collect();
    assert_eq!(again[..5], [false, true, false, true, false]);
    let best = result.capacity.max_sustainable_rps.unwrap();
    assert!((1587.0 * 0.95..1587.0).contains(&best), "{best}");
}

/// A target that stalls now and then: the first measurement of the run,
/// and every fifth after it, sees a 200 ms p99 whatever the rate (a cold
/// start, a neighbour taking the CPU). Measured once, a stall at the
/// start rate sends the search down to a fraction of the knee; measured
/// again, a stalled rate holds and the knee is found.
#[tokio::test]
async fn one_stall_does_not_halve_the_figure() {
    let stalling = |plan: CapacityPlan| async move {
        let calls = RefCell::new(0u32);
        search(&plan, |rate| {
            let call = {
                let mut calls = calls.borrow_mut();
                *calls += 1;
                *calls
            };
            async move {
                let stalled = call % 5 == 1;
                fake(
                    rate,
                    f64::INFINITY,
                    |r| {
                        if stalled {
                            200_000
                        } else {
                            knee(r)
                        }
                    },
                )
            }
        })
        .await
    };
    let mut once = plan("send.p99<20ms", 400.0);
    once.confirm = 0;
    let fooled = stalling(once).await.capacity;
    assert!(
        fooled.max_sustainable_rps.unwrap_or(0.0) < 400.0,
        "{fooled:#?}"
    );

    let result = stalling(plan("send.p99<20ms", 400.0)).await.capacity;
    let best = result.max_sustainable_rps.unwrap();
    assert!((1587.0 * 0.9..1587.0).contains(&best), "{best} {result:#?}");
    let (first, second) = (&result.steps[0], &result.steps[1]);
    assert!(!first.passed && !first.again, "{first:?}");
    assert!(second.passed && second.again && second.rate_rps == 400.0);
    assert_eq!(second.verdict(), "held when measured again");
    assert!(result.steps.len() <= 16);
}

#[tokio::test]
async fn the_step_budget_and_the_maximum_rate_bound_the_search() {
    let mut budget = plan("send.p99<20ms", 100.0);
    budget.max_steps = 3;
    let result = search(
        &budget,
        |rate| async move { fake(rate, f64::INFINITY, knee) },
    )
    .await;
    assert_eq!(result.capacity.steps.len(), 3);
    assert_eq!(result.capacity.max_sustainable_rps, Some(400.0));
    assert!(
        result.capacity.stopped.contains("budget"),
        "{}",
        result.capacity.stopped
    );

    let mut capped = plan("send.p99<20ms", 100.0);
    capped.max_rate = Some(500.0);
    let result = search(
        &capped,
        |rate| async move { fake(rate, f64::INFINITY, knee) },
    )
    .await;
    let rates: Vec<f64> = result.capacity.steps.iter().map(|s| s.rate_rps).collect();
    assert_eq!(rates, [100.0, 200.0, 400.0, 500.0]);
    assert_eq!(result.capacity.max_sustainable_rps, Some(500.0));

    // Nothing holds: the search ends without a sustainable rate.
    let impossible = plan("send.p99<1us", 100.0);
    let result = search(&impossible, |rate| async move {
        fake(rate, f64::INFINITY, knee)
    })
    .await;
    assert_eq!(result.capacity.max_sustainable_rps, None);
    assert!(result.capacity.steps.iter().all(|s| !s.passed));
    assert!(result.into_report().capacity.is_some());
}

/// An OTP flow is three requests per iteration: its whole-run throughput
/// is three times the offered rate even when the target drops sends, so
/// the achieved rate is read from the operation each iteration makes one
/// of (`achieved_by: send`).
#[tokio::test]
async fn a_flow_is_judged_by_its_sends_not_its_requests() {
    // Serves at most 1000 sends/s; each is followed by a code read and a
    // verify, all fast.
    let flow = |rate: f64| {
        let served = rate.min(1000.0).round() as u64;
        let sample = |op| Samples {
            op,
            tally: Tally::Outcome(OutcomeKind::Sent),
            latency_us: 1_000,
            service_us: 1_000,
            count: served,
        };
        report(
            1,
            &["send", "code", "verify"],
            &[sample("send"), sample("code"), sample("verify")],
        )
    };
    let mut by_requests = plan("send.p99<20ms", 100.0);
    by_requests.max_steps = 8;
    let fooled = search(&by_requests, |rate| async move { flow(rate) }).await;
    assert!(
        fooled.capacity.max_sustainable_rps.unwrap() > 2000.0,
        "counting every request, dropped sends go unseen"
    );
    let mut by_sends = by_requests.clone();
    by_sends.achieved_by = Some("send".into());
    let result = search(&by_sends, |rate| async move { flow(rate) }).await;
    let best = result.capacity.max_sustainable_rps.unwrap();
    assert!(best <= 1000.0 / 0.9, "{best}");
    let step = result.capacity.steps.last().unwrap();
    assert!(step.throughput_rps <= 1000.0, "achieved in sends: {step:?}");
    let broken = result.capacity.steps.iter().find(|s| !s.passed).unwrap();
    assert!(broken
        .gates
        .last()
        .unwrap()
        .expression
        .starts_with("send.throughput>="));
}
