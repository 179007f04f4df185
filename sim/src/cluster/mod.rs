//! The Kubernetes cluster of a replication: node pools and their nodes, the pods of each
//! pod-based service (`ServicePods`), and the state every controller below reads and moves.
//! A replication starts from a warm cluster (each pool at its minimum, the initial pods placed
//! and ready). The controllers live in the submodules, one concept each:
//!
//! - [`pods`]: a pod's lifecycle (ReplicaSet create/delete, kube-scheduler first fit, start-up
//!   until Ready), and the faults that hit pods;
//! - [`metrics_api`]: what the HPA is fed (kubelet readings for metrics-server, Prometheus
//!   scrapes for custom metrics) and how one metric is read at a sync;
//! - [`autoscaling`]: the HorizontalPodAutoscaler sync (`k8s::hpa`) and the cluster
//!   autoscaler's scan (`k8s::cluster_autoscaler`), with nodes coming and going;
//! - [`consumer_groups`]: the Kafka consumer groups whose consumers run in a service's pods.
//!
//! Cluster events are rare (syncs every 15 s, scans every 10 s, readings every 15 s), so this
//! module may allocate; the request path only calls [`Cluster::observe`], which counts into a
//! fixed array.

mod autoscaling;
mod consumer_groups;
mod metrics_api;
mod pods;

pub use autoscaling::HpaSyncRecord;

use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use crate::metrics_pipeline::{KubeletReading, LatencyCounters, PromReading, Ring};
use crate::model::StationSpec;
use k8s::cluster_autoscaler::{CaConfig, ClusterAutoscaler, NodePool, Resources};
use k8s::hpa::controller::{Autoscaler, ControllerConfig};
use metrics_api::{MetricSource, PipelineConfig};
use models::metrics_pipeline::MemoryUsage;
use models::platform::{parse_cpu_milli, parse_memory_bytes, PodPlacement};
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
    service: u32,
    state: PodState,
    node: u32,
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

#[derive(Clone, Debug)]
pub struct SimNode {
    id: u64,
    pool: u32,
    /// Index into [`Cluster::zones`].
    zone: u32,
    ready: bool,
    alive: bool,
    /// Under a spot preemption notice: cordoned (no pod is placed on it, the cluster
    /// autoscaler no longer counts it) until the VM stops.
    terminating: bool,
    free: Resources,
    pods: Vec<u32>,
    requested_at: Nanos,
}

/// A service that runs as pods.
pub struct ServicePods {
    station: u32,
    pool: u32,
    requests: Resources,
    startup: Nanos,
    concurrency: u32,
    hpa: Option<Autoscaler>,
    pods: Vec<u32>,
    /// Memory working set: bytes at rest, bytes per request in the pod.
    memory: (u64, u64),
    sources: Vec<MetricSource>,
    /// Whether Prometheus scrapes this service's pods (its HPA has custom metrics).
    scraped: bool,
    /// Requests waiting at the service at the last scrape (an Object/External backlog).
    backlog_at_scrape: u32,
    /// The largest metric/target ratio of the last sync (1 = on target), for the timeline.
    last_ratio: f64,
    /// The Kafka consumer groups whose consumer threads run in this service's pods: (station,
    /// the topic's partitions). Their active consumers follow the ready pods, and their busy
    /// time counts as the pods' CPU (shared out evenly: each thread runs in some pod).
    groups: Vec<(u32, u32)>,
    /// The groups' busy consumer-nanoseconds at the last kubelet reading.
    groups_area_read: f64,
    /// A rollout promoted the version that replaces this one: its ReplicaSet is scaled to
    /// zero and its HPA went to the new version (see [`Cluster::hand_over_hpa`]).
    retired: bool,
}

pub struct Cluster {
    pools: Vec<NodePool>,
    nodes: Vec<SimNode>,
    pods: Vec<Pod>,
    services: Vec<ServicePods>,
    /// For each station, its index in `services` (u32::MAX if not pod-based).
    by_station: Vec<u32>,
    ca: Option<ClusterAutoscaler>,
    /// Per pool: node provisioning time (request to Ready), in seconds.
    provision: Vec<Sampler>,
    /// The cluster autoscaler's scan interval.
    scan_period: Nanos,
    /// How the scheduler picks a node among those a pod fits on.
    placement: PodPlacement,
    /// Every zone the node pools name (a pool that names none is in the cluster's one unnamed
    /// zone, `""`), whether each is lost now, and per pool its zones as indices here.
    zones: Vec<String>,
    zone_down: Vec<bool>,
    pool_zones: Vec<Vec<u32>>,
    rng: RandomStream,
    next_node: u64,
    /// Node-seconds per pool, and the last time counts changed.
    node_seconds: Vec<f64>,
    /// Seconds spent at each node count, per pool (for sustained-use discounts).
    seconds_at_count: Vec<std::collections::BTreeMap<u32, f64>>,
    /// Node-seconds per pool of nodes a preemption could strike (alive, not under notice):
    /// the exposure a spot pool's preemption count is Poisson over.
    exposed_seconds: Vec<f64>,
    last_count_change: Nanos,
    sync_period: Nanos,
    pipeline: PipelineConfig,
    /// Per station, per replica: cumulative request counts by latency bucket (empty for the
    /// stations no HPA reads custom metrics of).
    latency: Vec<Vec<LatencyCounters>>,
    syncs: Vec<HpaSyncRecord>,
    /// The `hpa_ratio/` timeline series: per HPA of the scenario (named by its service), the
    /// service whose pods it scales now (the promoted version's after a rollout).
    ratio_series: Vec<u32>,
    /// The initial pods are being placed: consumer groups keep their compiled counts until
    /// every initial pod is in.
    starting: bool,
}

fn dur(n: Nanos) -> Duration {
    Duration(n)
}

impl Cluster {
    /// Pods of `service` that are ready (take traffic, run consumers).
    pub(super) fn ready_pods(&self, service: &ServicePods) -> usize {
        service
            .pods
            .iter()
            .filter(|p| matches!(self.pods[**p as usize].state, PodState::Ready { .. }))
            .count()
    }

    pub fn new(s: &Scenario, stations: &[StationSpec], rng: RandomStream) -> Cluster {
        let station_count = stations.len();
        let mut pools = Vec::new();
        let mut zones: Vec<String> = Vec::new();
        let mut pool_zones = Vec::new();
        for (name, np) in &s.node_pools {
            let m = models::machines::MachineType::lookup(&np.machine).ok();
            let (cpu, mem) = m.map_or((0.0, 0.0), |m| (m.effective_vcpus(), m.memory_gib));
            let daemonset = np.daemonset.as_ref().map_or(Resources::default(), |d| {
                Resources::new(
                    parse_cpu_milli(&d.cpu).unwrap_or(0) as i64,
                    parse_memory_bytes(&d.memory).unwrap_or(0) as i64,
                )
            });
            let named: Vec<&str> = if np.zones.is_empty() {
                vec![""]
            } else {
                np.zones.iter().map(String::as_str).collect()
            };
            pool_zones.push(
                named
                    .into_iter()
                    .map(|z| match zones.iter().position(|k| k == z) {
                        Some(i) => i as u32,
                        None => {
                            zones.push(z.to_string());
                            (zones.len() - 1) as u32
                        }
                    })
                    .collect::<Vec<u32>>(),
            );
            pools.push(NodePool {
                name: name.clone(),
                allocatable: Resources::new(
                    (cpu * 1000.0 * np.allocatable) as i64,
                    (mem * 1024.0 * 1024.0 * 1024.0 * np.allocatable) as i64,
                )
                .with_gpus(i64::from(np.gpus_per_node)),
                daemonset,
                min_nodes: np.min,
                max_nodes: np.max,
                price_per_hour: 0.0,
                priority: 0,
            });
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
            )
            .with_gpus(i64::from(pod.gpus));
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
                retired: false,
            });
        }
        // A rollout's new version runs as pods like the service it replaces (same pool,
        // requests and start-up; its own memory model; no HPA until a promotion hands it
        // the old one's), starting with none.
        for (i, st) in stations.iter().enumerate() {
            let Some(old) = by_station.get(st.version_of as usize).copied() else {
                continue;
            };
            if old == u32::MAX {
                continue;
            }
            let o = &services[old as usize];
            let memory = s
                .rollouts
                .iter()
                .find(|r| st.name.ends_with(&format!("@{}", r.name)))
                .and_then(|r| r.new_version.memory_usage.as_ref())
                .and_then(|m| m.bytes().ok())
                .unwrap_or(o.memory);
            by_station[i] = services.len() as u32;
            services.push(ServicePods {
                station: i as u32,
                pool: o.pool,
                requests: o.requests,
                startup: o.startup,
                concurrency: o.concurrency,
                hpa: None,
                pods: Vec::new(),
                memory,
                sources: Vec::new(),
                // Its pods expose the metrics the old ones do from the start, so the HPA
                // has their history when it is handed over at a promotion.
                scraped: o.scraped,
                backlog_at_scrape: 0,
                last_ratio: f64::NAN,
                groups: Vec::new(),
                groups_area_read: 0.0,
                retired: false,
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
        let ratio_series = (0..services.len() as u32)
            .filter(|i| services[*i as usize].hpa.is_some())
            .collect();
        Cluster {
            node_seconds: vec![0.0; pools.len()],
            seconds_at_count: vec![Default::default(); pools.len()],
            exposed_seconds: vec![0.0; pools.len()],
            pools,
            nodes: Vec::new(),
            pods: Vec::new(),
            services,
            by_station,
            ca,
            provision: s
                .node_pools
                .values()
                .map(|p| p.provisioning_time().sampler())
                .collect(),
            scan_period: s.cluster.scan_interval.0.max(1),
            placement: s.cluster.placement,
            zone_down: vec![false; zones.len()],
            zones,
            pool_zones,
            rng,
            next_node: 1,
            last_count_change: 0,
            sync_period: config.sync_period.0,
            pipeline,
            latency,
            syncs: Vec::new(),
            ratio_series,
            starting: false,
        }
    }

    /// Pods (any state but gone) of the service at `station`; None if it does not run as pods.
    pub(crate) fn pod_count(&self, station: u32) -> Option<u32> {
        let svc = *self.by_station.get(station as usize)?;
        (svc != u32::MAX).then(|| self.services[svc as usize].pods.len() as u32)
    }

    /// The HPA controller's sync period.
    pub(crate) fn sync_period(&self) -> Nanos {
        self.sync_period
    }

    /// A rollout promoted `new`, the version replacing the service at `old`: the old
    /// ReplicaSet is retired (the rollout scales it to zero, and it must stay so) and its HPA,
    /// whose target is the rollout, not a ReplicaSet, scales the promoted one from now on,
    /// with its history (stabilization window, last scale times). Returns the new version's
    /// service index when an HPA moved (its syncs then continue there).
    pub(crate) fn hand_over_hpa(&mut self, old: u32, new: u32) -> Option<u32> {
        let of = |station: u32| {
            self.by_station
                .get(station as usize)
                .copied()
                .filter(|s| *s != u32::MAX)
        };
        let (o, n) = (of(old)?, of(new));
        self.services[o as usize].retired = true;
        let n = n?;
        let hpa = self.services[o as usize].hpa.take()?;
        let sources = std::mem::take(&mut self.services[o as usize].sources);
        let svc = &mut self.services[n as usize];
        svc.hpa = Some(hpa);
        svc.sources = sources;
        for s in &mut self.ratio_series {
            if *s == o {
                *s = n;
            }
        }
        Some(n)
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
        for s in &self.ratio_series {
            out.push(format!(
                "hpa_ratio/{}",
                station_name(self.services[*s as usize].station)
            ));
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

    fn is_empty(&self) -> bool {
        self.services.is_empty() && self.pools.is_empty()
    }

    fn live_nodes(&self, pool: u32) -> u32 {
        self.nodes
            .iter()
            .filter(|n| n.alive && n.pool == pool)
            .count() as u32
    }

    /// Nodes of `pool` a preemption could strike: alive and not already under notice.
    pub(crate) fn preemptible_nodes(&self, pool: u32) -> u32 {
        self.nodes
            .iter()
            .filter(|n| n.alive && !n.terminating && n.pool == pool)
            .count() as u32
    }

    /// Hands over, at the end of a run: node-seconds per pool, seconds at each node count per
    /// pool, every HPA sync, and the preemptible node-seconds per pool.
    #[allow(clippy::type_complexity)]
    pub(crate) fn finish(
        &mut self,
    ) -> (
        Vec<f64>,
        Vec<std::collections::BTreeMap<u32, f64>>,
        Vec<HpaSyncRecord>,
        Vec<f64>,
    ) {
        (
            std::mem::take(&mut self.node_seconds),
            std::mem::take(&mut self.seconds_at_count),
            std::mem::take(&mut self.syncs),
            std::mem::take(&mut self.exposed_seconds),
        )
    }

    /// Adds node time up to `now` (every alive node, provisioning included, is billed).
    pub fn account(&mut self, now: Nanos) {
        let dt = (now - self.last_count_change) as f64 / 1e9;
        if dt > 0.0 {
            for p in 0..self.pools.len() {
                let n = self.live_nodes(p as u32);
                self.node_seconds[p] += f64::from(n) * dt;
                *self.seconds_at_count[p].entry(n).or_default() += dt;
                self.exposed_seconds[p] += f64::from(self.preemptible_nodes(p as u32)) * dt;
            }
        }
        self.last_count_change = now;
    }

    /// A new node of `pool`, in the pool's zone with the fewest of its live nodes (GKE's
    /// BALANCED location policy; ties to the zone listed first), among the zones not lost;
    /// `None` when every zone of the pool is lost.
    fn add_node(&mut self, pool: u32, ready: bool, now: Nanos) -> Option<u32> {
        let zone = self.pool_zones[pool as usize]
            .iter()
            .copied()
            .filter(|z| !self.zone_down[*z as usize])
            .min_by_key(|z| {
                self.nodes
                    .iter()
                    .filter(|n| n.alive && n.pool == pool && n.zone == *z)
                    .count()
            })?;
        let p = &self.pools[pool as usize];
        self.nodes.push(SimNode {
            id: self.next_node,
            pool,
            zone,
            ready,
            alive: true,
            terminating: false,
            free: p.allocatable.sub(p.daemonset),
            pods: Vec::new(),
            requested_at: now,
        });
        self.next_node += 1;
        Some((self.nodes.len() - 1) as u32)
    }

    /// The index of zone `name` (`None` if no pool names it).
    pub(crate) fn zone_index(&self, name: &str) -> Option<u32> {
        self.zones.iter().position(|z| z == name).map(|i| i as u32)
    }

    /// The first zone of the node pool that service `station`'s pods run in (`None` if the
    /// service does not run as pods).
    pub(crate) fn home_zone(&self, station: u32) -> Option<u32> {
        let s = *self.by_station.get(station as usize)?;
        let svc = self.services.get(s as usize)?;
        self.pool_zones[svc.pool as usize].first().copied()
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
            self.calendar
                .schedule(self.cluster.scan_period, Event::CaScan);
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

    /// Samples for the timeline: ready replicas and pending pods per service, nodes per pool.
    pub(crate) fn cluster_samples(&self, out: &mut impl FnMut(f64)) {
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
            out(ready as f64);
            out(pending as f64);
        }
        for p in 0..self.cluster.pools.len() {
            out(f64::from(self.cluster.live_nodes(p as u32)));
        }
        for s in &self.cluster.ratio_series {
            out(self.cluster.services[*s as usize].last_ratio);
        }
        for (g, _) in self.cluster.services.iter().flat_map(|c| &c.groups) {
            out(f64::from(self.stations[*g as usize].ready_replicas()));
        }
    }
}
