//! The one way otpbench shows a place in a file: `file:line:col`, the
//! source line (an excerpt of a long one) in a gutter as wide as the line
//! number, a caret under the column, and notes such as a hint. File
//! errors ([`super::FileError::render`]), scenario failures and gate
//! expressions all render through here, so they look alike.

use super::Position;

/// The most of a source line a snippet shows.
const EXCERPT_CHARS: usize = 120;

/// The gutter's padding for line `line`: as wide as its number.
pub fn pad(line: usize) -> String {
    " ".repeat(line.to_string().len())
}

/// The source line at `position` with a caret under its column, in the
/// gutter (`  |\n3 | line\n  |     ^`), without a line end.
pub fn excerpt_block(line: &str, position: Position) -> String {
    let (shown, column) = excerpt(line, position.column);
    let number = position.line.to_string();
    let pad = pad(position.line);
    let caret = " ".repeat(column.saturating_sub(1));
    format!("{pad} |\n{number} | {shown}\n{pad} | {caret}^")
}

/// The compiler-style rendering of a problem at `position` of `text`
/// (the file's contents, named by `file`): `file:line:col: message`, the
/// line with a caret, and `= hint: …` when there is one. Without a
/// position, or when `text` has no such line, only the first line.
pub fn render_at(
    file: &str,
    text: &str,
    position: Option<Position>,
    message: &str,
    hint: Option<&str>,
) -> String {
    let line = position.and_then(|p| text.lines().nth(p.line.saturating_sub(1)));
    render_line(file, line, position, message, hint)
}

/// [`render_at`] with the source line already at hand.
pub(crate) fn render_line(
    file: &str,
    line: Option<&str>,
    position: Option<Position>,
    message: &str,
    hint: Option<&str>,
) -> String {
    let mut out = format!("{}: {message}", place(file, position));
    if let (Some(line), Some(position)) = (line, position) {
        out.push('\n');
        out.push_str(&excerpt_block(line, position));
    }
    if let Some(hint) = hint {
        out.push_str(&format!("\n  = hint: {hint}"));
    }
    out
}

/// A one-line text (a gate expression, a flag's value) with a caret
/// under 1-based character `column`, each line indented by two spaces.
pub fn under(text: &str, column: usize) -> String {
    let (shown, column) = excerpt(text, column);
    format!("  {shown}\n  {}^", " ".repeat(column.saturating_sub(1)))
}

/// `file:line:col` (or just the file).
pub fn place(file: &str, position: Option<Position>) -> String {
    match position {
        Some(p) => format!("{file}:{}:{}", p.line, p.column),
        None => file.to_string(),
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_shown_with_its_line_a_caret_and_a_hint() {
        let text = "a: 1\nsteps:\n    expext: y\n";
        let shown = render_at(
            "s.yaml",
            text,
            Some(Position { line: 3, column: 5 }),
            "unknown field `expext`",
            Some("did you mean `expect`?"),
        );
        assert_eq!(
            shown,
            "s.yaml:3:5: unknown field `expext`\n  |\n3 |     expext: y\n  |     ^\n  = hint: did you mean `expect`?"
        );
        assert_eq!(
            render_at("s.yaml", text, None, "gone", None),
            "s.yaml: gone"
        );
    }

    #[test]
    fn long_lines_are_cut_around_the_column() {
        let line = format!("{}X{}", "a".repeat(300), "b".repeat(300));
        let block = excerpt_block(
            &line,
            Position {
                line: 12,
                column: 301,
            },
        );
        let shown = block.lines().nth(1).unwrap();
        let caret = block.lines().nth(2).unwrap();
        assert!(shown.chars().count() < 140, "{shown}");
        let x = shown.chars().position(|c| c == 'X').unwrap();
        assert_eq!(caret.chars().position(|c| c == '^').unwrap(), x);
        assert_eq!(under("abc", 2), "  abc\n   ^");
    }
}
