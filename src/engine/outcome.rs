//! The one vocabulary every part speaks: what happened to a send or a verify.
//!
//! Server sides render an [`Outcome`] in their dialect; client sides classify
//! a response back into one. [`OutcomeKind`] is the same list without the
//! details, for counting (metrics, `expect_counts`, reports).

use std::fmt;
use std::time::Duration;

use uuid::Uuid;

use crate::delivery::Channel;
use crate::engine::code::Code;
pub use crate::engine::invalid::{Fault, Invalid, Problem};

/// A challenge's public identifier (the `id` / `requestId` / `transaction_id`
/// of the dialects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChallengeId(pub Uuid);

impl ChallengeId {
    /// A fresh random (version 4) id.
    pub fn random() -> ChallengeId {
        let bytes: [u8; 16] = rand::random();
        ChallengeId(uuid::Builder::from_random_bytes(bytes).into_uuid())
    }

    /// The id as one number, for map keys.
    pub fn as_u128(&self) -> u128 {
        self.0.as_u128()
    }
}

impl fmt::Display for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// What a successful send hands back to the dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The new challenge.
    pub id: ChallengeId,
    /// The plaintext code, for dialects that echo it by design or in
    /// `--echo-codes` mode. Never logged.
    pub code: Code,
    /// Time left to verify.
    pub expires_in: Duration,
    /// Wrong codes allowed before the challenge locks.
    pub attempts_remaining: u32,
    /// Sends left in the tightest window, `None` without limits.
    pub sends_remaining: Option<u32>,
    /// The channel that accepted the message.
    pub channel: Channel,
}

/// What happened. One enum for server and client sides.
///
/// The engine knows every detail, so its outcomes are the default
/// `Outcome` (a [`Sent`] with the code, exact counts and waits). A client
/// sees only what a dialect puts on the wire: [`Observed`] is the same enum
/// over a [`Receipt`] and optional details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome<S = Sent, N = u32, T = Duration> {
    /// A code was issued and delivered.
    Sent(S),
    /// The code was right; the challenge is consumed.
    Verified,
    /// The code was wrong; `attempts_remaining` more wrong codes lock it.
    WrongCode { attempts_remaining: N },
    /// The challenge's ttl has passed.
    Expired,
    /// The attempt cap is used up; only a new send helps. `retry_after` is
    /// the time until the locked challenge expires.
    AttemptsExceeded { retry_after: T },
    /// No active challenge (never sent, unknown id, replaced or used).
    NotFound,
    /// A send limit or cooldown applies for `retry_after` more.
    RateLimited { retry_after: T },
    /// The request was malformed; `reason` says which field and what is
    /// wrong with it.
    InvalidInput { reason: Invalid },
    /// Credentials missing or wrong.
    Unauthorized,
    /// Credentials valid but not allowed to do this.
    Forbidden,
    /// The body's content type is not the one the dialect takes.
    UnsupportedMediaType,
    /// Delivery failed on every channel; the challenge was revoked.
    ProviderUnavailable,
    /// The store could not be reached in time.
    StoreUnavailable { retry_after: T },
    /// A bug or an unexpected failure on the server side.
    InternalError,
    /// Client side only: a response that fits none of the dialect's
    /// documented shapes. A conformance failure, never mapped silently.
    Unrecognized { reason: String },
}

/// An outcome as a client reads it off the wire: whatever the dialect
/// does not say is `None`.
pub type Observed = Outcome<Receipt, Option<u32>, Option<Duration>>;

/// What a successful send tells the client, in dialect-neutral terms.
/// Every field is optional because every dialect says something else.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The challenge handle a verify must quote (native `id`, SigmaSMS
    /// `requestId`, Valify `transaction_id`).
    pub id: Option<String>,
    /// The code, where the response carries it (Nomado `token`,
    /// LoyaltyDog `mockCode`, native `code` with `--echo-codes`).
    pub code: Option<String>,
    pub expires_in: Option<Duration>,
    pub attempts_remaining: Option<u32>,
    /// Sends left in the tightest window (Valify `trials_remaining`).
    pub sends_remaining: Option<u32>,
    /// The channel the code went out on (LoyaltyDog `otpType`).
    pub channel: Option<Channel>,
    /// The recipient as the response names it (Nomado's `data` key).
    pub to: Option<String>,
    /// The message text, where the response shows it (Nomado `text`).
    pub text: Option<String>,
}

impl<S, N, T> Outcome<S, N, T> {
    /// The outcome without its details.
    pub fn kind(&self) -> OutcomeKind {
        match self {
            Outcome::Sent(_) => OutcomeKind::Sent,
            Outcome::Verified => OutcomeKind::Verified,
            Outcome::WrongCode { .. } => OutcomeKind::WrongCode,
            Outcome::Expired => OutcomeKind::Expired,
            Outcome::AttemptsExceeded { .. } => OutcomeKind::AttemptsExceeded,
            Outcome::NotFound => OutcomeKind::NotFound,
            Outcome::RateLimited { .. } => OutcomeKind::RateLimited,
            Outcome::InvalidInput { .. } => OutcomeKind::InvalidInput,
            Outcome::Unauthorized => OutcomeKind::Unauthorized,
            Outcome::Forbidden => OutcomeKind::Forbidden,
            Outcome::UnsupportedMediaType => OutcomeKind::UnsupportedMediaType,
            Outcome::ProviderUnavailable => OutcomeKind::ProviderUnavailable,
            Outcome::StoreUnavailable { .. } => OutcomeKind::StoreUnavailable,
            Outcome::InternalError => OutcomeKind::InternalError,
            Outcome::Unrecognized { .. } => OutcomeKind::Unrecognized,
        }
    }

    /// Shorthand for an invalid-input outcome.
    pub fn invalid(reason: Invalid) -> Self {
        Outcome::InvalidInput { reason }
    }
}

impl Observed {
    /// Shorthand for a response that fits no documented shape.
    pub fn unrecognized(reason: impl Into<String>) -> Observed {
        Outcome::Unrecognized {
            reason: reason.into(),
        }
    }
}

/// The outcome names of DESIGN.md §2, as used in scenarios, metrics and
/// reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutcomeKind {
    Sent,
    Verified,
    WrongCode,
    Expired,
    AttemptsExceeded,
    NotFound,
    RateLimited,
    InvalidInput,
    Unauthorized,
    Forbidden,
    UnsupportedMediaType,
    ProviderUnavailable,
    StoreUnavailable,
    InternalError,
    Unrecognized,
}

impl OutcomeKind {
    /// Every kind, in declaration order (`kind as usize` indexes it).
    pub const ALL: [OutcomeKind; 15] = [
        OutcomeKind::Sent,
        OutcomeKind::Verified,
        OutcomeKind::WrongCode,
        OutcomeKind::Expired,
        OutcomeKind::AttemptsExceeded,
        OutcomeKind::NotFound,
        OutcomeKind::RateLimited,
        OutcomeKind::InvalidInput,
        OutcomeKind::Unauthorized,
        OutcomeKind::Forbidden,
        OutcomeKind::UnsupportedMediaType,
        OutcomeKind::ProviderUnavailable,
        OutcomeKind::StoreUnavailable,
        OutcomeKind::InternalError,
        OutcomeKind::Unrecognized,
    ];

    /// The snake_case name (`wrong_code`).
    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::Sent => "sent",
            OutcomeKind::Verified => "verified",
            OutcomeKind::WrongCode => "wrong_code",
            OutcomeKind::Expired => "expired",
            OutcomeKind::AttemptsExceeded => "attempts_exceeded",
            OutcomeKind::NotFound => "not_found",
            OutcomeKind::RateLimited => "rate_limited",
            OutcomeKind::InvalidInput => "invalid_input",
            OutcomeKind::Unauthorized => "unauthorized",
            OutcomeKind::Forbidden => "forbidden",
            OutcomeKind::UnsupportedMediaType => "unsupported_media_type",
            OutcomeKind::ProviderUnavailable => "provider_unavailable",
            OutcomeKind::StoreUnavailable => "store_unavailable",
            OutcomeKind::InternalError => "internal_error",
            OutcomeKind::Unrecognized => "unrecognized",
        }
    }

    /// The kind with this snake_case name.
    pub fn from_name(name: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl<'de> serde::Deserialize<'de> for OutcomeKind {
    /// By name; anything else is an error listing the names.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::names::named(deserializer, "outcome", &OutcomeKind::ALL, |k| k.name())
    }
}

impl fmt::Display for OutcomeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_kind_in_index_order() {
        for (index, kind) in OutcomeKind::ALL.into_iter().enumerate() {
            assert_eq!(kind as usize, index);
            assert_eq!(OutcomeKind::from_name(kind.name()), Some(kind));
        }
    }

    #[test]
    fn challenge_ids_are_version_4_uuids() {
        let id = ChallengeId::random();
        assert_eq!(id.0.get_version_num(), 4);
        assert_ne!(id, ChallengeId::random());
    }
}
