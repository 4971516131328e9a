//! A rate limiter in front of the service that keys sends on the
//! recipient *as typed*: `+79991234567`, `79991234567` and
//! `+7 999 123-45-67` each get a budget of their own, though the service
//! behind it (challenges, delivery) knows them as one number. The store
//! keeps no limits ([`LimitsElsewhere`](crate::mutants::limits::LimitsElsewhere)),
//! this layer does — exactly, by the policy's windows and cooldown, at
//! the store's time — and it answers a refusal, and the sends-left count
//! of a success, in the dialect's own shape.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::dialect::{Dialect, Operation};
use crate::engine::outcome::{Outcome, OutcomeKind};
use crate::engine::policy::{Policy, SendLimit};
use crate::mutants::decorate::lock;
use crate::mutants::layer::{Answer, Forward, Layer, Route, Upstream};
use crate::mutants::rewrites::{recipient, rendered};
use crate::store::{retry_after_ms, sends_remaining, SendRules, Store};

/// The limiter, with each dialect's policy.
pub(crate) struct RawTextLimits {
    /// Read for its time only: the deployment's one time source, so a
    /// test-mode clock move is seen at once (also on Redis).
    store: Arc<dyn Store>,
    policies: Vec<(Dialect, Policy)>,
    /// Send times per dialect and recipient text, oldest first.
    log: Mutex<HashMap<(Dialect, String), Vec<u64>>>,
}

impl RawTextLimits {
    /// A limiter on `store`'s time enforcing these policies.
    pub fn new(store: Arc<dyn Store>, policies: Vec<(Dialect, Policy)>) -> RawTextLimits {
        RawTextLimits {
            store,
            policies,
            log: Mutex::new(HashMap::new()),
        }
    }

    fn policy(&self, dialect: Dialect) -> Option<&Policy> {
        self.policies
            .iter()
            .find(|(d, _)| *d == dialect)
            .map(|(_, policy)| policy)
    }
}

#[async_trait]
impl Layer for RawTextLimits {
    fn reads(&self, route: Route) -> bool {
        route.operation == Operation::Send
    }

    async fn call(&self, route: Route, request: Forward, upstream: &Upstream) -> Answer {
        let typed = request.json().and_then(|mut body| {
            recipient(&mut body, route.dialect).and_then(|value| value.as_str().map(str::to_string))
        });
        let (Some(typed), Some(policy)) = (typed, self.policy(route.dialect)) else {
            return upstream.send(request).await;
        };
        let rules = SendRules {
            limits: &policy.send_limits,
            cooldown_ms: policy.cooldown.map(|c| c.as_millis() as u64),
        };
        let key = (route.dialect, typed);
        let now = match self.store.now_ms().await {
            Ok(now) => now,
            Err(_) => {
                let outcome = Outcome::StoreUnavailable {
                    retry_after: Duration::from_secs(1),
                };
                return rendered(route, &route.dialect.observe(&outcome, false));
            }
        };
        {
            let mut log = lock(&self.log);
            let sends = log.entry(key.clone()).or_default();
            if let Some(wait) = retry_after_ms(sends, rules, now) {
                let outcome = Outcome::RateLimited {
                    retry_after: Duration::from_millis(wait),
                };
                return rendered(route, &route.dialect.observe(&outcome, false));
            }
            // Held while the engine answers; taken back if it refuses.
            sends.push(now);
        }
        let mut answer = upstream.send(request).await;
        let mut log = lock(&self.log);
        let sends = log.entry(key).or_default();
        // What the engine counts (DESIGN.md §2: a send it could not
        // deliver counts too), this limiter counts; the rest it gives back.
        let kind = answer.observed(route).kind();
        if !matches!(kind, OutcomeKind::Sent | OutcomeKind::ProviderUnavailable) {
            if let Some(at) = sends.iter().rposition(|&at| at == now) {
                sends.remove(at);
            }
            return answer;
        }
        if kind != OutcomeKind::Sent {
            return answer;
        }
        // Older than every window and the cooldown: never counted again.
        let horizon = policy.send_limits.iter().map(SendLimit::window_ms).max();
        let horizon = horizon.unwrap_or(0).max(rules.cooldown_ms.unwrap_or(0));
        sends.retain(|&at| at.saturating_add(horizon) > now);
        let left = sends_remaining(sends, &policy.send_limits, now);
        show_sends_left(route.dialect, &mut answer, left);
        answer
    }
}

/// Writes the limiter's count into a success answer's sends-left field,
/// in the dialects that have one (the engine behind counts nothing).
fn show_sends_left(dialect: Dialect, answer: &mut Answer, left: Option<u32>) {
    let field = match dialect {
        Dialect::Native => "sends_remaining",
        Dialect::Valify => "trials_remaining",
        _ => return,
    };
    if let Some(mut body) = answer.json() {
        body.insert(field.into(), left.map_or(Value::Null, Value::from));
        answer.set_json(body);
    }
}

/// What a refusal looks like, for tests.
#[cfg(test)]
fn refusal(dialect: Dialect) -> crate::engine::outcome::Observed {
    dialect.observe(
        &Outcome::RateLimited {
            retry_after: Duration::from_secs(3),
        },
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_reads_back_as_rate_limited_in_every_dialect() {
        for dialect in Dialect::ALL {
            let route = Route {
                dialect,
                operation: Operation::Send,
            };
            let answer = rendered(route, &refusal(dialect));
            assert_eq!(
                answer.observed(route).kind(),
                OutcomeKind::RateLimited,
                "{dialect}"
            );
        }
    }
}
