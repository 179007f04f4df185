//! A nightly trend: what the last nights of a scenario measured, per judged metric and journey,
//! with the regression threshold each night was (or would have been) judged against. The
//! history file and the judgement are `harness::history`'s; this is the shape the report draws
//! (`reports` knows nothing of the history file), kept in the run's timeline.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// The last nights, oldest first, this run last.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// When each night ran (`YYYY-MM-DDTHH:MM:SSZ`).
    pub nights: Vec<String>,
    /// Nights that were interrupted (drawn, never a baseline).
    pub partial: Vec<bool>,
    /// One entry per judged metric, in the history's order.
    pub metrics: Vec<TrendMetric>,
    /// What `--fail-on-regression` found for this run, one sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regressions: Vec<String>,
}

/// One metric over the nights.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendMetric {
    /// The history's column name: `p95_ms`, `error_rate`.
    pub name: String,
    /// How to read a value: `ms` or `ratio` (a share, drawn in percent).
    pub unit: String,
    pub journeys: IndexMap<String, TrendLine>,
}

/// One journey's values and thresholds, one per night (`None`: not measured, or no baseline).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TrendLine {
    pub values: Vec<Option<f64>>,
    pub thresholds: Vec<Option<f64>>,
}
