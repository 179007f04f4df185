//! Prediction beside measurement: per journey, what the twin predicted (a simulation of the
//! same scenario) and what a load test measured, for p50/p95/p99 and the error rate, with the
//! relative error. The `fidelity` section of a load run's `summary.json`. Journeys that stream
//! (SPEC.md "Streaming and rollouts") add time to first token and inter-token latency when both
//! the prediction and the measurement have them.

use crate::rollout::{Outcome, RolloutSummary};
use crate::summary::{LatencyStats, RunSummary};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// The `fidelity` section.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Fidelity {
    /// Where the prediction came from: `simulation (in-process)` or a summary.json path.
    pub predicted_by: String,
    pub journeys: IndexMap<String, JourneyFidelity>,
    /// Rollouts present in both (a rollout drill beside the simulated rollout).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub rollouts: IndexMap<String, RolloutFidelity>,
}

/// One rollout, predicted beside measured: how it ended, when, and what the new version
/// served until the decision (the analyses' own counts: after it, a promoted version serves
/// the rest of the prediction's horizon while a drill stops its load, so whole-run counts
/// would not compare).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutFidelity {
    pub outcome: OutcomePair,
    /// `null` when either side did not decide.
    pub decided_at_s: Option<Comparison>,
    /// From the rollout's start to the new version's first traffic (pods ready; blue-green:
    /// the green stack's and the switch's): `null` when either side never got there.
    #[serde(default)]
    pub wait_for_pods_s: Option<Comparison>,
    pub requests_to_decision: Comparison,
    pub errors_to_decision: Comparison,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutcomePair {
    pub predicted: Outcome,
    pub measured: Outcome,
}

impl RolloutFidelity {
    pub fn compare(predicted: &RolloutSummary, measured: &RolloutSummary) -> RolloutFidelity {
        // Means over the replications (the measurement is one).
        let to_decision = |r: &RolloutSummary| {
            let n = r.runs.len().max(1) as f64;
            let (q, e) = r
                .runs
                .iter()
                .flat_map(|run| &run.analyses)
                .fold((0.0, 0.0), |(q, e), a| {
                    (q + a.requests as f64, e + a.errors as f64)
                });
            (q / n, e / n)
        };
        let (pq, pe) = to_decision(predicted);
        let (mq, me) = to_decision(measured);
        RolloutFidelity {
            outcome: OutcomePair {
                predicted: predicted.outcome,
                measured: measured.outcome,
            },
            decided_at_s: predicted
                .decided_at_s
                .zip(measured.decided_at_s)
                .map(|(p, m)| Comparison::new(p, m)),
            wait_for_pods_s: predicted
                .wait_for_pods_s
                .zip(measured.wait_for_pods_s)
                .map(|(p, m)| Comparison::new(p, m)),
            requests_to_decision: Comparison::new(pq, mq),
            errors_to_decision: Comparison::new(pe, me),
        }
    }
}

/// One journey, predicted beside measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JourneyFidelity {
    pub mean_ms: Comparison,
    pub p50_ms: Comparison,
    pub p95_ms: Comparison,
    pub p99_ms: Comparison,
    pub error_rate: Comparison,
    /// Time to first token (first event), when both sides have streams of this journey.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<PercentileComparison>,
    /// Inter-token latency (gaps between events), when both sides have them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_ms: Option<PercentileComparison>,
}

/// p50, p95 and p99 of a distribution, predicted beside measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PercentileComparison {
    pub p50: Comparison,
    pub p95: Comparison,
    pub p99: Comparison,
}

impl PercentileComparison {
    /// Both sides' percentiles, or `None` when either side has no distribution.
    pub fn of(predicted: Option<&LatencyStats>, measured: Option<&LatencyStats>) -> Option<Self> {
        let (p, m) = (predicted?, measured?);
        Some(PercentileComparison {
            p50: Comparison::new(p.p50, m.p50),
            p95: Comparison::new(p.p95, m.p95),
            p99: Comparison::new(p.p99, m.p99),
        })
    }
}

/// A predicted and a measured value; `relative_error` is `(measured - predicted) / predicted`,
/// `null` when the prediction is 0 (an error rate, say) and so has no relative scale.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub predicted: f64,
    pub measured: f64,
    pub relative_error: Option<f64>,
}

impl Comparison {
    pub fn new(predicted: f64, measured: f64) -> Comparison {
        let relative_error =
            (predicted.abs() > f64::EPSILON && predicted.is_finite() && measured.is_finite())
                .then(|| (measured - predicted) / predicted);
        Comparison {
            predicted,
            measured,
            relative_error,
        }
    }
}

impl Fidelity {
    /// Compares every journey present in both summaries (in the measured run's order).
    pub fn compare(predicted_by: &str, predicted: &RunSummary, measured: &RunSummary) -> Fidelity {
        let journeys = measured
            .journeys
            .iter()
            .filter_map(|(name, m)| {
                let p = predicted.journeys.get(name)?;
                Some((
                    name.clone(),
                    JourneyFidelity {
                        mean_ms: Comparison::new(p.latency_ms.mean, m.latency_ms.mean),
                        p50_ms: Comparison::new(p.latency_ms.p50, m.latency_ms.p50),
                        p95_ms: Comparison::new(p.latency_ms.p95, m.latency_ms.p95),
                        p99_ms: Comparison::new(p.latency_ms.p99, m.latency_ms.p99),
                        error_rate: Comparison::new(p.error_rate, m.error_rate),
                        ttft_ms: PercentileComparison::of(p.ttft_ms.as_ref(), m.ttft_ms.as_ref()),
                        itl_ms: PercentileComparison::of(p.itl_ms.as_ref(), m.itl_ms.as_ref()),
                    },
                ))
            })
            .collect();
        let rollouts = measured
            .rollouts
            .iter()
            .filter_map(|m| {
                let p = predicted.rollouts.iter().find(|p| p.name == m.name)?;
                Some((m.name.clone(), RolloutFidelity::compare(p, m)))
            })
            .collect();
        Fidelity {
            predicted_by: predicted_by.to_string(),
            journeys,
            rollouts,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_has_no_scale_at_zero() {
        assert_eq!(Comparison::new(100.0, 110.0).relative_error, Some(0.1));
        assert_eq!(Comparison::new(0.0, 0.01).relative_error, None);
    }

    #[test]
    fn streams_are_compared_only_when_both_sides_have_them() {
        let stats = |p50: f64, p95: f64, p99: f64| LatencyStats {
            p50,
            p95,
            p99,
            ..Default::default()
        };
        let mut predicted = RunSummary::empty(crate::summary::RunKind::Simulation, "x", 1, 1, 60.0);
        let mut measured = predicted.clone();
        predicted.journeys.insert("chat".into(), Default::default());
        predicted.journeys["chat"].ttft_ms = Some(stats(500.0, 800.0, 1000.0));
        predicted.journeys["chat"].itl_ms = Some(stats(20.0, 20.0, 20.0));
        measured.journeys.insert("chat".into(), Default::default());
        measured.journeys["chat"].ttft_ms = Some(stats(550.0, 1000.0, 1000.0));
        let f = Fidelity::compare("x", &predicted, &measured);
        let t = f.journeys["chat"].ttft_ms.as_ref().unwrap();
        assert_eq!(t.p50.relative_error, Some(0.1));
        assert_eq!(t.p95.relative_error, Some(0.25));
        assert_eq!(t.p99.relative_error, Some(0.0));
        // The measurement read no gap: no inter-token comparison.
        assert_eq!(f.journeys["chat"].itl_ms, None);
    }
}
