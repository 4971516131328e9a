//! Reports made from synthetic samples, through the real recorder, series
//! sink and report builder, so tests of gates, merges and renderers read
//! what a run would write.

use std::time::{Duration, Instant};

use otpbench::load::build::build;
use otpbench::load::{Operations, Recorder, SeriesSink, Tally, Timing};
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
    let report = build(&recorder, &sink.into_rows(), duration, run);
    // Every report the tests make is checked against the schema.
    assert_matches_schema(&otpbench::report::json::to_json(&report));
    report
}

/// Checks a report's JSON text against `schemas/report.schema.json`.
pub fn assert_matches_schema(json: &str) {
    if let Some(e) = schema_errors(json) {
        panic!("report does not match the schema: {e}\n{json}");
    }
}

/// Why `json` does not match the report schema, if it does not.
pub fn schema_errors(json: &str) -> Option<String> {
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/report.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let instance: serde_json::Value = serde_json::from_str(json).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler
        .add_resource("urn:otpbench:report:1", schema)
        .unwrap();
    let index = compiler
        .compile("urn:otpbench:report:1", &mut schemas)
        .unwrap_or_else(|e| panic!("the schema does not compile: {e:#}"));
    schemas
        .validate(&instance, index)
        .err()
        .map(|e| e.to_string())
}

/// A directory under the system's temp dir, removed when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "otpbench-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
