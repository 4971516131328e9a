//! `otpbench fuzz`: generated bad input at every endpoint of a target's
//! dialect (DESIGN.md §1 `check/`, §7).
//!
//! - [`crate::check::fuzz_case`] — what is generated (one bad request
//!   described against the dialect's valid one) and how an answer is
//!   judged.
//! - [`crate::check::fuzz_save`] — a shrunk counterexample as a scenario.
//!
//! Proptest's `TestRunner` is driven programmatically, as `check` drives
//! it: a case of the search is a *batch* of 1 to [`BATCH`] bad requests
//! followed by a correct flow (a send and a verify with the right code,
//! run by `check`'s executor against the model; tried once more before
//! the target is declared to have stopped serving). A batch fails at the
//! first answer that breaks a property, or when the flow fails twice; it
//! is then shrunk — every candidate re-run on the target with a fresh
//! recipient — to the fewest, plainest requests that still fail, and the
//! minimal batch is run [`RERUNS`] more times (one that never fails again
//! is reported as non-deterministic). `--cases N` counts bad requests:
//! the search stops sending once N have been sent. Nothing here prints.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::check::exec::Executor;
use crate::check::fuzz_case::{self, Case, Property};
pub use crate::check::fuzz_case::{FuzzTrace, Sent};
use crate::check::program::{CodeChoice, Op};
use crate::check::{open, CheckError, RunHead, RERUNS};
use crate::client::{Target, TargetSpec};
use crate::scenario::variables::{fresh, FreshKind};
use crate::server::StoreSpec;

/// The most bad requests in one batch (before its correct flow).
pub const BATCH: usize = 16;

/// Shrink candidates that may hang (each costs the target's timeout)
/// before the shrinker keeps the smallest it has.
pub const HANG_BUDGET: u64 = 12;

/// What one `fuzz` run does.
#[derive(Debug, Clone)]
pub struct FuzzOptions {
    pub spec: TargetSpec,
    /// Where an embedded engine keeps its state.
    pub store: StoreSpec,
    /// Bad requests to send (before a failure).
    pub cases: u32,
    pub seed: u64,
}

/// How far a run has come, for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct FuzzProgress {
    /// Bad requests sent, shrink candidates' included.
    pub requests: u64,
    /// Batches that failed so far.
    pub failures: u64,
}

/// A failure, shrunk.
#[derive(Debug, Clone)]
pub struct FuzzFailure {
    /// The minimal batch as it last failed (or, if it never did again, as
    /// the shrinker saw it fail).
    pub trace: FuzzTrace,
    /// Requests in the first batch that failed.
    pub original_requests: usize,
    /// Re-runs of the minimal batch that failed, of [`RERUNS`].
    pub reproduced: u32,
    pub found_after: Duration,
    pub shrunk_after: Duration,
    /// The scenario file that replays it.
    pub scenario: String,
}

impl FuzzFailure {
    /// No re-run failed: the target answers one batch two ways.
    pub fn flaky(&self) -> bool {
        self.reproduced == 0
    }
}

/// What a `fuzz` run found.
#[derive(Debug, Clone)]
pub struct FuzzReport {
    /// Its cases are the bad requests sent before the verdict (the
    /// failing batch's included), shrinking and re-runs not counted.
    pub head: RunHead,
    /// Every bad request sent, shrink candidates and re-runs included.
    pub requests: u64,
    /// Correct flows run (retries included).
    pub flows: u64,
    /// How many answers read as each outcome (or `5xx`, `no answer`, …),
    /// before the first failure: what the run exercised.
    pub seen: std::collections::BTreeMap<String, u64>,
    pub failure: Option<FuzzFailure>,
}

/// Sends `options.cases` bad requests to the target (opened here),
/// shrinking the first batch that fails. `progress` is called after every
/// batch. Must be called on a multi-thread runtime.
pub async fn fuzz(
    options: FuzzOptions,
    progress: impl Fn(FuzzProgress) + Send + Sync + 'static,
) -> Result<FuzzReport, CheckError> {
    let target = open(options.spec.clone(), &options.store).await?;
    run_on(target, &options, progress).await
}

/// Runs batches on one target.
pub struct Runner {
    target: Arc<Target>,
    flow: Executor,
}

impl Runner {
    pub fn new(target: Arc<Target>) -> Runner {
        Runner {
            flow: Executor::new(target.clone()),
            target,
        }
    }

    /// Runs `batch` (its first `limit` requests), stopping at the first
    /// answer that breaks a property, then the correct flow (twice if the
    /// first fails).
    pub async fn run(&self, batch: &[Case], limit: usize, seen: &Seen) -> FuzzTrace {
        let dialect = self.target.dialect();
        let to = fresh(dialect, FreshKind::Phone);
        let mut trace = FuzzTrace {
            to: to.clone(),
            ..FuzzTrace::default()
        };
        let session = self.target.current_session().await.unwrap_or_default();
        let policy = &self.target.spec.policy;
        let code = "1".repeat(policy.length.max(1) as usize);
        for case in batch.iter().take(limit) {
            let base = fuzz_case::base_request(
                dialect,
                case.route,
                &self.target.spec.credentials,
                &session,
                &to,
                &code,
            );
            let path = case.path(dialect, &base);
            let body = fuzz_case::body_bytes(&case.body, &base.body, &to);
            let headers = fuzz_case::headers(case, &base);
            let answer = self
                .target
                .raw(case.verb.method(), path, &headers, body.into())
                .await;
            let (observed, broke) = fuzz_case::judge(dialect, case, &answer);
            seen.count(&observed, broke);
            trace.sent.push(Sent {
                case: case.clone(),
                what: case.describe(dialect, &fuzz_case::fields(&base.body)),
                line: format!("{} {path}", case.verb.name()),
                observed,
                broke,
            });
            if broke.is_some() {
                return trace;
            }
        }
        let program = [
            Op::Send { key: (0, 0) },
            Op::Verify {
                key: (0, 0),
                code: CodeChoice::Right,
            },
        ];
        for _ in 0..2 {
            seen.flows.fetch_add(1, Ordering::Relaxed);
            let flow = self.flow.run(&program).await;
            let ok = flow.failed.is_none();
            trace.flow = Some(flow);
            if ok {
                return trace;
            }
        }
        trace.stopped = true;
        trace
    }
}

/// Counts of what the answers read as.
#[derive(Default)]
pub struct Seen {
    outcomes: Mutex<std::collections::BTreeMap<String, u64>>,
    flows: AtomicU64,
    /// Counting stops at the first failure (shrinking repeats it).
    frozen: std::sync::atomic::AtomicBool,
}

impl Seen {
    fn count(&self, observed: &str, broke: Option<Property>) {
        if self.frozen.load(Ordering::Relaxed) {
            return;
        }
        let name = match broke {
            Some(property) => format!("broke: {}", property.name()),
            None => observed
                .split(" (")
                .next()
                .filter(|n| !n.starts_with("HTTP") && !n.contains(' '))
                .map(str::to_string)
                .unwrap_or_else(|| observed.split(' ').take(2).collect::<Vec<_>>().join(" ")),
        };
        let mut held = self.outcomes.lock().unwrap_or_else(|e| e.into_inner());
        *held.entry(name).or_insert(0) += 1;
    }
}

/// [`fuzz`] on a target already open.
pub async fn run_on(
    target: Arc<Target>,
    options: &FuzzOptions,
    progress: impl Fn(FuzzProgress) + Send + Sync + 'static,
) -> Result<FuzzReport, CheckError> {
    let started = Instant::now();
    let runner = Arc::new(Runner::new(target.clone()));
    let handle = tokio::runtime::Handle::current();
    let (cases, seed) = (options.cases, options.seed);
    let shared = Arc::new(Shared::default());
    let token = target.dialect().has_login();
    // A target that fails the correct flow before any bad input is
    // reported so, not blamed on the first batch.
    let before = runner.run(&[], 0, &shared.seen).await;
    let searched = if before.stopped {
        let mut failing = shared.failing.lock().unwrap_or_else(|e| e.into_inner());
        failing.found_after = Some(started.elapsed());
        failing.last = Some(before);
        Some(Vec::new())
    } else {
        let (runner, shared) = (runner.clone(), shared.clone());
        tokio::task::spawn_blocking(move || {
            search(token, cases, seed, &runner, &handle, &shared, &progress)
        })
        .await
        .map_err(|e| CheckError::Setup(format!("the fuzz panicked: {e}")))?
        .map_err(CheckError::Setup)?
    };
    let mut report = FuzzReport {
        head: RunHead::of(&target, seed, shared.cases.load(Ordering::Relaxed)),
        requests: shared.requests.load(Ordering::Relaxed),
        flows: 0,
        seen: Default::default(),
        failure: None,
    };
    if let Some(batch) = searched {
        let shrunk_after = started.elapsed();
        let (last, original_requests, found_after) = {
            let held = shared.failing.lock().unwrap_or_else(|e| e.into_inner());
            (
                held.last.clone().unwrap_or_default(),
                held.original_requests,
                held.found_after.unwrap_or(shrunk_after),
            )
        };
        let mut reproduced = 0;
        let mut trace = last;
        for _ in 0..RERUNS {
            let again = runner.run(&batch, batch.len(), &shared.seen).await;
            report.requests += again.sent.len() as u64;
            if again.failed() {
                reproduced += 1;
                trace = again;
            }
        }
        let scenario = crate::check::fuzz_save::scenario(&target.spec, seed, &trace);
        report.failure = Some(FuzzFailure {
            trace,
            original_requests,
            reproduced,
            found_after,
            shrunk_after,
            scenario,
        });
    }
    report.flows = shared.seen.flows.load(Ordering::Relaxed);
    report.seen = shared
        .seen
        .outcomes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    report.head.elapsed = started.elapsed();
    Ok(report)
}

#[derive(Default)]
struct Shared {
    cases: AtomicU64,
    requests: AtomicU64,
    failures: AtomicU64,
    /// Shrink candidates that hung.
    hangs: AtomicU64,
    seen: Seen,
    failing: Mutex<Failing>,
}

#[derive(Default)]
struct Failing {
    last: Option<FuzzTrace>,
    original_requests: usize,
    found_after: Option<Duration>,
}

/// Proptest's search and shrink; the minimal failing batch, if any.
fn search(
    token: bool,
    cases: u32,
    seed: u64,
    runner: &Runner,
    handle: &tokio::runtime::Handle,
    shared: &Shared,
    progress: &(impl Fn(FuzzProgress) + Send + Sync),
) -> Result<Option<Vec<Case>>, String> {
    let started = Instant::now();
    let config = Config {
        // Batches hold one request or more: `cases` batches are always
        // enough, and those past the budget send nothing.
        cases,
        failure_persistence: None,
        max_shrink_iters: 2_048,
        max_shrink_time: 60_000,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    bytes[8..13].copy_from_slice(b"fuzz\0");
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut test_runner = TestRunner::new_with_rng(config, rng);
    let strategy = prop::collection::vec(fuzz_case::any_case(token), 1..=BATCH);
    let budget = cases as u64;
    let result = test_runner.run(&strategy, |batch| {
        let shrinking = shared
            .failing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .found_after
            .is_some();
        if shrinking && shared.hangs.load(Ordering::Relaxed) >= HANG_BUDGET {
            // Each hanging candidate costs the whole timeout: past the
            // budget the shrinker keeps what it has.
            return Ok(());
        }
        let limit = if shrinking {
            batch.len()
        } else {
            let left = budget.saturating_sub(shared.cases.load(Ordering::Relaxed));
            if left == 0 {
                return Ok(());
            }
            batch.len().min(left as usize)
        };
        let trace = handle.block_on(runner.run(&batch[..limit], limit, &shared.seen));
        let sent = trace.sent.len() as u64;
        shared.requests.fetch_add(sent, Ordering::Relaxed);
        if !shrinking {
            shared.cases.fetch_add(sent, Ordering::Relaxed);
        }
        let failed = trace.failed();
        if shrinking && matches!(trace.broken(), Some((_, Property::NoHang))) {
            shared.hangs.fetch_add(1, Ordering::Relaxed);
        }
        if failed {
            shared.failures.fetch_add(1, Ordering::Relaxed);
            shared.seen.frozen.store(true, Ordering::Relaxed);
            let mut failing = shared.failing.lock().unwrap_or_else(|e| e.into_inner());
            if failing.found_after.is_none() {
                failing.found_after = Some(started.elapsed());
                failing.original_requests = trace.sent.len();
            }
            failing.last = Some(trace);
        }
        progress(FuzzProgress {
            requests: shared.requests.load(Ordering::Relaxed),
            failures: shared.failures.load(Ordering::Relaxed),
        });
        if failed {
            Err(TestCaseError::fail("broke a property"))
        } else {
            Ok(())
        }
    });
    match result {
        Ok(()) => Ok(None),
        Err(TestError::Fail(_, batch)) => {
            // The shrinker may keep requests after the failing one: they
            // never ran, so they are not part of the counterexample.
            let held = shared.failing.lock().unwrap_or_else(|e| e.into_inner());
            let ran = held.last.as_ref().map_or(batch.len(), |t| t.sent.len());
            Ok(Some(batch.into_iter().take(ran.max(1)).collect()))
        }
        Err(TestError::Abort(why)) => Err(format!("the search stopped: {why}")),
    }
}
