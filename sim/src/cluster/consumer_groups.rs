//! Kafka consumer groups whose consumer threads run in the pods of a service: a group's
//! active consumers follow the ready pods (`min(partitions, ready pods x concurrency)`, Kafka's
//! rebalance), and the group's work counts as those pods' CPU and memory (shared out evenly:
//! each thread runs in some pod).

use super::PodState;
use crate::calendar::Nanos;
use crate::engine::Replication;

impl Replication<'_> {
    /// Shares out the work service `s`'s consumer groups did since the last reading over its
    /// ready pods (the consumer threads are spread over them by the group's partition
    /// assignment, which the model does not track thread by thread), and the threads busy now.
    pub(super) fn share_group_work(&mut self, s: usize, now: Nanos) {
        let svc = &self.cluster.services[s];
        if svc.groups.is_empty() {
            return;
        }
        let (mut area, mut busy) = (0.0, 0u32);
        for (g, _) in &svc.groups {
            let st = &self.stations[*g as usize];
            area += st.replicas.iter().map(|r| r.busy_area_at(now)).sum::<f64>();
            busy += st.busy();
        }
        let delta = (area - svc.groups_area_read).max(0.0);
        self.cluster.services[s].groups_area_read = area;
        let ready: Vec<u32> = self.cluster.services[s]
            .pods
            .iter()
            .copied()
            .filter(|p| matches!(self.cluster.pods[*p as usize].state, PodState::Ready { .. }))
            .collect();
        if ready.is_empty() {
            // No pod runs a consumer: the groups did nothing since (their threads stopped).
            return;
        }
        let n = ready.len() as u32;
        for (i, p) in ready.iter().enumerate() {
            let pod = &mut self.cluster.pods[*p as usize];
            pod.group_area += delta / f64::from(n);
            pod.group_in_flight = busy / n + u32::from((i as u32) < busy % n);
        }
    }

    /// Kafka's group rebalance after a consumer joins or leaves: the active consumers of each
    /// consumer group of service `s` become `min(partitions, ready pods x concurrency)`.
    /// A consumer that leaves finishes the event it holds (its offset is committed after it);
    /// the events waiting on its partition go to the remaining consumers.
    pub(super) fn rebalance_consumers(&mut self, s: u32, now: Nanos) {
        if self.cluster.starting {
            return;
        }
        let svc = &self.cluster.services[s as usize];
        if svc.groups.is_empty() {
            return;
        }
        let ready = self.cluster.ready_pods(svc) as u32;
        let threads = ready.saturating_mul(svc.concurrency);
        for k in 0..self.cluster.services[s as usize].groups.len() {
            let (g, partitions) = self.cluster.services[s as usize].groups[k];
            let want = threads.min(partitions);
            let st = g as usize;
            while self.stations[st].ready_replicas() < want {
                self.add_replica(g, now);
            }
            while self.stations[st].ready_replicas() > want {
                let Some(&r) = self.stations[st].ready_list().last() else {
                    break;
                };
                self.retire_replica(g, r, now);
            }
        }
    }
}
