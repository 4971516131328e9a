//! Random programs: what `otpbench check` generates, and how they shrink.
//!
//! A program is a list of [`Op`]s over two or three identifiers and, in
//! dialects with purposes, two purposes: sends, verifies with the right
//! code, a wrong one, the code of an older send or another key's code,
//! clock moves chosen around the policy's ttl, windows and cooldown
//! (only where the target's clock can be moved), and parallel bursts of
//! sends or verifies. Proptest's `Vec` strategy shrinks a program by
//! dropping steps and simplifying each (towards the first identifier,
//! smaller bursts, plainer codes). Nothing here talks to a target.

use std::fmt;

use proptest::prelude::*;

use crate::check::model::{Key, ModelPolicy};

/// Which code a verify quotes, of the key's sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeChoice {
    /// The code of the key's newest accepted send.
    Right,
    /// A code of the same shape that is not it.
    Wrong,
    /// The send before the newest: its handle where the dialect verifies
    /// by one, its code.
    Older,
    /// The newest code of another key, against this key's challenge.
    Of(Key),
}

/// One step of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Send {
        key: Key,
    },
    Verify {
        key: Key,
        code: CodeChoice,
    },
    /// Move the target's clock.
    Wait {
        ms: u64,
    },
    /// `n` sends to one key at once.
    SendBurst {
        key: Key,
        n: u8,
    },
    /// `n` verifies of one key at once, all right or all wrong.
    VerifyBurst {
        key: Key,
        right: bool,
        n: u8,
    },
    /// `n` sends to one key one after another, the clock moved `gap_ms`
    /// after each: the pace that fills a long window.
    SendPaced {
        key: Key,
        n: u8,
        gap_ms: u64,
    },
}

/// How a step is named in reports: `phone2`, `phone2/pay`.
pub fn key_name(key: Key, purposes: bool) -> String {
    let who = who_name(key.0);
    if purposes {
        format!("{who}/{}", PURPOSES[key.1])
    } else {
        who
    }
}

/// `phone`, `phone2`, `phone3`: the scenario's fresh recipients.
pub fn who_name(who: usize) -> String {
    if who == 0 {
        "phone".into()
    } else {
        format!("phone{}", who + 1)
    }
}

/// The purposes keys use, in dialects that have them.
pub const PURPOSES: [&str; 2] = ["login", "pay"];

impl fmt::Display for CodeChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CodeChoice::Right => f.write_str("the right code"),
            CodeChoice::Wrong => f.write_str("a wrong code"),
            CodeChoice::Older => f.write_str("the older send's code"),
            CodeChoice::Of(key) => write!(f, "the code of {}", key_name(*key, true)),
        }
    }
}

/// What programs may be made of, for one target.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Identifiers (2 or 3).
    pub whos: usize,
    /// Purposes per identifier (1 where the dialect has none).
    pub purposes: usize,
    /// Clock moves to choose from; empty without a movable clock.
    pub waits: Vec<u64>,
    /// The largest burst.
    pub burst_max: u8,
    /// Gaps of paced sends: just over each window divided by its count;
    /// empty without a movable clock.
    pub paces: Vec<u64>,
    pub max_steps: usize,
}

impl Plan {
    /// The plan for a policy: waits just short of and just past its ttl,
    /// every window and its cooldown (when `clock`), and bursts a little
    /// larger than its largest limit or attempt cap.
    pub fn new(policy: &ModelPolicy, purposes: bool, clock: bool, max_steps: usize) -> Plan {
        let mut waits = Vec::new();
        if clock {
            let spans = std::iter::once(policy.ttl_ms)
                .chain(policy.limits.iter().map(|&(_, w)| w))
                .chain(policy.cooldown_ms);
            for span in spans {
                // Far enough from the edge that the time a program takes
                // on a busy machine does not cross it.
                let margin = (span / 4).min(2_000);
                waits.push(span.saturating_sub(margin).max(1));
                waits.push(span + margin);
            }
            waits.sort_unstable();
            waits.dedup();
        }
        let paces: Vec<u64> = if clock {
            policy
                .limits
                .iter()
                .map(|&(count, window)| window / count.max(1) as u64 + 1_000)
                .collect()
        } else {
            Vec::new()
        };
        let largest = policy
            .limits
            .iter()
            .map(|&(count, _)| count)
            .chain([policy.max_attempts as usize])
            .max()
            .unwrap_or(3);
        Plan {
            whos: 3,
            purposes: if purposes { 2 } else { 1 },
            waits,
            paces,
            burst_max: (largest + 2).clamp(2, 16) as u8,
            max_steps: max_steps.max(1),
        }
    }

    /// Random programs of 1 to `max_steps` steps.
    pub fn strategy(&self) -> BoxedStrategy<Vec<Op>> {
        prop::collection::vec(self.op(), 1..=self.max_steps).boxed()
    }

    fn key(&self) -> BoxedStrategy<Key> {
        let whos = self.whos;
        let who = prop_oneof![3 => Just(0usize), 2 => Just(1usize), 1 => Just(2usize)]
            .prop_map(move |w| w.min(whos - 1));
        (who, 0..self.purposes).boxed()
    }

    fn op(&self) -> BoxedStrategy<Op> {
        let key = self.key();
        let code = prop_oneof![
            3 => Just(CodeChoice::Right),
            3 => Just(CodeChoice::Wrong),
            1 => Just(CodeChoice::Older),
            1 => self.key().prop_map(CodeChoice::Of),
        ];
        let burst = 2..=self.burst_max;
        let waits = self.waits.clone();
        let wait_weight = if waits.is_empty() { 0 } else { 2 };
        let wait = if waits.is_empty() {
            Just(0u64).boxed()
        } else {
            prop::sample::select(waits).boxed()
        };
        let pace_weight = if self.paces.is_empty() { 0 } else { 1 };
        let pace = if self.paces.is_empty() {
            Just(1u64).boxed()
        } else {
            prop::sample::select(self.paces.clone()).boxed()
        };
        let paced_max = self.burst_max;
        prop_oneof![
            4 => key.clone().prop_map(|key| Op::Send { key }),
            pace_weight => (key.clone(), 2..=paced_max, pace)
                .prop_map(|(key, n, gap_ms)| Op::SendPaced { key, n, gap_ms }),
            5 => (key.clone(), code).prop_map(|(key, code)| Op::Verify { key, code }),
            wait_weight => wait.prop_map(|ms| Op::Wait { ms }),
            1 => (key.clone(), burst.clone()).prop_map(|(key, n)| Op::SendBurst { key, n }),
            2 => (key, any::<bool>(), burst)
                .prop_map(|(key, right, n)| Op::VerifyBurst { key, right, n }),
        ]
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn waits_straddle_every_span_and_only_with_a_clock() {
        let policy = ModelPolicy {
            ttl_ms: 300_000,
            max_attempts: 3,
            limits: vec![(5, 3_600_000), (10, 86_400_000)],
            cooldown_ms: None,
            purge_after_ms: None,
        };
        let plan = Plan::new(&policy, false, true, 10);
        assert_eq!(
            plan.waits,
            vec![298_000, 302_000, 3_598_000, 3_602_000, 86_398_000, 86_402_000]
        );
        assert_eq!(plan.burst_max, 12);
        assert_eq!(plan.paces, vec![721_000, 8_641_000]);
        assert!(Plan::new(&policy, false, false, 10).waits.is_empty());
        let mut runner = TestRunner::deterministic();
        for _ in 0..200 {
            let program = plan.strategy().new_tree(&mut runner).unwrap().current();
            assert!((1..=10).contains(&program.len()));
            for op in program {
                if let Op::Send { key } | Op::Verify { key, .. } = op {
                    assert!(key.0 < 3 && key.1 == 0, "{op:?}");
                }
            }
        }
    }
}
