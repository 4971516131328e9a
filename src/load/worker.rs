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
//! ([`super::run`]).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::load::recorder::{OpId, Operations, Recorder, Tally, Timing, Transport};
use crate::load::schedule::Model;
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
}

/// Builds a worker's [`Workload`] on the worker's own thread and runtime.
pub(crate) trait WorkloadSpec: Send + Sync + 'static {
    type Workload: Workload;

    /// The operations every worker's workload records.
    fn operations(&self) -> Operations;

    /// The workload of the worker at `place`.
    async fn open(&self, place: WorkerPlace) -> Result<Self::Workload, String>;
}

/// What a lane is to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ticket {
    /// Run this iteration (at its intended start, if it has one).
    Go(Iteration),
    /// Open model: the drain deadline passed before this arrival could be
    /// sent; count it as timed out.
    Expired(Iteration),
    /// Closed model: not needed now; ask again at this moment.
    Idle(Instant),
    /// The run is over for this lane.
    Stop,
}

/// How long an idle closed-model lane waits before asking again.
const IDLE_CHECK: Duration = Duration::from_millis(10);

/// Hands a worker's lanes their tickets, from the model.
pub(crate) struct Dispenser {
    model: Arc<Model>,
    place: WorkerPlace,
    epoch: Instant,
    /// When the schedule ends.
    end: Instant,
    /// Open model: no arrival is sent after this.
    deadline: Instant,
    /// Open model: the next arrival of this worker's slice.
    next: u64,
    slice: Slice,
    local: u64,
    stop: Arc<AtomicBool>,
}

impl Dispenser {
    /// A dispenser for a run that starts at `epoch`; open-model arrivals
    /// not sent within `grace` after the schedule's end expire.
    pub(crate) fn new(
        model: Arc<Model>,
        place: WorkerPlace,
        epoch: Instant,
        grace: Duration,
        stop: Arc<AtomicBool>,
    ) -> Dispenser {
        let end = epoch + model.duration();
        let slice = place.slice();
        Dispenser {
            model,
            place,
            epoch,
            end,
            deadline: end + grace,
            next: slice.offset,
            slice,
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
        if self.stop.load(Ordering::Relaxed) {
            return Ticket::Stop;
        }
        match &*self.model {
            Model::Open(model) => {
                let Some(offset) = model.arrival_time(self.next) else {
                    return Ticket::Stop;
                };
                let iteration = Iteration {
                    number: self.next,
                    local: self.local,
                    intended: Some(self.epoch + offset),
                };
                self.next += self.slice.stride;
                self.local += 1;
                if now >= self.deadline {
                    Ticket::Expired(iteration)
                } else {
                    Ticket::Go(iteration)
                }
            }
            Model::Closed(model) => {
                if now >= self.end {
                    return Ticket::Stop;
                }
                let total = model.concurrency_at(now.saturating_duration_since(self.epoch));
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
    }
}

/// Longest single wait before a lane looks at the stop flag again.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// One lane's loop: the same for every model and workload.
pub(crate) async fn lane<W: Workload>(
    index: u32,
    workload: Rc<W>,
    mut state: W::Lane,
    dispenser: Rc<RefCell<Dispenser>>,
    recorder: Rc<RefCell<Recorder>>,
    stop: Arc<AtomicBool>,
    spin: Duration,
) {
    let mut timer = PreciseTimer::new(spin);
    loop {
        let ticket = dispenser.borrow_mut().next(index, Instant::now());
        match ticket {
            Ticket::Go(iteration) => {
                if let Some(at) = iteration.intended {
                    if !wait(&mut timer, at, &stop).await {
                        break;
                    }
                }
                workload.iterate(&mut state, iteration, &recorder).await;
            }
            Ticket::Expired(iteration) => {
                let intended = iteration.intended.unwrap_or_else(Instant::now);
                recorder.borrow_mut().record(
                    workload.first(),
                    Tally::Transport(Transport::Timeout),
                    Timing {
                        intended,
                        // Never sent: it waited as long as it was late.
                        started: intended,
                        finished: Instant::now(),
                    },
                );
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
    use crate::load::schedule::{ClosedModel, OpenModel, Stage};

    fn place(shard: Shard, workers: u32, worker: u32) -> WorkerPlace {
        WorkerPlace {
            shard,
            workers,
            worker,
        }
    }

    #[test]
    fn open_tickets_carry_the_slices_arrivals_and_expire_after_the_deadline() {
        let model = Arc::new(Model::Open(
            OpenModel::constant(100.0, Duration::from_secs(1)).unwrap(),
        ));
        let epoch = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let shard = Shard { index: 1, count: 2 };
        let mut dispenser = Dispenser::new(
            model,
            place(shard, 2, 1),
            epoch,
            Duration::from_millis(500),
            stop,
        );
        // Shard 1 of 2, worker 1 of 2: arrivals 3, 7, 11 … (every 4th).
        let Ticket::Go(first) = dispenser.next(0, epoch) else {
            panic!("a ticket")
        };
        assert_eq!((first.number, first.local), (3, 0));
        assert_eq!(first.intended, Some(epoch + Duration::from_millis(30)));
        let late = epoch + Duration::from_secs(2);
        let Ticket::Expired(second) = dispenser.next(3, late) else {
            panic!("expired")
        };
        assert_eq!((second.number, second.local), (7, 1));
        let mut count = 2;
        while dispenser.next(0, late) != Ticket::Stop {
            count += 1;
        }
        assert_eq!(count, 25, "a quarter of 100 arrivals");
    }

    #[test]
    fn closed_tickets_go_to_the_lanes_the_ramp_needs() {
        // 0 -> 8 connections over 8 s, two shards of two workers: the
        // first lane of shard 0's worker 0 runs from 1 s (1 connection),
        // its second from 5 s (5 connections: 3 for shard 0, 2 of them
        // for worker 0).
        let model = Arc::new(Model::Closed(
            ClosedModel::ramping(
                0,
                vec![Stage {
                    duration: Duration::from_secs(8),
                    target: 8,
                }],
            )
            .unwrap(),
        ));
        let epoch = Instant::now();
        let stop = Arc::new(AtomicBool::new(false));
        let shard = Shard { index: 0, count: 2 };
        let mut dispenser = Dispenser::new(
            model,
            place(shard, 2, 0),
            epoch,
            Duration::ZERO,
            stop.clone(),
        );
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
