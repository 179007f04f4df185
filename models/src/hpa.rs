//! The Kubernetes HorizontalPodAutoscaler (autoscaling/v2) algorithm as pure code.
