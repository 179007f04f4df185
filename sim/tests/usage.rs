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
