//! The price table: list prices per item and pricing model, each with its source and date,
//! parsed from `models/billing/data/gcp-prices.csv` (embedded in the crate, so no file is read at run
//! time), and the discount rules that are not a row of that table (sustained use).
//!
//! This module owns prices and their provenance; `models::cost` owns what was used, [`crate::bill`] the sum.
//! Item keys are stable paths: `machine/n1-standard-4`, `gpu/nvidia-tesla-t4`,
//! `cloud_sql/vcpu/regional`, `memorystore/basic/m3`, `llm/claude-3-sonnet/input`,
//! `egress/internet_premium/0-1tib` (the [`item`] module builds them). A price the table lacks
//! is an error that names the item and the pricing models it does have, never a silent zero.

pub use models::cost::PricingModel;
use models::machines::MachineFamily;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

/// The CSV shipped with the crate.
pub const BUILTIN_CSV: &str = include_str!("../data/gcp-prices.csv");

/// Hours in the month GCP bills by (730 = 8760 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// What one `usd` of a row buys. Cost code states the unit it expects, so a row whose unit
/// changes cannot be summed in the wrong unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PriceUnit {
    Hour,
    GpuHour,
    ClusterHour,
    VcpuHour,
    GbHour,
    GbMonth,
    GibMonth,
    HundredThousandOps,
    VcpuSecond,
    GibSecond,
    MillionRequests,
    PodHour,
    MillionTokens,
    Gb,
}

impl PriceUnit {
    const ALL: [PriceUnit; 14] = [
        PriceUnit::Hour,
        PriceUnit::GpuHour,
        PriceUnit::ClusterHour,
        PriceUnit::VcpuHour,
        PriceUnit::GbHour,
        PriceUnit::GbMonth,
        PriceUnit::GibMonth,
        PriceUnit::HundredThousandOps,
        PriceUnit::VcpuSecond,
        PriceUnit::GibSecond,
        PriceUnit::MillionRequests,
        PriceUnit::PodHour,
        PriceUnit::MillionTokens,
        PriceUnit::Gb,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PriceUnit::Hour => "hour",
            PriceUnit::GpuHour => "gpu_hour",
            PriceUnit::ClusterHour => "cluster_hour",
            PriceUnit::VcpuHour => "vcpu_hour",
            PriceUnit::GbHour => "gb_hour",
            PriceUnit::GbMonth => "gb_month",
            PriceUnit::GibMonth => "gib_month",
            PriceUnit::HundredThousandOps => "100k_ops",
            PriceUnit::VcpuSecond => "vcpu_second",
            PriceUnit::GibSecond => "gib_second",
            PriceUnit::MillionRequests => "1m_requests",
            PriceUnit::PodHour => "pod_hour",
            PriceUnit::MillionTokens => "1m_tokens",
            PriceUnit::Gb => "gb",
        }
    }

    pub fn parse(text: &str) -> Option<PriceUnit> {
        PriceUnit::ALL.into_iter().find(|u| u.as_str() == text)
    }
}

impl fmt::Display for PriceUnit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the table.
#[derive(Clone, Debug, PartialEq)]
pub struct PriceRow {
    pub item: String,
    pub pricing: PricingModel,
    pub unit: PriceUnit,
    pub usd: f64,
    pub region: String,
    /// The date of the data (or a note on it, e.g. `undated`, `launch list price`).
    pub as_of: String,
    pub source: String,
    /// 1-based line of the CSV the row came from.
    pub line: usize,
}

#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PricingError {
    #[error("price table line {line}: {message}")]
    Csv { line: usize, message: String },
    #[error("the price table has no item `{item}`{hint}")]
    UnknownItem { item: String, hint: String },
    #[error(
        "the price table has no {pricing} price for `{item}` (it has: {available}); \
         add a row to models/data/gcp-prices.csv or choose another pricing model"
    )]
    NoPrice {
        item: String,
        pricing: PricingModel,
        available: String,
    },
    #[error("`{item}` is priced per {found} in the price table, but the cost model sums it per {expected}")]
    UnitMismatch {
        item: String,
        expected: PriceUnit,
        found: PriceUnit,
    },
}

/// The parsed price table: rows in file order, and an index by item and pricing model.
#[derive(Clone, Debug)]
pub struct PriceTable {
    rows: Vec<PriceRow>,
    index: HashMap<String, [Option<usize>; 4]>,
}

impl PriceTable {
    /// The table shipped with the crate, parsed once.
    pub fn builtin() -> Result<&'static PriceTable, PricingError> {
        static TABLE: OnceLock<Result<PriceTable, PricingError>> = OnceLock::new();
        TABLE
            .get_or_init(|| PriceTable::parse(BUILTIN_CSV))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Parses a price table in the shipped format: a header naming the columns `item`,
    /// `pricing`, `unit`, `usd`, `region`, `as_of` and `source` (in any order; other columns are
    /// allowed and ignored), then one row per (item, pricing), read through the `csv` crate
    /// (RFC 4180 quoting); lines starting with `#` are comments; a ragged row is an error naming
    /// its line.
    pub fn parse(text: &str) -> Result<PriceTable, PricingError> {
        const HEADER: [&str; 7] = [
            "item", "pricing", "unit", "usd", "region", "as_of", "source",
        ];
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .trim(csv::Trim::Headers)
            .from_reader(text.as_bytes());
        let csv_error = |e: &csv::Error| {
            let (line, message) = models::scenario::csv_error(e);
            PricingError::Csv { line, message }
        };
        let headers = reader.headers().map_err(|e| csv_error(&e))?.clone();
        let header_line = headers.position().map_or(1, |p| p.line() as usize);
        if headers.is_empty() {
            return Err(PricingError::Csv {
                line: 1,
                message: "the price table is empty".into(),
            });
        }
        let missing: Vec<&str> = HEADER
            .iter()
            .filter(|h| !headers.iter().any(|c| c == **h))
            .copied()
            .collect();
        if !missing.is_empty() {
            return Err(PricingError::Csv {
                line: header_line,
                message: format!(
                    "expected the header `{}` (missing: {})",
                    HEADER.join(","),
                    missing.join(", ")
                ),
            });
        }
        let mut rows = Vec::new();
        let mut index: HashMap<String, [Option<usize>; 4]> = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(&e))?;
            let line = record.position().map_or(0, |p| p.line() as usize);
            let raw: RawRow = record
                .deserialize(Some(&headers))
                .map_err(|e| csv_error(&e))?;
            let row = parse_row(&raw, line)?;
            let slot = &mut index.entry(row.item.clone()).or_default()[row.pricing.index()];
            if let Some(first) = *slot {
                return Err(PricingError::Csv {
                    line,
                    message: format!(
                        "`{}` has a second {} price (first on line {})",
                        row.item,
                        row.pricing,
                        rows_line(&rows, first)
                    ),
                });
            }
            *slot = Some(rows.len());
            rows.push(row);
        }
        Ok(PriceTable { rows, index })
    }

    pub fn rows(&self) -> &[PriceRow] {
        &self.rows
    }

    /// Whether the table has any price for `item`.
    pub fn has_item(&self, item: &str) -> bool {
        self.index.contains_key(item)
    }

    /// The pricing models `item` has rows for.
    pub fn pricing_models(&self, item: &str) -> Vec<PricingModel> {
        match self.index.get(item) {
            Some(slots) => PricingModel::ALL
                .into_iter()
                .filter(|p| slots[p.index()].is_some())
                .collect(),
            None => Vec::new(),
        }
    }

    /// The row for `item` bought as `pricing`.
    pub fn row(&self, item: &str, pricing: PricingModel) -> Result<&PriceRow, PricingError> {
        let slots = self
            .index
            .get(item)
            .ok_or_else(|| PricingError::UnknownItem {
                item: item.to_string(),
                hint: self.hint_for(item),
            })?;
        match slots[pricing.index()] {
            Some(i) => Ok(&self.rows[i]),
            None => Err(PricingError::NoPrice {
                item: item.to_string(),
                pricing,
                available: self
                    .pricing_models(item)
                    .iter()
                    .map(|p| p.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    /// The price of `item` bought as `pricing`, in USD per `unit`; errors when the table has
    /// no such row or prices the item in another unit.
    pub fn price(
        &self,
        item: &str,
        pricing: PricingModel,
        unit: PriceUnit,
    ) -> Result<f64, PricingError> {
        let row = self.row(item, pricing)?;
        if row.unit != unit {
            return Err(PricingError::UnitMismatch {
                item: item.to_string(),
                expected: unit,
                found: row.unit,
            });
        }
        Ok(row.usd)
    }

    fn hint_for(&self, item: &str) -> String {
        let family = item.rsplit_once('/').map(|(head, _)| head).unwrap_or(item);
        let mut near: Vec<&str> = self
            .index
            .keys()
            .filter(|k| k.starts_with(family) && k.as_str() != item)
            .map(String::as_str)
            .collect();
        near.sort_unstable();
        near.truncate(8);
        if near.is_empty() {
            String::new()
        } else {
            format!("; items it has there: {}", near.join(", "))
        }
    }
}

fn rows_line(rows: &[PriceRow], i: usize) -> usize {
    rows.get(i).map_or(0, |r| r.line)
}

/// One row as the CSV holds it (columns by header name), checked by [`parse_row`].
#[derive(serde::Deserialize)]
struct RawRow {
    item: String,
    pricing: String,
    unit: String,
    usd: String,
    region: String,
    as_of: String,
    source: String,
}

fn parse_row(raw: &RawRow, line: usize) -> Result<PriceRow, PricingError> {
    let csv = |message: String| PricingError::Csv { line, message };
    let item = raw.item.trim();
    if item.is_empty() || item.contains(char::is_whitespace) {
        return Err(csv(format!(
            "item `{item}` must be a non-empty key without spaces"
        )));
    }
    let pricing = PricingModel::parse(raw.pricing.trim()).ok_or_else(|| {
        csv(format!(
            "pricing `{}` is not one of on_demand, spot, committed_1y, committed_3y",
            raw.pricing
        ))
    })?;
    let unit = PriceUnit::parse(raw.unit.trim()).ok_or_else(|| {
        let known: Vec<&str> = PriceUnit::ALL.iter().map(|u| u.as_str()).collect();
        csv(format!(
            "unit `{}` is not one of {}",
            raw.unit,
            known.join(", ")
        ))
    })?;
    let usd: f64 = raw
        .usd
        .trim()
        .parse()
        .map_err(|_| csv(format!("usd `{}` is not a number", raw.usd)))?;
    if !usd.is_finite() || usd < 0.0 {
        return Err(csv(format!(
            "usd `{}` must be a finite price >= 0",
            raw.usd
        )));
    }
    let source = raw.source.trim();
    if source.is_empty() {
        return Err(csv(format!("`{item}` has no source")));
    }
    let as_of = raw.as_of.trim();
    if as_of.is_empty() {
        return Err(csv(format!("`{item}` has no as_of date")));
    }
    Ok(PriceRow {
        item: item.to_string(),
        pricing,
        unit,
        usd,
        region: raw.region.trim().to_string(),
        as_of: as_of.to_string(),
        source: source.to_string(),
        line,
    })
}

/// Builders of the table's item keys, so cost code and tests spell them one way.
pub mod item {
    /// A Compute Engine machine (GKE node or VM), per hour.
    pub fn machine(machine_type: &str) -> String {
        format!("machine/{machine_type}")
    }
    /// An attached GPU (`nvidia-tesla-t4`), per GPU-hour.
    pub fn gpu(gpu_type: &str) -> String {
        format!("gpu/{gpu_type}")
    }
    pub const GKE_CLUSTER_FEE: &str = "gke/cluster_fee";
    /// A persistent disk (`pd-balanced`, `pd-ssd`), per GB-month.
    pub fn disk(disk_type: &str) -> String {
        format!("disk/{disk_type}")
    }
    /// Cloud SQL vCPU or memory (`vcpu`, `memory`), zonal or regional.
    pub fn cloud_sql(resource: &str, regional: bool) -> String {
        format!(
            "cloud_sql/{resource}/{}",
            if regional { "regional" } else { "zonal" }
        )
    }
    pub const CLOUD_SQL_BACKUP: &str = "cloud_sql/backup";
    /// A Memorystore capacity band: `tier` basic or standard, `band` m1..m5.
    pub fn memorystore(tier: &str, band: &str) -> String {
        format!("memorystore/{tier}/{band}")
    }
    /// Firestore `reads`, `writes`, `deletes` or `stored`, at `regional` or `multi_region`.
    pub fn firestore(what: &str, location: &str) -> String {
        format!("firestore/{what}/{location}")
    }
    /// Cloud Storage Standard class at `regional` or `multi_region`.
    pub fn storage(location: &str) -> String {
        format!("storage/standard/{location}")
    }
    /// Cloud Run `cpu` or `memory` under `request` or `instance` billing.
    pub fn cloud_run(resource: &str, billing: &str) -> String {
        format!("cloud_run/{resource}/{billing}")
    }
    pub const CLOUD_RUN_REQUESTS: &str = "cloud_run/requests";
    /// A Pinecone pod type (`p1.x1`), per pod-hour.
    pub fn pinecone(pod_type: &str) -> String {
        format!("pinecone/{pod_type}")
    }
    /// An LLM's `input` or `output` tokens, per million.
    pub fn llm(model: &str, direction: &str) -> String {
        format!("llm/{model}/{direction}")
    }
    /// Internet egress (Premium tier) by monthly volume band.
    pub const EGRESS_TIERS: [&str; 3] = [
        "egress/internet_premium/0-1tib",
        "egress/internet_premium/1-10tib",
        "egress/internet_premium/10tib+",
    ];
}

/// Model names as the seeds and providers spell them, mapped to the table's key.
pub fn llm_model_key(model: &str) -> &str {
    match model {
        "gemini-pro" | "gemini-1.0-pro-001" | "gemini-1.0-pro-002" => "gemini-1.0-pro",
        "claude-3-sonnet-20240229" | "claude-3-sonnet@20240229" => "claude-3-sonnet",
        "gpt-4-0613" | "gpt-4-8k" => "gpt-4",
        "huggingface" => "huggingface-cloud-run",
        other => other,
    }
}

/// Sustained-use discounts (README "Discount rules"): an on-demand N1 machine running part of a
/// month is billed each successive quarter of the month at a falling rate, 100 %, 80 %, 60 %,
/// 40 % of list, so a full month costs 0.7 x list (-30 %). They apply to on-demand N1 vCPU and
/// memory only: not to spot, not on top of committed use, and not to E2. N2's (max -20 %) is not
/// encoded since the table holds no N2 price.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SustainedUse {
    /// The rate of each quarter of the month, as a fraction of list.
    pub quarter_rates: [f64; 4],
}

impl SustainedUse {
    pub const N1: SustainedUse = SustainedUse {
        quarter_rates: [1.0, 0.8, 0.6, 0.4],
    };

    /// The schedule of a machine series bought as `pricing`, if it earns one.
    pub fn for_machine(family: MachineFamily, pricing: PricingModel) -> Option<SustainedUse> {
        match (family, pricing) {
            (MachineFamily::N1, PricingModel::OnDemand) => Some(SustainedUse::N1),
            _ => None,
        }
    }

    /// What an instance running `fraction` (0..=1) of the month costs, in months of list price:
    /// the integral of the quarter rates from 0 to `fraction`. `billed(1.0)` is 0.7 for N1.
    pub fn billed(&self, fraction: f64) -> f64 {
        let f = fraction.clamp(0.0, 1.0);
        self.quarter_rates
            .iter()
            .enumerate()
            .map(|(q, rate)| {
                let start = q as f64 * 0.25;
                rate * (f - start).clamp(0.0, 0.25)
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> &'static PriceTable {
        PriceTable::builtin().expect("the shipped price table parses")
    }

    #[test]
    fn builtin_table_parses_with_a_source_and_date_on_every_row() {
        let t = builtin();
        assert!(t.rows().len() > 80, "{}", t.rows().len());
        for r in t.rows() {
            assert!(
                !r.source.is_empty() && !r.as_of.is_empty(),
                "line {}",
                r.line
            );
        }
    }

    #[test]
    fn machine_prices_match_the_pricing_readme() {
        let t = builtin();
        let h = PriceUnit::Hour;
        let n1s4 = item::machine("n1-standard-4");
        assert_eq!(t.price(&n1s4, PricingModel::OnDemand, h), Ok(0.189999));
        assert_eq!(t.price(&n1s4, PricingModel::Spot, h), Ok(0.06701));
        assert_eq!(t.price(&n1s4, PricingModel::Committed1y, h), Ok(0.1197));
        assert_eq!(t.price(&n1s4, PricingModel::Committed3y, h), Ok(0.0855));
        let hm8 = item::machine("n1-highmem-8");
        assert_eq!(t.price(&hm8, PricingModel::OnDemand, h), Ok(0.473212));
        let t4 = item::gpu("nvidia-tesla-t4");
        assert_eq!(
            t.price(&t4, PricingModel::OnDemand, PriceUnit::GpuHour),
            Ok(0.35)
        );
        assert_eq!(
            t.price(&t4, PricingModel::Committed3y, PriceUnit::GpuHour),
            Ok(0.16)
        );
    }

    #[test]
    fn regional_cloud_sql_rows_are_twice_the_zonal_ones() {
        let t = builtin();
        for res in ["vcpu", "memory"] {
            for p in [
                PricingModel::OnDemand,
                PricingModel::Committed1y,
                PricingModel::Committed3y,
            ] {
                let zonal = t.row(&item::cloud_sql(res, false), p).expect("zonal").usd;
                let regional = t.row(&item::cloud_sql(res, true), p).expect("regional").usd;
                assert!((regional - 2.0 * zonal).abs() < 1e-12, "{res} {p}");
            }
        }
        // db-custom-8-32768 regional HA: 8 x 0.0826 + 32 x 0.014 = 1.1088 (README's derived row)
        let vcpu = t
            .row("cloud_sql/vcpu/regional", PricingModel::OnDemand)
            .expect("v")
            .usd;
        let mem = t
            .row("cloud_sql/memory/regional", PricingModel::OnDemand)
            .expect("m")
            .usd;
        assert!((8.0 * vcpu + 32.0 * mem - 1.1088).abs() < 1e-12);
        let vcpu1 = t
            .row("cloud_sql/vcpu/regional", PricingModel::Committed1y)
            .expect("v")
            .usd;
        let mem1 = t
            .row("cloud_sql/memory/regional", PricingModel::Committed1y)
            .expect("m")
            .usd;
        assert!((8.0 * vcpu1 + 32.0 * mem1 - 0.8316).abs() < 1e-12);
    }

    #[test]
    fn committed_discounts_match_the_readme_rules() {
        let t = builtin();
        for m in [
            "n1-standard-4",
            "n1-standard-8",
            "n1-standard-16",
            "n1-highmem-8",
        ] {
            let key = item::machine(m);
            let od = t.row(&key, PricingModel::OnDemand).expect("od").usd;
            let y1 = t.row(&key, PricingModel::Committed1y).expect("1y").usd;
            let y3 = t.row(&key, PricingModel::Committed3y).expect("3y").usd;
            assert!(
                (1.0 - y1 / od - 0.37).abs() < 0.005,
                "{m} 1y {}",
                1.0 - y1 / od
            );
            assert!(
                (1.0 - y3 / od - 0.55).abs() < 0.005,
                "{m} 3y {}",
                1.0 - y3 / od
            );
        }
        let m3 = item::memorystore("basic", "m3");
        assert_eq!(
            t.price(&m3, PricingModel::Committed1y, PriceUnit::GbHour),
            Ok(0.0184)
        );
        assert_eq!(
            t.price(&m3, PricingModel::Committed3y, PriceUnit::GbHour),
            Ok(0.0138)
        );
    }

    #[test]
    fn missing_prices_and_units_error_clearly() {
        let t = builtin();
        let err = t
            .price(
                "cloud_sql/vcpu/zonal",
                PricingModel::Spot,
                PriceUnit::VcpuHour,
            )
            .expect_err("no spot Cloud SQL");
        let text = err.to_string();
        assert!(
            text.contains("no spot price") && text.contains("on_demand, committed_1y"),
            "{text}"
        );
        let err = t
            .price(
                "machine/e2-standard-4",
                PricingModel::OnDemand,
                PriceUnit::Hour,
            )
            .expect_err("no e2 prices");
        assert!(err.to_string().contains("machine/n1-standard-4"), "{err}");
        let err = t
            .price(
                "machine/n1-standard-4",
                PricingModel::OnDemand,
                PriceUnit::GpuHour,
            )
            .expect_err("unit");
        assert!(matches!(err, PricingError::UnitMismatch { .. }), "{err}");
    }

    #[test]
    fn parse_rejects_bad_tables_with_the_line() {
        let head = "item,pricing,unit,usd,region,as_of,source\n";
        let cases = [
            ("a,b\n", "expected the header"),
            (
                "machine/x,on_demand,hour,1,r,2024,s\nmachine/x,on_demand,hour,2,r,2024,s\n",
                "line 3",
            ),
            (
                "machine/x,sometimes,hour,1,r,2024,s\n",
                "pricing `sometimes`",
            ),
            (
                "machine/x,on_demand,fortnight,1,r,2024,s\n",
                "unit `fortnight`",
            ),
            ("machine/x,on_demand,hour,-1,r,2024,s\n", "finite price"),
            ("machine/x,on_demand,hour,1,r,2024,\n", "no source"),
            // An unterminated quote swallows the rest of the line: a ragged row, at its line.
            (
                "machine/x,on_demand,hour,1,\"r,2024,s\n",
                "line 2: a row of 5 field(s) where the first row has 7",
            ),
            (
                "machine/x,on_demand,hour,1,r,2024,s\nmachine/y,spot,hour\n",
                "line 3: a row of 3 field(s) where the first row has 7",
            ),
        ];
        for (body, want) in cases {
            let text = if body.starts_with("a,b") {
                body.to_string()
            } else {
                format!("{head}{body}")
            };
            let err = PriceTable::parse(&text).expect_err(body).to_string();
            assert!(err.contains(want), "{body:?}: {err}");
        }
        let ok = PriceTable::parse(&format!(
            "# comment\n{head}machine/x,on_demand,hour,1.5,\"a, b\",2024,\"say \"\"hi\"\"\"\n"
        ))
        .expect("valid");
        assert_eq!(ok.rows()[0].region, "a, b");
        assert_eq!(ok.rows()[0].source, "say \"hi\"");
        // Columns by name: another order and an extra column read the same rows.
        let reordered = PriceTable::parse(
            "source,item,note,pricing,unit,usd,region,as_of\n\"say \"\"hi\"\"\",machine/x,extra,on_demand,hour,1.5,\"a, b\",2024\n",
        )
        .expect("valid");
        assert_eq!(reordered.rows()[0].source, "say \"hi\"");
        assert_eq!(reordered.rows()[0].region, "a, b");
        assert_eq!(reordered.rows()[0].line, 2);
        let err = PriceTable::parse("item,pricing,unit,usd\n").expect_err("columns missing");
        assert!(
            err.to_string().contains("missing: region, as_of, source"),
            "{err}"
        );
    }

    #[test]
    fn sustained_use_schedule() {
        let sud = SustainedUse::N1;
        assert!((sud.billed(1.0) - 0.7).abs() < 1e-12);
        assert!((sud.billed(0.25) - 0.25).abs() < 1e-12);
        assert!((sud.billed(0.5) - 0.45).abs() < 1e-12);
        assert!((sud.billed(0.75) - 0.6).abs() < 1e-12);
        assert_eq!(sud.billed(0.0), 0.0);
        assert!(SustainedUse::for_machine(MachineFamily::N1, PricingModel::Spot).is_none());
        assert!(SustainedUse::for_machine(MachineFamily::E2, PricingModel::OnDemand).is_none());
    }

    #[test]
    fn pricing_model_serde_names() {
        for p in PricingModel::ALL {
            let json = serde_json::to_string(&p).expect("ser");
            assert_eq!(json, format!("\"{}\"", p.as_str()));
            assert_eq!(serde_json::from_str::<PricingModel>(&json).expect("de"), p);
        }
        assert_eq!(llm_model_key("gemini-pro"), "gemini-1.0-pro");
        assert_eq!(llm_model_key("gpt-4o"), "gpt-4o");
    }
}
