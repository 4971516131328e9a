//! The library side of `otpbench report merge|compare|html`: each takes
//! validated options and returns what it made ([`Merged`], [`Compared`],
//! the page's path) or a [`CommandError`], as data. An input that is
//! missing, not a report, or of another version names the file; the
//! command line (the `cli` module) prints, and picks the exit code
//! (2 for a bad input, 5 for a breached gate).

use std::fmt;
use std::path::{Path, PathBuf};

use crate::report::dir::{self, WriteError};
use crate::report::gate::{self, Gate};
use crate::report::json::ReportError;
use crate::report::merge::MergeError;
use crate::report::model::{GateResult, Report};
use crate::report::{compare as comparing, html as page, json, merge as merging};

/// `report merge`: combine reports of several generators or runs.
#[derive(Debug, Clone)]
pub struct MergeOptions {
    /// Reports: `report.json` files or run directories holding one.
    pub inputs: Vec<PathBuf>,
    /// Where the merged run directory goes.
    pub out: PathBuf,
    /// The merged run's directory name; `merged-<start>` without it.
    pub name: Option<String>,
    /// Gates evaluated on the merged report.
    pub gates: Vec<Gate>,
}

/// `report compare A B`.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    pub a: PathBuf,
    pub b: PathBuf,
    /// Gate B against A as a baseline: 0.1 allows 10% worse.
    pub max_regression: Option<f64>,
}

/// `report html`: (re)render a report's HTML page.
#[derive(Debug, Clone)]
pub struct HtmlOptions {
    pub input: PathBuf,
    /// Where to write; beside the report without it.
    pub out: Option<PathBuf>,
}

/// Why a report command made nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum CommandError {
    /// Nothing to work on (`report merge` with no input).
    NoInput,
    /// An input that is missing, not a report, or of another version.
    InvalidReport(ReportError),
    /// Reports that cannot be merged (different operations, versions…).
    Unmergeable(MergeError),
    /// The output could not be written.
    Write(WriteError),
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::NoInput => f.write_str("report merge needs at least one report"),
            CommandError::InvalidReport(e) => write!(f, "{e}"),
            CommandError::Unmergeable(e) => write!(f, "{e}"),
            CommandError::Write(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CommandError {}

/// What `report merge` wrote.
#[derive(Debug, Clone)]
pub struct Merged {
    /// How many reports went in.
    pub inputs: usize,
    /// The merged report, its gates evaluated.
    pub report: Report,
    /// The merged run directory.
    pub written: PathBuf,
}

/// What `report compare` found.
#[derive(Debug, Clone)]
pub struct Compared {
    /// The side-by-side table, as text.
    pub table: String,
    /// With a maximum regression: B gated against A.
    pub gates: Option<Vec<GateResult>>,
}

fn read_all(paths: &[PathBuf]) -> Result<Vec<(String, Report)>, CommandError> {
    paths
        .iter()
        .map(|path| {
            let report = json::read(path).map_err(CommandError::InvalidReport)?;
            Ok((json::report_file(path).display().to_string(), report))
        })
        .collect()
}

/// Merges the inputs, evaluates the gates on the merged report and
/// writes the merged run directory.
pub fn merge(options: &MergeOptions) -> Result<Merged, CommandError> {
    if options.inputs.is_empty() {
        return Err(CommandError::NoInput);
    }
    let inputs = read_all(&options.inputs)?;
    let mut merged = merging::merge(&inputs).map_err(CommandError::Unmergeable)?;
    merged.gates = gate::evaluate_all(&options.gates, &merged);
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| format!("merged-{}", dir::run_name(&merged)));
    let written = dir::write(&merged, &options.out, Some(&name)).map_err(CommandError::Write)?;
    Ok(Merged {
        inputs: inputs.len(),
        report: merged,
        written,
    })
}

/// The comparison table; with `max_regression`, B gated against A.
pub fn compare(options: &CompareOptions) -> Result<Compared, CommandError> {
    let mut reports = read_all(&[options.a.clone(), options.b.clone()])?.into_iter();
    let (Some((a_name, a)), Some((b_name, b))) = (reports.next(), reports.next()) else {
        unreachable!("two paths read into two reports")
    };
    let rows = comparing::compare(&a, &b);
    Ok(Compared {
        table: comparing::render(&rows, &a_name, &b_name),
        gates: options
            .max_regression
            .map(|max| gate::baseline_gates(&b, &a, max)),
    })
}

/// Writes the HTML page of a report; returns where.
pub fn html(options: &HtmlOptions) -> Result<PathBuf, CommandError> {
    let report = json::read(&options.input).map_err(CommandError::InvalidReport)?;
    let target = options.out.clone().unwrap_or_else(|| {
        json::report_file(&options.input)
            .parent()
            .unwrap_or(Path::new("."))
            .join(page::FILE_NAME)
    });
    dir::write_file(&target, &page::render(&report)).map_err(CommandError::Write)?;
    Ok(target)
}
