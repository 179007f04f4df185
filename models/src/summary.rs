//! The result of a run, whoever produced it: the simulator's prediction and the harness's
//! measurement share this type, so a report can set one beside the other without knowing where
//! either came from. Its JSON form is `summary.json` (SPEC.md, "Outputs"); field names here are
//! the contract and are never renamed.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Simulation,
    Load,
    Drill,
    Sweep,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Simulation => "simulation",
            RunKind::Load => "load",
            RunKind::Drill => "drill",
            RunKind::Sweep => "sweep",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub kind: RunKind,
    pub scenario: String,
    pub seed: u64,
    pub replications: u32,
    pub horizon_s: f64,
    /// True when the run was interrupted and this holds only what was measured until then.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub partial: bool,
    pub journeys: IndexMap<String, JourneySummary>,
    pub services: IndexMap<String, ServiceSummary>,
    pub slos: Vec<SloVerdict>,
    pub cost: Option<CostSummary>,
    pub recovery: Recovery,
    /// Platform components beyond services: pools, caches, LLM endpoints, batchers, Kafka.
    #[serde(default, skip_serializing_if = "Components::is_empty")]
    pub components: Components,
    /// Warnings about the run (an unstable queue, a truncated trace), for the reader.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    pub engine: EngineStats,
    /// Prediction beside measurement (load runs): per journey, predicted and measured
    /// percentiles and error rate with the relative error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fidelity: Option<crate::fidelity::Fidelity>,
    /// The scenario's rollouts: outcome, decision time, the new version's requests and errors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<crate::rollout::RolloutSummary>,
    /// Load runs with `tags:`: per tag as `key=value` (`tenant=a`), the requests carrying it
    /// (a step's call, polls and retries being one): count, errors and latency from when the
    /// step could start.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub tags: IndexMap<String, JourneySummary>,
}

/// Checks a `tags:` entry: a key of letters, digits, `_`, `-` and `.`, and a value without `=`,
/// so `key=value` names one tag unambiguously.
pub fn check_tag(key: &str, value: &str) -> Result<(), String> {
    let key_ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if !key_ok {
        return Err(format!(
            "`{key}` is not a tag name; use letters, digits, `_`, `-` and `.`"
        ));
    }
    if value.is_empty() || value.contains('=') || value.chars().any(char::is_control) {
        return Err(format!(
            "the tag `{key}` needs a non-empty value without `=`, found `{value}`"
        ));
    }
    Ok(())
}

impl RunSummary {
    /// A summary of `kind` with nothing in it yet: no journeys, services, verdicts, cost,
    /// recovery or components. Callers fill what their run has (`..RunSummary::empty(..)`).
    pub fn empty(
        kind: RunKind,
        scenario: impl Into<String>,
        seed: u64,
        replications: u32,
        horizon_s: f64,
    ) -> RunSummary {
        RunSummary {
            kind,
            scenario: scenario.into(),
            seed,
            replications,
            horizon_s,
            partial: false,
            journeys: IndexMap::new(),
            services: IndexMap::new(),
            slos: Vec::new(),
            cost: None,
            recovery: Recovery::default(),
            components: Components::default(),
            warnings: Vec::new(),
            engine: EngineStats::default(),
            fidelity: None,
            rollouts: Vec::new(),
            tags: IndexMap::new(),
        }
    }

    /// All SLOs met and no journey wholly failed (the exit status 0 of SPEC.md): a journey
    /// whose every request failed fails the run even where no SLO names its errors.
    pub fn all_slos_met(&self) -> bool {
        self.slos.iter().all(|s| s.met) && self.wholly_failed_journeys().next().is_none()
    }

    /// Journeys that were offered requests and never succeeded once (errors and requests left
    /// unfinished at the end are all there is).
    pub fn wholly_failed_journeys(&self) -> impl Iterator<Item = &str> {
        self.journeys
            .iter()
            .filter(|(_, j)| j.count + j.unfinished > 0 && j.successes() == 0)
            .map(|(n, _)| n.as_str())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct JourneySummary {
    /// Journeys that ended (successes and errors).
    pub count: u64,
    pub errors: u64,
    /// (errors + unfinished) / (count + unfinished).
    pub error_rate: f64,
    /// Latency of the successful journeys; errors are counted beside, not in it.
    pub latency_ms: LatencyStats,
    pub ci95_ms: LatencyCi,
    /// Journeys still in flight at the end of the run that had waited longer than the
    /// scenario's recovery window (left waiting by a fault, or by a queue that never
    /// drained): counted as failures in `error_rate` and availability.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unfinished: u64,
    /// The circuit breakers of the journey's steps (`circuit_breaker:`), in step order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub circuit_breakers: Vec<BreakerSummary>,
    /// Server-sent-event streams (`stream: sse` steps, SPEC.md "Streaming and rollouts"): time
    /// from sending the request to the first event, over the successful streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<LatencyStats>,
    /// Gaps between consecutive events of the successful streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_ms: Option<LatencyStats>,
    /// Events received (tokens), over every stream read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens: Option<u64>,
    /// 95 % confidence intervals of `ttft_ms`'s mean and p95 across replications (a
    /// simulation's streams; `null` inside as `ci95_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ci95_ms: Option<LatencyCi>,
    /// The same for `itl_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub itl_ci95_ms: Option<LatencyCi>,
}

/// What one step's circuit breaker did, over the measured time of every replication.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BreakerSummary {
    /// The service the step calls.
    pub service: String,
    /// Calls rejected at once by the open (or full half-open) breaker, all replications.
    pub rejected: u64,
    /// Times it opened, all replications.
    pub openings: u64,
    /// Seconds open per replication (mean), and that over the measured time.
    pub open_s: f64,
    pub open_share: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl JourneySummary {
    /// Journeys that ended well.
    pub fn successes(&self) -> u64 {
        self.count.saturating_sub(self.errors)
    }

    /// Errors and unfinished journeys over every journey offered: the failure share.
    pub fn failure_rate(count: u64, errors: u64, unfinished: u64) -> f64 {
        let n = count + unfinished;
        if n > 0 {
            (errors + unfinished) as f64 / n as f64
        } else {
            0.0
        }
    }
}

/// Latency statistics in milliseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyStats {
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    /// Further percentiles an SLO asked for, keyed `p99.9`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub other: BTreeMap<String, f64>,
}

impl LatencyStats {
    /// The percentiles every summary carries.
    pub const STANDARD: [f64; 4] = [50.0, 90.0, 95.0, 99.0];

    pub fn key(q: f64) -> String {
        format!("p{q}")
    }

    pub fn percentile(&self, q: f64) -> f64 {
        match q {
            50.0 => self.p50,
            90.0 => self.p90,
            95.0 => self.p95,
            99.0 => self.p99,
            _ => self.other.get(&Self::key(q)).copied().unwrap_or(f64::NAN),
        }
    }

    pub fn set_percentile(&mut self, q: f64, v: f64) {
        match q {
            50.0 => self.p50 = v,
            90.0 => self.p90 = v,
            95.0 => self.p95 = v,
            99.0 => self.p99 = v,
            _ => {
                self.other.insert(Self::key(q), v);
            }
        }
    }
}

/// 95 % confidence intervals across replications, `[low, high]` in milliseconds; `null` when
/// there is no interval to give (one replication, or fewer than two with a successful sample).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyCi {
    pub mean: Option<[f64; 2]>,
    pub p95: Option<[f64; 2]>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub throughput_rps: f64,
    /// Busy servers over servers available, averaged over the measured time.
    pub utilization: f64,
    pub queue_wait_ms: QueueWait,
    pub replicas: ReplicaStats,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueWait {
    pub mean: f64,
    pub p95: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaStats {
    pub min: u32,
    pub max: u32,
    pub mean: f64,
    /// Run time from which the replica count stays within one replica (or 10 %) of where it
    /// ends: when an autoscaled service reached its steady state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_from_s: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloVerdict {
    pub name: String,
    /// `null` when the run did not measure it (which counts as not met).
    pub observed: Option<f64>,
    pub bound: f64,
    pub met: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostSummary {
    pub total_usd: f64,
    pub monthly_usd: f64,
    /// The month's capacity items (node pools, VMs, GKE fee, Cloud SQL, Memorystore, Pinecone,
    /// storage): what is paid whatever the traffic.
    #[serde(default)]
    pub infrastructure_monthly_usd: f64,
    /// The month's traffic-driven items (LLM tokens, Firestore operations, Cloud Run, egress),
    /// under the projection's duty; with the infrastructure it adds up to `monthly_usd`.
    #[serde(default)]
    pub usage_monthly_usd: f64,
    pub by_item: IndexMap<String, f64>,
    /// What `monthly_usd` assumes (traffic held at the run's level, or scaled by a duty
    /// factor), with each item's monthly figure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection: Option<crate::projection::Projection>,
    /// The monthly projection beside a reference estimate (`cost: {reference: ...}`), and the
    /// items that drive the difference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comparison: Option<crate::projection::CostComparison>,
    /// Used but not priced (no row in the price table): each with its quantity, so a missing
    /// price never reads as $0.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_priced: Vec<String>,
    /// What one journey costs: the run's cost shared over the journeys it completed, in
    /// proportion to the service visits each journey makes (its steps).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub per_journey_usd: IndexMap<String, f64>,
    /// The month as a function of traffic, and the traffic that fits the reference band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_vs_traffic: Option<crate::projection::CostVsTraffic>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    /// The longest RTO of the faults; `null` when a fault never recovered (or none struck).
    pub rto_s: Option<f64>,
    /// Whether every timed fault recovered within the horizon; `null` without timed faults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovered: Option<bool>,
    pub rpo_s: Option<f64>,
    pub lost_writes: Option<u64>,
    /// Per fault: when it struck, what it was, and its own recovery figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultOutcome>,
    /// Per random fault (`mtbf:`): how often it struck and the availability it left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub random_faults: Vec<RandomFaultOutcome>,
    /// Per spot node pool: how often its nodes were preempted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preemptions: Vec<PreemptionOutcome>,
}

/// A spot node pool's preemptions over the run (warm-up included: a preempted node is lost
/// whenever it happens), per replication (means, 95 % intervals across replications), beside
/// the Poisson expectation: rate x the node-hours exposed (nodes alive and not under notice).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PreemptionOutcome {
    pub node_pool: String,
    pub rate_per_node_hour: f64,
    pub notice_s: f64,
    pub preemptions: f64,
    /// `null` with one replication.
    pub preemptions_ci95: Option<[f64; 2]>,
    pub exposed_node_hours: f64,
    /// rate x exposed node-hours.
    pub expected_preemptions: f64,
}

/// A fault that strikes at random, over the measured time, per replication (means, with 95 %
/// confidence intervals across replications), beside its closed forms.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RandomFaultOutcome {
    pub fault: String,
    pub mtbf_s: f64,
    pub mttr_s: f64,
    pub occurrences: f64,
    /// `null` with one replication.
    pub occurrences_ci95: Option<[f64; 2]>,
    /// Measured span / (MTBF + MTTR): the renewal theorem's count.
    pub expected_occurrences: f64,
    /// Seconds the target was down.
    pub downtime_s: f64,
    /// 1 - downtime / measured span; `null` for faults Kubernetes repairs (pod, node).
    pub availability: Option<f64>,
    pub availability_ci95: Option<[f64; 2]>,
    /// MTBF / (MTBF + MTTR).
    pub expected_availability: Option<f64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultOutcome {
    pub at_s: f64,
    pub fault: String,
    /// From the fault to the start of the first recovery window that stays healthy; `null`
    /// when the service never recovered (`recovered: false`).
    pub rto_s: Option<f64>,
    /// A window stays healthy to the next fault or the horizon: `false` when none did.
    #[serde(default)]
    pub recovered: bool,
    pub rpo_s: Option<f64>,
    pub lost_writes: Option<u64>,
}

/// How the run went as a computation; the only part of a summary allowed to differ between two
/// runs of the same scenario and seed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct EngineStats {
    pub events: u64,
    pub wall_s: f64,
}

/// What the platform's components did over the measured time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Components {
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub pools: IndexMap<String, PoolSummary>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub caches: IndexMap<String, CacheSummary>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub llm: IndexMap<String, LlmSummary>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub batchers: IndexMap<String, BatcherSummary>,
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub kafka: IndexMap<String, TopicSummary>,
    /// Cloud Run services by name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub cloud_run: IndexMap<String, CloudRunSummary>,
    /// Ray clusters by service name.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub ray: IndexMap<String, RaySummary>,
}

impl Components {
    pub fn is_empty(&self) -> bool {
        self.pools.is_empty()
            && self.caches.is_empty()
            && self.llm.is_empty()
            && self.batchers.is_empty()
            && self.kafka.is_empty()
            && self.cloud_run.is_empty()
            && self.ray.is_empty()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PoolSummary {
    pub size: u32,
    pub utilization: f64,
    pub wait_ms: QueueWait,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CacheSummary {
    pub lookups: u64,
    pub hit_ratio: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LlmSummary {
    /// Attempts, 429s included.
    pub calls: u64,
    pub throttled: u64,
    /// Calls that failed for good (retries exhausted or timed out).
    pub failed: u64,
    pub tokens_in: f64,
    pub tokens_out: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BatcherSummary {
    pub batches: u64,
    pub mean_batch_size: f64,
    pub throughput_rps: f64,
}

/// What a Cloud Run service's instances did (counts are per replication, averaged).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CloudRunSummary {
    /// Ready instances over the measured time (= `services.<name>.replicas`).
    pub instances: ReplicaStats,
    /// Instances started (cold starts) over the whole run.
    pub cold_starts: f64,
    /// Requests refused with 429 after waiting the pending timeout, over the whole run.
    pub rejected_429: f64,
    /// Billable instance-seconds over the whole run (request-based: start-up + time with a
    /// request in flight; instance-based: every instance's whole life).
    pub billable_instance_s: f64,
}

/// What a Ray cluster's workers did (as [`CloudRunSummary`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RaySummary {
    pub workers: ReplicaStats,
    /// Workers launched over the whole run (beyond the initial `min_workers`).
    pub launched: f64,
    /// Worker VM-seconds over the whole run, launches included (billed from launch).
    pub worker_vm_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TopicSummary {
    pub partitions: u32,
    /// Consumers processing at once: min(partitions, consumer replicas x concurrency).
    pub active_consumers: u32,
    pub throughput_rps: f64,
    pub utilization: f64,
    pub lag_wait_ms: QueueWait,
    /// A partition's lag (records produced and not yet processed: waiting or in process),
    /// time-averaged over the measured time and the partitions, mean over replications.
    #[serde(default)]
    pub mean_partition_lag: f64,
    /// 95 % CI of `mean_partition_lag` across replications (None with one replication).
    #[serde(default)]
    pub mean_partition_lag_ci95: Option<[f64; 2]>,
    /// The largest lag any one partition reached after warm-up, over all replications.
    #[serde(default)]
    pub max_partition_lag: u64,
    /// The group's rebalances begun after warm-up (membership changes: consumers joining or
    /// leaving), mean per replication.
    #[serde(default)]
    pub rebalances: f64,
    /// Seconds the group spent paused in rebalances after warm-up, mean per replication.
    #[serde(default)]
    pub rebalance_s: f64,
}
