//! The Prometheus text exposition format (version 0.0.4) as a scrape returns it: a parser with
//! located errors, and the selection of one number per series of an observer
//! (`models::observe::SeriesSpec`: label matchers, then sum/avg/max/min). Hand-written: the
//! format is a line grammar of ~100 lines here, and the maintained parsers pull in a client
//! library's registry and types we do not need.

use models::observe::{is_label_name, is_metric_name, Aggregation, SeriesSpec};

/// One sample of a scrape: `name{labels} value [timestamp]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
    /// Milliseconds since the Unix epoch, when the exporter gave one.
    pub timestamp_ms: Option<i64>,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A line of a scrape that is not the text format, with its line and column (from 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpositionError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for ExpositionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

/// Parses the Prometheus text exposition format: `# HELP`, `# TYPE` and other `#` lines and
/// blank lines are skipped; every other line is a sample. Label values unescape `\\`, `\"` and
/// `\n`; values may be `NaN`, `+Inf`, `-Inf`.
pub fn parse_exposition(text: &str) -> Result<Vec<Sample>, ExpositionError> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let err = |at: usize, message: String| ExpositionError {
            line: n + 1,
            column: indent + at + 1,
            message,
        };
        out.push(parse_sample(trimmed).map_err(|(at, m)| err(at, m))?);
    }
    Ok(out)
}

/// One sample line (no leading blanks); errors carry the byte offset in the line.
fn parse_sample(line: &str) -> Result<Sample, (usize, String)> {
    let bytes = line.as_bytes();
    let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..name_end];
    if !is_metric_name(name) {
        return Err((0, format!("`{name}` is not a metric name")));
    }
    let mut i = name_end;
    let mut labels = Vec::new();
    if bytes.get(i) == Some(&b'{') {
        i += 1;
        loop {
            while matches!(bytes.get(i), Some(b' ' | b'\t' | b',')) {
                i += 1;
            }
            match bytes.get(i) {
                Some(b'}') => {
                    i += 1;
                    break;
                }
                None => return Err((i, "unclosed `{`".into())),
                _ => {}
            }
            let start = i;
            while bytes
                .get(i)
                .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
            {
                i += 1;
            }
            let label = &line[start..i];
            if !is_label_name(label) {
                return Err((start, "expected a label name".into()));
            }
            while matches!(bytes.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
            if bytes.get(i) != Some(&b'=') {
                return Err((i, format!("expected `=` after the label `{label}`")));
            }
            i += 1;
            while matches!(bytes.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
            if bytes.get(i) != Some(&b'"') {
                return Err((i, "expected a quoted label value".into()));
            }
            i += 1;
            let mut value = String::new();
            loop {
                let Some(c) = line[i..].chars().next() else {
                    return Err((i, "unclosed label value".into()));
                };
                i += c.len_utf8();
                match c {
                    '"' => break,
                    '\\' => {
                        let Some(e) = line[i..].chars().next() else {
                            return Err((i, "unclosed label value".into()));
                        };
                        i += e.len_utf8();
                        value.push(match e {
                            'n' => '\n',
                            other => other,
                        });
                    }
                    c => value.push(c),
                }
            }
            labels.push((label.to_string(), value));
        }
    }
    let rest = &line[i..];
    let mut fields = rest.split_whitespace();
    let at = |f: &str| i + rest.find(f).unwrap_or(0);
    let Some(v) = fields.next() else {
        return Err((i, "expected a value".into()));
    };
    let value = match v {
        "NaN" => f64::NAN,
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => v
            .parse::<f64>()
            .map_err(|_| (at(v), format!("`{v}` is not a number")))?,
    };
    let timestamp_ms = match fields.next() {
        Some(t) => Some(
            t.parse::<i64>()
                .map_err(|_| (at(t), format!("`{t}` is not a timestamp in milliseconds")))?,
        ),
        None => None,
    };
    if let Some(extra) = fields.next() {
        return Err((at(extra), format!("unexpected `{extra}` after the sample")));
    }
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
        timestamp_ms,
    })
}

/// The value of `series` in a scrape; `None` when no sample matches.
pub fn select(series: &SeriesSpec, samples: &[Sample]) -> Option<f64> {
    let mut n = 0u32;
    let mut acc = match series.aggregate {
        Aggregation::Max => f64::NEG_INFINITY,
        Aggregation::Min => f64::INFINITY,
        _ => 0.0,
    };
    for s in samples.iter().filter(|s| {
        s.name == series.metric
            && series
                .labels
                .iter()
                .all(|(k, v)| s.label(k) == Some(v.as_str()))
    }) {
        n += 1;
        acc = match series.aggregate {
            Aggregation::Sum | Aggregation::Avg => acc + s.value,
            Aggregation::Max => acc.max(s.value),
            Aggregation::Min => acc.min(s.value),
        };
    }
    match (n, series.aggregate) {
        (0, _) => None,
        (n, Aggregation::Avg) => Some(acc / f64::from(n)),
        _ => Some(acc),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// kube-state-metrics' own expected output for two HorizontalPodAutoscalers
    /// (kubernetes/kube-state-metrics, internal/store/horizontalpodautoscaler_test.go).
    const KSM: &str = include_str!("../tests/data/kube-state-metrics-hpa.prom");

    fn series(metric: &str, labels: &[(&str, &str)], aggregate: Aggregation) -> SeriesSpec {
        SeriesSpec {
            metric: metric.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            aggregate,
            name: None,
            compare_with: None,
        }
    }

    #[test]
    fn parses_kube_state_metrics_output() {
        let samples = parse_exposition(KSM).unwrap();
        // 17 samples for hpa1 and 13 for hpa2 (kube-state-metrics' expected lines).
        assert_eq!(samples.len(), 30);
        let current = "kube_horizontalpodautoscaler_status_current_replicas";
        let s = |l: &[(&str, &str)], a| select(&series(current, l, a), &samples);
        assert_eq!(s(&[], Aggregation::Sum), Some(4.0));
        assert_eq!(
            s(&[("horizontalpodautoscaler", "hpa2")], Aggregation::Sum),
            Some(2.0)
        );
        assert_eq!(
            s(&[("horizontalpodautoscaler", "hpa3")], Aggregation::Sum),
            None
        );
        let target = |a| {
            select(
                &series(
                    "kube_horizontalpodautoscaler_spec_target_metric",
                    &[("horizontalpodautoscaler", "hpa1")],
                    a,
                ),
                &samples,
            )
        };
        // hpa1's targets: 80, 30, 12, 10, 819200 (800Ki), 80, 30, 33.
        assert_eq!(target(Aggregation::Max), Some(819_200.0));
        assert_eq!(target(Aggregation::Min), Some(10.0));
        assert_eq!(
            target(Aggregation::Sum),
            Some(819_200.0 + 80.0 + 30.0 + 12.0 + 10.0 + 80.0 + 30.0 + 33.0)
        );
        let cond = series(
            "kube_horizontalpodautoscaler_status_condition",
            &[("condition", "AbleToScale"), ("status", "true")],
            Aggregation::Avg,
        );
        assert_eq!(select(&cond, &samples), Some(1.0));
        let first = &samples[0];
        assert_eq!(first.name, "kube_horizontalpodautoscaler_labels");
        assert_eq!(first.label("namespace"), Some("ns1"));
        assert_eq!(first.timestamp_ms, None);
    }

    #[test]
    fn escapes_special_values_and_timestamps() {
        let text = "# HELP x y\n\n  cpu_seconds_total{pod=\"a\\\"b\\\\c\\nd\", zone = \"z\",} 1.5e3 1700000000000\r\nup NaN\nlimit +Inf\n";
        let s = parse_exposition(text).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].label("pod"), Some("a\"b\\c\nd"));
        assert_eq!(s[0].label("zone"), Some("z"));
        assert_eq!(s[0].value, 1500.0);
        assert_eq!(s[0].timestamp_ms, Some(1_700_000_000_000));
        assert!(s[1].value.is_nan());
        assert_eq!(s[2].value, f64::INFINITY);
    }

    #[test]
    fn bad_lines_are_located() {
        let cases = [
            ("ok 1\nbad{a=\"1\" 2\n", 2, 11, "label name"),
            ("ok 1\nbad{a=\"1\"\n", 2, 10, "unclosed"),
            ("x{a=1} 2\n", 1, 5, "quoted"),
            ("x 1 2 3\n", 1, 7, "unexpected"),
            ("x one\n", 1, 3, "not a number"),
            ("  9x 1\n", 1, 3, "metric name"),
            ("x{a=\"1\"}\n", 1, 9, "expected a value"),
        ];
        for (text, line, column, what) in cases {
            let e = parse_exposition(text).unwrap_err();
            assert_eq!((e.line, e.column), (line, column), "{text:?}: {e}");
            assert!(e.message.contains(what), "{text:?}: {e}");
        }
    }
}
