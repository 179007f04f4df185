//! One module per subcommand.

pub mod calibrate;
pub mod completions;
pub mod drill;
pub mod emulate;
pub mod hpa;
pub mod import;
pub mod load;
pub mod merge;
pub mod report;
pub mod simulate;
pub mod sweep;
pub mod validate;

/// The simulator's prediction of `scenario`, billed: the one way every subcommand predicts
/// (the simulator reports what the run used; the billing crate prices it).
pub fn predict(scenario: &models::Scenario, options: &sim::Options) -> sim::Output {
    let mut out = sim::simulate(scenario, options);
    if let Some(usage) = &out.usage {
        billing::bill_run(scenario, usage, &mut out.summary);
    }
    out
}

/// [`predict`] with a progress bar on a terminal (replications x simulated time) and a
/// one-line summary on stderr either way.
pub fn predict_with_progress(scenario: &models::Scenario, options: &sim::Options) -> sim::Output {
    let progress = sim::progress::Progress::default();
    let total = scenario
        .horizon
        .0
        .saturating_mul(u64::from(scenario.replications));
    let started = std::time::Instant::now();
    let mut out = crate::progress::follow(
        "simulate",
        total,
        crate::progress::Unit::SimulatedNs,
        &progress.simulated_ns,
        || sim::simulate_with_progress(scenario, options, &progress),
    );
    eprintln!(
        "simulated {} replication(s) x {:.0} s in {:.2} s",
        scenario.replications,
        scenario.horizon.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    if let Some(usage) = &out.usage {
        billing::bill_run(scenario, usage, &mut out.summary);
    }
    out
}
