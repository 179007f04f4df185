//! The cost vocabulary: how the platform buys what it uses (a scenario's `cost:` block,
//! [`CostModel`], with [`PricingModel`]), what a run used ([`Usage`]: node-seconds per pool,
//! GPU-seconds, Cloud SQL instance-hours, tokens, ...; a scenario's `infrastructure:` block is
//! one too) and a priced bill ([`CostBreakdown`]). The simulator and the harness fill a
//! [`Usage`]; the `billing` crate prices it. Nothing here knows a price.

use crate::summary::CostSummary;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// How a resource is bought.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PricingModel {
    #[default]
    OnDemand,
    Spot,
    #[serde(rename = "committed_1y")]
    Committed1y,
    #[serde(rename = "committed_3y")]
    Committed3y,
}

impl PricingModel {
    pub const ALL: [PricingModel; 4] = [
        PricingModel::OnDemand,
        PricingModel::Spot,
        PricingModel::Committed1y,
        PricingModel::Committed3y,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PricingModel::OnDemand => "on_demand",
            PricingModel::Spot => "spot",
            PricingModel::Committed1y => "committed_1y",
            PricingModel::Committed3y => "committed_3y",
        }
    }

    pub fn parse(text: &str) -> Option<PricingModel> {
        PricingModel::ALL.into_iter().find(|p| p.as_str() == text)
    }

    /// Its column in a price row (the order of [`PricingModel::ALL`]).
    pub fn index(self) -> usize {
        match self {
            PricingModel::OnDemand => 0,
            PricingModel::Spot => 1,
            PricingModel::Committed1y => 2,
            PricingModel::Committed3y => 3,
        }
    }
}

impl fmt::Display for PricingModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the platform buys what it uses; a scenario's `cost:` block, e.g.
/// `cost: {pricing: spot, node_pools: {ai-workload: committed_1y}, managed_services: committed_1y}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CostModel {
    /// Node pools and VMs (and their GPUs and disks) unless overridden below.
    pub pricing: PricingModel,
    /// Per node pool (by name): its pricing, overriding `pricing`.
    pub node_pools: IndexMap<String, PricingModel>,
    /// Per standalone VM (by name): its pricing, overriding `pricing`.
    pub vms: IndexMap<String, PricingModel>,
    /// Commitments on Cloud SQL and Memorystore: on_demand, committed_1y or committed_3y
    /// (managed services have no spot).
    pub managed_services: PricingModel,
    /// Apply Compute Engine sustained-use discounts to on-demand N1 machines (GCP does so
    /// automatically; `false` gives plain list price x hours).
    pub sustained_use: bool,
    /// Spot price as a fraction of on-demand, overriding the table's spot rows (spot prices
    /// float: 0.35 in 2026-07, 0.2 in the 2023 export); a sweep or a sampler can vary it.
    pub spot_fraction: Option<f64>,
    /// What the monthly projection assumes about traffic (`projection: {duty: 0.55}`); see
    /// [`crate::projection`].
    pub projection: crate::projection::ProjectionSpec,
    /// An estimate to compare the projection with (`reference: {low, high, source}`).
    pub reference: Option<crate::projection::CostReference>,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            pricing: PricingModel::OnDemand,
            node_pools: IndexMap::new(),
            vms: IndexMap::new(),
            managed_services: PricingModel::OnDemand,
            sustained_use: true,
            spot_fraction: None,
            projection: Default::default(),
            reference: None,
        }
    }
}

/// What a run used, over `span_s` seconds of simulated (or measured) time. Names are the
/// platform's (`general`, `primary`, `claude`) and become the keys of `by_item`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Usage {
    /// The time the usage covers (the run's horizon), in seconds.
    #[serde(default)]
    pub span_s: f64,
    /// GKE node pools by name: `node_pool/<name>` (`/gpu`, `/disk`).
    #[serde(default)]
    pub node_pools: IndexMap<String, NodePoolUsage>,
    /// Standalone VMs (or groups of same-type VMs, like Ray workers) by name: `vm/<name>`.
    #[serde(default)]
    pub vms: IndexMap<String, VmUsage>,
    /// GKE clusters by name, in cluster-seconds: `gke/<name>` (the management fee).
    #[serde(default)]
    pub gke_clusters: IndexMap<String, f64>,
    /// Cloud SQL instances by name: `cloud_sql/<name>`.
    #[serde(default)]
    pub cloud_sql: IndexMap<String, CloudSqlUsage>,
    /// Memorystore instances by name: `memorystore/<name>`.
    #[serde(default)]
    pub memorystore: IndexMap<String, MemorystoreUsage>,
    /// Firestore databases by name: `firestore/<name>`.
    #[serde(default)]
    pub firestore: IndexMap<String, FirestoreUsage>,
    /// Cloud Storage buckets by name: `storage/<name>`.
    #[serde(default)]
    pub storage: IndexMap<String, StorageUsage>,
    /// Cloud Run services by name: `cloud_run/<name>`.
    #[serde(default)]
    pub cloud_run: IndexMap<String, CloudRunUsage>,
    /// Pinecone indexes by name: `pinecone/<name>`.
    #[serde(default)]
    pub pinecone: IndexMap<String, PineconeUsage>,
    /// LLM endpoints by name: `llm/<name>`.
    #[serde(default)]
    pub llm: IndexMap<String, LlmUsage>,
    /// Internet egress (Premium tier), in GB: `egress/internet`.
    #[serde(default)]
    pub egress_gb: f64,
    /// Egress between zones of a region, in GB: `egress/cross_zone`.
    #[serde(default)]
    pub egress_cross_zone_gb: f64,
    /// Egress between regions, in GB: `egress/cross_region`.
    #[serde(default)]
    pub egress_cross_region_gb: f64,
}

/// The Firestore operations one visit of a service makes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirestoreOps {
    /// The database (`firestore/<database>` on the bill); default `default`.
    #[serde(default = "default_database")]
    pub database: String,
    #[serde(default)]
    pub location: Location,
    #[serde(default)]
    pub reads: f64,
    #[serde(default)]
    pub writes: f64,
    #[serde(default)]
    pub deletes: f64,
}

fn default_database() -> String {
    "default".into()
}

/// Where a response's bytes go, for the egress price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Destination {
    /// Within a zone: free on GCP.
    #[default]
    SameZone,
    CrossZone,
    CrossRegion,
    Internet,
}

impl Usage {
    /// The same usage over `span_s` seconds instead of `self.span_s`: every quantity that
    /// accrues with time (node-, instance-, GB-hours, operations, tokens, GB-months held)
    /// scaled by `span_s / self.span_s`; levels (a machine type, provisioned Cloud SQL
    /// storage, a Memorystore capacity) kept. A usage with no span of its own (`span_s` 0) is
    /// taken to cover `span_s` already. This is how a scenario's `infrastructure:`, written
    /// for a period of its choosing (an hour, a month), is priced over any run's horizon.
    pub fn scaled_to(&self, span_s: f64) -> Usage {
        let mut u = self.clone();
        u.span_s = span_s;
        if self.span_s.is_nan() || self.span_s <= 0.0 {
            return u;
        }
        let k = span_s / self.span_s;
        for pool in u.node_pools.values_mut().chain(u.vms.values_mut()) {
            pool.node_seconds *= k;
            pool.seconds_at_node_count
                .values_mut()
                .for_each(|s| *s *= k);
            if let Some(g) = &mut pool.gpu {
                g.gpu_seconds *= k;
            }
        }
        u.gke_clusters.values_mut().for_each(|s| *s *= k);
        u.cloud_sql.values_mut().for_each(|s| s.instance_hours *= k);
        u.memorystore.values_mut().for_each(|m| m.gb_hours *= k);
        u.scale_traffic(k);
        for f in u.firestore.values_mut() {
            f.stored_gib_months *= k;
        }
        u.storage.values_mut().for_each(|b| b.gb_months *= k);
        u.pinecone.values_mut().for_each(|p| p.pod_hours *= k);
        u
    }

    /// Scales what the journeys make by `k`: Firestore operations, Cloud Run time and
    /// requests, LLM tokens and egress bytes (the traffic-driven quantities); capacity kept.
    pub fn scale_traffic(&mut self, k: f64) {
        let ops = |n: &mut u64| *n = (*n as f64 * k).round() as u64;
        for f in self.firestore.values_mut() {
            ops(&mut f.reads);
            ops(&mut f.writes);
            ops(&mut f.deletes);
        }
        for r in self.cloud_run.values_mut() {
            r.vcpu_seconds *= k;
            r.gib_seconds *= k;
            ops(&mut r.requests);
        }
        for l in self.llm.values_mut() {
            ops(&mut l.input_tokens);
            ops(&mut l.output_tokens);
        }
        self.egress_gb *= k;
        self.egress_cross_zone_gb *= k;
        self.egress_cross_region_gb *= k;
    }
}

/// Nodes of one machine type over the span.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePoolUsage {
    pub machine_type: String,
    /// Node-seconds: the integral of the node count over the span.
    pub node_seconds: f64,
    /// Optional: seconds spent at each node count (the autoscaler's trace). With it,
    /// sustained-use discounts stack the way GCP's inferred instances do (the k-th node is billed
    /// for the share of time the pool had at least k nodes); without it the pool is taken to
    /// hold its average count steadily. Must agree with `node_seconds`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub seconds_at_node_count: BTreeMap<u32, f64>,
    /// Attached accelerators (N1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuUsage>,
    /// Each node's boot disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot_disk: Option<BootDisk>,
}

/// A standalone VM is priced like a node pool of its machine type.
pub type VmUsage = NodePoolUsage;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpuUsage {
    /// GPU type as GKE names it, e.g. `nvidia-tesla-t4`.
    pub gpu_type: String,
    /// GPU-seconds (node-seconds x GPUs per node).
    pub gpu_seconds: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootDisk {
    /// `pd-balanced` (GKE's default) or `pd-ssd`.
    #[serde(default = "pd_balanced")]
    pub disk_type: String,
    pub gb_per_node: f64,
}

fn pd_balanced() -> String {
    "pd-balanced".to_string()
}

/// A Cloud SQL for PostgreSQL (Enterprise) instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudSqlUsage {
    /// Hours the instance ran during the span.
    pub instance_hours: f64,
    pub vcpus: u32,
    pub memory_gb: f64,
    /// Provisioned SSD storage, billed for the whole span.
    #[serde(default)]
    pub storage_gb: f64,
    /// Regional (HA) availability: doubles vCPU, memory and storage prices.
    #[serde(default)]
    pub high_availability: bool,
    /// Backup storage held over the span.
    #[serde(default)]
    pub backup_gb: f64,
}

impl CloudSqlUsage {
    /// vCPUs and memory (GB) of a `db-custom-<vcpus>-<memory MB>` tier, e.g.
    /// `db-custom-8-32768` = (8, 32.0).
    pub fn custom_tier_shape(tier: &str) -> Result<(u32, f64), String> {
        let invalid = || {
            format!(
                "cloud_sql tier `{tier}`: expected db-custom-<vCPUs>-<memory MB>, e.g. \
                 db-custom-8-32768"
            )
        };
        let rest = tier.strip_prefix("db-custom-").ok_or_else(invalid)?;
        let (vcpus, mb) = rest.split_once('-').ok_or_else(invalid)?;
        let vcpus: u32 = vcpus.parse().map_err(|_| invalid())?;
        let mb: u32 = mb.parse().map_err(|_| invalid())?;
        if vcpus == 0 || mb == 0 {
            return Err(invalid());
        }
        Ok((vcpus, f64::from(mb) / 1024.0))
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorystoreTier {
    #[default]
    Basic,
    /// Standard tier (a replica for HA).
    Standard,
}

/// A Memorystore for Redis instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemorystoreUsage {
    #[serde(default)]
    pub tier: MemorystoreTier,
    /// Provisioned capacity; it picks the price band (M1 1-4 GB ... M5 > 100 GB).
    pub capacity_gb: f64,
    /// GB-hours over the span (capacity x hours provisioned).
    pub gb_hours: f64,
}

/// Where a Firestore database or a bucket lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    #[default]
    Regional,
    MultiRegion,
}

impl Location {
    /// The price table's name for it (`regional`, `multi_region`).
    pub fn key(self) -> &'static str {
        match self {
            Location::Regional => "regional",
            Location::MultiRegion => "multi_region",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirestoreUsage {
    #[serde(default)]
    pub location: Location,
    #[serde(default)]
    pub reads: u64,
    #[serde(default)]
    pub writes: u64,
    #[serde(default)]
    pub deletes: u64,
    /// Stored data accrued over the span, in GiB-months.
    #[serde(default)]
    pub stored_gib_months: f64,
}

/// A Cloud Storage bucket (Standard class).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageUsage {
    #[serde(default)]
    pub location: Location,
    /// Data held, accrued over the span, in GB-months.
    pub gb_months: f64,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CloudRunBilling {
    /// CPU allocated only during requests; a per-request fee.
    #[default]
    Request,
    /// CPU always allocated (min instances kept warm); no request fee.
    Instance,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloudRunUsage {
    #[serde(default)]
    pub billing: CloudRunBilling,
    pub vcpu_seconds: f64,
    pub gib_seconds: f64,
    #[serde(default)]
    pub requests: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PineconeUsage {
    #[serde(default = "p1_x1")]
    pub pod_type: String,
    /// Pod-hours (pods x replicas x hours).
    pub pod_hours: f64,
}

fn p1_x1() -> String {
    "p1.x1".to_string()
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlmUsage {
    /// The model as the endpoint names it (`claude-3-sonnet`, `gemini-pro`, `gpt-4`).
    pub model: String,
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
}

/// One item of the bill: the run's cost and the month it projects to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ItemCost {
    pub total_usd: f64,
    pub monthly_usd: f64,
}

/// The whole bill, item by item, in the order of the [`Usage`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostBreakdown {
    pub total_usd: f64,
    pub monthly_usd: f64,
    pub items: IndexMap<String, ItemCost>,
    /// What the run used that the price table has no row for: shown as "not priced", never
    /// as $0 (`egress/cross_region: 1.2 GB`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_priced: Vec<String>,
}

impl CostBreakdown {
    /// The `summary.json` form: `by_item` holds each item's cost for the run (it sums to
    /// `total_usd`).
    pub fn summary(&self) -> CostSummary {
        CostSummary {
            total_usd: self.total_usd,
            monthly_usd: self.monthly_usd,
            // Split by the billing crate's projection, which knows which items follow traffic.
            infrastructure_monthly_usd: self.monthly_usd,
            usage_monthly_usd: 0.0,
            by_item: self
                .items
                .iter()
                .map(|(k, v)| (k.clone(), v.total_usd))
                .collect(),
            projection: None,
            comparison: None,
            not_priced: self.not_priced.clone(),
            ..CostSummary::default()
        }
    }

    /// Each item's monthly projection.
    pub fn monthly_by_item(&self) -> IndexMap<String, f64> {
        self.items
            .iter()
            .map(|(k, v)| (k.clone(), v.monthly_usd))
            .collect()
    }
}
