//! One case — one scenario against one opened target — and its state,
//! run step by step by [`super::step`] (each step kind a file of it): rendering templates, doing the step's action (once, `repeat`
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
//!
//! This file holds the case's state and what every step kind shares:
//! the variables it looks up, the codes it reads, the [`Failure`] a step
//! ends it with.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::client::{Capability, CodeSource, Target};
use crate::client::{Exchange, RequestLog};
use crate::dialect::wrong_code;
use crate::engine::code::Alphabet;
use crate::engine::outcome::Receipt;
use crate::scenario::expect::Problem;
use crate::scenario::model::{Action, Scenario, SendArgs, Step};
use crate::scenario::template::{Lookup, Template};
use crate::scenario::variables::{self, FreshKind};
use crate::source::Position;

/// How long reading a code waits for a message by default.
pub(super) const INBOX_WAIT: Duration = Duration::from_secs(5);

/// How long `delivered: false` watches the inbox by default.
pub(super) const NO_DELIVERY_WAIT: Duration = Duration::from_secs(1);

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
pub(super) struct Challenge {
    pub(super) purpose: Option<String>,
    pub(super) receipt: Receipt,
    /// The journal's newest message id for the recipient before the send.
    pub(super) mark: u64,
    /// Alphabet and length of the code.
    pub(super) shape: (Alphabet, u8),
    pub(super) code: Option<String>,
    /// Why the code could not be read when the send was accepted.
    pub(super) code_error: Option<String>,
}

/// A named send's challenge (`as: first`).
#[derive(Debug, Clone)]
pub(super) struct Named {
    pub(super) to: String,
    pub(super) id: Option<String>,
    /// The code, or why there is none.
    pub(super) code: Result<String, String>,
}

/// What runs the case: limits given by the runner.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest sleep, in all, on a real clock.
    pub max_wait: Duration,
}

/// One case in progress.
pub(super) struct Case<'a> {
    pub(super) target: &'a Arc<Target>,
    pub(super) fresh: HashMap<(FreshKind, u32), String>,
    pub(super) captured: BTreeMap<String, Value>,
    /// Each recipient's last accepted send.
    pub(super) challenges: HashMap<String, Challenge>,
    /// The recipient of the last accepted send.
    pub(super) last: Option<String>,
    /// The journal's newest message id for each recipient before its
    /// last send, accepted or not.
    pub(super) marks: HashMap<String, u64>,
    /// Named sends (`as`), by name; `Err` when the send was refused.
    pub(super) named: HashMap<String, Result<Named, String>>,
    pub(super) faults_set: bool,
    pub(super) slept: Duration,
    pub(super) limits: Limits,
    /// How answers were read where the vendor document allowed more than
    /// one reading (for `--verbose`), each once.
    pub(super) readings: Vec<String>,
    /// Per step: whether a later step reads a code (`${code}`,
    /// `${wrong_code}`, a verify without `code`), so a send's code must be
    /// read when the send is accepted.
    pub(super) code_read_after: Vec<bool>,
    /// The step running.
    pub(super) step: usize,
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
                .map(|code| Value::String(wrong_code(&code))),
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
    pub(super) fn last_challenge(&self) -> Option<(&String, &Challenge)> {
        let to = self.last.as_ref()?;
        Some((to, self.challenges.get(to)?))
    }

    pub(super) fn last_code(&self) -> Result<String, String> {
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
    pub(super) fn draw(&mut self, templates: &[&Template]) {
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
    pub(super) async fn fetch_code(&mut self, to: &str) -> Result<String, String> {
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

impl<'a> Case<'a> {
    /// A case of `scenario` against `target`, before its first step.
    pub(super) fn new(scenario: &Scenario, target: &'a Arc<Target>, limits: Limits) -> Self {
        Case {
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
        }
    }
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

/// A failure of `step`, its problems to be filled in.
pub(super) fn failure(step: &Step) -> Box<Failure> {
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

/// A failure of `step` that is an error, not a difference.
pub(super) fn error(step: &Step, why: impl Into<String>) -> Box<Failure> {
    let mut failure = failure(step);
    failure.error = Some(why.into());
    failure
}

pub(super) static PHONE: std::sync::LazyLock<Template> =
    std::sync::LazyLock::new(|| Template::parse("${phone}").expect("a template"));

/// The templates a step reads, with the ones its defaults read: a send
/// without `to` sends to `${phone}`.
pub(super) fn templates_of(step: &Step) -> Vec<&Template> {
    let mut out = step.templates();
    if let Action::Send(SendArgs { to: None, .. }) = &step.action {
        out.push(&PHONE);
    }
    out
}
