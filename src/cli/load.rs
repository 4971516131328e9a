//! Flags of `otpbench load` and `otpbench capacity`, their conversion
//! into [`crate::load::command`] options (raw flags and an optional
//! workload file in, validated options out; a flag wins over the file's
//! key), and what the commands return turned into text and an exit code.
//! `main.rs` wires [`LoadArgs`] and [`CapacityArgs`] into the command enum
//! and exits with what their `run` returns.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, ValueEnum};

use crate::cli::exit;
use crate::cli::report::print_gates;
use crate::cli::vars::VarsFlags;
use crate::client::{CodeSource, TargetSpec};
use crate::dialect::Dialect;
use crate::load::capacity::CapacityPlan;
use crate::load::command::{
    CapacityEvent, CapacityOptions, CapacityOutcome, LoadError, LoadOptions, LoadOutcome,
    SessionOptions, Verdict, WorkloadChoice,
};
use crate::load::file::WorkloadFile;
use crate::load::flow::{FlowPlan, Mix};
use crate::load::http::HttpTemplate;
use crate::load::progress::Output;
use crate::load::schedule::{
    parse_concurrency_stage, parse_rate, parse_rate_stage, ClosedModel, Model, OpenModel,
};
use crate::load::shard::Shard;
use crate::load::soak::SoakPlan;
use crate::report::gate::{parse_percent, Gate};
use crate::report::model::Report;
use crate::report::table;
use crate::report::text::{latency, percent, rate};
use crate::vars::{Masked, Vars};

/// What to load and how: the flags `load` and `capacity` share.
#[derive(Debug, Args, Default)]
pub struct WorkloadFlags {
    /// Plain HTTP load on this URL (any server; to compare with wrk on
    /// equal terms). Tallied by status.
    #[arg(long, value_name = "URL", conflicts_with_all = ["dialect", "target"])]
    pub url: Option<String>,

    /// OTP flows (send, read the code, verify) against the embedded
    /// engine speaking this dialect: native, rees46, sigmasms, valify,
    /// nomado or loyaltydog.
    #[arg(long, value_name = "NAME", value_parser = parse_dialect, conflicts_with = "target")]
    pub dialect: Option<Dialect>,

    /// OTP flows against the target this file describes (DESIGN.md §5).
    #[arg(long, value_name = "FILE")]
    pub target: Option<PathBuf>,

    /// A workload file (scenarios/load/*.yaml); flags win over its keys.
    #[arg(long, value_name = "FILE")]
    pub workload: Option<PathBuf>,

    /// --url: the request method.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,

    /// --url: an extra header, 'Name: value' (repeatable).
    #[arg(long = "header", value_name = "HEADER", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,

    /// --url: the request body.
    #[arg(long, value_name = "TEXT")]
    pub body: Option<String>,

    /// --url: accept any TLS certificate (self-signed test servers).
    #[arg(long)]
    pub insecure: bool,

    /// Open model: requests (or flows) in flight at most, this generator
    /// (default 64). Arrivals that find every connection busy wait, and
    /// their latency counts from their intended start.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub connections: Option<u32>,

    /// Worker threads, each with its own runtime (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub workers: Option<u32>,

    /// Open model: busy-wait the last DURATION before each intended start
    /// instead of sleeping (e.g. 200us). Keeps the wake-up of an idle core
    /// (tens of µs, hundreds at the tail on a VM) out of the latency, at
    /// the price of a busy core. Default 0: sleep to the deadline.
    #[arg(long, value_name = "DURATION", value_parser = parse_fine_duration)]
    pub spin: Option<Duration>,

    /// Longest wait for one request (default 10s, or the target file's).
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub timeout: Option<Duration>,

    /// OTP: identifiers in the whole run, split between shards and
    /// workers (default 1,000,000). Size it below rate × duration ÷ the
    /// send limit to meet the target's limits on purpose.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub pool: Option<u64>,

    /// OTP: share of verifies sent with a wrong code, 0..1 (default 0).
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio)]
    pub wrong_code_ratio: Option<f64>,

    /// OTP: weights of whole flows and lone sends, e.g. flow=9,send=1.
    #[arg(long, value_name = "WEIGHTS", value_parser = parse_mix)]
    pub mix: Option<Mix>,

    /// OTP: the purpose sent (native `purpose`, REES46 `event`).
    #[arg(long, value_name = "NAME")]
    pub purpose: Option<String>,

    /// OTP: where codes come from (default: the target's).
    #[arg(long, value_name = "SOURCE")]
    pub code_source: Option<CodeSourceArg>,

    /// This generator is shard i of n (from 0): it takes every n-th
    /// arrival and its own block of the identifier pool.
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,

    /// The run directory to write (default: `reports/<start time>/`).
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,

    /// No progress output; only the summary.
    #[arg(long, short)]
    pub quiet: bool,

    #[command(flatten)]
    pub vars: VarsFlags,
}

/// `--code-source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CodeSourceArg {
    /// From the send's answer.
    Echo,
    /// From the provider's journal.
    Inbox,
}

/// Flags of `otpbench load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    #[command(flatten)]
    pub workload: WorkloadFlags,

    /// Open model: iterations started per second (500, 500/s, 30000/m),
    /// whatever the answers take; the start rate when --stage is given.
    #[arg(long, value_name = "N", value_parser = parse_rate_flag, conflicts_with = "concurrency")]
    pub rate: Option<f64>,

    /// Closed model: connections, each starting its next iteration when
    /// the last one is answered; the start value when --stage is given.
    #[arg(long, value_name = "N")]
    pub concurrency: Option<u32>,

    /// How long the load runs (default 10s; not with --stage).
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub duration: Option<Duration>,

    /// Ramp linearly to TARGET over DURATION, e.g. 30s:500/s or 30s:50
    /// (repeatable; stages follow each other).
    #[arg(long = "stage", value_name = "DURATION:TARGET")]
    pub stages: Vec<String>,

    /// Also measure GET on this URL (or a path on the target's host,
    /// e.g. /healthz) with the same model, first, into the report's
    /// `reference` section — for gates like throughput/reference>0.6.
    #[arg(long, value_name = "URL")]
    pub reference_url: Option<String>,

    /// A gate, e.g. 'verify.p99<20ms', 'errors<0.1%', 'throughput>5000'
    /// (repeatable); a breach exits 5.
    #[arg(long = "threshold", value_name = "EXPR", value_parser = parse_gate)]
    pub thresholds: Vec<Gate>,

    /// A report.json (or run directory) to gate against: p50, p99 and
    /// throughput may be at most --max-regression worse.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,

    /// With --baseline: how much worse is allowed (default 10%).
    #[arg(long, value_name = "PCT", value_parser = parse_percent, requires = "baseline")]
    pub max_regression: Option<f64>,

    /// Soak: run in windows of WINDOW (e.g. 1m) and report per window the
    /// RSS and open fds of this process (with an embedded target, also the
    /// engine's and provider's) and each operation's p99, with their
    /// growth fitted as a slope (soak.json). One --rate or --concurrency.
    #[arg(long, value_name = "WINDOW", value_parser = parse_positive_duration)]
    pub soak: Option<Duration>,

    /// Soak: also sample this process each window, e.g. engine=1234 (a
    /// target run apart; repeatable).
    #[arg(long = "watch-pid", value_name = "NAME=PID", value_parser = parse_watch_pid, requires = "soak")]
    pub watch_pids: Vec<(String, u32)>,
}

/// Flags of `otpbench capacity`.
#[derive(Debug, Args)]
pub struct CapacityArgs {
    #[command(flatten)]
    pub workload: WorkloadFlags,

    /// The SLO every sustainable rate must meet, e.g. 'send.p99<50ms'
    /// (repeatable; the gate grammar of --threshold).
    #[arg(long = "slo", value_name = "EXPR", value_parser = parse_gate, required = true)]
    pub slo: Vec<Gate>,

    /// The first rate measured (default 100/s).
    #[arg(long, value_name = "N", value_parser = parse_rate_flag)]
    pub start_rate: Option<f64>,

    /// Never offer more than this.
    #[arg(long, value_name = "N", value_parser = parse_rate_flag)]
    pub max_rate: Option<f64>,

    /// How long each rate is offered (default 10s).
    #[arg(long, value_name = "DURATION", value_parser = parse_positive_duration)]
    pub step_duration: Option<Duration>,

    /// Factor between rates while climbing (default 2).
    #[arg(long, value_name = "F", value_parser = parse_growth)]
    pub growth: Option<f64>,

    /// Stop bisecting when the rates that held and broke are this close
    /// (default 5%).
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub tolerance: Option<f64>,

    /// Most rates measured (default 16).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_steps: Option<u32>,

    /// How many times a rate that broke is measured again before it
    /// counts as broken (default 1; 0: never). It holds if any
    /// measurement does: one stall must not halve the figure.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=10))]
    pub confirm: Option<u32>,
}

fn usage(message: impl Into<String>) -> LoadError {
    LoadError::Usage(message.into())
}

/// The exit code of a command that did not run to a report.
pub(crate) fn exit_code(error: &LoadError) -> i32 {
    match error {
        LoadError::InvalidFile(_) | LoadError::Baseline(_) => exit::INVALID_FILE,
        LoadError::Unreachable(_) => exit::UNREACHABLE,
        LoadError::Usage(_)
        | LoadError::Setup(_)
        | LoadError::PhaseFailed(_)
        | LoadError::Write(_) => exit::USAGE,
    }
}

/// Says what went wrong on `err` (a file error as the compiler-style
/// snippet every command shows) and returns its exit code.
fn refuse(error: &LoadError, err: &mut dyn Write) -> i32 {
    match error {
        LoadError::InvalidFile(file) => {
            let _ = writeln!(err, "error: {}", file.render());
        }
        other => {
            let _ = writeln!(err, "error: {other}");
        }
    }
    exit_code(error)
}

impl LoadArgs {
    /// Runs `otpbench load` on stdout/stderr; returns the exit code.
    pub fn run(&self) -> i32 {
        self.run_with(&mut std::io::stdout(), &mut std::io::stderr())
    }

    /// Runs `otpbench load` on the given streams; returns the exit code.
    /// Every value from outside the files is masked in all it writes.
    pub fn run_with(&self, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
        let vars = match self.workload.vars() {
            Ok(vars) => vars,
            Err(error) => return refuse(&error, err),
        };
        let (out, err) = (&mut Masked::new(out, &vars), &mut Masked::new(err, &vars));
        match self.options_with(vars.clone()).and_then(|o| o.run(err)) {
            Ok(outcome) => print_load(&outcome, out, err),
            Err(error) => refuse(&error, err),
        }
    }

    /// The validated options these flags (and the workload file) say.
    pub fn options(&self) -> Result<LoadOptions, LoadError> {
        self.options_with(self.workload.vars()?)
    }

    /// The same, the files' variables from `vars`.
    pub fn options_with(&self, vars: Arc<Vars>) -> Result<LoadOptions, LoadError> {
        let file = self.workload.file(&vars)?;
        let (model, stages) = self.model(&file)?;
        let session = self.workload.session_options(&file, vars)?;
        let mut gates = self.thresholds.clone();
        gates.extend(file.thresholds.iter().map(|t| t.0.clone()));
        let soak = match self.soak {
            Some(window) => {
                // Refused before anything is started.
                crate::load::soak::windows(&model, window).map_err(usage)?;
                Some(SoakPlan {
                    window,
                    watch: self.watch_pids.clone(),
                })
            }
            None => None,
        };
        Ok(LoadOptions {
            session,
            model,
            stages,
            reference: self.reference_url.clone().or(file.reference_url.clone()),
            gates,
            baseline: self
                .baseline
                .clone()
                .map(|path| (path, self.max_regression.unwrap_or(0.1))),
            soak,
        })
    }

    /// The model from --rate/--concurrency, --stage and --duration (or
    /// the file's), and the stages as given.
    fn model(&self, file: &WorkloadFile) -> Result<(Model, Vec<String>), LoadError> {
        let (rate, concurrency) = if self.rate.is_some() || self.concurrency.is_some() {
            (self.rate, self.concurrency)
        } else {
            (file.rate.map(|r| r.0), file.concurrency)
        };
        // The flags' stages, read here (a mistake is a flag error), or the
        // file's, read with the file.
        let from_flags = !self.stages.is_empty();
        let stages = if from_flags {
            self.stages.clone()
        } else {
            file.stage_texts()
        };
        let duration = self.duration.or(file.duration.map(|d| d.0));
        if !stages.is_empty() && duration.is_some() {
            return Err(usage(
                "--duration and --stage exclude each other: the stages say how long the run lasts",
            ));
        }
        let duration = duration.unwrap_or(Duration::from_secs(10));
        let model = match (rate, concurrency) {
            (Some(rate), None) if stages.is_empty() => {
                OpenModel::constant(rate, duration).map(Model::Open)
            }
            (Some(rate), None) => {
                let stages = if from_flags {
                    stages
                        .iter()
                        .map(|s| parse_rate_stage(s))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| usage(format!("--stage: {e}")))?
                } else {
                    file.rate_stages()
                };
                OpenModel::ramping(rate, stages).map(Model::Open)
            }
            (None, Some(concurrency)) if stages.is_empty() => {
                ClosedModel::constant(concurrency, duration).map(Model::Closed)
            }
            (None, Some(concurrency)) => {
                let stages = if from_flags {
                    stages
                        .iter()
                        .map(|s| parse_concurrency_stage(s))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|e| usage(format!("--stage: {e}")))?
                } else {
                    file.concurrency_stages()?
                };
                ClosedModel::ramping(concurrency, stages).map(Model::Closed)
            }
            _ => {
                return Err(usage(
                    "give --rate N (open model) or --concurrency N (closed model)",
                ))
            }
        }
        .map_err(|e| usage(e.to_string()))?;
        if matches!(model, Model::Closed(_)) && self.workload.connections.is_some() {
            return Err(usage(
                "--connections is for the open model; a closed model has --concurrency connections",
            ));
        }
        Ok((model, stages))
    }
}

impl CapacityArgs {
    /// Runs `otpbench capacity` on stdout/stderr; returns the exit code.
    pub fn run(&self) -> i32 {
        self.run_with(&mut std::io::stdout(), &mut std::io::stderr())
    }

    /// Runs `otpbench capacity` on the given streams.
    /// Every value from outside the files is masked in all it writes.
    pub fn run_with(&self, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
        let vars = match self.workload.vars() {
            Ok(vars) => vars,
            Err(error) => return refuse(&error, err),
        };
        let (out, err) = (&mut Masked::new(out, &vars), &mut Masked::new(err, &vars));
        let options = match self.options_with(vars.clone()) {
            Ok(options) => options,
            Err(error) => return refuse(&error, err),
        };
        let mut tell = |event: CapacityEvent| print_capacity_event(&event, out);
        match options.run(err, &mut tell) {
            Ok(outcome) => print_capacity(&outcome, out),
            Err(error) => refuse(&error, err),
        }
    }

    /// The validated options.
    pub fn options(&self) -> Result<CapacityOptions, LoadError> {
        self.options_with(self.workload.vars()?)
    }

    /// The same, the files' variables from `vars`.
    pub fn options_with(&self, vars: Arc<Vars>) -> Result<CapacityOptions, LoadError> {
        let file = self.workload.file(&vars)?;
        let session = self.workload.session_options(&file, vars)?;
        let start = self.start_rate.unwrap_or(100.0);
        if start <= 0.0 {
            return Err(usage("--start-rate must be above 0"));
        }
        let mut plan = CapacityPlan::new(self.slo.clone(), start);
        plan.max_rate = self.max_rate;
        if let WorkloadChoice::Otp { .. } = session.workload {
            // A flow is several requests; its iterations are its sends.
            plan.achieved_by = Some("send".into());
        }
        if let Some(growth) = self.growth {
            plan.growth = growth;
        }
        if let Some(tolerance) = self.tolerance {
            plan.tolerance = tolerance;
        }
        if let Some(steps) = self.max_steps {
            plan.max_steps = steps as usize;
        }
        if let Some(confirm) = self.confirm {
            plan.confirm = confirm;
        }
        Ok(CapacityOptions {
            session,
            plan,
            step_duration: self.step_duration.unwrap_or(Duration::from_secs(10)),
        })
    }
}

impl WorkloadFlags {
    /// `--var` and `--vars-file`, read.
    fn vars(&self) -> Result<Arc<Vars>, LoadError> {
        Ok(Arc::new(self.vars.resolve()?))
    }

    /// The workload file, or an empty one.
    fn file(&self, vars: &Vars) -> Result<WorkloadFile, LoadError> {
        match &self.workload {
            Some(path) => Ok(WorkloadFile::load(path, vars)?),
            None => Ok(WorkloadFile::default()),
        }
    }

    /// Everything but the model.
    fn session_options(
        &self,
        file: &WorkloadFile,
        vars: Arc<Vars>,
    ) -> Result<SessionOptions, LoadError> {
        let shard = self.shard.unwrap_or(Shard::ALONE);
        let workers = self
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as u32));
        let connections = self.connections.or(file.connections).unwrap_or(64);
        if connections == 0 {
            return Err(usage("connections must be at least 1"));
        }
        let workload = self.choice(file, &vars)?;
        let timeout = match &workload {
            WorkloadChoice::Otp { target, .. } => target.http.timeout,
            WorkloadChoice::Url(_) => self.timeout.unwrap_or(Duration::from_secs(10)),
        };
        Ok(SessionOptions {
            workload,
            connections,
            workers,
            timeout,
            spin: self.spin.unwrap_or(Duration::ZERO),
            shard,
            report_dir: self.report.clone(),
            output: Output::detect(self.quiet),
            command_line: std::env::args().collect(),
            vars,
        })
    }

    /// What to load: --url, --dialect or --target (or the file's).
    fn choice(&self, file: &WorkloadFile, vars: &Vars) -> Result<WorkloadChoice, LoadError> {
        let given_here = self.url.is_some() || self.dialect.is_some() || self.target.is_some();
        let (url, dialect, target) = if given_here {
            (self.url.clone(), self.dialect, self.target.clone())
        } else {
            (file.url.clone(), file.dialect, file.target.clone())
        };
        if let Some(url) = url {
            for (flag, given) in [
                ("--pool", self.pool.is_some()),
                ("--wrong-code-ratio", self.wrong_code_ratio.is_some()),
                ("--mix", self.mix.is_some()),
                ("--purpose", self.purpose.is_some()),
                ("--code-source", self.code_source.is_some()),
            ] {
                if given {
                    return Err(usage(format!(
                        "{flag} is for OTP flows (--dialect, --target), not --url"
                    )));
                }
            }
            let mut headers = file
                .headers
                .iter()
                .map(|(n, v)| (n.clone(), v.clone()))
                .collect::<Vec<_>>();
            headers.extend(self.headers.iter().cloned());
            return Ok(WorkloadChoice::Url(HttpTemplate {
                method: self
                    .method
                    .clone()
                    .or(file.method.clone())
                    .unwrap_or_else(|| "GET".into()),
                url,
                headers,
                body: self
                    .body
                    .clone()
                    .or(file.body.clone())
                    .unwrap_or_default()
                    .into_bytes(),
                insecure: self.insecure,
            }));
        }
        for (flag, given) in [
            ("--method", self.method.is_some()),
            ("--header", !self.headers.is_empty()),
            ("--body", self.body.is_some()),
        ] {
            if given {
                return Err(usage(format!("{flag} is for --url")));
            }
        }
        let (mut spec, label) = match (dialect, target) {
            (Some(dialect), _) => (
                TargetSpec::embedded(dialect),
                format!("{} (embedded)", dialect.name()),
            ),
            (None, Some(path)) => {
                let spec = TargetSpec::load(&path, vars)?;
                (spec, path.display().to_string())
            }
            (None, None) => return Err(usage(
                "give --url URL, --dialect NAME or --target FILE (or a workload file naming one)",
            )),
        };
        if let Some(source) = self.code_source.map(CodeSource::from).or(file.code_source) {
            if source == CodeSource::Inbox && spec.provider.is_none() {
                return Err(usage(
                    "--code-source inbox needs a target with a provider (`provider:` in the target file)",
                ));
            }
            spec.code_source = source;
        }
        if let Some(timeout) = self.timeout {
            spec.http.timeout = timeout;
        }
        let pool = self
            .pool
            .or(file.pool)
            .unwrap_or(crate::load::flow::DEFAULT_POOL);
        let capacity = crate::dialect::phone_space(spec.dialect);
        if pool > capacity {
            return Err(usage(format!(
                "--pool {pool}: {} has {capacity} generated identifiers at most",
                spec.dialect.name()
            )));
        }
        let defaults = FlowPlan::default();
        Ok(WorkloadChoice::Otp {
            target: Box::new(spec),
            label,
            plan: FlowPlan {
                pool,
                wrong_code_ratio: self
                    .wrong_code_ratio
                    .or(file.wrong_code_ratio)
                    .unwrap_or(defaults.wrong_code_ratio),
                mix: self.mix.or(file.mix.map(|m| m.0)).unwrap_or(defaults.mix),
                purpose: self.purpose.clone().or(file.purpose.clone()),
                code_wait: defaults.code_wait,
            },
        })
    }
}

/// Prints a load run's summary, its soak trends and its gates' verdicts;
/// returns the exit code its verdict says.
fn print_load(outcome: &LoadOutcome, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let report = &outcome.report;
    let _ = write!(
        out,
        "{}",
        summary(report, &outcome.written, outcome.first_error.as_deref())
    );
    if let Some(soak) = &outcome.soak {
        crate::load::soak::write_trends(soak, out);
    }
    print_gates(&report.gates, out);
    match outcome.verdict() {
        Verdict::Passed => exit::OK,
        Verdict::GateBreached(_) => exit::GATE,
        Verdict::NothingReached => {
            let _ = writeln!(
                err,
                "error: {} could not be reached by any request",
                report.run.target.as_deref().unwrap_or("the target")
            );
            exit::UNREACHABLE
        }
    }
}

/// One line per capacity event, as the search goes.
fn print_capacity_event(event: &CapacityEvent, out: &mut dyn Write) {
    match event {
        CapacityEvent::Started {
            target,
            slo,
            step_duration,
            start_rate,
        } => {
            let _ = writeln!(
                out,
                "capacity of {target}: SLO {}, {} per step, from {}",
                slo.join(", "),
                crate::duration::format(*step_duration),
                rate(*start_rate)
            );
        }
        CapacityEvent::Step {
            step,
            offered,
            achieved,
            p99_us,
            held,
            again,
        } => {
            let figures: Vec<String> = p99_us
                .iter()
                .map(|(name, p99)| format!("{name}.p99 {}", latency(*p99 as f64)))
                .collect();
            let _ = writeln!(
                out,
                "  step {step:>2}: {:>12} offered, {:>12} achieved, {} — {}",
                rate(*offered),
                rate(*achieved),
                figures.join(", "),
                match (*held, *again) {
                    (true, false) => "held",
                    (false, false) => "BROKEN",
                    (true, true) => "held when measured again",
                    (false, true) => "BROKEN again",
                }
            );
        }
    }
}

/// The capacity found (or not) and where the report is; exit 5 when no
/// rate met the SLO.
fn print_capacity(outcome: &CapacityOutcome, out: &mut dyn Write) -> i32 {
    let stopped = outcome.stopped();
    let code = match outcome.found {
        Some(best) => {
            let _ = writeln!(out, "highest sustainable rate: {} ({stopped})", rate(best));
            exit::OK
        }
        None => {
            let _ = writeln!(out, "no rate met the SLO ({stopped})");
            exit::GATE
        }
    };
    let _ = writeln!(out, "report: {}", outcome.written.display());
    code
}

/// The run's figures as a few lines of text for the terminal.
fn summary(report: &Report, written: &std::path::Path, first_error: Option<&str>) -> String {
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
    let mut rows = table::operations(report);
    rows.extend(table::reference(report));
    text.push_str(&table::terminal(&rows, &table::TERMINAL));
    if let Some(reference) = &report.reference {
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

impl From<CodeSourceArg> for CodeSource {
    fn from(arg: CodeSourceArg) -> CodeSource {
        match arg {
            CodeSourceArg::Echo => CodeSource::Echo,
            CodeSourceArg::Inbox => CodeSource::Inbox,
        }
    }
}

fn parse_dialect(text: &str) -> Result<Dialect, String> {
    Dialect::from_name(text).ok_or_else(|| {
        format!(
            "unknown dialect {text:?} (expected one of {})",
            Dialect::ALL.map(|d| d.name()).join(", ")
        )
    })
}

fn parse_gate(text: &str) -> Result<Gate, String> {
    Gate::parse(text).map_err(|e| e.to_string())
}

fn parse_rate_flag(text: &str) -> Result<f64, String> {
    parse_rate(text).map_err(|e| e.to_string())
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    Shard::parse(text).map_err(|e| e.to_string())
}

/// A duration that may be in microseconds (`200us`), for `--spin`.
fn parse_fine_duration(text: &str) -> Result<Duration, String> {
    let micros = text
        .strip_suffix("us")
        .or_else(|| text.strip_suffix("µs"))
        .map(|n| n.parse::<u64>());
    match micros {
        Some(Ok(n)) => Ok(Duration::from_micros(n)),
        Some(Err(_)) => Err(format!(
            "{text:?}: expected a whole number of microseconds, like 200us"
        )),
        None => crate::duration::parse(text).map_err(|e| e.to_string()),
    }
}

fn parse_watch_pid(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?}: expected NAME=PID, e.g. engine=1234"))?;
    if name.is_empty() {
        return Err(format!("{text:?}: the name before '=' is empty"));
    }
    let pid = pid
        .parse()
        .map_err(|_| format!("{text:?}: {pid:?} is not a process id"))?;
    Ok((name.to_string(), pid))
}

fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match crate::duration::parse(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("must be longer than 0".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number (expected 0..1, e.g. 0.05)"))?;
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{text} is not between 0 and 1"))
    }
}

fn parse_growth(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(g) if g > 1.0 && g.is_finite() => Ok(g),
        _ => Err(format!(
            "{text:?}: the growth factor must be a number above 1"
        )),
    }
}

fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("{text:?}: expected 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{text:?}: the header has no name"));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

fn parse_mix(text: &str) -> Result<Mix, String> {
    let mut mix = Mix { flow: 0, send: 0 };
    for part in text.split(',') {
        let (kind, weight) = part
            .split_once('=')
            .ok_or_else(|| format!("{part:?}: expected KIND=WEIGHT, e.g. flow=9,send=1"))?;
        let weight: u32 = weight
            .trim()
            .parse()
            .map_err(|_| format!("{weight:?} is not a whole number"))?;
        match kind.trim() {
            "flow" => mix.flow = weight,
            "send" => mix.send = weight,
            other => return Err(format!("unknown iteration kind {other:?} (flow, send)")),
        }
    }
    if mix.flow == 0 && mix.send == 0 {
        return Err("give flow or send a weight above 0".into());
    }
    Ok(mix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Parser, Subcommand};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Debug, Subcommand)]
    enum Sub {
        Load(LoadArgs),
        Capacity(CapacityArgs),
    }

    fn load(args: &[&str]) -> Result<LoadArgs, clap::Error> {
        let mut all = vec!["otpbench", "load"];
        all.extend(args);
        Cli::try_parse_from(all).map(|cli| match cli.command {
            Sub::Load(args) => args,
            Sub::Capacity(_) => unreachable!(),
        })
    }

    #[test]
    fn flags_become_a_model_and_a_workload() {
        let args = load(&[
            "--dialect",
            "valify",
            "--rate",
            "200/s",
            "--duration",
            "5s",
            "--pool",
            "10",
        ])
        .unwrap();
        let options = args.options().unwrap();
        let Model::Open(model) = &options.model else {
            panic!("open")
        };
        assert_eq!(model.total_arrivals(), 1000);
        let WorkloadChoice::Otp { target, plan, .. } = &options.session.workload else {
            panic!("otp")
        };
        assert_eq!(target.dialect, Dialect::Valify);
        assert_eq!(plan.pool, 10);
        let args = load(&[
            "--url",
            "http://127.0.0.1:1/",
            "--concurrency",
            "4",
            "--stage",
            "2s:8",
        ])
        .unwrap();
        let options = args.options().unwrap();
        assert_eq!(options.stages, ["2s:8"]);
        assert!(matches!(options.model, Model::Closed(ref m) if m.peak() == 8));
    }

    #[test]
    fn mistakes_are_usage_errors_naming_the_flag() {
        for (args, says) in [
            (
                &["--url", "http://x/", "--rate", "5", "--concurrency", "5"][..],
                "--concurrency",
            ),
            (
                &["--url", "http://x/", "--dialect", "native", "--rate", "5"],
                "--dialect",
            ),
            (&["--dialect", "smoke", "--rate", "5"], "unknown dialect"),
            (
                &[
                    "--url",
                    "http://x/",
                    "--rate",
                    "5",
                    "--max-regression",
                    "5%",
                ],
                "--baseline",
            ),
            (&["--url", "http://x/", "--rate", "fast"], "invalid rate"),
        ] {
            let error = load(args).unwrap_err().to_string();
            assert!(error.contains(says), "{args:?}: {error}");
        }
        for (args, says) in [
            (&["--url", "http://x/"][..], "--rate N"),
            (
                &["--url", "http://x/", "--rate", "5", "--pool", "3"],
                "--pool is for OTP",
            ),
            (
                &["--dialect", "native", "--rate", "5", "--body", "x"],
                "--body is for --url",
            ),
            (
                &[
                    "--url",
                    "http://x/",
                    "--rate",
                    "5",
                    "--stage",
                    "1s:5",
                    "--duration",
                    "2s",
                ],
                "exclude",
            ),
            (
                &[
                    "--url",
                    "http://x/",
                    "--concurrency",
                    "5",
                    "--connections",
                    "9",
                ],
                "--connections",
            ),
            (
                &["--dialect", "valify", "--rate", "5", "--pool", "200000000"],
                "at most",
            ),
        ] {
            let error = load(args).unwrap().options().unwrap_err();
            assert_eq!(exit_code(&error), exit::USAGE, "{args:?}");
            let message = error.to_string();
            assert!(message.contains(says), "{args:?}: {message}");
        }
    }

    #[test]
    fn spin_reads_microseconds() {
        assert_eq!(parse_fine_duration("200us"), Ok(Duration::from_micros(200)));
        assert_eq!(parse_fine_duration("1ms"), Ok(Duration::from_millis(1)));
        assert!(parse_fine_duration("xus").is_err() && parse_fine_duration("5").is_err());
    }

    #[test]
    fn mixes_and_headers_read_as_documented() {
        assert_eq!(parse_mix("flow=9, send=1"), Ok(Mix { flow: 9, send: 1 }));
        assert!(parse_mix("flow=0").is_err() && parse_mix("verify=1").is_err());
        assert_eq!(
            parse_header("Content-Type: application/json"),
            Ok(("Content-Type".into(), "application/json".into()))
        );
        assert!(parse_header("nocolon").is_err());
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
