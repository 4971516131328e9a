//! Runs one program on a target and judges each answer by the model: the
//! small adapter between `check` and the client executor
//! ([`crate::client::Target`]), so a reshaped executor changes this file
//! only.
//!
//! Each run draws fresh recipients, so runs never see each other's
//! challenges or send logs. Only what every dialect's wire shows is
//! compared — the outcome, and for a burst the count of each outcome —
//! so what `check` reports, the saved scenario can replay. A verify that
//! would need a code or handle the program cannot know (nothing sent yet,
//! or which send of a burst won) is skipped, and the same program always
//! skips the same steps.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use crate::check::model::{Expected, Key, Model, ModelPolicy};
use crate::check::program::{key_name, who_name, CodeChoice, Op, PURPOSES};
use crate::client::{CallError, Called, CodeSource, Target};
use crate::dialect::wrong_code;
use crate::dialect::{Dialect, SendOp, VerifyOp};
use crate::engine::code::Alphabet;
use crate::engine::outcome::Outcome;
use crate::scenario::variables::{fresh, FreshKind};

/// How long a send's code may take to reach the provider's journal.
const INBOX_WAIT: Duration = Duration::from_secs(5);

/// One step as it ran.
#[derive(Debug, Clone)]
pub struct StepTrace {
    /// What the step did, in words.
    pub what: String,
    /// What the model allows (an outcome, several, or counts).
    pub expected: String,
    /// What the target answered.
    pub observed: String,
    pub holds: bool,
    /// The step as a scenario step; `None` for a skipped step.
    pub yaml: Option<String>,
}

/// A program as it ran, up to its first divergence.
#[derive(Debug, Clone, Default)]
pub struct Trace {
    pub steps: Vec<StepTrace>,
    /// Index (in `steps`) of the step that diverged.
    pub failed: Option<usize>,
}

impl Trace {
    /// Steps that ran (not skipped).
    pub fn ran(&self) -> usize {
        self.steps.iter().filter(|s| s.yaml.is_some()).count()
    }
}

/// A send the target accepted, as later steps quote it.
#[derive(Debug, Clone)]
struct Issued {
    /// The model's sequence number.
    seq: usize,
    /// The program step that sent it (its scenario name is `s<step>`).
    step: usize,
    /// The handle its answer carried.
    id: Option<String>,
    code: String,
}

#[derive(Debug, Default)]
struct KeyState {
    sends: Vec<Issued>,
    /// A burst of sends ran since the newest accepted single send: which
    /// of its codes is current is unknown.
    burst: bool,
}

/// Runs programs on one target.
pub struct Executor {
    target: Arc<Target>,
    policy: ModelPolicy,
    purposes: bool,
    shape: (Alphabet, u8),
}

impl Executor {
    pub fn new(target: Arc<Target>) -> Executor {
        let spec = &target.spec;
        let policy = ModelPolicy::of(&spec.policy);
        let shape = (spec.policy.alphabet, spec.policy.length);
        let purposes = has_purposes(spec.dialect);
        Executor {
            target,
            policy,
            purposes,
            shape,
        }
    }

    pub fn target(&self) -> &Arc<Target> {
        &self.target
    }

    /// Whether keys have purposes here.
    pub fn purposes(&self) -> bool {
        self.purposes
    }

    /// Runs `program` with fresh recipients, stopping at the first step
    /// the model does not allow.
    pub async fn run(&self, program: &[Op]) -> Trace {
        let dialect = self.target.dialect();
        let tos: Vec<String> = (0..3).map(|_| fresh(dialect, FreshKind::Phone)).collect();
        let mut run = Run {
            exec: self,
            tos,
            model: Model::new(self.policy.clone()),
            keys: BTreeMap::new(),
            codes: BTreeMap::new(),
        };
        let mut trace = Trace::default();
        for (index, op) in program.iter().enumerate() {
            let step = run.step(index, *op).await;
            let holds = step.holds;
            trace.steps.push(step);
            if !holds {
                trace.failed = Some(trace.steps.len() - 1);
                break;
            }
        }
        trace
    }
}

/// Native `purpose` and REES46 `event`; the other dialects key by
/// recipient alone.
pub fn has_purposes(dialect: Dialect) -> bool {
    matches!(dialect, Dialect::Native | Dialect::Rees46)
}

struct Run<'a> {
    exec: &'a Executor,
    tos: Vec<String>,
    model: Model,
    keys: BTreeMap<Key, KeyState>,
    /// Code of every accepted single send, by sequence number.
    codes: BTreeMap<usize, String>,
}

impl Run<'_> {
    fn key(&self, key: Key) -> Key {
        if self.exec.purposes {
            key
        } else {
            (key.0, 0)
        }
    }

    fn purpose(&self, key: Key) -> Option<String> {
        self.exec.purposes.then(|| PURPOSES[key.1].to_string())
    }

    fn name(&self, key: Key) -> String {
        key_name(key, self.exec.purposes)
    }

    /// `to: "${phone2}", purpose: pay` for a scenario step.
    fn yaml_key(&self, key: Key) -> String {
        let mut out = format!("to: \"${{{}}}\"", who_name(key.0));
        if let Some(purpose) = self.purpose(key) {
            let _ = write!(out, ", purpose: {purpose}");
        }
        out
    }

    fn same_code(&self, a: &str, b: &str) -> bool {
        // Nomado: letters compare case-insensitively.
        if self.exec.target.dialect() == Dialect::Nomado {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    }

    async fn step(&mut self, index: usize, op: Op) -> StepTrace {
        match op {
            Op::Send { key } => self.send(index, self.key(key)).await,
            Op::Verify { key, code } => {
                let code = match code {
                    CodeChoice::Of(other) => CodeChoice::Of(self.key(other)),
                    other => other,
                };
                self.verify(self.key(key), code).await
            }
            Op::Wait { ms } => self.wait(ms).await,
            Op::SendBurst { key, n } => self.send_burst(self.key(key), n).await,
            Op::SendPaced { key, n, gap_ms } => self.send_paced(self.key(key), n, gap_ms).await,
            Op::VerifyBurst { key, right, n } => self.verify_burst(self.key(key), right, n).await,
        }
    }

    fn send_op(&self, key: Key) -> SendOp {
        SendOp {
            to: self.tos[key.0].clone(),
            purpose: self.purpose(key),
            ..SendOp::default()
        }
    }

    async fn send(&mut self, index: usize, key: Key) -> StepTrace {
        let target = &self.exec.target;
        let to = self.tos[key.0].clone();
        let inbox = target.spec.code_source == CodeSource::Inbox;
        let what = format!("send to {}", self.name(key));
        let expected = self.model.send(key);
        let yaml = format!(
            "  - send: {{ {} }}\n    as: s{index}\n    expect: {{ outcome: {} }}\n",
            self.yaml_key(key),
            outcome_yaml(&expected)
        );
        let mark = match inbox {
            true => target.inbox_mark(&to).await,
            false => Ok(0),
        };
        let called = match mark {
            Ok(mark) => target.send(&self.send_op(key)).await.map(|c| (c, mark)),
            Err(e) => Err(e),
        };
        let mut step = judge(what, &expected, called.as_ref().map(|(c, _)| c), yaml);
        if !step.holds {
            return step;
        }
        let (Ok((called, mark)), Expected::Sent { seq, .. }) = (called, expected) else {
            return step;
        };
        let Outcome::Sent(receipt) = called.observed else {
            return step;
        };
        let code = match receipt.code.clone() {
            Some(code) => Ok(Some(code)),
            None if inbox => {
                target
                    .read_code(&to, mark, self.exec.shape, INBOX_WAIT)
                    .await
            }
            None => Ok(None),
        };
        let code = match code {
            Ok(Some(code)) => code,
            unreadable => {
                step.holds = false;
                step.observed = match unreadable {
                    Err(e) => format!("sent, but reading the code failed: {e}"),
                    _ => "sent, but no code of the policy's shape could be read".into(),
                };
                // The replay reads the code to use it, and fails there.
                if let Some(yaml) = &mut step.yaml {
                    let _ = write!(
                        yaml,
                        "  - verify: {{ {}, code: \"${{s{index}.code}}\" }}\n    expect: {{ outcome: verified }}\n",
                        self.yaml_key(key)
                    );
                }
                return step;
            }
        };
        self.codes.insert(seq, code.clone());
        let state = self.keys.entry(key).or_default();
        state.burst = false;
        state.sends.push(Issued {
            seq,
            step: index,
            id: receipt.id.clone(),
            code,
        });
        step
    }

    /// The send whose handle the verify quotes, and the code it sends;
    /// `None` when the program cannot know them.
    fn resolve(&self, key: Key, choice: CodeChoice) -> Option<(Issued, String, String)> {
        let state = self.keys.get(&key)?;
        if state.burst {
            return None;
        }
        let newest = state.sends.last()?.clone();
        let quote = |i: &Issued| format!("\"${{s{}.code}}\"", i.step);
        Some(match choice {
            CodeChoice::Right => (newest.clone(), newest.code.clone(), quote(&newest)),
            CodeChoice::Wrong => {
                let wrong = wrong_code(&newest.code);
                (newest, wrong.clone(), format!("\"{wrong}\""))
            }
            CodeChoice::Older => {
                let older = state.sends.iter().rev().nth(1)?.clone();
                let handle = if older.id.is_some() { &older } else { &newest };
                (handle.clone(), older.code.clone(), quote(&older))
            }
            CodeChoice::Of(other) => {
                let theirs = self.keys.get(&other)?.sends.last()?.clone();
                (newest, theirs.code.clone(), quote(&theirs))
            }
        })
    }

    /// Whether `code` is the current challenge's code in the model.
    fn is_right(&self, key: Key, code: &str) -> bool {
        self.model
            .current(key)
            .and_then(|seq| self.codes.get(&seq))
            .is_some_and(|current| self.same_code(current, code))
    }

    fn verify_op(&self, key: Key, handle: &Issued, code: String) -> VerifyOp {
        VerifyOp {
            to: self.tos[key.0].clone(),
            purpose: self.purpose(key),
            id: handle.id.clone(),
            code,
        }
    }

    fn verify_yaml(&self, key: Key, handle: &Issued, code: &str) -> String {
        let mut args = self.yaml_key(key);
        if handle.id.is_some() {
            let _ = write!(args, ", id: \"${{s{}.id}}\"", handle.step);
        }
        let _ = write!(args, ", code: {code}");
        args
    }

    async fn verify(&mut self, key: Key, choice: CodeChoice) -> StepTrace {
        let what = format!("verify {} with {choice}", self.name(key));
        let Some((handle, code, code_yaml)) = self.resolve(key, choice) else {
            return skipped(what, "no such code or handle known");
        };
        let right = self.is_right(key, &code);
        let seq = handle.id.is_some().then_some(handle.seq);
        let expected = self.model.verify(key, seq, right);
        let yaml = format!(
            "  - verify: {{ {} }}\n    expect: {{ outcome: {} }}\n",
            self.verify_yaml(key, &handle, &code_yaml),
            outcome_yaml(&expected)
        );
        let op = self.verify_op(key, &handle, code);
        let called = self.exec.target.verify(&op).await;
        judge(what, &expected, called.as_ref(), yaml)
    }

    async fn wait(&mut self, ms: u64) -> StepTrace {
        let by = Duration::from_millis(ms);
        let what = format!("move the clock {}", crate::duration::format(by));
        self.model.advance(ms);
        let yaml = format!("  - wait: {}\n", crate::duration::format(by));
        match self.exec.target.advance_clock(by).await {
            Ok(()) => StepTrace {
                what,
                expected: "moved".into(),
                observed: "moved".into(),
                holds: true,
                yaml: Some(yaml),
            },
            Err(e) => StepTrace {
                what,
                expected: "moved".into(),
                observed: e.to_string(),
                holds: false,
                yaml: Some(yaml),
            },
        }
    }

    async fn send_burst(&mut self, key: Key, n: u8) -> StepTrace {
        let what = format!("{n} sends at once to {}", self.name(key));
        let expected: Vec<Expected> = (0..n).map(|_| self.model.send(key)).collect();
        if expected.iter().any(|e| matches!(e, Expected::Sent { .. })) {
            self.keys.entry(key).or_default().burst = true;
        }
        let op = self.send_op(key);
        let target = self.exec.target.clone();
        let observed = burst(n, move || {
            let (target, op) = (target.clone(), op.clone());
            async move { target.send(&op).await }
        })
        .await;
        let args = format!("send: {{ {} }}", self.yaml_key(key));
        judge_counts(what, &expected, observed, n, &args)
    }

    async fn send_paced(&mut self, key: Key, n: u8, gap_ms: u64) -> StepTrace {
        let gap = Duration::from_millis(gap_ms);
        let what = format!(
            "{n} sends to {}, the clock moved {} after each",
            self.name(key),
            crate::duration::format(gap)
        );
        let op = self.send_op(key);
        let mut expected = Vec::with_capacity(n as usize);
        let mut observed = BTreeMap::new();
        for _ in 0..n {
            expected.push(self.model.send(key));
            let name = match self.exec.target.send(&op).await {
                Ok(called) => called.observed.kind().name().to_string(),
                Err(_) => "transport_error".to_string(),
            };
            *observed.entry(name).or_insert(0) += 1;
            self.model.advance(gap_ms);
            if let Err(e) = self.exec.target.advance_clock(gap).await {
                *observed
                    .entry(format!("clock not moved ({e})"))
                    .or_insert(0) += 1;
            }
        }
        if expected.iter().any(|e| matches!(e, Expected::Sent { .. })) {
            self.keys.entry(key).or_default().burst = true;
        }
        let args = format!("send: {{ {} }}", self.yaml_key(key));
        let mut step = judge_counts(what, &expected, observed, n, &args);
        if let Some(yaml) = &mut step.yaml {
            *yaml = yaml.replacen(
                &format!("    parallel: {n}\n"),
                &format!(
                    "    repeat: {n}\n    every: {}\n",
                    crate::duration::format(gap)
                ),
                1,
            );
        }
        step
    }

    async fn verify_burst(&mut self, key: Key, right: bool, n: u8) -> StepTrace {
        let choice = if right {
            CodeChoice::Right
        } else {
            CodeChoice::Wrong
        };
        let what = format!("{n} verifies at once of {} with {choice}", self.name(key));
        let Some((handle, code, code_yaml)) = self.resolve(key, choice) else {
            return skipped(what, "no such code or handle known");
        };
        if self.model.expired(key) {
            // `expired` or `not_found` (purged), each of n: counts a
            // scenario cannot state.
            return skipped(what, "the challenge has expired");
        }
        let right = self.is_right(key, &code);
        let seq = handle.id.is_some().then_some(handle.seq);
        let expected: Vec<Expected> = (0..n).map(|_| self.model.verify(key, seq, right)).collect();
        let op = self.verify_op(key, &handle, code);
        let target = self.exec.target.clone();
        let observed = burst(n, move || {
            let (target, op) = (target.clone(), op.clone());
            async move { target.verify(&op).await }
        })
        .await;
        let args = format!(
            "verify: {{ {} }}",
            self.verify_yaml(key, &handle, &code_yaml)
        );
        judge_counts(what, &expected, observed, n, &args)
    }
}

/// `n` calls at once (released together by a barrier); the outcome name
/// of each, or `transport_error`.
async fn burst<F, Fut>(n: u8, call: F) -> BTreeMap<String, u64>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<Called, CallError>> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n as usize));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (barrier, call) = (barrier.clone(), call());
        tasks.spawn(async move {
            barrier.wait().await;
            call.await
        });
    }
    let mut counts = BTreeMap::new();
    while let Some(joined) = tasks.join_next().await {
        let name = match joined {
            Ok(Ok(called)) => called.observed.kind().name().to_string(),
            _ => "transport_error".to_string(),
        };
        *counts.entry(name).or_insert(0) += 1;
    }
    counts
}

fn skipped(what: String, why: &str) -> StepTrace {
    StepTrace {
        what: format!("{what} (skipped: {why})"),
        expected: "-".into(),
        observed: "-".into(),
        holds: true,
        yaml: None,
    }
}

/// `sent`, or `[expired, not_found]`.
fn outcome_yaml(expected: &Expected) -> String {
    match expected.admits(false) {
        [one] => one.to_string(),
        many => format!("[{}]", many.join(", ")),
    }
}

fn judge(
    what: String,
    expected: &Expected,
    called: Result<&Called, &CallError>,
    yaml: String,
) -> StepTrace {
    let admits = expected.admits(false);
    let (observed, holds) = match called {
        Ok(called) => {
            let kind = called.observed.kind().name();
            let mut observed = format!("{kind} (HTTP {})", called.exchange.status);
            if let Outcome::Unrecognized { reason } = &called.observed {
                let _ = write!(observed, ": {reason}");
            }
            (observed, admits.contains(&kind))
        }
        Err(e) => (format!("no answer: {e}"), false),
    };
    StepTrace {
        what,
        expected: admits.join(" or "),
        observed,
        holds,
        yaml: Some(yaml),
    }
}

fn judge_counts(
    what: String,
    expected: &[Expected],
    observed: BTreeMap<String, u64>,
    n: u8,
    args: &str,
) -> StepTrace {
    let mut want: BTreeMap<String, u64> = BTreeMap::new();
    for e in expected {
        *want.entry(e.name().to_string()).or_insert(0) += 1;
    }
    let render = |map: &BTreeMap<String, u64>| {
        let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        format!("{{ {} }}", parts.join(", "))
    };
    let yaml = format!(
        "  - {args}\n    parallel: {n}\n    expect_counts: {}\n",
        render(&want)
    );
    StepTrace {
        what,
        expected: render(&want),
        observed: render(&observed),
        holds: want == observed,
        yaml: Some(yaml),
    }
}
