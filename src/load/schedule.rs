//! Load models as data, and the arithmetic on them: when each request of an
//! open model is meant to start, how many connections a closed model keeps
//! busy at a moment, and how one schedule is split across the workers of a
//! generator and across the shards of several generators.
//!
//! Everything here is pure: no clock, no sleeping, no tasks. The worker loop
//! adds the offsets computed here to the run's start `Instant`, and measures
//! latency from those intended starts (coordinated-omission correction).
//!
//! # Open model
//!
//! A rate starts at `start_rate` and moves through stages: each stage ramps
//! linearly from the previous target to its own over its duration (k6's
//! `ramping-arrival-rate`); a constant rate is one stage whose target equals
//! the start. The cumulative number of arrivals `N(t)` is the integral of the
//! rate, and arrival `k` (counting from 0) is intended to start at the `t`
//! with `N(t) = k`, so a constant `500/s` puts arrival `k` at `k / 500` s.
//! A run has `ceil(N(duration))` arrivals. Each arrival's time is computed
//! from `k` alone (never by adding up intervals), so nothing drifts however
//! long the run.
//!
//! Splitting a schedule between workers and generators is
//! [`crate::load::shard`].

use std::fmt;
use std::time::Duration;

use crate::duration;
use crate::load::shard::Slice;

/// Why a rate, stage or model was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleError {
    /// `--rate` text that is not `N`, `N/s`, `N/m` or `N/h`.
    Rate { input: String, reason: &'static str },
    /// A stage that is not `DURATION:TARGET`.
    Stage { input: String, reason: String },
    /// A model that would send nothing or run for no time.
    Model(&'static str),
}

impl fmt::Display for ScheduleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScheduleError::Rate { input, reason } => write!(
                f,
                "invalid rate {input:?}: {reason} (expected e.g. 500, 500/s, 30000/m or 3600/h)"
            ),
            ScheduleError::Stage { input, reason } => write!(
                f,
                "invalid stage {input:?}: {reason} (expected DURATION:TARGET, e.g. 30s:500/s)"
            ),
            ScheduleError::Model(reason) => write!(f, "invalid load model: {reason}"),
        }
    }
}

impl std::error::Error for ScheduleError {}

/// Reads a rate in requests per second: `500`, `500/s`, `30000/m`,
/// `3600/h`; fractions are allowed (`0.5/s`), negatives are not.
pub fn parse_rate(input: &str) -> Result<f64, ScheduleError> {
    let error = |reason| ScheduleError::Rate {
        input: input.to_string(),
        reason,
    };
    let text = input.trim();
    let (number, per_seconds) = match text.split_once('/') {
        None => (text, 1.0),
        Some((number, "s")) => (number, 1.0),
        Some((number, "m")) => (number, 60.0),
        Some((number, "h")) => (number, 3600.0),
        Some(_) => return Err(error("the unit after / must be s, m or h")),
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return Err(error("not a number"));
    }
    let value: f64 = number.parse().map_err(|_| error("not a number"))?;
    if !value.is_finite() {
        return Err(error("too large"));
    }
    Ok(value / per_seconds)
}

/// One stage of a staged model: ramp linearly to `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage<T> {
    pub duration: Duration,
    pub target: T,
}

/// Reads an open-model stage, `DURATION:RATE` (`30s:500/s`, k6's order).
pub fn parse_rate_stage(input: &str) -> Result<Stage<f64>, ScheduleError> {
    let (duration, target) = split_stage(input)?;
    let target = parse_rate(target).map_err(|e| ScheduleError::Stage {
        input: input.to_string(),
        reason: e.to_string(),
    })?;
    Ok(Stage { duration, target })
}

/// Reads a closed-model stage, `DURATION:CONCURRENCY` (`30s:50`).
pub fn parse_concurrency_stage(input: &str) -> Result<Stage<u32>, ScheduleError> {
    let (duration, target) = split_stage(input)?;
    let target = target.trim().parse().map_err(|_| ScheduleError::Stage {
        input: input.to_string(),
        reason: format!("{target:?} is not a whole number of connections"),
    })?;
    Ok(Stage { duration, target })
}

fn split_stage(input: &str) -> Result<(Duration, &str), ScheduleError> {
    let error = |reason: String| ScheduleError::Stage {
        input: input.to_string(),
        reason,
    };
    let (duration, target) = input
        .split_once(':')
        .ok_or_else(|| error("no ':' between duration and target".into()))?;
    let duration = duration::parse(duration).map_err(|e| error(e.to_string()))?;
    Ok((duration, target))
}

/// One linear piece of an open model, precomputed.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// Seconds from the run's start.
    start: f64,
    length: f64,
    rate_start: f64,
    rate_end: f64,
    /// `N(start)`: arrivals before this segment (fractional).
    arrivals_before: f64,
    /// `N(start + length)`.
    arrivals_after: f64,
}

impl Segment {
    /// Seconds into the segment at which `N` reaches `k`.
    fn time_of(&self, k: f64) -> f64 {
        let x = k - self.arrivals_before;
        if x <= 0.0 {
            return 0.0;
        }
        let a = self.rate_start;
        let b = (self.rate_end - self.rate_start) / self.length;
        // Root of b/2·t² + a·t − x = 0, in the form that stays exact as
        // b → 0 (a constant rate) and for falling rates.
        let denominator = a + (a * a + 2.0 * b * x).max(0.0).sqrt();
        if denominator <= 0.0 {
            return self.length;
        }
        (2.0 * x / denominator).clamp(0.0, self.length)
    }

    /// `N(start + t)` for `t` seconds into the segment.
    fn arrivals_at(&self, t: f64) -> f64 {
        let b = (self.rate_end - self.rate_start) / self.length;
        self.arrivals_before + self.rate_start * t + b * t * t / 2.0
    }
}

/// The open model: requests arrive on a schedule, whether or not earlier
/// ones have been answered.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenModel {
    start_rate: f64,
    stages: Vec<Stage<f64>>,
    segments: Vec<Segment>,
    total: u64,
}

impl OpenModel {
    /// `rate` requests per second for `duration`.
    pub fn constant(rate: f64, duration: Duration) -> Result<OpenModel, ScheduleError> {
        OpenModel::ramping(
            rate,
            vec![Stage {
                duration,
                target: rate,
            }],
        )
    }

    /// Starting at `start_rate`, each stage ramps linearly to its target.
    pub fn ramping(start_rate: f64, stages: Vec<Stage<f64>>) -> Result<OpenModel, ScheduleError> {
        let finite = |r: f64| r.is_finite() && r >= 0.0;
        if !finite(start_rate) || stages.iter().any(|s| !finite(s.target)) {
            return Err(ScheduleError::Model(
                "rates must be finite and not negative",
            ));
        }
        let mut segments = Vec::with_capacity(stages.len());
        let (mut start, mut before, mut rate) = (0.0, 0.0, start_rate);
        for stage in &stages {
            let length = stage.duration.as_secs_f64();
            if length == 0.0 {
                rate = stage.target;
                continue;
            }
            let after = before + (rate + stage.target) / 2.0 * length;
            segments.push(Segment {
                start,
                length,
                rate_start: rate,
                rate_end: stage.target,
                arrivals_before: before,
                arrivals_after: after,
            });
            (start, before, rate) = (start + length, after, stage.target);
        }
        if start == 0.0 {
            return Err(ScheduleError::Model("the run has no duration"));
        }
        let total = whole_arrivals(before);
        if total == 0 {
            return Err(ScheduleError::Model("the rate never rises above zero"));
        }
        Ok(OpenModel {
            start_rate,
            stages,
            segments,
            total,
        })
    }

    /// The same schedule with every rate held to at most `max` per
    /// second; `None` when no rate is above it.
    pub fn capped(&self, max: f64) -> Option<OpenModel> {
        if self.peak_rate() <= max {
            return None;
        }
        let stages = self
            .stages
            .iter()
            .map(|s| Stage {
                duration: s.duration,
                target: s.target.min(max),
            })
            .collect();
        OpenModel::ramping(self.start_rate.min(max), stages).ok()
    }

    /// The rate the model starts at.
    pub fn start_rate(&self) -> f64 {
        self.start_rate
    }

    /// The stages as given.
    pub fn stages(&self) -> &[Stage<f64>] {
        &self.stages
    }

    /// How long the schedule runs.
    pub fn duration(&self) -> Duration {
        let last = self.segments.last().expect("a model has a segment");
        Duration::from_secs_f64(last.start + last.length)
    }

    /// The highest rate the schedule reaches.
    pub fn peak_rate(&self) -> f64 {
        self.segments
            .iter()
            .map(|s| s.rate_start.max(s.rate_end))
            .fold(0.0, f64::max)
    }

    /// The intended rate at `t` from the start (0 after the end).
    pub fn rate_at(&self, t: Duration) -> f64 {
        let t = t.as_secs_f64();
        match self.segment_at(t) {
            Some(s) => s.rate_start + (s.rate_end - s.rate_start) * (t - s.start) / s.length,
            None => 0.0,
        }
    }

    /// Every arrival of the run, all slices together.
    pub fn total_arrivals(&self) -> u64 {
        self.total
    }

    /// How many arrivals are intended to start before `t`.
    pub fn arrivals_before(&self, t: Duration) -> u64 {
        let t = t.as_secs_f64();
        let n = match self.segment_at(t) {
            Some(s) => s.arrivals_at(t - s.start),
            None => return self.total,
        };
        // Arrival k starts at N(t) = k, so those before t are k < N(t).
        whole_arrivals(n).min(self.total)
    }

    /// When arrival `k` is intended to start, from the run's start; `None`
    /// past the last arrival.
    pub fn arrival_time(&self, k: u64) -> Option<Duration> {
        if k >= self.total {
            return None;
        }
        let index = self
            .segments
            .partition_point(|s| ends_by(s, k))
            .min(self.segments.len() - 1);
        let s = &self.segments[index];
        Some(Duration::from_secs_f64(s.start + s.time_of(k as f64)))
    }

    /// The arrivals of one slice, in order: `(k, intended offset)`.
    pub fn arrivals(&self, slice: Slice) -> Arrivals<'_> {
        Arrivals {
            model: self,
            next: slice.offset,
            stride: slice.stride.max(1),
            segment: 0,
        }
    }

    fn segment_at(&self, t: f64) -> Option<&Segment> {
        if t < 0.0 {
            return self.segments.first();
        }
        let index = self.segments.partition_point(|s| s.start + s.length <= t);
        self.segments.get(index)
    }
}

/// `ceil(n)`, forgiving the rounding error of summing floats (500/s for
/// 10 s is 5000 arrivals, not 5001).
fn whole_arrivals(n: f64) -> u64 {
    let slack = 1e-9 * n.max(1.0);
    (n - slack).ceil().max(0.0) as u64
}

/// Whether arrival `k` falls after segment `s`: an arrival on a boundary
/// (up to rounding) starts the next segment, at its exact start time.
fn ends_by(s: &Segment, k: u64) -> bool {
    let k = k as f64;
    s.arrivals_after <= k + 1e-9 * k.max(1.0)
}

/// Iterator over one slice's arrivals; each step is O(1) amortised.
#[derive(Debug, Clone)]
pub struct Arrivals<'a> {
    model: &'a OpenModel,
    next: u64,
    stride: u64,
    segment: usize,
}

impl Iterator for Arrivals<'_> {
    /// `(k, intended start offset)`.
    type Item = (u64, Duration);

    fn next(&mut self) -> Option<(u64, Duration)> {
        let k = self.next;
        if k >= self.model.total {
            return None;
        }
        self.next = k.saturating_add(self.stride);
        let segments = &self.model.segments;
        while self.segment + 1 < segments.len() && ends_by(&segments[self.segment], k) {
            self.segment += 1;
        }
        let s = &segments[self.segment];
        Some((k, Duration::from_secs_f64(s.start + s.time_of(k as f64))))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self
            .model
            .total
            .saturating_sub(self.next)
            .div_ceil(self.stride) as usize;
        (left, Some(left))
    }
}

/// The closed model: a number of connections, each sending its next
/// request when the previous one is answered.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedModel {
    start: u32,
    stages: Vec<Stage<u32>>,
}

impl ClosedModel {
    /// `concurrency` connections for `duration`.
    pub fn constant(concurrency: u32, duration: Duration) -> Result<ClosedModel, ScheduleError> {
        ClosedModel::ramping(
            concurrency,
            vec![Stage {
                duration,
                target: concurrency,
            }],
        )
    }

    /// Starting at `start` connections, each stage ramps linearly to its
    /// target (k6's `ramping-vus`).
    pub fn ramping(start: u32, stages: Vec<Stage<u32>>) -> Result<ClosedModel, ScheduleError> {
        if stages.iter().all(|s| s.duration.is_zero()) {
            return Err(ScheduleError::Model("the run has no duration"));
        }
        if start == 0 && stages.iter().all(|s| s.target == 0) {
            return Err(ScheduleError::Model(
                "the concurrency never rises above zero",
            ));
        }
        Ok(ClosedModel { start, stages })
    }

    /// The stages as given.
    pub fn stages(&self) -> &[Stage<u32>] {
        &self.stages
    }

    /// How long the schedule runs.
    pub fn duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The highest concurrency the schedule reaches.
    pub fn peak(&self) -> u32 {
        self.stages
            .iter()
            .map(|s| s.target)
            .fold(self.start, u32::max)
    }

    /// Connections that should be busy at `t` (rounded down during a
    /// ramp; 0 after the end).
    pub fn concurrency_at(&self, t: Duration) -> u32 {
        let mut from = self.start;
        let mut elapsed = Duration::ZERO;
        for stage in &self.stages {
            if t < elapsed + stage.duration {
                let done = (t - elapsed).as_secs_f64() / stage.duration.as_secs_f64();
                let value = f64::from(from) + (f64::from(stage.target) - f64::from(from)) * done;
                return value.floor() as u32;
            }
            elapsed += stage.duration;
            from = stage.target;
        }
        0
    }
}

/// How load is offered.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    Open(OpenModel),
    Closed(ClosedModel),
}

impl Model {
    /// How long the schedule runs.
    pub fn duration(&self) -> Duration {
        match self {
            Model::Open(m) => m.duration(),
            Model::Closed(m) => m.duration(),
        }
    }

    /// `open` or `closed`, as reports name it.
    pub fn name(&self) -> &'static str {
        match self {
            Model::Open(_) => "open",
            Model::Closed(_) => "closed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_capped_model_holds_every_rate_to_the_cap() {
        let model = OpenModel::ramping(
            10.0,
            vec![
                Stage {
                    duration: secs(2),
                    target: 1e9,
                },
                Stage {
                    duration: secs(1),
                    target: 50.0,
                },
            ],
        )
        .unwrap();
        assert_eq!(model.capped(1e9), None, "nothing above the cap");
        let capped = model.capped(100.0).unwrap();
        assert_eq!(capped.peak_rate(), 100.0);
        assert_eq!(capped.duration(), model.duration());
        assert_eq!(capped.start_rate(), 10.0);
        assert!(capped.total_arrivals() < 300);
    }

    #[test]
    fn rates_read_per_second_minute_and_hour() {
        assert_eq!(parse_rate("500"), Ok(500.0));
        assert_eq!(parse_rate("500/s"), Ok(500.0));
        assert_eq!(parse_rate("30000/m"), Ok(500.0));
        assert_eq!(parse_rate("3600/h"), Ok(1.0));
        assert_eq!(parse_rate("0.5/s"), Ok(0.5));
        for bad in ["", "/s", "-5", "5/d", "five", "1e3", "inf", "5/ s"] {
            let error = parse_rate(bad).unwrap_err().to_string();
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
    }

    #[test]
    fn stages_read_duration_then_target() {
        assert_eq!(
            parse_rate_stage("30s:1000/m"),
            Ok(Stage {
                duration: secs(30),
                target: 1000.0 / 60.0
            })
        );
        assert_eq!(
            parse_concurrency_stage("1m:50"),
            Ok(Stage {
                duration: secs(60),
                target: 50
            })
        );
        for bad in ["30s", "30:5", "30s:x", "x:5"] {
            assert!(parse_rate_stage(bad).is_err(), "{bad}");
        }
        let error = parse_concurrency_stage("5s:1.5").unwrap_err().to_string();
        assert!(error.contains("whole number"), "{error}");
    }

    #[test]
    fn a_constant_rate_puts_arrival_k_at_k_over_rate() {
        let model = OpenModel::constant(500.0, secs(10)).unwrap();
        assert_eq!(model.total_arrivals(), 5000);
        assert_eq!(model.arrival_time(0), Some(Duration::ZERO));
        assert_eq!(model.arrival_time(1), Some(Duration::from_millis(2)));
        assert_eq!(model.arrival_time(4999), Some(Duration::from_millis(9998)));
        assert_eq!(model.arrival_time(5000), None);
        let all: Vec<_> = model.arrivals(Slice::WHOLE).collect();
        assert_eq!(all.len(), 5000);
        assert_eq!(all[2500], (2500, secs(5)));
    }

    #[test]
    fn fractional_totals_round_up_to_include_the_arrival_at_zero() {
        let model = OpenModel::constant(3.0, Duration::from_millis(1500)).unwrap();
        // 4.5 arrivals' worth: at 0, 1/3, 2/3, 1, 4/3 s.
        assert_eq!(model.total_arrivals(), 5);
        let last = model.arrival_time(4).unwrap().as_secs_f64();
        assert!((last - 4.0 / 3.0).abs() < 1e-9, "{last}");
    }

    #[test]
    fn arrival_counts_are_exact_over_stages() {
        // 0 -> 100/s over 10 s (500), hold 100/s for 5 s (500), down to 50/s
        // over 4 s (300): 1300 in all.
        let model = OpenModel::ramping(
            0.0,
            vec![
                Stage {
                    duration: secs(10),
                    target: 100.0,
                },
                Stage {
                    duration: secs(5),
                    target: 100.0,
                },
                Stage {
                    duration: secs(4),
                    target: 50.0,
                },
            ],
        )
        .unwrap();
        assert_eq!(model.duration(), secs(19));
        assert_eq!(model.total_arrivals(), 1300);
        assert_eq!(model.arrivals_before(secs(10)), 500);
        assert_eq!(model.arrivals_before(secs(15)), 1000);
        assert_eq!(model.arrivals(Slice::WHOLE).count(), 1300);
        let in_stage = |from, to| {
            model
                .arrivals(Slice::WHOLE)
                .filter(|(_, t)| *t >= secs(from) && *t < secs(to))
                .count()
        };
        assert_eq!(in_stage(0, 10), 500);
        assert_eq!(in_stage(10, 15), 500);
        assert_eq!(in_stage(15, 19), 300);
    }

    #[test]
    fn a_linear_ramp_fills_quadratically() {
        // 0 -> 200/s over 10 s: N(t) = 10 t², so a quarter of the arrivals
        // come in the first half.
        let model = OpenModel::ramping(
            0.0,
            vec![Stage {
                duration: secs(10),
                target: 200.0,
            }],
        )
        .unwrap();
        assert_eq!(model.total_arrivals(), 1000);
        assert_eq!(model.arrivals_before(secs(5)), 250);
        assert!((model.rate_at(secs(5)) - 100.0).abs() < 1e-9);
        let t = model.arrival_time(250).unwrap().as_secs_f64();
        assert!((t - 5.0).abs() < 1e-9, "{t}");
        // Gaps shrink as the rate rises.
        let times: Vec<f64> = model
            .arrivals(Slice::WHOLE)
            .map(|(_, t)| t.as_secs_f64())
            .collect();
        let gaps: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(
            gaps.windows(2).all(|g| g[1] <= g[0] + 2e-9),
            "to the nanosecond"
        );
    }

    #[test]
    fn models_that_send_nothing_are_refused() {
        assert!(OpenModel::constant(0.0, secs(5)).is_err());
        assert!(OpenModel::constant(10.0, Duration::ZERO).is_err());
        assert!(OpenModel::constant(f64::NAN, secs(5)).is_err());
        assert!(ClosedModel::constant(0, secs(5)).is_err());
        assert!(ClosedModel::constant(5, Duration::ZERO).is_err());
    }

    #[test]
    fn closed_concurrency_ramps_linearly_between_targets() {
        let model = ClosedModel::ramping(
            0,
            vec![
                Stage {
                    duration: secs(10),
                    target: 100,
                },
                Stage {
                    duration: secs(10),
                    target: 100,
                },
            ],
        )
        .unwrap();
        assert_eq!(model.duration(), secs(20));
        assert_eq!(model.peak(), 100);
        assert_eq!(model.concurrency_at(Duration::ZERO), 0);
        assert_eq!(model.concurrency_at(secs(5)), 50);
        assert_eq!(model.concurrency_at(secs(15)), 100);
        assert_eq!(model.concurrency_at(secs(20)), 0);
    }

    proptest! {
        #[test]
        fn staged_totals_are_the_integral_of_the_rate(
            start in 0.0f64..300.0,
            stages in proptest::collection::vec((1u64..20, 0.0f64..300.0), 1..5),
        ) {
            let stages: Vec<Stage<f64>> = stages
                .into_iter()
                .map(|(s, target)| Stage { duration: secs(s), target })
                .collect();
            let Ok(model) = OpenModel::ramping(start, stages.clone()) else {
                return Ok(());
            };
            let (mut from, mut integral) = (start, 0.0);
            for stage in &stages {
                integral += (from + stage.target) / 2.0 * stage.duration.as_secs_f64();
                from = stage.target;
            }
            prop_assert_eq!(model.total_arrivals(), whole_arrivals(integral));
            prop_assert_eq!(model.arrivals(Slice::WHOLE).count() as u64, model.total_arrivals());
            let last = model.arrival_time(model.total_arrivals() - 1).unwrap();
            prop_assert!(last <= model.duration());
        }
    }
}
