//! The capacity search behind `otpbench capacity`: find the highest
//! open-model rate at which the SLO holds.
//!
//! Starting at the plan's rate, the search multiplies the rate by `growth`
//! after every step that meets the SLO, until one breaks it; then it
//! bisects between the last rate that held and the first that broke until
//! they are within `tolerance` of each other. If even the start rate
//! breaks, it divides by `growth` until one holds. It never measures more
//! than `max_steps` rates. A step holds when every SLO gate holds *and*
//! the target achieved at least `min_achieved` of the offered rate (a
//! target that silently drops load has not sustained it). A rate that
//! breaks is measured again (`confirm` times) and counts as broken only
//! if it breaks every time: one stall — a cold start, a neighbour taking
//! the CPU for a second — must not halve the figure, while a rate past
//! the knee breaks again.
//!
//! The search is a pure async function over a `measure(rate)` callback, so
//! it is tested with a fake target; it must not run load itself.

use std::future::Future;

use crate::report::gate::{self, Gate};
use crate::report::model::{CapacityReport, CapacityStep, Percentiles, Report};

/// What to search for and how hard.
#[derive(Debug, Clone)]
pub struct CapacityPlan {
    /// Gates every sustainable rate must meet.
    pub slo: Vec<Gate>,
    /// The first rate measured, requests per second.
    pub start_rate: f64,
    /// Factor between rates while climbing (and descending); above 1.
    pub growth: f64,
    /// Stop bisecting when `(fail - pass) / pass` is at most this.
    pub tolerance: f64,
    /// Most rates measured in all.
    pub max_steps: usize,
    /// Never offer more than this, requests per second.
    pub max_rate: Option<f64>,
    /// Share of the offered rate the target must achieve, 0..=1.
    pub min_achieved: f64,
    /// How many times a rate that broke is measured again before it
    /// counts as broken (each a step of the budget); it holds if any
    /// measurement does.
    pub confirm: u32,
    /// The operation each offered iteration makes exactly one of (`send`
    /// in an OTP flow, whose iterations are several requests); the
    /// achieved rate is its throughput. `None`: the whole run's.
    pub achieved_by: Option<String>,
}

impl CapacityPlan {
    /// Doubling from `start_rate`, bisecting to 5%, at most 16 steps, at
    /// least 90% of the offered rate achieved, and a rate that broke
    /// measured once more.
    pub fn new(slo: Vec<Gate>, start_rate: f64) -> CapacityPlan {
        CapacityPlan {
            slo,
            start_rate,
            growth: 2.0,
            tolerance: 0.05,
            max_steps: 16,
            max_rate: None,
            min_achieved: 0.9,
            confirm: 1,
            achieved_by: None,
        }
    }
}

/// What the search found.
#[derive(Debug, Clone)]
pub struct CapacityResult {
    /// The steps and the highest sustainable rate.
    pub capacity: CapacityReport,
    /// The report of the highest rate that held, if any did.
    pub best: Option<Report>,
    /// The report of the last rate measured.
    pub last: Report,
}

impl CapacityResult {
    /// The report to write: the best step's (else the last one's), with
    /// the capacity section attached.
    pub fn into_report(self) -> Report {
        let mut report = self.best.unwrap_or(self.last);
        report.capacity = Some(self.capacity);
        report
    }
}

/// Below this rate (requests per second) a descent gives up.
const LOWEST_RATE: f64 = 0.01;

/// Searches for the highest rate that meets `plan.slo`, calling `measure`
/// once per step with the rate to offer.
///
/// # Panics
/// When the plan is not searchable: a start rate that is not positive, a
/// growth not above 1, or no steps.
pub async fn search<F, Fut>(plan: &CapacityPlan, mut measure: F) -> CapacityResult
where
    F: FnMut(f64) -> Fut,
    Fut: Future<Output = Report>,
{
    assert!(
        plan.start_rate > 0.0 && plan.start_rate.is_finite(),
        "start rate"
    );
    assert!(plan.growth > 1.0, "growth above 1");
    assert!(plan.max_steps > 0, "at least one step");
    let mut steps: Vec<CapacityStep> = Vec::new();
    let (mut pass, mut fail): (Option<f64>, Option<f64>) = (None, None);
    let (mut best, mut last) = (None, None);
    let mut rate = match plan.max_rate {
        Some(max) => plan.start_rate.min(max),
        None => plan.start_rate,
    };
    let stopped = loop {
        if steps.len() == plan.max_steps {
            break format!("the step budget ({}) was used up", plan.max_steps);
        }
        let mut report = measure(rate).await;
        let mut step = evaluate(plan, rate, &report);
        let mut again = 0;
        while !step.passed && again < plan.confirm && steps.len() + 1 < plan.max_steps {
            steps.push(step);
            report = measure(rate).await;
            step = evaluate(plan, rate, &report);
            step.again = true;
            again += 1;
        }
        if step.passed {
            pass = Some(pass.map_or(rate, |p: f64| p.max(rate)));
            if pass == Some(rate) {
                best = Some(report.clone());
            }
        } else {
            fail = Some(fail.map_or(rate, |f: f64| f.min(rate)));
        }
        steps.push(step);
        last = Some(report);
        rate = match (pass, fail) {
            (_, None) => match plan.max_rate {
                Some(max) if rate >= max => break format!("the maximum rate {max}/s held"),
                Some(max) => (rate * plan.growth).min(max),
                None => rate * plan.growth,
            },
            (None, Some(f)) => {
                let lower = f / plan.growth;
                if lower < LOWEST_RATE {
                    break format!("the SLO broke even at {}/s", round(f));
                }
                lower
            }
            (Some(p), Some(f)) => {
                if (f - p) / p <= plan.tolerance {
                    break format!(
                        "converged: {}/s held and {}/s broke (within {}%)",
                        round(p),
                        round(f),
                        round(plan.tolerance * 100.0)
                    );
                }
                (p + f) / 2.0
            }
        };
    };
    CapacityResult {
        capacity: CapacityReport {
            slo: plan
                .slo
                .iter()
                .map(|g| g.expression().to_string())
                .collect(),
            steps,
            max_sustainable_rps: pass,
            stopped,
        },
        best,
        last: last.expect("at least one step was measured"),
    }
}

/// One step's evidence: the SLO's gates plus the achieved-rate gate.
fn evaluate(plan: &CapacityPlan, rate: f64, report: &Report) -> CapacityStep {
    let mut gates = gate::evaluate_all(&plan.slo, report);
    let measure = match &plan.achieved_by {
        Some(op) => format!("{op}.throughput"),
        None => "throughput".to_string(),
    };
    let achieved = format!("{measure}>={}", round(rate * plan.min_achieved));
    gates.push(
        Gate::parse(&achieved)
            .expect("a throughput gate with a number parses")
            .evaluate(report),
    );
    CapacityStep {
        rate_rps: rate,
        throughput_rps: achieved_rate(plan, report),
        requests: report.requests,
        errors: report.errors,
        passed: !gate::breached(&gates),
        again: false,
        latency_us: report
            .operations
            .iter()
            .map(|(name, op)| (name.clone(), op.latency_us))
            .collect::<std::collections::BTreeMap<String, Percentiles>>(),
        gates,
    }
}

/// Iterations per second the target achieved: the throughput of the
/// plan's `achieved_by` operation, else of the whole run.
pub fn achieved_rate(plan: &CapacityPlan, report: &Report) -> f64 {
    let op = plan
        .achieved_by
        .as_ref()
        .and_then(|name| report.operations.get(name));
    match op {
        Some(op) if report.duration_s > 0.0 => op.count as f64 / report.duration_s,
        Some(_) => 0.0,
        None => report.throughput_rps,
    }
}

/// Rates as people read them: 3 decimals at most.
fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}
