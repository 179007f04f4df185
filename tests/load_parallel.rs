//! HTTP steps inside `parallel:` branches: `twin load` calls every branch's steps, the branches
//! at once, and joins them before the next step; `twin emulate` serves the branches' routes.
//! With constant service times (no queueing at 5 journeys a second and 16 servers each), a
//! journey takes 10 + max(150, 100 + 20) + 10 = 170 ms when the branches overlap, and
//! 10 + 150 + 120 + 10 = 290 ms if they ran one after the other.

mod support;

use support::*;

const SCENARIO: &str = r#"
name: loopback-parallel
seed: 5
horizon: 10m
services:
  front: {replicas: 1, concurrency: 16, service_time: {constant: 10ms}}
  left:  {replicas: 1, concurrency: 16, service_time: {constant: 150ms}}
  right: {replicas: 1, concurrency: 16, service_time: {constant: 100ms}}
  audit: {replicas: 1, concurrency: 16, service_time: {constant: 20ms}}
workload:
  arrivals: {constant: {rate: 5/s}}
  journeys:
    - name: order
      steps:
        - service: front
          http: {method: POST, path: /orders, body: '{"key": "{key}"}', capture: {order: id}}
        - parallel:
            - - service: left
                http: {method: GET, path: '/orders/{order}/left'}
            - - service: right
                http: {method: GET, path: '/orders/{order}/right'}
              - service: audit
                http: {method: POST, path: '/orders/{order}/audit', body: '{}'}
        - service: front
          http: {method: GET, path: '/orders/{order}'}
slos:
  - p95(order) < 250ms
"#;

#[test]
fn branches_are_called_at_once_and_joined() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let scenario = tmp.path().join("parallel.yaml");
    std::fs::write(&scenario, SCENARIO).expect("write scenario");
    let emulator = Emulator::start(&scenario);
    let dir = tmp.path().join("run");
    let o = load(&scenario, &emulator.url(), &dir, &["--duration", "4s"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let summary = json(&dir.join("summary.json"));
    let order = &summary["journeys"]["order"];
    let n = order["count"].as_u64().expect("count");
    // Constant arrivals at 5/s for 4 s.
    assert_eq!(n, 20, "{order}");
    assert_eq!(order["errors"].as_u64(), Some(0), "{}", show(&o));

    // The emulator saw each branch's request once per journey.
    let (_, stats) = emulator.get("/__twin/stats");
    let stats: serde_json::Value = serde_json::from_str(&stats).expect("stats");
    let by_route = &stats["by_route"];
    for route in [
        "POST /orders",
        "GET /orders/{order}/left",
        "GET /orders/{order}/right",
        "POST /orders/{order}/audit",
        "GET /orders/{order}",
    ] {
        assert_eq!(by_route[route].as_u64(), Some(n), "{route}: {by_route}");
    }
    let detail = json(&dir.join("load.json"));
    for step in ["order/1.0.0 left", "order/1.1.0 right", "order/1.1.1 audit"] {
        assert_eq!(
            detail["steps"][step]["summary"]["count"].as_u64(),
            Some(n),
            "{step}: {}",
            detail["steps"]
        );
    }
    // Concurrent: about 170 ms (plus loopback overhead), far from the 290 ms of a sequence.
    let p50 = order["latency_ms"]["p50"].as_f64().expect("p50");
    let p95 = order["latency_ms"]["p95"].as_f64().expect("p95");
    eprintln!("journey p50 {p50:.1} ms, p95 {p95:.1} ms (parallel 170, sequential 290)");
    assert!((170.0..200.0).contains(&p50), "p50 {p50}");
    assert!(p95 < 250.0, "p95 {p95}");
}
