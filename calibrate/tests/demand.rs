//! Which demand each measurement fits: the utilisation law's CPU split of a load sample, and
//! each service's own time from traces with synchronous calls, on synthetic measurements with
//! known parameters (seeded), checked against hand computations and standard errors.

use calibrate::fit::Sample;
use calibrate::trace::Span;
use calibrate::{calibrate, Run, StepRun, Value};
use models::distribution::Distribution;
use models::random::RandomStream;
use models::units::Duration;

fn scenario(text: &str) -> models::Scenario {
    models::load::parse_scenario(text, "case.yaml", &[])
        .unwrap_or_else(|d| panic!("{d:?}"))
        .0
}

fn draws(mean_ms: f64, cv: f64, n: usize, seed: u64) -> Vec<f64> {
    let s = Distribution::Gamma {
        mean: Duration::from_secs_f64(mean_ms / 1e3),
        cv,
    }
    .sampler();
    let mut rng = RandomStream::from_seed(seed);
    (0..n).map(|_| s.sample(&mut rng)).collect()
}

fn law_mean(v: &Value) -> f64 {
    match v {
        Value::Law(l) => l.mean,
        Value::Empirical(s) => s.mean(),
    }
}

#[test]
fn the_utilisation_law_splits_cpu_from_service_time() {
    let s = scenario(
        "name: t\nhorizon: 1h\nservices:\n  api:\n    concurrency: 4\n    cores: 2\n    cpu: {constant: 1ms}\n    service_time: {constant: 1ms}\nworkload:\n  arrivals: {poisson: {rate: 20/s}}\n  journeys:\n    - name: call\n      steps:\n        - service: api\n",
    );
    // 2,000 requests in 100 s of mean ~10 ms; 8 CPU seconds over the same 2,000 requests:
    // 4 ms of CPU a request (the utilisation law: U/X = 0.08 / 20).
    let run = cpu_run("run", 100.0, 2000, 8.0, 3);
    let cal = calibrate(&s, &[run], &[]).expect("calibrates");
    let get = |k: &str| {
        cal.fitted
            .iter()
            .find(|f| f.key == k)
            .unwrap_or_else(|| panic!("no {k}: {:?}", cal.fitted))
    };
    let (cpu, off) = (
        law_mean(&get("cpu").value),
        law_mean(&get("service_time").value),
    );
    let total = cpu + off;
    // The split is in proportion: CPU is 4 ms of the sample's mean, the rest off the CPU.
    let mean = Sample::from_values(&draws(10.0, 0.5, 2000, 3)).mean();
    assert!(
        (cpu / total - 0.004 / mean).abs() < 1e-9,
        "{cpu} {off} {mean}"
    );
    assert!(get("cpu")
        .comment
        .contains("utilisation law (2000 requests)"));
}

/// A span of `ms` milliseconds from `at`.
fn span(t: u64, id: u64, parent: Option<u64>, svc: &str, at: f64, ms: f64) -> Span {
    Span {
        trace_id: format!("{t:032x}"),
        span_id: format!("{id:016x}"),
        parent_id: parent.map(|p| format!("{p:016x}")),
        service: svc.into(),
        name: "op".into(),
        start_ns: (at * 1e6) as u64,
        end_ns: ((at + ms) * 1e6) as u64,
        messaging: false,
    }
}

#[test]
fn traces_give_each_service_its_own_time() {
    let s = scenario(
        "name: t\nhorizon: 1h\nservices:\n  api:\n    service_time: {constant: 1ms}\n  db:\n    service_time: {constant: 1ms}\nworkload:\n  arrivals: {poisson: {rate: 20/s}}\n  journeys:\n    - name: call\n      steps:\n        - service: api\n          calls: [{service: db}]\n",
    );
    // 400 traces: api works a (gamma 8 ms), then calls db through a client span that adds
    // 0.5 ms of wire around db's b (gamma 5 ms). api's own time is a, db's is b.
    let (a, b) = (draws(8.0, 0.5, 400, 11), draws(5.0, 0.7, 400, 12));
    let mut spans = Vec::new();
    for i in 0..400u64 {
        let (ai, bi) = (a[i as usize] * 1e3, b[i as usize] * 1e3);
        let t0 = i as f64 * 100.0;
        spans.push(span(i, 3 * i + 1, None, "api", t0, ai + bi + 0.5));
        spans.push(span(
            i,
            3 * i + 2,
            Some(3 * i + 1),
            "api",
            t0 + ai,
            bi + 0.5,
        ));
        spans.push(span(
            i,
            3 * i + 3,
            Some(3 * i + 2),
            "db",
            t0 + ai + 0.25,
            bi,
        ));
    }
    let cal = calibrate(&s, &[], &[("t.json".into(), spans)]).expect("calibrates");
    for (svc, want) in [("api", &a), ("db", &b)] {
        let f = cal
            .fitted
            .iter()
            .find(|f| f.who == format!("service {svc}"))
            .unwrap_or_else(|| panic!("{svc} not fitted: {:?}", cal.notes));
        let Value::Law(l) = f.value else {
            panic!("{svc}: a gamma sample fits a law")
        };
        // Equal to the sample's own mean up to the nanosecond rounding of the timestamps
        // (lognormal's mean differs from the sample's by its sampling error at most).
        let m = want.iter().sum::<f64>() / want.len() as f64;
        assert!((l.mean - m).abs() <= 3.5 * l.mean_se, "{svc}: {l:?} vs {m}");
        assert!(
            f.comment.contains("traces t.json (own time)"),
            "{}",
            f.comment
        );
    }
    let g = cal.graph.expect("graph");
    let e = &g.edges[&("api".to_string(), "db".to_string())];
    assert!(e.synchronous() && e.sync_calls == 400);
    assert!((e.network_s.unwrap_or(0.0) - 0.0005).abs() < 1e-8, "{e:?}");
}

/// One run of `n` requests over `secs` seconds burning `cpu` CPU seconds, latencies from `seed`.
fn cpu_run(name: &str, secs: f64, n: usize, cpu: f64, seed: u64) -> Run {
    Run {
        name: name.into(),
        duration_s: secs,
        offered_rps: n as f64 / secs,
        steps: vec![StepRun {
            journey: "call".into(),
            index: "0".into(),
            service: "api".into(),
            latency: Sample::from_values(&draws(10.0, 0.5, n, seed)),
        }],
        series: [
            ("cpu_seconds/api".to_string(), vec![(0.0, 0.0), (secs, cpu)]),
            (
                "requests/api".to_string(),
                vec![(0.0, 0.0), (secs, n as f64)],
            ),
        ]
        .into_iter()
        .collect(),
    }
}

#[test]
fn runs_at_two_rates_separate_idle_cpu_from_the_demand() {
    // Kinto's records endpoint on a quiet machine (tests/validation, 2026-12-05): 4.26 ms a
    // request above 6.5 ms of CPU a second at idle. At 4/s the ratio says 5.885 ms.
    let (idle, per) = (0.0065, 0.00426);
    let (a, b) = calibrate::demand::idle_and_demand(&[
        (4.0, idle + 4.0 * per),
        (12.0, idle + 12.0 * per),
        (51.0, idle + 51.0 * per),
    ])
    .expect("a rising line");
    assert!(
        (a - idle).abs() < 1e-12 && (b - per).abs() < 1e-12,
        "{a} {b}"
    );
    // Rates too close to tell the intercept from the slope, or a single run: the ratio stands.
    assert_eq!(
        calibrate::demand::idle_and_demand(&[(4.0, 0.03), (5.0, 0.035)]),
        None
    );
    assert_eq!(calibrate::demand::idle_and_demand(&[(4.0, 0.03)]), None);
    // A line below zero at no load is no idle CPU: the ratio stands.
    assert_eq!(
        calibrate::demand::idle_and_demand(&[(4.0, 0.01), (12.0, 0.05)]),
        None
    );

    // Through calibrate: 400 requests in 100 s (4/s) and 1,200 in 100 s (12/s), each second
    // idle + rate x 4.26 ms. The CPU share of the pooled mean is 4.26 ms, not the pooled
    // ratio's (2.354 + 5.762) CPU seconds / 1,600 requests = 5.07 ms.
    let s = scenario(
        "name: t\nhorizon: 1h\nservices:\n  api:\n    concurrency: 4\n    cores: 2\n    cpu: {constant: 1ms}\n    service_time: {constant: 1ms}\nworkload:\n  arrivals: {poisson: {rate: 20/s}}\n  journeys:\n    - name: call\n      steps:\n        - service: api\n",
    );
    let runs = [
        cpu_run("low", 100.0, 400, 100.0 * (idle + 4.0 * per), 5),
        cpu_run("higher", 100.0, 1200, 100.0 * (idle + 12.0 * per), 6),
    ];
    let cal = calibrate(&s, &runs, &[]).expect("calibrates");
    let get = |k: &str| {
        cal.fitted
            .iter()
            .find(|f| f.key == k)
            .unwrap_or_else(|| panic!("no {k}: {:?}", cal.fitted))
    };
    let (cpu, off) = (
        law_mean(&get("cpu").value),
        law_mean(&get("service_time").value),
    );
    let mut pooled = draws(10.0, 0.5, 400, 5);
    pooled.extend(draws(10.0, 0.5, 1200, 6));
    let mean = Sample::from_values(&pooled).mean();
    assert!(
        (cpu / (cpu + off) - per / mean).abs() < 1e-9,
        "{cpu} {off} {mean}"
    );
    assert!(
        cal.notes.iter().any(|n| n.contains("above an idle 6.5 ms")),
        "{:?}",
        cal.notes
    );
}
