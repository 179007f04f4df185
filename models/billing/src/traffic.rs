//! Cost against traffic: what a month costs at other arrival rates than the run's, and which
//! traffic fits a reference band (the seeds' question: at what traffic does the month fit
//! $4,300-$9,600, and what does the design peak cost).
//!
//! A projection, not a re-simulation: the traffic-driven quantities of the run's usage
//! (LLM tokens, Firestore operations, egress bytes, Cloud Run time and requests: the items of
//! [`crate::projection::TRAFFIC_ITEMS`]) are proportional to the journeys that make them, so
//! they are scaled by rate / run rate and the usage is priced again, volume tiers included.
//! Capacity (nodes, VMs, Cloud SQL, Memorystore, Pinecone, the GKE fee) is kept as the run
//! held it: an upper bound below the run's rate (autoscaled pools would shrink to their
//! minimum), a lower bound above it (they would grow), which `assumes` says. Simulating each
//! rate (`twin sweep --vary workload.arrivals.poisson.rate=...`) would move the capacity too,
//! at minutes of wall time a point for the production platform.

use crate::bill::{Billing, CostError};
use crate::price_table::PriceTable;
use indexmap::IndexMap;
use models::cost::{CostModel, Usage};
use models::projection::{BandFit, CostAtRate, CostVsTraffic};

/// `usage` with its traffic-driven quantities scaled by `k` ([`Usage::scale_traffic`]).
pub fn scale_traffic(usage: &Usage, k: f64) -> Usage {
    let mut u = usage.clone();
    u.scale_traffic(k);
    u
}

/// What the curve needs of the scenario: the run's mean arrival rate, each journey's share
/// of the arrivals, and the day's mean-to-peak ratio (1 without a duty).
pub struct Traffic {
    pub run_rate_per_s: f64,
    pub shares: IndexMap<String, f64>,
    pub duty: f64,
}

/// The month at rates from 1/1000 of the run's to twice it, four points a decade, and where
/// it crosses the reference band's ends.
pub fn cost_vs_traffic(
    model: &CostModel,
    table: &PriceTable,
    usage: &Usage,
    traffic: &Traffic,
) -> Result<CostVsTraffic, CostError> {
    let run = traffic.run_rate_per_s;
    if !(run.is_finite() && run > 0.0) {
        return Err(CostError::InvalidUsage {
            item: "cost_vs_traffic".into(),
            message: format!("the run's arrival rate {run}/s must be positive"),
        });
    }
    let at = |rate: f64| -> Result<CostAtRate, CostError> {
        let c = model.cost(table, &scale_traffic(usage, rate / run))?;
        Ok(CostAtRate {
            rate_per_s: rate,
            monthly_usd: c.monthly_usd,
            infrastructure_monthly_usd: c.infrastructure_monthly_usd,
            usage_monthly_usd: c.usage_monthly_usd,
            journeys_per_day: traffic
                .shares
                .iter()
                .map(|(j, share)| (j.clone(), share * rate * traffic.duty * 86_400.0))
                .collect(),
        })
    };
    let points = (-12..=1)
        .map(|i| at(run * 10f64.powf(f64::from(i) / 4.0)))
        .collect::<Result<Vec<_>, _>>()?;
    let band = match &model.reference {
        Some(r) => {
            let from = crossing(r.low, run, &at)?;
            let to = match crossing(r.high, run, &at)? {
                c if c.rate_per_s == 0.0 && c.monthly_usd > r.high => None,
                c => Some(c),
            };
            Some(BandFit {
                low_usd: r.low,
                high_usd: r.high,
                from,
                to,
            })
        }
        None => None,
    };
    Ok(CostVsTraffic {
        assumes: format!(
            "traffic-driven items (LLM tokens, Firestore operations, Cloud Run, egress) scale \
             with the rate from the run's {run:.4}/s and are priced again (egress tiers \
             included); capacity (nodes, VMs, Cloud SQL, Memorystore, Pinecone, GKE fee) stays \
             as the run held it: an upper bound below the run's rate, a lower bound above it; \
             journeys a day at {:.1} % of the rate on average (the projection's duty)",
            traffic.duty * 100.0
        ),
        run_rate_per_s: run,
        points,
        band,
    })
}

/// The rate whose month is `target` (the month grows with the rate): rate 0 when the
/// capacity alone reaches it, else bisection to 1e-9 of the rate.
fn crossing(
    target: f64,
    run: f64,
    at: &impl Fn(f64) -> Result<CostAtRate, CostError>,
) -> Result<CostAtRate, CostError> {
    let zero = at(0.0)?;
    if zero.monthly_usd >= target {
        return Ok(zero);
    }
    let (mut lo, mut hi) = (0.0, run);
    while at(hi)?.monthly_usd < target {
        lo = hi;
        hi *= 2.0;
        if hi > run * 1e12 {
            return at(hi);
        }
    }
    while hi - lo > 1e-9 * hi {
        let mid = 0.5 * (lo + hi);
        if at(mid)?.monthly_usd < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    at(lo)
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::cost::{FirestoreUsage, LlmUsage, NodePoolUsage};
    use models::projection::CostReference;

    /// A month (730 h) of one n1-standard-4 at list price ($0.189999 x 730 = $138.69927)
    /// beside traffic at 10 journeys/s: 1M Claude input tokens ($3.00) and 100k regional
    /// Firestore writes ($0.09).
    fn month() -> Usage {
        let mut u = Usage {
            span_s: 730.0 * 3600.0,
            ..Usage::default()
        };
        u.node_pools.insert(
            "general".into(),
            NodePoolUsage {
                machine_type: "n1-standard-4".into(),
                node_seconds: 730.0 * 3600.0,
                ..NodePoolUsage::default()
            },
        );
        u.llm.insert(
            "claude".into(),
            LlmUsage {
                model: "claude-3-sonnet".into(),
                input_tokens: 1_000_000,
                output_tokens: 0,
            },
        );
        u.firestore.insert(
            "default".into(),
            FirestoreUsage {
                writes: 100_000,
                ..FirestoreUsage::default()
            },
        );
        u
    }

    fn model(low: f64, high: f64) -> CostModel {
        CostModel {
            sustained_use: false,
            reference: Some(CostReference {
                low,
                high,
                source: "hand".into(),
                categories: Default::default(),
            }),
            ..CostModel::default()
        }
    }

    fn traffic() -> Traffic {
        Traffic {
            run_rate_per_s: 10.0,
            shares: [("chat".to_string(), 0.25), ("api".to_string(), 0.75)]
                .into_iter()
                .collect(),
            duty: 0.5,
        }
    }

    #[test]
    fn the_month_is_capacity_plus_traffic_in_proportion_to_the_rate() {
        let table = PriceTable::builtin().expect("table");
        let c = cost_vs_traffic(&model(140.0, 200.0), table, &month(), &traffic()).expect("curve");
        // At the run's rate (the 13th point, 10^0): 138.69927 + 3.09 = 141.78927.
        let run = &c.points[12];
        assert!((run.rate_per_s - 10.0).abs() < 1e-9);
        assert!((run.monthly_usd - 141.78927).abs() < 1e-6, "{run:?}");
        assert!((run.infrastructure_monthly_usd - 138.69927).abs() < 1e-6);
        // Chats a day at rate 10: 0.25 x 10 x 0.5 x 86,400 = 108,000.
        assert!((run.journeys_per_day["chat"] - 108_000.0).abs() < 1e-6);
        // At 1/1000 of the rate: 138.69927 + 0.00309.
        assert!(
            (c.points[0].monthly_usd - 138.70236).abs() < 1e-5,
            "{:?}",
            c.points[0]
        );
        // The band: 140 at (140 - 138.69927) / 3.09 x 10 = 4.209482 /s, 200 at
        // (200 - 138.69927) / 3.09 x 10 = 198.3843 /s (token counts round to whole tokens).
        let band = c.band.expect("band");
        assert!(
            (band.from.rate_per_s - 4.209482).abs() < 1e-4,
            "{:?}",
            band.from
        );
        let to = band.to.expect("some traffic fits");
        assert!((to.rate_per_s - 198.3843).abs() < 1e-3, "{to:?}");
        assert!((to.monthly_usd - 200.0).abs() < 1e-3);
    }

    #[test]
    fn no_traffic_fits_a_band_below_the_capacity() {
        let table = PriceTable::builtin().expect("table");
        let c = cost_vs_traffic(&model(50.0, 100.0), table, &month(), &traffic()).expect("curve");
        let band = c.band.expect("band");
        // The node alone costs $138.70 > $100: from rate 0, and no rate stays within.
        assert_eq!(band.from.rate_per_s, 0.0);
        assert!(band.to.is_none());
    }
}
