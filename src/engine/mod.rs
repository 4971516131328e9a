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
pub mod invalid;
pub mod outcome;
pub mod policy;

use std::sync::Arc;
use std::time::Duration;

use crate::delivery::{Channel, Delivery, Message, Template};
use crate::engine::clock::Clock;
use crate::engine::code::{Code, CodeHasher};
use crate::engine::identifier::Identifier;
use crate::engine::invalid::{Fault, Invalid};
use crate::engine::outcome::{ChallengeId, Outcome, Sent};
use crate::engine::policy::Policy;
use crate::store::{
    ChallengeKey, Lookup, NewChallenge, SendDecision, SendRules, Sending, Store, StoreError,
    Subject, VerifyDecision,
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
    /// The channels the recipient has a contact for, when the dialect
    /// knows (REES46's customer book: a customer created from a phone
    /// has no e-mail or push contact); the cascade skips the others.
    /// `None`: every channel that can reach this kind of identifier.
    pub reachable: Option<&'static [Channel]>,
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

    /// Issues a new code under `policy`: checks the limits, replaces the
    /// key's challenge, delivers through the cascade. When every channel
    /// fails the challenge is revoked (the send still counts).
    pub async fn send(&self, policy: &Policy, request: SendRequest) -> Outcome {
        if let Err(error) = policy.validate() {
            return Outcome::invalid(
                Invalid::new("policy", Fault::Invalid).because(error.to_string()),
            );
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
        let (id, sends_remaining) = match self.store.send(Sending(&key, challenge, rules)).await {
            Ok(SendDecision::Stored {
                id,
                sends_remaining,
            }) => (id, sends_remaining),
            Ok(SendDecision::Limited { retry_after_ms }) => {
                return Outcome::RateLimited {
                    retry_after: Duration::from_millis(retry_after_ms),
                }
            }
            Err(error) => return store_failure("send", error),
        };
        let mut message = Message {
            channel: Channel::Sms,
            to: Arc::from(key.subject.identifier.as_str()),
            text: Arc::from(request.template.render(code.as_str())),
            from: request.from.map(Arc::from),
        };
        for channel in cascade {
            message.channel = channel;
            match self.delivery.deliver(&message).await {
                Ok(()) => {
                    return Outcome::Sent(Sent {
                        id,
                        code,
                        expires_in: policy.ttl,
                        attempts_remaining: policy.max_attempts,
                        sends_remaining,
                        channel,
                    })
                }
                // The message holds the code: only its channel and the
                // cause are logged.
                Err(error) => tracing::warn!(
                    tenant = %key.subject.tenant,
                    %channel,
                    cause = %error,
                    "delivery failed on a channel"
                ),
            }
        }
        tracing::warn!(
            tenant = %key.subject.tenant,
            "delivery failed on every channel; the challenge is revoked"
        );
        // The send counts either way. A revoke the store could not confirm
        // leaves a challenge whose code no channel accepted; answering
        // `store_unavailable` would claim that nothing changed.
        if let Err(error) = self.store.revoke(&key, id).await {
            tracing::warn!(cause = %error, "revoking an undelivered challenge failed");
        }
        Outcome::ProviderUnavailable
    }

    /// Checks a code: `verified` consumes the challenge, `wrong_code` uses
    /// an attempt; see [`Store::verify`] for the order of the checks.
    pub async fn verify(&self, request: VerifyRequest) -> Outcome {
        if request.code.is_empty() || request.code.len() > MAX_SUBMITTED_CODE_LEN {
            let fault = if request.code.is_empty() {
                Fault::Empty
            } else {
                Fault::TooLong
            };
            return Outcome::invalid(Invalid::new("code", fault).because(format!(
                "code must be 1 to {MAX_SUBMITTED_CODE_LEN} characters"
            )));
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
            Err(error) => store_failure("verify", error),
        }
    }

    /// Lets the store forget what is past its time (the server calls this
    /// every second; a failure is logged at debug, not to repeat a store
    /// outage every second — requests log it at warn).
    pub async fn purge(&self) -> Result<usize, StoreError> {
        let purged = self.store.purge().await;
        if let Err(error) = &purged {
            tracing::debug!(cause = %error, "purge failed");
        }
        purged
    }

    /// Forgets every challenge and send log (test mode's `/_admin/reset`).
    pub async fn reset(&self) -> Result<(), StoreError> {
        self.store.reset().await
    }

    /// The time decisions are made at: the store's.
    pub async fn now_ms(&self) -> Result<u64, StoreError> {
        self.store.now_ms().await
    }

    /// Moves the store's test-mode clock forward; `None` when it cannot be
    /// moved (a production clock).
    pub async fn advance_clock(&self, ms: u64) -> Result<Option<u64>, StoreError> {
        self.store.advance_clock(ms).await
    }

    /// Whether the engine can reach its state.
    pub async fn health(&self) -> Result<(), StoreError> {
        self.store.health().await
    }
}

/// The channels to try, in order, for this recipient: the policy's
/// cascade without the channels that cannot reach it — e-mail never
/// reaches a phone number, and a dialect may know the recipient has no
/// contact on others ([`SendRequest::reachable`]). When nothing is left
/// the send is `provider_unavailable` before anything is stored.
fn delivery_cascade(policy: &Policy, request: &SendRequest) -> Result<Vec<Channel>, Outcome> {
    let reachable = |channel: &Channel| request.reachable.is_none_or(|r| r.contains(channel));
    let cascade = match (&request.to, request.channel) {
        (Identifier::Email(_), None | Some(Channel::Email)) => vec![Channel::Email],
        (Identifier::Email(_), Some(other)) => {
            return Err(Outcome::invalid(
                Invalid::new("channel", Fault::Invalid)
                    .because(format!("{other} cannot reach an e-mail address")),
            ))
        }
        (Identifier::Phone(_), Some(Channel::Email)) => {
            return Err(Outcome::invalid(
                Invalid::new("channel", Fault::Invalid)
                    .because("email cannot reach a phone number"),
            ))
        }
        (Identifier::Phone(_), Some(channel)) => vec![channel],
        (Identifier::Phone(_), None) => policy
            .channels
            .iter()
            .copied()
            .filter(|&channel| channel != Channel::Email)
            .collect(),
    };
    let cascade: Vec<Channel> = cascade.into_iter().filter(reachable).collect();
    if cascade.is_empty() {
        return Err(Outcome::ProviderUnavailable);
    }
    Ok(cascade)
}

/// The outcome of a store failure during `operation`, logged with its
/// cause (a warning: the client is answered 503 or 500).
fn store_failure(operation: &'static str, error: StoreError) -> Outcome {
    tracing::warn!(operation, cause = %error, "store failed");
    match error {
        StoreError::Unavailable(_) => Outcome::StoreUnavailable {
            retry_after: STORE_RETRY_AFTER,
        },
        StoreError::Corrupt(_) => Outcome::InternalError,
    }
}
