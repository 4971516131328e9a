//! The library side of `otpbench report merge|compare|html`: each takes
//! validated options and two output streams, and returns the process exit
//! code ([`crate::cli::exit`]). An input that is missing, not a report, or
//! of another version is exit 2 with a message naming the file; a breached
//! gate is exit 5. The clap definitions are in `crate::cli::report`.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::cli::exit;
use crate::report::gate::{self, Gate};
use crate::report::model::{GateResult, Report};
use crate::report::{compare as comparing, dir, html as page, json, merge as merging};

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

fn read_all(paths: &[PathBuf], err: &mut dyn Write) -> Result<Vec<(String, Report)>, i32> {
    paths
        .iter()
        .map(|path| match json::read(path) {
            Ok(report) => Ok((json::report_file(path).display().to_string(), report)),
            Err(e) => {
                let _ = writeln!(err, "error: {e}");
                Err(exit::INVALID_FILE)
            }
        })
        .collect()
}

/// Merges the inputs, writes the merged run directory, prints where, and
/// evaluates the gates on the merged report.
pub fn merge(options: &MergeOptions, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if options.inputs.is_empty() {
        let _ = writeln!(err, "error: report merge needs at least one report");
        return exit::USAGE;
    }
    let inputs = match read_all(&options.inputs, err) {
        Ok(inputs) => inputs,
        Err(code) => return code,
    };
    let mut merged = match merging::merge(&inputs) {
        Ok(merged) => merged,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return exit::INVALID_FILE;
        }
    };
    merged.gates = gate::evaluate_all(&options.gates, &merged);
    let name = options
        .name
        .clone()
        .unwrap_or_else(|| format!("merged-{}", dir::run_name(&merged)));
    let written = match dir::write(&merged, &options.out, Some(&name)) {
        Ok(written) => written,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return exit::USAGE;
        }
    };
    let _ = writeln!(
        out,
        "merged {} reports: {} requests in {:.1}s ({:.1}/s) -> {}",
        inputs.len(),
        merged.requests,
        merged.duration_s,
        merged.throughput_rps,
        written.display()
    );
    report_gates(&merged.gates, out)
}

/// Prints the comparison table; with `max_regression`, gates B against A.
pub fn compare(options: &CompareOptions, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let reports = match read_all(&[options.a.clone(), options.b.clone()], err) {
        Ok(reports) => reports,
        Err(code) => return code,
    };
    let [(a_name, a), (b_name, b)] =
        <[(String, Report); 2]>::try_from(reports).expect("two paths read into two reports");
    let rows = comparing::compare(&a, &b);
    let _ = write!(out, "{}", comparing::render(&rows, &a_name, &b_name));
    match options.max_regression {
        Some(max) => {
            let _ = writeln!(out);
            report_gates(&gate::baseline_gates(&b, &a, max), out)
        }
        None => exit::OK,
    }
}

/// Writes the HTML page of a report and prints where.
pub fn html(options: &HtmlOptions, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let report = match json::read(&options.input) {
        Ok(report) => report,
        Err(e) => {
            let _ = writeln!(err, "error: {e}");
            return exit::INVALID_FILE;
        }
    };
    let target = options.out.clone().unwrap_or_else(|| {
        json::report_file(&options.input)
            .parent()
            .unwrap_or(Path::new("."))
            .join(page::FILE_NAME)
    });
    if let Err(e) = dir::write_file(&target, &page::render(&report)) {
        let _ = writeln!(err, "error: {e}");
        return exit::USAGE;
    }
    let _ = writeln!(out, "{}", target.display());
    exit::OK
}

/// Prints each gate's verdict; [`exit::GATE`] if any broke.
fn report_gates(results: &[GateResult], out: &mut dyn Write) -> i32 {
    for result in results {
        let mark = if result.passed { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "{mark} {}", result.message);
    }
    if gate::breached(results) {
        let broken = results.iter().filter(|r| !r.passed).count();
        let _ = writeln!(out, "{broken} gate(s) breached");
        exit::GATE
    } else {
        exit::OK
    }
}
