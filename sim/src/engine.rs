//! One replication: the event loop. Journeys are requests in an arena (indices, a free list)
//! that step through their program of ops ([`crate::model::Op`]); stations, pools, LLM
//! endpoints and batchers hold them while they wait; the calendar orders everything. The loop
//! allocates nothing per event once queues have grown to their working size.

use crate::arrivals::ArrivalProcess;
use crate::batcher::Batcher;
use crate::breaker::Breaker;
use crate::calendar::{secs_to_ns, Calendar, Nanos};
use crate::llm::{Attempt, Endpoint};
use crate::metrics::{window_width, JourneyMetrics};
use crate::model::{Model, Op, NONE};
use crate::partitions::Rebalance;
use crate::pool::ConnectionPool;
use crate::station::{Offer, Start, Station};
use models::RandomStream;

/// Slots a request holds at once through nested `calls:` (validation's bound).
const MAX_HELD: usize = models::validate::MAX_CALL_DEPTH;

/// The calendar's streams (events scheduled one after the other, each when the last fires):
/// the mix's arrivals, the timeline's ticks, then one per journey with its own arrivals.
const STREAM_ARRIVALS: u32 = 0;
const STREAM_TICKS: u32 = 1;
const STREAM_OWN: u32 = 2;

/// What happens next.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Event {
    /// A new journey arrives from outside.
    Arrival,
    /// A journey with its own arrival process (`own_arrivals[source]`) arrives.
    OwnArrival {
        source: u32,
    },
    /// A server of `station`'s `replica` finishes `request`.
    Departure {
        station: u32,
        replica: u32,
        request: u32,
    },
    /// A CPU event of `station`'s `replica` (a visit's demand served, a slice's end; stale
    /// when `tag` is no longer current: see [`crate::cpu`]).
    Cpu {
        station: u32,
        replica: u32,
        tag: u32,
    },
    /// `request` finished waiting (a delay, an LLM response, a connection handed over) and
    /// moves to its next op.
    Advance {
        request: u32,
    },
    /// `request` runs its current op again (an LLM retry after backoff).
    Retry {
        request: u32,
    },
    /// The client of `request` gives up, unless the request slot was reused since (`gen`).
    Deadline {
        request: u32,
        gen: u32,
    },
    /// The caller of `request` gives up on attempt `attempt` of the step whose visit is at
    /// `visit` (a step `timeout:`, one per attempt), unless the request left it, tried again
    /// or its slot was reused since (`gen`).
    StepDeadline {
        request: u32,
        gen: u32,
        visit: u32,
        attempt: u32,
    },
    /// A batcher's oldest request has waited its `max_wait`.
    BatchDue {
        batcher: u32,
    },
    /// A GPU finished its batch.
    BatchDone {
        batcher: u32,
        gpu: u32,
    },
    /// A timeline window closes.
    Tick,
    /// Warm-up ends: measurements start.
    WarmupEnd,
    /// An HPA sync of pod-based service `service` (index into the cluster's services).
    HpaSync {
        service: u32,
    },
    /// A cluster-autoscaler scan.
    CaScan,
    /// The kubelets read their pods' CPU and memory (metrics-server's source).
    KubeletRead,
    /// Prometheus scrapes the pods whose HPA reads custom metrics.
    PrometheusScrape,
    /// A pod finished starting and takes traffic.
    PodReady {
        pod: u32,
    },
    /// A node finished provisioning.
    NodeReady {
        node: u32,
    },
    /// Fault `fault` of the scenario strikes / its outage ends.
    FaultStart {
        fault: u32,
    },
    FaultEnd {
        fault: u32,
    },
    /// A preemption candidate of spot pool `spot` (see [`crate::faults`]).
    Preemption {
        spot: u32,
    },
    /// Preemption notice `notice` is over: the VM stops.
    PreemptionStop {
        notice: u32,
    },
    // --- Cloud Run and Ray (sim/src/cloud_run.rs, sim/src/ray.rs) ---
    /// A Cloud Run autoscaler evaluation of Cloud Run service `service`.
    CloudRunTick {
        service: u32,
    },
    /// A Cloud Run instance finished its cold start.
    InstanceReady {
        service: u32,
    },
    /// `request` has waited the pending timeout at Cloud Run service `service`.
    PendingTimeout {
        service: u32,
        request: u32,
    },
    /// A Ray autoscaler update of cluster `cluster`.
    RayUpdate {
        cluster: u32,
    },
    /// A Ray worker finished starting.
    WorkerReady {
        cluster: u32,
    },
    /// Consumer group `station`'s rebalance is over (see [`crate::partitions`]).
    Rebalanced {
        station: u32,
    },
    /// A step, analysis or end of rollout `rollout` (sim/src/rollout.rs).
    Rollout {
        rollout: u32,
        what: crate::rollout::RolloutEvent,
    },
}

/// A journey (or one branch of a parallel step) in flight.
#[derive(Clone, Copy, Debug)]
struct Request {
    journey: u32,
    /// The op being executed.
    pc: u32,
    /// Where this request ends: its journey's `Done`, or its branch's `Join`.
    end_pc: u32,
    /// The request that forked this one (NONE for a journey).
    parent: u32,
    /// Branches still running (for a parent waiting at a fork).
    pending: u32,
    /// The fork a parent waits at.
    fork: u32,
    started: Nanos,
    /// When the request began waiting where it is now.
    enqueued: Nanos,
    /// Bumped when the slot is reused, so stale deadlines are ignored.
    gen: u32,
    /// The connection pool held (NONE if none).
    held_pool: u32,
    /// Time off the CPU still to spend once its CPU demand is served (`cpu:` with cores).
    hold: Nanos,
    /// Slots held while making `calls:` (in `Replication::held`, innermost last).
    held_n: u32,
    attempt: u32,
    failed: bool,
    /// The client gave up; the work goes on but is no longer measured.
    abandoned: bool,
    /// Its last visit went to a rollout's new version (its `Fail` draws the new version's).
    new_version: bool,
    /// Where a request whose caller gave up on it and tried again (a timed-out attempt) is
    /// dropped: the op after its step (NONE otherwise). Its work up to there goes on, wasted.
    drop_at: u32,
    /// When its current streaming step started (`Op::StreamStart`).
    stream_from: Nanos,
}

/// Everything one replication measured.
pub struct ReplicationResult {
    pub journeys: Vec<JourneyMetrics>,
    pub stations: Vec<Station>,
    pub pools: Vec<ConnectionPool>,
    pub cache_lookups: Vec<(u64, u64)>,
    pub endpoints: Vec<Endpoint>,
    pub batchers: Vec<Batcher>,
    /// Named per-window samples: (series name index, values), see `series_names`.
    pub series: Vec<Vec<f64>>,
    pub series_names: Vec<String>,
    pub window_ns: Nanos,
    pub events: u64,
    pub node_seconds: Vec<f64>,
    pub seconds_at_count: Vec<std::collections::BTreeMap<u32, f64>>,
    pub faults: Vec<crate::faults::FaultRecord>,
    pub fault_marks: Vec<(f64, String)>,
    /// What each Cloud Run service and Ray cluster used (for the bill).
    pub cloud_run: Vec<crate::cloud_run::CloudRunRecord>,
    pub ray: Vec<crate::ray::RayRecord>,
    /// Every HPA sync: what it saw and chose.
    pub hpa_syncs: Vec<crate::cluster::HpaSyncRecord>,
    /// Per fault: occurrences and downtime of a random fault (zero for the others).
    pub random_faults: Vec<crate::faults::RandomFaultCount>,
    /// The steps' circuit breakers (`Model::breakers`' order), and their open time up to
    /// the horizon after warm-up.
    pub breakers: Vec<(Breaker, Nanos)>,
    /// Per node pool: spot preemptions over the run, and the node-seconds exposed to them
    /// (alive nodes not under notice).
    pub preemptions: Vec<u64>,
    pub exposed_node_seconds: Vec<f64>,
    /// Each rollout's record: (index in the scenario's `rollouts`, what happened).
    pub rollouts: Vec<(usize, models::rollout::RolloutRun)>,
}

/// One replication's state. The request path (requests, pools, LLM endpoints, batchers,
/// measurements) is the engine's own; the components that handle their own events (the
/// cluster, the faults, Cloud Run, Ray: `impl Replication` blocks in their modules) each own
/// one field and reach the rest through the shared clock, calendar and stations, and through
/// the few methods below that move requests (`add_replica`, `retire_replica`, ...).
pub(crate) struct Replication<'m> {
    // Shared with the components.
    pub(crate) model: &'m Model,
    pub(crate) scenario: &'m models::Scenario,
    pub(crate) calendar: Calendar<Event>,
    pub(crate) stations: Vec<Station>,
    // One per component, each touched through its own module.
    pub(crate) cluster: crate::cluster::Cluster,
    pub(crate) faults: crate::faults::FaultState,
    pub(crate) cloud_run: crate::cloud_run::CloudRuns,
    pub(crate) ray: crate::ray::RayClusters,
    pub(crate) rollouts: crate::rollout::Rollouts,
    /// Some rollout exists (the request path asks this flag only).
    has_rollouts: bool,
    // The request path and the measurements: the engine's alone.
    requests: Vec<Request>,
    free: Vec<u32>,
    pools: Vec<ConnectionPool>,
    cache_lookups: Vec<(u64, u64)>,
    endpoints: Vec<Endpoint>,
    batchers: Vec<Batcher>,
    journeys: Vec<JourneyMetrics>,
    arrivals: ArrivalProcess,
    /// The journeys with their own `arrivals:`: (journey, its process).
    own_arrivals: Vec<(u32, ArrivalProcess)>,
    mix_rng: RandomStream,
    /// Per station, the draws of its `errors:` (used only by `Op::Fail`).
    error_rngs: Vec<RandomStream>,
    /// Backoffs of step retries (used only by `Op::RetryVisit`).
    retry_rng: RandomStream,
    /// Some visit makes `calls:` (departures then look for a `Hold`).
    has_calls: bool,
    /// Per request slot, the slots (station, replica) it holds while making `calls:`, kept
    /// out of `Request` so the hot copy of a request stays small.
    held: Vec<[(u32, u32); MAX_HELD]>,
    /// Some step is an endpoint (starts then look for an `Endpoint` before the visit), and
    /// the stream its demands are drawn from.
    has_endpoints: bool,
    endpoint_rng: RandomStream,
    /// The steps' circuit breakers (empty without `circuit_breaker:`), and whether any.
    breakers: Vec<Breaker>,
    has_breakers: bool,
    branch_rng: RandomStream,
    delay_rng: RandomStream,
    window_ns: Nanos,
    window_area: Vec<f64>,
    series: Vec<Vec<f64>>,
    series_names: Vec<String>,
}

/// Runs replication `rep` of `model` with the scenario seed `seed`.
pub fn run_replication(
    scenario: &models::Scenario,
    model: &Model,
    seed: u64,
    rep: u32,
) -> ReplicationResult {
    let stream = |name: &str| RandomStream::derive(seed, rep, name);
    let stations: Vec<Station> = model
        .stations
        .iter()
        .map(|s| {
            let st = Station::new(
                s.replicas,
                s.concurrency,
                s.balancing,
                s.service_time.clone(),
                stream(&format!("service/{}", s.name)),
                stream(&format!("route/{}", s.name)),
                model.warmup,
            );
            let st = match &s.cpu {
                Some(c) => st.with_cpu(c.clone(), stream(&format!("cpu/{}", s.name)), s.cpu_config),
                None => st,
            };
            match s.group {
                Some(g) => st.with_group(g),
                None => st,
            }
        })
        .collect();
    let mut series_names = Vec::new();
    for s in &model.stations {
        match s.name.strip_prefix("topic:") {
            Some(t) => series_names.push(format!("kafka_lag/{t}")),
            None => series_names.push(format!("queue/{}", s.name)),
        }
        series_names.push(format!("utilization/{}", s.name));
    }
    for (p, _) in &model.pools {
        series_names.push(format!("pool_wait/{p}"));
    }
    for b in &model.batchers {
        series_names.push(format!("batch_queue/{}", b.name));
    }
    for e in &model.llms {
        series_names.push(format!("llm_429/{}", e.name));
    }
    let cluster = crate::cluster::Cluster::new(scenario, &model.stations, stream("cluster"));
    series_names.extend(cluster.series_names(|s| model.stations[s as usize].name.clone()));
    let cloud_run = crate::cloud_run::CloudRuns::new(scenario, model.stations.len(), seed, rep);
    let ray = crate::ray::RayClusters::new(scenario, seed, rep);
    series_names.extend(cloud_run.series_names());
    series_names.extend(ray.series_names());
    let n_stations = stations.len();
    let rollouts = crate::rollout::Rollouts::new(scenario, model, seed, rep);
    let mut r = Replication {
        model,
        calendar: Calendar::with_capacity(1024),
        requests: Vec::with_capacity(1024),
        free: Vec::with_capacity(1024),
        stations,
        pools: model
            .pools
            .iter()
            .map(|(_, size)| ConnectionPool::new(*size, model.warmup))
            .collect(),
        cache_lookups: vec![(0, 0); model.caches.len()],
        endpoints: model
            .llms
            .iter()
            .map(|e| Endpoint::new(e, stream(&format!("llm/{}", e.name))).with_warmup(model.warmup))
            .collect(),
        batchers: model
            .batchers
            .iter()
            .map(|b| Batcher::new(b, model.warmup))
            .collect(),
        journeys: model
            .journeys
            .iter()
            .map(|j| JourneyMetrics::new().streaming(j.streams))
            .collect(),
        arrivals: ArrivalProcess::new(&model.arrivals, stream("arrivals")),
        own_arrivals: model
            .journeys
            .iter()
            .enumerate()
            .filter_map(|(j, spec)| {
                let a = spec.arrivals.as_ref()?;
                let rng = stream(&format!("arrivals/{}", spec.name));
                Some((j as u32, ArrivalProcess::new(a, rng)))
            })
            .collect(),
        mix_rng: stream("journey-mix"),
        error_rngs: model
            .stations
            .iter()
            .map(|s| stream(&format!("errors/{}", s.name)))
            .collect(),
        retry_rng: stream("retries"),
        has_calls: model.ops.iter().any(|o| matches!(o, Op::Hold { .. })),
        held: Vec::new(),
        has_endpoints: model.ops.iter().any(|o| matches!(o, Op::Endpoint { .. })),
        endpoint_rng: stream("endpoints"),
        breakers: model
            .breakers
            .iter()
            .map(|b| Breaker::new(&b.spec, model.warmup))
            .collect(),
        has_breakers: !model.breakers.is_empty(),
        branch_rng: stream("branches"),
        delay_rng: stream("delays"),
        window_ns: if scenario.faults.is_empty() || model.horizon > 7_200_000_000_000 {
            window_width(model.horizon)
        } else {
            // One-second windows resolve recovery time (RTO) to the second, unless the
            // scenario asks for finer (or coarser) ones.
            scenario
                .recovery_resolution
                .map_or(1_000_000_000, |d| d.0.max(1_000_000))
        },
        window_area: vec![0.0; n_stations],
        series: vec![Vec::new(); series_names.len()],
        series_names,
        cluster,
        scenario,
        cloud_run,
        ray,
        faults: crate::faults::FaultState::new(scenario, model, seed, rep),
        has_rollouts: !rollouts.is_empty(),
        rollouts,
    };
    r.run();
    let (faults, fault_marks, random_faults) =
        r.faults
            .finish(&scenario.faults, model.warmup, model.horizon);
    let events = r.calendar.events();
    let cloud_run = r.cloud_run_records(model.horizon);
    let ray = r.ray_records(model.horizon);
    let (node_seconds, seconds_at_count, hpa_syncs, exposed_node_seconds) = r.cluster.finish();
    let preemptions = r.faults.preemption_counts(scenario.node_pools.len());
    let rollouts = r.rollout_runs(model.horizon);
    ReplicationResult {
        journeys: r.journeys,
        stations: r.stations,
        pools: r.pools,
        cache_lookups: r.cache_lookups,
        endpoints: r.endpoints,
        batchers: r.batchers,
        series: r.series,
        series_names: r.series_names,
        window_ns: r.window_ns,
        events,
        node_seconds,
        seconds_at_count,
        faults,
        fault_marks,
        cloud_run,
        ray,
        hpa_syncs,
        random_faults,
        breakers: r
            .breakers
            .into_iter()
            .map(|b| {
                let open = b.open_ns_at(model.horizon);
                (b, open)
            })
            .collect(),
        preemptions,
        exposed_node_seconds,
        rollouts,
    }
}

impl Replication<'_> {
    fn run(&mut self) {
        self.start_cluster();
        self.start_cloud_run();
        self.start_ray();
        self.schedule_faults();
        self.schedule_rollouts();
        if self.model.warmup > 0 {
            self.calendar.schedule(self.model.warmup, Event::WarmupEnd);
        } else {
            // Without a warm-up the replica range starts from the placed cluster, not from
            // the empty one the start-up passes through.
            for s in &mut self.stations {
                s.start_measuring(0);
            }
        }
        // The mix's process runs while some journey draws from it.
        if self.model.journeys.iter().any(|j| j.arrivals.is_none()) {
            if let Some(t) = self.arrivals.first() {
                self.calendar
                    .schedule_stream(STREAM_ARRIVALS, t, Event::Arrival);
            }
        }
        for source in 0..self.own_arrivals.len() {
            if let Some(t) = self.own_arrivals[source].1.first() {
                let source = source as u32;
                self.calendar
                    .schedule_stream(STREAM_OWN + source, t, Event::OwnArrival { source });
            }
        }
        self.calendar.schedule_stream(
            STREAM_TICKS,
            self.window_ns.min(self.model.horizon),
            Event::Tick,
        );
        let horizon = self.model.horizon;
        while let Some((now, event)) = self.calendar.pop() {
            if now > horizon {
                break;
            }
            match event {
                Event::Arrival => self.on_arrival(now),
                Event::OwnArrival { source } => self.on_own_arrival(now, source),
                Event::Departure {
                    station,
                    replica,
                    request,
                } => self.on_departure(now, station, replica, request),
                Event::Cpu {
                    station,
                    replica,
                    tag,
                } => self.on_cpu(now, station, replica, tag),
                Event::Advance { request } => {
                    self.requests[request as usize].pc += 1;
                    self.execute(request, now);
                }
                Event::Retry { request } => self.execute(request, now),
                Event::Deadline { request, gen } => self.on_deadline(now, request, gen),
                Event::StepDeadline {
                    request,
                    gen,
                    visit,
                    attempt,
                } => self.on_step_deadline(now, request, (gen, attempt), visit),
                Event::BatchDue { batcher } => self.on_batch_due(now, batcher),
                Event::BatchDone { batcher, gpu } => self.on_batch_done(now, batcher, gpu),
                Event::Tick => self.on_tick(now),
                Event::WarmupEnd => {
                    for s in &mut self.stations {
                        s.start_measuring(now);
                    }
                }
                Event::HpaSync { service } => self.hpa_sync(service, now),
                Event::CaScan => self.ca_scan(now),
                Event::KubeletRead => self.kubelet_read(now),
                Event::PrometheusScrape => self.prometheus_scrape(now),
                Event::PodReady { pod } => self.pod_ready(pod, now),
                Event::NodeReady { node } => self.node_ready(node, now),
                Event::FaultStart { fault } => self.fault_start(fault, now),
                Event::FaultEnd { fault } => self.fault_end(fault, now),
                Event::Preemption { spot } => self.preemption(spot, now),
                Event::PreemptionStop { notice } => self.preemption_end(notice, now),
                Event::CloudRunTick { service } => self.cloud_run_tick(service, now),
                Event::InstanceReady { service } => self.instance_ready(service, now),
                Event::PendingTimeout { service, request } => {
                    self.pending_timeout(service, request, now)
                }
                Event::RayUpdate { cluster } => self.ray_update(cluster, now),
                Event::WorkerReady { cluster } => self.worker_ready(cluster, now),
                Event::Rollout { rollout, what } => self.on_rollout(rollout, what, now),
                Event::Rebalanced { station } => self.end_rebalance(station, now),
            }
        }
        self.cluster.account(horizon);
        self.count_unfinished(horizon);
        for j in &mut self.journeys {
            j.finish();
        }
        for s in &mut self.stations {
            s.finish(horizon);
        }
        for p in &mut self.pools {
            p.finish(horizon);
        }
    }

    /// Journeys started after warm-up still in flight at the horizon after waiting longer
    /// than the recovery window: left waiting by a fault (or a queue that never drains), they
    /// count as failures rather than nowhere. Once per replication.
    fn count_unfinished(&mut self, horizon: Nanos) {
        let mut free = vec![false; self.requests.len()];
        for &i in &self.free {
            free[i as usize] = true;
        }
        let patience = self.scenario.recovery_window.0;
        for (i, r) in self.requests.iter().enumerate() {
            let root = r.parent == NONE && r.end_pc == self.model.journeys[r.journey as usize].done;
            if !free[i]
                && root
                && !r.abandoned
                && r.started >= self.model.warmup
                && horizon.saturating_sub(r.started) > patience
            {
                self.journeys[r.journey as usize].unfinished += 1;
            }
        }
    }

    /// A request slot for a new journey or branch.
    #[inline]
    fn spawn(&mut self, mut req: Request) -> u32 {
        match self.free.pop() {
            Some(id) => {
                req.gen = self.requests[id as usize].gen;
                self.requests[id as usize] = req;
                id
            }
            None => {
                self.requests.push(req);
                (self.requests.len() - 1) as u32
            }
        }
    }

    /// Starts one branch `(entry, end)` of a fork as a child of `parent` (NONE: detached),
    /// inheriting the journey and its start time from the forking request `from`.
    fn start_branch(&mut self, from: Request, (entry, end): (u32, u32), parent: u32, now: Nanos) {
        let child = self.spawn(Request {
            pc: entry,
            end_pc: end,
            parent,
            pending: 0,
            fork: NONE,
            held_pool: NONE,
            held_n: 0,
            attempt: 1,
            failed: false,
            abandoned: false,
            new_version: false,
            drop_at: NONE,
            ..from
        });
        self.execute(child, now);
    }

    #[inline]
    fn on_arrival(&mut self, now: Nanos) {
        if let Some(next) = self.arrivals.next_after(now) {
            self.calendar
                .schedule_stream(STREAM_ARRIVALS, next, Event::Arrival);
        }
        let journey = if self.model.mix.len() == 1 {
            0
        } else {
            let u = self.mix_rng.next_f64();
            self.model.mix.partition_point(|c| *c <= u) as u32
        };
        self.start_journey(journey, now);
    }

    fn on_own_arrival(&mut self, now: Nanos, source: u32) {
        let (journey, process) = &mut self.own_arrivals[source as usize];
        let journey = *journey;
        if let Some(next) = process.next_after(now) {
            self.calendar
                .schedule_stream(STREAM_OWN + source, next, Event::OwnArrival { source });
        }
        self.start_journey(journey, now);
    }

    #[inline]
    fn start_journey(&mut self, journey: u32, now: Nanos) {
        self.journeys[journey as usize].arrive();
        let spec = &self.model.journeys[journey as usize];
        let id = self.spawn(Request {
            journey,
            pc: spec.entry,
            end_pc: spec.done,
            parent: NONE,
            pending: 0,
            fork: NONE,
            started: now,
            enqueued: now,
            gen: 0,
            held_pool: NONE,
            hold: 0,
            held_n: 0,
            attempt: 1,
            failed: false,
            abandoned: false,
            new_version: false,
            drop_at: NONE,
            stream_from: now,
        });
        if let Some(t) = spec.timeout {
            let gen = self.requests[id as usize].gen;
            // A journey's timeout is one fixed delay: its deadlines queue in a FIFO lane.
            self.calendar
                .schedule_fixed(t, Event::Deadline { request: id, gen });
        }
        self.execute(id, now);
    }

    /// One step of a failed request's unwinding (kept out of `execute`, which runs for every
    /// visit, so that its rare path does not weigh on the common one). True when the request
    /// now waits (a retry's backoff); false when `execute` goes on from its new `pc`.
    #[cold]
    fn unwind(&mut self, id: u32, req: Request, now: Nanos) -> bool {
        if req.held_n > 0 && !req.abandoned {
            if let Op::Hold { leave } = self.model.ops[req.pc as usize] {
                // The visit before failed with its own slot held (its replica lost
                // at its departure): that slot goes back, its calls are skipped.
                let r = &mut self.requests[id as usize];
                r.held_n -= 1;
                r.pc = leave + 1;
                let (station, replica) = self.held[id as usize][r.held_n as usize];
                self.release_slot(station, replica, now);
                return false;
            }
            // A call failed: so does the visit that made it (its step's breaker
            // records it, its retry tries the whole step again).
            if let Some(caller) = self.caller_visit(req.pc) {
                let r = &mut self.requests[id as usize];
                r.held_n -= 1;
                r.failed = false;
                let (station, replica) = self.held[id as usize][r.held_n as usize];
                self.release_slot(station, replica, now);
                return self.visit_failed(id, caller, now);
            }
        }
        // Unwind: give back the connection held, skip to the end.
        if req.held_pool != NONE {
            self.release_pool(req.held_pool, now);
            self.requests[id as usize].held_pool = NONE;
        }
        // And the slots held through `calls:`, innermost first.
        for i in (0..req.held_n as usize).rev() {
            let (station, replica) = self.held[id as usize][i];
            if station != NONE {
                self.release_slot(station, replica, now);
            }
        }
        self.requests[id as usize].held_n = 0;
        self.requests[id as usize].pc = req.end_pc;
        false
    }

    /// Runs the request's program from its current op until it waits or ends. The two ops
    /// every request runs (a visit, the end) are dispatched here; the rest, and a request
    /// that failed or was dropped, go through [`Replication::step`], kept out of line so
    /// that this loop stays small.
    fn execute(&mut self, id: u32, now: Nanos) {
        loop {
            let req = self.requests[id as usize];
            if req.pc != req.drop_at && !req.failed {
                match self.model.ops[req.pc as usize] {
                    Op::Visit { station } => {
                        if self.visit(id, req, station, now) {
                            return;
                        }
                        continue;
                    }
                    Op::Done => return self.done(id, req, now),
                    _ => {}
                }
            }
            if self.step(id, now) {
                return;
            }
        }
    }

    /// Runs the request's current op: true when the request now waits or ended, false when
    /// [`Replication::execute`] goes on from its new `pc`.
    #[inline(never)]
    fn step(&mut self, id: u32, now: Nanos) -> bool {
        // Read again, not passed from `execute`: a 96-byte argument would be kept on the
        // hot loop's stack for every op, where this copy is paid only by the others.
        let req = self.requests[id as usize];
        if req.pc == req.drop_at {
            // A timed-out attempt back from its step: its caller has moved on. A new
            // generation makes its journey's old deadline stale for the slot's next user.
            let r = &mut self.requests[id as usize];
            r.held_n = 0;
            r.gen = r.gen.wrapping_add(1);
            self.free.push(id);
            return true;
        }
        if req.failed && req.pc != req.end_pc {
            return self.unwind(id, req, now);
        }
        let r = &mut self.requests[id as usize];
        match self.model.ops[req.pc as usize] {
            Op::Visit { station } => return self.visit(id, req, station, now),
            Op::Hold { .. } | Op::Endpoint { .. } => r.pc += 1,
            Op::StreamStart => {
                r.stream_from = now;
                r.pc += 1;
            }
            Op::StreamEnd => {
                // One event, when the step is done: its whole time is the first token's.
                r.pc += 1;
                if req.started >= self.model.warmup && !req.abandoned {
                    if let Some(m) = &mut self.journeys[req.journey as usize].stream {
                        m.record(now - req.stream_from, 0, 1);
                    }
                }
            }
            Op::Timeout { after, visit } => {
                r.pc += 1;
                let (gen, attempt) = (r.gen, r.attempt);
                self.calendar.schedule(
                    now + after,
                    Event::StepDeadline {
                        request: id,
                        gen,
                        visit,
                        attempt,
                    },
                );
            }
            Op::Leave { .. } => {
                r.held_n -= 1;
                r.pc += 1;
                let (station, replica) = self.held[id as usize][r.held_n as usize];
                // NONE: given back already (a call of its timed out).
                if station != NONE {
                    self.release_slot(station, replica, now);
                }
            }
            Op::Fail { p, station } => {
                let visit = match self.model.ops[req.pc as usize - 1] {
                    Op::Leave { visit, .. } => visit,
                    _ => req.pc - 1,
                };
                let fails = if self.has_rollouts {
                    if req.new_version {
                        self.rollouts.new_version_fails(station, p)
                    } else {
                        let f = self.error_rngs[station as usize].next_f64() < p;
                        if f {
                            self.rollouts.old_version_failed(station);
                        }
                        f
                    }
                } else {
                    self.error_rngs[station as usize].next_f64() < p
                };
                if fails {
                    if self.visit_failed(id, visit, now) {
                        return true;
                    }
                } else {
                    self.requests[id as usize].pc += 1;
                }
            }
            Op::Breaker { breaker } => {
                if self.breakers[breaker as usize].permit(now) {
                    r.pc += 1;
                } else {
                    // Open: the call fails at once, without reaching the service.
                    let mut visit = req.pc + 1;
                    if let Op::Endpoint { .. } = self.model.ops[visit as usize] {
                        visit += 1;
                    }
                    if self.visit_failed_as(id, visit, now, false) {
                        return true;
                    }
                }
            }
            Op::BreakerPass { breaker } => {
                // Reached after a success: the breaker records it.
                self.breakers[breaker as usize].record(now, false);
                r.pc += 1;
            }
            Op::RetryVisit { .. } => {
                // Reached after a success: the next visit starts from its first attempt.
                r.attempt = 1;
                r.pc += 1;
            }
            Op::Delay { sampler } => {
                let d = self.model.samplers[sampler as usize].sample(&mut self.delay_rng);
                self.calendar
                    .schedule(now + secs_to_ns(d), Event::Advance { request: id });
                return true;
            }
            Op::Branch { p, skip_to } => {
                r.pc = if self.branch_rng.next_f64() < p {
                    req.pc + 1
                } else {
                    skip_to
                };
            }
            Op::CacheLookup {
                cache,
                hit_ratio,
                skip_to,
            } => {
                let hit = self.branch_rng.next_f64() < hit_ratio;
                if now >= self.model.warmup {
                    let c = &mut self.cache_lookups[cache as usize];
                    c.0 += 1;
                    c.1 += u64::from(hit);
                }
                r.pc = if hit { skip_to } else { req.pc + 1 };
            }
            Op::Fork { fork } => {
                let f = &self.model.forks[fork as usize];
                r.pending = f.branches.len() as u32;
                r.fork = fork;
                // Detached branches first (nobody waits for them: no parent), so that an
                // awaited branch finishing at once cannot resume the parent before they
                // have started.
                for b in 0..f.detached.len() {
                    let branch = self.model.forks[fork as usize].detached[b];
                    self.start_branch(req, branch, NONE, now);
                }
                if self.model.forks[fork as usize].branches.is_empty() {
                    let p = &mut self.requests[id as usize];
                    p.pc = self.model.forks[fork as usize].resume;
                    return false;
                }
                for b in 0..self.model.forks[fork as usize].branches.len() {
                    let branch = self.model.forks[fork as usize].branches[b];
                    self.start_branch(req, branch, id, now);
                }
                return true;
            }
            Op::Join => {
                let parent = req.parent;
                self.free.push(id);
                if parent == NONE {
                    // The end of a detached branch.
                    return true;
                }
                let p = &mut self.requests[parent as usize];
                p.failed |= req.failed;
                p.pending -= 1;
                if p.pending > 0 {
                    return true;
                }
                p.pc = self.model.forks[p.fork as usize].resume;
                // Continue with the parent (a tail call, iteratively).
                self.execute(parent, now);
                return true;
            }
            Op::Acquire { pool } => {
                r.enqueued = now;
                r.held_pool = pool;
                if !self.pools[pool as usize].acquire(id, now) {
                    return true;
                }
                self.requests[id as usize].pc += 1;
            }
            Op::Release { pool } => {
                r.held_pool = NONE;
                r.pc += 1;
                self.release_pool(pool, now);
            }
            Op::Llm {
                endpoint,
                tokens_in,
                tokens_out,
                stream,
            } => {
                let spec = &self.model.llms[endpoint as usize];
                let tin = self.model.samplers[tokens_in as usize]
                    .sample(&mut self.delay_rng)
                    .round();
                let tout = self.model.samplers[tokens_out as usize]
                    .sample(&mut self.delay_rng)
                    .round();
                match self.endpoints[endpoint as usize].call(spec, tin, tout, req.attempt, now) {
                    Attempt::Served { first, after, ok } => {
                        if stream && ok && req.started >= self.model.warmup && !req.abandoned {
                            if let Some(m) = &mut self.journeys[req.journey as usize].stream {
                                let gap = (spec.per_out * 1e9) as Nanos;
                                m.record(now + first - req.stream_from, gap, tout as u64);
                            }
                        }
                        let r = &mut self.requests[id as usize];
                        r.attempt = 1;
                        r.failed |= !ok;
                        self.calendar
                            .schedule(now + after, Event::Advance { request: id });
                    }
                    Attempt::Throttled { retry_after } => {
                        self.requests[id as usize].attempt += 1;
                        self.calendar
                            .schedule(now + retry_after, Event::Retry { request: id });
                    }
                    Attempt::GaveUp => {
                        let r = &mut self.requests[id as usize];
                        r.attempt = 1;
                        r.failed = true;
                        return false;
                    }
                }
                return true;
            }
            Op::Batch { batcher } => {
                r.enqueued = now;
                self.batchers[batcher as usize].arrive(id, now);
                self.launch_batches(batcher, now);
                return true;
            }
            Op::Done => {
                self.done(id, req, now);
                return true;
            }
        }
        false
    }

    /// A visit to `station`: true when the request now waits (queued or in service), false
    /// when it goes on at once (failed, rejected, or a cache miss path).
    #[inline]
    fn visit(&mut self, id: u32, req: Request, station: u32, now: Nanos) -> bool {
        let station = if self.has_rollouts {
            let (to, new) = self.rollouts.route(station);
            self.requests[id as usize].new_version = new;
            to
        } else {
            station
        };
        let r = &mut self.requests[id as usize];
        if self.stations[station as usize].down {
            if self.faults.cache_down(station).is_some() {
                // A lost Redis primary: the client falls back to the miss path.
                return self.cache_fallback(id, now);
            }
            // Connection refused: the service is down (a failure its caller's
            // breaker sees; not retried, as before breakers).
            r.failed = true;
            if self.has_breakers {
                self.breaker_saw_failure(req.pc, now);
            }
            return false;
        }
        r.enqueued = now;
        let st = &mut self.stations[station as usize];
        let limit = self.model.stations[station as usize].queue_limit;
        match st.offer(id, now, limit) {
            Offer::Started(start) => self.begin(station, start, now),
            Offer::Queued => self.cloud_run_queued(station, id, now),
            // Turned away at once (`queue_limit`): retried, or an error.
            Offer::Rejected => return self.visit_failed(id, req.pc, now),
        }
        true
    }

    /// The end of a journey: measured, and its slot freed.
    #[inline]
    fn done(&mut self, id: u32, req: Request, now: Nanos) {
        let counted = req.started >= self.model.warmup;
        if !req.abandoned {
            self.journeys[req.journey as usize].complete(now - req.started, !req.failed, counted);
        }
        // A new generation makes a pending deadline for this journey stale.
        self.requests[id as usize].gen = req.gen.wrapping_add(1);
        self.free.push(id);
    }

    /// The visit at `visit_pc` of request `id` failed (an error, a rejection). With a step
    /// `retry:` and attempts left, the visit is tried again after a backoff (true: the request
    /// now waits); else the request fails and unwinds (false: the caller goes on executing).
    fn visit_failed(&mut self, id: u32, visit_pc: u32, now: Nanos) -> bool {
        self.visit_failed_as(id, visit_pc, now, true)
    }

    /// [`Self::visit_failed`]; `recorded`: the step's circuit breaker (if any) records the
    /// failure (not for a call its open breaker rejected).
    fn visit_failed_as(&mut self, id: u32, visit_pc: u32, now: Nanos, recorded: bool) -> bool {
        let (breaker, retry) = self.step_outcome_ops(visit_pc);
        if let (Some(breaker), true) = (breaker, recorded) {
            self.breakers[breaker as usize].record(now, true);
        }
        // A retry goes back to the step's start: its timeout, armed again for the new
        // attempt, and its breaker, which may reject it.
        let again = self.step_start(visit_pc);
        let r = &mut self.requests[id as usize];
        if let Some((attempts, backoff)) = retry {
            if r.attempt < attempts {
                r.attempt += 1;
                r.pc = again;
                let d = self.model.samplers[backoff as usize].sample(&mut self.retry_rng);
                self.calendar
                    .schedule(now + (d * 1e9) as Nanos, Event::Retry { request: id });
                return true;
            }
            r.attempt = 1;
        }
        r.failed = true;
        false
    }

    /// The visit whose `calls:` hold op `pc`: the first `Leave` after it that closes no call
    /// opened after it (None outside calls). A scan, run only when a call fails.
    fn caller_visit(&self, pc: u32) -> Option<u32> {
        let mut depth = 0u32;
        for op in &self.model.ops[pc as usize..] {
            match op {
                Op::Hold { .. } => depth += 1,
                Op::Leave { visit, .. } if depth == 0 => return Some(*visit),
                Op::Leave { .. } => depth -= 1,
                Op::Done => return None,
                _ => {}
            }
        }
        None
    }

    /// The first op of the step whose visit is at `visit_pc`: its `Timeout`, else its
    /// `Breaker`, else its `Endpoint`, else the visit.
    fn step_start(&self, visit_pc: u32) -> u32 {
        let mut pc = visit_pc;
        for prev in [
            |op: &Op| matches!(op, Op::Endpoint { .. }),
            |op: &Op| matches!(op, Op::Breaker { .. }),
            |op: &Op| matches!(op, Op::Timeout { .. }),
        ] {
            if pc > 0 && prev(&self.model.ops[pc as usize - 1]) {
                pc -= 1;
            }
        }
        pc
    }

    /// What follows a step's visit at `visit_pc` (after its calls, past its `Fail`): its
    /// breaker's `BreakerPass` and its `retry:` (attempts, backoff sampler), each if it has one.
    fn step_outcome_ops(&self, visit_pc: u32) -> (Option<u32>, Option<(u32, u32)>) {
        let ops = &self.model.ops;
        let mut at = visit_pc as usize + 1;
        if let Some(Op::Hold { leave }) = ops.get(at) {
            at = *leave as usize + 1;
        }
        if let Some(Op::Fail { .. }) = ops.get(at) {
            at += 1;
        }
        let mut breaker = None;
        if let Some(Op::BreakerPass { breaker: b }) = ops.get(at) {
            breaker = Some(*b);
            at += 1;
        }
        let retry = match ops.get(at) {
            Some(Op::RetryVisit { attempts, backoff }) => Some((*attempts, *backoff)),
            _ => None,
        };
        (breaker, retry)
    }

    /// A visit at `visit_pc` failed outside `visit_failed` (its service down, its replica
    /// lost): the step's breaker, if it has one, records the failure.
    fn breaker_saw_failure(&mut self, visit_pc: u32, now: Nanos) {
        if let (Some(breaker), _) = self.step_outcome_ops(visit_pc) {
            self.breakers[breaker as usize].record(now, true);
        }
    }

    fn release_pool(&mut self, pool: u32, now: Nanos) {
        if let Some(next) = self.pools[pool as usize].release(now) {
            // The waiter continues after its Acquire, in calendar order.
            self.calendar
                .schedule(now, Event::Advance { request: next });
        }
    }

    /// Brings up one more replica of `station` (a pod, an instance, a worker, a consumer, a
    /// recovered server) and starts the queued requests it takes at once; returns its index.
    pub(crate) fn add_replica(&mut self, station: u32, now: Nanos) -> u32 {
        let requests = &self.requests;
        let (replica, starts) =
            self.stations[station as usize].add_replica(now, |r| requests[r as usize].enqueued);
        for s in starts {
            self.begin(station, s, now);
        }
        if self.has_rollouts {
            self.version_replica_ready(station, now);
        }
        self.group_changed(station, now);
        replica
    }

    /// A consumer joined or left group `station` (nothing for a station that is no group):
    /// the group pauses until the rebalance is over, or is reassigned at once.
    fn group_changed(&mut self, station: u32, now: Nanos) {
        match self.stations[station as usize].group_changed(now) {
            Some(Rebalance::Until(t)) => self.calendar.schedule(t, Event::Rebalanced { station }),
            Some(Rebalance::Now) => self.end_rebalance(station, now),
            Some(Rebalance::Joined) | None => {}
        }
    }

    /// Group `station`'s rebalance is over: the partitions are assigned to its consumers,
    /// which start on them.
    fn end_rebalance(&mut self, station: u32, now: Nanos) {
        let requests = &self.requests;
        let starts =
            self.stations[station as usize].end_rebalance(now, |r| requests[r as usize].enqueued);
        for s in starts {
            self.begin(station, s, now);
        }
    }

    /// Partition `p` of group `station` lost its leader or has one again (a broker loss).
    pub(crate) fn set_leaderless(&mut self, station: u32, p: u32, leaderless: bool, now: Nanos) {
        let requests = &self.requests;
        let starts = self.stations[station as usize]
            .set_leaderless(p, leaderless, now, |r| requests[r as usize].enqueued);
        for s in starts {
            self.begin(station, s, now);
        }
    }

    /// Takes `replica` of `station` out of service (a pod deleted, a consumer rebalanced away, a
    /// server killed); the requests queued on it go back through the station's balancing.
    pub(crate) fn retire_replica(&mut self, station: u32, replica: u32, now: Nanos) {
        let queued = self.stations[station as usize].retire_replica(replica, now);
        for r in queued {
            let since = self.requests[r as usize].enqueued;
            if let Some(start) = self.stations[station as usize].reroute(r, since, now) {
                self.begin(station, start, now);
            }
        }
        self.group_changed(station, now);
    }

    /// Journeys that ended or were left unfinished after warm-up (the damage's denominator).
    pub(crate) fn journeys_started(&self) -> u64 {
        self.journeys.iter().map(|j| j.count + j.unfinished).sum()
    }

    /// When request `id` began waiting where it is now.
    pub(crate) fn waiting_since(&self, id: u32) -> Nanos {
        self.requests[id as usize].enqueued
    }

    /// Request `id`, withdrawn from a station's queue before service (a pending timeout),
    /// fails: it unwinds from its visit to its end.
    pub(crate) fn fail_waiting(&mut self, id: u32, now: Nanos) {
        self.requests[id as usize].failed = true;
        self.execute(id, now);
    }

    /// `station` went down with requests still waiting there: at a lost cache they take the
    /// miss path, elsewhere they fail (as if served, then unwound).
    pub(crate) fn evict_waiting(&mut self, station: u32, now: Nanos) {
        for r in self.stations[station as usize].drain_waiting(now) {
            if self.faults.cache_down(station).is_some() {
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

    /// An LLM outage or throttling: `share` of the calls to endpoint `e` are refused (0: none).
    pub(crate) fn set_llm_refusal(&mut self, e: usize, share: f64) {
        self.endpoints[e].refuse_share = share;
    }

    /// A visit to a lost Redis primary (request `id` at its `Visit`): a cache lookup counts
    /// as a miss and goes on into the miss path, after the client's wait if the fault gives
    /// one (true: the request now waits); any other visit fails.
    fn cache_fallback(&mut self, id: u32, now: Nanos) -> bool {
        let pc = self.requests[id as usize].pc as usize;
        let station = match self.model.ops[pc] {
            Op::Visit { station } => station,
            _ => NONE,
        };
        // The lookup follows the visit (after its `Fail` and `RetryVisit`, if any).
        let mut lookup = pc + 1;
        if let Some(Op::Hold { leave }) = self.model.ops.get(lookup) {
            lookup = *leave as usize + 1;
        }
        while let Some(Op::Fail { .. } | Op::BreakerPass { .. } | Op::RetryVisit { .. }) =
            self.model.ops.get(lookup)
        {
            lookup += 1;
        }
        let Some(Op::CacheLookup { cache, .. }) = self.model.ops.get(lookup).copied() else {
            self.requests[id as usize].failed = true;
            return false;
        };
        if now >= self.model.warmup {
            self.cache_lookups[cache as usize].0 += 1;
        }
        let wait = self.faults.cache_down(station).unwrap_or(0);
        if wait > 0 {
            // Advance moves past the lookup into the miss path.
            self.requests[id as usize].pc = lookup as u32;
            self.calendar
                .schedule(now + wait, Event::Advance { request: id });
            true
        } else {
            self.requests[id as usize].pc = lookup as u32 + 1;
            false
        }
    }

    /// A visit starts on a server (a slot): its CPU demand first (shared over the replica's
    /// cores when they are contended), then its time off the CPU.
    #[inline]
    fn begin(&mut self, station: u32, mut s: Start, now: Nanos) {
        if self.has_endpoints {
            self.endpoint_demands(&mut s);
        }
        if s.cpu > 0 && self.stations[station as usize].cpu_contended() {
            return self.begin_on_cpu(station, s, now);
        }
        // Without contention the CPU demand is time like any other.
        self.calendar.schedule(
            now + s.cpu + s.service,
            Event::Departure {
                station,
                replica: s.replica,
                request: s.request,
            },
        );
    }

    /// [`Replication::begin`] on a replica whose cores are shared: the demand joins its CPU.
    #[inline(never)]
    fn begin_on_cpu(&mut self, station: u32, s: Start, now: Nanos) {
        self.requests[s.request as usize].hold = s.service;
        let cpu = &mut self.stations[station as usize].replicas[s.replica as usize].cpu;
        cpu.arrive(s.request, s.cpu, now);
        self.flush_cpu(station, s.replica);
    }

    /// A visit to an endpoint takes the endpoint's demands in place of its station's.
    fn endpoint_demands(&mut self, s: &mut Start) {
        let pc = self.requests[s.request as usize].pc as usize;
        let Some(Op::Endpoint { service, cpu }) = pc.checked_sub(1).map(|p| self.model.ops[p])
        else {
            return;
        };
        let draw = |sampler: u32, rng: &mut RandomStream| {
            (self.model.samplers[sampler as usize].sample(rng) * 1e9) as Nanos
        };
        if service != NONE {
            s.service = draw(service, &mut self.endpoint_rng);
        }
        if cpu != NONE {
            s.cpu = draw(cpu, &mut self.endpoint_rng);
        }
    }

    /// Schedules the events a replica's CPU asked for.
    #[inline]
    fn flush_cpu(&mut self, station: u32, replica: u32) {
        let cpu = &mut self.stations[station as usize].replicas[replica as usize].cpu;
        for (t, tag) in cpu.events.drain(..) {
            self.calendar.schedule(
                t,
                Event::Cpu {
                    station,
                    replica,
                    tag,
                },
            );
        }
    }

    fn on_cpu(&mut self, now: Nanos, station: u32, replica: u32, tag: u32) {
        let cpu = &mut self.stations[station as usize].replicas[replica as usize].cpu;
        let done = cpu.fire(tag, now);
        self.flush_cpu(station, replica);
        let Some(request) = done else {
            return;
        };
        // The CPU demand is served: the visit's time off the CPU follows, holding its slot.
        let hold = self.requests[request as usize].hold;
        if hold > 0 {
            self.calendar.schedule(
                now + hold,
                Event::Departure {
                    station,
                    replica,
                    request,
                },
            );
        } else {
            self.on_departure(now, station, replica, request);
        }
    }

    /// A server of `station`'s `replica` finished `request`'s visit. The common path (the
    /// slot given back, the request's next op) is here; what only some scenarios have
    /// (rollouts, reads, `calls:`, faults) is asked by one flag each and done out of line.
    #[inline]
    fn on_departure(&mut self, now: Nanos, station: u32, replica: u32, request: u32) {
        let sojourn = now - self.requests[request as usize].enqueued;
        self.cluster.observe(station, replica, sojourn);
        if self.has_rollouts {
            self.rollouts.observe(station, sojourn);
        }
        let pc = self.requests[request as usize].pc as usize;
        if !self.model.reads.is_empty() {
            self.count_read(station, pc, now);
        }
        if !(self.has_calls && self.hold_for_calls(station, replica, request, pc)) {
            self.release_slot(station, replica, now);
        }
        if self.stations[station as usize].replicas[replica as usize].killed {
            self.served_by_lost_replica(request, now);
        }
        // A lossy hop (packet-loss fault): the exchange waits its retransmissions.
        // A network-latency fault: the response is on the wire that much longer (per hop,
        // after the server: the slot is already free).
        let lost = self.faults.hop_delay(station, pc as u32)
            + self.stations[station as usize].extra_latency;
        if lost > 0 {
            self.calendar
                .schedule(now + lost, Event::Advance { request });
            return;
        }
        self.requests[request as usize].pc += 1;
        self.execute(request, now);
    }

    /// A visit that read finished (not a write: a crash's lost writes and a restore's replay
    /// leave it out).
    #[inline(never)]
    fn count_read(&mut self, station: u32, pc: usize, now: Nanos) {
        if self.model.reads[pc] && now >= self.model.warmup {
            self.stations[station as usize].stats.reads += 1;
        }
    }

    /// When the visit's `calls:` follow (a `Hold` next), the slot stays held until their
    /// `Leave` (true); else false.
    #[inline(never)]
    fn hold_for_calls(&mut self, station: u32, replica: u32, request: u32, pc: usize) -> bool {
        if !matches!(self.model.ops.get(pc + 1), Some(Op::Hold { .. })) {
            return false;
        }
        let r = &mut self.requests[request as usize];
        let at = request as usize;
        if self.held.len() <= at {
            // Grows with the request arena, then stays (no allocation per event after).
            self.held.resize(at + 1, [(NONE, NONE); MAX_HELD]);
        }
        self.held[at][r.held_n as usize] = (station, replica);
        r.held_n += 1;
        true
    }

    /// The replica that served `request` was lost meanwhile: the visit failed.
    #[cold]
    fn served_by_lost_replica(&mut self, request: u32, now: Nanos) {
        self.requests[request as usize].failed = true;
        if self.has_breakers {
            self.breaker_saw_failure(self.requests[request as usize].pc, now);
        }
    }

    /// A slot of `station`'s `replica` is given back: the next request waiting for it starts.
    #[inline]
    fn release_slot(&mut self, station: u32, replica: u32, now: Nanos) {
        if self.stations[station as usize].group.is_some() {
            return self.release_group_slot(station, replica, now);
        }
        let requests = &self.requests;
        let next =
            self.stations[station as usize].depart(replica, now, |r| requests[r as usize].enqueued);
        if let Some(start) = next {
            self.begin(station, start, now);
        }
    }

    /// [`Replication::release_slot`] for a Kafka consumer group's consumer.
    #[inline(never)]
    fn release_group_slot(&mut self, station: u32, replica: u32, now: Nanos) {
        let requests = &self.requests;
        let starts = self.stations[station as usize]
            .depart_group(replica, now, |r| requests[r as usize].enqueued);
        for s in starts.into_iter().flatten() {
            self.begin(station, s, now);
        }
    }

    /// A step's timeout: if the request is still in the step (queued, served, retrying, or
    /// making its calls), the journey ends in error now; the request goes on unmeasured.
    /// A call's timeout fails its callers now too: each records the failure in its step's
    /// breaker and gives its slot back at once, while the request goes on at the callee
    /// (its work is wasted) and is dropped when it comes back.
    fn on_step_deadline(
        &mut self,
        now: Nanos,
        request: u32,
        (gen, attempt): (u32, u32),
        visit: u32,
    ) {
        let mut last = visit;
        if let Some(Op::Hold { leave }) = self.model.ops.get(visit as usize + 1) {
            last = *leave;
        }
        let r = self.requests[request as usize];
        if !(visit..=last).contains(&r.pc)
            || r.gen != gen
            || r.attempt != attempt
            || r.abandoned
            || r.parent != NONE
        {
            return;
        }
        // The callers' slots are the first entries of the held stack, one a level.
        let mut level = 0;
        let mut at = visit;
        while let Some(caller) = self.caller_visit(at) {
            level += 1;
            at = caller;
        }
        if let Some((attempts, backoff)) = self.step_outcome_ops(visit).1 {
            if attempt < attempts {
                self.try_again(request, visit, last, level, backoff, now);
                return;
            }
        }
        self.on_deadline(now, request, gen);
        if r.held_n == 0 {
            return;
        }
        if self.has_breakers {
            let mut at = visit;
            while let Some(caller) = self.caller_visit(at) {
                self.breaker_saw_failure(caller, now);
                at = caller;
            }
        }
        if level == 0 {
            return;
        }
        for k in 0..level.min(r.held_n as usize) {
            let (station, replica) =
                std::mem::replace(&mut self.held[request as usize][k], (NONE, NONE));
            if station != NONE {
                self.release_slot(station, replica, now);
            }
        }
        // Back from the callee, it unwinds (what is left of its callers' work is not done).
        self.requests[request as usize].failed = true;
    }

    /// The caller gives up on an attempt of the step at `visit` (to `last`, its calls' end)
    /// that has attempts left: it tries again after a backoff, as a new request that takes
    /// over the journey (its callers' `level` slots, its connection, its deadline), while
    /// the old one goes on at the service, its work wasted, and is dropped when it leaves
    /// the step. The step's breaker records the timeout as a failure.
    fn try_again(
        &mut self,
        id: u32,
        visit: u32,
        last: u32,
        level: usize,
        backoff: u32,
        now: Nanos,
    ) {
        if self.has_breakers {
            self.breaker_saw_failure(visit, now);
        }
        let old = self.requests[id as usize];
        let next = self.spawn(Request {
            pc: self.step_start(visit),
            held_n: level as u32,
            attempt: old.attempt + 1,
            failed: false,
            drop_at: NONE,
            ..old
        });
        if level > 0 {
            if self.held.len() <= next as usize {
                self.held
                    .resize(next as usize + 1, [(NONE, NONE); MAX_HELD]);
            }
            for k in 0..level {
                let slot = std::mem::replace(&mut self.held[id as usize][k], (NONE, NONE));
                self.held[next as usize][k] = slot;
            }
        }
        let r = &mut self.requests[id as usize];
        r.abandoned = true;
        r.held_pool = NONE;
        r.drop_at = last + 1;
        let journey = &self.model.journeys[old.journey as usize];
        if let Some(t) = journey.timeout {
            // The client's deadline follows the journey to its new request.
            let gen = self.requests[next as usize].gen;
            let at = (old.started + t).max(now);
            self.calendar
                .schedule(at, Event::Deadline { request: next, gen });
        }
        let d = self.model.samplers[backoff as usize].sample(&mut self.retry_rng);
        self.calendar
            .schedule(now + (d * 1e9) as Nanos, Event::Retry { request: next });
    }

    fn on_deadline(&mut self, now: Nanos, request: u32, gen: u32) {
        let r = &mut self.requests[request as usize];
        if r.gen != gen || r.abandoned || r.parent != NONE {
            return;
        }
        r.abandoned = true;
        let counted = r.started >= self.model.warmup;
        self.journeys[r.journey as usize].complete(now - r.started, false, counted);
    }

    fn launch_batches(&mut self, batcher: u32, now: Nanos) {
        let m = &self.model.batchers[batcher as usize];
        while let Some(l) = self.batchers[batcher as usize].try_launch(m, now) {
            self.calendar.schedule(
                now + l.after,
                Event::BatchDone {
                    batcher,
                    gpu: l.gpu,
                },
            );
        }
        // Wait for the oldest request's deadline only while a GPU is free: a busy batcher is
        // woken by its next BatchDone instead.
        let b = &mut self.batchers[batcher as usize];
        if !b.timer_armed && b.has_idle_gpu() {
            if let Some(d) = b.deadline(m).filter(|d| *d > now) {
                b.timer_armed = true;
                self.calendar.schedule(d, Event::BatchDue { batcher });
            }
        }
    }

    fn on_batch_due(&mut self, now: Nanos, batcher: u32) {
        self.batchers[batcher as usize].timer_armed = false;
        self.launch_batches(batcher, now);
    }

    fn on_batch_done(&mut self, now: Nanos, batcher: u32, gpu: u32) {
        let b = &mut self.batchers[batcher as usize];
        b.finish(gpu);
        let n = b.members[gpu as usize].len();
        for i in 0..n {
            let req = self.batchers[batcher as usize].members[gpu as usize][i];
            self.calendar.schedule(now, Event::Advance { request: req });
        }
        self.batchers[batcher as usize].members[gpu as usize].clear();
        self.launch_batches(batcher, now);
    }

    fn on_tick(&mut self, now: Nanos) {
        crate::progress::reached(now);
        let start = now.saturating_sub(self.window_ns);
        let start_s = start as f64 / 1e9;
        for j in &mut self.journeys {
            j.close_window(start_s);
        }
        let width = (now - start).max(1) as f64;
        let mut k = 0;
        for (i, s) in self.stations.iter_mut().enumerate() {
            s.account_to(now);
            let area = s.stats.busy_area_all - self.window_area[i];
            self.window_area[i] = s.stats.busy_area_all;
            self.series[k].push(s.queued() as f64);
            self.series[k + 1].push(area / (width * f64::from(s.servers().max(1))));
            k += 2;
        }
        for p in &self.pools {
            self.series[k].push(p.waiting() as f64);
            k += 1;
        }
        for b in &self.batchers {
            self.series[k].push(b.queued() as f64);
            k += 1;
        }
        for e in &self.endpoints {
            self.series[k].push(e.throttled as f64);
            k += 1;
        }
        // The components sample `self`, so the series are lent out meanwhile (no allocation).
        let mut series = std::mem::take(&mut self.series);
        let mut push = |v: f64| {
            series[k].push(v);
            k += 1;
        };
        self.cluster_samples(&mut push);
        self.cloud_run_samples().for_each(&mut push);
        self.ray_samples().for_each(&mut push);
        self.series = series;
        if now < self.model.horizon {
            let next = (now + self.window_ns).min(self.model.horizon);
            self.calendar
                .schedule_stream(STREAM_TICKS, next, Event::Tick);
        }
    }
}
