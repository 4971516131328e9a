//! The load generator's per-request costs without the network: recording
//! one sample (the hot path of every worker; goal < 50 ns), with and
//! without the per-second series, and computing intended start times from
//! a schedule.
//!
//! Run: `cargo bench --bench recorder`. Figures are in docs/performance.md.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use otpbench::load::schedule::{OpenModel, Stage};
use otpbench::load::shard::Slice;
use otpbench::load::{Operations, Recorder, SeriesSink, Tally, Timing};
use otpbench::OutcomeKind;

/// Latency and lag offsets (µs) spread over 0.1–10 ms, so histogram
/// writes land in different buckets as in a real run.
fn offsets() -> Vec<(u64, u64)> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..4096)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 20) % 50, 100 + (state >> 33) % 9_900)
        })
        .collect()
}

/// The `i`-th sample: intended `i` µs after `epoch`, as a worker at 1M
/// requests/s would see them, so the series rolls once per million.
#[inline]
fn timing(epoch: Instant, offsets: &[(u64, u64)], i: u64) -> Timing {
    let (lag, service) = offsets[(i & 4095) as usize];
    let intended = epoch + Duration::from_micros(i);
    let started = intended + Duration::from_micros(lag);
    Timing {
        intended,
        started,
        finished: started + Duration::from_micros(service),
    }
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("recorder");
    group.measurement_time(Duration::from_secs(4));
    group.throughput(Throughput::Elements(1));
    let operations = Operations::new(["send", "verify"]).unwrap();
    let send = operations.id("send").unwrap();
    let tallies = [
        Tally::Outcome(OutcomeKind::Sent),
        Tally::Outcome(OutcomeKind::RateLimited),
    ];
    let offsets = offsets();
    let epoch = Instant::now();

    let mut recorder = Recorder::new(operations.clone());
    let mut i = 0u64;
    group.bench_function("record", |b| {
        b.iter(|| {
            let timing = timing(epoch, &offsets, i);
            recorder.record(send, tallies[(i & 1) as usize], black_box(timing));
            i += 1;
        })
    });

    // The same with the per-second series, including the hand-over to
    // the sink (a lock and a histogram add) once per simulated second.
    let sink = SeriesSink::new(epoch, 1);
    let mut recorder = Recorder::with_series(operations.clone(), &sink, 0);
    let mut i = 0u64;
    group.bench_function("record_with_series", |b| {
        b.iter(|| {
            let timing = timing(epoch, &offsets, i);
            recorder.record(send, tallies[(i & 1) as usize], black_box(timing));
            i += 1;
        })
    });
    group.finish();
}

fn schedule(c: &mut Criterion) {
    let mut group = c.benchmark_group("schedule");
    group.measurement_time(Duration::from_secs(3));
    // 0 -> 10k/s over 60 s, hold 60 s, down to 1k/s over 30 s.
    let model = OpenModel::ramping(
        0.0,
        vec![
            Stage {
                duration: Duration::from_secs(60),
                target: 10_000.0,
            },
            Stage {
                duration: Duration::from_secs(60),
                target: 10_000.0,
            },
            Stage {
                duration: Duration::from_secs(30),
                target: 1_000.0,
            },
        ],
    )
    .unwrap();
    let total = model.total_arrivals();
    group.throughput(Throughput::Elements(total));
    group.sample_size(10);
    group.bench_function("arrivals_iterated", |b| {
        b.iter(|| {
            let mut last = Duration::ZERO;
            for (_, t) in model.arrivals(Slice::WHOLE) {
                last = t;
            }
            black_box(last)
        })
    });
    group.sample_size(100);
    group.throughput(Throughput::Elements(1));
    let mut k = 0u64;
    group.bench_function("arrival_time_random_access", |b| {
        b.iter(|| {
            k = (k + 7_919) % total;
            black_box(model.arrival_time(black_box(k)))
        })
    });
    group.finish();
}

criterion_group!(benches, record, schedule);
criterion_main!(benches);
