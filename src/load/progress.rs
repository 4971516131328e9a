//! What a run shows while it runs, on stderr: on a terminal one live line
//! redrawn each second (rate, errors, p50/p99 so far from
//! [`crate::load::SeriesSink::progress`]); when stderr is not a terminal
//! (CI logs), a plain line every [`LINE_EVERY`]; with `--quiet`, nothing.
//!
//! Hand-rolled rather than `indicatif`: one line rewritten with `\r` and
//! an erase-line escape is all a load run needs, and it keeps a
//! dependency (and its own timer thread) out of the generator.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use crate::load::series::Progress;
use crate::report::text::{latency, percent};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// One line redrawn in place (a terminal).
    Live,
    /// A plain line now and then (a log).
    Lines,
    /// Nothing but the final summary.
    Quiet,
}

impl Output {
    /// `Live` on a terminal, else `Lines`; `Quiet` when asked.
    pub fn detect(quiet: bool) -> Output {
        if quiet {
            Output::Quiet
        } else if std::io::stderr().is_terminal() {
            Output::Live
        } else {
            Output::Lines
        }
    }
}

/// How often a plain line is written when not on a terminal.
pub const LINE_EVERY: Duration = Duration::from_secs(5);

/// Shows one phase's progress.
pub(crate) struct Reporter<'a> {
    output: Output,
    label: String,
    planned: Duration,
    err: &'a mut dyn Write,
    last: Option<(Progress, Duration)>,
    drawn: bool,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(
        output: Output,
        label: &str,
        planned: Duration,
        err: &'a mut dyn Write,
    ) -> Self {
        Reporter {
            output,
            label: label.to_string(),
            planned,
            err,
            last: None,
            drawn: false,
        }
    }

    /// Takes the totals at `elapsed` into the run.
    pub(crate) fn update(&mut self, progress: Progress, elapsed: Duration) {
        let line = self.line(progress, elapsed);
        match self.output {
            Output::Quiet => {}
            Output::Live => {
                let _ = write!(self.err, "\r\x1b[2K{line}");
                let _ = self.err.flush();
                self.drawn = true;
            }
            Output::Lines => {
                let due = self
                    .last
                    .is_none_or(|(_, at)| elapsed.saturating_sub(at) >= LINE_EVERY);
                if due || self.last.is_none() {
                    let _ = writeln!(self.err, "{line}");
                } else {
                    return;
                }
            }
        }
        self.last = Some((progress, elapsed));
    }

    /// One line: where the run is, its rate over the last interval, its
    /// errors and latency so far.
    fn line(&self, progress: Progress, elapsed: Duration) -> String {
        let rate = match self.last {
            Some((before, at)) if elapsed > at => {
                (progress.requests - before.requests.min(progress.requests)) as f64
                    / (elapsed - at).as_secs_f64()
            }
            _ if progress.seconds > 0 => progress.requests as f64 / progress.seconds as f64,
            _ => f64::NAN,
        };
        // Before a second has passed there is no rate to show yet.
        let rate = if rate.is_nan() {
            "-".to_string()
        } else {
            format!("{rate:.0}")
        };
        let share = if progress.requests == 0 {
            0.0
        } else {
            progress.errors as f64 / progress.requests as f64
        };
        let quantile = |q: Option<u64>| q.map_or("-".into(), |us| latency(us as f64));
        format!(
            "{} {:>4}s/{}s  {:>9} requests/s  {} requests  {} errors ({})  p50 {}  p99 {}",
            self.label,
            elapsed.as_secs(),
            self.planned.as_secs_f64().ceil(),
            rate,
            progress.requests,
            progress.errors,
            percent(share),
            quantile(progress.p50_us),
            quantile(progress.p99_us),
        )
    }

    /// Ends the live line.
    pub(crate) fn finish(&mut self) {
        if self.drawn {
            let _ = write!(self.err, "\r\x1b[2K");
            let _ = self.err.flush();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(seconds: u64, requests: u64) -> Progress {
        Progress {
            seconds,
            requests,
            errors: 1,
            p50_us: Some(1_200),
            p99_us: None,
        }
    }

    #[test]
    fn a_log_gets_a_plain_line_every_few_seconds() {
        let mut out = Vec::new();
        let mut reporter = Reporter::new(Output::Lines, "load", Duration::from_secs(20), &mut out);
        for s in 1..=11 {
            reporter.update(progress(s, s * 100), Duration::from_secs(s));
        }
        reporter.finish();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[1].starts_with("load    6s/20s        100 requests/s  600 requests  1 errors"),
            "{text}"
        );
        assert!(lines[1].contains("p50 1.20ms  p99 -"), "{text}");
        assert!(!text.contains('\r'));
    }

    #[test]
    fn a_terminal_gets_one_line_redrawn() {
        let mut out = Vec::new();
        let mut reporter = Reporter::new(Output::Live, "load", Duration::from_secs(2), &mut out);
        reporter.update(progress(1, 50), Duration::from_secs(1));
        reporter.update(progress(2, 150), Duration::from_secs(2));
        reporter.finish();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("\r\x1b[2K").count(), 3);
        assert!(!text.contains('\n'));
        let mut quiet = Vec::new();
        let mut reporter = Reporter::new(Output::Quiet, "load", Duration::from_secs(2), &mut quiet);
        reporter.update(progress(1, 50), Duration::from_secs(1));
        reporter.finish();
        assert!(quiet.is_empty());
    }
}
