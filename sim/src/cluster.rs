//! The Kubernetes side of a replication: node pools and their nodes, pods placed on nodes by
//! their requests (first fit: a pod that fits nowhere stays Pending), pod start-up before a
//! replica takes traffic, and the two controllers that move them — the HorizontalPodAutoscaler
//! (`models::hpa`, fed what metrics-server would report) and the cluster autoscaler
//! (`models::cluster_autoscaler`). Events here are rare (syncs every 15 s, scans every 10 s),
//! so this module may allocate; the request path never calls into it.

use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use models::cluster_autoscaler::{
    Action, CaConfig, ClusterAutoscaler, ClusterView, Node, NodePool, NodeStatus, PendingPod,
    PlacedPod, Resources,
};
use models::hpa::controller::{Autoscaler, ControllerConfig, MetricObservation, Scale};
use models::hpa::pods::PodClass;
use models::hpa::replica_calculator::PodSample;
use models::hpa::spec::MetricKind;
use models::platform::{parse_cpu_milli, parse_memory_bytes};
use models::{Duration, RandomStream, Sampler, Scenario};

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PodState {
    Pending { since: Nanos },
    Starting,
    Ready { replica: u32 },
    Gone,
}

#[derive(Clone, Debug)]
pub struct Pod {
    pub service: u32,
    pub state: PodState,
    pub node: u32,
    /// The replica's busy area at the last HPA sync (for its CPU over the sync period).
    last_area: f64,
}

#[derive(Clone, Debug)]
pub struct SimNode {
    pub id: u64,
    pub pool: u32,
    pub ready: bool,
    pub alive: bool,
    pub free: Resources,
    pub pods: Vec<u32>,
    pub requested_at: Nanos,
}

/// A service that runs as pods.
pub struct ServicePods {
    pub station: u32,
    pub pool: u32,
    pub requests: Resources,
    pub startup: Nanos,
    pub concurrency: u32,
    pub hpa: Option<Autoscaler>,
    pub pods: Vec<u32>,
}

pub struct Cluster {
    pub pools: Vec<NodePool>,
    pub machines: Vec<String>,
    pub nodes: Vec<SimNode>,
    pub pods: Vec<Pod>,
    pub services: Vec<ServicePods>,
    /// For each station, its index in `services` (u32::MAX if not pod-based).
    pub by_station: Vec<u32>,
    pub ca: Option<ClusterAutoscaler>,
    provision: Sampler,
    rng: RandomStream,
    next_node: u64,
    /// Node-seconds per pool, and the last time counts changed.
    pub node_seconds: Vec<f64>,
    /// Seconds spent at each node count, per pool (for sustained-use discounts).
    pub seconds_at_count: Vec<std::collections::BTreeMap<u32, f64>>,
    last_count_change: Nanos,
    pub sync_period: Nanos,
}

fn dur(n: Nanos) -> Duration {
    Duration(n)
}

impl Cluster {
    pub fn new(s: &Scenario, station_count: usize, rng: RandomStream) -> Cluster {
        let mut pools = Vec::new();
        let mut machines = Vec::new();
        for (name, np) in &s.node_pools {
            let m = models::machines::MachineType::lookup(&np.machine).ok();
            let (cpu, mem) = m.map_or((0.0, 0.0), |m| (m.effective_vcpus(), m.memory_gib));
            pools.push(NodePool {
                name: name.clone(),
                allocatable: Resources::new(
                    (cpu * 1000.0 * np.allocatable) as i64,
                    (mem * 1024.0 * 1024.0 * 1024.0 * np.allocatable) as i64,
                ),
                daemonset: Resources::default(),
                min_nodes: np.min,
                max_nodes: np.max,
                price_per_hour: 0.0,
                priority: 0,
            });
            machines.push(np.machine.clone());
        }
        let mut by_station = vec![u32::MAX; station_count];
        let mut services = Vec::new();
        let config = ControllerConfig::default();
        for (i, (_name, svc)) in s.services.iter().enumerate() {
            let Some(pod) = &svc.pod else { continue };
            let Some(pool) = s.node_pools.get_index_of(&pod.node_pool) else {
                continue;
            };
            let requests = Resources::new(
                parse_cpu_milli(&pod.cpu).unwrap_or(0) as i64,
                parse_memory_bytes(&pod.memory).unwrap_or(0) as i64,
            );
            let bounds = match svc.replicas {
                models::scenario::Replicas::Range { min, max } => Some((min as i32, max as i32)),
                models::scenario::Replicas::Fixed(n) => Some((n as i32, n as i32)),
            };
            let hpa = svc.hpa.as_ref().and_then(|h| {
                h.resolve(bounds, config.downscale_stabilization, &[])
                    .ok()
                    .map(|r| Autoscaler::new(r, config))
            });
            by_station[i] = services.len() as u32;
            services.push(ServicePods {
                station: i as u32,
                pool: pool as u32,
                requests,
                startup: pod.startup.0,
                concurrency: svc.concurrency,
                hpa,
                pods: Vec::new(),
            });
        }
        let ca = (!s.node_pools.is_empty() && s.node_pools.values().any(|p| p.max > p.min))
            .then(|| ClusterAutoscaler::new(CaConfig::default()));
        Cluster {
            node_seconds: vec![0.0; pools.len()],
            seconds_at_count: vec![Default::default(); pools.len()],
            pools,
            machines,
            nodes: Vec::new(),
            pods: Vec::new(),
            services,
            by_station,
            ca,
            // GKE node creation to Ready: 60-120 s is typical (cluster-autoscaler.md); invented
            // as lognormal mean 90 s, cv 0.25.
            provision: Sampler::Lognormal {
                mu: 90f64.ln() - (1.0f64 + 0.0625).ln() / 2.0,
                sigma: (1.0f64 + 0.0625).ln().sqrt(),
            },
            rng,
            next_node: 1,
            last_count_change: 0,
            sync_period: config.sync_period.0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty() && self.pools.is_empty()
    }

    pub fn live_nodes(&self, pool: u32) -> u32 {
        self.nodes
            .iter()
            .filter(|n| n.alive && n.pool == pool)
            .count() as u32
    }

    /// Adds node time up to `now` (every alive node, provisioning included, is billed).
    pub fn account(&mut self, now: Nanos) {
        let dt = (now - self.last_count_change) as f64 / 1e9;
        if dt > 0.0 {
            for p in 0..self.pools.len() {
                let n = self.live_nodes(p as u32);
                self.node_seconds[p] += f64::from(n) * dt;
                *self.seconds_at_count[p].entry(n).or_default() += dt;
            }
        }
        self.last_count_change = now;
    }

    fn add_node(&mut self, pool: u32, ready: bool, now: Nanos) -> u32 {
        self.nodes.push(SimNode {
            id: self.next_node,
            pool,
            ready,
            alive: true,
            free: self.pools[pool as usize].allocatable,
            pods: Vec::new(),
            requested_at: now,
        });
        self.next_node += 1;
        (self.nodes.len() - 1) as u32
    }

    /// First fit on a ready node of the pod's pool.
    fn place(&mut self, pod: u32) -> Option<u32> {
        let svc =
            &self.services[self.by_station[self.pods[pod as usize].service as usize] as usize];
        let (pool, req) = (svc.pool, svc.requests);
        let node = self
            .nodes
            .iter()
            .position(|n| n.alive && n.ready && n.pool == pool && req.fits_in(n.free))?;
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

    fn view(&self, now: Nanos) -> (Vec<Node>, Vec<PendingPod>) {
        let nodes = self
            .nodes
            .iter()
            .filter(|n| n.alive)
            .map(|n| Node {
                id: n.id,
                pool: n.pool as usize,
                status: if n.ready {
                    NodeStatus::Ready
                } else {
                    NodeStatus::Provisioning {
                        requested_at: dur(n.requested_at),
                    }
                },
                pods: n
                    .pods
                    .iter()
                    .map(|p| PlacedPod {
                        requests: self.services
                            [self.by_station[self.pods[*p as usize].service as usize] as usize]
                            .requests,
                        movable: true,
                    })
                    .collect(),
            })
            .collect();
        let pending = self
            .pods
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match p.state {
                PodState::Pending { since } => {
                    let svc = &self.services[self.by_station[p.service as usize] as usize];
                    Some(PendingPod {
                        id: i as u64,
                        requests: svc.requests,
                        priority: 0,
                        pool: Some(svc.pool as usize),
                        unschedulable_since: dur(since.min(now)),
                    })
                }
                _ => None,
            })
            .collect();
        (nodes, pending)
    }
}

impl Replication<'_> {
    /// Builds the initial cluster: each pool at its minimum size, each pod-based service's
    /// initial replicas placed at once and ready (a run starts from a warm cluster). Replicas
    /// that do not fit stay Pending and their station starts with fewer replicas.
    pub(crate) fn start_cluster(&mut self) {
        if self.cluster.is_empty() {
            return;
        }
        for p in 0..self.cluster.pools.len() {
            for _ in 0..self.cluster.pools[p].min_nodes {
                self.cluster.add_node(p as u32, true, 0);
            }
        }
        for s in 0..self.cluster.services.len() {
            let station = self.cluster.services[s].station;
            let initial = self.stations[station as usize].replicas.len() as u32;
            // Retire the station's replicas; each comes back when its pod is placed.
            for r in 0..initial {
                self.stations[station as usize].retire_replica(r, 0);
            }
            for _ in 0..initial {
                self.create_pod(s as u32, 0, true);
            }
            if self.cluster.services[s].hpa.is_some() {
                self.calendar
                    .schedule(0, Event::HpaSync { service: s as u32 });
            }
        }
        if self.cluster.ca.is_some() {
            self.calendar.schedule(10_000_000_000, Event::CaScan);
        }
    }

    /// A new pod of service `s`: placed now if it fits (ready at once when `warm`, after its
    /// start-up otherwise), else Pending.
    pub(crate) fn create_pod(&mut self, s: u32, now: Nanos, warm: bool) {
        let svc = &self.cluster.services[s as usize];
        let id = self.cluster.pods.len() as u32;
        self.cluster.pods.push(Pod {
            service: svc.station,
            state: PodState::Pending { since: now },
            node: u32::MAX,
            last_area: 0.0,
        });
        self.cluster.services[s as usize].pods.push(id);
        self.try_schedule(id, now, warm);
    }

    fn try_schedule(&mut self, pod: u32, now: Nanos, warm: bool) {
        if self.cluster.place(pod).is_none() {
            return;
        }
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
        let requests = &self.requests;
        let (replica, starts) =
            self.stations[station as usize].add_replica(now, |r| requests[r as usize].enqueued);
        for s in starts {
            self.begin(station, s, now);
        }
        let p = &mut self.cluster.pods[pod as usize];
        p.state = PodState::Ready { replica };
        p.last_area = self.stations[station as usize].replicas[replica as usize].busy_area;
    }

    /// Deletes a pod: a ready one stops taking traffic (its queue goes back through
    /// balancing) and finishes what it serves.
    pub(crate) fn delete_pod(&mut self, pod: u32, now: Nanos) {
        let state = self.cluster.pods[pod as usize].state;
        let station = self.cluster.pods[pod as usize].service;
        if let PodState::Ready { replica } = state {
            let queued = self.stations[station as usize].retire_replica(replica, now);
            for r in queued {
                if let Some(start) = self.stations[station as usize].arrive(r, now) {
                    self.begin(station, start, now);
                }
            }
        }
        self.cluster.unplace(pod);
        self.cluster.pods[pod as usize].state = PodState::Gone;
        let svc = self.cluster.by_station[station as usize];
        self.cluster.services[svc as usize]
            .pods
            .retain(|p| *p != pod);
    }

    /// One HPA sync of pod-based service `s`: CPU per pod is its request x the share of its
    /// servers busy over the last sync period (a fully busy pod uses its whole request);
    /// memory is taken as half the request (invented: no memory model yet).
    pub(crate) fn hpa_sync(&mut self, s: u32, now: Nanos) {
        let period = self.cluster.sync_period as f64;
        let station = self.cluster.services[s as usize].station as usize;
        let (cpu_req, mem_req) = {
            let r = self.cluster.services[s as usize].requests;
            (r.cpu_milli, r.memory_bytes)
        };
        let conc = f64::from(self.cluster.services[s as usize].concurrency);
        let mut cpu = Vec::new();
        let mut mem = Vec::new();
        let pods = self.cluster.services[s as usize].pods.clone();
        for pod in &pods {
            let p = &mut self.cluster.pods[*pod as usize];
            let (class, value) = match p.state {
                PodState::Ready { replica } => {
                    let rep = &self.stations[station].replicas[replica as usize];
                    let area = rep.busy_area_at(now);
                    let util = ((area - p.last_area) / (period * conc)).clamp(0.0, 1.0);
                    p.last_area = area;
                    (
                        PodClass::Ready,
                        Some((cpu_req as f64 * util).round() as i64),
                    )
                }
                _ => (PodClass::Unready, None),
            };
            cpu.push(PodSample {
                name: format!("pod-{pod}"),
                class,
                request_milli: Some(cpu_req),
                value_milli: value,
            });
            mem.push(PodSample {
                name: format!("pod-{pod}"),
                class,
                request_milli: Some(mem_req.saturating_mul(1000)),
                value_milli: value.map(|_| mem_req.saturating_mul(500)),
            });
        }
        let current = pods.len() as i32;
        let Some(hpa) = self.cluster.services[s as usize].hpa.as_mut() else {
            return;
        };
        let observed: Vec<MetricObservation> = hpa
            .hpa
            .metrics
            .iter()
            .map(|m| match m {
                MetricKind::Resource { name, .. } if name == "cpu" => MetricObservation::PerPod {
                    pods: cpu.clone(),
                    stray: Vec::new(),
                },
                MetricKind::Resource { name, .. } if name == "memory" => {
                    MetricObservation::PerPod {
                        pods: mem.clone(),
                        stray: Vec::new(),
                    }
                }
                other => MetricObservation::Unavailable(format!(
                    "metric {other:?} is not modelled by the simulator"
                )),
            })
            .collect();
        let outcome = hpa.reconcile(
            dur(now),
            Scale {
                spec_replicas: current,
                status_replicas: current,
            },
            &observed,
        );
        let desired = outcome.replicas.max(0) as usize;
        if desired > pods.len() {
            for _ in pods.len()..desired {
                self.create_pod(s, now, false);
            }
        } else if desired < pods.len() {
            // ReplicaSet deletion order: unscheduled, then not ready, then ready (newest first).
            let mut order = pods.clone();
            order.sort_by_key(|p| {
                let rank = match self.cluster.pods[*p as usize].state {
                    PodState::Pending { .. } => 0,
                    PodState::Starting => 1,
                    _ => 2,
                };
                (rank, std::cmp::Reverse(*p))
            });
            for p in order.into_iter().take(pods.len() - desired) {
                self.delete_pod(p, now);
            }
        }
        if now + self.cluster.sync_period <= self.model.horizon {
            self.calendar.schedule(
                now + self.cluster.sync_period,
                Event::HpaSync { service: s },
            );
        }
    }

    /// One cluster-autoscaler scan.
    pub(crate) fn ca_scan(&mut self, now: Nanos) {
        self.cluster.account(now);
        let (nodes, pending) = self.cluster.view(now);
        let draw = self.cluster.rng.next_u64();
        let pools = self.cluster.pools.clone();
        let Some(ca) = self.cluster.ca.as_mut() else {
            return;
        };
        let actions = ca.step(
            dur(now),
            ClusterView {
                pools: &pools,
                nodes: &nodes,
                pending: &pending,
            },
            draw,
        );
        for a in actions {
            match a {
                Action::ScaleUp { pool, nodes } => {
                    for _ in 0..nodes {
                        let n = self.cluster.add_node(pool as u32, false, now);
                        let t = self.cluster.provision.sample(&mut self.cluster.rng);
                        self.calendar
                            .schedule(now + (t * 1e9) as Nanos, Event::NodeReady { node: n });
                    }
                }
                Action::RemoveUnregistered { node } | Action::Drain { node } => {
                    self.remove_node(node, now)
                }
                Action::DeleteEmpty { nodes } => {
                    for n in nodes {
                        self.remove_node(n, now);
                    }
                }
            }
        }
        if now + 10_000_000_000 <= self.model.horizon {
            self.calendar.schedule(now + 10_000_000_000, Event::CaScan);
        }
    }

    /// A node leaves (scale-down drain, or lost): its pods are deleted and replaced (the
    /// ReplicaSet creates new ones, Pending until they fit somewhere).
    pub(crate) fn remove_node(&mut self, id: u64, now: Nanos) {
        self.cluster.account(now);
        let Some(idx) = self
            .cluster
            .nodes
            .iter()
            .position(|n| n.id == id && n.alive)
        else {
            return;
        };
        let pods = self.cluster.nodes[idx].pods.clone();
        self.cluster.nodes[idx].alive = false;
        for p in pods {
            let station = self.cluster.pods[p as usize].service;
            self.delete_pod(p, now);
            let s = self.cluster.by_station[station as usize];
            self.create_pod(s, now, false);
        }
    }

    pub(crate) fn node_ready(&mut self, node: u32, now: Nanos) {
        self.cluster.account(now);
        if !self.cluster.nodes[node as usize].alive {
            return;
        }
        self.cluster.nodes[node as usize].ready = true;
        let pending: Vec<u32> = (0..self.cluster.pods.len() as u32)
            .filter(|p| {
                matches!(
                    self.cluster.pods[*p as usize].state,
                    PodState::Pending { .. }
                )
            })
            .collect();
        for p in pending {
            self.try_schedule(p, now, false);
        }
    }

    /// Samples for the timeline: ready replicas and pending pods per service, nodes per pool.
    pub(crate) fn cluster_samples(&self) -> Vec<f64> {
        let mut out = Vec::new();
        for s in &self.cluster.services {
            let ready = s
                .pods
                .iter()
                .filter(|p| {
                    matches!(
                        self.cluster.pods[**p as usize].state,
                        PodState::Ready { .. }
                    )
                })
                .count();
            let pending = s
                .pods
                .iter()
                .filter(|p| {
                    matches!(
                        self.cluster.pods[**p as usize].state,
                        PodState::Pending { .. }
                    )
                })
                .count();
            out.push(ready as f64);
            out.push(pending as f64);
        }
        for p in 0..self.cluster.pools.len() {
            out.push(f64::from(self.cluster.live_nodes(p as u32)));
        }
        out
    }
}
