//! The scheduler's placements against hand-computed cases (`tests/placement/cases.json`):
//! each case lists nodes, pods placed in order, and the node each pod lands on under each
//! placement (`null`: Pending). The arithmetic is in each case's `_why`.

use k8s::cluster_autoscaler::Resources;
use k8s::scheduler::{choose, Candidate};
use models::platform::PodPlacement;
use serde_json::Value;

const MIB: i64 = 1 << 20;

fn resources(v: &Value) -> Resources {
    let get = |k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    Resources::new(get("cpu"), get("memory") * MIB).with_gpus(get("gpus"))
}

fn run(case: &Value, placement: PodPlacement) -> Vec<Option<usize>> {
    let mut nodes: Vec<Candidate> = case["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            let allocatable = resources(&n["allocatable"]);
            let requested = n.get("requested").map(resources).unwrap_or_default();
            Candidate {
                allocatable,
                free: allocatable.sub(requested),
            }
        })
        .collect();
    let mut out = Vec::new();
    for p in case["pods"].as_array().expect("pods") {
        let pod = resources(p);
        let chosen = choose(placement, pod, nodes.iter().copied());
        if let Some(i) = chosen {
            nodes[i].free = nodes[i].free.sub(pod);
        }
        out.push(chosen);
    }
    out
}

#[test]
fn placements_match_the_hand_computed_cases() {
    let text = include_str!("placement/cases.json");
    let doc: Value = serde_json::from_str(text).expect("cases.json");
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 5);
    for case in cases {
        for (key, placement) in [
            ("first_fit", PodPlacement::FirstFit),
            ("least_allocated", PodPlacement::LeastAllocated),
        ] {
            let want: Vec<Option<usize>> = case[key]
                .as_array()
                .expect(key)
                .iter()
                .map(|v| v.as_u64().map(|i| i as usize))
                .collect();
            assert_eq!(
                run(case, placement),
                want,
                "{}: {key}",
                case["name"].as_str().unwrap_or("?")
            );
        }
    }
}
