//! One module per subcommand.

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
