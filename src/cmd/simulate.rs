//! `twin simulate`: runs the discrete-event simulator on a scenario, prints a short table and
//! writes the run folder.

use crate::exit::{self, Failure};
use crate::scenario_file;
use models::summary::RunSummary;
use models::Duration;
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
    /// Print the summary only; write no folder.
    #[arg(long)]
    pub no_write: bool,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let mut sets = a.sets.clone();
    if let Some(s) = a.seed {
        sets.push(format!("seed={s}"));
    }
    if let Some(r) = a.replications {
        sets.push(format!("replications={r}"));
    }
    if let Some(h) = &a.horizon {
        Duration::parse(h).map_err(|e| Failure::usage(format!("--horizon: {e}")))?;
        sets.push(format!("horizon={h}"));
    }
    let loaded = scenario_file::load(a.scenario.as_deref(), &sets)?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let scenario = loaded.scenario;
    let mut out = super::predict_with_progress(&scenario, &sim::Options::default());
    let mut warnings: Vec<String> = loaded.warnings.iter().map(|w| w.message.clone()).collect();
    warnings.append(&mut out.summary.warnings);
    out.summary.warnings = warnings;
    print_table(&out.summary);
    if !a.no_write {
        let dir = a
            .out
            .unwrap_or_else(|| PathBuf::from(format!("reports/out/{}-simulation", scenario.name)));
        reports::write_run(&dir, &out.summary, &out.timeline).map_err(|e| {
            Failure::run(format!("{}: cannot write the report: {e}", dir.display()))
        })?;
        println!("wrote {}", dir.join("report.html").display());
    }
    Ok(exit::from_verdicts(out.summary.all_slos_met()))
}

/// Journeys with their percentiles and errors, SLO verdicts, the busiest services.
pub fn print_table(s: &RunSummary) {
    println!(
        "{} ({}, seed {}, {} replication(s), {:.0} s simulated, {} events in {:.2} s)",
        s.scenario,
        s.kind.as_str(),
        s.seed,
        s.replications,
        s.horizon_s,
        s.engine.events,
        s.engine.wall_s
    );
    println!(
        "\n{:<28} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "journey", "count", "p50 ms", "p95 ms", "p99 ms", "mean ms", "errors"
    );
    for (name, j) in &s.journeys {
        println!(
            "{:<28} {:>10} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>8.3}%",
            name,
            j.count,
            j.latency_ms.p50,
            j.latency_ms.p95,
            j.latency_ms.p99,
            j.latency_ms.mean,
            j.error_rate * 100.0
        );
    }
    // Services and Kafka consumer groups (where an agent's work is done) side by side.
    let mut busiest: Vec<(String, f64, f64, f64)> = s
        .services
        .iter()
        .map(|(n, v)| {
            let (u, r, w) = (v.utilization, v.throughput_rps, v.queue_wait_ms.p95);
            (n.clone(), u, r, w)
        })
        .chain(s.components.kafka.iter().map(|(n, t)| {
            let (u, r, w) = (t.utilization, t.throughput_rps, t.lag_wait_ms.p95);
            (format!("kafka {n}"), u, r, w)
        }))
        .collect();
    busiest.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!(
        "\n{:<28} {:>11} {:>9} {:>13}",
        "busiest components", "utilisation", "rps", "queue p95 ms"
    );
    for (name, utilization, rps, wait_p95) in busiest.iter().take(5) {
        println!(
            "{:<28} {:>10.1}% {:>9.1} {:>13.1}",
            name,
            utilization * 100.0,
            rps,
            wait_p95
        );
    }
    let failed: Vec<&str> = s.wholly_failed_journeys().collect();
    if !s.slos.is_empty() || !failed.is_empty() {
        println!();
        for j in failed {
            println!("FAILED journey {j}: no request succeeded (the run fails)");
        }
        for v in &s.slos {
            let observed = v
                .observed
                .map_or("not measured".to_string(), |o| format!("{o:.4}"));
            println!(
                "{} {:<40} observed {}",
                if v.met { "MET   " } else { "MISSED" },
                v.name,
                observed
            );
        }
    }
}
