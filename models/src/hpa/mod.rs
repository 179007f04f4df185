//! The HorizontalPodAutoscaler as a scenario writes it: the autoscaling/v2 spec as Kubernetes
//! writes it ([`spec`], also the body of a manifest an `hpa: {file}` block names) and its
//! resolved `behavior` ([`behavior`]), and one sync of a replayed HPA as `twin hpa replay`
//! reports it ([`ReplayStep`]). The controller that runs it is the `k8s` crate's.

pub mod behavior;
pub mod manifest;
pub mod spec;

pub use behavior::{Behavior, ScalingPolicy, ScalingRules, SelectPolicy};
pub use spec::{HpaSpec, ResolvedHpa};

use crate::units::Duration;

/// The controller's decision at one sync.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayStep {
    pub time: Duration,
    pub current: i32,
    pub metric_desired: Option<i32>,
    pub replicas: i32,
    pub decision: &'static str,
    pub pods: usize,
    pub ready_pods: usize,
}
