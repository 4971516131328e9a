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

/// A file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file as it was named.
    pub file: String,
    pub position: Option<Position>,
    pub kind: FileErrorKind,
    /// The source line at the position, to show under the message.
    pub line: Option<String>,
    /// What to try, where there is an obvious fix.
    pub hint: Option<String>,
}

impl FileError {
    /// A file that cannot be read.
    pub fn unreadable(file: &str, why: impl fmt::Display) -> FileError {
        FileError {
            file: file.to_string(),
            position: None,
            kind: FileErrorKind::Unreadable(why.to_string()),
            line: None,
            hint: None,
        }
    }

    /// A problem at `position` in `text`, the contents of `file`.
    pub fn at(
        file: &str,
        text: &str,
        position: Option<Position>,
        message: impl Into<String>,
    ) -> FileError {
        let line = position.and_then(|p| text.lines().nth(p.line.saturating_sub(1)));
        FileError {
            file: file.to_string(),
            position,
            kind: FileErrorKind::Invalid(message.into()),
            line: line.map(str::to_string),
            hint: None,
        }
    }

    /// What serde_yaml said about `text`, at the position it gives, with
    /// the key put back into the path where serde_yaml leaves it out.
    pub fn from_yaml(file: &str, text: &str, error: &serde_yaml::Error) -> FileError {
        let position = error.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        });
        let message = describe(error, text);
        let hint = hint_for(&message);
        FileError {
            hint,
            ..FileError::at(file, text, position, message)
        }
    }

    /// The same with a hint.
    pub fn with_hint(mut self, hint: impl Into<String>) -> FileError {
        self.hint = Some(hint.into());
        self
    }

    /// `file:line:col` (or just the file).
    pub fn place(&self) -> String {
        match self.position {
            Some(p) => format!("{}:{}:{}", self.file, p.line, p.column),
            None => self.file.clone(),
        }
    }

    /// The message alone.
    pub fn message(&self) -> &str {
        match &self.kind {
            FileErrorKind::Unreadable(why) | FileErrorKind::Invalid(why) => why,
        }
    }

    /// The compiler-style rendering: the place and message, the source
    /// line with a caret under the column, and the hint.
    pub fn render(&self) -> String {
        let mut text = format!("{}: {}", self.place(), self.message());
        if let (Some(line), Some(position)) = (&self.line, self.position) {
            let number = position.line.to_string();
            let pad = " ".repeat(number.len());
            let caret = " ".repeat(position.column.saturating_sub(1));
            text.push_str(&format!(
                "\n{pad} |\n{number} | {line}\n{pad} | {caret}^"
            ));
        }
        if let Some(hint) = &self.hint {
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

/// serde_yaml's message without its ` at line L column C` suffix (the
/// position is kept apart), with the key put back into the path: a failed
/// value check is reported at the key's position but with the *parent's*
/// path (`native.policy: expected …`), and the key is right there in the
/// source.
fn describe(error: &serde_yaml::Error, text: &str) -> String {
    let message = error.to_string();
    let message = match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message,
    };
    let Some(location) = error.location() else {
        return message;
    };
    let key = text
        .lines()
        .nth(location.line().saturating_sub(1))
        .and_then(|line| line.get(location.column().saturating_sub(1)..))
        .and_then(|rest| rest.split_once(':'))
        .map(|(key, _)| key.trim())
        .filter(|key| {
            !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    let Some(key) = key else {
        return message;
    };
    let (path, rest) = match message.split_once(": ") {
        Some((path, rest))
            if path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.[]".contains(c)) =>
        {
            (path, rest)
        }
        _ => ("", message.as_str()),
    };
    if path == key || path.ends_with(&format!(".{key}")) || rest.contains(&format!("`{key}`")) {
        return message;
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

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
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
        assert!(error.message().contains("unknown field `expext`"), "{error}");
        assert_eq!(error.hint.as_deref(), Some("did you mean `expect`?"));
        let rendered = error.render();
        assert!(rendered.contains("3 |     expext: y\n  |     ^"), "{rendered}");
    }

    #[test]
    fn distances_count_edits() {
        assert_eq!(edit_distance("expext", "expect"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("outcome", "outcome"), 0);
    }
}
