//! What a run used beyond compute: Firestore operations and response egress, counted from the
//! visits the run made times what one visit declares, then priced by the bill (a destination
//! the price table lacks is listed as not priced, never as $0), and the cost of one journey.

fn scenario() -> models::Scenario {
    // 10 journeys a second, evenly spaced, for 100 s: about 1000, each through `api` (2 Firestore reads, 1 write, a 1 MB response to the
    // internet) and `replica` (a 0.5 MB response to another region).
    let text = r#"name: usage
seed: 1
horizon: 100s
warmup: 0s
replications: 1
services:
  api:
    replicas: 1
    concurrency: 10
    service_time: {constant: 1ms}
    firestore: {reads: 2, writes: 1}
    response_bytes: 1000000
    response_to: internet
  replica:
    replicas: 1
    concurrency: 10
    service_time: {constant: 1ms}
    response_bytes: 500000
    response_to: cross_region
workload:
  arrivals: {constant: {rate: 10/s}}
  journeys:
    - name: call
      steps: [{service: api}, {service: replica}]
"#;
    models::parse_scenario(text, "usage.yaml", &[])
        .unwrap_or_else(|e| panic!("{e:?}"))
        .0
}

#[test]
fn firestore_and_egress_are_counted_from_visits_and_priced() {
    let s = scenario();
    let mut out = sim::simulate(&s, &sim::Options::default());
    let usage = out.usage.clone().expect("a billed usage");
    let fs = &usage.firestore["default"];
    // 1000 visits (+-1 at the horizon's edge): 2000 reads, 1000 writes.
    assert!((1998..=2002).contains(&fs.reads), "{fs:?}");
    assert!((999..=1001).contains(&fs.writes), "{fs:?}");
    // 1000 x 1 MB = 1 GB to the internet, 1000 x 0.5 MB = 0.5 GB to another region.
    assert!(
        (usage.egress_gb - 1.0).abs() <= 0.002,
        "{}",
        usage.egress_gb
    );
    assert!((usage.egress_cross_region_gb - 0.5).abs() <= 0.001);
    billing::bill_run(&s, &usage, &mut out.summary);
    let cost = out.summary.cost.as_ref().expect("priced");
    // Firestore regional: 2000 / 1e5 x $0.03 + 1000 / 1e5 x $0.09 = $0.0015 for the run.
    let f = cost.by_item["firestore/default"];
    assert!((f - 0.0015).abs() < 2e-6, "{f}");
    assert!(cost.by_item["egress/internet"] > 0.0);
    // No cross-region price in the table: said so, not $0.
    assert!(!cost.by_item.contains_key("egress/cross_region"));
    assert!(
        cost.not_priced
            .iter()
            .any(|x| x.starts_with("egress/cross_region")),
        "{:?}",
        cost.not_priced
    );
    // One journey type: it carries the whole cost.
    let one = cost.per_journey_usd["call"];
    let n = out.summary.journeys["call"].count as f64;
    assert!(
        (one * n - cost.total_usd).abs() < 1e-9,
        "{one} x {n} vs {}",
        cost.total_usd
    );
}

/// A `spot: true` pool is billed at the table's spot rows (no sustained-use discount on spot):
/// 3 n1-standard-4 nodes with a T4 each for 2 h, no preemption (rate 0) so the node-hours are
/// exactly 6: 6 x $0.06701 = $0.40206 for the machines, 6 x $0.14 = $0.84 for the GPUs. The
/// same pool on demand: 6 x $0.189999 = $1.139994 (sustained use of a 2-h run repeated all
/// month is the full -30 %: $0.7979958) and 6 x $0.35 = $2.10.
#[test]
fn a_spot_pool_is_billed_at_the_spot_price() {
    let text = |spot: bool| {
        format!(
            r#"name: spot-bill
seed: 1
horizon: 2h
warmup: 0s
replications: 1
node_pools:
  gpu:
    machine: n1-standard-4
    min: 3
    max: 3
    gpus_per_node: 1
{}
services:
  api: {{replicas: 3, concurrency: 1, service_time: {{constant: 1ms}}, pod: {{node_pool: gpu, cpu: "1", memory: 1Gi, gpus: 1}}}}
workload:
  arrivals: {{poisson: {{rate: 1/s}}}}
  journeys: [{{name: call, steps: [{{service: api}}]}}]
"#,
            if spot {
                "    spot: true\n    preemption_rate: 0/h"
            } else {
                ""
            }
        )
    };
    let bill = |spot: bool| {
        let s = models::parse_scenario(&text(spot), "spot-bill.yaml", &[])
            .unwrap_or_else(|e| panic!("{e:?}"))
            .0;
        let mut out = sim::simulate(&s, &sim::Options::default());
        let usage = out.usage.clone().expect("a usage");
        billing::bill_run(&s, &usage, &mut out.summary);
        out.summary.cost.expect("priced").by_item
    };
    let spot = bill(true);
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    assert!(close(spot["node_pool/gpu"], 0.40206), "{spot:?}");
    assert!(close(spot["node_pool/gpu/gpu"], 0.84), "{spot:?}");
    let on_demand = bill(false);
    assert!(
        close(on_demand["node_pool/gpu"], 0.7979958),
        "{on_demand:?}"
    );
    assert!(close(on_demand["node_pool/gpu/gpu"], 2.10), "{on_demand:?}");
}
