//! A `faults` step: the mock provider's fault rules set (and cleared
//! when the case ends) or cleared now.

use crate::provider::faults::FaultSet;
use crate::scenario::case::{error, Case, Failure};
use crate::scenario::model::Step;

/// `faults: { … }`: the rules set; the case clears them when it ends.
pub(super) async fn set(
    case: &mut Case<'_>,
    step: &Step,
    set: &FaultSet,
) -> Result<(), Box<Failure>> {
    let rules = serde_json::to_value(set).map_err(|e| error(step, e.to_string()))?;
    case.target
        .set_faults(&rules)
        .await
        .map_err(|e| error(step, e.to_string()))?;
    case.faults_set = true;
    Ok(())
}

/// `faults: clear`.
pub(super) async fn clear(case: &mut Case<'_>, step: &Step) -> Result<(), Box<Failure>> {
    case.target
        .clear_faults()
        .await
        .map_err(|e| error(step, e.to_string()))
}
