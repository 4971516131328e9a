//! Running one case — one scenario against one opened target — step by
//! step: rendering templates, doing the step's action (once, `repeat`
//! times in a row — the clock moved `every` so much after each — or
//! `parallel` times at once), judging the answers and
//! capturing from them. The first step that fails ends the case with a
//! [`Failure`] that says where and why; fault rules set by the case are
//! cleared when it ends.
//!
//! What later steps refer to is kept per recipient: every send notes the
//! journal's newest message to its recipient first (so the code read
//! after it is that send's), and an accepted send becomes the recipient's
//! challenge — its handle, purpose and code. `${code}`, `${id}` and
//! `${to}` are the last accepted send's; a verify that leaves out `code`,
//! `id` or `purpose` takes its own recipient's. They are fixed when the
//! send step ends: its code is read then (from its answer, or the inbox
//! when a later step reads a code), so a later raw `http` request that
//! sends again never moves them. A send step named with `as` keeps its
//! challenge under that name (`${first.code}`) after later sends.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::client::{Capability, ClockMode, CodeSource, Exchange, RequestLog, Target};
use crate::dialect::{Dialect, VerifyOp};
use crate::engine::code::Alphabet;
use crate::engine::outcome::Receipt;
use crate::scenario::expect::{self, Message, Problem};
use crate::scenario::model::{Action, FaultsArgs, InboxArgs, Scenario, SendArgs, Step, VerifyArgs};
use crate::scenario::request::{self, Prepared, Run};
use crate::scenario::template::{Lookup, Template};
use crate::scenario::variables::{self, FreshKind};
use crate::source::Position;

/// How long reading a code waits for a message by default.
const INBOX_WAIT: Duration = Duration::from_secs(5);
/// How long `delivered: false` watches the inbox by default.
const NO_DELIVERY_WAIT: Duration = Duration::from_secs(1);

/// Why a case failed.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Index of the failing step.
    pub step: usize,
    pub keyword: &'static str,
    pub label: Option<String>,
    pub position: Position,
    /// `(i, n)`: run `i` (1-based) of `n` repeated or parallel runs.
    pub run: Option<(usize, usize)>,
    /// What differed from the expectation.
    pub problems: Vec<Problem>,
    /// A step that could not be carried out (no answer, a template that
    /// cannot render, a hook that failed).
    pub error: Option<String>,
    /// The request and answer (credentials masked) of the failing run,
    /// for `--verbose`.
    pub exchange: Option<(RequestLog, Exchange)>,
}

impl Failure {
    /// A case that could not start (its engine did not).
    pub fn setup(scenario: &Scenario, why: String) -> Failure {
        Failure {
            step: 0,
            keyword: "setup",
            label: None,
            position: scenario.position,
            run: None,
            problems: Vec::new(),
            error: Some(why),
            exchange: None,
        }
    }
}

/// A recipient's last accepted send.
#[derive(Debug, Clone)]
struct Challenge {
    purpose: Option<String>,
    receipt: Receipt,
    /// The journal's newest message id for the recipient before the send.
    mark: u64,
    /// Alphabet and length of the code.
    shape: (Alphabet, u8),
    code: Option<String>,
    /// Why the code could not be read when the send was accepted.
    code_error: Option<String>,
}

/// A named send's challenge (`as: first`).
#[derive(Debug, Clone)]
struct Named {
    to: String,
    id: Option<String>,
    /// The code, or why there is none.
    code: Result<String, String>,
}

/// What runs the case: limits given by the runner.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest sleep, in all, on a real clock.
    pub max_wait: Duration,
}

/// One case in progress.
struct Case<'a> {
    target: &'a Arc<Target>,
    fresh: HashMap<(FreshKind, u32), String>,
    captured: BTreeMap<String, Value>,
    /// Each recipient's last accepted send.
    challenges: HashMap<String, Challenge>,
    /// The recipient of the last accepted send.
    last: Option<String>,
    /// The journal's newest message id for each recipient before its
    /// last send, accepted or not.
    marks: HashMap<String, u64>,
    /// Named sends (`as`), by name; `Err` when the send was refused.
    named: HashMap<String, Result<Named, String>>,
    faults_set: bool,
    slept: Duration,
    limits: Limits,
    /// How answers were read where the vendor document allowed more than
    /// one reading (for `--verbose`), each once.
    readings: Vec<String>,
    /// Per step: whether a later step reads a code (`${code}`,
    /// `${wrong_code}`, a verify without `code`), so a send's code must be
    /// read when the send is accepted.
    code_read_after: Vec<bool>,
    /// The step running.
    step: usize,
}

impl Lookup for Case<'_> {
    fn get(&self, name: &str) -> Result<Value, String> {
        if let Some(value) = self.captured.get(name) {
            return Ok(value.clone());
        }
        if let Some(key) = variables::fresh_kind(name) {
            let drawn = self
                .fresh
                .get(&key)
                .ok_or_else(|| format!("`${{{name}}}` was not drawn"))?;
            return Ok(Value::String(match variables::fresh_form(name) {
                Some(form) => variables::written_as(self.target.dialect(), drawn, form),
                None => drawn.clone(),
            }));
        }
        if let Some(value) = variables::known_before(&self.target.spec, name) {
            return value;
        }
        if let Some((base, part)) = name.split_once('.') {
            if let Some(named) = self.named.get(base) {
                let named = named
                    .as_ref()
                    .map_err(|why| format!("`${{{name}}}`: {why}"))?;
                return match part {
                    "code" => named
                        .code
                        .clone()
                        .map(Value::String)
                        .map_err(|why| format!("`${{{name}}}`: {why}")),
                    "id" => named.id.clone().map(Value::String).ok_or_else(|| {
                        format!("`${{{name}}}`: the send's answer carried no handle")
                    }),
                    _ => Ok(Value::String(named.to.clone())),
                };
            }
        }
        match name {
            "code" => self.last_code().map(Value::String),
            "code.upper" => self.last_code().map(|c| Value::String(c.to_uppercase())),
            "code.lower" => self.last_code().map(|c| Value::String(c.to_lowercase())),
            "code.truncated" => self.last_code().map(|c| {
                let mut chars = c.chars();
                chars.next_back();
                Value::String(chars.as_str().to_string())
            }),
            "wrong_code" => self
                .last_code()
                .map(|code| Value::String(variables::wrong_code(&code))),
            "id" => self
                .last_challenge()
                .and_then(|(_, c)| c.receipt.id.clone())
                .map(Value::String)
                .ok_or_else(|| "`${id}`: the last send's answer carried no handle".into()),
            "to" => self
                .last
                .clone()
                .map(Value::String)
                .ok_or_else(|| "`${to}`: no send yet".into()),
            other => Err(format!("unknown variable `${{{other}}}`")),
        }
    }
}

impl Case<'_> {
    fn last_challenge(&self) -> Option<(&String, &Challenge)> {
        let to = self.last.as_ref()?;
        Some((to, self.challenges.get(to)?))
    }

    fn last_code(&self) -> Result<String, String> {
        match self.last_challenge() {
            Some((
                _,
                Challenge {
                    code: Some(code), ..
                },
            )) => Ok(code.clone()),
            Some((to, _)) => Err(format!("`${{code}}`: no code was found for {to}")),
            None => Err("`${code}`: no send yet".into()),
        }
    }

    /// Draws the fresh recipients `templates` read.
    fn draw(&mut self, templates: &[&Template]) {
        let dialect = self.target.dialect();
        for template in templates {
            for name in template.variables() {
                if let Some(key) = variables::fresh_kind(name) {
                    self.fresh
                        .entry(key)
                        .or_insert_with(|| variables::fresh(dialect, key.0));
                }
            }
        }
    }

    /// Finds the code of `to`'s last accepted send, if it is not known
    /// yet: from the send's answer, else from the inbox.
    async fn fetch_code(&mut self, to: &str) -> Result<String, String> {
        let spec = self.target.spec.clone();
        let Some(challenge) = self.challenges.get_mut(to) else {
            return Err(format!("no code: nothing was sent to {to}"));
        };
        if let Some(code) = &challenge.code {
            return Ok(code.clone());
        }
        if let Some(why) = &challenge.code_error {
            return Err(why.clone());
        }
        if let Some(code) = &challenge.receipt.code {
            challenge.code = Some(code.clone());
            return Ok(code.clone());
        }
        if spec.code_source == CodeSource::Echo || !spec.has(Capability::Inbox) {
            return Err(format!(
                "`${{code}}`: the send's answer carried no code, and {}",
                spec.lack_reason(Capability::Inbox)
            ));
        }
        let code = self
            .target
            .read_code(to, challenge.mark, challenge.shape, INBOX_WAIT)
            .await
            .map_err(|e| format!("reading the inbox: {e}"));
        let code = match code {
            Ok(Some(code)) => Ok(code),
            Ok(None) => Err(format!(
                "`${{code}}`: no message with a code reached the provider for {to} within {} \
                 of its send",
                crate::duration::format(INBOX_WAIT)
            )),
            Err(why) => Err(why),
        };
        match &code {
            Ok(code) => challenge.code = Some(code.clone()),
            Err(why) => challenge.code_error = Some(why.clone()),
        }
        code
    }
}

/// Runs `scenario` against `target`; `Ok` when every step held. Besides,
/// how answers were read where the vendor document allowed more than one
/// reading.
pub async fn run_case(
    scenario: &Scenario,
    target: &Arc<Target>,
    limits: Limits,
) -> (Result<(), Box<Failure>>, Vec<String>) {
    let mut case = Case {
        target,
        fresh: HashMap::new(),
        captured: BTreeMap::new(),
        challenges: HashMap::new(),
        last: None,
        marks: HashMap::new(),
        named: HashMap::new(),
        faults_set: false,
        slept: Duration::ZERO,
        limits,
        readings: Vec::new(),
        code_read_after: code_read_after(scenario),
        step: 0,
    };
    let mut result = Ok(());
    for (index, step) in scenario.steps.iter().enumerate() {
        case.step = index;
        if let Err(mut failure) = run_step(&mut case, step).await {
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

/// Whether a step reads the last accepted send's code.
fn reads_code(step: &Step) -> bool {
    matches!(&step.action, Action::Verify(args) if args.code.is_none())
        || step
            .templates()
            .iter()
            .any(|t| t.variables().any(variables::is_last_code))
}

/// Per step: whether a later one reads a code.
fn code_read_after(scenario: &Scenario) -> Vec<bool> {
    let mut later = false;
    let mut out = vec![false; scenario.steps.len()];
    for (index, step) in scenario.steps.iter().enumerate().rev() {
        out[index] = later;
        later |= reads_code(step);
    }
    out
}

fn failure(step: &Step) -> Box<Failure> {
    Box::new(Failure {
        step: 0,
        keyword: step.keyword(),
        label: step.label.clone(),
        position: step.position,
        run: None,
        problems: Vec::new(),
        error: None,
        exchange: None,
    })
}

fn error(step: &Step, why: impl Into<String>) -> Box<Failure> {
    let mut failure = failure(step);
    failure.error = Some(why.into());
    failure
}

static PHONE: std::sync::LazyLock<Template> =
    std::sync::LazyLock::new(|| Template::parse("${phone}").expect("a template"));

/// The templates a step reads, with the ones its defaults read: a send
/// without `to` sends to `${phone}`.
fn templates_of(step: &Step) -> Vec<&Template> {
    let mut out = step.templates();
    if let Action::Send(SendArgs { to: None, .. }) = &step.action {
        out.push(&PHONE);
    }
    out
}

async fn run_step(case: &mut Case<'_>, step: &Step) -> Result<(), Box<Failure>> {
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
        Action::Wait(duration) => wait(case, step, duration).await,
        Action::Faults(FaultsArgs::Set(set)) => {
            let rules = serde_json::to_value(set).map_err(|e| error(step, e.to_string()))?;
            case.target
                .set_faults(&rules)
                .await
                .map_err(|e| error(step, e.to_string()))?;
            case.faults_set = true;
            Ok(())
        }
        Action::Faults(FaultsArgs::Clear) => case
            .target
            .clear_faults()
            .await
            .map_err(|e| error(step, e.to_string())),
        Action::Inbox(args) => inbox(case, step, args).await,
        Action::Send(_) | Action::Verify(_) | Action::Http(_) => request_step(case, step).await,
    }
}

async fn wait(case: &mut Case<'_>, step: &Step, duration: &Template) -> Result<(), Box<Failure>> {
    let by = duration
        .duration(case)
        .map_err(|e| error(step, format!("wait: {e}")))?;
    move_clock(case, step, by).await
}

/// Moves the target's clock by `by` (nothing for zero), within
/// `--max-wait` in all on a real clock.
async fn move_clock(case: &mut Case<'_>, step: &Step, by: Duration) -> Result<(), Box<Failure>> {
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

async fn request_step(case: &mut Case<'_>, step: &Step) -> Result<(), Box<Failure>> {
    let prepared = prepare(case, step).await?;
    let (runs, parallel) = match (&step.repeat, &step.parallel) {
        (Some(n), _) => (n.number(case).map_err(|e| error(step, e))?, false),
        (_, Some(n)) => (n.number(case).map_err(|e| error(step, e))?, true),
        _ => (1, false),
    };
    // `repeat: 0` is a step the policy left nothing to do for.
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
    let every = match &step.every {
        Some(every) => every
            .duration(case)
            .map_err(|e| error(step, format!("every: {e}")))?,
        None => Duration::ZERO,
    };
    let results = if parallel {
        request::run_parallel(case.target, &prepared, runs as usize).await
    } else {
        let mut results = Vec::with_capacity(runs as usize);
        for _ in 0..runs {
            let run = request::execute(case.target, &prepared).await;
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
        results
    };
    for reading in results.iter().filter_map(|run| run.reading.as_deref()) {
        let line = format!("line {}: {reading}", step.position.line);
        if !case.readings.contains(&line) {
            case.readings.push(line);
        }
    }
    // A failure that is not the target's ends the step.
    if let Some(run) = results.iter().find(|run| run.got().is_none()) {
        if let Err(why) = &run.result {
            return Err(error(step, why.to_string()));
        }
    }
    let spec = case.target.spec.clone();
    if let Some(expect) = &step.expect {
        for (index, run) in results.iter().enumerate() {
            let got = run.got().expect("checked above");
            let problems = expect::check(expect, &got, case);
            if !problems.is_empty() {
                let mut failure = failure(step);
                failure.problems = problems;
                failure.run = (runs > 1).then_some((index + 1, runs as usize));
                if let Ok((exchange, _)) = &run.result {
                    failure.exchange = Some((
                        request::masked(&run.request, &spec),
                        request::masked_answer(exchange, &spec),
                    ));
                }
                return Err(failure);
            }
        }
    } else if step.expect_counts.is_none() {
        // Without expectations, a step must at least get an answer.
        if let Some(Err(e)) = results.iter().map(|r| &r.result).find(|r| r.is_err()) {
            return Err(error(step, e.to_string()));
        }
    }
    if let Some(counts) = &step.expect_counts {
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
            Ok(None) => {}
            Ok(Some(problem)) => {
                let mut failure = failure(step);
                failure.problems = vec![problem];
                return Err(failure);
            }
            Err(why) => return Err(error(step, why)),
        }
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
    let policy = &case.target.spec.policy;
    let shape = match case.target.dialect() {
        Dialect::Nomado => (
            op.alphabet.unwrap_or(Alphabet::Alphanumeric),
            op.length.unwrap_or(4),
        ),
        _ => (
            op.alphabet.unwrap_or(policy.alphabet),
            op.length.unwrap_or(policy.length),
        ),
    };
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

async fn inbox(case: &mut Case<'_>, step: &Step, args: &InboxArgs) -> Result<(), Box<Failure>> {
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
