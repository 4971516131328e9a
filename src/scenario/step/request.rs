//! A request step — send, verify or http — run once, `repeat` times in
//! a row (the clock moved `every` so much after each) or `parallel` times
//! at once; its answers judged (`expect` on each, `expect_counts` over
//! all), the accepted send kept as its recipient's challenge, and its
//! captures taken.

use std::time::Duration;

use crate::client::Capability;
use crate::dialect::code_shape;
use crate::dialect::VerifyOp;
use crate::scenario::case::{error, failure, Case, Challenge, Failure, Named, PHONE};
use crate::scenario::expect;
use crate::scenario::model::{Action, CountKey, CountValue, Step, VerifyArgs};
use crate::scenario::request::{self, Prepared, Run};
use crate::scenario::step::wait::move_clock;

/// Runs a request step.
pub(super) async fn run(case: &mut Case<'_>, step: &Step) -> Result<(), Box<Failure>> {
    let prepared = prepare(case, step).await?;
    let (runs, parallel) = runs(case, step)?;
    if let Prepared::Send(op) = &prepared {
        // Marked wherever there is a journal, codes read from it or not:
        // an `inbox` step reads what came after the last send.
        if case.target.spec.has(Capability::Inbox) {
            let mark = case
                .target
                .inbox_mark(&op.to)
                .await
                .map_err(|e| error(step, format!("reading the inbox: {e}")))?;
            case.marks.insert(op.to.clone(), mark);
        }
    }
    let results = if parallel {
        request::run_parallel(case.target, &prepared, runs as usize).await
    } else {
        in_a_row(case, step, &prepared, runs).await?
    };
    note_readings(case, step, &results);
    // A failure that is not the target's ends the step.
    if let Some(run) = results.iter().find(|run| run.got().is_none()) {
        if let Err(why) = &run.result {
            return Err(error(step, why.to_string()));
        }
    }
    judge_each(case, step, &results, runs)?;
    if let Some(counts) = &step.expect_counts {
        judge_counts(case, step, counts, &results, runs)?;
    }
    if let Some(to) = remember(case, &prepared, &results) {
        // The send's code is fixed now, not when a later step reads it: a
        // raw request sending again must not move it.
        if case
            .code_read_after
            .get(case.step)
            .copied()
            .unwrap_or(false)
        {
            let _ = case.fetch_code(&to).await;
        }
    }
    if let Some(name) = &step.named {
        name_send(case, name, &prepared, &results).await;
    }
    capture(case, step, &prepared, &results)
}

/// How many runs, and whether at once: `repeat: 0` is a step the policy
/// left nothing to do for.
fn runs(case: &Case<'_>, step: &Step) -> Result<(u64, bool), Box<Failure>> {
    let (runs, parallel) = match (&step.repeat, &step.parallel) {
        (Some(n), _) => (n.number(case).map_err(|e| error(step, e))?, false),
        (_, Some(n)) => (n.number(case).map_err(|e| error(step, e))?, true),
        _ => (1, false),
    };
    if (parallel && runs == 0) || runs > request::MAX_RUNS {
        return Err(error(
            step,
            format!(
                "`{}` is {runs}; expected {} to {}",
                if parallel { "parallel" } else { "repeat" },
                if parallel { 1 } else { 0 },
                request::MAX_RUNS
            ),
        ));
    }
    Ok((runs, parallel))
}

/// `runs` runs one after the other, the clock moved `every` after each;
/// the first that fails its `expect` (or gets no answer) is the last.
async fn in_a_row(
    case: &mut Case<'_>,
    step: &Step,
    prepared: &Prepared,
    runs: u64,
) -> Result<Vec<Run>, Box<Failure>> {
    let every = match &step.every {
        Some(every) => every
            .duration(case)
            .map_err(|e| error(step, format!("every: {e}")))?,
        None => Duration::ZERO,
    };
    let mut results = Vec::with_capacity(runs as usize);
    for _ in 0..runs {
        let run = request::execute(case.target, prepared).await;
        let stop = match (&step.expect, run.got()) {
            (Some(expect), Some(got)) if step.expect_counts.is_none() => {
                !expect::check(expect, &got, case).is_empty()
            }
            (_, None) => true,
            _ => false,
        };
        results.push(run);
        if stop {
            break;
        }
        move_clock(case, step, every).await?;
    }
    Ok(results)
}

/// Keeps, once each, how answers were read where the vendor document
/// allowed more than one reading.
fn note_readings(case: &mut Case<'_>, step: &Step, results: &[Run]) {
    for reading in results.iter().filter_map(|run| run.reading.as_deref()) {
        let line = format!("line {}: {reading}", step.position.line);
        if !case.readings.contains(&line) {
            case.readings.push(line);
        }
    }
}

/// `expect` on every run (the first that differs fails the step, with
/// its request and answer, secrets masked); without `expect` or
/// `expect_counts`, every run must at least get an answer.
fn judge_each(
    case: &Case<'_>,
    step: &Step,
    results: &[Run],
    runs: u64,
) -> Result<(), Box<Failure>> {
    let Some(expect) = &step.expect else {
        if step.expect_counts.is_none() {
            if let Some(Err(e)) = results.iter().map(|r| &r.result).find(|r| r.is_err()) {
                return Err(error(step, e.to_string()));
            }
        }
        return Ok(());
    };
    let spec = &case.target.spec;
    for (index, run) in results.iter().enumerate() {
        let got = run.got().expect("checked above");
        let problems = expect::check(expect, &got, case);
        if !problems.is_empty() {
            let mut failure = failure(step);
            failure.problems = problems;
            failure.run = (runs > 1).then_some((index + 1, runs as usize));
            if let Ok((exchange, _)) = &run.result {
                failure.exchange = Some((
                    request::masked(&run.request, spec),
                    request::masked_answer(exchange, spec),
                ));
            }
            return Err(failure);
        }
    }
    Ok(())
}

/// `expect_counts` over all runs.
fn judge_counts(
    case: &Case<'_>,
    step: &Step,
    counts: &std::collections::BTreeMap<CountKey, CountValue>,
    results: &[Run],
    runs: u64,
) -> Result<(), Box<Failure>> {
    let gots: Vec<_> = results.iter().filter_map(Run::got).collect();
    if gots
        .iter()
        .any(|got| matches!(got, expect::Got::Answer { observed: None, .. }))
    {
        return Err(error(
            step,
            "`expect_counts` counts outcomes, and this path is not one of the dialect's \
             send or verify routes",
        ));
    }
    let tally = expect::tally(gots.iter(), counts);
    match expect::check_counts(counts, &tally, runs, case) {
        Ok(None) => Ok(()),
        Ok(Some(problem)) => {
            let mut failure = failure(step);
            failure.problems = vec![problem];
            Err(failure)
        }
        Err(why) => Err(error(step, why)),
    }
}

/// Keeps a named step's accepted send under its name, with its code read
/// now (a later send to the same recipient would hide it in the inbox).
async fn name_send(case: &mut Case<'_>, name: &str, prepared: &Prepared, runs: &[Run]) {
    let Prepared::Send(op) = prepared else {
        return;
    };
    let accepted = referred(prepared, runs).and_then(|i| runs[i].receipt().cloned());
    let named = match accepted {
        Some(receipt) => Ok(Named {
            to: op.to.clone(),
            id: receipt.id.clone(),
            code: case.fetch_code(&op.to).await,
        }),
        None => Err(format!("the send named `{name}` was not accepted")),
    };
    case.named.insert(name.to_string(), named);
}

/// Renders a step's request (and finds the code a verify without `code`
/// quotes).
async fn prepare(case: &mut Case<'_>, step: &Step) -> Result<Prepared, Box<Failure>> {
    match &step.action {
        Action::Send(args) => {
            let to = match &args.to {
                Some(to) => to.text(case),
                None => PHONE.text(case),
            }
            .map_err(|e| error(step, e))?;
            request::send_op(args, to, case)
                .map(Prepared::Send)
                .map_err(|e| error(step, e))
        }
        Action::Verify(args) => {
            let VerifyArgs {
                code,
                to,
                purpose,
                id,
            } = args;
            let to = match request::text(to, case).map_err(|e| error(step, e))? {
                Some(to) => to,
                None => case
                    .last
                    .clone()
                    .ok_or_else(|| error(step, "a verify before any send must name `to`"))?,
            };
            let code = match request::text(code, case).map_err(|e| error(step, e))? {
                Some(code) => code,
                None => case.fetch_code(&to).await.map_err(|e| error(step, e))?,
            };
            let own = case.challenges.get(&to);
            let purpose = match request::text(purpose, case).map_err(|e| error(step, e))? {
                Some(purpose) => Some(purpose),
                None => own.and_then(|c| c.purpose.clone()),
            };
            // The last send's handle names its purpose's challenge only.
            let own = own.filter(|c| c.purpose == purpose);
            Ok(Prepared::Verify(VerifyOp {
                purpose,
                id: match request::text(id, case).map_err(|e| error(step, e))? {
                    Some(id) => Some(id),
                    None => own.and_then(|c| c.receipt.id.clone()),
                },
                to,
                code,
            }))
        }
        Action::Http(args) => {
            let auth = if args.auth {
                case.target
                    .auth_headers()
                    .await
                    .map_err(|e| error(step, e.to_string()))?
                    .into_iter()
                    .map(|(name, value)| (name.to_string(), value))
                    .collect()
            } else {
                Vec::new()
            };
            request::http(args, auth, case).map_err(|e| error(step, e))
        }
        _ => unreachable!("only send, verify and http steps make requests"),
    }
}

/// The run later steps refer to: for a send, the last accepted one (in
/// the order the answers came); otherwise the last that was answered.
fn referred(prepared: &Prepared, runs: &[Run]) -> Option<usize> {
    match prepared {
        Prepared::Send(_) => runs.iter().rposition(|run| run.receipt().is_some()),
        _ => runs.iter().rposition(|run| run.result.is_ok()),
    }
}

/// Keeps the last accepted send as its recipient's challenge; returns
/// the recipient.
fn remember(case: &mut Case<'_>, prepared: &Prepared, runs: &[Run]) -> Option<String> {
    let Prepared::Send(op) = prepared else {
        return None;
    };
    let receipt = referred(prepared, runs).and_then(|i| runs[i].receipt())?;
    // The target's policy says the shape (Nomado's too: its documented
    // policy, or what the target file gives), unless the send names one.
    let shape = code_shape(&case.target.spec.policy, op.alphabet, op.length);
    let mark = case.marks.get(&op.to).copied().unwrap_or(0);
    case.challenges.insert(
        op.to.clone(),
        Challenge {
            purpose: op.purpose.clone(),
            code: receipt.code.clone(),
            code_error: None,
            receipt: receipt.clone(),
            mark,
            shape,
        },
    );
    case.last = Some(op.to.clone());
    Some(op.to.clone())
}

fn capture(
    case: &mut Case<'_>,
    step: &Step,
    prepared: &Prepared,
    runs: &[Run],
) -> Result<(), Box<Failure>> {
    if step.capture.is_empty() {
        return Ok(());
    }
    let exchange = referred(prepared, runs)
        .and_then(|i| runs[i].result.as_ref().ok())
        .map(|(exchange, _)| exchange)
        .ok_or_else(|| error(step, "nothing to capture from: no run was accepted"))?;
    for (name, source) in &step.capture {
        let value = expect::capture(source, exchange)
            .map_err(|why| error(step, format!("capture `{name}`: {why}")))?;
        case.captured.insert(name.clone(), value);
    }
    Ok(())
}
