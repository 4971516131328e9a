//! File-pair tests, in the manner of `tests/scenarios/`: the binary run
//! from the crate root on each file of a folder, its output compared with
//! the file beside it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `otpbench`, run from the crate root (so paths in its output are the
/// ones [`relative`] gives).
pub fn at_root() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_otpbench"));
    command.current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// The files of `dir` (from the crate root) ending in `.extension`, in
/// order; at least one.
pub fn files(dir: &str, extension: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no {extension} files in {}",
        dir.display()
    );
    files
}

/// The path as the binary, run from the crate root, names it.
pub fn relative(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap()
        .display()
        .to_string()
}

/// The file beside `file` with `extension`: what is expected of it.
pub fn expected(file: &Path, extension: &str) -> String {
    let path = file.with_extension(extension);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
