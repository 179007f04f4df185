//! The platform's components beyond plain services, as scenario files write them: connection
//! pools, caches, LLM endpoints with rate limits and retries, Kafka topics and consumer groups,
//! GPU batchers, node pools and the pods services run as. Each has seed defaults so a scenario
//! names only what differs.

use crate::distribution::{Count, Distribution};
use crate::units::Duration;
use indexmap::IndexMap;
use serde::Deserialize;

/// A client-side connection pool (e.g. the service's PostgreSQL pool: 100-500 in the seeds).
/// A request holds one connection for the steps it wraps and waits FIFO when none is free.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSpec {
    pub size: u32,
}

/// An LLM endpoint (Claude, Gemini, GPT-4 on Vertex AI, a Hugging Face model). Latency is
/// time to first token + input tokens x prefill time + output tokens x per-token time.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmEndpoint {
    pub time_to_first_token: Distribution,
    pub per_output_token: Duration,
    #[serde(default)]
    pub per_input_token: Duration,
    #[serde(default)]
    pub rate_limit: Option<RateLimit>,
    #[serde(default)]
    pub retry: RetryPolicy,
    /// A call that takes longer fails (the client gives up).
    #[serde(default)]
    pub timeout: Option<Duration>,
    /// The model as the price table names it (`claude-3-sonnet`, `gpt-4`); default: the
    /// endpoint's name.
    #[serde(default)]
    pub model: Option<String>,
}

/// Provider quotas, as Anthropic / OpenAI / Vertex AI state them: per minute, refilled
/// continuously (token buckets of one minute's capacity).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    #[serde(default)]
    pub requests_per_minute: Option<f64>,
    #[serde(default)]
    pub tokens_per_minute: Option<f64>,
}

/// Client retries after a 429: exponential backoff with full jitter (the AWS architecture
/// blog's recommendation, and what the Anthropic and OpenAI SDKs do).
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    #[serde(default = "default_backoff")]
    pub initial_backoff: Duration,
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    #[serde(default = "default_max_backoff")]
    pub max_backoff: Duration,
    #[serde(default = "yes")]
    pub jitter: bool,
}

fn default_attempts() -> u32 {
    3
}
fn default_backoff() -> Duration {
    Duration::from_millis(500)
}
fn default_multiplier() -> f64 {
    2.0
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(20)
}
fn yes() -> bool {
    true
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: default_attempts(),
            initial_backoff: default_backoff(),
            multiplier: default_multiplier(),
            max_backoff: default_max_backoff(),
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// The backoff ceiling before attempt `attempt + 1` (attempt counts from 1).
    pub fn ceiling(&self, attempt: u32) -> f64 {
        let b = self.initial_backoff.as_secs_f64() * self.multiplier.powi(attempt as i32 - 1);
        b.min(self.max_backoff.as_secs_f64())
    }
}

/// The Kafka cluster (system-design.md: 3 brokers, replication factor 3) and its topics.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSpec {
    #[serde(default = "three")]
    pub brokers: u32,
    #[serde(default = "three")]
    pub replication_factor: u32,
    /// Time for a produce with acks=all to be acknowledged.
    pub produce_latency: Distribution,
    /// How long a consumer group stops consuming when its membership changes (a consumer
    /// joins or leaves: scale-out or in, a pod lost or replaced): the eager rebalance's
    /// revoke, join and sync. Default [`default_rebalance_time`].
    #[serde(default = "default_rebalance_time")]
    pub rebalance_time: Duration,
    pub topics: IndexMap<String, TopicSpec>,
}

fn three() -> u32 {
    3
}

/// 3 s: Kafka's `heartbeat.interval.ms` default, the time the other members of a group take
/// to hear (on their next heartbeat) that a rebalance began and rejoin.
pub fn default_rebalance_time() -> Duration {
    Duration::from_secs(3)
}

/// How a producer spreads a topic's records over its partitions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Partitioner {
    /// Keyed records: the key's murmur2 hash picks the partition, so keys drawn at random
    /// land on each partition with probability 1/partitions (the default).
    #[default]
    Hash,
    /// Each record to the next partition in turn (Kafka's `RoundRobinPartitioner`).
    RoundRobin,
}

/// A topic and the consumer groups that read it. Every group reads every event; in each, at
/// most one consumer per partition is active, so a group processes `min(partitions, consumer
/// replicas x concurrency)` events at once.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    pub partitions: u32,
    /// How records are spread over the partitions (default `hash`).
    #[serde(default)]
    pub partitioner: Partitioner,
    /// The service whose replicas form the topic's main consumer group (its service_time is
    /// the work per event). A `topic:` step waits for this group.
    pub consumer: String,
    /// Further consumer groups by name (audit, analytics, a second agent reacting to the same
    /// event), each reading every event on its own.
    #[serde(default)]
    pub groups: IndexMap<String, ConsumerGroupSpec>,
}

/// A further consumer group of a topic.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerGroupSpec {
    /// The service whose replicas form the group.
    pub consumer: String,
    /// Whether a `topic:` step waits until this group has processed the event too (a fan-out
    /// and join); `false` for groups the producer never hears back from (the default).
    #[serde(default)]
    pub awaited: bool,
}

/// Dynamic batching on GPUs (the ai-workload pool's T4s): requests wait until `max_batch`
/// are queued or the oldest has waited `max_wait`, then one GPU serves the batch in
/// `batch_time[size]` (linear between listed sizes).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatcherSpec {
    pub gpus: u32,
    pub max_batch: u32,
    pub max_wait: Duration,
    pub batch_time: IndexMap<u32, Duration>,
}

impl BatcherSpec {
    /// Time to serve a batch of `n` (linear interpolation in the table, flat beyond it).
    pub fn time_for(&self, n: u32) -> Duration {
        let mut pts: Vec<(u32, Duration)> = self.batch_time.iter().map(|(k, v)| (*k, *v)).collect();
        pts.sort_by_key(|p| p.0);
        let Some(first) = pts.first().copied() else {
            return Duration::ZERO;
        };
        if n <= first.0 {
            return first.1;
        }
        for w in pts.windows(2) {
            let (a, b) = (w[0], w[1]);
            if n <= b.0 {
                let f = f64::from(n - a.0) / f64::from(b.0 - a.0);
                return Duration(
                    (a.1 .0 as f64 + f * (b.1 .0 as f64 - a.1 .0 as f64)).round() as u64,
                );
            }
        }
        pts[pts.len() - 1].1
    }
}

/// A GKE node pool (backend-architecture.md: general n1-standard-4 3-10, ai-workload
/// n1-highmem-8 + T4 2-8).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePoolSpec {
    pub machine: String,
    pub min: u32,
    pub max: u32,
    #[serde(default)]
    pub gpus_per_node: u32,
    /// As GKE names it; default `nvidia-tesla-t4` (the seeds' GPU).
    #[serde(default)]
    pub gpu_type: Option<String>,
    #[serde(default)]
    pub zones: Vec<String>,
    /// Share of each node's CPU and memory that pods can request (system reservations).
    #[serde(default = "allocatable")]
    pub allocatable: f64,
    /// What the DaemonSet pods on every node request (logging and metrics agents,
    /// kube-proxy, CSI drivers), taken from each node's allocatable; absent: none (the
    /// `allocatable` share already holds the system reservations).
    #[serde(default)]
    pub daemonset: Option<DaemonSetOverhead>,
    /// Time from the cluster autoscaler's request to the node being Ready (the VM created,
    /// booted, registered); absent: [`default_provisioning`].
    #[serde(default)]
    pub provisioning: Option<Distribution>,
    /// Spot VMs (GKE `--spot`): billed at the spot price (unless `cost.node_pools` names the
    /// pool, which must then say `spot`) and preempted at random, each node at
    /// `preemption_rate`, after `preemption_notice`.
    #[serde(default)]
    pub spot: bool,
    /// Preemptions per node and unit of time, a Poisson process per node (default
    /// [`DEFAULT_PREEMPTION_RATE`]); only with `spot: true`.
    #[serde(default)]
    pub preemption_rate: Option<crate::units::Rate>,
    /// From the preemption notice to the VM's stop (default [`DEFAULT_PREEMPTION_NOTICE`]);
    /// only with `spot: true`.
    #[serde(default)]
    pub preemption_notice: Option<Duration>,
}

/// Default preemptions of a spot node: 0.1 a node-day (one per node every ten days).
/// Invented: Google publishes no rate, only that a preemption's probability "is generally
/// low, but might vary from day to day and from zone to zone"
/// (cloud.google.com/compute/docs/instances/preemptible, "Limitations"). Replace it with the
/// rate a project observes (Compute Engine's capacity history reports a preemption rate).
pub const DEFAULT_PREEMPTION_RATE: f64 = 0.1 / 86_400.0;

/// Default notice before a spot VM stops: 30 s, Compute Engine's preemption notice (an ACPI
/// G2 soft off, then the VM is stopped; cloud.google.com/compute/docs/instances/spot,
/// "Preemption process"). GKE's graceful node shutdown gives the pods this time to finish.
pub const DEFAULT_PREEMPTION_NOTICE: Duration = Duration(30_000_000_000);

impl NodePoolSpec {
    /// Preemptions per node-second, and the notice, of a spot pool; `None` for on-demand.
    pub fn preemption(&self) -> Option<(f64, Duration)> {
        self.spot.then(|| {
            (
                self.preemption_rate
                    .map_or(DEFAULT_PREEMPTION_RATE, |r| r.per_sec()),
                self.preemption_notice.unwrap_or(DEFAULT_PREEMPTION_NOTICE),
            )
        })
    }
}

impl NodePoolSpec {
    /// The node provisioning time this pool's nodes take.
    pub fn provisioning_time(&self) -> Distribution {
        self.provisioning
            .clone()
            .unwrap_or_else(default_provisioning)
    }
}

/// GKE node creation to Ready: "~1-2 min" (`kubernetes/cluster-autoscaler.md` section 2,
/// unverified there; the old CA FAQ's 3-4 min to schedulable includes image pulls, which
/// the pod's `startup` holds here): lognormal of mean 90 s, cv 0.25 (median 87 s, p95 130 s).
pub fn default_provisioning() -> Distribution {
    Distribution::Lognormal {
        mean: Duration::from_secs(90),
        cv: 0.25,
    }
}

/// The requests of the DaemonSet pods one node runs (`daemonset:` on a node pool).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaemonSetOverhead {
    /// A Kubernetes CPU quantity (`200m`).
    #[serde(default = "zero_quantity")]
    pub cpu: String,
    /// A Kubernetes memory quantity (`300Mi`).
    #[serde(default = "zero_quantity")]
    pub memory: String,
}

fn zero_quantity() -> String {
    "0".into()
}

/// How the kube-scheduler chooses among the nodes a pod fits on (`cluster.placement`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PodPlacement {
    /// The default scheduler profile's NodeResourcesFit scoring (`LeastAllocated`): the node
    /// with the largest free share of CPU and memory after the pod, averaged; ties to the
    /// first node. The default because it is what GKE's default profile runs.
    #[default]
    LeastAllocated,
    /// The first node (in creation order) with room: bin-packing, what this twin did before
    /// placement was a setting.
    FirstFit,
}

/// Cluster-wide scheduling and cluster-autoscaler settings (`cluster:`).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSpec {
    pub placement: PodPlacement,
    /// The cluster autoscaler's loop (`--scan-interval`, default 10 s: `flags.go`).
    pub scan_interval: Duration,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            placement: PodPlacement::default(),
            scan_interval: Duration::from_secs(10),
        }
    }
}

fn allocatable() -> f64 {
    0.9
}

/// The pod a service's replica runs as: what it requests of a node and how long it takes to
/// start taking traffic.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PodSpec {
    pub node_pool: String,
    /// Kubernetes quantities: `500m` or `2` CPUs.
    pub cpu: String,
    /// The container's CPU limit (a quantity like `cpu`); the CPU model's cores default to
    /// it, else to the request.
    #[serde(default)]
    pub cpu_limit: Option<String>,
    /// Kubernetes quantities: `512Mi`, `2Gi`.
    pub memory: String,
    #[serde(default)]
    pub gpus: u32,
    /// From scheduling to ready (image pull, start, readiness probe).
    #[serde(default = "startup")]
    pub startup: Duration,
    /// The memory working set metrics-server reports for the pod; absent: 40 % of the request
    /// plus up to another 40 % with load ([`crate::metrics_pipeline::MemoryUsage::default_bytes`]).
    #[serde(default)]
    pub memory_usage: Option<crate::metrics_pipeline::MemoryUsage>,
}

fn startup() -> Duration {
    Duration::from_secs(20)
}

/// Parses a CPU quantity into millicores: `500m` -> 500, `2` -> 2000, `0.5` -> 500.
pub fn parse_cpu_milli(q: &str) -> Result<u64, String> {
    let q = q.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m
            .parse::<u64>()
            .map_err(|_| format!("bad CPU quantity `{q}`"));
    }
    q.parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0 && v.is_finite())
        .map(|v| (v * 1000.0).round() as u64)
        .ok_or_else(|| format!("bad CPU quantity `{q}`: expected e.g. `500m` or `2`"))
}

/// Parses a memory quantity into bytes: `512Mi`, `2Gi`, `1G`, `1000000`.
pub fn parse_memory_bytes(q: &str) -> Result<u64, String> {
    let q = q.trim();
    let units: [(&str, f64); 8] = [
        ("Ki", 1024.0),
        ("Mi", 1024.0 * 1024.0),
        ("Gi", 1024.0 * 1024.0 * 1024.0),
        ("Ti", 1024f64.powi(4)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    for (suffix, scale) in units {
        if let Some(n) = q.strip_suffix(suffix) {
            return n
                .parse::<f64>()
                .map(|v| (v * scale).round() as u64)
                .map_err(|_| format!("bad memory quantity `{q}`"));
        }
    }
    q.parse::<u64>()
        .map_err(|_| format!("bad memory quantity `{q}`: expected e.g. `512Mi` or `2Gi`"))
}

/// A service run on Cloud Run (`cloud_run:` on a service), named as Cloud Run names its settings.
/// Each instance serves up to `concurrency` requests at once from one pending queue; the
/// autoscaler keeps instances at in-flight requests / (concurrency x
/// `target_concurrency_utilization`), within `min_instances..=max_instances`; a new instance
/// serves after its `cold_start`. Sources: cloud.google.com/run/docs/about-concurrency (80 by
/// default, at most 1,000), .../about-instance-autoscaling (a 60 % concurrency target over a
/// one-minute window, evaluated every 5 s; requests pending for up to the mean start-up time or
/// 10 s, then 429; surplus instances destroyed after 15 idle minutes),
/// .../configuring/scaling-controls (target 10-95 %).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudRunSpec {
    #[serde(default = "eighty")]
    pub concurrency: u32,
    #[serde(default)]
    pub min_instances: u32,
    /// Cloud Run's default maximum is 100 instances.
    #[serde(default = "hundred")]
    pub max_instances: u32,
    /// From the instance being requested to its first request (container start + model load).
    pub cold_start: Distribution,
    /// vCPUs per instance (`1`, `2`, `1000m`), for billing.
    #[serde(default = "one_cpu")]
    pub cpu: String,
    /// Memory per instance (`512Mi`, `8Gi`), for billing.
    #[serde(default = "half_gib")]
    pub memory: String,
    #[serde(default = "sixty_percent")]
    pub target_concurrency_utilization: f64,
    /// `request` (CPU billed while requests are in flight, plus a per-request fee) or
    /// `instance` (billed for each instance's whole life).
    #[serde(default)]
    pub billing: crate::cost::CloudRunBilling,
    /// How long an idle surplus instance is kept before it is shut down (15 min in the docs).
    #[serde(default = "fifteen_minutes")]
    pub idle_timeout: Duration,
    /// How long a request may wait for a free instance before a 429; default: the larger of
    /// 10 s and the mean cold start.
    #[serde(default)]
    pub pending_timeout: Option<Duration>,
}

impl CloudRunSpec {
    /// The pending-queue limit the docs give: the mean start-up time, at least 10 s.
    pub fn pending_limit(&self) -> Duration {
        self.pending_timeout
            .unwrap_or_else(|| Duration::from_secs_f64(self.cold_start.sampler().mean().max(10.0)))
    }
}

fn eighty() -> u32 {
    80
}
fn hundred() -> u32 {
    100
}
fn one_cpu() -> String {
    "1".into()
}
fn half_gib() -> String {
    "512Mi".into()
}
fn sixty_percent() -> f64 {
    0.6
}
fn fifteen_minutes() -> Duration {
    Duration::from_secs(900)
}

/// A Ray cluster as a service (`ray:` on a service): a head node and workers of one machine
/// type; tasks (one CPU each, Ray's default) wait in one shared queue for a free worker CPU.
/// The autoscaler launches workers for the pending demand and stops workers idle for
/// `idle_timeout_minutes`, as the Ray cluster launcher's options say
/// (docs.ray.io/en/latest/cluster/vms/user-guides/configuring-autoscaling.html: max_workers,
/// min_workers, upscaling_speed 1.0, idle_timeout_minutes 5).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaySpec {
    pub head_machine: String,
    pub worker_machine: String,
    #[serde(default)]
    pub min_workers: u32,
    #[serde(default = "two")]
    pub max_workers: u32,
    /// Task slots per worker; default the worker machine's vCPUs (Ray's `CPU` resource).
    #[serde(default)]
    pub cpus_per_worker: Option<u32>,
    #[serde(default = "five")]
    pub idle_timeout_minutes: f64,
    /// Pending launches allowed as a multiple of the running workers (at least 5).
    #[serde(default = "one_f64")]
    pub upscaling_speed: f64,
    /// From launch to the worker taking tasks (VM boot + `ray start`).
    pub worker_start: Distribution,
}

fn two() -> u32 {
    2
}
fn five() -> f64 {
    5.0
}
fn one_f64() -> f64 {
    1.0
}

/// A service on standalone Compute Engine VMs (`vm:` on a service): `count` VMs of `machine`,
/// each serving `concurrency` requests at once (default: its vCPUs).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VmSpec {
    pub machine: String,
    #[serde(default = "one_u32")]
    pub count: u32,
    #[serde(default)]
    pub concurrency: Option<u32>,
}

fn one_u32() -> u32 {
    1
}

/// Looks up a machine's vCPUs (whole vCPUs a process can use; at least 1).
pub fn machine_slots(machine: &str) -> Option<u32> {
    crate::machines::MachineType::lookup(machine)
        .ok()
        .map(|m| (m.effective_vcpus().floor() as u32).max(1))
}

/// A cache in front of a slower path (Redis, > 90 % hits in the seeds): the lookup visits the
/// cache service; a miss (probability 1 - hit_ratio) also runs the `miss` steps.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheStep {
    pub hit_ratio: f64,
    #[serde(default)]
    pub miss: Vec<crate::scenario::Step>,
}

/// Token counts of one LLM call.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmCall {
    pub tokens_in: Distribution<Count>,
    pub tokens_out: Distribution<Count>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_parse_as_kubernetes_writes_them() {
        assert_eq!(parse_cpu_milli("500m").unwrap(), 500);
        assert_eq!(parse_cpu_milli("2").unwrap(), 2000);
        assert_eq!(parse_cpu_milli("0.25").unwrap(), 250);
        assert_eq!(parse_memory_bytes("512Mi").unwrap(), 512 * 1024 * 1024);
        assert_eq!(parse_memory_bytes("1G").unwrap(), 1_000_000_000);
        assert!(parse_memory_bytes("lots").is_err());
    }

    #[test]
    fn batch_time_interpolates() {
        let b = BatcherSpec {
            gpus: 1,
            max_batch: 8,
            max_wait: Duration::from_millis(10),
            batch_time: [
                (1, Duration::from_millis(30)),
                (4, Duration::from_millis(42)),
                (8, Duration::from_millis(60)),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(b.time_for(1), Duration::from_millis(30));
        assert_eq!(b.time_for(2), Duration::from_millis(34));
        assert_eq!(b.time_for(6), Duration::from_millis(51));
        assert_eq!(b.time_for(16), Duration::from_millis(60));
    }

    #[test]
    fn cloud_run_pending_limit_is_the_mean_start_up_at_least_10_s() {
        let spec = |cold: f64| CloudRunSpec {
            concurrency: 80,
            min_instances: 0,
            max_instances: 100,
            cold_start: Distribution::Constant(Duration::from_secs_f64(cold)),
            cpu: "1".into(),
            memory: "512Mi".into(),
            target_concurrency_utilization: 0.6,
            billing: Default::default(),
            idle_timeout: Duration::from_secs(900),
            pending_timeout: None,
        };
        assert_eq!(spec(2.0).pending_limit(), Duration::from_secs(10));
        assert_eq!(spec(30.0).pending_limit(), Duration::from_secs(30));
        let given = CloudRunSpec {
            pending_timeout: Some(Duration::from_secs(3)),
            ..spec(30.0)
        };
        assert_eq!(given.pending_limit(), Duration::from_secs(3));
    }

    #[test]
    fn vm_slots_are_the_machines_whole_vcpus() {
        assert_eq!(machine_slots("n1-standard-4"), Some(4));
        assert_eq!(machine_slots("n1-standard-16"), Some(16));
        // A shared-core e2-micro may use a quarter of its 2 vCPUs: still one slot.
        assert_eq!(machine_slots("e2-micro"), Some(1));
        assert_eq!(machine_slots("n9-giant-4"), None);
    }

    #[test]
    fn backoff_grows_to_its_ceiling() {
        let r = RetryPolicy::default();
        assert_eq!(r.ceiling(1), 0.5);
        assert_eq!(r.ceiling(2), 1.0);
        assert_eq!(r.ceiling(10), 20.0);
    }
}
