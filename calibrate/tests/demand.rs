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
        Value::Zero => 0.0,
        Value::Calls(c) => panic!("calls {c:?} have no mean"),
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
        peer: None,
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

/// Kinto traced (tests/validation/traces.py): one service declaring `cpu:` and
/// `service_time:`, a load run scraping its CPU, and spans of the same requests.
#[test]
fn traces_time_a_loaded_service_and_the_runs_split_its_cpu() {
    let s = scenario(
        "name: t\nhorizon: 1h\nservices:\n  api:\n    concurrency: 2\n    cores: 1\n    cpu: {constant: 1ms}\n    service_time: {constant: 1ms}\nworkload:\n  arrivals: {poisson: {rate: 20/s}}\n  journeys:\n    - name: call\n      steps:\n        - service: api\n",
    );
    // The client saw ~10 ms (cpu_run's gamma); the server's spans say gamma 6 ms, with a
    // PostgreSQL query of 1 ms inside each (a client span naming `db.system`): the scenario
    // has no postgresql service, so the query stays in api's demand. CPU: 2,000 requests,
    // 4 CPU seconds: 2 ms a request.
    let own = draws(5.0, 0.5, 2000, 21);
    let mut spans = Vec::new();
    for (i, o) in own.iter().enumerate() {
        let (i, t0) = (i as u64, i as f64 * 50.0);
        spans.push(span(i, 2 * i + 1, None, "api", t0, o * 1e3 + 1.0));
        let mut query = span(i, 2 * i + 2, Some(2 * i + 1), "api", t0 + 0.5, 1.0);
        query.peer = Some("postgresql".into());
        spans.push(query);
    }
    let traces = [("kinto.jsonl".to_string(), spans)];
    let run = cpu_run("run", 100.0, 2000, 4.0, 3);
    let cal = calibrate(&s, &[run], &traces).expect("calibrates");
    let get = |cal: &calibrate::Calibration, k: &str| {
        cal.fitted
            .iter()
            .find(|f| f.key == k)
            .unwrap_or_else(|| panic!("no {k}: {:?}", cal.fitted))
            .clone()
    };
    let (cpu, off) = (get(&cal, "cpu"), get(&cal, "service_time"));
    let total = law_mean(&cpu.value) + law_mean(&off.value);
    let want = own.iter().sum::<f64>() / own.len() as f64 + 0.001;
    // The traces' mean (6 ms), not the client's 10: within the fit's sampling error.
    // (The sample mean's standard error is 0.5 x 5 ms / sqrt(2,000) = 0.056 ms, 0.9 %.)
    assert!((total / want - 1.0).abs() < 0.03, "{total} {want}");
    // 2 ms of the traces' sample mean on the CPU, by the utilisation law over the run's
    // requests (the law's mean differs from the sample's by its sampling error).
    let share = law_mean(&cpu.value) / total;
    assert!((share * want / 0.002 - 1.0).abs() < 0.01, "{cpu:?}");
    assert!(
        cpu.comment.contains("traces kinto.jsonl (own time)"),
        "{}",
        cpu.comment
    );
    assert!(
        cal.notes
            .iter()
            .any(|n| n.contains("fitted from the traces' server-side times")),
        "{:?}",
        cal.notes
    );
    // Traces alone: no CPU seen, all of it CPU and none off it (not the placeholder 1 ms).
    let cal = calibrate(&s, &[], &traces).expect("calibrates");
    assert!((law_mean(&get(&cal, "cpu").value) / want - 1.0).abs() < 0.03);
    assert!(matches!(get(&cal, "service_time").value, Value::Zero));
}

/// The traces' synchronous calls written into a step that declares none: 400 traces of api
/// calling db once, every other one twice more (mean 2 calls a visit), and PostgreSQL (a
/// client span naming `db.system`, not a service of the scenario) always: the step gets
/// `[{service: db}, {service: db}]`; the journey whose step declares its calls keeps them.
#[test]
fn traces_write_the_calls_a_step_does_not_declare() {
    let s = scenario(
        "name: t\nhorizon: 1h\nservices:\n  api:\n    service_time: {constant: 1ms}\n  db:\n    service_time: {constant: 1ms}\nworkload:\n  arrivals: {poisson: {rate: 20/s}}\n  journeys:\n    - name: read\n      steps:\n        - service: api\n    - name: write\n      steps:\n        - service: api\n          calls: [{service: db}]\n",
    );
    let mut spans = Vec::new();
    let mut id = 0u64;
    let mut next = || {
        id += 1;
        id
    };
    for i in 0..400u64 {
        let t0 = i as f64 * 100.0;
        let root = next();
        spans.push(span(i, root, None, "api", t0, 20.0));
        let dbs = if i % 2 == 0 { 3 } else { 1 };
        for k in 0..dbs {
            let at = t0 + 1.0 + 5.0 * k as f64;
            let client = next();
            spans.push(span(i, client, Some(root), "api", at, 4.0));
            spans.push(span(i, next(), Some(client), "db", at + 0.5, 3.0));
        }
        let mut query = span(i, next(), Some(root), "api", t0 + 16.0, 2.0);
        query.peer = Some("postgresql".into());
        spans.push(query);
    }
    let cal = calibrate(&s, &[], &[("t.json".into(), spans)]).expect("calibrates");
    let calls: Vec<_> = cal.fitted.iter().filter(|f| f.key == "calls").collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let Value::Calls(c) = &calls[0].value else {
        panic!("{calls:?}")
    };
    assert_eq!(c, &[("db".to_string(), 1.0), ("db".to_string(), 1.0)]);
    assert_eq!(calibrate::calls_yaml(c), "[{service: db}, {service: db}]");
    assert!(
        calls[0]
            .comment
            .contains("db: in 100.0 % of 400 visits, 2.00 calls each (800 calls)"),
        "{}",
        calls[0].comment
    );
    // The journey `read` (journey 0) got them.
    use models::path::PathSegment::{Index, Key};
    assert_eq!(
        calls[0].mapping,
        [
            Key("workload".into()),
            Key("journeys".into()),
            Index(0),
            Key("steps".into()),
            Index(0)
        ]
    );
    assert_eq!(
        calibrate::calls_yaml(&[("db".into(), 1.0), ("db".into(), 0.37)]),
        "[{service: db}, {service: db, probability: 0.37}]"
    );
}

/// CPU a request above the time in the server (work off the request path: a database's
/// background writers): all of it is CPU and `service_time:` is written as `0s` (a law of
/// mean 0 made the calibrated scenario fail to load: the validation on 2026-12-06, records
/// at 1.8 and 5.3/s, 8.09 ms of CPU a request against 7.19 ms in the server).
#[test]
fn cpu_above_the_latency_leaves_no_off_cpu_time() {
    let s = scenario(
        "name: t\nhorizon: 1h\nservices:\n  api:\n    concurrency: 2\n    cores: 1\n    cpu: {constant: 1ms}\n    service_time: {constant: 1ms}\nworkload:\n  arrivals: {poisson: {rate: 20/s}}\n  journeys:\n    - name: call\n      steps:\n        - service: api\n",
    );
    // 2,000 requests of ~10 ms in 1,000 s burning 30 CPU seconds: 15 ms a request (the
    // core 3 % busy: no queueing to refuse).
    let cal = calibrate(&s, &[cpu_run("run", 1000.0, 2000, 30.0, 3)], &[]).expect("calibrates");
    let get = |k: &str| cal.fitted.iter().find(|f| f.key == k).expect(k);
    let mean = Sample::from_values(&draws(10.0, 0.5, 2000, 3)).mean();
    assert!((law_mean(&get("cpu").value) / mean - 1.0).abs() < 1e-9);
    assert!(matches!(get("service_time").value, Value::Zero));
    assert!(
        cal.notes.iter().any(|n| n.contains("exceeds its")),
        "{:?}",
        cal.notes
    );
    // As the binary writes it, the scenario still loads (`0s` alone did not, nor a law of
    // mean 0).
    scenario(&format!(
        "name: t\nhorizon: 1h\nservices:\n  api:\n    cpu: {{constant: 1ms}}\n    service_time: {}\n  db:\n    service_time: {{constant: 1ms}}\nworkload:\n  arrivals: {{poisson: {{rate: 20/s}}}}\n  journeys:\n    - name: call\n      steps:\n        - service: api\n          calls: {}\n",
        calibrate::ZERO_YAML,
        calibrate::calls_yaml(&[("db".into(), 1.0), ("db".into(), 0.5)])
    ));
}
