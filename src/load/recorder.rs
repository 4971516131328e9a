//! What one worker measured: per operation, a latency histogram from each
//! request's *intended* start (coordinated-omission corrected), a
//! service-time histogram from its *actual* start (send to answer), a
//! wait histogram between the two (the time an arrival spent inside the
//! generator, waiting for a free connection), and a count per [`Tally`];
//! and for the whole worker, what the generator itself could not do
//! ([`Generator`]: arrivals dropped, arrivals that found every connection
//! busy, arrivals released late). One [`Recorder`] per worker, merged at
//! the end.
//!
//! The hot path ([`Recorder::record`]) takes no lock and allocates nothing:
//! three histogram increments into fixed-size arrays, two counter increments,
//! and one comparison against the next second's boundary. Once per second a
//! worker hands its finished second to the shared [`SeriesSink`]
//! (see [`crate::load::series`]); that is the only lock.
//!
//! This module measures; it must not decide how load is offered (that is
//! [`crate::load::schedule`]) nor how results are rendered ([`crate::report`]).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::load::series::{SeriesSink, SeriesWriter};
use crate::report::model::histogram::{latency_histogram, HIGHEST_US, LOWEST_US};
use crate::report::model::tally::check_operation_name;
use crate::report::model::tally::SLOTS;
pub use crate::report::model::tally::{Tally, Transport};

/// Why operations could not be declared or recorders merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecorderError {
    /// An operation name that reports, gates and file names cannot carry.
    InvalidOperation { name: String, reason: &'static str },
    /// Two recorders over different operation lists.
    OperationsDiffer {
        ours: Vec<String>,
        theirs: Vec<String>,
    },
}

impl fmt::Display for RecorderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecorderError::InvalidOperation { name, reason } => {
                write!(f, "invalid operation name {name:?}: {reason}")
            }
            RecorderError::OperationsDiffer { ours, theirs } => write!(
                f,
                "cannot merge recorders of different operations: [{}] and [{}]",
                ours.join(", "),
                theirs.join(", ")
            ),
        }
    }
}

impl std::error::Error for RecorderError {}

/// The operations a run records, declared up front (`["send", "verify"]`
/// or `["http"]`); [`OpId`]s index them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operations {
    names: Arc<[String]>,
}

impl Operations {
    /// Declares the operations; names must be valid and distinct.
    pub fn new<I, S>(names: I) -> Result<Operations, RecorderError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let names: Vec<String> = names.into_iter().map(Into::into).collect();
        if names.is_empty() {
            return Err(RecorderError::InvalidOperation {
                name: String::new(),
                reason: "a run records at least one operation",
            });
        }
        if names.len() > usize::from(u16::MAX) {
            return Err(RecorderError::InvalidOperation {
                name: names[0].clone(),
                reason: "too many operations",
            });
        }
        for (i, name) in names.iter().enumerate() {
            check_operation_name(name).map_err(|e| RecorderError::InvalidOperation {
                name: e.name,
                reason: e.reason,
            })?;
            if names[..i].contains(name) {
                return Err(RecorderError::InvalidOperation {
                    name: name.clone(),
                    reason: "declared twice",
                });
            }
        }
        Ok(Operations {
            names: names.into(),
        })
    }

    /// The id of `name`, if declared.
    pub fn id(&self, name: &str) -> Option<OpId> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| OpId(i as u16))
    }

    /// Every id, in declaration order.
    pub fn ids(&self) -> impl Iterator<Item = OpId> {
        (0..self.names.len() as u16).map(OpId)
    }

    /// The name of `op`.
    pub fn name(&self, op: OpId) -> &str {
        &self.names[usize::from(op.0)]
    }

    /// Every name, in declaration order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// An index into the run's [`Operations`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpId(u16);

/// When one request was meant to start, did start, and finished.
///
/// Open model: `intended` comes from the schedule. Closed model: there is
/// no schedule to fall behind, so `intended == started` ([`Timing::closed`])
/// and both histograms hold the same values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub intended: Instant,
    pub started: Instant,
    pub finished: Instant,
}

impl Timing {
    /// A closed-model request: intended when it started.
    pub fn closed(started: Instant, finished: Instant) -> Timing {
        Timing {
            intended: started,
            started,
            finished,
        }
    }
}

/// One operation's measurements.
#[derive(Debug, Clone)]
struct OperationRecord {
    /// From the intended start (what a user waiting on the schedule saw).
    latency: Histogram<u64>,
    /// From the actual start (what a closed-loop tool would report).
    service: Histogram<u64>,
    /// From the intended start to the actual one: time spent inside the
    /// generator, in µs from 0 (most arrivals wait under a microsecond).
    /// 0 in the closed model.
    wait: Histogram<u64>,
    tallies: Box<[u64; SLOTS]>,
    errors: u64,
}

impl OperationRecord {
    fn new() -> OperationRecord {
        OperationRecord {
            latency: latency_histogram(),
            service: latency_histogram(),
            wait: latency_histogram(),
            tallies: Box::new([0; SLOTS]),
            errors: 0,
        }
    }
}

/// What the generator itself could not do, counted by arrival (open
/// model; all zero in the closed model). Each is a sign that the figures
/// describe the generator rather than the target.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Generator {
    /// Arrivals never sent: still waiting for a connection when the run's
    /// last moment (its end plus one timeout) came.
    pub dropped: u64,
    /// Arrivals that found every connection busy when they came due, and
    /// waited for one.
    pub queued: u64,
    /// Arrivals the worker released more than [`LATE`] after their
    /// intended start: the worker's thread could not keep to the schedule.
    pub late: u64,
}

/// How late a worker may release an arrival before it counts as
/// [`Generator::late`].
pub const LATE: Duration = Duration::from_millis(1);

impl Generator {
    fn add(&mut self, other: &Generator) {
        self.dropped += other.dropped;
        self.queued += other.queued;
        self.late += other.late;
    }
}

/// One worker's measurements. Not shared between threads: each worker owns
/// one and the run merges them at the end ([`Recorder::merge`]).
#[derive(Debug)]
pub struct Recorder {
    operations: Operations,
    records: Box<[OperationRecord]>,
    clamped: u64,
    generator: Generator,
    series: Option<SeriesWriter>,
}

/// Microseconds of `d`, clamped into the histogram's range; the flag says
/// whether it had to be.
#[inline]
fn clamp_us(d: Duration) -> (u64, bool) {
    let us = d.as_micros();
    if us < u128::from(LOWEST_US) {
        (LOWEST_US, true)
    } else if us > u128::from(HIGHEST_US) {
        (HIGHEST_US, true)
    } else {
        (us as u64, false)
    }
}

impl Recorder {
    /// A recorder without a per-second series (merging, tests, references).
    pub fn new(operations: Operations) -> Recorder {
        let records = operations.ids().map(|_| OperationRecord::new()).collect();
        Recorder {
            operations,
            records,
            clamped: 0,
            generator: Generator::default(),
            series: None,
        }
    }

    /// A recorder that feeds worker `worker`'s seconds into `sink`.
    pub fn with_series(operations: Operations, sink: &Arc<SeriesSink>, worker: usize) -> Recorder {
        Recorder {
            series: Some(SeriesWriter::new(sink.clone(), worker)),
            ..Recorder::new(operations)
        }
    }

    /// Records one request. The hot path: no lock, no allocation (except
    /// once per second, when the finished second goes to the sink).
    #[inline]
    pub fn record(&mut self, op: OpId, tally: Tally, timing: Timing) {
        let (latency, clamped_latency) =
            clamp_us(timing.finished.saturating_duration_since(timing.intended));
        let (service, clamped_service) =
            clamp_us(timing.finished.saturating_duration_since(timing.started));
        let wait = timing.started.saturating_duration_since(timing.intended);
        let error = tally.is_error();
        let record = &mut self.records[usize::from(op.0)];
        record.latency.saturating_record(latency);
        record.service.saturating_record(service);
        record
            .wait
            .saturating_record((wait.as_micros() as u64).min(HIGHEST_US));
        record.tallies[tally.slot()] += 1;
        record.errors += u64::from(error);
        self.clamped += u64::from(clamped_latency | clamped_service);
        if let Some(series) = &mut self.series {
            series.record(timing.finished, latency, error);
        }
    }

    /// Hands a finished second to the sink even when no request completed
    /// in it. Call at least once a second (the worker's timer), so a
    /// stalled target still produces rows — of zero requests.
    #[inline]
    pub fn tick(&mut self, now: Instant) {
        if let Some(series) = &mut self.series {
            series.tick(now);
        }
    }

    /// Hands the last, partial second to the sink; this worker records no
    /// more into the series. `now` is when the worker stopped.
    pub fn finish(&mut self, now: Instant) {
        if let Some(series) = self.series.take() {
            series.finish(now);
        }
    }

    /// Adds `other`'s histograms, counts and clamps into this one (the
    /// series is merged by the sink, not here).
    pub fn merge(&mut self, other: &Recorder) -> Result<(), RecorderError> {
        if self.operations != other.operations {
            return Err(RecorderError::OperationsDiffer {
                ours: self.operations.names().to_vec(),
                theirs: other.operations.names().to_vec(),
            });
        }
        for (mine, theirs) in self.records.iter_mut().zip(other.records.iter()) {
            mine.latency
                .add(&theirs.latency)
                .expect("histograms of the same bounds add");
            mine.service
                .add(&theirs.service)
                .expect("histograms of the same bounds add");
            mine.wait
                .add(&theirs.wait)
                .expect("histograms of the same bounds add");
            for (a, b) in mine.tallies.iter_mut().zip(theirs.tallies.iter()) {
                *a += b;
            }
            mine.errors += theirs.errors;
        }
        self.clamped += other.clamped;
        self.generator.add(&other.generator);
        Ok(())
    }

    /// Counts what the generator could not do (see [`Generator`]).
    pub fn note_generator(&mut self, counts: Generator) {
        self.generator.add(&counts);
    }

    /// What the generator could not do, so far.
    pub fn generator(&self) -> Generator {
        self.generator
    }

    /// The operations this recorder was declared with.
    pub fn operations(&self) -> &Operations {
        &self.operations
    }

    /// Latency from the intended start, in µs.
    pub fn latency(&self, op: OpId) -> &Histogram<u64> {
        &self.records[usize::from(op.0)].latency
    }

    /// Service time from the actual start, in µs.
    pub fn service_time(&self, op: OpId) -> &Histogram<u64> {
        &self.records[usize::from(op.0)].service
    }

    /// Time from the intended start to the actual one, in µs.
    pub fn wait(&self, op: OpId) -> &Histogram<u64> {
        &self.records[usize::from(op.0)].wait
    }

    /// Requests recorded for `op`.
    pub fn count(&self, op: OpId) -> u64 {
        self.records[usize::from(op.0)].latency.len()
    }

    /// Requests of `op` whose tally [is an error](Tally::is_error).
    pub fn errors(&self, op: OpId) -> u64 {
        self.records[usize::from(op.0)].errors
    }

    /// The non-zero counts of `op`, one per tally.
    pub fn tallies(&self, op: OpId) -> impl Iterator<Item = (Tally, u64)> + '_ {
        self.records[usize::from(op.0)]
            .tallies
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(slot, &n)| (Tally::from_slot(slot), n))
    }

    /// Requests whose latency or service time fell outside 1 µs .. 60 s and
    /// was recorded as the nearest bound.
    pub fn clamped(&self) -> u64 {
        self.clamped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OutcomeKind;

    fn ops() -> Operations {
        Operations::new(["send", "verify"]).unwrap()
    }

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn latency_counts_from_the_intended_start_and_service_time_from_the_actual() {
        let mut recorder = Recorder::new(ops());
        let send = recorder.operations().id("send").unwrap();
        let t0 = Instant::now();
        // Meant to start at 0, started 100 ms late, answered 5 ms later.
        recorder.record(
            send,
            Tally::Outcome(OutcomeKind::Sent),
            Timing {
                intended: t0,
                started: at(t0, 100),
                finished: at(t0, 105),
            },
        );
        let latency = recorder.latency(send).max();
        let service = recorder.service_time(send).max();
        assert!(recorder.latency(send).equivalent(latency, 105_000));
        assert!(recorder.service_time(send).equivalent(service, 5_000));
        assert_eq!(recorder.count(send), 1);
        assert_eq!(recorder.clamped(), 0);
    }

    #[test]
    fn out_of_range_values_are_clamped_and_counted() {
        let mut recorder = Recorder::new(ops());
        let verify = recorder.operations().id("verify").unwrap();
        let t0 = Instant::now();
        let tally = Tally::Outcome(OutcomeKind::Verified);
        recorder.record(verify, tally, Timing::closed(t0, t0));
        recorder.record(
            verify,
            tally,
            Timing::closed(t0, t0 + Duration::from_secs(90)),
        );
        recorder.record(verify, tally, Timing::closed(t0, at(t0, 3)));
        assert_eq!(recorder.clamped(), 2);
        assert_eq!(recorder.latency(verify).min(), LOWEST_US);
        assert!(recorder
            .latency(verify)
            .equivalent(recorder.latency(verify).max(), HIGHEST_US));
    }

    #[test]
    fn operations_must_be_named_for_gates_and_files() {
        for bad in [
            vec![],
            vec!["send", "send"],
            vec!["a.b"],
            vec![""],
            vec!["x/y"],
        ] {
            assert!(Operations::new(bad.clone()).is_err(), "{bad:?}");
        }
        let ops = ops();
        assert_eq!(ops.id("verify").map(|id| ops.name(id)), Some("verify"));
        assert_eq!(ops.id("nope"), None);
    }

    #[test]
    fn merge_adds_histograms_and_counts() {
        let t0 = Instant::now();
        let mut a = Recorder::new(ops());
        let mut b = Recorder::new(ops());
        let send = a.operations().id("send").unwrap();
        for ms in 1..=10 {
            a.record(
                send,
                Tally::Outcome(OutcomeKind::Sent),
                Timing::closed(t0, at(t0, ms)),
            );
        }
        for ms in 11..=20 {
            b.record(
                send,
                Tally::Outcome(OutcomeKind::RateLimited),
                Timing::closed(t0, at(t0, ms)),
            );
        }
        b.record(
            send,
            Tally::Transport(Transport::Timeout),
            Timing::closed(t0, at(t0, 30)),
        );
        a.merge(&b).unwrap();
        assert_eq!(a.count(send), 21);
        assert_eq!(a.errors(send), 1);
        let tallies: Vec<(String, u64)> = a.tallies(send).map(|(t, n)| (t.name(), n)).collect();
        assert_eq!(
            tallies,
            [
                ("sent".into(), 10),
                ("rate_limited".into(), 10),
                ("timeout".into(), 1)
            ]
        );
        // 21 samples: the 11th is the first of b's, 11 ms.
        assert!(a
            .latency(send)
            .equivalent(a.latency(send).value_at_quantile(0.5), 11_000));

        let other = Recorder::new(Operations::new(["http"]).unwrap());
        let error = a.merge(&other).unwrap_err().to_string();
        assert!(error.contains("[send, verify] and [http]"), "{error}");
    }
}
