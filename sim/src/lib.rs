//! The discrete-event simulator: executes a [`models::Scenario`] and predicts its run summary.
//!
//! Entry point: [`simulate`]. A scenario is compiled into a [`model::Model`] (stations and
//! journey programs addressed by index), each replication runs its own event loop
//! ([`engine`]) with random streams derived from the seed, the replication and the component's
//! name, and the replications, run in parallel, are merged into a [`models::RunSummary`] and a
//! [`models::timeline::Timeline`].
//!
//! Architecture invariant: no I/O (the caller writes outputs) and no knowledge of the harness;
//! the result depends only on the scenario and the seed, never on the number of threads.

pub mod arrivals;
pub mod batcher;
pub mod breaker;
pub mod calendar;
pub mod cloud_run;
pub mod cluster;
pub mod cpu;
pub mod engine;
pub mod faults;
pub mod llm;
pub mod metrics;
pub mod metrics_pipeline;
pub mod model;
pub mod partitions;
pub mod pool;
pub mod progress;
pub mod ray;
pub mod rollout;
pub mod station;
pub mod stats;
pub mod tally;

mod aggregate;
pub mod usage;

use models::summary::RunSummary;
use models::timeline::Timeline;
use models::Scenario;
use rayon::prelude::*;

/// How to run (everything that is not in the scenario itself).
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Run replications one after another on the calling thread (for benchmarks and
    /// determinism checks); by default they run in parallel on rayon's pool.
    pub sequential: bool,
}

/// A simulation's prediction.
pub struct Output {
    /// The prediction, unpriced: `cost` is `None` and SLOs on cost read no data until the
    /// caller bills `usage` (`billing::bill_run`).
    pub summary: RunSummary,
    pub timeline: Timeline,
    /// What the run used, averaged over replications, when the scenario bills anything.
    pub usage: Option<models::cost::Usage>,
}

/// Simulates every replication of `scenario` and merges them.
pub fn simulate(scenario: &Scenario, options: &Options) -> Output {
    run(scenario, options, None)
}

/// [`simulate`], advancing `progress` as replications go (at timeline ticks) so that a caller
/// can draw a bar; the result is the same.
pub fn simulate_with_progress(
    scenario: &Scenario,
    options: &Options,
    progress: &progress::Progress,
) -> Output {
    run(scenario, options, Some(progress))
}

fn run(scenario: &Scenario, options: &Options, progress: Option<&progress::Progress>) -> Output {
    let started = std::time::Instant::now();
    let model = model::Model::compile(scenario);
    let horizon_ns = scenario.horizon.0;
    let run = |rep: u32| {
        progress::replication(progress, horizon_ns, || {
            engine::run_replication(scenario, &model, scenario.seed, rep)
        })
    };
    let results: Vec<engine::ReplicationResult> = if options.sequential {
        (0..scenario.replications).map(run).collect()
    } else {
        (0..scenario.replications)
            .into_par_iter()
            .map(run)
            .collect()
    };
    let mut out = aggregate::merge(scenario, &model, results);
    out.summary.engine.wall_s = started.elapsed().as_secs_f64();
    out
}
