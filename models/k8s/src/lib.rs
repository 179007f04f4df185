//! The Kubernetes controllers of `twin` as pure policy: the HorizontalPodAutoscaler
//! ([`hpa`]: the controller, its replica calculator, behavior, replay and the upstream test
//! vectors), the cluster autoscaler's scale-up and scale-down decisions
//! ([`cluster_autoscaler`]) and the kube-scheduler's choice of a node for a pod
//! ([`scheduler`]: first fit or `LeastAllocated`). The simulator runs them in its loop and `twin hpa` replays them
//! over recorded metrics; both say when a sync happens and what the cluster looks like.
//!
//! Architecture invariant: no I/O, no clock, no randomness, no event scheduling; depends on `models`
//! alone (the spec types a scenario writes live there).

pub mod cluster_autoscaler;
pub mod hpa;
pub mod scheduler;
