//! Capacity-planning sweeps as pure logic: the grid of `--vary PATH=V1,V2,...` dimensions and
//! its points, `--shard I/N` partitions of it, one [`SweepRow`] per point from its run summary,
//! the choice of the cheapest point that meets every SLO, the cost-latency frontier, and the
//! merge of shards' rows into what one unsharded sweep would have produced.
//!
//! No I/O here: `twin sweep` and `twin merge` (the binary) load scenarios, simulate and write;
//! `reports::frontier` renders `sweep.csv`, the frontier chart and the report section.
//!
//! Rollout plans: a sweep that varies a rollout's steps (`--vary rollouts.0.steps.0.pause=...`)
//! can pick, instead of the cheapest point, the fastest plan whose worst-case damage stays
//! within bounds (`--pick fastest --bound damage_share<=0.3%`): [`PickRule`]. Fastest is the
//! plan's own time to promote a version that passes (its pauses summed, then the measured
//! duration); worst case is the worst replication (the maximum over the replications, not the
//! upper end of the mean's interval: the bound is a promise about one release).
//!
//! Cost: a point is priced by its summary's `cost.monthly_usd` when every row of the sweep has
//! one ([`CostBasis::MonthlyUsd`]). Otherwise the sweep ranks by the replicas the point ran,
//! summed over services (time-averaged, so autoscaled services count what they used):
//! [`CostBasis::Replicas`], a proxy that says so in every output.

use crate::slo::{Comparison, Slo, SloMetric};
use crate::summary::RunSummary;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::fmt;

/// A point's parameters: varied path -> value as written, in dimension order.
pub type Parameters = IndexMap<String, String>;

/// One `--vary PATH=V1,V2,...`: a scenario path and the values it takes, as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    pub path: String,
    pub values: Vec<String>,
}

impl Dimension {
    /// Parses `PATH=V1,V2,...`. Values are split at top-level commas only, so a value may be a
    /// YAML flow collection: `services.api.service_time={exponential: {mean: 50ms}},{constant: 50ms}`.
    pub fn parse(text: &str) -> Result<Dimension, String> {
        let (path, values) = text.split_once('=').ok_or_else(|| {
            format!("`--vary {text}`: expected PATH=V1,V2,..., e.g. services.api.replicas=1,2,3")
        })?;
        let path = path.trim();
        if crate::load::parse_path(path).is_none() {
            return Err(format!(
                "`--vary {text}`: `{path}` is not a path such as services.api.replicas or \
                 workload.journeys[0].weight"
            ));
        }
        let values = split_top_level(values)
            .map_err(|e| format!("`--vary {text}`: {e}"))?
            .into_iter()
            .map(|v| v.trim().to_string())
            .collect::<Vec<_>>();
        if let Some(i) = values.iter().position(String::is_empty) {
            return Err(format!(
                "`--vary {text}`: value {} is empty (expected PATH=V1,V2,...)",
                i + 1
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = values.iter().find(|v| !seen.insert(v.as_str())) {
            return Err(format!("`--vary {text}`: the value `{dup}` is given twice"));
        }
        Ok(Dimension {
            path: path.to_string(),
            values,
        })
    }
}

/// Splits at commas outside brackets, braces and quotes.
fn split_top_level(s: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth: i32 = 0;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '{' | '[') => depth += 1,
            (None, '}' | ']') => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("unbalanced `{c}`"));
                }
            }
            (None, ',') if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 || quote.is_some() {
        return Err("unbalanced brackets or quotes".into());
    }
    parts.push(&s[start..]);
    Ok(parts)
}

/// The cartesian product of the dimensions. Points are numbered from 0 in the order of nested
/// loops written in `--vary` order: the first dimension varies slowest, the last fastest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grid {
    pub dimensions: Vec<Dimension>,
}

impl Grid {
    /// A grid from its dimensions; two dimensions may not vary the same path.
    pub fn new(dimensions: Vec<Dimension>) -> Result<Grid, String> {
        if dimensions.is_empty() {
            return Err("a sweep needs at least one --vary PATH=V1,V2,...".into());
        }
        for (i, d) in dimensions.iter().enumerate() {
            if dimensions[..i].iter().any(|e| e.path == d.path) {
                return Err(format!("--vary {} is given twice", d.path));
            }
        }
        Ok(Grid { dimensions })
    }

    /// Number of points (the product of the dimensions' sizes).
    pub fn len(&self) -> usize {
        self.dimensions.iter().map(|d| d.values.len()).product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The parameters of point `index` (`path -> value`, in dimension order); `None` past the
    /// end of the grid.
    pub fn point(&self, index: usize) -> Option<IndexMap<String, String>> {
        if index >= self.len() {
            return None;
        }
        let mut rest = index;
        let mut picks = vec![0; self.dimensions.len()];
        for (k, d) in self.dimensions.iter().enumerate().rev() {
            picks[k] = rest % d.values.len();
            rest /= d.values.len();
        }
        Some(
            self.dimensions
                .iter()
                .zip(picks)
                .map(|(d, i)| (d.path.clone(), d.values[i].clone()))
                .collect(),
        )
    }

    /// The point indices a shard runs, ascending.
    pub fn shard_points(&self, shard: Shard) -> Vec<usize> {
        (0..self.len()).filter(|&i| shard.runs(i)).collect()
    }
}

/// `--shard I/N`: this worker runs the points whose index modulo `count` is `index` (from 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// The whole grid: shard 0 of 1.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`--shard {text}`: expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    pub fn runs(self, point: usize) -> bool {
        point % self.count == self.index
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What the sweep ranks points by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CostBasis {
    /// The summary's `cost.monthly_usd`.
    MonthlyUsd,
    /// A proxy while summaries carry no cost: replicas summed over services.
    Replicas,
}

impl CostBasis {
    /// How the basis reads in a table heading or on a chart axis.
    pub fn label(self) -> &'static str {
        match self {
            CostBasis::MonthlyUsd => "monthly cost (USD)",
            CostBasis::Replicas => {
                "replicas, summed over services (proxy: no cost in the summaries)"
            }
        }
    }

    /// A short axis label.
    pub fn axis(self) -> &'static str {
        match self {
            CostBasis::MonthlyUsd => "monthly cost (USD)",
            CostBasis::Replicas => "replicas (cost proxy)",
        }
    }
}

/// One SLO at one point: what was observed, its 95 % confidence interval where the summary has
/// one (mean and p95 latencies), the verdict and the room left.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SloCell {
    pub name: String,
    pub observed: Option<f64>,
    pub ci95: Option<[f64; 2]>,
    pub bound: f64,
    pub met: bool,
    /// Room left before the bound, in the metric's unit (positive: met with room; negative:
    /// missed by that much); `None` when not measured.
    pub margin: Option<f64>,
    /// `margin` over the bound (0.25: a quarter of the bound to spare); `None` for a zero bound.
    pub margin_ratio: Option<f64>,
}

/// One grid point's outcome: a row of `sweep.csv` and of `sweep.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRow {
    pub point: usize,
    pub parameters: IndexMap<String, String>,
    pub slos: Vec<SloCell>,
    pub all_slos_met: bool,
    /// `cost.monthly_usd` of the point's summary, when it has one.
    pub monthly_cost_usd: Option<f64>,
    /// Mean replicas summed over services (the cost proxy).
    pub replicas: f64,
    /// p95 of the frontier journey (see [`frontier_journey`]), milliseconds.
    pub p95_ms: Option<f64>,
    /// The point's rollouts (none without `rollouts:`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<RolloutCell>,
}

/// One rollout at one sweep point: how its plan did over the replications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutCell {
    pub name: String,
    pub outcome: crate::rollout::Outcome,
    pub promoted: u32,
    pub rolled_back: u32,
    pub in_progress: u32,
    /// The plan's pauses summed: its time to promote a version that passes.
    pub planned_pause_s: f64,
    /// Mean start-to-done time over the replications that finished (see
    /// `RolloutSummary::duration_s`).
    pub duration_s: Option<f64>,
    pub decided_at_s: Option<f64>,
    /// Failed visits of the new version over journeys started: mean and worst replication.
    pub damage_share: f64,
    pub worst_damage_share: f64,
    pub errors_new: f64,
    pub worst_errors_new: u64,
}

impl RolloutCell {
    fn of(r: &crate::rollout::RolloutSummary) -> RolloutCell {
        RolloutCell {
            name: r.name.clone(),
            outcome: r.outcome,
            promoted: r.outcomes.promoted,
            rolled_back: r.outcomes.rolled_back,
            in_progress: r.outcomes.in_progress,
            planned_pause_s: r.planned_pause_s,
            duration_s: r.duration_s,
            decided_at_s: r.decided_at_s,
            damage_share: r.damage_share,
            worst_damage_share: r.worst_damage_share,
            errors_new: r.errors_new,
            worst_errors_new: r.worst_errors_new,
        }
    }
}

/// Which point a sweep reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// The cheapest point that meets every SLO.
    #[default]
    Cheapest,
    /// The fastest rollout plan whose worst-case damage stays within every `--bound`.
    Fastest,
}

impl Pick {
    pub fn parse(text: &str) -> Result<Pick, String> {
        match text.trim() {
            "cheapest" => Ok(Pick::Cheapest),
            "fastest" => Ok(Pick::Fastest),
            other => Err(format!(
                "`--pick {other}`: expected `cheapest` (the cheapest point that meets every \
                 SLO) or `fastest` (the fastest rollout plan within its --bound)"
            )),
        }
    }
}

/// What a rollout bound limits, in the worst replication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DamageMetric {
    /// Failed visits of the new version over journeys started (`damage_share`).
    DamageShare,
    /// Failed visits of the new version (`errors_new`), a count.
    ErrorsNew,
}

/// `--bound METRIC<=VALUE`: every rollout's worst replication must stay at or below `limit`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RolloutBound {
    pub metric: DamageMetric,
    pub limit: f64,
}

impl RolloutBound {
    /// Parses `damage_share<=0.3%` (a share: `%` or a fraction) or `errors_new<=20`.
    pub fn parse(text: &str) -> Result<RolloutBound, String> {
        let bad = |why: &str| {
            format!("`--bound {text}`: {why} (expected `damage_share<=0.3%` or `errors_new<=20`)")
        };
        let (name, value) = text
            .split_once("<=")
            .ok_or_else(|| bad("no `<=` between the metric and its limit"))?;
        let metric = match name.trim() {
            "damage_share" => DamageMetric::DamageShare,
            "errors_new" => DamageMetric::ErrorsNew,
            other => return Err(bad(&format!("unknown metric `{other}`"))),
        };
        let value = value.trim();
        let limit = match (metric, value.strip_suffix('%')) {
            (DamageMetric::DamageShare, Some(pct)) => pct.trim().parse::<f64>().map(|v| v / 100.0),
            (_, None) => value.parse::<f64>(),
            (DamageMetric::ErrorsNew, Some(_)) => {
                return Err(bad("errors_new is a count, not a percentage"))
            }
        }
        .map_err(|_| bad(&format!("`{value}` is not a number")))?;
        if !(limit.is_finite() && limit >= 0.0)
            || (metric == DamageMetric::DamageShare && limit > 1.0)
        {
            return Err(bad(&format!("`{value}` is out of range")));
        }
        Ok(RolloutBound { metric, limit })
    }

    /// The worst replication's value of `cell`.
    pub fn worst(&self, cell: &RolloutCell) -> f64 {
        match self.metric {
            DamageMetric::DamageShare => cell.worst_damage_share,
            DamageMetric::ErrorsNew => cell.worst_errors_new as f64,
        }
    }

    /// The worst value over the limit (<= 1 is within).
    fn ratio(&self, cell: &RolloutCell) -> f64 {
        let w = self.worst(cell);
        if self.limit > 0.0 {
            w / self.limit
        } else if w > 0.0 {
            f64::INFINITY
        } else {
            0.0
        }
    }
}

impl fmt::Display for RolloutBound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.metric {
            DamageMetric::DamageShare => write!(f, "damage_share <= {}%", self.limit * 100.0),
            DamageMetric::ErrorsNew => write!(f, "errors_new <= {}", self.limit),
        }
    }
}

/// How a sweep chooses its point: the pick and the rollout bounds it judges.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PickRule {
    #[serde(default)]
    pub pick: Pick,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bounds: Vec<RolloutBound>,
}

impl PickRule {
    /// Whether every rollout of `row` stays within every bound in its worst replication. A
    /// row with no rollout has no evidence: not within.
    pub fn within_bounds(&self, row: &SweepRow) -> bool {
        !row.rollouts.is_empty()
            && row
                .rollouts
                .iter()
                .all(|c| self.bounds.iter().all(|b| b.worst(c) <= b.limit))
    }

    /// How far the row's worst rollout is over its tightest bound (<= 1: within).
    fn worst_ratio(&self, row: &SweepRow) -> f64 {
        if row.rollouts.is_empty() {
            return f64::INFINITY;
        }
        row.rollouts
            .iter()
            .flat_map(|c| self.bounds.iter().map(move |b| b.ratio(c)))
            .fold(0.0, f64::max)
    }

    /// The order in which points are preferred under this rule (a total order, so that the
    /// best of a sweep is the best of its shards' bests). Cheapest: [`preference`]. Fastest:
    /// within bounds first; then the shortest plan (pauses summed over the rollouts), the
    /// shortest measured duration, the cheapest, the lowest index; among points outside the
    /// bounds, the least over them first.
    pub fn preference(&self, a: &SweepRow, b: &SweepRow, basis: CostBasis) -> Ordering {
        if self.pick == Pick::Cheapest {
            return preference(a, b, basis);
        }
        let (wa, wb) = (self.within_bounds(a), self.within_bounds(b));
        let planned = |r: &SweepRow| r.rollouts.iter().map(|c| c.planned_pause_s).sum::<f64>();
        let duration = |r: &SweepRow| {
            r.rollouts
                .iter()
                .map(|c| c.duration_s.unwrap_or(f64::INFINITY))
                .fold(0.0, f64::max)
        };
        wb.cmp(&wa)
            .then_with(|| {
                if wa {
                    Ordering::Equal
                } else {
                    self.worst_ratio(a).total_cmp(&self.worst_ratio(b))
                }
            })
            .then_with(|| planned(a).total_cmp(&planned(b)))
            .then_with(|| duration(a).total_cmp(&duration(b)))
            .then_with(|| a.price(basis).total_cmp(&b.price(basis)))
            .then_with(|| a.point.cmp(&b.point))
    }
}

impl SweepRow {
    /// The row of point `point` from its run summary.
    pub fn from_summary(
        point: usize,
        parameters: IndexMap<String, String>,
        summary: &RunSummary,
        frontier_journey: Option<&str>,
    ) -> SweepRow {
        let slos = summary
            .slos
            .iter()
            .map(|v| {
                let parsed = Slo::parse(&v.name).ok();
                let ci95 = parsed.as_ref().and_then(|slo| {
                    let j = summary.journeys.get(slo.journey()?)?;
                    match slo.metric {
                        SloMetric::Percentile(95.0) => j.ci95_ms.p95,
                        SloMetric::Mean => j.ci95_ms.mean,
                        _ => None,
                    }
                });
                let comparison = parsed.map_or(Comparison::Below, |s| s.comparison);
                let margin = v.observed.map(|o| match comparison {
                    Comparison::Below | Comparison::AtMost => v.bound - o,
                    Comparison::Above | Comparison::AtLeast => o - v.bound,
                });
                SloCell {
                    name: v.name.clone(),
                    observed: v.observed,
                    ci95,
                    bound: v.bound,
                    met: v.met,
                    margin,
                    margin_ratio: margin.filter(|_| v.bound != 0.0).map(|m| m / v.bound.abs()),
                }
            })
            .collect();
        SweepRow {
            point,
            parameters,
            slos,
            all_slos_met: summary.all_slos_met(),
            monthly_cost_usd: summary.cost.as_ref().map(|c| c.monthly_usd),
            replicas: summary.services.values().map(|s| s.replicas.mean).sum(),
            p95_ms: frontier_journey
                .and_then(|j| summary.journeys.get(j))
                .map(|j| j.latency_ms.p95),
            rollouts: summary.rollouts.iter().map(RolloutCell::of).collect(),
        }
    }

    /// The row's price on `basis` (infinite when the basis is cost and the row has none).
    pub fn price(&self, basis: CostBasis) -> f64 {
        match basis {
            CostBasis::MonthlyUsd => self.monthly_cost_usd.unwrap_or(f64::INFINITY),
            CostBasis::Replicas => self.replicas,
        }
    }

    fn slos_met(&self) -> usize {
        self.slos.iter().filter(|s| s.met).count()
    }
}

/// The journey the frontier chart plots the p95 of: the journey of the first p95 SLO, else of
/// the first latency SLO, else the first journey. Taken from the scenario (not a point's
/// summary) so that every shard of a sweep picks the same one.
pub fn frontier_journey(slos: &[Slo], journeys: &[&str]) -> Option<String> {
    let by = |want: &dyn Fn(&SloMetric) -> bool| {
        slos.iter()
            .filter(|s| want(&s.metric))
            .find_map(|s| s.journey().map(str::to_string))
    };
    by(&|m| *m == SloMetric::Percentile(95.0))
        .or_else(|| {
            by(&|m| {
                matches!(
                    m,
                    SloMetric::Percentile(_) | SloMetric::Mean | SloMetric::Max
                )
            })
        })
        .or_else(|| journeys.first().map(|j| j.to_string()))
}

/// Monthly cost when every row has one, else the replica proxy.
pub fn cost_basis(rows: &[SweepRow]) -> CostBasis {
    if !rows.is_empty() && rows.iter().all(|r| r.monthly_cost_usd.is_some()) {
        CostBasis::MonthlyUsd
    } else {
        CostBasis::Replicas
    }
}

/// The order in which points are preferred: those that meet every SLO first, then those that
/// meet more SLOs, then the cheapest on `basis`, then the lowest p95 of the frontier journey,
/// then the lowest point index. A total order, so the best of a sweep is the best of its
/// shards' bests.
pub fn preference(a: &SweepRow, b: &SweepRow, basis: CostBasis) -> Ordering {
    b.all_slos_met
        .cmp(&a.all_slos_met)
        .then_with(|| b.slos_met().cmp(&a.slos_met()))
        .then_with(|| a.price(basis).total_cmp(&b.price(basis)))
        .then_with(|| {
            let p95 = |r: &SweepRow| r.p95_ms.filter(|v| v.is_finite()).unwrap_or(f64::INFINITY);
            p95(a).total_cmp(&p95(b))
        })
        .then_with(|| a.point.cmp(&b.point))
}

/// The point a sweep reports: the cheapest that meets every SLO, or when none does the one
/// closest to it (see [`preference`]). `None` only for no rows.
pub fn best(rows: &[SweepRow], basis: CostBasis) -> Option<&SweepRow> {
    rows.iter().min_by(|a, b| preference(a, b, basis))
}

/// The cheapest point that meets every SLO, if any.
pub fn cheapest_passing(rows: &[SweepRow], basis: CostBasis) -> Option<&SweepRow> {
    best(rows, basis).filter(|r| r.all_slos_met)
}

/// The points on the cost-latency frontier: those that no other point beats on both price and
/// p95 (rows without a p95 are left out), in order of increasing price.
pub fn frontier(rows: &[SweepRow], basis: CostBasis) -> Vec<usize> {
    let mut candidates: Vec<&SweepRow> = rows
        .iter()
        .filter(|r| r.p95_ms.is_some_and(f64::is_finite) && r.price(basis).is_finite())
        .collect();
    candidates.sort_by(|a, b| {
        a.price(basis)
            .total_cmp(&b.price(basis))
            .then_with(|| a.p95_ms.unwrap_or(0.0).total_cmp(&b.p95_ms.unwrap_or(0.0)))
            .then_with(|| a.point.cmp(&b.point))
    });
    let mut out = Vec::new();
    let mut best_p95 = f64::INFINITY;
    for r in candidates {
        let p95 = r.p95_ms.unwrap_or(f64::INFINITY);
        if p95 < best_p95 {
            best_p95 = p95;
            out.push(r.point);
        }
    }
    out
}

/// The chosen point of a sweep with its margin per SLO (`summary.json`'s `sweep` section and
/// `sweep.json`'s `chosen`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Chosen {
    pub point: usize,
    pub parameters: IndexMap<String, String>,
    /// True when the point meets every SLO; false when none does and this is the closest.
    pub meets_every_slo: bool,
    pub cost_basis: CostBasis,
    pub price: f64,
    pub margins: Vec<SloCell>,
    /// Under `--pick fastest`: whether its rollouts stay within every bound (false: no point
    /// does and this is the closest). Absent under `cheapest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_bounds: Option<bool>,
    /// Under `--pick fastest`: the point's rollouts (plan, duration, worst damage).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rollouts: Vec<RolloutCell>,
}

impl Chosen {
    pub fn of(row: &SweepRow, basis: CostBasis) -> Chosen {
        Chosen {
            point: row.point,
            parameters: row.parameters.clone(),
            meets_every_slo: row.all_slos_met,
            cost_basis: basis,
            price: row.price(basis),
            margins: row.slos.clone(),
            within_bounds: None,
            rollouts: Vec::new(),
        }
    }

    /// The point `rule` prefers among `rows`.
    pub fn by_rule(rows: &[SweepRow], basis: CostBasis, rule: &PickRule) -> Option<Chosen> {
        let row = rows.iter().min_by(|a, b| rule.preference(a, b, basis))?;
        let mut c = Chosen::of(row, basis);
        if rule.pick == Pick::Fastest {
            c.within_bounds = Some(rule.within_bounds(row));
            c.rollouts = row.rollouts.clone();
        }
        Some(c)
    }
}

/// A sweep's table, `sweep.json`: the grid, the rows of the points run, and the point chosen.
/// A shard's table holds its points only; merged shards give the unsharded table exactly.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepTable {
    pub scenario: String,
    pub seed: u64,
    pub replications: u32,
    pub grid: Grid,
    /// Points in the whole grid (a shard runs some of them).
    pub points: usize,
    /// The shard this table covers; absent for a whole (or merged) sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    pub cost_basis: CostBasis,
    /// The journey whose p95 the rows' `p95_ms` and the frontier chart show.
    pub frontier_journey: Option<String>,
    pub rows: Vec<SweepRow>,
    /// The cheapest point that meets every SLO, or the closest one when none does.
    pub chosen: Option<Chosen>,
    /// The points on the cost-p95 frontier, cheapest first.
    pub frontier: Vec<usize>,
    /// How `chosen` was chosen (absent: the cheapest point that meets every SLO).
    #[serde(default, skip_serializing_if = "PickRule::is_default")]
    pub rule: PickRule,
}

impl PickRule {
    fn is_default(&self) -> bool {
        *self == PickRule::default()
    }
}

impl SweepTable {
    /// A table from rows in any order (they are sorted by point); chooses and draws the
    /// frontier.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        scenario: String,
        seed: u64,
        replications: u32,
        grid: Grid,
        shard: Option<Shard>,
        frontier_journey: Option<String>,
        mut rows: Vec<SweepRow>,
    ) -> SweepTable {
        rows.sort_by_key(|r| r.point);
        let basis = cost_basis(&rows);
        let chosen = best(&rows, basis).map(|r| Chosen::of(r, basis));
        let frontier = frontier(&rows, basis);
        SweepTable {
            scenario,
            seed,
            replications,
            points: grid.len(),
            grid,
            shard: shard.filter(|s| *s != Shard::WHOLE),
            cost_basis: basis,
            frontier_journey,
            rows,
            chosen,
            frontier,
            rule: PickRule::default(),
        }
    }

    /// The table with its point chosen by `rule` instead.
    pub fn with_rule(mut self, rule: PickRule) -> SweepTable {
        self.chosen = Chosen::by_rule(&self.rows, self.cost_basis, &rule);
        self.rule = rule;
        self
    }

    /// True when the chosen point answers the sweep's question (exit status 0): it meets every
    /// SLO, or under `--pick fastest` its rollouts stay within every bound.
    pub fn some_point_passes(&self) -> bool {
        self.chosen.as_ref().is_some_and(|c| match self.rule.pick {
            Pick::Cheapest => c.meets_every_slo,
            Pick::Fastest => c.within_bounds == Some(true),
        })
    }

    /// The shards' tables joined into the whole sweep's. Every shard must come from the same
    /// sweep (scenario, seed, replications, grid, shard count), and together they must cover
    /// every point exactly once.
    pub fn merge(shards: Vec<SweepTable>) -> Result<SweepTable, String> {
        let first = shards.first().ok_or("nothing to merge")?;
        let count = first.shard.map_or(1, |s| s.count);
        for t in &shards {
            let same = t.scenario == first.scenario
                && t.seed == first.seed
                && t.replications == first.replications
                && t.grid == first.grid
                && t.frontier_journey == first.frontier_journey
                && t.rule == first.rule;
            if !same {
                return Err(format!(
                    "the shards come from different sweeps (scenario `{}` seed {} vs `{}` seed \
                     {}, or a different grid or replications)",
                    first.scenario, first.seed, t.scenario, t.seed
                ));
            }
            let n = t.shard.map_or(1, |s| s.count);
            if n != count {
                return Err(format!(
                    "the shards split the grid differently ({count} and {n} shards)"
                ));
            }
        }
        let mut owner: Vec<Option<usize>> = vec![None; first.points];
        for (k, t) in shards.iter().enumerate() {
            let shard = t.shard.unwrap_or(Shard::WHOLE);
            if let Some(j) = shards[..k]
                .iter()
                .position(|u| u.shard.unwrap_or(Shard::WHOLE) == shard)
            {
                return Err(format!(
                    "shard {shard} is given twice (folders {} and {})",
                    j + 1,
                    k + 1
                ));
            }
            for r in &t.rows {
                if !shard.runs(r.point) || r.point >= first.points {
                    return Err(format!(
                        "shard {shard} holds point {}, not one of its own",
                        r.point
                    ));
                }
                if owner[r.point].replace(k).is_some() {
                    return Err(format!("point {} appears twice", r.point));
                }
            }
        }
        let missing: Vec<usize> = (0..first.points).filter(|&i| owner[i].is_none()).collect();
        if !missing.is_empty() {
            let shown: Vec<String> = missing.iter().take(10).map(ToString::to_string).collect();
            let absent: Vec<String> = (0..count)
                .filter(|i| {
                    !shards
                        .iter()
                        .any(|t| t.shard.unwrap_or(Shard::WHOLE).index == *i)
                })
                .map(|i| format!("{i}/{count}"))
                .collect();
            return Err(format!(
                "{} of {} points are missing (points {}{}); shards not given: {}",
                missing.len(),
                first.points,
                shown.join(", "),
                if missing.len() > 10 { ", ..." } else { "" },
                if absent.is_empty() {
                    "none (a shard folder is incomplete)".to_string()
                } else {
                    absent.join(", ")
                }
            ));
        }
        let head = first.clone();
        let rows = shards.into_iter().flat_map(|t| t.rows).collect();
        Ok(SweepTable::new(
            head.scenario,
            head.seed,
            head.replications,
            head.grid,
            None,
            head.frontier_journey,
            rows,
        )
        .with_rule(head.rule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dim(path: &str, values: &[&str]) -> Dimension {
        Dimension {
            path: path.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn parses_dimensions_with_flow_values() {
        let d = Dimension::parse("services.api.replicas=1, 2,3").unwrap();
        assert_eq!(d, dim("services.api.replicas", &["1", "2", "3"]));
        let d = Dimension::parse(
            "services.api.service_time={exponential: {mean: 50ms}},{constant: 50ms}",
        )
        .unwrap();
        assert_eq!(
            d.values,
            vec!["{exponential: {mean: 50ms}}", "{constant: 50ms}"]
        );
        assert!(Dimension::parse("services.api.replicas").is_err());
        assert!(Dimension::parse("services.api.replicas=1,,2").is_err());
        assert!(Dimension::parse("services.api.replicas=1,1").is_err());
        assert!(Dimension::parse("a..b=1").is_err());
        assert!(Dimension::parse("x={a: 1").is_err());
    }

    #[test]
    fn grid_points_vary_the_last_dimension_fastest() {
        let g = Grid::new(vec![dim("a", &["1", "2"]), dim("b", &["x", "y", "z"])]).unwrap();
        assert_eq!(g.len(), 6);
        let all: Vec<Vec<String>> = (0..6)
            .map(|i| g.point(i).unwrap().values().cloned().collect())
            .collect();
        assert_eq!(
            all,
            vec![
                vec!["1", "x"],
                vec!["1", "y"],
                vec!["1", "z"],
                vec!["2", "x"],
                vec!["2", "y"],
                vec!["2", "z"]
            ]
        );
        assert!(g.point(6).is_none());
        assert!(Grid::new(vec![dim("a", &["1"]), dim("a", &["2"])]).is_err());
        assert!(Grid::new(vec![]).is_err());
    }

    #[test]
    fn every_point_is_in_exactly_one_shard() {
        let g = Grid::new(vec![
            dim("a", &["1", "2", "3"]),
            dim("b", &["1", "2", "3", "4", "5"]),
        ])
        .unwrap();
        for n in 1..=7 {
            let mut seen = vec![0; g.len()];
            for i in 0..n {
                for p in g.shard_points(Shard { index: i, count: n }) {
                    seen[p] += 1;
                }
            }
            assert!(seen.iter().all(|&c| c == 1), "{n} shards: {seen:?}");
        }
        assert_eq!(Shard::parse("1/3").unwrap(), Shard { index: 1, count: 3 });
        for bad in ["3/3", "0/0", "x/2", "1", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    fn row(point: usize, met: bool, replicas: f64, cost: Option<f64>, p95: f64) -> SweepRow {
        SweepRow {
            point,
            parameters: IndexMap::new(),
            slos: vec![SloCell {
                name: "p95(call) < 100ms".into(),
                observed: Some(p95),
                ci95: None,
                bound: 100.0,
                met,
                margin: Some(100.0 - p95),
                margin_ratio: Some((100.0 - p95) / 100.0),
            }],
            all_slos_met: met,
            monthly_cost_usd: cost,
            replicas,
            p95_ms: Some(p95),
            rollouts: Vec::new(),
        }
    }

    #[test]
    fn the_frontier_journey_is_the_first_p95_slos() {
        let slos: Vec<Slo> = ["error_rate(a) < 1%", "mean(b) < 1s", "p95(c) < 1s"]
            .iter()
            .map(|t| Slo::parse(t).unwrap())
            .collect();
        assert_eq!(
            frontier_journey(&slos, &["a", "b", "c"]).as_deref(),
            Some("c")
        );
        assert_eq!(
            frontier_journey(&slos[..2], &["a", "b"]).as_deref(),
            Some("b")
        );
        assert_eq!(frontier_journey(&[], &["a", "b"]).as_deref(), Some("a"));
    }

    #[test]
    fn chooses_the_cheapest_passing_point() {
        let rows = vec![
            row(0, false, 1.0, None, 500.0),
            row(1, true, 3.0, None, 40.0),
            row(2, true, 2.0, None, 80.0),
            row(3, true, 2.0, None, 60.0),
        ];
        let basis = cost_basis(&rows);
        assert_eq!(basis, CostBasis::Replicas);
        // Points 2 and 3 tie on replicas: the lower p95 wins.
        assert_eq!(cheapest_passing(&rows, basis).unwrap().point, 3);
        assert_eq!(frontier(&rows, basis), vec![0, 3, 1]);
        // With cost in every row, cost decides.
        let rows = vec![
            row(0, true, 1.0, Some(900.0), 90.0),
            row(1, true, 4.0, Some(500.0), 20.0),
            row(2, false, 1.0, Some(100.0), 300.0),
        ];
        let basis = cost_basis(&rows);
        assert_eq!(basis, CostBasis::MonthlyUsd);
        assert_eq!(cheapest_passing(&rows, basis).unwrap().point, 1);
        // Nothing passes: no cheapest passing point, but the best is still reported.
        let rows = vec![
            row(0, false, 1.0, None, 500.0),
            row(1, false, 2.0, None, 200.0),
        ];
        assert!(cheapest_passing(&rows, CostBasis::Replicas).is_none());
        assert_eq!(best(&rows, CostBasis::Replicas).unwrap().point, 0);
    }

    fn plan(point: usize, pause_s: f64, worst_share: f64) -> SweepRow {
        let mut r = row(point, false, 4.0, None, 20.0);
        r.rollouts = vec![RolloutCell {
            name: "v2".into(),
            outcome: crate::rollout::Outcome::RolledBack,
            promoted: 0,
            rolled_back: 10,
            in_progress: 0,
            planned_pause_s: pause_s,
            duration_s: Some(60.0),
            decided_at_s: Some(90.0),
            damage_share: worst_share / 2.0,
            worst_damage_share: worst_share,
            errors_new: 15.0,
            worst_errors_new: (worst_share * 18_000.0) as u64,
        }];
        r
    }

    #[test]
    fn fastest_picks_the_shortest_plan_within_the_bound_else_the_closest() {
        let bound = RolloutBound::parse("damage_share<=0.25%").unwrap();
        assert_eq!(
            bound,
            RolloutBound {
                metric: DamageMetric::DamageShare,
                limit: 0.0025
            }
        );
        assert_eq!(bound.to_string(), "damage_share <= 0.25%");
        let rule = PickRule {
            pick: Pick::Fastest,
            bounds: vec![bound],
        };
        // 15 s is over the bound, 45 s and 120 s within: 45 s, though no point meets its SLO
        // and 15 s would be as cheap. The bound is inclusive.
        let rows = vec![
            plan(0, 15.0, 0.0046),
            plan(1, 45.0, 0.0025),
            plan(2, 120.0, 0.0013),
        ];
        let c = Chosen::by_rule(&rows, CostBasis::Replicas, &rule).unwrap();
        assert_eq!((c.point, c.within_bounds), (1, Some(true)));
        // Shards choose the same: the order is total.
        let reversed: Vec<SweepRow> = rows.iter().rev().cloned().collect();
        let c2 = Chosen::by_rule(&reversed, CostBasis::Replicas, &rule).unwrap();
        assert_eq!(c2.point, 1);
        // None within: the least over (0.0030 / 0.0025), not the fastest.
        let rows = vec![plan(0, 15.0, 0.0046), plan(1, 45.0, 0.0030)];
        let c = Chosen::by_rule(&rows, CostBasis::Replicas, &rule).unwrap();
        assert_eq!((c.point, c.within_bounds), (1, Some(false)));
        // A point without rollouts has no evidence of staying within: never within.
        assert!(!rule.within_bounds(&row(0, true, 1.0, None, 1.0)));
        for bad in [
            "damage_share<1%",
            "damage<=1%",
            "errors_new<=5%",
            "damage_share<=150%",
            "damage_share<=x",
            "errors_new<=-1",
        ] {
            assert!(RolloutBound::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(RolloutBound::parse("errors_new <= 20").unwrap().limit, 20.0);
    }

    #[test]
    fn merged_shards_equal_the_whole_table() {
        let g = Grid::new(vec![dim("a", &["1", "2", "3", "4", "5"])]).unwrap();
        let rows: Vec<SweepRow> = (0..5)
            .map(|i| row(i, i >= 2, i as f64 + 1.0, None, 200.0 / (i as f64 + 1.0)))
            .collect();
        let table = |shard: Option<Shard>, rows: Vec<SweepRow>| {
            SweepTable::new(
                "s".into(),
                1,
                2,
                g.clone(),
                shard,
                Some("call".into()),
                rows,
            )
        };
        let whole = table(None, rows.clone());
        assert_eq!(whole.chosen.as_ref().unwrap().point, 2);
        let shards: Vec<SweepTable> = (0..2)
            .map(|i| {
                let s = Shard { index: i, count: 2 };
                table(
                    Some(s),
                    rows.iter().filter(|r| s.runs(r.point)).cloned().collect(),
                )
            })
            .collect();
        let merged = SweepTable::merge(vec![shards[1].clone(), shards[0].clone()]).unwrap();
        assert_eq!(merged, whole);
        let err = SweepTable::merge(vec![shards[0].clone()]).unwrap_err();
        assert!(err.contains("1/2"), "{err}");
        let err = SweepTable::merge(vec![shards[0].clone(), shards[0].clone()]).unwrap_err();
        assert!(err.contains("twice"), "{err}");
    }
}
