//! The one worker loop, for both load models.
//!
//! A worker is one thread with its own tokio current-thread runtime; its
//! *lanes* are tasks on that runtime, each with one request (or one flow)
//! in flight at a time — a connection, in `--url` mode. Every lane runs
//! the same loop: take the next [`Ticket`] from the worker's
//! [`Dispenser`], wait for its intended start if it has one, run one
//! iteration of the [`Workload`], repeat. The models differ only in how
//! the dispenser hands tickets out:
//!
//! - **open**: the worker's slice of the schedule's arrivals, in order,
//!   each with its intended start. A lane that is free early waits for
//!   the start (to the tens of microseconds, [`super::timer`]); a late
//!   one starts at once — and its latency still counts from the intended
//!   start, so the time it spent waiting for a free lane is measured, not
//!   hidden (coordinated omission). Arrivals still unsent when the drain
//!   deadline passes are recorded as timeouts from their intended start.
//! - **closed**: while the run lasts, a lane whose index is below the
//!   worker's share of the model's concurrency at that moment gets a
//!   ticket at once; the others idle until a ramp needs them.
//!
//! Everything a worker shares between its lanes is `Rc`/`RefCell` on one
//! thread: no lock and no atomic on the hot path except the run's stop
//! flag, read once per ticket. Recorders are merged after the threads end
//! ([`super::phase`]).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::recorder::{
    Generator, OpId, Operations, Recorder, Tally, Timing, Transport, LATE,
};
use crate::load::schedule::{ClosedModel, OpenModel};
use crate::load::shard::{split_count, Shard, Slice};
use crate::load::timer::PreciseTimer;

/// Where a worker stands in the run: shard `shard`, worker `worker` of
/// `workers` in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WorkerPlace {
    pub shard: Shard,
    pub workers: u32,
    pub worker: u32,
}

impl WorkerPlace {
    /// This worker's slice of an open model's arrivals.
    pub(crate) fn slice(&self) -> Slice {
        Slice::worker(self.shard, self.workers, self.worker)
    }

    /// This worker's part of something the whole run (every shard) has
    /// `total` of: connections in a closed model, say.
    pub(crate) fn share(&self, total: u64) -> u64 {
        split_count(
            self.shard.share(total),
            u64::from(self.workers),
            u64::from(self.worker),
        )
    }

    /// This worker's block of an identifier pool of `pool` entries:
    /// inside its shard's block, disjoint from every other worker's.
    pub(crate) fn pool_block(&self, pool: u64) -> std::ops::Range<u64> {
        let shard = self.shard.pool_range(pool);
        let len = u128::from(shard.end - shard.start);
        let at = |w: u32| shard.start + (len * u128::from(w) / u128::from(self.workers)) as u64;
        at(self.worker)..at(self.worker + 1)
    }
}

/// One iteration a lane is to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Iteration {
    /// Unique in the run across workers and shards (open model: the
    /// arrival's number in the schedule); workloads derive their
    /// per-iteration choices from it, so they do not depend on how the
    /// run is split.
    pub number: u64,
    /// This worker's count of iterations, from 0.
    pub local: u64,
    /// Open model: when the iteration was meant to start.
    pub intended: Option<Instant>,
}

impl Iteration {
    /// The timing of the iteration's first request: from the intended
    /// start in the open model, from the actual one in the closed.
    pub(crate) fn timing(&self, started: Instant, finished: Instant) -> Timing {
        Timing {
            intended: self.intended.unwrap_or(started),
            started,
            finished,
        }
    }
}

/// What a worker does. One value per worker thread, built there by a
/// [`WorkloadSpec`]; never shared between threads.
pub(crate) trait Workload: 'static {
    /// What one lane keeps between iterations (a connection).
    type Lane: 'static;

    /// The operation an iteration that was never sent is counted under.
    fn first(&self) -> OpId;

    /// Opens a lane, before the run starts.
    async fn lane(&self) -> Result<Self::Lane, String>;

    /// Runs one iteration and records each of its requests.
    async fn iterate(
        &self,
        lane: &mut Self::Lane,
        iteration: Iteration,
        recorder: &RefCell<Recorder>,
    );

    /// The first failure seen, in words, for the run's summary.
    fn first_error(&self) -> Option<String> {
        None
    }

    /// The run's last moment cut `iteration` (started at `started`) short:
    /// record the request that was in flight as a timeout and leave the
    /// lane fit for nothing but dropping. By default that request is the
    /// iteration's first operation.
    fn cut(
        &self,
        lane: &mut Self::Lane,
        iteration: Iteration,
        started: Instant,
        recorder: &RefCell<Recorder>,
    ) {
        let _ = lane;
        recorder.borrow_mut().record(
            self.first(),
            Tally::Transport(Transport::Timeout),
            iteration.timing(started, Instant::now()),
        );
    }
}

/// Builds a worker's [`Workload`] on the worker's own thread and runtime.
pub(crate) trait WorkloadSpec: Send + Sync + 'static {
    type Workload: Workload;

    /// The operations every worker's workload records.
    fn operations(&self) -> Operations;

    /// The workload of the worker at `place`.
    async fn open(&self, place: WorkerPlace) -> Result<Self::Workload, String>;
}

/// What a closed-model lane is to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ticket {
    /// Run this iteration now.
    Go(Iteration),
    /// Not needed now; ask again at this moment.
    Idle(Instant),
    /// The run is over for this lane.
    Stop,
}

/// How long an idle closed-model lane waits before asking again.
const IDLE_CHECK: Duration = Duration::from_millis(10);

/// Hands a closed-model worker's lanes their tickets.
pub(crate) struct Dispenser {
    model: Arc<ClosedModel>,
    place: WorkerPlace,
    epoch: Instant,
    /// When the schedule ends.
    end: Instant,
    slice: Slice,
    local: u64,
    stop: Arc<AtomicBool>,
}

impl Dispenser {
    /// A dispenser for a run that starts at `epoch`.
    pub(crate) fn new(
        model: Arc<ClosedModel>,
        place: WorkerPlace,
        epoch: Instant,
        stop: Arc<AtomicBool>,
    ) -> Dispenser {
        Dispenser {
            end: epoch + model.duration(),
            model,
            place,
            epoch,
            slice: place.slice(),
            local: 0,
            stop,
        }
    }

    /// Iterations handed out so far.
    pub(crate) fn taken(&self) -> u64 {
        self.local
    }

    /// The ticket for lane `lane` (of this worker) at `now`.
    pub(crate) fn next(&mut self, lane: u32, now: Instant) -> Ticket {
        if self.stop.load(Ordering::Relaxed) || now >= self.end {
            return Ticket::Stop;
        }
        let total = self
            .model
            .concurrency_at(now.saturating_duration_since(self.epoch));
        if u64::from(lane) >= self.place.share(u64::from(total)) {
            return Ticket::Idle((now + IDLE_CHECK).min(self.end));
        }
        let iteration = Iteration {
            number: self.slice.offset + self.local * self.slice.stride,
            local: self.local,
            intended: None,
        };
        self.local += 1;
        Ticket::Go(iteration)
    }
}

/// Open model: one worker's slice of the schedule, released as its
/// arrivals come due and taken, first come first served, by whichever
/// lane is free.
///
/// Arrivals are not bound to a lane in advance: a lane that has just been
/// answered takes the oldest due arrival, or waits for the next one to be
/// released. One timer per worker (the releasing task's) keeps to the
/// schedule, so a lane's answer is never read late because the lane was
/// asleep on a timer of its own, and the pool size changes nothing while
/// a connection is free. The backlog is two counters (released, taken),
/// not a queue: an arrival is rebuilt from its index, so a schedule far
/// above what the target answers costs no memory.
pub(crate) struct Backlog {
    model: Arc<OpenModel>,
    slice: Slice,
    epoch: Instant,
    /// Arrivals of this slice released so far (index into the slice).
    released: u64,
    /// Arrivals of this slice taken by a lane so far.
    taken: u64,
    /// Every arrival of the slice is released (or the run was stopped).
    closed: bool,
    /// Lanes waiting for an arrival now.
    idle: u32,
    /// Wakes one idle lane per released arrival.
    ready: Rc<tokio::sync::Notify>,
    counts: Generator,
}

impl Backlog {
    pub(crate) fn new(model: Arc<OpenModel>, place: WorkerPlace, epoch: Instant) -> Backlog {
        Backlog {
            model,
            slice: place.slice(),
            epoch,
            released: 0,
            taken: 0,
            closed: false,
            idle: 0,
            ready: Rc::new(tokio::sync::Notify::new()),
            counts: Generator::default(),
        }
    }

    /// Arrivals of the whole slice.
    fn slice_total(&self) -> u64 {
        local_count(self.model.total_arrivals(), self.slice)
    }

    /// The `local`-th arrival of this slice.
    fn iteration(&self, local: u64) -> Option<Iteration> {
        let number = self.slice.offset + local * self.slice.stride;
        let offset = self.model.arrival_time(number)?;
        Some(Iteration {
            number,
            local,
            intended: Some(self.epoch + offset),
        })
    }

    /// When the next unreleased arrival is due; `None` when all are out.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        self.iteration(self.released).and_then(|i| i.intended)
    }

    /// Releases every arrival due by `now` and wakes as many idle lanes;
    /// returns how many it released.
    pub(crate) fn release(&mut self, now: Instant) -> u64 {
        if self.closed {
            return 0;
        }
        let before = self
            .model
            .arrivals_before(now.saturating_duration_since(self.epoch));
        // Arrival k is due at its time t_k; those before `now` have k <
        // N(now), and the arrival exactly at `now` is due too.
        let mut due = local_count(before, self.slice);
        while let Some(i) = self.iteration(due) {
            if i.intended.is_some_and(|t| t <= now) {
                due += 1;
            } else {
                break;
            }
        }
        let due = due.min(self.slice_total());
        let fresh = due.saturating_sub(self.released);
        if fresh == 0 {
            return 0;
        }
        if let Some(first) = self.iteration(self.released).and_then(|i| i.intended) {
            if now.saturating_duration_since(first) > LATE {
                // The oldest of this batch is late; count the batch's late
                // ones by their own intended starts.
                let late_by = now - LATE;
                let mut late = 0;
                let (mut low, mut high) = (self.released, due);
                // Intended starts rise with the index: binary search for
                // the first that is not late.
                while low < high {
                    let mid = low + (high - low) / 2;
                    match self.iteration(mid).and_then(|i| i.intended) {
                        Some(t) if t < late_by => low = mid + 1,
                        _ => high = mid,
                    }
                }
                late += low - self.released;
                self.counts.late += late;
            }
        }
        // Each idle lane takes one; those beyond find every connection
        // busy. (A lane woken earlier is off the idle count already.)
        self.counts.queued += fresh.saturating_sub(u64::from(self.idle));
        self.released = due;
        let wake = fresh.min(u64::from(self.idle)) as u32;
        self.idle -= wake;
        for _ in 0..wake {
            self.ready.notify_one();
        }
        if self.released >= self.slice_total() {
            self.close();
        }
        fresh
    }

    /// Releases nothing more (the schedule is out, or the run stopped);
    /// idle lanes wake and go home once the backlog is empty.
    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.idle = 0;
        self.ready.notify_waiters();
    }

    /// The oldest released arrival not yet taken.
    pub(crate) fn take(&mut self) -> Option<Iteration> {
        if self.taken >= self.released {
            return None;
        }
        let iteration = self.iteration(self.taken);
        self.taken += 1;
        iteration
    }

    /// Arrivals handed to lanes so far.
    pub(crate) fn taken(&self) -> u64 {
        self.taken
    }

    /// At the run's last moment: every arrival of the slice not taken by
    /// a lane is dropped (released or not — a stopped run counts only the
    /// released ones). Returns the generator's counts.
    pub(crate) fn finish(&mut self, stopped: bool) -> Generator {
        let last = if stopped {
            self.released
        } else {
            self.slice_total()
        };
        self.counts.dropped = last.saturating_sub(self.taken);
        self.taken = last.max(self.taken);
        self.released = self.taken;
        self.closed = true;
        self.counts
    }
}

/// How many arrivals of `slice` have a number below `n`.
fn local_count(n: u64, slice: Slice) -> u64 {
    if n <= slice.offset {
        0
    } else {
        (n - slice.offset).div_ceil(slice.stride.max(1))
    }
}

/// Longest single wait before a task looks at the stop flag again.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// Open model: releases a worker's arrivals on schedule, until the slice
/// is out, the run is stopped or its last moment `hard_end` passes.
pub(crate) async fn release(
    backlog: Rc<RefCell<Backlog>>,
    stop: Arc<AtomicBool>,
    hard_end: Instant,
    spin: Duration,
) {
    let mut timer = PreciseTimer::new(spin);
    loop {
        let due = backlog.borrow().next_due();
        let Some(due) = due else { break };
        if due >= hard_end {
            break;
        }
        if !wait(&mut timer, due, &stop).await {
            break;
        }
        backlog.borrow_mut().release(Instant::now());
    }
    backlog.borrow_mut().close();
}

/// One open-model lane: takes the oldest due arrival, runs it, repeats;
/// waits for a release when there is none; ends when the backlog is
/// closed and empty, or at `hard_end` (its iteration cut there counts as
/// a timeout).
pub(crate) async fn open_lane<W: Workload>(
    workload: Rc<W>,
    mut state: W::Lane,
    backlog: Rc<RefCell<Backlog>>,
    recorder: Rc<RefCell<Recorder>>,
    hard_end: Instant,
) {
    loop {
        let next = backlog.borrow_mut().take();
        match next {
            Some(iteration) => {
                run_bounded(&*workload, &mut state, iteration, &recorder, hard_end).await;
            }
            None => {
                if backlog.borrow().closed {
                    break;
                }
                // The lane counts as idle from here; `release` takes it
                // off the count when it wakes it. The `Notified` future is
                // first polled (registered) before any other task runs, so
                // no release is missed.
                backlog.borrow_mut().idle += 1;
                let ready = backlog.borrow().ready.clone();
                if tokio::time::timeout_at(hard_end.into(), ready.notified())
                    .await
                    .is_err()
                {
                    let mut b = backlog.borrow_mut();
                    b.idle = b.idle.saturating_sub(1);
                }
            }
        }
        if Instant::now() >= hard_end {
            break;
        }
    }
}

/// Runs one iteration, cut at `hard_end`: a cut iteration is recorded as
/// a timeout of the workload's first operation, timed from its start.
async fn run_bounded<W: Workload>(
    workload: &W,
    state: &mut W::Lane,
    iteration: Iteration,
    recorder: &RefCell<Recorder>,
    hard_end: Instant,
) {
    let started = Instant::now();
    let run = workload.iterate(state, iteration, recorder);
    if tokio::time::timeout_at(hard_end.into(), run).await.is_err() {
        workload.cut(state, iteration, started, recorder);
    }
}

/// One closed-model lane's loop.
pub(crate) async fn closed_lane<W: Workload>(
    index: u32,
    workload: Rc<W>,
    mut state: W::Lane,
    dispenser: Rc<RefCell<Dispenser>>,
    recorder: Rc<RefCell<Recorder>>,
    stop: Arc<AtomicBool>,
    hard_end: Instant,
) {
    let mut timer = PreciseTimer::new(Duration::ZERO);
    loop {
        let ticket = dispenser.borrow_mut().next(index, Instant::now());
        match ticket {
            Ticket::Go(iteration) => {
                run_bounded(&*workload, &mut state, iteration, &recorder, hard_end).await;
            }
            Ticket::Idle(until) => {
                if !wait(&mut timer, until, &stop).await {
                    break;
                }
            }
            Ticket::Stop => break,
        }
    }
}

/// Waits until `at`, looking at the stop flag at least every
/// [`STOP_CHECK`]; `false` when the run was stopped.
async fn wait(timer: &mut PreciseTimer, at: Instant, stop: &AtomicBool) -> bool {
    loop {
        let step = (Instant::now() + STOP_CHECK).min(at);
        timer.sleep_until(step).await;
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        if step >= at {
            return true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::schedule::Stage;

    fn place(shard: Shard, workers: u32, worker: u32) -> WorkerPlace {
        WorkerPlace {
            shard,
            workers,
            worker,
        }
    }

    fn backlog(rate: f64, shard: Shard, workers: u32, worker: u32) -> (Backlog, Instant) {
        let model = Arc::new(OpenModel::constant(rate, Duration::from_secs(1)).unwrap());
        let epoch = Instant::now();
        (
            Backlog::new(model, place(shard, workers, worker), epoch),
            epoch,
        )
    }

    #[test]
    fn the_backlog_releases_the_slices_arrivals_as_they_come_due() {
        // Shard 1 of 2, worker 1 of 2: arrivals 3, 7, 11 … (every 4th),
        // 100/s: arrival k is due at k × 10 ms.
        let (mut backlog, epoch) = backlog(100.0, Shard { index: 1, count: 2 }, 2, 1);
        let at = |ms: u64| epoch + Duration::from_millis(ms);
        assert_eq!(backlog.next_due(), Some(at(30)));
        assert_eq!(backlog.release(at(29)), 0);
        assert_eq!(backlog.take(), None, "nothing is due yet");
        assert_eq!(backlog.release(at(30)), 1, "due exactly now");
        let first = backlog.take().unwrap();
        assert_eq!((first.number, first.local), (3, 0));
        assert_eq!(first.intended, Some(at(30)));
        assert_eq!(backlog.next_due(), Some(at(70)));
        // Released at 190 ms: arrivals 7, 11, 15 and 19 at once, all queued
        // (no lane is idle) and those more than 1 ms late counted late.
        assert_eq!(backlog.release(at(190)), 4);
        assert_eq!(
            backlog.counts.queued, 5,
            "the first one found no lane either"
        );
        assert_eq!(backlog.counts.late, 3, "70, 110 and 150 ms; 190 is on time");
        let second = backlog.take().unwrap();
        assert_eq!((second.number, second.local), (7, 1));
        // The run ends with 2 taken of 25: 23 dropped.
        let counts = backlog.finish(false);
        assert_eq!(counts.dropped, 23, "a quarter of 100 arrivals, less 2 sent");
        assert_eq!(backlog.take(), None);
    }

    #[test]
    fn idle_lanes_take_releases_without_counting_them_queued() {
        let (mut backlog, epoch) = backlog(1000.0, Shard::ALONE, 1, 0);
        backlog.idle = 3;
        assert_eq!(backlog.release(epoch + Duration::from_millis(1)), 2);
        assert_eq!(backlog.idle, 1, "two lanes woken");
        assert_eq!(backlog.counts.queued, 0);
        assert_eq!(backlog.counts.late, 0, "1 ms late at most is on time");
        // A release far past the end closes the backlog; a stopped run
        // drops only what was released.
        backlog.release(epoch + Duration::from_secs(5));
        assert!(backlog.closed);
        assert_eq!(backlog.next_due(), None);
        assert_eq!(backlog.finish(true).dropped, 1000);
    }

    #[test]
    fn closed_tickets_go_to_the_lanes_the_ramp_needs() {
        // 0 -> 8 connections over 8 s, two shards of two workers: the
        // first lane of shard 0's worker 0 runs from 1 s (1 connection),
        // its second from 5 s (5 connections: 3 for shard 0, 2 of them
        // for worker 0).
        let model = Arc::new(
            ClosedModel::ramping(
                0,
                vec![Stage {
                    duration: Duration::from_secs(8),
                    target: 8,
                }],
            )
            .unwrap(),
        );
        let epoch = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let shard = Shard { index: 0, count: 2 };
        let mut dispenser = Dispenser::new(model, place(shard, 2, 0), epoch, stop.clone());
        let at = |s: u64| epoch + Duration::from_millis(s);
        assert!(matches!(dispenser.next(0, at(500)), Ticket::Idle(_)));
        let Ticket::Go(go) = dispenser.next(0, at(1100)) else {
            panic!("lane 0 runs from 1 s")
        };
        assert_eq!((go.number, go.local, go.intended), (0, 0, None));
        assert!(matches!(dispenser.next(1, at(4900)), Ticket::Idle(_)));
        let Ticket::Go(go) = dispenser.next(1, at(5100)) else {
            panic!("lane 1 runs from 5 s")
        };
        assert_eq!(go.number, 4, "unique across shards and workers");
        assert_eq!(dispenser.next(0, at(8000)), Ticket::Stop);
        stop.store(true, Ordering::Relaxed);
        assert_eq!(dispenser.next(0, at(4300)), Ticket::Stop);
    }

    #[test]
    fn pool_blocks_of_every_worker_of_every_shard_are_disjoint() {
        let mut seen = vec![0u8; 1000];
        for index in 0..3 {
            for worker in 0..2 {
                let block = place(Shard { index, count: 3 }, 2, worker).pool_block(1000);
                assert!(block.end - block.start >= 166);
                for i in block {
                    seen[i as usize] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1));
    }
}
