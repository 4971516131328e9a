//! Prometheus counters and latency histograms for `/metrics`.
//!
//! Fixed arrays of atomics indexed by dialect, operation and outcome, so
//! recording is a few relaxed increments with no lock and no allocation on
//! the hot path; rendering walks the arrays.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::dialect::{Dialect, Operation};
use crate::engine::outcome::OutcomeKind;

/// Upper bounds of the latency buckets, in microseconds.
const BUCKETS_US: [u64; 16] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 10_000_000,
];

const DIALECTS: usize = Dialect::ALL.len();
const OPERATIONS: usize = Operation::ALL.len();
const OUTCOMES: usize = OutcomeKind::ALL.len();

#[derive(Default)]
struct Histogram {
    /// Non-cumulative counts per bucket; the last slot is +Inf.
    buckets: [AtomicU64; BUCKETS_US.len() + 1],
    sum_us: AtomicU64,
}

/// Request counts and latencies per dialect and operation.
pub(super) struct Metrics {
    requests: Vec<AtomicU64>,
    latency: Vec<Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..DIALECTS * OPERATIONS * OUTCOMES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency: (0..DIALECTS * OPERATIONS)
                .map(|_| Histogram::default())
                .collect(),
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub(super) fn record(
        &self,
        dialect: Dialect,
        operation: Operation,
        outcome: OutcomeKind,
        took: Duration,
    ) {
        let pair = dialect as usize * OPERATIONS + operation as usize;
        self.requests[pair * OUTCOMES + outcome as usize].fetch_add(1, Ordering::Relaxed);
        let us = took.as_micros().min(u64::MAX as u128) as u64;
        let histogram = &self.latency[pair];
        let bucket = BUCKETS_US.partition_point(|&bound| bound < us);
        histogram.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        histogram.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    /// How many requests got `outcome` (for tests).
    pub(super) fn count(
        &self,
        dialect: Dialect,
        operation: Operation,
        outcome: OutcomeKind,
    ) -> u64 {
        let pair = dialect as usize * OPERATIONS + operation as usize;
        self.requests[pair * OUTCOMES + outcome as usize].load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub(super) fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP otpbench_requests_total Requests answered, by dialect, operation and outcome.\n");
        out.push_str("# TYPE otpbench_requests_total counter\n");
        for dialect in Dialect::ALL {
            for operation in Operation::ALL {
                for outcome in OutcomeKind::ALL {
                    let n = self.count(dialect, operation, outcome);
                    if n > 0 {
                        let _ = writeln!(
                            out,
                            "otpbench_requests_total{{dialect=\"{}\",operation=\"{}\",outcome=\"{}\"}} {n}",
                            dialect.name(),
                            operation.name(),
                            outcome.name()
                        );
                    }
                }
            }
        }
        out.push_str("# HELP otpbench_request_duration_seconds Time from request head to response, by dialect and operation.\n");
        out.push_str("# TYPE otpbench_request_duration_seconds histogram\n");
        for dialect in Dialect::ALL {
            for operation in Operation::ALL {
                let histogram = &self.latency[dialect as usize * OPERATIONS + operation as usize];
                let counts: Vec<u64> = histogram
                    .buckets
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .collect();
                let total: u64 = counts.iter().sum();
                if total == 0 {
                    continue;
                }
                let labels = format!(
                    "dialect=\"{}\",operation=\"{}\"",
                    dialect.name(),
                    operation.name()
                );
                let mut cumulative = 0;
                for (bound, count) in BUCKETS_US.iter().zip(&counts) {
                    cumulative += count;
                    let _ = writeln!(
                        out,
                        "otpbench_request_duration_seconds_bucket{{{labels},le=\"{}\"}} {cumulative}",
                        *bound as f64 / 1e6
                    );
                }
                let _ = writeln!(
                    out,
                    "otpbench_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}"
                );
                let sum = histogram.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
                let _ = writeln!(
                    out,
                    "otpbench_request_duration_seconds_sum{{{labels}}} {sum}"
                );
                let _ = writeln!(
                    out,
                    "otpbench_request_duration_seconds_count{{{labels}}} {total}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let metrics = Metrics::default();
        let record = |us, outcome| {
            metrics.record(
                Dialect::Native,
                Operation::Send,
                outcome,
                Duration::from_micros(us),
            )
        };
        record(40, OutcomeKind::Sent);
        record(300, OutcomeKind::Sent);
        record(20_000_000, OutcomeKind::RateLimited);
        let text = metrics.render();
        assert!(text.contains(
            "otpbench_requests_total{dialect=\"native\",operation=\"send\",outcome=\"sent\"} 2\n"
        ));
        assert!(text.contains("outcome=\"rate_limited\"} 1\n"));
        assert!(text.contains("operation=\"send\",le=\"0.00005\"} 1\n"));
        assert!(text.contains("operation=\"send\",le=\"0.0005\"} 2\n"));
        assert!(text.contains("operation=\"send\",le=\"10\"} 2\n"));
        assert!(text.contains("operation=\"send\",le=\"+Inf\"} 3\n"));
        assert!(text.contains(
            "otpbench_request_duration_seconds_count{dialect=\"native\",operation=\"send\"} 3\n"
        ));
        assert!(!text.contains("operation=\"verify\""));
    }
}
