//! Building a [`Report`] from what the workers recorded: the merged
//! [`Recorder`], the sink's per-second rows and the run's wall time.
//! Percentiles are read off the histograms here, once. The generator's
//! side of the seam: `crate::report` knows reports, not recorders.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::load::recorder::Recorder;
use crate::report::codec::EncodedHistogram;
use crate::report::model::{
    per_second, OperationReport, Percentiles, Reference, Report, RunInfo, SeriesRow, VERSION,
};

/// The report of a run that lasted `duration`.
pub fn build(
    recorder: &Recorder,
    series: &[SeriesRow],
    duration: Duration,
    run: RunInfo,
) -> Report {
    let operations = operations(recorder);
    let requests = operations.values().map(|o| o.count).sum();
    let errors = operations.values().map(|o| o.errors).sum();
    let answered = operations.values().map(OperationReport::answered).sum();
    let duration_s = duration.as_secs_f64();
    Report {
        version: VERSION,
        run,
        duration_s,
        requests,
        errors,
        throughput_rps: per_second(answered, duration_s),
        clamped: recorder.clamped(),
        dropped: recorder.generator().dropped,
        generator: None,
        operations,
        series: series.to_vec(),
        reference: None,
        capacity: None,
        gates: Vec::new(),
    }
}

/// A reference workload's section (`label` says what it measured).
pub fn reference(label: &str, recorder: &Recorder, duration: Duration) -> Reference {
    let operations = operations(recorder);
    let requests = operations.values().map(|o| o.count).sum();
    let answered = operations.values().map(OperationReport::answered).sum();
    let duration_s = duration.as_secs_f64();
    Reference {
        label: label.to_string(),
        duration_s,
        requests,
        errors: operations.values().map(|o| o.errors).sum(),
        throughput_rps: per_second(answered, duration_s),
        operations,
    }
}

/// Every declared operation's figures (recorded or not).
pub fn operations(recorder: &Recorder) -> BTreeMap<String, OperationReport> {
    let ops = recorder.operations();
    ops.ids()
        .map(|id| {
            let latency = recorder.latency(id).clone();
            let service = recorder.service_time(id).clone();
            let wait = recorder.wait(id).clone();
            let report = OperationReport {
                count: recorder.count(id),
                errors: recorder.errors(id),
                outcomes: recorder.tallies(id).map(|(t, n)| (t.name(), n)).collect(),
                latency_us: Percentiles::of(&latency),
                histogram: EncodedHistogram(latency),
                service_time_us: Percentiles::of(&service),
                service_time_histogram: EncodedHistogram(service),
                wait_us: Percentiles::of(&wait),
                wait_histogram: Some(EncodedHistogram(wait)),
            };
            (ops.name(id).to_string(), report)
        })
        .collect()
}
