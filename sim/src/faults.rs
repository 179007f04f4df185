//! Faults injected into a replication and their recovery: pod kills and node losses go
//! through the cluster (the ReplicaSet replaces pods, the scheduler places them); a primary
//! crash takes a whole service down for detection + promotion + endpoint update +
//! reconnection; a Redis primary loss sends cache lookups down the miss path (the database)
//! until failover completes; a Kafka broker loss pauses the consumers of the partitions it
//! led until leader election completes; LLM outages and throttling refuse calls (clients
//! retry as their policy says); added latency slows a service; packet loss costs a hop a TCP
//! retransmission timeout. Requests in flight on what is lost fail.
//!
//! A fault strikes at its `at`, or at random (`mtbf`): up times exponential of mean MTBF,
//! repairs of `mttr`, each fault drawing from its own stream (derived from the seed, the
//! replication and the fault's name), so adding a fault does not change another's draws.

use crate::calendar::Nanos;
use crate::engine::{Event, Replication};
use crate::model::{Model, Op, NONE};
use models::faults::{FaultKind, FaultSpec, Replication as Repl, DEFAULT_PACKETS, DEFAULT_RTO};
use models::{RandomStream, Sampler, Scenario};

/// "No occurrence under way" in [`FaultState::started`].
const IDLE: Nanos = Nanos::MAX;

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

/// What one replication saw of a random fault, within the measured time.
#[derive(Clone, Copy, Debug, Default)]
pub struct RandomFaultCount {
    pub occurrences: u64,
    pub downtime_s: f64,
}

/// A hop losing packets: visits of `station` (after a step at `from`, unless NONE).
#[derive(Clone, Copy, Debug)]
struct LossyHop {
    fault: u32,
    station: u32,
    from: u32,
    /// Per-segment loss probability, and the chance that an exchange loses some segment.
    p: f64,
    q: f64,
    rto: Nanos,
}

/// Fault state a replication keeps beside its records.
pub(crate) struct FaultState {
    /// Per fault: its own stream (up times, repairs, its RPO draws when random).
    streams: Vec<RandomStream>,
    /// Per fault: its repair-time sampler, if `mttr` is given.
    mttr: Vec<Option<Sampler>>,
    /// Per fault: when its current occurrence began (NONE when none is under way).
    started: Vec<Nanos>,
    counts: Vec<RandomFaultCount>,
    /// Per station: a Redis primary loss under way, with how long a client waits before it
    /// falls back to the miss path.
    pub(crate) cache_down: Vec<Option<Nanos>>,
    lossy: Vec<LossyHop>,
    /// Per op: the station of the service step before it in the journey as written.
    prev_station: Vec<u32>,
    loss_rng: RandomStream,
    /// Per fault: the (station, replica) consumers a broker loss paused.
    paused: Vec<Vec<(u32, u32)>>,
}

impl FaultState {
    pub(crate) fn new(scenario: &Scenario, model: &Model, seed: u64, rep: u32) -> FaultState {
        let n = scenario.faults.len();
        let mut prev_station = Vec::with_capacity(model.ops.len());
        let mut last = NONE;
        for op in &model.ops {
            prev_station.push(last);
            match op {
                Op::Visit { station } => last = *station,
                Op::Done => last = NONE,
                _ => {}
            }
        }
        FaultState {
            streams: scenario
                .faults
                .iter()
                .map(|f| RandomStream::derive(seed, rep, &f.stream_name()))
                .collect(),
            mttr: scenario
                .faults
                .iter()
                .map(|f| f.mttr.as_ref().map(|d| d.sampler()))
                .collect(),
            started: vec![IDLE; n],
            counts: vec![RandomFaultCount::default(); n],
            cache_down: vec![None; model.stations.len()],
            lossy: Vec::new(),
            prev_station,
            loss_rng: RandomStream::derive(seed, rep, "fault/packet-loss"),
            paused: vec![Vec::new(); n],
        }
    }

    /// Time to the next failure of random fault `i`: exponential with mean `mtbf`.
    fn up_time(&mut self, i: usize, mtbf: Nanos) -> Nanos {
        (mtbf as f64 * self.streams[i].exp1()) as Nanos
    }

    /// The added latency of one exchange on a lossy hop into `station` (0 on most hops): with
    /// probability q some segment is lost and waits one RTO; each loss of its retransmission
    /// (probability p) waits a doubled RTO, up to Linux's 15 retries (`tcp_retries2`).
    #[inline]
    pub(crate) fn hop_delay(&mut self, station: u32, pc: u32) -> Nanos {
        if self.lossy.is_empty() {
            return 0;
        }
        let prev = self.prev_station.get(pc as usize).copied().unwrap_or(NONE);
        let mut total = 0;
        for h in &self.lossy {
            if h.station != station || (h.from != NONE && h.from != prev) {
                continue;
            }
            if self.loss_rng.next_f64() >= h.q {
                continue;
            }
            let mut rto = h.rto;
            total += rto;
            for _ in 0..15 {
                if self.loss_rng.next_f64() >= h.p {
                    break;
                }
                rto *= 2;
                total += rto;
            }
        }
        total
    }

    /// Occurrences and downtime of each random fault, closing one still under way at the
    /// horizon.
    pub(crate) fn finish(&mut self, faults: &[FaultSpec], warmup: Nanos, horizon: Nanos) {
        for (i, f) in faults.iter().enumerate() {
            if f.mtbf.is_some() && f.has_outage() && self.started[i] != IDLE {
                let s = self.started[i].clamp(warmup, horizon);
                self.counts[i].downtime_s += (horizon - s) as f64 / 1e9;
                self.started[i] = IDLE;
            }
        }
    }

    pub(crate) fn counts(&self) -> Vec<RandomFaultCount> {
        self.counts.clone()
    }
}

impl Replication<'_> {
    pub(crate) fn schedule_faults(&mut self) {
        for (i, f) in self.scenario.faults.iter().enumerate() {
            let at = match (f.at, f.mtbf) {
                (Some(at), _) => at.0,
                (None, Some(mtbf)) => self.fault_state.up_time(i, mtbf.0),
                (None, None) => continue,
            };
            if at <= self.model.horizon {
                self.calendar
                    .schedule(at, Event::FaultStart { fault: i as u32 });
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

    /// Takes every replica of `st` down; what waits there fails, or, at a lost cache, falls
    /// back to the miss path.
    fn take_down(&mut self, st: u32, rec: &mut FaultRecord, now: Nanos) {
        let ready: Vec<u32> = self.stations[st as usize].ready_list().to_vec();
        self.stations[st as usize].down = true;
        for r in ready {
            self.kill_replica(st, r, now);
            rec.downed.push(r);
        }
        for r in self.stations[st as usize].drain_waiting() {
            if self.fault_state.cache_down[st as usize].is_some() {
                if !self.cache_fallback(r, now) {
                    self.execute(r, now);
                }
            } else {
                self.requests[r as usize].failed = true;
                self.requests[r as usize].pc += 1;
                self.execute(r, now);
            }
        }
    }

    /// A visit to a lost Redis primary (request `id` at its `Visit`): a cache lookup counts
    /// as a miss and goes on into the miss path, after the client's wait if the fault gives
    /// one (true: the request now waits); any other visit fails.
    pub(crate) fn cache_fallback(&mut self, id: u32, now: Nanos) -> bool {
        let pc = self.requests[id as usize].pc as usize;
        let station = match self.model.ops[pc] {
            Op::Visit { station } => station,
            _ => NONE,
        };
        let Some(Op::CacheLookup { cache, .. }) = self.model.ops.get(pc + 1).copied() else {
            self.requests[id as usize].failed = true;
            return false;
        };
        if now >= self.model.warmup {
            self.cache_lookups[cache as usize].0 += 1;
        }
        let wait = self
            .fault_state
            .cache_down
            .get(station as usize)
            .copied()
            .flatten()
            .unwrap_or(0);
        if wait > 0 {
            // Advance moves past the lookup into the miss path.
            self.requests[id as usize].pc = pc as u32 + 1;
            self.calendar
                .schedule(now + wait, Event::Advance { request: id });
            true
        } else {
            self.requests[id as usize].pc = pc as u32 + 2;
            false
        }
    }

    /// The outage of this occurrence of fault `i`: a repair time drawn from `mttr` for a
    /// random fault that gives one, else the fault's fixed outage.
    fn occurrence_outage(&mut self, i: usize, f: &FaultSpec) -> Nanos {
        match &self.fault_state.mttr[i] {
            Some(s) => (s.sample(&mut self.fault_state.streams[i]) * 1e9) as Nanos,
            None => f.outage().0,
        }
    }

    /// The next failure of random fault `i`, an up time after `now`.
    fn schedule_next(&mut self, i: u32, now: Nanos) {
        if let Some(mtbf) = self.scenario.faults[i as usize].mtbf {
            let next = now + self.fault_state.up_time(i as usize, mtbf.0);
            if next <= self.model.horizon {
                self.calendar.schedule(next, Event::FaultStart { fault: i });
            }
        }
    }

    pub(crate) fn fault_start(&mut self, i: u32, now: Nanos) {
        let f: FaultSpec = self.scenario.faults[i as usize].clone();
        let random = f.mtbf.is_some();
        let outage = self.occurrence_outage(i as usize, &f);
        self.fault_state.started[i as usize] = now;
        if random && now >= self.model.warmup {
            self.fault_state.counts[i as usize].occurrences += 1;
        }
        let mut rec = FaultRecord {
            at_s: now as f64 / 1e9,
            label: f.label(),
            ..FaultRecord::default()
        };
        let mut ends = false;
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
                        ends = true;
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
            FaultKind::PrimaryCrash
            | FaultKind::ZoneLoss
            | FaultKind::RegionLoss
            | FaultKind::RedisPrimaryLoss => {
                if let Some(st) = self.station_of(&f.target) {
                    if f.kind == FaultKind::RedisPrimaryLoss {
                        self.fault_state.cache_down[st as usize] =
                            Some(f.latency.map_or(0, |l| l.0));
                    }
                    self.take_down(st, &mut rec, now);
                    ends = true;
                    if f.kind != FaultKind::RedisPrimaryLoss {
                        let rate = self.stations[st as usize].stats.completions as f64
                            / ((now.saturating_sub(self.model.warmup)).max(1) as f64 / 1e9);
                        // A random fault draws from its own stream; a fixed one from the
                        // replication's fault stream (as before random faults existed).
                        let rng = if random {
                            &mut self.fault_state.streams[i as usize]
                        } else {
                            &mut self.fault_rng
                        };
                        let lost_span = match &f.replication {
                            Repl::Synchronous => 0.0,
                            Repl::Asynchronous { lag } => lag.sampler().sample(rng),
                            Repl::Backup { interval } => interval.as_secs_f64() * rng.next_f64(),
                        };
                        rec.rpo_s = Some(lost_span);
                        rec.lost_writes = Some((rate * lost_span).round() as u64);
                    }
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
                    ends = true;
                }
            }
            FaultKind::NetworkLatency => {
                if let Some(st) = self.station_of(&f.target) {
                    self.stations[st as usize].extra_latency = f.latency.map_or(0, |l| l.0);
                    ends = true;
                }
            }
            FaultKind::PacketLoss => {
                if let Some(st) = self.station_of(&f.target) {
                    let p = f.rate.map_or(0.0, |r| r.0);
                    let n = f.packets.unwrap_or(DEFAULT_PACKETS);
                    self.fault_state.lossy.push(LossyHop {
                        fault: i,
                        station: st,
                        from: f
                            .from
                            .as_deref()
                            .and_then(|s| self.station_of(s))
                            .unwrap_or(NONE),
                        p,
                        q: 1.0 - (1.0 - p).powi(n as i32),
                        rto: f.retransmission_timeout.unwrap_or(DEFAULT_RTO).0,
                    });
                    ends = true;
                }
            }
            FaultKind::BrokerLoss => {
                let brokers = self.scenario.kafka.as_ref().map_or(1, |k| k.brokers.max(1));
                let lost = f.broker.unwrap_or(0);
                let topics = self.model.topic_base as usize..self.stations.len();
                for st in topics {
                    // Consumer r reads partition r (one consumer per partition at most);
                    // partition r's leader is broker r mod brokers.
                    for r in 0..self.stations[st].replicas.len() as u32 {
                        if r % brokers == lost && !self.stations[st].replicas[r as usize].paused {
                            self.stations[st].replicas[r as usize].paused = true;
                            self.fault_state.paused[i as usize].push((st as u32, r));
                        }
                    }
                }
                ends = true;
            }
        }
        if ends {
            self.calendar
                .schedule(now + outage, Event::FaultEnd { fault: i });
        } else {
            // Kubernetes repairs pod and node losses; the next failure is an up time away.
            self.fault_state.started[i as usize] = IDLE;
            self.schedule_next(i, now);
        }
        self.fault_records[i as usize] = rec;
    }

    pub(crate) fn fault_end(&mut self, i: u32, now: Nanos) {
        let f = &self.scenario.faults[i as usize];
        let kind = f.kind;
        let random = f.mtbf.is_some();
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
            FaultKind::PacketLoss => self.fault_state.lossy.retain(|h| h.fault != i),
            FaultKind::BrokerLoss => {
                let paused = std::mem::take(&mut self.fault_state.paused[i as usize]);
                for (st, r) in paused {
                    let requests = &self.requests;
                    let starts = self.stations[st as usize]
                        .resume_replica(r, now, |q| requests[q as usize].enqueued);
                    for s in starts {
                        self.begin(st, s, now);
                    }
                }
            }
            _ => {
                if let Some(st) = self.station_of(&target) {
                    self.stations[st as usize].down = false;
                    self.fault_state.cache_down[st as usize] = None;
                    let n = self.fault_records[i as usize].downed.len();
                    for _ in 0..n {
                        self.add_replica(st, now);
                    }
                }
            }
        }
        let started = self.fault_state.started[i as usize];
        self.fault_state.started[i as usize] = IDLE;
        if random {
            let (w, h) = (self.model.warmup, self.model.horizon);
            let span = now.clamp(w, h) - started.clamp(w, h);
            self.fault_state.counts[i as usize].downtime_s += span as f64 / 1e9;
            self.schedule_next(i, now);
        } else {
            self.fault_marks
                .push((now as f64 / 1e9, format!("recovered {target}")));
        }
    }
}
