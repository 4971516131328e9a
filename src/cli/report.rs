//! Flags of `otpbench report merge|compare|html`, their conversion into
//! [`crate::report::commands`] options, and what those return turned into
//! text and the documented exit codes (0 ok, 1 usage, 2 an invalid report
//! file, 5 a breached gate). `main.rs` wires [`ReportArgs`] into the
//! command enum and exits with what [`ReportArgs::run`] returns.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::exit;
use crate::report::commands::{self, CommandError, CompareOptions, HtmlOptions, MergeOptions};
use crate::report::gate::{parse_percent, Gate};
use crate::report::model::GateResult;

/// Work with `report.json` files: merge, compare, render.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// What to do with reports.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge reports of several generators (or runs) losslessly: histograms
    /// are added, percentiles recomputed; writes a new run directory.
    Merge(MergeArgs),
    /// Show two reports side by side with the change from A to B.
    Compare(CompareArgs),
    /// Render a report's self-contained HTML page.
    Html(HtmlArgs),
}

/// Flags of `otpbench report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Reports to merge: report.json files or run directories.
    #[arg(value_name = "REPORT", required = true)]
    pub inputs: Vec<PathBuf>,
    /// Directory to write the merged run directory into.
    #[arg(long, value_name = "DIR", default_value = "reports")]
    pub out: PathBuf,
    /// Name of the merged run directory (default: `merged-<start time>`).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Gate on the merged report, e.g. 'send.p99<20ms' (repeatable);
    /// a breach exits 5.
    #[arg(long = "threshold", value_name = "EXPR", value_parser = parse_gate)]
    pub thresholds: Vec<Gate>,
}

/// Flags of `otpbench report compare`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The report to compare against (the baseline).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The report to compare.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Exit 5 when B's p50/p99 of any operation is more than this much
    /// above A's, or its throughput this much below (e.g. 10%).
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub max_regression: Option<f64>,
}

/// Flags of `otpbench report html`.
#[derive(Debug, Args)]
pub struct HtmlArgs {
    /// A report.json or a run directory holding one.
    #[arg(value_name = "REPORT")]
    pub input: PathBuf,
    /// Where to write the page (default: report.html beside the report).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn parse_gate(text: &str) -> Result<Gate, String> {
    Gate::parse(text).map_err(|e| e.to_string())
}

impl ReportArgs {
    /// Runs the subcommand on the given streams; returns the exit code.
    pub fn run(&self, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
        let done = match &self.command {
            ReportCommand::Merge(args) => commands::merge(&MergeOptions {
                inputs: args.inputs.clone(),
                out: args.out.clone(),
                name: args.name.clone(),
                gates: args.thresholds.clone(),
            })
            .map(|merged| {
                let report = &merged.report;
                let _ = writeln!(
                    out,
                    "merged {} reports: {} requests in {:.1}s ({:.1}/s) -> {}",
                    merged.inputs,
                    report.requests,
                    report.duration_s,
                    report.throughput_rps,
                    merged.written.display()
                );
                print_gates(&report.gates, out)
            }),
            ReportCommand::Compare(args) => commands::compare(&CompareOptions {
                a: args.a.clone(),
                b: args.b.clone(),
                max_regression: args.max_regression,
            })
            .map(|compared| {
                let _ = write!(out, "{}", compared.table);
                match &compared.gates {
                    Some(gates) => {
                        let _ = writeln!(out);
                        print_gates(gates, out)
                    }
                    None => exit::OK,
                }
            }),
            ReportCommand::Html(args) => commands::html(&HtmlOptions {
                input: args.input.clone(),
                out: args.out.clone(),
            })
            .map(|written| {
                let _ = writeln!(out, "{}", written.display());
                exit::OK
            }),
        };
        done.unwrap_or_else(|error| {
            let _ = writeln!(err, "error: {error}");
            exit_code(&error)
        })
    }
}

/// The exit code of a report command that made nothing.
pub fn exit_code(error: &CommandError) -> i32 {
    match error {
        CommandError::NoInput | CommandError::Write(_) => exit::USAGE,
        CommandError::InvalidReport(_) | CommandError::Unmergeable(_) => exit::INVALID_FILE,
    }
}

/// Prints each gate's verdict and, when any broke, how many; the exit
/// code that says so ([`exit::GATE`] or [`exit::OK`]).
pub(crate) fn print_gates(results: &[GateResult], out: &mut dyn Write) -> i32 {
    for result in results {
        let mark = if result.passed { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "{mark} {}", result.message);
    }
    let broken = results.iter().filter(|r| !r.passed).count();
    if broken > 0 {
        let _ = writeln!(out, "{broken} gate(s) breached");
        exit::GATE
    } else {
        exit::OK
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// `otpbench report …` as main.rs will wire it.
    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        report: ReportCommand,
    }

    fn parse(args: &[&str]) -> Result<ReportCommand, clap::Error> {
        let mut all = vec!["report"];
        all.extend(args);
        Cli::try_parse_from(all).map(|cli| cli.report)
    }

    #[test]
    fn flags_parse_into_options() {
        let ReportCommand::Merge(merge) =
            parse(&["merge", "a", "b/report.json", "--threshold", "send.p99<5ms"]).unwrap()
        else {
            panic!("not merge")
        };
        assert_eq!(merge.inputs.len(), 2);
        assert_eq!(merge.out, PathBuf::from("reports"));
        assert_eq!(merge.thresholds[0].expression(), "send.p99<5ms");
        let ReportCommand::Compare(compare) =
            parse(&["compare", "a", "b", "--max-regression", "10%"]).unwrap()
        else {
            panic!("not compare")
        };
        assert_eq!(compare.max_regression, Some(0.1));
    }

    #[test]
    fn bad_flags_name_the_flag_and_the_mistake() {
        let error = parse(&["merge"]).unwrap_err().to_string();
        assert!(error.contains("<REPORT>"), "{error}");
        let error = parse(&["merge", "a", "--threshold", "send.p99<5"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("--threshold") && error.contains("column 11"),
            "{error}"
        );
        let error = parse(&["compare", "a", "b", "--max-regression", "10"])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("--max-regression") && error.contains("10%"),
            "{error}"
        );
    }

    #[test]
    fn the_cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
