//! The step kinds a case runs, one file each: [`request`] (send, verify
//! and http, with `repeat`, `parallel` and `every`), [`inbox`], [`wait`]
//! and [`faults`]. Each takes the [`Case`] and the step, and returns the
//! [`Failure`] that ends the case when the step does not hold.

mod faults;
mod inbox;
mod request;
mod wait;

use std::sync::Arc;

use crate::client::Target;
use crate::scenario::case::{error, templates_of, Case, Failure, Limits};
use crate::scenario::model::Scenario;
use crate::scenario::model::{Action, FaultsArgs, Step};
use crate::scenario::variables;

/// Runs `scenario` against `target`; `Ok` when every step held. Besides,
/// how answers were read where the vendor document allowed more than one
/// reading.
pub(in crate::scenario) async fn run_case(
    scenario: &Scenario,
    target: &Arc<Target>,
    limits: Limits,
) -> (Result<(), Box<Failure>>, Vec<String>) {
    let mut case = Case::new(scenario, target, limits);
    let mut result = Ok(());
    for (index, step) in scenario.steps.iter().enumerate() {
        case.step = index;
        if let Err(mut failure) = run(&mut case, step).await {
            failure.step = index;
            result = Err(failure);
            break;
        }
    }
    if case.faults_set {
        let _ = target.clear_faults().await;
    }
    (result, case.readings)
}

/// Runs one step of the case: draws the fresh recipients it reads, reads
/// the code it quotes, then does what its kind does.
async fn run(case: &mut Case<'_>, step: &Step) -> Result<(), Box<Failure>> {
    let templates = templates_of(step);
    case.draw(&templates);
    if templates
        .iter()
        .any(|t| t.variables().any(variables::is_last_code))
    {
        if let Some(to) = case.last.clone() {
            case.fetch_code(&to).await.map_err(|why| error(step, why))?;
        }
    }
    match &step.action {
        Action::Wait(duration) => wait::run(case, step, duration).await,
        Action::Faults(FaultsArgs::Set(set)) => faults::set(case, step, set).await,
        Action::Faults(FaultsArgs::Clear) => faults::clear(case, step).await,
        Action::Inbox(args) => inbox::run(case, step, args).await,
        Action::Send(_) | Action::Verify(_) | Action::Http(_) => request::run(case, step).await,
    }
}
