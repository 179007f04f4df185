//! Rollouts in a replication: the controller Argo Rollouts or Flagger would be. At `at` the
//! new version's replicas are created (pods placed and started through the cluster, so they
//! need the node pools' room or wait for the cluster autoscaler); once a step's replicas are
//! ready its weight applies (each visit to the service goes to the new version with that
//! probability, a mesh's weighted route) and its pause runs; every analysis interval the new
//! version's own visits of that interval are judged (`models::rollout::Analysis::judge`); a
//! failed analysis rolls back at once (weight 0, the new pods deleted after their drain), and
//! the last step's 100 % promotes. A canary scales its replicas with the weight, blue-green
//! starts the whole green stack before any traffic moves.
//!
//! After the decision the replicas change as Kubernetes changes them: the losing version (the
//! old one on a promotion, the new one on a rollback) takes no new visits at once and keeps
//! its replicas for the termination grace period ([`DRAIN_NS`]), so what it holds finishes;
//! then its pods are deleted (their nodes' room freed for the cluster autoscaler to reclaim)
//! and what still waits there fails, as a pod killed at the end of its grace period drops
//! it. A promoted version holds the service's full replica count (the old version's pods at
//! the decision); the old service's HPA, whose target is the rollout, scales it from then on. The rollout's record closes then
//! (`RolloutRun::completed_at_s`): its duration runs from `at` to there.
//!
//! Costs nothing without rollouts: the engine asks [`Rollouts::is_empty`] once and guards
//! its three calls on the request path (route a visit, observe a departure, draw a failure)
//! with that flag. With one, the request path pushes a sojourn into a vector that is cleared
//! (not freed) at each analysis: no allocation per event once it reached its working size.

use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use crate::model::{Model, NONE};
use models::platform::parse_memory_bytes;
use models::rollout::{IntervalSample, Outcome, RolloutRun, Strategy, Verdict};
use models::{RandomStream, Scenario};

/// How long the new version's pods keep serving what they hold after a rollback before they
/// are deleted (Kubernetes' default `terminationGracePeriodSeconds`, 30 s).
const DRAIN_NS: Nanos = 30_000_000_000;

/// What a rollout event does.
#[derive(Clone, Copy, Debug)]
pub(crate) enum RolloutEvent {
    /// The rollout begins: the first step's replicas are created.
    Start,
    /// The current step's pause is over.
    StepDone,
    /// An analysis interval closes.
    Analyse,
    /// The last step's pause is over: promote (once an analysis has passed).
    PlanDone,
    /// The losing version's drain is over: its replicas go (the old version's on a
    /// promotion, the new one's on a rollback).
    Drained,
}

/// The memory working set of the new version's pods: bytes at rest, per request in flight,
/// and the pod's memory request (the bound's denominator).
#[derive(Clone, Copy)]
struct MemoryModel {
    base: f64,
    per_request: f64,
    request: f64,
}

struct RolloutState {
    /// Index in `Scenario::rollouts`.
    spec: usize,
    old: u32,
    new: u32,
    strategy: Strategy,
    /// (weight, pause) per step.
    plan: Vec<(f64, Nanos)>,
    step: usize,
    /// Share of the service's visits the new version takes now.
    weight: f64,
    /// The new version's replicas are being brought up to `target` for the current step.
    waiting: bool,
    target: u32,
    decided: bool,
    analysing: bool,
    /// Every step's pause is over: the next passing analysis promotes.
    plan_done: bool,
    /// Visits of the new version under a canary weight: drawn from this stream.
    rng: RandomStream,
    /// Error draws of the new version's visits.
    errors_rng: RandomStream,
    errors_p: Option<f64>,
    sample: IntervalSample,
    memory: Option<MemoryModel>,
    /// The new station's busy area at the last analysis (its mean in-flight since).
    area_at: f64,
    analysed_at: Nanos,
    run: RolloutRun,
}

/// Every rollout of the scenario in one replication.
pub(crate) struct Rollouts {
    /// Per station: the rollout it takes part in (old or new version), NONE otherwise.
    by_station: Vec<u32>,
    states: Vec<RolloutState>,
}

impl Rollouts {
    pub(crate) fn new(s: &Scenario, model: &Model, seed: u64, rep: u32) -> Rollouts {
        let mut by_station = vec![NONE; model.stations.len()];
        let mut states = Vec::new();
        for (new, st) in model.stations.iter().enumerate() {
            if st.version_of == NONE {
                continue;
            }
            let name = st.name.split_once('@').map_or("", |(_, r)| r);
            let Some(spec) = s.rollouts.iter().position(|r| r.name == name) else {
                continue;
            };
            let r = &s.rollouts[spec];
            let svc = &s.services[st.version_of as usize];
            let memory = svc.pod.as_ref().and_then(|pod| {
                let request = parse_memory_bytes(&pod.memory).ok()? as f64;
                let usage = r
                    .new_version
                    .memory_usage
                    .as_ref()
                    .or(pod.memory_usage.as_ref());
                let (base, per) = match usage {
                    Some(u) => u.bytes().ok()?,
                    None => models::metrics_pipeline::MemoryUsage::default_bytes(
                        request as u64,
                        svc.concurrency,
                    ),
                };
                Some(MemoryModel {
                    base: base as f64,
                    per_request: per as f64,
                    request,
                })
            });
            let index = states.len() as u32;
            by_station[st.version_of as usize] = index;
            by_station[new] = index;
            states.push(RolloutState {
                spec,
                old: st.version_of,
                new: new as u32,
                strategy: r.strategy,
                plan: r
                    .plan()
                    .iter()
                    .map(|p| (p.weight.0, p.pause.map_or(0, |d| d.0)))
                    .collect(),
                step: 0,
                weight: 0.0,
                waiting: false,
                target: 0,
                decided: false,
                analysing: false,
                plan_done: false,
                rng: RandomStream::derive(seed, rep, &format!("rollout/{name}")),
                errors_rng: RandomStream::derive(seed, rep, &format!("errors/{}", st.name)),
                errors_p: r.new_version.errors.map(|e| e.0),
                sample: IntervalSample::default(),
                memory,
                area_at: 0.0,
                analysed_at: 0,
                run: RolloutRun::not_started(),
            });
        }
        Rollouts { by_station, states }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// A visit to `station`: the station that serves it (the new version's with the
    /// rollout's weight) and whether that is a new version.
    #[inline]
    pub(crate) fn route(&mut self, station: u32) -> (u32, bool) {
        let r = self.by_station[station as usize];
        if r == NONE {
            return (station, false);
        }
        let st = &mut self.states[r as usize];
        if station != st.old || st.weight <= 0.0 {
            return (station, false);
        }
        if st.weight >= 1.0 || st.rng.next_f64() < st.weight {
            (st.new, true)
        } else {
            (station, false)
        }
    }

    /// The `Fail` after a visit to `station` that the new version served: whether it fails
    /// (the new version's `errors:`, else the old `p`, drawn from the new version's stream).
    #[inline]
    pub(crate) fn new_version_fails(&mut self, station: u32, p: f64) -> bool {
        let st = &mut self.states[self.by_station[station as usize] as usize];
        let p = st.errors_p.unwrap_or(p);
        let fails = st.errors_rng.next_f64() < p;
        if fails {
            st.run.errors_new += 1;
            if !st.decided {
                st.sample.new_errors += 1;
            }
        }
        fails
    }

    /// The `Fail` of an old-version visit to `station` failed: counted for the comparison.
    #[inline]
    pub(crate) fn old_version_failed(&mut self, station: u32) {
        let r = self.by_station[station as usize];
        if r != NONE && !self.states[r as usize].decided {
            self.states[r as usize].sample.old_errors += 1;
        }
    }

    /// A visit to `station` departed after `sojourn` (queue + service).
    #[inline(never)]
    pub(crate) fn observe(&mut self, station: u32, sojourn: Nanos) {
        let r = self.by_station[station as usize];
        if r == NONE {
            return;
        }
        let st = &mut self.states[r as usize];
        let s = sojourn as f64 / 1e9;
        if station == st.new {
            st.run.requests_new += 1;
            if !st.decided {
                st.sample.new_requests += 1;
                st.sample.new_latency_s.push(s);
            }
        } else if st.weight > 0.0 && !st.decided {
            st.sample.old_requests += 1;
            st.sample.old_latency_s.push(s);
        }
    }

    /// Each rollout's record, with the journeys the replication started (for the damage's
    /// share).
    pub(crate) fn finish(self, journeys: u64) -> Vec<(usize, RolloutRun)> {
        self.states
            .into_iter()
            .map(|mut s| {
                s.run.journeys = journeys;
                (s.spec, s.run)
            })
            .collect()
    }
}

impl Replication<'_> {
    /// Schedules each rollout's start.
    pub(crate) fn schedule_rollouts(&mut self) {
        for r in 0..self.rollouts.states.len() {
            let at = self.scenario.rollouts[self.rollouts.states[r].spec].at.0;
            self.calendar.schedule(
                at,
                Event::Rollout {
                    rollout: r as u32,
                    what: RolloutEvent::Start,
                },
            );
        }
    }

    pub(crate) fn on_rollout(&mut self, r: u32, what: RolloutEvent, now: Nanos) {
        let st = &self.rollouts.states[r as usize];
        if st.decided && !matches!(what, RolloutEvent::Drained) {
            return;
        }
        match what {
            RolloutEvent::Start => self.begin_step(r, now),
            RolloutEvent::StepDone => {
                self.rollouts.states[r as usize].step += 1;
                self.begin_step(r, now);
            }
            RolloutEvent::Analyse => self.analyse(r, now),
            RolloutEvent::PlanDone => self.plan_done(r, now),
            RolloutEvent::Drained => self.drained(r, now),
        }
    }

    /// The current step: its replicas are brought up; its weight applies once they are ready.
    fn begin_step(&mut self, r: u32, now: Nanos) {
        let st = &self.rollouts.states[r as usize];
        let (old, new) = (st.old, st.new);
        let Some(&(weight, _)) = st.plan.get(st.step) else {
            return;
        };
        let stable = self.stations[old as usize].ready_replicas().max(1);
        let target = match st.strategy {
            Strategy::Canary => ((weight * f64::from(stable)).ceil() as u32).max(1),
            // The green stack is a whole copy of the service from the first step.
            Strategy::BlueGreen => stable,
        };
        let target = target.max(self.version_replicas(new));
        let st = &mut self.rollouts.states[r as usize];
        st.target = target;
        st.waiting = true;
        self.scale_version(new, target, now);
        self.version_replica_ready(new, now);
    }

    /// The new version's replicas (pods or plain replicas) that are ready.
    fn version_replicas(&self, station: u32) -> u32 {
        self.stations[station as usize].ready_replicas()
    }

    /// Brings a version at `station` to `n` replicas: pods through the cluster, plain
    /// replicas at once.
    fn scale_version(&mut self, station: u32, n: u32, now: Nanos) {
        if self.set_pod_count(station, n, now) {
            return;
        }
        while self.stations[station as usize].ready_replicas() < n {
            self.add_replica(station, now);
        }
        while self.stations[station as usize].ready_replicas() > n {
            let last = *self.stations[station as usize]
                .ready_list()
                .last()
                .unwrap_or(&0);
            self.retire_replica(station, last, now);
        }
    }

    /// A replica of `station` became ready: if it is a new version waiting for its step's
    /// replicas and they are all up, the step's weight applies and its pause starts.
    pub(crate) fn version_replica_ready(&mut self, station: u32, now: Nanos) {
        let r = self.rollouts.by_station[station as usize];
        if r == NONE {
            return;
        }
        let st = &self.rollouts.states[r as usize];
        if station != st.new
            || !st.waiting
            || st.decided
            || self.version_replicas(station) < st.target
        {
            return;
        }
        let spec = &self.scenario.rollouts[st.spec];
        let interval = spec.analysis.interval.0;
        // Busy time is read as of now (a station's areas are brought up to date on demand).
        self.stations[station as usize].account_to(now);
        let area = self.stations[station as usize].stats.busy_area_all;
        let st = &mut self.rollouts.states[r as usize];
        st.waiting = false;
        let (weight, pause) = st.plan[st.step];
        let t = now as f64 / 1e9;
        st.run.weights.push([t, st.weight]);
        st.weight = weight;
        st.run.weights.push([t, weight]);
        if st.run.first_traffic_s.is_none() {
            st.run.first_traffic_s = Some(t);
        }
        if !st.analysing {
            // Analyses run from the first traffic on, each over its own interval.
            st.analysing = true;
            st.analysed_at = now;
            st.area_at = area;
            st.sample = IntervalSample::default();
            self.calendar.schedule(
                now + interval,
                Event::Rollout {
                    rollout: r,
                    what: RolloutEvent::Analyse,
                },
            );
        }
        let last = st.step + 1 >= st.plan.len();
        if last && pause == 0 {
            self.plan_done(r, now);
            return;
        }
        self.calendar.schedule(
            now + pause,
            Event::Rollout {
                rollout: r,
                what: if last {
                    RolloutEvent::PlanDone
                } else {
                    RolloutEvent::StepDone
                },
            },
        );
    }

    /// Every step has run its pause: promoted, if some analysis passed (a promotion needs
    /// evidence); else the next analysis that passes promotes.
    fn plan_done(&mut self, r: u32, now: Nanos) {
        let st = &mut self.rollouts.states[r as usize];
        st.plan_done = true;
        if st.run.analyses.iter().any(|a| a.verdict == Verdict::Pass) {
            self.decide(r, Outcome::Promoted, now);
        }
    }

    fn analyse(&mut self, r: u32, now: Nanos) {
        let st = &self.rollouts.states[r as usize];
        let spec = &self.scenario.rollouts[st.spec];
        let interval = spec.analysis.interval.0;
        let new = st.new;
        // The new version's pods' memory: at rest plus per request in flight (mean since the
        // last analysis), over the request.
        self.stations[new as usize].account_to(now);
        let area = self.stations[new as usize].stats.busy_area_all;
        let replicas = f64::from(self.version_replicas(new).max(1));
        let st = &mut self.rollouts.states[r as usize];
        let elapsed = (now - st.analysed_at).max(1) as f64;
        let in_flight = (area - st.area_at) / elapsed / replicas;
        st.sample.new_memory = st
            .memory
            .map(|m| (m.base + m.per_request * in_flight) / m.request.max(1.0));
        st.area_at = area;
        st.analysed_at = now;
        let record = spec
            .analysis
            .judge(now as f64 / 1e9, &mut st.sample, spec.planned_analyses());
        let verdict = record.verdict;
        st.run.analyses.push(record);
        let s = &mut st.sample;
        s.new_requests = 0;
        s.new_errors = 0;
        s.old_requests = 0;
        s.old_errors = 0;
        s.new_latency_s.clear();
        s.old_latency_s.clear();
        if verdict == Verdict::Fail {
            self.decide(r, Outcome::RolledBack, now);
            return;
        }
        if verdict == Verdict::Pass && st.plan_done {
            self.decide(r, Outcome::Promoted, now);
            return;
        }
        self.calendar.schedule(
            now + interval,
            Event::Rollout {
                rollout: r,
                what: RolloutEvent::Analyse,
            },
        );
    }

    fn decide(&mut self, r: u32, outcome: Outcome, now: Nanos) {
        let st = &mut self.rollouts.states[r as usize];
        st.decided = true;
        st.run.outcome = outcome;
        let t = now as f64 / 1e9;
        st.run.decided_at_s = Some(t);
        let weight = if outcome == Outcome::Promoted {
            1.0
        } else {
            0.0
        };
        st.run.weights.push([t, st.weight]);
        st.weight = weight;
        st.run.weights.push([t, weight]);
        let (old, new) = (st.old, st.new);
        if outcome == Outcome::Promoted {
            // The new ReplicaSet takes the service's full count (the old one's pods now, or
            // its replicas without pods), placed through the cluster like any pod.
            let full = self
                .cluster
                .pod_count(old)
                .unwrap_or_else(|| self.stations[old as usize].ready_replicas());
            let have = self
                .cluster
                .pod_count(new)
                .unwrap_or_else(|| self.version_replicas(new));
            if full > have {
                self.scale_version(new, full, now);
            }
            if let Some(s) = self.cluster.hand_over_hpa(old, new) {
                // Its syncs go on at their period, now reading and scaling the new pods.
                let period = self.cluster.sync_period().max(1);
                let next = (now / period + 1) * period;
                if next <= self.model.horizon {
                    self.calendar.schedule(next, Event::HpaSync { service: s });
                }
            }
        }
        self.calendar.schedule(
            now + DRAIN_NS,
            Event::Rollout {
                rollout: r,
                what: RolloutEvent::Drained,
            },
        );
    }

    /// The losing version's grace period is over: its replicas are removed (pods deleted,
    /// their room on the nodes freed) and what still waits there fails.
    fn drained(&mut self, r: u32, now: Nanos) {
        let st = &mut self.rollouts.states[r as usize];
        st.run.completed_at_s = Some(now as f64 / 1e9);
        let going = if st.run.outcome == Outcome::Promoted {
            st.old
        } else {
            st.new
        };
        self.scale_version(going, 0, now);
        self.evict_waiting(going, now);
    }

    /// Each rollout's record at the horizon.
    pub(crate) fn rollout_runs(&mut self, horizon: Nanos) -> Vec<(usize, RolloutRun)> {
        let journeys = self.journeys_started();
        let rollouts = std::mem::replace(
            &mut self.rollouts,
            Rollouts {
                by_station: Vec::new(),
                states: Vec::new(),
            },
        );
        let t = horizon as f64 / 1e9;
        rollouts
            .finish(journeys)
            .into_iter()
            .map(|(spec, mut run)| {
                if let Some(&[_, w]) = run.weights.last() {
                    run.weights.push([t, w]);
                }
                (spec, run)
            })
            .collect()
    }
}
