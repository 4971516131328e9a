//! The HTML page's plots, drawn with `plotters`' SVG backend into strings
//! that are inlined in the page (no files, no scripts, no fonts to load):
//! latency by percentile on a log axis, throughput and p99 per second, and
//! latency against offered rate for capacity searches.
//!
//! Each function returns an `<svg>` element, or an HTML note saying why
//! there is nothing to draw; a plot never makes the page fail.

use hdrhistogram::Histogram;
use plotters::prelude::*;

use crate::report::model::{CapacityStep, SeriesRow};

const SIZE: (u32, u32) = (760, 340);
const CORRECTED: RGBColor = RGBColor(31, 119, 180);
const UNCORRECTED: RGBColor = RGBColor(255, 127, 14);
const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(23, 190, 207),
];
const FONT: &str = "sans-serif";

type Plot = Result<String, String>;

fn note(reason: &str) -> String {
    format!("<p class=\"note\">{reason}</p>")
}

fn or_note(plot: Plot) -> String {
    plot.unwrap_or_else(|e| note(&format!("plot could not be drawn: {e}")))
}

/// The points of a percentile curve: x = 1/(1-q), y = latency in ms.
fn percentile_points(histogram: &Histogram<u64>, x_max: f64) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = histogram
        .iter_quantiles(5)
        .filter(|v| v.quantile_iterated_to() < 1.0)
        .map(|v| {
            (
                1.0 / (1.0 - v.quantile_iterated_to()),
                v.value_iterated_to() as f64 / 1000.0,
            )
        })
        .filter(|(x, _)| *x <= x_max)
        .collect();
    points.push((x_max, histogram.max() as f64 / 1000.0));
    points
}

/// `90%`, `99%`, `99.9%` … for a point on the 1/(1-q) axis.
fn percentile_label(x: &f64) -> String {
    let percent = 100.0 * (1.0 - 1.0 / x);
    if *x < 10.0 {
        format!("{percent:.0}%")
    } else {
        let digits = (x.log10().round() as usize).saturating_sub(2);
        format!("{percent:.digits$}%")
    }
}

/// Latency by percentile, corrected and uncorrected, on a log axis.
pub fn latency_curve(
    title: &str,
    corrected: &Histogram<u64>,
    uncorrected: &Histogram<u64>,
) -> String {
    if corrected.is_empty() {
        return note("No requests recorded.");
    }
    // Out to the percentile the sample count can resolve (at least 99.9%).
    let decades = (corrected.len() as f64).log10().ceil().clamp(3.0, 6.0);
    let x_max = 10f64.powf(decades);
    let corrected_points = percentile_points(corrected, x_max);
    let uncorrected_points = percentile_points(uncorrected, x_max);
    let y_max = corrected.max().max(uncorrected.max()) as f64 / 1000.0 * 1.1;
    or_note(draw(|root| {
        let mut chart = frame(root, title)
            .build_cartesian_2d((1f64..x_max).log_scale(), 0f64..y_max.max(0.001))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("percentile")
            .y_desc("latency (ms)")
            .x_label_formatter(&percentile_label)
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(corrected_points, CORRECTED.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label("from intended start (corrected)")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], CORRECTED.stroke_width(2))
            });
        chart
            .draw_series(LineSeries::new(
                uncorrected_points,
                UNCORRECTED.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label("from actual start (service time)")
            .legend(|(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], UNCORRECTED.stroke_width(2))
            });
        legend(&mut chart)
    }))
}

/// One value per second of the run.
pub fn per_second(title: &str, y_desc: &str, points: &[(f64, f64)]) -> String {
    if points.is_empty() {
        return note("No per-second data.");
    }
    let x_max = points.iter().map(|p| p.0).fold(1.0, f64::max) + 1.0;
    let y_max = points.iter().map(|p| p.1).fold(0.0, f64::max) * 1.1;
    or_note(draw(|root| {
        let mut chart = frame(root, title)
            .build_cartesian_2d(0f64..x_max, 0f64..y_max.max(1.0))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc("seconds since start")
            .y_desc(y_desc)
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(LineSeries::new(
                points.iter().copied(),
                CORRECTED.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?;
        Ok(())
    }))
}

/// Throughput per second, from the series rows. A last row that covers
/// less than half a second (the drain after the schedule ended) is left
/// out: its rate is extrapolated from a few requests.
pub fn throughput(series: &[SeriesRow]) -> String {
    let short_tail = series
        .last()
        .is_some_and(|r| r.throughput_rps > 0.0 && (r.requests as f64 / r.throughput_rps) < 0.5);
    let shown = if short_tail {
        &series[..series.len() - 1]
    } else {
        series
    };
    let points: Vec<(f64, f64)> = shown
        .iter()
        .map(|r| (r.second as f64, r.throughput_rps))
        .collect();
    per_second("Throughput per second", "requests/s", &points)
}

/// p99 latency per second (ms), seconds without requests left out.
pub fn p99(series: &[SeriesRow]) -> String {
    let points: Vec<(f64, f64)> = series
        .iter()
        .filter_map(|r| Some((r.second as f64, r.p99_us? as f64 / 1000.0)))
        .collect();
    per_second("p99 latency per second", "p99 (ms)", &points)
}

/// p99 per operation against the offered rate; held steps as filled
/// circles, broken ones as open circles.
pub fn capacity(steps: &[CapacityStep], unit: &str) -> String {
    if steps.is_empty() {
        return note("No capacity steps.");
    }
    let mut sorted: Vec<&CapacityStep> = steps.iter().collect();
    sorted.sort_by(|a, b| a.rate_rps.total_cmp(&b.rate_rps));
    let ops: Vec<&String> = sorted[0].latency_us.keys().collect();
    let x_max = sorted.last().map_or(1.0, |s| s.rate_rps) * 1.05;
    let y_max = sorted
        .iter()
        .flat_map(|s| s.latency_us.values().map(|p| p.p99 as f64 / 1000.0))
        .fold(0.0, f64::max)
        * 1.1;
    or_note(draw(|root| {
        let mut chart = frame(root, "p99 latency against offered rate")
            .build_cartesian_2d(0f64..x_max.max(1.0), 0f64..y_max.max(0.001))
            .map_err(|e| e.to_string())?;
        chart
            .configure_mesh()
            .x_desc(format!("offered rate ({unit})"))
            .y_desc("p99 (ms)")
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, op) in ops.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let points: Vec<(f64, f64, bool)> = sorted
                .iter()
                .filter_map(|s| {
                    let p = s.latency_us.get(*op)?;
                    Some((s.rate_rps, p.p99 as f64 / 1000.0, s.passed))
                })
                .collect();
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (p.0, p.1)),
                    color.stroke_width(2),
                ))
                .map_err(|e| e.to_string())?
                .label(op.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                });
            chart
                .draw_series(points.iter().map(|&(x, y, passed)| {
                    let style = if passed {
                        color.filled()
                    } else {
                        color.stroke_width(2)
                    };
                    Circle::new((x, y), 5, style)
                }))
                .map_err(|e| e.to_string())?;
        }
        legend(&mut chart)
    }))
}

/// A chart on `root` with `title` and room for the axes' labels.
fn frame<'a, 'b>(root: &'a Area<'b>, title: &str) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, (FONT, 18))
        .margin(12)
        .margin_right(36)
        .x_label_area_size(40)
        .y_label_area_size(64);
    builder
}

/// The series' labels in the upper left corner, over the plot.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 13))
        .draw()
        .map_err(|e| e.to_string())
}

/// An SVG canvas.
type Area<'a> = DrawingArea<SVGBackend<'a>, plotters::coord::Shift>;

/// Runs `paint` on a fresh SVG canvas and returns the SVG text.
fn draw(paint: impl FnOnce(&Area<'_>) -> Result<(), String>) -> Plot {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        paint(&root)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_labels_read_as_percentiles() {
        assert_eq!(percentile_label(&1.0), "0%");
        assert_eq!(percentile_label(&10.0), "90%");
        assert_eq!(percentile_label(&100.0), "99%");
        assert_eq!(percentile_label(&1000.0), "99.9%");
        assert_eq!(percentile_label(&10000.0), "99.99%");
    }
}
