//! `otpbench load` and `otpbench capacity` as library commands: validated
//! options in ([`LoadOptions`], [`CapacityOptions`]), a report directory
//! written and the process exit code out ([`crate::cli::exit`]).
//!
//! A command opens what it loads once — the target (embedded servers
//! started on a control runtime, which keeps serving while the workers
//! run on their own threads) or the URL (resolved, request bytes built) —
//! checks that it answers (exit 3 if not), runs its phases
//! (`crate::load::run`), builds the report, evaluates the gates (a
//! breach is exit 5) and writes `reports/<run>/`. The clap side is
//! `crate::cli::load`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::cli::exit;
use crate::client::{Target, TargetSpec};
use crate::load::build;
use crate::load::capacity::{self, CapacityPlan};
use crate::load::flow::{FlowPlan, FlowSpec};
use crate::load::http::{HttpSpec, HttpTemplate};
use crate::load::phase::{run_phase, PhasePlan, PhaseResult};
use crate::load::progress::{Output, Reporter};
use crate::load::recorder::{Tally, Transport};
use crate::load::schedule::{Model, OpenModel};
use crate::load::shard::Shard;
use crate::load::soak::{self, SoakPlan, SoakReport};
use crate::load::worker::WorkloadSpec;
use crate::report::gate::{self, Gate};
use crate::report::model::GateResult;
use crate::report::model::{GeneratorReport, Report};
use crate::report::text::{latency, outcomes, percent, rate};
use crate::report::RunInfo;
use crate::report::{dir, json};
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

/// What `load` and `capacity` share.
#[derive(Debug, Clone)]
pub struct RunOptions {
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

/// `otpbench load`.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub run: RunOptions,
    pub model: Model,
    /// Stages as given, for the report.
    pub stages: Vec<String>,
    /// A second workload measured in the same run: a URL, or a path on
    /// the target's (or `--url`'s) host.
    pub reference: Option<String>,
    pub gates: Vec<Gate>,
    /// `--baseline FILE --max-regression PCT` (a fraction: 0.1 for 10%).
    pub baseline: Option<(PathBuf, f64)>,
    /// `--soak WINDOW`: run in windows and report the trends.
    pub soak: Option<SoakPlan>,
}

/// `otpbench capacity`.
#[derive(Debug, Clone)]
pub struct CapacityOptions {
    pub run: RunOptions,
    pub plan: CapacityPlan,
    /// How long each rate is offered.
    pub step_duration: Duration,
}

/// What a run loads, opened.
enum Opened {
    Url(Arc<HttpSpec>),
    Otp { target: Arc<Target>, plan: FlowPlan },
}

/// A run in progress: the control runtime (embedded servers live on
/// it), what is loaded, and the stop flag Ctrl-C sets.
struct Session<'a> {
    control: tokio::runtime::Runtime,
    opened: Opened,
    label: String,
    dialect: Option<String>,
    stop: Arc<AtomicBool>,
    options: &'a RunOptions,
    /// Iterations run so far, so later phases go on through the pool.
    iterations: u64,
}

impl<'a> Session<'a> {
    /// Opens the workload and checks that the target answers.
    fn open(options: &'a RunOptions, err: &mut dyn Write) -> Result<Session<'a>, i32> {
        let control = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("otpbench-control")
            .build()
            .map_err(|e| {
                let _ = writeln!(err, "error: cannot start the runtime: {e}");
                exit::USAGE
            })?;
        let (opened, label, dialect) = match &options.workload {
            WorkloadChoice::Url(template) => {
                let spec = control
                    .block_on(HttpSpec::new(template, options.timeout))
                    .map_err(|e| {
                        let _ = writeln!(err, "error: --url: {e}");
                        exit::USAGE
                    })?;
                if let Err(why) = control.block_on(spec.probe()) {
                    let _ = writeln!(err, "error: {} is unreachable: {why}", template.label());
                    return Err(exit::UNREACHABLE);
                }
                (Opened::Url(Arc::new(spec)), template.label(), None)
            }
            WorkloadChoice::Otp {
                target,
                label,
                plan,
            } => {
                let dialect = target.dialect.name().to_string();
                let opened = control
                    .block_on(Target::open((**target).clone(), &StoreSpec::Memory))
                    .map_err(|e| {
                        let _ = writeln!(err, "error: cannot open target {label}: {e}");
                        exit::USAGE
                    })?;
                if let Err(why) = control.block_on(opened.probe()) {
                    let _ = writeln!(
                        err,
                        "error: target {label} ({}) is unreachable: {why}",
                        opened.base()
                    );
                    return Err(exit::UNREACHABLE);
                }
                let opened = Opened::Otp {
                    target: Arc::new(opened),
                    plan: plan.clone(),
                };
                (opened, label.clone(), Some(dialect))
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
        Ok(Session {
            control,
            opened,
            label,
            dialect,
            stop,
            options,
            iterations: 0,
        })
    }

    /// A URL on the loaded host: `path` alone is joined to the target's
    /// (or the `--url`'s) scheme and authority.
    fn resolve(&self, url: &str) -> String {
        if !url.starts_with('/') {
            return url.to_string();
        }
        match (&self.opened, &self.options.workload) {
            (Opened::Otp { target, .. }, _) => target.base().join(url),
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

    fn plan(&self, model: Model) -> PhasePlan {
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
    /// held to that rate, said on `err`; with the rate asked for.
    fn offered(&self, model: Model, err: &mut dyn Write) -> (Model, Option<f64>) {
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
                    err,
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

    /// Runs the main workload under `model`.
    fn phase(
        &mut self,
        model: Model,
        label: &str,
        err: &mut dyn Write,
    ) -> Result<PhaseResult, String> {
        let plan = self.plan(model);
        let result = match &self.opened {
            Opened::Url(spec) => watch(spec.clone(), &plan, self.options.output, label, err),
            Opened::Otp { target, plan: flow } => {
                let spec = FlowSpec::new(target.clone(), flow.clone(), self.iterations);
                watch(Arc::new(spec), &plan, self.options.output, label, err)
            }
        }?;
        self.iterations += result.iterations;
        Ok(result)
    }

    fn run_info(&self, model: &Model, stages: &[String], workers: u32) -> RunInfo {
        let mut run = RunInfo::now(self.options.command_line.clone());
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

/// The highest rate one worker thread is given, per second: a raw
/// loopback exchange costs it at least two system calls and a wake-up, a
/// few microseconds, so more could only queue inside the generator.
pub const MAX_RATE_PER_WORKER: f64 = 500_000.0;

/// The generator's figures of an open-model phase; `None` for a closed one.
fn generator_section(
    plan: &PhasePlan,
    recorder: &crate::load::Recorder,
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

/// Runs a phase with progress on `err`.
fn watch<S: WorkloadSpec>(
    spec: Arc<S>,
    plan: &PhasePlan,
    output: Output,
    label: &str,
    err: &mut dyn Write,
) -> Result<PhaseResult, String> {
    let mut reporter = Reporter::new(output, label, plan.model.duration(), err);
    let result = run_phase(spec, plan, |progress, elapsed| {
        reporter.update(progress, elapsed)
    });
    reporter.finish();
    result
}

/// What [`measure`] ran: the report (gates evaluated) and the first
/// failure a worker saw, in words.
#[derive(Debug, Clone)]
pub struct Measured {
    pub report: Report,
    pub first_error: Option<String>,
    /// With `--soak`: the windows and their trends (`soak.json`).
    pub soak: Option<SoakReport>,
}

/// Runs the reference workload (if any), then the main one, and returns
/// the report with its gates evaluated; writes nothing but progress (and
/// errors) to `err`. `Err` is the exit code, the reason already written.
pub fn measure(options: &LoadOptions, err: &mut dyn Write) -> Result<Measured, i32> {
    let baseline = match &options.baseline {
        Some((path, max)) => match json::read(path) {
            Ok(report) => Some((report, *max)),
            Err(e) => {
                let _ = writeln!(err, "error: --baseline: {e}");
                return Err(exit::INVALID_FILE);
            }
        },
        None => None,
    };
    let mut session = Session::open(&options.run, err)?;
    let (model, clamped_from) = session.offered(options.model.clone(), err);
    pool_notes(&options.run, &model, err);
    let reference = match &options.reference {
        Some(url) => Some(reference(&session, options, &model, url, err)?),
        None => None,
    };
    let phase = match &options.soak {
        None => session
            .phase(model.clone(), "load", err)
            .map(|result| (result, None)),
        Some(soak_plan) => {
            let stop = session.stop.clone();
            soak::run(soak_plan, &model, &stop, err, |model, err| {
                session.phase(model, "soak", err)
            })
        }
        .map(|(result, soak)| (result, Some(soak))),
    };
    let (result, soak) = phase.map_err(|e| {
        let _ = writeln!(err, "error: {e}");
        exit::USAGE
    })?;
    let plan = session.plan(model.clone());
    let workers = plan.effective_workers();
    let run = session.run_info(&model, &options.stages, workers);
    let mut report = build::build(&result.recorder, &result.rows, result.duration, run);
    report.generator = generator_section(&plan, &result.recorder, clamped_from);
    if let Some((label, reference)) = &reference {
        report.reference = Some(build::reference(
            label,
            &reference.recorder,
            reference.duration,
        ));
    }
    let mut gates = gate::evaluate_all(&options.gates, &report);
    if let Some((baseline, max)) = &baseline {
        gates.extend(gate::baseline_gates(&report, baseline, *max));
    }
    report.gates = gates;
    Ok(Measured {
        report,
        first_error: result.first_error,
        soak,
    })
}

/// The reference phase: GET `url` under the run's model.
fn reference(
    session: &Session<'_>,
    options: &LoadOptions,
    model: &Model,
    url: &str,
    err: &mut dyn Write,
) -> Result<(String, PhaseResult), i32> {
    let url = session.resolve(url);
    let template = HttpTemplate::get(&url);
    let spec = session
        .control
        .block_on(HttpSpec::new(&template, options.run.timeout))
        .map_err(|e| {
            let _ = writeln!(err, "error: --reference-url: {e}");
            exit::USAGE
        })?;
    if let Err(why) = session.control.block_on(spec.probe()) {
        let _ = writeln!(err, "error: reference {url} is unreachable: {why}");
        return Err(exit::UNREACHABLE);
    }
    let plan = session.plan(model.clone());
    let result =
        watch(Arc::new(spec), &plan, options.run.output, "reference", err).map_err(|e| {
            let _ = writeln!(err, "error: {e}");
            exit::USAGE
        })?;
    Ok((template.label(), result))
}

/// `otpbench load`: [`measure`], write the run directory, print the
/// summary and the gates' verdicts; returns the exit code.
pub fn load(options: &LoadOptions, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Measured {
        report,
        first_error,
        soak,
    } = match measure(options, err) {
        Ok(measured) => measured,
        Err(code) => return code,
    };
    let report = match masked(report, &options.run.vars) {
        Ok(report) => report,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return exit::USAGE;
        }
    };
    let written = match write(&report, options.run.report_dir.as_deref()) {
        Ok(dir) => dir,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return exit::USAGE;
        }
    };
    let _ = write!(
        out,
        "{}",
        summary(&report, &written, first_error.as_deref())
    );
    if let Some(soak) = &soak {
        if let Err(e) = soak::write(soak, &written) {
            let _ = writeln!(err, "error: {e}");
            return exit::USAGE;
        }
        soak::write_trends(soak, out);
    }
    let code = gates_verdict(&report.gates, out);
    if code == exit::OK && every_request_failed_to_connect(&report) {
        let _ = writeln!(
            err,
            "error: {} could not be reached by any request",
            report.run.target.as_deref().unwrap_or("the target")
        );
        return exit::UNREACHABLE;
    }
    code
}

/// `otpbench capacity`: steps, then bisects, the open-model rate until
/// the SLO breaks; writes the best step's report with every step as
/// evidence. Exit 5 when no rate met the SLO.
pub fn capacity(options: &CapacityOptions, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut session = match Session::open(&options.run, err) {
        Ok(session) => session,
        Err(code) => return code,
    };
    let plan = &options.plan;
    let _ = writeln!(
        out,
        "capacity of {}: SLO {}, {} per step, from {}",
        session.label,
        plan.slo
            .iter()
            .map(|g| g.expression())
            .collect::<Vec<_>>()
            .join(", "),
        crate::duration::format(options.step_duration),
        rate(plan.start_rate)
    );
    let mut failure: Option<String> = None;
    let mut step = 0;
    let control = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let Ok(searcher) = control else {
        let _ = writeln!(err, "error: cannot start the runtime");
        return exit::USAGE;
    };
    let result = searcher.block_on(capacity::search(plan, |offered| {
        step += 1;
        let report = capacity_step(&mut session, options, offered, step, err, out, &mut failure);
        async move { report }
    }));
    if let Some(e) = failure {
        let _ = writeln!(err, "error: {e}");
        return exit::USAGE;
    }
    let found = result.capacity.max_sustainable_rps;
    let mut report = result.into_report();
    report.gates = gate::evaluate_all(&plan.slo, &report);
    let report = match masked(report, &options.run.vars) {
        Ok(report) => report,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return exit::USAGE;
        }
    };
    let written = match write(&report, options.run.report_dir.as_deref()) {
        Ok(dir) => dir,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return exit::USAGE;
        }
    };
    let stopped = report.capacity.as_ref().map_or("", |c| c.stopped.as_str());
    match found {
        Some(best) => {
            let _ = writeln!(out, "highest sustainable rate: {} ({stopped})", rate(best));
            let _ = writeln!(out, "report: {}", written.display());
            exit::OK
        }
        None => {
            let _ = writeln!(out, "no rate met the SLO ({stopped})");
            let _ = writeln!(out, "report: {}", written.display());
            exit::GATE
        }
    }
}

/// One capacity step: `offered` per second for the step duration.
fn capacity_step(
    session: &mut Session<'_>,
    options: &CapacityOptions,
    offered: f64,
    step: usize,
    err: &mut dyn Write,
    out: &mut dyn Write,
    failure: &mut Option<String>,
) -> Report {
    let model = match OpenModel::constant(offered, options.step_duration) {
        Ok(model) => Model::Open(model),
        Err(e) => {
            failure.get_or_insert(e.to_string());
            return empty_report();
        }
    };
    let (model, clamped_from) = session.offered(model, err);
    if failure.is_some() || session.stop.load(Ordering::Relaxed) {
        return empty_report();
    }
    let label = format!("step {step} {}", rate(offered));
    let result = match session.phase(model.clone(), &label, err) {
        Ok(result) => result,
        Err(e) => {
            failure.get_or_insert(e);
            return empty_report();
        }
    };
    let plan = session.plan(model.clone());
    let workers = plan.effective_workers();
    let run = session.run_info(&model, &[], workers);
    let mut report = build::build(&result.recorder, &result.rows, result.duration, run);
    report.generator = generator_section(&plan, &result.recorder, clamped_from);
    let gates = gate::evaluate_all(&options.plan.slo, &report);
    let achieved_rate = capacity::achieved_rate(&options.plan, &report);
    let achieved = achieved_rate >= offered * options.plan.min_achieved;
    let held = achieved && !gate::breached(&gates);
    let figures: Vec<String> = report
        .operations
        .iter()
        .map(|(name, op)| format!("{name}.p99 {}", latency(op.latency_us.p99 as f64)))
        .collect();
    let _ = writeln!(
        out,
        "  step {step:>2}: {:>12} offered, {:>12} achieved, {} — {}",
        rate(offered),
        rate(achieved_rate),
        figures.join(", "),
        if held { "held" } else { "BROKEN" }
    );
    report
}

/// A report of nothing, for steps that could not run (the search then
/// stops on the failure).
fn empty_report() -> Report {
    let recorder =
        crate::load::Recorder::new(crate::load::Operations::new(["none"]).expect("a valid name"));
    build::build(&recorder, &[], Duration::ZERO, RunInfo::now(Vec::new()))
}

/// `report` with every secret in its text (the command line, the target,
/// outcome names, messages) masked; its histograms are left whole.
fn masked(report: Report, vars: &Vars) -> Result<Report, String> {
    if !vars.has_secrets() {
        return Ok(report);
    }
    let mut value =
        serde_json::to_value(&report).map_err(|e| format!("masking the report: {e}"))?;
    vars.mask_json(&mut value, &["histogram", "service_time_histogram"]);
    serde_json::from_value(value).map_err(|e| format!("masking the report: {e}"))
}

/// Writes the run directory: `dir` itself, or `reports/<start time>/`.
fn write(report: &Report, dir: Option<&Path>) -> Result<PathBuf, dir::WriteError> {
    match dir {
        Some(dir) => {
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("run");
            let base = dir.parent().filter(|p| !p.as_os_str().is_empty());
            dir::write(report, base.unwrap_or(Path::new(".")), Some(name))
        }
        None => dir::write(report, Path::new("reports"), None),
    }
}

/// Prints each gate's verdict; [`exit::GATE`] if any broke.
fn gates_verdict(results: &[GateResult], out: &mut dyn Write) -> i32 {
    for result in results {
        let mark = if result.passed { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "{mark} {}", result.message);
    }
    if gate::breached(results) {
        let broken = results.iter().filter(|r| !r.passed).count();
        let _ = writeln!(out, "{broken} gate(s) breached");
        exit::GATE
    } else {
        exit::OK
    }
}

/// Whether requests were made and every one failed to connect.
fn every_request_failed_to_connect(report: &Report) -> bool {
    let connect = Tally::Transport(Transport::Connect).name();
    report.requests > 0
        && report
            .operations
            .values()
            .map(|op| op.outcomes.get(&connect).copied().unwrap_or(0))
            .sum::<u64>()
            == report.requests
}

/// Warnings about the identifier pool: shared by lanes in flight, or so
/// small that the target's send limits will answer `rate_limited`.
fn pool_notes(options: &RunOptions, model: &Model, err: &mut dyn Write) {
    let WorkloadChoice::Otp { target, plan, .. } = &options.workload else {
        return;
    };
    let pool_here = options.shard.share(plan.pool);
    let in_flight = match model {
        Model::Open(_) => u64::from(options.connections),
        Model::Closed(m) => options.shard.share(u64::from(m.peak())),
    };
    if pool_here < in_flight {
        let _ = writeln!(
            err,
            "note: {pool_here} identifiers for up to {in_flight} flows in flight: some flows \
             will share an identifier, and a send replaces the other's code"
        );
    }
    if let (Model::Open(m), Some(limit)) = (model, target.policy.send_limits.first()) {
        let per_identifier = m.total_arrivals() as f64 / plan.pool.max(1) as f64;
        if per_identifier > f64::from(limit.count) {
            let _ = writeln!(
                err,
                "note: ~{per_identifier:.0} sends per identifier over the run (pool {}); the \
                 target allows {}/{}: expect rate_limited answers",
                plan.pool,
                limit.count,
                crate::duration::format(limit.window)
            );
        }
    }
}

/// The run's figures as a few lines of text for the terminal.
fn summary(report: &Report, written: &Path, first_error: Option<&str>) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    let target = report.run.target.as_deref().unwrap_or("load");
    let _ = writeln!(
        text,
        "{target}: {}",
        crate::report::markdown::describe_run(report)
    );
    let _ = writeln!(
        text,
        "  {} requests in {:.2}s, {} answered ({} completed), {} errors ({}), {} dropped",
        report.requests,
        report.duration_s,
        report.answered(),
        rate(report.throughput_rps),
        report.errors,
        percent(report.error_ratio()),
        report.dropped,
    );
    if let Some(generator) = &report.generator {
        for why in generator.limits(report.dropped) {
            let _ = writeln!(text, "  GENERATOR LIMIT: {why}");
        }
    }
    let _ = writeln!(
        text,
        "  {:<10} {:>9} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>13} {:>10}  outcomes",
        "operation",
        "count",
        "rate",
        "p50",
        "p90",
        "p99",
        "p99.9",
        "max",
        "service p99",
        "wait p99"
    );
    let mut row = |name: &str, op: &crate::report::OperationReport, duration: f64| {
        let l = &op.latency_us;
        let _ = writeln!(
            text,
            "  {:<10} {:>9} {:>12} {:>9} {:>9} {:>9} {:>9} {:>9} {:>13} {:>10}  {}",
            name,
            op.count,
            rate(if duration > 0.0 {
                op.count as f64 / duration
            } else {
                0.0
            }),
            latency(l.p50 as f64),
            latency(l.p90 as f64),
            latency(l.p99 as f64),
            latency(l.p999 as f64),
            latency(l.max as f64),
            latency(op.service_time_us.p99 as f64),
            latency(op.wait_us.p99 as f64),
            outcomes(&op.outcomes)
        );
    };
    for (name, op) in &report.operations {
        row(name, op, report.duration_s);
    }
    if let Some(reference) = &report.reference {
        for op in reference.operations.values() {
            row("reference", op, reference.duration_s);
        }
        let _ = writeln!(
            text,
            "  reference: {} ({}); throughput/reference {:.3}",
            reference.label,
            rate(reference.throughput_rps),
            ratio_f(report.throughput_rps, reference.throughput_rps)
        );
    }
    if report.errors > 0 {
        if let Some(first) = first_error {
            let _ = writeln!(text, "  first error: {first}");
        }
    }
    let _ = writeln!(text, "report: {}", written.display());
    text
}

fn ratio_f(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}
