//! Errors in the files otpbench reads — the config, target and scenario
//! files — as data: the file, a position, and what is wrong there
//! ([`FileError`]), rendered to text in one place, so the terminal, JUnit
//! and JSON reports all say the same thing.
//!
//! Files are YAML read with serde_yaml. Checks that need more than the
//! shape (a dialect, outcome or variable name) run inside `Deserialize`,
//! so serde_yaml attaches the position; [`FileError::from_yaml`] takes it
//! from there. This module must not know what the files mean.

use std::fmt;

/// A place in a file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// What is wrong with a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileErrorKind {
    /// It cannot be read (missing, a directory, not UTF-8).
    Unreadable(String),
    /// It is not YAML, or not the expected shape: an unknown key, a wrong
    /// type, an unknown name.
    Invalid(String),
}

/// A file that cannot be used, and where. (Boxed: it travels in
/// `Result`s, and is read once.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError(Box<Details>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Details {
    /// The file as it was named.
    file: String,
    position: Option<Position>,
    kind: FileErrorKind,
    /// The source line at the position, to show under the message.
    line: Option<String>,
    /// What to try, where there is an obvious fix.
    hint: Option<String>,
}

impl FileError {
    /// A file that cannot be read.
    pub fn unreadable(file: &str, why: impl fmt::Display) -> FileError {
        FileError(Box::new(Details {
            file: file.to_string(),
            position: None,
            kind: FileErrorKind::Unreadable(why.to_string()),
            line: None,
            hint: None,
        }))
    }

    /// A problem at `position` in `text`, the contents of `file`.
    pub fn at(
        file: &str,
        text: &str,
        position: Option<Position>,
        message: impl Into<String>,
    ) -> FileError {
        let line = position.and_then(|p| text.lines().nth(p.line.saturating_sub(1)));
        FileError(Box::new(Details {
            file: file.to_string(),
            position,
            kind: FileErrorKind::Invalid(message.into()),
            line: line.map(str::to_string),
            hint: None,
        }))
    }

    /// What serde_yaml said about `text`, at the position it gives, with
    /// the key put back into the path where serde_yaml leaves it out.
    ///
    /// serde_yaml places an error raised by a value (an unknown dialect, a
    /// bad duration) at the start of the mapping or sequence around it, not
    /// at the value; every such message here quotes the value (`` `x` `` or
    /// `"x"`), so the position is moved to where that value stands.
    pub fn from_yaml(file: &str, text: &str, error: &serde_yaml::Error) -> FileError {
        let raw = without_location(&error.to_string());
        let reported = error.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        });
        let position = reported.map(|p| refine(text, p, &raw).unwrap_or(p));
        let message = match position {
            Some(p) => with_key(&raw, text, p),
            None => raw,
        };
        let mut error = FileError::at(file, text, position, message);
        error.0.hint = hint_for(error.message());
        error
    }

    /// The same with the hint for a misspelt key its message names (a
    /// message of serde's, read without serde_yaml's position).
    pub fn with_typo_hint(mut self) -> FileError {
        if self.0.hint.is_none() {
            self.0.hint = hint_for(self.message());
        }
        self
    }

    /// The same with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> FileError {
        self.0.hint = Some(hint.into());
        self
    }

    /// The file as it was named.
    pub fn file(&self) -> &str {
        &self.0.file
    }

    /// Where in it, if known.
    pub fn position(&self) -> Option<Position> {
        self.0.position
    }

    /// What is wrong.
    pub fn kind(&self) -> &FileErrorKind {
        &self.0.kind
    }

    /// What to try, if there is an obvious fix.
    pub fn hint(&self) -> Option<&str> {
        self.0.hint.as_deref()
    }

    /// `file:line:col` (or just the file).
    pub fn place(&self) -> String {
        match self.0.position {
            Some(p) => format!("{}:{}:{}", self.0.file, p.line, p.column),
            None => self.0.file.clone(),
        }
    }

    /// The message alone.
    pub fn message(&self) -> &str {
        match &self.0.kind {
            FileErrorKind::Unreadable(why) | FileErrorKind::Invalid(why) => why,
        }
    }

    /// The compiler-style rendering: the place and message, the source
    /// line with a caret under the column, and the hint.
    pub fn render(&self) -> String {
        let mut text = format!("{}: {}", self.place(), self.message());
        if let (Some(line), Some(position)) = (&self.0.line, self.0.position) {
            let number = position.line.to_string();
            let pad = " ".repeat(number.len());
            let caret = " ".repeat(position.column.saturating_sub(1));
            text.push_str(&format!("\n{pad} |\n{number} | {line}\n{pad} | {caret}^"));
        }
        if let Some(hint) = &self.0.hint {
            text.push_str(&format!("\n  = hint: {hint}"));
        }
        text
    }
}

impl fmt::Display for FileError {
    /// One line: `file:line:col: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place(), self.message())
    }
}

impl std::error::Error for FileError {}

/// serde_yaml's message without the ` at line L column C` it writes in
/// (the position is kept apart).
fn without_location(message: &str) -> String {
    let Some(at) = message.find(" at line ") else {
        return message.to_string();
    };
    let rest = &message[at + " at line ".len()..];
    let end = rest
        .find(" column ")
        .map(|c| c + " column ".len())
        .and_then(|c| {
            let digits = rest[c..].chars().take_while(char::is_ascii_digit).count();
            (digits > 0).then_some(c + digits)
        });
    match end {
        Some(end) => format!("{}{}", &message[..at], &rest[end..]),
        None => message.to_string(),
    }
}

/// Where the value `message` quotes stands, at or after `from`: the first
/// place on a later column of the same line, or on a later line, where it
/// is written as a value (after `:`, `-`, `[` or `,`).
fn refine(text: &str, from: Position, message: &str) -> Option<Position> {
    let quoted = quoted_value(message)?;
    if quoted.is_empty() {
        return None;
    }
    for (index, line) in text.lines().enumerate().skip(from.line.saturating_sub(1)) {
        let start = if index + 1 == from.line {
            from.column.saturating_sub(1)
        } else {
            0
        };
        let mut search = start;
        while let Some(found) = line.get(search..).and_then(|rest| rest.find(quoted)) {
            let at = search + found;
            let before = line[..at].trim_end_matches(['"', '\'', ' ']);
            let end = at + quoted.len();
            let after = line[end..].trim_start_matches(['"', '\'']);
            let is_value = (before.is_empty()
                || before.ends_with(':')
                || before.ends_with('-')
                || before.ends_with('[')
                || before.ends_with(','))
                && (after.is_empty() || after.starts_with([',', ']', '}', ' ', '#']));
            if is_value {
                let column = line[..at].trim_end_matches(['"', '\'']).chars().count() + 1;
                return Some(Position {
                    line: index + 1,
                    column,
                });
            }
            search = end;
        }
    }
    None
}

/// The first value a message quotes: `` `x` `` or `"x"`.
fn quoted_value(message: &str) -> Option<&str> {
    let tick = message.find('`');
    let quote = message.find('"');
    let (open, close) = match (tick, quote) {
        (Some(t), Some(q)) if q < t => (q, '"'),
        (Some(t), _) => (t, '`'),
        (None, Some(q)) => (q, '"'),
        (None, None) => return None,
    };
    let rest = &message[open + 1..];
    rest.find(close).map(|end| &rest[..end])
}

/// The message with the key at `position` put into its path: serde_yaml
/// names the path of the mapping around a value, not the value's key
/// (`native.policy: expected …` for `native.policy.ttl`).
fn with_key(message: &str, text: &str, position: Position) -> String {
    let key = text
        .lines()
        .nth(position.line.saturating_sub(1))
        .and_then(|line| {
            let upto: String = line
                .chars()
                .take(position.column.saturating_sub(1))
                .collect();
            if upto.trim().is_empty() {
                // At a key: the key itself.
                return line
                    .split_once(':')
                    .map(|(key, _)| key.trim().trim_start_matches("- ").trim().to_string());
            }
            // At a value: the nearest key before it (`{ outcome: sen }`).
            let before = upto.trim_end().strip_suffix(':')?;
            let start = before
                .char_indices()
                .rev()
                .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
                .map_or(0, |(at, c)| at + c.len_utf8());
            Some(before[start..].to_string())
        })
        .filter(|key| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    let Some(key) = key else {
        return message.to_string();
    };
    let (path, rest) = match message.split_once(": ") {
        Some((path, rest))
            if path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c)) =>
        {
            (path, rest)
        }
        _ => ("", message),
    };
    if path == key || path.ends_with(&format!(".{key}")) || rest.contains(&format!("`{key}`")) {
        return message.to_string();
    }
    if path.is_empty() {
        format!("{key}: {rest}")
    } else {
        format!("{path}.{key}: {rest}")
    }
}

/// A hint for the common mistakes: a misspelt key.
fn hint_for(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    let (given, expected) = rest.split_once("`, expected ")?;
    let candidates: Vec<&str> = expected
        .trim_start_matches("one of ")
        .split([',', ' '])
        .map(|c| c.trim_matches('`'))
        .filter(|c| !c.is_empty() && *c != "or")
        .collect();
    let nearest = candidates
        .iter()
        .map(|c| (edit_distance(given, c), *c))
        .min()?;
    (nearest.0 <= 2 && nearest.0 < given.len()).then(|| format!("did you mean `{}`?", nearest.1))
}

/// Reads one of a closed set of names (a dialect, an outcome, a fault),
/// with an error that quotes the name and lists the choices — so serde
/// places it, and the reader sees what would do.
pub fn named<'de, D, T>(
    deserializer: D,
    what: &str,
    all: &[T],
    name_of: impl Fn(&T) -> &'static str,
) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Copy,
{
    use serde::Deserialize;
    let name = String::deserialize(deserializer)?;
    all.iter()
        .find(|item| name_of(item) == name)
        .copied()
        .ok_or_else(|| {
            let known: Vec<&str> = all.iter().map(&name_of).collect();
            serde::de::Error::custom(format!(
                "unknown {what} `{name}`, expected one of {}",
                known.join(", ")
            ))
        })
}

/// Levenshtein distance, for "did you mean".
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Step {
        send: Option<String>,
        expect: Option<String>,
    }

    #[test]
    fn a_misspelt_key_is_placed_and_a_fix_suggested() {
        let text = "steps:\n  - send: x\n    expext: y\n";
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct File {
            steps: Vec<Step>,
        }
        let error = serde_yaml::from_str::<File>(text).unwrap_err();
        let error = FileError::from_yaml("s.yaml", text, &error);
        assert_eq!(error.place(), "s.yaml:3:5");
        assert!(
            error.message().contains("unknown field `expext`"),
            "{error}"
        );
        assert_eq!(error.hint(), Some("did you mean `expect`?"));
        let rendered = error.render();
        assert!(
            rendered.contains("3 |     expext: y\n  |     ^"),
            "{rendered}"
        );
    }

    #[test]
    fn distances_count_edits() {
        assert_eq!(edit_distance("expext", "expect"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("outcome", "outcome"), 0);
    }
}
