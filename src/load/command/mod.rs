//! `otpbench load` and `otpbench capacity` as library commands: validated
//! options in ([`LoadOptions`], [`CapacityOptions`]), an outcome or a
//! [`LoadError`] out, as data. A command opens what it loads once (a
//! session: the target or URL, its probe, Ctrl-C, one phase at a time),
//! runs its phases (`crate::load::phase`), builds the report, evaluates
//! the gates and writes `reports/<run>/`.
//!
//! Live progress and notes go to the stream the caller gives; the summary,
//! the verdicts and the exit code are the caller's (the `cli` module),
//! made from what these return. One file per command: `load` and
//! `capacity`, both over the shared `session`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::report::dir;
use crate::report::json::ReportError;
use crate::report::model::Report;
use crate::source::FileError;
use crate::vars::Vars;

mod capacity;
mod load;
mod session;

pub use capacity::{CapacityEvent, CapacityOptions, CapacityOutcome};
pub use load::{LoadOptions, LoadOutcome, Measured, Verdict};
pub use session::{SessionOptions, WorkloadChoice, MAX_RATE_PER_WORKER};

/// Why a `load` or `capacity` command did not run to a report. Each kind
/// has its documented exit code, chosen by the command line (DESIGN.md §7).
#[derive(Debug)]
pub enum LoadError {
    /// A workload, target or variables file that cannot be used.
    InvalidFile(FileError),
    /// The `--baseline` report cannot be read.
    Baseline(ReportError),
    /// Flags (or file keys) that do not make a run.
    Usage(String),
    /// What is loaded could not be made ready: the runtime, the target,
    /// the URL.
    Setup(String),
    /// The target (or the reference URL) did not answer its probe.
    Unreachable(String),
    /// A phase could not run (a worker could not open its workload).
    PhaseFailed(String),
    /// The report could not be masked or written.
    Write(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::InvalidFile(e) => write!(f, "{e}"),
            LoadError::Baseline(e) => write!(f, "--baseline: {e}"),
            LoadError::Usage(why)
            | LoadError::Setup(why)
            | LoadError::Unreachable(why)
            | LoadError::PhaseFailed(why)
            | LoadError::Write(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for LoadError {}

impl From<FileError> for LoadError {
    fn from(error: FileError) -> LoadError {
        LoadError::InvalidFile(error)
    }
}

/// `report` with every secret in its text (the command line, the target,
/// outcome names, messages) masked; its histograms are left whole.
fn masked(report: Report, vars: &Vars) -> Result<Report, LoadError> {
    if !vars.has_secrets() {
        return Ok(report);
    }
    let masking = |e: serde_json::Error| LoadError::Write(format!("masking the report: {e}"));
    let mut value = serde_json::to_value(&report).map_err(masking)?;
    vars.mask_json(&mut value, &["histogram", "service_time_histogram"]);
    serde_json::from_value(value).map_err(masking)
}

/// Writes the run directory: `dir` itself, or `reports/<start time>/`.
fn write(report: &Report, dir: Option<&Path>) -> Result<PathBuf, LoadError> {
    let written = match dir {
        Some(dir) => {
            let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("run");
            let base = dir.parent().filter(|p| !p.as_os_str().is_empty());
            dir::write(report, base.unwrap_or(Path::new(".")), Some(name))
        }
        None => dir::write(report, Path::new("reports"), None),
    };
    written.map_err(|e| LoadError::Write(e.to_string()))
}
