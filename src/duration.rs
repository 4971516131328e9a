//! Durations as people write them in flags and files — the one parser
//! every duration otpbench reads goes through (the config file, target,
//! scenario and workload files, the CLI): a number and a unit (`300ms`,
//! `5s`, `5m`, `1h`, `1d`), several of them in decreasing order
//! (`4m59s`, `1h30m`, `1d2h`), and a decimal fraction where it comes to
//! whole milliseconds (`1.5s`, `0.25h`). No sign, no spaces inside, at
//! most 100 years.

use std::fmt;
use std::time::Duration;

/// The longest duration read: 100 years of 365 days.
pub const MAX: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Why a duration could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    input: String,
    why: &'static str,
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid duration {:?}: {}; write a number and a unit (ms, s, m, h, d), \
             several in decreasing order or with a fraction: 300ms, 5s, 4m59s, 1h30m, 1.5s",
            self.input, self.why
        )
    }
}

impl std::error::Error for DurationError {}

const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// Reads a duration: `300ms`, `5s`, `4m59s`, `1h30m`, `1.5s`, `1d`.
pub fn parse(input: &str) -> Result<Duration, DurationError> {
    millis(input.trim())
        .map(Duration::from_millis)
        .map_err(|why| DurationError {
            input: input.to_string(),
            why,
        })
}

/// The milliseconds `text` (already trimmed) stands for, or what is wrong.
pub(crate) fn millis(text: &str) -> Result<u64, &'static str> {
    if text.is_empty() {
        return Err("it is empty");
    }
    let mut total: u64 = 0;
    let mut rest = text;
    // Units come in decreasing order, each at most once.
    let mut previous: Option<usize> = None;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_end);
        if number.is_empty() {
            return Err(if after.starts_with('-') || after.starts_with('+') {
                "a duration has no sign"
            } else {
                "a unit without a number before it"
            });
        }
        let unit_end = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_end);
        if unit.is_empty() {
            return Err(if after.is_empty() {
                "a number without a unit"
            } else {
                "unexpected characters (no spaces or signs inside a duration)"
            });
        }
        let Some(place) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err("unknown unit (ms, s, m, h or d)");
        };
        if previous.is_some_and(|p| place <= p) {
            return Err("units go from the largest to the smallest, each once");
        }
        previous = Some(place);
        let part = scaled(number, UNITS[place].1)?;
        total = total
            .checked_add(part)
            .ok_or("it is longer than 100 years")?;
        rest = after;
    }
    if total > MAX.as_millis() as u64 {
        return Err("it is longer than 100 years");
    }
    Ok(total)
}

/// `number` (digits, at most one `.`) times `unit` milliseconds, exactly.
fn scaled(number: &str, unit: u64) -> Result<u64, &'static str> {
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    if fraction.contains('.') || (whole.is_empty() && fraction.is_empty()) {
        return Err("a malformed number");
    }
    if number.contains('.') && (whole.is_empty() || fraction.is_empty()) {
        return Err("a malformed number (write 0.5s, not .5s or 5.s)");
    }
    let too_long = "it is longer than 100 years";
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| too_long)?
    };
    let mut ms = whole.checked_mul(unit).ok_or(too_long)?;
    if !fraction.is_empty() {
        if fraction.len() > 9 {
            return Err("a fraction finer than a millisecond");
        }
        let digits: u64 = fraction.parse().map_err(|_| "a malformed number")?;
        let scale = 10u64.pow(fraction.len() as u32);
        let part = digits * unit;
        if part % scale != 0 {
            return Err("a fraction finer than a millisecond");
        }
        ms = ms.checked_add(part / scale).ok_or(too_long)?;
    }
    Ok(ms)
}

/// Writes a duration in the largest unit that divides it exactly.
pub fn format(duration: Duration) -> String {
    let ms = duration.as_millis() as u64;
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
    ] {
        if ms > 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_documented_unit() {
        assert_eq!(parse("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
    }

    #[test]
    fn reads_compound_forms_and_fractions() {
        assert_eq!(parse("4m59s"), Ok(Duration::from_secs(299)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1d2h3m4s5ms"), Ok(Duration::from_millis(93_784_005)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("0.25h"), Ok(Duration::from_secs(900)));
        assert_eq!(parse("1s500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse(" 2m "), Ok(Duration::from_secs(120)));
        assert_eq!(parse("0ms"), Ok(Duration::ZERO));
        assert_eq!(parse("36500d"), Ok(MAX));
    }

    #[test]
    fn rejects_what_is_not_a_duration_saying_why() {
        for (bad, why) in [
            ("", "empty"),
            ("5", "without a unit"),
            ("s", "without a number"),
            ("5 sec", "unexpected characters"),
            ("5 minutes", "unexpected characters"),
            ("-5s", "no sign"),
            ("5w", "unknown unit"),
            ("1s1m", "largest to the smallest"),
            ("1m1m", "largest to the smallest"),
            ("1.5ms", "finer than a millisecond"),
            (".5s", "malformed"),
            ("1..5s", "malformed"),
            ("99999999999999d", "longer than 100 years"),
            ("99999999999999999999d", "longer than 100 years"),
            ("36501d", "longer than 100 years"),
        ] {
            let error = parse(bad).unwrap_err().to_string();
            assert!(error.contains(why), "{bad}: {error}");
            assert!(error.contains("4m59s"), "{bad}: {error}");
        }
    }

    #[test]
    fn formats_in_the_largest_exact_unit() {
        assert_eq!(format(Duration::from_secs(3600)), "1h");
        assert_eq!(format(Duration::from_secs(90)), "90s");
        assert_eq!(format(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format(Duration::ZERO), "0ms");
    }
}
