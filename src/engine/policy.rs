//! What a dialect promises: code shape, lifetime, attempt cap, send limits,
//! cooldown and delivery channels.
//!
//! A [`Policy`] is plain data checked by [`Policy::validate`] when the
//! config is read, and again by the engine on every send (a dialect may
//! build a policy per request, as Nomado does); the stores trust it. Defaults follow
//! DESIGN.md §3 (6 numeric digits, 5 minutes, 3 attempts, 5 sends per hour).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::delivery::Channel;
use crate::duration;
use crate::engine::code::Alphabet;

/// The longest code any dialect may ask for.
pub const MAX_CODE_LENGTH: u8 = 20;

/// At most `count` sends per identifier in any sliding `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendLimit {
    /// Sends allowed inside one window.
    pub count: u32,
    /// The sliding window's length.
    pub window: Duration,
}

impl SendLimit {
    /// The window in milliseconds.
    pub fn window_ms(&self) -> u64 {
        self.window.as_millis() as u64
    }
}

impl FromStr for SendLimit {
    type Err = PolicyError;

    /// Reads `count/window`, e.g. `5/1h` or `10/1d`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |why: String| PolicyError::SendLimit {
            input: text.to_string(),
            why,
        };
        let (count, window) = text
            .split_once('/')
            .ok_or_else(|| invalid("expected count/window, like 5/1h".into()))?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| invalid(format!("{:?} is not a whole number of sends", count.trim())))?;
        let window = duration::parse(window).map_err(|e| invalid(e.to_string()))?;
        let limit = SendLimit { count, window };
        limit.validate().map_err(|e| match e {
            PolicyError::SendLimit { why, .. } => invalid(why),
            other => other,
        })?;
        Ok(limit)
    }
}

impl SendLimit {
    fn validate(&self) -> Result<(), PolicyError> {
        let invalid = |why: &str| PolicyError::SendLimit {
            input: self.to_string(),
            why: why.to_string(),
        };
        if self.count == 0 {
            return Err(invalid("count must be at least 1"));
        }
        if self.window.is_zero() {
            return Err(invalid("window must be longer than 0"));
        }
        Ok(())
    }
}

impl fmt::Display for SendLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.count, duration::format(self.window))
    }
}

/// Everything the engine needs to issue and check one kind of challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Characters of the code.
    pub alphabet: Alphabet,
    /// Characters per code, `1..=20`.
    pub length: u8,
    /// How long a code can be verified after it was sent.
    pub ttl: Duration,
    /// Wrong codes allowed before the challenge locks.
    pub max_attempts: u32,
    /// Sliding-window send limits per identifier; empty = unlimited.
    pub send_limits: Vec<SendLimit>,
    /// Minimum time between two sends to one identifier.
    pub cooldown: Option<Duration>,
    /// Delivery cascade for phone numbers, first channel first. E-mail
    /// addresses always go by `email`.
    pub channels: Vec<Channel>,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            alphabet: Alphabet::Numeric,
            length: 6,
            ttl: Duration::from_secs(300),
            max_attempts: 3,
            send_limits: vec![SendLimit {
                count: 5,
                window: Duration::from_secs(3600),
            }],
            cooldown: None,
            channels: vec![Channel::Sms],
        }
    }
}

impl Policy {
    /// Checks the ranges the engine relies on.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if !(1..=MAX_CODE_LENGTH).contains(&self.length) {
            return Err(PolicyError::Length(self.length as u64));
        }
        if self.ttl.as_millis() < 1 {
            return Err(PolicyError::Ttl);
        }
        if self.max_attempts == 0 {
            return Err(PolicyError::MaxAttempts);
        }
        for limit in &self.send_limits {
            limit.validate()?;
        }
        if self.channels.is_empty() {
            return Err(PolicyError::NoChannels);
        }
        Ok(())
    }

    /// The ttl in milliseconds.
    pub fn ttl_ms(&self) -> u64 {
        self.ttl.as_millis() as u64
    }

    /// Sends allowed in the tightest window when none are used yet
    /// (`None` when there is no limit).
    pub fn tightest_limit(&self) -> Option<u32> {
        self.send_limits.iter().map(|l| l.count).min()
    }
}

/// A policy value out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// Code length outside `1..=20`.
    Length(u64),
    /// A ttl of zero.
    Ttl,
    /// An attempt cap of zero.
    MaxAttempts,
    /// A send limit that cannot be read or is empty.
    SendLimit { input: String, why: String },
    /// An empty channel list.
    NoChannels,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Length(n) => {
                write!(f, "code length must be 1..={MAX_CODE_LENGTH}, got {n}")
            }
            PolicyError::Ttl => f.write_str("ttl must be longer than 0"),
            PolicyError::MaxAttempts => f.write_str("max_attempts must be at least 1"),
            PolicyError::SendLimit { input, why } => {
                write!(f, "invalid send limit {input:?}: {why}")
            }
            PolicyError::NoChannels => f.write_str("channels must name at least one channel"),
        }
    }
}

impl std::error::Error for PolicyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_limits_read_count_and_window() {
        let limit: SendLimit = "10/1d".parse().unwrap();
        assert_eq!(limit.count, 10);
        assert_eq!(limit.window, Duration::from_secs(86_400));
        assert_eq!(limit.to_string(), "10/1d");
    }

    #[test]
    fn bad_send_limits_say_what_is_wrong() {
        let cases = [
            ("5", "expected count/window"),
            ("x/1h", "not a whole number"),
            ("5/1w", "invalid duration"),
            ("0/1h", "at least 1"),
            ("5/0s", "longer than 0"),
        ];
        for (input, why) in cases {
            let error = input.parse::<SendLimit>().unwrap_err().to_string();
            assert!(error.contains(why), "{input}: {error}");
            assert!(error.contains(input), "{input}: {error}");
        }
    }

    #[test]
    fn default_policy_is_the_documented_one_and_valid() {
        let policy = Policy::default();
        assert_eq!(policy.validate(), Ok(()));
        assert_eq!(policy.length, 6);
        assert_eq!(policy.ttl_ms(), 300_000);
        assert_eq!(policy.tightest_limit(), Some(5));
    }

    #[test]
    fn out_of_range_policies_are_rejected() {
        let bad = [
            Policy {
                length: 0,
                ..Policy::default()
            },
            Policy {
                length: 21,
                ..Policy::default()
            },
            Policy {
                ttl: Duration::ZERO,
                ..Policy::default()
            },
            Policy {
                max_attempts: 0,
                ..Policy::default()
            },
            Policy {
                channels: vec![],
                ..Policy::default()
            },
        ];
        for policy in bad {
            assert!(policy.validate().is_err(), "{policy:?}");
        }
    }
}
