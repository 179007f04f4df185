//! The nightly history: `--history FILE.csv` keeps one row per load run (time, scenario, commit,
//! and per journey each judged [`Metric`]), and `--fail-on-regression PCT` judges today's run
//! against the median of the last seven comparable rows: p95 worse by more than PCT percent, or
//! an error rate above its median by more than PCT percent of it and at least
//! [`ERROR_RATE_SLACK`]; for journeys that stream, the p95 of time to first token and of
//! inter-token latency are judged as p95 is. The file is CSV (through the `csv` crate: a journey
//! named `a,b` or `say "hi"` is quoted) with one column per journey and metric (`<journey>
//! p95_ms`, `<journey> error_rate`, and `<journey> ttft_p95_ms` / `itl_p95_ms` for a journey
//! some row has them for); a journey new to the file widens it. [`trend`] gives the report the
//! last nights with their thresholds.

use indexmap::IndexMap;
use models::summary::JourneySummary;
use models::trend::{Trend, TrendLine, TrendMetric};
use models::RunSummary;
use std::collections::BTreeMap;
use std::path::Path;

/// How many earlier rows the regression check looks at.
pub const WINDOW: usize = 7;

/// How many nights the report's trend shows (this run included).
pub const TREND_NIGHTS: usize = 30;

/// The least rise of an error rate over its median that is a regression (0.1 percentage
/// point, the seed platform's whole error budget): a median of 0 makes any relative rise
/// infinite, and one failed request in a quiet night is not a regression.
pub const ERROR_RATE_SLACK: f64 = 0.001;

/// Environment variables that may hold the commit under test, first found wins.
pub const COMMIT_VARS: [&str; 4] = ["TWIN_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT"];

/// What the history keeps and judges per journey, one column each: a variant, its column in
/// [`Metric::column`], its reading in [`Metric::of`] and its rule in [`Metric::threshold`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    P95Ms,
    ErrorRate,
    /// p95 of the time to first token (first event) of the journey's streams.
    TtftP95Ms,
    /// p95 of the gaps between tokens (events) of the journey's streams.
    ItlP95Ms,
}

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::P95Ms,
        Metric::ErrorRate,
        Metric::TtftP95Ms,
        Metric::ItlP95Ms,
    ];

    /// The column suffix in the file (`<journey> p95_ms`).
    pub fn column(self) -> &'static str {
        match self {
            Metric::P95Ms => "p95_ms",
            Metric::ErrorRate => "error_rate",
            Metric::TtftP95Ms => "ttft_p95_ms",
            Metric::ItlP95Ms => "itl_p95_ms",
        }
    }

    /// `ms` or `ratio`, for the report.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::ErrorRate => "ratio",
            Metric::P95Ms | Metric::TtftP95Ms | Metric::ItlP95Ms => "ms",
        }
    }

    /// Whether every journey has the column (a stream metric's column is written only for a
    /// journey that some row has it for, so a history without streams keeps its shape).
    fn always(self) -> bool {
        matches!(self, Metric::P95Ms | Metric::ErrorRate)
    }

    /// The journey's value, if it has one (no p95 without a successful journey, no stream
    /// metric without a successful stream).
    pub fn of(self, j: &JourneySummary) -> Option<f64> {
        match self {
            Metric::P95Ms => (j.successes() > 0).then_some(j.latency_ms.p95),
            Metric::ErrorRate => (j.count + j.unfinished > 0).then_some(j.error_rate),
            Metric::TtftP95Ms => j.ttft_ms.as_ref().map(|t| t.p95),
            Metric::ItlP95Ms => j.itl_ms.as_ref().map(|t| t.p95),
        }
    }

    /// The worst value that is not a regression against `median`, with `pct` percent allowed.
    pub fn threshold(self, median: f64, pct: f64) -> Option<f64> {
        match self {
            Metric::P95Ms | Metric::TtftP95Ms | Metric::ItlP95Ms => {
                (median > 0.0).then(|| median * (1.0 + pct / 100.0))
            }
            Metric::ErrorRate => Some(median + (median * pct / 100.0).max(ERROR_RATE_SLACK)),
        }
    }
}

/// One row of the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub time: String,
    pub scenario: String,
    pub commit: String,
    pub partial: bool,
    /// Per journey, the metrics it had a value for.
    pub journeys: IndexMap<String, BTreeMap<Metric, f64>>,
}

/// The fixed columns of a row, read by name (serde); the journeys' columns follow them.
#[derive(serde::Deserialize, serde::Serialize)]
struct Head {
    time: String,
    scenario: String,
    commit: String,
    partial: bool,
}

/// A metric of a journey worse than allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    pub journey: String,
    pub metric: Metric,
    pub value: f64,
    pub median: f64,
    pub threshold: f64,
}

impl std::fmt::Display for Regression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let p95 = match self.metric {
            Metric::P95Ms => Some("p95"),
            Metric::TtftP95Ms => Some("p95_ttft"),
            Metric::ItlP95Ms => Some("p95_itl"),
            Metric::ErrorRate => None,
        };
        match p95 {
            Some(name) => write!(
                f,
                "{name}({}) = {:.1} ms is {:.1}% worse than the median {:.1} ms of the last {WINDOW} runs (threshold {:.1} ms)",
                self.journey,
                self.value,
                (self.value / self.median - 1.0) * 100.0,
                self.median,
                self.threshold
            ),
            None => write!(
                f,
                "error_rate({}) = {:.3}% is above the threshold {:.3}% (median {:.3}% of the last {WINDOW} runs)",
                self.journey,
                self.value * 100.0,
                self.threshold * 100.0,
                self.median * 100.0
            ),
        }
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the Unix epoch.
pub fn utc_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// This run's row.
pub fn row_for(summary: &RunSummary, time: String, commit: String) -> Row {
    Row {
        time,
        scenario: summary.scenario.clone(),
        commit,
        partial: summary.partial,
        journeys: summary
            .journeys
            .iter()
            .map(|(n, j)| {
                let values = Metric::ALL
                    .iter()
                    .filter_map(|m| Some((*m, m.of(j)?)))
                    .collect();
                (n.clone(), values)
            })
            .collect(),
    }
}

/// The commit under test from the environment, or empty.
pub fn commit_from_env() -> String {
    COMMIT_VARS
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .unwrap_or_default()
}

/// A CSV problem as `line N: what` (ragged rows say how many fields they have).
fn csv_problem(e: &csv::Error) -> String {
    let (line, message) = models::scenario::csv_error(e);
    format!("line {line}: {message}")
}

/// Parses a history file's text.
pub fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| csv_problem(&e))?.clone();
    if headers.is_empty() {
        return Ok(Vec::new());
    }
    if headers.len() < 4
        || headers
            .iter()
            .take(4)
            .ne(["time", "scenario", "commit", "partial"])
    {
        return Err(
            "not a twin history file: the header must start with time,scenario,commit,partial"
                .into(),
        );
    }
    // Which journey and metric each later column holds.
    let columns: Vec<Option<(String, Metric)>> = headers
        .iter()
        .map(|h| {
            Metric::ALL.iter().find_map(|m| {
                let journey = h.strip_suffix(m.column())?.strip_suffix(' ')?;
                Some((journey.to_string(), *m))
            })
        })
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_problem(&e))?;
        let line = record.position().map_or(0, |p| p.line());
        let head: Head = record
            .deserialize(Some(&headers))
            .map_err(|e| csv_problem(&e))?;
        let mut journeys: IndexMap<String, BTreeMap<Metric, f64>> = IndexMap::new();
        for (cell, column) in record.iter().zip(&columns).skip(4) {
            let (Some((journey, metric)), false) = (column, cell.is_empty()) else {
                continue;
            };
            let v: f64 = cell
                .parse()
                .map_err(|_| format!("line {line}: `{cell}` is not a number"))?;
            journeys
                .entry(journey.clone())
                .or_default()
                .insert(*metric, v);
        }
        rows.push(Row {
            time: head.time,
            scenario: head.scenario,
            commit: head.commit,
            partial: head.partial,
            journeys,
        });
    }
    Ok(rows)
}

/// Renders rows as the history file's text.
pub fn render(rows: &[Row]) -> Result<String, String> {
    let mut journeys: Vec<&str> = Vec::new();
    for r in rows {
        for j in r.journeys.keys() {
            if !journeys.contains(&j.as_str()) {
                journeys.push(j);
            }
        }
    }
    let mut header = vec![
        "time".to_string(),
        "scenario".into(),
        "commit".into(),
        "partial".into(),
    ];
    // Per journey, the metrics it has a column for.
    let columns: Vec<(&str, Vec<Metric>)> = journeys
        .iter()
        .map(|j| {
            let has = |m: &Metric| {
                m.always()
                    || rows
                        .iter()
                        .any(|r| r.journeys.get(*j).is_some_and(|v| v.contains_key(m)))
            };
            (*j, Metric::ALL.into_iter().filter(has).collect())
        })
        .collect();
    for (j, metrics) in &columns {
        header.extend(metrics.iter().map(|m| format!("{j} {}", m.column())));
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    let problem = |e: csv::Error| format!("cannot write the history: {e}");
    w.write_record(&header).map_err(problem)?;
    for r in rows {
        let mut cells = vec![
            r.time.clone(),
            r.scenario.clone(),
            r.commit.clone(),
            r.partial.to_string(),
        ];
        for (j, metrics) in &columns {
            let values = r.journeys.get(*j);
            for m in metrics {
                cells.push(
                    values
                        .and_then(|v| v.get(m))
                        .map_or_else(String::new, |v| v.to_string()),
                );
            }
        }
        w.write_record(&cells).map_err(problem)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| format!("cannot write the history: {e}"))?;
    String::from_utf8(bytes).map_err(|e| format!("cannot write the history: {e}"))
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median of `metric` of `journey` over the last [`WINDOW`] complete rows of `scenario`
/// in `history` (oldest first).
fn baseline(history: &[&Row], scenario: &str, journey: &str, metric: Metric) -> Option<f64> {
    let past: Vec<f64> = history
        .iter()
        .rev()
        .filter(|r| r.scenario == scenario && !r.partial)
        .filter_map(|r| r.journeys.get(journey)?.get(&metric).copied())
        .take(WINDOW)
        .collect();
    median(past)
}

/// Journeys and metrics of `current` worse than their [`Metric::threshold`] over the median
/// of the last [`WINDOW`] complete rows of the same scenario.
pub fn regressions(history: &[Row], current: &Row, pct: f64) -> Vec<Regression> {
    let history: Vec<&Row> = history.iter().collect();
    let mut out = Vec::new();
    for (journey, values) in &current.journeys {
        for (metric, value) in values {
            let Some(median) = baseline(&history, &current.scenario, journey, *metric) else {
                continue;
            };
            match metric.threshold(median, pct) {
                Some(threshold) if *value > threshold => out.push(Regression {
                    journey: journey.clone(),
                    metric: *metric,
                    value: *value,
                    median,
                    threshold,
                }),
                _ => {}
            }
        }
    }
    out
}

/// The last [`TREND_NIGHTS`] nights of `current`'s scenario (this run last) for the report:
/// every journey's values, and with `pct` the threshold each night was judged against (from
/// the nights before it).
pub fn trend(history: &[Row], current: &Row, pct: Option<f64>, found: &[Regression]) -> Trend {
    let mut nights: Vec<&Row> = history
        .iter()
        .filter(|r| r.scenario == current.scenario)
        .collect();
    nights.push(current);
    let skip = nights.len().saturating_sub(TREND_NIGHTS);
    let shown = &nights[skip..];
    let mut journeys: Vec<&str> = Vec::new();
    for r in shown {
        for j in r.journeys.keys() {
            if !journeys.contains(&j.as_str()) {
                journeys.push(j);
            }
        }
    }
    let metrics = Metric::ALL
        .iter()
        .map(|m| {
            let lines = journeys
                .iter()
                .map(|j| {
                    let mut line = TrendLine::default();
                    for (k, r) in shown.iter().enumerate() {
                        line.values
                            .push(r.journeys.get(*j).and_then(|v| v.get(m)).copied());
                        let before = &nights[..skip + k];
                        line.thresholds.push(pct.and_then(|pct| {
                            m.threshold(baseline(before, &current.scenario, j, *m)?, pct)
                        }));
                    }
                    (j.to_string(), line)
                })
                // A stream metric has lines only for the journeys that streamed.
                .filter(|(_, line)| m.always() || line.values.iter().any(Option::is_some))
                .collect();
            TrendMetric {
                name: m.column().to_string(),
                unit: m.unit().to_string(),
                journeys: lines,
            }
        })
        .filter(|t| {
            t.journeys
                .values()
                .any(|l| l.values.iter().any(Option::is_some))
                || {
                    // p95 and error rate keep their place (the report numbers its charts by it).
                    t.name == Metric::P95Ms.column() || t.name == Metric::ErrorRate.column()
                }
        })
        .collect();
    Trend {
        nights: shown.iter().map(|r| r.time.clone()).collect(),
        partial: shown.iter().map(|r| r.partial).collect(),
        metrics,
        regressions: found.iter().map(ToString::to_string).collect(),
    }
}

/// Reads the history (empty if the file does not exist yet).
pub fn read(path: &Path) -> Result<Vec<Row>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: cannot read: {e}", path.display())),
    }
}

/// Appends `row` (rewriting the file whole, through a temporary file, so it is never torn).
pub fn append(path: &Path, mut rows: Vec<Row>, row: Row) -> Result<(), String> {
    rows.push(row);
    let tmp = path.with_extension("csv.tmp");
    std::fs::write(&tmp, render(&rows)?)
        .map_err(|e| format!("{}: cannot write: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(p95: f64, error_rate: f64) -> Row {
        Row {
            time: utc_timestamp(0),
            scenario: "s".into(),
            commit: "abc".into(),
            partial: false,
            journeys: [(
                "call".to_string(),
                [(Metric::P95Ms, p95), (Metric::ErrorRate, error_rate)].into(),
            )]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn round_trips_and_finds_p95_regressions() {
        let rows: Vec<Row> = [100.0, 110.0, 90.0, 105.0, 95.0, 100.0, 100.0, 500.0]
            .map(|p| row(p, 0.0))
            .to_vec();
        let back = parse(&render(&rows).unwrap()).unwrap();
        assert_eq!(back, rows);
        // The median of the last 7 (110, 90, 105, 95, 100, 100, 500) is 100.
        assert!(regressions(&rows, &row(115.0, 0.0), 20.0).is_empty());
        let r = regressions(&rows, &row(130.0, 0.0), 20.0);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].metric, r[0].median, r[0].threshold),
            (Metric::P95Ms, 100.0, 120.0)
        );
        assert!(r[0].to_string().contains("30.0% worse"), "{}", r[0]);
    }

    #[test]
    fn error_rate_regressions_need_the_slack_over_a_quiet_median() {
        // Error rates 0, 0, 0, 0.01, 0, 0, 0.002: the median of the last 7 is 0.
        let rows: Vec<Row> = [0.0, 0.0, 0.0, 0.01, 0.0, 0.0, 0.002]
            .map(|e| row(100.0, e))
            .to_vec();
        // 0 + max(0 x 20%, 0.1 %) = 0.1 %: 0.09 % passes, 0.11 % is a regression.
        assert!(regressions(&rows, &row(100.0, 0.0009), 20.0).is_empty());
        let r = regressions(&rows, &row(100.0, 0.0011), 20.0);
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].metric, r[0].threshold), (Metric::ErrorRate, 0.001));
        // Over a median of 2 %, 20 % more is 2.4 % (the relative rule exceeds the slack).
        let noisy: Vec<Row> = [0.02; 7].map(|e| row(100.0, e)).to_vec();
        assert!(regressions(&noisy, &row(100.0, 0.0239), 20.0).is_empty());
        let r = regressions(&noisy, &row(100.0, 0.0241), 20.0);
        assert!((r[0].threshold - 0.024).abs() < 1e-12, "{r:?}");
        assert!(
            r[0].to_string().starts_with("error_rate(call) = 2.410%"),
            "{}",
            r[0]
        );
    }

    #[test]
    fn awkward_journey_names_round_trip_and_ragged_rows_name_their_line() {
        let mut a = row(100.0, 0.0);
        a.journeys = [
            ("a,b".to_string(), [(Metric::P95Ms, 12.5)].into()),
            (
                "say \"hi\"".to_string(),
                [(Metric::P95Ms, 7.0), (Metric::ErrorRate, 0.25)].into(),
            ),
        ]
        .into_iter()
        .collect();
        a.commit = "fix, \"quoted\"\nand a line".into();
        let mut b = row(90.0, 0.5);
        b.partial = true;
        let text = render(&[a.clone(), b.clone()]).unwrap();
        assert!(
            text.starts_with("time,scenario,commit,partial,\"a,b p95_ms\",\"a,b error_rate\",\"say \"\"hi\"\" p95_ms\""),
            "{text}"
        );
        assert_eq!(parse(&text).unwrap(), vec![a, b]);
        let ragged =
            "time,scenario,commit,partial,x p95_ms,x error_rate\nt,s,c,false,1,0\nt,s,c,false,1\n";
        let e = parse(ragged).unwrap_err();
        assert_eq!(e, "line 3: a row of 5 field(s) where the first row has 6");
        let e = parse("time,scenario,commit,partial,x p95_ms\nt,s,c,false,fast\n").unwrap_err();
        assert_eq!(e, "line 2: `fast` is not a number");
        assert!(parse("a,b\n").is_err());
        assert_eq!(parse("").unwrap(), vec![]);
    }

    #[test]
    fn the_trend_holds_each_nights_threshold_from_the_nights_before() {
        let rows: Vec<Row> = [100.0, 110.0, 90.0].map(|p| row(p, 0.0)).to_vec();
        let today = row(200.0, 0.01);
        let found = regressions(&rows, &today, 20.0);
        let t = trend(&rows, &today, Some(20.0), &found);
        assert_eq!(t.nights.len(), 4);
        let p95 = &t.metrics[0].journeys["call"];
        assert_eq!(
            p95.values,
            [Some(100.0), Some(110.0), Some(90.0), Some(200.0)]
        );
        // Night 0 has no baseline; night 1's is 100, night 2's median(100, 110) = 105,
        // today's median(100, 110, 90) = 100.
        assert_eq!(
            p95.thresholds,
            [None, Some(120.0), Some(126.0), Some(120.0)]
        );
        let errors = &t.metrics[1].journeys["call"];
        assert_eq!(errors.thresholds[3], Some(0.001));
        assert_eq!(t.regressions.len(), 2, "{:?}", t.regressions);
    }

    /// A night with a streaming journey: p95, error rate and time to first token.
    fn streaming(p95: f64, ttft: f64, itl: f64) -> Row {
        let mut r = row(p95, 0.0);
        r.journeys["call"].insert(Metric::TtftP95Ms, ttft);
        r.journeys["call"].insert(Metric::ItlP95Ms, itl);
        r
    }

    #[test]
    fn time_to_first_token_regresses_like_p95_and_is_drawn() {
        // A hand-made file: two journeys, `call` streams from the third night on; `plain`
        // never streams, so it has no stream columns.
        let text = "time,scenario,commit,partial,call p95_ms,call error_rate,call ttft_p95_ms,call itl_p95_ms,plain p95_ms,plain error_rate\n\
            2026-12-01T02:00:00Z,s,a,false,100,0,,,50,0\n\
            2026-12-02T02:00:00Z,s,b,false,100,0,,,50,0\n\
            2026-12-03T02:00:00Z,s,c,false,100,0,800,20,50,0\n\
            2026-12-04T02:00:00Z,s,d,false,100,0,1000,22,50,0\n\
            2026-12-05T02:00:00Z,s,e,false,100,0,900,21,50,0\n";
        let rows = parse(text).unwrap();
        assert_eq!(rows[2].journeys["call"][&Metric::TtftP95Ms], 800.0);
        assert!(!rows[1].journeys["call"].contains_key(&Metric::TtftP95Ms));
        assert_eq!(render(&rows).unwrap(), text);
        // The median of 800, 1000, 900 is 900: 20 % more is 1080. p95 and the error rate hold.
        let ok = streaming(100.0, 1080.0, 21.0);
        assert!(regressions(&rows, &ok, 20.0).is_empty());
        let slow = streaming(100.0, 1200.0, 21.0);
        let r = regressions(&rows, &slow, 20.0);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            (r[0].metric, r[0].median, r[0].threshold),
            (Metric::TtftP95Ms, 900.0, 1080.0)
        );
        assert_eq!(
            r[0].to_string(),
            "p95_ttft(call) = 1200.0 ms is 33.3% worse than the median 900.0 ms of the last 7 runs (threshold 1080.0 ms)"
        );
        // The gaps: median 21 ms, threshold 25.2 ms.
        let r = regressions(&rows, &streaming(100.0, 900.0, 26.0), 20.0);
        assert_eq!(
            (r[0].metric, r[0].threshold),
            (Metric::ItlP95Ms, 21.0 * 1.2)
        );
        // The trend draws the stream metrics for `call` alone, each night's threshold from
        // the nights before it: none before the first streamed night, then 800, 900, 900.
        let t = trend(&rows, &slow, Some(20.0), &r);
        let names: Vec<&str> = t.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["p95_ms", "error_rate", "ttft_p95_ms", "itl_p95_ms"]);
        let ttft = &t.metrics[2];
        assert_eq!(ttft.journeys.keys().collect::<Vec<_>>(), ["call"]);
        assert_eq!(
            ttft.journeys["call"].values,
            [
                None,
                None,
                Some(800.0),
                Some(1000.0),
                Some(900.0),
                Some(1200.0)
            ]
        );
        assert_eq!(
            ttft.journeys["call"].thresholds,
            [None, None, None, Some(960.0), Some(1080.0), Some(1080.0)]
        );
        // A history without streams keeps its two columns a journey and its two charts.
        let plain = vec![row(100.0, 0.0)];
        assert!(!render(&plain).unwrap().contains("ttft"));
        let names: Vec<String> = trend(&plain, &row(100.0, 0.0), Some(20.0), &[])
            .metrics
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(names, ["p95_ms", "error_rate"]);
    }

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
