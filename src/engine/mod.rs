//! The OTP logic: issue a code, deliver it, check it — no sockets.
//!
//! [`Engine::send`] and [`Engine::verify`] implement DESIGN.md §2 on top of a
//! [`Store`] (which makes every decision atomic, at its own time) and a
//! [`Delivery`] (where messages go). The engine reads no clock for its
//! decisions: it hands the store durations, and the store decides by the
//! deployment's one time source (see [`crate::store`]); [`Engine::clock`]
//! is that time for everything else. Dialects turn wire requests into
//! [`SendRequest`] / [`VerifyRequest`] and render the [`Outcome`]; the
//! engine knows nothing of HTTP.

pub mod clock;
pub mod code;
pub mod identifier;
pub mod outcome;
pub mod policy;

use std::sync::Arc;
use std::time::Duration;

use crate::delivery::{Channel, Delivery, Message, Template};
use crate::engine::clock::Clock;
use crate::engine::code::{Code, CodeHasher};
use crate::engine::identifier::Identifier;
use crate::engine::outcome::{ChallengeId, Outcome, Sent};
use crate::engine::policy::Policy;
use crate::store::{
    ChallengeKey, Lookup, NewChallenge, SendDecision, SendRules, Store, StoreError, Subject,
    VerifyDecision,
};

/// How long clients are told to wait when the store is unavailable.
const STORE_RETRY_AFTER: Duration = Duration::from_secs(1);
/// The longest code a verify may carry; longer ones cannot match any
/// policy and are refused as invalid input before they cost a hash.
pub const MAX_SUBMITTED_CODE_LEN: usize = 64;

/// A request for a new code.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// Whose limits and challenges these are (a dialect, or a dialect's
    /// shop or widget).
    pub tenant: String,
    pub to: Identifier,
    /// Independent challenges per purpose (REES46 `event`).
    pub purpose: String,
    /// Deliver on this channel only, instead of the policy's cascade.
    pub channel: Option<Channel>,
    /// The message text around the code.
    pub template: Template,
    /// Sender name, where the dialect has one.
    pub from: Option<String>,
}

/// How a verify names its challenge.
#[derive(Debug, Clone)]
pub enum ChallengeRef {
    /// By the id a send returned (within one tenant).
    Id { tenant: String, id: ChallengeId },
    /// By recipient and purpose.
    Key {
        tenant: String,
        to: Identifier,
        purpose: String,
    },
}

/// A code to check.
#[derive(Debug, Clone)]
pub struct VerifyRequest {
    pub by: ChallengeRef,
    /// As the user typed it; letters compare case-insensitively.
    pub code: String,
}

/// The reference OTP engine.
pub struct Engine {
    store: Arc<dyn Store>,
    /// The store's time ([`Store::clock`]), kept so readers need not
    /// clone it.
    clock: Arc<dyn Clock>,
    delivery: Arc<dyn Delivery>,
    hasher: CodeHasher,
}

impl Engine {
    /// An engine over the given parts. Engines sharing a store must share
    /// the hasher's secret.
    pub fn new(store: Arc<dyn Store>, delivery: Arc<dyn Delivery>, hasher: CodeHasher) -> Engine {
        Engine {
            clock: store.clock(),
            store,
            delivery,
            hasher,
        }
    }

    /// The store's time, for what is not a store decision (token expiry,
    /// journal stamps); see [`Store::clock`].
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// The engine's store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Issues a new code under `policy`: checks the limits, replaces the
    /// key's challenge, delivers through the cascade. When every channel
    /// fails the challenge is revoked (the send still counts).
    pub async fn send(&self, policy: &Policy, request: SendRequest) -> Outcome {
        if let Err(error) = policy.validate() {
            return Outcome::invalid(error.to_string());
        }
        let cascade = match delivery_cascade(policy, &request) {
            Ok(cascade) => cascade,
            Err(outcome) => return outcome,
        };
        let key = ChallengeKey {
            subject: Subject {
                tenant: request.tenant,
                identifier: request.to.as_str().to_string(),
            },
            purpose: request.purpose,
        };
        let code = Code::generate(policy.alphabet, policy.length as usize);
        let ttl_ms = policy.ttl_ms();
        let challenge = NewChallenge {
            id: ChallengeId::random(),
            digest: self.hasher.digest(code.as_str()),
            ttl_ms,
            purge_after_ms: ttl_ms.saturating_mul(2),
            max_attempts: policy.max_attempts,
        };
        let rules = SendRules {
            limits: &policy.send_limits,
            cooldown_ms: policy.cooldown.map(|c| c.as_millis() as u64),
        };
        let (id, sends_remaining) = match self.store.send(&key, challenge, rules).await {
            Ok(SendDecision::Stored {
                id,
                sends_remaining,
            }) => (id, sends_remaining),
            Ok(SendDecision::Limited { retry_after_ms }) => {
                return Outcome::RateLimited {
                    retry_after: Duration::from_millis(retry_after_ms),
                }
            }
            Err(error) => return store_failure(error),
        };
        let mut message = Message {
            channel: Channel::Sms,
            to: Arc::from(key.subject.identifier.as_str()),
            text: Arc::from(request.template.render(code.as_str())),
            from: request.from.map(Arc::from),
        };
        for channel in cascade {
            message.channel = channel;
            if self.delivery.deliver(&message).await.is_ok() {
                return Outcome::Sent(Sent {
                    id,
                    code,
                    expires_in: policy.ttl,
                    attempts_remaining: policy.max_attempts,
                    sends_remaining,
                    channel,
                });
            }
        }
        // The send counts either way. A revoke the store could not confirm
        // leaves a challenge whose code no channel accepted; answering
        // `store_unavailable` would claim that nothing changed.
        let _ = self.store.revoke(&key, id).await;
        Outcome::ProviderUnavailable
    }

    /// Checks a code: `verified` consumes the challenge, `wrong_code` uses
    /// an attempt; see [`Store::verify`] for the order of the checks.
    pub async fn verify(&self, request: VerifyRequest) -> Outcome {
        if request.code.is_empty() || request.code.len() > MAX_SUBMITTED_CODE_LEN {
            return Outcome::invalid(format!(
                "code must be 1 to {MAX_SUBMITTED_CODE_LEN} characters"
            ));
        }
        let candidate = self.hasher.digest(&request.code);
        let key;
        let lookup = match &request.by {
            ChallengeRef::Id { tenant, id } => Lookup::Id { tenant, id: *id },
            ChallengeRef::Key {
                tenant,
                to,
                purpose,
            } => {
                key = ChallengeKey {
                    subject: Subject {
                        tenant: tenant.clone(),
                        identifier: to.as_str().to_string(),
                    },
                    purpose: purpose.clone(),
                };
                Lookup::Key(&key)
            }
        };
        match self.store.verify(lookup, &candidate).await {
            Ok(VerifyDecision::Verified) => Outcome::Verified,
            Ok(VerifyDecision::WrongCode { attempts_remaining }) => {
                Outcome::WrongCode { attempts_remaining }
            }
            Ok(VerifyDecision::Expired) => Outcome::Expired,
            Ok(VerifyDecision::AttemptsExceeded { retry_after_ms }) => Outcome::AttemptsExceeded {
                retry_after: Duration::from_millis(retry_after_ms),
            },
            Ok(VerifyDecision::NotFound) => Outcome::NotFound,
            Err(error) => store_failure(error),
        }
    }

    /// Lets the store forget what is past its time (the server calls this
    /// every second).
    pub async fn purge(&self) -> Result<usize, StoreError> {
        self.store.purge().await
    }
}

/// The channels to try, in order, for this recipient.
fn delivery_cascade(policy: &Policy, request: &SendRequest) -> Result<Vec<Channel>, Outcome> {
    match (&request.to, request.channel) {
        (Identifier::Email(_), None | Some(Channel::Email)) => Ok(vec![Channel::Email]),
        (Identifier::Email(_), Some(other)) => Err(Outcome::invalid(format!(
            "channel {other} cannot reach an e-mail address"
        ))),
        (Identifier::Phone(_), Some(Channel::Email)) => Err(Outcome::invalid(
            "channel email cannot reach a phone number",
        )),
        (Identifier::Phone(_), Some(channel)) => Ok(vec![channel]),
        (Identifier::Phone(_), None) => Ok(policy.channels.clone()),
    }
}

fn store_failure(error: StoreError) -> Outcome {
    match error {
        StoreError::Unavailable(_) => Outcome::StoreUnavailable {
            retry_after: STORE_RETRY_AFTER,
        },
        StoreError::Corrupt(_) => Outcome::InternalError,
    }
}
