//! What feeds a simulated HorizontalPodAutoscaler: the scenario's `metrics_pipeline:` block
//! (metrics-server's scrape cadence and the kubelet's staleness for CPU and memory; Prometheus'
//! scrape cadence, the adapter's rate window and the latency histogram's buckets for custom
//! metrics), a pod's memory model (`pod.memory_usage`), and the custom metric names the
//! simulator's "Prometheus adapter" serves ([`CustomMetric::from_name`]).
//!
//! Only the vocabulary lives here; `sim::metrics_pipeline` does the sampling.

use crate::path::PathSegment;
use crate::units::Duration;
use serde::Deserialize;

/// The `metrics_pipeline:` block of a scenario. Every field has a default.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MetricsPipeline {
    /// metrics-server `--metric-resolution`: how often it scrapes the kubelets, and so the
    /// window a CPU sample averages over (the rate between two scrapes of a cumulative
    /// counter). Its FAQ gives 60 s as the flag's default; the upstream `components.yaml`
    /// (since v0.5) and the Kubernetes e2e/scalability setups (kubernetes/kubernetes#117121)
    /// run 15 s, which is what a current cluster has.
    #[serde(default = "fifteen_seconds")]
    pub resolution: Duration,
    /// How old the kubelet's figures are when metrics-server scrapes them: cAdvisor refreshes
    /// container stats every 10 s (kubelet `--housekeeping-interval` default), so a scrape
    /// finds them 0-10 s old; 5 s is that mean (invented from the interval).
    #[serde(default = "five_seconds")]
    pub kubelet_lag: Duration,
    /// How often Prometheus scrapes the pods' own `/metrics` (custom metrics). Invented: 15 s,
    /// what ServiceMonitors on GKE commonly set (Prometheus' built-in default is 1 m).
    #[serde(default = "fifteen_seconds")]
    pub scrape_interval: Duration,
    /// The range of the adapter's queries, `rate(...[2m])` / `histogram_quantile(q,
    /// rate(..._bucket[2m]))`: 2 m as in prometheus-adapter's configuration walkthrough.
    #[serde(default = "two_minutes")]
    pub rate_window: Duration,
    /// Upper bounds (`le`) of the request-duration histogram the pods export: the Prometheus
    /// client libraries' default buckets (client_golang `DefBuckets`, 5 ms .. 10 s).
    #[serde(default = "default_buckets")]
    pub latency_buckets: Vec<Duration>,
}

/// The most buckets a latency histogram may have (the per-pod counters are a fixed array, so
/// counting a request allocates nothing).
pub const MAX_BUCKETS: usize = 24;

fn fifteen_seconds() -> Duration {
    Duration::from_secs(15)
}
fn five_seconds() -> Duration {
    Duration::from_secs(5)
}
fn two_minutes() -> Duration {
    Duration::from_secs(120)
}
fn default_buckets() -> Vec<Duration> {
    [
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ]
    .into_iter()
    .map(Duration::from_secs_f64)
    .collect()
}

impl Default for MetricsPipeline {
    fn default() -> Self {
        MetricsPipeline {
            resolution: fifteen_seconds(),
            kubelet_lag: five_seconds(),
            scrape_interval: fifteen_seconds(),
            rate_window: two_minutes(),
            latency_buckets: default_buckets(),
        }
    }
}

impl MetricsPipeline {
    /// Problems, each with its field below `metrics_pipeline`.
    pub fn check(&self) -> Vec<(Vec<PathSegment>, String)> {
        let mut out = Vec::new();
        let at = |f: &str| vec![PathSegment::Key(f.to_string())];
        // metrics-server refuses a resolution under 10 s (its options validation).
        if self.resolution < Duration::from_secs(10) {
            out.push((
                at("resolution"),
                format!(
                    "metrics-server needs a resolution of at least 10s, got {}",
                    self.resolution
                ),
            ));
        }
        // The sampler keeps the last few kubelet readings per pod; a lag of several
        // resolutions would need more of them and describes no real cluster.
        if self.kubelet_lag >= Duration(self.resolution.0.saturating_mul(3)) {
            out.push((
                at("kubelet_lag"),
                format!(
                    "must be shorter than 3 resolutions ({}), got {}",
                    Duration(self.resolution.0.saturating_mul(3)),
                    self.kubelet_lag
                ),
            ));
        }
        if self.scrape_interval.0 == 0 {
            out.push((at("scrape_interval"), "must be positive".into()));
        }
        if self.rate_window < self.scrape_interval {
            out.push((
                at("rate_window"),
                format!(
                    "a rate needs two samples: the window ({}) must be at least the scrape interval ({})",
                    self.rate_window, self.scrape_interval
                ),
            ));
        } else if self.scrape_interval.0 > 0 && self.rate_window.0 / self.scrape_interval.0 > 240 {
            out.push((
                at("rate_window"),
                "more than 240 scrapes in one window".into(),
            ));
        }
        if self.latency_buckets.is_empty() || self.latency_buckets.len() > MAX_BUCKETS {
            out.push((
                at("latency_buckets"),
                format!("needs 1 to {MAX_BUCKETS} bucket bounds"),
            ));
        } else if self.latency_buckets.windows(2).any(|w| w[0] >= w[1])
            || self.latency_buckets[0].0 == 0
        {
            out.push((
                at("latency_buckets"),
                "bucket bounds must be positive and increasing".into(),
            ));
        }
        out
    }
}

/// A pod's memory working set: `base + per_request x requests in service in the pod`, as
/// Kubernetes quantities (`300Mi`, `2Mi`). Queued requests wait in the listen backlog and are
/// not counted, so the working set is bounded by `base + per_request x concurrency`.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MemoryUsage {
    pub base: String,
    #[serde(default = "zero_quantity")]
    pub per_request: String,
}

fn zero_quantity() -> String {
    "0".into()
}

impl MemoryUsage {
    /// `(base, per_request)` in bytes.
    pub fn bytes(&self) -> Result<(u64, u64), String> {
        Ok((
            crate::platform::parse_memory_bytes(&self.base)?,
            crate::platform::parse_memory_bytes(&self.per_request)?,
        ))
    }

    /// The default when a pod gives none (invented): 40 % of the memory request at rest, and
    /// another 40 % when its `concurrency` servers are all busy, so a pod at full load sits at
    /// 80 %, just over the seeds' 75 % memory target, and an idle one well under it.
    pub fn default_bytes(request: u64, concurrency: u32) -> (u64, u64) {
        let base = request * 2 / 5;
        (base, base / u64::from(concurrency.max(1)))
    }
}

/// A custom metric the simulated Prometheus adapter serves, recognised by its name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CustomMetric {
    /// `p95_latency_ms`, `p99_latency_seconds`: `histogram_quantile(q, rate(bucket[w]))` of the
    /// request duration at the service (queue + service), per pod (Pods) or over the service
    /// (Object/External); `unit` is how many of the metric's units make one second.
    LatencyQuantile { quantile: f64, per_second: f64 },
    /// `requests_per_second`, `http_requests_per_second`: `rate(requests_total[w])`.
    RequestRate,
    /// `queue_length`, `kafka_consumer_lag`, `consumer_lag`: requests waiting at the service
    /// (a gauge read at the last scrape; for a consumer group, its lag in messages).
    Backlog,
}

impl CustomMetric {
    /// The metric a name means, or `None` for a name the simulator cannot serve.
    pub fn from_name(name: &str) -> Option<CustomMetric> {
        let n = name.to_ascii_lowercase();
        if n == "requests_per_second" || n.ends_with("_requests_per_second") {
            return Some(CustomMetric::RequestRate);
        }
        if matches!(
            n.as_str(),
            "queue_length" | "kafka_consumer_lag" | "consumer_lag" | "kafka_consumergroup_lag"
        ) {
            return Some(CustomMetric::Backlog);
        }
        let rest = n.strip_prefix('p')?;
        let (digits, unit) = rest.split_once("_latency")?;
        let per_second = match unit {
            "_ms" | "_milliseconds" => 1000.0,
            "_s" | "_seconds" | "" => 1.0,
            _ => return None,
        };
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        // p95 = 0.95, p999 = 0.999, p50 = 0.5.
        let quantile = format!("0.{digits}").parse::<f64>().ok()?;
        (quantile > 0.0 && quantile < 1.0).then_some(CustomMetric::LatencyQuantile {
            quantile,
            per_second,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_metric_names() {
        assert_eq!(
            CustomMetric::from_name("p95_latency_ms"),
            Some(CustomMetric::LatencyQuantile {
                quantile: 0.95,
                per_second: 1000.0
            })
        );
        assert_eq!(
            CustomMetric::from_name("p999_latency_seconds"),
            Some(CustomMetric::LatencyQuantile {
                quantile: 0.999,
                per_second: 1.0
            })
        );
        assert_eq!(
            CustomMetric::from_name("http_requests_per_second"),
            Some(CustomMetric::RequestRate)
        );
        assert_eq!(
            CustomMetric::from_name("kafka_consumer_lag"),
            Some(CustomMetric::Backlog)
        );
        assert_eq!(CustomMetric::from_name("p_latency_ms"), None);
        assert_eq!(CustomMetric::from_name("p95_latency_minutes"), None);
        assert_eq!(CustomMetric::from_name("gpu_duty_cycle"), None);
    }

    #[test]
    fn defaults_pass_their_own_checks() {
        assert!(MetricsPipeline::default().check().is_empty());
        let bad = MetricsPipeline {
            resolution: Duration::from_secs(5),
            rate_window: Duration::from_secs(10),
            ..MetricsPipeline::default()
        };
        let fields: Vec<String> = bad
            .check()
            .into_iter()
            .map(|(p, _)| format!("{p:?}"))
            .collect();
        assert_eq!(fields.len(), 2, "{fields:?}");
    }

    #[test]
    fn default_memory_model_is_80_percent_at_full_load() {
        let (base, per) = MemoryUsage::default_bytes(1000, 4);
        assert_eq!((base, per), (400, 100));
        assert_eq!(base + 4 * per, 800);
    }
}
