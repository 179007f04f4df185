//! Speed of the simulator on the seed platform (not a test; `cargo bench -p sim --bench
//! production`): one replication of `scenarios/production-gcp.yaml` at its 10,000 req/s peak
//! on one thread, for each horizon given (default 10 min and 1 h), printing simulated time per
//! wall second, events and journeys per CPU second, and the peak resident memory after each
//! horizon, so that "memory flat in the horizon" is a number. The goal of issue #3: one
//! simulated hour in under 60 s of wall time on a 2-core machine.
//!
//! Arguments (after `--`): horizons in minutes, e.g. `cargo bench -p sim --bench production --
//! 10 60 240`.

use std::time::Instant;

mod support;
use support::thread_cpu_s;

const PRODUCTION: &str = include_str!("../../scenarios/production-gcp.yaml");

fn scenario(minutes: u64) -> models::Scenario {
    let overrides: Vec<models::load::Override> =
        [format!("horizon={minutes}m"), "replications=1".to_string()]
            .iter()
            .map(|o| models::load::Override::parse(o))
            .collect::<Result<_, _>>()
            .unwrap_or_else(|e| {
                eprintln!("bad override: {e}");
                std::process::exit(2);
            });
    support::parse(PRODUCTION, "production-gcp.yaml", &overrides)
}

/// Peak resident set size of the process in MiB (Linux: VmHWM in /proc/self/status).
fn peak_rss_mib() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; keep only the numbers.
    let mut horizons: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    if horizons.is_empty() {
        horizons = vec![10, 60];
    }
    println!("production-gcp, one replication on one thread (10,000 req/s peak):");
    println!(
        "  {:>8} {:>9} {:>9} {:>13} {:>14} {:>15} {:>10}",
        "horizon", "wall s", "cpu s", "sim s/wall s", "events/cpu-s", "journeys/cpu-s", "peak MiB"
    );
    for minutes in horizons {
        let s = scenario(minutes);
        let cpu0 = thread_cpu_s();
        let started = Instant::now();
        let out = sim::simulate(&s, &sim::Options { sequential: true });
        let wall = started.elapsed().as_secs_f64();
        let cpu = thread_cpu_s()
            .zip(cpu0)
            .map(|(b, a)| b - a)
            .filter(|c| *c > 0.0)
            .unwrap_or(wall);
        let journeys: u64 = out.summary.journeys.values().map(|j| j.count).sum();
        println!(
            "  {:>6}m {wall:>9.2} {cpu:>9.2} {:>13.1} {:>14.0} {:>15.0} {:>10.1}",
            minutes,
            (minutes * 60) as f64 / wall,
            out.summary.engine.events as f64 / cpu,
            journeys as f64 / cpu,
            peak_rss_mib().unwrap_or(f64::NAN),
        );
    }
}
