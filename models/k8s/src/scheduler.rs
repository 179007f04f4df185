//! The kube-scheduler's choice of a node for one pod, as pure policy: the Filter step
//! (NodeResourcesFit: every requested resource, GPUs included, within the node's free
//! allocatable) and the Score step of the placement the scenario names
//! ([`models::platform::PodPlacement`]). The caller says which nodes exist and what is free on
//! them; binding, Pending and preemption are the caller's.
//!
//! `LeastAllocated` is upstream's `noderesources` plugin with its default resources (CPU and
//! memory, weight 1 each; extended resources such as GPUs filter but do not score):
//! per resource `(allocatable - requested) x 100 / allocatable` in integer arithmetic
//! (`leastRequestedScore`), `requested` counting the pod being placed, averaged by weight.
//! The scheduler breaks ties at random among the best nodes; the twin takes the first in
//! creation order so a run repeats without a draw.

use crate::cluster_autoscaler::Resources;
use models::platform::PodPlacement;

/// Upstream's `framework.MaxNodeScore`.
const MAX_NODE_SCORE: i64 = 100;

/// One node as the scheduler sees it: what it can hold and what is free on it (allocatable
/// less the DaemonSet pods and the pods already bound).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub allocatable: Resources,
    pub free: Resources,
}

/// The node `pod` goes to, as an index into `nodes`, or `None` if it fits on none (it stays
/// Pending).
pub fn choose(
    placement: PodPlacement,
    pod: Resources,
    nodes: impl IntoIterator<Item = Candidate>,
) -> Option<usize> {
    let mut fitting = nodes
        .into_iter()
        .enumerate()
        .filter(|(_, n)| pod.fits_in(n.free));
    match placement {
        PodPlacement::FirstFit => fitting.next().map(|(i, _)| i),
        PodPlacement::LeastAllocated => {
            let mut best: Option<(usize, i64)> = None;
            for (i, n) in fitting {
                let score = least_allocated_score(pod, n);
                // Strictly greater: the first of equal scores wins.
                if best.is_none_or(|(_, b)| score > b) {
                    best = Some((i, score));
                }
            }
            best.map(|(i, _)| i)
        }
    }
}

/// `NodeResourcesFit`'s `LeastAllocated` score of placing `pod` on `node` (0-100).
pub fn least_allocated_score(pod: Resources, node: Candidate) -> i64 {
    let after = node.free.sub(pod);
    let pairs = [
        (
            node.allocatable.cpu_milli,
            node.allocatable.cpu_milli - after.cpu_milli,
        ),
        (
            node.allocatable.memory_bytes,
            node.allocatable.memory_bytes - after.memory_bytes,
        ),
    ];
    let (mut score, mut weights) = (0i64, 0i64);
    for (capacity, requested) in pairs {
        if capacity == 0 {
            continue;
        }
        let s = if requested > capacity {
            0
        } else {
            (capacity - requested) * MAX_NODE_SCORE / capacity
        };
        score += s;
        weights += 1;
    }
    if weights == 0 {
        0
    } else {
        score / weights
    }
}
