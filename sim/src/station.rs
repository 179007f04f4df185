//! A service's replicas as queueing stations: per-replica FIFO queues (or one shared queue),
//! `concurrency` servers per replica, and the `balancing` rule that picks a replica.
//!
//! Requests are `u32` indices into the engine's request arena; a station never allocates per
//! request (its queues are ring buffers that grow to the longest queue seen and stay there).

use crate::calendar::Nanos;
use crate::cpu::{Cpu, CpuConfig};
use crate::model::NONE;
use crate::partitions::{GroupConfig, Partitions, Rebalance};
use crate::tally::Tally;
use hdrhistogram::Histogram;
use models::scenario::Balancing;
use models::{RandomStream, Sampler};
use std::collections::VecDeque;

/// One replica (a pod): its busy servers and its own FIFO queue.
#[derive(Clone, Debug, Default)]
pub struct Replica {
    pub busy: u32,
    pub queue: VecDeque<u32>,
    /// Takes new requests (a retired replica only finishes what it holds).
    pub ready: bool,
    /// Lost to a fault: what it was serving fails.
    pub killed: bool,
    /// The ends minus the starts of its services (ns): with `busy x now` added, its
    /// busy-server nanoseconds up to now, exactly (one addition a start or an end, where a
    /// running product would take a multiplication and two conversions each).
    busy_sum: i128,
    /// Nanoseconds with at least one request in service up to `last_change` (Cloud Run's
    /// request-based billing).
    active_ns: u64,
    /// When it last began serving (busy 0 -> 1) or last went idle (-> 0).
    last_change: Nanos,
    /// Its CPUs, for a service with `cpu:` and cores (unconfigured otherwise).
    pub cpu: Cpu,
}

impl Replica {
    /// Busy-server nanoseconds up to `now` (the pod's CPU, as metrics-server sees it).
    pub fn busy_area_at(&self, now: Nanos) -> f64 {
        (self.busy_sum + i128::from(self.busy) * i128::from(now)) as f64
    }

    /// Nanoseconds with a request in service up to `now`.
    pub fn active_at(&self, now: Nanos) -> f64 {
        let open = if self.busy > 0 {
            now.saturating_sub(self.last_change)
        } else {
            0
        };
        (self.active_ns + open) as f64
    }

    /// What the pod's CPU reads: core-nanoseconds consumed with a CPU model, else
    /// busy-server nanoseconds (a busy slot counts as a busy core's share).
    pub fn usage_area_at(&self, now: Nanos) -> f64 {
        if self.cpu.configured() {
            self.cpu.area_at(now)
        } else {
            self.busy_area_at(now)
        }
    }

    /// Since when the replica has served nothing (None while it serves).
    pub fn idle_since(&self) -> Option<Nanos> {
        (self.busy == 0).then_some(self.last_change)
    }

    #[inline]
    fn begin_service(&mut self, now: Nanos) {
        self.busy_sum -= i128::from(now);
        if self.busy == 0 {
            self.last_change = now;
        }
        self.busy += 1;
    }

    #[inline]
    fn end_service(&mut self, now: Nanos) {
        self.busy_sum += i128::from(now);
        self.busy -= 1;
        if self.busy == 0 {
            self.active_ns += now - self.last_change;
            self.last_change = now;
        }
    }
}

/// A visit's CPU demand (`cpu:`; out of line: most stations declare none, and the draw
/// inlined would weigh on every start).
#[inline(never)]
fn cpu_demand(law: &Sampler, rng: &mut RandomStream) -> Nanos {
    crate::calendar::secs_to_ns(law.sample(rng))
}

/// What a station measured after warm-up.
pub struct StationStats {
    /// Busy-server nanoseconds after warm-up.
    pub busy_area: f64,
    /// Busy-server nanoseconds since the start, warm-up included (for the timeline).
    pub busy_area_all: f64,
    /// Ready-server nanoseconds after warm-up (capacity, as replicas come and go).
    pub capacity_area: f64,
    /// Ready-replica nanoseconds after warm-up, and the fewest and most replicas seen.
    pub replica_area: f64,
    pub replicas_min: u32,
    pub replicas_max: u32,
    /// Requests whose service finished after warm-up.
    pub completions: u64,
    /// Requests whose service finished, warm-up included (for billing).
    pub completions_all: u64,
    /// Of `completions`, the visits that read (see `Model::reads`; 0 when none does).
    pub reads: u64,
    /// Time in queue (microseconds) of requests that started service after warm-up (complete
    /// after [`Station::finish`]; counted in `waits_tally` meanwhile).
    pub waits_us: Histogram<u64>,
    waits_tally: Tally,
    pub wait_sum_ns: f64,
}

pub struct Station {
    pub concurrency: u32,
    pub balancing: Balancing,
    pub replicas: Vec<Replica>,
    /// Indices of the replicas that take new requests.
    ready: Vec<u32>,
    shared: VecDeque<u32>,
    /// The whole service is down (a crashed primary): visits fail at once.
    pub down: bool,
    /// Added to every visit's hop, on the wire after the server (a network-latency fault):
    /// the engine waits it after the departure, the slot is free meanwhile.
    pub extra_latency: Nanos,
    busy: u32,
    /// `stats.busy_area_all` when measuring started (the end of warm-up), None before.
    busy_area_from: Option<f64>,
    /// Of `busy`, the slots of replicas no longer ready (retired, draining what they hold).
    retired_busy: u32,
    next_rr: u32,
    service_time: Sampler,
    service_rng: RandomStream,
    /// CPU demand per visit (`cpu:`) and its stream; the replicas' CPUs (None: no contention).
    cpu_time: Option<(Sampler, RandomStream)>,
    cpu: Option<CpuConfig>,
    route_rng: RandomStream,
    warmup: Nanos,
    /// Replicas and capacity are accounted up to here (they change only when a replica
    /// comes or goes).
    capacity_since: Nanos,
    pub stats: StationStats,
    /// For a Kafka consumer group: its topic's partitions, where records wait (the replicas
    /// are its consumers, and their own queues stay empty).
    pub group: Option<Partitions>,
}

/// What became of a request offered to a station.
#[derive(Clone, Copy, Debug)]
pub enum Offer {
    /// A server was free: it starts now.
    Started(Start),
    /// It waits in a queue.
    Queued,
    /// The queue it would join holds `queue_limit` requests already: rejected at once.
    Rejected,
}

/// A request that starts service now, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct Start {
    pub replica: u32,
    pub request: u32,
    /// Time off the CPU (the whole time without `cpu:`).
    pub service: Nanos,
    /// CPU demand (0 without `cpu:`).
    pub cpu: Nanos,
}

impl Station {
    pub fn new(
        replicas: u32,
        concurrency: u32,
        balancing: Balancing,
        service_time: Sampler,
        service_rng: RandomStream,
        route_rng: RandomStream,
        warmup: Nanos,
    ) -> Station {
        let waits = crate::metrics::latency_histogram();
        Station {
            concurrency,
            balancing,
            replicas: vec![
                Replica {
                    ready: true,
                    ..Replica::default()
                };
                replicas as usize
            ],
            ready: (0..replicas).collect(),
            shared: VecDeque::new(),
            down: false,
            extra_latency: 0,
            busy: 0,
            busy_area_from: None,
            retired_busy: 0,
            next_rr: 0,
            service_time,
            service_rng,
            cpu_time: None,
            cpu: None,
            route_rng,
            warmup,
            capacity_since: 0,
            stats: StationStats {
                busy_area: 0.0,
                busy_area_all: 0.0,
                capacity_area: 0.0,
                replica_area: 0.0,
                replicas_min: replicas,
                replicas_max: replicas,
                completions: 0,
                completions_all: 0,
                reads: 0,
                waits_tally: Tally::for_histogram(&waits),
                waits_us: waits,
                wait_sum_ns: 0.0,
            },
            group: None,
        }
    }

    /// Makes the station a Kafka consumer group over `config`'s partitions, its replicas the
    /// consumers (assigned before the run).
    pub fn with_group(mut self, config: GroupConfig) -> Station {
        self.group = Some(Partitions::new(
            config,
            self.replicas.len() as u32,
            self.warmup,
        ));
        self
    }

    /// Gives the station a CPU model: visits draw `demand` (from `rng`) and, with a
    /// `config`, share each replica's cores (without one, they run without contention).
    pub fn with_cpu(
        mut self,
        demand: Sampler,
        rng: RandomStream,
        config: Option<CpuConfig>,
    ) -> Station {
        self.cpu_time = Some((demand, rng));
        self.cpu = config;
        if let Some(c) = config {
            for r in &mut self.replicas {
                r.cpu = Cpu::new(c);
            }
        }
        self
    }

    /// Whether the replicas' visits share cores (`cpu:` with cores).
    #[inline]
    pub fn cpu_contended(&self) -> bool {
        self.cpu.is_some()
    }

    /// Servers across the ready replicas.
    pub fn servers(&self) -> u32 {
        self.ready.len() as u32 * self.concurrency
    }

    /// Replicas taking requests.
    pub fn ready_replicas(&self) -> u32 {
        self.ready.len() as u32
    }

    /// Busy servers now.
    pub fn busy(&self) -> u32 {
        self.busy
    }

    /// Requests waiting now, over all queues.
    pub fn queued(&self) -> usize {
        self.shared.len()
            + self.replicas.iter().map(|r| r.queue.len()).sum::<usize>()
            + self.group.as_ref().map_or(0, Partitions::waiting)
    }

    /// Brings the busy-server time (`busy_area_all`, and `busy_area` after warm-up) and the
    /// replica and capacity areas (after warm-up) up to `now`. Starts and ends do not call
    /// this: they add to their replica's sums, from which the areas are read here (replicas
    /// are never removed, so theirs is the station's whole busy time).
    fn account(&mut self, now: Nanos) {
        let sum: i128 = self.replicas.iter().map(|r| r.busy_sum).sum();
        self.stats.busy_area_all = (sum + i128::from(self.busy) * i128::from(now)) as f64;
        if let Some(from) = self.busy_area_from {
            self.stats.busy_area = self.stats.busy_area_all - from;
        }
        let from = self.capacity_since.max(self.warmup);
        if now > from {
            let dt = (now - from) as f64;
            self.stats.replica_area += self.ready.len() as f64 * dt;
            self.stats.capacity_area += f64::from(self.servers()) * dt;
        }
        self.capacity_since = now;
    }

    #[inline]
    fn draw_service(&mut self) -> Nanos {
        crate::calendar::secs_to_ns(self.service_time.sample(&mut self.service_rng))
    }

    /// Picks a replica by the balancing rule (not used for `shared`).
    #[inline]
    fn pick(&mut self) -> usize {
        let n = self.ready.len() as u32;
        if n == 1 {
            return self.ready[0] as usize;
        }
        let i = match self.balancing {
            Balancing::Random | Balancing::Shared => self.route_rng.below(n),
            Balancing::RoundRobin => {
                let r = self.next_rr % n;
                self.next_rr = r + 1;
                r
            }
            // Envoy's LEAST_REQUEST: the less loaded of two replicas drawn at random
            // (power of two choices, its default choice_count of 2).
            Balancing::LeastRequest => {
                let a = self.route_rng.below(n);
                let b = (a + 1 + self.route_rng.below(n - 1)) % n;
                let load = |r: &Replica| r.busy as usize + r.queue.len();
                let ra = &self.replicas[self.ready[a as usize] as usize];
                let rb = &self.replicas[self.ready[b as usize] as usize];
                if load(rb) < load(ra) {
                    b
                } else {
                    a
                }
            }
        };
        self.ready[i as usize] as usize
    }

    /// A request moved off a retired replica (scale-down, a lost pod) goes back through
    /// balancing; it never is rejected. It has waited since `queued_at`, which its wait records
    /// if it starts at once on another replica.
    #[inline]
    pub fn reroute(&mut self, request: u32, queued_at: Nanos, now: Nanos) -> Option<Start> {
        match self.offer_since(request, queued_at, now, usize::MAX) {
            Offer::Started(s) => Some(s),
            Offer::Queued | Offer::Rejected => None,
        }
    }

    /// A request arrives at a queue that holds at most `limit` waiting requests (per replica,
    /// or in the shared queue): it starts, waits, or is rejected.
    #[inline]
    pub fn offer(&mut self, request: u32, now: Nanos, limit: usize) -> Offer {
        self.offer_since(request, now, now, limit)
    }

    /// [`Self::offer`] for a request that has waited since `queued_at`.
    #[inline]
    fn offer_since(&mut self, request: u32, queued_at: Nanos, now: Nanos, limit: usize) -> Offer {
        if let Some(g) = &mut self.group {
            // A record: to its partition, started at once only by that partition's consumer.
            let rng = &mut self.route_rng;
            let p = g.partition_for(|n| rng.below(n));
            let (replicas, concurrency) = (&self.replicas, self.concurrency);
            let taker = g.arrive(p, request, now, |r| {
                let rep = &replicas[r as usize];
                rep.ready && rep.busy < concurrency
            });
            return match taker {
                Some(r) => Offer::Started(self.start(r as usize, request, queued_at, now)),
                None => Offer::Queued,
            };
        }
        if self.ready.is_empty() {
            // No replica is up: the request waits for one (shared queue).
            if self.shared.len() >= limit {
                return Offer::Rejected;
            }
            self.shared.push_back(request);
            return Offer::Queued;
        }
        if self.balancing == Balancing::Shared {
            // Work-conserving: any free slot of a ready replica serves it, whatever retired
            // replicas still drain (their busy slots are not capacity). The count check keeps
            // a full station from scanning its replicas.
            if self.busy - self.retired_busy < self.servers() {
                let free = self.ready.iter().map(|i| *i as usize).find(|i| {
                    let r = &self.replicas[*i];
                    r.busy < self.concurrency
                });
                if let Some(r) = free {
                    return Offer::Started(self.start(r, request, queued_at, now));
                }
            }
            if self.shared.len() >= limit {
                return Offer::Rejected;
            }
            self.shared.push_back(request);
            return Offer::Queued;
        }
        let r = self.pick();
        if self.replicas[r].busy < self.concurrency {
            Offer::Started(self.start(r, request, queued_at, now))
        } else if self.replicas[r].queue.len() >= limit {
            Offer::Rejected
        } else {
            self.replicas[r].queue.push_back(request);
            Offer::Queued
        }
    }

    #[inline]
    fn start(&mut self, replica: usize, request: u32, queued_at: Nanos, now: Nanos) -> Start {
        self.busy += 1;
        self.replicas[replica].begin_service(now);
        if now >= self.warmup {
            let wait = now - queued_at;
            self.stats.wait_sum_ns += crate::calendar::ns_f64(wait);
            self.stats
                .waits_tally
                .record((wait / 1000).clamp(1, crate::metrics::MAX_US));
        }
        let service = self.draw_service();
        let cpu = match &mut self.cpu_time {
            Some((law, rng)) => cpu_demand(law, rng),
            None => 0,
        };
        Start {
            replica: replica as u32,
            request,
            service,
            cpu,
        }
    }

    /// A server of `replica` finishes; returns the next request it starts, if any. The caller
    /// passes the time each queued request was enqueued through `queued_at`.
    #[inline]
    pub fn depart(
        &mut self,
        replica: u32,
        now: Nanos,
        queued_at: impl Fn(u32) -> Nanos,
    ) -> Option<Start> {
        self.free_slot(replica, now);
        let r = replica as usize;
        if !self.replicas[r].ready {
            // A retired replica takes nothing new; the shared queue may still have work for
            // the ready ones, which pull it when they free up.
            return None;
        }
        let next = match self.replicas[r].queue.pop_front() {
            Some(n) => n,
            None => self.shared.pop_front()?,
        };
        Some(self.start(r, next, queued_at(next), now))
    }

    /// A consumer of a Kafka consumer group finishes its record: it takes the next of its
    /// partitions' records, and if the partition it served moved in a rebalance meanwhile,
    /// the partition's new consumer, if idle, takes that up (at most two starts).
    pub fn depart_group(
        &mut self,
        replica: u32,
        now: Nanos,
        queued_at: impl Fn(u32) -> Nanos,
    ) -> [Option<Start>; 2] {
        self.free_slot(replica, now);
        let mut out: [Option<u32>; 2] = [None, None];
        let Some(g) = &mut self.group else {
            return [None, None];
        };
        let served = g.finish(replica, now);
        let takes = |rep: &Replica, concurrency: u32| rep.ready && rep.busy < concurrency;
        if takes(&self.replicas[replica as usize], self.concurrency) {
            if let Some(next) = g.next_for(replica) {
                out[0] = Some(next);
            }
        }
        let mut heir = NONE;
        if served != NONE {
            let o = g.owner(served);
            if o != replica && o != NONE && takes(&self.replicas[o as usize], self.concurrency) {
                if let Some(next) = g.next_for(o) {
                    heir = o;
                    out[1] = Some(next);
                }
            }
        }
        [
            out[0].map(|n| self.start(replica as usize, n, queued_at(n), now)),
            out[1].map(|n| self.start(heir as usize, n, queued_at(n), now)),
        ]
    }

    /// A server of `replica` is free: the busy-time accounts and the completion counts.
    #[inline]
    fn free_slot(&mut self, replica: u32, now: Nanos) {
        self.busy -= 1;
        let r = replica as usize;
        self.replicas[r].end_service(now);
        if !self.replicas[r].ready {
            self.retired_busy -= 1;
        }
        self.stats.completions_all += 1;
        if now >= self.warmup {
            self.stats.completions += 1;
        }
    }

    /// A consumer group's membership changed (a replica added or retired): see
    /// [`Partitions::begin_rebalance`] (None for a station that is no group).
    pub fn group_changed(&mut self, now: Nanos) -> Option<Rebalance> {
        self.group.as_mut().map(|g| g.begin_rebalance(now))
    }

    /// The group's rebalance is over: its ready replicas share the partitions (range
    /// assignor) and the idle ones start on their partitions' records.
    pub fn end_rebalance(&mut self, now: Nanos, queued_at: impl Fn(u32) -> Nanos) -> Vec<Start> {
        let members = self.ready.clone();
        if let Some(g) = &mut self.group {
            g.end_rebalance(&members, now);
        }
        self.kick_group(now, queued_at)
    }

    /// Partition `p` of the group has a leader again (or lost it): its consumer may go on.
    pub fn set_leaderless(
        &mut self,
        p: u32,
        leaderless: bool,
        now: Nanos,
        queued_at: impl Fn(u32) -> Nanos,
    ) -> Vec<Start> {
        match &mut self.group {
            Some(g) if p < g.count() => g.set_leaderless(p, leaderless),
            _ => return Vec::new(),
        }
        self.kick_group(now, queued_at)
    }

    /// Every idle consumer of the group that takes work starts on its partitions' records.
    fn kick_group(&mut self, now: Nanos, queued_at: impl Fn(u32) -> Nanos) -> Vec<Start> {
        let mut starts = Vec::new();
        for k in 0..self.ready.len() {
            let r = self.ready[k];
            loop {
                let rep = &self.replicas[r as usize];
                if rep.busy >= self.concurrency {
                    break;
                }
                let Some(next) = self.group.as_mut().and_then(|g| g.next_for(r)) else {
                    break;
                };
                starts.push(self.start(r as usize, next, queued_at(next), now));
            }
        }
        starts
    }

    /// A new replica becomes ready; it takes work waiting in the shared queue at once.
    pub fn add_replica(
        &mut self,
        now: Nanos,
        queued_at: impl Fn(u32) -> Nanos,
    ) -> (u32, Vec<Start>) {
        self.account(now);
        let idx = match self
            .replicas
            .iter()
            .position(|r| !r.ready && r.busy == 0 && r.queue.is_empty())
        {
            Some(i) => i,
            None => {
                self.replicas.push(Replica {
                    cpu: self.cpu.map(Cpu::new).unwrap_or_default(),
                    ..Replica::default()
                });
                self.replicas.len() - 1
            }
        };
        let rep = &mut self.replicas[idx];
        rep.ready = true;
        rep.killed = false;
        rep.last_change = now;
        self.ready.push(idx as u32);
        self.note_replica_count(now);
        let mut starts = Vec::new();
        while self.replicas[idx].busy < self.concurrency {
            let Some(next) = self.shared.pop_front() else {
                break;
            };
            starts.push(self.start(idx, next, queued_at(next), now));
        }
        (idx as u32, starts)
    }

    /// Takes a replica out of service (scale-down, pod or node loss). It finishes what it
    /// serves; its queued requests are returned for the caller to send through balancing.
    pub fn retire_replica(&mut self, replica: u32, now: Nanos) -> Vec<u32> {
        self.account(now);
        let r = replica as usize;
        if self.replicas[r].ready {
            self.retired_busy += self.replicas[r].busy;
        }
        self.replicas[r].ready = false;
        self.ready.retain(|i| *i != replica);
        self.note_replica_count(now);
        self.replicas[r].queue.drain(..).collect()
    }

    fn note_replica_count(&mut self, now: Nanos) {
        if now >= self.warmup {
            let n = self.ready.len() as u32;
            self.stats.replicas_min = self.stats.replicas_min.min(n);
            self.stats.replicas_max = self.stats.replicas_max.max(n);
        }
    }

    /// Resets the replica range at the end of warm-up (the count then is where it starts)
    /// and starts the busy time measured after it.
    pub fn start_measuring(&mut self, now: Nanos) {
        self.account(now);
        self.busy_area_from = Some(self.stats.busy_area_all);
        let n = self.ready.len() as u32;
        self.stats.replicas_min = n;
        self.stats.replicas_max = n;
    }

    /// Removes and returns every waiting request (the service went down).
    pub fn drain_waiting(&mut self, now: Nanos) -> Vec<u32> {
        let mut out: Vec<u32> = self.shared.drain(..).collect();
        for r in &mut self.replicas {
            out.extend(r.queue.drain(..));
        }
        if let Some(g) = &mut self.group {
            g.drain(&mut out, now);
        }
        out
    }

    /// Removes `request` from the shared queue if it still waits there (Cloud Run's pending
    /// timeout). A linear scan: the pending queue is short, and this runs once per timeout.
    pub fn withdraw(&mut self, request: u32) -> bool {
        match self.shared.iter().position(|r| *r == request) {
            Some(i) => {
                self.shared.remove(i);
                true
            }
            None => false,
        }
    }

    /// The ready replica indices.
    pub fn ready_list(&self) -> &[u32] {
        &self.ready
    }

    /// Brings the busy-time accounts (and the partitions' lag) up to `now`.
    pub fn account_to(&mut self, now: Nanos) {
        self.account(now);
        if let Some(g) = &mut self.group {
            g.account_to(now);
        }
    }

    /// Closes the accounts at the end of the run and completes `stats.waits_us`.
    pub fn finish(&mut self, now: Nanos) {
        self.account_to(now);
        self.stats.waits_tally.flush_into(&mut self.stats.waits_us);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = 1_000_000_000;

    fn station(replicas: u32, balancing: Balancing) -> Station {
        let rng = || RandomStream::from_seed(7);
        Station::new(
            replicas,
            1,
            balancing,
            Sampler::Constant(1.0),
            rng(),
            rng(),
            0,
        )
    }

    fn started(o: Offer) -> Start {
        match o {
            Offer::Started(s) => s,
            other => panic!("expected a start, got {other:?}"),
        }
    }

    #[test]
    fn shared_balancing_serves_on_a_free_live_slot_while_a_retired_replica_drains() {
        // Two replicas of one slot. Both busy; replica 0 is retired (scale-down) and drains
        // its request; replica 1 finishes. One live slot is free: the next request starts
        // there at once (on main it queued: busy 1 = servers 1 counted the retired slot).
        let mut st = station(2, Balancing::Shared);
        let a = started(st.offer(1, 0, usize::MAX));
        let b = started(st.offer(2, 0, usize::MAX));
        assert_ne!(a.replica, b.replica);
        assert!(st.retire_replica(a.replica, S).is_empty());
        assert!(st.depart(b.replica, 2 * S, |_| 0).is_none());
        let c = started(st.offer(3, 3 * S, usize::MAX));
        assert_eq!(c.replica, b.replica, "the live replica serves it");
        // The retired one finishing changes nothing: one live slot, now busy.
        assert!(st.depart(a.replica, 4 * S, |_| 0).is_none());
        assert!(matches!(st.offer(4, 5 * S, usize::MAX), Offer::Queued));
        assert_eq!(
            st.depart(b.replica, 6 * S, |_| 5 * S).map(|s| s.request),
            Some(4)
        );
    }

    #[test]
    fn a_request_moved_off_a_retired_replica_records_the_wait_since_it_queued() {
        // Round robin over two replicas of one slot: 1 -> r0, 2 -> r1, 3 waits on r0 from
        // t = 0. r1 finishes at 1 s; r0 is retired at 4 s: request 3 moves to r1 and starts at
        // once, having waited 4 s (on main its wait was recorded as 0).
        let mut st = station(2, Balancing::RoundRobin);
        let a = started(st.offer(1, 0, usize::MAX));
        started(st.offer(2, 0, usize::MAX));
        assert!(matches!(st.offer(3, 0, usize::MAX), Offer::Queued));
        assert!(st.depart(1 - a.replica, S, |_| 0).is_none());
        let moved = st.retire_replica(a.replica, 4 * S);
        assert_eq!(moved, vec![3]);
        let s = st.reroute(3, 0, 4 * S).expect("a free slot on r1");
        assert_eq!(s.replica, 1 - a.replica);
        // Waits: requests 1 and 2 none, request 3 four seconds.
        st.finish(4 * S);
        assert_eq!(st.stats.wait_sum_ns, (4 * S) as f64);
        assert_eq!(st.stats.waits_us.len(), 3);
        assert_eq!(
            st.stats.waits_us.max(),
            st.stats.waits_us.highest_equivalent(4_000_000)
        );
    }
}
