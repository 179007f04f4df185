//! Faults injected into a replication and their recovery: pod kills and node losses go
//! through the cluster (the ReplicaSet replaces pods, the scheduler places them); a primary
//! crash takes a whole service down for detection + promotion + endpoint update +
//! reconnection; a Redis primary loss sends cache lookups down the miss path (the database)
//! until failover completes; a Kafka broker loss pauses the consumers of the partitions it
//! led until leader election completes; LLM outages and throttling refuse calls (clients
//! retry as their policy says); added latency slows a service; packet loss costs a hop a TCP
//! retransmission timeout. Requests in flight on what is lost fail.
//!
//! Spot preemptions: each node of a `spot: true` pool is preempted as a Poisson process of
//! its `preemption_rate`; the pool's process is drawn by thinning one of rate x max nodes
//! (a candidate strikes with probability preemptible nodes / max, on a node drawn uniformly),
//! so it costs one event per candidate and nothing for a pool that is not spot. A preemption
//! gives notice (the node is cordoned and its pods drained gracefully) and stops the VM after
//! `preemption_notice` (what is still served is lost); the cluster autoscaler replaces it.
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
    /// A zone lost (its index in the cluster) and the pools of the nodes lost with it (to
    /// recreate at recovery).
    pub(crate) zone: Option<(u32, Vec<u32>)>,
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

/// Everything a replication keeps about its faults: their streams and occurrences, what is
/// broken now (lost caches, lossy hops, paused consumers), and the records for the summary.
pub(crate) struct FaultState {
    /// The replication's fault stream (the RPO draws of fixed faults).
    rng: RandomStream,
    /// Per fault: its last occurrence, for the summary.
    records: Vec<FaultRecord>,
    /// When each fixed fault's outage ended, for the timeline.
    marks: Vec<(f64, String)>,
    /// Per fault: its own stream (up times, repairs, its RPO draws when random).
    streams: Vec<RandomStream>,
    /// Per fault: its repair-time sampler, if `mttr` is given.
    mttr: Vec<Option<Sampler>>,
    /// Per fault: when its current occurrence began (NONE when none is under way).
    started: Vec<Nanos>,
    counts: Vec<RandomFaultCount>,
    /// Per station: a Redis primary loss under way, with how long a client waits before it
    /// falls back to the miss path.
    cache_down: Vec<Option<Nanos>>,
    lossy: Vec<LossyHop>,
    /// Per op: the station of the service step before it in the journey as written.
    prev_station: Vec<u32>,
    loss_rng: RandomStream,
    /// Per fault: the (station, partition) a broker loss left without a leader.
    paused: Vec<Vec<(u32, u32)>>,
    /// The spot node pools' preemption processes.
    spot: Vec<SpotPool>,
    /// Preemptions under notice: the node and the replicas draining on it (taken at the stop).
    notices: Vec<(u64, Vec<(u32, u32)>)>,
}

/// A spot node pool's preemptions: a Poisson process of `rate` per node, drawn by thinning
/// one of `rate` x `bound` (the pool's most nodes) from the pool's own stream.
struct SpotPool {
    pool: u32,
    /// Preemptions per node-second.
    rate: f64,
    notice: Nanos,
    bound: u32,
    rng: RandomStream,
    count: u64,
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
            rng: RandomStream::derive(seed, rep, "faults"),
            records: vec![Default::default(); n],
            marks: Vec::new(),
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
            spot: scenario
                .node_pools
                .iter()
                .enumerate()
                .filter_map(|(i, (name, np))| {
                    let (rate, notice) = np.preemption()?;
                    (rate > 0.0).then(|| SpotPool {
                        pool: i as u32,
                        rate,
                        notice: notice.0,
                        bound: np.max.max(np.min).max(1),
                        rng: RandomStream::derive(seed, rep, &format!("preemption/{name}")),
                        count: 0,
                    })
                })
                .collect(),
            notices: Vec::new(),
        }
    }

    /// Time to the next preemption candidate of spot pool `k`: exponential with rate
    /// `rate` x `bound`.
    fn candidate_gap(&mut self, k: usize) -> Nanos {
        let p = &mut self.spot[k];
        (p.rng.exp1() / (p.rate * f64::from(p.bound)) * 1e9) as Nanos
    }

    /// Preemptions per node pool over the run (0 for pools that are not spot).
    pub(crate) fn preemption_counts(&self, pools: usize) -> Vec<u64> {
        let mut out = vec![0; pools];
        for p in &self.spot {
            out[p.pool as usize] = p.count;
        }
        out
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
        self.lossy_hop_delay(station, pc)
    }

    /// [`Self::hop_delay`] while some hop is lossy (out of line: most runs have none).
    #[inline(never)]
    fn lossy_hop_delay(&mut self, station: u32, pc: u32) -> Nanos {
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

    /// Whether a Redis primary loss is under way at `station` (any index; NONE: no), with how
    /// long a client waits before it falls back to the miss path.
    #[inline]
    pub(crate) fn cache_down(&self, station: u32) -> Option<Nanos> {
        self.cache_down.get(station as usize).copied().flatten()
    }

    /// Closes a random fault still under way at the horizon and hands over, for the result:
    /// each fault's record, the recovery marks, and each random fault's occurrences and
    /// downtime.
    pub(crate) fn finish(
        &mut self,
        faults: &[FaultSpec],
        warmup: Nanos,
        horizon: Nanos,
    ) -> (Vec<FaultRecord>, Vec<(f64, String)>, Vec<RandomFaultCount>) {
        for (i, f) in faults.iter().enumerate() {
            if f.mtbf.is_some() && f.has_outage() && self.started[i] != IDLE {
                let s = self.started[i].clamp(warmup, horizon);
                self.counts[i].downtime_s += (horizon - s) as f64 / 1e9;
                self.started[i] = IDLE;
            }
        }
        (
            std::mem::take(&mut self.records),
            std::mem::take(&mut self.marks),
            self.counts.clone(),
        )
    }
}

impl Replication<'_> {
    pub(crate) fn schedule_faults(&mut self) {
        for (i, f) in self.scenario.faults.iter().enumerate() {
            let at = match (f.at, f.mtbf) {
                (Some(at), _) => at.0,
                (None, Some(mtbf)) => self.faults.up_time(i, mtbf.0),
                (None, None) => continue,
            };
            if at <= self.model.horizon {
                self.calendar
                    .schedule(at, Event::FaultStart { fault: i as u32 });
            }
        }
        for k in 0..self.faults.spot.len() {
            let at = self.faults.candidate_gap(k);
            if at <= self.model.horizon {
                self.calendar
                    .schedule(at, Event::Preemption { spot: k as u32 });
            }
        }
    }

    /// A preemption candidate of spot pool `k`: it strikes with probability preemptible
    /// nodes / bound (thinning), on a node drawn uniformly; the next candidate is drawn.
    pub(crate) fn preemption(&mut self, k: u32, now: Nanos) {
        let pool = self.faults.spot[k as usize].pool;
        let bound = self.faults.spot[k as usize].bound;
        let nodes = self.cluster.preemptible_nodes(pool);
        let u = self.faults.spot[k as usize].rng.next_f64() * f64::from(bound);
        if u < f64::from(nodes) {
            // u is uniform on [0, nodes) given that it struck: its floor picks the node.
            if let Some((node, draining)) = self.preemption_notice(pool, u as u32, now) {
                self.faults.spot[k as usize].count += 1;
                let id = self.faults.notices.len() as u32;
                self.faults.notices.push((node, draining));
                let notice = self.faults.spot[k as usize].notice;
                self.calendar
                    .schedule(now + notice, Event::PreemptionStop { notice: id });
            }
        }
        let next = now + self.faults.candidate_gap(k as usize);
        if next <= self.model.horizon {
            self.calendar.schedule(next, Event::Preemption { spot: k });
        }
    }

    /// The end of preemption notice `id`: the VM stops.
    pub(crate) fn preemption_end(&mut self, id: u32, now: Nanos) {
        let (node, draining) = std::mem::take(&mut self.faults.notices[id as usize]);
        self.preemption_stop(node, &draining, now);
    }

    fn station_of(&self, name: &str) -> Option<u32> {
        self.scenario.services.get_index_of(name).map(|i| i as u32)
    }

    /// Marks every request in service on `replica` as failed (they are lost with it) and
    /// re-routes its queue.
    fn kill_replica(&mut self, station: u32, replica: u32, now: Nanos) {
        self.stations[station as usize].replicas[replica as usize].killed = true;
        self.retire_replica(station, replica, now);
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
        self.evict_waiting(st, now);
    }

    /// A zone loss that leaves the target's other zones serving, if the target spans zones:
    /// a service run as pods has them on nodes in zones, and every node of the lost zone
    /// (`zone`, else the first zone of the service's node pool) goes with its pods, whatever
    /// their service; a service spread over `zones: n > 1` with more than one replica loses
    /// the replicas in its first zone (the k-th ready replica is in zone k mod n). Stateless
    /// replicas: no write is lost. False when the target lives in one zone and is not run as
    /// pods: the zone loss is then an outage of the whole service (failover, as a crash).
    fn lose_zone_of(&mut self, f: &FaultSpec, rec: &mut FaultRecord, now: Nanos) -> bool {
        let Some(st) = self.station_of(&f.target) else {
            return false;
        };
        if let Some(home) = self.cluster.home_zone(st) {
            let zone = f
                .zone
                .as_deref()
                .and_then(|z| self.cluster.zone_index(z))
                .unwrap_or(home);
            let pools = self.lose_zone(zone, now);
            rec.zone = Some((zone, pools));
            return true;
        }
        let zones = self.scenario.services[st as usize].zones.unwrap_or(1) as usize;
        let ready = self.stations[st as usize].ready_list().to_vec();
        if zones < 2 || ready.len() < 2 {
            return false;
        }
        for r in ready.into_iter().step_by(zones) {
            self.kill_replica(st, r, now);
            rec.downed.push(r);
        }
        true
    }

    /// The outage of this occurrence of fault `i`: a repair time drawn from `mttr` for a
    /// random fault that gives one, else the fault's fixed outage.
    fn occurrence_outage(&mut self, i: usize, f: &FaultSpec, write_rate: f64) -> Nanos {
        match &self.faults.mttr[i] {
            Some(s) => (s.sample(&mut self.faults.streams[i]) * 1e9) as Nanos,
            None => f.outage_at(write_rate).0,
        }
    }

    /// The rate at which `target`'s writing visits completed since the warm-up (its write
    /// rate, for the WAL a restore replays and the writes a crash loses); 0 for no such
    /// service. A visit whose step reads (`http:` GET, HEAD, OPTIONS) is no write; one whose
    /// step says nothing counts as a write.
    fn write_rate(&self, target: &str, now: Nanos) -> f64 {
        self.station_of(target).map_or(0.0, |st| {
            let stats = &self.stations[st as usize].stats;
            stats.completions.saturating_sub(stats.reads) as f64
                / ((now.saturating_sub(self.model.warmup)).max(1) as f64 / 1e9)
        })
    }

    /// The next failure of random fault `i`, an up time after `now`.
    fn schedule_next(&mut self, i: u32, now: Nanos) {
        if let Some(mtbf) = self.scenario.faults[i as usize].mtbf {
            let next = now + self.faults.up_time(i as usize, mtbf.0);
            if next <= self.model.horizon {
                self.calendar.schedule(next, Event::FaultStart { fault: i });
            }
        }
    }

    pub(crate) fn fault_start(&mut self, i: u32, now: Nanos) {
        let f: FaultSpec = self.scenario.faults[i as usize].clone();
        let random = f.mtbf.is_some();
        let write_rate = self.write_rate(&f.target, now);
        let outage = self.occurrence_outage(i as usize, &f, write_rate);
        self.faults.started[i as usize] = now;
        if random && now >= self.model.warmup {
            self.faults.counts[i as usize].occurrences += 1;
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
                    // A pod's ReplicaSet replaces it; a replica not run as a pod restarts after
                    // the recovery time.
                    if !self.kill_pod(st, now) {
                        if let Some(&r) = self.stations[st as usize].ready_list().last() {
                            self.kill_replica(st, r, now);
                            rec.downed.push(r);
                            ends = true;
                        }
                    }
                }
            }
            FaultKind::NodeLoss => {
                if let Some(pool) = self.scenario.node_pools.get_index_of(&f.target) {
                    self.lose_node(pool as u32, now);
                }
            }
            FaultKind::ZoneLoss if self.lose_zone_of(&f, &mut rec, now) => ends = true,
            FaultKind::PrimaryCrash
            | FaultKind::ZoneLoss
            | FaultKind::RegionLoss
            | FaultKind::RedisPrimaryLoss => {
                if let Some(st) = self.station_of(&f.target) {
                    if f.kind == FaultKind::RedisPrimaryLoss {
                        self.faults.cache_down[st as usize] = Some(f.latency.map_or(0, |l| l.0));
                    }
                    self.take_down(st, &mut rec, now);
                    ends = true;
                    if f.kind != FaultKind::RedisPrimaryLoss {
                        let rate = write_rate;
                        // A random fault draws from its own stream; a fixed one from the
                        // replication's fault stream (as before random faults existed).
                        let rng = if random {
                            &mut self.faults.streams[i as usize]
                        } else {
                            &mut self.faults.rng
                        };
                        let lost_span = match &f.replication {
                            Repl::Synchronous => 0.0,
                            Repl::Asynchronous { lag: Some(lag), .. } => lag.sampler().sample(rng),
                            // The lag the write rate and the link give (unbounded: every
                            // write since the warm-up is behind).
                            Repl::Asynchronous { link: Some(l), .. } => l
                                .lag_s(rate)
                                .unwrap_or(now.saturating_sub(self.model.warmup) as f64 / 1e9),
                            Repl::Asynchronous { .. } => 0.0,
                            Repl::Backup { interval } => interval.as_secs_f64() * rng.next_f64(),
                            Repl::Corruption { detected_after } => detected_after.as_secs_f64(),
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
                    self.set_llm_refusal(e, share);
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
                    self.faults.lossy.push(LossyHop {
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
                let topics = self.model.topic_base..self.stations.len() as u32;
                for st in topics {
                    // Partition p's leader is broker p mod brokers: its records wait, whatever
                    // consumer holds it, until the election is over.
                    let partitions = self.model.stations[st as usize].partitions.unwrap_or(0);
                    for p in (0..partitions).filter(|p| p % brokers == lost) {
                        self.set_leaderless(st, p, true, now);
                        self.faults.paused[i as usize].push((st, p));
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
            self.faults.started[i as usize] = IDLE;
            self.schedule_next(i, now);
        }
        self.faults.records[i as usize] = rec;
    }

    pub(crate) fn fault_end(&mut self, i: u32, now: Nanos) {
        let f = &self.scenario.faults[i as usize];
        let kind = f.kind;
        let random = f.mtbf.is_some();
        let target = f.target.clone();
        match kind {
            FaultKind::LlmOutage | FaultKind::LlmThrottle => {
                if let Some(e) = self.scenario.llm_endpoints.get_index_of(&target) {
                    self.set_llm_refusal(e, 0.0);
                }
            }
            FaultKind::NetworkLatency => {
                if let Some(st) = self.station_of(&target) {
                    self.stations[st as usize].extra_latency = 0;
                }
            }
            FaultKind::PacketLoss => self.faults.lossy.retain(|h| h.fault != i),
            FaultKind::BrokerLoss => {
                let paused = std::mem::take(&mut self.faults.paused[i as usize]);
                for (st, p) in paused {
                    self.set_leaderless(st, p, false, now);
                }
            }
            _ => {
                if let Some((zone, pools)) = self.faults.records[i as usize].zone.take() {
                    self.restore_zone(zone, &pools, now);
                }
                if let Some(st) = self.station_of(&target) {
                    self.stations[st as usize].down = false;
                    self.faults.cache_down[st as usize] = None;
                    let n = self.faults.records[i as usize].downed.len();
                    for _ in 0..n {
                        self.add_replica(st, now);
                    }
                }
            }
        }
        let started = self.faults.started[i as usize];
        self.faults.started[i as usize] = IDLE;
        if random {
            let (w, h) = (self.model.warmup, self.model.horizon);
            let span = now.clamp(w, h) - started.clamp(w, h);
            self.faults.counts[i as usize].downtime_s += span as f64 / 1e9;
            self.schedule_next(i, now);
        } else {
            self.faults
                .marks
                .push((now as f64 / 1e9, format!("recovered {target}")));
        }
    }
}
