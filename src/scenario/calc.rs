//! Arithmetic in scenario values, so a scenario can say what it means in
//! terms of the target's policy: `wait: "${policy.ttl} - 2s"`,
//! `repeat: "${policy.send_limit} - 1"`, `Retry-After: !lte
//! "${policy.send_window}"`.
//!
//! An expression is evaluated after its `${…}` variables were rendered
//! into text. It holds whole numbers (counts) and durations (`300ms`,
//! `5s`, `1h30m`, the compound forms of DESIGN.md §5), `+ - * /` with the
//! usual precedence, and parentheses. Counts and durations do not mix in
//! `+`/`-`; a duration times a count is a duration, a duration divided by
//! a count a duration (whole milliseconds, rounded down), a duration
//! divided by a duration a count. This module only computes: what a
//! value is for (a wait, a repeat count, a bound) is its caller's.

use std::fmt;
use std::time::Duration;

/// A computed value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quantity {
    Count(i64),
    /// Milliseconds.
    Duration(i64),
}

impl Quantity {
    /// As a number: a count as itself, a duration in seconds.
    pub(crate) fn as_f64(self) -> f64 {
        match self {
            Quantity::Count(n) => n as f64,
            Quantity::Duration(ms) => ms as f64 / 1000.0,
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Quantity::Count(n) => write!(f, "{n}"),
            Quantity::Duration(ms) if ms < 0 => write!(f, "-{}", compound(millis(ms))),
            Quantity::Duration(ms) => f.write_str(&compound(millis(ms))),
        }
    }
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.unsigned_abs())
}

/// A duration in the compound form it is read in: `1h1s`, `59m58s`,
/// `1s500ms`, `0ms`.
pub(crate) fn compound(duration: Duration) -> String {
    let mut ms = duration.as_millis();
    if ms == 0 {
        return "0ms".into();
    }
    let mut out = String::new();
    for (unit, size) in [
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ] {
        if ms >= size {
            out.push_str(&format!("{}{unit}", ms / size));
            ms %= size;
        }
    }
    out
}

/// Why an expression has no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CalcError {
    /// Not an expression: a stray character, a missing operand.
    Syntax { text: String, why: String },
    /// Operands that do not go together (`5s + 1`).
    Mixed { text: String, why: String },
    /// Division by zero, or a value too large.
    Range { text: String, why: String },
}

impl fmt::Display for CalcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (text, why) = match self {
            CalcError::Syntax { text, why }
            | CalcError::Mixed { text, why }
            | CalcError::Range { text, why } => (text, why),
        };
        write!(f, "`{text}`: {why}")
    }
}

impl std::error::Error for CalcError {}

/// Evaluates `text`.
pub(crate) fn evaluate(text: &str) -> Result<Quantity, CalcError> {
    let tokens = tokens(text)?;
    let mut parser = Parser {
        text,
        tokens: &tokens,
        at: 0,
    };
    let value = parser.sum()?;
    if parser.at != tokens.len() {
        return Err(parser.syntax(format!("unexpected `{}`", tokens[parser.at])));
    }
    Ok(value)
}

/// Evaluates `text` as a duration that is not negative.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    match evaluate(text).map_err(|e| e.to_string())? {
        Quantity::Duration(ms) if ms >= 0 => Ok(millis(ms)),
        Quantity::Duration(ms) => Err(format!(
            "`{text}` is {}, a negative duration",
            Quantity::Duration(ms)
        )),
        Quantity::Count(n) => Err(format!(
            "`{text}` is the number {n}, not a duration (give a unit: 5s, 300ms)"
        )),
    }
}

/// Evaluates `text` as a count that is not negative.
pub(crate) fn count(text: &str) -> Result<u64, String> {
    match evaluate(text).map_err(|e| e.to_string())? {
        Quantity::Count(n) if n >= 0 => Ok(n as u64),
        Quantity::Count(n) => Err(format!("`{text}` is {n}, a negative count")),
        Quantity::Duration(_) => Err(format!("`{text}` is a duration, not a whole number")),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Value(Quantity),
    Op(char),
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Value(value) => value.fmt(f),
            Token::Op(op) => write!(f, "{op}"),
        }
    }
}

fn tokens(text: &str) -> Result<Vec<Token>, CalcError> {
    let syntax = |why: String| CalcError::Syntax {
        text: text.to_string(),
        why,
    };
    let mut out = Vec::new();
    let mut rest = text.trim_start();
    while let Some(c) = rest.chars().next() {
        if "+-*/()".contains(c) {
            out.push(Token::Op(c));
            rest = rest[1..].trim_start();
            continue;
        }
        if c.is_ascii_alphabetic() && matches!(out.last(), Some(Token::Value(_))) {
            let word: String = rest
                .chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect();
            return Err(syntax(format!(
                "unexpected `{word}`: a unit follows its number without a space (5m, 4m59s, 1.5s)"
            )));
        }
        if !c.is_ascii_digit() {
            return Err(syntax(format!("unexpected `{c}`")));
        }
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        let value = literal(word).map_err(|why| {
            syntax(if word == text.trim() {
                why
            } else {
                format!("`{word}` is {why}")
            })
        })?;
        out.push(Token::Value(value));
        rest = rest[end..].trim_start();
    }
    Ok(out)
}

/// `12` (a count) or `1h30m`, `300ms`, `1.5s` (a duration, read by the
/// one duration parser, [`crate::duration`]).
fn literal(word: &str) -> Result<Quantity, String> {
    if word.bytes().all(|b| b.is_ascii_digit()) {
        return word
            .parse::<i64>()
            .map(Quantity::Count)
            .map_err(|_| "too large".to_string());
    }
    if word.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err("not a whole number (a duration needs a unit: 1.5s)".into());
    }
    crate::duration::millis(word)
        .map(|ms| Quantity::Duration(ms as i64))
        .map_err(|why| format!("not a duration: {why} (as in 300ms, 4m59s, 1h30m, 1.5s)"))
}

struct Parser<'a> {
    text: &'a str,
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn syntax(&self, why: String) -> CalcError {
        CalcError::Syntax {
            text: self.text.to_string(),
            why,
        }
    }

    fn next_op(&self, ops: &str) -> Option<char> {
        match self.tokens.get(self.at) {
            Some(Token::Op(op)) if ops.contains(*op) => Some(*op),
            _ => None,
        }
    }

    fn sum(&mut self) -> Result<Quantity, CalcError> {
        let mut value = self.product()?;
        while let Some(op) = self.next_op("+-") {
            self.at += 1;
            let right = self.product()?;
            value = self.apply(op, value, right)?;
        }
        Ok(value)
    }

    fn product(&mut self) -> Result<Quantity, CalcError> {
        let mut value = self.atom()?;
        while let Some(op) = self.next_op("*/") {
            self.at += 1;
            let right = self.atom()?;
            value = self.apply(op, value, right)?;
        }
        Ok(value)
    }

    fn atom(&mut self) -> Result<Quantity, CalcError> {
        match self.tokens.get(self.at) {
            Some(Token::Value(value)) => {
                self.at += 1;
                Ok(*value)
            }
            Some(Token::Op('(')) => {
                self.at += 1;
                let value = self.sum()?;
                if self.next_op(")").is_none() {
                    return Err(self.syntax("`(` without `)`".into()));
                }
                self.at += 1;
                Ok(value)
            }
            Some(other) => {
                Err(self.syntax(format!("expected a number or a duration before `{other}`")))
            }
            None => Err(self.syntax("expected a number or a duration at the end".into())),
        }
    }

    fn apply(&self, op: char, left: Quantity, right: Quantity) -> Result<Quantity, CalcError> {
        use Quantity::{Count, Duration as Dur};
        let mixed = || CalcError::Mixed {
            text: self.text.to_string(),
            why: format!("cannot compute {left} {op} {right}"),
        };
        let range = |why: &str| CalcError::Range {
            text: self.text.to_string(),
            why: why.to_string(),
        };
        let overflow = || range("the value is too large");
        let divide = |a: i64, b: i64| {
            if b == 0 {
                Err(range("division by zero"))
            } else {
                Ok(a.div_euclid(b))
            }
        };
        Ok(match (op, left, right) {
            ('+', Count(a), Count(b)) => Count(a.checked_add(b).ok_or_else(overflow)?),
            ('+', Dur(a), Dur(b)) => Dur(a.checked_add(b).ok_or_else(overflow)?),
            ('-', Count(a), Count(b)) => Count(a.checked_sub(b).ok_or_else(overflow)?),
            ('-', Dur(a), Dur(b)) => Dur(a.checked_sub(b).ok_or_else(overflow)?),
            ('*', Count(a), Count(b)) => Count(a.checked_mul(b).ok_or_else(overflow)?),
            ('*', Dur(a), Count(b)) | ('*', Count(b), Dur(a)) => {
                Dur(a.checked_mul(b).ok_or_else(overflow)?)
            }
            ('/', Count(a), Count(b)) => Count(divide(a, b)?),
            ('/', Dur(a), Count(b)) => Dur(divide(a, b)?),
            ('/', Dur(a), Dur(b)) => Count(divide(a, b)?),
            _ => return Err(mixed()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_counts_compute_with_precedence() {
        assert_eq!(evaluate("5m - 2s"), Ok(Quantity::Duration(298_000)));
        assert_eq!(evaluate("1h30m"), Ok(Quantity::Duration(5_400_000)));
        assert_eq!(evaluate("4m59s + 1s"), Ok(Quantity::Duration(300_000)));
        assert_eq!(evaluate("5 * 2 + 5"), Ok(Quantity::Count(15)));
        assert_eq!(
            evaluate("1d - 10 * 721s - 2s"),
            Ok(Quantity::Duration(79_188_000))
        );
        assert_eq!(
            evaluate("(1h - 0ms) / 2"),
            Ok(Quantity::Duration(1_800_000))
        );
        assert_eq!(evaluate("1h / 5m"), Ok(Quantity::Count(12)));
        assert_eq!(evaluate(" 7 "), Ok(Quantity::Count(7)));
        assert_eq!(evaluate("1.5s + 500ms"), Ok(Quantity::Duration(2_000)));
        assert_eq!(duration("5m + 1s"), Ok(Duration::from_secs(301)));
        assert_eq!(count("5 - 1"), Ok(4));
        assert_eq!(Quantity::Duration(1500).as_f64(), 1.5);
        assert_eq!(compound(Duration::from_millis(3_601_000)), "1h1s");
        assert_eq!(compound(Duration::from_millis(1_500)), "1s500ms");
        assert_eq!(Quantity::Duration(-2_000).to_string(), "-2s");
        for text in ["1d2h3m4s5ms", "59m58s", "0ms"] {
            let Ok(Quantity::Duration(ms)) = evaluate(text) else {
                panic!("{text}")
            };
            assert_eq!(compound(millis(ms)), text);
        }
    }

    #[test]
    fn what_cannot_be_computed_says_why() {
        for (text, says) in [
            ("5s + 1", "cannot compute 5s + 1"),
            ("5w", "not a duration"),
            (
                "5 minutes",
                "unexpected `minutes`: a unit follows its number",
            ),
            ("1.5", "not a whole number"),
            ("99999999999999d", "longer than 100 years"),
            ("5 +", "at the end"),
            ("(5", "without `)`"),
            ("5 / 0", "division by zero"),
            ("five", "unexpected `f`"),
            ("2 2", "unexpected `2`"),
        ] {
            let error = evaluate(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
        assert!(duration("1s - 2s").unwrap_err().contains("negative"));
        assert!(duration("3").unwrap_err().contains("not a duration"));
        assert!(count("2 - 3").unwrap_err().contains("negative"));
        assert!(count("3s").unwrap_err().contains("not a whole number"));
    }
}
