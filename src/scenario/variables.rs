//! The variables scenarios read: what is built in, fresh identifiers for
//! each dialect, and the policy a target promises.
//!
//! Built in:
//! - `${phone}`, `${phone2}`, … and `${email}`, `${email2}`, … — fresh
//!   recipients valid for the dialect (REES46 and Nomado write phones
//!   without `+`, Valify writes national Egyptian mobiles), the same
//!   within a case, never reused across cases or runs; the same number in
//!   other forms: `${phone.e164}` (`+14155550100`), `${phone.digits}`
//!   (`14155550100`), `${phone.idd}` (`0014155550100`),
//!   `${phone.spaced}` (`+1 415 555 0100`), `${phone.dashed}`
//!   (`+1-415-555-0100`), `${phone.national}` (Valify's `01…`); and
//!   `${email.upper}`;
//! - `${code}` — the code of the last send (from the response or the
//!   inbox, by the target's code source); `${wrong_code}` — a code of the
//!   same shape that is surely not it; `${code.upper}`, `${code.lower}`,
//!   `${code.truncated}` (all but its last character);
//!   `${id}` — the last send's handle; `${to}` — its recipient;
//! - `${policy.code}`, `${policy.length}`, `${policy.ttl}` (a duration),
//!   `${policy.ttl_s}` (seconds), `${policy.max_attempts}`,
//!   `${policy.send_limit}` and `${policy.send_window}` (the tightest
//!   limit), `${policy.cooldown}`, `${policy.send_gap}` (the wait that
//!   clears the cooldown: a second past it, `0ms` without one),
//!   `${policy.burst}` (sends accepted at one instant), and every window, shortest first:
//!   `${policy.send_limits.N.count}`, `.window` and `.pace` (the spacing
//!   that fills window N before a shorter window or the cooldown refuses);
//!   a policy that has no such value makes the case a skip;
//! - `${target.name}`, `${target.dialect}`, and the target's credentials
//!   `${auth.bearer}`, `${auth.shop_id}`, `${auth.shop_secret}`,
//!   `${auth.widget_id}`, `${auth.bundle_key}`, `${auth.basic}`,
//!   `${auth.api_key}` (for raw requests that carry them in the body).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use serde_json::Value;

/// `${wrong_code}` is the dialect's rule (`check` reads it from here).
use crate::dialect::Dialect;
use crate::engine::code::Alphabet;
use crate::engine::policy::{Policy, SendLimit};
use std::time::Duration;

/// For messages: what is built in.
pub const BUILTIN_SUMMARY: &str = "${phone}, ${phone2}…, ${email}, ${email2}…, ${code}, \
     ${wrong_code}, ${id}, ${to}, ${policy.*}, ${target.*} and ${auth.*}";

const POLICY: [&str; 10] = [
    "policy.code",
    "policy.length",
    "policy.ttl",
    "policy.ttl_s",
    "policy.max_attempts",
    "policy.send_limit",
    "policy.send_window",
    "policy.cooldown",
    "policy.burst",
    "policy.send_gap",
];

const AUTH: [&str; 7] = [
    "auth.bearer",
    "auth.shop_id",
    "auth.shop_secret",
    "auth.widget_id",
    "auth.bundle_key",
    "auth.basic",
    "auth.api_key",
];

/// The forms a fresh phone number can be written in (`${phone.<form>}`).
const PHONE_FORMS: [&str; 6] = ["e164", "digits", "idd", "spaced", "dashed", "national"];

/// Whether `name` is built in.
pub fn is_builtin(name: &str) -> bool {
    matches!(
        name,
        "code"
            | "wrong_code"
            | "code.upper"
            | "code.lower"
            | "code.truncated"
            | "id"
            | "to"
            | "target.name"
            | "target.dialect"
    ) || POLICY.contains(&name)
        || AUTH.contains(&name)
        || window_variable(name).is_some()
        || fresh_kind(name).is_some()
}

/// Whether `name` is the last send's code in some form (`${code}`,
/// `${wrong_code}`, `${code.upper}`…): reading it needs a way to codes.
pub(crate) fn is_last_code(name: &str) -> bool {
    matches!(
        name,
        "code" | "wrong_code" | "code.upper" | "code.lower" | "code.truncated"
    )
}

/// Whether `name` may be given to a send step's `as` (it would shadow
/// nothing built in).
pub(crate) fn is_send_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !matches!(
            name,
            "code" | "wrong_code" | "id" | "to" | "policy" | "target" | "auth" | "var" | "env"
        )
        && fresh_kind(name).is_none()
}

/// `phone`/`phone7` → (Phone, 1)/(Phone, 7), `phone7.spaced` → the same
/// recipient in another form; likewise `email` (and `email.upper`).
pub(crate) fn fresh_kind(name: &str) -> Option<(FreshKind, u32)> {
    let (base, form) = match name.split_once('.') {
        Some((base, form)) => (base, Some(form)),
        None => (name, None),
    };
    for (prefix, kind) in [("phone", FreshKind::Phone), ("email", FreshKind::Email)] {
        let known_form = match (kind, form) {
            (_, None) => true,
            (FreshKind::Phone, Some(form)) => PHONE_FORMS.contains(&form),
            (FreshKind::Email, Some(form)) => form == "upper",
        };
        if !known_form {
            continue;
        }
        if let Some(rest) = base.strip_prefix(prefix) {
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

/// `phone2.spaced` → `Some("spaced")`; `phone2` → `None`.
pub(crate) fn fresh_form(name: &str) -> Option<&str> {
    name.split_once('.').map(|(_, form)| form)
}

/// The fresh recipient `drawn` (as [`fresh`] wrote it for `dialect`) in
/// `form`.
pub(crate) fn written_as(dialect: Dialect, drawn: &str, form: &str) -> String {
    if form == "upper" {
        return drawn.to_uppercase();
    }
    let digits: String = drawn.chars().filter(char::is_ascii_digit).collect();
    // Fresh numbers are Egyptian mobiles (Valify: 0 + 10 digits) or North
    // American numbers (1 + 10 digits).
    let (country, national) = match dialect {
        Dialect::Valify => ("20", digits.trim_start_matches('0').to_string()),
        _ => ("1", digits[1..].to_string()),
    };
    let groups: Vec<&str> = match dialect {
        // 10 1234 5678
        Dialect::Valify => vec![&national[..2], &national[2..6], &national[6..]],
        // 415 555 0100
        _ => vec![&national[..3], &national[3..6], &national[6..]],
    };
    match form {
        "e164" => format!("+{country}{national}"),
        "digits" => format!("{country}{national}"),
        "idd" => format!("00{country}{national}"),
        "spaced" => format!("+{country} {}", groups.join(" ")),
        "dashed" => format!("+{country}-{}", groups.join("-")),
        "national" if dialect == Dialect::Valify => format!("0{national}"),
        "national" => national,
        _ => drawn.to_string(),
    }
}

/// `policy.send_limits.2.pace` → (2, "pace").
fn window_variable(name: &str) -> Option<(usize, &str)> {
    let rest = name.strip_prefix("policy.send_limits.")?;
    let (index, field) = rest.split_once('.')?;
    let index: usize = index.parse().ok().filter(|n| *n >= 1)?;
    matches!(field, "count" | "window" | "pace").then_some((index, field))
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
        .map(|known| (crate::names::edit_distance(name, known), known))
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
    // The form is the dialect's rule (`dialect::phone`, `dialect::email`).
    match kind {
        FreshKind::Email => crate::dialect::email(n),
        FreshKind::Phone => crate::dialect::phone(dialect, n),
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
        auth if auth.starts_with("auth.") => {
            let credentials = &spec.credentials;
            let value = match auth {
                "auth.bearer" => &credentials.bearer,
                "auth.shop_id" => &credentials.shop_id,
                "auth.shop_secret" => &credentials.shop_secret,
                "auth.widget_id" => &credentials.widget_id,
                "auth.bundle_key" => &credentials.bundle_key,
                "auth.basic" => &credentials.basic,
                "auth.api_key" => &credentials.api_key,
                other => return Some(Err(format!("no credential `{other}`"))),
            };
            Some(Ok(Value::from(value.clone())))
        }
        _ => None,
    }
}

/// The policy's send limits, shortest window first.
fn windows(policy: &Policy) -> Vec<SendLimit> {
    let mut windows = policy.send_limits.clone();
    windows.sort_by_key(|limit| (limit.window, limit.count));
    windows
}

/// How far apart sends must be for window `index` (0-based, shortest
/// first) to fill before the cooldown or a shorter window refuses one:
/// past the cooldown, and slower than every shorter window's rate (its
/// length over its count, in whole seconds, plus a second). `Err` when
/// the window cannot fill that way within its own length.
fn pace(policy: &Policy, windows: &[SendLimit], index: usize) -> Result<Duration, String> {
    const MARGIN: Duration = Duration::from_secs(1);
    let mut gap = policy.cooldown.map_or(Duration::ZERO, |c| c + MARGIN);
    for shorter in &windows[..index] {
        let rate_s = shorter.window.as_secs().div_ceil(u64::from(shorter.count));
        gap = gap.max(Duration::from_secs(rate_s) + MARGIN);
    }
    let window = windows[index];
    // Room for the scenarios' own margins (a wait of 2 s short of the
    // oldest send leaving the window).
    let needed = gap * window.count + 2 * MARGIN;
    if !gap.is_zero() && needed > window.window {
        return Err(format!(
            "the policy's send limit {window} cannot fill: {} sends {} apart (to keep {}) \
             take longer than its window",
            window.count,
            crate::duration::format(gap),
            if index == 0 {
                "the cooldown from refusing first".to_string()
            } else {
                "the cooldown and shorter windows from refusing first".to_string()
            }
        ));
    }
    Ok(gap)
}

/// The value of a `policy.*` variable.
pub(crate) fn policy_value(policy: &Policy, name: &str) -> Result<Value, String> {
    let tightest = policy.send_limits.iter().min_by_key(|l| l.count);
    if let Some((index, field)) = window_variable(name) {
        let windows = windows(policy);
        let ordinal = match index {
            1 => "first".to_string(),
            2 => "second".to_string(),
            3 => "third".to_string(),
            n => format!("{n}th"),
        };
        let Some(window) = windows.get(index - 1) else {
            return Err(format!(
                "the target's policy has no {ordinal} send limit ({} in all)",
                windows.len()
            ));
        };
        return Ok(match field {
            "count" => Value::from(window.count),
            "window" => Value::from(crate::duration::format(window.window)),
            _ => Value::from(crate::duration::format(pace(policy, &windows, index - 1)?)),
        });
    }
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
        "policy.cooldown" => match policy.cooldown {
            Some(cooldown) => Value::from(crate::duration::format(cooldown)),
            None => return Err("the target's policy has no cooldown".into()),
        },
        "policy.send_gap" => Value::from(crate::duration::format(
            policy
                .cooldown
                .map_or(Duration::ZERO, |c| c + Duration::from_secs(1)),
        )),
        "policy.burst" => match (policy.cooldown, tightest) {
            (Some(_), _) => Value::from(1),
            (None, Some(limit)) => Value::from(limit.count),
            (None, None) => {
                return Err("the target's policy has no send limits and no cooldown".into())
            }
        },
        other => return Err(format!("no policy variable `{other}`")),
    })
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
            let wrong = crate::dialect::wrong_code(code);
            assert_ne!(wrong, code);
            assert_eq!(wrong.len(), code.len());
            assert!(wrong
                .chars()
                .zip(code.chars())
                .all(|(w, c)| w.is_ascii_digit() == c.is_ascii_digit()));
        }
    }

    fn policy(limits: &[&str], cooldown: Option<u64>) -> Policy {
        Policy {
            send_limits: limits.iter().map(|l| l.parse().unwrap()).collect(),
            cooldown: cooldown.map(Duration::from_secs),
            ..Policy::default()
        }
    }

    fn value(policy: &Policy, name: &str) -> Result<Value, String> {
        policy_value(policy, name)
    }

    #[test]
    fn windows_are_read_shortest_first_with_the_pace_that_fills_each() {
        // LoyaltyDog: 10 per day behind 5 per hour.
        let loyaltydog = policy(&["10/1d", "5/1h"], None);
        assert_eq!(
            value(&loyaltydog, "policy.send_limits.1.count"),
            Ok(5.into())
        );
        assert_eq!(
            value(&loyaltydog, "policy.send_limits.1.window"),
            Ok("1h".into())
        );
        assert_eq!(
            value(&loyaltydog, "policy.send_limits.1.pace"),
            Ok("0ms".into())
        );
        assert_eq!(
            value(&loyaltydog, "policy.send_limits.2.count"),
            Ok(10.into())
        );
        // Slower than 5 an hour: 720 s apart, and a second more.
        assert_eq!(
            value(&loyaltydog, "policy.send_limits.2.pace"),
            Ok("721s".into())
        );
        assert_eq!(value(&loyaltydog, "policy.burst"), Ok(5.into()));
        assert!(value(&loyaltydog, "policy.send_limits.3.count")
            .unwrap_err()
            .contains("no third send limit (2 in all)"));
        assert_eq!(value(&loyaltydog, "policy.send_gap"), Ok("0ms".into()));
        assert!(value(&loyaltydog, "policy.cooldown")
            .unwrap_err()
            .contains("no cooldown"));

        // A cooldown paces every window and lets one send through at once.
        let cooled = policy(&["3/10m", "6/1h"], Some(30));
        assert_eq!(
            value(&cooled, "policy.send_limits.1.pace"),
            Ok("31s".into())
        );
        assert_eq!(
            value(&cooled, "policy.send_limits.2.pace"),
            Ok("201s".into())
        );
        assert_eq!(value(&cooled, "policy.burst"), Ok(1.into()));
        assert_eq!(value(&cooled, "policy.send_gap"), Ok("31s".into()));
        assert_eq!(value(&cooled, "policy.cooldown"), Ok("30s".into()));

        // A longer window the shorter one never lets fill cannot be tested
        // at its boundary: 2 a minute never make 200 in two minutes.
        let unfillable = policy(&["2/1m", "200/2m"], None);
        assert!(value(&unfillable, "policy.send_limits.2.pace")
            .unwrap_err()
            .contains("cannot fill"));
        let none = policy(&[], None);
        assert!(value(&none, "policy.burst").is_err());
        assert!(value(&none, "policy.send_limits.1.count").is_err());
    }

    #[test]
    fn fresh_phones_are_written_in_every_form() {
        let nanp = "+14155550123";
        let forms: Vec<String> = PHONE_FORMS
            .iter()
            .map(|form| written_as(Dialect::Native, nanp, form))
            .collect();
        assert_eq!(
            forms,
            [
                "+14155550123",
                "14155550123",
                "0014155550123",
                "+1 415 555 0123",
                "+1-415-555-0123",
                "4155550123"
            ]
        );
        assert_eq!(written_as(Dialect::Rees46, "14155550123", "e164"), nanp);
        let egypt: Vec<String> = PHONE_FORMS
            .iter()
            .map(|form| written_as(Dialect::Valify, "01012345678", form))
            .collect();
        assert_eq!(
            egypt,
            [
                "+201012345678",
                "201012345678",
                "00201012345678",
                "+20 10 1234 5678",
                "+20-10-1234-5678",
                "01012345678"
            ]
        );
        assert_eq!(
            written_as(Dialect::Native, "otp-1@example.com", "upper"),
            "OTP-1@EXAMPLE.COM"
        );
        // Every form of a fresh number is the same number.
        for dialect in Dialect::ALL {
            let drawn = fresh(dialect, FreshKind::Phone);
            let e164 = written_as(dialect, &drawn, "e164");
            for form in &PHONE_FORMS[..5] {
                let written = written_as(dialect, &drawn, form);
                let parsed = crate::engine::identifier::Identifier::phone(&written)
                    .unwrap_or_else(|e| panic!("{dialect} {written}: {e}"));
                assert_eq!(parsed.as_str(), e164, "{dialect} {form}");
            }
        }
    }

    #[test]
    fn send_names_shadow_nothing_built_in() {
        for good in ["first", "a", "login_2", "_x"] {
            assert!(is_send_name(good), "{good}");
        }
        for bad in [
            "phone", "phone2", "email", "code", "policy", "auth", "First", "a.b", "", "2a",
        ] {
            assert!(!is_send_name(bad), "{bad}");
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
            "phone.spaced",
            "phone3.idd",
            "email2.upper",
            "code.lower",
            "code.truncated",
            "auth.shop_secret",
            "policy.send_limits.2.pace",
            "policy.send_gap",
        ] {
            assert!(is_builtin(name), "{name}");
        }
        for name in [
            "phone1",
            "phone02",
            "phones",
            "policy.nope",
            "codes",
            "phone.upper",
            "email.spaced",
            "policy.send_limits.0.count",
            "policy.send_limits.1.size",
            "auth.password",
        ] {
            assert!(!is_builtin(name), "{name}");
        }
    }
}
