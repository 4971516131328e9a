//! Merging reports of several generators (or runs) into one, losslessly:
//! histograms are added and percentiles recomputed from the sum, counts,
//! outcomes, dropped arrivals and the generators' figures are added, the
//! duration is the longest input's.
//!
//! Per-second rows are added by second index (generators started together,
//! as an Indexed Job does, line up to within a second): requests, errors
//! and throughput are summed; a merged row's p50, p99 and max are the
//! highest of the inputs' — exact for the max, an upper bound for the
//! percentiles (per-second histograms are not kept, and an average would
//! hide a slow generator). The whole-run percentiles are exact.
//!
//! Capacity reports are refused (their steps are separate runs), gate
//! results are dropped (evaluate gates again on the merged report).

use std::collections::BTreeMap;
use std::fmt;

use hdrhistogram::Histogram;

use crate::report::codec::EncodedHistogram;
use crate::report::model::{latency_histogram, per_second};
use crate::report::model::{
    GeneratorReport, OperationReport, Percentiles, Reference, Report, SeriesRow, VERSION,
};

/// Why reports could not be merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeError {
    /// The input at fault, or `""` for the set as a whole.
    pub origin: String,
    pub reason: String,
}

impl fmt::Display for MergeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.origin.is_empty() {
            write!(f, "cannot merge: {}", self.reason)
        } else {
            write!(f, "cannot merge {}: {}", self.origin, self.reason)
        }
    }
}

impl std::error::Error for MergeError {}

/// Merges `inputs` (each with the name it is known by, for errors and for
/// `run.merged_from`).
pub fn merge(inputs: &[(String, Report)]) -> Result<Report, MergeError> {
    let error = |origin: &str, reason: String| MergeError {
        origin: origin.to_string(),
        reason,
    };
    let Some((_, first)) = inputs.first() else {
        return Err(error("", "no reports given".into()));
    };
    for (origin, report) in inputs {
        if report.capacity.is_some() {
            return Err(error(
                origin,
                "it is a capacity report; its steps are separate runs".into(),
            ));
        }
        if report.reference.is_some() != first.reference.is_some() {
            return Err(error(
                origin,
                "some reports have a reference section and some do not".into(),
            ));
        }
    }
    let duration_s = inputs.iter().map(|(_, r)| r.duration_s).fold(0.0, f64::max);
    let mut operations = OperationSum::default();
    let mut references = OperationSum::default();
    for (origin, report) in inputs {
        operations
            .add(&report.operations)
            .map_err(|reason| error(origin, reason))?;
        if let Some(reference) = &report.reference {
            references
                .add(&reference.operations)
                .map_err(|reason| error(origin, reason))?;
        }
    }
    let operations = operations.finish();
    let (requests, errors, throughput_rps) = totals(&operations, duration_s);
    let reference = first.reference.as_ref().map(|first_reference| {
        let operations = references.finish();
        let duration_s = inputs
            .iter()
            .filter_map(|(_, r)| r.reference.as_ref())
            .map(|r| r.duration_s)
            .fold(0.0, f64::max);
        let (requests, errors, throughput_rps) = totals(&operations, duration_s);
        Reference {
            label: first_reference.label.clone(),
            duration_s,
            requests,
            errors,
            throughput_rps,
            operations,
        }
    });
    Ok(Report {
        version: VERSION,
        run: run_info(inputs),
        duration_s,
        requests,
        errors,
        throughput_rps,
        clamped: inputs.iter().map(|(_, r)| r.clamped).sum(),
        dropped: inputs.iter().map(|(_, r)| r.dropped).sum(),
        generator: generator(inputs),
        operations,
        series: series(inputs),
        reference,
        capacity: None,
        gates: Vec::new(),
    })
}

/// Requests, errors and answers per second over `duration_s`, summed
/// over `operations`.
fn totals(operations: &BTreeMap<String, OperationReport>, duration_s: f64) -> (u64, u64, f64) {
    let requests = operations.values().map(|o| o.count).sum();
    let errors = operations.values().map(|o| o.errors).sum();
    let answered = operations.values().map(OperationReport::answered).sum();
    (requests, errors, per_second(answered, duration_s))
}

/// The generators' figures added up (clamping kept when any input had
/// it); `None` when no input had them.
fn generator(inputs: &[(String, Report)]) -> Option<GeneratorReport> {
    let mut all = inputs.iter().filter_map(|(_, r)| r.generator);
    let mut sum = all.next()?;
    for g in all {
        sum.arrivals += g.arrivals;
        sum.queued += g.queued;
        sum.late += g.late;
        sum.connections += g.connections;
        sum.workers += g.workers;
        sum.clamped_from_rps = match (sum.clamped_from_rps, g.clamped_from_rps) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }
    Some(sum)
}

/// The merged run's description: the first input's, with the earliest
/// start, summed rates and connections, and the inputs' names.
fn run_info(inputs: &[(String, Report)]) -> crate::report::model::RunInfo {
    let mut run = inputs[0].1.run.clone();
    let runs = || inputs.iter().map(|(_, r)| &r.run);
    run.started_at = runs()
        .map(|r| r.started_at.clone())
        .min()
        .unwrap_or_default();
    run.rate_rps = runs().map(|r| r.rate_rps).sum();
    run.concurrency = runs().map(|r| r.concurrency).sum();
    run.workers = runs().map(|r| r.workers).sum();
    run.shard = None;
    run.merged_from = inputs.iter().map(|(name, _)| name.clone()).collect();
    run
}

/// Rows added by second; percentiles as the highest of the inputs'.
fn series(inputs: &[(String, Report)]) -> Vec<SeriesRow> {
    let mut rows: BTreeMap<u64, SeriesRow> = BTreeMap::new();
    for (_, report) in inputs {
        for row in &report.series {
            let merged = rows
                .entry(row.second)
                .or_insert_with(|| SeriesRow::empty(row.second));
            merged.requests += row.requests;
            merged.errors += row.errors;
            merged.throughput_rps += row.throughput_rps;
            merged.p50_us = merged.p50_us.max(row.p50_us);
            merged.p99_us = merged.p99_us.max(row.p99_us);
            merged.max_us = merged.max_us.max(row.max_us);
        }
    }
    // Seconds some input lacks entirely still get a row, as one run has.
    let last = rows.keys().next_back().copied();
    if let Some(last) = last {
        for second in 0..=last {
            rows.entry(second).or_insert(SeriesRow::empty(second));
        }
    }
    rows.into_values().collect()
}

/// Operations added up by name.
#[derive(Default)]
struct OperationSum {
    by_name: BTreeMap<String, Sum>,
}

struct Sum {
    count: u64,
    errors: u64,
    outcomes: BTreeMap<String, u64>,
    latency: Histogram<u64>,
    service: Histogram<u64>,
    wait: Histogram<u64>,
}

impl OperationSum {
    fn add(&mut self, operations: &BTreeMap<String, OperationReport>) -> Result<(), String> {
        for (name, op) in operations {
            let sum = self.by_name.entry(name.clone()).or_insert_with(|| {
                // Auto-resizing, so histograms of wider ranges still add.
                let mut latency = latency_histogram();
                latency.auto(true);
                Sum {
                    count: 0,
                    errors: 0,
                    outcomes: BTreeMap::new(),
                    service: latency.clone(),
                    wait: latency.clone(),
                    latency,
                }
            });
            sum.count += op.count;
            sum.errors += op.errors;
            for (outcome, n) in &op.outcomes {
                *sum.outcomes.entry(outcome.clone()).or_default() += n;
            }
            sum.latency
                .add(&op.histogram.0)
                .map_err(|e| format!("operations.{name}.histogram does not add: {e:?}"))?;
            sum.service.add(&op.service_time_histogram.0).map_err(|e| {
                format!("operations.{name}.service_time_histogram does not add: {e:?}")
            })?;
            if let Some(wait) = &op.wait_histogram {
                sum.wait
                    .add(&wait.0)
                    .map_err(|e| format!("operations.{name}.wait_histogram does not add: {e:?}"))?;
            }
        }
        Ok(())
    }

    fn finish(self) -> BTreeMap<String, OperationReport> {
        self.by_name
            .into_iter()
            .map(|(name, sum)| {
                let report = OperationReport {
                    count: sum.count,
                    errors: sum.errors,
                    outcomes: sum.outcomes,
                    latency_us: Percentiles::of(&sum.latency),
                    histogram: EncodedHistogram(sum.latency),
                    service_time_us: Percentiles::of(&sum.service),
                    service_time_histogram: EncodedHistogram(sum.service),
                    wait_us: Percentiles::of(&sum.wait),
                    wait_histogram: Some(EncodedHistogram(sum.wait)),
                };
                (name, report)
            })
            .collect()
    }
}
