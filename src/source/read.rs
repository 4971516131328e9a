//! Reading the files otpbench is given: a regular file of at most
//! [`MAX_FILE_BYTES`], UTF-8 (a leading byte-order mark dropped), nested at
//! most [`MAX_DEPTH`] deep. Each breach is a positioned [`FileError`] found
//! before parsing, so a hostile file costs milliseconds, not minutes.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

use super::{FileError, Position};

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
                                if let Some(at) = beyond(depth, index, i) {
                                    return Some(at);
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
                                    let depth = indents.len() + entries + flow;
                                    if let Some(at) = beyond(depth, index, i) {
                                        return Some(at);
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
        if let Some(at) = beyond(depth, index, indent) {
            return Some(at);
        }
    }
    None
}

/// Line `index` (from 0) at byte `column` (from 0), if `depth` is past
/// [`MAX_DEPTH`].
fn beyond(depth: usize, index: usize, column: usize) -> Option<Position> {
    (depth > MAX_DEPTH).then_some(Position {
        line: index + 1,
        column: column + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
