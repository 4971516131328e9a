//! The per-second series: one small row per second of the run (requests,
//! errors, throughput, p50/p99/max latency of that second), merged across
//! workers.
//!
//! Each worker's `SeriesWriter` (inside its [`crate::load::Recorder`])
//! fills one interval histogram for the current second and, when a sample
//! or a tick crosses into the next second, hands it to the shared
//! [`SeriesSink`] under a mutex — once per second per worker, never per
//! request. The sink adds the workers' intervals of a second together and
//! turns them into a [`SeriesRow`] (the report's own row, so it is written
//! as it is made) once every worker has moved past that
//! second, then recycles the histogram. So memory is a few histograms plus
//! one row per second, however long the run.
//!
//! A request belongs to the second in which it *finished* (what a live
//! view shows); its latency is measured from its intended start. This
//! module must not decide what an error is ([`crate::report::model::Tally`] does).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::report::model::histogram::latency_histogram;
use crate::report::model::SeriesRow;

/// A live view for progress output: totals so far and the latency of all
/// finished seconds together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Seconds every worker has finished.
    pub seconds: u64,
    pub requests: u64,
    pub errors: u64,
    pub p50_us: Option<u64>,
    pub p99_us: Option<u64>,
}

/// One second in the making: the workers' intervals added together.
#[derive(Debug)]
struct PendingSecond {
    requests: u64,
    errors: u64,
    latency: Histogram<u64>,
}

#[derive(Debug)]
struct SinkState {
    /// Per worker: every second below this one has been handed over.
    watermarks: Vec<u64>,
    pending: BTreeMap<u64, PendingSecond>,
    rows: Vec<SeriesRow>,
    /// The latest worker finish, in seconds from the start.
    end: Option<f64>,
    /// Every finished second's latency together, for [`Progress`].
    so_far: Histogram<u64>,
    requests: u64,
    errors: u64,
    /// Emptied histograms for reuse, so rolling a second allocates nothing
    /// in the steady state.
    spare: Vec<Histogram<u64>>,
}

/// Where workers hand their finished seconds; shared by `Arc`.
#[derive(Debug)]
pub struct SeriesSink {
    epoch: Instant,
    state: Mutex<SinkState>,
}

impl SeriesSink {
    /// A sink for `workers` workers whose run started at `epoch`.
    pub fn new(epoch: Instant, workers: usize) -> Arc<SeriesSink> {
        Arc::new(SeriesSink {
            epoch,
            state: Mutex::new(SinkState {
                watermarks: vec![0; workers],
                pending: BTreeMap::new(),
                rows: Vec::new(),
                end: None,
                so_far: latency_histogram(),
                requests: 0,
                errors: 0,
                spare: Vec::new(),
            }),
        })
    }

    /// When the run started.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    /// Rows of every second all workers have finished, in order.
    pub fn rows(&self) -> Vec<SeriesRow> {
        self.lock().rows.clone()
    }

    /// Totals and latency so far.
    pub fn progress(&self) -> Progress {
        let state = self.lock();
        let quantile = |q| (!state.so_far.is_empty()).then(|| state.so_far.value_at_quantile(q));
        Progress {
            seconds: state.rows.len() as u64,
            requests: state.requests,
            errors: state.errors,
            p50_us: quantile(0.5),
            p99_us: quantile(0.99),
        }
    }

    /// Every row, including seconds still waiting for a worker that never
    /// called `finish`. Call after the workers have stopped.
    pub fn into_rows(&self) -> Vec<SeriesRow> {
        let mut state = self.lock();
        state.watermarks.iter_mut().for_each(|w| *w = u64::MAX);
        state.complete();
        state.rows.clone()
    }

    fn lock(&self) -> MutexGuard<'_, SinkState> {
        // A worker that panicked mid-hand-over leaves counts, not broken
        // invariants: keep going with what is there.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes worker `worker`'s interval for `second`; the worker will
    /// hand over nothing below `watermark` again. Empties `latency`.
    fn hand_over(
        &self,
        worker: usize,
        second: u64,
        requests: u64,
        errors: u64,
        latency: &mut Histogram<u64>,
        watermark: u64,
    ) {
        let mut state = self.lock();
        let state = &mut *state;
        // A second already turned into a row (a worker stalled past its
        // end) is folded into the oldest open one rather than lost.
        let second = second.max(state.rows.last().map_or(0, |r| r.second + 1));
        if !state.pending.contains_key(&second) {
            let latency = state.spare.pop().unwrap_or_else(latency_histogram);
            state.pending.insert(
                second,
                PendingSecond {
                    requests: 0,
                    errors: 0,
                    latency,
                },
            );
        }
        let pending = state.pending.get_mut(&second).expect("just inserted");
        pending.requests += requests;
        pending.errors += errors;
        pending
            .latency
            .add(&*latency)
            .expect("histograms of the same bounds add");
        latency.reset();
        if let Some(w) = state.watermarks.get_mut(worker) {
            *w = (*w).max(watermark);
        }
        state.complete();
    }

    fn finish(&self, end: Duration) {
        let mut state = self.lock();
        let end = end.as_secs_f64();
        state.end = Some(state.end.map_or(end, |e: f64| e.max(end)));
    }
}

impl SinkState {
    /// Turns every second that all workers have passed into a row; gaps
    /// (no worker handed anything over) become rows of zero requests.
    fn complete(&mut self) {
        let done_below = self.watermarks.iter().copied().min().unwrap_or(u64::MAX);
        let limit = if done_below < u64::MAX {
            done_below
        } else {
            // Every worker is done: up to the last second anything was
            // handed over for, or that the run reached.
            let last_pending = self.pending.last_key_value().map_or(0, |(&s, _)| s + 1);
            let reached = self.end.map_or(0, |e| e.ceil() as u64);
            last_pending.max(reached)
        };
        let mut next = self.rows.last().map_or(0, |r| r.second + 1);
        while next < limit {
            let row = match self.pending.remove(&next) {
                Some(mut pending) => {
                    let row = self.row(next, pending.requests, pending.errors, &pending.latency);
                    self.so_far
                        .add(&pending.latency)
                        .expect("histograms of the same bounds add");
                    self.requests += pending.requests;
                    self.errors += pending.errors;
                    pending.latency.reset();
                    self.spare.push(pending.latency);
                    row
                }
                None => SeriesRow::empty(next),
            };
            self.rows.push(row);
            next += 1;
        }
    }

    fn row(&self, second: u64, requests: u64, errors: u64, latency: &Histogram<u64>) -> SeriesRow {
        // The run's last second is cut short by its end, known once every
        // worker has finished.
        let all_finished = self.watermarks.iter().all(|&w| w == u64::MAX);
        let covered = match self.end {
            Some(end) if all_finished && end < (second + 1) as f64 => {
                (end - second as f64).clamp(1e-3, 1.0)
            }
            _ => 1.0,
        };
        let quantile = |q| (!latency.is_empty()).then(|| latency.value_at_quantile(q));
        SeriesRow {
            second,
            requests,
            errors,
            throughput_rps: requests as f64 / covered,
            p50_us: quantile(0.5),
            p99_us: quantile(0.99),
            max_us: (!latency.is_empty()).then(|| latency.max()),
        }
    }
}

/// A worker's side of the series: the current second's interval.
#[derive(Debug)]
pub(crate) struct SeriesWriter {
    sink: Arc<SeriesSink>,
    worker: usize,
    second: u64,
    /// Where `second` ends; a sample at or past it rolls the interval.
    boundary: Instant,
    requests: u64,
    errors: u64,
    latency: Histogram<u64>,
    /// The latest finish recorded, so the run's end is never put before
    /// a request that was counted.
    last_finished: Instant,
}

impl SeriesWriter {
    pub(crate) fn new(sink: Arc<SeriesSink>, worker: usize) -> SeriesWriter {
        let epoch = sink.epoch;
        SeriesWriter {
            boundary: epoch + Duration::from_secs(1),
            sink,
            worker,
            second: 0,
            requests: 0,
            errors: 0,
            latency: latency_histogram(),
            last_finished: epoch,
        }
    }

    #[inline]
    pub(crate) fn record(&mut self, finished: Instant, latency_us: u64, error: bool) {
        if finished >= self.boundary {
            self.roll(finished);
        }
        self.requests += 1;
        self.errors += u64::from(error);
        self.latency.saturating_record(latency_us);
        self.last_finished = self.last_finished.max(finished);
    }

    #[inline]
    pub(crate) fn tick(&mut self, now: Instant) {
        if now >= self.boundary {
            self.roll(now);
        }
    }

    pub(crate) fn finish(mut self, now: Instant) {
        let end = now
            .max(self.last_finished)
            .saturating_duration_since(self.sink.epoch);
        self.sink.finish(end);
        self.hand_over(u64::MAX);
    }

    /// Hands the current second over and moves to the one `now` is in.
    #[cold]
    fn roll(&mut self, now: Instant) {
        let second = now.saturating_duration_since(self.sink.epoch).as_secs();
        self.hand_over(second);
        self.second = second;
        self.boundary = self.sink.epoch + Duration::from_secs(second + 1);
    }

    fn hand_over(&mut self, watermark: u64) {
        self.sink.hand_over(
            self.worker,
            self.second,
            self.requests,
            self.errors,
            &mut self.latency,
            watermark,
        );
        self.requests = 0;
        self.errors = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::recorder::{Operations, Recorder, Tally, Timing, Transport};
    use crate::OutcomeKind;

    fn ms(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn seconds_of_all_workers_add_up_and_gaps_become_empty_rows() {
        let t0 = Instant::now();
        let sink = SeriesSink::new(t0, 2);
        let ops = Operations::new(["http"]).unwrap();
        let http = ops.id("http").unwrap();
        let mut a = Recorder::with_series(ops.clone(), &sink, 0);
        let mut b = Recorder::with_series(ops, &sink, 1);
        let ok = Tally::Status(200);
        // Second 0: a answers 3 in 1 ms, b answers 1 in 10 ms and one error.
        for i in 0..3 {
            a.record(
                http,
                ok,
                Timing::closed(ms(t0, i * 100), ms(t0, i * 100 + 1)),
            );
        }
        b.record(http, ok, Timing::closed(ms(t0, 500), ms(t0, 510)));
        b.record(
            http,
            Tally::Transport(Transport::Timeout),
            Timing::closed(ms(t0, 600), ms(t0, 900)),
        );
        // Nothing finishes in second 1 (a frozen target); both tick past it.
        a.tick(ms(t0, 2_100));
        assert_eq!(sink.rows().len(), 0, "b has not handed second 0 over yet");
        b.tick(ms(t0, 2_200));
        assert_eq!(sink.rows().len(), 2, "seconds 0 and 1 are complete");
        // Second 2: one slow answer, then the run ends at 2.5 s.
        a.record(http, ok, Timing::closed(ms(t0, 0), ms(t0, 2_400)));
        a.finish(ms(t0, 2_500));
        b.finish(ms(t0, 2_450));
        let rows = sink.into_rows();
        assert_eq!(rows.len(), 3);
        assert_eq!((rows[0].requests, rows[0].errors), (5, 1));
        assert_eq!(rows[0].p50_us.map(|v| v / 1000), Some(1));
        assert_eq!(rows[0].max_us.map(|v| v / 1000), Some(300));
        assert_eq!((rows[1].requests, rows[1].p99_us), (0, None));
        assert_eq!(rows[1].throughput_rps, 0.0);
        assert_eq!(rows[2].requests, 1);
        assert!(
            (rows[2].throughput_rps - 2.0).abs() < 1e-9,
            "half a second covered"
        );
        let progress = sink.progress();
        assert_eq!(
            (progress.seconds, progress.requests, progress.errors),
            (3, 6, 1)
        );
    }

    #[test]
    fn seconds_handed_over_survive_a_worker_that_never_finishes() {
        let t0 = Instant::now();
        let sink = SeriesSink::new(t0, 1);
        let ops = Operations::new(["send"]).unwrap();
        let send = ops.id("send").unwrap();
        let mut recorder = Recorder::with_series(ops, &sink, 0);
        let sent = Tally::Outcome(OutcomeKind::Sent);
        recorder.record(send, sent, Timing::closed(t0, ms(t0, 10)));
        recorder.record(send, sent, Timing::closed(t0, ms(t0, 1_010)));
        let rows = sink.into_rows();
        assert_eq!(rows.iter().map(|r| r.requests).collect::<Vec<_>>(), [1]);
        drop(recorder);
    }
}
