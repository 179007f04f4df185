//! `twin load --time-scale X` plays the arrival profile X times faster at the profile's own
//! rates: an 80 s profile (20/s for 40 s, then 100/s) at `--time-scale 20` runs for 4 s (the
//! default duration shrinks with it), 20/s for 2 s then 100/s for 2 s. The arrivals per 1 s
//! window follow the integral of the compressed profile: 20, 20, 100, 100.

mod support;

use support::*;

const SCENARIO: &str = r#"
name: loopback-steps
seed: 3
horizon: 80s
services:
  api: {replicas: 1, concurrency: 20, service_time: {constant: 5ms}}
workload:
  arrivals:
    profile:
      points:
        - {at: 0s, rate: 20/s}
        - {at: 40s, rate: 100/s}
  journeys:
    - name: call
      steps:
        - service: api
          http: {method: GET, path: /calls}
slos:
  - p95(call) < 1s
"#;

#[test]
fn the_profile_runs_compressed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let scenario = tmp.path().join("steps.yaml");
    std::fs::write(&scenario, SCENARIO).expect("write");
    let emulator = Emulator::start(&scenario);
    let dir = tmp.path().join("run");
    let o = load(&scenario, &emulator.url(), &dir, &["--time-scale", "20"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let summary = json(&dir.join("summary.json"));
    assert_eq!(summary["horizon_s"].as_f64(), Some(4.0), "80 s / 20");
    let timeline = json(&dir.join("timeline.json"));
    let window = timeline["window_s"].as_f64().expect("window");
    assert_eq!(window, 1.0);
    let offered: Vec<f64> = timeline["series"]["rate/offered"]
        .as_array()
        .expect("rate/offered")
        .iter()
        .map(|p| p[1].as_f64().expect("rate") * window)
        .collect();
    let expected = [20.0, 20.0, 100.0, 100.0];
    eprintln!("arrivals per second of the compressed run: {offered:?}, expected {expected:?}");
    assert_eq!(offered.len(), 4);
    // Poisson counts: within 4 standard deviations (sqrt of the expected count) each.
    for (k, (n, e)) in offered.iter().zip(expected).enumerate() {
        assert!((n - e).abs() < 4.0 * e.sqrt(), "window {k}: {n} vs {e}");
    }
    // Uncompressed, the same 4 s would hold 80 arrivals; compressed, 240.
    let total: f64 = offered.iter().sum();
    assert!(total > 180.0, "{total}");
    assert_eq!(
        summary["journeys"]["call"]["count"].as_f64(),
        Some(total),
        "no warmup: every arrival is counted"
    );

    let bad = load(
        &scenario,
        &emulator.url(),
        &tmp.path().join("bad"),
        &["--time-scale", "0"],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", show(&bad));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--time-scale"));
}
