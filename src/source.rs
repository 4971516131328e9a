//! Errors in the files otpbench reads — the config, target and scenario
//! files — as data: the file, a position, and what is wrong there
//! ([`FileError`]), rendered to text in one place, so the terminal, JUnit
//! and JSON reports all say the same thing.
//!
//! Files are YAML read with serde_yaml. Checks that need more than the
//! shape (a dialect, outcome or variable name) run inside `Deserialize`,
//! so serde_yaml attaches the position; [`FileError::from_yaml`] takes it
//! from there. This module must not know what the files mean.
//!
//! Every loader reads its file through [`read`], which bounds what the
//! YAML parser is given: a regular file of at most [`MAX_FILE_BYTES`],
//! UTF-8 (a leading byte-order mark dropped), nested at most
//! [`MAX_DEPTH`] deep. Each breach is a positioned [`FileError`] found
//! before parsing, so a hostile file costs milliseconds, not minutes.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

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
            let (line, column) = excerpt(line, position.column);
            let number = position.line.to_string();
            let pad = " ".repeat(number.len());
            let caret = " ".repeat(column.saturating_sub(1));
            text.push_str(&format!("\n{pad} |\n{number} | {line}\n{pad} | {caret}^"));
        }
        if let Some(hint) = &self.0.hint {
            text.push_str(&format!("\n  = hint: {hint}"));
        }
        text
    }
}

/// The most of a source line [`FileError::render`] shows.
const EXCERPT_CHARS: usize = 120;

/// At most [`EXCERPT_CHARS`] of `line` around `column`, with `…` where
/// it was cut, and the column within that excerpt.
fn excerpt(line: &str, column: usize) -> (String, usize) {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= EXCERPT_CHARS {
        return (line.to_string(), column);
    }
    let at = column.saturating_sub(1).min(chars.len());
    let start = at.saturating_sub(EXCERPT_CHARS / 2);
    let end = (start + EXCERPT_CHARS).min(chars.len());
    let mut shown: String = chars[start..end].iter().collect();
    let mut column = at - start + 1;
    if start > 0 {
        shown.insert(0, '…');
        column += 1;
    }
    if end < chars.len() {
        shown.push('…');
    }
    (shown, column)
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

/// The largest file [`read`] accepts: far above any scenario, target,
/// workload or config file, small enough that parsing it stays fast.
pub const MAX_FILE_BYTES: usize = 2 * 1024 * 1024;

/// The deepest nesting [`read`] accepts: block and flow collections
/// inside each other, counted together. libyaml's work per token grows
/// with the flow depth (parsing is quadratic in it), and serde_yaml
/// gives up at 128 anyway.
pub const MAX_DEPTH: usize = 64;

/// Reads a file the loaders may parse: a regular file (not a directory,
/// device, pipe or socket) of at most [`MAX_FILE_BYTES`], valid UTF-8,
/// nested at most [`MAX_DEPTH`] deep, with a leading UTF-8 byte-order
/// mark dropped. Never reads more than one byte past the size limit,
/// and never blocks on a pipe.
pub fn read(path: &Path) -> Result<String, FileError> {
    let origin = path.display().to_string();
    let cannot =
        |why: &dyn fmt::Display| FileError::unreadable(&origin, format!("cannot read: {why}"));
    let not_regular = || {
        FileError::unreadable(
            &origin,
            "cannot read: not a regular file (a directory, device, pipe or socket)",
        )
    };
    // Looked at before opening: opening a pipe can block.
    if !std::fs::metadata(path).map_err(|e| cannot(&e))?.is_file() {
        return Err(not_regular());
    }
    let file = open_nonblocking(path).map_err(|e| cannot(&e))?;
    // And again on what was opened, in case the name changed in between.
    if !file.metadata().map_err(|e| cannot(&e))?.is_file() {
        return Err(not_regular());
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| cannot(&e))?;
    if bytes.len() > MAX_FILE_BYTES {
        let position = position_of(&bytes, MAX_FILE_BYTES);
        return Err(FileError::at(
            &origin,
            "",
            Some(position),
            format!(
                "the file goes on past {} bytes ({} MiB), the most otpbench reads; \
                 this is where it crosses the limit",
                MAX_FILE_BYTES,
                MAX_FILE_BYTES / (1024 * 1024)
            ),
        ));
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let position = position_of(e.as_bytes(), at);
            let lossy = String::from_utf8_lossy(e.as_bytes()).into_owned();
            return Err(FileError::at(
                &origin,
                &lossy,
                Some(position),
                "not UTF-8: an invalid byte here",
            ));
        }
    };
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    if let Some(position) = too_deep(&text) {
        return Err(FileError::at(
            &origin,
            &text,
            Some(position),
            format!("nested more than {MAX_DEPTH} levels deep, the most otpbench reads"),
        ));
    }
    Ok(text)
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// The 1-based line and column (in characters) of byte `at`.
fn position_of(bytes: &[u8], at: usize) -> Position {
    let before = &bytes[..at.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Position { line, column }
}

/// Where `text` first nests deeper than [`MAX_DEPTH`], if it does.
///
/// A scan of the YAML's layout, not a parse: block depth is the number
/// of open indentation levels plus the `- ` and `? ` entries that open
/// on the line; flow depth counts the `[` and `{` that open a node.
/// Quoted scalars, plain scalars, comments and block scalars (`|`, `>`)
/// are stepped over, so brackets inside text do not count. It may count
/// a level or two more than the parser would, never fewer on the files
/// the parser accepts; the limit is far above any real file.
fn too_deep(text: &str) -> Option<Position> {
    #[derive(Clone, Copy, PartialEq)]
    enum Quote {
        Single,
        Double,
    }
    let mut indents: Vec<usize> = Vec::new();
    let mut flow = 0usize;
    let mut quote: Option<Quote> = None;
    // The indentation of the node that owns a block scalar being skipped.
    let mut block_scalar: Option<usize> = None;
    for (index, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let blank = line.trim().is_empty();
        if let Some(owner) = block_scalar {
            if blank || indent > owner {
                continue;
            }
            block_scalar = None;
        }
        let mut node_start = true;
        let mut entries = 0usize;
        // The column of the block node a `|` or `>` on this line belongs
        // to: its content is what is indented further.
        let mut owner = indent;
        let mut keyed = false;
        if flow == 0 && quote.is_none() {
            if blank || line[indent..].starts_with('#') {
                continue;
            }
            while indents.last().is_some_and(|&last| last >= indent) {
                indents.pop();
            }
            indents.push(indent);
        } else {
            node_start = false;
        }
        let chars: Vec<(usize, char)> = line.char_indices().collect();
        let mut i = 0;
        let mut previous = ' ';
        // In flow context a node starts after these; whitespace keeps the state.
        while i < chars.len() {
            let (_, c) = chars[i];
            let next = chars.get(i + 1).map_or(' ', |&(_, n)| n);
            match quote {
                Some(Quote::Double) => {
                    if c == '\\' {
                        i += 1;
                    } else if c == '"' {
                        quote = None;
                        node_start = false;
                    }
                }
                Some(Quote::Single) => {
                    if c == '\'' && next == '\'' {
                        i += 1;
                    } else if c == '\'' {
                        quote = None;
                        node_start = false;
                    }
                }
                None => {
                    if c == '#' && (previous == ' ' || previous == '\t' || i == 0) {
                        break;
                    }
                    if c == ' ' || c == '\t' {
                        // Whitespace changes nothing.
                    } else if node_start {
                        match c {
                            '"' | '\'' => {
                                if flow == 0 && !keyed {
                                    owner = i;
                                    keyed = true;
                                }
                                quote = Some(if c == '"' {
                                    Quote::Double
                                } else {
                                    Quote::Single
                                });
                            }
                            '[' | '{' => {
                                flow += 1;
                                let depth = indents.len() + entries + flow;
                                if depth > MAX_DEPTH {
                                    return Some(Position {
                                        line: index + 1,
                                        column: i + 1,
                                    });
                                }
                            }
                            ']' | '}' => {
                                flow = flow.saturating_sub(1);
                                node_start = false;
                            }
                            '-' | '?' if flow == 0 && (next == ' ' || next == '\t') => {
                                entries += 1;
                                owner = i;
                            }
                            '|' | '>' if flow == 0 => {
                                block_scalar = Some(owner);
                                break;
                            }
                            '!' | '&' | '*' => {
                                // A tag, anchor or alias: up to the next space.
                                while chars.get(i + 1).is_some_and(|&(_, n)| !n.is_whitespace()) {
                                    i += 1;
                                }
                            }
                            _ => {
                                if flow == 0 && !keyed {
                                    owner = i;
                                    keyed = true;
                                }
                                node_start = false;
                            }
                        }
                    } else if flow > 0 {
                        match c {
                            ',' | '[' | '{' => {
                                node_start = true;
                                if c != ',' {
                                    flow += 1;
                                    if indents.len() + entries + flow > MAX_DEPTH {
                                        return Some(Position {
                                            line: index + 1,
                                            column: i + 1,
                                        });
                                    }
                                }
                            }
                            ']' | '}' => flow = flow.saturating_sub(1),
                            ':' => node_start = true,
                            _ => {}
                        }
                    } else if c == ':' && (next == ' ' || next == '\t' || i + 1 == chars.len()) {
                        node_start = true;
                    }
                }
            }
            previous = c;
            i += 1;
        }
        let depth = indents.len() + entries + flow;
        if depth > MAX_DEPTH {
            return Some(Position {
                line: index + 1,
                column: indent + 1,
            });
        }
    }
    None
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

    fn write(name: &str, contents: &[u8]) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("otpbench-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    #[test]
    fn issue_19_deep_flow_nesting_is_refused_at_its_place_before_parsing() {
        let deep = format!(
            "steps:\n  - send: {}{}\n",
            "[".repeat(200_000),
            "]".repeat(200_000)
        );
        let started = std::time::Instant::now();
        let error = read(&write("deep.yaml", deep.as_bytes())).unwrap_err();
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Two indentation levels and one `- ` entry: the 62nd `[` is the 65th level.
        assert_eq!(
            error.position(),
            Some(Position {
                line: 2,
                column: 10 + 62
            }),
            "{error}"
        );
        assert!(error.message().contains("nested more than 64"), "{error}");
        // The rendering shows an excerpt of the line, not all 400,000 bytes.
        assert!(error.render().len() < 1_000, "{}", error.render().len());
    }

    #[test]
    fn issue_19_deep_block_nesting_is_refused() {
        let mut text = String::new();
        for level in 0..80 {
            text.push_str(&format!("{}k{level}:\n", "  ".repeat(level)));
        }
        let error = too_deep(&text).expect("80 levels");
        assert_eq!(error.line, MAX_DEPTH + 1);
        assert_eq!(
            too_deep(&format!("{}x\n", "- ".repeat(70))).map(|p| p.line),
            Some(1)
        );
    }

    #[test]
    fn nesting_within_the_limit_is_read_and_parses() {
        let shallow = format!(
            "a: {}1{}\n",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert_eq!(too_deep(&shallow), None);
        serde_yaml::from_str::<serde_yaml::Value>(&shallow).unwrap();
        // Brackets in text are not nesting: quoted, plain, comments and
        // block scalars.
        let texty = format!(
            "a: \"{0}\"\nb: '{0}'\nc: x{0}\n# {0}\nd: |\n  {0}\ne:\n  - f: >-\n      {0}\n",
            "[{".repeat(100)
        );
        assert_eq!(too_deep(&texty), None);
        serde_yaml::from_str::<serde_yaml::Value>(&texty).unwrap();
    }

    #[test]
    fn every_file_in_the_repository_is_within_the_limits() {
        fn each(dir: &Path, found: &mut usize) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    each(&path, found);
                } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    read(&path).unwrap();
                    *found += 1;
                }
            }
        }
        let mut found = 0;
        for dir in ["scenarios", "deploy"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            if dir.is_dir() {
                each(&dir, &mut found);
            }
        }
        assert!(found > 10, "{found}");
    }

    #[test]
    fn issue_19_only_regular_files_are_read() {
        let error = read(Path::new("/dev/zero")).unwrap_err();
        assert!(error.message().contains("not a regular file"), "{error}");
        let error = read(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap_err();
        assert!(error.message().contains("not a regular file"), "{error}");
    }

    #[test]
    fn issue_19_a_file_past_the_size_limit_is_refused_where_it_crosses() {
        let line = "# padding padding padding padding padding padding padding\n";
        let mut text = "steps: []\n".to_string();
        while text.len() <= MAX_FILE_BYTES {
            text.push_str(line);
        }
        let error = read(&write("big.yaml", text.as_bytes())).unwrap_err();
        let crossing = text[..MAX_FILE_BYTES].lines().count();
        assert_eq!(error.position().map(|p| p.line), Some(crossing), "{error}");
        assert!(error.message().contains("2 MiB"), "{error}");
        text.truncate(MAX_FILE_BYTES);
        read(&write("just.yaml", text.as_bytes())).unwrap();
    }

    #[test]
    fn issue_19_a_byte_order_mark_is_dropped() {
        let text = read(&write("bom.yaml", b"\xef\xbb\xbfsteps: []\n")).unwrap();
        assert_eq!(text, "steps: []\n");
        let error = read(&write("latin1.yaml", b"name: caf\xe9\n")).unwrap_err();
        assert_eq!(error.place().rsplit_once("latin1.yaml:").unwrap().1, "1:10");
    }

    #[test]
    fn distances_count_edits() {
        assert_eq!(edit_distance("expext", "expect"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("outcome", "outcome"), 0);
    }
}
