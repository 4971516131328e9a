//! The names a report counts by: what became of one request ([`Tally`]:
//! an outcome, a status or a transport failure), which of those are
//! errors, and the rule for operation names. The load generator counts
//! with these; reports, gates and merges read them back by name. This
//! module must not know how load is made.

use std::fmt;

use crate::OutcomeKind;

/// Why a request failed before any response could be classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// The connection could not be opened.
    Connect,
    /// No response within the request timeout.
    Timeout,
    /// The connection broke mid-request or the response was malformed HTTP.
    Io,
}

impl Transport {
    pub const ALL: [Transport; 3] = [Transport::Connect, Transport::Timeout, Transport::Io];

    /// The name reports and gates use.
    pub fn name(self) -> &'static str {
        match self {
            Transport::Connect => "connect_failed",
            Transport::Timeout => "timeout",
            Transport::Io => "io_error",
        }
    }
}

/// What became of one request, as counted in a report's `outcomes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tally {
    /// OTP mode: the dialect's classification (a 429 is `rate_limited`).
    Outcome(OutcomeKind),
    /// Plain `--url` mode: the HTTP status.
    Status(u16),
    /// No response to classify.
    Transport(Transport),
}

const OUTCOME_SLOTS: usize = OutcomeKind::ALL.len();
const TRANSPORT_SLOTS: usize = Transport::ALL.len();
const FIRST_STATUS: u16 = 100;
const LAST_STATUS: u16 = 599;
const STATUS_SLOTS: usize = (LAST_STATUS - FIRST_STATUS + 1) as usize;
/// One counter per outcome kind, transport failure and status 100–599,
/// plus one for statuses outside that range.
pub(crate) const SLOTS: usize = OUTCOME_SLOTS + TRANSPORT_SLOTS + STATUS_SLOTS + 1;
const OTHER_STATUS_SLOT: usize = SLOTS - 1;
/// The report name of a status outside 100–599.
pub const OTHER_STATUS: &str = "other_status";

impl Tally {
    /// Whether this tally counts as an **error** in reports and gates:
    ///
    /// - every transport failure;
    /// - in OTP mode, only outcomes that mean the target is broken:
    ///   `unrecognized` (a response outside the dialect's documented
    ///   shapes), `internal_error` and `store_unavailable`. Everything
    ///   else — `rate_limited`, `wrong_code`, `provider_unavailable` … — is
    ///   a documented answer the workload may well have asked for, counted
    ///   under its own name and gated on by name (`send.rate_limited<1%`);
    /// - in URL mode, any status outside 2xx and 3xx.
    pub fn is_error(self) -> bool {
        match self {
            Tally::Transport(_) => true,
            Tally::Outcome(kind) => matches!(
                kind,
                OutcomeKind::Unrecognized
                    | OutcomeKind::InternalError
                    | OutcomeKind::StoreUnavailable
            ),
            Tally::Status(status) => !(200..400).contains(&status),
        }
    }

    /// The key in a report's `outcomes`: the outcome's snake_case name,
    /// the transport failure's name, or the status as digits (`"503"`).
    pub fn name(self) -> String {
        match self {
            Tally::Outcome(kind) => kind.name().to_string(),
            Tally::Transport(t) => t.name().to_string(),
            Tally::Status(s) if (FIRST_STATUS..=LAST_STATUS).contains(&s) => s.to_string(),
            Tally::Status(_) => OTHER_STATUS.to_string(),
        }
    }

    /// The tally a report key names; statuses read back as 100–599.
    pub fn from_name(name: &str) -> Option<Tally> {
        if let Some(kind) = OutcomeKind::from_name(name) {
            return Some(Tally::Outcome(kind));
        }
        if let Some(t) = Transport::ALL.into_iter().find(|t| t.name() == name) {
            return Some(Tally::Transport(t));
        }
        if name == OTHER_STATUS {
            return Some(Tally::Status(0));
        }
        let status: u16 = name
            .parse()
            .ok()
            .filter(|_| name.len() == 3 && name.bytes().all(|b| b.is_ascii_digit()))?;
        (FIRST_STATUS..=LAST_STATUS)
            .contains(&status)
            .then_some(Tally::Status(status))
    }

    #[inline]
    pub(crate) fn slot(self) -> usize {
        match self {
            Tally::Outcome(kind) => kind as usize,
            Tally::Transport(t) => OUTCOME_SLOTS + t as usize,
            Tally::Status(s) if (FIRST_STATUS..=LAST_STATUS).contains(&s) => {
                OUTCOME_SLOTS + TRANSPORT_SLOTS + usize::from(s - FIRST_STATUS)
            }
            Tally::Status(_) => OTHER_STATUS_SLOT,
        }
    }

    pub(crate) fn from_slot(slot: usize) -> Tally {
        if slot < OUTCOME_SLOTS {
            Tally::Outcome(OutcomeKind::ALL[slot])
        } else if slot < OUTCOME_SLOTS + TRANSPORT_SLOTS {
            Tally::Transport(Transport::ALL[slot - OUTCOME_SLOTS])
        } else if slot == OTHER_STATUS_SLOT {
            Tally::Status(0)
        } else {
            Tally::Status(FIRST_STATUS + (slot - OUTCOME_SLOTS - TRANSPORT_SLOTS) as u16)
        }
    }
}

/// An operation name that reports, gates and file names cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationNameError {
    pub name: String,
    pub reason: &'static str,
}

impl fmt::Display for OperationNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid operation name {:?}: {}", self.name, self.reason)
    }
}

impl std::error::Error for OperationNameError {}

/// Checks a name for use as an operation: `[A-Za-z0-9_-]{1,64}`, so it can
/// stand in a gate (`send.p99<5ms`) and a file name (`send.hgrm`).
pub fn check_operation_name(name: &str) -> Result<(), OperationNameError> {
    let error = |reason| OperationNameError {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() || name.len() > 64 {
        return Err(error("must be 1 to 64 characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(error("only letters, digits, '_' and '-' are allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_broken_answers_count_as_errors() {
        let errors: Vec<String> = OutcomeKind::ALL
            .into_iter()
            .map(Tally::Outcome)
            .filter(|t| t.is_error())
            .map(Tally::name)
            .collect();
        assert_eq!(
            errors,
            ["store_unavailable", "internal_error", "unrecognized"]
        );
        assert!(!Tally::Outcome(OutcomeKind::RateLimited).is_error());
        for t in Transport::ALL {
            assert!(Tally::Transport(t).is_error());
        }
        for (status, error) in [
            (200, false),
            (302, false),
            (399, false),
            (404, true),
            (503, true),
            (0, true),
        ] {
            assert_eq!(Tally::Status(status).is_error(), error, "{status}");
        }
    }

    #[test]
    fn tally_names_and_slots_round_trip() {
        for slot in 0..SLOTS {
            let tally = Tally::from_slot(slot);
            assert_eq!(tally.slot(), slot);
            assert_eq!(Tally::from_name(&tally.name()), Some(tally), "{slot}");
        }
        assert_eq!(Tally::Status(42).name(), OTHER_STATUS);
        for bad in ["", "rate-limited", "99", "600", "0200", "+200", "timeouts"] {
            assert_eq!(Tally::from_name(bad), None, "{bad}");
        }
    }
}
