//! The simulator against the textbook: every case in tests/theory/cases.json names a scenario
//! and the closed-form model it must agree with. Adding a case needs no code.

use models::queueing::{
    journey_error_rate, md1_mean_sojourn, mg1_mean_sojourn, mg1_ps_mean_sojourn,
    mg1_round_robin_bounds, retry_error_share, retry_load_factor, JacksonNetwork, MMc, MMcK,
    Station,
};
use serde_json::Value;
mod support;

struct Expected {
    mean_ms: f64,
    p95_ms: Option<f64>,
    /// A discipline between two closed forms (round robin): the CI must meet [lo, hi].
    bounds_ms: Option<(f64, f64)>,
    /// The mean must exceed this (a model the case rules out, e.g. slots as servers).
    above_ms: Option<f64>,
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
                bounds_ms: None,
                above_ms: None,
            }
        }
        // Latency is over successful journeys (SPEC "Verdicts"): rejected ones are errors,
        // not 0 ms samples, so the journey's mean is the accepted requests' mean sojourn.
        "mmck" => {
            let q = mmck(case);
            Expected {
                mean_ms: q.mean_sojourn() * 1e3,
                p95_ms: None,
                bounds_ms: None,
                above_ms: None,
            }
        }
        "md1" => Expected {
            mean_ms: md1_mean_sojourn(f("lambda"), f("service_s")) * 1e3,
            p95_ms: None,
            bounds_ms: None,
            above_ms: None,
        },
        "mg1" => Expected {
            mean_ms: mg1_mean_sojourn(f("lambda"), f("service_s"), f("scv")) * 1e3,
            p95_ms: None,
            bounds_ms: None,
            above_ms: None,
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
                bounds_ms: None,
                above_ms: None,
            }
        }
        "mg1_ps" => {
            let plus = case["plus_s"].as_f64().unwrap_or(0.0);
            let above_ms = case.get("not_mmc").map(|m| {
                let q = MMc {
                    lambda: f("lambda"),
                    mu: support::num(&m["mu"], "mu"),
                    c: support::num(&m["c"], "c") as u32,
                };
                1.5 * q.mean_sojourn() * 1e3
            });
            Expected {
                mean_ms: (mg1_ps_mean_sojourn(f("lambda"), f("service_s")) + plus) * 1e3,
                p95_ms: None,
                bounds_ms: None,
                above_ms,
            }
        }
        // One class (endpoint) of an M/G/1 whose service is the mixture: FCFS waits the
        // same for every class, then each is served its own time.
        "mg1_class" => {
            let m = f("service_s");
            Expected {
                mean_ms: (mg1_mean_sojourn(f("lambda"), m, f("scv")) - m + f("own_s")) * 1e3,
                p95_ms: None,
                bounds_ms: None,
                above_ms: None,
            }
        }
        "rr_bounds" => {
            let (lo, hi) = mg1_round_robin_bounds(f("lambda"), f("service_s"), f("scv"));
            Expected {
                mean_ms: f64::NAN,
                p95_ms: None,
                bounds_ms: Some((lo * 1e3, hi * 1e3)),
                above_ms: None,
            }
        }
        other => panic!("unknown model {other}"),
    }
}

fn mmck(case: &Value) -> MMcK {
    let f = |k: &str| support::num(&case[k], k);
    MMcK {
        lambda: f("lambda"),
        mu: f("mu"),
        c: f("c") as u32,
        k: f("k") as u32,
    }
}

/// A share observed over `n` trials against its closed form, within `sd` standard errors of
/// a binomial (times `inflation` for trials that are not independent).
fn share_check(what: &str, observed: f64, want: f64, n: u64, sd: f64, inflation: f64) -> String {
    let se = (want * (1.0 - want) / n as f64).sqrt() * inflation;
    let line = format!(
        "{what}: closed form {want:.5}, simulated {observed:.5} over {n} journeys (bound +-{:.5})",
        sd * se
    );
    println!("{line}");
    if (observed - want).abs() > sd * se {
        format!("{line}: outside the bound")
    } else {
        String::new()
    }
}

/// The checks of the mechanisms (queue_limit, errors, retry, own arrivals); empty strings
/// are passes.
fn mechanism_checks(file: &str, case: &Value, out: &sim::Output) -> Vec<String> {
    let f = |k: &str| support::num(&case[k], k);
    let s = &out.summary;
    let reps = f64::from(s.replications);
    let measured_s = out.summary.horizon_s - scenario_warmup_s(file);
    let journey = || &s.journeys[case["journey"].as_str().expect("case names its journey")];
    match case["model"].as_str().unwrap_or("") {
        // Blocking events come in bursts (a full queue stays full for a while): the binomial
        // standard error is inflated 3x.
        "mmck" => {
            let j = journey();
            vec![share_check(
                &format!("{file}: blocking"),
                j.error_rate,
                mmck(case).blocking(),
                j.count,
                4.0,
                3.0,
            )]
        }
        // The caller gives up; the server works on, so the queue is the M/M/1's and the
        // share is its sojourn tail at t. Timeouts come in long bursts (busy periods at rho
        // 0.8): a Lindley recursion of the same M/M/1 gives a per-replication spread ~8.5x
        // the binomial one, so the standard error is inflated 10x.
        "timeout" => {
            let want = (-(f("mu") - f("lambda")) * f("t_s")).exp();
            let j = journey();
            vec![share_check(
                &format!("{file}: timed out"),
                j.error_rate,
                want,
                j.count,
                4.0,
                10.0,
            )]
        }
        "errors" => {
            let ok: f64 = case["visits"]
                .as_array()
                .expect("visits: [[p, k], ...]")
                .iter()
                .map(|v| {
                    1.0 - journey_error_rate(
                        support::num(&v[0], "p"),
                        support::num(&v[1], "k") as u32,
                    )
                })
                .product();
            let j = journey();
            vec![share_check(
                &format!("{file}: journey errors"),
                j.error_rate,
                1.0 - ok,
                j.count,
                4.0,
                1.0,
            )]
        }
        "retry" => {
            let (p, n) = (f("p"), f("attempts") as u32);
            let j = journey();
            let mut out = vec![share_check(
                &format!("{file}: errors after {n} attempts"),
                j.error_rate,
                retry_error_share(p, n),
                j.count,
                4.0,
                1.0,
            )];
            let service = case["service"].as_str().expect("case names the service");
            let want = f("lambda") * retry_load_factor(p, n);
            let got = s.services[service].throughput_rps;
            // Visits over the run: compound Poisson, variance lambda T E[V^2] <= lambda T N^2.
            let bound =
                4.0 * (f("lambda") * measured_s * reps).sqrt() * f64::from(n) / (measured_s * reps);
            let line = format!(
                "{file}: {service} throughput closed form {want:.3}/s, simulated {got:.3}/s (bound +-{bound:.3})"
            );
            println!("{line}");
            if (got - want).abs() > bound {
                out.push(format!("{line}: outside the bound"));
            }
            out
        }
        "counts" => {
            let mut out = Vec::new();
            for (name, rate) in case["rates"].as_object().expect("rates: {journey: per s}") {
                let want = support::num(rate, name) * measured_s * reps;
                let got = s.journeys[name.as_str()].count as f64;
                // Poisson: sd = sqrt(mean); 4 sd, plus the journeys still in flight at the end.
                let bound = 4.0 * want.sqrt() + reps;
                let line = format!("{file}: {name} count closed form {want:.0}, simulated {got} (bound +-{bound:.0})");
                println!("{line}");
                if (got - want).abs() > bound {
                    out.push(format!("{line}: outside the bound"));
                }
            }
            out
        }
        _ => Vec::new(),
    }
}

fn scenario_warmup_s(file: &str) -> f64 {
    let text = std::fs::read_to_string(support::data_dir("theory").join(file)).expect("readable");
    let (s, _) = models::parse_scenario(&text, file, &[]).expect("valid");
    s.warmup.as_secs_f64()
}

#[test]
fn simulator_agrees_with_queueing_theory() {
    let dir = support::data_dir("theory");
    let mut failures = Vec::new();
    for case in &support::cases(&dir) {
        let file = case["scenario"].as_str().unwrap();
        let out = support::simulate(&dir, file);
        let model = case["model"].as_str().unwrap_or("");
        failures.extend(
            mechanism_checks(file, case, &out)
                .into_iter()
                .filter(|f| !f.is_empty()),
        );
        if matches!(model, "errors" | "retry" | "counts" | "timeout") {
            continue;
        }
        let j = &out.summary.journeys[case["journey"].as_str().unwrap()];
        let want = analytic(case);
        let [lo, hi] = j
            .ci95_ms
            .mean
            .unwrap_or_else(|| panic!("{file}: no CI (needs at least two replications)"));
        let half = (hi - lo) / 2.0;
        if let Some(above) = want.above_ms {
            let line = format!(
                "{file}: simulated {:.3} ms, above {above:.3} ms (1.5x the slots-as-servers model)",
                j.latency_ms.mean
            );
            println!("{line}");
            if j.latency_ms.mean <= above {
                failures.push(format!("{line}: not above"));
            }
        }
        if let Some((blo, bhi)) = want.bounds_ms {
            let line = format!(
                "{file}: between {blo:.3} and {bhi:.3} ms, simulated {:.3} ms, 95% CI [{lo:.3}, {hi:.3}] (half-width {:.2}%)",
                j.latency_ms.mean, 100.0 * half / j.latency_ms.mean
            );
            println!("{line}");
            if hi < blo || lo > bhi {
                failures.push(format!("{line}: outside the bounds"));
            }
            continue;
        }
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
