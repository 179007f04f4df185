//! `twin sweep` weighing spot against on-demand nodes (scenarios/examples/spot-sweep.yaml):
//! the savings and the errors of the same workload side by side. On demand, 4 n1-standard-4
//! nodes all month cost 4 x $0.189999 x 730 h x 0.7 (the full sustained-use discount) =
//! $388.357956 and lose no job; on spot the node-hours cost $0.06701 each (4 to 6 nodes:
//! $195.67 to $293.51 a month) and each preemption loses the jobs still running on the
//! node's pods 30 s after the notice, which the on-demand point does not.

use std::process::Command;

#[test]
fn spot_saves_on_nodes_and_pays_in_lost_jobs() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let dir = tmp.path().join("sweep");
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args([
            "sweep",
            "scenarios/examples/spot-sweep.yaml",
            "--vary",
            "node_pools.workers.spot=false,true",
            "--out",
            dir.to_str().expect("utf-8 path"),
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run twin");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains(
            "cheapest point that meets every SLO: point 0 (node_pools.workers.spot=false)"
        ),
        "{stdout}"
    );
    let point = |i: u32| -> serde_json::Value {
        let text = std::fs::read_to_string(dir.join(format!("points/{i}.json"))).expect("point");
        serde_json::from_str(&text).expect("JSON")
    };
    let (on_demand, spot) = (point(0), point(1));
    let monthly = |p: &serde_json::Value| p["cost"]["monthly_usd"].as_f64().expect("monthly");
    assert!(
        (monthly(&on_demand) - 388.357956).abs() < 1e-6,
        "{on_demand}"
    );
    let m = monthly(&spot);
    assert!((195.67..=293.51).contains(&m), "spot month {m}");
    let errors = |p: &serde_json::Value| p["journeys"]["job"]["errors"].as_u64().expect("errors");
    assert_eq!(errors(&on_demand), 0);
    // Preemptions happened (per replication, Poisson around rate x exposure: 2/h x ~24
    // node-hours; 4 replications), and lost jobs with them: at least one per preemption (a
    // node's 4 slots are 75 % busy, and a ~60 s job rarely ends within the 30 s notice).
    let pre = &spot["recovery"]["preemptions"][0];
    let n = pre["preemptions"].as_f64().expect("count");
    let want = pre["expected_preemptions"].as_f64().expect("expected");
    assert!((n - want).abs() <= 4.0 * (want / 4.0).sqrt(), "{pre}");
    let per_rep = errors(&spot) as f64 / spot["replications"].as_f64().expect("replications");
    assert!(
        per_rep >= n,
        "{per_rep} errors a replication for {n} preemptions"
    );
    // The sweep's table holds both columns side by side.
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).expect("sweep.csv");
    assert!(
        csv.lines()
            .next()
            .is_some_and(|h| h.contains("error_rate(job) < 1%") && h.contains("monthly_cost_usd")),
        "{csv}"
    );
}
