//! `otpbench mutants`: flags, their conversion into [`MatrixOptions`],
//! the kill matrix as text (and `--json`), and the exit code: 0 when the
//! clean engine passes and every mutant is killed in some dialect it
//! applies to, 4 otherwise; 1, 2 and 3 as for `otpbench run`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cli::exit;
use crate::cli::run::{self as run_cli, RunArgs};
use crate::dialect::Dialect;
use crate::mutants::matrix::{self, Cell, Matrix, MatrixOptions, Progress, Row};
use crate::mutants::{Mutant, MUTANTS};
use crate::scenario::render::{self, Style};
use crate::server::StoreSpec;

/// Flags of `otpbench mutants`.
#[derive(Debug, Args)]
pub struct MutantsArgs {
    /// Scenario files or directories (default: `scenarios/`, as `run`).
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Only these dialects of the embedded engine (repeatable); their
    /// target files in `scenarios/targets/` are used where they exist.
    #[arg(long, value_name = "NAME", value_parser = run_cli::parse_dialect)]
    pub dialect: Vec<Dialect>,

    /// Only these mutants (repeatable; `--list` names them all).
    #[arg(long, value_name = "NAME", value_parser = parse_mutant)]
    pub mutant: Vec<&'static Mutant>,

    /// Where embedded engines keep state: `memory` or a Redis URL (each
    /// case gets a namespace of its own).
    #[arg(long, value_name = "URL", default_value = "memory", value_parser = super::parse_store)]
    pub store: StoreSpec,

    /// Also write the matrix as JSON here.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    /// Cells (mutant × dialect) run at once, and cases at once within a
    /// cell (default: the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,

    /// List the mutants (bug, how built, where they apply) and exit.
    #[arg(long)]
    pub list: bool,
}

pub(crate) fn parse_mutant(name: &str) -> Result<&'static Mutant, String> {
    Mutant::by_name(name).ok_or_else(|| {
        let known: Vec<&str> = MUTANTS.iter().map(|m| m.name).collect();
        format!("no such mutant; expected one of {}", known.join(", "))
    })
}

impl MutantsArgs {
    /// The run these flags describe (reads the target files as `run`
    /// does).
    pub fn options(&self) -> Result<MatrixOptions, crate::scenario::RunError> {
        let run = RunArgs {
            paths: self.paths.clone(),
            target: Vec::new(),
            name: Vec::new(),
            dialect: self.dialect.clone(),
            tag: Vec::new(),
            junit: None,
            json: None,
            summary: None,
            html: None,
            jobs: self.jobs,
            store: self.store.clone(),
            list: false,
            check: false,
            fail_fast: false,
            verbose: false,
            max_wait: Duration::from_secs(60),
            vars: Default::default(),
        }
        .options(&Default::default())?;
        let mutants = if self.mutant.is_empty() {
            MUTANTS.iter().collect()
        } else {
            self.mutant.clone()
        };
        Ok(MatrixOptions {
            paths: run.paths,
            targets: run.targets,
            mutants,
            store: run.store,
            jobs: run.jobs,
            max_wait: run.max_wait,
        })
    }
}

/// `otpbench mutants`: everything but the runtime; returns the exit code.
pub async fn run(args: MutantsArgs, stdout: &mut impl Write, stderr: &mut impl Write) -> i32 {
    if args.list {
        let _ = write!(stdout, "{}", catalogue(&MUTANTS.iter().collect::<Vec<_>>()));
        return exit::OK;
    }
    let options = match args.options() {
        Ok(options) => options,
        Err(error) => return run_cli::fail(&error, stderr),
    };
    let columns: Vec<String> = options.targets.iter().map(|t| t.name.clone()).collect();
    let table = Table::new(&columns, &options.mutants);
    let mut legend = Legend::default();
    let result = matrix::run(&options, |progress| {
        let text = match progress {
            Progress::Clean(report) if report.failed() > 0 => format!(
                "{}the clean engine fails the suite: no mutant was run\n",
                render::summary(report, Style::default())
            ),
            Progress::Clean(report) => format!(
                "clean engine: {} passed, {} failed, {} skipped ({:.2} s)\n\n{}",
                report.passed(),
                report.failed(),
                report.skipped(),
                report.elapsed.as_secs_f64(),
                table.header()
            ),
            Progress::Row(row) => table.row(row, &mut legend),
        };
        let _ = write!(stdout, "{text}");
        let _ = stdout.flush();
    })
    .await;
    let matrix = match result {
        Ok(matrix) => matrix,
        Err(error) => return run_cli::fail(&error, stderr),
    };
    if !matrix.clean_failed() {
        let _ = write!(stdout, "{}", summary(&matrix, &legend));
    }
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&matrix.to_json()).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text + "\n") {
            let _ = writeln!(
                stderr,
                "otpbench mutants: cannot write {}: {e}",
                path.display()
            );
            return exit::USAGE;
        }
    }
    if matrix.passed() {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// The catalogue, one mutant a paragraph.
pub fn catalogue(mutants: &[&Mutant]) -> String {
    let mut out = String::new();
    for mutant in mutants {
        let _ = writeln!(
            out,
            "{}\n  bug:     {}\n  built:   {}\n  applies: {}",
            mutant.name,
            mutant.bug,
            mutant.built.name(),
            mutant.applies_to
        );
    }
    out
}

/// The matrix's columns.
struct Table {
    columns: Vec<String>,
    name_width: usize,
    cell_width: usize,
}

impl Table {
    fn new(columns: &[String], mutants: &[&Mutant]) -> Table {
        let name_width = mutants
            .iter()
            .map(|m| m.name.len())
            .max()
            .unwrap_or(0)
            .max(6);
        let cell_width = columns
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(0)
            .max("survived".len());
        Table {
            columns: columns.to_vec(),
            name_width,
            cell_width,
        }
    }

    fn header(&self) -> String {
        let mut line = format!("{:<w$}", "mutant", w = self.name_width);
        for column in &self.columns {
            let _ = write!(line, "  {column:<w$}", w = self.cell_width);
        }
        line.trim_end().to_string() + "\n"
    }

    fn row(&self, row: &Row, legend: &mut Legend) -> String {
        let mut line = format!("{:<w$}", row.mutant.name, w = self.name_width);
        for cell in &row.cells {
            let text = match cell {
                Cell::NotApplicable => "-".to_string(),
                Cell::Killed(kill) => format!("[{}]", legend.number(&kill.scenario, &kill.file)),
                Cell::Survived { .. } => "survived".to_string(),
            };
            let _ = write!(line, "  {text:<w$}", w = self.cell_width);
        }
        line.trim_end().to_string() + "\n"
    }
}

/// The scenarios that killed cells, numbered in order of first kill.
#[derive(Default)]
struct Legend {
    numbers: HashMap<(String, String), usize>,
    order: Vec<(String, String)>,
}

impl Legend {
    fn number(&mut self, scenario: &str, file: &str) -> usize {
        let key = (scenario.to_string(), file.to_string());
        if let Some(&n) = self.numbers.get(&key) {
            return n;
        }
        self.order.push(key.clone());
        self.numbers.insert(key, self.order.len());
        self.order.len()
    }
}

/// Below the table: what killed, what survived, the totals.
fn summary(matrix: &Matrix, legend: &Legend) -> String {
    let mut out = String::new();
    if !legend.order.is_empty() {
        out.push_str("\nkilled by (the first failing case of each cell):\n");
        for (n, (scenario, file)) in legend.order.iter().enumerate() {
            let _ = writeln!(out, "  [{}] {scenario} ({file})", n + 1);
        }
    }
    let survivors = matrix.survivors();
    if !survivors.is_empty() {
        out.push_str("\nsurvived in every dialect they apply to:\n");
        for mutant in &survivors {
            let _ = writeln!(out, "  {}: {}", mutant.name, mutant.bug);
        }
    }
    let _ = writeln!(
        out,
        "\n{} of {} mutants killed, {} survived ({:.1} s)",
        matrix.rows.len() - survivors.len(),
        matrix.rows.len(),
        survivors.len(),
        matrix.elapsed.as_secs_f64()
    );
    out
}
