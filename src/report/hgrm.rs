//! The `.hgrm` percentile distribution: the text HdrHistogram's
//! `outputPercentileDistribution` prints (and wrk2 shows), which
//! HdrHistogram's plotter and the online log analyser read. Values are in
//! milliseconds with three decimals, five ticks per half-distance, as the
//! Java implementation does by default.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

/// Steps per halving of the remaining distance to 100%.
const TICKS_PER_HALF_DISTANCE: u32 = 5;
/// µs per output unit (ms).
const SCALE: f64 = 1000.0;

/// The percentile distribution of a µs histogram, in milliseconds.
pub(crate) fn render(histogram: &Histogram<u64>) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !histogram.is_empty() {
        let mut total = 0;
        for step in histogram.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
            total += step.count_since_last_iteration();
            let value = step.value_iterated_to() as f64 / SCALE;
            let quantile = step.quantile_iterated_to();
            if quantile < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:12.3} {quantile:2.12} {total:10} {:14.2}",
                    1.0 / (1.0 - quantile)
                );
            } else {
                let _ = writeln!(out, "{value:12.3} {quantile:2.12} {total:10}");
            }
        }
    }
    let (mean, deviation, max) = if histogram.is_empty() {
        (0.0, 0.0, 0.0)
    } else {
        (
            histogram.mean() / SCALE,
            histogram.stdev() / SCALE,
            histogram.max() as f64 / SCALE,
        )
    };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:12.3}, StdDeviation   = {deviation:12.3}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:12.3}, Total count    = {:12}]",
        histogram.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        histogram.buckets(),
        sub_buckets(histogram.sigfig())
    );
    out
}

/// HdrHistogram's sub-bucket count for `sigfig` significant figures: the
/// smallest power of two that holds 2·10^sigfig values.
fn sub_buckets(sigfig: u8) -> u64 {
    (2 * 10u64.pow(u32::from(sigfig))).next_power_of_two()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::latency_histogram;

    #[test]
    fn renders_hdrhistograms_percentile_format() {
        let mut h = latency_histogram();
        for ms in 1..=100 {
            h.record(ms * 1000).unwrap();
        }
        let text = render(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        assert_eq!(
            lines[2],
            "       1.000 0.000000000000          1           1.00"
        );
        let median = lines
            .iter()
            .find(|l| l.contains(" 0.500000000000 "))
            .unwrap();
        assert_eq!(
            *median,
            "      50.015 0.500000000000         50           2.00"
        );
        let last = lines[lines.len() - 4];
        assert_eq!(last, "     100.031 1.000000000000        100");
        assert_eq!(
            lines[lines.len() - 3],
            "#[Mean    =       50.504, StdDeviation   =       28.866]"
        );
        assert_eq!(
            lines[lines.len() - 2],
            "#[Max     =      100.031, Total count    =          100]"
        );
        assert!(lines[lines.len() - 1].ends_with("SubBuckets     =         2048]"));
    }

    #[test]
    fn an_empty_histogram_has_only_the_frame() {
        let text = render(&latency_histogram());
        assert_eq!(text.lines().count(), 5, "{text}");
    }
}
