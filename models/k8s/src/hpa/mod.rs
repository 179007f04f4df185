//! The Kubernetes HorizontalPodAutoscaler (autoscaling/v2) controller as pure code, following
//! `pkg/controller/podautoscaler` (see `hpa-algorithm.md`): pod classification ([`pods`]), the
//! per-metric formulas ([`replica_calculator`]), stabilization and rate limits ([`behavior`]),
//! one reconcile with its per-HPA memory ([`controller`]), the scale target's requests
//! ([`target`]), a replay over recorded metrics ([`replay`]) and the upstream test-vector
//! format ([`vectors`]). The spec it runs is the vocabulary's ([`spec`], re-exported from
//! `models::hpa`).
//!
//! Architecture invariant: no clock, no I/O, no scheduling. The caller decides when a sync
//! happens and what the metrics APIs return; this module decides what the controller does
//! with that, bit for bit where the Go code defines it (integer truncation, f64 operation
//! order, strict window edges).

pub mod behavior;
pub mod controller;
pub mod pods;
pub mod replay;
pub mod replica_calculator;
pub mod target;
pub mod vectors;

pub use models::hpa::spec;

pub use behavior::{
    Behavior, LimitReason, ScaleEvents, ScalingPolicy, ScalingRules, SelectPolicy, Stabilizer,
};
pub use controller::{
    Autoscaler, ControllerConfig, MetricObservation, MetricProposals, Scale, SyncOutcome,
};
pub use pods::PodClass;
pub use replica_calculator::{ReplicaCalculator, Tolerances};
pub use spec::{HpaSpec, ResolvedHpa};
