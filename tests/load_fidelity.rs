//! `twin load` against `twin emulate` on loopback, for a textbook M/M/10 queue at utilisation
//! 0.6 with service times of 50 ms (large beside loopback overhead): every request the load
//! counted is one the emulator counted, and the measured mean and p95 agree within 10 % with
//! Erlang C and with the in-process simulation of the same scenario. Alone in its file so no
//! other test competes for the CPU while it measures.

mod support;

use models::queueing::MMc;
use support::*;

#[test]
fn load_agrees_with_the_emulator_and_the_prediction() {
    let scenario = example("loopback-mmc.yaml");
    let emulator = Emulator::start(&scenario);
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    let o = load(
        &scenario,
        &emulator.url(),
        &dir,
        &["--duration", "20s", "--warmup", "2s"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));

    // Every request the load sent, the emulator received (and nothing else).
    let detail = json(&dir.join("load.json"));
    assert_eq!(
        detail["requests"].as_u64(),
        Some(emulator.requests()),
        "{}",
        show(&o)
    );

    let summary = json(&dir.join("summary.json"));
    assert_eq!(summary["kind"], "load");
    let call = &summary["journeys"]["call"];
    let count = call["count"].as_u64().unwrap_or(0);
    // 120/s for 18 s after warmup.
    assert!((1800..=2600).contains(&count), "count {count}");
    assert_eq!(call["errors"].as_u64(), Some(0));
    let mean = call["latency_ms"]["mean"].as_f64().unwrap_or(0.0);
    let p95 = call["latency_ms"]["p95"].as_f64().unwrap_or(0.0);

    let q = MMc {
        lambda: 120.0,
        mu: 20.0,
        c: 10,
    };
    let (mean_a, p95_a) = (q.mean_sojourn() * 1000.0, q.sojourn_quantile(0.95) * 1000.0);
    let rel = |m: f64, p: f64| (m - p).abs() / p;
    eprintln!(
        "measured mean {mean:.1} ms, p95 {p95:.1} ms; Erlang C mean {mean_a:.1} ms ({:+.1}%), p95 {p95_a:.1} ms ({:+.1}%)",
        (mean / mean_a - 1.0) * 100.0,
        (p95 / p95_a - 1.0) * 100.0
    );
    assert!(rel(mean, mean_a) < 0.10, "mean {mean} vs Erlang C {mean_a}");
    assert!(rel(p95, p95_a) < 0.10, "p95 {p95} vs Erlang C {p95_a}");

    // The fidelity section: the in-process simulation beside the measurement.
    let f = &summary["fidelity"]["journeys"]["call"];
    let (pm, pp) = (
        f["mean_ms"]["predicted"].as_f64(),
        f["p95_ms"]["predicted"].as_f64(),
    );
    let (Some(pm), Some(pp)) = (pm, pp) else {
        panic!("no fidelity section: {summary}");
    };
    eprintln!(
        "simulated mean {pm:.1} ms ({:+.1}%), p95 {pp:.1} ms ({:+.1}%)",
        (mean / pm - 1.0) * 100.0,
        (p95 / pp - 1.0) * 100.0
    );
    assert!(rel(mean, pm) < 0.10, "mean {mean} vs simulated {pm}");
    assert!(rel(p95, pp) < 0.10, "p95 {p95} vs simulated {pp}");
    assert!(f["p95_ms"]["relative_error"]
        .as_f64()
        .is_some_and(|e| e.abs() < 0.10));

    // The run folder: report, JUnit, CSV, and the histograms for merging shards.
    for file in [
        "report.html",
        "junit.xml",
        "timeseries.csv",
        "histograms/journey-call.hdr",
    ] {
        assert!(dir.join(file).exists(), "{file} missing");
    }
}
