//! Where pods land and what losing a zone costs: GPU pods only on nodes with a free GPU (and
//! the cluster autoscaler growing a GPU pool for them, on the scenario's scan interval and
//! the pool's provisioning time), and a zone loss that takes only the pods in that zone.
//! The scenarios in `placement/` hold the arithmetic.

mod support;

fn run(file: &str, overrides: &[&str]) -> sim::Output {
    let scenario = support::scenario(&support::data_dir("placement"), file, overrides);
    sim::simulate(&scenario, &sim::Options::default())
}

/// The value of `series` in the window ending at `t_s` (1-second windows).
fn at(series: &[(f64, f64)], t_s: f64) -> f64 {
    series
        .iter()
        .find(|(t, _)| (*t - t_s).abs() < 1e-6)
        .unwrap_or_else(|| panic!("no sample at {t_s} s"))
        .1
}

fn series<'a>(out: &'a sim::Output, name: &str) -> &'a [(f64, f64)] {
    out.timeline
        .series
        .get(name)
        .unwrap_or_else(|| panic!("no series {name}"))
}

#[test]
fn a_gpu_pod_waits_for_a_gpu_node_that_the_autoscaler_adds_to_the_gpu_pool() {
    let out = run("gpu-scale-up.yaml", &[]);
    let replicas = series(&out, "replicas/embed");
    let pending = series(&out, "pending/embed");
    let ai = series(&out, "nodes/ai");
    let general = series(&out, "nodes/general");
    // One GPU, one pod: the second pod is Pending from the start (on a CPU-only fit both
    // would be Ready at once on the one node).
    assert_eq!(at(replicas, 1.0), 1.0);
    assert_eq!(at(pending, 1.0), 1.0);
    // The first scan at 7.5 s asks for one node of the GPU pool (counted from its request),
    // never of `general`, which has room by CPU and memory but no GPU.
    assert_eq!(at(ai, 7.0), 1.0);
    assert_eq!(at(ai, 8.0), 2.0);
    assert!(general.iter().all(|(_, n)| *n == 1.0), "general grew");
    assert!(
        ai.iter().all(|(_, n)| *n <= 2.0),
        "more than one GPU node added"
    );
    // Ready at scan interval + provisioning + start-up = 7.5 + 45.5 + 20.25 = 73.25 s.
    assert_eq!(at(replicas, 73.0), 1.0);
    assert_eq!(at(replicas, 74.0), 2.0);
    assert_eq!(
        at(pending, 52.0),
        1.0,
        "bound before its node was Ready at 53 s"
    );
    assert_eq!(
        at(pending, 54.0),
        0.0,
        "not bound once its node was Ready at 53 s"
    );
    // The default scan interval (10 s) moves it all by 2.5 s: Ready at 75.75 s.
    let out = run("gpu-scale-up.yaml", &["cluster.scan_interval=10s"]);
    let replicas = series(&out, "replicas/embed");
    assert_eq!(at(replicas, 75.0), 1.0);
    assert_eq!(at(replicas, 76.0), 2.0);
}

#[test]
fn a_gpu_pod_on_an_empty_gpu_pool_stays_pending_until_a_gpu_node_is_ready() {
    // No GPU node at the start: both pods wait; one scan asks for two nodes (one GPU each).
    let out = run("gpu-scale-up.yaml", &["node_pools.ai.min=0"]);
    let replicas = series(&out, "replicas/embed");
    assert_eq!(at(replicas, 1.0), 0.0);
    assert_eq!(at(series(&out, "pending/embed"), 1.0), 2.0);
    assert_eq!(at(series(&out, "nodes/ai"), 8.0), 2.0);
    assert_eq!(at(replicas, 73.0), 0.0);
    assert_eq!(at(replicas, 74.0), 2.0);
    assert!(series(&out, "nodes/general").iter().all(|(_, n)| *n == 1.0));
}

/// Throughput of `api` (requests served per second over the measured time).
fn throughput(out: &sim::Output) -> f64 {
    out.summary.services["api"].throughput_rps
}

#[test]
fn losing_one_of_three_zones_takes_a_third_of_the_capacity_not_all() {
    // Saturated deterministic servers serve exactly 10/s each; the queue of a replica
    // offered 20-30/s with a limit of 5 empties with negligible probability, so the
    // throughput is the capacity to within the requests in service at the window's edges.
    let whole = run("zone-loss.yaml", &["faults=[]"]);
    let lost = run("zone-loss.yaml", &[]);
    let (w, l) = (throughput(&whole), throughput(&lost));
    eprintln!("throughput without the fault {w:.3}/s, a zone lost {l:.3}/s");
    assert!((w - 30.0).abs() < 0.05, "3 replicas: {w}/s");
    assert!(
        (l - 20.0).abs() < 0.05,
        "2 replicas of 3 after the loss: {l}/s"
    );
    // The lost pod's replacement waits Pending (no node with 2 vCPU free, no autoscaling).
    let replicas = series(&lost, "replicas/api");
    let pending = series(&lost, "pending/api");
    assert_eq!(at(replicas, 9.0), 3.0);
    assert_eq!(at(replicas, 11.0), 2.0);
    assert_eq!(at(pending, 11.0), 1.0);
    assert_eq!(at(series(&lost, "nodes/general"), 11.0), 2.0);
    assert_eq!(replicas.last().map(|r| r.1), Some(2.0));
}

#[test]
fn after_a_zone_loss_the_autoscaler_replaces_the_node_in_a_surviving_zone() {
    // With room to grow (max 4), the Pending replacement makes the autoscaler add a node
    // (in a zone still up: the lost one cannot host it) at its first scan after 10 s (20 s),
    // Ready after provisioning (constant 60 s here), the pod 20 s later: Ready at 100 s.
    let out = run(
        "zone-loss.yaml",
        &[
            "node_pools.general.max=4",
            "node_pools.general.provisioning={constant: 60s}",
        ],
    );
    let replicas = series(&out, "replicas/api");
    assert_eq!(at(replicas, 99.0), 2.0);
    assert_eq!(at(replicas, 101.0), 3.0);
    assert_eq!(at(series(&out, "nodes/general"), 21.0), 3.0);
    assert_eq!(replicas.last().map(|r| r.1), Some(3.0));
}

#[test]
fn a_service_spread_over_zones_without_pods_loses_the_replicas_in_one_zone() {
    // The same service as plain replicas spread over `zones: 3` (no node pool; `zones:`
    // needs a `network:` block, here of hops that take no time).
    let out = run(
        "zone-loss.yaml",
        &[
            "node_pools={}",
            "services.api.pod=null",
            "services.api.zones=3",
            "network={same_zone: {constant: 0s}, cross_zone: {constant: 0s}}",
            "faults[0]={at: 10s, kind: zone_loss, target: api, duration: 1h}",
        ],
    );
    let l = throughput(&out);
    assert!(
        (l - 20.0).abs() < 0.05,
        "2 replicas of 3 after the loss: {l}/s"
    );
    // One zone (zones absent or 1) is the whole service, as before: nothing served.
    let out = run(
        "zone-loss.yaml",
        &[
            "node_pools={}",
            "services.api.pod=null",
            "faults[0]={at: 10s, kind: zone_loss, target: api, duration: 1h}",
        ],
    );
    assert!(throughput(&out) < 0.01, "{}", throughput(&out));
}
