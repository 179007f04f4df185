//! A scenario compiled for execution: services and Kafka consumer groups become stations
//! addressed by index, journeys become short programs of [`Op`]s in one flat arena, and every
//! distribution becomes a [`Sampler`] in an arena. Nothing here changes during a run.
//!
//! A `network:` block (models::network) costs the engine nothing new: each hop before a
//! service visit compiles into the existing ops, a `Delay` (cross region, or one zone) or a
//! `Branch` between a cross-zone and a same-zone `Delay`, so the per-request path stays the
//! same plain-enum walk. Without the block no op is added.

use crate::calendar::Nanos;
use models::network::{Hop, Network};
use models::scenario::{Arrivals, Balancing, Step};
use models::{Sampler, Scenario};

/// Index meaning "none" in u32 fields.
pub const NONE: u32 = u32::MAX;

/// One instruction of a journey's program.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Queue for and be served by a station.
    Visit {
        station: u32,
    },
    /// Wait (network time, produce acknowledgement) drawn from a sampler.
    Delay {
        sampler: u32,
    },
    /// Go on with probability `p`, else jump to `skip_to`.
    Branch {
        p: f64,
        skip_to: u32,
    },
    /// After the cache service: a hit (probability `hit_ratio`) jumps to `skip_to`, a miss
    /// goes on into the miss path.
    CacheLookup {
        cache: u32,
        hit_ratio: f64,
        skip_to: u32,
    },
    /// Start the branches of `forks[fork]` and wait for all of them.
    Fork {
        fork: u32,
    },
    /// The end of a parallel branch.
    Join,
    /// Take a connection of `pool` (waiting FIFO if none is free) / give it back.
    Acquire {
        pool: u32,
    },
    Release {
        pool: u32,
    },
    /// Call an LLM endpoint with token counts drawn from two samplers. `stream`: this call's
    /// tokens are its streaming step's stream (the step's first LLM call, see [`Op::StreamStart`]).
    Llm {
        endpoint: u32,
        tokens_in: u32,
        tokens_out: u32,
        stream: bool,
    },
    /// The start of a journey step that streams: an `llm:` step, or a step with `http:
    /// {stream: sse}` (the journey's own steps and those of its `parallel:` branches, not the
    /// calls a service makes). Its time to first token runs from here to the first token of
    /// the step's first LLM call in program order (its own, or one its `calls:` make), whose
    /// per-output-token time is the inter-token latency. Only compiled for such steps.
    StreamStart,
    /// The end of a `stream: sse` step that calls no LLM: it answers with one event when it
    /// is done (as `twin emulate` does), so its time to first token is the step's whole time.
    StreamEnd,
    /// Inference through a GPU batcher.
    Batch {
        batcher: u32,
    },
    /// After a visit to `station` with `errors:`: the visit fails with probability `p` (drawn
    /// from the station's own error stream). Only compiled when the key is present.
    Fail {
        p: f64,
        station: u32,
    },
    /// After a visit whose step has `retry:` (and its `Fail`, if any): reached on success,
    /// it goes on; a failed visit looks it up to be tried again, up to `attempts` in all,
    /// after a backoff drawn from `backoff`.
    RetryVisit {
        attempts: u32,
        backoff: u32,
    },
    /// After a `Visit` whose step has `calls:`: at the visit's departure the slot is kept
    /// (the request holds it); the calls follow, up to the `Leave` at `leave`.
    Hold {
        leave: u32,
    },
    /// The calls are done: the slot held since the visit at `visit` (to `station`) is given
    /// back.
    Leave {
        station: u32,
        visit: u32,
    },
    /// Just before a `Visit` whose step is an endpoint (`service_time:`/`cpu:` on the step):
    /// its samplers in place of the station's (NONE: the station's).
    Endpoint {
        service: u32,
        cpu: u32,
    },
    /// Before a step's visit (at `visit`) with `timeout:`: the caller gives up `after`
    /// nanoseconds from here, unless the request has left the step by then.
    Timeout {
        after: Nanos,
        visit: u32,
    },
    /// Before a step's visit (and its `Endpoint`) with `circuit_breaker:`: the caller's
    /// breaker `breaker` lets the call go on, or rejects it at once (a failed visit, retried
    /// from here like any other). Only compiled when the key is present.
    Breaker {
        breaker: u32,
    },
    /// After that visit (its calls and `Fail`, before its `RetryVisit`): reached on success,
    /// the breaker records a success; a failed visit looks it up to record a failure (and is
    /// retried from its step's start, the `Breaker` op among the ops before the visit).
    BreakerPass {
        breaker: u32,
    },
    /// The journey is complete.
    Done,
}

/// A caller step's circuit breaker: the journey it belongs to, the service it calls.
pub struct BreakerSpec {
    pub journey: u32,
    pub service: String,
    pub spec: models::scenario::CircuitBreaker,
}

/// A parallel step: where each branch starts and ends, and where the parent resumes.
#[derive(Clone, Debug)]
pub struct Fork {
    /// Branches the parent waits for: (entry, end).
    pub branches: Vec<(u32, u32)>,
    /// Branches started and not waited for (Kafka consumer groups the producer never hears
    /// back from).
    pub detached: Vec<(u32, u32)>,
    pub resume: u32,
}

/// A station's static description.
pub struct StationSpec {
    pub name: String,
    pub replicas: u32,
    pub concurrency: u32,
    pub balancing: Balancing,
    pub service_time: Sampler,
    /// For a Kafka consumer group: the topic's partitions (the cap on active consumers).
    pub partitions: Option<u32>,
    /// For a Kafka consumer group: the station of the service whose pods run its consumer
    /// threads ([`NONE`] otherwise). When that service runs as pods, the cluster keeps the
    /// group's active consumers at `min(partitions, ready pods x concurrency)`.
    pub consumer: u32,
    /// For a Kafka consumer group: its partitions as queues (`crate::partitions`).
    pub group: Option<crate::partitions::GroupConfig>,
    /// Waiting requests allowed per queue (`queue_limit`; usize::MAX: none).
    pub queue_limit: usize,
    /// CPU demand per visit (`cpu:`), and the replicas' cores and slice (None: the demand
    /// runs without contention, added to the visit's time). A Kafka consumer group's threads
    /// take the consumer's demand without contention (their pods' CPUs are not modelled).
    pub cpu: Option<Sampler>,
    pub cpu_config: Option<crate::cpu::CpuConfig>,
    /// For a rollout's new version: the station of the service it replaces ([`NONE`]
    /// otherwise). It starts with no replicas; `sim::rollout` brings them up.
    pub version_of: u32,
}

/// A service's CPU model: `cpu:` with cores (`cores:`, the pod's limit or request), sliced by
/// `cpu_slice` (default 3 ms).
fn cpu_config(svc: &models::scenario::Service) -> Option<crate::cpu::CpuConfig> {
    svc.cpu.as_ref()?;
    Some(crate::cpu::CpuConfig {
        cores: svc.cpu_cores()?,
        slice: svc.cpu_slice.map_or(3_000_000, |d| d.0),
    })
}

/// A consumer group of topic `t`: its partitions, partitioner and rebalance pause.
fn group_config(
    k: &models::platform::KafkaSpec,
    t: &models::platform::TopicSpec,
) -> crate::partitions::GroupConfig {
    crate::partitions::GroupConfig {
        partitions: t.partitions,
        partitioner: t.partitioner,
        rebalance_time: k.rebalance_time.0,
    }
}

pub struct JourneySpec {
    pub name: String,
    /// Index of the journey's first op in [`Model::ops`].
    pub entry: u32,
    /// Index of its `Done`.
    pub done: u32,
    pub timeout: Option<Nanos>,
    /// Its own arrival process (it is then out of the weighted mix).
    pub arrivals: Option<Arrivals>,
    /// Some step of it streams ([`Op::StreamStart`]).
    pub streams: bool,
}

pub struct LlmSpec {
    pub name: String,
    pub ttft: Sampler,
    pub per_out: f64,
    pub per_in: f64,
    pub rpm: Option<f64>,
    pub tpm: Option<f64>,
    pub retry: models::platform::RetryPolicy,
    pub timeout: Option<Nanos>,
}

pub struct BatcherModel {
    pub name: String,
    pub gpus: u32,
    pub max_batch: u32,
    pub max_wait: Nanos,
    /// Batch time by size, index = size (0 unused).
    pub time: Vec<Nanos>,
}

pub struct Model {
    pub name: String,
    pub horizon: Nanos,
    pub warmup: Nanos,
    pub stations: Vec<StationSpec>,
    /// Services come first among stations; topic `t` is station `topic_base + t`.
    pub topic_base: u32,
    pub journeys: Vec<JourneySpec>,
    pub ops: Vec<Op>,
    pub forks: Vec<Fork>,
    pub samplers: Vec<Sampler>,
    pub pools: Vec<(String, u32)>,
    pub caches: Vec<String>,
    pub llms: Vec<LlmSpec>,
    pub batchers: Vec<BatcherModel>,
    /// Per op, whether it is a visit that reads (its step's `http:` method is GET, HEAD or
    /// OPTIONS): a crash loses writes, not reads. Empty when no visit reads.
    pub reads: Vec<bool>,
    /// The steps' circuit breakers, indexed by `Op::Breaker`'s `breaker`.
    pub breakers: Vec<BreakerSpec>,
    /// Cumulative journey weights, normalised to end at 1.
    pub mix: Vec<f64>,
    pub arrivals: Arrivals,
}

struct Compiler<'s> {
    s: &'s Scenario,
    ops: Vec<Op>,
    forks: Vec<Fork>,
    samplers: Vec<Sampler>,
    caches: Vec<String>,
    topic_base: u32,
    /// Per topic, its further consumer groups: (station, awaited).
    topic_groups: Vec<Vec<(u32, bool)>>,
    produce: u32,
    /// The scenario's network and its hop samplers, if it has a `network:` block.
    network: Option<(Network, HopSamplers)>,
    /// Region of the journey's caller at this point of the program (0 = home region, where
    /// the load balancer is).
    caller: u32,
    /// The journey being compiled, and the breakers compiled so far.
    journey: u32,
    breakers: Vec<BreakerSpec>,
    /// The reading visits' op indices.
    reads: Vec<u32>,
    /// How deep in `calls:` and cache miss paths the step being compiled is (0: a step of
    /// the journey or of one of its `parallel:` branches).
    depth: u32,
    /// Where the step being compiled stands with streaming.
    stream: StreamState,
    /// The journey being compiled has a streaming step.
    journey_streams: bool,
}

/// Streaming while compiling a step.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StreamState {
    /// Not within a streaming step.
    Outside,
    /// Within one, before its first LLM call.
    Pending,
    /// Within one whose first LLM call is compiled.
    Found,
}

/// Sampler indices of the three hop kinds.
#[derive(Clone, Copy)]
struct HopSamplers {
    same_zone: u32,
    cross_zone: u32,
    /// Validation requires it whenever a service is outside the home region.
    cross_region: u32,
}

impl Compiler<'_> {
    fn sampler(&mut self, s: Sampler) -> u32 {
        self.samplers.push(s);
        (self.samplers.len() - 1) as u32
    }

    /// The network hop into service `to`: a cross-region `Delay`, or within the region a
    /// `Branch` (p = 1 - 1/zones) into the cross-zone `Delay` and, on the other arm, the
    /// same-zone one. The engine has no jump op: a `Branch` with p = 0 always skips, so it
    /// ends the cross-zone arm (its uniform draw is the only cost).
    fn hop(&mut self, to: usize) {
        let Some((net, h)) = &self.network else {
            return;
        };
        let h = *h;
        let hop = net.hop(self.caller, to);
        self.caller = net.placements[to].region;
        match hop {
            Hop::CrossRegion => self.ops.push(Op::Delay {
                sampler: h.cross_region,
            }),
            Hop::InRegion { p_cross } if p_cross <= 0.0 => self.ops.push(Op::Delay {
                sampler: h.same_zone,
            }),
            Hop::InRegion { p_cross } => {
                let cross = self.ops.len();
                self.ops.push(Op::Branch {
                    p: p_cross,
                    skip_to: NONE,
                });
                self.ops.push(Op::Delay {
                    sampler: h.cross_zone,
                });
                let jump = self.ops.len();
                self.ops.push(Op::Branch {
                    p: 0.0,
                    skip_to: NONE,
                });
                let same = self.ops.len() as u32;
                self.ops.push(Op::Delay {
                    sampler: h.same_zone,
                });
                let end = self.ops.len() as u32;
                for (at, to) in [(cross, same), (jump, end)] {
                    if let Op::Branch { skip_to, .. } = &mut self.ops[at] {
                        *skip_to = to;
                    }
                }
            }
        }
    }

    /// Compiles steps that may not run (an optional step, a parallel branch): the caller
    /// after them is the one before them, the last service visited unconditionally.
    fn steps_from_caller(&mut self, steps: &[Step]) {
        let caller = self.caller;
        self.steps(steps);
        self.caller = caller;
    }

    fn steps(&mut self, steps: &[Step]) {
        for step in steps {
            self.step(step);
        }
    }

    fn step(&mut self, step: &Step) {
        let s = self.s;
        let caller = self.caller;
        let branch = step.probability.filter(|p| *p < 1.0).map(|p| {
            self.ops.push(Op::Branch { p, skip_to: NONE });
            self.ops.len() - 1
        });
        let streams = self.depth == 0
            && self.stream == StreamState::Outside
            && (step.llm.is_some() || step.http.as_ref().is_some_and(|h| h.stream.is_some()));
        if streams {
            self.ops.push(Op::StreamStart);
            self.stream = StreamState::Pending;
            self.journey_streams = true;
        }
        let pool = step
            .pool
            .as_ref()
            .and_then(|p| s.pools.get_index_of(p))
            .map(|i| i as u32);
        if let Some(pool) = pool {
            self.ops.push(Op::Acquire { pool });
        }
        if let Some(name) = &step.service {
            let index = s.services.get_index_of(name).unwrap_or(0);
            self.hop(index);
            if let Some(t) = step.timeout {
                let endpoint = u32::from(step.service_time.is_some() || step.cpu.is_some());
                let breaker = u32::from(step.circuit_breaker.is_some());
                let visit = self.ops.len() as u32 + 1 + breaker + endpoint;
                self.ops.push(Op::Timeout { after: t.0, visit });
            }
            let breaker = step.circuit_breaker.as_ref().map(|b| {
                let breaker = self.breakers.len() as u32;
                self.breakers.push(BreakerSpec {
                    journey: self.journey,
                    service: name.clone(),
                    spec: b.clone(),
                });
                self.ops.push(Op::Breaker { breaker });
                breaker
            });
            if step.service_time.is_some() || step.cpu.is_some() {
                let mut sampler = |d: &Option<models::Distribution>| match d {
                    Some(d) => self.sampler(d.sampler()),
                    None => NONE,
                };
                let (service, cpu) = (sampler(&step.service_time), sampler(&step.cpu));
                self.ops.push(Op::Endpoint { service, cpu });
            }
            let visit = self.ops.len() as u32;
            self.ops.push(Op::Visit {
                station: index as u32,
            });
            if step.http.as_ref().is_some_and(|h| {
                ["GET", "HEAD", "OPTIONS"].contains(&h.method.to_ascii_uppercase().as_str())
            }) {
                self.reads.push(visit);
            }
            if let Some(calls) = &step.calls {
                // Made from the service, holding its slot; the journey goes on from it after.
                let hold = self.ops.len();
                self.ops.push(Op::Hold { leave: NONE });
                self.depth += 1;
                self.steps_from_caller(calls);
                self.depth -= 1;
                let leave = self.ops.len() as u32;
                self.ops.push(Op::Leave {
                    station: index as u32,
                    visit,
                });
                self.ops[hold] = Op::Hold { leave };
            }
            let errors = step.errors.or(s.services[index].errors).map(|f| f.0);
            // A new version with errors of its own needs the `Fail` even where the old has
            // none (p = 0: the old version's visits never fail there).
            let new_errors = s
                .rollouts
                .iter()
                .any(|r| r.service == *name && r.new_version.errors.is_some_and(|e| e.0 > 0.0));
            if let Some(p) = errors
                .filter(|p| *p > 0.0 || new_errors)
                .or(new_errors.then_some(0.0))
            {
                self.ops.push(Op::Fail {
                    p,
                    station: index as u32,
                });
            }
            if let Some(breaker) = breaker {
                self.ops.push(Op::BreakerPass { breaker });
            }
            if let Some(r) = &step.retry {
                let backoff = self.sampler(r.backoff.sampler());
                self.ops.push(Op::RetryVisit {
                    attempts: r.attempts,
                    backoff,
                });
            }
            if let Some(cache) = &step.cache {
                self.caches.push(name.clone());
                let at = self.ops.len();
                self.ops.push(Op::CacheLookup {
                    cache: (self.caches.len() - 1) as u32,
                    hit_ratio: cache.hit_ratio,
                    skip_to: NONE,
                });
                // The miss path is called from the cache's caller's point of view: the cache
                // service; after it (hit or miss) the journey goes on from the cache service.
                self.depth += 1;
                self.steps_from_caller(&cache.miss);
                self.depth -= 1;
                let end = self.ops.len() as u32;
                if let Op::CacheLookup { skip_to, .. } = &mut self.ops[at] {
                    *skip_to = end;
                }
            }
        } else if let Some(d) = &step.delay {
            let sampler = self.sampler(d.sampler());
            self.ops.push(Op::Delay { sampler });
        } else if let Some(branches) = &step.parallel {
            let fork = self.forks.len() as u32;
            self.forks.push(Fork {
                branches: Vec::new(),
                detached: Vec::new(),
                resume: NONE,
            });
            self.ops.push(Op::Fork { fork });
            for b in branches {
                let entry = self.ops.len() as u32;
                self.steps_from_caller(b);
                self.ops.push(Op::Join);
                let end = (self.ops.len() - 1) as u32;
                self.forks[fork as usize].branches.push((entry, end));
            }
            self.forks[fork as usize].resume = self.ops.len() as u32;
        } else if let Some(name) = &step.llm {
            let endpoint = s.llm_endpoints.get_index_of(name).unwrap_or(0) as u32;
            let (tin, tout) = match &step.tokens {
                Some(t) => (t.tokens_in.sampler(), t.tokens_out.sampler()),
                None => (Sampler::Constant(0.0), Sampler::Constant(0.0)),
            };
            let tokens_in = self.sampler(tin);
            let tokens_out = self.sampler(tout);
            let stream = self.stream == StreamState::Pending;
            if stream {
                self.stream = StreamState::Found;
            }
            self.ops.push(Op::Llm {
                endpoint,
                tokens_in,
                tokens_out,
                stream,
            });
        } else if let Some(topic) = &step.topic {
            let t = s
                .kafka
                .as_ref()
                .and_then(|k| k.topics.get_index_of(topic))
                .unwrap_or(0) as u32;
            // No hop for a topic: `produce_latency` is the measured acks=all round trip to
            // the brokers, and the consumer's fetch is part of its group's queueing. The
            // journey goes on from the consumer (the agent makes the next call).
            if let Some((net, _)) = &self.network {
                let consumer = s
                    .kafka
                    .as_ref()
                    .and_then(|k| k.topics.get_index(t as usize))
                    .and_then(|(_, spec)| s.services.get_index_of(&spec.consumer));
                if let Some(c) = consumer {
                    self.caller = net.placements[c].region;
                }
            }
            self.ops.push(Op::Delay {
                sampler: self.produce,
            });
            let main = self.topic_base + t;
            let groups = &self.topic_groups[t as usize];
            if groups.is_empty() {
                self.ops.push(Op::Visit { station: main });
            } else {
                // Every group reads the event: a fork with one branch per group, joined for
                // the main group and the awaited ones.
                let fork = self.forks.len() as u32;
                self.forks.push(Fork {
                    branches: Vec::new(),
                    detached: Vec::new(),
                    resume: NONE,
                });
                self.ops.push(Op::Fork { fork });
                let branches = std::iter::once((main, true)).chain(groups.iter().copied());
                for (station, awaited) in branches.collect::<Vec<_>>() {
                    let entry = self.ops.len() as u32;
                    self.ops.push(Op::Visit { station });
                    self.ops.push(Op::Join);
                    let f = &mut self.forks[fork as usize];
                    let branch = (entry, entry + 1);
                    if awaited {
                        f.branches.push(branch);
                    } else {
                        f.detached.push(branch);
                    }
                }
                self.forks[fork as usize].resume = self.ops.len() as u32;
            }
        } else if let Some(b) = &step.batch {
            let batcher = s.batchers.get_index_of(b).unwrap_or(0) as u32;
            self.ops.push(Op::Batch { batcher });
        }
        if let Some(pool) = pool {
            self.ops.push(Op::Release { pool });
        }
        if streams {
            if self.stream == StreamState::Pending {
                self.ops.push(Op::StreamEnd);
            }
            self.stream = StreamState::Outside;
        }
        if let Some(at) = branch {
            // An optional step may not run: the next hop starts from the caller before it.
            self.caller = caller;
            let end = self.ops.len() as u32;
            if let Op::Branch { skip_to, .. } = &mut self.ops[at] {
                *skip_to = end;
            }
        }
    }
}

impl Model {
    /// Compiles a validated scenario.
    pub fn compile(s: &Scenario) -> Model {
        let mut stations: Vec<StationSpec> = s
            .services
            .iter()
            .map(|(name, svc)| StationSpec {
                name: name.clone(),
                // Cloud Run instances, VMs and Ray workers say their own counts and slots.
                replicas: svc.initial_replicas(),
                concurrency: svc.slots(),
                balancing: svc.routing(),
                service_time: svc.off_cpu_time().sampler(),
                cpu: svc.cpu.as_ref().map(|c| c.sampler()),
                cpu_config: cpu_config(svc),
                partitions: None,
                consumer: NONE,
                group: None,
                queue_limit: svc.queue_limit.map_or(usize::MAX, |n| n as usize),
                version_of: NONE,
            })
            .collect();
        // A rollout's new version is a station of its own after the services (named
        // `SERVICE@ROLLOUT`, so its streams are its own), before the topics.
        for r in &s.rollouts {
            let Some(old) = s.services.get_index_of(&r.service) else {
                continue;
            };
            let svc = &s.services[old];
            let v = &r.new_version;
            let base = &stations[old];
            let cpu = v.cpu.as_ref().map(|c| c.sampler()).or(base.cpu.clone());
            stations.push(StationSpec {
                name: format!("{}@{}", r.service, r.name),
                replicas: 0,
                concurrency: base.concurrency,
                balancing: base.balancing,
                service_time: v
                    .service_time
                    .as_ref()
                    .map_or(base.service_time.clone(), |d| d.sampler()),
                cpu,
                cpu_config: cpu_config(svc),
                partitions: None,
                consumer: NONE,
                group: None,
                queue_limit: base.queue_limit,
                version_of: old as u32,
            });
        }
        let topic_base = stations.len() as u32;
        if let Some(k) = &s.kafka {
            for (topic, t) in &k.topics {
                let consumer = s.services.get_index_of(&t.consumer).unwrap_or(0);
                let svc = &s.services[consumer];
                // One consumer thread per partition at most; events are keyed to partitions
                // at random, so each partition is its own FIFO queue.
                let consumers = (svc.replicas.initial() * svc.concurrency).min(t.partitions);
                stations.push(StationSpec {
                    name: format!("topic:{topic}"),
                    replicas: consumers,
                    concurrency: 1,
                    balancing: Balancing::Random,
                    service_time: svc.off_cpu_time().sampler(),
                    cpu: svc.cpu.as_ref().map(|c| c.sampler()),
                    cpu_config: None,
                    partitions: Some(t.partitions),
                    consumer: consumer as u32,
                    group: Some(group_config(k, t)),
                    queue_limit: usize::MAX,
                    version_of: NONE,
                });
            }
        }
        // Further consumer groups after every topic's main group, so `topic_base + t` holds.
        let mut topic_groups = Vec::new();
        if let Some(k) = &s.kafka {
            for (topic, t) in &k.topics {
                let mut groups = Vec::new();
                for (group, g) in &t.groups {
                    let consumer = s.services.get_index_of(&g.consumer).unwrap_or(0);
                    let svc = &s.services[consumer];
                    groups.push((stations.len() as u32, g.awaited));
                    stations.push(StationSpec {
                        name: format!("topic:{topic}/{group}"),
                        replicas: (svc.replicas.initial() * svc.concurrency).min(t.partitions),
                        concurrency: 1,
                        balancing: Balancing::Random,
                        service_time: svc.off_cpu_time().sampler(),
                        cpu: svc.cpu.as_ref().map(|c| c.sampler()),
                        cpu_config: None,
                        partitions: Some(t.partitions),
                        consumer: consumer as u32,
                        group: Some(group_config(k, t)),
                        queue_limit: usize::MAX,
                        version_of: NONE,
                    });
                }
                topic_groups.push(groups);
            }
        }
        let mut c = Compiler {
            s,
            ops: Vec::new(),
            forks: Vec::new(),
            samplers: Vec::new(),
            caches: Vec::new(),
            topic_base,
            topic_groups,
            produce: 0,
            network: None,
            caller: 0,
            journey: 0,
            breakers: Vec::new(),
            reads: Vec::new(),
            depth: 0,
            stream: StreamState::Outside,
            journey_streams: false,
        };
        if let Some(k) = &s.kafka {
            c.produce = c.sampler(k.produce_latency.sampler());
        }
        if let (Some(spec), Some(net)) = (&s.network, Network::resolve(s)) {
            let same_zone = c.sampler(spec.same_zone.sampler());
            let cross_zone = c.sampler(spec.cross_zone.sampler());
            // Validation guarantees `cross_region` whenever a hop can cross regions.
            let cross_region = match &spec.cross_region {
                Some(d) => c.sampler(d.sampler()),
                None => cross_zone,
            };
            c.network = Some((
                net,
                HopSamplers {
                    same_zone,
                    cross_zone,
                    cross_region,
                },
            ));
        }
        let mut journeys = Vec::new();
        for (k, j) in s.workload.journeys.iter().enumerate() {
            let entry = c.ops.len() as u32;
            c.caller = 0;
            c.journey = k as u32;
            c.journey_streams = false;
            c.steps(&j.steps);
            c.ops.push(Op::Done);
            journeys.push(JourneySpec {
                name: j.name.clone(),
                entry,
                done: (c.ops.len() - 1) as u32,
                timeout: j.timeout.map(|t| t.0),
                arrivals: j.arrivals.clone(),
                streams: c.journey_streams,
            });
        }
        // A journey with its own arrivals has weight 0 in the mix (never drawn).
        let weight = |j: &models::scenario::Journey| {
            if j.arrivals.is_some() {
                0.0
            } else {
                j.weight
            }
        };
        let total: f64 = s.workload.journeys.iter().map(weight).sum();
        let mut acc = 0.0;
        let mut mix: Vec<f64> = s
            .workload
            .journeys
            .iter()
            .map(|j| {
                acc += weight(j) / total;
                acc
            })
            .collect();
        if let Some(last) = s
            .workload
            .journeys
            .iter()
            .rposition(|j| j.arrivals.is_none())
        {
            for c in &mut mix[last..] {
                *c = 1.0;
            }
        }
        let llms = s
            .llm_endpoints
            .iter()
            .map(|(name, e)| LlmSpec {
                name: name.clone(),
                ttft: e.time_to_first_token.sampler(),
                per_out: e.per_output_token.as_secs_f64(),
                per_in: e.per_input_token.as_secs_f64(),
                rpm: e.rate_limit.and_then(|r| r.requests_per_minute),
                tpm: e.rate_limit.and_then(|r| r.tokens_per_minute),
                retry: e.retry,
                timeout: e.timeout.map(|t| t.0),
            })
            .collect();
        let batchers = s
            .batchers
            .iter()
            .map(|(name, b)| BatcherModel {
                name: name.clone(),
                gpus: b.gpus,
                max_batch: b.max_batch,
                max_wait: b.max_wait.0,
                time: (0..=b.max_batch).map(|n| b.time_for(n.max(1)).0).collect(),
            })
            .collect();
        let mut reads = Vec::new();
        if !c.reads.is_empty() {
            reads = vec![false; c.ops.len()];
            for pc in &c.reads {
                reads[*pc as usize] = true;
            }
        }
        Model {
            name: s.name.clone(),
            horizon: s.horizon.0,
            warmup: s.warmup.0,
            stations,
            topic_base,
            journeys,
            ops: c.ops,
            forks: c.forks,
            samplers: c.samplers,
            pools: s.pools.iter().map(|(n, p)| (n.clone(), p.size)).collect(),
            caches: c.caches,
            llms,
            batchers,
            breakers: c.breakers,
            reads,
            mix,
            arrivals: s.workload.arrivals.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Model {
        let (s, _) = models::parse_scenario(text, "test.yaml", &[]).expect("valid scenario");
        Model::compile(&s)
    }

    const TANDEM: &str = "
name: t
horizon: 1m
services:
  a: {service_time: {constant: 1ms}}
  b: {service_time: {constant: 1ms}, zones: 4}
workload:
  arrivals: {poisson: {rate: 1/s}}
  journeys: [{name: j, steps: [{service: a}, {service: b}]}]
";

    #[test]
    fn without_a_network_block_journeys_are_visits_only() {
        // The programs the engine ran before `network:` existed: the same ops, no sampler
        // added, hence the same draws and byte-identical results.
        let m = compile(include_str!("../../scenarios/examples/mmc.yaml"));
        assert_eq!(
            m.ops,
            vec![
                Op::Visit { station: 0 },
                Op::Done,
                Op::Visit { station: 1 },
                Op::Done
            ]
        );
        assert!(m.samplers.is_empty());
    }

    #[test]
    fn a_hop_in_one_zone_is_a_delay_and_in_several_a_branch() {
        let text = TANDEM.replace(
            "services:",
            "network: {same_zone: {constant: 1ms}, cross_zone: {constant: 2ms}}\nservices:",
        );
        let m = compile(&text);
        // Samplers: 0 same zone, 1 cross zone (2 stands in for the absent cross region).
        let want = vec![
            Op::Delay { sampler: 0 }, // LB -> a: one zone, always same-zone
            Op::Visit { station: 0 },
            Op::Branch {
                p: 0.75, // 1 - 1/4 zones
                skip_to: 5,
            },
            Op::Delay { sampler: 1 },
            Op::Branch { p: 0.0, skip_to: 6 },
            Op::Delay { sampler: 0 },
            Op::Visit { station: 1 },
            Op::Done,
        ];
        assert_eq!(m.ops, want);
    }

    #[test]
    fn only_a_change_of_region_pays_the_cross_region_delay() {
        let text = TANDEM
            .replace(
                "services:",
                "network: {same_zone: {constant: 1ms}, cross_zone: {constant: 2ms}, cross_region: {constant: 60ms}, region: us-central1}\nservices:",
            )
            .replace("zones: 4", "region: us-east1")
            .replace(
                "[{service: a}, {service: b}]",
                "[{service: a}, {service: b}, {service: b}, {service: a}]",
            );
        let m = compile(&text);
        let delays: Vec<u32> = m
            .ops
            .iter()
            .filter_map(|o| match o {
                Op::Delay { sampler } => Some(*sampler),
                _ => None,
            })
            .collect();
        // LB -> a same zone; a -> b to us-east1; b -> b stays; b -> a back home.
        assert_eq!(delays, vec![0, 2, 0, 2]);
    }
}
