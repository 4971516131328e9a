//! End to end over loopback: the load generator against the reference
//! engine in this process — `GET /healthz` in the closed model, and the
//! native OTP flow (send, read the code from the mock provider's journal,
//! verify) on the embedded engine. One criterion iteration is one
//! request; each sample is a whole closed-model run of `RUN`, its time
//! per request scaled to the iterations criterion asks for.
//!
//! After the samples, each benchmark writes the report of its last run —
//! latency histograms (`report.json`, `<op>.hgrm`) and the HTML page —
//! to `reports/bench-<name>/` (git-ignored).
//!
//! `open_overhead_{8,256}` measure the open model's own overhead instead:
//! 20,000/s for one second against a loopback server that answers at
//! once, with 8 and with 256 connections; each sample's "time" is the
//! run's mean corrected latency (intended start to answer), so the two
//! must be about equal — the pool size must not leak into the figure
//! (issue 21).
//!
//! Run: `cargo bench --bench load`. Figures are in docs/performance.md.

use std::path::Path;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otpbench::client::TargetSpec;
use otpbench::dialect::Dialect;
use otpbench::load::command::{LoadOptions, SessionOptions, WorkloadChoice};
use otpbench::load::flow::FlowPlan;
use otpbench::load::http::HttpTemplate;
use otpbench::load::progress::Output;
use otpbench::load::schedule::{ClosedModel, Model, OpenModel};
use otpbench::load::shard::Shard;
use otpbench::report::{dir, Report};
use otpbench::server::ServerConfig;

/// How long each sample's run lasts.
const RUN: Duration = Duration::from_secs(1);

fn options(workload: WorkloadChoice, connections: u32) -> LoadOptions {
    LoadOptions {
        session: SessionOptions {
            workload,
            connections,
            workers: 1,
            timeout: Duration::from_secs(10),
            spin: Duration::ZERO,
            shard: Shard::ALONE,
            report_dir: None,
            output: Output::Quiet,
            command_line: vec![
                "cargo".into(),
                "bench".into(),
                "--bench".into(),
                "load".into(),
            ],
            vars: Default::default(),
        },
        model: Model::Closed(ClosedModel::constant(connections, RUN).expect("a valid model")),
        stages: Vec::new(),
        reference: None,
        gates: Vec::new(),
        baseline: None,
        soak: None,
    }
}

/// Runs `options` for each sample; returns the last run's report.
fn bench_run(c: &mut Criterion, name: &str, options: &LoadOptions) -> Option<Report> {
    let mut last = None;
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(12));
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let measured = options
                .measure(&mut std::io::sink())
                .expect("the run completes");
            let report = measured.report;
            let per_request =
                Duration::from_secs_f64(report.duration_s).div_f64(report.requests.max(1) as f64);
            last = Some(report);
            per_request.mul_f64(iters as f64)
        })
    });
    group.finish();
    last
}

fn keep(name: &str, report: Option<Report>) {
    let Some(report) = report else { return };
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("reports");
    match dir::write(&report, &base, Some(&format!("bench-{name}"))) {
        Ok(written) => eprintln!("load/{name}: report in {}", written.display()),
        Err(e) => eprintln!("load/{name}: {e}"),
    }
}

fn healthz(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(otpbench::server::run(
        listener,
        ServerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let url = format!("http://{addr}/healthz");
    let report = bench_run(
        c,
        "healthz_closed_32",
        &options(WorkloadChoice::Url(HttpTemplate::get(&url)), 32),
    );
    keep("healthz_closed_32", report);
    let _ = stop.send(());
}

fn otp_flow(c: &mut Criterion) {
    let workload = WorkloadChoice::Otp {
        target: Box::new(TargetSpec::embedded(Dialect::Native)),
        label: "native (embedded)".into(),
        plan: FlowPlan::default(),
    };
    let report = bench_run(c, "native_flow_closed_8", &options(workload, 8));
    keep("native_flow_closed_8", report);
}

/// The open model's mean corrected latency at 20k/s against `/healthz`,
/// with `connections` in the pool.
fn open_overhead(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(otpbench::server::run(
        listener,
        ServerConfig::default(),
        async {
            let _ = stopped.await;
        },
    ));
    let url = format!("http://{addr}/healthz");
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(12));
    for connections in [8, 256] {
        let mut load = options(WorkloadChoice::Url(HttpTemplate::get(&url)), connections);
        load.model = Model::Open(OpenModel::constant(20_000.0, RUN).expect("a valid model"));
        group.bench_function(format!("open_overhead_{connections}"), |b| {
            b.iter_custom(|iters| {
                let report = load
                    .measure(&mut std::io::sink())
                    .expect("the run completes")
                    .report;
                let mean_us = report.operations["http"].latency_us.mean;
                Duration::from_secs_f64(mean_us / 1e6).mul_f64(iters as f64)
            })
        });
    }
    group.finish();
    let _ = stop.send(());
}

criterion_group!(benches, healthz, otp_flow, open_overhead);
criterion_main!(benches);
