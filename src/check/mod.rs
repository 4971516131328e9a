//! `otpbench check`: model-based random testing of any OTP service over
//! its wire (DESIGN.md §1 `check/`, §7).
//!
//! - [`model`] — DESIGN.md §2 once, as code, parameterised by a policy.
//! - [`program`] — random programs (sends, verifies with right, wrong,
//!   older and foreign codes, clock moves, parallel bursts) and their
//!   shrinking.
//! - [`exec`] — runs a program on a target through the client, judging
//!   each answer by the model (the one place that knows the executor).
//! - [`save`] — a shrunk counterexample as a scenario file that
//!   `otpbench run --target` replays.
//! - [`fuzz`] — `otpbench fuzz`: generated bad input at every endpoint
//!   ([`fuzz_case`]), failures saved as scenarios ([`fuzz_save`]).
//!
//! [`check`] drives proptest's `TestRunner` programmatically: the seed
//! makes a run reproducible, and every shrink candidate is re-run on the
//! target with fresh recipients. A minimal counterexample is run again
//! before it is reported; one that never diverges again is reported as
//! non-deterministic (a flaky target), never shrunk away. Nothing here
//! prints: the CLI renders a [`CheckReport`].

pub mod exec;
pub mod fuzz;
pub mod fuzz_case;
pub mod fuzz_save;
pub mod model;
pub mod program;
pub mod save;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

use crate::client::{Capability, Target, TargetSpec};
use crate::server::StoreSpec;

use exec::{Executor, Trace};
use model::ModelPolicy;
use program::{Op, Plan};

/// Times a minimal counterexample is run again before it is reported.
pub const RERUNS: u32 = 3;

/// What one `check` run does.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub spec: TargetSpec,
    /// Where an embedded engine keeps its state.
    pub store: StoreSpec,
    /// Programs to run (before a divergence).
    pub cases: u32,
    pub seed: u64,
    /// The longest program.
    pub max_steps: usize,
}

/// How far a run has come, for a progress line.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Programs run, shrink candidates included.
    pub runs: u64,
    /// Programs that diverged from the model so far.
    pub divergences: u64,
}

/// A divergence, shrunk.
#[derive(Debug, Clone)]
pub struct Counterexample {
    /// The minimal program.
    pub program: Vec<Op>,
    /// How it ran when it last diverged (or, if it never did again, when
    /// the shrinker saw it diverge).
    pub trace: Trace,
    /// Steps of the first program that diverged.
    pub original_steps: usize,
    /// Re-runs of the minimal program that diverged, of [`RERUNS`].
    pub reproduced: u32,
    /// From the start to the first divergence, and to the end of
    /// shrinking.
    pub found_after: Duration,
    pub shrunk_after: Duration,
    /// The scenario file that replays it.
    pub scenario: String,
}

impl Counterexample {
    /// No re-run diverged: the target answers one program two ways.
    pub fn flaky(&self) -> bool {
        self.reproduced == 0
    }
}

/// What every `check` and `fuzz` report says first: the target, its
/// dialect, the seed, how many cases ran before the verdict and how long
/// the whole run took.
#[derive(Debug, Clone)]
pub struct RunHead {
    pub target: String,
    pub dialect: crate::dialect::Dialect,
    pub seed: u64,
    /// Programs (`check`) or bad requests (`fuzz`) run before the
    /// verdict, the failing one's included.
    pub cases: u64,
    pub elapsed: Duration,
}

impl RunHead {
    /// The head of a run on `target`, its time not taken yet.
    pub(crate) fn of(target: &Target, seed: u64, cases: u64) -> RunHead {
        RunHead {
            target: target.spec.name.clone(),
            dialect: target.dialect(),
            seed,
            cases,
            elapsed: Duration::ZERO,
        }
    }

    /// Cases per second over the run.
    pub fn per_second(&self) -> f64 {
        self.cases as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What a `check` run found.
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub head: RunHead,
    /// Every program run, shrink candidates and re-runs included.
    pub runs: u64,
    /// `None`: no divergence in `cases` programs.
    pub counterexample: Option<Counterexample>,
    /// Why programs hold no clock moves, if they do not.
    pub no_clock: Option<String>,
}

/// Why a check could not run.
#[derive(Debug)]
pub enum CheckError {
    /// Nothing answers at the target's address.
    Unreachable { target: String, why: String },
    /// The setup cannot work (a port that cannot be bound…).
    Setup(String),
}

impl std::fmt::Display for CheckError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckError::Unreachable { target, why } => {
                write!(f, "target `{target}` is unreachable: {why}")
            }
            CheckError::Setup(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for CheckError {}

/// Opens the target and checks that it answers.
pub async fn open(spec: TargetSpec, store: &StoreSpec) -> Result<Arc<Target>, CheckError> {
    let name = spec.name.clone();
    let target = Target::open(spec, store).await.map_err(CheckError::Setup)?;
    let unreachable = |why: String| CheckError::Unreachable {
        target: name.clone(),
        why,
    };
    target
        .probe()
        .await
        .map_err(|e| unreachable(e.to_string()))?;
    target
        .probe_provider()
        .await
        .map_err(|e| unreachable(format!("its provider: {e}")))?;
    Ok(Arc::new(target))
}

/// The plan programs are drawn from for `target`.
pub fn plan(target: &Target, max_steps: usize) -> Plan {
    let spec = &target.spec;
    Plan::new(
        &ModelPolicy::of(&spec.policy),
        exec::has_purposes(spec.dialect),
        spec.has(Capability::Clock),
        max_steps,
    )
}

/// Runs `options.cases` random programs on the target (opened here),
/// shrinking the first that diverges. `progress` is called after every
/// program. Must be called on a multi-thread runtime.
pub async fn check(
    options: CheckOptions,
    progress: impl Fn(Progress) + Send + Sync + 'static,
) -> Result<CheckReport, CheckError> {
    let target = open(options.spec.clone(), &options.store).await?;
    run_on(target, &options, progress).await
}

/// [`check`] on a target already open.
pub async fn run_on(
    target: Arc<Target>,
    options: &CheckOptions,
    progress: impl Fn(Progress) + Send + Sync + 'static,
) -> Result<CheckReport, CheckError> {
    let started = Instant::now();
    let plan = plan(&target, options.max_steps);
    let no_clock =
        (!target.spec.has(Capability::Clock)).then(|| target.spec.lack_reason(Capability::Clock));
    let executor = Arc::new(Executor::new(target.clone()));
    let handle = tokio::runtime::Handle::current();
    let (cases, seed) = (options.cases, options.seed);
    let shared = Arc::new(Shared::default());
    let searched = {
        let (executor, shared) = (executor.clone(), shared.clone());
        let handle = handle.clone();
        tokio::task::spawn_blocking(move || {
            search(&plan, cases, seed, &executor, &handle, &shared, &progress)
        })
        .await
        .map_err(|e| CheckError::Setup(format!("the check panicked: {e}")))?
        .map_err(CheckError::Setup)?
    };
    let mut report = CheckReport {
        head: RunHead::of(&target, seed, shared.cases.load(Ordering::Relaxed)),
        runs: shared.runs.load(Ordering::Relaxed),
        counterexample: None,
        no_clock,
    };
    if let Some(program) = searched {
        let shrunk_after = started.elapsed();
        let (last, original_steps, found_after) = {
            let held = shared.failing.lock().unwrap_or_else(|e| e.into_inner());
            (
                held.last.clone().unwrap_or_default(),
                held.original_steps,
                held.found_after.unwrap_or(shrunk_after),
            )
        };
        let mut reproduced = 0;
        let mut trace = last;
        for _ in 0..RERUNS {
            let again = executor.run(&program).await;
            report.runs += 1;
            if again.failed.is_some() {
                reproduced += 1;
                trace = again;
            }
        }
        let scenario = save::scenario(&target.spec, seed, &trace);
        report.counterexample = Some(Counterexample {
            program,
            trace,
            original_steps,
            reproduced,
            found_after,
            shrunk_after,
            scenario,
        });
    }
    report.head.elapsed = started.elapsed();
    Ok(report)
}

#[derive(Default)]
struct Shared {
    cases: AtomicU64,
    runs: AtomicU64,
    divergences: AtomicU64,
    failing: Mutex<Failing>,
}

#[derive(Default)]
struct Failing {
    /// The newest failing run: the shrinker's current minimum.
    last: Option<Trace>,
    original_steps: usize,
    found_after: Option<Duration>,
}

/// Proptest's search and shrink; the minimal failing program, if any.
fn search(
    plan: &Plan,
    cases: u32,
    seed: u64,
    executor: &Executor,
    handle: &tokio::runtime::Handle,
    shared: &Shared,
    progress: &(impl Fn(Progress) + Send + Sync),
) -> Result<Option<Vec<Op>>, String> {
    let started = Instant::now();
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 4_096,
        max_shrink_time: 120_000,
        ..Config::default()
    };
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &bytes);
    let mut runner = TestRunner::new_with_rng(config, rng);
    let result = runner.run(&plan.strategy(), |program| {
        let trace = handle.block_on(executor.run(&program));
        shared.runs.fetch_add(1, Ordering::Relaxed);
        let mut failing = shared.failing.lock().unwrap_or_else(|e| e.into_inner());
        if failing.found_after.is_none() {
            shared.cases.fetch_add(1, Ordering::Relaxed);
        }
        let diverged = trace.failed.is_some();
        if diverged {
            shared.divergences.fetch_add(1, Ordering::Relaxed);
            if failing.found_after.is_none() {
                failing.found_after = Some(started.elapsed());
                failing.original_steps = program.len();
            }
            failing.last = Some(trace);
        }
        drop(failing);
        progress(Progress {
            runs: shared.runs.load(Ordering::Relaxed),
            divergences: shared.divergences.load(Ordering::Relaxed),
        });
        if diverged {
            Err(TestCaseError::fail("diverged from the model"))
        } else {
            Ok(())
        }
    });
    match result {
        Ok(()) => Ok(None),
        Err(TestError::Fail(_, program)) => Ok(Some(program)),
        Err(TestError::Abort(why)) => Err(format!("the search stopped: {why}")),
    }
}
