//! Cloud Run services: instances as the replicas of a station with one shared pending queue,
//! the instance autoscaler, cold starts, the pending-request timeout (429), and what the
//! instances are billed for.
//!
//! The behaviour is Cloud Run's documented one (cloud.google.com/run/docs/about-concurrency,
//! .../about-instance-autoscaling): an instance serves up to `concurrency` requests at once; the
//! autoscaler, evaluated every 5 s, keeps instances at the in-flight requests averaged over one
//! minute divided by (concurrency x target utilisation, 60 % by default), within min/max
//! instances; a request that finds no instance (scale from zero) starts one at once; requests
//! wait in the pending queue for up to the mean start-up time, at least 10 s, then fail with
//! 429; surplus instances are shut down after 15 idle minutes. The window is held as 12
//! samples of 5 s (the average busy slots over each period plus the requests pending at its
//! end); the docs give no finer rule.
//!
//! Control events (ticks, instance starts, timeouts) are rare next to requests; the request
//! path only checks one index per queued visit.

use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use crate::model::NONE;
use models::platform::{parse_cpu_milli, parse_memory_bytes, CloudRunSpec};
use models::{RandomStream, Sampler, Scenario};

/// Cloud Run's autoscaler evaluation period (about-instance-autoscaling: every 5 s).
pub const TICK_NS: Nanos = 5_000_000_000;
/// Samples in the one-minute averaging window.
const WINDOW: usize = 12;

/// One Cloud Run service in a replication.
pub struct CloudRunService {
    pub station: u32,
    pub name: String,
    pub spec: CloudRunSpec,
    cold_start: Sampler,
    /// Requests one instance should hold: concurrency x target utilisation.
    target_per_instance: f64,
    pending_limit: Nanos,
    idle_timeout: Nanos,
    /// Instances requested and not yet serving.
    pub starting: u32,
    window: [f64; WINDOW],
    filled: usize,
    next: usize,
    last_busy_area: f64,
    last_tick: Nanos,
    /// Instance-nanoseconds alive (starting or ready) and when the count last changed.
    alive_ns: f64,
    last_alive_change: Nanos,
    /// Cold-start nanoseconds (billed under request-based billing too).
    startup_ns: f64,
    pub cold_starts: u64,
    pub rejected: u64,
    rng: RandomStream,
}

/// Every Cloud Run service of a replication, and the service of each station (NONE if none).
#[derive(Default)]
pub struct CloudRuns {
    pub services: Vec<CloudRunService>,
    pub by_station: Vec<u32>,
}

/// What one Cloud Run service used in a replication, for the bill and the summary.
#[derive(Clone, Debug, Default)]
pub struct CloudRunRecord {
    pub billable_s: f64,
    pub vcpu_s: f64,
    pub gib_s: f64,
    pub requests: u64,
    pub cold_starts: u64,
    pub rejected: u64,
}

impl CloudRuns {
    pub fn new(s: &Scenario, station_count: usize, seed: u64, rep: u32) -> CloudRuns {
        let mut out = CloudRuns {
            services: Vec::new(),
            by_station: vec![NONE; station_count],
        };
        for (i, (name, svc)) in s.services.iter().enumerate() {
            let Some(spec) = &svc.cloud_run else { continue };
            out.by_station[i] = out.services.len() as u32;
            out.services.push(CloudRunService {
                station: i as u32,
                name: name.clone(),
                cold_start: spec.cold_start.sampler(),
                target_per_instance: f64::from(spec.concurrency)
                    * spec.target_concurrency_utilization,
                pending_limit: spec.pending_limit().0,
                idle_timeout: spec.idle_timeout.0,
                spec: spec.clone(),
                starting: 0,
                window: [0.0; WINDOW],
                filled: 0,
                next: 0,
                last_busy_area: 0.0,
                last_tick: 0,
                alive_ns: 0.0,
                last_alive_change: 0,
                startup_ns: 0.0,
                cold_starts: 0,
                rejected: 0,
                rng: RandomStream::derive(seed, rep, &format!("cloud_run/{name}")),
            });
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// The timeline series [`Replication::cloud_run_samples`] samples.
    pub fn series_names(&self) -> impl Iterator<Item = String> + '_ {
        self.services
            .iter()
            .map(|c| format!("instances/{}", c.name))
    }
}

impl CloudRunService {
    fn account(&mut self, ready: u32, now: Nanos) {
        let n = f64::from(ready + self.starting);
        self.alive_ns += n * now.saturating_sub(self.last_alive_change) as f64;
        self.last_alive_change = now;
    }

    /// The instances the autoscaler wants for the window's mean in-flight requests.
    pub fn desired(&self) -> u32 {
        let mean = if self.filled == 0 {
            0.0
        } else {
            self.window[..self.filled].iter().sum::<f64>() / self.filled as f64
        };
        // A hair below an exact multiple stays at that multiple (float sums).
        let want = (mean / self.target_per_instance - 1e-9).ceil().max(0.0) as u32;
        want.clamp(self.spec.min_instances, self.spec.max_instances)
    }
}

impl Replication<'_> {
    /// Schedules each Cloud Run service's first autoscaler evaluation.
    pub(crate) fn start_cloud_run(&mut self) {
        for s in 0..self.cloud_run.services.len() as u32 {
            if TICK_NS <= self.model.horizon {
                self.calendar
                    .schedule(TICK_NS, Event::CloudRunTick { service: s });
            }
        }
    }

    /// A request queued at `station` (no free instance slot): if it is a Cloud Run service,
    /// arm the request's pending timeout, and scale from zero at once.
    #[inline]
    pub(crate) fn cloud_run_queued(&mut self, station: u32, request: u32, now: Nanos) {
        if self.cloud_run.services.is_empty() {
            // Most runs have no Cloud Run service: nothing to look up on every queued visit.
            return;
        }
        self.cloud_run_pending(station, request, now);
    }

    /// A visit queued at a station that may be a Cloud Run service's.
    #[inline(never)]
    fn cloud_run_pending(&mut self, station: u32, request: u32, now: Nanos) {
        let s = self.cloud_run.by_station[station as usize];
        if s == NONE {
            return;
        }
        let svc = &self.cloud_run.services[s as usize];
        self.calendar.schedule(
            now + svc.pending_limit,
            Event::PendingTimeout {
                service: s,
                request,
            },
        );
        let ready = self.stations[station as usize].ready_replicas();
        if ready == 0 && svc.starting == 0 && svc.spec.max_instances > 0 {
            self.launch_instance(s, now);
        }
    }

    fn launch_instance(&mut self, s: u32, now: Nanos) {
        let station = self.cloud_run.services[s as usize].station;
        let ready = self.stations[station as usize].ready_replicas();
        let horizon = self.model.horizon;
        let svc = &mut self.cloud_run.services[s as usize];
        svc.account(ready, now);
        svc.starting += 1;
        svc.cold_starts += 1;
        let d = (svc.cold_start.sample(&mut svc.rng) * 1e9) as Nanos;
        // Only the part of the start-up inside the run is billed to it.
        svc.startup_ns += d.min(horizon.saturating_sub(now)) as f64;
        self.calendar
            .schedule(now + d, Event::InstanceReady { service: s });
    }

    /// A cold start finished: the instance takes pending requests at once.
    pub(crate) fn instance_ready(&mut self, s: u32, now: Nanos) {
        let station = self.cloud_run.services[s as usize].station;
        let ready = self.stations[station as usize].ready_replicas();
        let svc = &mut self.cloud_run.services[s as usize];
        svc.account(ready, now);
        svc.starting -= 1;
        self.add_replica(station, now);
    }

    /// A request's pending timeout: if it still waits for an instance, it fails with 429.
    pub(crate) fn pending_timeout(&mut self, s: u32, request: u32, now: Nanos) {
        let svc = &self.cloud_run.services[s as usize];
        let station = svc.station as usize;
        // A later wait of the same slot (or of a reused slot) has its own timeout.
        if self.waiting_since(request) + svc.pending_limit > now {
            return;
        }
        if !self.stations[station].withdraw(request) {
            return;
        }
        self.cloud_run.services[s as usize].rejected += 1;
        self.fail_waiting(request, now);
    }

    /// One autoscaler evaluation: sample the in-flight requests, start instances up to the
    /// desired count at once, and shut down surplus instances idle for `idle_timeout`.
    pub(crate) fn cloud_run_tick(&mut self, s: u32, now: Nanos) {
        let station = self.cloud_run.services[s as usize].station as usize;
        self.stations[station].account_to(now);
        let area = self.stations[station].stats.busy_area_all;
        let queued = self.stations[station].queued() as f64;
        let ready = self.stations[station].ready_replicas();
        let svc = &mut self.cloud_run.services[s as usize];
        let dt = now.saturating_sub(svc.last_tick).max(1) as f64;
        let sample = (area - svc.last_busy_area) / dt + queued;
        svc.last_busy_area = area;
        svc.last_tick = now;
        svc.window[svc.next] = sample;
        svc.next = (svc.next + 1) % WINDOW;
        svc.filled = (svc.filled + 1).min(WINDOW);
        let desired = svc.desired();
        let current = ready + svc.starting;
        if desired > current {
            for _ in current..desired {
                self.launch_instance(s, now);
            }
        } else if current > desired {
            let idle_timeout = svc.idle_timeout;
            let mut surplus = current - desired;
            // Newest first: the shared queue fills the oldest instances' slots first, so the
            // newest are the ones left idle.
            let mut k = self.stations[station].ready_list().len();
            while surplus > 0 && k > 0 {
                k -= 1;
                let replica = self.stations[station].ready_list()[k];
                let idle = self.stations[station].replicas[replica as usize]
                    .idle_since()
                    .is_some_and(|t| now.saturating_sub(t) >= idle_timeout);
                if idle {
                    let ready = self.stations[station].ready_replicas();
                    self.cloud_run.services[s as usize].account(ready, now);
                    self.stations[station].retire_replica(replica, now);
                    surplus -= 1;
                }
            }
        }
        if now + TICK_NS <= self.model.horizon {
            self.calendar
                .schedule(now + TICK_NS, Event::CloudRunTick { service: s });
        }
    }

    /// Ready instances per Cloud Run service, for the timeline.
    pub(crate) fn cloud_run_samples(&self) -> impl Iterator<Item = f64> + '_ {
        self.cloud_run
            .services
            .iter()
            .map(|c| f64::from(self.stations[c.station as usize].ready_replicas()))
    }

    /// What each Cloud Run service used over the run (call once, at the horizon).
    pub(crate) fn cloud_run_records(&mut self, horizon: Nanos) -> Vec<CloudRunRecord> {
        let mut out = Vec::with_capacity(self.cloud_run.services.len());
        for c in &mut self.cloud_run.services {
            let st = &self.stations[c.station as usize];
            c.account(st.ready_replicas(), horizon);
            let billable_ns = match c.spec.billing {
                models::cost::CloudRunBilling::Instance => c.alive_ns,
                models::cost::CloudRunBilling::Request => {
                    c.startup_ns
                        + st.replicas
                            .iter()
                            .map(|r| r.active_at(horizon))
                            .sum::<f64>()
                }
            };
            let billable_s = billable_ns / 1e9;
            let vcpus = parse_cpu_milli(&c.spec.cpu).unwrap_or(1000) as f64 / 1000.0;
            let gib =
                parse_memory_bytes(&c.spec.memory).unwrap_or(0) as f64 / (1024.0 * 1024.0 * 1024.0);
            out.push(CloudRunRecord {
                billable_s,
                vcpu_s: billable_s * vcpus,
                gib_s: billable_s * gib,
                requests: st.stats.completions_all,
                cold_starts: c.cold_starts,
                rejected: c.rejected,
            });
        }
        out
    }
}
