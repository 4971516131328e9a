//! Reports made from synthetic samples, through the real recorder, series
//! sink and report builder, so tests of gates, merges and renderers read
//! what a run would write.

use std::time::{Duration, Instant};

use otpbench::load::{Operations, Recorder, SeriesSink, Tally, Timing};
use otpbench::report::build::build;
use otpbench::report::{Report, RunInfo};

/// `count` requests of `op` with one outcome, latency and service time.
#[derive(Debug, Clone, Copy)]
pub struct Samples {
    pub op: &'static str,
    pub tally: Tally,
    /// From the intended start.
    pub latency_us: u64,
    /// From the actual start.
    pub service_us: u64,
    pub count: u64,
}

/// Shorthand for [`Samples`] with equal latency and service time.
pub fn samples(op: &'static str, tally: Tally, latency_us: u64, count: u64) -> Samples {
    Samples {
        op,
        tally,
        latency_us,
        service_us: latency_us,
        count,
    }
}

/// A report of a run of `seconds` over `ops`, the samples' requests
/// finishing evenly spread over the run, in the order given.
pub fn report(seconds: u64, ops: &[&str], groups: &[Samples]) -> Report {
    let operations = Operations::new(ops.iter().copied()).unwrap();
    let epoch = Instant::now();
    let sink = SeriesSink::new(epoch, 1);
    let mut recorder = Recorder::with_series(operations.clone(), &sink, 0);
    let total: u64 = groups.iter().map(|g| g.count).sum();
    let duration = Duration::from_secs(seconds);
    let mut i = 0;
    for group in groups {
        let op = operations.id(group.op).expect("a declared operation");
        for _ in 0..group.count {
            let finished = epoch + duration.mul_f64((i as f64 + 0.5) / total as f64);
            recorder.record(
                op,
                group.tally,
                Timing {
                    intended: finished - Duration::from_micros(group.latency_us),
                    started: finished - Duration::from_micros(group.service_us),
                    finished,
                },
            );
            i += 1;
        }
    }
    recorder.finish(epoch + duration);
    let run = RunInfo {
        target: Some("http://127.0.0.1:8080".into()),
        model: Some("open".into()),
        ..RunInfo::now(vec!["otpbench".into(), "load".into()])
    };
    build(&recorder, &sink.into_rows(), duration, run)
}
