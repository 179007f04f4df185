//! What a run saw over time, for charts and CSV: per-journey latency percentiles in fixed
//! windows, named numeric series (replicas, queue lengths, Kafka lag ...), and latency
//! histograms. Produced by the simulator and the harness alike; rendered by `reports`.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// A run's time-resolved record.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Width of each window, seconds. Window `i` covers `[i*window_s, (i+1)*window_s)` of run time.
    pub window_s: f64,
    /// Per journey, one entry per window (windows with no completions have `count` 0).
    pub journeys: IndexMap<String, Vec<WindowStats>>,
    /// Named series of `(time_s, value)` samples, e.g. `replicas/gateway`, `queue/gateway`.
    /// The name before `/` is the family a chart groups by.
    pub series: IndexMap<String, Vec<(f64, f64)>>,
    /// Per journey, the latency distribution as `(upper bound ms, count)` buckets.
    pub histograms: IndexMap<String, Vec<(f64, u64)>>,
    /// Marks on the time axis: faults, recovery actions, scale events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<TimelineEvent>,
    /// Load runs with `--history`: the last nights' trend, this run last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<crate::trend::Trend>,
}

/// Latency statistics of the journeys that completed in one window.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    pub start_s: f64,
    pub count: u64,
    pub errors: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TimelineEvent {
    pub at_s: f64,
    pub label: String,
}
