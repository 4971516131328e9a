//! The one shape of latency histogram every recorder, report and merge
//! uses: microseconds from 1 µs to 60 s, three significant figures. Two
//! histograms of this shape always add losslessly.

use hdrhistogram::Histogram;

/// Smallest latency a histogram tells apart, in microseconds.
pub const LOWEST_US: u64 = 1;
/// Largest latency a histogram holds, in microseconds (60 s); longer ones
/// are recorded as this and counted as clamped.
pub const HIGHEST_US: u64 = 60_000_000;
/// Significant figures every latency histogram keeps.
pub const SIGNIFICANT_FIGURES: u8 = 3;

/// An empty histogram with the recorder's range and precision (µs).
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_US, HIGHEST_US, SIGNIFICANT_FIGURES)
        .expect("the recorder's bounds are valid")
}
