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
    match price(scenario.cost.as_ref(), usage) {
        Ok(c) => summary.cost = Some(c),
        Err(e) => summary.warnings.push(format!("cost: {e}")),
    }
    summary.slos = scenario.slos.iter().map(|s| s.verdict(summary)).collect();
}
