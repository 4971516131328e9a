//! An `inbox` step: the first message the mock provider got for a
//! recipient since its last send, its code kept as the one `${code}`
//! names (or captured under the names given), or no message when the
//! step expects none.

use crate::client::Capability;
use crate::engine::outcome::Receipt;
use crate::scenario::case::{
    error, failure, Case, Challenge, Failure, INBOX_WAIT, NO_DELIVERY_WAIT,
};
use crate::scenario::expect::{self, Message, Problem};
use crate::scenario::model::{InboxArgs, Step};

/// `inbox: { to, within }`.
pub(super) async fn run(
    case: &mut Case<'_>,
    step: &Step,
    args: &InboxArgs,
) -> Result<(), Box<Failure>> {
    let spec = case.target.spec.clone();
    if !spec.has(Capability::Inbox) {
        return Err(error(step, spec.lack_reason(Capability::Inbox)));
    }
    let to = match &args.to {
        Some(to) => to.text(case).map_err(|e| error(step, e))?,
        None => case
            .last
            .clone()
            .ok_or_else(|| error(step, "an inbox step before any send must name `to`"))?,
    };
    let expect_delivery = step
        .expect
        .as_ref()
        .and_then(|e| e.delivered)
        .unwrap_or(true);
    let within = match &args.within {
        Some(t) => t
            .duration(case)
            .map_err(|e| error(step, format!("within: {e}")))?,
        None if expect_delivery => INBOX_WAIT,
        None => NO_DELIVERY_WAIT,
    };
    let mark = case.marks.get(&to).copied().unwrap_or(0);
    let shape = case
        .challenges
        .get(&to)
        .map_or((spec.policy.alphabet, spec.policy.length), |c| c.shape);
    let found = case
        .target
        .read_message(&to, mark, shape, within)
        .await
        .map_err(|e| error(step, format!("reading the inbox: {e}")))?;
    let message = match (found, expect_delivery) {
        (Some((id, text, Some(code))), true) => Message {
            id,
            text,
            code: Some(code),
        },
        (None, false) => return Ok(()),
        (found, expected) => {
            let mut failure = failure(step);
            failure.problems = vec![Problem {
                what: "delivered".into(),
                expected: format!(
                    "{} to {to} within {}",
                    if expected {
                        "a message with a code"
                    } else {
                        "no message"
                    },
                    crate::duration::format(within)
                ),
                actual: match found {
                    Some((_, text, Some(_))) => format!("a message: {text:?}"),
                    Some((_, text, None)) => format!("a message without a code: {text:?}"),
                    None => "none".into(),
                },
            }];
            return Err(failure);
        }
    };
    if !step.capture.is_empty() {
        // What it read is kept under the names given; `${code}` stays
        // the send's.
        for (name, source) in &step.capture {
            let value = expect::capture_message(source, &message)
                .map_err(|why| error(step, format!("capture `{name}`: {why}")))?;
            case.captured.insert(name.clone(), value);
        }
        return Ok(());
    }
    // Without captures, the code read is the one `${code}` names from now
    // on (for a recipient this case never sent to as well).
    let challenge = case
        .challenges
        .entry(to.clone())
        .or_insert_with(|| Challenge {
            purpose: None,
            receipt: Receipt::default(),
            mark,
            shape,
            code: None,
            code_error: None,
        });
    challenge.code = message.code;
    challenge.code_error = None;
    case.last = Some(to);
    Ok(())
}
