//! Reading one gate expression (the grammar is in the parent module's
//! docs): a hand-written reader that tracks its position, so every error
//! names the column where the expression went wrong.

use crate::report::model::Tally;

use super::{Comparator, Gate, GateError, Measure, Metric, Quantile, Unit};

/// A hand-written reader for one expression, tracking the position.
pub(super) struct Parser<'a> {
    text: &'a str,
    /// Byte offset of the next unread character.
    at: usize,
}

const MEASURES: &str = "p50, p90, p99, p999, min, mean, max, count, errors, throughput \
                        or an outcome (sent, verified, rate_limited, 503, timeout …)";

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str) -> Parser<'a> {
        Parser { text, at: 0 }
    }

    fn error(&self, at: usize, reason: impl Into<String>) -> GateError {
        GateError {
            expression: self.text.to_string(),
            column: self.text[..at].chars().count() + 1,
            reason: reason.into(),
        }
    }

    fn rest(&self) -> &str {
        &self.text[self.at..]
    }

    fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.at += token.len();
            true
        } else {
            false
        }
    }

    fn name(&mut self) -> (usize, &'a str) {
        let start = self.at;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(self.rest().len());
        self.at += len;
        (start, &self.text[start..self.at])
    }

    pub(super) fn gate(mut self) -> Result<Gate, GateError> {
        self.skip_spaces();
        let metric = self.metric()?;
        self.skip_spaces();
        let relative_to_reference = if self.eat("/") {
            self.skip_spaces();
            let (at, word) = self.name();
            if word != "reference" {
                return Err(self.error(at, "expected `reference` after `/`"));
            }
            self.skip_spaces();
            true
        } else {
            false
        };
        let comparator_at = self.at;
        let comparator = if self.eat("<=") {
            Comparator::LessOrEqual
        } else if self.eat(">=") {
            Comparator::GreaterOrEqual
        } else if self.eat("<") {
            Comparator::Less
        } else if self.eat(">") {
            Comparator::Greater
        } else {
            return Err(self.error(comparator_at, "expected <, <=, > or >="));
        };
        self.skip_spaces();
        let number_at = self.at;
        let len = self
            .rest()
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(self.rest().len());
        let number = &self.text[number_at..number_at + len];
        let value: f64 = match number.parse() {
            Ok(v) if !number.starts_with('.') => v,
            _ => return Err(self.error(number_at, "expected a number")),
        };
        self.at += len;
        self.skip_spaces();
        let unit_at = self.at;
        let unit_text = self.rest().trim_end();
        let (limit, unit) = self.unit(&metric, relative_to_reference, value, unit_text, unit_at)?;
        Ok(Gate {
            expression: self.text.trim().to_string(),
            metric,
            relative_to_reference,
            comparator,
            limit,
            unit,
        })
    }

    fn metric(&mut self) -> Result<Metric, GateError> {
        let (at, first) = self.name();
        if first.is_empty() {
            return Err(self.error(
                at,
                "expected a metric: throughput, errors, dropped, requests or OP.MEASURE",
            ));
        }
        let first = first.to_string();
        if !self.eat(".") {
            return match first.as_str() {
                "throughput" => Ok(Metric::Throughput),
                "requests" => Ok(Metric::Requests),
                "errors" => Ok(Metric::Errors),
                "dropped" => Ok(Metric::Dropped),
                _ => Err(self.error(
                    at,
                    format!(
                        "unknown metric {first:?}: expected throughput, errors, dropped, \
                         requests or OP.MEASURE (like {first}.p99)"
                    ),
                )),
            };
        }
        let (measure_at, measure) = self.name();
        let measure = match measure {
            "p50" => Measure::Latency(Quantile::P50),
            "p90" => Measure::Latency(Quantile::P90),
            "p99" => Measure::Latency(Quantile::P99),
            "p999" => Measure::Latency(Quantile::P999),
            "min" => Measure::Latency(Quantile::Min),
            "mean" => Measure::Latency(Quantile::Mean),
            "max" => Measure::Latency(Quantile::Max),
            "count" => Measure::Count,
            "errors" => Measure::Errors,
            "throughput" => Measure::Throughput,
            "" => {
                return Err(self.error(
                    measure_at,
                    format!("expected what to measure of {first}: {MEASURES}"),
                ))
            }
            name if Tally::from_name(name).is_some() => Measure::Outcome(name.to_string()),
            name => {
                return Err(self.error(
                    measure_at,
                    format!("unknown measure {name:?} of {first}: expected {MEASURES}"),
                ))
            }
        };
        Ok(Metric::Operation { op: first, measure })
    }

    /// The limit in the unit's base, checking the unit fits the metric.
    fn unit(
        &self,
        metric: &Metric,
        relative: bool,
        value: f64,
        unit: &str,
        at: usize,
    ) -> Result<(f64, Unit), GateError> {
        let wrong = |expected: &str| {
            Err(self.error(
                at,
                if unit.is_empty() {
                    format!("expected a unit: {expected}")
                } else {
                    format!("unit {unit:?} does not fit here: expected {expected}")
                },
            ))
        };
        if relative {
            return match unit {
                "" => Ok((value, Unit::Ratio)),
                "%" => Ok((value / 100.0, Unit::Ratio)),
                _ => wrong("none (a ratio, like 0.6) or %"),
            };
        }
        let latency = matches!(
            metric,
            Metric::Operation {
                measure: Measure::Latency(_),
                ..
            }
        );
        let countable = matches!(
            metric,
            Metric::Errors
                | Metric::Dropped
                | Metric::Operation {
                    measure: Measure::Errors | Measure::Outcome(_),
                    ..
                }
        );
        let throughput = matches!(
            metric,
            Metric::Throughput
                | Metric::Operation {
                    measure: Measure::Throughput,
                    ..
                }
        );
        if latency {
            return match unit {
                "us" | "µs" => Ok((value, Unit::Micros)),
                "ms" => Ok((value * 1e3, Unit::Micros)),
                "s" => Ok((value * 1e6, Unit::Micros)),
                _ => wrong("us, ms or s"),
            };
        }
        if countable {
            return match unit {
                "%" => Ok((value / 100.0, Unit::Share)),
                "" => Ok((value, Unit::Count)),
                _ => wrong("% (a share of the requests) or none (a count)"),
            };
        }
        if throughput {
            return match unit {
                "" | "/s" => Ok((value, Unit::PerSecond)),
                _ => wrong("none or /s (requests per second)"),
            };
        }
        match unit {
            "" => Ok((value, Unit::Count)),
            _ => wrong("none (a count)"),
        }
    }
}
