//! `report.json`: writing a [`Report`] and reading one back, with errors
//! that name the file and say what is wrong (not JSON, not a report, a
//! version this otpbench does not read, figures that contradict their
//! histograms).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::report::model::{OperationReport, Report, VERSION};

/// The file name of a report inside a run directory.
pub const FILE_NAME: &str = "report.json";

/// Why a report could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportError {
    /// The file could not be read.
    Io { origin: String, reason: String },
    /// Not JSON, or a field of the wrong shape.
    Json {
        origin: String,
        line: usize,
        column: usize,
        reason: String,
    },
    /// JSON, but not an otpbench report.
    NotAReport { origin: String, reason: String },
    /// A report of another format version.
    Version { origin: String, found: String },
    /// A report whose figures contradict each other.
    Inconsistent { origin: String, reason: String },
}

impl ReportError {
    /// The file the error is about.
    pub fn origin(&self) -> &str {
        match self {
            ReportError::Io { origin, .. }
            | ReportError::Json { origin, .. }
            | ReportError::NotAReport { origin, .. }
            | ReportError::Version { origin, .. }
            | ReportError::Inconsistent { origin, .. } => origin,
        }
    }
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Io { origin, reason } => write!(f, "{origin}: cannot read: {reason}"),
            ReportError::Json {
                origin,
                line,
                column,
                reason,
            } => write!(f, "{origin}:{line}:{column}: {reason}"),
            ReportError::NotAReport { origin, reason } => {
                write!(f, "{origin}: not an otpbench report: {reason}")
            }
            ReportError::Version { origin, found } => write!(
                f,
                "{origin}: report version {found} is not supported (this otpbench reads version {VERSION})"
            ),
            ReportError::Inconsistent { origin, reason } => {
                write!(f, "{origin}: inconsistent report: {reason}")
            }
        }
    }
}

impl std::error::Error for ReportError {}

/// The report as pretty-printed JSON, ending in a newline.
pub fn to_json(report: &Report) -> String {
    let mut text = serde_json::to_string_pretty(report).expect("a report serialises");
    text.push('\n');
    text
}

/// Reads a report from JSON text; `origin` names it in errors.
pub fn from_json(text: &str, origin: &str) -> Result<Report, ReportError> {
    let json_error = |e: serde_json::Error| ReportError::Json {
        origin: origin.to_string(),
        line: e.line(),
        column: e.column(),
        reason: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(json_error)?;
    let not_a_report = |reason: &str| ReportError::NotAReport {
        origin: origin.to_string(),
        reason: reason.to_string(),
    };
    let object = value
        .as_object()
        .ok_or_else(|| not_a_report("the top level is not a JSON object"))?;
    let version = object
        .get("version")
        .ok_or_else(|| not_a_report("no \"version\" field"))?;
    if version.as_u64() != Some(u64::from(VERSION)) {
        return Err(ReportError::Version {
            origin: origin.to_string(),
            found: version.to_string(),
        });
    }
    // Parse the text again (not the value) so shape errors keep their line.
    let report: Report = serde_json::from_str(text).map_err(json_error)?;
    check(&report).map_err(|reason| ReportError::Inconsistent {
        origin: origin.to_string(),
        reason,
    })?;
    Ok(report)
}

/// Reads `path`: a `report.json`, or a run directory holding one.
pub fn read(path: &Path) -> Result<Report, ReportError> {
    let file = report_file(path);
    let origin = file.display().to_string();
    let text = std::fs::read_to_string(&file).map_err(|e| ReportError::Io {
        origin: origin.clone(),
        reason: e.to_string(),
    })?;
    from_json(&text, &origin)
}

/// `path/report.json` when `path` is a directory, else `path`.
pub fn report_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join(FILE_NAME)
    } else {
        path.to_path_buf()
    }
}

/// Figures a merge or a gate would trust: counts that match their
/// histograms and outcomes, totals that match the operations.
fn check(report: &Report) -> Result<(), String> {
    check_operations("operations", &report.operations)?;
    let requests: u64 = report.operations.values().map(|o| o.count).sum();
    if requests != report.requests {
        return Err(format!(
            "requests is {} but the operations count {requests}",
            report.requests
        ));
    }
    if let Some(reference) = &report.reference {
        check_operations("reference.operations", &reference.operations)?;
    }
    if !(report.duration_s.is_finite() && report.duration_s >= 0.0) {
        return Err(format!("duration_s is {}", report.duration_s));
    }
    Ok(())
}

fn check_operations(
    path: &str,
    operations: &std::collections::BTreeMap<String, OperationReport>,
) -> Result<(), String> {
    for (name, op) in operations {
        crate::report::model::tally::check_operation_name(name)
            .map_err(|e| format!("{path}: {e}"))?;
        let at = format!("{path}.{name}");
        if op.histogram.0.len() != op.count {
            return Err(format!(
                "{at}: count is {} but its histogram holds {}",
                op.count,
                op.histogram.0.len()
            ));
        }
        if op.service_time_histogram.0.len() != op.count {
            return Err(format!(
                "{at}: count is {} but its service_time_histogram holds {}",
                op.count,
                op.service_time_histogram.0.len()
            ));
        }
        let outcomes: u64 = op.outcomes.values().sum();
        if outcomes != op.count {
            return Err(format!(
                "{at}: count is {} but its outcomes add up to {outcomes}",
                op.count
            ));
        }
        if op.errors > op.count {
            return Err(format!("{at}: more errors ({}) than requests", op.errors));
        }
    }
    Ok(())
}
