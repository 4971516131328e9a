//! A `wait` step, and the clock moves `every` makes between repeated
//! runs: the target's clock moved forward (its admin hook), or slept on a
//! real clock within `--max-wait` in all.

use std::time::Duration;

use crate::client::ClockMode;
use crate::scenario::case::{error, Case, Failure};
use crate::scenario::model::Step;
use crate::scenario::template::Template;

/// `wait: DURATION`.
pub(super) async fn run(
    case: &mut Case<'_>,
    step: &Step,
    duration: &Template,
) -> Result<(), Box<Failure>> {
    let by = duration
        .duration(case)
        .map_err(|e| error(step, format!("wait: {e}")))?;
    move_clock(case, step, by).await
}

/// Moves the target's clock by `by` (nothing for zero), within
/// `--max-wait` in all on a real clock.
pub(super) async fn move_clock(
    case: &mut Case<'_>,
    step: &Step,
    by: Duration,
) -> Result<(), Box<Failure>> {
    if by.is_zero() {
        return Ok(());
    }
    if case.target.spec.clock == ClockMode::Real {
        let total = case.slept + by;
        if total > case.limits.max_wait {
            return Err(error(
                step,
                format!(
                    "waiting {} would sleep {} in all on a real clock, over --max-wait {}",
                    crate::duration::format(by),
                    crate::duration::format(total),
                    crate::duration::format(case.limits.max_wait)
                ),
            ));
        }
        case.slept = total;
    }
    case.target
        .advance_clock(by)
        .await
        .map_err(|e| error(step, e.to_string()))
}
