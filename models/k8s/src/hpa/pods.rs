//! Pod classification (`groupPods` in `replica_calculator.go`): which pods of the target count
//! for a metric as ready, which are unready, which lack a sample, which are ignored.
//!
//! Readiness matters only for the `cpu` resource: for memory, Pods and custom metrics a running
//! pod with a sample is ready whatever its Ready condition says.

use models::units::Duration;

/// The class `groupPods` puts a pod in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodClass {
    /// Counted: its sample is used and it adds to the ready pod count.
    Ready,
    /// Pending, or (cpu only) not ready / still initialising: its sample is dropped; it counts
    /// at 0% when a scale-up is re-checked.
    Unready,
    /// Running but without a sample: filled at the target on a scale-down, at 0 on a scale-up.
    Missing,
    /// Deleting, Failed or Succeeded: not seen at all.
    Ignored,
}

impl PodClass {
    pub fn as_str(self) -> &'static str {
        match self {
            PodClass::Ready => "ready",
            PodClass::Unready => "unready",
            PodClass::Missing => "missing",
            PodClass::Ignored => "ignored",
        }
    }

    pub fn parse(s: &str) -> Option<PodClass> {
        match s {
            "ready" => Some(PodClass::Ready),
            "unready" => Some(PodClass::Unready),
            "missing" => Some(PodClass::Missing),
            "ignored" => Some(PodClass::Ignored),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// The pod's `Ready` condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadyCondition {
    pub status: ConditionStatus,
    pub last_transition: Duration,
}

/// What `groupPods` reads of a pod. Times are on the caller's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PodState {
    pub phase: PodPhase,
    /// `deletionTimestamp` is set.
    pub deleting: bool,
    pub start_time: Option<Duration>,
    pub ready: Option<ReadyCondition>,
}

/// A metric sample's time and the window it averages over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleTime {
    pub timestamp: Duration,
    pub window: Duration,
}

/// The controller flags of the CPU readiness filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuReadiness {
    /// `--horizontal-pod-autoscaler-cpu-initialization-period` (5m).
    pub initialization_period: Duration,
    /// `--horizontal-pod-autoscaler-initial-readiness-delay` (30s).
    pub initial_readiness_delay: Duration,
}

impl Default for CpuReadiness {
    fn default() -> Self {
        CpuReadiness {
            initialization_period: Duration::from_secs(300),
            initial_readiness_delay: Duration::from_secs(30),
        }
    }
}

/// Classifies one pod for one metric. `sample` is `None` when the metrics API returned no
/// value for the pod; `is_cpu` is true only for the `cpu` resource (Resource or
/// ContainerResource).
pub fn classify(
    pod: &PodState,
    sample: Option<SampleTime>,
    is_cpu: bool,
    readiness: CpuReadiness,
    now: Duration,
) -> PodClass {
    if pod.deleting || matches!(pod.phase, PodPhase::Failed | PodPhase::Succeeded) {
        return PodClass::Ignored;
    }
    if pod.phase == PodPhase::Pending {
        return PodClass::Unready;
    }
    let Some(sample) = sample else {
        return PodClass::Missing;
    };
    if !is_cpu {
        return PodClass::Ready;
    }
    let (Some(cond), Some(start)) = (pod.ready, pod.start_time) else {
        return PodClass::Unready;
    };
    let unready = if start.0.saturating_add(readiness.initialization_period.0) > now.0 {
        // Still initialising: only a sample whose whole window follows readiness is trusted.
        cond.status == ConditionStatus::False
            || sample.timestamp.0 < cond.last_transition.0.saturating_add(sample.window.0)
    } else {
        // Past initialisation: ignore only a pod that never became ready.
        cond.status == ConditionStatus::False
            && start.0.saturating_add(readiness.initial_readiness_delay.0) > cond.last_transition.0
    };
    if unready {
        PodClass::Unready
    } else {
        PodClass::Ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    #[test]
    fn cpu_sample_from_before_readiness_is_unready_during_initialisation() {
        let pod = PodState {
            phase: PodPhase::Running,
            deleting: false,
            start_time: Some(s(1000)),
            ready: Some(ReadyCondition {
                status: ConditionStatus::True,
                last_transition: s(1040),
            }),
        };
        let r = CpuReadiness::default();
        // Sample at 1060 over 30s starts at 1030, before readiness at 1040: unready.
        let early = SampleTime {
            timestamp: s(1060),
            window: s(30),
        };
        assert_eq!(
            classify(&pod, Some(early), true, r, s(1060)),
            PodClass::Unready
        );
        // The same sample for memory: readiness is not checked.
        assert_eq!(
            classify(&pod, Some(early), false, r, s(1060)),
            PodClass::Ready
        );
        // A sample whose window starts exactly at readiness is ready (Before is strict).
        let ok = SampleTime {
            timestamp: s(1070),
            window: s(30),
        };
        assert_eq!(classify(&pod, Some(ok), true, r, s(1070)), PodClass::Ready);
        assert_eq!(classify(&pod, None, true, r, s(1070)), PodClass::Missing);
    }
}
