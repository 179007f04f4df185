//! The two Kubernetes autoscalers: the HorizontalPodAutoscaler's sync of each pod-based
//! service (`k8s::hpa`: every metric of its spec read through [`super::metrics_api`], then
//! the controller, then pods created or deleted), and the cluster autoscaler's scan
//! (`k8s::cluster_autoscaler`: nodes added for Pending pods, empty or drainable nodes
//! removed), with nodes becoming ready and leaving.

use super::metrics_api::target_ratio;
use super::{dur, Cluster, PodState};
use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use k8s::cluster_autoscaler::{Action, ClusterView, Node, NodeStatus, PendingPod, PlacedPod};
use k8s::hpa::controller::Scale;

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

impl Cluster {
    fn view(&self, now: Nanos) -> (Vec<Node>, Vec<PendingPod>) {
        let nodes = self
            .nodes
            .iter()
            .filter(|n| n.alive && !n.terminating)
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
    /// One HPA sync of pod-based service `s`: every metric of its spec read as the metrics
    /// APIs would serve it now (see [`crate::metrics_pipeline`]), then the controller of
    /// `k8s::hpa`, then pods created (Pending until placed) or deleted.
    pub(crate) fn hpa_sync(&mut self, s: u32, now: Nanos) {
        if self.cluster.services[s as usize].retired {
            return;
        }
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
                        // Every zone of the pool lost: the cloud cannot create the VM (a
                        // stockout to CA, which backs the pool off).
                        let Some(n) = self.cluster.add_node(pool as u32, false, now) else {
                            if let Some(ca) = self.cluster.ca.as_mut() {
                                ca.scale_up_failed(pool, dur(now));
                            }
                            break;
                        };
                        self.provision_node(n, now);
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
        let next = now + self.cluster.scan_period;
        if next <= self.model.horizon {
            self.calendar.schedule(next, Event::CaScan);
        }
    }

    /// Node `n` was requested now: it becomes Ready after its pool's provisioning time.
    pub(super) fn provision_node(&mut self, n: u32, now: Nanos) {
        let pool = self.cluster.nodes[n as usize].pool as usize;
        let t = self.cluster.provision[pool].sample(&mut self.cluster.rng);
        self.calendar
            .schedule(now + (t * 1e9) as Nanos, Event::NodeReady { node: n });
    }

    /// A node leaves (scale-down drain, or lost): its pods are deleted and replaced (the
    /// ReplicaSet creates new ones, Pending until they fit somewhere).
    fn remove_node(&mut self, id: u64, now: Nanos) {
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

    /// Fault: zone `zone` is lost. Every live node in it goes with its pods (the requests
    /// they serve fail); the ReplicaSets replace the pods, which land on nodes in the other
    /// zones if they fit, else wait Pending for the cluster autoscaler, which adds nodes only
    /// in zones still up. Returns the pools of the nodes lost (one entry a node), for
    /// [`Self::restore_zone`].
    pub(crate) fn lose_zone(&mut self, zone: u32, now: Nanos) -> Vec<u32> {
        self.cluster.zone_down[zone as usize] = true;
        let lost: Vec<(u64, u32)> = self
            .cluster
            .nodes
            .iter()
            .filter(|n| n.alive && n.zone == zone)
            .map(|n| (n.id, n.pool))
            .collect();
        for (id, _) in &lost {
            self.kill_node_pods(*id);
        }
        // None of them takes the replacements created as each goes.
        for n in self.cluster.nodes.iter_mut().filter(|n| n.zone == zone) {
            n.ready = false;
        }
        for (id, _) in &lost {
            self.remove_node(*id, now);
        }
        lost.into_iter().map(|(_, pool)| pool).collect()
    }

    /// The zone is back: its node pools' instance groups recreate the nodes lost (each
    /// provisioned anew), as far as each pool's max allows.
    pub(crate) fn restore_zone(&mut self, zone: u32, pools: &[u32], now: Nanos) {
        self.cluster.zone_down[zone as usize] = false;
        self.cluster.account(now);
        for &pool in pools {
            if self.cluster.live_nodes(pool) >= self.cluster.pools[pool as usize].max_nodes {
                continue;
            }
            if let Some(n) = self.cluster.add_node(pool, false, now) {
                self.provision_node(n, now);
            }
        }
    }

    /// Marks the requests in service on node `id`'s ready pods as lost with it.
    fn kill_node_pods(&mut self, id: u64) {
        let pods: Vec<u32> = self
            .cluster
            .nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.pods.clone())
            .unwrap_or_default();
        for p in pods {
            if let PodState::Ready { replica } = self.cluster.pods[p as usize].state {
                let st = self.cluster.pods[p as usize].service;
                self.stations[st as usize].replicas[replica as usize].killed = true;
            }
        }
    }

    /// Fault: the first ready node of `pool` is lost; the requests its pods serve fail, and
    /// its pods are replaced as after a drain.
    pub(crate) fn lose_node(&mut self, pool: u32, now: Nanos) {
        let node = self
            .cluster
            .nodes
            .iter()
            .find(|n| n.alive && n.ready && !n.terminating && n.pool == pool)
            .map(|n| n.id);
        let Some(id) = node else {
            return;
        };
        self.kill_node_pods(id);
        self.remove_node(id, now);
    }
}

impl Replication<'_> {
    /// A spot preemption's notice on the `pick`-th preemptible node of `pool` (alive, not
    /// under notice; `pick` below [`super::Cluster::preemptible_nodes`]): the node is
    /// cordoned and its pods deleted gracefully, as GKE's graceful node shutdown does (each
    /// stops taking traffic, its queue goes back through balancing, what it serves goes on),
    /// and their ReplicaSets create replacements, Pending until they fit elsewhere or the
    /// cluster autoscaler adds a node. Returns the node and the replicas left draining.
    pub(crate) fn preemption_notice(
        &mut self,
        pool: u32,
        pick: u32,
        now: Nanos,
    ) -> Option<(u64, Vec<(u32, u32)>)> {
        self.cluster.account(now);
        let idx = self
            .cluster
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.alive && !n.terminating && n.pool == pool)
            .nth(pick as usize)
            .map(|(i, _)| i)?;
        self.cluster.nodes[idx].terminating = true;
        let pods = self.cluster.nodes[idx].pods.clone();
        let mut draining = Vec::new();
        for p in pods {
            let station = self.cluster.pods[p as usize].service;
            if let PodState::Ready { replica } = self.cluster.pods[p as usize].state {
                draining.push((station, replica));
            }
            self.delete_pod(p, now);
            let s = self.cluster.by_station[station as usize];
            self.create_pod(s, now, false);
        }
        Some((self.cluster.nodes[idx].id, draining))
    }

    /// The preempted VM stops at the end of its notice: what its pods still serve is lost
    /// (those requests fail, as on a node loss), and the node leaves the pool. A pool left
    /// below its minimum gets a new node at once: the pool's managed instance group re-creates
    /// a preempted instance whether or not the cluster autoscaler runs (it does not run when
    /// every pool has min == max, and it adds nodes only for Pending pods).
    pub(crate) fn preemption_stop(&mut self, node: u64, draining: &[(u32, u32)], now: Nanos) {
        for &(station, replica) in draining {
            let r = &mut self.stations[station as usize].replicas[replica as usize];
            // Still draining (not reused by a newer pod since) with work in service.
            if !r.ready && r.busy > 0 {
                r.killed = true;
            }
        }
        let pool = self
            .cluster
            .nodes
            .iter()
            .find(|n| n.id == node && n.alive)
            .map(|n| n.pool);
        self.remove_node(node, now);
        if let Some(pool) = pool {
            if self.cluster.live_nodes(pool) < self.cluster.pools[pool as usize].min_nodes {
                if let Some(n) = self.cluster.add_node(pool, false, now) {
                    self.provision_node(n, now);
                }
            }
        }
    }
}
