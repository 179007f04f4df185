//! The arithmetic of a bill: a run's [`Usage`] priced with a [`PriceTable`] under a
//! [`CostModel`] (how each thing is bought), giving `summary.json`'s cost block.
//!
//! How a run becomes a month: every item is first priced for a month in which the run's usage
//! pattern repeats (usage x 730 h / span), because monthly rules (sustained-use quarters,
//! egress volume tiers) are defined on a month; the run's own cost is that month's cost x
//! span / 730 h. So for every item `by_item[k] / total_usd == monthly_k / monthly_usd`, and for
//! linear items (tokens, operations, committed or spot node-hours) the run's cost is plainly
//! quantity x price.

use crate::price_table::{
    item, llm_model_key, PriceTable, PriceUnit, PricingError, PricingModel, SustainedUse,
    HOURS_PER_MONTH,
};
use indexmap::IndexMap;
use models::cost::{
    CloudRunBilling, CloudSqlUsage, CostBreakdown, CostModel, ItemCost, MemorystoreTier,
    MemorystoreUsage, NodePoolUsage, Usage,
};
use models::machines::{MachineType, UnknownMachineType};
use models::summary::CostSummary;

const SECONDS_PER_MONTH: f64 = HOURS_PER_MONTH * 3600.0;

/// Why a usage could not be priced.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CostError {
    #[error(transparent)]
    Pricing(#[from] PricingError),
    #[error("{item}: {source}")]
    Machine {
        item: String,
        source: UnknownMachineType,
    },
    #[error("{item}: {message}")]
    InvalidUsage { item: String, message: String },
    #[error("cost model: {0}")]
    InvalidModel(String),
}

/// Pricing a [`CostModel`]: a trait because the model is the vocabulary's type and its
/// arithmetic lives here.
pub trait Billing {
    /// Checks what serde cannot: no spot commitment on managed services, a spot fraction in
    /// (0, 1], a valid projection and reference.
    fn validate(&self) -> Result<(), CostError>;
    /// Prices `usage` with `table`: the `summary.json` cost block. `monthly_usd` is the
    /// projection ([`crate::projection`]: the run's usage repeated over 730 h, traffic-driven
    /// items scaled by the duty, if any).
    fn cost(&self, table: &PriceTable, usage: &Usage) -> Result<CostSummary, CostError>;
    /// Prices `usage` with `table`, item by item, with each item's monthly projection.
    fn breakdown(&self, table: &PriceTable, usage: &Usage) -> Result<CostBreakdown, CostError>;
}

impl Billing for CostModel {
    /// Checks what serde cannot: no spot commitment on managed services, a spot fraction in
    /// (0, 1].
    fn validate(&self) -> Result<(), CostError> {
        if self.managed_services == PricingModel::Spot {
            return Err(CostError::InvalidModel(
                "managed_services cannot be spot (Cloud SQL and Memorystore are on_demand, \
                 committed_1y or committed_3y)"
                    .into(),
            ));
        }
        if let Err(m) = self.projection.factor() {
            return Err(CostError::InvalidModel(format!("projection: {m}")));
        }
        if let Some(r) = &self.reference {
            if !(r.low.is_finite() && r.low >= 0.0 && r.low <= r.high) {
                return Err(CostError::InvalidModel(format!(
                    "reference: needs 0 <= low <= high, found {} and {}",
                    r.low, r.high
                )));
            }
        }
        if let Some(f) = self.spot_fraction {
            if !(f.is_finite() && f > 0.0 && f <= 1.0) {
                return Err(CostError::InvalidModel(format!(
                    "spot_fraction {f} must be in (0, 1]"
                )));
            }
        }
        Ok(())
    }

    /// Prices `usage` with `table`: the `summary.json` cost block.
    /// `monthly_usd` is the projection ([`crate::projection`]: the run's usage repeated
    /// over 730 h, traffic-driven items scaled by the duty, if any).
    fn cost(&self, table: &PriceTable, usage: &Usage) -> Result<CostSummary, CostError> {
        let breakdown = self.breakdown(table, usage)?;
        let duty = self
            .projection
            .factor()
            .map_err(|m| CostError::InvalidModel(format!("projection: {m}")))?;
        Ok(crate::projection::project(
            &breakdown,
            duty,
            self.reference.as_ref(),
        ))
    }

    /// Prices `usage` with `table`, item by item, with each item's monthly projection.
    fn breakdown(&self, table: &PriceTable, usage: &Usage) -> Result<CostBreakdown, CostError> {
        self.validate()?;
        let span = usage.span_s;
        if !(span.is_finite() && span > 0.0) {
            return Err(CostError::InvalidUsage {
                item: "usage".into(),
                message: format!("span_s {span} must be a positive number of seconds"),
            });
        }
        let bill = Bill {
            model: self,
            table,
            span,
            to_month: SECONDS_PER_MONTH / span,
        };
        let mut monthly: IndexMap<String, f64> = IndexMap::new();
        let mut not_priced: Vec<String> = Vec::new();

        for (name, pool) in &usage.node_pools {
            let pricing = self.node_pools.get(name).copied().unwrap_or(self.pricing);
            bill.machines(&format!("node_pool/{name}"), pool, pricing, &mut monthly)?;
        }
        for (name, vm) in &usage.vms {
            let pricing = self.vms.get(name).copied().unwrap_or(self.pricing);
            bill.machines(&format!("vm/{name}"), vm, pricing, &mut monthly)?;
        }
        for (name, seconds) in &usage.gke_clusters {
            let key = format!("gke/{name}");
            non_negative(&key, "cluster seconds", *seconds)?;
            let rate = table.price(
                item::GKE_CLUSTER_FEE,
                PricingModel::OnDemand,
                PriceUnit::ClusterHour,
            )?;
            monthly.insert(key, rate * seconds / 3600.0 * bill.to_month);
        }
        for (name, sql) in &usage.cloud_sql {
            let key = format!("cloud_sql/{name}");
            monthly.insert(key.clone(), bill.cloud_sql(&key, sql)?);
        }
        for (name, redis) in &usage.memorystore {
            let key = format!("memorystore/{name}");
            monthly.insert(key.clone(), bill.memorystore(&key, redis)?);
        }
        for (name, fs) in &usage.firestore {
            let key = format!("firestore/{name}");
            non_negative(&key, "stored_gib_months", fs.stored_gib_months)?;
            let loc = fs.location.key();
            let per_op = |what: &str, n: u64| -> Result<f64, CostError> {
                let rate = table.price(
                    &item::firestore(what, loc),
                    PricingModel::OnDemand,
                    PriceUnit::HundredThousandOps,
                )?;
                Ok(n as f64 / 1e5 * rate)
            };
            let stored = table.price(
                &item::firestore("stored", loc),
                PricingModel::OnDemand,
                PriceUnit::GibMonth,
            )?;
            let run = per_op("reads", fs.reads)?
                + per_op("writes", fs.writes)?
                + per_op("deletes", fs.deletes)?
                + fs.stored_gib_months * stored;
            monthly.insert(key, run * bill.to_month);
        }
        for (name, bucket) in &usage.storage {
            let key = format!("storage/{name}");
            non_negative(&key, "gb_months", bucket.gb_months)?;
            let rate = table.price(
                &item::storage(bucket.location.key()),
                PricingModel::OnDemand,
                PriceUnit::GbMonth,
            )?;
            monthly.insert(key, bucket.gb_months * rate * bill.to_month);
        }
        for (name, run) in &usage.cloud_run {
            let key = format!("cloud_run/{name}");
            non_negative(&key, "vcpu_seconds", run.vcpu_seconds)?;
            non_negative(&key, "gib_seconds", run.gib_seconds)?;
            let billing = match run.billing {
                CloudRunBilling::Request => "request",
                CloudRunBilling::Instance => "instance",
            };
            let cpu = table.price(
                &item::cloud_run("cpu", billing),
                PricingModel::OnDemand,
                PriceUnit::VcpuSecond,
            )?;
            let mem = table.price(
                &item::cloud_run("memory", billing),
                PricingModel::OnDemand,
                PriceUnit::GibSecond,
            )?;
            let mut cost = run.vcpu_seconds * cpu + run.gib_seconds * mem;
            if run.billing == CloudRunBilling::Request {
                let per_million = table.price(
                    item::CLOUD_RUN_REQUESTS,
                    PricingModel::OnDemand,
                    PriceUnit::MillionRequests,
                )?;
                cost += run.requests as f64 / 1e6 * per_million;
            }
            monthly.insert(key, cost * bill.to_month);
        }
        for (name, index) in &usage.pinecone {
            let key = format!("pinecone/{name}");
            non_negative(&key, "pod_hours", index.pod_hours)?;
            let rate = table.price(
                &item::pinecone(&index.pod_type),
                PricingModel::OnDemand,
                PriceUnit::PodHour,
            )?;
            monthly.insert(key, index.pod_hours * rate * bill.to_month);
        }
        for (name, llm) in &usage.llm {
            let key = format!("llm/{name}");
            let model = llm_model_key(&llm.model);
            let rate_in = table.price(
                &item::llm(model, "input"),
                PricingModel::OnDemand,
                PriceUnit::MillionTokens,
            )?;
            let rate_out = table.price(
                &item::llm(model, "output"),
                PricingModel::OnDemand,
                PriceUnit::MillionTokens,
            )?;
            let cost =
                llm.input_tokens as f64 / 1e6 * rate_in + llm.output_tokens as f64 / 1e6 * rate_out;
            monthly.insert(key, cost * bill.to_month);
        }
        if usage.egress_gb != 0.0 {
            non_negative("egress/internet", "egress_gb", usage.egress_gb)?;
            monthly.insert("egress/internet".into(), bill.egress(usage.egress_gb)?);
        }
        for (key, field, gb) in [
            (
                "egress/cross_zone",
                "egress_cross_zone_gb",
                usage.egress_cross_zone_gb,
            ),
            (
                "egress/cross_region",
                "egress_cross_region_gb",
                usage.egress_cross_region_gb,
            ),
        ] {
            if gb != 0.0 {
                non_negative(key, field, gb)?;
                match table.price(key, PricingModel::OnDemand, PriceUnit::Gb) {
                    Ok(rate) => {
                        monthly.insert(key.into(), gb * rate * bill.to_month);
                    }
                    Err(PricingError::UnknownItem { .. } | PricingError::NoPrice { .. }) => {
                        not_priced.push(format!("{key}: {gb:.6} GB (no price in the table)"));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }

        let from_month = span / SECONDS_PER_MONTH;
        let items: IndexMap<String, ItemCost> = monthly
            .into_iter()
            .map(|(k, m)| {
                (
                    k,
                    ItemCost {
                        total_usd: m * from_month,
                        monthly_usd: m,
                    },
                )
            })
            .collect();
        Ok(CostBreakdown {
            total_usd: items.values().map(|c| c.total_usd).sum(),
            monthly_usd: items.values().map(|c| c.monthly_usd).sum(),
            items,
            not_priced,
        })
    }
}

/// One pricing pass: the model, the table, and the factor from the span to a month.
struct Bill<'a> {
    model: &'a CostModel,
    table: &'a PriceTable,
    span: f64,
    to_month: f64,
}

impl Bill<'_> {
    /// The hourly price of `item_key` bought as `pricing`, with the model's spot override.
    fn compute_rate(
        &self,
        item_key: &str,
        pricing: PricingModel,
        unit: PriceUnit,
    ) -> Result<f64, CostError> {
        match (pricing, self.model.spot_fraction) {
            (PricingModel::Spot, Some(fraction)) => {
                Ok(self.table.price(item_key, PricingModel::OnDemand, unit)? * fraction)
            }
            _ => Ok(self.table.price(item_key, pricing, unit)?),
        }
    }

    /// A node pool or VM group: the machines, their GPUs and boot disks, monthly.
    fn machines(
        &self,
        key: &str,
        usage: &NodePoolUsage,
        pricing: PricingModel,
        monthly: &mut IndexMap<String, f64>,
    ) -> Result<(), CostError> {
        non_negative(key, "node_seconds", usage.node_seconds)?;
        let machine =
            MachineType::lookup(&usage.machine_type).map_err(|source| CostError::Machine {
                item: key.to_string(),
                source,
            })?;
        let hourly = self.compute_rate(&item::machine(machine.name), pricing, PriceUnit::Hour)?;
        let sud =
            SustainedUse::for_machine(machine.family, pricing).filter(|_| self.model.sustained_use);
        let machine_month = match sud {
            Some(sud) => {
                let fractions = self.instance_fractions(key, usage)?;
                hourly * HOURS_PER_MONTH * fractions.iter().map(|f| sud.billed(*f)).sum::<f64>()
            }
            None => hourly * usage.node_seconds / 3600.0 * self.to_month,
        };
        monthly.insert(key.to_string(), machine_month);

        if let Some(gpu) = &usage.gpu {
            let gpu_key = format!("{key}/gpu");
            non_negative(&gpu_key, "gpu_seconds", gpu.gpu_seconds)?;
            if !machine.family.accepts_attached_gpus() {
                return Err(CostError::InvalidUsage {
                    item: gpu_key,
                    message: format!(
                        "GPUs attach only to N1 machines; {} is {}",
                        machine.name,
                        machine.family.as_str()
                    ),
                });
            }
            let rate = self.compute_rate(&item::gpu(&gpu.gpu_type), pricing, PriceUnit::GpuHour)?;
            monthly.insert(gpu_key, rate * gpu.gpu_seconds / 3600.0 * self.to_month);
        }
        if let Some(disk) = &usage.boot_disk {
            let disk_key = format!("{key}/disk");
            non_negative(&disk_key, "gb_per_node", disk.gb_per_node)?;
            let rate = self.table.price(
                &item::disk(&disk.disk_type),
                PricingModel::OnDemand,
                PriceUnit::GbMonth,
            )?;
            let gb_months = disk.gb_per_node * usage.node_seconds / SECONDS_PER_MONTH;
            monthly.insert(disk_key, rate * gb_months * self.to_month);
        }
        Ok(())
    }

    /// Share of the month each inferred instance runs (1st node, 2nd node, ...), with the
    /// run's pattern repeated all month.
    fn instance_fractions(&self, key: &str, usage: &NodePoolUsage) -> Result<Vec<f64>, CostError> {
        if usage.seconds_at_node_count.is_empty() {
            let average = usage.node_seconds / self.span;
            let whole = average.ceil() as usize;
            return Ok((0..whole)
                .map(|k| (average - k as f64).clamp(0.0, 1.0))
                .collect());
        }
        let mut covered = 0.0;
        let mut node_seconds = 0.0;
        for (&count, &seconds) in &usage.seconds_at_node_count {
            non_negative(key, "seconds_at_node_count", seconds)?;
            covered += seconds;
            node_seconds += f64::from(count) * seconds;
        }
        let tolerance = 1e-6 * self.span.max(1.0);
        if covered > self.span + tolerance {
            return Err(CostError::InvalidUsage {
                item: key.to_string(),
                message: format!(
                    "seconds_at_node_count covers {covered} s, more than the span {} s",
                    self.span
                ),
            });
        }
        if (node_seconds - usage.node_seconds).abs() > 1e-6 * usage.node_seconds.max(1.0) {
            return Err(CostError::InvalidUsage {
                item: key.to_string(),
                message: format!(
                    "seconds_at_node_count sums to {node_seconds} node-seconds but node_seconds \
                     is {}",
                    usage.node_seconds
                ),
            });
        }
        let max = usage
            .seconds_at_node_count
            .keys()
            .next_back()
            .copied()
            .unwrap_or(0);
        Ok((1..=max)
            .map(|k| {
                let at_least_k: f64 = usage
                    .seconds_at_node_count
                    .range(k..)
                    .map(|(_, s)| *s)
                    .sum();
                (at_least_k / self.span).min(1.0)
            })
            .collect())
    }

    fn cloud_sql(&self, key: &str, sql: &CloudSqlUsage) -> Result<f64, CostError> {
        non_negative(key, "instance_hours", sql.instance_hours)?;
        non_negative(key, "memory_gb", sql.memory_gb)?;
        non_negative(key, "storage_gb", sql.storage_gb)?;
        non_negative(key, "backup_gb", sql.backup_gb)?;
        let ha = sql.high_availability;
        let pricing = self.model.managed_services;
        let vcpu = self
            .table
            .price(&item::cloud_sql("vcpu", ha), pricing, PriceUnit::VcpuHour)?;
        let memory =
            self.table
                .price(&item::cloud_sql("memory", ha), pricing, PriceUnit::GbHour)?;
        // Storage and backups are outside commitments, and billed while provisioned.
        let storage = self.table.price(
            &item::cloud_sql("storage_ssd", ha),
            PricingModel::OnDemand,
            PriceUnit::GbMonth,
        )?;
        let backup = self.table.price(
            item::CLOUD_SQL_BACKUP,
            PricingModel::OnDemand,
            PriceUnit::GbMonth,
        )?;
        let compute = sql.instance_hours
            * (f64::from(sql.vcpus) * vcpu + sql.memory_gb * memory)
            * self.to_month;
        Ok(compute + sql.storage_gb * storage + sql.backup_gb * backup)
    }

    fn memorystore(&self, key: &str, redis: &MemorystoreUsage) -> Result<f64, CostError> {
        non_negative(key, "gb_hours", redis.gb_hours)?;
        let gb = redis.capacity_gb;
        if !(gb.is_finite() && gb > 0.0) {
            return Err(CostError::InvalidUsage {
                item: key.to_string(),
                message: format!("capacity_gb {gb} must be positive"),
            });
        }
        let band = match gb {
            g if g <= 4.0 => "m1",
            g if g <= 10.0 => "m2",
            g if g <= 35.0 => "m3",
            g if g <= 100.0 => "m4",
            _ => "m5",
        };
        let tier = match redis.tier {
            MemorystoreTier::Basic => "basic",
            MemorystoreTier::Standard => "standard",
        };
        let rate = self.table.price(
            &item::memorystore(tier, band),
            self.model.managed_services,
            PriceUnit::GbHour,
        )?;
        Ok(redis.gb_hours * rate * self.to_month)
    }

    /// A month of egress at the run's rate, through the volume tiers (0-1 TiB, 1-10 TiB, more).
    fn egress(&self, gb: f64) -> Result<f64, CostError> {
        const BOUNDS_GB: [f64; 3] = [1024.0, 10240.0, f64::INFINITY];
        let month_gb = gb * self.to_month;
        let mut cost = 0.0;
        let mut lower = 0.0;
        for (tier, upper) in item::EGRESS_TIERS.iter().zip(BOUNDS_GB) {
            let rate = self
                .table
                .price(tier, PricingModel::OnDemand, PriceUnit::Gb)?;
            cost += (month_gb.min(upper) - lower).max(0.0) * rate;
            lower = upper;
        }
        Ok(cost)
    }
}

fn non_negative(item: &str, field: &str, value: f64) -> Result<(), CostError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(CostError::InvalidUsage {
            item: item.to_string(),
            message: format!("{field} {value} must be a finite number >= 0"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::cost::{BootDisk, GpuUsage, LlmUsage};

    const HOUR: f64 = 3600.0;
    const MONTH: f64 = 730.0 * HOUR;

    fn table() -> &'static PriceTable {
        PriceTable::builtin().expect("builtin table")
    }

    fn list_price() -> CostModel {
        CostModel {
            sustained_use: false,
            ..CostModel::default()
        }
    }

    fn pool(machine: &str, nodes: f64, span: f64) -> NodePoolUsage {
        NodePoolUsage {
            machine_type: machine.into(),
            node_seconds: nodes * span,
            ..NodePoolUsage::default()
        }
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
    }

    #[test]
    fn three_n1_standard_4_for_730_hours_is_price_times_2190() {
        let usage = Usage {
            span_s: MONTH,
            node_pools: [("general".into(), pool("n1-standard-4", 3.0, MONTH))].into(),
            ..Usage::default()
        };
        let s = list_price().cost(table(), &usage).expect("cost");
        // 0.189999 $/h x 3 nodes x 730 h = 0.189999 x 2190 = 416.09781
        close(s.total_usd, 0.189999 * 2190.0);
        close(s.total_usd, 416.09781);
        close(s.monthly_usd, s.total_usd);
        close(s.by_item["node_pool/general"], 416.09781);
    }

    #[test]
    fn sustained_use_takes_30_percent_off_a_full_month() {
        let usage = Usage {
            span_s: MONTH,
            node_pools: [("general".into(), pool("n1-standard-4", 3.0, MONTH))].into(),
            ..Usage::default()
        };
        let s = CostModel::default().cost(table(), &usage).expect("cost");
        // 416.09781 x 0.7 = 291.268467
        close(s.total_usd, 291.268467);
    }

    #[test]
    fn sustained_use_stacks_inferred_instances_from_the_node_count_trace() {
        // One hour: 2 nodes for 30 min, 4 nodes for 30 min (3 on average).
        let mut p = pool("n1-standard-4", 3.0, HOUR);
        p.seconds_at_node_count = [(2, 1800.0), (4, 1800.0)].into();
        let usage = Usage {
            span_s: HOUR,
            node_pools: [("general".into(), p)].into(),
            ..Usage::default()
        };
        let b = CostModel::default()
            .breakdown(table(), &usage)
            .expect("cost");
        // nodes 1-2 run the whole month (billed 0.7 each), nodes 3-4 half of it (0.45 each):
        // 0.189999 x 730 x (0.7 + 0.7 + 0.45 + 0.45) = 0.189999 x 730 x 2.3 = 319.008321
        close(b.monthly_usd, 319.008321);
        close(b.total_usd, 319.008321 / 730.0);
        // Without the trace the pool is 3 steady nodes: 0.189999 x 730 x 2.1 = 291.268467
        let mut flat = usage.clone();
        flat.node_pools[0].seconds_at_node_count.clear();
        let b = CostModel::default()
            .breakdown(table(), &flat)
            .expect("cost");
        close(b.monthly_usd, 291.268467);
    }

    #[test]
    fn spot_and_committed_use_their_rows_and_earn_no_sustained_use() {
        let usage = Usage {
            span_s: MONTH,
            node_pools: [("general".into(), pool("n1-standard-4", 3.0, MONTH))].into(),
            ..Usage::default()
        };
        for (pricing, hourly) in [
            (PricingModel::Spot, 0.06701),
            (PricingModel::Committed1y, 0.1197),
            (PricingModel::Committed3y, 0.0855),
        ] {
            let model = CostModel {
                pricing,
                ..CostModel::default()
            };
            let s = model.cost(table(), &usage).expect("cost");
            close(s.total_usd, hourly * 2190.0);
        }
        // Spot as a fraction of on-demand: 0.189999 x 0.2 x 2190 = 83.219562
        let model = CostModel {
            pricing: PricingModel::Spot,
            spot_fraction: Some(0.2),
            ..CostModel::default()
        };
        close(
            model.cost(table(), &usage).expect("cost").total_usd,
            83.219562,
        );
        // A per-pool override beats the default.
        let model = CostModel {
            pricing: PricingModel::Spot,
            node_pools: [("general".into(), PricingModel::Committed3y)].into(),
            ..CostModel::default()
        };
        close(
            model.cost(table(), &usage).expect("cost").total_usd,
            0.0855 * 2190.0,
        );
    }

    #[test]
    fn a_t4_for_a_month() {
        let mut p = pool("n1-highmem-8", 1.0, MONTH);
        p.gpu = Some(GpuUsage {
            gpu_type: "nvidia-tesla-t4".into(),
            gpu_seconds: MONTH,
        });
        let usage = Usage {
            span_s: MONTH,
            node_pools: [("ai-workload".into(), p)].into(),
            ..Usage::default()
        };
        let b = list_price().breakdown(table(), &usage).expect("cost");
        // T4: 0.35 x 730 = 255.5; node: 0.473212 x 730 = 345.44476
        close(b.items["node_pool/ai-workload/gpu"].total_usd, 255.5);
        close(b.items["node_pool/ai-workload"].total_usd, 345.44476);
        close(b.total_usd, 600.94476);
        // GPUs follow their pool's pricing: 3-yr T4 0.16 x 730 = 116.8
        let model = CostModel {
            pricing: PricingModel::Committed3y,
            ..CostModel::default()
        };
        let b = model.breakdown(table(), &usage).expect("cost");
        close(b.items["node_pool/ai-workload/gpu"].total_usd, 116.8);
    }

    #[test]
    fn tokens_are_priced_per_million() {
        let usage = Usage {
            span_s: HOUR,
            llm: [
                (
                    "claude".into(),
                    LlmUsage {
                        model: "claude-3-sonnet".into(),
                        input_tokens: 2_000_000,
                        output_tokens: 500_000,
                    },
                ),
                (
                    "gemini".into(),
                    LlmUsage {
                        model: "gemini-pro".into(),
                        input_tokens: 1_000_000,
                        output_tokens: 1_000_000,
                    },
                ),
            ]
            .into(),
            ..Usage::default()
        };
        let b = CostModel::default()
            .breakdown(table(), &usage)
            .expect("cost");
        // claude: 2 x 3 + 0.5 x 15 = 13.5; gemini-pro (= gemini-1.0-pro): 0.5 + 1.5 = 2.0
        close(b.items["llm/claude"].total_usd, 13.5);
        close(b.items["llm/gemini"].total_usd, 2.0);
        // one hour of this rate for 730 hours
        close(b.monthly_usd, 15.5 * 730.0);
    }

    #[test]
    fn cloud_sql_high_availability_doubles_compute_and_storage() {
        let (vcpus, memory_gb) =
            CloudSqlUsage::custom_tier_shape("db-custom-8-32768").expect("tier");
        assert_eq!((vcpus, memory_gb), (8, 32.0));
        let zonal = CloudSqlUsage {
            instance_hours: 730.0,
            vcpus,
            memory_gb,
            storage_gb: 100.0,
            high_availability: false,
            backup_gb: 50.0,
        };
        let ha = CloudSqlUsage {
            high_availability: true,
            ..zonal.clone()
        };
        let usage = Usage {
            span_s: MONTH,
            cloud_sql: [("zonal".into(), zonal), ("primary".into(), ha)].into(),
            ..Usage::default()
        };
        let b = CostModel::default()
            .breakdown(table(), &usage)
            .expect("cost");
        // zonal: 0.5544 x 730 + 100 x 0.17 + 50 x 0.08 = 404.712 + 17 + 4 = 425.712
        close(b.items["cloud_sql/zonal"].total_usd, 425.712);
        // HA: 1.1088 x 730 + 100 x 0.34 + 50 x 0.08 = 809.424 + 34 + 4 = 847.424
        close(b.items["cloud_sql/primary"].total_usd, 847.424);
        // backups are not doubled: HA - 2 x zonal = -backup = -4
        close(
            b.items["cloud_sql/primary"].total_usd - 2.0 * b.items["cloud_sql/zonal"].total_usd,
            -4.0,
        );
        // 1-yr commitment on compute only: 0.8316 x 730 + 34 + 4 = 645.068
        let model = CostModel {
            managed_services: PricingModel::Committed1y,
            ..CostModel::default()
        };
        let b = model.breakdown(table(), &usage).expect("cost");
        close(b.items["cloud_sql/primary"].total_usd, 645.068);
    }

    #[test]
    fn egress_goes_through_the_monthly_tiers() {
        let usage = Usage {
            span_s: MONTH,
            egress_gb: 2048.0,
            ..Usage::default()
        };
        let s = CostModel::default().cost(table(), &usage).expect("cost");
        // 1024 x 0.12 + 1024 x 0.11 = 122.88 + 112.64 = 235.52
        close(s.total_usd, 235.52);
        // The same volume in one day of a 730-hour month's run rate: 2048 GB/day x 730/24 days
        // = 62293.33 GB/month: 1024 x 0.12 + 9216 x 0.11 + 52053.33 x 0.08, scaled to a day.
        let day = Usage {
            span_s: 24.0 * HOUR,
            egress_gb: 2048.0,
            ..Usage::default()
        };
        let s = CostModel::default().cost(table(), &day).expect("cost");
        let month_gb = 2048.0 * 730.0 / 24.0;
        let monthly = 1024.0 * 0.12 + 9216.0 * 0.11 + (month_gb - 10240.0) * 0.08;
        close(s.monthly_usd, monthly);
        close(s.total_usd, monthly * 24.0 / 730.0);
    }

    /// The seeds' Cloud SQL (db-custom-8-32768, regional HA [backend-architecture.md]) and
    /// Memorystore (basic, 16 GB), written for one hour and priced over a 10-minute run: the
    /// month is the same whatever the run's horizon. By hand, from the table's rows: Cloud SQL
    /// 730 h x (8 x $0.0826 + 32 x $0.014) = 730 x 1.1088 = $809.424, plus 100 GB of regional
    /// SSD at $0.34 = $34; Memorystore is checked to project the same month from either span.
    #[test]
    fn infrastructure_for_an_hour_prices_the_same_month_over_any_run() {
        let hour = Usage {
            span_s: HOUR,
            cloud_sql: [(
                "primary".into(),
                CloudSqlUsage {
                    instance_hours: 1.0,
                    vcpus: 8,
                    memory_gb: 32.0,
                    storage_gb: 100.0,
                    high_availability: true,
                    backup_gb: 0.0,
                },
            )]
            .into(),
            memorystore: [(
                "cache".into(),
                MemorystoreUsage {
                    tier: MemorystoreTier::Basic,
                    capacity_gb: 16.0,
                    gb_hours: 16.0,
                },
            )]
            .into(),
            ..Usage::default()
        };
        let run = hour.scaled_to(600.0);
        assert_eq!(run.span_s, 600.0);
        close(run.cloud_sql["primary"].instance_hours, 1.0 / 6.0);
        close(run.cloud_sql["primary"].storage_gb, 100.0);
        close(run.memorystore["cache"].gb_hours, 16.0 / 6.0);
        let by_hour = CostModel::default()
            .breakdown(table(), &hour)
            .expect("cost");
        let by_run = CostModel::default().breakdown(table(), &run).expect("cost");
        let sql = |b: &CostBreakdown| b.monthly_by_item()["cloud_sql/primary"];
        close(
            sql(&by_hour),
            730.0 * (8.0 * 0.0826 + 32.0 * 0.014) + 100.0 * 0.34,
        );
        close(sql(&by_run), sql(&by_hour));
        let redis = |b: &CostBreakdown| b.monthly_by_item()["memorystore/cache"];
        close(redis(&by_run), redis(&by_hour));
        // No span of its own: taken to cover the run as written.
        let as_is = Usage {
            span_s: 0.0,
            ..hour.clone()
        }
        .scaled_to(600.0);
        close(as_is.cloud_sql["primary"].instance_hours, 1.0);
    }

    #[test]
    fn errors_name_the_item() {
        let usage = Usage {
            span_s: HOUR,
            node_pools: [("general".into(), pool("n1-standard-5", 1.0, HOUR))].into(),
            ..Usage::default()
        };
        let err = CostModel::default()
            .cost(table(), &usage)
            .expect_err("bad type");
        assert!(
            err.to_string()
                .starts_with("node_pool/general: unknown machine type"),
            "{err}"
        );

        let usage = Usage {
            span_s: HOUR,
            node_pools: [("general".into(), pool("e2-standard-4", 1.0, HOUR))].into(),
            ..Usage::default()
        };
        let err = CostModel::default()
            .cost(table(), &usage)
            .expect_err("no price");
        assert!(
            err.to_string().contains("no item `machine/e2-standard-4`"),
            "{err}"
        );

        let err = CostModel::default()
            .cost(table(), &Usage::default())
            .expect_err("no span");
        assert!(err.to_string().contains("span_s"), "{err}");

        let model = CostModel {
            managed_services: PricingModel::Spot,
            ..CostModel::default()
        };
        assert!(model.validate().is_err());

        let mut p = pool("n1-standard-4", 2.0, HOUR);
        p.seconds_at_node_count = [(3, HOUR)].into();
        let usage = Usage {
            span_s: HOUR,
            node_pools: [("general".into(), p)].into(),
            ..Usage::default()
        };
        let err = CostModel::default()
            .cost(table(), &usage)
            .expect_err("trace");
        assert!(
            err.to_string().contains("sums to 10800 node-seconds"),
            "{err}"
        );

        let mut p = pool("e2-standard-4", 1.0, HOUR);
        p.gpu = Some(GpuUsage {
            gpu_type: "nvidia-tesla-t4".into(),
            gpu_seconds: HOUR,
        });
        let usage = Usage {
            span_s: HOUR,
            vms: [("x".into(), p)].into(),
            ..Usage::default()
        };
        assert!(CostModel::default().cost(table(), &usage).is_err());
    }

    #[test]
    fn cost_model_reads_from_a_scenario_block() {
        let model: CostModel = serde_json::from_str(
            r#"{"pricing": "spot", "node_pools": {"ai-workload": "committed_1y"},
                "managed_services": "committed_3y"}"#,
        )
        .expect("parse");
        assert_eq!(model.pricing, PricingModel::Spot);
        assert_eq!(model.node_pools["ai-workload"], PricingModel::Committed1y);
        assert!(model.sustained_use);
        let empty: CostModel = serde_json::from_str("{}").expect("parse");
        assert_eq!(empty, CostModel::default());
        assert!(serde_json::from_str::<CostModel>(r#"{"pricing": "cheap"}"#).is_err());
        assert!(serde_json::from_str::<CostModel>(r#"{"typo": 1}"#).is_err());
    }

    #[test]
    fn by_item_sums_to_the_total_and_scales_to_the_month() {
        let mut p = pool("n1-standard-4", 3.5, 2.0 * HOUR);
        p.boot_disk = Some(BootDisk {
            disk_type: "pd-balanced".into(),
            gb_per_node: 100.0,
        });
        let usage = Usage {
            span_s: 2.0 * HOUR,
            node_pools: [("general".into(), p)].into(),
            gke_clusters: [("primary-gke".into(), 2.0 * HOUR)].into(),
            memorystore: [(
                "cache".into(),
                MemorystoreUsage {
                    tier: MemorystoreTier::Basic,
                    capacity_gb: 16.0,
                    gb_hours: 32.0,
                },
            )]
            .into(),
            ..Usage::default()
        };
        let b = CostModel::default()
            .breakdown(table(), &usage)
            .expect("cost");
        let sum: f64 = b.items.values().map(|c| c.total_usd).sum();
        close(sum, b.total_usd);
        for c in b.items.values() {
            close(c.monthly_usd * 2.0 / 730.0, c.total_usd);
        }
        // cluster fee: 0.1 x 2 h = 0.2; redis: 32 GB-h x 0.023 = 0.736
        close(b.items["gke/primary-gke"].total_usd, 0.2);
        close(b.items["memorystore/cache"].total_usd, 0.736);
        // disk: 100 GB x 3.5 nodes x 2 h / 730 h x 0.10 $/GB-month
        close(
            b.items["node_pool/general/disk"].total_usd,
            100.0 * 7.0 / 730.0 * 0.1,
        );
        let s = b.summary();
        assert_eq!(s.by_item.len(), b.items.len());
        assert_eq!(
            s.by_item.keys().next().map(String::as_str),
            Some("node_pool/general")
        );
    }
}
