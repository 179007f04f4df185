//! The nightly history: `--history FILE.csv` keeps one row per load run (time, scenario, commit,
//! and per journey each judged [`Metric`]), and `--fail-on-regression PCT` judges today's run
//! against the median of the last seven comparable rows: p95 worse by more than PCT percent, or
//! an error rate above its median by more than PCT percent of it and at least
//! [`ERROR_RATE_SLACK`]. The file is CSV (through the `csv` crate: a journey named `a,b` or
//! `say "hi"` is quoted) with one column per journey and metric (`<journey> p95_ms`,
//! `<journey> error_rate`); a journey new to the file widens it. [`trend`] gives the report the
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

/// What the history keeps and judges per journey, one column each. Time to first token joins
/// here when journey summaries carry it (the SSE streaming work): a variant, its column in
/// [`Metric::column`], its reading in [`Metric::of`] and its rule in [`Metric::threshold`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Metric {
    P95Ms,
    ErrorRate,
}

impl Metric {
    pub const ALL: [Metric; 2] = [Metric::P95Ms, Metric::ErrorRate];

    /// The column suffix in the file (`<journey> p95_ms`).
    pub fn column(self) -> &'static str {
        match self {
            Metric::P95Ms => "p95_ms",
            Metric::ErrorRate => "error_rate",
        }
    }

    /// `ms` or `ratio`, for the report.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::P95Ms => "ms",
            Metric::ErrorRate => "ratio",
        }
    }

    /// The journey's value, if it has one (no p95 without a successful journey).
    pub fn of(self, j: &JourneySummary) -> Option<f64> {
        match self {
            Metric::P95Ms => (j.successes() > 0).then_some(j.latency_ms.p95),
            Metric::ErrorRate => (j.count + j.unfinished > 0).then_some(j.error_rate),
        }
    }

    /// The worst value that is not a regression against `median`, with `pct` percent allowed.
    pub fn threshold(self, median: f64, pct: f64) -> Option<f64> {
        match self {
            Metric::P95Ms => (median > 0.0).then(|| median * (1.0 + pct / 100.0)),
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
        match self.metric {
            Metric::P95Ms => write!(
                f,
                "p95({}) = {:.1} ms is {:.1}% worse than the median {:.1} ms of the last {WINDOW} runs (threshold {:.1} ms)",
                self.journey,
                self.value,
                (self.value / self.median - 1.0) * 100.0,
                self.median,
                self.threshold
            ),
            Metric::ErrorRate => write!(
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
    for j in &journeys {
        header.extend(Metric::ALL.iter().map(|m| format!("{j} {}", m.column())));
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
        for j in &journeys {
            let values = r.journeys.get(*j);
            for m in Metric::ALL {
                cells.push(
                    values
                        .and_then(|v| v.get(&m))
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
                .collect();
            TrendMetric {
                name: m.column().to_string(),
                unit: m.unit().to_string(),
                journeys: lines,
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

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
