//! A capacity-planning sweep's output folder (`twin sweep`, `twin merge`): everything
//! [`crate::write_run`] writes for the chosen point (its `summary.json` with `kind: "sweep"` and
//! a `sweep` section, its timeline, its charts and `report.html`), plus
//!
//! | file | what |
//! | --- | --- |
//! | `sweep.csv` | one row per grid point: parameters, each SLO's observed value, 95 % CI, verdict and margin, price |
//! | `sweep.json` | the [`SweepTable`]: grid, rows, chosen point, frontier |
//! | `points/N.json` | the run summary of every point the sweep ran (so shards merge exactly) |
//! | `charts/frontier.svg` | price (monthly cost, or the replica proxy) against p95, the frontier drawn through |
//!
//! and a "Sweep" section in `report.html` with the table and the frontier chart. The folder is
//! staged and renamed into place like any run's.

use crate::charts::{self, Chart, ChartGroup};
use crate::error::ReportError;
use crate::folder::{self, write_file};
use crate::html::{self, escape};
use crate::numbers;
use crate::{json, TIMESERIES_FILE};
use crate::{Written, CHARTS_DIR, REPORT_FILE, SERIES_FILE, SUMMARY_FILE, TIMELINE_FILE};
use models::summary::RunSummary;
use models::sweep::{CostBasis, Pick, SweepRow, SweepTable};
use models::timeline::Timeline;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::fmt::Write;
use std::path::{Path, PathBuf};

pub const SWEEP_CSV: &str = "sweep.csv";
pub const SWEEP_JSON: &str = "sweep.json";
/// One run summary per point run, `points/<index>.json`.
pub const POINTS_DIR: &str = "points";
pub const FRONTIER_CHART: &str = "frontier.svg";
/// Rows shown in the report's table; `sweep.csv` has them all.
const REPORT_ROWS: usize = 200;

/// Writes a sweep's whole folder `dir`, replacing a previous run's. `summary` and `timeline`
/// are the chosen point's; `points` the run summary of every point the table holds.
pub fn write_sweep(
    dir: &Path,
    table: &SweepTable,
    summary: &RunSummary,
    timeline: &Timeline,
    points: &[(usize, RunSummary)],
) -> Result<Written, ReportError> {
    let staging = folder::StagedFolder::begin(dir)?;
    let root = staging.path();
    let mut files = Vec::new();
    let mut put = |name: &str, text: &str| -> Result<(), ReportError> {
        write_file(&root.join(name), text)?;
        files.push(PathBuf::from(name));
        Ok(())
    };
    put(SUMMARY_FILE, &summary_json(summary, table))?;
    put(TIMELINE_FILE, &json::timeline_json(timeline))?;
    put(TIMESERIES_FILE, &crate::csv::timeseries_csv(timeline))?;
    put(SERIES_FILE, &crate::csv::series_csv(timeline))?;
    put(SWEEP_CSV, &sweep_csv(table))?;
    put(SWEEP_JSON, &sweep_json(table))?;
    folder::create_dir(&root.join(POINTS_DIR))?;
    for (index, s) in points {
        let name = point_file(*index);
        write_file(&root.join(&name), &json::summary_json(s))?;
        files.push(name);
    }
    files.extend(render_into(root, summary, timeline, table)?);
    staging.commit()?;
    Ok(Written {
        dir: dir.to_path_buf(),
        report: dir.join(REPORT_FILE),
        files,
    })
}

/// Draws the charts (the run's and the frontier) into `root/charts/` and writes
/// `root/report.html` with its Sweep section; returns the files written, relative to `root`.
/// `twin report` on a sweep folder comes here too ([`crate::render_again`]).
pub(crate) fn render_into(
    root: &Path,
    summary: &RunSummary,
    timeline: &Timeline,
    table: &SweepTable,
) -> Result<Vec<PathBuf>, ReportError> {
    let charts_dir = root.join(CHARTS_DIR);
    folder::create_dir(&charts_dir)?;
    let charts = charts::draw_all(&charts_dir, summary, timeline)?;
    let frontier = draw_frontier(&charts_dir, table)?;
    let mut page = html::report_html(summary, timeline, &charts);
    let section = sweep_section(table, frontier.as_ref());
    let at = page
        .find("<footer")
        .or_else(|| page.find("</main>"))
        .unwrap_or(page.len());
    page.insert_str(at, &section);
    write_file(&root.join(REPORT_FILE), &page)?;
    let mut files: Vec<PathBuf> = charts
        .iter()
        .chain(frontier.iter())
        .map(|c| Path::new(CHARTS_DIR).join(&c.file_name))
        .collect();
    files.push(PathBuf::from(REPORT_FILE));
    Ok(files)
}

/// `points/<index>.json`, relative to the sweep's folder.
pub fn point_file(index: usize) -> PathBuf {
    Path::new(POINTS_DIR).join(format!("{index}.json"))
}

/// Reads a sweep folder's `sweep.json`; the error names the file.
pub fn read_sweep(dir: &Path) -> Result<SweepTable, ReportError> {
    let path = dir.join(SWEEP_JSON);
    let text = std::fs::read_to_string(&path).map_err(|source| ReportError::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| ReportError::Parse {
        path,
        what: "sweep table",
        source,
    })
}

/// Reads the run summary of point `index` from a sweep folder.
pub fn read_point(dir: &Path, index: usize) -> Result<RunSummary, ReportError> {
    json::read_summary(&dir.join(point_file(index)))
}

/// `sweep.json` text: the table as serde gives it, pretty, with a final newline.
pub fn sweep_json(table: &SweepTable) -> String {
    let mut text = serde_json::to_string_pretty(table)
        .unwrap_or_else(|e| unreachable!("a SweepTable always serializes: {e}"));
    text.push('\n');
    text
}

/// The chosen point's `summary.json` with the sweep's `sweep` section after the core fields:
/// the grid, the chosen point with its margin per SLO, the cost basis and the frontier.
pub fn summary_json(summary: &RunSummary, table: &SweepTable) -> String {
    let mut value = serde_json::to_value(summary)
        .unwrap_or_else(|e| unreachable!("a RunSummary always serializes: {e}"));
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "sweep".into(),
            serde_json::json!({
                "grid": table.grid,
                "points": table.points,
                "points_run": table.rows.len(),
                "shard": table.shard,
                "cost_basis": table.cost_basis,
                "some_point_meets_every_slo": table.some_point_passes(),
                "chosen": table.chosen,
                "frontier": table.frontier,
            }),
        );
    }
    let mut text = serde_json::to_string_pretty(&value)
        .unwrap_or_else(|e| unreachable!("a JSON value always serializes: {e}"));
    text.push('\n');
    text
}

/// `sweep.csv`: a header, then one row per point in point order. Columns: `point`, one per
/// varied path, then per SLO `<slo>`, `<slo> ci95 low`, `<slo> ci95 high`, `<slo> met`,
/// `<slo> margin`, then `all_slos_met`, `monthly_cost_usd`, `replicas`, `p95_ms`. RFC 4180
/// quoting; an unmeasured value is an empty field.
pub fn sweep_csv(table: &SweepTable) -> String {
    let slo_names = slo_names(&table.rows);
    let mut header = vec!["point".to_string()];
    header.extend(table.grid.dimensions.iter().map(|d| d.path.clone()));
    for name in &slo_names {
        for suffix in ["", " ci95 low", " ci95 high", " met", " margin"] {
            header.push(format!("{name}{suffix}"));
        }
    }
    header.extend(
        ["all_slos_met", "monthly_cost_usd", "replicas", "p95_ms"]
            .iter()
            .map(ToString::to_string),
    );
    let mut records = vec![header];
    for row in &table.rows {
        let mut fields = vec![row.point.to_string()];
        for d in &table.grid.dimensions {
            fields.push(row.parameters.get(&d.path).cloned().unwrap_or_default());
        }
        for name in &slo_names {
            match row.slos.iter().find(|c| &c.name == name) {
                Some(c) => {
                    fields.push(opt(c.observed));
                    fields.push(opt(c.ci95.map(|ci| ci[0])));
                    fields.push(opt(c.ci95.map(|ci| ci[1])));
                    fields.push(c.met.to_string());
                    fields.push(opt(c.margin));
                }
                None => fields.extend(std::iter::repeat_n(String::new(), 5)),
            }
        }
        fields.push(row.all_slos_met.to_string());
        fields.push(opt(row.monthly_cost_usd));
        fields.push(number(row.replicas));
        fields.push(opt(row.p95_ms));
        records.push(fields);
    }
    crate::csv::records(&records)
}

/// Every SLO named by some row, in order of first appearance.
fn slo_names(rows: &[SweepRow]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for c in rows.iter().flat_map(|r| &r.slos) {
        if !names.contains(&c.name) {
            names.push(c.name.clone());
        }
    }
    names
}

/// The shortest text that reads back as the same f64; empty for NaN and infinities.
fn number(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), number)
}

/// The price of a row as a person reads it.
fn price_text(row: &SweepRow, basis: CostBasis) -> String {
    match basis {
        CostBasis::MonthlyUsd => row
            .monthly_cost_usd
            .map_or(numbers::MISSING.to_string(), numbers::usd),
        CostBasis::Replicas => numbers::decimal(row.replicas),
    }
}

/// The report's "Sweep" section: what was varied, the chosen point with its margins, the table
/// and the frontier chart.
fn sweep_section(table: &SweepTable, frontier: Option<&Chart>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "<section id=\"sweep\">\n<h2>Sweep</h2>");
    let dims: Vec<String> = table
        .grid
        .dimensions
        .iter()
        .map(|d| {
            format!(
                "<b>{}</b> ∈ {{{}}}",
                escape(&d.path),
                escape(&d.values.join(", "))
            )
        })
        .collect();
    let _ = write!(
        s,
        "<p class=\"meta\">{} point{} over {}",
        table.points,
        if table.points == 1 { "" } else { "s" },
        dims.join(" × ")
    );
    if let Some(shard) = table.shard {
        let _ = write!(s, "; this is shard {shard} ({} points)", table.rows.len());
    }
    s.push_str(".</p>\n");
    if table.cost_basis == CostBasis::Replicas {
        s.push_str(
            "<p class=\"warnings\">The run summaries carry no cost: points are ranked by the \
             replicas they ran, summed over services (a proxy, not a price).</p>\n",
        );
    }
    match &table.chosen {
        Some(c) => {
            let params: Vec<String> = c
                .parameters
                .iter()
                .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
                .collect();
            let bounds: Vec<String> = table.rule.bounds.iter().map(|b| b.to_string()).collect();
            let (class, verdict) = match (table.rule.pick, c.within_bounds, c.meets_every_slo) {
                (Pick::Fastest, Some(true), _) => (
                    "ok",
                    format!(
                        "Fastest rollout plan whose worst replication stays within {}",
                        escape(&bounds.join(" and "))
                    ),
                ),
                (Pick::Fastest, _, _) => (
                    "bad",
                    format!(
                        "No rollout plan stays within {} in its worst replication; the closest",
                        escape(&bounds.join(" and "))
                    ),
                ),
                (Pick::Cheapest, _, true) => {
                    ("ok", "Cheapest point that meets every SLO".to_string())
                }
                (Pick::Cheapest, _, false) => {
                    ("bad", "No point meets every SLO; the closest".to_string())
                }
            };
            let _ = writeln!(
                s,
                "<p class=\"verdict {class}\">{verdict}: point {} ({}), {} {}. The sections \
                 above describe this point.</p>",
                c.point,
                params.join(", "),
                escape(c.cost_basis.axis()),
                escape(&match c.cost_basis {
                    CostBasis::MonthlyUsd => numbers::usd(c.price),
                    CostBasis::Replicas => numbers::decimal(c.price),
                }),
            );
            s.push_str(
                "<table class=\"compact\"><thead><tr><th>SLO</th><th class=\"num\">observed</th>\
                 <th class=\"num\">margin</th></tr></thead><tbody>\n",
            );
            for m in &c.margins {
                let _ = writeln!(
                    s,
                    "<tr{}><td class=\"name\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}{}</td></tr>",
                    if m.met { "" } else { " class=\"missed\"" },
                    escape(&m.name),
                    m.observed
                        .map_or(numbers::MISSING.to_string(), |o| numbers::slo_value(&m.name, o)),
                    m.margin
                        .map_or(numbers::MISSING.to_string(), |v| numbers::slo_value(&m.name, v)),
                    m.margin_ratio
                        .map_or(String::new(), |r| format!(" ({})", numbers::percent(r))),
                );
            }
            s.push_str("</tbody></table>\n");
        }
        None => s.push_str("<p class=\"empty\">No point was run.</p>\n"),
    }
    if let Some(chart) = frontier {
        let _ = writeln!(
            s,
            "<figure><img src=\"{CHARTS_DIR}/{}\" width=\"{}\" height=\"{}\" alt=\"{}\"></figure>",
            escape(&chart.file_name),
            chart.width,
            chart.height,
            escape(&chart.title),
        );
    }
    points_table(&mut s, table);
    let _ = writeln!(
        s,
        "<p class=\"meta\">Every point: <a href=\"{SWEEP_CSV}\">{SWEEP_CSV}</a> · \
         <a href=\"{SWEEP_JSON}\">{SWEEP_JSON}</a> · run summaries in <code>{POINTS_DIR}/</code>.</p>\n</section>"
    );
    s
}

fn points_table(s: &mut String, table: &SweepTable) {
    let names = slo_names(&table.rows);
    s.push_str("<div class=\"scroll\"><table><thead><tr><th class=\"num\">point</th>");
    for d in &table.grid.dimensions {
        let _ = write!(s, "<th>{}</th>", escape(&d.path));
    }
    for n in &names {
        let _ = write!(s, "<th class=\"num\">{}</th>", escape(n));
    }
    let _ = writeln!(
        s,
        "<th class=\"num\">{}</th></tr></thead><tbody>",
        escape(table.cost_basis.axis())
    );
    let chosen = table.chosen.as_ref().map(|c| c.point);
    for row in table.rows.iter().take(REPORT_ROWS) {
        let mark = if Some(row.point) == chosen {
            " ★"
        } else {
            ""
        };
        let class = if row.all_slos_met {
            ""
        } else {
            " class=\"missed\""
        };
        let _ = write!(s, "<tr{class}><td class=\"num\">{}{mark}</td>", row.point);
        for d in &table.grid.dimensions {
            let v = row.parameters.get(&d.path).map_or("", String::as_str);
            let _ = write!(s, "<td>{}</td>", escape(v));
        }
        for n in &names {
            let text =
                row.slos
                    .iter()
                    .find(|c| &c.name == n)
                    .map_or(numbers::MISSING.to_string(), |c| {
                        let v = c
                            .observed
                            .map_or(numbers::MISSING.to_string(), |o| numbers::slo_value(n, o));
                        let ci = c
                            .ci95
                            .filter(|ci| ci[0] != ci[1])
                            .map_or(String::new(), |ci| {
                                format!(
                                    " [{}, {}]",
                                    numbers::slo_value(n, ci[0]),
                                    numbers::slo_value(n, ci[1])
                                )
                            });
                        format!("{v}{ci} {}", if c.met { "✓" } else { "✗" })
                    });
            let _ = write!(s, "<td class=\"num\">{}</td>", escape(&text));
        }
        let _ = writeln!(
            s,
            "<td class=\"num\">{}</td></tr>",
            escape(&price_text(row, table.cost_basis))
        );
    }
    s.push_str("</tbody></table></div>\n");
    if table.rows.len() > REPORT_ROWS {
        let _ = writeln!(
            s,
            "<p class=\"meta\">The first {REPORT_ROWS} of {} points; {SWEEP_CSV} has them all.</p>",
            table.rows.len()
        );
    }
}

const WIDTH: u32 = 1040;
const HEIGHT: u32 = 460;
const FONT: &str = "sans-serif";
const MET: RGBColor = RGBColor(26, 127, 55);
const MISSED: RGBColor = RGBColor(198, 40, 40);
const FRONTIER: RGBColor = RGBColor(31, 119, 180);

/// Draws `charts/frontier.svg`: every point run at (p95, price), green when it meets every SLO,
/// red when not; the frontier (points no other beats on both) joined by a line; the chosen point
/// ringed. `None` when no row has both a p95 and a price.
pub fn draw_frontier(charts_dir: &Path, table: &SweepTable) -> Result<Option<Chart>, ReportError> {
    let basis = table.cost_basis;
    let pts: Vec<(&SweepRow, f64, f64)> = table
        .rows
        .iter()
        .filter_map(|r| {
            let x = r.p95_ms.filter(|v| v.is_finite())?;
            let y = Some(r.price(basis)).filter(|v| v.is_finite())?;
            Some((r, x, y))
        })
        .collect();
    if pts.is_empty() {
        return Ok(None);
    }
    let journey = table.frontier_journey.as_deref().unwrap_or("?");
    let chart = Chart {
        group: ChartGroup::Family,
        file_name: FRONTIER_CHART.to_string(),
        title: format!("{} against p95({journey})", basis.axis()),
        width: WIDTH,
        height: HEIGHT,
    };
    let bound = table.rows.first().and_then(|r| {
        r.slos
            .iter()
            .find(|c| {
                c.name
                    .replace(' ', "")
                    .starts_with(&format!("p95({journey})"))
            })
            .map(|c| c.bound)
    });
    let path = charts_dir.join(&chart.file_name);
    let failed = |e: &dyn std::fmt::Display| ReportError::Chart {
        path: path.clone(),
        message: e.to_string(),
    };
    // p95 spans orders of magnitude across a grid (an unstable point's queue grows for the
    // whole horizon), so the p95 axis is logarithmic.
    let x_lo = pts
        .iter()
        .map(|p| p.1)
        .chain(bound)
        .filter(|v| *v > 0.0)
        .fold(f64::INFINITY, f64::min);
    let x_lo = if x_lo.is_finite() { x_lo * 0.8 } else { 1.0 };
    let x_hi = pts.iter().map(|p| p.1).chain(bound).fold(x_lo, f64::max) * 1.25;
    let y_max = pts.iter().map(|p| p.2).fold(0.0, f64::max).max(1e-9) * 1.15;
    let on_frontier: Vec<(f64, f64)> = table
        .frontier
        .iter()
        .filter_map(|i| pts.iter().find(|p| p.0.point == *i).map(|p| (p.1, p.2)))
        .collect();
    let chosen = table.chosen.as_ref().map(|c| c.point);
    let mut svg = String::new();
    {
        let area =
            SVGBackend::with_string(&mut svg, (chart.width, chart.height)).into_drawing_area();
        let draw = || -> Result<(), Box<dyn std::error::Error>> {
            area.fill(&WHITE)?;
            let titled =
                area.titled(&chart.title, (FONT, 22).into_font().style(FontStyle::Bold))?;
            let mut c = ChartBuilder::on(&titled)
                .margin(12)
                .x_label_area_size(42)
                .y_label_area_size(70)
                .build_cartesian_2d((x_lo..x_hi).log_scale(), 0.0..y_max)?;
            c.configure_mesh()
                .x_desc(format!("p95({journey}) (ms, log scale)"))
                .x_label_formatter(&|v| numbers::ms(*v))
                .y_desc(basis.axis())
                .label_style((FONT, 15))
                .axis_desc_style((FONT, 16))
                .light_line_style(RGBColor(240, 240, 240))
                .bold_line_style(RGBColor(215, 215, 215))
                .draw()?;
            if let Some(b) = bound {
                c.draw_series(std::iter::once(PathElement::new(
                    vec![(b, 0.0), (b, y_max)],
                    MISSED.mix(0.6).stroke_width(1),
                )))?;
                let style = (FONT, 14)
                    .into_font()
                    .color(&MISSED)
                    .pos(Pos::new(HPos::Left, VPos::Top));
                c.draw_series(std::iter::once(
                    EmptyElement::at((b, y_max))
                        + Text::new(format!("SLO {} ms", numbers::ms(b)), (4, 4), style),
                ))?;
            }
            if on_frontier.len() > 1 {
                c.draw_series(std::iter::once(PathElement::new(
                    on_frontier.clone(),
                    FRONTIER.stroke_width(2),
                )))?;
            }
            c.draw_series(pts.iter().map(|(r, x, y)| {
                let color = if r.all_slos_met { MET } else { MISSED };
                Circle::new((*x, *y), 5, color.filled())
            }))?;
            let label =
                TextStyle::from((FONT, 13).into_font()).pos(Pos::new(HPos::Left, VPos::Bottom));
            // Labels on the frontier's points and the chosen one only, so that they stay
            // readable when many points share a price.
            c.draw_series(
                pts.iter()
                    .filter(|(r, _, _)| {
                        table.frontier.contains(&r.point) || Some(r.point) == chosen
                    })
                    .map(|(r, x, y)| {
                        EmptyElement::at((*x, *y))
                            + Text::new(format!("#{}", r.point), (6, -4), label.clone())
                    }),
            )?;
            let key = TextStyle::from((FONT, 14).into_font()).pos(Pos::new(HPos::Right, VPos::Top));
            let (w, _) = titled.dim_in_pixel();
            titled.draw(&Text::new(
                "green: meets every SLO · red: misses one · line: frontier · ring: chosen",
                (w as i32 - 16, 0),
                key,
            ))?;
            if let Some((_, x, y)) = pts.iter().find(|p| Some(p.0.point) == chosen) {
                c.draw_series(std::iter::once(Circle::new(
                    (*x, *y),
                    10,
                    BLACK.stroke_width(2),
                )))?;
            }
            area.present()?;
            Ok(())
        };
        draw().map_err(|e| failed(&e))?;
    }
    write_file(&path, &svg)?;
    Ok(Some(chart))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::small_run;
    use models::sweep::{Dimension, Grid, SloCell};

    fn table() -> SweepTable {
        let grid = Grid::new(vec![Dimension {
            path: "services.api.replicas".into(),
            values: vec!["1".into(), "2".into()],
        }])
        .unwrap();
        let rows = (0..2)
            .map(|i| SweepRow {
                point: i,
                parameters: grid.point(i).unwrap(),
                slos: vec![SloCell {
                    name: "p95(call) < 100ms".into(),
                    observed: Some(150.0 - 100.0 * i as f64),
                    ci95: Some([140.0 - 100.0 * i as f64, 160.0 - 100.0 * i as f64]),
                    bound: 100.0,
                    met: i == 1,
                    margin: Some(-50.0 + 100.0 * i as f64),
                    margin_ratio: Some(-0.5 + i as f64),
                }],
                all_slos_met: i == 1,
                monthly_cost_usd: None,
                replicas: 1.0 + i as f64,
                p95_ms: Some(150.0 - 100.0 * i as f64),
                rollouts: Vec::new(),
            })
            .collect();
        SweepTable::new(
            "s, \"x\"".into(),
            1,
            2,
            grid,
            None,
            Some("call".into()),
            rows,
        )
    }

    #[test]
    fn csv_has_one_quoted_row_per_point() {
        let csv = sweep_csv(&table());
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "point,services.api.replicas,p95(call) < 100ms,p95(call) < 100ms ci95 low,\
             p95(call) < 100ms ci95 high,p95(call) < 100ms met,p95(call) < 100ms margin,\
             all_slos_met,monthly_cost_usd,replicas,p95_ms"
        );
        assert_eq!(lines[1], "0,1,150,140,160,false,-50,false,,1,150");
        assert_eq!(
            crate::csv::records(&[vec!["a,\"b\"".to_string(), "x".to_string()]]),
            "\"a,\"\"b\"\"\",x\n"
        );
    }

    #[test]
    fn writes_the_folder_with_the_sweep_section() {
        let (mut summary, timeline) = small_run("checkout");
        summary.kind = models::summary::RunKind::Sweep;
        let t = table();
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sweep");
        let points = vec![(0, summary.clone()), (1, summary.clone())];
        let written = write_sweep(&dir, &t, &summary, &timeline, &points).unwrap();
        for f in &written.files {
            assert!(dir.join(f).is_file(), "{}", f.display());
        }
        assert!(dir.join("charts").join(FRONTIER_CHART).is_file());
        let page = std::fs::read_to_string(&written.report).unwrap();
        assert!(page.contains("id=\"sweep\""));
        assert!(page.contains("charts/frontier.svg"));
        assert!(page.contains("proxy"));
        let value: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(SUMMARY_FILE)).unwrap())
                .unwrap();
        assert_eq!(value["kind"], "sweep");
        assert_eq!(value["sweep"]["chosen"]["point"], 1);
        assert_eq!(read_sweep(&dir).unwrap(), t);
        assert_eq!(read_point(&dir, 1).unwrap(), summary);
        // The folder reads back as a run's summary too (`twin report DIR`).
        assert!(crate::json::read_summary(&dir.join(SUMMARY_FILE)).is_ok());
    }

    #[test]
    fn rendering_a_sweep_folder_again_keeps_the_sweep_section() {
        let (mut summary, timeline) = small_run("checkout");
        summary.kind = models::summary::RunKind::Sweep;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sweep");
        let points = vec![(0, summary.clone()), (1, summary.clone())];
        let first = write_sweep(&dir, &table(), &summary, &timeline, &points).unwrap();
        let page = std::fs::read_to_string(&first.report).unwrap();
        std::fs::remove_file(&first.report).unwrap();
        std::fs::remove_file(dir.join(CHARTS_DIR).join(FRONTIER_CHART)).unwrap();
        let again = crate::render_again(&dir).unwrap();
        let page_again = std::fs::read_to_string(&again.report).unwrap();
        assert!(
            page_again.contains("id=\"sweep\""),
            "the Sweep section is back"
        );
        assert!(dir.join(CHARTS_DIR).join(FRONTIER_CHART).is_file());
        assert_eq!(page_again, page, "the same page as the sweep wrote");
        // A broken sweep.json is named, not skipped.
        std::fs::write(dir.join(SWEEP_JSON), "{").unwrap();
        let err = crate::render_again(&dir).unwrap_err();
        assert!(err.to_string().contains("sweep.json"), "{err}");
    }
}
