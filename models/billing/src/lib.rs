//! Billing: what a run used (`models::cost::Usage`) priced from GCP list prices. The price
//! table and its provenance ([`price_table`], `data/gcp-prices.csv` embedded), the arithmetic
//! of a bill under a scenario's `cost:` model ([`bill`]), and the monthly projection with its
//! comparison to a reference estimate ([`projection`]).
//!
//! Architecture invariant: pure (no I/O: the table is compiled in), depends on `models`
//! alone; the simulator and the harness never price anything, the binary prices what they
//! report through [`price`].

pub mod bill;
pub mod price_table;
pub mod projection;
pub mod traffic;

pub use bill::{Billing, CostError};
pub use price_table::PriceTable;

use models::cost::{CostModel, Usage};
use models::summary::{CostSummary, RunSummary};
use models::Scenario;

/// The cost block of a run that used `usage` under `model` (a scenario without a `cost:`
/// block buys on demand), priced with the built-in table; a pricing problem is an error
/// whose text names the item.
pub fn price(model: Option<&CostModel>, usage: &Usage) -> Result<CostSummary, CostError> {
    let table = PriceTable::builtin()?;
    match model {
        Some(m) => m.cost(table, usage),
        None => CostModel::default().cost(table, usage),
    }
}

/// Bills a finished run: prices `usage` under the scenario's `cost:` model into
/// `summary.cost` (a pricing problem becomes a warning, never a failed run) and judges again
/// the scenario's SLOs, since those on cost could not be judged before the bill.
pub fn bill_run(scenario: &Scenario, usage: &Usage, summary: &mut RunSummary) {
    let model = buying(scenario);
    match price(Some(&model), usage) {
        Ok(mut c) => {
            c.per_journey_usd = per_journey(scenario, summary, c.total_usd);
            match curve(scenario, &model, usage) {
                Ok(curve) => c.cost_vs_traffic = curve,
                Err(e) => summary.warnings.push(format!("cost vs traffic: {e}")),
            }
            summary.cost = Some(c)
        }
        Err(e) => summary.warnings.push(format!("cost: {e}")),
    }
    summary.slos = scenario.slos.iter().map(|s| s.verdict(summary)).collect();
}

/// How the scenario buys what it uses: its `cost:` block (on demand without one), with each
/// `spot: true` node pool bought as spot (validation refuses a spot pool that `cost:` buys
/// otherwise).
pub fn buying(scenario: &Scenario) -> CostModel {
    let mut model = scenario.cost.clone().unwrap_or_default();
    for (name, pool) in &scenario.node_pools {
        if pool.spot {
            model
                .node_pools
                .entry(name.clone())
                .or_insert(models::cost::PricingModel::Spot);
        }
    }
    model
}

/// The month against traffic for a scenario whose arrivals have a rate (none for a trace
/// only, or no arrivals at all).
fn curve(
    scenario: &Scenario,
    model: &CostModel,
    usage: &Usage,
) -> Result<Option<models::projection::CostVsTraffic>, CostError> {
    let horizon = scenario.horizon;
    let mix = scenario.workload.mix_weight();
    let common = scenario.workload.arrivals.mean_rate(horizon);
    let rates: indexmap::IndexMap<String, f64> = scenario
        .workload
        .journeys
        .iter()
        .map(|j| {
            let r = match &j.arrivals {
                Some(a) => a.mean_rate(horizon),
                None if mix > 0.0 => common * j.weight / mix,
                None => 0.0,
            };
            (j.name.clone(), r)
        })
        .collect();
    let total: f64 = rates.values().sum();
    if !(total.is_finite() && total > 0.0) {
        return Ok(None);
    }
    let traffic = traffic::Traffic {
        run_rate_per_s: total,
        shares: rates.into_iter().map(|(j, r)| (j, r / total)).collect(),
        duty: model
            .projection
            .factor()
            .map_err(|m| CostError::InvalidModel(format!("projection: {m}")))?,
    };
    traffic::cost_vs_traffic(model, PriceTable::builtin()?, usage, &traffic).map(Some)
}

/// What one journey costs: the cost of the measured span (the run's cost x (horizon -
/// warm-up) / horizon) shared over the journeys completed in it in proportion to their
/// service visits (steps), then divided by each journey's count. So a journey of 8 steps costs
/// 8 times one of 1 step: a first allocation by work done, not by each service's own price.
pub fn per_journey(
    scenario: &Scenario,
    summary: &RunSummary,
    total_usd: f64,
) -> indexmap::IndexMap<String, f64> {
    let horizon = scenario.horizon.as_secs_f64();
    let measured = (horizon - scenario.warmup.as_secs_f64()).max(0.0);
    let cost = if horizon > 0.0 {
        total_usd * measured / horizon
    } else {
        0.0
    };
    let steps = |name: &str| {
        scenario
            .workload
            .journeys
            .iter()
            .find(|j| j.name == name)
            .map_or(0.0, |j| j.steps.len() as f64)
    };
    let visits: f64 = summary
        .journeys
        .iter()
        .map(|(name, j)| j.count as f64 * steps(name))
        .sum();
    summary
        .journeys
        .iter()
        .filter(|(_, j)| j.count > 0 && visits > 0.0)
        .map(|(name, _)| (name.clone(), cost * steps(name) / visits))
        .collect()
}
