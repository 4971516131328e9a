//! Variables from outside the files (DESIGN.md §5): `${env.NAME}` reads the
//! environment, `${var.NAME}` what `--var NAME=VALUE` and `--vars-file FILE`
//! give. They are expanded in the text of a target, scenario or workload
//! file as it is read, before the YAML is parsed, so an unset one is an
//! error at its `file:line:col` before anything is sent ([`Vars::expand`]).
//!
//! A value is written into the YAML so that YAML reads it back as it was:
//! escaped inside a double- or single-quoted string, indented inside a
//! block scalar, as is in a plain scalar when YAML would read it unchanged
//! there, else quoted (when the reference is the whole scalar) or refused
//! with a hint to quote it. A reference in a comment is left alone, and
//! `$${` writes a literal `${`.
//!
//! Every value that came from outside the files is a secret: it is
//! recorded here as it is used, and [`Vars::mask`] (with [`Masked`] for
//! streams and [`Vars::mask_json`] for reports) writes `***` in its place
//! in any output. This module knows nothing of what the files mean.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;

use crate::source::{FileError, FileErrorKind, Position};

/// What `***` stands in for: values this short are not masked, since
/// hiding every `1` or `abc` in a report would make it unreadable (the
/// docs say so; a secret is longer).
pub const SHORTEST_MASKED: usize = 4;

/// The text a secret is replaced with.
pub const MASK: &str = "***";

/// What the strings of a file are, for writing values into them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strings {
    /// Taken as written (target and workload files).
    Literal,
    /// Scenario templates, where `${` starts a variable: a `${` in a
    /// value is written `$${` so it stays text.
    Templates,
}

/// Where `${env.NAME}` looks.
#[derive(Debug)]
enum Environment {
    /// The process's environment.
    Process,
    /// A fixed one (tests).
    Fixed(BTreeMap<String, String>),
}

/// The variables of one command: what `--var` and `--vars-file` gave, the
/// environment, and every secret used so far.
#[derive(Debug)]
pub struct Vars {
    /// `${var.NAME}`: the files' values, then the flags' over them.
    given: BTreeMap<String, String>,
    environment: Environment,
    /// Every form of every secret to mask, longest first. A std mutex:
    /// held only to copy or extend the list, never across an await.
    secrets: Mutex<Vec<String>>,
}

impl Default for Vars {
    /// No `${var.…}`; `${env.…}` from the process.
    fn default() -> Vars {
        Vars::new(BTreeMap::new())
    }
}

impl Vars {
    /// `${var.…}` from `given`, `${env.…}` from the process. Every given
    /// value is a secret from the start, used or not.
    pub fn new(given: BTreeMap<String, String>) -> Vars {
        Vars::with_environment(given, None)
    }

    /// The same with a fixed environment (`None`: the process's).
    pub fn with_environment(
        given: BTreeMap<String, String>,
        environment: Option<BTreeMap<String, String>>,
    ) -> Vars {
        let vars = Vars {
            environment: environment.map_or(Environment::Process, Environment::Fixed),
            given,
            secrets: Mutex::new(Vec::new()),
        };
        for value in vars.given.values() {
            vars.remember(value);
        }
        vars
    }

    /// Reads `--vars-file` files in order (a later file wins), then puts
    /// the `--var` pairs over them (a later pair wins).
    pub fn from_sources(files: &[&Path], pairs: &[(String, String)]) -> Result<Vars, FileError> {
        let mut given = BTreeMap::new();
        for path in files {
            let origin = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| FileError::unreadable(&origin, format!("cannot read: {e}")))?;
            given.extend(parse_vars_file(&text, &origin)?);
        }
        for (name, value) in pairs {
            given.insert(name.clone(), value.clone());
        }
        Ok(Vars::new(given))
    }

    /// `text` (the contents of `file`) with every `${env.NAME}` and
    /// `${var.NAME}` outside comments replaced by its value; the first one
    /// without a value is the error, at its position.
    pub fn expand<'t>(
        &self,
        text: &'t str,
        file: &str,
        strings: Strings,
    ) -> Result<Expanded<'t>, FileError> {
        let unchanged = Expanded {
            text: Cow::Borrowed(text),
            original: text,
            edits: Vec::new(),
        };
        if !text.contains("${env.") && !text.contains("${var.") {
            return Ok(unchanged);
        }
        let references = scan(text);
        if references.is_empty() {
            return Ok(unchanged);
        }
        let mut out = String::with_capacity(text.len());
        let mut edits = Vec::with_capacity(references.len());
        let mut done = 0;
        for reference in references {
            let source = &text[reference.start..reference.end];
            let at = |message: String| FileError::at(file, text, Some(reference.position), message);
            let value = self
                .value(&reference)
                .map_err(|(why, hint)| at(why).with_hint(hint))?;
            let value = match strings {
                Strings::Templates => value.replace("${", "$${"),
                Strings::Literal => value,
            };
            let written = write_in(&value, &reference.context, &reference.indent)
                .map_err(|why| at(format!("`{source}`: {why}")))?;
            out.push_str(&text[done..reference.start]);
            let start = out.len();
            out.push_str(&written);
            edits.push(Edit {
                expanded: start..out.len(),
                original: reference.start..reference.end,
            });
            done = reference.end;
        }
        out.push_str(&text[done..]);
        Ok(Expanded {
            text: Cow::Owned(out),
            original: text,
            edits,
        })
    }

    /// The value of one reference, remembered as a secret; or why there is
    /// none, and what to do.
    fn value(&self, reference: &Reference) -> Result<String, (String, String)> {
        let name = &reference.name;
        let written = format!("${{{}.{name}}}", reference.namespace.prefix());
        let value = match reference.namespace {
            Namespace::Var => self.given.get(name).cloned().ok_or_else(|| {
                (
                    format!("`{written}` is not set"),
                    format!("give it with `--var {name}=VALUE` or in a `--vars-file`"),
                )
            })?,
            Namespace::Env => {
                let found = match &self.environment {
                    Environment::Process => match std::env::var(name) {
                        Ok(value) => Some(value),
                        Err(std::env::VarError::NotPresent) => None,
                        Err(std::env::VarError::NotUnicode(_)) => {
                            return Err((
                                format!("`{written}`: the environment's {name} is not UTF-8"),
                                "set it to UTF-8 text".to_string(),
                            ))
                        }
                    },
                    Environment::Fixed(map) => map.get(name).cloned(),
                };
                match found {
                    None => {
                        return Err((
                            format!("`{written}` is not set: the environment has no {name}"),
                            format!("set it before the run (`export {name}=…`)"),
                        ))
                    }
                    Some(value) if value.is_empty() => {
                        return Err((
                            format!(
                                "`{written}` is empty: the environment's {name} is set to \"\""
                            ),
                            "a CI secret that is missing reads as empty; set it, or give \
                             an empty value on purpose with `--var` and `${var.…}`"
                                .to_string(),
                        ))
                    }
                    Some(value) => value,
                }
            }
        };
        self.remember(&value);
        Ok(value)
    }

    /// Records `value` as a secret, in every form output may show it in.
    fn remember(&self, value: &str) {
        let mut forms = vec![value.to_string()];
        // Each line of a multi-line value, for output that breaks lines.
        forms.extend(value.lines().map(str::to_string));
        forms.push(json_escaped(value));
        forms.push(crate::source::xml::escape(value));
        forms.push(percent_encoded(value));
        let mut secrets = self.secrets.lock().unwrap_or_else(|e| e.into_inner());
        for form in forms {
            if form.chars().count() >= SHORTEST_MASKED && !secrets.contains(&form) {
                secrets.push(form);
            }
        }
        secrets.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    }

    /// Whether any secret is known (else masking is a no-op).
    pub fn has_secrets(&self) -> bool {
        !self.secrets().is_empty()
    }

    fn secrets(&self) -> Vec<String> {
        self.secrets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// `text` with every secret known so far written as `***`.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let secrets = self.secrets();
        if !secrets.iter().any(|s| text.contains(s.as_str())) {
            return Cow::Borrowed(text);
        }
        let mut text = text.to_string();
        for secret in &secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), MASK);
            }
        }
        Cow::Owned(text)
    }

    /// The same for bytes that may not be UTF-8.
    pub fn mask_bytes(&self, bytes: &[u8]) -> Vec<u8> {
        let mut bytes = bytes.to_vec();
        for secret in self.secrets() {
            bytes = replace_bytes(&bytes, secret.as_bytes(), MASK.as_bytes());
        }
        bytes
    }

    /// Masks every string and object key in `value`, except the values of
    /// the keys in `opaque` (encoded data such as histograms, which a
    /// replacement would corrupt).
    pub fn mask_json(&self, value: &mut serde_json::Value, opaque: &[&str]) {
        use serde_json::Value;
        match value {
            Value::String(text) => {
                if let Cow::Owned(masked) = self.mask(text) {
                    *text = masked;
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.mask_json(item, opaque);
                }
            }
            Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut item) in entries {
                    if !opaque.contains(&key.as_str()) {
                        self.mask_json(&mut item, opaque);
                    }
                    map.insert(self.mask(&key).into_owned(), item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

/// A file's text with its variables' values written in, and the way back
/// to where each thing stands in the file as written.
#[derive(Debug)]
pub struct Expanded<'t> {
    text: Cow<'t, str>,
    original: &'t str,
    /// Each replaced reference, in order.
    edits: Vec<Edit>,
}

#[derive(Debug)]
struct Edit {
    expanded: Range<usize>,
    original: Range<usize>,
}

impl std::ops::Deref for Expanded<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.text
    }
}

impl Expanded<'_> {
    /// `error`, found in the expanded text, placed in the file as written
    /// and shown under its line there (with the reference, not its
    /// value): a place inside a value is the reference's.
    pub fn restore(&self, error: FileError) -> FileError {
        if self.edits.is_empty() || !matches!(error.kind(), FileErrorKind::Invalid(_)) {
            return error;
        }
        let position = error.position().map(|p| self.original_position(p));
        let restored = FileError::at(error.file(), self.original, position, error.message());
        match error.hint() {
            Some(hint) => restored.with_hint(hint),
            None => restored,
        }
    }

    fn original_position(&self, position: Position) -> Position {
        let offset = offset_of(&self.text, position);
        let mut shift = 0isize;
        for edit in &self.edits {
            if offset < edit.expanded.start {
                break;
            }
            if offset < edit.expanded.end {
                return position_of(self.original, edit.original.start);
            }
            shift = edit.original.end as isize - edit.expanded.end as isize;
        }
        position_of(self.original, offset.saturating_add_signed(shift))
    }
}

/// The byte offset of a 1-based line and character column in `text`
/// (clamped to the line's end).
fn offset_of(text: &str, position: Position) -> usize {
    let mut start = 0;
    for (index, line) in text.split_inclusive('\n').enumerate() {
        if index + 1 == position.line {
            let body = line.trim_end_matches(['\n', '\r']);
            let within = body
                .char_indices()
                .nth(position.column.saturating_sub(1))
                .map_or(body.len(), |(at, _)| at);
            return start + within;
        }
        start += line.len();
    }
    text.len()
}

/// The 1-based line and character column of byte `offset` in `text`.
fn position_of(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    Position {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

/// A writer that masks secrets before they reach `inner`. It holds back
/// text until a line ends (`\n` or a progress line's `\r`) or it is
/// flushed, so a secret split across two writes is still whole when
/// masked.
pub struct Masked<'v, W: Write> {
    inner: W,
    vars: &'v Vars,
    pending: Vec<u8>,
}

impl<'v, W: Write> Masked<'v, W> {
    pub fn new(inner: W, vars: &'v Vars) -> Masked<'v, W> {
        Masked {
            inner,
            vars,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, upto: usize) -> io::Result<()> {
        let line: Vec<u8> = self.pending.drain(..upto).collect();
        self.inner.write_all(&self.vars.mask_bytes(&line))
    }
}

impl<W: Write> Write for Masked<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(last) = self.pending.iter().rposition(|&b| b == b'\n' || b == b'\r') {
            self.emit(last + 1)?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        let all = self.pending.len();
        self.emit(all)?;
        self.inner.flush()
    }
}

impl<W: Write> Drop for Masked<'_, W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// Reads a `--vars-file`: `NAME=VALUE` a line, the value taken as written
/// (no quotes removed, no `${…}` expanded); blank lines and lines starting
/// with `#` are skipped. A name given twice is an error.
pub fn parse_vars_file(text: &str, file: &str) -> Result<BTreeMap<String, String>, FileError> {
    let mut vars = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let column = line.len() - trimmed.len() + 1;
        let position = Position {
            line: index + 1,
            column,
        };
        // The line itself is not quoted under the error: it may hold a
        // secret.
        let at = |message: String| FileError::at(file, "", Some(position), message);
        let Some((name, value)) = trimmed.split_once('=') else {
            return Err(at("expected NAME=VALUE".to_string()));
        };
        let name = name.trim_end();
        check_name(name).map_err(at)?;
        if vars.insert(name.to_string(), value.to_string()).is_some() {
            return Err(at(format!("{name} is given twice in this file")));
        }
    }
    Ok(vars)
}

/// `NAME=VALUE`, as `--var` reads it.
pub fn parse_pair(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| "expected NAME=VALUE".to_string())?;
    check_name(name)?;
    Ok((name.to_string(), value.to_string()))
}

/// A variable name: a letter or `_`, then letters, digits and `_`.
fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let good = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if good {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a variable name (a letter or `_`, then letters, digits and `_`)"
        ))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Namespace {
    Env,
    Var,
}

impl Namespace {
    fn prefix(self) -> &'static str {
        match self {
            Namespace::Env => "env",
            Namespace::Var => "var",
        }
    }
}

/// Where in the YAML a reference stands.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Context {
    /// In a `"…"` string.
    Double,
    /// In a `'…'` string.
    Single,
    /// In a `|` or `>` block scalar.
    Block,
    /// In a plain scalar: whether the reference is all of it, whether it
    /// starts it, whether a blank is before it, and whether it is inside
    /// `[…]` or `{…}`.
    Plain {
        whole: bool,
        first: bool,
        after_blank: bool,
        flow: bool,
    },
}

/// One `${env.NAME}` or `${var.NAME}` to replace.
#[derive(Debug)]
struct Reference {
    /// Byte range of `${…}` in the text.
    start: usize,
    end: usize,
    position: Position,
    namespace: Namespace,
    name: String,
    context: Context,
    /// The leading whitespace of its line (for multi-line values in a
    /// block scalar).
    indent: String,
}

/// Where the scanner is between characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Between nodes, or in a plain scalar.
    Plain,
    Double,
    Single,
}

/// Finds the references in `text`, with their YAML context: a small
/// lexer that knows quoted strings (across lines), comments, flow
/// collections and block scalars, which is all that decides how a value
/// must be written.
fn scan(text: &str) -> Vec<Reference> {
    let mut found = Vec::new();
    let mut state = State::Plain;
    let mut flow = 0usize;
    // A block scalar's parent indentation while inside one.
    let mut block: Option<usize> = None;
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start_matches([' ', '\t']);
        let indent = &line[..line.len() - trimmed.len()];
        if let Some(parent) = block {
            if trimmed.is_empty() || indent.len() > parent {
                for (at, namespace, name, end) in references_in(line) {
                    found.push(reference(
                        text,
                        line_start,
                        index,
                        at,
                        end,
                        namespace,
                        name,
                        Context::Block,
                        indent,
                    ));
                }
                continue;
            }
            block = None;
        }
        // `at_node`: the next non-blank character starts a node.
        let mut at_node = state == State::Plain;
        // Where the plain scalar being read started, if one is.
        let mut plain_start: Option<usize> = None;
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            match state {
                State::Double | State::Single => {
                    let double = state == State::Double;
                    if double && c == b'\\' {
                        i += 2;
                        continue;
                    }
                    if c == if double { b'"' } else { b'\'' } {
                        // '' inside single quotes is a quote, not the end.
                        if !double && bytes.get(i + 1) == Some(&b'\'') {
                            i += 2;
                            continue;
                        }
                        state = State::Plain;
                    } else if let Some((namespace, name, end)) = reference_at(line, i) {
                        let context = if double {
                            Context::Double
                        } else {
                            Context::Single
                        };
                        found.push(reference(
                            text, line_start, index, i, end, namespace, name, context, indent,
                        ));
                        i = end;
                        continue;
                    }
                }
                State::Plain => {
                    let after_blank = i == 0 || matches!(bytes[i - 1], b' ' | b'\t');
                    if c == b' ' || c == b'\t' {
                        i += 1;
                        continue;
                    }
                    if c == b'#' && after_blank {
                        break; // a comment: the rest of the line
                    }
                    if plain_start.is_none() && at_node {
                        match c {
                            b'"' => {
                                state = State::Double;
                                at_node = false;
                                i += 1;
                                continue;
                            }
                            b'\'' => {
                                state = State::Single;
                                at_node = false;
                                i += 1;
                                continue;
                            }
                            b'[' | b'{' => {
                                flow += 1;
                                i += 1;
                                continue;
                            }
                            b'-' | b'?' if matches!(bytes.get(i + 1), None | Some(b' ')) => {
                                i += 1;
                                continue;
                            }
                            b'|' | b'>' if flow == 0 && is_block_header(&line[i + 1..]) => {
                                block = Some(indent.len());
                                break;
                            }
                            _ => {}
                        }
                    }
                    if flow > 0 && matches!(c, b',' | b']' | b'}' | b'[' | b'{') {
                        match c {
                            b']' | b'}' => flow = flow.saturating_sub(1),
                            b'[' | b'{' => flow += 1,
                            _ => {}
                        }
                        plain_start = None;
                        at_node = true;
                        i += 1;
                        continue;
                    }
                    if c == b':' && matches!(bytes.get(i + 1), None | Some(b' ' | b'\t')) {
                        plain_start = None;
                        at_node = true;
                        i += 1;
                        continue;
                    }
                    if plain_start.is_none() {
                        plain_start = Some(i);
                        at_node = false;
                    }
                    if let Some((namespace, name, end)) = reference_at(line, i) {
                        let first = plain_start == Some(i);
                        let rest = line[end..].trim_start_matches([' ', '\t']);
                        let ends = rest.is_empty()
                            || (rest.starts_with('#') && end < line.len())
                            || (flow > 0 && rest.starts_with([',', ']', '}']))
                            || rest.starts_with(": ")
                            || rest == ":";
                        found.push(reference(
                            text,
                            line_start,
                            index,
                            i,
                            end,
                            namespace,
                            name,
                            Context::Plain {
                                whole: first && ends,
                                first,
                                after_blank,
                                flow: flow > 0,
                            },
                            indent,
                        ));
                        i = end;
                        continue;
                    }
                }
            }
            i += 1;
        }
    }
    found
}

#[allow(clippy::too_many_arguments)]
fn reference(
    text: &str,
    line_start: usize,
    line_index: usize,
    at: usize,
    end: usize,
    namespace: Namespace,
    name: String,
    context: Context,
    indent: &str,
) -> Reference {
    let column = text[line_start..line_start + at].chars().count() + 1;
    Reference {
        start: line_start + at,
        end: line_start + end,
        position: Position {
            line: line_index + 1,
            column,
        },
        namespace,
        name,
        context,
        indent: indent.to_string(),
    }
}

/// Every reference in `line`, as [`reference_at`] finds them.
fn references_in(line: &str) -> Vec<(usize, Namespace, String, usize)> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if let Some((namespace, name, end)) = reference_at(line, i) {
            found.push((i, namespace, name, end));
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// `${env.NAME}` or `${var.NAME}` starting at byte `i` of `line` (not
/// after a `$`, which makes it literal): its namespace, name and end.
fn reference_at(line: &str, i: usize) -> Option<(Namespace, String, usize)> {
    let rest = line.get(i..)?;
    if !rest.starts_with("${") || (i > 0 && line.as_bytes()[i - 1] == b'$') {
        return None;
    }
    let (namespace, after) = if let Some(after) = rest.strip_prefix("${env.") {
        (Namespace::Env, after)
    } else if let Some(after) = rest.strip_prefix("${var.") {
        (Namespace::Var, after)
    } else {
        return None;
    };
    let close = after.find('}')?;
    let name = &after[..close];
    check_name(name).ok()?;
    let end = i + (rest.len() - after.len()) + close + 1;
    Some((namespace, name.to_string(), end))
}

/// Whether what follows a `|` or `>` makes it a block scalar header:
/// chomping and indentation indicators, then nothing but a comment.
fn is_block_header(rest: &str) -> bool {
    let rest = rest.trim_start_matches(['+', '-', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    let rest = rest.trim_start_matches([' ', '\t']);
    rest.is_empty() || rest.starts_with('#')
}

/// `value` written where `context` says, so YAML reads it back unchanged.
fn write_in(value: &str, context: &Context, indent: &str) -> Result<String, String> {
    match context {
        Context::Double => Ok(double_escaped(value)),
        Context::Single => {
            if value.chars().any(char::is_control) {
                Err(
                    "its value holds a line break or control character, which a \
                     single-quoted string cannot; use double quotes"
                        .to_string(),
                )
            } else {
                Ok(value.replace('\'', "''"))
            }
        }
        Context::Block => Ok(value.replace('\n', &format!("\n{indent}"))),
        Context::Plain {
            whole,
            first,
            after_blank,
            flow,
        } => {
            if plain_safe(value, *first, *after_blank, *flow) && !(*whole && reads_as_null(value)) {
                Ok(value.to_string())
            } else if *whole {
                Ok(format!("\"{}\"", double_escaped(value)))
            } else {
                Err(
                    "its value holds characters that YAML reads specially in an unquoted \
                     value; put the whole value in double quotes"
                        .to_string(),
                )
            }
        }
    }
}

/// Whether YAML reads `value` back unchanged in a plain scalar.
fn plain_safe(value: &str, first: bool, after_blank: bool, flow: bool) -> bool {
    let Some(head) = value.chars().next() else {
        return false;
    };
    let second = value[head.len_utf8()..].chars().next();
    let starts_badly = first
        && ("#&*!|>'\"%@`[]{},".contains(head)
            || ("-?:".contains(head) && second.is_none_or(|c| c == ' ')));
    let read_otherwise = [
        starts_badly,
        after_blank && head == '#',
        value.chars().any(char::is_control),
        value.trim() != value,
        value.contains(": ") || value.ends_with(':') || value.contains(" #"),
        flow && value.contains([',', '[', ']', '{', '}']),
    ];
    !read_otherwise.contains(&true)
}

/// Whether YAML reads a plain `value` as null.
fn reads_as_null(value: &str) -> bool {
    matches!(value, "~" | "null" | "Null" | "NULL")
}

/// The inside of a YAML double-quoted string. Blanks at either end are
/// escaped too: where the string goes on over several lines, YAML drops
/// those at the start and end of each line.
fn double_escaped(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let inner = value.trim_matches([' ', '\t']);
    let start = value.len() - value.trim_start_matches([' ', '\t']).len();
    let end = start + inner.len();
    for (at, c) in value.char_indices() {
        if (at < start || at >= end) && c == ' ' {
            out.push_str("\\x20");
            continue;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// As serde_json writes a string's inside.
fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap_or_default();
    quoted
        .strip_prefix('"')
        .and_then(|q| q.strip_suffix('"'))
        .unwrap_or(&quoted)
        .to_string()
}

/// As a URL or a form body writes it.
fn percent_encoded(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn replace_bytes(hay: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    if needle.is_empty() || hay.len() < needle.len() {
        return hay.to_vec();
    }
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(env: &[(&str, &str)], given: &[(&str, &str)]) -> Vars {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        Vars::with_environment(map(given), Some(map(env)))
    }

    fn expand(vars: &Vars, text: &str) -> Result<String, FileError> {
        vars.expand(text, "t.yaml", Strings::Literal)
            .map(|e| e.to_string())
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Doc {
        a: Option<String>,
        b: Option<Vec<String>>,
        n: Option<u32>,
    }

    fn read(text: &str) -> Doc {
        serde_yaml::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn values_read_back_unchanged_in_every_kind_of_scalar() {
        let awkward = [
            "plain-token_123",
            "with: colon space",
            "quote\" and 'apostrophe' and \\ backslash",
            "# leading hash",
            "- dash",
            "comma, [brackets] {braces}",
            "line one\nline two",
            "null",
            "  padded  ",
            "tab\there",
            "${not.a.variable}",
            "12345",
            "true",
            "#x",
        ];
        for value in awkward {
            let v = vars(&[("T", value)], &[]);
            for text in [
                "a: ${env.T}\n",
                "a: \"${env.T}\"\n",
                "a: ${env.T} # note\n",
                "b: [${env.T}, x]\n",
                "b:\n  - ${env.T}\n",
                "b: [\"${env.T}\"]\n",
                "{ a: ${env.T} }\n",
                "a: \"first line\n  ${env.T}\"\n",
            ] {
                let doc = read(&expand(&v, text).unwrap());
                let got = doc.a.or(doc.b.map(|b| b[0].clone()));
                let got = got.as_deref().map(|g| g.trim_start_matches("first line "));
                assert_eq!(got, Some(value), "{text:?} with {value:?}");
            }
            if !value.chars().any(char::is_control) {
                let doc = read(&expand(&v, "a: '${env.T}'\n").unwrap());
                assert_eq!(doc.a.as_deref(), Some(value), "single-quoted {value:?}");
            }
        }
    }

    #[test]
    fn part_of_a_value_is_spliced_in_or_refused_with_a_hint() {
        let v = vars(&[("HOST", "api.example.com"), ("BAD", "a: b")], &[]);
        let doc = read(&expand(&v, "a: https://${env.HOST}/v1\n").unwrap());
        assert_eq!(doc.a.as_deref(), Some("https://api.example.com/v1"));
        let doc = read(&expand(&v, "a: \"x ${env.BAD} y\"\n").unwrap());
        assert_eq!(doc.a.as_deref(), Some("x a: b y"));
        let v2 = vars(&[("HASH", "#frag")], &[]);
        let doc = read(&expand(&v2, "a: page${env.HASH}\n").unwrap());
        assert_eq!(doc.a.as_deref(), Some("page#frag"));
        assert!(expand(&v2, "a: page ${env.HASH}\n").is_err());
        let error = expand(&v, "a: x ${env.BAD}\n").unwrap_err();
        assert_eq!(error.place(), "t.yaml:1:6");
        assert!(error.message().contains("double quotes"), "{error}");
        assert!(!error.render().contains("a: b"), "{}", error.render());
    }

    #[test]
    fn numbers_stay_numbers_and_block_scalars_keep_their_lines() {
        let v = vars(
            &[],
            &[
                ("LEN", "6"),
                ("PEM", "-----BEGIN-----\nAAAA\n-----END-----"),
            ],
        );
        assert_eq!(read(&expand(&v, "n: ${var.LEN}\n").unwrap()).n, Some(6));
        let doc = read(&expand(&v, "a: |\n  key:\n  ${var.PEM}\nn: 1\n").unwrap());
        assert_eq!(
            doc.a.as_deref(),
            Some("key:\n-----BEGIN-----\nAAAA\n-----END-----\n")
        );
    }

    #[test]
    fn an_unset_variable_is_placed_and_says_how_to_set_it() {
        let v = vars(&[("EMPTY", "")], &[]);
        let text = "dialect: native\nauth:\n  bearer: \"Bearer ${env.OTP_TOKEN}\"\n";
        let error = expand(&v, text).unwrap_err();
        assert_eq!(error.place(), "t.yaml:3:19");
        assert!(
            error.message().contains("`${env.OTP_TOKEN}` is not set"),
            "{error}"
        );
        assert!(error.hint().unwrap().contains("export OTP_TOKEN="));
        let error = expand(&v, "a: ${var.X}\n").unwrap_err();
        assert!(error.hint().unwrap().contains("--var X=VALUE"), "{error:?}");
        let error = expand(&v, "a: ${env.EMPTY}\n").unwrap_err();
        assert!(error.message().contains("is empty"), "{error}");
    }

    #[test]
    fn errors_in_the_expanded_text_are_placed_in_the_file_as_written() {
        let v = vars(&[("HOST", "a-long-host.example"), ("PEM", "x\ny\nz")], &[]);
        let text = "b: [\"https://${env.HOST}/v1\"]\na: |\n  ${env.PEM}\nn: [${env.HOST}, oops]\n";
        let expanded = v.expand(text, "t.yaml", Strings::Literal).unwrap();
        let error = serde_yaml::from_str::<Doc>(&expanded).unwrap_err();
        let error = expanded.restore(FileError::from_yaml("t.yaml", &expanded, &error));
        // After a value: shifted back; inside one: at its reference.
        let place = |line, column| {
            let p = expanded.original_position(Position { line, column });
            (p.line, p.column)
        };
        assert_eq!(place(1, 13), (1, 13));
        assert_eq!(place(1, 14), (1, 14));
        assert_eq!(place(1, 20), (1, 14));
        assert_eq!(place(1, 33), (1, 25));
        assert_eq!(place(5, 3), (3, 3));
        assert_eq!(place(6, 1), (4, 1));
        assert_eq!(error.position().map(|p| p.line), Some(4), "{error}");
        let rendered = error.render();
        assert!(rendered.contains("${env.HOST}, oops]"), "{rendered}");
        assert!(!rendered.contains("a-long-host"), "{rendered}");
    }

    #[test]
    fn comments_literals_and_other_variables_are_left_alone() {
        let v = vars(&[], &[]);
        let text = "# uses ${env.NOPE}\na: $${env.NOPE} # and ${var.NOPE}\nb: [\"${code}\"]\n";
        assert_eq!(expand(&v, text).unwrap(), text);
    }

    #[test]
    fn template_files_keep_a_value_from_becoming_a_variable() {
        let v = vars(&[("T", "a${code}b")], &[]);
        let out = v
            .expand("to: \"${env.T}\"\n", "s.yaml", Strings::Templates)
            .unwrap();
        assert_eq!(&*out, "to: \"a$${code}b\"\n");
    }

    #[test]
    fn used_values_are_masked_in_every_form_and_short_ones_are_not() {
        let v = vars(
            &[("T", "s3cr<et>&\"x"), ("SHORT", "abc")],
            &[("K", "given-only")],
        );
        expand(&v, "a: \"${env.T}\"\nb: [${env.SHORT}]\n").unwrap();
        assert_eq!(v.mask("token s3cr<et>&\"x here"), "token *** here");
        assert_eq!(v.mask("xml s3cr&lt;et&gt;&amp;&quot;x"), "xml ***");
        assert_eq!(v.mask(r#"json "s3cr<et>&\"x""#), r#"json "***""#);
        assert_eq!(v.mask("url s3cr%3Cet%3E%26%22x"), "url ***");
        assert_eq!(
            v.mask("abc stays; given-only does not"),
            "abc stays; *** does not"
        );
        let unused = vars(&[("T", "never-read")], &[]);
        assert_eq!(unused.mask("never-read"), "never-read");
    }

    #[test]
    fn a_masked_stream_masks_a_secret_split_across_writes() {
        let v = vars(&[], &[("K", "split-secret")]);
        let mut out = Vec::new();
        {
            let mut masked = Masked::new(&mut out, &v);
            write!(masked, "one split-").unwrap();
            write!(masked, "secret line\nprogress split-sec").unwrap();
            write!(masked, "ret\r").unwrap();
            write!(masked, "tail split-secret").unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "one *** line\nprogress ***\rtail ***"
        );
    }

    #[test]
    fn json_is_masked_except_opaque_fields() {
        let v = vars(&[], &[("K", "AAAAsecret")]);
        let mut value = serde_json::json!({
            "command_line": ["--var", "K=AAAAsecret"],
            "AAAAsecret": 1,
            "histogram": "AAAAsecretAAAA",
        });
        v.mask_json(&mut value, &["histogram"]);
        assert_eq!(
            value,
            serde_json::json!({
                "command_line": ["--var", "K=***"],
                "***": 1,
                "histogram": "AAAAsecretAAAA",
            })
        );
    }

    #[test]
    fn a_flag_wins_over_the_files_and_a_later_file_over_an_earlier_one() {
        let dir = std::env::temp_dir().join(format!("otpbench-vars-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (first, second) = (dir.join("a.env"), dir.join("b.env"));
        std::fs::write(&first, "A=first\nB=first\nC=first\n").unwrap();
        std::fs::write(&second, "B=second\nC=second\n").unwrap();
        let vars = Vars::from_sources(
            &[first.as_path(), second.as_path()],
            &[("C".into(), "flag".into())],
        )
        .unwrap();
        let out = expand(&vars, "a: [${var.A}, ${var.B}, ${var.C}]\n").unwrap();
        assert_eq!(out, "a: [first, second, flag]\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn vars_files_read_name_value_lines() {
        let text = "# comment\n\nTOKEN=a=b \"c\"\n  HOST = x\n";
        let vars = parse_vars_file(text, "v.env").unwrap();
        assert_eq!(vars["TOKEN"], "a=b \"c\"");
        assert_eq!(vars["HOST"], " x");
        let error = parse_vars_file("A=1\nnot a pair\n", "v.env").unwrap_err();
        assert_eq!(error.place(), "v.env:2:1");
        assert!(!error.render().contains("not a pair"), "{}", error.render());
        let error = parse_vars_file("A=1\n 9X=2\n", "v.env").unwrap_err();
        assert_eq!(error.place(), "v.env:2:2");
        let error = parse_vars_file("A=1\nA=2\n", "v.env").unwrap_err();
        assert!(error.message().contains("twice"), "{error}");
        assert_eq!(parse_pair("K=v=w"), Ok(("K".into(), "v=w".into())));
        assert!(parse_pair("K").is_err());
        assert!(parse_pair("a-b=1").is_err());
    }
}
