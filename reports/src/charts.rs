//! The report's charts, drawn with plotters' SVG backend into `charts/`: latency percentiles
//! over time per journey (timeline events as vertical marks), a latency histogram per journey,
//! and one chart per series family (`replicas/gateway` and `replicas/db` share the `replicas`
//! chart), one line per series, at most [`MAX_SERIES`] a chart (a larger family is split over
//! several, its busiest members first) so every legend entry fits its box; one chart per
//! rollout (the new version's weight as a step line, its analyses' verdicts, the decision);
//! the nightly trend is [`crate::trend`]'s.
//!
//! Text: plotters is built without its default features (no font-kit, no fontconfig, no font
//! file). Its SVG backend writes every label as an SVG `<text>` element with
//! `font-family="sans-serif"`, which the browser lays out with its own fonts; plotters only
//! estimates label widths (0.7 em a character) to place them. So the charts need no font at
//! render time and look like the page around them.

use crate::error::ReportError;
use crate::folder::write_file;
use crate::numbers;
use indexmap::IndexMap;
use models::summary::RunSummary;
use models::timeline::{Timeline, TimelineEvent};
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::error::Error;
use std::path::Path;

/// Which section of the report a chart belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartGroup {
    /// Latency percentiles of one journey over time.
    Latency,
    /// The latency distribution of one journey.
    Histogram,
    /// One family of named series (replicas, queue, kafka_lag ...).
    Family,
    /// The month against traffic (`cost.cost_vs_traffic`).
    Cost,
    /// A metric over the last nights (`--history`), with its regression threshold.
    Trend,
    /// A rollout: the new version's weight, its analyses' verdicts, the decision.
    Rollout,
}

/// The most lines one chart draws: a legend of this many entries (and one for events) fits
/// the chart's height, and more lines are no longer told apart by colour.
pub const MAX_SERIES: usize = 8;

/// A chart written to `charts/`.
#[derive(Clone, Debug, PartialEq)]
pub struct Chart {
    pub group: ChartGroup,
    /// File name inside `charts/`.
    pub file_name: String,
    /// What it shows, for the page and for `alt`.
    pub title: String,
    pub width: u32,
    pub height: u32,
}

pub(crate) const WIDTH: u32 = 1040;
/// Width of the legend column at the right of every chart.
const LEGEND_WIDTH: u32 = 200;
pub(crate) const HEIGHT: u32 = 360;
pub(crate) const FONT: &str = "sans-serif";
const EVENT_COLOR: RGBColor = RGBColor(200, 30, 30);
/// Tableau 10: distinguishable, and readable for the common colour blindnesses.
pub(crate) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
    RGBColor(214, 39, 40),
];

pub(crate) type DrawResult = Result<(), Box<dyn Error>>;
pub(crate) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws every chart the run has data for into `charts_dir`, in report order.
pub fn draw_all(
    charts_dir: &Path,
    summary: &RunSummary,
    timeline: &Timeline,
) -> Result<Vec<Chart>, ReportError> {
    let axis = TimeAxis::new(run_end_s(summary, timeline));
    let mut charts = Vec::new();
    if let Some(trend) = &timeline.trend {
        charts.extend(crate::trend::draw(charts_dir, trend)?);
    }
    for (i, (journey, windows)) in timeline.journeys.iter().enumerate() {
        let pick = |f: fn(&models::timeline::WindowStats) -> f64| -> Vec<Option<(f64, f64)>> {
            windows
                .iter()
                .map(|w| {
                    let v = f(w);
                    // A window's figures belong to its middle.
                    let mid = w.start_s + timeline.window_s / 2.0;
                    (w.count > 0 && v.is_finite()).then_some((mid, v))
                })
                .collect()
        };
        let lines = vec![
            Line::new("p50", PALETTE[0], pick(|w| w.p50_ms)),
            Line::new("p95", PALETTE[1], pick(|w| w.p95_ms)),
            Line::new("p99", PALETTE[3], pick(|w| w.p99_ms)),
        ];
        if lines.iter().all(|l| l.segments.is_empty()) {
            continue;
        }
        let chart = Chart {
            group: ChartGroup::Latency,
            file_name: format!("latency-{}-{}.svg", i + 1, slug(journey)),
            title: format!("Latency of {journey} over time"),
            width: WIDTH,
            height: HEIGHT,
        };
        draw_svg(charts_dir, &chart, |area| {
            draw_time_chart(
                area,
                &chart.title,
                "latency (ms)",
                &axis,
                &lines,
                &timeline.events,
            )
        })?;
        charts.push(chart);
    }
    for (i, (journey, buckets)) in timeline.histograms.iter().enumerate() {
        let Some(bars) = Bars::from_buckets(buckets) else {
            continue;
        };
        let markers: Vec<(String, f64)> = summary
            .journeys
            .get(journey)
            .map(|j| {
                [
                    ("p50", j.latency_ms.p50),
                    ("p95", j.latency_ms.p95),
                    ("p99", j.latency_ms.p99),
                ]
                .into_iter()
                .filter(|(_, v)| v.is_finite() && *v > 0.0)
                .map(|(k, v)| (format!("{k} {} ms", numbers::ms(v)), v))
                .collect()
            })
            .unwrap_or_default();
        let chart = Chart {
            group: ChartGroup::Histogram,
            file_name: format!("histogram-{}-{}.svg", i + 1, slug(journey)),
            title: format!("Latency distribution of {journey}"),
            width: WIDTH,
            height: HEIGHT,
        };
        draw_svg(charts_dir, &chart, |area| {
            draw_histogram(area, &chart.title, &bars, &markers)
        })?;
        charts.push(chart);
    }
    for (i, (family, members)) in families(timeline).into_iter().enumerate() {
        let mut lines: Vec<Line> = members
            .iter()
            .map(|(label, samples)| {
                let points = samples
                    .iter()
                    .map(|&(t, v)| (t.is_finite() && v.is_finite()).then_some((t, v)))
                    .collect();
                Line::new(label, PALETTE[0], points)
            })
            .filter(|l| !l.segments.is_empty())
            .collect();
        if lines.is_empty() {
            continue;
        }
        // Busiest first (by peak, then name), so a split family's first chart holds the top ones.
        lines.sort_by(|a, b| {
            b.max_value()
                .total_cmp(&a.max_value())
                .then_with(|| a.label.cmp(&b.label))
        });
        let parts = lines.len().div_ceil(MAX_SERIES);
        for (part, chunk) in lines.chunks_mut(MAX_SERIES).enumerate() {
            for (k, line) in chunk.iter_mut().enumerate() {
                line.color = PALETTE[k % PALETTE.len()];
            }
            let (file_name, title) = if parts == 1 {
                (
                    format!("series-{}-{}.svg", i + 1, slug(family)),
                    format!("{family} over time"),
                )
            } else {
                (
                    format!("series-{}-{}-{}.svg", i + 1, slug(family), part + 1),
                    format!("{family} over time ({} of {parts})", part + 1),
                )
            };
            let chart = Chart {
                group: ChartGroup::Family,
                file_name,
                title,
                width: WIDTH,
                height: HEIGHT,
            };
            draw_svg(charts_dir, &chart, |area| {
                draw_time_chart(area, &chart.title, family, &axis, chunk, &timeline.events)
            })?;
            charts.push(chart);
        }
    }
    for (i, track) in timeline.rollouts.iter().enumerate() {
        let chart = Chart {
            group: ChartGroup::Rollout,
            file_name: format!("rollout-{}-{}.svg", i + 1, slug(&track.name)),
            title: format!("Rollout {}: the new version's weight", track.name),
            width: WIDTH,
            height: HEIGHT,
        };
        draw_svg(charts_dir, &chart, |area| {
            draw_rollout(area, &chart.title, &axis, track)
        })?;
        charts.push(chart);
    }
    if let Some(curve) = summary
        .cost
        .as_ref()
        .and_then(|c| c.cost_vs_traffic.as_ref())
    {
        if curve.points.len() > 1 {
            let chart = Chart {
                group: ChartGroup::Cost,
                file_name: "cost-vs-traffic.svg".to_string(),
                title: "Monthly cost against traffic".to_string(),
                width: WIDTH,
                height: HEIGHT + 60,
            };
            draw_svg(charts_dir, &chart, |area| {
                draw_cost_vs_traffic(area, &chart.title, curve)
            })?;
            charts.push(chart);
        }
    }
    Ok(charts)
}

/// The month (total, capacity, traffic-driven) against journeys per second, both axes
/// logarithmic, with the reference band's ends as flat lines and the run's rate marked: at
/// most six legend entries.
fn draw_cost_vs_traffic(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    curve: &models::projection::CostVsTraffic,
) -> DrawResult {
    let (plot, legend) = title_and_legend(area, title)?;
    let pts = &curve.points;
    let x_lo = pts.first().map_or(1e-3, |p| p.rate_per_s).max(1e-9);
    let x_hi = pts.last().map_or(1.0, |p| p.rate_per_s).max(x_lo * 10.0);
    let band = curve.band.as_ref().map(|b| (b.low_usd, b.high_usd));
    let values = pts
        .iter()
        .flat_map(|p| {
            [
                p.monthly_usd,
                p.infrastructure_monthly_usd,
                p.usage_monthly_usd,
            ]
        })
        .chain(band.into_iter().flat_map(|(l, h)| [l, h]))
        .filter(|v| v.is_finite() && *v > 0.0);
    let (y_lo, y_hi) = values.fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    let (y_lo, y_hi) = if y_lo.is_finite() {
        (y_lo * 0.7, y_hi * 1.5)
    } else {
        (1.0, 10.0)
    };
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(80)
        .build_cartesian_2d((x_lo..x_hi).log_scale(), (y_lo..y_hi).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("journeys per second (log scale)")
        .y_desc("USD a month (log scale)")
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| format!("${}", tick(*v)))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    let positive = |f: fn(&models::projection::CostAtRate) -> f64| -> Vec<(f64, f64)> {
        pts.iter()
            .map(|p| (p.rate_per_s, f(p)))
            .filter(|(_, v)| v.is_finite() && *v > 0.0)
            .collect()
    };
    let mut entries: Vec<(&str, ShapeStyle)> = Vec::new();
    for (label, color, width, line) in [
        ("month", PALETTE[0], 3, positive(|p| p.monthly_usd)),
        (
            "capacity",
            PALETTE[1],
            2,
            positive(|p| p.infrastructure_monthly_usd),
        ),
        (
            "traffic-driven",
            PALETTE[2],
            2,
            positive(|p| p.usage_monthly_usd),
        ),
    ] {
        let style = color.stroke_width(width);
        chart.draw_series(std::iter::once(PathElement::new(line, style)))?;
        entries.push((label, style));
    }
    if let Some((low, high)) = band {
        for (label, v) in [("reference low", low), ("reference high", high)] {
            let style = PALETTE[3].mix(0.7).stroke_width(1);
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(x_lo, v), (x_hi, v)],
                style,
            )))?;
            entries.push((label, style));
        }
    }
    let run = curve.run_rate_per_s;
    if let Some(p) = pts
        .iter()
        .find(|p| (p.rate_per_s - run).abs() <= 1e-9 * run)
    {
        chart.draw_series(std::iter::once(Circle::new(
            (run, p.monthly_usd),
            5,
            BLACK.filled(),
        )))?;
        entries.push(("the run's rate", BLACK.filled()));
    }
    draw_legend(&legend, &entries)
}

/// One series of a family: its label (the name after the `/`) and its `(time_s, value)` samples.
pub type FamilyMember<'a> = (&'a str, &'a [(f64, f64)]);

/// The named series grouped by family (the part of the name before the first `/`), in order of
/// first appearance; each member is labelled by the rest of its name.
pub fn families(timeline: &Timeline) -> IndexMap<&str, Vec<FamilyMember<'_>>> {
    let mut out: IndexMap<&str, Vec<FamilyMember<'_>>> = IndexMap::new();
    for (name, samples) in &timeline.series {
        let (family, member) = name
            .split_once('/')
            .unwrap_or((name.as_str(), name.as_str()));
        out.entry(family)
            .or_default()
            .push((member, samples.as_slice()));
    }
    out
}

/// Renders one chart to an SVG string with plotters, then writes it to `dir/file_name`.
pub(crate) fn draw_svg(
    dir: &Path,
    chart: &Chart,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> DrawResult,
) -> Result<(), ReportError> {
    let path = dir.join(&chart.file_name);
    let failed = |e: &dyn std::fmt::Display| ReportError::Chart {
        path: path.clone(),
        message: e.to_string(),
    };
    let mut svg = String::new();
    {
        let area =
            SVGBackend::with_string(&mut svg, (chart.width, chart.height)).into_drawing_area();
        area.fill(&WHITE).map_err(|e| failed(&e))?;
        draw(&area).map_err(|e| failed(&e))?;
        area.present().map_err(|e| failed(&e))?;
    }
    write_file(&path, &svg)
}

/// One panel under the replica panel of an HPA replay chart: a metric the HPA reads, as its
/// per-pod mean at each sync.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayPanel {
    /// The metric's name (`cpu`, `p95_latency_ms`).
    pub metric: String,
    /// The y axis' description (`cores per pod`).
    pub unit: String,
    /// `(time_s, value)`; `None` where the sync had no sample.
    pub points: Vec<(f64, Option<f64>)>,
    /// The HPA's target in the same unit, drawn as a flat line when known.
    pub target: Option<f64>,
}

/// What `twin hpa replay` charts: the replica count the controller chose at every sync, the
/// count the metrics alone asked for, and the metrics themselves.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayChart {
    pub title: String,
    /// `(time_s, replicas chosen)`.
    pub replicas: Vec<(f64, f64)>,
    /// `(time_s, metric-desired count)`; `None` where no metric gave a proposal.
    pub metric_desired: Vec<(f64, Option<f64>)>,
    pub panels: Vec<ReplayPanel>,
}

/// Renders an HPA replay as one SVG: the replica panel on top, one panel per metric below it,
/// on a shared time axis. Returns the SVG text (the caller writes it).
pub fn replay_svg(chart: &ReplayChart) -> Result<String, String> {
    let end = chart
        .replicas
        .iter()
        .map(|p| p.0)
        .chain(
            chart
                .panels
                .iter()
                .flat_map(|p| p.points.iter().map(|q| q.0)),
        )
        .filter(|t| t.is_finite())
        .fold(0.0, f64::max);
    let axis = TimeAxis::new(end);
    let height = HEIGHT + 260 * chart.panels.len() as u32;
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        area.fill(&WHITE).map_err(|e| e.to_string())?;
        let (top, rest) = area.split_vertically(HEIGHT);
        let lines = vec![
            Line::new(
                "replicas",
                PALETTE[0],
                chart.replicas.iter().map(|&(t, v)| Some((t, v))).collect(),
            ),
            Line::new(
                "metric-desired",
                PALETTE[1],
                chart
                    .metric_desired
                    .iter()
                    .map(|&(t, v)| v.map(|v| (t, v)))
                    .collect(),
            ),
        ];
        draw_time_chart(&top, &chart.title, "replicas", &axis, &lines, &[])
            .map_err(|e| e.to_string())?;
        let panels = if chart.panels.is_empty() {
            Vec::new()
        } else {
            rest.split_evenly((chart.panels.len(), 1))
        };
        for (panel, area) in chart.panels.iter().zip(&panels) {
            let mut lines = vec![Line::new(
                &format!("{} (mean per pod)", panel.metric),
                PALETTE[2],
                panel
                    .points
                    .iter()
                    .map(|&(t, v)| v.filter(|v| v.is_finite()).map(|v| (t, v)))
                    .collect(),
            )];
            if let Some(target) = panel.target.filter(|t| t.is_finite()) {
                lines.push(Line::new(
                    "target",
                    PALETTE[9],
                    vec![Some((0.0, target)), Some((axis.end_s, target))],
                ));
            }
            draw_time_chart(area, &panel.metric, &panel.unit, &axis, &lines, &[])
                .map_err(|e| e.to_string())?;
        }
        area.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// One line of a chart: its legend label, colour, and the runs of consecutive points (a gap in
/// the data, such as a window without completions, breaks the line).
pub(crate) struct Line {
    pub(crate) label: String,
    pub(crate) color: RGBColor,
    pub(crate) segments: Vec<Vec<(f64, f64)>>,
}

impl Line {
    pub(crate) fn new(label: &str, color: RGBColor, points: Vec<Option<(f64, f64)>>) -> Line {
        let mut segments: Vec<Vec<(f64, f64)>> = Vec::new();
        let mut current = Vec::new();
        for p in points {
            match p {
                Some(p) => current.push(p),
                None if !current.is_empty() => segments.push(std::mem::take(&mut current)),
                None => {}
            }
        }
        if !current.is_empty() {
            segments.push(current);
        }
        Line {
            label: label.to_string(),
            color,
            segments,
        }
    }

    pub(crate) fn max_value(&self) -> f64 {
        self.segments
            .iter()
            .flatten()
            .map(|p| p.1)
            .fold(f64::NEG_INFINITY, f64::max)
    }

    fn min_value(&self) -> f64 {
        self.segments
            .iter()
            .flatten()
            .map(|p| p.1)
            .fold(f64::INFINITY, f64::min)
    }
}

/// The time axis shared by every time chart of a run, in a unit that suits its length.
struct TimeAxis {
    end_s: f64,
    unit_s: f64,
    unit_name: &'static str,
}

impl TimeAxis {
    fn new(end_s: f64) -> TimeAxis {
        let end_s = if end_s.is_finite() && end_s > 0.0 {
            end_s
        } else {
            1.0
        };
        let (unit_s, unit_name) = if end_s <= 600.0 {
            (1.0, "s")
        } else if end_s <= 36_000.0 {
            (60.0, "min")
        } else {
            (3600.0, "h")
        };
        TimeAxis {
            end_s,
            unit_s,
            unit_name,
        }
    }

    fn at(&self, t_s: f64) -> f64 {
        t_s / self.unit_s
    }
}

/// The last instant any part of the run speaks of: horizon, end of the last window, last
/// sample, last event.
fn run_end_s(summary: &RunSummary, timeline: &Timeline) -> f64 {
    let windows = timeline
        .journeys
        .values()
        .filter_map(|w| w.last())
        .map(|w| w.start_s + timeline.window_s);
    let samples = timeline
        .series
        .values()
        .filter_map(|s| s.last())
        .map(|s| s.0);
    let events = timeline.events.iter().map(|e| e.at_s);
    windows
        .chain(samples)
        .chain(events)
        .chain(std::iter::once(summary.horizon_s))
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

/// Splits off the legend column on the right of a titled chart area. The column has the same
/// width on every chart, so that the time axes of a report line up one under the other.
pub(crate) fn title_and_legend<'a>(
    area: &Area<'a>,
    title: &str,
) -> Result<(Area<'a>, Area<'a>), Box<dyn Error>> {
    let inner = area.titled(title, (FONT, 22).into_font().style(FontStyle::Bold))?;
    let (width, _) = inner.dim_in_pixel();
    Ok(inner.split_horizontally(width.saturating_sub(LEGEND_WIDTH)))
}

/// Draws legend entries (a short line and the label) from the top of `area`.
pub(crate) fn draw_legend(
    area: &DrawingArea<SVGBackend, Shift>,
    entries: &[(&str, ShapeStyle)],
) -> DrawResult {
    let text = TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    for (i, (label, style)) in entries.iter().enumerate() {
        let y = 22 + 20 * i as i32;
        area.draw(&PathElement::new(vec![(6, y), (30, y)], *style))?;
        area.draw(&Text::new(legend_label(label), (36, y), text.clone()))?;
    }
    Ok(())
}

/// A legend label cut to what fits the legend column.
fn legend_label(label: &str) -> String {
    const FITS: usize = 24;
    if label.chars().count() <= FITS {
        label.to_string()
    } else {
        let head: String = label.chars().take(FITS - 1).collect();
        format!("{head}…")
    }
}

/// Lines over the run's time axis, with the timeline's events as labelled vertical marks.
fn draw_time_chart(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    y_desc: &str,
    axis: &TimeAxis,
    lines: &[Line],
    events: &[TimelineEvent],
) -> DrawResult {
    let (plot, legend) = title_and_legend(area, title)?;
    let top = lines.iter().map(Line::max_value).fold(0.0, f64::max);
    let bottom = lines.iter().map(Line::min_value).fold(0.0, f64::min);
    let y_max = if top > 0.0 { top * 1.1 } else { 1.0 };
    let y_min = if bottom < 0.0 { bottom * 1.1 } else { 0.0 };
    let x_max = axis.at(axis.end_s);
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, y_min..y_max)?;
    chart
        .configure_mesh()
        .x_desc(format!("time ({})", axis.unit_name))
        .y_desc(y_desc)
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    let event_style = EVENT_COLOR.mix(0.75).stroke_width(1);
    let label_style = (FONT, 14).into_font().color(&EVENT_COLOR);
    for (i, event) in events.iter().enumerate() {
        if !event.at_s.is_finite() {
            continue;
        }
        let x = axis.at(event.at_s);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, y_min), (x, y_max)],
            event_style,
        )))?;
        // Labels stagger downwards so that close events stay readable; near the right edge they
        // hang to the left of their mark.
        let dy = 4 + 16 * (i % 4) as i32;
        let (dx, h) = if x > 0.7 * x_max {
            (-4, HPos::Right)
        } else {
            (4, HPos::Left)
        };
        let style = label_style.clone().pos(Pos::new(h, VPos::Top));
        chart.draw_series(std::iter::once(
            EmptyElement::at((x, y_max)) + Text::new(event.label.clone(), (dx, dy), style),
        ))?;
    }
    for line in lines {
        let style = line.color.stroke_width(2);
        for segment in &line.segments {
            let points: Vec<(f64, f64)> = segment.iter().map(|&(t, v)| (axis.at(t), v)).collect();
            if points.len() == 1 {
                chart.draw_series(std::iter::once(Circle::new(
                    points[0],
                    3,
                    line.color.filled(),
                )))?;
            } else {
                chart.draw_series(LineSeries::new(points, style))?;
            }
        }
    }
    let mut entries: Vec<(&str, ShapeStyle)> = lines
        .iter()
        .map(|l| (l.label.as_str(), l.color.stroke_width(2)))
        .collect();
    if !events.is_empty() {
        entries.push(("event", event_style));
    }
    draw_legend(&legend, &entries)
}

/// A rollout over the run's time axis: the new version's weight as a step line, each
/// analysis a marker on it coloured by its verdict (pass green, fail red, inconclusive grey),
/// and the decision a labelled vertical mark.
fn draw_rollout(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    axis: &TimeAxis,
    track: &models::timeline::RolloutTrack,
) -> DrawResult {
    use models::rollout::{Outcome, Verdict};
    let (plot, legend) = title_and_legend(area, title)?;
    let x_max = axis.at(axis.end_s);
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(0.0..x_max, 0.0..115.0)?;
    chart
        .configure_mesh()
        .x_desc(format!("time ({})", axis.unit_name))
        .y_desc("weight (%)")
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    let weight_color = PALETTE[0];
    let mut steps: Vec<(f64, f64)> = track
        .weights
        .iter()
        .filter(|(t, w)| t.is_finite() && w.is_finite())
        .map(|&(t, w)| (axis.at(t), w * 100.0))
        .collect();
    if let Some(&(_, w)) = steps.last() {
        steps.push((x_max, w));
    }
    chart.draw_series(LineSeries::new(steps, weight_color.stroke_width(2)))?;
    // The weight in force at `t` (the last change at or before it).
    let weight_at = |t: f64| {
        track
            .weights
            .iter()
            .take_while(|(at, _)| *at <= t)
            .last()
            .map_or(0.0, |p| p.1 * 100.0)
    };
    let (pass, fail, unsure) = (PALETTE[2], PALETTE[9], PALETTE[6]);
    let color = |v: Verdict| match v {
        Verdict::Pass => pass,
        Verdict::Fail => fail,
        Verdict::Inconclusive => unsure,
    };
    for &(t, verdict) in &track.analyses {
        if !t.is_finite() {
            continue;
        }
        // At a decision the weight has already moved: the analysis judged the weight before.
        let before = track
            .weights
            .iter()
            .rev()
            .find(|(at, _)| *at < t)
            .map_or(weight_at(t), |p| p.1 * 100.0);
        chart.draw_series(std::iter::once(Circle::new(
            (axis.at(t), before),
            5,
            color(verdict).filled(),
        )))?;
    }
    let decision = match track.outcome {
        Outcome::Promoted => Some("promoted"),
        Outcome::RolledBack => Some("rolled back"),
        Outcome::InProgress => None,
    };
    let event_style = EVENT_COLOR.mix(0.75).stroke_width(1);
    if let (Some(label), Some(t)) = (decision, track.decided_at_s.filter(|t| t.is_finite())) {
        let x = axis.at(t);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(x, 0.0), (x, 115.0)],
            event_style,
        )))?;
        let (dx, h) = if x > 0.7 * x_max {
            (-4, HPos::Right)
        } else {
            (4, HPos::Left)
        };
        let style = (FONT, 14)
            .into_font()
            .color(&EVENT_COLOR)
            .pos(Pos::new(h, VPos::Top));
        chart.draw_series(std::iter::once(
            EmptyElement::at((x, 115.0))
                + Text::new(format!("{label} at {} s", tick(t)), (dx, 4), style),
        ))?;
    }
    let mut entries: Vec<(&str, ShapeStyle)> =
        vec![("new version's weight", weight_color.stroke_width(2))];
    for (v, label) in [
        (Verdict::Pass, "analysis: pass"),
        (Verdict::Fail, "analysis: fail"),
        (Verdict::Inconclusive, "analysis: too few"),
    ] {
        if track.analyses.iter().any(|a| a.1 == v) {
            entries.push((label, color(v).stroke_width(6)));
        }
    }
    if decision.is_some() && track.decided_at_s.is_some() {
        entries.push(("decision", event_style));
    }
    draw_legend(&legend, &entries)
}

/// A histogram's bars: `(low ms, high ms, share of requests in %)`, zero buckets left out.
struct Bars {
    bars: Vec<(f64, f64, f64)>,
    /// Whether the bars span enough decades that a logarithmic latency axis reads better.
    logarithmic: bool,
}

impl Bars {
    fn from_buckets(buckets: &[(f64, u64)]) -> Option<Bars> {
        let mut sorted: Vec<(f64, u64)> = buckets
            .iter()
            .copied()
            .filter(|(upper, _)| upper.is_finite() && *upper >= 0.0)
            .collect();
        sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
        let total: u64 = sorted.iter().map(|b| b.1).sum();
        if total == 0 {
            return None;
        }
        let mut bars = Vec::new();
        let mut low = 0.0;
        for (upper, count) in sorted {
            if count > 0 {
                bars.push((low, upper, 100.0 * count as f64 / total as f64));
            }
            low = upper;
        }
        let first_upper = bars.iter().map(|b| b.1).find(|u| *u > 0.0)?;
        let last_upper = bars.last().map_or(first_upper, |b| b.1);
        let logarithmic = last_upper / first_upper > 50.0;
        if logarithmic {
            // A log axis cannot hold zero: the first bar starts a little below its top.
            for bar in &mut bars {
                if bar.0 <= 0.0 {
                    bar.0 = bar.1 / 2.0;
                }
            }
            bars.retain(|b| b.1 > 0.0);
        } else if let Some(first) = bars.first_mut() {
            // On a linear axis the first bucket is drawn as wide as the next one is.
            if first.0 == 0.0 && first.1 > 0.0 {
                first.0 = first.1 * 0.9;
            }
        }
        Some(Bars { bars, logarithmic })
    }
}

fn draw_histogram(
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    bars: &Bars,
    markers: &[(String, f64)],
) -> DrawResult {
    let low = bars.bars.iter().map(|b| b.0).fold(f64::INFINITY, f64::min);
    let high = bars.bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let high = markers.iter().map(|m| m.1).fold(high, f64::max);
    if bars.logarithmic {
        let low = markers.iter().map(|m| m.1).fold(low, f64::min);
        draw_histogram_on(
            (low * 0.9..high * 1.1).log_scale(),
            area,
            title,
            bars,
            markers,
        )
    } else {
        draw_histogram_on(low.min(0.0)..high * 1.05, area, title, bars, markers)
    }
}

/// The histogram over any latency axis (linear or logarithmic).
fn draw_histogram_on<X>(
    x_axis: X,
    area: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    bars: &Bars,
    markers: &[(String, f64)],
) -> DrawResult
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let (plot, legend) = title_and_legend(area, title)?;
    let y_max = bars.bars.iter().map(|b| b.2).fold(0.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&plot)
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(64)
        .build_cartesian_2d(x_axis, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc(if bars.logarithmic {
            "latency (ms, logarithmic)"
        } else {
            "latency (ms)"
        })
        .y_desc("% of requests")
        .x_label_formatter(&|v| tick(*v))
        .y_label_formatter(&|v| tick(*v))
        .label_style((FONT, 15))
        .axis_desc_style((FONT, 16))
        .light_line_style(RGBColor(240, 240, 240))
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    chart.draw_series(bars.bars.iter().map(|&(low, high, share)| {
        Rectangle::new([(low, 0.0), (high, share)], PALETTE[0].mix(0.8).filled())
    }))?;
    let marker_colors = [PALETTE[2], PALETTE[1], PALETTE[3]];
    let mut entries = Vec::new();
    for (k, (label, at)) in markers.iter().enumerate() {
        let style = marker_colors[k % marker_colors.len()].stroke_width(2);
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(*at, 0.0), (*at, y_max)],
            style,
        )))?;
        entries.push((label.as_str(), style));
    }
    draw_legend(&legend, &entries)
}

/// An axis tick: the value without float noise or trailing zeros (`2`, `0.3`, `1500`).
pub(crate) fn tick(v: f64) -> String {
    if v.abs() >= 1e6 {
        return format!("{v:.3e}");
    }
    let rounded = (v * 1e6).round() / 1e6;
    if rounded == 0.0 {
        "0".to_string()
    } else {
        format!("{rounded}")
    }
}

/// A file-name-safe form of a journey or family name: ASCII letters, digits, `-` and `_`.
pub(crate) fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed: String = out.trim_matches('-').chars().take(40).collect();
    if trimmed.is_empty() {
        "x".to_string()
    } else {
        trimmed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::small_run;

    #[test]
    fn slugs_are_file_name_safe() {
        assert_eq!(slug("submit_requirement"), "submit_requirement");
        assert_eq!(slug("<script>alert(1)</script>"), "script-alert-1-script");
        assert_eq!(slug("../.."), "x");
    }

    #[test]
    fn series_group_into_families_by_prefix() {
        let (_, timeline) = small_run("checkout");
        let f = families(&timeline);
        let names: Vec<&str> = f.keys().copied().collect();
        assert_eq!(names, vec!["replicas", "queue", "kafka_lag"]);
        let replicas: Vec<&str> = f["replicas"].iter().map(|m| m.0).collect();
        assert_eq!(replicas, vec!["gateway", "db"]);
    }

    #[test]
    fn gaps_break_lines() {
        let line = Line::new(
            "x",
            PALETTE[0],
            vec![Some((0.0, 1.0)), None, Some((2.0, 1.0)), Some((3.0, 2.0))],
        );
        assert_eq!(line.segments.len(), 2);
    }

    #[test]
    fn draws_one_chart_per_journey_histogram_and_family() {
        let (summary, timeline) = small_run("checkout");
        let dir = tempfile::tempdir().unwrap();
        let charts = draw_all(dir.path(), &summary, &timeline).unwrap();
        let count = |g| charts.iter().filter(|c| c.group == g).count();
        assert_eq!(count(ChartGroup::Latency), 2);
        assert_eq!(count(ChartGroup::Histogram), 2);
        assert_eq!(count(ChartGroup::Family), 3);
        for chart in &charts {
            let svg = std::fs::read_to_string(dir.path().join(&chart.file_name)).unwrap();
            assert!(svg.starts_with("<svg"), "{}", chart.file_name);
            assert!(svg.contains("<text"), "labels are SVG text");
        }
    }
}
