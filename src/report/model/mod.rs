//! The report: what one load run (or several merged) measured, as the
//! types that `report.json` is the serde form of (DESIGN.md §6, schema in
//! `schemas/report.schema.json`).
//!
//! Latencies are whole microseconds. Every percentile here is computed
//! from the histogram beside it, so a report can be merged with others
//! losslessly and its figures recomputed. This module holds data and the
//! vocabulary every report is counted in — the tallies and operation names
//! ([`tally`]), the latency histogram's shape ([`histogram`]), a gate's
//! verdict ([`GateResult`]) — so the load generator builds reports from
//! here and nothing here knows the generator. Reading and writing are in
//! [`crate::report::json`]; building from recorders is the generator's
//! (`src/load/build.rs`).

use std::collections::BTreeMap;
use std::time::SystemTime;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::report::codec::EncodedHistogram;

pub mod histogram;
pub mod tally;

pub use histogram::latency_histogram;
pub use tally::{Tally, Transport};

/// The `version` this otpbench writes and reads.
pub const VERSION: u32 = 1;

/// One run's report (`report.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`VERSION`].
    pub version: u32,
    /// How the run was made.
    pub run: RunInfo,
    /// Wall time the load ran, in seconds.
    pub duration_s: f64,
    /// Requests of every operation that were sent (answered, failed or
    /// timed out); arrivals never sent are not among them (`dropped`).
    pub requests: u64,
    /// Of which errors ([`Tally::is_error`]).
    pub errors: u64,
    /// Completed requests per second: those answered (any status or
    /// outcome), not the transport failures, not the dropped arrivals.
    pub throughput_rps: f64,
    /// Samples outside 1 µs .. 60 s, recorded as the nearest bound.
    #[serde(default)]
    pub clamped: u64,
    /// Open model: arrivals never sent, because no connection was free
    /// before the run's last moment (its end plus one timeout). Not in
    /// `requests`; k6 calls them dropped iterations.
    #[serde(default)]
    pub dropped: u64,
    /// Open model: where the generator itself was the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<GeneratorReport>,
    /// Per operation, by name.
    pub operations: BTreeMap<String, OperationReport>,
    /// One row per second of the run.
    pub series: Vec<SeriesRow>,
    /// A second workload measured in the same run (e.g. `/healthz`), for
    /// gates on ratios that machine noise does not move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<Reference>,
    /// The steps of `otpbench capacity`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacityReport>,
    /// Gates evaluated against this report, when any were given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gates: Vec<GateResult>,
}

/// One gate's verdict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateResult {
    /// The gate as written (or described, for baseline gates).
    pub expression: String,
    /// The measured value in `unit`; `null` when it could not be measured
    /// (an operation missing from the report).
    pub measured: Option<f64>,
    pub limit: f64,
    /// `us`, `share` (0..1), `count`, `rps` or `ratio`.
    pub unit: String,
    pub passed: bool,
    /// How far past the limit the measured value is, in `unit` (0 when
    /// the gate held).
    pub excess: f64,
    /// One line for people: measured, limit and by how much it broke.
    pub message: String,
}

/// How a run was made; all optional but the version and start.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunInfo {
    pub otpbench_version: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    /// The command line as typed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command_line: Vec<String>,
    /// Target file, base URL or `--url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<String>,
    /// `open` or `closed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Open model: offered requests per second (peak when staged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_rps: Option<f64>,
    /// Closed model: connections (peak when staged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Stages as given (`30s:500/s`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<String>,
    /// The configured duration, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_duration_s: Option<f64>,
    /// `i/n` when the run was one of n generators.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workers: Option<u32>,
    /// The reports a merged report was made of (their file names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

impl RunInfo {
    /// Run information stamped now, with this otpbench's version and the
    /// command line; the caller fills in the rest.
    pub fn now(command_line: Vec<String>) -> RunInfo {
        RunInfo {
            otpbench_version: env!("CARGO_PKG_VERSION").to_string(),
            started_at: rfc3339(SystemTime::now()),
            command_line,
            ..RunInfo::default()
        }
    }
}

/// `2024-05-01T12:00:00.123Z`.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// What the generator could not do in an open-model run: the arrivals
/// it dropped, those that found every connection busy and those its
/// workers released late. When any share is above
/// [`GeneratorReport::LIMIT_SHARE`] the latencies describe the generator
/// as much as the target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GeneratorReport {
    /// Arrivals the schedule had (this generator's share).
    pub arrivals: u64,
    /// Arrivals that found every connection busy and waited for one.
    pub queued: u64,
    /// Arrivals released more than 1 ms after their intended start: a
    /// worker thread could not keep to the schedule.
    pub late: u64,
    /// Connections (in-flight requests or flows at most).
    pub connections: u32,
    pub workers: u32,
    /// The offered rate asked for, when it was above what the workers can
    /// dispatch and the run offered `run.rate_rps` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clamped_from_rps: Option<f64>,
}

impl GeneratorReport {
    /// A share of arrivals (dropped, queued or late) above which the run
    /// says the generator was the limit.
    pub const LIMIT_SHARE: f64 = 0.01;

    /// Why the generator was the limit, in words; empty when it was not.
    pub fn limits(&self, dropped: u64) -> Vec<String> {
        let share = |n: u64| ratio(n, self.arrivals);
        let mut why = Vec::new();
        if share(dropped) > Self::LIMIT_SHARE {
            why.push(format!(
                "{dropped} of {} arrivals ({:.2}%) were DROPPED, never sent: no connection was \
                 free before the run's end plus one timeout",
                self.arrivals,
                share(dropped) * 100.0
            ));
        }
        if share(self.queued) > Self::LIMIT_SHARE {
            why.push(format!(
                "{:.2}% of arrivals found all {} connections busy and waited for one (their \
                 latency counts the wait; see wait_us): raise --connections, or the target is \
                 past its capacity",
                share(self.queued) * 100.0,
                self.connections
            ));
        }
        if share(self.late) > Self::LIMIT_SHARE {
            why.push(format!(
                "{:.2}% of arrivals were released over 1 ms late: the {} worker thread(s) could \
                 not keep to the schedule (CPU-bound generator: fewer connections, more \
                 --workers or another machine)",
                share(self.late) * 100.0,
                self.workers
            ));
        }
        if let Some(asked) = self.clamped_from_rps {
            why.push(format!(
                "the rate asked for ({asked:.1}/s) was clamped to what {} worker(s) can \
                 dispatch",
                self.workers
            ));
        }
        why
    }
}

/// One operation's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationReport {
    pub count: u64,
    pub errors: u64,
    /// Count per outcome name (`sent`, `rate_limited`, `503`, `timeout` …);
    /// only names that occurred.
    pub outcomes: BTreeMap<String, u64>,
    /// From each request's intended start (coordinated-omission corrected).
    pub latency_us: Percentiles,
    /// The histogram `latency_us` was computed from.
    pub histogram: EncodedHistogram,
    /// From each request's actual start: what a closed-loop tool reports.
    pub service_time_us: Percentiles,
    pub service_time_histogram: EncodedHistogram,
    /// From the intended start to the actual one: time the request spent
    /// inside the generator, waiting for a free connection (open model;
    /// 0 in the closed). `latency_us` is about this plus `service_time_us`.
    #[serde(default)]
    pub wait_us: Percentiles,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_histogram: Option<EncodedHistogram>,
}

impl OperationReport {
    /// Requests that got an answer: every outcome but the transport
    /// failures (connect_failed, timeout, io_error).
    pub fn answered(&self) -> u64 {
        let failed: u64 = Transport::ALL
            .iter()
            .filter_map(|t| self.outcomes.get(t.name()))
            .sum();
        self.count.saturating_sub(failed)
    }
}

/// Latency read-outs of one histogram, in µs.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Percentiles {
    pub min: u64,
    pub mean: f64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Percentiles {
    /// The read-outs of `histogram`; all zero when it is empty.
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        if histogram.is_empty() {
            return Percentiles::default();
        }
        let q = |q| histogram.value_at_quantile(q);
        Percentiles {
            min: histogram.min(),
            mean: (histogram.mean() * 10.0).round() / 10.0,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            p999: q(0.999),
            max: histogram.max(),
        }
    }
}

/// One second of the run (all operations together).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesRow {
    /// Seconds since the start: the row covers `[second, second + 1)`.
    pub second: u64,
    /// Requests that finished in this second.
    pub requests: u64,
    pub errors: u64,
    pub throughput_rps: f64,
    /// Latency of this second's requests (µs, corrected); `null` when none
    /// finished. In a merged report these are the highest of the inputs'
    /// (an upper bound: a slow generator is never averaged away).
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
    pub max_us: Option<u64>,
}

impl SeriesRow {
    /// A second in which no request finished.
    pub fn empty(second: u64) -> SeriesRow {
        SeriesRow {
            second,
            requests: 0,
            errors: 0,
            throughput_rps: 0.0,
            p50_us: None,
            p99_us: None,
            max_us: None,
        }
    }
}

/// A second workload measured beside the main one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// What it measured (`GET http://127.0.0.1:8080/healthz`).
    pub label: String,
    pub duration_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub throughput_rps: f64,
    pub operations: BTreeMap<String, OperationReport>,
}

/// What `otpbench capacity` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityReport {
    /// The SLO, as gate expressions.
    pub slo: Vec<String>,
    /// Each measured rate, in the order measured.
    pub steps: Vec<CapacityStep>,
    /// The highest rate that met the SLO; `null` when none did.
    pub max_sustainable_rps: Option<f64>,
    /// Why the search stopped.
    pub stopped: String,
}

/// One measured rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    /// Offered rate (iterations per second).
    pub rate_rps: f64,
    /// Achieved rate: iterations per second (in an OTP flow, sends per
    /// second: a flow is several requests).
    pub throughput_rps: f64,
    pub requests: u64,
    pub errors: u64,
    pub passed: bool,
    /// A second measurement of the rate the step before it measured,
    /// which broke (the search measures a broken rate again before it
    /// counts as broken).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub again: bool,
    /// Corrected latency per operation at this rate.
    pub latency_us: BTreeMap<String, Percentiles>,
    /// The SLO's gates at this rate.
    pub gates: Vec<GateResult>,
}

impl CapacityStep {
    /// `held` or `broke`, and whether it was the second measurement.
    pub fn verdict(&self) -> &'static str {
        match (self.passed, self.again) {
            (true, false) => "held",
            (false, false) => "broke",
            (true, true) => "held when measured again",
            (false, true) => "broke again",
        }
    }
}

impl Report {
    /// Requests of `op` with outcome `name`, 0 when none.
    pub fn outcome_count(&self, op: &str, name: &str) -> Option<u64> {
        let op = self.operations.get(op)?;
        Some(op.outcomes.get(name).copied().unwrap_or(0))
    }

    /// `errors / requests`, 0 for an empty run; dropped arrivals count as
    /// errors here (`(errors + dropped) / (requests + dropped)`): an
    /// arrival never sent is a failure the user saw.
    pub fn error_ratio(&self) -> f64 {
        ratio(self.errors + self.dropped, self.requests + self.dropped)
    }

    /// Dropped arrivals as a share of all arrivals (sent or not); of
    /// requests plus dropped when the report does not say how many
    /// arrivals there were.
    pub fn dropped_ratio(&self) -> f64 {
        match &self.generator {
            Some(g) => ratio(self.dropped, g.arrivals),
            None => ratio(self.dropped, self.requests + self.dropped),
        }
    }

    /// Requests answered, of every operation.
    pub fn answered(&self) -> u64 {
        self.operations
            .values()
            .map(OperationReport::answered)
            .sum()
    }
}

/// `count / seconds`, 0 for no time.
pub fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// `part / whole`, 0 when `whole` is 0.
pub(crate) fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}
