//! The recorder under the situation it exists for: a target that freezes
//! while an open-model schedule keeps arriving. Simulated timings, real
//! recorder, series sink and report.

use std::time::{Duration, Instant};

use otpbench::load::build::build;
use otpbench::load::schedule::OpenModel;
use otpbench::load::shard::Slice;
use otpbench::load::{Operations, Recorder, SeriesSink, Tally, Timing};
use otpbench::report::{json, RunInfo};

use crate::support::reports::assert_matches_schema;

/// 500/s for 10 s through 10 connections (one request in flight each,
/// like wrk); every request takes 2 ms, but the target is frozen from 4 s
/// to 6 s and answers nothing in between.
#[test]
fn a_frozen_target_shows_in_the_corrected_tail_and_not_in_the_median() {
    let model = OpenModel::constant(500.0, Duration::from_secs(10)).unwrap();
    let epoch = Instant::now();
    let sink = SeriesSink::new(epoch, 1);
    let operations = Operations::new(["http"]).unwrap();
    let http = operations.id("http").unwrap();
    let mut recorder = Recorder::with_series(operations, &sink, 0);
    let (freeze_from, freeze_to) = (Duration::from_secs(4), Duration::from_secs(6));
    let service = Duration::from_millis(2);
    // When each connection is free again.
    let mut free = [Duration::ZERO; 10];
    let mut finished_all = Vec::new();
    for (k, intended) in model.arrivals(Slice::WHOLE) {
        let connection = (0..free.len()).min_by_key(|&c| free[c]).unwrap();
        let started = intended.max(free[connection]);
        let mut finished = started + service;
        if finished > freeze_from && started < freeze_to {
            finished = finished.max(freeze_to + service);
        }
        free[connection] = finished;
        finished_all.push((k, intended, started, finished));
    }
    // Record in the order answers arrive, as a worker would.
    finished_all.sort_by_key(|t| t.3);
    for (_, intended, started, finished) in finished_all {
        recorder.record(
            http,
            Tally::Status(200),
            Timing {
                intended: epoch + intended,
                started: epoch + started,
                finished: epoch + finished,
            },
        );
    }
    recorder.finish(epoch + Duration::from_secs(10));
    let report = build(
        &recorder,
        &sink.into_rows(),
        Duration::from_secs(10),
        RunInfo::now(vec![]),
    );
    assert_matches_schema(&json::to_json(&report));
    let op = &report.operations["http"];
    assert_eq!(op.count, 5000);
    // A fifth of the run was frozen: the corrected p90 and p99 show it.
    assert!(op.latency_us.p50 < 3_000, "{:?}", op.latency_us);
    assert!(op.latency_us.p90 > 800_000, "{:?}", op.latency_us);
    assert!(op.latency_us.p99 > 1_900_000, "{:?}", op.latency_us);
    // Measured from when a connection was free, the queued requests look
    // fast: only the 10 caught in flight saw the freeze.
    assert!(op.service_time_us.p99 < 3_000, "{:?}", op.service_time_us);
    assert!(op.service_time_us.max > 1_900_000);
    // The series: nothing finishes in seconds 4 and 5, then the backlog.
    let requests: Vec<u64> = report.series.iter().map(|r| r.requests).collect();
    // (The answer to the last request of second 0 lands in second 1.)
    assert_eq!(requests[..4], [499, 500, 500, 500]);
    // (One answer lands at 4.000 s exactly, as the freeze begins.)
    assert_eq!(requests[4..6], [1, 0]);
    assert!(requests[6] > 1000, "{requests:?}");
    assert!(report.series[6].p99_us.unwrap() > 1_900_000);
    assert!(report.series[8].p99_us.unwrap() < 3_000);
}
