//! A load session: what a command loads, opened once — the target
//! (embedded servers started on a control runtime, which keeps serving
//! while the workers run on their own threads) or the URL (resolved,
//! request bytes built) — checked to answer, with Ctrl-C wired to stop it,
//! then run one phase at a time. Its failures are [`LoadError`]s; it
//! writes nothing but progress and notes to the stream it is given.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Target, TargetSpec};
use crate::load::command::LoadError;
use crate::load::flow::{FlowPlan, FlowSpec};
use crate::load::http::{HttpSpec, HttpTemplate};
use crate::load::phase::{run_phase, PhasePlan, PhaseResult};
use crate::load::progress::{Output, Reporter};
use crate::load::recorder::Recorder;
use crate::load::schedule::Model;
use crate::load::shard::Shard;
use crate::load::worker::WorkloadSpec;
use crate::report::model::{GeneratorReport, RunInfo};
use crate::report::text::rate;
use crate::server::StoreSpec;
use crate::vars::Vars;

/// What a run loads.
#[derive(Debug, Clone)]
pub enum WorkloadChoice {
    /// Plain HTTP, one request per iteration (`--url`).
    Url(HttpTemplate),
    /// The OTP flow through a dialect's client side (`--dialect`,
    /// `--target`); `label` names the target in reports.
    Otp {
        /// Boxed: a target spec is large, and options are built once.
        target: Box<TargetSpec>,
        label: String,
        plan: FlowPlan,
    },
}

/// What `load` and `capacity` share: what to load and how to run it.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub workload: WorkloadChoice,
    /// Open model: requests (or flows) in flight at most.
    pub connections: u32,
    /// Worker threads (each with its own runtime).
    pub workers: u32,
    /// Longest wait for one request; also how long unsent open-model
    /// arrivals may still go out after the schedule's end.
    pub timeout: Duration,
    /// Open model: busy-wait this long before each intended start
    /// instead of sleeping (zero: sleep to the deadline).
    pub spin: Duration,
    pub shard: Shard,
    /// The run directory; `reports/<start time>/` without it.
    pub report_dir: Option<PathBuf>,
    pub output: Output,
    /// As typed, for the report.
    pub command_line: Vec<String>,
    /// Where the files' `${env.…}` and `${var.…}` came from: their values
    /// are masked in the report.
    pub vars: Arc<Vars>,
}

/// The highest rate one worker thread is given, per second: a raw
/// loopback exchange costs it at least two system calls and a wake-up, a
/// few microseconds, so more could only queue inside the generator.
pub const MAX_RATE_PER_WORKER: f64 = 500_000.0;

/// What a session loads, opened.
enum Loaded {
    Url(Arc<HttpSpec>),
    Otp { target: Arc<Target>, plan: FlowPlan },
}

/// A run in progress: the control runtime (embedded servers live on
/// it), what is loaded, and the stop flag Ctrl-C sets.
pub(super) struct LoadSession<'a> {
    pub(super) control: tokio::runtime::Runtime,
    loaded: Loaded,
    pub(super) label: String,
    dialect: Option<String>,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) options: &'a SessionOptions,
    /// Iterations run so far, so later phases go on through the pool.
    iterations: u64,
}

impl<'a> LoadSession<'a> {
    /// Opens the workload and checks that the target answers.
    pub(super) fn open(options: &'a SessionOptions) -> Result<LoadSession<'a>, LoadError> {
        let control = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("otpbench-control")
            .build()
            .map_err(|e| LoadError::Setup(format!("cannot start the runtime: {e}")))?;
        let (loaded, label, dialect) = match &options.workload {
            WorkloadChoice::Url(template) => {
                let spec = control
                    .block_on(HttpSpec::new(template, options.timeout))
                    .map_err(|e| LoadError::Setup(format!("--url: {e}")))?;
                if let Err(why) = control.block_on(spec.probe()) {
                    return Err(LoadError::Unreachable(format!(
                        "{} is unreachable: {why}",
                        template.label()
                    )));
                }
                (Loaded::Url(Arc::new(spec)), template.label(), None)
            }
            WorkloadChoice::Otp {
                target,
                label,
                plan,
            } => {
                let dialect = target.dialect.name().to_string();
                let opened = control
                    .block_on(Target::open((**target).clone(), &StoreSpec::Memory))
                    .map_err(|e| LoadError::Setup(format!("cannot open target {label}: {e}")))?;
                if let Err(why) = control.block_on(opened.probe()) {
                    return Err(LoadError::Unreachable(format!(
                        "target {label} ({}) is unreachable: {why}",
                        opened.base()
                    )));
                }
                let loaded = Loaded::Otp {
                    target: Arc::new(opened),
                    plan: plan.clone(),
                };
                (loaded, label.clone(), Some(dialect))
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        control.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::Relaxed);
                eprintln!("\nstopping: finishing requests in flight (Ctrl-C again to quit now)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        Ok(LoadSession {
            control,
            loaded,
            label,
            dialect,
            stop,
            options,
            iterations: 0,
        })
    }

    /// Whether Ctrl-C asked the run to stop.
    pub(super) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// A URL on the loaded host: `path` alone is joined to the target's
    /// (or the `--url`'s) scheme and authority.
    pub(super) fn resolve(&self, url: &str) -> String {
        if !url.starts_with('/') {
            return url.to_string();
        }
        match (&self.loaded, &self.options.workload) {
            (Loaded::Otp { target, .. }, _) => target.base().join(url),
            (_, WorkloadChoice::Url(template)) => match template.url.parse::<hyper::Uri>() {
                Ok(uri) => format!(
                    "{}://{}{url}",
                    uri.scheme_str().unwrap_or("http"),
                    uri.authority().map_or("", |a| a.as_str())
                ),
                Err(_) => url.to_string(),
            },
            _ => url.to_string(),
        }
    }

    pub(super) fn plan(&self, model: Model) -> PhasePlan {
        PhasePlan {
            model: Arc::new(model),
            shard: self.options.shard,
            workers: self.options.workers,
            connections: self.options.connections,
            grace: self.options.timeout,
            stop: self.stop.clone(),
            spin: self.options.spin,
        }
    }

    /// `model`, or, when its rate is above what this generator's workers
    /// can dispatch ([`MAX_RATE_PER_WORKER`] each), the same schedule
    /// held to that rate, noted on `progress`; with the rate asked for.
    pub(super) fn offered(&self, model: Model, progress: &mut dyn Write) -> (Model, Option<f64>) {
        let Model::Open(open) = &model else {
            return (model, None);
        };
        let workers = self.plan(model.clone()).effective_workers();
        let shards = f64::from(self.options.shard.count);
        let max = MAX_RATE_PER_WORKER * f64::from(workers) * shards;
        match open.capped(max) {
            Some(capped) => {
                let asked = open.peak_rate();
                let _ = writeln!(
                    progress,
                    "note: a rate of {} is more than {workers} worker(s) can dispatch ({} \
                     each): offering {} instead (the report says so)",
                    rate(asked / shards),
                    rate(MAX_RATE_PER_WORKER),
                    rate(max / shards)
                );
                (Model::Open(capped), Some(asked))
            }
            None => (model, None),
        }
    }

    /// Runs the main workload under `model`, its progress on `progress`.
    pub(super) fn phase(
        &mut self,
        model: Model,
        label: &str,
        progress: &mut dyn Write,
    ) -> Result<PhaseResult, LoadError> {
        let plan = self.plan(model);
        let output = self.options.output;
        let result = match &self.loaded {
            Loaded::Url(spec) => watch(spec.clone(), &plan, output, label, progress),
            Loaded::Otp { target, plan: flow } => {
                let spec = FlowSpec::new(target.clone(), flow.clone(), self.iterations);
                watch(Arc::new(spec), &plan, output, label, progress)
            }
        }
        .map_err(LoadError::PhaseFailed)?;
        self.iterations += result.iterations;
        Ok(result)
    }

    /// The reference phase: GET `url` under `model`; its label and result.
    pub(super) fn reference(
        &self,
        model: &Model,
        url: &str,
        progress: &mut dyn Write,
    ) -> Result<(String, PhaseResult), LoadError> {
        let url = self.resolve(url);
        let template = HttpTemplate::get(&url);
        let spec = self
            .control
            .block_on(HttpSpec::new(&template, self.options.timeout))
            .map_err(|e| LoadError::Setup(format!("--reference-url: {e}")))?;
        if let Err(why) = self.control.block_on(spec.probe()) {
            return Err(LoadError::Unreachable(format!(
                "reference {url} is unreachable: {why}"
            )));
        }
        let plan = self.plan(model.clone());
        let result = watch(
            Arc::new(spec),
            &plan,
            self.options.output,
            "reference",
            progress,
        )
        .map_err(LoadError::PhaseFailed)?;
        Ok((template.label(), result))
    }

    /// What the report says of the run whose main phase `result` is.
    pub(super) fn run_info(
        &self,
        model: &Model,
        stages: &[String],
        workers: u32,
        result: &PhaseResult,
    ) -> RunInfo {
        let mut run = RunInfo::now(self.options.command_line.clone());
        run.started_at = crate::report::model::rfc3339(result.started_at);
        run.target = Some(self.label.clone());
        run.dialect = self.dialect.clone();
        run.model = Some(model.name().to_string());
        match model {
            Model::Open(m) => run.rate_rps = Some(m.peak_rate()),
            Model::Closed(m) => run.concurrency = Some(m.peak()),
        }
        run.stages = stages.to_vec();
        run.planned_duration_s = Some(model.duration().as_secs_f64());
        if self.options.shard.count > 1 {
            run.shard = Some(self.options.shard.to_string());
        }
        run.workers = Some(workers);
        run
    }
}

/// The generator's figures of an open-model phase; `None` for a closed one.
pub(super) fn generator_section(
    plan: &PhasePlan,
    recorder: &Recorder,
    clamped_from: Option<f64>,
) -> Option<GeneratorReport> {
    let Model::Open(model) = &*plan.model else {
        return None;
    };
    let shard = plan.shard;
    let total = model.total_arrivals();
    let arrivals = if total > u64::from(shard.index) {
        (total - u64::from(shard.index)).div_ceil(u64::from(shard.count))
    } else {
        0
    };
    Some(GeneratorReport {
        arrivals,
        queued: recorder.generator().queued,
        late: recorder.generator().late,
        connections: plan.connections,
        workers: plan.effective_workers(),
        clamped_from_rps: clamped_from,
    })
}

/// Runs a phase with progress on `progress`.
fn watch<S: WorkloadSpec>(
    spec: Arc<S>,
    plan: &PhasePlan,
    output: Output,
    label: &str,
    progress: &mut dyn Write,
) -> Result<PhaseResult, String> {
    let mut reporter = Reporter::new(output, label, plan.model.duration(), progress);
    let result = run_phase(spec, plan, |seen, elapsed| reporter.update(seen, elapsed));
    reporter.finish();
    result
}
