//! Where each key and value of a YAML file is written: a [`SourceMap`]
//! from key paths (`steps[2].expect.outcome`) to positions, built once
//! per file from its text. serde_yaml keeps no positions of what it read
//! well, so checks made after parsing (a step that does two things, a
//! target whose `code_source` cannot work) ask the map where to point.
//!
//! A reading of the layout, not a parser: block mappings and sequences,
//! flow collections (`{ a: 1, b: [x, y] }`, over several lines too),
//! quoted and plain scalars, comments, tags and anchors, block scalars
//! (`|`, `>`) stepped over, documents split at `---`. What it cannot
//! read it leaves out; a path it does not know has no position, and the
//! caller falls back to a coarser one.

use super::Position;

/// One key or sequence item, in the order written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    /// `steps[2].expect.outcome`; an item is `steps[2]`.
    pub(crate) path: String,
    /// Where the key is written, or the item's `-` (or a flow item's
    /// first character).
    pub(crate) at: Position,
    /// Where its value starts, when it is written on the same line (or
    /// inside a flow collection).
    pub(crate) value: Option<Position>,
    /// A scalar value as written, without quotes.
    pub(crate) scalar: Option<String>,
}

/// One YAML document's nodes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Document {
    /// Its first line of content.
    start: Option<Position>,
    nodes: Vec<Node>,
}

/// Key paths to positions, per document. See the module docs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    documents: Vec<Document>,
    /// The line count, for a node's span at the end of the file.
    lines: usize,
}

impl SourceMap {
    /// The map of `text`.
    pub fn of(text: &str) -> SourceMap {
        let lines: Vec<&str> = text.lines().collect();
        let mut scanner = Scanner {
            lines: &lines,
            documents: Vec::new(),
            current: Document::default(),
            stack: Vec::new(),
        };
        scanner.run();
        SourceMap {
            documents: scanner.documents,
            lines: lines.len(),
        }
    }

    /// Where document `index` starts (its first line of content).
    pub fn document_start(&self, index: usize) -> Position {
        self.documents
            .get(index)
            .and_then(|d| d.start)
            .unwrap_or(Position { line: 1, column: 1 })
    }

    /// Where the key (or item) at `path` in document `document` is written.
    pub fn key(&self, document: usize, path: &str) -> Option<Position> {
        self.node(document, path).map(|n| n.at)
    }

    /// Where the value at `path` starts, else its key.
    pub fn value(&self, document: usize, path: &str) -> Option<Position> {
        self.node(document, path).map(|n| n.value.unwrap_or(n.at))
    }

    /// The positions of the items of the sequence at `path`, in order.
    pub fn items(&self, document: usize, path: &str) -> Vec<Position> {
        let Some(doc) = self.documents.get(document) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Some(node) = doc
            .nodes
            .iter()
            .find(|n| n.path == format!("{path}[{}]", out.len()))
        {
            out.push(node.at);
        }
        out
    }

    /// The node at `path`.
    pub(crate) fn node(&self, document: usize, path: &str) -> Option<&Node> {
        self.documents
            .get(document)?
            .nodes
            .iter()
            .find(|n| n.path == path)
    }

    /// The node whose key or value starts at `position`.
    pub(crate) fn node_at(&self, position: Position) -> Option<&Node> {
        self.documents
            .iter()
            .flat_map(|d| &d.nodes)
            .find(|n| n.at == position || n.value == Some(position))
    }

    /// Where the value of `key` stands in the mapping whose key (or
    /// first key) is at `position` — another key of that mapping, not the
    /// one there.
    pub(crate) fn sibling(&self, position: Position, key: &str) -> Option<Position> {
        for document in &self.documents {
            if let Some(node) = document.nodes.iter().find(|n| n.at == position) {
                let parent = node.path.rsplit_once('.').map_or("", |(p, _)| p);
                let path = join(parent, key);
                return document
                    .nodes
                    .iter()
                    .find(|n| n.path == path && n.path != node.path)
                    .map(|n| n.value.unwrap_or(n.at));
            }
        }
        None
    }

    /// The first scalar value written as `scalar` at or after `from`.
    pub fn scalar_after(&self, from: Position, scalar: &str) -> Option<Position> {
        self.documents
            .iter()
            .flat_map(|d| &d.nodes)
            .filter(|n| n.scalar.as_deref() == Some(scalar))
            .filter_map(|n| n.value)
            .find(|&at| at >= from)
    }

    /// The lines the node at `path` spans: from its key to the line
    /// before whatever comes after it (a sibling, or an ancestor's sibling).
    pub fn span(&self, document: usize, path: &str) -> Option<(Position, usize)> {
        let doc = self.documents.get(document)?;
        let index = doc.nodes.iter().position(|n| n.path == path)?;
        let start = doc.nodes[index].at;
        let nested = |other: &str| {
            other
                .strip_prefix(path)
                .is_some_and(|rest| rest.starts_with(['.', '[']))
        };
        let end = doc.nodes[index + 1..]
            .iter()
            .find(|n| !nested(&n.path) && n.at.line > start.line)
            .map_or_else(
                || {
                    self.documents
                        .get(document + 1)
                        .and_then(|d| d.start)
                        .map_or(self.lines, |s| s.line.saturating_sub(1))
                },
                |n| n.at.line - 1,
            );
        Some((start, end.max(start.line)))
    }

    /// Where `needle` is first written within the node at `path` (at or
    /// after its key, before whatever follows it) in `text`, the text the
    /// map was made of.
    pub fn find_in(
        &self,
        text: &str,
        document: usize,
        path: &str,
        needle: &str,
    ) -> Option<Position> {
        let (from, last) = self.span(document, path)?;
        for (index, line) in text
            .lines()
            .enumerate()
            .skip(from.line.saturating_sub(1))
            .take(last + 1 - from.line)
        {
            let start = if index + 1 == from.line {
                char_byte(line, from.column)
            } else {
                0
            };
            if let Some(at) = line.get(start..).and_then(|rest| rest.find(needle)) {
                return Some(Position {
                    line: index + 1,
                    column: line[..start + at].chars().count() + 1,
                });
            }
        }
        None
    }
}

/// The byte offset of 1-based character column `column` in `line`.
fn char_byte(line: &str, column: usize) -> usize {
    line.char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line.len(), |(at, _)| at)
}

/// A block collection being read.
struct Frame {
    /// Its column (0-based bytes; the layout is spaces).
    indent: usize,
    /// A sequence (with the next index) or a mapping.
    items: Option<usize>,
    /// The path of the collection.
    path: String,
    /// The path of its last key or item, which a nested block belongs to.
    last: Option<String>,
}

struct Scanner<'t> {
    lines: &'t [&'t str],
    documents: Vec<Document>,
    current: Document,
    stack: Vec<Frame>,
}

impl Scanner<'_> {
    fn run(&mut self) {
        let mut index = 0;
        while index < self.lines.len() {
            let line = self.lines[index];
            if line.starts_with("---") || line.starts_with("...") {
                self.end_document();
                if let Some(rest) = line.strip_prefix("---") {
                    let rest = rest.trim_start();
                    if !rest.is_empty() && !rest.starts_with('#') {
                        let column = line.len() - rest.len();
                        index = self.block_line(index, column, column);
                        continue;
                    }
                }
                index += 1;
                continue;
            }
            let indent = line.len() - line.trim_start_matches(' ').len();
            let content = &line[indent..];
            if content.trim().is_empty() || content.starts_with('#') || content.starts_with('%') {
                index += 1;
                continue;
            }
            index = self.block_line(index, indent, indent);
        }
        self.end_document();
    }

    fn end_document(&mut self) {
        let done = std::mem::take(&mut self.current);
        if done.start.is_some() {
            self.documents.push(done);
        }
        self.stack.clear();
    }

    fn record(
        &mut self,
        path: String,
        at: Position,
        value: Option<Position>,
        scalar: Option<String>,
    ) {
        self.current.start.get_or_insert(at);
        self.current.nodes.push(Node {
            path,
            at,
            value,
            scalar,
        });
    }

    /// Reads the content of line `index` from byte `column`, a block node
    /// at indentation `indent`; the next line to read.
    fn block_line(&mut self, index: usize, indent: usize, column: usize) -> usize {
        let line = self.lines[index];
        let content = &line[column..];
        let at = position(line, index, column);
        let is_item = content == "-" || content.starts_with("- ") || content.starts_with("-\t");
        if is_item {
            let path = self.item_frame(indent);
            let rest = &content[1..];
            let skip = rest.len() - rest.trim_start().len();
            let next = column + 1 + skip;
            let rest = rest.trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                self.record(path, at, None, None);
                return index + 1;
            }
            if rest.starts_with("- ") || rest == "-" || key_end(rest).is_some() {
                self.record(path, at, None, None);
                return self.block_line(index, next, next);
            }
            return self.value(index, next, path, at, indent);
        }
        if let Some(colon) = key_end(content) {
            let key = unquote(content[..colon].trim_end());
            let path = self.key_frame(indent, &key);
            let after = &content[colon + 1..];
            let skip = after.len() - after.trim_start().len();
            let rest = after.trim_start();
            if rest.is_empty() || rest.starts_with('#') {
                self.record(path, at, None, None);
                return index + 1;
            }
            return self.value(index, column + colon + 1 + skip, path, at, indent);
        }
        // A scalar alone on its line: a continuation, or a document that
        // is one value. Nothing to place.
        self.current.start.get_or_insert(at);
        index + 1
    }

    /// The value of `path` (key or item at `at`) starting at byte `column`
    /// of line `index`; the next line to read.
    fn value(
        &mut self,
        index: usize,
        column: usize,
        path: String,
        at: Position,
        indent: usize,
    ) -> usize {
        let line = self.lines[index];
        // A tagged value (`!gt 5`) starts at its tag, and its scalar is
        // written with it, as messages quote it.
        let value_at = position(line, index, column);
        let start = column;
        let (column, rest) = skip_properties(column, &line[column..]);
        let tag = line[start..column].trim_end();
        let tagged = |text: String| {
            if tag.is_empty() {
                text
            } else {
                format!("{tag} {text}")
            }
        };
        match rest.chars().next() {
            Some('{' | '[') => {
                self.record(path.clone(), at, Some(value_at), None);
                let mut cursor = Cursor {
                    lines: self.lines,
                    line: index,
                    byte: column,
                };
                self.flow(&mut cursor, &path);
                cursor.line + 1
            }
            Some('|' | '>') => {
                self.record(path, at, Some(value_at), None);
                let mut next = index + 1;
                while next < self.lines.len() {
                    let l = self.lines[next];
                    let i = l.len() - l.trim_start_matches(' ').len();
                    if !l.trim().is_empty() && i <= indent {
                        break;
                    }
                    next += 1;
                }
                next
            }
            Some(quote @ ('"' | '\'')) => {
                let mut cursor = Cursor {
                    lines: self.lines,
                    line: index,
                    byte: column,
                };
                let text = cursor.quoted(quote);
                self.record(path, at, Some(value_at), Some(tagged(text)));
                cursor.line + 1
            }
            _ => {
                let text = strip_comment(rest).trim_end().to_string();
                self.record(path, at, Some(value_at), Some(tagged(text)));
                index + 1
            }
        }
    }

    /// The path of a new item of the block sequence at `indent`.
    fn item_frame(&mut self, indent: usize) -> String {
        while self.stack.last().is_some_and(|f| f.indent > indent) {
            self.stack.pop();
        }
        let frame = self.frame(indent, true);
        let n = frame.items.unwrap_or(0);
        frame.items = Some(n + 1);
        let path = format!("{}[{n}]", frame.path);
        frame.last = Some(path.clone());
        path
    }

    /// The path of `key` in the block mapping at `indent`.
    fn key_frame(&mut self, indent: usize, key: &str) -> String {
        while self
            .stack
            .last()
            .is_some_and(|f| f.indent > indent || (f.indent == indent && f.items.is_some()))
        {
            self.stack.pop();
        }
        let frame = self.frame(indent, false);
        let path = join(&frame.path, key);
        frame.last = Some(path.clone());
        path
    }

    /// The innermost frame if it is a sequence (`items`) or a mapping at
    /// `indent`, else a new one under the last path recorded.
    fn frame(&mut self, indent: usize, items: bool) -> &mut Frame {
        let reuse = self
            .stack
            .last()
            .is_some_and(|f| f.indent == indent && f.items.is_some() == items);
        if !reuse {
            let parent = self
                .stack
                .last()
                .and_then(|f| f.last.clone())
                .unwrap_or_default();
            self.stack.push(Frame {
                indent,
                items: items.then_some(0),
                path: parent,
                last: None,
            });
        }
        self.stack.last_mut().expect("pushed")
    }

    /// A flow collection at the cursor (on its `{` or `[`), under `path`.
    fn flow(&mut self, cursor: &mut Cursor, path: &str) {
        let Some(open) = cursor.peek() else { return };
        cursor.bump();
        let close = if open == '{' { '}' } else { ']' };
        let mut n = 0;
        loop {
            if !cursor.skip_space() {
                return;
            }
            // Every turn reads at least a character: what a flow
            // collection cannot hold (a `:` out of place) is stepped over.
            let before = (cursor.line, cursor.byte);
            match cursor.peek() {
                None => return,
                Some(c) if c == close => {
                    cursor.bump();
                    return;
                }
                Some(',') => {
                    cursor.bump();
                    continue;
                }
                _ => {}
            }
            let at = cursor.position();
            if open == '[' {
                let item = format!("{path}[{n}]");
                n += 1;
                self.flow_value(cursor, item, at, None);
            } else {
                let key = cursor.flow_scalar();
                cursor.skip_space();
                let child = join(path, &unquote(&key));
                if cursor.peek() == Some(':') {
                    cursor.bump();
                    cursor.skip_space();
                    let value_at = cursor.position();
                    self.flow_value(cursor, child, at, Some(value_at));
                } else {
                    self.record(child, at, None, None);
                }
            }
            if (cursor.line, cursor.byte) == before {
                cursor.bump();
            }
        }
    }

    /// A value in a flow collection.
    fn flow_value(
        &mut self,
        cursor: &mut Cursor,
        path: String,
        at: Position,
        value: Option<Position>,
    ) {
        let value_at = value.unwrap_or(at);
        let before = (cursor.line, cursor.byte);
        cursor.skip_properties();
        let tag = if cursor.line == before.0 {
            self.lines[before.0][before.1..cursor.byte]
                .trim_end()
                .to_string()
        } else {
            String::new()
        };
        match cursor.peek() {
            Some('{' | '[') => {
                self.record(path.clone(), at, Some(value_at), None);
                self.flow(cursor, &path);
            }
            Some(',' | '}' | ']') | None if !tag.is_empty() => {
                self.record(path, at, Some(value_at), Some(tag));
            }
            Some(',' | '}' | ']') | None => self.record(path, at, None, None),
            Some(_) => {
                let text = unquote(&cursor.flow_scalar());
                let text = if tag.is_empty() {
                    text
                } else {
                    format!("{tag} {text}")
                };
                self.record(path, at, Some(value_at), Some(text));
            }
        }
    }
}

/// A reading place in the lines, for flow collections and quoted
/// scalars that may go on over several lines.
struct Cursor<'t> {
    lines: &'t [&'t str],
    line: usize,
    byte: usize,
}

impl<'t> Cursor<'t> {
    fn rest(&self) -> &'t str {
        self.lines
            .get(self.line)
            .map_or("", |l| &l[self.byte.min(l.len())..])
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) {
        if let Some(c) = self.peek() {
            self.byte += c.len_utf8();
        }
    }

    fn position(&self) -> Position {
        position(
            self.lines.get(self.line).copied().unwrap_or(""),
            self.line,
            self.byte,
        )
    }

    /// Past spaces, line ends and comments; false at the end of the text.
    fn skip_space(&mut self) -> bool {
        loop {
            let rest = self.rest();
            let trimmed = rest.trim_start();
            self.byte += rest.len() - trimmed.len();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                if self.line + 1 >= self.lines.len() {
                    self.byte = self.lines.get(self.line).map_or(0, |l| l.len());
                    return false;
                }
                self.line += 1;
                self.byte = 0;
                continue;
            }
            return true;
        }
    }

    /// Past a tag (`!regex`) or anchor (`&a`) and the spaces after it.
    fn skip_properties(&mut self) {
        while matches!(self.peek(), Some('!' | '&')) {
            while self.peek().is_some_and(|c| !c.is_whitespace()) {
                self.bump();
            }
            let rest = self.rest();
            self.byte += rest.len() - rest.trim_start().len();
        }
    }

    /// A scalar in a flow collection, as written (quotes kept).
    fn flow_scalar(&mut self) -> String {
        match self.peek() {
            Some(quote @ ('"' | '\'')) => {
                let text = self.quoted(quote);
                format!("{quote}{text}{quote}")
            }
            _ => {
                let rest = self.rest();
                let mut end = rest.len();
                for (at, c) in rest.char_indices() {
                    let next = rest[at + c.len_utf8()..].chars().next();
                    if matches!(c, ',' | '}' | ']')
                        || (c == ':' && next.is_none_or(|n| n.is_whitespace() || ",}]".contains(n)))
                        || (c == '#' && rest[..at].ends_with(' '))
                    {
                        end = at;
                        break;
                    }
                }
                let text = rest[..end].trim_end().to_string();
                self.byte += end;
                text
            }
        }
    }

    /// A quoted scalar at the cursor (on its quote), its text without
    /// the quotes, escapes left as written; the cursor after it.
    fn quoted(&mut self, quote: char) -> String {
        self.bump();
        let mut text = String::new();
        loop {
            let rest = self.rest();
            let mut chars = rest.char_indices().peekable();
            let mut closed = None;
            while let Some((at, c)) = chars.next() {
                if quote == '"' && c == '\\' {
                    chars.next();
                } else if c == quote {
                    if quote == '\'' && chars.peek().is_some_and(|&(_, n)| n == '\'') {
                        chars.next();
                    } else {
                        closed = Some(at);
                        break;
                    }
                }
            }
            match closed {
                Some(at) => {
                    text.push_str(&rest[..at]);
                    self.byte += at + 1;
                    return text;
                }
                None => {
                    text.push_str(rest);
                    if self.line + 1 >= self.lines.len() {
                        self.byte += rest.len();
                        return text;
                    }
                    text.push(' ');
                    self.line += 1;
                    self.byte = 0;
                }
            }
        }
    }
}

/// The 1-based position of byte `byte` of line `index`.
fn position(line: &str, index: usize, byte: usize) -> Position {
    Position {
        line: index + 1,
        column: line[..byte.min(line.len())].chars().count() + 1,
    }
}

/// `parent.key` (or `key` at the top).
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The byte of the `:` that ends a block key at the start of `content`,
/// if it is a `key: value` line.
fn key_end(content: &str) -> Option<usize> {
    let first = content.chars().next()?;
    if matches!(
        first,
        '{' | '[' | '|' | '>' | '#' | '&' | '*' | '!' | '%' | '@' | '`'
    ) {
        return None;
    }
    let mut search = 0;
    if matches!(first, '"' | '\'') {
        let mut cursor = Cursor {
            lines: &[content],
            line: 0,
            byte: 0,
        };
        cursor.quoted(first);
        search = cursor.byte;
        let after = content[search..].trim_start();
        search = content.len() - after.len();
        return after.starts_with(':').then_some(search).filter(|&at| {
            content[at + 1..].is_empty() || content[at + 1..].starts_with([' ', '\t'])
        });
    }
    while let Some(found) = content[search..].find(':') {
        let at = search + found;
        let after = &content[at + 1..];
        if after.is_empty() || after.starts_with([' ', '\t']) {
            if content[..at].contains(" #") {
                return None;
            }
            return Some(at);
        }
        search = at + 1;
    }
    None
}

/// A key or scalar without its quotes.
fn unquote(text: &str) -> String {
    let trimmed = text.trim();
    for quote in ['"', '\''] {
        if let Some(inner) = trimmed
            .strip_prefix(quote)
            .and_then(|t| t.strip_suffix(quote))
        {
            return inner.to_string();
        }
    }
    trimmed.to_string()
}

/// A plain scalar without a trailing comment.
fn strip_comment(text: &str) -> &str {
    match text.find(" #") {
        Some(at) => &text[..at],
        None => text,
    }
}

/// Past a tag or anchor at the start of a value: the new column and rest.
fn skip_properties(column: usize, rest: &str) -> (usize, &str) {
    let mut column = column;
    let mut rest = rest;
    while rest.starts_with(['!', '&']) {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let after = rest[end..].trim_start();
        // A tag alone (`!regex` with the value on the next line) stays.
        if after.is_empty() {
            break;
        }
        column += rest.len() - after.len();
        rest = after;
    }
    (column, rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Option<Position> {
        Some(Position { line, column })
    }

    #[test]
    fn block_keys_items_and_values_are_placed() {
        let text = "name: a\nsteps:\n  - send: { to: \"+1\", channel: sms }\n    expect:\n      outcome: sent # ok\n  # note\n  - verify:\n    code: !regex '[0-9]+'\n---\nname: b\nsteps:\n- wait: 1s\n- send: {}\n";
        let map = SourceMap::of(text);
        assert_eq!(map.key(0, "name"), at(1, 1));
        assert_eq!(
            map.items(0, "steps"),
            [at(3, 3).unwrap(), at(7, 3).unwrap()]
        );
        assert_eq!(map.key(0, "steps[0].send"), at(3, 5));
        assert_eq!(map.value(0, "steps[0].send.to"), at(3, 17));
        assert_eq!(map.value(0, "steps[0].send.channel"), at(3, 32));
        assert_eq!(map.value(0, "steps[0].expect.outcome"), at(5, 16));
        assert_eq!(
            map.node(0, "steps[0].expect.outcome")
                .unwrap()
                .scalar
                .as_deref(),
            Some("sent")
        );
        assert_eq!(map.value(0, "steps[1].code"), at(8, 11));
        assert_eq!(
            map.node(0, "steps[1].code").unwrap().scalar.as_deref(),
            Some("!regex [0-9]+")
        );
        assert_eq!(
            map.document_start(1),
            Position {
                line: 10,
                column: 1
            }
        );
        assert_eq!(
            map.items(1, "steps"),
            [at(12, 1).unwrap(), at(13, 1).unwrap()]
        );
        assert_eq!(
            map.scalar_after(Position { line: 1, column: 1 }, "1s"),
            at(12, 9)
        );
    }

    #[test]
    fn flow_collections_over_several_lines_and_nested_sequences() {
        let text = "steps: [\n  { wait: 1s },\n  { send: {to: x} }\n]\nlist:\n- - a\n  - b\n- c\nafter: \"q: x\"\n";
        let map = SourceMap::of(text);
        assert_eq!(
            map.items(0, "steps"),
            [at(2, 3).unwrap(), at(3, 3).unwrap()]
        );
        assert_eq!(map.value(0, "steps[1].send.to"), at(3, 16));
        assert_eq!(map.key(0, "list[0][1]"), at(7, 3));
        assert_eq!(map.key(0, "list[1]"), at(8, 1));
        assert_eq!(map.value(0, "after"), at(9, 8));
        assert_eq!(
            map.node(0, "after").unwrap().scalar.as_deref(),
            Some("q: x")
        );
    }

    /// Whatever the text — unclosed brackets and quotes, stray colons —
    /// the map is made in one pass and stays small.
    #[test]
    fn any_text_is_mapped_without_looping() {
        let parts = [
            "[", "]", "{", "}", ":", ": ", ",", "-", "- ", "\"", "'", "#", "a", "b: ", "\n", "  ",
            "|", ">", "!t ", "&a ", "---\n", "\\",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                text.push_str(parts[(seed % parts.len() as u64) as usize]);
            }
            let map = SourceMap::of(&text);
            let nodes: usize = map.documents.iter().map(|d| d.nodes.len()).sum();
            assert!(nodes <= text.len() + 1, "{text:?}: {nodes} nodes");
        }
        let map = SourceMap::of("dialect: [native\nbase_url: http://127.0.0.1:9\n");
        assert_eq!(map.key(0, "dialect"), at(1, 1));
    }

    #[test]
    fn block_scalars_are_stepped_over_and_spans_end_at_the_next_sibling() {
        let text = "a:\n  b: |\n    c: not a key\n  d: 1\ne: 2\n";
        let map = SourceMap::of(text);
        assert_eq!(map.key(0, "a.b.c"), None);
        assert_eq!(map.key(0, "a.d"), at(4, 3));
        assert_eq!(map.span(0, "a"), Some((Position { line: 1, column: 1 }, 4)));
        assert_eq!(map.find_in(text, 0, "a", "d:"), at(4, 3));
        assert_eq!(map.find_in(text, 0, "a", "e:"), None);
    }
}
