//! The OTP workload of `otpbench load --dialect/--target`: each iteration
//! is a user going through the flow — send a code, obtain it (from the
//! send's answer, or by reading the provider's journal), verify it —
//! through the dialect's client side ([`crate::client::Target`]), so every
//! answer is classified the dialect's way (a 429 is `rate_limited`, not an
//! error).
//!
//! Operations: `send`, `code` (only when codes come from the inbox:
//! reading the journal is a request of its own, tallied `200` when a code
//! was read and `404` when none came within the wait) and `verify`. The
//! send is timed from the iteration's intended start; the later steps from
//! when the step before them ended (the user acts on the answer).
//!
//! Per iteration, derived from its number so that the split between
//! workers and shards changes nothing: whether it is a whole `flow` or a
//! `send` alone (the workload's mix), and whether its verify carries a
//! wrong code (`--wrong-code-ratio`). Identifiers come round-robin from
//! the worker's own block of the pool (`WorkerPlace::pool_block`), so
//! workers and shards never share one.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::client::{CallError, Called, CodeSource, Endpoint, Target};
use crate::dialect::{Dialect, SendOp, VerifyOp};
use crate::engine::code::Alphabet;
use crate::load::http::transport;
use crate::load::recorder::{OpId, Operations, Recorder, Tally, Timing, Transport};
use crate::load::worker::{Iteration, WorkerPlace, Workload, WorkloadSpec};
use crate::{Observed, OutcomeKind, Receipt};

/// How iterations are shared between whole flows and lone sends
/// (weights; `flow: 9, send: 1` makes one iteration in ten a send alone).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    pub flow: u32,
    pub send: u32,
}

impl Default for Mix {
    fn default() -> Self {
        Mix { flow: 1, send: 0 }
    }
}

/// What each iteration does besides the model.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowPlan {
    /// Identifiers in the whole run (all shards); each worker takes a
    /// block of them round-robin.
    pub pool: u64,
    /// Share of verifies that carry a wrong code, 0..=1.
    pub wrong_code_ratio: f64,
    pub mix: Mix,
    /// The purpose sent (native `purpose`, REES46 `event`).
    pub purpose: Option<String>,
    /// Longest wait for a code in the journal.
    pub code_wait: Duration,
}

impl Default for FlowPlan {
    fn default() -> Self {
        FlowPlan {
            pool: DEFAULT_POOL,
            wrong_code_ratio: 0.0,
            mix: Mix::default(),
            purpose: None,
            code_wait: Duration::from_secs(5),
        }
    }
}

/// The pool unless told otherwise: big enough that no documented send
/// limit is reached in any but a very long run.
pub(crate) const DEFAULT_POOL: u64 = 1_000_000;

/// The operations of a flow against `target`.
pub(crate) fn operations(code_source: CodeSource) -> Vec<&'static str> {
    match code_source {
        CodeSource::Inbox => vec!["send", "code", "verify"],
        CodeSource::Echo => vec!["send", "verify"],
    }
}

/// The workload, ready to be opened by each worker.
pub(crate) struct FlowSpec {
    target: Arc<Target>,
    plan: FlowPlan,
    operations: Operations,
    /// Added to every worker's round-robin position: later phases of one
    /// run (capacity steps) go on through the pool instead of starting
    /// over at its first identifiers.
    pool_offset: u64,
}

impl FlowSpec {
    pub(crate) fn new(target: Arc<Target>, plan: FlowPlan, pool_offset: u64) -> FlowSpec {
        let operations = Operations::new(operations(target.spec.code_source))
            .expect("flow operation names are valid");
        FlowSpec {
            target,
            plan,
            operations,
            pool_offset,
        }
    }
}

impl WorkloadSpec for FlowSpec {
    type Workload = FlowWorkload;

    fn operations(&self) -> Operations {
        self.operations.clone()
    }

    async fn open(&self, place: WorkerPlace) -> Result<FlowWorkload, String> {
        let block = place.pool_block(self.plan.pool);
        if block.is_empty() {
            return Err(format!(
                "the identifier pool ({}) is smaller than the workers of all shards",
                self.plan.pool
            ));
        }
        let target = self.target.for_worker()?;
        let spec = &target.spec;
        let inbox = spec.code_source == CodeSource::Inbox;
        let id = |name| self.operations.id(name);
        Ok(FlowWorkload {
            send: id("send").expect("declared"),
            code: id("code"),
            verify: id("verify").expect("declared"),
            dialect: spec.dialect,
            shape: (spec.policy.alphabet, spec.policy.length),
            // An embedded provider's journal starts empty; another may
            // hold messages to these identifiers from earlier runs.
            fresh_journal: spec.provider == Some(Endpoint::Embedded),
            marks: RefCell::new(if inbox {
                vec![0; (block.end - block.start) as usize]
            } else {
                Vec::new()
            }),
            block_start: block.start,
            block_len: block.end - block.start,
            offset: self.pool_offset,
            plan: self.plan.clone(),
            target,
            first_error: RefCell::new(None),
        })
    }
}

/// One worker's side of the workload.
pub(crate) struct FlowWorkload {
    target: Target,
    send: OpId,
    code: Option<OpId>,
    verify: OpId,
    dialect: Dialect,
    shape: (Alphabet, u8),
    plan: FlowPlan,
    fresh_journal: bool,
    /// Per identifier of the block: the journal id of the last message
    /// read for it (0: none yet), so the next read takes a newer one.
    marks: RefCell<Vec<u64>>,
    block_start: u64,
    block_len: u64,
    offset: u64,
    first_error: RefCell<Option<String>>,
}

/// SplitMix64: a well-mixed number from an iteration number.
fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A number in `0..1` drawn from `x` and a salt.
fn unit(x: u64, salt: u64) -> f64 {
    (mix64(x ^ salt) >> 11) as f64 / (1u64 << 53) as f64
}

impl FlowWorkload {
    fn note(&self, error: impl FnOnce() -> String) {
        let mut first = self.first_error.borrow_mut();
        if first.is_none() {
            *first = Some(error());
        }
    }

    /// The tally of a call, remembering the first failure.
    fn tally(&self, what: &str, result: &Result<Called, CallError>) -> Tally {
        match result {
            Ok(called) => {
                let kind = called.observed.kind();
                if let Observed::Unrecognized { reason } = &called.observed {
                    self.note(|| format!("{what}: unrecognized answer: {reason}"));
                } else if Tally::Outcome(kind).is_error() {
                    self.note(|| format!("{what}: {}", kind.name()));
                }
                Tally::Outcome(kind)
            }
            Err(error) => {
                self.note(|| format!("{what}: {error}"));
                call_error_tally(error)
            }
        }
    }

    /// The code of this send: from the answer, or from the journal.
    async fn obtain_code(
        &self,
        lane: &mut FlowLane,
        to: &str,
        slot: usize,
        receipt: &Receipt,
        recorder: &RefCell<Recorder>,
    ) -> Option<String> {
        let Some(op) = self.code else {
            if receipt.code.is_none() {
                self.note(|| format!("send to {to}: the answer carried no code to verify with"));
            }
            return receipt.code.clone();
        };
        let after = self.marks.borrow()[slot];
        let started = Instant::now();
        lane.start(op, Timing::closed(started, started));
        let result = self
            .target
            .read_code_message(to, after, self.shape, self.plan.code_wait)
            .await;
        let finished = Instant::now();
        lane.in_flight = None;
        let (tally, code) = match result {
            Ok(Some((id, code))) => {
                self.marks.borrow_mut()[slot] = id;
                (Tally::Status(200), Some(code))
            }
            Ok(None) => {
                self.note(|| format!("no code for {to} in the journal within the wait"));
                (Tally::Status(404), None)
            }
            Err(error) => {
                self.note(|| format!("reading the journal: {error}"));
                (call_error_tally(&error), None)
            }
        };
        recorder
            .borrow_mut()
            .record(op, tally, Timing::closed(started, finished));
        code
    }
}

/// What a failed call counts as: transport failures by kind; a refused
/// login as `unauthorized`; a request the answer before it left us unable
/// to build (a receipt without the handle the dialect verifies by) as
/// `unrecognized`.
fn call_error_tally(error: &CallError) -> Tally {
    match error {
        CallError::Transport(e) => Tally::Transport(transport(e)),
        CallError::Login(_) => Tally::Outcome(OutcomeKind::Unauthorized),
        CallError::Build(_) => Tally::Outcome(OutcomeKind::Unrecognized),
        CallError::Hook(_) => Tally::Transport(Transport::Io),
    }
}

/// Salts for the per-iteration choices, so they are independent.
const SALT_MIX: u64 = 0x6d69_785f_7361_6c74;
const SALT_WRONG: u64 = 0x7772_6f6e_675f_636f;

/// A flow lane: the request it has in flight, so one cut short at the
/// run's last moment is counted under its own operation.
#[derive(Debug, Default)]
pub(crate) struct FlowLane {
    in_flight: Option<(OpId, Timing)>,
}

impl FlowLane {
    fn start(&mut self, op: OpId, timing: Timing) {
        self.in_flight = Some((op, timing));
    }
}

impl Workload for FlowWorkload {
    /// Connections are the target's pool's, not a lane's; the lane only
    /// knows its request in flight.
    type Lane = FlowLane;

    fn first(&self) -> OpId {
        self.send
    }

    async fn lane(&self) -> Result<FlowLane, String> {
        Ok(FlowLane::default())
    }

    fn cut(
        &self,
        lane: &mut FlowLane,
        _iteration: Iteration,
        _started: Instant,
        recorder: &RefCell<Recorder>,
    ) {
        if let Some((op, timing)) = lane.in_flight.take() {
            recorder.borrow_mut().record(
                op,
                Tally::Transport(Transport::Timeout),
                Timing {
                    finished: Instant::now(),
                    ..timing
                },
            );
        }
    }

    async fn iterate(
        &self,
        lane: &mut FlowLane,
        iteration: Iteration,
        recorder: &RefCell<Recorder>,
    ) {
        lane.in_flight = None;
        let slot = ((self.offset + iteration.local) % self.block_len) as usize;
        let to = crate::dialect::phone(self.dialect, self.block_start + slot as u64);
        if self.code.is_some() && !self.fresh_journal && self.marks.borrow()[slot] == 0 {
            // First use of this identifier against a journal that may hold
            // older messages to it: read past them first.
            match self.target.inbox_mark(&to).await {
                Ok(mark) => self.marks.borrow_mut()[slot] = mark.max(1),
                Err(error) => self.note(|| format!("reading the journal: {error}")),
            }
        }
        let send = SendOp {
            to: to.clone(),
            purpose: self.plan.purpose.clone(),
            ..SendOp::default()
        };
        let started = Instant::now();
        lane.start(self.send, iteration.timing(started, started));
        let result = self.target.send(&send).await;
        let finished = Instant::now();
        lane.in_flight = None;
        let tally = self.tally("send", &result);
        recorder
            .borrow_mut()
            .record(self.send, tally, iteration.timing(started, finished));
        let receipt = match result {
            Ok(Called {
                observed: Observed::Sent(receipt),
                ..
            }) => receipt,
            _ => return,
        };
        let weights = u64::from(self.plan.mix.flow) + u64::from(self.plan.mix.send);
        let pick = (unit(iteration.number, SALT_MIX) * weights as f64) as u64;
        if pick >= u64::from(self.plan.mix.flow) {
            return;
        }
        let code = match self.obtain_code(lane, &to, slot, &receipt, recorder).await {
            Some(code) => code,
            None if self.code.is_none() => {
                // Echo promised but absent: the verify cannot be made.
                let now = Instant::now();
                recorder.borrow_mut().record(
                    self.verify,
                    Tally::Outcome(OutcomeKind::Unrecognized),
                    Timing::closed(now, now),
                );
                return;
            }
            None => return,
        };
        let wrong = unit(iteration.number, SALT_WRONG) < self.plan.wrong_code_ratio;
        let verify = VerifyOp {
            to,
            purpose: self.plan.purpose.clone(),
            id: receipt.id,
            code: if wrong {
                crate::dialect::wrong_code(&code)
            } else {
                code
            },
        };
        let started = Instant::now();
        lane.start(self.verify, Timing::closed(started, started));
        let result = self.target.verify(&verify).await;
        let finished = Instant::now();
        lane.in_flight = None;
        let tally = self.tally("verify", &result);
        recorder
            .borrow_mut()
            .record(self.verify, tally, Timing::closed(started, finished));
    }

    fn first_error(&self) -> Option<String> {
        self.first_error.borrow().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrong_code_share_follows_the_ratio() {
        let wrong = (0..100_000u64)
            .filter(|&n| unit(n, SALT_WRONG) < 0.1)
            .count();
        assert!((9_500..10_500).contains(&wrong), "{wrong}");
    }
}
