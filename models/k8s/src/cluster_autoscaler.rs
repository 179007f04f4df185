//! The cluster-autoscaler policy (see `cluster-autoscaler.md`) as pure state and functions:
//! one [`ClusterAutoscaler::step`] per scan interval (10s) looks at the node pools, their
//! nodes and the unschedulable pods, and answers with the actions CA would take: scale a pool
//! up (binpacking estimate, expander choice, per-pool and cluster caps, backoff), give up on
//! nodes that did not register within `max-node-provision-time`, or remove nodes that stayed
//! under the utilisation threshold for `scale-down-unneeded-time` outside the scale-down
//! cooldowns (empty nodes in bulk, one drain at a time).
//!
//! Coarse by design: requests, not usage; no affinity beyond "this pod needs that pool"; the
//! caller decides node provisioning times, scheduling and evictions, and reports failures back.

use models::units::Duration;
use std::collections::BTreeMap;

/// CPU (milli-cores), memory (bytes) and GPUs (`nvidia.com/gpu`, an extended resource:
/// whole devices) requested or available.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub cpu_milli: i64,
    pub memory_bytes: i64,
    pub gpus: i64,
}

impl Resources {
    pub fn new(cpu_milli: i64, memory_bytes: i64) -> Resources {
        Resources {
            cpu_milli,
            memory_bytes,
            gpus: 0,
        }
    }
    /// The same with `gpus` devices.
    pub fn with_gpus(self, gpus: i64) -> Resources {
        Resources { gpus, ..self }
    }
    #[allow(clippy::should_implement_trait)] // plain saturating arithmetic, no operator wanted
    pub fn add(self, o: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli + o.cpu_milli,
            memory_bytes: self.memory_bytes + o.memory_bytes,
            gpus: self.gpus + o.gpus,
        }
    }
    #[allow(clippy::should_implement_trait)]
    pub fn sub(self, o: Resources) -> Resources {
        Resources {
            cpu_milli: self.cpu_milli - o.cpu_milli,
            memory_bytes: self.memory_bytes - o.memory_bytes,
            gpus: self.gpus - o.gpus,
        }
    }
    /// Whether these requests fit in `free`: every resource, GPUs included (a node without
    /// GPUs has none free, so a GPU pod never fits there, as the scheduler's NodeResourcesFit
    /// filter rejects a node short of an extended resource).
    pub fn fits_in(self, free: Resources) -> bool {
        self.cpu_milli <= free.cpu_milli
            && self.memory_bytes <= free.memory_bytes
            && self.gpus <= free.gpus
    }
    /// `max(cpu share, memory share)` of `capacity`: CA's node utilisation.
    fn share_of(self, capacity: Resources) -> f64 {
        let cpu = if capacity.cpu_milli > 0 {
            self.cpu_milli as f64 / capacity.cpu_milli as f64
        } else {
            0.0
        };
        let mem = if capacity.memory_bytes > 0 {
            self.memory_bytes as f64 / capacity.memory_bytes as f64
        } else {
            0.0
        };
        cpu.max(mem)
    }
}

/// A node group (GKE node pool): the template node and the size limits.
#[derive(Clone, Debug, PartialEq)]
pub struct NodePool {
    pub name: String,
    /// Allocatable of one node, after system reservations.
    pub allocatable: Resources,
    /// Requests of the DaemonSet pods every node runs (counted in utilisation, as CA does by default).
    pub daemonset: Resources,
    pub min_nodes: u32,
    pub max_nodes: u32,
    /// For the `price` expander.
    pub price_per_hour: f64,
    /// For the `priority` expander: higher wins.
    pub priority: i32,
}

impl NodePool {
    fn free_on_new_node(&self) -> Resources {
        self.allocatable.sub(self.daemonset)
    }
}

/// A pod the scheduler marked `Unschedulable`.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingPod {
    pub id: u64,
    pub requests: Resources,
    pub priority: i32,
    /// `Some(pool)` when a nodeSelector/required affinity ties the pod to one pool.
    pub pool: Option<usize>,
    pub unschedulable_since: Duration,
}

/// A pod running on a node.
#[derive(Clone, Debug, PartialEq)]
pub struct PlacedPod {
    pub requests: Resources,
    /// False when something blocks its eviction: no controller, local storage,
    /// `safe-to-evict: "false"`, a PDB with no disruption left, kube-system without a PDB.
    pub movable: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    /// Requested from the cloud, not registered yet.
    Provisioning {
        requested_at: Duration,
    },
    /// Registered but not Ready.
    Unready,
    Ready,
}

/// A node as CA sees it. `pods` excludes DaemonSet pods (the pool's `daemonset` covers them).
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub id: u64,
    pub pool: usize,
    pub status: NodeStatus,
    pub pods: Vec<PlacedPod>,
}

impl Node {
    fn requested(&self, pool: &NodePool) -> Resources {
        self.pods
            .iter()
            .fold(pool.daemonset, |acc, p| acc.add(p.requests))
    }
}

/// What the cluster looks like at one scan.
#[derive(Clone, Copy, Debug)]
pub struct ClusterView<'a> {
    pub pools: &'a [NodePool],
    pub nodes: &'a [Node],
    pub pending: &'a [PendingPod],
}

/// How CA chooses among node groups that can help (`--expander`, chainable).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expander {
    /// Least idle CPU + memory share on the new nodes (the default of current CA).
    LeastWaste,
    /// Most pending pods scheduled.
    MostPods,
    /// Cheapest new nodes per scheduled pod (GKE's cost-aware choice, roughly).
    Price,
    /// Highest pool priority.
    Priority,
    /// Any helping pool (the tie-break draw decides).
    Random,
}

/// CA flags, with the defaults of current `flags.go`.
#[derive(Clone, Debug, PartialEq)]
pub struct CaConfig {
    pub scan_interval: Duration,
    pub new_pod_scale_up_delay: Duration,
    pub expendable_pods_priority_cutoff: i32,
    /// Applied in order; ties left after the last one are broken by the step's draw.
    pub expanders: Vec<Expander>,
    /// 0 = unlimited.
    pub max_nodes_total: u32,
    pub max_nodes_per_scale_up: u32,
    pub scale_down_enabled: bool,
    pub scale_down_utilization_threshold: f64,
    pub scale_down_unneeded_time: Duration,
    pub scale_down_delay_after_add: Duration,
    pub scale_down_delay_after_delete: Duration,
    pub scale_down_delay_after_failure: Duration,
    pub max_empty_bulk_delete: usize,
    pub max_node_provision_time: Duration,
    pub initial_node_group_backoff: Duration,
    pub max_node_group_backoff: Duration,
    pub node_group_backoff_reset: Duration,
    pub max_total_unready_percentage: f64,
    pub ok_total_unready_count: usize,
}

impl Default for CaConfig {
    fn default() -> Self {
        let m = |x: u64| Duration::from_secs(60 * x);
        CaConfig {
            scan_interval: Duration::from_secs(10),
            new_pod_scale_up_delay: Duration::ZERO,
            expendable_pods_priority_cutoff: -10,
            expanders: vec![Expander::LeastWaste],
            max_nodes_total: 0,
            max_nodes_per_scale_up: 1000,
            scale_down_enabled: true,
            scale_down_utilization_threshold: 0.5,
            scale_down_unneeded_time: m(10),
            scale_down_delay_after_add: m(10),
            scale_down_delay_after_delete: Duration::ZERO,
            scale_down_delay_after_failure: m(3),
            max_empty_bulk_delete: 10,
            max_node_provision_time: m(15),
            initial_node_group_backoff: m(5),
            max_node_group_backoff: m(30),
            node_group_backoff_reset: m(180),
            max_total_unready_percentage: 45.0,
            ok_total_unready_count: 3,
        }
    }
}

/// What CA does at one scan.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Increase the pool's target size by `nodes`.
    ScaleUp { pool: usize, nodes: u32 },
    /// The node did not register within `max-node-provision-time`: delete it (its pool backs off).
    RemoveUnregistered { node: u64 },
    /// Delete these empty nodes at once.
    DeleteEmpty { nodes: Vec<u64> },
    /// Taint, evict the pods (they go Pending) and delete this node.
    Drain { node: u64 },
}

/// A pool's backoff after a failed scale-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Backoff {
    until: Duration,
    duration: Duration,
    last_failure: Duration,
}

/// The autoscaler's memory between scans (lost on restart, like CA's).
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterAutoscaler {
    pub config: CaConfig,
    unneeded_since: BTreeMap<u64, Duration>,
    last_scale_up: Option<Duration>,
    last_scale_down_delete: Option<Duration>,
    last_scale_down_failure: Option<Duration>,
    backoff: BTreeMap<usize, Backoff>,
}

/// `t + d > now`, i.e. `now` is still inside `d` after `t` (CA's `t.Add(d).After(now)`).
fn within(t: Option<Duration>, d: Duration, now: Duration) -> bool {
    t.is_some_and(|t| t.0.saturating_add(d.0) > now.0)
}

/// One pool's answer to the pending pods: how many new nodes and which pods they take.
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleUpOption {
    pub pool: usize,
    pub nodes: u32,
    pub pods: Vec<u64>,
    requested: Resources,
}

/// First-fit decreasing of `pods` onto new nodes of `pool`, at most `max_nodes` of them.
fn binpack(pool: &NodePool, pods: &[&PendingPod], max_nodes: u32) -> (u32, Vec<u64>, Resources) {
    let free = pool.free_on_new_node();
    let cap = pool.allocatable;
    let mut sorted: Vec<&PendingPod> = pods
        .iter()
        .copied()
        .filter(|p| p.requests.fits_in(free))
        .collect();
    // Largest first by the larger share of the node; id keeps the order total.
    sorted.sort_by(|a, b| {
        b.requests
            .share_of(cap)
            .total_cmp(&a.requests.share_of(cap))
            .then(a.id.cmp(&b.id))
    });
    let mut nodes: Vec<Resources> = Vec::new();
    let mut placed = Vec::new();
    let mut requested = Resources::default();
    for p in sorted {
        if let Some(n) = nodes.iter_mut().find(|n| p.requests.fits_in(**n)) {
            *n = n.sub(p.requests);
        } else if (nodes.len() as u32) < max_nodes {
            nodes.push(free.sub(p.requests));
        } else {
            continue;
        }
        placed.push(p.id);
        requested = requested.add(p.requests);
    }
    (nodes.len() as u32, placed, requested)
}

impl ClusterAutoscaler {
    pub fn new(config: CaConfig) -> ClusterAutoscaler {
        ClusterAutoscaler {
            config,
            unneeded_since: BTreeMap::new(),
            last_scale_up: None,
            last_scale_down_delete: None,
            last_scale_down_failure: None,
            backoff: BTreeMap::new(),
        }
    }

    /// Since when each node has been unneeded.
    pub fn unneeded_since(&self, node: u64) -> Option<Duration> {
        self.unneeded_since.get(&node).copied()
    }

    /// A drain failed (eviction refused): no scale-down for `scale-down-delay-after-failure`.
    pub fn scale_down_failed(&mut self, now: Duration) {
        self.last_scale_down_failure = Some(now);
    }

    /// A scale-up of `pool` failed (quota, stockout, provision timeout): back off 5m, doubling
    /// to 30m; a pool quiet for 3h starts again at 5m.
    pub fn scale_up_failed(&mut self, pool: usize, now: Duration) {
        let c = &self.config;
        let duration = match self.backoff.get(&pool) {
            Some(b) if now.0.saturating_sub(b.last_failure.0) < c.node_group_backoff_reset.0 => {
                Duration(
                    b.duration
                        .0
                        .saturating_mul(2)
                        .min(c.max_node_group_backoff.0),
                )
            }
            _ => c.initial_node_group_backoff,
        };
        self.backoff.insert(
            pool,
            Backoff {
                until: Duration(now.0.saturating_add(duration.0)),
                duration,
                last_failure: now,
            },
        );
    }

    fn backed_off(&self, pool: usize, now: Duration) -> bool {
        self.backoff.get(&pool).is_some_and(|b| b.until.0 > now.0)
    }

    /// One scan at `now`. `draw` breaks the ties the expanders leave (CA picks at random; the
    /// simulator passes a draw from its seeded stream so runs repeat).
    pub fn step(&mut self, now: Duration, view: ClusterView<'_>, draw: u64) -> Vec<Action> {
        let c = self.config.clone();
        let registered = view
            .nodes
            .iter()
            .filter(|n| !matches!(n.status, NodeStatus::Provisioning { .. }))
            .count();
        let unready = view
            .nodes
            .iter()
            .filter(|n| n.status == NodeStatus::Unready)
            .count();
        let allowed_unready = (c.max_total_unready_percentage / 100.0 * registered as f64)
            .max(c.ok_total_unready_count as f64);
        if unready as f64 > allowed_unready {
            // Too many unready nodes: CA halts every operation.
            return Vec::new();
        }
        let mut actions = Vec::new();
        let mut failed = Vec::new();
        for n in view.nodes {
            if let NodeStatus::Provisioning { requested_at } = n.status {
                if requested_at.0.saturating_add(c.max_node_provision_time.0) < now.0 {
                    failed.push(n.id);
                    actions.push(Action::RemoveUnregistered { node: n.id });
                    self.scale_up_failed(n.pool, now);
                }
            }
        }
        let live = |n: &&Node| !failed.contains(&n.id);
        let mut pool_size = vec![0u32; view.pools.len()];
        for n in view.nodes.iter().filter(live) {
            if let Some(s) = pool_size.get_mut(n.pool) {
                *s += 1;
            }
        }
        if let Some(option) = self.scale_up(now, &view, &failed, &pool_size, draw) {
            self.last_scale_up = Some(now);
            actions.push(Action::ScaleUp {
                pool: option.pool,
                nodes: option.nodes,
            });
            // No scale-down evaluation in a loop that scaled up.
            return actions;
        }
        if c.scale_down_enabled {
            actions.extend(self.scale_down(now, &view, &pool_size));
        }
        actions
    }

    fn scale_up(
        &self,
        now: Duration,
        view: &ClusterView<'_>,
        failed: &[u64],
        pool_size: &[u32],
        draw: u64,
    ) -> Option<ScaleUpOption> {
        let c = &self.config;
        let mut pending: Vec<&PendingPod> = view
            .pending
            .iter()
            .filter(|p| p.priority >= c.expendable_pods_priority_cutoff)
            .filter(|p| now.0.saturating_sub(p.unschedulable_since.0) >= c.new_pod_scale_up_delay.0)
            .collect();
        // Pods that will fit on nodes already requested do not trigger another scale-up.
        let mut upcoming: Vec<(usize, Resources)> = view
            .nodes
            .iter()
            .filter(|n| {
                matches!(n.status, NodeStatus::Provisioning { .. }) && !failed.contains(&n.id)
            })
            .filter_map(|n| {
                view.pools.get(n.pool).map(|p| {
                    (
                        n.pool,
                        p.free_on_new_node().sub(n.requested(p).sub(p.daemonset)),
                    )
                })
            })
            .collect();
        pending.retain(|p| {
            let slot = upcoming.iter_mut().find(|(pool, free)| {
                p.pool.is_none_or(|want| want == *pool) && p.requests.fits_in(*free)
            });
            match slot {
                Some((_, free)) => {
                    *free = free.sub(p.requests);
                    false
                }
                None => true,
            }
        });
        if pending.is_empty() {
            return None;
        }
        let total: u32 = pool_size.iter().sum();
        let cluster_room = if c.max_nodes_total == 0 {
            u32::MAX
        } else {
            c.max_nodes_total.saturating_sub(total)
        };
        let mut options = Vec::new();
        for (i, pool) in view.pools.iter().enumerate() {
            let room = pool
                .max_nodes
                .saturating_sub(pool_size[i])
                .min(cluster_room)
                .min(c.max_nodes_per_scale_up);
            if room == 0 || self.backed_off(i, now) {
                continue;
            }
            let mine: Vec<&PendingPod> = pending
                .iter()
                .copied()
                .filter(|p| p.pool.is_none_or(|want| want == i))
                .collect();
            let (nodes, pods, requested) = binpack(pool, &mine, room);
            if nodes > 0 {
                options.push(ScaleUpOption {
                    pool: i,
                    nodes,
                    pods,
                    requested,
                });
            }
        }
        let mut best = options;
        for e in &c.expanders {
            if best.len() <= 1 {
                break;
            }
            best = expand(*e, best, view.pools);
        }
        if best.is_empty() {
            return None;
        }
        let pick = (draw % best.len() as u64) as usize;
        best.into_iter().nth(pick)
    }

    fn scale_down(
        &mut self,
        now: Duration,
        view: &ClusterView<'_>,
        pool_size: &[u32],
    ) -> Vec<Action> {
        let c = self.config.clone();
        // Free capacity of every ready node, reduced as pods are moved in simulation.
        let mut free: BTreeMap<u64, Resources> = view
            .nodes
            .iter()
            .filter(|n| n.status == NodeStatus::Ready)
            .filter_map(|n| {
                view.pools
                    .get(n.pool)
                    .map(|p| (n.id, p.allocatable.sub(n.requested(p))))
            })
            .collect();
        let mut unneeded: Vec<(u64, f64, bool)> = Vec::new();
        let mut removable_in_pool = pool_size.to_vec();
        let mut order: Vec<&Node> = view
            .nodes
            .iter()
            .filter(|n| n.status == NodeStatus::Ready)
            .collect();
        let util = |n: &Node| {
            view.pools
                .get(n.pool)
                .map_or(1.0, |p| n.requested(p).share_of(p.allocatable))
        };
        order.sort_by(|a, b| util(a).total_cmp(&util(b)).then(a.id.cmp(&b.id)));
        for n in order {
            let Some(pool) = view.pools.get(n.pool) else {
                continue;
            };
            let u = util(n);
            if u >= c.scale_down_utilization_threshold
                || removable_in_pool[n.pool] <= pool.min_nodes
            {
                continue;
            }
            if n.pods.iter().any(|p| !p.movable) {
                continue;
            }
            // Every pod must fit on some other ready node not itself being removed.
            let mut trial = free.clone();
            trial.remove(&n.id);
            for (id, _, _) in &unneeded {
                trial.remove(id);
            }
            let fits =
                n.pods.iter().all(
                    |p| match trial.values_mut().find(|f| p.requests.fits_in(**f)) {
                        Some(f) => {
                            *f = f.sub(p.requests);
                            true
                        }
                        None => false,
                    },
                );
            if !fits {
                continue;
            }
            free = trial
                .into_iter()
                .chain(free.get(&n.id).map(|f| (n.id, *f)))
                .collect();
            removable_in_pool[n.pool] -= 1;
            unneeded.push((n.id, u, n.pods.is_empty()));
        }
        let previous = std::mem::take(&mut self.unneeded_since);
        for (id, _, _) in &unneeded {
            self.unneeded_since
                .insert(*id, previous.get(id).copied().unwrap_or(now));
        }
        let cooldown = within(self.last_scale_up, c.scale_down_delay_after_add, now)
            || within(
                self.last_scale_down_failure,
                c.scale_down_delay_after_failure,
                now,
            )
            || within(
                self.last_scale_down_delete,
                c.scale_down_delay_after_delete,
                now,
            );
        if cooldown {
            return Vec::new();
        }
        let ripe = |id: &u64| {
            self.unneeded_since
                .get(id)
                .is_some_and(|s| now.0.saturating_sub(s.0) >= c.scale_down_unneeded_time.0)
        };
        let empty: Vec<u64> = unneeded
            .iter()
            .filter(|(id, _, e)| *e && ripe(id))
            .map(|(id, _, _)| *id)
            .take(c.max_empty_bulk_delete)
            .collect();
        let action = if !empty.is_empty() {
            Action::DeleteEmpty { nodes: empty }
        } else if let Some((id, _, _)) = unneeded.iter().find(|(id, _, _)| ripe(id)) {
            Action::Drain { node: *id }
        } else {
            return Vec::new();
        };
        let gone: Vec<u64> = match &action {
            Action::DeleteEmpty { nodes } => nodes.clone(),
            Action::Drain { node } => vec![*node],
            _ => Vec::new(),
        };
        for id in gone {
            self.unneeded_since.remove(&id);
        }
        self.last_scale_down_delete = Some(now);
        vec![action]
    }
}

/// Keeps the options an expander prefers (all of them on a tie).
fn expand(e: Expander, options: Vec<ScaleUpOption>, pools: &[NodePool]) -> Vec<ScaleUpOption> {
    let score = |o: &ScaleUpOption| -> f64 {
        let Some(pool) = pools.get(o.pool) else {
            return f64::INFINITY;
        };
        match e {
            Expander::LeastWaste => {
                let n = o.nodes as f64;
                let avail_cpu = pool.allocatable.cpu_milli as f64 * n;
                let avail_mem = pool.allocatable.memory_bytes as f64 * n;
                (avail_cpu - o.requested.cpu_milli as f64) / avail_cpu
                    + (avail_mem - o.requested.memory_bytes as f64) / avail_mem
            }
            Expander::MostPods => -(o.pods.len() as f64),
            Expander::Price => pool.price_per_hour * o.nodes as f64 / o.pods.len().max(1) as f64,
            Expander::Priority => -(pool.priority as f64),
            Expander::Random => 0.0,
        }
    };
    let best = options.iter().map(score).fold(f64::INFINITY, f64::min);
    options.into_iter().filter(|o| score(o) == best).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GI: i64 = 1 << 30;

    fn s(x: u64) -> Duration {
        Duration::from_secs(x)
    }

    fn pool(name: &str, cpu: i64, mem_gi: i64, min: u32, max: u32, price: f64) -> NodePool {
        NodePool {
            name: name.into(),
            allocatable: Resources::new(cpu * 1000, mem_gi * GI),
            daemonset: Resources::default(),
            min_nodes: min,
            max_nodes: max,
            price_per_hour: price,
            priority: 0,
        }
    }

    fn pending(n: u64, cpu_milli: i64, mem_gi: i64) -> Vec<PendingPod> {
        (0..n)
            .map(|id| PendingPod {
                id,
                requests: Resources::new(cpu_milli, mem_gi * GI),
                priority: 0,
                pool: None,
                unschedulable_since: s(0),
            })
            .collect()
    }

    fn ready(id: u64, pool: usize, pods: &[(i64, i64)]) -> Node {
        Node {
            id,
            pool,
            status: NodeStatus::Ready,
            pods: pods
                .iter()
                .map(|&(c, m)| PlacedPod {
                    requests: Resources::new(c, m * GI),
                    movable: true,
                })
                .collect(),
        }
    }

    #[test]
    fn least_waste_picks_the_pool_that_fits_best() {
        // 3 pods of 1 CPU / 4Gi: one 4-CPU/16Gi node wastes 0.25 + 0.25; one 16-CPU/64Gi node
        // wastes 13/16 + 52/64. Least waste picks the small pool even though it costs more.
        let pools = [
            pool("big", 16, 64, 0, 10, 0.5),
            pool("small", 4, 16, 0, 10, 0.8),
        ];
        let pods = pending(3, 1000, 4);
        let mut ca = ClusterAutoscaler::new(CaConfig::default());
        let view = ClusterView {
            pools: &pools,
            nodes: &[],
            pending: &pods,
        };
        assert_eq!(
            ca.step(s(10), view, 0),
            vec![Action::ScaleUp { pool: 1, nodes: 1 }]
        );
        // The price expander takes the cheaper big pool.
        let mut ca = ClusterAutoscaler::new(CaConfig {
            expanders: vec![Expander::Price],
            ..CaConfig::default()
        });
        assert_eq!(
            ca.step(s(10), view, 0),
            vec![Action::ScaleUp { pool: 0, nodes: 1 }]
        );
    }

    /// What a fresh autoscaler's first scan does for `pods` pending over `pools` (no nodes).
    fn first_scan(pools: &[NodePool], pods: &[PendingPod]) -> Vec<Action> {
        let mut ca = ClusterAutoscaler::new(CaConfig::default());
        let view = ClusterView {
            pools,
            nodes: &[],
            pending: pods,
        };
        ca.step(s(10), view, 0)
    }

    #[test]
    fn a_gpu_pod_scales_only_a_pool_with_gpus() {
        // One pod of 1 CPU, 4Gi and one GPU, free to go to any pool. The cheap CPU pool fits
        // its CPU and memory (and least waste would prefer it) but has no GPU: only the GPU
        // pool can help.
        let mut gpu = pool("ai", 8, 52, 0, 4, 2.0);
        gpu.allocatable = gpu.allocatable.with_gpus(1);
        let pools = [pool("general", 4, 16, 0, 10, 0.2), gpu];
        let with_gpu = |n| {
            let mut pods = pending(n, 1000, 4);
            for p in &mut pods {
                p.requests = p.requests.with_gpus(1);
            }
            pods
        };
        assert_eq!(
            first_scan(&pools, &with_gpu(1)),
            vec![Action::ScaleUp { pool: 1, nodes: 1 }]
        );
        // Two GPU pods need two one-GPU nodes, though one node holds both by CPU and memory.
        assert_eq!(
            first_scan(&pools, &with_gpu(2)),
            vec![Action::ScaleUp { pool: 1, nodes: 2 }]
        );
        // With no GPU pool at all, nothing can help: no scale-up.
        assert_eq!(first_scan(&pools[..1], &with_gpu(1)), vec![]);
    }

    #[test]
    fn pool_max_caps_the_scale_up_and_upcoming_nodes_absorb_pods() {
        // 8 pods of 2 CPU need 4 nodes of 4 CPU; the pool has 2 of max 3: only 1 more.
        let pools = [pool("p", 4, 16, 1, 3, 1.0)];
        let nodes = [ready(1, 0, &[(4000, 1)]), ready(2, 0, &[(4000, 1)])];
        let pods = pending(8, 2000, 1);
        let mut ca = ClusterAutoscaler::new(CaConfig::default());
        let view = ClusterView {
            pools: &pools,
            nodes: &nodes,
            pending: &pods,
        };
        assert_eq!(
            ca.step(s(0), view, 0),
            vec![Action::ScaleUp { pool: 0, nodes: 1 }]
        );
        // Two pods fit the node being provisioned: they do not ask for another one.
        let nodes = [Node {
            id: 3,
            pool: 0,
            status: NodeStatus::Provisioning { requested_at: s(0) },
            pods: vec![],
        }];
        let pods = pending(2, 2000, 1);
        let view = ClusterView {
            pools: &pools,
            nodes: &nodes,
            pending: &pods,
        };
        assert_eq!(ca.step(s(10), view, 0), vec![]);
    }

    #[test]
    fn expendable_pods_never_trigger_a_scale_up() {
        let pools = [pool("p", 4, 16, 0, 3, 1.0)];
        let mut pods = pending(1, 1000, 1);
        pods[0].priority = -11;
        let mut ca = ClusterAutoscaler::new(CaConfig::default());
        assert_eq!(
            ca.step(
                s(0),
                ClusterView {
                    pools: &pools,
                    nodes: &[],
                    pending: &pods
                },
                0
            ),
            vec![]
        );
    }

    #[test]
    fn scale_down_waits_for_unneeded_time_and_the_delay_after_add() {
        // A scale-up at t=0; from t=10 node 2 is empty and unneeded. Cooldown ends at t=600
        // (0 + 10m is not after 600) but the node has been unneeded only 590s then: it goes
        // at t=610, 10 minutes after it was first seen unneeded.
        let pools = [pool("p", 4, 16, 1, 5, 1.0)];
        let mut ca = ClusterAutoscaler::new(CaConfig::default());
        let pods = pending(1, 3000, 1);
        let busy = ready(1, 0, &[(3000, 1)]);
        let view = ClusterView {
            pools: &pools,
            nodes: std::slice::from_ref(&busy),
            pending: &pods,
        };
        assert_eq!(
            ca.step(s(0), view, 0),
            vec![Action::ScaleUp { pool: 0, nodes: 1 }]
        );
        let nodes = [busy.clone(), ready(2, 0, &[])];
        let view = ClusterView {
            pools: &pools,
            nodes: &nodes,
            pending: &[],
        };
        let mut t = 10;
        while t <= 600 {
            assert_eq!(ca.step(s(t), view, 0), vec![], "t={t}");
            t += 10;
        }
        assert_eq!(ca.unneeded_since(2), Some(s(10)));
        assert_eq!(
            ca.step(s(610), view, 0),
            vec![Action::DeleteEmpty { nodes: vec![2] }]
        );
    }

    #[test]
    fn drains_one_node_at_a_time_and_respects_pool_min_and_failures() {
        // Three nodes at 25% each: all could go, but min is 1 and pods must fit elsewhere.
        let pools = [pool("p", 4, 16, 1, 5, 1.0)];
        let nodes = [
            ready(1, 0, &[(1000, 1)]),
            ready(2, 0, &[(1000, 1)]),
            ready(3, 0, &[(1000, 1)]),
        ];
        let view = ClusterView {
            pools: &pools,
            nodes: &nodes,
            pending: &[],
        };
        let mut ca = ClusterAutoscaler::new(CaConfig::default());
        assert_eq!(ca.step(s(0), view, 0), vec![]);
        assert_eq!(
            ca.unneeded_since(3),
            None,
            "pool min 1 keeps one node out of the candidates"
        );
        assert_eq!(ca.step(s(600), view, 0), vec![Action::Drain { node: 1 }]);
        // The drain failed at 600: nothing until 600 + 3m.
        ca.scale_down_failed(s(600));
        assert_eq!(ca.step(s(770), view, 0), vec![]);
        assert_eq!(ca.step(s(780), view, 0), vec![Action::Drain { node: 2 }]);
        // A node whose pod cannot move is never a candidate.
        let mut pinned = nodes.clone();
        pinned[0].pods[0].movable = false;
        let mut ca = ClusterAutoscaler::new(CaConfig::default());
        let view = ClusterView {
            pools: &pools,
            nodes: &pinned,
            pending: &[],
        };
        ca.step(s(0), view, 0);
        assert_eq!(ca.unneeded_since(1), None);
    }

    #[test]
    fn a_node_not_registered_within_15m_fails_and_its_pool_backs_off() {
        let pools = [
            pool("cheap", 4, 16, 0, 5, 0.1),
            pool("other", 4, 16, 0, 5, 1.0),
        ];
        let stuck = Node {
            id: 7,
            pool: 0,
            status: NodeStatus::Provisioning { requested_at: s(0) },
            pods: vec![],
        };
        let pods = pending(2, 3000, 1);
        let config = CaConfig {
            expanders: vec![Expander::Price],
            ..CaConfig::default()
        };
        let mut ca = ClusterAutoscaler::new(config);
        let view = ClusterView {
            pools: &pools,
            nodes: std::slice::from_ref(&stuck),
            pending: &pods,
        };
        // At exactly 15m the node is not yet given up (Before is strict); the 3-CPU pod that
        // does not fit on it is placed on a new cheap node.
        assert_eq!(
            ca.step(s(900), view, 0),
            vec![Action::ScaleUp { pool: 0, nodes: 1 }]
        );
        let actions = ca.step(s(910), view, 0);
        assert_eq!(actions[0], Action::RemoveUnregistered { node: 7 });
        // The cheap pool is backed off for 5 minutes: the other pool gets both pods.
        assert_eq!(actions[1], Action::ScaleUp { pool: 1, nodes: 2 });
        let view = ClusterView {
            pools: &pools,
            nodes: &[],
            pending: &pods,
        };
        assert_eq!(
            ca.step(s(1209), view, 0),
            vec![Action::ScaleUp { pool: 1, nodes: 2 }]
        );
        assert_eq!(
            ca.step(s(1210), view, 0),
            vec![Action::ScaleUp { pool: 0, nodes: 2 }]
        );
        // A second failure within 3h doubles the backoff.
        ca.scale_up_failed(0, s(2000));
        let view = ClusterView {
            pools: &pools,
            nodes: &[],
            pending: &pods,
        };
        assert_eq!(
            ca.step(s(2599), view, 0),
            vec![Action::ScaleUp { pool: 1, nodes: 2 }]
        );
        assert_eq!(
            ca.step(s(2600), view, 0),
            vec![Action::ScaleUp { pool: 0, nodes: 2 }]
        );
    }

    #[test]
    fn too_many_unready_nodes_halt_everything() {
        let pools = [pool("p", 4, 16, 0, 10, 1.0)];
        let nodes: Vec<Node> = (0..4)
            .map(|i| Node {
                id: i,
                pool: 0,
                status: NodeStatus::Unready,
                pods: vec![],
            })
            .collect();
        let pods = pending(1, 1000, 1);
        let mut ca = ClusterAutoscaler::new(CaConfig::default());
        assert_eq!(
            ca.step(
                s(0),
                ClusterView {
                    pools: &pools,
                    nodes: &nodes,
                    pending: &pods
                },
                0
            ),
            vec![]
        );
    }
}
