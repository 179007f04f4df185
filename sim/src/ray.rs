//! Ray clusters: workers as the replicas of a station whose task slots (one per worker CPU,
//! Ray's default of one CPU per task) pull from one shared queue, and the Ray autoscaler that
//! launches workers for the pending demand and stops idle ones; the head node and the
//! workers' VM-seconds for the bill.
//!
//! The autoscaler follows the Ray cluster launcher's documented options
//! (docs.ray.io/en/latest/cluster/vms/user-guides/configuring-autoscaling.html): it scales on
//! logical resource demand, not utilisation; queued tasks that the CPUs of workers already
//! launching cannot take ask for ceil(unmet / CPUs per worker) more workers, up to
//! `max_workers`; at most max(5, upscaling_speed x running workers) launches may be pending at
//! once ("grow by at most 100 % ... always scale up to 5 nodes at a minimum"); a worker idle
//! for `idle_timeout_minutes` is stopped, down to `min_workers`. It runs every 5 s (Ray's
//! AUTOSCALER_UPDATE_INTERVAL_S). Workers are billed from launch.

use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use models::platform::RaySpec;
use models::{RandomStream, Sampler, Scenario};

/// Ray's autoscaler update interval (AUTOSCALER_UPDATE_INTERVAL_S = 5).
pub const UPDATE_NS: Nanos = 5_000_000_000;
/// Ray always allows this many pending launches when scaling up.
const MIN_PENDING_LAUNCHES: u32 = 5;

pub struct RayCluster {
    pub station: u32,
    pub name: String,
    pub spec: RaySpec,
    slots: u32,
    worker_start: Sampler,
    idle_timeout: Nanos,
    /// Workers launched and not yet taking tasks.
    pub launching: u32,
    pub launched: u64,
    /// Worker-nanoseconds alive (launching or ready) and when the count last changed.
    worker_ns: f64,
    last_change: Nanos,
    rng: RandomStream,
}

/// What one Ray cluster used in a replication.
#[derive(Clone, Debug, Default)]
pub struct RayRecord {
    pub worker_s: f64,
    pub launched: u64,
}

#[derive(Default)]
pub struct RayClusters {
    pub clusters: Vec<RayCluster>,
}

impl RayClusters {
    pub fn new(s: &Scenario, seed: u64, rep: u32) -> RayClusters {
        let clusters = s
            .services
            .iter()
            .enumerate()
            .filter_map(|(i, (name, svc))| {
                let spec = svc.ray.as_ref()?;
                Some(RayCluster {
                    station: i as u32,
                    name: name.clone(),
                    slots: svc.slots(),
                    worker_start: spec.worker_start.sampler(),
                    idle_timeout: (spec.idle_timeout_minutes * 60e9) as Nanos,
                    spec: spec.clone(),
                    launching: 0,
                    launched: 0,
                    worker_ns: 0.0,
                    last_change: 0,
                    rng: RandomStream::derive(seed, rep, &format!("ray/{name}")),
                })
            })
            .collect();
        RayClusters { clusters }
    }

    /// The timeline series [`Replication::ray_samples`] samples.
    pub fn series_names(&self) -> impl Iterator<Item = String> + '_ {
        self.clusters
            .iter()
            .map(|c| format!("ray_workers/{}", c.name))
    }
}

impl RayCluster {
    fn account(&mut self, ready: u32, now: Nanos) {
        self.worker_ns +=
            f64::from(ready + self.launching) * now.saturating_sub(self.last_change) as f64;
        self.last_change = now;
    }

    /// Workers to launch now for `queued` tasks with `ready` workers up.
    pub fn to_launch(&self, queued: u32, ready: u32) -> u32 {
        let alive = ready + self.launching;
        let below_min = self.spec.min_workers.saturating_sub(alive);
        // Pending tasks first fill the CPUs of workers already on their way.
        let unmet = queued.saturating_sub(self.launching * self.slots);
        let want = unmet.div_ceil(self.slots.max(1));
        let room = self.spec.max_workers.saturating_sub(alive);
        let pending_cap = MIN_PENDING_LAUNCHES
            .max((self.spec.upscaling_speed * f64::from(ready)).floor() as u32)
            .saturating_sub(self.launching);
        want.min(room).min(pending_cap).max(below_min)
    }
}

impl Replication<'_> {
    /// Schedules each Ray cluster's first autoscaler update.
    pub(crate) fn start_ray(&mut self) {
        for c in 0..self.ray.clusters.len() as u32 {
            if UPDATE_NS <= self.model.horizon {
                self.calendar
                    .schedule(UPDATE_NS, Event::RayUpdate { cluster: c });
            }
        }
    }

    /// One Ray autoscaler update: launch for the pending demand, stop idle workers.
    pub(crate) fn ray_update(&mut self, c: u32, now: Nanos) {
        let station = self.ray.clusters[c as usize].station as usize;
        let queued = self.stations[station].queued() as u32;
        let ready = self.stations[station].ready_replicas();
        let n = self.ray.clusters[c as usize].to_launch(queued, ready);
        for _ in 0..n {
            let cl = &mut self.ray.clusters[c as usize];
            cl.account(ready, now);
            cl.launching += 1;
            cl.launched += 1;
            let d = (cl.worker_start.sample(&mut cl.rng) * 1e9) as Nanos;
            self.calendar
                .schedule(now + d, Event::WorkerReady { cluster: c });
        }
        if queued == 0 {
            let cl = &self.ray.clusters[c as usize];
            let (min, idle_timeout) = (cl.spec.min_workers, cl.idle_timeout);
            let mut k = self.stations[station].ready_list().len();
            while k > 0 {
                let alive = self.stations[station].ready_replicas()
                    + self.ray.clusters[c as usize].launching;
                if alive <= min {
                    break;
                }
                k -= 1;
                let replica = self.stations[station].ready_list()[k];
                let idle = self.stations[station].replicas[replica as usize]
                    .idle_since()
                    .is_some_and(|t| now.saturating_sub(t) >= idle_timeout);
                if idle {
                    let ready = self.stations[station].ready_replicas();
                    self.ray.clusters[c as usize].account(ready, now);
                    self.stations[station].retire_replica(replica, now);
                }
            }
        }
        if now + UPDATE_NS <= self.model.horizon {
            self.calendar
                .schedule(now + UPDATE_NS, Event::RayUpdate { cluster: c });
        }
    }

    /// A worker finished starting: its CPUs take queued tasks at once.
    pub(crate) fn worker_ready(&mut self, c: u32, now: Nanos) {
        let station = self.ray.clusters[c as usize].station;
        let ready = self.stations[station as usize].ready_replicas();
        let cl = &mut self.ray.clusters[c as usize];
        cl.account(ready, now);
        cl.launching -= 1;
        self.add_replica(station, now);
    }

    /// Ready workers per Ray cluster, for the timeline.
    pub(crate) fn ray_samples(&self) -> impl Iterator<Item = f64> + '_ {
        self.ray
            .clusters
            .iter()
            .map(|c| f64::from(self.stations[c.station as usize].ready_replicas()))
    }

    /// What each Ray cluster used over the run (call once, at the horizon).
    pub(crate) fn ray_records(&mut self, horizon: Nanos) -> Vec<RayRecord> {
        let mut out = Vec::with_capacity(self.ray.clusters.len());
        for c in &mut self.ray.clusters {
            let ready = self.stations[c.station as usize].ready_replicas();
            c.account(ready, horizon);
            out.push(RayRecord {
                worker_s: c.worker_ns / 1e9,
                launched: c.launched,
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::distribution::Distribution;

    fn cluster(min: u32, max: u32, launching: u32) -> RayCluster {
        let spec = RaySpec {
            head_machine: "n1-standard-8".into(),
            worker_machine: "n1-standard-4".into(),
            min_workers: min,
            max_workers: max,
            cpus_per_worker: Some(4),
            idle_timeout_minutes: 5.0,
            upscaling_speed: 1.0,
            worker_start: Distribution::Constant(models::Duration::from_secs(60)),
        };
        RayCluster {
            station: 0,
            name: "ray".into(),
            slots: 4,
            worker_start: spec.worker_start.sampler(),
            idle_timeout: 0,
            spec,
            launching,
            launched: 0,
            worker_ns: 0.0,
            last_change: 0,
            rng: RandomStream::from_seed(1),
        }
    }

    #[test]
    fn launches_follow_pending_demand_within_the_documented_limits() {
        // 30 queued tasks, 4 CPUs a worker: 8 workers wanted; 1 running, so at most
        // max(5, 1.0 x 1) = 5 may be pending.
        assert_eq!(cluster(1, 10, 0).to_launch(30, 1), 5);
        // 12 queued, 2 workers launching (8 CPUs on the way): ceil(4 / 4) = 1 more.
        assert_eq!(cluster(1, 10, 2).to_launch(12, 4), 1);
        // Capped by max_workers: 2 running + 1 launching of 4.
        assert_eq!(cluster(1, 4, 1).to_launch(100, 2), 1);
        // 8 running allow 8 pending launches; room is 20 - 8 = 12; 100 tasks want 25.
        assert_eq!(cluster(1, 20, 0).to_launch(100, 8), 8);
        // Nothing queued: only up to min_workers.
        assert_eq!(cluster(3, 10, 0).to_launch(0, 1), 2);
        assert_eq!(cluster(0, 10, 0).to_launch(0, 0), 0);
    }
}
