//! Soak: a long run cut into windows (`otpbench load --soak 1m`), with
//! what each window cost the processes involved — resident memory, open
//! file descriptors — and each operation's p99, so a leak or a slow
//! degradation shows as a trend rather than hiding in a whole-run figure.
//!
//! Each window is a phase of its own under the run's constant model (the
//! pool goes on where the last window left it); between two windows this
//! module samples `/proc` for this process (the generator, and the
//! embedded engine and provider when the target is embedded: they share
//! it) and for every `--watch-pid` (an engine or provider run apart). The
//! whole run's report is the windows merged. Growth is judged on a
//! least-squares line through the windows after a warm-up (the first
//! sixth: caches and the bounded journal fill there), as the line's rise
//! over the fitted span against its start: a slope, not two snapshots.
//!
//! This module decides nothing about load itself: it is handed a function
//! that runs one window.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::load::build;
use crate::load::phase::PhaseResult;
use crate::load::recorder::Recorder;
use crate::load::schedule::{ClosedModel, Model, OpenModel};
use crate::report::RunInfo;

/// How much a footprint may grow over the fitted span before it is
/// flagged (10%), and p99 (1.5×).
pub(crate) const MAX_MEMORY_GROWTH: f64 = 0.10;
pub(crate) const MAX_P99_GROWTH: f64 = 0.50;
/// File descriptors may also grow by a few in absolute terms (a pool
/// opening its last connection) before that counts.
const FD_SLACK: f64 = 4.0;

/// What `--soak` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoakPlan {
    /// One row of the soak table per window.
    pub window: Duration,
    /// Other processes to sample, by name (`--watch-pid engine=1234`).
    pub watch: Vec<(String, u32)>,
}

/// A process's footprint at the end of a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Footprint {
    pub rss_bytes: u64,
    pub fds: u64,
}

/// One window's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoakWindow {
    /// Seconds since the soak started, when the window ended.
    pub end_s: f64,
    pub requests: u64,
    pub errors: u64,
    pub throughput_rps: f64,
    /// Per operation with requests in this window, µs from the intended
    /// start.
    pub p99_us: BTreeMap<String, u64>,
    /// Per process; a process that could not be read is missing.
    pub processes: BTreeMap<String, Footprint>,
}

/// A line fitted through one figure's windows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Trend {
    /// E.g. `otpbench rss_bytes`, `send p99_us`.
    pub figure: String,
    /// The line's value at the first and last fitted window.
    pub fitted_start: f64,
    pub fitted_end: f64,
    /// The line's slope, per hour.
    pub slope_per_hour: f64,
    /// `fitted_end / fitted_start - 1`.
    pub growth: f64,
    /// The growth allowed before `grows`.
    pub limit: f64,
    pub grows: bool,
}

/// `soak.json` in the run directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SoakReport {
    pub window_s: f64,
    /// Windows left out of the fit as warm-up.
    pub warmup_windows: usize,
    pub windows: Vec<SoakWindow>,
    pub trends: Vec<Trend>,
}

/// The name this process goes by in the table.
pub(crate) const SELF: &str = "otpbench";

/// The models of the windows: the run's constant model, `window` at a
/// time (the last window takes what is left).
pub(crate) fn windows(model: &Model, window: Duration) -> Result<Vec<Model>, String> {
    if window.is_zero() {
        return Err("--soak: the window must be longer than 0".into());
    }
    let total = model.duration();
    let mut models = Vec::new();
    let mut covered = Duration::ZERO;
    while covered < total {
        let length = window.min(total - covered);
        let part = match model {
            Model::Open(m) if m.stages().iter().all(|s| s.target == m.start_rate()) => {
                OpenModel::constant(m.start_rate(), length).map(Model::Open)
            }
            Model::Closed(m)
                if m.concurrency_at(Duration::ZERO) == m.peak()
                    && m.stages().iter().all(|s| s.target == m.peak()) =>
            {
                ClosedModel::constant(m.peak(), length).map(Model::Closed)
            }
            _ => return Err("--soak holds one rate or concurrency: give no --stage".into()),
        };
        models.push(part.map_err(|e| format!("--soak: {e}"))?);
        covered += length;
    }
    Ok(models)
}

/// Reads a process's resident memory and open descriptors from `/proc`
/// (`None`: this process).
pub(crate) fn footprint(pid: Option<u32>) -> Result<Footprint, String> {
    let dir = match pid {
        Some(pid) => format!("/proc/{pid}"),
        None => "/proc/self".to_string(),
    };
    let status = std::fs::read_to_string(format!("{dir}/status"))
        .map_err(|e| format!("{dir}/status: {e}"))?;
    let rss_kb = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .ok_or_else(|| format!("{dir}/status: no VmRSS line"))?;
    let fds = std::fs::read_dir(format!("{dir}/fd"))
        .map_err(|e| format!("{dir}/fd: {e}"))?
        .count() as u64;
    Ok(Footprint {
        rss_bytes: rss_kb * 1024,
        fds,
    })
}

/// Runs the windows with `run_window`, sampling after each and writing
/// its row to `err`; returns the windows merged into one phase (for the
/// usual report) and the soak report. Once `stop` is set (Ctrl-C) no
/// further window starts: the soak ends with the windows it has.
pub(crate) fn run(
    plan: &SoakPlan,
    model: &Model,
    stop: &AtomicBool,
    err: &mut dyn Write,
    mut run_window: impl FnMut(Model, &mut dyn Write) -> Result<PhaseResult, String>,
) -> Result<(PhaseResult, SoakReport), String> {
    let models = windows(model, plan.window)?;
    let mut merged: Option<PhaseResult> = None;
    let mut windows = Vec::with_capacity(models.len());
    let mut elapsed = Duration::ZERO;
    for window_model in models {
        let result = run_window(window_model, err)?;
        elapsed += result.duration;
        let row = window_row(plan, &result, elapsed);
        let _ = writeln!(err, "{}", window_line(&row));
        windows.push(row);
        merged = Some(match merged {
            None => result,
            Some(all) => join(all, result)?,
        });
        if stop.load(Ordering::Relaxed) {
            break;
        }
    }
    let merged = merged.ok_or("--soak: the run has no window")?;
    let warmup = warmup(windows.len());
    let trends = trends(&windows, warmup);
    Ok((
        merged,
        SoakReport {
            window_s: plan.window.as_secs_f64(),
            warmup_windows: warmup,
            windows,
            trends,
        },
    ))
}

fn window_row(plan: &SoakPlan, result: &PhaseResult, elapsed: Duration) -> SoakWindow {
    let report = build::build(
        &result.recorder,
        &[],
        result.duration,
        RunInfo::now(Vec::new()),
    );
    let mut processes = BTreeMap::new();
    if let Ok(own) = footprint(None) {
        processes.insert(SELF.to_string(), own);
    }
    for (name, pid) in &plan.watch {
        if let Ok(theirs) = footprint(Some(*pid)) {
            processes.insert(name.clone(), theirs);
        }
    }
    SoakWindow {
        end_s: elapsed.as_secs_f64(),
        requests: report.requests,
        errors: report.errors,
        throughput_rps: report.throughput_rps,
        p99_us: report
            .operations
            .iter()
            .filter(|(_, op)| op.count > 0)
            .map(|(name, op)| (name.clone(), op.latency_us.p99))
            .collect(),
        processes,
    }
}

/// Two consecutive phases as one: histograms merged, the later one's
/// seconds following the earlier one's.
fn join(mut all: PhaseResult, next: PhaseResult) -> Result<PhaseResult, String> {
    merge_into(&mut all.recorder, &next.recorder)?;
    let offset = all.rows.last().map_or(0, |r| r.second + 1);
    all.rows.extend(next.rows.into_iter().map(|mut row| {
        row.second += offset;
        row
    }));
    all.duration += next.duration;
    all.iterations += next.iterations;
    all.first_error = all.first_error.or(next.first_error);
    Ok(all)
}

fn merge_into(all: &mut Recorder, next: &Recorder) -> Result<(), String> {
    all.merge(next).map_err(|e| e.to_string())
}

/// Windows left out of the fit: the first sixth, at least one once there
/// are three.
pub(crate) fn warmup(windows: usize) -> usize {
    if windows < 3 {
        0
    } else {
        (windows / 6).max(1)
    }
}

/// The least-squares line through `(x, y)`: (intercept, slope).
fn fit(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let slope = sxy / sxx;
    Some((mean_y - slope * mean_x, slope))
}

/// The trend of one figure over the windows after the warm-up.
pub(crate) fn trend(figure: &str, points: &[(f64, f64)], limit: f64, slack: f64) -> Option<Trend> {
    let (intercept, slope) = fit(points)?;
    let first = points.first()?.0;
    let last = points.last()?.0;
    let fitted_start = intercept + slope * first;
    let fitted_end = intercept + slope * last;
    let rise = fitted_end - fitted_start;
    let growth = if fitted_start > 0.0 {
        rise / fitted_start
    } else if rise > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    Some(Trend {
        figure: figure.to_string(),
        fitted_start,
        fitted_end,
        slope_per_hour: slope * 3600.0,
        growth,
        limit,
        grows: growth > limit && rise > slack,
    })
}

fn trends(windows: &[SoakWindow], warmup: usize) -> Vec<Trend> {
    let fitted = &windows[warmup.min(windows.len())..];
    let mut names: Vec<&String> = fitted.iter().flat_map(|w| w.processes.keys()).collect();
    names.sort();
    names.dedup();
    let mut trends = Vec::new();
    for name in names {
        let series = |f: fn(&Footprint) -> u64| -> Vec<(f64, f64)> {
            fitted
                .iter()
                .filter_map(|w| w.processes.get(name).map(|p| (w.end_s, f(p) as f64)))
                .collect()
        };
        let rss = series(|p| p.rss_bytes);
        trends.extend(trend(
            &format!("{name} rss_bytes"),
            &rss,
            MAX_MEMORY_GROWTH,
            0.0,
        ));
        let fds = series(|p| p.fds);
        trends.extend(trend(
            &format!("{name} fds"),
            &fds,
            MAX_MEMORY_GROWTH,
            FD_SLACK,
        ));
    }
    let mut ops: Vec<&String> = fitted.iter().flat_map(|w| w.p99_us.keys()).collect();
    ops.sort();
    ops.dedup();
    for op in ops {
        let points: Vec<(f64, f64)> = fitted
            .iter()
            .filter_map(|w| w.p99_us.get(op).map(|&p99| (w.end_s, p99 as f64)))
            .collect();
        trends.extend(trend(&format!("{op} p99_us"), &points, MAX_P99_GROWTH, 0.0));
    }
    trends
}

/// Writes `soak.json` into the run directory.
pub(crate) fn write(report: &SoakReport, run_dir: &std::path::Path) -> Result<(), String> {
    let path = run_dir.join("soak.json");
    let text = serde_json::to_string_pretty(report).map_err(|e| format!("soak.json: {e}"))?;
    std::fs::write(&path, text + "\n").map_err(|e| format!("{}: {e}", path.display()))
}

/// One window as a line of the live table.
pub(crate) fn window_line(window: &SoakWindow) -> String {
    let mut line = format!(
        "soak {:>7.0}s  {:>9.1} req/s  errors {:<6}",
        window.end_s, window.throughput_rps, window.errors
    );
    for (op, p99) in &window.p99_us {
        line.push_str(&format!(
            "  {op} p99 {}",
            crate::report::text::latency(*p99 as f64)
        ));
    }
    for (name, p) in &window.processes {
        line.push_str(&format!(
            "  {name} {:.1} MiB {} fds",
            p.rss_bytes as f64 / (1024.0 * 1024.0),
            p.fds
        ));
    }
    line
}

/// The verdict lines: one per trend, and whether anything grew.
pub(crate) fn write_trends(report: &SoakReport, out: &mut dyn Write) {
    let _ = writeln!(
        out,
        "soak: {} windows of {}; trends fitted after {} warm-up window(s):",
        report.windows.len(),
        crate::duration::format(Duration::from_secs_f64(report.window_s)),
        report.warmup_windows
    );
    for trend in &report.trends {
        let _ = writeln!(
            out,
            "{} {:<28} {:>14.1} -> {:>14.1}  ({:+.1}%, limit {:+.0}%)",
            if trend.grows { "GROWS" } else { "flat " },
            trend.figure,
            trend.fitted_start,
            trend.fitted_end,
            trend.growth * 100.0,
            trend.limit * 100.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_soak_is_cut_into_windows_of_the_same_model() {
        let model = Model::Open(OpenModel::constant(100.0, Duration::from_secs(150)).unwrap());
        let parts = windows(&model, Duration::from_secs(60)).unwrap();
        let lengths: Vec<u64> = parts.iter().map(|m| m.duration().as_secs()).collect();
        assert_eq!(lengths, vec![60, 60, 30]);
        let ramp = Model::Open(
            OpenModel::ramping(
                0.0,
                vec![crate::load::schedule::parse_rate_stage("10s:100/s").unwrap()],
            )
            .unwrap(),
        );
        assert!(windows(&ramp, Duration::from_secs(1))
            .unwrap_err()
            .contains("--stage"));
        assert!(windows(&model, Duration::ZERO).is_err());
    }

    #[test]
    fn a_steady_rise_is_growth_and_noise_around_a_level_is_not() {
        let rising: Vec<(f64, f64)> = (0..60)
            .map(|m| (m as f64 * 60.0, 100.0 + m as f64))
            .collect();
        let t = trend("rss", &rising, 0.1, 0.0).unwrap();
        assert!(t.grows, "{t:?}");
        assert!((t.slope_per_hour - 60.0).abs() < 1e-6, "{t:?}");
        // One late spike among flat windows: a snapshot would call it
        // growth; the line does not.
        let mut flat: Vec<(f64, f64)> = (0..60).map(|m| (m as f64 * 60.0, 100.0)).collect();
        flat[59].1 = 130.0;
        let t = trend("rss", &flat, 0.1, 0.0).unwrap();
        assert!(!t.grows, "{t:?}");
        // A couple more descriptors is within the slack.
        let fds: Vec<(f64, f64)> = (0..10).map(|m| (m as f64, 10.0 + (m / 5) as f64)).collect();
        assert!(!trend("fds", &fds, 0.1, FD_SLACK).unwrap().grows);
    }

    #[test]
    fn this_process_can_be_read() {
        let own = footprint(None).unwrap();
        assert!(own.rss_bytes > 0);
        assert!(own.fds >= 3);
        assert!(footprint(Some(u32::MAX)).is_err());
    }

    #[test]
    fn the_first_sixth_is_warm_up() {
        assert_eq!(warmup(2), 0);
        assert_eq!(warmup(3), 1);
        assert_eq!(warmup(60), 10);
    }
}
