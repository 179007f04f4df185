//! The nightly trend charts of a load run with `--history` (`Timeline::trend`): one chart per
//! judged metric (p95, error rate, and for streams p95 time to first token and inter-token
//! latency), one solid line per journey over the last nights (at most
//! [`MAX_SERIES`], the worst tonight first) and, dashed in the same colour, the regression
//! threshold each night was judged against (none before a night has a baseline).

use crate::charts::{
    draw_legend, draw_svg, slug, tick, title_and_legend, Chart, ChartGroup, DrawResult, Line, FONT,
    HEIGHT, MAX_SERIES, PALETTE, WIDTH,
};
use crate::error::ReportError;
use models::trend::{Trend, TrendMetric};
use plotters::prelude::*;
use std::path::Path;

/// Draws the trend's charts into `dir`, in the trend's metric order.
pub fn draw(dir: &Path, trend: &Trend) -> Result<Vec<Chart>, ReportError> {
    let mut charts = Vec::new();
    for (i, metric) in trend.metrics.iter().enumerate() {
        let (values, thresholds) = lines(metric);
        if values.is_empty() {
            continue;
        }
        let (what, y_desc) = match metric.unit.as_str() {
            "ratio" => ("Error rate", "error rate (%)"),
            _ if metric.name == "p95_ms" => ("p95 latency", "p95 (ms)"),
            _ if metric.name == "ttft_p95_ms" => ("p95 time to first token", "p95 TTFT (ms)"),
            _ if metric.name == "itl_p95_ms" => ("p95 inter-token latency", "p95 ITL (ms)"),
            _ => (metric.name.as_str(), metric.unit.as_str()),
        };
        let chart = Chart {
            group: ChartGroup::Trend,
            file_name: format!("trend-{}-{}.svg", i + 1, slug(&metric.name)),
            title: format!("{what} per night, with the regression threshold"),
            width: WIDTH,
            height: HEIGHT,
        };
        draw_svg(dir, &chart, |area| {
            draw_chart(
                area,
                &chart.title,
                y_desc,
                &trend.nights,
                &values,
                &thresholds,
            )
        })?;
        charts.push(chart);
    }
    Ok(charts)
}

/// The journeys' value lines and threshold lines (same colours), worst tonight first; error
/// rates in percent.
fn lines(metric: &TrendMetric) -> (Vec<Line>, Vec<Line>) {
    let scale = if metric.unit == "ratio" { 100.0 } else { 1.0 };
    let last = |v: &[Option<f64>]| v.iter().rev().find_map(|x| *x).unwrap_or(f64::NEG_INFINITY);
    let mut journeys: Vec<_> = metric
        .journeys
        .iter()
        .filter(|(_, l)| l.values.iter().any(Option::is_some))
        .collect();
    journeys.sort_by(|a, b| {
        last(&b.1.values)
            .total_cmp(&last(&a.1.values))
            .then_with(|| a.0.cmp(b.0))
    });
    journeys.truncate(MAX_SERIES);
    let points = |v: &[Option<f64>]| -> Vec<Option<(f64, f64)>> {
        v.iter()
            .enumerate()
            .map(|(k, x)| x.filter(|x| x.is_finite()).map(|x| (k as f64, x * scale)))
            .collect()
    };
    let mut values = Vec::new();
    let mut thresholds = Vec::new();
    for (k, (name, line)) in journeys.into_iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        values.push(Line::new(name, color, points(&line.values)));
        thresholds.push(Line::new(name, color, points(&line.thresholds)));
    }
    (values, thresholds)
}

/// `MM-DD` of a `YYYY-MM-DDTHH:MM:SSZ` time (the whole text if it is not one).
fn day(time: &str) -> String {
    time.get(5..10).unwrap_or(time).to_string()
}

fn draw_chart(
    area: &DrawingArea<SVGBackend, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    nights: &[String],
    values: &[Line],
    thresholds: &[Line],
) -> DrawResult {
    let (plot, legend) = title_and_legend(area, title)?;
    let top = values
        .iter()
        .chain(thresholds)
        .map(Line::max_value)
        .fold(0.0, f64::max);
    let y_max = if top > 0.0 { top * 1.15 } else { 1.0 };
    let n = nights.len().max(1);
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5..(n as f64 - 0.5), 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("night (UTC date)")
        .y_desc(y_desc)
        .x_labels(n.min(10))
        .x_label_formatter(&|v| {
            let k = v.round();
            if (v - k).abs() < 1e-6 && k >= 0.0 {
                nights.get(k as usize).map(|t| day(t)).unwrap_or_default()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| tick(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    for line in thresholds {
        for segment in &line.segments {
            chart.draw_series(DashedLineSeries::new(
                segment.iter().copied(),
                6,
                4,
                line.color.mix(0.8).stroke_width(1),
            ))?;
        }
    }
    for line in values {
        for segment in &line.segments {
            chart.draw_series(LineSeries::new(
                segment.iter().copied(),
                line.color.stroke_width(2),
            ))?;
            chart.draw_series(
                segment
                    .iter()
                    .map(|&p| Circle::new(p, 3, line.color.filled())),
            )?;
        }
    }
    let mut entries: Vec<(&str, ShapeStyle)> = values
        .iter()
        .map(|l| (l.label.as_str(), l.color.stroke_width(2)))
        .collect();
    if thresholds.iter().any(|l| !l.segments.is_empty()) {
        entries.push(("threshold (dashed)", RGBColor(90, 90, 90).stroke_width(1)));
    }
    draw_legend(&legend, &entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::trend::TrendLine;

    fn metric(unit: &str, journeys: usize) -> TrendMetric {
        TrendMetric {
            name: if unit == "ms" { "p95_ms" } else { "error_rate" }.into(),
            unit: unit.into(),
            journeys: (0..journeys)
                .map(|j| {
                    (
                        format!("journey-{j}"),
                        TrendLine {
                            values: vec![Some(j as f64), None, Some(j as f64 / 4.0)],
                            thresholds: vec![None, Some(1.0), Some(2.0)],
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn at_most_eight_lines_worst_tonight_first_error_rates_in_percent() {
        let (values, thresholds) = lines(&metric("ratio", 12));
        assert_eq!(values.len(), MAX_SERIES);
        assert_eq!(thresholds.len(), MAX_SERIES);
        assert_eq!(values[0].label, "journey-11");
        // 2.75 tonight is 275 %; the gap of the second night breaks the line.
        assert_eq!(
            values[0].segments,
            vec![vec![(0.0, 1100.0)], vec![(2.0, 275.0)]]
        );
        assert_eq!(
            thresholds[0].segments,
            vec![vec![(1.0, 100.0), (2.0, 200.0)]]
        );
    }

    #[test]
    fn draws_a_chart_per_metric_with_dated_ticks() {
        let trend = Trend {
            nights: vec![
                "2026-12-02T02:00:00Z".into(),
                "2026-12-03T02:00:00Z".into(),
                "2026-12-04T02:00:00Z".into(),
            ],
            partial: vec![false; 3],
            metrics: vec![metric("ms", 2), metric("ratio", 2)],
            regressions: vec![],
        };
        let dir = tempfile::tempdir().unwrap();
        let charts = draw(dir.path(), &trend).unwrap();
        assert_eq!(charts.len(), 2);
        let svg = std::fs::read_to_string(dir.path().join(&charts[0].file_name)).unwrap();
        assert!(
            svg.contains("\n12-03\n") && svg.contains("threshold (dashed)"),
            "{svg}"
        );
    }
}
