//! The step kinds a case runs, one file each: [`request`] (send, verify
//! and http, with `repeat`, `parallel` and `every`), [`inbox`], [`wait`]
//! and [`faults`]. Each takes the [`Case`] and the step, and returns the
//! [`Failure`] that ends the case when the step does not hold.

mod faults;
mod inbox;
mod request;
mod wait;

use crate::scenario::case::{error, templates_of, Case, Failure};
use crate::scenario::model::{Action, FaultsArgs, Step};
use crate::scenario::variables;

/// Runs one step of the case: draws the fresh recipients it reads, reads
/// the code it quotes, then does what its kind does.
pub(super) async fn run(case: &mut Case<'_>, step: &Step) -> Result<(), Box<Failure>> {
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
