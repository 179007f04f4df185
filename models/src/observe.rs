//! Observers: Prometheus endpoints a load run scrapes while it runs (kube-state-metrics for the
//! HPA's replicas, cAdvisor for CPU per pod, an application's own `/metrics`), so the replicas
//! and queues reality had sit in the run's timeline beside the twin's prediction. This module
//! owns the `observers:` part of a scenario, its validation, the Prometheus text exposition
//! format (version 0.0.4) parser and the selection of one number per series from a scrape;
//! scraping itself (HTTP, clocks) is the harness's.

use crate::units::Duration;
use indexmap::IndexMap;
use serde::Deserialize;

/// One Prometheus endpoint to scrape during a load run.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObserverSpec {
    pub name: String,
    /// `http://host:port/metrics`; `{target}` stands for the `--target` base URL.
    pub url: String,
    /// Time between scrapes.
    #[serde(default = "default_interval")]
    pub interval: Duration,
    /// How long one scrape may take.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    pub series: Vec<SeriesSpec>,
}

fn default_interval() -> Duration {
    Duration::from_secs(5)
}
fn default_timeout() -> Duration {
    Duration::from_secs(2)
}

/// One number taken from each scrape: the samples of `metric` whose labels match `labels`
/// (exactly), combined by `aggregate`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesSpec {
    pub metric: String,
    #[serde(default)]
    pub labels: IndexMap<String, String>,
    #[serde(default)]
    pub aggregate: Aggregation,
    /// The series' name in the timeline (default `<observer>/<metric>`, or the `compare_with`
    /// name with ` (observed)` when there is one, so the chart puts both in one family).
    #[serde(default)]
    pub name: Option<String>,
    /// A series of the simulator's timeline to draw beside this one, e.g. `replicas/api`
    /// (replicas of a service) or `queue/api` (its queue length).
    #[serde(default)]
    pub compare_with: Option<String>,
}

impl SeriesSpec {
    /// The name of the observed series in the timeline.
    pub fn series_name(&self, observer: &str) -> String {
        match (&self.name, &self.compare_with) {
            (Some(n), _) => n.clone(),
            (None, Some(c)) => format!("{c} (observed)"),
            (None, None) => format!("{observer}/{}", self.metric),
        }
    }

    /// The name the predicted series gets beside it.
    pub fn predicted_name(&self) -> Option<String> {
        self.compare_with
            .as_ref()
            .map(|c| format!("{c} (predicted)"))
    }
}

/// How the matching samples of a scrape become one number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    #[default]
    Sum,
    Avg,
    Max,
    Min,
}

/// Checks the observers of a scenario; each problem with its path under `observers`.
pub fn check(observers: &[ObserverSpec]) -> Vec<(Vec<String>, String)> {
    let mut out = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    for (i, o) in observers.iter().enumerate() {
        let at = |k: &str| vec![i.to_string(), k.to_string()];
        if names.contains(&o.name.as_str()) {
            out.push((
                at("name"),
                format!("the observer `{}` is named twice", o.name),
            ));
        }
        names.push(&o.name);
        let rest = o.url.strip_prefix("{target}").or_else(|| {
            o.url
                .strip_prefix("http://")
                .filter(|r| !r.is_empty() && !r.starts_with('/'))
        });
        match rest {
            None => out.push((
                at("url"),
                format!(
                    "`{}` is not an http:// URL (or `{{target}}/path`); observers scrape plain http, e.g. http://kube-state-metrics:8080/metrics",
                    o.url
                ),
            )),
            Some(r) if r.contains('@') => out.push((
                at("url"),
                "an observer URL must not carry credentials".to_string(),
            )),
            Some(_) => {}
        }
        if o.interval.0 == 0 {
            out.push((
                at("interval"),
                "the interval must be greater than zero".into(),
            ));
        }
        if o.timeout.0 == 0 {
            out.push((
                at("timeout"),
                "the timeout must be greater than zero".into(),
            ));
        }
        if o.series.is_empty() {
            out.push((at("series"), "an observer needs at least one series".into()));
        }
        for (k, s) in o.series.iter().enumerate() {
            let here = |key: &str| {
                vec![
                    i.to_string(),
                    "series".to_string(),
                    k.to_string(),
                    key.to_string(),
                ]
            };
            if !is_metric_name(&s.metric) {
                out.push((
                    here("metric"),
                    format!(
                        "`{}` is not a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)",
                        s.metric
                    ),
                ));
            }
            for l in s.labels.keys() {
                if !is_label_name(l) {
                    out.push((
                        here("labels"),
                        format!("`{l}` is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)"),
                    ));
                }
            }
        }
    }
    out
}

pub fn is_metric_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_' || x == ':')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_' || x == ':')
}

pub fn is_label_name(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(x) if x.is_ascii_alphabetic() || x == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn checks_urls_and_names() {
        let spec = |url: &str, metric: &str| ObserverSpec {
            name: "o".into(),
            url: url.into(),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            series: vec![series(metric, &[], Aggregation::Sum)],
        };
        assert!(check(&[spec("http://ksm:8080/metrics", "up")]).is_empty());
        assert!(check(&[spec("{target}/metrics", "up")]).is_empty());
        for (url, metric, key) in [
            ("https://ksm/metrics", "up", "url"),
            ("http://user:pw@ksm/metrics", "up", "url"),
            ("http:///metrics", "up", "url"),
            ("http://ksm/metrics", "9up", "metric"),
        ] {
            let p = check(&[spec(url, metric)]);
            assert_eq!(p.len(), 1, "{url} {metric}: {p:?}");
            assert_eq!(p[0].0.last().map(String::as_str), Some(key));
        }
    }
}
