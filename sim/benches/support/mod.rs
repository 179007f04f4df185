//! What the simulator's benchmarks share: parsing their scenario and measuring CPU time.

/// Parses a benchmark's scenario, or prints its diagnostics and exits with 2.
pub fn parse(text: &str, name: &str, overrides: &[models::load::Override]) -> models::Scenario {
    match models::load::parse_scenario(text, name, overrides) {
        Ok((s, _)) => s,
        Err(diags) => {
            for d in diags {
                eprintln!("{d}");
            }
            std::process::exit(2);
        }
    }
}

/// CPU time of the calling thread in seconds (Linux: /proc/thread-self/schedstat, in ns), so
/// that the figures hold on a machine shared with other work; None elsewhere.
pub fn thread_cpu_s() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = text.split_whitespace().next()?.parse().ok()?;
    Some(ns as f64 / 1e9)
}
