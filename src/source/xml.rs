//! Text escaped for XML and HTML (JUnit reports, the HTML pages and the
//! Markdown summaries): the five entities, and the control characters XML
//! 1.0 does not allow written as `\uXXXX` (on a page, a body's ESC reads
//! `\u001b`; a backslash is left as it is).

use std::fmt::Write as _;

/// `text` safe inside an XML attribute or element.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 allows no other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn entities_and_control_characters_are_escaped() {
        assert_eq!(
            super::escape("a<b & \"c\"\u{1}'"),
            "a&lt;b &amp; &quot;c&quot;\\u0001&apos;"
        );
    }
}
