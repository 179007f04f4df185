//! Faults injected into a replication and their recovery: pod kills and node losses go
//! through the cluster (the ReplicaSet replaces pods, the scheduler places them); a primary
//! crash takes a whole service down for detection + promotion + endpoint update +
//! reconnection; LLM outages and throttling refuse calls (clients retry as their policy says);
//! added latency slows a service. Requests in flight on what is lost fail.

use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use models::faults::{FaultKind, FaultSpec, Replication as Repl};

/// A fault's state during a run, and the data loss it caused.
#[derive(Clone, Debug, Default)]
pub struct FaultRecord {
    pub at_s: f64,
    pub label: String,
    /// Seconds of acknowledged writes lost (RPO), for crashes.
    pub rpo_s: Option<f64>,
    /// Writes lost: the target's completion rate over the lost span.
    pub lost_writes: Option<u64>,
    /// Replicas taken down (to bring back at recovery).
    pub(crate) downed: Vec<u32>,
}

impl Replication<'_> {
    pub(crate) fn schedule_faults(&mut self) {
        for (i, f) in self.scenario.faults.iter().enumerate() {
            if f.at.0 <= self.model.horizon {
                self.calendar
                    .schedule(f.at.0, Event::FaultStart { fault: i as u32 });
            }
        }
    }

    fn station_of(&self, name: &str) -> Option<u32> {
        self.scenario.services.get_index_of(name).map(|i| i as u32)
    }

    /// Marks every request in service on `replica` as failed (they are lost with it) and
    /// returns its queue for re-routing.
    fn kill_replica(&mut self, station: u32, replica: u32, now: Nanos) {
        self.stations[station as usize].replicas[replica as usize].killed = true;
        let queued = self.stations[station as usize].retire_replica(replica, now);
        for r in queued {
            if let Some(start) = self.stations[station as usize].arrive(r, now) {
                self.begin(station, start, now);
            }
        }
    }

    pub(crate) fn fault_start(&mut self, i: u32, now: Nanos) {
        let f: FaultSpec = self.scenario.faults[i as usize].clone();
        let mut rec = FaultRecord {
            at_s: now as f64 / 1e9,
            label: format!("{} {}", kind_name(f.kind), f.target),
            ..FaultRecord::default()
        };
        match f.kind {
            FaultKind::PodKill => {
                if let Some(st) = self.station_of(&f.target) {
                    let svc = self.cluster.by_station[st as usize];
                    if svc != u32::MAX {
                        // The newest ready pod dies; its ReplicaSet creates a replacement.
                        let pod = self.cluster.services[svc as usize]
                            .pods
                            .iter()
                            .rev()
                            .copied()
                            .find(|p| {
                                matches!(
                                    self.cluster.pods[*p as usize].state,
                                    crate::cluster::PodState::Ready { .. }
                                )
                            });
                        if let Some(p) = pod {
                            if let crate::cluster::PodState::Ready { replica } =
                                self.cluster.pods[p as usize].state
                            {
                                self.stations[st as usize].replicas[replica as usize].killed = true;
                            }
                            self.delete_pod(p, now);
                            self.create_pod(svc, now, false);
                        }
                    } else if let Some(&r) = self.stations[st as usize].ready_list().last() {
                        // Not pod-based: the replica restarts after the recovery time.
                        self.kill_replica(st, r, now);
                        rec.downed.push(r);
                        let back = f.duration.unwrap_or(f.recovery.outage()).0;
                        self.calendar
                            .schedule(now + back, Event::FaultEnd { fault: i });
                    }
                }
            }
            FaultKind::NodeLoss => {
                if let Some(pool) = self.scenario.node_pools.get_index_of(&f.target) {
                    let node = self
                        .cluster
                        .nodes
                        .iter()
                        .find(|n| n.alive && n.ready && n.pool == pool as u32)
                        .map(|n| n.id);
                    if let Some(id) = node {
                        let pods: Vec<u32> = self
                            .cluster
                            .nodes
                            .iter()
                            .find(|n| n.id == id)
                            .map(|n| n.pods.clone())
                            .unwrap_or_default();
                        for p in pods {
                            if let crate::cluster::PodState::Ready { replica } =
                                self.cluster.pods[p as usize].state
                            {
                                let st = self.cluster.pods[p as usize].service;
                                self.stations[st as usize].replicas[replica as usize].killed = true;
                            }
                        }
                        self.remove_node(id, now);
                    }
                }
            }
            FaultKind::PrimaryCrash | FaultKind::ZoneLoss | FaultKind::RegionLoss => {
                if let Some(st) = self.station_of(&f.target) {
                    let ready: Vec<u32> = self.stations[st as usize].ready_list().to_vec();
                    self.stations[st as usize].down = true;
                    for r in ready {
                        self.kill_replica(st, r, now);
                        rec.downed.push(r);
                    }
                    // Everything waiting at the service fails with it.
                    for r in self.stations[st as usize].drain_waiting() {
                        self.requests[r as usize].failed = true;
                        self.requests[r as usize].pc += 1;
                        self.execute(r, now);
                    }
                    let outage = match f.kind {
                        FaultKind::PrimaryCrash => f.recovery.outage(),
                        _ => f.duration.unwrap_or(f.recovery.outage()),
                    };
                    self.calendar
                        .schedule(now + outage.0, Event::FaultEnd { fault: i });
                    let rate = self.stations[st as usize].stats.completions as f64
                        / ((now.saturating_sub(self.model.warmup)).max(1) as f64 / 1e9);
                    let lost_span = match &f.replication {
                        Repl::Synchronous => 0.0,
                        Repl::Asynchronous { lag } => lag.sampler().sample(&mut self.fault_rng),
                        Repl::Backup { interval } => {
                            interval.as_secs_f64() * self.fault_rng.next_f64()
                        }
                    };
                    rec.rpo_s = Some(lost_span);
                    rec.lost_writes = Some((rate * lost_span).round() as u64);
                }
            }
            FaultKind::LlmOutage | FaultKind::LlmThrottle => {
                if let Some(e) = self.scenario.llm_endpoints.get_index_of(&f.target) {
                    let share = if f.kind == FaultKind::LlmOutage {
                        1.0
                    } else {
                        f.rate.map_or(1.0, |r| r.0)
                    };
                    self.endpoints[e].refuse_share = share;
                    let d = f.duration.unwrap_or(f.recovery.outage());
                    self.calendar
                        .schedule(now + d.0, Event::FaultEnd { fault: i });
                }
            }
            FaultKind::NetworkLatency => {
                if let Some(st) = self.station_of(&f.target) {
                    self.stations[st as usize].extra_latency = f.latency.map_or(0, |l| l.0);
                    let d = f.duration.unwrap_or(f.recovery.outage());
                    self.calendar
                        .schedule(now + d.0, Event::FaultEnd { fault: i });
                }
            }
        }
        self.fault_records[i as usize] = rec;
    }

    pub(crate) fn fault_end(&mut self, i: u32, now: Nanos) {
        let f = &self.scenario.faults[i as usize];
        let kind = f.kind;
        let target = f.target.clone();
        match kind {
            FaultKind::LlmOutage | FaultKind::LlmThrottle => {
                if let Some(e) = self.scenario.llm_endpoints.get_index_of(&target) {
                    self.endpoints[e].refuse_share = 0.0;
                }
            }
            FaultKind::NetworkLatency => {
                if let Some(st) = self.station_of(&target) {
                    self.stations[st as usize].extra_latency = 0;
                }
            }
            _ => {
                if let Some(st) = self.station_of(&target) {
                    self.stations[st as usize].down = false;
                    let n = self.fault_records[i as usize].downed.len();
                    for _ in 0..n {
                        let requests = &self.requests;
                        let (_, starts) = self.stations[st as usize]
                            .add_replica(now, |r| requests[r as usize].enqueued);
                        for s in starts {
                            self.begin(st, s, now);
                        }
                    }
                }
            }
        }
        let label = format!("recovered {target}");
        self.fault_marks.push((now as f64 / 1e9, label));
    }
}

/// The fault's name as scenario files write it.
fn kind_name(k: FaultKind) -> &'static str {
    match k {
        FaultKind::PodKill => "pod_kill",
        FaultKind::NodeLoss => "node_loss",
        FaultKind::PrimaryCrash => "primary_crash",
        FaultKind::ZoneLoss => "zone_loss",
        FaultKind::RegionLoss => "region_loss",
        FaultKind::LlmOutage => "llm_outage",
        FaultKind::LlmThrottle => "llm_throttle",
        FaultKind::NetworkLatency => "network_latency",
    }
}
