//! `otpbench load` and `otpbench capacity` on the command line: their
//! flags ([`flags`]), their conversion into [`crate::load::command`]
//! options (raw flags and an optional workload file in, validated options
//! out; a flag wins over the file's key), and what the commands return
//! turned into text ([`print`]) and an exit code. `main.rs` wires
//! [`LoadArgs`] and [`CapacityArgs`] into the command enum and exits with
//! what their `run` returns.

mod flags;
mod print;

pub use flags::{CapacityArgs, CodeSourceArg, LoadArgs, WorkloadFlags};

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use crate::cli::exit;
use crate::client::{CodeSource, TargetSpec};
use crate::load::capacity::CapacityPlan;
use crate::load::command::{
    CapacityEvent, CapacityOptions, LoadError, LoadOptions, SessionOptions, WorkloadChoice,
};
use crate::load::file::WorkloadFile;
use crate::load::flow::FlowPlan;
use crate::load::http::HttpTemplate;
use crate::load::progress::Output;
use crate::load::schedule::{
    parse_concurrency_stage, parse_rate_stage, ClosedModel, Model, OpenModel,
};
use crate::load::shard::Shard;
use crate::load::soak::SoakPlan;
use crate::vars::{Masked, Vars};
use print::{print_capacity, print_capacity_event, print_load};

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

/// Reads `--var` and `--vars-file`, then runs `command` with the values
/// and with both streams masking them; refuses what cannot be read.
fn with_vars(
    workload: &WorkloadFlags,
    out: &mut dyn Write,
    err: &mut dyn Write,
    command: impl FnOnce(Arc<Vars>, &mut dyn Write, &mut dyn Write) -> i32,
) -> i32 {
    let vars = match workload.vars() {
        Ok(vars) => vars,
        Err(error) => return refuse(&error, err),
    };
    let (out, err) = (&mut Masked::new(out, &vars), &mut Masked::new(err, &vars));
    command(vars.clone(), out, err)
}

impl LoadArgs {
    /// Runs `otpbench load` on the given streams; returns the exit code.
    /// Every value from outside the files is masked in all it writes.
    pub fn run(&self, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
        with_vars(&self.workload, out, err, |vars, out, err| {
            match self.options_with(vars).and_then(|o| o.run(err)) {
                Ok(outcome) => print_load(&outcome, out, err),
                Err(error) => refuse(&error, err),
            }
        })
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
    /// Runs `otpbench capacity` on the given streams; returns the exit
    /// code. Every value from outside the files is masked in all it writes.
    pub fn run(&self, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
        with_vars(&self.workload, out, err, |vars, out, err| {
            let options = match self.options_with(vars) {
                Ok(options) => options,
                Err(error) => return refuse(&error, err),
            };
            let mut tell = |event: CapacityEvent| print_capacity_event(&event, out);
            match options.run(err, &mut tell) {
                Ok(outcome) => print_capacity(&outcome, out),
                Err(error) => refuse(&error, err),
            }
        })
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

impl From<CodeSourceArg> for CodeSource {
    fn from(arg: CodeSourceArg) -> CodeSource {
        match arg {
            CodeSourceArg::Echo => CodeSource::Echo,
            CodeSourceArg::Inbox => CodeSource::Inbox,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::flags::{parse_fine_duration, parse_header, parse_mix};
    use super::*;
    use crate::dialect::Dialect;
    use crate::load::flow::Mix;
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
