//! `twin emulate`: serves the scenario's API on a local address through the harness's
//! emulator, until Ctrl-C or SIGTERM.

use crate::exit::Failure;
use crate::scenario_file;
use harness::emulator::EmulatorConfig;
use std::io::Write;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario file whose journeys have `http:` steps.
    pub scenario: PathBuf,
    /// Address to listen on (port 0 picks a free one; the address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// PostgreSQL connection string (URL or key=value, multi-host allowed), or `${ENV_VAR}`
    /// naming the variable that holds it; writes are stored when given.
    #[arg(long)]
    pub database_url: Option<String>,
    /// Database connections kept open.
    #[arg(long, default_value_t = 8)]
    pub database_pool: usize,
    /// Override a scenario value: `--set services.api.replicas=4`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

/// `${NAME}` is read from the environment, so the secret is not on the command line.
fn resolve_secret(value: &str) -> Result<String, Failure> {
    match value.strip_prefix("${").and_then(|v| v.strip_suffix('}')) {
        Some(name) => std::env::var(name).map_err(|_| {
            Failure::usage(format!(
                "--database-url: the environment variable `{name}` is not set"
            ))
        }),
        None => Ok(value.to_string()),
    }
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let loaded = scenario_file::load(Some(&a.scenario), &a.sets)?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let listen = a.listen.parse().map_err(|e| {
        Failure::usage(format!(
            "--listen `{}`: expected an address such as 127.0.0.1:8080: {e}",
            a.listen
        ))
    })?;
    let cfg = EmulatorConfig {
        listen,
        database_url: a.database_url.as_deref().map(resolve_secret).transpose()?,
        database_pool: a.database_pool,
    };
    harness::emulator::run_blocking(&loaded.scenario, &cfg, |addr, e| {
        println!(
            "twin emulate: serving {} on http://{addr} ({} routes)",
            loaded.scenario.name,
            e.route_count()
        );
        let _ = std::io::stdout().flush();
    })
    .map_err(Failure::run)?;
    Ok(0)
}
