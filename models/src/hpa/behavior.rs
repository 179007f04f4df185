//! The resolved form of an HPA's `spec.behavior` (autoscaling/v2 `HPAScalingRules` and
//! `HPAScalingPolicy` with every API default filled in): what [`super::spec::BehaviorSpec`]
//! resolves to and what the controller (in the `k8s` crate) runs.

use crate::units::Duration;
use serde::{Deserialize, Serialize};

/// `Pods` adds or removes a fixed count per period; `Percent` a share of the replicas at the
/// start of the period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum ScalingPolicyType {
    Pods,
    Percent,
}

/// Which policy wins when several apply: `Max` the largest change (the default), `Min` the
/// smallest, `Disabled` no scaling in that direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
pub enum SelectPolicy {
    Max,
    Min,
    Disabled,
}

/// One `HPAScalingPolicy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalingPolicy {
    pub kind: ScalingPolicyType,
    pub value: i32,
    pub period_seconds: i32,
}

impl ScalingPolicy {
    pub fn pods(value: i32, period_seconds: i32) -> ScalingPolicy {
        ScalingPolicy {
            kind: ScalingPolicyType::Pods,
            value,
            period_seconds,
        }
    }
    pub fn percent(value: i32, period_seconds: i32) -> ScalingPolicy {
        ScalingPolicy {
            kind: ScalingPolicyType::Percent,
            value,
            period_seconds,
        }
    }
    /// The policy's period as a duration (a negative period counts as 0).
    pub fn period(&self) -> Duration {
        Duration::from_secs(self.period_seconds.max(0) as u64)
    }
}

/// `HPAScalingRules` with every default filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingRules {
    pub stabilization_window: Duration,
    pub select_policy: SelectPolicy,
    pub policies: Vec<ScalingPolicy>,
    /// Per-HPA tolerance for this direction (KEP-4951); `None` = the controller's flag.
    pub tolerance: Option<f64>,
}

impl ScalingRules {
    /// The longest policy period (0 with no policy): events older than it are outdated.
    pub fn longest_period(&self) -> Duration {
        self.policies
            .iter()
            .map(ScalingPolicy::period)
            .max()
            .unwrap_or(Duration::ZERO)
    }
}

/// `spec.behavior` with defaults applied (see [`super::spec::BehaviorSpec::resolve`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Behavior {
    pub scale_up: ScalingRules,
    pub scale_down: ScalingRules,
}
