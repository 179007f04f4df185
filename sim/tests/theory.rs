//! The simulator against the textbook: every case in tests/theory/cases.json names a scenario
//! and the closed-form model it must agree with. Adding a case needs no code.

use models::queueing::{md1_mean_sojourn, mg1_mean_sojourn, JacksonNetwork, MMc, Station};
use serde_json::Value;
mod support;

struct Expected {
    mean_ms: f64,
    p95_ms: Option<f64>,
}

fn analytic(case: &Value) -> Expected {
    let f = |k: &str| {
        case[k]
            .as_f64()
            .unwrap_or_else(|| panic!("case needs `{k}`: {case}"))
    };
    match case["model"].as_str().unwrap() {
        "mmc" => {
            let q = MMc {
                lambda: f("lambda"),
                mu: f("mu"),
                c: f("c") as u32,
            };
            let p95 = case["check_p95"].as_bool().unwrap_or(false);
            Expected {
                mean_ms: q.mean_sojourn() * 1e3,
                p95_ms: p95.then(|| q.sojourn_quantile(0.95) * 1e3),
            }
        }
        "md1" => Expected {
            mean_ms: md1_mean_sojourn(f("lambda"), f("service_s")) * 1e3,
            p95_ms: None,
        },
        "mg1" => Expected {
            mean_ms: mg1_mean_sojourn(f("lambda"), f("service_s"), f("scv")) * 1e3,
            p95_ms: None,
        },
        "jackson_tandem" => {
            let mus: Vec<f64> = case["mus"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_f64().unwrap())
                .collect();
            let n = mus.len();
            let net = JacksonNetwork {
                stations: mus
                    .iter()
                    .enumerate()
                    .map(|(i, mu)| Station {
                        external_rate: if i == 0 { f("lambda") } else { 0.0 },
                        mu: *mu,
                        servers: 1,
                    })
                    .collect(),
                routing: (0..n)
                    .map(|i| (0..n).map(|j| if j == i + 1 { 1.0 } else { 0.0 }).collect())
                    .collect(),
            };
            Expected {
                mean_ms: net.mean_sojourn() * 1e3,
                p95_ms: None,
            }
        }
        other => panic!("unknown model {other}"),
    }
}

#[test]
fn simulator_agrees_with_queueing_theory() {
    let dir = support::data_dir("theory");
    let mut failures = Vec::new();
    for case in &support::cases(&dir) {
        let file = case["scenario"].as_str().unwrap();
        let out = support::simulate(&dir, file);
        let j = &out.summary.journeys[case["journey"].as_str().unwrap()];
        let want = analytic(case);
        let [lo, hi] = j
            .ci95_ms
            .mean
            .unwrap_or_else(|| panic!("{file}: no CI (needs at least two replications)"));
        let half = (hi - lo) / 2.0;
        let line = format!(
            "{file}: analytic mean {:.3} ms, simulated {:.3} ms, 95% CI [{lo:.3}, {hi:.3}] (half-width {:.2}%)",
            want.mean_ms, j.latency_ms.mean, 100.0 * half / j.latency_ms.mean
        );
        println!("{line}");
        if !(lo <= want.mean_ms && want.mean_ms <= hi) {
            failures.push(format!("{line}: analytic mean outside the CI"));
        }
        if half > 0.03 * j.latency_ms.mean {
            failures.push(format!(
                "{line}: CI wider than 3% of the mean; lengthen the horizon"
            ));
        }
        if let Some(p95) = want.p95_ms {
            let err = (j.latency_ms.p95 - p95) / p95;
            println!(
                "{file}: analytic p95 {p95:.3} ms, simulated {:.3} ms ({:+.2}%)",
                j.latency_ms.p95,
                100.0 * err
            );
            if err.abs() > 0.05 {
                failures.push(format!(
                    "{file}: p95 {:.3} vs analytic {p95:.3}",
                    j.latency_ms.p95
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
