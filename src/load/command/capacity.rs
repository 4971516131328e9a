//! `otpbench capacity`: steps, then bisects, the open-model rate until
//! the SLO breaks (`crate::load::capacity` decides which rate comes next);
//! writes the best step's report with every step as evidence. Each step is
//! told to the caller as a [`CapacityEvent`] when it is measured; the end
//! is a [`CapacityOutcome`].

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use crate::load::build;
use crate::load::capacity::{self, CapacityPlan};
use crate::load::command::session::{generator_section, LoadSession, SessionOptions};
use crate::load::command::{masked, write, LoadError};
use crate::load::recorder::{Operations, Recorder};
use crate::load::schedule::{Model, OpenModel};
use crate::report::gate;
use crate::report::model::{Report, RunInfo};

/// `otpbench capacity`.
#[derive(Debug, Clone)]
pub struct CapacityOptions {
    pub session: SessionOptions,
    pub plan: CapacityPlan,
    /// How long each rate is offered.
    pub step_duration: Duration,
}

/// What a capacity search tells as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum CapacityEvent {
    /// The target is open and answers; the search begins.
    Started {
        /// The target, as reports name it.
        target: String,
        /// The SLO's expressions.
        slo: Vec<String>,
        step_duration: Duration,
        start_rate: f64,
    },
    /// One rate was measured.
    Step {
        /// From 1.
        step: usize,
        offered: f64,
        achieved: f64,
        /// Each operation's corrected p99, µs.
        p99_us: Vec<(String, u64)>,
        /// Whether the SLO held and the rate was achieved.
        held: bool,
        /// The rate of the step before, which broke, measured again.
        again: bool,
    },
}

/// What `otpbench capacity` found: the report as written and where.
#[derive(Debug, Clone)]
pub struct CapacityOutcome {
    pub report: Report,
    pub written: PathBuf,
    /// The highest rate that met the SLO; `None` when none did.
    pub found: Option<f64>,
}

impl CapacityOutcome {
    /// Why the search stopped, in words.
    pub fn stopped(&self) -> &str {
        self.report
            .capacity
            .as_ref()
            .map_or("", |c| c.stopped.as_str())
    }
}

impl CapacityOptions {
    /// Runs the search, telling `events` each step, its phases' progress
    /// on `progress`; writes the run directory.
    pub fn run(
        &self,
        progress: &mut dyn Write,
        events: &mut dyn FnMut(CapacityEvent),
    ) -> Result<CapacityOutcome, LoadError> {
        let mut session = LoadSession::open(&self.session)?;
        let plan = &self.plan;
        events(CapacityEvent::Started {
            target: session.label.clone(),
            slo: plan
                .slo
                .iter()
                .map(|g| g.expression().to_string())
                .collect(),
            step_duration: self.step_duration,
            start_rate: plan.start_rate,
        });
        let searcher = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|_| LoadError::Setup("cannot start the runtime".into()))?;
        let mut failure: Option<LoadError> = None;
        let mut step = 0;
        // The search offers a rate twice in a row only to confirm a break.
        let mut previous: Option<f64> = None;
        let result = searcher.block_on(capacity::search(plan, |offered| {
            step += 1;
            let again = previous == Some(offered);
            previous = Some(offered);
            let report = match failure {
                Some(_) => empty_report(),
                None => self
                    .step(&mut session, (offered, again), step, progress, events)
                    .unwrap_or_else(|e| {
                        failure = Some(e);
                        empty_report()
                    }),
            };
            async move { report }
        }));
        if let Some(e) = failure {
            return Err(e);
        }
        let found = result.capacity.max_sustainable_rps;
        let mut report = result.into_report();
        report.gates = gate::evaluate_all(&plan.slo, &report);
        let report = masked(report, &self.session.vars)?;
        let written = write(&report, self.session.report_dir.as_deref())?;
        Ok(CapacityOutcome {
            report,
            written,
            found,
        })
    }

    /// One step: `offered` per second for the step duration (`again`: the
    /// step before's rate, measured again). After a failure (or Ctrl-C)
    /// nothing more is run: an empty report stops the search.
    fn step(
        &self,
        session: &mut LoadSession<'_>,
        (offered, again): (f64, bool),
        step: usize,
        progress: &mut dyn Write,
        events: &mut dyn FnMut(CapacityEvent),
    ) -> Result<Report, LoadError> {
        let model = OpenModel::constant(offered, self.step_duration)
            .map(Model::Open)
            .map_err(|e| LoadError::Usage(e.to_string()))?;
        let (model, clamped_from) = session.offered(model, progress);
        if session.stopped() {
            return Ok(empty_report());
        }
        let label = format!("step {step} {}", crate::report::text::rate(offered));
        let result = session.phase(model.clone(), &label, progress)?;
        let plan = session.plan(model.clone());
        let workers = plan.effective_workers();
        let run = session.run_info(&model, &[], workers, &result);
        let mut report = build::build(&result.recorder, &result.rows, result.duration, run);
        report.generator = generator_section(&plan, &result.recorder, clamped_from);
        let gates = gate::evaluate_all(&self.plan.slo, &report);
        let achieved = capacity::achieved_rate(&self.plan, &report);
        let held = achieved >= offered * self.plan.min_achieved && !gate::breached(&gates);
        events(CapacityEvent::Step {
            step,
            offered,
            achieved,
            p99_us: report
                .operations
                .iter()
                .map(|(name, op)| (name.clone(), op.latency_us.p99))
                .collect(),
            held,
            again,
        });
        Ok(report)
    }
}

/// A report of nothing, for steps that could not run (the search then
/// stops on the failure).
fn empty_report() -> Report {
    let recorder = Recorder::new(Operations::new(["none"]).expect("a valid name"));
    build::build(&recorder, &[], Duration::ZERO, RunInfo::now(Vec::new()))
}
