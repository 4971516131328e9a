//! Running one case — one scenario against one opened target — step by
//! step: rendering templates, doing the step's action (once, `repeat`
//! times in a row, or `parallel` times at once), judging the answers and
//! capturing from them. The first step that fails ends the case with a
//! [`Failure`] that says where and why; fault rules set by the case are
//! cleared when it ends.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use serde_json::Value;

use crate::client::{CallError, Called, Capability, CodeSource, Exchange, RequestLog, Target};
use crate::delivery::Channel;
use crate::dialect::{Dialect, Operation, SendOp, VerifyOp, WireResponse};
use crate::engine::code::Alphabet;
use crate::engine::outcome::{Observed, Receipt};
use crate::scenario::expect::{self, Got, Problem};
use crate::scenario::model::{
    Action, FaultsArgs, HttpArgs, InboxArgs, Scenario, SendArgs, Step, VerifyArgs,
};
use crate::scenario::template::{Lookup, Template};
use crate::scenario::variables::{self, FreshKind};
use crate::source::Position;

/// How long an inbox read waits for a message by default.
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
    /// The request and answer of the failing run (for `--verbose`).
    pub exchange: Option<(RequestLog, Exchange)>,
}

/// The last accepted send: what later steps refer to.
#[derive(Debug, Clone)]
struct Challenge {
    to: String,
    purpose: Option<String>,
    receipt: Receipt,
    /// The journal's newest message id for `to` before the send.
    mark: u64,
    /// Alphabet and length of the code.
    shape: (Alphabet, u8),
    code: Option<String>,
}

/// One case in progress.
struct Case<'a> {
    target: &'a Arc<Target>,
    fresh: HashMap<(FreshKind, u32), String>,
    captured: BTreeMap<String, Value>,
    last: Option<Challenge>,
    faults_set: bool,
}

impl Lookup for Case<'_> {
    fn get(&self, name: &str) -> Result<Value, String> {
        if let Some(value) = self.captured.get(name) {
            return Ok(value.clone());
        }
        if let Some(key) = variables::fresh_kind(name) {
            return self
                .fresh
                .get(&key)
                .map(|v| Value::String(v.clone()))
                .ok_or_else(|| format!("`${{{name}}}` was not drawn"));
        }
        let spec = &self.target.spec;
        match name {
            "code" => self.code().map(Value::String),
            "wrong_code" => self
                .code()
                .map(|code| Value::String(variables::wrong_code(&code))),
            "id" => self
                .last
                .as_ref()
                .and_then(|c| c.receipt.id.clone())
                .map(Value::String)
                .ok_or_else(|| "`${id}`: the last send's answer carried no handle".into()),
            "to" => self
                .last
                .as_ref()
                .map(|c| Value::String(c.to.clone()))
                .ok_or_else(|| "`${to}`: no send yet".into()),
            "target.name" => Ok(Value::String(spec.name.clone())),
            "target.dialect" => Ok(Value::String(spec.dialect.name().to_string())),
            policy if policy.starts_with("policy.") => {
                variables::policy_value(&spec.policy, policy)
            }
            other => Err(format!("unknown variable `${{{other}}}`")),
        }
    }
}

impl Case<'_> {
    fn code(&self) -> Result<String, String> {
        match &self.last {
            Some(Challenge {
                code: Some(code), ..
            }) => Ok(code.clone()),
            Some(_) => Err("`${code}`: no code was found for the last send".into()),
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

    /// Finds the last send's code if `templates` read it.
    async fn fetch_code(&mut self, templates: &[&Template]) -> Result<(), String> {
        let needed = templates
            .iter()
            .any(|t| t.reads("code") || t.reads("wrong_code"));
        let Some(challenge) = self.last.as_mut().filter(|_| needed) else {
            return Ok(());
        };
        if challenge.code.is_some() {
            return Ok(());
        }
        if let Some(code) = &challenge.receipt.code {
            challenge.code = Some(code.clone());
            return Ok(());
        }
        let spec = &self.target.spec;
        if spec.code_source == CodeSource::Echo || !spec.has(Capability::Inbox) {
            return Err(format!(
                "`${{code}}`: the send's answer carried no code, and {}",
                spec.lack_reason(Capability::Inbox)
            ));
        }
        let code = self
            .target
            .read_code(&challenge.to, challenge.mark, challenge.shape, INBOX_WAIT)
            .await
            .map_err(|e| format!("reading the inbox: {e}"))?;
        match code {
            Some(code) => {
                challenge.code = Some(code);
                Ok(())
            }
            None => Err(format!(
                "`${{code}}`: no message with a code reached the provider for {} within {}",
                challenge.to,
                crate::duration::format(INBOX_WAIT)
            )),
        }
    }
}

/// Runs `scenario` against `target`; `Ok` when every step held.
pub async fn run_case(scenario: &Scenario, target: &Arc<Target>) -> Result<(), Box<Failure>> {
    let mut case = Case {
        target,
        fresh: HashMap::new(),
        captured: BTreeMap::new(),
        last: None,
        faults_set: false,
    };
    let mut result = Ok(());
    for (index, step) in scenario.steps.iter().enumerate() {
        if let Err(mut failure) = run_step(&mut case, step).await {
            failure.step = index;
            result = Err(failure);
            break;
        }
    }
    if case.faults_set {
        let _ = target.clear_faults().await;
    }
    result
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

async fn run_step(case: &mut Case<'_>, step: &Step) -> Result<(), Box<Failure>> {
    let templates = templates_of(step);
    case.draw(&templates);
    case.fetch_code(&templates)
        .await
        .map_err(|why| error(step, why))?;
    match &step.action {
        Action::Wait(duration) => {
            let text = duration.text(case).map_err(|e| error(step, e))?;
            let by = crate::duration::parse(&text)
                .map_err(|e| error(step, format!("wait `{text}`: {e}")))?;
            case.target
                .advance_clock(by)
                .await
                .map_err(|e| error(step, e.to_string()))
        }
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

/// The templates a step reads, with the `${code}` a verify reads when it
/// names no code.
fn templates_of(step: &Step) -> Vec<&Template> {
    let mut out = step.templates();
    if let Action::Verify(VerifyArgs { code: None, .. }) = &step.action {
        out.push(&CODE);
    }
    out
}

static CODE: std::sync::LazyLock<Template> =
    std::sync::LazyLock::new(|| Template::parse("${code}").expect("a template"));

/// One prepared run of a send, verify or http step.
#[derive(Clone)]
enum Prepared {
    Send(SendOp),
    Verify(VerifyOp),
    Http {
        method: Method,
        path: String,
        headers: Vec<(String, String)>,
        body: Bytes,
    },
}

/// The result of one run.
struct Run {
    request: RequestLog,
    result: Result<(Exchange, Option<Observed>), CallError>,
}

impl Run {
    fn got(&self) -> Got<'_> {
        match &self.result {
            Ok((exchange, observed)) => Got::Answer {
                exchange,
                observed: observed.as_ref(),
            },
            Err(CallError::Transport(error)) => Got::Failed(error),
            Err(_) => unreachable!("non-transport errors end the step before judging"),
        }
    }
}

async fn request_step(case: &mut Case<'_>, step: &Step) -> Result<(), Box<Failure>> {
    let prepared = prepare(case, step).await?;
    let (runs, parallel) = match (&step.repeat, &step.parallel) {
        (Some(n), _) => (n.number(case).map_err(|e| error(step, e))?, false),
        (_, Some(n)) => (n.number(case).map_err(|e| error(step, e))?, true),
        _ => (1, false),
    };
    if runs == 0 || runs > 10_000 {
        return Err(error(
            step,
            format!("`repeat`/`parallel` is {runs}; expected 1 to 10000"),
        ));
    }
    let mark = match &prepared {
        Prepared::Send(op) if inbox_mode(case.target) => case
            .target
            .inbox_mark(&op.to)
            .await
            .map_err(|e| error(step, format!("reading the inbox: {e}")))?,
        _ => 0,
    };
    let results = if parallel {
        run_parallel(case.target, &prepared, runs as usize).await
    } else {
        let mut results = Vec::with_capacity(runs as usize);
        for _ in 0..runs {
            let run = execute(case.target, &prepared).await;
            let stop = step.expect.is_some()
                && step.expect_counts.is_none()
                && run_fails(&run, step, case);
            results.push(run);
            if stop {
                break;
            }
        }
        results
    };
    for run in &results {
        if let Err(error_) = &run.result {
            if !matches!(error_, CallError::Transport(_)) {
                return Err(error(step, error_.to_string()));
            }
        }
    }
    // Every run must meet `expect`.
    if let Some(expect) = &step.expect {
        for (index, run) in results.iter().enumerate() {
            let problems = expect::check(expect, &run.got(), case);
            if !problems.is_empty() {
                let mut failure = failure(step);
                failure.problems = problems;
                failure.run = (runs > 1).then_some((index + 1, runs as usize));
                if let Ok((exchange, _)) = &run.result {
                    failure.exchange = Some((run.request.clone(), exchange.clone()));
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
        let gots: Vec<Got<'_>> = results.iter().map(Run::got).collect();
        let tally = expect::tally(gots.iter());
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
    remember(case, step, &prepared, &results, mark);
    capture(case, step, &results)
}

/// Whether a run already breaks `expect` (a repeat stops there).
fn run_fails(run: &Run, step: &Step, case: &Case<'_>) -> bool {
    match (&step.expect, &run.result) {
        (Some(expect), Ok(_)) | (Some(expect), Err(CallError::Transport(_))) => {
            !expect::check(expect, &run.got(), case).is_empty()
        }
        _ => true,
    }
}

fn inbox_mode(target: &Target) -> bool {
    target.spec.code_source == CodeSource::Inbox && target.spec.has(Capability::Inbox)
}

/// Renders a step's request.
async fn prepare(case: &Case<'_>, step: &Step) -> Result<Prepared, Box<Failure>> {
    let render = |t: &Option<Template>| -> Result<Option<String>, Box<Failure>> {
        t.as_ref()
            .map(|t| t.text(case))
            .transpose()
            .map_err(|e| error(step, e))
    };
    Ok(match &step.action {
        Action::Send(args) => Prepared::Send(send_op(case, step, args)?),
        Action::Verify(args) => {
            let VerifyArgs {
                code,
                to,
                purpose,
                id,
            } = args;
            let last = case.last.as_ref();
            let to = match render(to)? {
                Some(to) => to,
                None => last
                    .map(|c| c.to.clone())
                    .ok_or_else(|| error(step, "a verify before any send must name `to`"))?,
            };
            let code = match render(code)? {
                Some(code) => code,
                None => case.code().map_err(|e| error(step, e))?,
            };
            let same = last.filter(|c| c.to == to);
            Prepared::Verify(VerifyOp {
                to,
                purpose: match render(purpose)? {
                    Some(p) => Some(p),
                    None => same.and_then(|c| c.purpose.clone()),
                },
                id: match render(id)? {
                    Some(id) => Some(id),
                    None => same.and_then(|c| c.receipt.id.clone()),
                },
                code,
            })
        }
        Action::Http(args) => http_request(case, step, args).await?,
        _ => unreachable!("only requests are prepared"),
    })
}

fn send_op(case: &Case<'_>, step: &Step, args: &SendArgs) -> Result<SendOp, Box<Failure>> {
    let render = |t: &Option<Template>| -> Result<Option<String>, Box<Failure>> {
        t.as_ref()
            .map(|t| t.text(case))
            .transpose()
            .map_err(|e| error(step, e))
    };
    let to = match &args.to {
        Some(to) => to.text(case).map_err(|e| error(step, e))?,
        None => case
            .fresh
            .get(&(FreshKind::Phone, 1))
            .cloned()
            .unwrap_or_else(|| variables::fresh(case.target.dialect(), FreshKind::Phone)),
    };
    let channel = match render(&args.channel)? {
        Some(name) => Some(
            Channel::from_name(&name)
                .ok_or_else(|| error(step, format!("unknown channel `{name}`")))?,
        ),
        None => None,
    };
    let alphabet = match render(&args.code_type)? {
        Some(name) => Some(alphabet_named(&name).ok_or_else(|| {
            error(
                step,
                format!("`type: {name}`: expected NUMERIC, ALPHA or ALPHANUMERIC"),
            )
        })?),
        None => None,
    };
    let length = match &args.length {
        Some(t) => {
            let n = t.number(case).map_err(|e| error(step, e))?;
            Some(u8::try_from(n).map_err(|_| error(step, format!("`length: {n}` is too long")))?)
        }
        None => None,
    };
    let expiry = match render(&args.expiry)? {
        Some(text) => Some(match text.parse::<u64>() {
            Ok(secs) => Duration::from_secs(secs),
            Err(_) => crate::duration::parse(&text)
                .map_err(|e| error(step, format!("`expiry: {text}`: {e}")))?,
        }),
        None => None,
    };
    Ok(SendOp {
        to,
        purpose: render(&args.purpose)?,
        channel,
        alphabet,
        length,
        expiry,
        template: render(&args.template)?,
        lang: render(&args.lang)?,
    })
}

fn alphabet_named(name: &str) -> Option<Alphabet> {
    match name.to_ascii_uppercase().as_str() {
        "NUMERIC" => Some(Alphabet::Numeric),
        "ALPHA" => Some(Alphabet::Alpha),
        "ALPHANUMERIC" => Some(Alphabet::Alphanumeric),
        _ => None,
    }
}

async fn http_request(
    case: &Case<'_>,
    step: &Step,
    args: &HttpArgs,
) -> Result<Prepared, Box<Failure>> {
    let method = Method::from_str(&args.method.to_ascii_uppercase())
        .map_err(|_| error(step, format!("`{}` is not an HTTP method", args.method)))?;
    let path = args.path.text(case).map_err(|e| error(step, e))?;
    if !path.starts_with('/') {
        return Err(error(step, format!("http path `{path}` must start with /")));
    }
    let mut headers = Vec::new();
    if args.auth {
        let auth = case
            .target
            .auth_headers()
            .await
            .map_err(|e| error(step, e.to_string()))?;
        headers.extend(auth.into_iter().map(|(n, v)| (n.to_string(), v)));
    }
    for (name, value) in &args.headers {
        headers.push((name.clone(), value.text(case).map_err(|e| error(step, e))?));
    }
    let body = match (&args.body, &args.json) {
        (Some(_), Some(_)) => {
            return Err(error(step, "an http step takes `body` or `json`, not both"))
        }
        (Some(body), None) => Bytes::from(body.text(case).map_err(|e| error(step, e))?),
        (None, Some(json)) => {
            if !headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("Content-Type".into(), "application/json".into()));
            }
            let value = json.render(case).map_err(|e| error(step, e))?;
            Bytes::from(value.to_string())
        }
        (None, None) => Bytes::new(),
    };
    Ok(Prepared::Http {
        method,
        path,
        headers,
        body,
    })
}

async fn execute(target: &Arc<Target>, prepared: &Prepared) -> Run {
    match prepared {
        Prepared::Send(op) => called(target.send(op).await),
        Prepared::Verify(op) => called(target.verify(op).await),
        Prepared::Http {
            method,
            path,
            headers,
            body,
        } => {
            let request = RequestLog {
                method: method.to_string(),
                url: target.base().join(path),
                headers: headers.clone(),
                body: body.clone(),
            };
            let result = target
                .raw(method.clone(), path, headers, body.clone())
                .await
                .map(|exchange| {
                    let observed = classify_raw(target.dialect(), path, &exchange);
                    (exchange, observed)
                });
            Run { request, result }
        }
    }
}

/// A raw answer read by the dialect, when the path is one of its routes.
fn classify_raw(dialect: Dialect, path: &str, exchange: &Exchange) -> Option<Observed> {
    let path = path.split('?').next().unwrap_or(path);
    let operation = match Dialect::route(path) {
        Some((owner, operation)) if owner == dialect => operation,
        _ => return None,
    };
    if !matches!(operation, Operation::Send | Operation::Verify) {
        return None;
    }
    Some(dialect.classify(
        operation,
        &WireResponse {
            status: exchange.status,
            headers: &exchange.headers,
            body: &exchange.body,
        },
    ))
}

fn called(result: Result<Called, CallError>) -> Run {
    match result {
        Ok(called) => Run {
            request: called.request,
            result: Ok((called.exchange, Some(called.observed))),
        },
        Err(error) => Run {
            request: RequestLog::default(),
            result: Err(error),
        },
    }
}

/// `n` runs at once: every run is spawned and released together.
async fn run_parallel(target: &Arc<Target>, prepared: &Prepared, n: usize) -> Vec<Run> {
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        let (target, prepared, barrier) = (target.clone(), prepared.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            execute(&target, &prepared).await
        }));
    }
    let mut runs = Vec::with_capacity(n);
    for task in tasks {
        runs.push(task.await.unwrap_or_else(|e| Run {
            request: RequestLog::default(),
            result: Err(CallError::Hook(format!("a parallel run panicked: {e}"))),
        }));
    }
    runs
}

/// Keeps the last accepted send as the challenge later steps refer to.
fn remember(case: &mut Case<'_>, step: &Step, prepared: &Prepared, runs: &[Run], mark: u64) {
    let Prepared::Send(op) = prepared else {
        return;
    };
    let sent = runs.iter().rev().find_map(|run| match &run.result {
        Ok((_, Some(Observed::Sent(receipt)))) => Some(receipt.clone()),
        _ => None,
    });
    let Some(receipt) = sent else {
        return;
    };
    let policy = &case.target.spec.policy;
    let shape = match (op.alphabet, op.length, case.target.dialect()) {
        (alphabet, length, Dialect::Nomado) => (
            alphabet.unwrap_or(Alphabet::Alphanumeric),
            length.unwrap_or(4),
        ),
        (alphabet, length, _) => (
            alphabet.unwrap_or(policy.alphabet),
            length.unwrap_or(policy.length),
        ),
    };
    let _ = step;
    case.last = Some(Challenge {
        to: op.to.clone(),
        purpose: op.purpose.clone(),
        code: receipt.code.clone(),
        receipt,
        mark,
        shape,
    });
}

fn capture(case: &mut Case<'_>, step: &Step, runs: &[Run]) -> Result<(), Box<Failure>> {
    if step.capture.is_empty() {
        return Ok(());
    }
    let exchange = runs
        .iter()
        .rev()
        .find_map(|run| run.result.as_ref().ok().map(|(exchange, _)| exchange))
        .ok_or_else(|| error(step, "nothing to capture from: no run got an answer"))?;
    for (name, source) in &step.capture {
        let value = expect::capture(source, exchange)
            .map_err(|why| error(step, format!("capture `{name}`: {why}")))?;
        case.captured.insert(name.clone(), value);
    }
    Ok(())
}

async fn inbox(case: &mut Case<'_>, step: &Step, args: &InboxArgs) -> Result<(), Box<Failure>> {
    let spec = &case.target.spec;
    if !spec.has(Capability::Inbox) {
        return Err(error(step, spec.lack_reason(Capability::Inbox)));
    }
    let to = match &args.to {
        Some(to) => to.text(case).map_err(|e| error(step, e))?,
        None => case
            .last
            .as_ref()
            .map(|c| c.to.clone())
            .ok_or_else(|| error(step, "an inbox step before any send must name `to`"))?,
    };
    let expect_delivery = step
        .expect
        .as_ref()
        .and_then(|e| e.delivered)
        .unwrap_or(true);
    let within = match &args.within {
        Some(t) => {
            let text = t.text(case).map_err(|e| error(step, e))?;
            crate::duration::parse(&text)
                .map_err(|e| error(step, format!("within `{text}`: {e}")))?
        }
        None if expect_delivery => INBOX_WAIT,
        None => NO_DELIVERY_WAIT,
    };
    let (mark, shape) = match case.last.as_ref().filter(|c| c.to == to) {
        Some(challenge) => (challenge.mark, challenge.shape),
        None => (0, (spec.policy.alphabet, spec.policy.length)),
    };
    let code = case
        .target
        .read_code(&to, mark, shape, within)
        .await
        .map_err(|e| error(step, format!("reading the inbox: {e}")))?;
    match (code, expect_delivery) {
        (Some(code), true) => {
            if let Some(challenge) = case.last.as_mut().filter(|c| c.to == to) {
                challenge.code = Some(code);
            }
            Ok(())
        }
        (None, false) => Ok(()),
        (found, expected) => {
            let mut failure = failure(step);
            failure.problems = vec![Problem {
                what: "delivered".into(),
                expected: if expected {
                    format!(
                        "a message to {to} within {}",
                        crate::duration::format(within)
                    )
                } else {
                    format!(
                        "no message to {to} within {}",
                        crate::duration::format(within)
                    )
                },
                actual: match found {
                    Some(_) => "a message with a code".into(),
                    None => "none".into(),
                },
            }];
            Err(failure)
        }
    }
}
