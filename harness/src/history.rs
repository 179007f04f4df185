//! The nightly history: `--history FILE.csv` keeps one row per load run (time, scenario, commit,
//! and per journey its p95 and error rate), and `--fail-on-regression PCT` judges today's p95
//! against the median of the last seven comparable rows. The file is CSV with one column pair
//! per journey (`<journey> p95_ms`, `<journey> error_rate`); a journey new to the file widens it.

use indexmap::IndexMap;
use models::RunSummary;
use std::path::Path;

/// How many earlier rows the regression check looks at.
pub const WINDOW: usize = 7;

/// Environment variables that may hold the commit under test, first found wins.
pub const COMMIT_VARS: [&str; 4] = ["TWIN_COMMIT", "GITHUB_SHA", "CI_COMMIT_SHA", "GIT_COMMIT"];

/// One row of the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub time: String,
    pub scenario: String,
    pub commit: String,
    pub partial: bool,
    /// Per journey: (p95 ms, error rate).
    pub journeys: IndexMap<String, (f64, f64)>,
}

/// A journey whose p95 got worse than allowed.
#[derive(Clone, Debug, PartialEq)]
pub struct Regression {
    pub journey: String,
    pub p95_ms: f64,
    pub median_ms: f64,
    pub worse_by_pct: f64,
}

impl std::fmt::Display for Regression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p95({}) = {:.1} ms is {:.1}% worse than the median {:.1} ms of the last {WINDOW} runs",
            self.journey, self.p95_ms, self.worse_by_pct, self.median_ms
        )
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
            .map(|(n, j)| (n.clone(), (j.latency_ms.p95, j.error_rate)))
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

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Parses a history file's text.
pub fn parse(text: &str) -> Result<Vec<Row>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Ok(Vec::new());
    };
    let cols = split_csv(header);
    if cols.len() < 4 || cols[..4] != ["time", "scenario", "commit", "partial"] {
        return Err(
            "not a twin history file: the header must start with time,scenario,commit,partial"
                .into(),
        );
    }
    let mut rows = Vec::new();
    for (n, line) in lines.enumerate() {
        let cells = split_csv(line);
        let mut row = Row {
            time: cells.first().cloned().unwrap_or_default(),
            scenario: cells.get(1).cloned().unwrap_or_default(),
            commit: cells.get(2).cloned().unwrap_or_default(),
            partial: cells.get(3).is_some_and(|p| p == "true"),
            journeys: IndexMap::new(),
        };
        for (i, col) in cols.iter().enumerate().skip(4) {
            let Some(journey) = col.strip_suffix(" p95_ms") else {
                continue;
            };
            let p95 = cells.get(i).filter(|c| !c.is_empty());
            let err = cols
                .iter()
                .position(|c| c == &format!("{journey} error_rate"))
                .and_then(|k| cells.get(k))
                .filter(|c| !c.is_empty());
            if let Some(p) = p95 {
                let p: f64 = p
                    .parse()
                    .map_err(|_| format!("row {}: `{p}` is not a number", n + 2))?;
                let e: f64 = err
                    .map_or(Ok(0.0), |e| e.parse())
                    .map_err(|_| format!("row {}: bad error rate", n + 2))?;
                row.journeys.insert(journey.to_string(), (p, e));
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// Renders rows as the history file's text.
pub fn render(rows: &[Row]) -> String {
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
        header.push(format!("{j} p95_ms"));
        header.push(format!("{j} error_rate"));
    }
    let mut out = header
        .iter()
        .map(|h| quote(h))
        .collect::<Vec<_>>()
        .join(",");
    out.push('\n');
    for r in rows {
        let mut cells = vec![
            quote(&r.time),
            quote(&r.scenario),
            quote(&r.commit),
            r.partial.to_string(),
        ];
        for j in &journeys {
            match r.journeys.get(*j) {
                Some((p, e)) => {
                    cells.push(format!("{p}"));
                    cells.push(format!("{e}"));
                }
                None => cells.extend([String::new(), String::new()]),
            }
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
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

/// Journeys of `current` whose p95 is worse than the median of the last [`WINDOW`] complete
/// rows of the same scenario by more than `pct` percent.
pub fn regressions(history: &[Row], current: &Row, pct: f64) -> Vec<Regression> {
    let mut out = Vec::new();
    for (journey, (p95, _)) in &current.journeys {
        let past: Vec<f64> = history
            .iter()
            .rev()
            .filter(|r| r.scenario == current.scenario && !r.partial)
            .filter_map(|r| r.journeys.get(journey).map(|x| x.0))
            .take(WINDOW)
            .collect();
        let Some(m) = median(past) else { continue };
        if m > 0.0 && *p95 > m * (1.0 + pct / 100.0) {
            out.push(Regression {
                journey: journey.clone(),
                p95_ms: *p95,
                median_ms: m,
                worse_by_pct: (p95 / m - 1.0) * 100.0,
            });
        }
    }
    out
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
    std::fs::write(&tmp, render(&rows))
        .map_err(|e| format!("{}: cannot write: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: cannot write: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(p95: f64) -> Row {
        Row {
            time: utc_timestamp(0),
            scenario: "s".into(),
            commit: "abc".into(),
            partial: false,
            journeys: [("call".to_string(), (p95, 0.0))].into_iter().collect(),
        }
    }

    #[test]
    fn round_trips_and_finds_regressions() {
        let rows: Vec<Row> = [100.0, 110.0, 90.0, 105.0, 95.0, 100.0, 100.0, 500.0]
            .map(row)
            .to_vec();
        let back = parse(&render(&rows)).unwrap();
        assert_eq!(back, rows);
        // The median of the last 7 (110, 90, 105, 95, 100, 100, 500) is 100.
        assert!(regressions(&rows, &row(115.0), 20.0).is_empty());
        let r = regressions(&rows, &row(130.0), 20.0);
        assert_eq!(r.len(), 1);
        assert!((r[0].worse_by_pct - 30.0).abs() < 1e-9);
    }

    #[test]
    fn timestamps() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
