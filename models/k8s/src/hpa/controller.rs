//! One reconcile of one HorizontalPodAutoscaler (`reconcileAutoscaler`): the jumps to min/max
//! before any metric is read, the proposal of every metric and the max over them (with the
//! rule that a broken metric blocks a scale-down but not a scale-up), the legacy or behavior
//! normalization, and the in-memory state the controller keeps per HPA key ([`HpaState`]).
//!
//! The caller owns the clock and the cadence: call [`Autoscaler::reconcile`] every
//! `sync_period` (15s) from the HPA's creation, with what the metrics APIs return at that time.

use super::behavior::{
    self, LegacyScaleUpLimit, LimitReason, ScaleEvents, ScaleRequest, Stabilizer,
};
use super::pods::CpuReadiness;
use super::replica_calculator::{
    external_average_total, external_value_total, MetricError, PodCount, PodSample,
    ReplicaCalculator, Tolerances,
};
use super::spec::{MetricKind, ResolvedHpa, ResourceTarget, ValueTarget};
use models::units::Duration;

/// The kube-controller-manager flags the HPA controller reads, with their defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ControllerConfig {
    /// `--horizontal-pod-autoscaler-sync-period` (15s).
    pub sync_period: Duration,
    /// `--horizontal-pod-autoscaler-tolerance` (0.1), both directions.
    pub tolerance: f64,
    /// `--horizontal-pod-autoscaler-downscale-stabilization` (5m): the legacy window, and the
    /// default scale-down window of the behavior path.
    pub downscale_stabilization: Duration,
    pub cpu_readiness: CpuReadiness,
    pub legacy_scale_up_limit: LegacyScaleUpLimit,
    /// Feature gate `HPAConfigurableTolerance` (beta, on in current releases).
    pub configurable_tolerance: bool,
}

impl Default for ControllerConfig {
    fn default() -> Self {
        ControllerConfig {
            sync_period: Duration::from_secs(15),
            tolerance: 0.1,
            downscale_stabilization: Duration::from_secs(300),
            cpu_readiness: CpuReadiness::default(),
            legacy_scale_up_limit: LegacyScaleUpLimit::default(),
            configurable_tolerance: true,
        }
    }
}

/// The scale subresource: `spec.replicas` (the current count for almost every purpose) and
/// `status.replicas` (for Object/External AverageValue targets).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scale {
    pub spec_replicas: i32,
    pub status_replicas: i32,
}

/// What the metrics APIs returned for one metric of the spec, in the same order as
/// `spec.metrics`.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricObservation {
    /// Resource, ContainerResource or Pods: the listed pods classified for this metric (see
    /// [`super::pods::classify`]) and samples returned for pods outside the list.
    PerPod {
        pods: Vec<PodSample>,
        stray: Vec<(String, i64)>,
    },
    /// Object: the metric's value.
    Object { value_milli: i64, pods: PodCount },
    /// External: every returned series (summed by the controller).
    External {
        series_milli: Vec<i64>,
        pods: PodCount,
    },
    /// The metrics API returned an error for this metric.
    Unavailable(String),
}

/// The proposals of all metrics of one sync.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricProposals {
    /// Max over the metrics that gave a proposal.
    pub max_valid: Option<i32>,
    pub invalid: usize,
    pub total: usize,
    pub errors: Vec<String>,
}

impl MetricProposals {
    /// No metric read yet.
    pub fn empty(total: usize) -> MetricProposals {
        MetricProposals {
            max_valid: None,
            invalid: 0,
            total,
            errors: Vec::new(),
        }
    }

    /// A proposal given directly (timelines that state the metric-desired count).
    pub fn fixed(desired: i32) -> MetricProposals {
        MetricProposals {
            max_valid: Some(desired),
            invalid: 0,
            total: 1,
            errors: Vec::new(),
        }
    }

    /// Folds one metric's outcome in: upstream keeps `if replicas == 0 || proposal > replicas`,
    /// so a 0 is replaced by any later proposal.
    pub fn add(&mut self, outcome: Result<i32, String>) {
        match outcome {
            Ok(v) => {
                if self.max_valid.is_none_or(|cur| cur == 0 || v > cur) {
                    self.max_valid = Some(v);
                }
            }
            Err(e) => {
                self.invalid += 1;
                self.errors.push(e);
            }
        }
    }

    /// `computeReplicasForMetrics`' -1: every metric failed, or one failed and the others
    /// would scale down. Nothing happens then, and no recommendation is recorded.
    pub fn usable(&self, spec_replicas: i32) -> Option<i32> {
        let replicas = self.max_valid.unwrap_or(0);
        if self.invalid >= self.total || (self.invalid > 0 && replicas < spec_replicas) {
            None
        } else {
            Some(replicas)
        }
    }
}

/// One metric's proposal (`computeReplicasForMetric`).
pub fn replicas_for_metric(
    calc: &ReplicaCalculator,
    metric: &MetricKind,
    observed: &MetricObservation,
    scale: Scale,
) -> Result<i32, MetricError> {
    use MetricObservation as O;
    let mismatch = |what: &str| {
        Err(MetricError::Unavailable(format!(
            "expected {what} for this metric"
        )))
    };
    match (metric, observed) {
        (_, O::Unavailable(why)) => Err(MetricError::Unavailable(why.clone())),
        (MetricKind::Resource { target, .. }, O::PerPod { pods, stray }) => match target {
            ResourceTarget::AverageValue(t) => calc
                .plain_average(scale.spec_replicas, *t, pods, stray)
                .map(|r| r.replicas),
            ResourceTarget::Utilization(t) => calc
                .resource_utilization(scale.spec_replicas, *t, pods, stray)
                .map(|r| r.replicas),
        },
        (
            MetricKind::Pods {
                target_average_milli,
                ..
            },
            O::PerPod { pods, stray },
        ) => calc
            .plain_average(scale.spec_replicas, *target_average_milli, pods, stray)
            .map(|r| r.replicas),
        (MetricKind::Object { target, .. }, O::Object { value_milli, pods }) => match target {
            ValueTarget::Value(t) => {
                calc.object_value(scale.spec_replicas, *t, *value_milli, *pods)
            }
            ValueTarget::AverageValue(t) => Ok(calc
                .per_pod_average(scale.status_replicas, *t, *value_milli)
                .replicas),
        },
        (MetricKind::External { target, .. }, O::External { series_milli, pods }) => match target {
            ValueTarget::Value(t) => calc.object_value(
                scale.spec_replicas,
                *t,
                external_value_total(series_milli),
                *pods,
            ),
            ValueTarget::AverageValue(t) => Ok(calc
                .per_pod_average(
                    scale.status_replicas,
                    *t,
                    external_average_total(series_milli),
                )
                .replicas),
        },
        (MetricKind::Resource { .. } | MetricKind::Pods { .. }, _) => mismatch("per-pod samples"),
        (MetricKind::Object { .. }, _) => mismatch("an object value"),
        (MetricKind::External { .. }, _) => mismatch("external series"),
    }
}

/// `computeReplicasForMetrics` without the -1 decision (see [`MetricProposals::usable`]).
/// A metric with no observation counts as unavailable.
pub fn replicas_for_metrics(
    calc: &ReplicaCalculator,
    metrics: &[MetricKind],
    observed: &[MetricObservation],
    scale: Scale,
) -> MetricProposals {
    let mut p = MetricProposals::empty(metrics.len());
    for (i, m) in metrics.iter().enumerate() {
        let r = match observed.get(i) {
            Some(o) => replicas_for_metric(calc, m, o, scale),
            None => Err(MetricError::Unavailable("no observation".into())),
        };
        p.add(r.map_err(|e| format!("metric {i}: {e}")));
    }
    p
}

/// The controller's memory for one HPA key. Lost on controller restart: a fresh state
/// re-arms the "no scale-down for one window" effect of the initial recommendation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HpaState {
    /// `None` until the first reconcile records `{currentReplicas, now}`.
    pub stabilizer: Option<Stabilizer>,
    pub events: ScaleEvents,
}

/// Why a sync ended where it did.
#[derive(Clone, Debug, PartialEq)]
pub enum Decision {
    /// `spec.replicas == 0` with `minReplicas != 0`: autoscaling disabled.
    ScalingDisabled,
    /// Current count above `maxReplicas`: jump to max, metrics not read.
    AboveMax,
    /// Current count below `minReplicas`: jump to min, metrics not read.
    BelowMin,
    /// No usable proposal; nothing changes.
    MetricsFailed(Vec<String>),
    /// Normal path, with the `ScalingLimited` reason of the normalization.
    Normalized(LimitReason),
}

impl Decision {
    /// A short label for reports and CSVs.
    pub fn label(&self) -> &'static str {
        match self {
            Decision::ScalingDisabled => "ScalingDisabled",
            Decision::AboveMax => "AboveMaxReplicas",
            Decision::BelowMin => "BelowMinReplicas",
            Decision::MetricsFailed(_) => "FailedGetMetrics",
            Decision::Normalized(r) => r.as_str(),
        }
    }
}

/// What one reconcile decided.
#[derive(Clone, Debug, PartialEq)]
pub struct SyncOutcome {
    pub current: i32,
    /// Max over valid metric proposals, before normalization (`None` if metrics were not read
    /// or none was valid).
    pub metric_desired: Option<i32>,
    /// The count after this sync (`current` when nothing changed).
    pub replicas: i32,
    pub rescaled: bool,
    pub decision: Decision,
}

/// One HPA under the controller: resolved spec, controller flags and per-key state.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoscaler {
    pub hpa: ResolvedHpa,
    pub config: ControllerConfig,
    pub state: HpaState,
}

impl Autoscaler {
    pub fn new(hpa: ResolvedHpa, config: ControllerConfig) -> Autoscaler {
        Autoscaler {
            hpa,
            config,
            state: HpaState::default(),
        }
    }

    /// `tolerancesForHpa`: the flag, overridden per direction by `behavior.*.tolerance` when
    /// behavior is present and the gate is on.
    pub fn tolerances(&self) -> Tolerances {
        let mut t = Tolerances {
            scale_down: self.config.tolerance,
            scale_up: self.config.tolerance,
        };
        if let (Some(b), true) = (&self.hpa.behavior, self.config.configurable_tolerance) {
            if let Some(d) = b.scale_down.tolerance {
                t.scale_down = d;
            }
            if let Some(u) = b.scale_up.tolerance {
                t.scale_up = u;
            }
        }
        t
    }

    /// A reconcile at `now` with the metric observations of this sync.
    pub fn reconcile(
        &mut self,
        now: Duration,
        scale: Scale,
        observed: &[MetricObservation],
    ) -> SyncOutcome {
        let calc = ReplicaCalculator::new(self.tolerances());
        let metrics = self.hpa.metrics.clone();
        self.reconcile_with(now, scale, || {
            replicas_for_metrics(&calc, &metrics, observed, scale)
        })
    }

    /// A reconcile whose metric proposals come from `proposals` (called only when the
    /// controller would read metrics).
    pub fn reconcile_with(
        &mut self,
        now: Duration,
        scale: Scale,
        proposals: impl FnOnce() -> MetricProposals,
    ) -> SyncOutcome {
        let current = scale.spec_replicas;
        // recordInitialRecommendation: only when the key has no entry yet.
        let stabilizer = self.state.stabilizer.get_or_insert_with(|| Stabilizer {
            recommendations: vec![behavior::Recommendation {
                replicas: current,
                at: now,
            }],
        });
        let (min, max) = (self.hpa.min_replicas, self.hpa.max_replicas);
        let unchanged = |metric_desired, decision| SyncOutcome {
            current,
            metric_desired,
            replicas: current,
            rescaled: false,
            decision,
        };
        let (desired, metric_desired, decision) = if current == 0 && min != 0 {
            return unchanged(None, Decision::ScalingDisabled);
        } else if current > max {
            (max, None, Decision::AboveMax)
        } else if current < min {
            (min, None, Decision::BelowMin)
        } else {
            let p = proposals();
            let Some(d) = p.usable(current) else {
                return unchanged(p.max_valid, Decision::MetricsFailed(p.errors));
            };
            let req = ScaleRequest {
                current,
                desired: d,
                min,
                max,
            };
            let (r, reason) = match &self.hpa.behavior {
                None => behavior::normalize_legacy(
                    stabilizer,
                    now,
                    self.config.downscale_stabilization,
                    req,
                    self.config.legacy_scale_up_limit,
                ),
                Some(b) => {
                    behavior::normalize_with_behavior(stabilizer, &self.state.events, b, now, req)
                }
            };
            (r, p.max_valid, Decision::Normalized(reason))
        };
        if desired == current {
            return unchanged(metric_desired, decision);
        }
        // storeScaleEvent after a successful rescale; a no-op on the legacy path.
        if let Some(b) = &self.hpa.behavior {
            self.state.events.record(b, now, current, desired);
        }
        SyncOutcome {
            current,
            metric_desired,
            replicas: desired,
            rescaled: true,
            decision,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::hpa::spec::BehaviorSpec;

    fn hpa(behavior: Option<BehaviorSpec>) -> ResolvedHpa {
        let config = ControllerConfig::default();
        ResolvedHpa {
            min_replicas: 1,
            max_replicas: 100,
            metrics: Vec::new(),
            behavior: behavior.map(|b| {
                b.resolve(config.downscale_stabilization)
                    .expect("defaults are valid")
            }),
        }
    }

    /// Runs 15s syncs from t=0 with the metrics always asking `desired`, from `start` replicas.
    fn run(behavior: Option<BehaviorSpec>, start: i32, desired: i32, syncs: usize) -> Vec<i32> {
        let mut a = Autoscaler::new(hpa(behavior), ControllerConfig::default());
        let mut cur = start;
        (0..syncs)
            .map(|i| {
                let now = Duration::from_secs(15 * i as u64);
                let scale = Scale {
                    spec_replicas: cur,
                    status_replicas: cur,
                };
                cur = a
                    .reconcile_with(now, scale, || MetricProposals::fixed(desired))
                    .replicas;
                cur
            })
            .collect()
    }

    #[test]
    fn legacy_and_behavior_paths_differ_as_kubernetes_does() {
        // hpa-algorithm.md section 8: without behavior, max(2x, 4) per sync with no memory;
        // with `behavior: {}`, max(+4, +100%) per 15s period counted from the period start.
        assert_eq!(run(None, 2, 100, 7), vec![4, 8, 16, 32, 64, 100, 100]);
        assert_eq!(
            run(Some(BehaviorSpec::default()), 2, 100, 7),
            vec![6, 12, 24, 48, 96, 100, 100]
        );
        // Scale-down from 80 toward 10 on a fresh controller: the initial recommendation holds
        // for 300s; legacy keeps an entry exactly 300s old (drop at t=315), behavior does not
        // (drop at t=300).
        let legacy = run(None, 80, 10, 23);
        let with = run(Some(BehaviorSpec::default()), 80, 10, 23);
        assert_eq!(legacy[19..], [80, 80, 10, 10]); // t = 285, 300, 315, 330
        assert_eq!(with[19..], [80, 10, 10, 10]);
    }

    #[test]
    fn a_failed_metric_blocks_scale_down_but_not_scale_up() {
        let mut a = Autoscaler::new(hpa(None), ControllerConfig::default());
        a.state.stabilizer = Some(Stabilizer::default());
        let scale = Scale {
            spec_replicas: 5,
            status_replicas: 5,
        };
        let with = |v: i32| MetricProposals {
            max_valid: Some(v),
            invalid: 1,
            total: 2,
            errors: vec!["x".into()],
        };
        let out = a.reconcile_with(Duration::ZERO, scale, || with(3));
        assert_eq!((out.replicas, out.rescaled), (5, false));
        let out = a.reconcile_with(Duration::ZERO, scale, || with(7));
        assert_eq!((out.replicas, out.rescaled), (7, true));
    }

    #[test]
    fn out_of_range_counts_jump_without_reading_metrics() {
        let mut a = Autoscaler::new(hpa(None), ControllerConfig::default());
        let out = a.reconcile_with(
            Duration::ZERO,
            Scale {
                spec_replicas: 150,
                status_replicas: 150,
            },
            || MetricProposals::fixed(1),
        );
        assert_eq!((out.replicas, out.decision), (100, Decision::AboveMax));
        let out = a.reconcile_with(
            Duration::ZERO,
            Scale {
                spec_replicas: 0,
                status_replicas: 0,
            },
            || MetricProposals::fixed(9),
        );
        assert_eq!((out.replicas, out.decision), (0, Decision::ScalingDisabled));
    }
}
