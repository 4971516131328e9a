//! The kill matrix: the scenario suite against the clean embedded engine,
//! then against each mutant in each dialect it applies to, through the
//! scenario runner. A cell stops at its first failing case (the runner's
//! fail-fast: cases start in suite order, cases already started finish,
//! later ones are not started), so only survivors run the whole suite,
//! and the case that killed a cell is the first failing one in suite
//! order. Cells run concurrently; each has an engine of its own per case.
//!
//! Returns data ([`Matrix`]); printing and exit codes are the CLI's.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::client::TargetSpec;
use crate::mutants::Mutant;
use crate::scenario::runner::{self, CaseStatus, RunError, RunOptions, RunReport};
use crate::server::StoreSpec;

/// What to run.
#[derive(Debug, Clone)]
pub struct MatrixOptions {
    /// Scenario files and directories.
    pub paths: Vec<PathBuf>,
    /// The embedded targets, one per dialect, in column order.
    pub targets: Vec<TargetSpec>,
    /// The mutants, in row order.
    pub mutants: Vec<&'static Mutant>,
    pub store: StoreSpec,
    /// Cells at once, and cases at once within a cell.
    pub jobs: usize,
    pub max_wait: Duration,
}

/// Where the first failing case of a cell failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    pub scenario: String,
    pub file: String,
    /// The failing step's position.
    pub line: usize,
    pub column: usize,
    /// What failed, in one line.
    pub reason: String,
}

/// One mutant in one dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// The dialect does not document what the bug breaks.
    NotApplicable,
    /// A case failed: the suite caught the bug.
    Killed(Kill),
    /// Every case passed (or was skipped): the bug got through.
    Survived { passed: usize, skipped: usize },
}

/// One mutant's row.
#[derive(Debug, Clone)]
pub struct Row {
    pub mutant: &'static Mutant,
    /// One cell per target, in column order.
    pub cells: Vec<Cell>,
}

impl Row {
    /// Whether it applies somewhere and survived everywhere it applies.
    pub fn survived(&self) -> bool {
        let applicable = self.cells.iter().filter(|c| **c != Cell::NotApplicable);
        let mut any = false;
        for cell in applicable {
            any = true;
            if matches!(cell, Cell::Killed(_)) {
                return false;
            }
        }
        any
    }

    /// Whether some cell killed it.
    pub fn killed(&self) -> bool {
        self.cells.iter().any(|c| matches!(c, Cell::Killed(_)))
    }
}

/// The whole run.
#[derive(Debug, Clone)]
pub struct Matrix {
    /// The column names (the targets').
    pub columns: Vec<String>,
    /// The suite against the clean engine.
    pub clean: RunReport,
    /// The rows; empty when the clean engine failed (a kill means nothing
    /// then).
    pub rows: Vec<Row>,
    pub elapsed: Duration,
}

impl Matrix {
    /// Whether the clean engine failed a case.
    pub fn clean_failed(&self) -> bool {
        self.clean.failed() > 0
    }

    /// The mutants that survived in every dialect they apply to.
    pub fn survivors(&self) -> Vec<&'static Mutant> {
        self.rows
            .iter()
            .filter(|r| r.survived())
            .map(|r| r.mutant)
            .collect()
    }

    /// The contract of `otpbench mutants`: the clean engine passes and
    /// every mutant is killed somewhere.
    pub fn passed(&self) -> bool {
        !self.clean_failed() && self.survivors().is_empty()
    }

    /// The matrix as data (`--json`).
    pub fn to_json(&self) -> Value {
        let clean_failures: Vec<Value> = self
            .clean
            .cases
            .iter()
            .filter_map(|case| match &case.status {
                CaseStatus::Failed(failure) => Some(json!({
                    "scenario": case.scenario.name,
                    "target": case.target,
                    "file": case.scenario.file,
                    "line": failure.position.line,
                    "column": failure.position.column,
                    "reason": reason(failure),
                })),
                _ => None,
            })
            .collect();
        let mutants: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                let mut cells = Map::new();
                for (column, cell) in self.columns.iter().zip(&row.cells) {
                    cells.insert(column.clone(), cell_json(cell));
                }
                json!({
                    "name": row.mutant.name,
                    "bug": row.mutant.bug,
                    "built": row.mutant.built.name(),
                    "applies_to": row.mutant.applies_to,
                    "killed": row.killed(),
                    "survived": row.survived(),
                    "cells": cells,
                })
            })
            .collect();
        json!({
            "version": 1,
            "passed": self.passed(),
            "targets": self.columns,
            "clean": {
                "passed": self.clean.passed(),
                "failed": self.clean.failed(),
                "skipped": self.clean.skipped(),
                "failures": clean_failures,
            },
            "mutants": mutants,
            "killed": self.rows.iter().filter(|r| !r.survived()).count(),
            "survivors": self.survivors().iter().map(|m| m.name).collect::<Vec<_>>(),
            "elapsed_s": self.elapsed.as_secs_f64(),
        })
    }
}

fn cell_json(cell: &Cell) -> Value {
    match cell {
        Cell::NotApplicable => json!({"status": "not_applicable"}),
        Cell::Killed(kill) => json!({
            "status": "killed",
            "scenario": kill.scenario,
            "file": kill.file,
            "line": kill.line,
            "column": kill.column,
            "reason": kill.reason,
        }),
        Cell::Survived { passed, skipped } => json!({
            "status": "survived",
            "passed": passed,
            "skipped": skipped,
        }),
    }
}

/// What a failure says, in one line.
fn reason(failure: &crate::scenario::Failure) -> String {
    let mut text = format!("step {} ({})", failure.step + 1, failure.keyword);
    if let Some((run, of)) = failure.run {
        text.push_str(&format!(", run {run} of {of}"));
    }
    if let Some(error) = &failure.error {
        text.push_str(&format!(": {error}"));
    } else if let Some(problem) = failure.problems.first() {
        text.push_str(&format!(
            ": {} expected {}, got {}",
            problem.what, problem.expected, problem.actual
        ));
    }
    text
}

/// Progress, as the run goes.
pub enum Progress<'a> {
    /// The clean run ended.
    Clean(&'a RunReport),
    /// A mutant's row is complete.
    Row(&'a Row),
}

/// Runs the clean engine, then every mutant in every target it applies
/// to — `jobs` cells at once, each with `jobs` cases at once; `on_progress`
/// sees the clean run and then each row, in order, once it is complete.
pub async fn run(
    options: &MatrixOptions,
    mut on_progress: impl FnMut(Progress<'_>),
) -> Result<Matrix, RunError> {
    let started = Instant::now();
    let clean = runner::run(&suite(options, options.targets.clone(), false), |_| {}).await?;
    on_progress(Progress::Clean(&clean));
    let columns = options.targets.iter().map(|t| t.name.clone()).collect();
    if clean.failed() > 0 {
        return Ok(Matrix {
            columns,
            clean,
            rows: Vec::new(),
            elapsed: started.elapsed(),
        });
    }
    let permits = Arc::new(Semaphore::new(options.jobs.max(1)));
    let mut pending = Vec::with_capacity(options.mutants.len());
    for &mutant in &options.mutants {
        let cells: Vec<Option<JoinHandle<Result<Cell, RunError>>>> = options
            .targets
            .iter()
            .map(|target| {
                if !mutant.applies(target) {
                    return None;
                }
                let cell = suite(options, vec![mutant.target(target)], true);
                let permits = permits.clone();
                Some(tokio::spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    match runner::run(&cell, |_| {}).await {
                        Ok(report) => Ok(judge(&report)),
                        // The suite has no case in this dialect: nothing
                        // could catch the mutant here.
                        Err(RunError::NoCases) => Ok(Cell::Survived {
                            passed: 0,
                            skipped: 0,
                        }),
                        Err(error) => Err(error),
                    }
                }))
            })
            .collect();
        pending.push((mutant, cells));
    }
    let mut rows = Vec::with_capacity(pending.len());
    for (mutant, handles) in pending {
        let mut cells = Vec::with_capacity(handles.len());
        for handle in handles {
            cells.push(match handle {
                None => Cell::NotApplicable,
                Some(handle) => handle
                    .await
                    .map_err(|e| RunError::Setup(format!("a cell panicked: {e}")))??,
            });
        }
        let row = Row { mutant, cells };
        on_progress(Progress::Row(&row));
        rows.push(row);
    }
    Ok(Matrix {
        columns,
        clean,
        rows,
        elapsed: started.elapsed(),
    })
}

/// The suite against `targets`.
fn suite(options: &MatrixOptions, targets: Vec<TargetSpec>, fail_fast: bool) -> RunOptions {
    RunOptions {
        paths: options.paths.clone(),
        targets,
        tags: Vec::new(),
        jobs: options.jobs,
        fail_fast,
        store: options.store.clone(),
        max_wait: options.max_wait,
        vars: Default::default(),
    }
}

/// A cell from its run: killed by the first failing case in suite order.
fn judge(report: &RunReport) -> Cell {
    for case in &report.cases {
        if let CaseStatus::Failed(failure) = &case.status {
            return Cell::Killed(Kill {
                scenario: case.scenario.name.clone(),
                file: case.scenario.file.clone(),
                line: failure.position.line,
                column: failure.position.column,
                reason: reason(failure),
            });
        }
    }
    Cell::Survived {
        passed: report.passed(),
        skipped: report.skipped(),
    }
}
