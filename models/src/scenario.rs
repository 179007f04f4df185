//! The scenario: one file that describes topology, workload and targets (SPEC.md, "Scenario
//! files"). These are the serde types; [`crate::load`] turns YAML text into them with located
//! errors, and [`crate::validate`] checks what serde cannot (references, ranges).

use crate::distribution::Distribution;
use crate::platform::{
    BatcherSpec, CacheStep, CloudRunSpec, KafkaSpec, LlmCall, LlmEndpoint, NodePoolSpec, PodSpec,
    PoolSpec, RaySpec, VmSpec,
};
use crate::slo::Slo;
use crate::units::{Duration, Fraction, Rate};
use indexmap::IndexMap;
use serde::{de, Deserialize, Deserializer, Serialize};

/// A whole scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default = "default_seed")]
    pub seed: u64,
    pub horizon: Duration,
    #[serde(default)]
    pub warmup: Duration,
    #[serde(default = "one")]
    pub replications: u32,
    #[serde(default)]
    pub services: IndexMap<String, Service>,
    pub workload: Workload,
    #[serde(default)]
    pub slos: Vec<Slo>,
    /// Client connection pools, by name (steps name them with `pool:`).
    #[serde(default)]
    pub pools: IndexMap<String, PoolSpec>,
    #[serde(default)]
    pub llm_endpoints: IndexMap<String, LlmEndpoint>,
    #[serde(default)]
    pub kafka: Option<KafkaSpec>,
    #[serde(default)]
    pub batchers: IndexMap<String, BatcherSpec>,
    #[serde(default)]
    pub node_pools: IndexMap<String, NodePoolSpec>,
    /// How pods are placed on nodes and how often the cluster autoscaler looks.
    #[serde(default)]
    pub cluster: crate::platform::ClusterSpec,
    /// Network time per hop between services (`same_zone`, `cross_zone`, `cross_region`);
    /// absent: no hop is paid (journeys carry their network time as `delay:` steps).
    #[serde(default)]
    pub network: Option<crate::network::NetworkSpec>,
    /// What feeds the HPAs: metrics-server's cadence and lag, Prometheus and its adapter.
    #[serde(default)]
    pub metrics_pipeline: crate::metrics_pipeline::MetricsPipeline,
    /// How the platform buys what it uses (pricing model per pool, commitments).
    #[serde(default)]
    pub cost: Option<crate::cost::CostModel>,
    /// What the platform uses that the simulation does not move (Cloud SQL, Memorystore,
    /// Pinecone, storage): figures over `span_s` seconds (e.g. 3600 with `instance_hours: 1`),
    /// scaled to the run's horizon ([`crate::cost::Usage::scaled_to`]); without `span_s`, the
    /// figures cover the run.
    #[serde(default)]
    pub infrastructure: Option<crate::cost::Usage>,
    /// Faults to inject into the simulation.
    #[serde(default)]
    pub faults: Vec<crate::faults::FaultSpec>,
    /// How long success rate and p95 must stay within their SLOs after a fault before the
    /// service counts as recovered (RTO as the client sees it).
    #[serde(default = "recovery_window")]
    pub recovery_window: Duration,
    /// Width of the windows a simulation with faults judges recovery in (RTO's resolution).
    /// Absent: 1 s (the timeline's width for long horizons). A short outage (a loopback
    /// failover of half a second) needs finer windows, e.g. 100 ms.
    #[serde(default)]
    pub recovery_resolution: Option<Duration>,
    /// Chaos and failover drills `twin drill` runs against a real deployment.
    #[serde(default)]
    pub drills: Vec<crate::drill::DrillSpec>,
    /// Hosts a drill may target (`twin drill --target`): names or addresses, no scheme.
    #[serde(default)]
    pub allowed_targets: Vec<String>,
    /// Prometheus endpoints `twin load` scrapes while it runs (the simulator ignores them).
    #[serde(default)]
    pub observers: Vec<crate::observe::ObserverSpec>,
    /// Releases of new versions during the run: canary steps or a blue-green switch, judged
    /// and promoted or rolled back (SPEC.md "Streaming and rollouts").
    #[serde(default)]
    pub rollouts: Vec<crate::rollout::RolloutSpec>,
}

fn recovery_window() -> Duration {
    Duration::from_secs(30)
}

fn default_seed() -> u64 {
    1
}
fn one() -> u32 {
    1
}

/// One service: replicas, each with `concurrency` servers and its own FIFO queue (or one shared
/// queue, see [`Balancing`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    #[serde(default)]
    pub replicas: Replicas,
    #[serde(default = "one")]
    pub concurrency: u32,
    /// Time a visit spends off the CPU (I/O, sleeps), or its whole time when `cpu:` is absent.
    /// Optional with `cpu:` (then 0); see [`Service::off_cpu_time`].
    #[serde(default)]
    pub service_time: Option<Distribution>,
    /// CPU demand of a visit, served on the replica's `cores` shared in `cpu_slice` slices
    /// (absent: no CPU model; the visit takes its `service_time`).
    #[serde(default)]
    pub cpu: Option<Distribution>,
    /// CPUs per replica; absent: the pod's CPU limit, else its request; with neither, CPU
    /// demand runs without contention.
    #[serde(default)]
    pub cores: Option<f64>,
    /// The scheduler's time slice (round robin among the requests on the CPU); `0s` is
    /// processor sharing. Absent: 3 ms.
    #[serde(default)]
    pub cpu_slice: Option<Duration>,
    #[serde(default)]
    pub balancing: Balancing,
    /// The pod each replica runs as (node pool, requests, start-up); absent: not placed on
    /// nodes (a VM, a managed service, or a cluster the scenario does not model).
    #[serde(default)]
    pub pod: Option<PodSpec>,
    /// A HorizontalPodAutoscaler: autoscaling/v2 spec fields, as in the manifest, or
    /// `{file: k8s/hpa.yaml}` naming a whole manifest (read by the caller, see
    /// [`Scenario::external_files_mut`]).
    #[serde(default)]
    pub hpa: Option<crate::hpa::spec::HpaSpec>,
    /// Runs on Cloud Run: instances scaled by concurrency (replaces `replicas`, `concurrency`).
    #[serde(default)]
    pub cloud_run: Option<CloudRunSpec>,
    /// Runs on standalone VMs (replaces `replicas`; `concurrency` defaults to the vCPUs).
    #[serde(default)]
    pub vm: Option<VmSpec>,
    /// Runs as the tasks of a Ray cluster (replaces `replicas`, `concurrency`, `balancing`).
    #[serde(default)]
    pub ray: Option<RaySpec>,
    /// The region the service runs in, for `network:` hops; absent: the home region.
    #[serde(default)]
    pub region: Option<String>,
    /// Zones its replicas are spread over, for `network:` hops; absent: its node pool's zone
    /// count, else 1.
    #[serde(default)]
    pub zones: Option<u32>,
    /// Waiting requests beyond this many (per replica queue, or in the one shared queue) are
    /// rejected at once: the visit fails. Absent: no limit.
    #[serde(default)]
    pub queue_limit: Option<u32>,
    /// Share of visits that fail after their service time (a step may override it).
    #[serde(default)]
    pub errors: Option<Fraction>,
    /// Firestore operations one visit makes (counted into the run's usage and billed).
    #[serde(default)]
    pub firestore: Option<crate::cost::FirestoreOps>,
    /// Bytes of one visit's response, billed as egress to `response_to` (absent: none).
    #[serde(default)]
    pub response_bytes: Option<f64>,
    /// Where the responses go, for their egress price (default `same_zone`: free).
    #[serde(default)]
    pub response_to: crate::cost::Destination,
}

impl Service {
    /// The time a visit spends off the CPU: `service_time`, or nothing (a CPU-only service).
    pub fn off_cpu_time(&self) -> Distribution {
        self.service_time
            .clone()
            .unwrap_or(Distribution::Constant(Duration(0)))
    }

    /// CPUs per replica for the CPU model: `cores`, else the pod's CPU limit, else its
    /// request; None: no contention.
    pub fn cpu_cores(&self) -> Option<f64> {
        if let Some(c) = self.cores {
            return Some(c);
        }
        let pod = self.pod.as_ref()?;
        let q = pod.cpu_limit.as_deref().unwrap_or(&pod.cpu);
        crate::platform::parse_cpu_milli(q)
            .ok()
            .filter(|m| *m > 0)
            .map(|m| m as f64 / 1000.0)
    }

    /// The mean time a visit holds its slot alone (CPU demand plus off-CPU time), in seconds.
    pub fn mean_visit_s(&self) -> f64 {
        self.off_cpu_time().sampler().mean() + self.cpu.as_ref().map_or(0.0, |c| c.sampler().mean())
    }

    /// Replicas (instances, VMs, workers) a run starts with.
    pub fn initial_replicas(&self) -> u32 {
        if let Some(c) = &self.cloud_run {
            c.min_instances
        } else if let Some(v) = &self.vm {
            v.count
        } else if let Some(r) = &self.ray {
            r.min_workers
        } else {
            self.replicas.initial()
        }
    }

    /// The most replicas the service can have.
    pub fn max_replicas(&self) -> u32 {
        if let Some(c) = &self.cloud_run {
            c.max_instances
        } else if let Some(v) = &self.vm {
            v.count
        } else if let Some(r) = &self.ray {
            r.max_workers
        } else {
            self.replicas.max()
        }
    }

    /// Requests one replica serves at once.
    pub fn slots(&self) -> u32 {
        if let Some(c) = &self.cloud_run {
            c.concurrency
        } else if let Some(v) = &self.vm {
            v.concurrency
                .or_else(|| crate::platform::machine_slots(&v.machine))
                .unwrap_or(self.concurrency)
        } else if let Some(r) = &self.ray {
            r.cpus_per_worker
                .or_else(|| crate::platform::machine_slots(&r.worker_machine))
                .unwrap_or(1)
        } else {
            self.concurrency
        }
    }

    /// How requests reach replicas: Cloud Run's pending queue and Ray's task queue are shared.
    pub fn routing(&self) -> Balancing {
        if self.cloud_run.is_some() || self.ray.is_some() {
            Balancing::Shared
        } else {
            self.balancing
        }
    }
}

/// A fixed replica count, or a range an autoscaler moves within (starting at `min`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Replicas {
    Fixed(u32),
    Range { min: u32, max: u32 },
}

impl Default for Replicas {
    fn default() -> Self {
        Replicas::Fixed(1)
    }
}

impl Replicas {
    /// The count a run starts with.
    pub fn initial(self) -> u32 {
        match self {
            Replicas::Fixed(n) => n,
            Replicas::Range { min, .. } => min,
        }
    }
    pub fn max(self) -> u32 {
        match self {
            Replicas::Fixed(n) => n,
            Replicas::Range { max, .. } => max,
        }
    }
}

impl<'de> Deserialize<'de> for Replicas {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Replicas;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a replica count such as 3, or a range {min: 2, max: 10}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Replicas, E> {
                u32::try_from(v)
                    .map(Replicas::Fixed)
                    .map_err(|_| E::custom("replica count out of range"))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Replicas, E> {
                Err(E::custom(format!("replicas cannot be negative, found {v}")))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Replicas, A::Error> {
                let (mut min, mut max) = (None, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "min" => min = Some(map.next_value::<u32>()?),
                        "max" => max = Some(map.next_value::<u32>()?),
                        other => {
                            return Err(de::Error::unknown_field(other, &["min", "max"]));
                        }
                    }
                }
                let min = min.ok_or_else(|| de::Error::missing_field("min"))?;
                let max = max.ok_or_else(|| de::Error::missing_field("max"))?;
                Ok(Replicas::Range { min, max })
            }
        }
        d.deserialize_any(V)
    }
}

/// How a request reaches a replica (SPEC.md): per-replica FIFO queues chosen at random
/// (kube-proxy iptables), round robin, least outstanding requests (Envoy), or one queue
/// shared by every replica (Kafka consumers, Ray workers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Balancing {
    #[default]
    Random,
    RoundRobin,
    LeastRequest,
    Shared,
}

/// Arrivals and the journeys they start.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workload {
    pub arrivals: Arrivals,
    pub journeys: Vec<Journey>,
}

impl Workload {
    /// The summed weight of the journeys that draw from the shared `arrivals` (those without
    /// their own): a mix journey's share of those arrivals is its weight over this.
    pub fn mix_weight(&self) -> f64 {
        self.journeys
            .iter()
            .filter(|j| j.arrivals.is_none())
            .map(|j| j.weight)
            .sum()
    }
}

/// The arrival process of new journeys.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Arrivals {
    Poisson {
        rate: Rate,
    },
    /// Evenly spaced arrivals.
    Constant {
        rate: Rate,
    },
    /// A Poisson process whose rate follows points in time: held until the next point
    /// (`interpolate: step`) or ramped linearly to it (`linear`); `repeat` makes it periodic
    /// (a diurnal day).
    Profile {
        points: Vec<ProfilePoint>,
        #[serde(default)]
        interpolate: Interpolation,
        #[serde(default)]
        repeat: Option<Duration>,
    },
    /// Arrival times from a CSV file (one timestamp per row, seconds or a duration).
    Trace {
        file: String,
        #[serde(skip)]
        times: Vec<Duration>,
    },
}

#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfilePoint {
    pub at: Duration,
    pub rate: Rate,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    #[default]
    Step,
    Linear,
}

impl Arrivals {
    /// The arrival rate at time `t`, in events per second.
    pub fn rate_at(&self, t: Duration) -> f64 {
        match self {
            Arrivals::Poisson { rate } | Arrivals::Constant { rate } => rate.per_sec(),
            Arrivals::Profile {
                points,
                interpolate,
                repeat,
            } => {
                let t = match repeat {
                    Some(p) if p.0 > 0 => Duration(t.0 % p.0),
                    _ => t,
                };
                profile_rate(points, *interpolate, t)
            }
            Arrivals::Trace { .. } => 0.0,
        }
    }

    /// The highest rate the process ever reaches (the thinning bound).
    pub fn peak_rate(&self) -> f64 {
        match self {
            Arrivals::Poisson { rate } | Arrivals::Constant { rate } => rate.per_sec(),
            Arrivals::Profile { points, .. } => {
                points.iter().map(|p| p.rate.per_sec()).fold(0.0, f64::max)
            }
            Arrivals::Trace { times, .. } => {
                if times.len() < 2 {
                    return 0.0;
                }
                let span = times[times.len() - 1].as_secs_f64() - times[0].as_secs_f64();
                times.len() as f64 / span.max(1e-9)
            }
        }
    }

    /// The mean rate over `[0, horizon)` (for analytic estimates and cost projections).
    pub fn mean_rate(&self, horizon: Duration) -> f64 {
        match self {
            Arrivals::Trace { times, .. } => {
                times.iter().filter(|t| **t < horizon).count() as f64 / horizon.as_secs_f64()
            }
            Arrivals::Profile { .. } => {
                let n = 10_000u64;
                let step = horizon.0 / n;
                (0..n)
                    .map(|i| self.rate_at(Duration(i * step + step / 2)))
                    .sum::<f64>()
                    / n as f64
            }
            _ => self.peak_rate(),
        }
    }
}

fn profile_rate(points: &[ProfilePoint], how: Interpolation, t: Duration) -> f64 {
    // Points are sorted (validated); before the first point the first rate holds.
    let i = points.partition_point(|p| p.at <= t);
    if i == 0 {
        return points.first().map_or(0.0, |p| p.rate.per_sec());
    }
    let a = points[i - 1];
    match (how, points.get(i)) {
        (Interpolation::Linear, Some(b)) => {
            let f = (t.0 - a.at.0) as f64 / (b.at.0 - a.at.0) as f64;
            a.rate.per_sec() + f * (b.rate.per_sec() - a.rate.per_sec())
        }
        _ => a.rate.per_sec(),
    }
}

/// A user journey: steps visited in order. Its latency is the whole sojourn.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journey {
    pub name: String,
    #[serde(default = "one_f64")]
    pub weight: f64,
    pub steps: Vec<Step>,
    /// The client gives up after this long: the journey counts as an error at that moment
    /// (the work it started goes on).
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Its own arrival process (a nightly batch beside the interactive mix): the journey is
    /// then left out of the weighted mix of `workload.arrivals`.
    #[serde(default)]
    pub arrivals: Option<Arrivals>,
    /// Values for the journey's templates from a CSV or JSON-lines file (`twin load` only).
    #[serde(default)]
    pub feed: Option<crate::feed::Feed>,
    /// Labels that split a load run's summary (`tenant: a`): every request of the journey
    /// carries them, with its steps' own `tags:` added.
    #[serde(default)]
    pub tags: IndexMap<String, String>,
}

fn one_f64() -> f64 {
    1.0
}

/// One step of a journey. Exactly one action: `service` (queue and be served; with `cache:`
/// a cache lookup whose misses run `cache.miss`), `delay` (network time), `parallel`
/// (branches that run at once and join), `llm` (a call to an LLM endpoint), `topic` (publish
/// to Kafka and wait for the consumer group to process it) or `batch` (GPU inference).
/// `probability` runs the step only that often; `pool` holds a connection for its duration.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub delay: Option<Distribution>,
    #[serde(default)]
    pub parallel: Option<Vec<Vec<Step>>>,
    #[serde(default)]
    pub llm: Option<String>,
    #[serde(default)]
    pub tokens: Option<LlmCall>,
    #[serde(default)]
    pub topic: Option<String>,
    #[serde(default)]
    pub batch: Option<String>,
    #[serde(default)]
    pub cache: Option<CacheStep>,
    #[serde(default)]
    pub probability: Option<f64>,
    #[serde(default)]
    pub pool: Option<String>,
    /// How the step is called over HTTP by `twin load`, `twin emulate` and `twin drill`.
    #[serde(default)]
    pub http: Option<HttpCall>,
    /// Share of this step's visits that fail after their service time (overrides the
    /// service's `errors:`).
    #[serde(default)]
    pub errors: Option<Fraction>,
    /// A failed visit (an error, a rejection by `queue_limit`) is tried again after `backoff`,
    /// up to `attempts` in all.
    #[serde(default)]
    pub retry: Option<StepRetry>,
    /// Synchronous calls the service makes while holding its slot (after its own time, in
    /// order): steps, usually `{service: X, pool: P}` or a `parallel:` of them.
    #[serde(default)]
    pub calls: Option<Vec<Step>>,
    /// An endpoint of the step's service: its own time off the CPU and CPU demand, in place
    /// of the service's (same workers, same queue).
    #[serde(default)]
    pub service_time: Option<Distribution>,
    #[serde(default)]
    pub cpu: Option<Distribution>,
    /// The caller gives up on the step after this long (the journey errors then); the
    /// server's work goes on, wasted.
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// Labels of this step's requests in a load run's summary, beside its journey's `tags:`.
    #[serde(default)]
    pub tags: IndexMap<String, String>,
    /// The caller's circuit breaker on this step's visits (resilience4j's closed, open and
    /// half-open states): calls fail at once while it is open.
    #[serde(default)]
    pub circuit_breaker: Option<CircuitBreaker>,
}

/// A step's circuit breaker, as resilience4j's `CircuitBreakerConfig` with a time-based
/// sliding window: it opens when, over the last `window`, at least `min_requests` calls were
/// recorded and `failure_rate` of them failed; open, it rejects every call (an error that
/// puts no load on the service) for `open_for`; then half-open, it lets `half_open_calls`
/// calls through (resilience4j's `permittedNumberOfCallsInHalfOpenState`, default 10) and
/// closes, or opens again, on their failure rate.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreaker {
    pub failure_rate: Fraction,
    pub window: Duration,
    pub min_requests: u32,
    pub open_for: Duration,
    #[serde(default = "default_half_open_calls")]
    pub half_open_calls: u32,
}

fn default_half_open_calls() -> u32 {
    10
}

/// A step's retry policy.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRetry {
    pub attempts: u32,
    pub backoff: Distribution,
}

impl Step {
    /// A plain visit to `service`.
    pub fn visit(service: &str) -> Step {
        Step {
            service: Some(service.to_string()),
            ..Step::default()
        }
    }

    /// The names of the actions this step has (exactly one is valid).
    pub fn actions(&self) -> Vec<&'static str> {
        let mut a = Vec::new();
        if self.service.is_some() {
            a.push("service");
        }
        if self.delay.is_some() {
            a.push("delay");
        }
        if self.parallel.is_some() {
            a.push("parallel");
        }
        if self.llm.is_some() {
            a.push("llm");
        }
        if self.topic.is_some() {
            a.push("topic");
        }
        if self.batch.is_some() {
            a.push("batch");
        }
        a
    }
}

/// How a step is called over HTTP: defined in [`crate::http`], re-exported here.
pub use crate::http::HttpCall;

pub use crate::path::{Finding, PathSegment, Severity};

impl Scenario {
    /// Every external file the scenario refers to (empirical distributions, traces), with the
    /// slot to fill from it: the caller reads files, this crate does not.
    pub fn external_files_mut(&mut self) -> Vec<ExternalFile<'_>> {
        let mut out = Vec::new();
        for (name, s) in self.services.iter_mut() {
            let Service {
                service_time,
                cpu,
                hpa,
                ..
            } = s;
            for (key, d) in [("service_time", service_time), ("cpu", cpu)] {
                if let Some((file, values)) = d.as_mut().and_then(|d| d.file_mut()) {
                    out.push(ExternalFile {
                        path: path!["services", name, key],
                        file: file.to_string(),
                        slot: FileSlot::Durations(values),
                    });
                }
            }
            if let Some(hpa) = hpa.as_mut() {
                if let Some(file) = hpa.file.clone() {
                    out.push(ExternalFile {
                        path: path!["services", name, "hpa", "file"],
                        file,
                        slot: FileSlot::Hpa(hpa),
                    });
                }
            }
        }
        if let Some(n) = self.network.as_mut() {
            let dists = [
                ("same_zone", Some(&mut n.same_zone)),
                ("cross_zone", Some(&mut n.cross_zone)),
                ("cross_region", n.cross_region.as_mut()),
            ];
            for (field, d) in dists {
                if let Some((file, values)) = d.and_then(|d| d.file_mut()) {
                    out.push(ExternalFile {
                        path: path!["network", field],
                        file: file.to_string(),
                        slot: FileSlot::Durations(values),
                    });
                }
            }
        }
        for (j, journey) in self.workload.journeys.iter_mut().enumerate() {
            if let Some(feed) = journey.feed.as_mut() {
                out.push(ExternalFile {
                    path: path!["workload", "journeys", j, "feed", "file"],
                    file: feed.file.clone(),
                    slot: FileSlot::Feed(feed),
                });
            }
        }
        if let Arrivals::Trace { file, times } = &mut self.workload.arrivals {
            out.push(ExternalFile {
                path: path!["workload", "arrivals"],
                file: file.clone(),
                slot: FileSlot::Timestamps(times),
            });
        }
        out
    }
}

/// A file named in a scenario, and where its parsed contents go.
pub struct ExternalFile<'a> {
    pub path: Vec<PathSegment>,
    pub file: String,
    pub slot: FileSlot<'a>,
}

pub enum FileSlot<'a> {
    /// Sample values of an empirical duration distribution, in seconds.
    Durations(&'a mut Vec<f64>),
    /// Arrival timestamps of a trace.
    Timestamps(&'a mut Vec<Duration>),
    /// A service's `hpa: {file}`: an autoscaling/v2 HorizontalPodAutoscaler manifest (YAML),
    /// filled by [`crate::hpa::spec::HpaSpec::fill_from_manifest`], not by CSV.
    Hpa(&'a mut crate::hpa::spec::HpaSpec),
    /// A journey's `feed:` (CSV with a header row, or JSON lines), filled by
    /// [`crate::feed::Feed::fill`].
    Feed(&'a mut crate::feed::Feed),
}

impl FileSlot<'_> {
    /// Fills the slot from CSV text (RFC 4180 through the `csv` crate: quoted fields may hold
    /// commas, quotes and line breaks): the first column of every row, a header row allowed,
    /// `#` comment lines and blank lines skipped. Every row must have as many fields as the
    /// first; a ragged row is an error naming its line.
    pub fn fill_from_csv(&mut self, text: &str) -> Result<(), (usize, String)> {
        use crate::distribution::Quantity;
        match self {
            FileSlot::Hpa(_) => return Err((0, "an HPA manifest is YAML, not CSV".into())),
            FileSlot::Feed(feed) => return feed.fill(text),
            _ => {}
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .comment(Some(b'#'))
            .trim(csv::Trim::All)
            .from_reader(text.as_bytes());
        let mut record = csv::StringRecord::new();
        let mut first = true;
        loop {
            match reader.read_record(&mut record) {
                Ok(false) => break,
                Ok(true) => {}
                Err(e) => return Err(csv_error(&e)),
            }
            let line = record.position().map_or(0, |p| p.line() as usize);
            let cell = record.get(0).unwrap_or("");
            let header_allowed = std::mem::replace(&mut first, false);
            if cell.is_empty() {
                continue;
            }
            let v = match Duration::parse_sample(cell) {
                Ok(v) => v,
                // A header row is allowed as the first row.
                Err(_) if header_allowed && cell.chars().any(|c| c.is_ascii_alphabetic()) => {
                    continue
                }
                Err(e) => return Err((line, e)),
            };
            match self {
                FileSlot::Durations(values) => values.push(v),
                // Trace timestamps: bare numbers are seconds since the start.
                FileSlot::Timestamps(times) => times.push(match cell.parse::<f64>() {
                    Ok(s) => Duration::from_secs_f64(s),
                    Err(_) => Duration::from_secs_f64(v),
                }),
                FileSlot::Hpa(_) | FileSlot::Feed(_) => {}
            }
        }
        Ok(())
    }
}

/// A CSV reading error as (line, message): ragged rows say how many fields they have.
pub fn csv_error(e: &csv::Error) -> (usize, String) {
    let line = e.position().map_or(0, |p| p.line() as usize);
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => (
            line,
            format!("a row of {len} field(s) where the first row has {expected_len}"),
        ),
        csv::ErrorKind::Utf8 { .. } => (line, "the text is not UTF-8".to_string()),
        _ => (line, e.to_string()),
    }
}

#[cfg(test)]
mod csv_tests {
    use super::*;

    fn samples(text: &str) -> Result<Vec<f64>, (usize, String)> {
        let mut values = Vec::new();
        FileSlot::Durations(&mut values).fill_from_csv(text)?;
        Ok(values)
    }

    #[test]
    fn quoted_fields_headers_and_comments() {
        let text = "\"latency, ms\",\"note\"\n# a comment\n1.5,\"a,b\"\n\n\"2s\",\"say \"\"hi\"\"\"\n250ms,\"two\nlines\"\n3,x\n";
        assert_eq!(samples(text), Ok(vec![0.0015, 2.0, 0.25, 0.003]));
    }

    #[test]
    fn ragged_and_bad_rows_name_their_line() {
        // Line 4 has one field where the first row has two.
        let err = samples("ms,src\n1,a\n2,b\n3\n").unwrap_err();
        assert_eq!(err.0, 4, "{err:?}");
        assert!(
            err.1.contains("1 field(s)") && err.1.contains("has 2"),
            "{err:?}"
        );
        // A quoted line break moves the next row's line: `abc` is on line 4.
        let err = samples("1,\"x\ny\"\n2,z\nabc,w\n").unwrap_err();
        assert_eq!(err.0, 4, "{err:?}");
        // A header is allowed only as the first row.
        assert_eq!(samples("1\nms\n").unwrap_err().0, 2);
    }

    #[test]
    fn trace_timestamps_are_seconds_or_durations() {
        let mut times = Vec::new();
        FileSlot::Timestamps(&mut times)
            .fill_from_csv("t\n0.5\n2s\n1500ms\n")
            .expect("valid");
        assert_eq!(
            times,
            vec![
                Duration::from_millis(500),
                Duration::from_secs_f64(2.0),
                Duration::from_millis(1500)
            ]
        );
    }
}

#[cfg(test)]
mod cpu_tests {
    fn service(extra: &str) -> super::Service {
        let text = format!(
            "name: t\nhorizon: 1m\nnode_pools:\n  p: {{machine: n1-standard-4, min: 1, max: 2}}\nservices:\n  api:\n    cpu: {{constant: 5ms}}\n{extra}workload:\n  arrivals: {{poisson: {{rate: 1/s}}}}\n  journeys: [{{name: c, steps: [{{service: api}}]}}]\n"
        );
        let (s, _) = crate::parse_scenario(&text, "t.yaml", &[]).expect("valid");
        s.services["api"].clone()
    }

    #[test]
    fn cores_default_to_the_pod_limit_then_its_request_then_none() {
        let pod = "    pod: {node_pool: p, cpu: 500m, memory: 1Gi";
        assert_eq!(
            service(&format!("{pod}, cpu_limit: \"2\"}}\n")).cpu_cores(),
            Some(2.0)
        );
        assert_eq!(service(&format!("{pod}}}\n")).cpu_cores(), Some(0.5));
        assert_eq!(
            service(&format!("    cores: 3\n{pod}}}\n")).cpu_cores(),
            Some(3.0)
        );
        assert_eq!(service("").cpu_cores(), None);
        // A CPU-only service spends nothing off the CPU.
        assert_eq!(service("").mean_visit_s(), 0.005);
    }
}
