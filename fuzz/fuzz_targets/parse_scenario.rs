//! The scenario parser must never panic, whatever the bytes. From the workspace root:
//!
//! ```sh
//! cargo +nightly fuzz run parse_scenario fuzz/corpus/parse_scenario fuzz/seeds scenarios \
//!     tests/cases sim/tests/theory -- -dict=fuzz/scenario.dict -max_len=4096 -max_total_time=300
//! ```
//!
//! (the shipped scenarios and test cases are the seed corpus; libFuzzer reads folders
//! recursively and writes what it finds into the first one).
//!
//! The input is YAML text; after a NUL byte, if any, come `--set PATH=VALUE` overrides, one a
//! line, so that the override paths (`set_path`, `parse_path`) are explored as well.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (yaml, sets) = text.split_once('\0').unwrap_or((text, ""));
    let overrides: Vec<models::Override> = sets
        .lines()
        .filter_map(|l| models::Override::parse(l).ok())
        .collect();
    match models::parse_scenario(yaml, "fuzz.yaml", &overrides) {
        Ok((scenario, warnings)) => {
            // What the simulator and the reports read first must hold up too.
            let _ = scenario.workload.arrivals.peak_rate();
            for w in warnings {
                let _ = w.to_string();
            }
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "an error without a diagnostic");
            for d in diags {
                let _ = d.to_string();
            }
        }
    }
});
