//! The Kubernetes side of a replication: node pools and their nodes, pods placed on nodes by
//! their requests (first fit: a pod that fits nowhere stays Pending), pod start-up before a
//! replica takes traffic, and the two controllers that move them — the HorizontalPodAutoscaler
//! (`k8s::hpa`, fed by the metrics pipeline of [`crate::metrics_pipeline`]: metrics-server
//! for CPU and memory, Prometheus and its adapter for custom metrics) and the cluster
//! autoscaler (`k8s::cluster_autoscaler`). It also owns the link between a Kafka consumer
//! group and the pods of its consumer service: the group's active consumers follow the ready
//! pods (`min(partitions, ready pods x concurrency)`), and the group's work counts as those
//! pods' CPU and memory. Events here are rare (syncs every 15 s, scans
//! every 10 s, readings every 15 s), so this module may allocate; the request path only calls
//! [`Cluster::observe`], which counts into a fixed array.

use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use crate::metrics_pipeline::{
    histogram_quantile, increase, resource_sample, KubeletReading, LatencyCounters, PromReading,
    Ring,
};
use crate::model::StationSpec;
use k8s::cluster_autoscaler::{
    Action, CaConfig, ClusterAutoscaler, ClusterView, Node, NodePool, NodeStatus, PendingPod,
    PlacedPod, Resources,
};
use k8s::hpa::controller::{Autoscaler, ControllerConfig, MetricObservation, Scale};
use k8s::hpa::pods::{self, ConditionStatus, PodPhase, ReadyCondition, SampleTime};
use k8s::hpa::replica_calculator::{PodCount, PodSample};
use k8s::hpa::spec::{MetricKind, ResourceTarget, ValueTarget};
use models::metrics_pipeline::{CustomMetric, MemoryUsage};
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
    /// When the pod was placed (its container starts: `status.startTime`) and became ready
    /// (the Ready condition's last transition); `Nanos::MAX` until then.
    placed_at: Nanos,
    ready_at: Nanos,
    /// The replica's busy area when the pod took it (replicas are reused by later pods).
    base_area: f64,
    /// What the kubelet read of the pod (metrics-server's source).
    kubelet: Ring<KubeletReading>,
    /// What Prometheus scraped of the pod (only for services whose HPA has custom metrics).
    scrapes: Ring<PromReading>,
    /// The pod's share of its service's consumer-group work: busy consumer-nanoseconds so far,
    /// and consumer threads busy at the last kubelet reading (see [`ServicePods::groups`]).
    group_area: f64,
    group_in_flight: u32,
}

/// A pod's sample for one metric: when it was taken (for the CPU readiness filter) and its
/// value in milli-units.
type PodValue<'a> = dyn Fn(&Pod) -> (Option<SampleTime>, Option<i64>) + 'a;

/// Where one metric of a service's HPA comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
enum MetricSource {
    Cpu,
    Memory,
    /// A Pods metric, per pod.
    PodsCustom(CustomMetric),
    /// An Object or External metric: the service's value (summed / merged over its pods).
    ServiceCustom(CustomMetric, bool),
    Unserved,
}

/// What one HPA sync saw and decided (for tests and for explaining a run).
#[derive(Clone, Debug, PartialEq)]
pub struct HpaSyncRecord {
    pub time_s: f64,
    /// Index into the cluster's services.
    pub service: u32,
    /// `spec.replicas` before the sync.
    pub current: i32,
    /// Per metric of the spec: the value the HPA compared with its target (utilization
    /// percent for a Utilization target, else the average or the value, in the metric's
    /// units), `None` when it had no usable sample.
    pub metrics: Vec<Option<f64>>,
    /// Per metric: the pods whose sample counted (ready, with a sample); fewer than
    /// `current` means the controller's missing/unready adjustment applied.
    pub samples: Vec<usize>,
    /// The count the sync chose.
    pub desired: i32,
}

/// The metrics pipeline's settings, in simulator time.
#[derive(Clone, Debug)]
pub struct PipelineConfig {
    pub resolution: Nanos,
    pub kubelet_lag: Nanos,
    pub scrape_interval: Nanos,
    pub rate_window: Nanos,
    pub bounds: Vec<Nanos>,
    pub bounds_s: Vec<f64>,
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
    /// Memory working set: bytes at rest, bytes per request in the pod.
    memory: (u64, u64),
    sources: Vec<MetricSource>,
    /// Whether Prometheus scrapes this service's pods (its HPA has custom metrics).
    scraped: bool,
    /// Requests waiting at the service at the last scrape (an Object/External backlog).
    backlog_at_scrape: u32,
    /// The largest metric/target ratio of the last sync (1 = on target), for the timeline.
    pub last_ratio: f64,
    /// The Kafka consumer groups whose consumer threads run in this service's pods: (station,
    /// the topic's partitions). Their active consumers follow the ready pods, and their busy
    /// time counts as the pods' CPU (shared out evenly: each thread runs in some pod).
    pub groups: Vec<(u32, u32)>,
    /// The groups' busy consumer-nanoseconds at the last kubelet reading.
    groups_area_read: f64,
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
    pub pipeline: PipelineConfig,
    /// Per station, per replica: cumulative request counts by latency bucket (empty for the
    /// stations no HPA reads custom metrics of).
    latency: Vec<Vec<LatencyCounters>>,
    pub syncs: Vec<HpaSyncRecord>,
    /// The initial pods are being placed: consumer groups keep their compiled counts until
    /// every initial pod is in.
    starting: bool,
}

fn dur(n: Nanos) -> Duration {
    Duration(n)
}

impl MetricSource {
    fn of(m: &MetricKind) -> MetricSource {
        match m {
            MetricKind::Resource { name, .. } if name == "cpu" => MetricSource::Cpu,
            MetricKind::Resource { name, .. } if name == "memory" => MetricSource::Memory,
            MetricKind::Resource { .. } => MetricSource::Unserved,
            MetricKind::Pods { metric, .. } => CustomMetric::from_name(metric)
                .map_or(MetricSource::Unserved, MetricSource::PodsCustom),
            MetricKind::Object { metric, .. } => CustomMetric::from_name(metric)
                .map_or(MetricSource::Unserved, |c| {
                    MetricSource::ServiceCustom(c, false)
                }),
            MetricKind::External { metric, .. } => CustomMetric::from_name(metric)
                .map_or(MetricSource::Unserved, |c| {
                    MetricSource::ServiceCustom(c, true)
                }),
        }
    }
}

impl Cluster {
    /// Pods of `service` that are ready (take traffic, run consumers).
    pub(crate) fn ready_pods(&self, service: &ServicePods) -> usize {
        service
            .pods
            .iter()
            .filter(|p| matches!(self.pods[**p as usize].state, PodState::Ready { .. }))
            .count()
    }

    pub fn new(s: &Scenario, stations: &[StationSpec], rng: RandomStream) -> Cluster {
        let station_count = stations.len();
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
            let sources: Vec<MetricSource> = hpa
                .as_ref()
                .map(|a| a.hpa.metrics.iter().map(MetricSource::of).collect())
                .unwrap_or_default();
            let scraped = sources.iter().any(|m| {
                matches!(
                    m,
                    MetricSource::PodsCustom(_) | MetricSource::ServiceCustom(..)
                )
            });
            let mem_request = requests.memory_bytes.max(0) as u64;
            let memory = pod
                .memory_usage
                .as_ref()
                .and_then(|m| m.bytes().ok())
                .unwrap_or_else(|| MemoryUsage::default_bytes(mem_request, svc.concurrency));
            by_station[i] = services.len() as u32;
            services.push(ServicePods {
                station: i as u32,
                pool: pool as u32,
                requests,
                startup: pod.startup.0,
                concurrency: svc.concurrency,
                hpa,
                pods: Vec::new(),
                memory,
                sources,
                scraped,
                backlog_at_scrape: 0,
                last_ratio: f64::NAN,
                groups: Vec::new(),
                groups_area_read: 0.0,
            });
        }
        for (i, st) in stations.iter().enumerate() {
            let Some(svc) = by_station.get(st.consumer as usize).copied() else {
                continue;
            };
            if svc != u32::MAX {
                let partitions = st.partitions.unwrap_or(u32::MAX);
                services[svc as usize].groups.push((i as u32, partitions));
            }
        }
        let ca = (!s.node_pools.is_empty() && s.node_pools.values().any(|p| p.max > p.min))
            .then(|| ClusterAutoscaler::new(CaConfig::default()));
        let mp = &s.metrics_pipeline;
        let pipeline = PipelineConfig {
            resolution: mp.resolution.0.max(1),
            kubelet_lag: mp.kubelet_lag.0,
            scrape_interval: mp.scrape_interval.0.max(1),
            rate_window: mp.rate_window.0,
            bounds: mp.latency_buckets.iter().map(|d| d.0).collect(),
            bounds_s: mp.latency_buckets.iter().map(|d| d.as_secs_f64()).collect(),
        };
        let mut latency = vec![Vec::new(); station_count];
        for svc in services.iter().filter(|s| s.scraped) {
            latency[svc.station as usize] = vec![LatencyCounters::default(); 4];
        }
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
            pipeline,
            latency,
            syncs: Vec::new(),
            starting: false,
        }
    }

    /// Counts a request that spent `sojourn` at `replica` of `station` (queue + service): the
    /// pod's request-duration histogram. Does nothing for stations no HPA scrapes.
    #[inline]
    pub fn observe(&mut self, station: u32, replica: u32, sojourn: Nanos) {
        if let Some(c) = self
            .latency
            .get_mut(station as usize)
            .and_then(|v| v.get_mut(replica as usize))
        {
            c.observe(&self.pipeline.bounds, sojourn);
        }
    }

    /// Whether any HPA needs metrics-server readings / Prometheus scrapes.
    fn needs_readings(&self) -> (bool, bool) {
        let hpa = self.services.iter().any(|s| s.hpa.is_some());
        let scraped = self.services.iter().any(|s| s.scraped && s.hpa.is_some());
        (hpa, scraped)
    }

    /// The timeline series this module samples, in [`Replication::cluster_samples`] order.
    pub fn series_names(&self, station_name: impl Fn(u32) -> String) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.services {
            let name = station_name(c.station);
            out.push(format!("replicas/{name}"));
            out.push(format!("pending/{name}"));
        }
        for p in &self.pools {
            out.push(format!("nodes/{}", p.name));
        }
        for c in self.services.iter().filter(|c| c.hpa.is_some()) {
            out.push(format!("hpa_ratio/{}", station_name(c.station)));
        }
        for (g, _) in self.services.iter().flat_map(|c| &c.groups) {
            let name = station_name(*g);
            out.push(format!(
                "consumers/{}",
                name.strip_prefix("topic:").unwrap_or(&name)
            ));
        }
        out
    }

    /// Kubelet readings kept per pod: the newest published one and the one before it, plus the
    /// readings taken during the lag (which is under 3 resolutions).
    fn kubelet_ring(&self) -> usize {
        2 + (self.pipeline.kubelet_lag / self.pipeline.resolution) as usize + 1
    }

    /// Prometheus scrapes kept per pod: one window's worth and one more.
    fn scrape_ring(&self, scraped: bool) -> usize {
        if scraped {
            (self.pipeline.rate_window / self.pipeline.scrape_interval) as usize + 2
        } else {
            1
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
        self.cluster.starting = true;
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
        self.cluster.starting = false;
        for s in 0..self.cluster.services.len() as u32 {
            self.rebalance_consumers(s, 0);
        }
        if self.cluster.ca.is_some() {
            self.calendar.schedule(10_000_000_000, Event::CaScan);
        }
        let (kubelet, scrape) = self.cluster.needs_readings();
        let p = &self.cluster.pipeline;
        if kubelet {
            // Readings at k x resolution - lag (k >= 1), the first that is not negative.
            let mut first = p.resolution as i128 - p.kubelet_lag as i128;
            while first < 0 {
                first += p.resolution as i128;
            }
            self.calendar.schedule(first as Nanos, Event::KubeletRead);
        }
        if scrape {
            self.calendar
                .schedule(p.scrape_interval, Event::PrometheusScrape);
        }
    }

    /// The kubelet reads every running pod's counters (what metrics-server scrapes
    /// `kubelet_lag` later).
    pub(crate) fn kubelet_read(&mut self, now: Nanos) {
        for s in 0..self.cluster.services.len() {
            self.share_group_work(s, now);
        }
        for pod in 0..self.cluster.pods.len() {
            let p = &self.cluster.pods[pod];
            let (cpu_area, in_flight) = match p.state {
                PodState::Starting => (0.0, 0),
                PodState::Ready { replica } => {
                    let rep = &self.stations[p.service as usize].replicas[replica as usize];
                    // Queued requests wait in the listen backlog (or the proxy's buffer) and
                    // hold next to no memory of the app: only those in service count.
                    (
                        rep.busy_area_at(now) - p.base_area + p.group_area,
                        rep.busy + p.group_in_flight,
                    )
                }
                _ => continue,
            };
            self.cluster.pods[pod].kubelet.push(KubeletReading {
                t: now,
                cpu_area,
                in_flight,
            });
        }
        let next = now + self.cluster.pipeline.resolution;
        if next <= self.model.horizon {
            self.calendar.schedule(next, Event::KubeletRead);
        }
    }

    /// Shares out the work service `s`'s consumer groups did since the last reading over its
    /// ready pods (the consumer threads are spread over them by the group's partition
    /// assignment, which the model does not track thread by thread), and the threads busy now.
    fn share_group_work(&mut self, s: usize, now: Nanos) {
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
    pub(crate) fn rebalance_consumers(&mut self, s: u32, now: Nanos) {
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
                let queued = self.stations[st].retire_replica(r, now);
                for q in queued {
                    if let Some(start) = self.stations[st].arrive(q, now) {
                        self.begin(g, start, now);
                    }
                }
            }
        }
    }

    /// Prometheus scrapes the ready pods of the services whose HPA reads custom metrics.
    pub(crate) fn prometheus_scrape(&mut self, now: Nanos) {
        for s in 0..self.cluster.services.len() {
            let svc = &self.cluster.services[s];
            if !svc.scraped {
                continue;
            }
            let station = svc.station as usize;
            self.cluster.services[s].backlog_at_scrape = self.stations[station].queued() as u32;
            for i in 0..self.cluster.services[s].pods.len() {
                let pod = self.cluster.services[s].pods[i] as usize;
                let PodState::Ready { replica } = self.cluster.pods[pod].state else {
                    continue;
                };
                let latency = self.cluster.latency[station]
                    .get(replica as usize)
                    .copied()
                    .unwrap_or_default();
                let queued = self.stations[station].replicas[replica as usize]
                    .queue
                    .len() as u32;
                self.cluster.pods[pod].scrapes.push(PromReading {
                    t: now,
                    latency,
                    queued,
                });
            }
        }
        let next = now + self.cluster.pipeline.scrape_interval;
        if next <= self.model.horizon {
            self.calendar.schedule(next, Event::PrometheusScrape);
        }
    }

    /// A new pod of service `s`: placed now if it fits (ready at once when `warm`, after its
    /// start-up otherwise), else Pending.
    pub(crate) fn create_pod(&mut self, s: u32, now: Nanos, warm: bool) {
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

    fn try_schedule(&mut self, pod: u32, now: Nanos, warm: bool) {
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
        p.base_area = self.stations[station as usize].replicas[replica as usize].busy_area_at(now);
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
        if matches!(state, PodState::Ready { .. }) {
            self.rebalance_consumers(svc, now);
        }
    }

    /// What the metrics APIs return for metric `m` of service `s` at `now`, and the value the
    /// HPA compares with its target (see [`HpaSyncRecord::metrics`]).
    fn observe_metric(
        &self,
        s: usize,
        m: usize,
        now: Nanos,
    ) -> (MetricObservation, (Option<f64>, usize)) {
        let svc = &self.cluster.services[s];
        let cfg = &self.cluster.pipeline;
        let readiness = k8s::hpa::pods::CpuReadiness::default();
        let source = svc.sources[m];
        let kind = svc.hpa.as_ref().map(|h| &h.hpa.metrics[m]);
        let (cpu_req, mem_req) = (svc.requests.cpu_milli, svc.requests.memory_bytes);
        let conc = f64::from(svc.concurrency.max(1));
        let ready_count = self.cluster.ready_pods(svc);
        let pod_count = PodCount {
            listed: svc.pods.len(),
            running_and_ready: ready_count,
        };
        // The pod as `groupPods` sees it.
        let state_of = |p: &Pod| {
            let running = !matches!(p.state, PodState::Pending { .. });
            let ready = matches!(p.state, PodState::Ready { .. });
            pods::PodState {
                phase: if running {
                    PodPhase::Running
                } else {
                    PodPhase::Pending
                },
                deleting: false,
                start_time: running.then_some(dur(p.placed_at)),
                ready: running.then_some(ReadyCondition {
                    status: if ready {
                        ConditionStatus::True
                    } else {
                        ConditionStatus::False
                    },
                    last_transition: dur(if ready { p.ready_at } else { p.placed_at }),
                }),
            }
        };
        // The per-pod value of a custom metric from the pod's scrapes.
        let custom = |c: CustomMetric, ring: &Ring<PromReading>| -> Option<f64> {
            let (inc, span, last) = increase(ring, now, cfg.rate_window)?;
            let v = match c {
                CustomMetric::LatencyQuantile {
                    quantile,
                    per_second,
                } => histogram_quantile(quantile, &cfg.bounds_s, &inc.counts) * per_second,
                CustomMetric::RequestRate => inc.total() as f64 / (span as f64 / 1e9),
                CustomMetric::Backlog => f64::from(last.queued),
            };
            v.is_finite().then_some(v)
        };
        let per_pod = |value: &PodValue, request: Option<i64>, is_cpu: bool| {
            svc.pods
                .iter()
                .map(|id| {
                    let p = &self.cluster.pods[*id as usize];
                    let (time, v) = value(p);
                    let class = pods::classify(&state_of(p), time, is_cpu, readiness, dur(now));
                    PodSample {
                        name: format!("pod-{id}"),
                        class,
                        request_milli: request,
                        value_milli: v,
                    }
                })
                .collect::<Vec<_>>()
        };
        let observed = match source {
            MetricSource::Cpu | MetricSource::Memory => {
                let is_cpu = source == MetricSource::Cpu;
                let (base, per) = svc.memory;
                let samples = per_pod(
                    &|p: &Pod| match resource_sample(&p.kubelet, now, cfg.kubelet_lag) {
                        None => (None, None),
                        Some(r) => {
                            let v = if is_cpu {
                                r.busy_servers / conc * cpu_req as f64
                            } else {
                                (base + per * u64::from(r.in_flight)) as f64 * 1000.0
                            };
                            (
                                Some(SampleTime {
                                    timestamp: dur(r.timestamp),
                                    window: dur(r.window),
                                }),
                                Some(v.round() as i64),
                            )
                        }
                    },
                    Some(if is_cpu {
                        cpu_req
                    } else {
                        mem_req.saturating_mul(1000)
                    }),
                    is_cpu,
                );
                MetricObservation::PerPod {
                    pods: samples,
                    stray: Vec::new(),
                }
            }
            MetricSource::PodsCustom(c) => {
                let samples = per_pod(
                    &|p: &Pod| match custom(c, &p.scrapes) {
                        None => (None, None),
                        Some(v) => (
                            // Custom metrics skip the CPU readiness filter: the time is unused.
                            Some(SampleTime {
                                timestamp: dur(now),
                                window: dur(cfg.rate_window),
                            }),
                            Some((v * 1000.0).round() as i64),
                        ),
                    },
                    None,
                    false,
                );
                MetricObservation::PerPod {
                    pods: samples,
                    stray: Vec::new(),
                }
            }
            MetricSource::ServiceCustom(c, external) => {
                let value = match c {
                    CustomMetric::Backlog => Some(f64::from(svc.backlog_at_scrape)),
                    CustomMetric::RequestRate => {
                        let rates: Vec<f64> = svc
                            .pods
                            .iter()
                            .filter_map(|p| custom(c, &self.cluster.pods[*p as usize].scrapes))
                            .collect();
                        (!rates.is_empty()).then(|| rates.iter().sum())
                    }
                    CustomMetric::LatencyQuantile {
                        quantile,
                        per_second,
                    } => {
                        // sum by (le) over the service's pods, then the quantile.
                        let mut sum = LatencyCounters::default();
                        for p in &svc.pods {
                            if let Some((inc, _, _)) = increase(
                                &self.cluster.pods[*p as usize].scrapes,
                                now,
                                cfg.rate_window,
                            ) {
                                sum.add(&inc);
                            }
                        }
                        let q =
                            histogram_quantile(quantile, &cfg.bounds_s, &sum.counts) * per_second;
                        q.is_finite().then_some(q)
                    }
                };
                match value {
                    None => MetricObservation::Unavailable("no samples in the rate window".into()),
                    Some(v) => {
                        let milli = (v * 1000.0).round() as i64;
                        if external {
                            MetricObservation::External {
                                series_milli: vec![milli],
                                pods: pod_count,
                            }
                        } else {
                            MetricObservation::Object {
                                value_milli: milli,
                                pods: pod_count,
                            }
                        }
                    }
                }
            }
            MetricSource::Unserved => MetricObservation::Unavailable(format!(
                "metric {:?} is not served by the simulated metrics pipeline",
                kind
            )),
        };
        let shown = kind.map_or((None, 0), |k| shown_value(k, &observed));
        (observed, shown)
    }

    /// One HPA sync of pod-based service `s`: every metric of its spec read as the metrics
    /// APIs would serve it now (see [`crate::metrics_pipeline`]), then the controller of
    /// `k8s::hpa`, then pods created (Pending until placed) or deleted.
    pub(crate) fn hpa_sync(&mut self, s: u32, now: Nanos) {
        let n_metrics = self.cluster.services[s as usize]
            .hpa
            .as_ref()
            .map_or(0, |h| h.hpa.metrics.len());
        let mut observed = Vec::with_capacity(n_metrics);
        let mut shown = Vec::with_capacity(n_metrics);
        let mut samples = Vec::with_capacity(n_metrics);
        for m in 0..n_metrics {
            let (o, (v, n)) = self.observe_metric(s as usize, m, now);
            observed.push(o);
            shown.push(v);
            samples.push(n);
        }
        let pods = self.cluster.services[s as usize].pods.clone();
        let current = pods.len() as i32;
        let Some(hpa) = self.cluster.services[s as usize].hpa.as_mut() else {
            return;
        };
        let ratio = hpa
            .hpa
            .metrics
            .iter()
            .zip(&shown)
            .filter_map(|(k, v)| v.and_then(|v| target_ratio(k, v, current)))
            .fold(f64::NAN, f64::max);
        let outcome = hpa.reconcile(
            dur(now),
            Scale {
                spec_replicas: current,
                status_replicas: current,
            },
            &observed,
        );
        let desired = outcome.replicas.max(0) as usize;
        self.cluster.services[s as usize].last_ratio = ratio;
        self.cluster.syncs.push(HpaSyncRecord {
            time_s: now as f64 / 1e9,
            service: s,
            current,
            metrics: shown,
            samples,
            desired: outcome.replicas,
        });
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
            let ready = self.cluster.ready_pods(s);
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
        for s in self.cluster.services.iter().filter(|s| s.hpa.is_some()) {
            out.push(s.last_ratio);
        }
        for (g, _) in self.cluster.services.iter().flat_map(|c| &c.groups) {
            out.push(f64::from(self.stations[*g as usize].ready_replicas()));
        }
        out
    }
}

/// The value an HPA compares with the target of `kind`, from what it observed: the
/// utilization percent of the ready pods with samples (Utilization), their average
/// (AverageValue, Pods), or the value (Object, External), in the metric's units.
/// Also returns how many pods' samples counted (0 for Object and External).
fn shown_value(kind: &MetricKind, o: &MetricObservation) -> (Option<f64>, usize) {
    let v = match o {
        MetricObservation::PerPod { pods, .. } => {
            let ready: Vec<&PodSample> = pods
                .iter()
                .filter(|p| p.class == k8s::hpa::pods::PodClass::Ready && p.value_milli.is_some())
                .collect();
            if ready.is_empty() {
                return (None, 0);
            }
            let sum: i64 = ready.iter().filter_map(|p| p.value_milli).sum();
            let v = match kind {
                MetricKind::Resource {
                    target: ResourceTarget::Utilization(_),
                    ..
                } => {
                    let req: i64 = ready.iter().filter_map(|p| p.request_milli).sum();
                    (req > 0).then(|| 100.0 * sum as f64 / req as f64)
                }
                _ => Some(sum as f64 / ready.len() as f64 / 1000.0),
            };
            return (v, ready.len());
        }
        MetricObservation::Object { value_milli, .. } => Some(*value_milli as f64 / 1000.0),
        MetricObservation::External { series_milli, .. } => {
            Some(series_milli.iter().sum::<i64>() as f64 / 1000.0)
        }
        MetricObservation::Unavailable(_) => None,
    };
    (v, 0)
}

/// `value / target` (1 = on target) for the timeline's `hpa_ratio` series.
fn target_ratio(kind: &MetricKind, value: f64, current: i32) -> Option<f64> {
    let r = match kind {
        MetricKind::Resource { target, .. } => match target {
            ResourceTarget::Utilization(t) => value / f64::from(*t),
            ResourceTarget::AverageValue(t) => value * 1000.0 / *t as f64,
        },
        MetricKind::Pods {
            target_average_milli,
            ..
        } => value * 1000.0 / *target_average_milli as f64,
        MetricKind::Object { target, .. } | MetricKind::External { target, .. } => match target {
            ValueTarget::Value(t) => value * 1000.0 / *t as f64,
            ValueTarget::AverageValue(t) => {
                value * 1000.0 / (*t as f64 * f64::from(current.max(1)))
            }
        },
    };
    r.is_finite().then_some(r)
}
