//! A pod's lifecycle: the ReplicaSet creates and deletes pods, the kube-scheduler places a
//! pod on a ready node of its pool with room for its requests, GPUs included (the node the
//! scenario's `cluster.placement` scores best: `k8s::scheduler`; a pod that fits nowhere
//! stays Pending), and a placed pod takes traffic once its start-up is over (Ready: its
//! station gains a replica).

use super::{Cluster, Pod, PodState};
use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use crate::metrics_pipeline::{LatencyCounters, Ring};
use k8s::scheduler::Candidate;

impl Cluster {
    /// Binds the pod to the ready node of its pool that the placement policy picks.
    fn place(&mut self, pod: u32) -> Option<u32> {
        let svc =
            &self.services[self.by_station[self.pods[pod as usize].service as usize] as usize];
        let (pool, req) = (svc.pool, svc.requests);
        let allocatable = self.pools[pool as usize].allocatable;
        let eligible: Vec<usize> = (0..self.nodes.len())
            .filter(|i| {
                let n = &self.nodes[*i];
                n.alive && n.ready && !n.terminating && n.pool == pool
            })
            .collect();
        let pick = k8s::scheduler::choose(
            self.placement,
            req,
            eligible.iter().map(|i| Candidate {
                allocatable,
                free: self.nodes[*i].free,
            }),
        )?;
        let node = eligible[pick];
        let n = &mut self.nodes[node];
        n.free = n.free.sub(req);
        n.pods.push(pod);
        self.pods[pod as usize].node = node as u32;
        Some(node as u32)
    }

    fn unplace(&mut self, pod: u32) {
        let node = self.pods[pod as usize].node;
        if node == u32::MAX {
            return;
        }
        let svc =
            &self.services[self.by_station[self.pods[pod as usize].service as usize] as usize];
        let req = svc.requests;
        let n = &mut self.nodes[node as usize];
        n.free = n.free.add(req);
        n.pods.retain(|p| *p != pod);
        self.pods[pod as usize].node = u32::MAX;
    }
}

impl Replication<'_> {
    /// A new pod of service `s`: placed now if it fits (ready at once when `warm`, after its
    /// start-up otherwise), else Pending.
    pub(super) fn create_pod(&mut self, s: u32, now: Nanos, warm: bool) {
        let kubelet = Ring::new(self.cluster.kubelet_ring());
        let scrapes = Ring::new(
            self.cluster
                .scrape_ring(self.cluster.services[s as usize].scraped),
        );
        let svc = &self.cluster.services[s as usize];
        let id = self.cluster.pods.len() as u32;
        self.cluster.pods.push(Pod {
            service: svc.station,
            state: PodState::Pending { since: now },
            node: u32::MAX,
            placed_at: Nanos::MAX,
            ready_at: Nanos::MAX,
            base_area: 0.0,
            kubelet,
            scrapes,
            group_area: 0.0,
            group_in_flight: 0,
        });
        self.cluster.services[s as usize].pods.push(id);
        self.try_schedule(id, now, warm);
    }

    pub(super) fn try_schedule(&mut self, pod: u32, now: Nanos, warm: bool) {
        if self.cluster.place(pod).is_none() {
            return;
        }
        self.cluster.pods[pod as usize].placed_at = now;
        if warm {
            self.pod_ready(pod, now);
        } else {
            self.cluster.pods[pod as usize].state = PodState::Starting;
            let svc = self.cluster.by_station[self.cluster.pods[pod as usize].service as usize];
            let startup = self.cluster.services[svc as usize].startup;
            self.calendar
                .schedule(now + startup, Event::PodReady { pod });
        }
    }

    pub(crate) fn pod_ready(&mut self, pod: u32, now: Nanos) {
        if self.cluster.pods[pod as usize].state == PodState::Gone {
            return;
        }
        let station = self.cluster.pods[pod as usize].service;
        let replica = self.add_replica(station, now);
        let p = &mut self.cluster.pods[pod as usize];
        p.state = PodState::Ready { replica };
        p.ready_at = now;
        p.base_area = self.stations[station as usize].replicas[replica as usize].usage_area_at(now);
        // A replica the histogram counters have not seen yet (rare: a new replica slot).
        let counters = &mut self.cluster.latency[station as usize];
        if !counters.is_empty() && counters.len() <= replica as usize {
            counters.resize(replica as usize + 1, LatencyCounters::default());
        }
        let s = self.cluster.by_station[station as usize];
        self.rebalance_consumers(s, now);
    }

    /// Deletes a pod: a ready one stops taking traffic (its queue goes back through
    /// balancing) and finishes what it serves.
    pub(super) fn delete_pod(&mut self, pod: u32, now: Nanos) {
        let state = self.cluster.pods[pod as usize].state;
        let station = self.cluster.pods[pod as usize].service;
        if let PodState::Ready { replica } = state {
            self.retire_replica(station, replica, now);
        }
        self.cluster.unplace(pod);
        self.cluster.pods[pod as usize].state = PodState::Gone;
        let svc = self.cluster.by_station[station as usize];
        self.cluster.services[svc as usize]
            .pods
            .retain(|p| *p != pod);
        if matches!(state, PodState::Ready { .. }) {
            self.rebalance_consumers(svc, now);
        }
    }

    /// A rollout sets the new version at `station` to `n` pods: created (placed when they
    /// fit, Pending until a node has room) or deleted, newest first. False if the version
    /// does not run as pods.
    pub(crate) fn set_pod_count(&mut self, station: u32, n: u32, now: Nanos) -> bool {
        let Some(&svc) = self.cluster.by_station.get(station as usize) else {
            return false;
        };
        if svc == u32::MAX {
            return false;
        }
        while (self.cluster.services[svc as usize].pods.len() as u32) < n {
            self.create_pod(svc, now, false);
        }
        while let Some(&pod) = self.cluster.services[svc as usize]
            .pods
            .get(n as usize..)
            .and_then(|extra| extra.last())
        {
            self.delete_pod(pod, now);
        }
        true
    }

    /// Fault: the newest ready pod of the service at `station` dies (the requests it serves
    /// fail) and its ReplicaSet creates a replacement. False if the service does not run as
    /// pods.
    pub(crate) fn kill_pod(&mut self, station: u32, now: Nanos) -> bool {
        let svc = self.cluster.by_station[station as usize];
        if svc == u32::MAX {
            return false;
        }
        let pod = self.cluster.services[svc as usize]
            .pods
            .iter()
            .rev()
            .copied()
            .find(|p| matches!(self.cluster.pods[*p as usize].state, PodState::Ready { .. }));
        if let Some(p) = pod {
            if let PodState::Ready { replica } = self.cluster.pods[p as usize].state {
                self.stations[station as usize].replicas[replica as usize].killed = true;
            }
            self.delete_pod(p, now);
            self.create_pod(svc, now, false);
        }
        true
    }
}
