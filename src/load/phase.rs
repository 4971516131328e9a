//! Running one phase of load: worker threads started, each with its own
//! current-thread runtime and lanes ([`super::worker`]), released together
//! at one epoch once every lane is ready, watched once a second for
//! progress, joined, and their recorders merged.
//!
//! The phase knows nothing of reports or the command line: it returns the
//! merged [`Recorder`], the per-second rows and how long the load ran.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::load::recorder::Recorder;
use crate::load::schedule::Model;
use crate::load::series::{Progress, SeriesSink};
use crate::load::shard::{split_count, Shard};
use crate::load::worker::{self, Backlog, Dispenser, WorkerPlace, Workload, WorkloadSpec};
use crate::report::model::SeriesRow;

/// Where a worker's iterations come from.
enum Source {
    Open(Rc<RefCell<Backlog>>),
    Closed(Option<Rc<RefCell<Dispenser>>>),
}

/// How a phase runs.
#[derive(Debug, Clone)]
pub(crate) struct PhasePlan {
    pub model: Arc<Model>,
    pub shard: Shard,
    /// Worker threads (at most one per lane).
    pub workers: u32,
    /// Open model: requests (or flows) in flight at most, this generator.
    /// The closed model has as many lanes as its peak concurrency.
    pub connections: u32,
    /// How long after the schedule's end the run may last: one request
    /// timeout. Arrivals not sent by then are dropped, and an iteration
    /// still running then is cut and counted as a timeout.
    pub grace: Duration,
    /// Set to end the phase early (Ctrl-C).
    pub stop: Arc<AtomicBool>,
    /// Busy-wait this long before each intended start instead of
    /// sleeping (`--spin`).
    pub spin: Duration,
}

impl PhasePlan {
    /// Lanes of this generator in all.
    pub(crate) fn lanes(&self) -> u64 {
        match &*self.model {
            Model::Open(_) => u64::from(self.connections),
            Model::Closed(model) => self.shard.share(u64::from(model.peak())),
        }
    }

    /// Worker threads that will have at least one lane.
    pub(crate) fn effective_workers(&self) -> u32 {
        self.lanes().clamp(1, u64::from(self.workers.max(1))) as u32
    }
}

/// What a phase measured.
#[derive(Debug)]
pub(crate) struct PhaseResult {
    pub recorder: Recorder,
    pub rows: Vec<SeriesRow>,
    /// The wall-clock time of the epoch: when the phase started.
    pub started_at: SystemTime,
    /// From the epoch to the last worker's end.
    pub duration: Duration,
    /// Iterations the workers took from the schedule.
    pub iterations: u64,
    pub first_error: Option<String>,
}

/// What a worker thread hands back.
struct WorkerResult {
    recorder: Recorder,
    ended: Instant,
    iterations: u64,
    first_error: Option<String>,
}

/// The start handshake: every worker opens its lanes, all wait at the
/// barrier, the phase picks the epoch, all wait again and start.
struct StartGate {
    ready: Barrier,
    /// `None`: a worker could not open; everyone goes home.
    start: OnceLock<Option<(Instant, Arc<SeriesSink>)>>,
    go: Barrier,
    errors: Mutex<Vec<String>>,
}

/// Runs `spec` under `plan`, calling `progress` about once a second with
/// the totals so far and the time since the start. Errors are a worker
/// that could not open its workload or lanes.
pub(crate) fn run_phase<S: WorkloadSpec>(
    spec: Arc<S>,
    plan: &PhasePlan,
    mut progress: impl FnMut(Progress, Duration),
) -> Result<PhaseResult, String> {
    let workers = plan.effective_workers();
    let lanes = plan.lanes();
    let gate = Arc::new(StartGate {
        ready: Barrier::new(workers as usize + 1),
        start: OnceLock::new(),
        go: Barrier::new(workers as usize + 1),
        errors: Mutex::new(Vec::new()),
    });
    let mut handles: Vec<JoinHandle<Option<WorkerResult>>> = Vec::new();
    for w in 0..workers {
        let place = WorkerPlace {
            shard: plan.shard,
            workers,
            worker: w,
        };
        let lanes = split_count(lanes, u64::from(workers), u64::from(w)) as u32;
        let (spec, gate, plan) = (spec.clone(), gate.clone(), plan.clone());
        let handle = std::thread::Builder::new()
            .name(format!("otpbench-worker-{w}"))
            .spawn(move || worker_thread(spec, place, lanes, plan, gate))
            .map_err(|e| format!("cannot start a worker thread: {e}"))?;
        handles.push(handle);
    }
    gate.ready.wait();
    let errors = std::mem::take(&mut *gate.errors.lock().unwrap_or_else(|e| e.into_inner()));
    if !errors.is_empty() {
        let _ = gate.start.set(None);
        gate.go.wait();
        for handle in handles {
            let _ = handle.join();
        }
        return Err(errors[0].clone());
    }
    // A moment's lead, so no worker starts behind.
    let lead = Duration::from_millis(5);
    let (epoch, started_at) = (Instant::now() + lead, SystemTime::now() + lead);
    let sink = SeriesSink::new(epoch, workers as usize);
    let _ = gate.start.set(Some((epoch, sink.clone())));
    gate.go.wait();

    let mut next_report = epoch + Duration::from_secs(1);
    while !handles.iter().all(|h| h.is_finished()) {
        std::thread::sleep(Duration::from_millis(50));
        let now = Instant::now();
        if now >= next_report {
            progress(sink.progress(), now.saturating_duration_since(epoch));
            next_report += Duration::from_secs(1);
        }
    }
    let mut merged: Option<Recorder> = None;
    let (mut ended, mut iterations, mut first_error) = (epoch, 0, None);
    for handle in handles {
        let result = handle
            .join()
            .map_err(|_| "a worker thread panicked".to_string())?
            .ok_or("a worker stopped before the start")?;
        ended = ended.max(result.ended);
        iterations += result.iterations;
        first_error = first_error.or(result.first_error);
        match &mut merged {
            None => merged = Some(result.recorder),
            Some(all) => all.merge(&result.recorder).map_err(|e| e.to_string())?,
        }
    }
    Ok(PhaseResult {
        recorder: merged.ok_or("no worker ran")?,
        rows: sink.into_rows(),
        started_at,
        duration: ended.saturating_duration_since(epoch),
        iterations,
        first_error,
    })
}

/// How often a worker hands its finished seconds to the sink, at least.
const TICK: Duration = Duration::from_millis(200);

fn worker_thread<S: WorkloadSpec>(
    spec: Arc<S>,
    place: WorkerPlace,
    lanes: u32,
    plan: PhasePlan,
    gate: Arc<StartGate>,
) -> Option<WorkerResult> {
    let fail = |why: String| {
        gate.errors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(why);
        gate.ready.wait();
        gate.go.wait();
        None
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(format!("cannot start a worker's runtime: {e}")),
    };
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async {
        let workload = match spec.open(place).await {
            Ok(workload) => Rc::new(workload),
            Err(why) => return fail(why),
        };
        let mut states = Vec::with_capacity(lanes as usize);
        for _ in 0..lanes {
            match workload.lane().await {
                Ok(state) => states.push(state),
                Err(why) => return fail(why),
            }
        }
        gate.ready.wait();
        gate.go.wait();
        let (epoch, sink) = gate.start.get().cloned().flatten()?;
        let recorder = Rc::new(RefCell::new(Recorder::with_series(
            spec.operations(),
            &sink,
            place.worker as usize,
        )));
        tokio::time::sleep_until(epoch.into()).await;
        // The run's last moment: its schedule's end plus one timeout.
        let hard_end = epoch + plan.model.duration() + plan.grace;
        let mut tasks = Vec::with_capacity(states.len() + 1);
        let mut source = Source::Closed(None);
        match &*plan.model {
            Model::Open(model) => {
                let backlog = Rc::new(RefCell::new(Backlog::new(
                    Arc::new(model.clone()),
                    place,
                    epoch,
                )));
                for state in states {
                    tasks.push(tokio::task::spawn_local(worker::open_lane(
                        workload.clone(),
                        state,
                        backlog.clone(),
                        recorder.clone(),
                        hard_end,
                    )));
                }
                // Lanes first: they are idle, and counted so, before the
                // first arrival is released.
                tokio::task::yield_now().await;
                tasks.push(tokio::task::spawn_local(worker::release(
                    backlog.clone(),
                    plan.stop.clone(),
                    hard_end,
                    plan.spin,
                )));
                source = Source::Open(backlog);
            }
            Model::Closed(model) => {
                let dispenser = Rc::new(RefCell::new(Dispenser::new(
                    Arc::new(model.clone()),
                    place,
                    epoch,
                    plan.stop.clone(),
                )));
                for (index, state) in states.into_iter().enumerate() {
                    tasks.push(tokio::task::spawn_local(worker::closed_lane(
                        index as u32,
                        workload.clone(),
                        state,
                        dispenser.clone(),
                        recorder.clone(),
                        plan.stop.clone(),
                        hard_end,
                    )));
                }
                if let Source::Closed(slot) = &mut source {
                    *slot = Some(dispenser);
                }
            }
        }
        let ticker = {
            let recorder = recorder.clone();
            tokio::task::spawn_local(async move {
                let mut interval = tokio::time::interval(TICK);
                loop {
                    interval.tick().await;
                    recorder.borrow_mut().tick(Instant::now());
                }
            })
        };
        for task in tasks {
            // A lane that panicked loses its in-flight request, not the run.
            let _ = task.await;
        }
        ticker.abort();
        let _ = ticker.await;
        let ended = Instant::now();
        let iterations = match &source {
            Source::Open(backlog) => {
                let stopped = plan.stop.load(Ordering::Relaxed);
                let counts = backlog.borrow_mut().finish(stopped);
                recorder.borrow_mut().note_generator(counts);
                backlog.borrow().taken()
            }
            Source::Closed(dispenser) => dispenser.as_ref().map_or(0, |d| d.borrow().taken()),
        };
        recorder.borrow_mut().finish(ended);
        let first_error = workload.first_error();
        drop(source);
        let recorder = Rc::try_unwrap(recorder).ok()?.into_inner();
        Some(WorkerResult {
            recorder,
            ended,
            iterations,
            first_error,
        })
    })
}
