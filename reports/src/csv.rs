//! The CSV time series of a run: `timeseries.csv` (one row per window per journey) and
//! `series.csv` (the named series, one row per sample); and `twin hpa replay`'s
//! `replicas.csv` (one row per sync). Written through the `csv` crate (RFC 4180: a field with a
//! comma, quote or line break is quoted, quotes doubled), rows as serde structs whose field
//! names are the header; a value that was not measured (NaN) is an empty field.

use models::timeline::Timeline;
use serde::{Serialize, Serializer};

/// Header of `timeseries.csv`.
pub const TIMESERIES_HEADER: &str =
    "window_start_s,journey,count,errors,mean_ms,p50_ms,p95_ms,p99_ms";
/// Header of `series.csv`.
pub const SERIES_HEADER: &str = "time_s,series,value";

/// A number as the shortest text that reads back as the same f64; empty when not finite.
#[derive(Clone, Copy)]
struct Num(f64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.collect_str(&self.0)
        } else {
            s.serialize_str("")
        }
    }
}

#[derive(Serialize)]
struct WindowRow<'a> {
    window_start_s: Num,
    journey: &'a str,
    count: u64,
    errors: u64,
    mean_ms: Num,
    p50_ms: Num,
    p95_ms: Num,
    p99_ms: Num,
}

#[derive(Serialize)]
struct SeriesRow<'a> {
    time_s: Num,
    series: &'a str,
    value: Num,
}

#[derive(Serialize)]
struct ReplayRow {
    time_s: Num,
    current_replicas: i32,
    metric_desired: Option<i32>,
    replicas: i32,
    decision: &'static str,
    pods: usize,
    ready_pods: usize,
}

/// Serializes rows (the header from the first row's field names) into a string. Writing to
/// memory fails only on a serializer bug, which is a panic, not a user's error.
fn to_csv<T: Serialize>(rows: impl IntoIterator<Item = T>) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    for row in rows {
        w.serialize(row)
            .unwrap_or_else(|e| unreachable!("a CSV row always serializes to memory: {e}"));
    }
    let bytes = w
        .into_inner()
        .unwrap_or_else(|e| unreachable!("a CSV writer flushes to memory: {e}"));
    String::from_utf8(bytes).unwrap_or_else(|e| unreachable!("CSV of UTF-8 fields: {e}"))
}

/// Records of plain text fields (a header first), for tables whose columns are not known
/// until run time (`sweep.csv`).
pub fn records(rows: &[Vec<String>]) -> String {
    to_csv(rows)
}

/// `timeseries.csv`: rows in time order, and within a window in the timeline's journey order.
pub fn timeseries_csv(timeline: &Timeline) -> String {
    let windows = timeline.journeys.values().map(Vec::len).max().unwrap_or(0);
    let rows = (0..windows).flat_map(|i| {
        timeline
            .journeys
            .iter()
            .filter_map(move |(journey, stats)| {
                stats.get(i).map(|w| WindowRow {
                    window_start_s: Num(w.start_s),
                    journey,
                    count: w.count,
                    errors: w.errors,
                    mean_ms: Num(w.mean_ms),
                    p50_ms: Num(w.p50_ms),
                    p95_ms: Num(w.p95_ms),
                    p99_ms: Num(w.p99_ms),
                })
            })
    });
    with_header(TIMESERIES_HEADER, to_csv(rows))
}

/// `series.csv`: each series' samples in order, series in the timeline's order.
pub fn series_csv(timeline: &Timeline) -> String {
    let rows = timeline.series.iter().flat_map(|(name, samples)| {
        samples.iter().map(move |(t, v)| SeriesRow {
            time_s: Num(*t),
            series: name,
            value: Num(*v),
        })
    });
    with_header(SERIES_HEADER, to_csv(rows))
}

/// An empty table still has its header (serde writes the header with the first row).
fn with_header(header: &str, csv: String) -> String {
    if csv.is_empty() {
        format!("{header}\n")
    } else {
        csv
    }
}

/// `twin hpa replay`'s table: one row per sync of the controller.
pub fn hpa_replay(steps: &[models::hpa::ReplayStep]) -> String {
    let rows = steps.iter().map(|s| ReplayRow {
        time_s: Num(s.time.as_secs_f64()),
        current_replicas: s.current,
        metric_desired: s.metric_desired,
        replicas: s.replicas,
        decision: s.decision,
        pods: s.pods,
        ready_pods: s.ready_pods,
    });
    with_header(
        "time_s,current_replicas,metric_desired,replicas,decision,pods,ready_pods",
        to_csv(rows),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::timeline::WindowStats;

    fn window(start_s: f64, count: u64, p50: f64) -> WindowStats {
        WindowStats {
            start_s,
            count,
            errors: count / 10,
            mean_ms: p50 * 1.1,
            p50_ms: p50,
            p95_ms: p50 * 2.0,
            p99_ms: p50 * 3.0,
        }
    }

    #[test]
    fn one_row_per_window_per_journey_in_time_order() {
        let mut t = Timeline {
            window_s: 10.0,
            ..Timeline::default()
        };
        t.journeys.insert(
            "call".into(),
            vec![window(0.0, 20, 10.0), window(10.0, 30, 12.5)],
        );
        t.journeys
            .insert("say, \"hi\"".into(), vec![window(0.0, 0, f64::NAN)]);
        let csv = timeseries_csv(&t);
        let rows: Vec<&str> = csv.lines().collect();
        assert_eq!(
            rows,
            vec![
                TIMESERIES_HEADER,
                "0,call,20,2,11,10,20,30",
                "0,\"say, \"\"hi\"\"\",0,0,,,,",
                "10,call,30,3,13.750000000000002,12.5,25,37.5",
            ]
        );
    }

    /// Awkward journey and series names come back as they went in through a CSV reader.
    #[test]
    fn awkward_names_round_trip_through_a_csv_reader() {
        let names = ["a,b", "say \"hi\"", "two\nlines", " padded ", "plain"];
        let mut t = Timeline::default();
        for (i, n) in names.iter().enumerate() {
            t.journeys
                .insert((*n).to_string(), vec![window(0.0, i as u64 + 1, 5.0)]);
            t.series.insert((*n).to_string(), vec![(1.5, i as f64)]);
        }
        let read = |text: &str, fields: usize| -> Vec<(String, String)> {
            let mut r = ::csv::Reader::from_reader(text.as_bytes());
            r.records()
                .map(|rec| {
                    let rec = rec.expect("a well-formed record");
                    assert_eq!(rec.len(), fields);
                    (rec[1].to_string(), rec[2].to_string())
                })
                .collect()
        };
        let windows = read(&timeseries_csv(&t), 8);
        let expected: Vec<(String, String)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| ((*n).to_string(), (i + 1).to_string()))
            .collect();
        assert_eq!(windows, expected);
        let series = read(&series_csv(&t), 3);
        let expected: Vec<(String, String)> = names
            .iter()
            .enumerate()
            .map(|(i, n)| ((*n).to_string(), format!("{i}")))
            .collect();
        assert_eq!(series, expected);
    }

    #[test]
    fn an_empty_table_keeps_its_header() {
        assert_eq!(
            timeseries_csv(&Timeline::default()),
            format!("{TIMESERIES_HEADER}\n")
        );
        assert_eq!(hpa_replay(&[]).lines().count(), 1);
    }

    #[test]
    fn series_rows_name_their_series() {
        let mut t = Timeline::default();
        t.series
            .insert("replicas/gateway".into(), vec![(0.0, 2.0), (15.0, 3.0)]);
        t.series.insert("queue/gateway".into(), vec![(0.5, 0.25)]);
        assert_eq!(
            series_csv(&t),
            "time_s,series,value\n0,replicas/gateway,2\n15,replicas/gateway,3\n0.5,queue/gateway,0.25\n"
        );
    }
}
