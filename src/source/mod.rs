//! Errors in the files otpbench reads — the config, target, scenario and
//! workload files — as data: the file, a position, and what is wrong there
//! ([`FileError`]), rendered to text in one place ([`snippet`]), so the
//! terminal, JUnit and JSON reports all say the same thing.
//!
//! Files are YAML read with serde_yaml. Checks that need more than the
//! shape (a dialect, outcome or variable name) run inside `Deserialize`,
//! so serde_yaml attaches the position; [`FileError::from_yaml`] takes it
//! from there. Checks made after parsing place their error through the
//! file's [`SourceMap`] (key path → position, [`FileError::at_key`]).
//! This module must not know what the files mean.
//!
//! Every loader reads its file through [`read`], which bounds what the
//! YAML parser is given (see [`read`]'s module).
//!
//! Layout: [`map`] the source map, [`snippet`] the one renderer of a
//! place in a file, `read` the bounded reader, [`xml`] the XML escaper
//! the JUnit writers share.

use std::fmt;

pub mod map;
mod read;
pub mod snippet;
pub mod xml;

pub use map::SourceMap;
pub use read::{read, MAX_DEPTH, MAX_FILE_BYTES};
pub use snippet::render_at;

/// A place in a file, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A file's text and its [`SourceMap`], made once when it is read and
/// kept by what was read from it (a scenario), so a problem found later
/// is placed and shown without reading the file again.
#[derive(Debug)]
pub struct Source {
    /// The file as it was named.
    pub file: String,
    /// The text as written (before `${var.…}` values were put in, so a
    /// snippet shows no secret).
    pub text: String,
    /// The map of the text that was parsed.
    pub map: SourceMap,
}

impl Source {
    /// `text` (as written) of `file`, mapped as `parsed` (the text given
    /// to the parser, with variables' values in).
    pub fn new(file: &str, text: &str, parsed: &str) -> Source {
        Source {
            file: file.to_string(),
            text: text.to_string(),
            map: SourceMap::of(parsed),
        }
    }

    /// The source line at 1-based `line`.
    pub fn line(&self, line: usize) -> Option<&str> {
        self.text.lines().nth(line.saturating_sub(1))
    }
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

    /// A problem found after parsing `text` (the contents of `file`,
    /// single-document), placed at the value of `path` (`policy.ttl`,
    /// `steps[2].send`) through the file's map — or at its key when the
    /// value is on a later line, or nowhere when the path is not written.
    pub fn at_key(file: &str, text: &str, path: &str, message: impl Into<String>) -> FileError {
        let map = SourceMap::of(text);
        FileError::at(file, text, map.value(0, path), message)
    }

    /// What serde_yaml said about `text`, at the position it gives, with
    /// the key put back into the path where serde_yaml leaves it out.
    ///
    /// serde_yaml places an error raised by a value (an unknown dialect, a
    /// bad duration) at the start of the mapping or sequence around it, not
    /// at the value; every such message here quotes the value (`` `x` `` or
    /// `"x"`), so the position is moved to where the map says that value
    /// stands.
    pub fn from_yaml(file: &str, text: &str, error: &serde_yaml::Error) -> FileError {
        FileError::from_yaml_mapped(file, text, &SourceMap::of(text), error)
    }

    /// [`FileError::from_yaml`] with the file's map already made.
    pub fn from_yaml_mapped(
        file: &str,
        text: &str,
        map: &SourceMap,
        error: &serde_yaml::Error,
    ) -> FileError {
        let raw = without_location(&error.to_string());
        let reported = error.location().map(|l| Position {
            line: l.line(),
            column: l.column(),
        });
        // Where the value the message quotes stands; else, for a check
        // of a whole mapping that names one of its keys (`channels`), that
        // key's value.
        let position = reported.map(|p| {
            quoted_value(&raw)
                .filter(|q| !q.is_empty())
                .and_then(|q| map.scalar_after(p, q).or_else(|| map.sibling(p, q)))
                .unwrap_or(p)
        });
        let message = match position {
            Some(p) => with_key(&raw, map, p),
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
        snippet::place(&self.0.file, self.0.position)
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
        snippet::render_line(
            &self.0.file,
            self.0.line.as_deref(),
            self.0.position,
            self.message(),
            self.hint(),
        )
    }

    /// The error as JSON, for `--json` reports: file, line, column,
    /// message, hint, and the rendering.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "file": self.file(),
            "line": self.position().map(|p| p.line),
            "column": self.position().map(|p| p.column),
            "message": self.message(),
            "hint": self.hint(),
            "rendered": self.render(),
        })
    }
}

impl fmt::Display for FileError {
    /// One line: `file:line:col: message`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.place(), self.message())
    }
}

impl std::error::Error for FileError {}

/// Files a command refused, as JUnit XML for CI: one testcase per
/// problem, classname `invalid file`, each an `<error>` whose message is
/// the one-line `file:line:col: message` and whose text is the rendering
/// with the source line and caret. `suite` names the command
/// (`otpbench run`).
pub fn junit(suite: &str, errors: &[FileError]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let n = errors.len();
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{n}\" failures=\"0\" errors=\"{n}\" skipped=\"0\" time=\"0.000\">",
        xml::escape(suite)
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"otpbench\" tests=\"{n}\" failures=\"0\" errors=\"{n}\" skipped=\"0\" time=\"0.000\">"
    );
    for error in errors {
        let _ = writeln!(
            out,
            "    <testcase classname=\"invalid file\" name=\"{}\" file=\"{}\" time=\"0.000\">\n      \
             <error type=\"invalid file\" message=\"{}\">{}</error>\n    </testcase>",
            xml::escape(&error.place()),
            xml::escape(error.file()),
            xml::escape(&error.to_string()),
            xml::escape(&error.render())
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Files a command refused, as JSON: `invalid_files`, one object per
/// problem ([`FileError::to_json`]).
pub fn json(errors: &[FileError]) -> serde_json::Value {
    serde_json::json!({
        "invalid_files": errors.iter().map(FileError::to_json).collect::<Vec<_>>(),
    })
}

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
fn with_key(message: &str, map: &SourceMap, position: Position) -> String {
    let key = map
        .node_at(position)
        .and_then(|node| node.path.rsplit(['.']).next())
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
    // A missing key is the mapping's, not the first key's there.
    if path == key
        || path.ends_with(&format!(".{key}"))
        || rest.contains(&format!("`{key}`"))
        || rest.starts_with("missing field")
    {
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
        .map(|c| (crate::names::edit_distance(given, c), *c))
        .min()?;
    (nearest.0 <= 2 && nearest.0 < given.len()).then(|| format!("did you mean `{}`?", nearest.1))
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
    fn file_errors_become_junit_errors_and_json() {
        let text = "dialect: nativ\n";
        let error = FileError::at(
            "t.yaml",
            text,
            Some(Position {
                line: 1,
                column: 10,
            }),
            "unknown dialect `nativ` <x>",
        )
        .with_hint("did you mean `native`?");
        let junit = junit("otpbench run", std::slice::from_ref(&error));
        assert!(
            junit.contains(r#"tests="1" failures="0" errors="1""#),
            "{junit}"
        );
        assert!(
            junit.contains(
                r#"<error type="invalid file" message="t.yaml:1:10: unknown dialect `nativ` &lt;x&gt;">"#
            ),
            "{junit}"
        );
        assert!(junit.contains("1 | dialect: nativ"), "{junit}");
        let json = json(&[error]);
        let first = &json["invalid_files"][0];
        assert_eq!(first["file"], "t.yaml");
        assert_eq!(first["line"], 1);
        assert_eq!(first["column"], 10);
        assert_eq!(first["hint"], "did you mean `native`?");
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
}
