//! The variables scenarios read: what is built in, fresh identifiers for
//! each dialect, and the policy a target promises.
//!
//! Built in:
//! - `${phone}`, `${phone2}`, … and `${email}`, `${email2}`, … — fresh
//!   recipients valid for the dialect (REES46 and Nomado write phones
//!   without `+`, Valify writes national Egyptian mobiles), the same
//!   within a case, never reused across cases or runs;
//! - `${code}` — the code of the last send (from the response or the
//!   inbox, by the target's code source); `${wrong_code}` — a code of the
//!   same shape that is surely not it; `${id}` — the last send's handle;
//!   `${to}` — its recipient;
//! - `${policy.code}`, `${policy.length}`, `${policy.ttl}` (a duration),
//!   `${policy.ttl_s}` (seconds), `${policy.max_attempts}`,
//!   `${policy.send_limit}` and `${policy.send_window}` (the tightest
//!   limit), `${policy.cooldown}`;
//! - `${target.name}`, `${target.dialect}`.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde_json::Value;

use crate::dialect::Dialect;
use crate::engine::code::Alphabet;
use crate::engine::policy::Policy;

/// For messages: what is built in.
pub const BUILTIN_SUMMARY: &str = "${phone}, ${phone2}…, ${email}, ${email2}…, ${code}, \
     ${wrong_code}, ${id}, ${to}, ${policy.*} and ${target.*}";

const POLICY: [&str; 8] = [
    "policy.code",
    "policy.length",
    "policy.ttl",
    "policy.ttl_s",
    "policy.max_attempts",
    "policy.send_limit",
    "policy.send_window",
    "policy.cooldown",
];

/// Whether `name` is built in.
pub fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "code" | "wrong_code" | "id" | "to" | "target.name" | "target.dialect"
    ) || POLICY.contains(&name)
        || fresh_kind(name).is_some()
}

/// `phone`/`phone7` → (Phone, 1)/(Phone, 7); likewise `email`.
pub(crate) fn fresh_kind(name: &str) -> Option<(FreshKind, u32)> {
    for (prefix, kind) in [("phone", FreshKind::Phone), ("email", FreshKind::Email)] {
        if let Some(rest) = name.strip_prefix(prefix) {
            if rest.is_empty() {
                return Some((kind, 1));
            }
            if let Ok(n) = rest.parse::<u32>() {
                if n >= 2 && !rest.starts_with('0') {
                    return Some((kind, n));
                }
            }
        }
    }
    None
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum FreshKind {
    Phone,
    Email,
}

/// The closest known name — captured or built in — for "did you mean".
pub fn nearest(name: &str, captured: &BTreeSet<String>) -> Option<String> {
    const BUILTIN: [&str; 8] = [
        "phone",
        "email",
        "code",
        "wrong_code",
        "id",
        "to",
        "target.name",
        "target.dialect",
    ];
    captured
        .iter()
        .map(String::as_str)
        .chain(BUILTIN)
        .chain(POLICY)
        .map(|known| (crate::source::edit_distance(name, known), known))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, known)| known.to_string())
}

/// A fresh recipient of `kind` for `dialect`: unique in this process
/// (a counter) and, with a random base drawn at start-up, across runs.
pub(crate) fn fresh(dialect: Dialect, kind: FreshKind) -> String {
    static BASE: OnceLock<u64> = OnceLock::new();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let base = *BASE.get_or_init(rand::random::<u64>);
    let n = base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
    match kind {
        FreshKind::Email => format!("otp-{:012x}@example.com", n % (1 << 48)),
        FreshKind::Phone => match dialect {
            // Egyptian mobiles: 010 and eight digits.
            Dialect::Valify => format!("010{:08}", n % 100_000_000),
            // North American numbers (+1 and ten digits), digits only
            // where the dialect writes them so.
            Dialect::Rees46 | Dialect::Nomado => format!("1415{:07}", n % 10_000_000),
            _ => format!("+1415{:07}", n % 10_000_000),
        },
    }
}

/// The value of a variable known before a case runs — `policy.*` and
/// `target.*` — or `None` for the others.
pub(crate) fn known_before(
    spec: &crate::client::TargetSpec,
    name: &str,
) -> Option<Result<Value, String>> {
    match name {
        "target.name" => Some(Ok(Value::from(spec.name.clone()))),
        "target.dialect" => Some(Ok(Value::from(spec.dialect.name()))),
        policy if policy.starts_with("policy.") => Some(policy_value(&spec.policy, policy)),
        _ => None,
    }
}

/// The value of a `policy.*` variable.
pub(crate) fn policy_value(policy: &Policy, name: &str) -> Result<Value, String> {
    let tightest = policy.send_limits.iter().min_by_key(|l| l.count);
    Ok(match name {
        "policy.code" => Value::from(match policy.alphabet {
            Alphabet::Numeric => "numeric",
            Alphabet::Alpha => "alpha",
            Alphabet::Alphanumeric => "alphanumeric",
        }),
        "policy.length" => Value::from(policy.length),
        "policy.ttl" => Value::from(crate::duration::format(policy.ttl)),
        "policy.ttl_s" => Value::from(policy.ttl.as_secs()),
        "policy.max_attempts" => Value::from(policy.max_attempts),
        "policy.send_limit" => match tightest {
            Some(limit) => Value::from(limit.count),
            None => return Err("the target's policy has no send limits".into()),
        },
        "policy.send_window" => match tightest {
            Some(limit) => Value::from(crate::duration::format(limit.window)),
            None => return Err("the target's policy has no send limits".into()),
        },
        "policy.cooldown" => {
            Value::from(crate::duration::format(policy.cooldown.unwrap_or_default()))
        }
        other => return Err(format!("no policy variable `{other}`")),
    })
}

/// A code of the same shape as `code` that is not `code` (its last
/// character moved on within its class), so a wrong code is never right
/// by chance.
pub(crate) fn wrong_code(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    match chars.last_mut() {
        Some(last) => {
            *last = match *last {
                '0'..='8' | 'a'..='y' | 'A'..='Y' => (*last as u8 + 1) as char,
                '9' => '0',
                'z' => 'a',
                'Z' => 'A',
                _ => '0',
            }
        }
        None => chars.push('0'),
    }
    chars.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_recipients_are_valid_for_their_dialect_and_distinct() {
        let mut seen = BTreeSet::new();
        for dialect in Dialect::ALL {
            for _ in 0..50 {
                let phone = fresh(dialect, FreshKind::Phone);
                let valid = match dialect {
                    Dialect::Valify => crate::dialect::egyptian_mobile(&phone).is_some(),
                    _ => crate::engine::identifier::Identifier::phone(&phone).is_ok(),
                };
                assert!(valid, "{dialect}: {phone}");
                assert!(seen.insert(phone));
            }
            let email = fresh(dialect, FreshKind::Email);
            assert!(crate::engine::identifier::Identifier::email(&email).is_ok());
        }
    }

    #[test]
    fn wrong_codes_keep_the_shape_and_differ() {
        for code in ["123456", "999999", "abcz", "A1Z9", "x"] {
            let wrong = wrong_code(code);
            assert_ne!(wrong, code);
            assert_eq!(wrong.len(), code.len());
            assert!(wrong
                .chars()
                .zip(code.chars())
                .all(|(w, c)| w.is_ascii_digit() == c.is_ascii_digit()));
        }
    }

    #[test]
    fn builtins_are_known() {
        for name in [
            "phone",
            "phone2",
            "phone12",
            "email3",
            "code",
            "policy.ttl",
            "target.name",
        ] {
            assert!(is_builtin(name), "{name}");
        }
        for name in ["phone1", "phone02", "phones", "policy.nope", "codes"] {
            assert!(!is_builtin(name), "{name}");
        }
    }
}
