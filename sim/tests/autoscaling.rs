//! The HPA and cluster autoscaler in the loop: a 3x traffic step, checked against the node
//! arithmetic (an n1-standard-4 node holds 3 pods of 1 CPU out of its 3.6 allocatable CPUs,
//! so ready replicas never exceed 3 x nodes) and the pool's limits.

mod support;

#[test]
fn scale_up_never_overcommits_nodes_and_stays_within_limits() {
    let out = support::simulate(&support::data_dir("autoscaling"), "step-3x.yaml");
    let replicas = &out.timeline.series["replicas/api"];
    let nodes = &out.timeline.series["nodes/general"];
    let pending = &out.timeline.series["pending/api"];
    assert_eq!(replicas.len(), nodes.len());
    for ((t, r), (_, n)) in replicas.iter().zip(nodes) {
        assert!(*r <= 3.0 * n + 1e-9, "at {t} s: {r} replicas on {n} nodes");
        assert!(*n <= 10.0, "at {t} s: {n} nodes over the pool's max of 10");
    }
    // The step needs more nodes: pods wait Pending for them, then get placed.
    assert!(
        pending.iter().any(|(_, p)| *p > 0.0),
        "no pod ever waited for a node"
    );
    assert_eq!(
        pending.last().map(|p| p.1),
        Some(0.0),
        "pods still pending at the end"
    );
    let before = replicas.iter().find(|(t, _)| *t >= 590.0).unwrap().1;
    let after = replicas.last().unwrap().1;
    assert!(
        after >= 2.5 * before,
        "replicas {before} -> {after} for a 3x step"
    );
}
