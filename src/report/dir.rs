//! Writing a run's report directory, `reports/<run>/`: `report.json`,
//! one `<op>.hgrm` (corrected latency) and `<op>.service.hgrm`
//! (uncorrected service time) per operation, `report.html` and
//! `summary.md`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::report::model::Report;
use crate::report::{hgrm, html, json, markdown};

/// Why a report directory could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError {
    pub path: String,
    pub reason: String,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: cannot write: {}", self.path, self.reason)
    }
}

impl std::error::Error for WriteError {}

/// A run name from the report's start: `2024-05-01T12-00-00Z` (colons
/// make poor directory names).
pub fn run_name(report: &Report) -> String {
    let stamp = report
        .run
        .started_at
        .split('.')
        .next()
        .unwrap_or_default()
        .trim_end_matches('Z');
    let name: String = stamp
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == 'T' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.is_empty() {
        "run".to_string()
    } else {
        format!("{name}Z")
    }
}

/// Writes every rendering of `report` into `base/<run>/` and returns that
/// directory. Without a `run` name one is made from the start time, with
/// `-2`, `-3` … appended if that directory exists; a given name is
/// written into even if it exists.
pub fn write(report: &Report, base: &Path, run: Option<&str>) -> Result<PathBuf, WriteError> {
    let dir = match run {
        Some(name) => base.join(name),
        None => {
            let name = run_name(report);
            let mut dir = base.join(&name);
            let mut n = 2;
            while dir.exists() {
                dir = base.join(format!("{name}-{n}"));
                n += 1;
            }
            dir
        }
    };
    std::fs::create_dir_all(&dir).map_err(|e| WriteError {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    write_file(&dir.join(json::FILE_NAME), &json::to_json(report))?;
    for (name, op) in &report.operations {
        write_file(
            &dir.join(format!("{name}.hgrm")),
            &hgrm::render(&op.histogram.0),
        )?;
        write_file(
            &dir.join(format!("{name}.service.hgrm")),
            &hgrm::render(&op.service_time_histogram.0),
        )?;
    }
    write_file(&dir.join(html::FILE_NAME), &html::render(report))?;
    write_file(&dir.join("summary.md"), &markdown::render(report))?;
    Ok(dir)
}

/// Writes one file, naming it in the error.
pub(crate) fn write_file(path: &Path, text: &str) -> Result<(), WriteError> {
    std::fs::write(path, text).map_err(|e| WriteError {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}
