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
    /// Rollouts as one replication saw them (the first): the report's rollout chart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<RolloutTrack>,
}

/// One rollout over time: the new version's weight (a step function), each analysis with its
/// verdict, and the decision.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutTrack {
    pub name: String,
    /// When the rollout began (`at`).
    pub start_s: f64,
    /// `(time_s, weight)`: at a change, two points at the same time (before and after).
    pub weights: Vec<(f64, f64)>,
    /// `(time_s, verdict)` of each analysis.
    pub analyses: Vec<(f64, crate::rollout::Verdict)>,
    pub outcome: crate::rollout::Outcome,
    pub decided_at_s: Option<f64>,
    /// When the losing version's replicas were gone.
    pub completed_at_s: Option<f64>,
}

impl RolloutTrack {
    /// The track of one replication's run of rollout `name`, started at `start_s`.
    pub fn of(name: &str, start_s: f64, run: &crate::rollout::RolloutRun) -> RolloutTrack {
        RolloutTrack {
            name: name.to_string(),
            start_s,
            weights: run.weights.iter().map(|w| (w[0], w[1])).collect(),
            analyses: run.analyses.iter().map(|a| (a.at_s, a.verdict)).collect(),
            outcome: run.outcome,
            decided_at_s: run.decided_at_s,
            completed_at_s: run.completed_at_s,
        }
    }
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
