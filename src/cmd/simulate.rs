//! `twin simulate`: runs the discrete-event simulator on a scenario.

use crate::exit::Failure;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario file; without one, the built-in production scenario.
    pub scenario: Option<PathBuf>,
    #[arg(long)]
    pub seed: Option<u64>,
    #[arg(long)]
    pub replications: Option<u32>,
    /// Simulated time, e.g. `1h`.
    #[arg(long)]
    pub horizon: Option<String>,
    /// Override a scenario value: `--set services.api.replicas=4`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Output folder (default `reports/out/<scenario>-simulation/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(_a: Args) -> Result<u8, Failure> {
    Err(Failure::usage("simulate is being built"))
}
