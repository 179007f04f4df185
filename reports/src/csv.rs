//! The CSV time series of a run: `timeseries.csv` (one row per window per journey) and
//! `series.csv` (the named series, one row per sample); and `twin hpa replay`'s
//! `replicas.csv` (one row per sync). RFC 4180 quoting; a value that was not
//! measured (NaN) is an empty field.

use models::timeline::Timeline;
use std::fmt::Write;

/// Header of `timeseries.csv`.
pub const TIMESERIES_HEADER: &str =
    "window_start_s,journey,count,errors,mean_ms,p50_ms,p95_ms,p99_ms";
/// Header of `series.csv`.
pub const SERIES_HEADER: &str = "time_s,series,value";

/// `timeseries.csv`: rows in time order, and within a window in the timeline's journey order.
pub fn timeseries_csv(timeline: &Timeline) -> String {
    let mut out = String::new();
    out.push_str(TIMESERIES_HEADER);
    out.push('\n');
    let windows = timeline.journeys.values().map(Vec::len).max().unwrap_or(0);
    for i in 0..windows {
        for (journey, stats) in &timeline.journeys {
            let Some(w) = stats.get(i) else { continue };
            let _ = writeln!(
                out,
                "{},{},{},{},{},{},{},{}",
                number(w.start_s),
                field(journey),
                w.count,
                w.errors,
                number(w.mean_ms),
                number(w.p50_ms),
                number(w.p95_ms),
                number(w.p99_ms),
            );
        }
    }
    out
}

/// `series.csv`: each series' samples in order, series in the timeline's order.
pub fn series_csv(timeline: &Timeline) -> String {
    let mut out = String::new();
    out.push_str(SERIES_HEADER);
    out.push('\n');
    for (name, samples) in &timeline.series {
        let name = field(name);
        for (t, v) in samples {
            let _ = writeln!(out, "{},{name},{}", number(*t), number(*v));
        }
    }
    out
}

/// The shortest text that reads back as the same f64; empty for NaN and infinities.
fn number(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        String::new()
    }
}

/// A text field, quoted when it holds a comma, quote or line break.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// `twin hpa replay`'s table: one row per sync of the controller.
pub fn hpa_replay(steps: &[models::hpa::ReplayStep]) -> String {
    let mut csv =
        String::from("time_s,current_replicas,metric_desired,replicas,decision,pods,ready_pods\n");
    for s in steps {
        let desired = s.metric_desired.map_or(String::new(), |d| d.to_string());
        csv.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            s.time.as_secs_f64(),
            s.current,
            desired,
            s.replicas,
            s.decision,
            s.pods,
            s.ready_pods
        ));
    }
    csv
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
