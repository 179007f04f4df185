//! The vocabulary of `twin`: scenario types parsed from YAML with located errors, durations and
//! rates, distributions, SLOs, closed-form queueing results, and the run summary that the
//! simulator and the harness both produce.
//!
//! Architecture invariant: this crate does no I/O and no async, and uses no other crate of the
//! workspace. Files a scenario names (empirical samples, traces) are read by the caller and
//! handed in through [`scenario::Scenario::external_files_mut`].

/// Builds a path from `"workload.journeys"`-style keys and indices.
#[macro_export]
macro_rules! path {
    ($($seg:expr),* $(,)?) => { vec![$($crate::path::PathSegment::from($seg)),*] };
}

pub mod canary_stats;
pub mod check;
pub mod cost;
pub mod distribution;
pub mod drill;
pub mod faults;
pub mod feed;
pub mod fidelity;
pub mod hpa;
pub mod http;
pub mod load;
pub mod machines;
pub mod metrics_pipeline;
pub mod network;
pub mod observe;
pub mod path;
pub mod platform;
pub mod projection;
pub mod queueing;
pub mod random;
pub mod rollout;
pub mod scenario;
pub mod slo;
pub mod span;
pub mod summary;
pub mod sweep;
pub mod timeline;
pub mod trend;
pub mod units;
pub mod validate;

pub use distribution::{Distribution, Sampler};
pub use load::{parse_scenario, Diagnostic, Override};
pub use random::RandomStream;
pub use scenario::Scenario;
pub use slo::Slo;
pub use summary::RunSummary;
pub use units::{Duration, Rate};
