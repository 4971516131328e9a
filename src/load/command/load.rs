//! `otpbench load`: the reference workload (if any), then the main one
//! (in soak windows with `--soak`), the report built and gated, and the
//! run directory written. Returns a [`LoadOutcome`] for the caller to
//! print and judge ([`LoadOutcome::verdict`]).

use std::io::Write;
use std::path::PathBuf;

use crate::load::build;
use crate::load::command::session::{generator_section, LoadSession, SessionOptions};
use crate::load::command::{masked, write, LoadError, WorkloadChoice};
use crate::load::schedule::Model;
use crate::load::soak::{self, SoakPlan, SoakReport};
use crate::report::gate::{self, Gate};
use crate::report::json;
use crate::report::model::{Report, Tally, Transport};

/// `otpbench load`.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub session: SessionOptions,
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

/// What [`LoadOptions::measure`] ran: the report (gates evaluated) and
/// the first failure a worker saw, in words.
#[derive(Debug, Clone)]
pub struct Measured {
    pub report: Report,
    pub first_error: Option<String>,
    /// With `--soak`: the windows and their trends (`soak.json`).
    pub soak: Option<SoakReport>,
}

/// What `otpbench load` did: the report as written (secrets masked) and
/// where.
#[derive(Debug, Clone)]
pub struct LoadOutcome {
    pub report: Report,
    /// The run directory.
    pub written: PathBuf,
    pub first_error: Option<String>,
    pub soak: Option<SoakReport>,
}

/// How a load run that ran to its report ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every gate held (or there were none).
    Passed,
    /// This many gates broke.
    GateBreached(usize),
    /// Requests were made and every one failed to connect.
    NothingReached,
}

impl LoadOutcome {
    /// A breached gate first; then a target no request reached.
    pub fn verdict(&self) -> Verdict {
        let broken = self.report.gates.iter().filter(|g| !g.passed).count();
        if broken > 0 {
            Verdict::GateBreached(broken)
        } else if every_request_failed_to_connect(&self.report) {
            Verdict::NothingReached
        } else {
            Verdict::Passed
        }
    }
}

impl LoadOptions {
    /// Runs the reference workload (if any), then the main one, and
    /// returns the report with its gates evaluated; writes nothing but
    /// progress and notes to `progress`.
    pub fn measure(&self, progress: &mut dyn Write) -> Result<Measured, LoadError> {
        let baseline = match &self.baseline {
            Some((path, max)) => Some((json::read(path).map_err(LoadError::Baseline)?, *max)),
            None => None,
        };
        let mut session = LoadSession::open(&self.session)?;
        let (model, clamped_from) = session.offered(self.model.clone(), progress);
        pool_notes(&self.session, &model, progress);
        let reference = match &self.reference {
            Some(url) => Some(session.reference(&model, url, progress)?),
            None => None,
        };
        let (result, soak) = match &self.soak {
            None => (session.phase(model.clone(), "load", progress)?, None),
            Some(soak_plan) => {
                let stop = session.stop.clone();
                let mut failure = None;
                let soaked = soak::run(soak_plan, &model, &stop, progress, |model, progress| {
                    session.phase(model, "soak", progress).map_err(|e| {
                        let text = e.to_string();
                        failure = Some(e);
                        text
                    })
                });
                match (soaked, failure) {
                    (Ok((result, soak)), _) => (result, Some(soak)),
                    (Err(_), Some(e)) => return Err(e),
                    (Err(why), None) => return Err(LoadError::PhaseFailed(why)),
                }
            }
        };
        let plan = session.plan(model.clone());
        let workers = plan.effective_workers();
        let run = session.run_info(&model, &self.stages, workers, &result);
        let mut report = build::build(&result.recorder, &result.rows, result.duration, run);
        report.generator = generator_section(&plan, &result.recorder, clamped_from);
        if let Some((label, reference)) = &reference {
            report.reference = Some(build::reference(
                label,
                &reference.recorder,
                reference.duration,
            ));
        }
        let mut gates = gate::evaluate_all(&self.gates, &report);
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

    /// `otpbench load`: [`LoadOptions::measure`], then the run directory
    /// written (with `soak.json` when soaking).
    pub fn run(&self, progress: &mut dyn Write) -> Result<LoadOutcome, LoadError> {
        let Measured {
            report,
            first_error,
            soak,
        } = self.measure(progress)?;
        let report = masked(report, &self.session.vars)?;
        let written = write(&report, self.session.report_dir.as_deref())?;
        if let Some(soak) = &soak {
            soak::write(soak, &written).map_err(LoadError::Write)?;
        }
        Ok(LoadOutcome {
            report,
            written,
            first_error,
            soak,
        })
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

/// Notes about the identifier pool: shared by lanes in flight, or so
/// small that the target's send limits will answer `rate_limited`.
fn pool_notes(options: &SessionOptions, model: &Model, progress: &mut dyn Write) {
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
            progress,
            "note: {pool_here} identifiers for up to {in_flight} flows in flight: some flows \
             will share an identifier, and a send replaces the other's code"
        );
    }
    if let (Model::Open(m), Some(limit)) = (model, target.policy.send_limits.first()) {
        let per_identifier = m.total_arrivals() as f64 / plan.pool.max(1) as f64;
        if per_identifier > f64::from(limit.count) {
            let _ = writeln!(
                progress,
                "note: ~{per_identifier:.0} sends per identifier over the run (pool {}); the \
                 target allows {}/{}: expect rate_limited answers",
                plan.pool,
                limit.count,
                crate::duration::format(limit.window)
            );
        }
    }
}
