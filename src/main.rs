//! `twin`: a thin command line over the workspace crates. Each subcommand lives in `cmd/` and
//! turns its arguments into calls on `models`, `sim`, `harness` and `reports`.

mod cmd;
mod exit;
mod progress;
mod scenario_file;

use clap::{CommandFactory, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "twin",
    version,
    about = "A digital twin of an AI agent platform: simulate, load-test and drill one scenario file"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Predict with the discrete-event simulator (no SCENARIO: the built-in production scenario).
    Simulate(cmd::simulate::Args),
    /// Check scenario files; every error names file, line and column.
    Validate(cmd::validate::Args),
    /// The Kubernetes HPA algorithm: evaluate test vectors, replay recorded metrics.
    #[command(subcommand)]
    Hpa(cmd::hpa::Command),
    /// Render (again) the HTML report of a finished run.
    Report(cmd::report::Args),
    /// Drive a deployment with the scenario's workload (goose, open model); prediction beside measurement.
    Load(cmd::load::Args),
    /// Serve the scenario's API locally; endpoints queue and take time as the scenario says.
    Emulate(cmd::emulate::Args),
    /// Break the deployment on purpose under load (a drill of the scenario); measure RTO and RPO.
    Drill(cmd::drill::Args),
    /// Capacity planning over a grid of --vary values: the cheapest point that meets every SLO.
    Sweep(cmd::sweep::Args),
    /// Join the folders of a sharded sweep (or load run) into what one run would have written.
    Merge(cmd::merge::Args),
    /// Print a shell completion script: bash, zsh, fish (also elvish, powershell).
    Completions(cmd::completions::Args),
    /// A scenario skeleton from Kubernetes manifests (Deployments, StatefulSets, HPAs).
    Import(cmd::import::Args),
    /// Fit the scenario's demands to load runs and traces; write it with each fitted value marked.
    Calibrate(cmd::calibrate::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // Help and version are not errors; every other usage problem is exit 2 (SPEC.md).
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(exit::USAGE),
            };
        }
    };
    let result = match cli.command {
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::Validate(a) => cmd::validate::run(a),
        Command::Hpa(c) => cmd::hpa::run(c),
        Command::Report(a) => cmd::report::run(a),
        Command::Load(a) => cmd::load::run(a),
        Command::Emulate(a) => cmd::emulate::run(a),
        Command::Drill(a) => cmd::drill::run(a),
        Command::Sweep(a) => cmd::sweep::run(a),
        Command::Merge(a) => cmd::merge::run(a),
        Command::Completions(a) => cmd::completions::run(a, Cli::command()),
        Command::Import(a) => cmd::import::run(a),
        Command::Calibrate(a) => cmd::calibrate::run(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.code)
        }
    }
}
