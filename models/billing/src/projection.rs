//! The monthly projection of a priced run and its comparison with a reference estimate.
//!
//! [`crate::bill`] prices a month in which the run's usage pattern repeats: a run at peak
//! traffic projects the peak held all month. A scenario can say how much of the month the
//! traffic-driven items see (`models::projection::ProjectionSpec`) and declare the estimate it
//! is to be compared with; [`project`] then gives `summary.json`'s `cost.projection` and
//! `cost.comparison`, with the items that drive the difference first.
//!
//! Traffic-driven items (LLM tokens, Firestore operations, Cloud Run, egress) scale with the
//! duty factor; capacity items (node pools, VMs, GKE fee, Cloud SQL, Memorystore, Pinecone
//! pods, storage) are kept as the run held them, which over-states an autoscaled pool: the
//! projection says so in `assumes`.

use indexmap::IndexMap;
use models::cost::CostBreakdown;
use models::projection::{CostComparison, CostDriver, CostReference, Projection};
use models::summary::CostSummary;

/// Item prefixes of `by_item` whose cost follows the traffic.
pub const TRAFFIC_ITEMS: [&str; 4] = ["llm/", "firestore/", "cloud_run/", "egress/"];

/// `x` minus the nearest end of [low, high] (0 inside).
fn outside(x: f64, low: f64, high: f64) -> f64 {
    if x > high {
        x - high
    } else if x < low {
        x - low
    } else {
        0.0
    }
}

fn is_traffic(item: &str) -> bool {
    TRAFFIC_ITEMS.iter().any(|p| item.starts_with(p))
}

/// The summary of a priced run with its projection (and comparison, given a reference).
pub fn project(
    breakdown: &CostBreakdown,
    duty: f64,
    reference: Option<&CostReference>,
) -> CostSummary {
    let mut s = breakdown.summary();
    let monthly: IndexMap<String, f64> = breakdown
        .items
        .iter()
        .map(|(k, v)| {
            let m = if is_traffic(k) {
                v.monthly_usd * duty
            } else {
                v.monthly_usd
            };
            (k.clone(), m)
        })
        .collect();
    s.monthly_usd = monthly.values().sum();
    s.usage_monthly_usd = monthly
        .iter()
        .filter(|(k, _)| is_traffic(k))
        .map(|(_, v)| v)
        .sum();
    s.infrastructure_monthly_usd = monthly
        .iter()
        .filter(|(k, _)| !is_traffic(k))
        .map(|(_, v)| v)
        .sum();
    let assumes = if duty == 1.0 {
        "the run's usage repeats all month (730 h): a run at peak traffic projects the peak held \
         all month"
            .to_string()
    } else {
        format!(
            "traffic-driven items (LLM tokens, Firestore operations, Cloud Run, egress) at {:.1} % \
             of the run's level (duty {duty:.4}); capacity items (nodes, GKE fee, Cloud SQL, \
             Memorystore, Pinecone, storage) as the run held them all month (an upper bound for \
             autoscaled pools)",
            duty * 100.0
        )
    };
    s.comparison = reference.map(|r| compare(&monthly, s.monthly_usd, r));
    s.projection = Some(Projection {
        duty,
        assumes,
        monthly_by_item: monthly,
    });
    s
}

/// The comparison of a monthly projection (by item) with a reference.
pub fn compare(
    monthly: &IndexMap<String, f64>,
    projected: f64,
    r: &CostReference,
) -> CostComparison {
    let mut drivers: Vec<CostDriver> = r
        .categories
        .iter()
        .map(|(name, c)| CostDriver {
            item: name.clone(),
            reference_low: Some(c.low),
            reference_high: Some(c.high),
            ..CostDriver::default()
        })
        .collect();
    for (k, m) in monthly {
        let line = r
            .categories
            .values()
            .position(|c| c.items.iter().any(|p| k.starts_with(p.as_str())));
        match line {
            Some(i) => {
                drivers[i].monthly_usd += m;
                drivers[i].items.push(k.clone());
            }
            None => drivers.push(CostDriver {
                item: k.clone(),
                monthly_usd: *m,
                items: vec![k.clone()],
                ..CostDriver::default()
            }),
        }
    }
    for d in &mut drivers {
        d.difference_usd = match (d.reference_low, d.reference_high) {
            (Some(lo), Some(hi)) => outside(d.monthly_usd, lo, hi),
            _ => d.monthly_usd,
        };
    }
    // Largest contribution first; ties (e.g. lines inside their range) keep the reference's
    // order.
    drivers.sort_by(|a, b| b.difference_usd.abs().total_cmp(&a.difference_usd.abs()));
    CostComparison {
        reference_low: r.low,
        reference_high: r.high,
        source: r.source.clone(),
        projected_usd: projected,
        difference_usd: outside(projected, r.low, r.high),
        drivers,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::cost::ItemCost;
    use models::projection::ReferenceCategory;

    fn breakdown(items: &[(&str, f64)]) -> CostBreakdown {
        // A one-hour run: total = monthly / 730.
        let items: IndexMap<String, ItemCost> = items
            .iter()
            .map(|(k, m)| {
                (
                    k.to_string(),
                    ItemCost {
                        total_usd: m / 730.0,
                        monthly_usd: *m,
                    },
                )
            })
            .collect();
        CostBreakdown {
            total_usd: items.values().map(|c| c.total_usd).sum(),
            monthly_usd: items.values().map(|c| c.monthly_usd).sum(),
            items,
            not_priced: Vec::new(),
        }
    }

    fn seeds() -> CostReference {
        // infrastructure-plan.md section 12 (the seeds' Phase 1 estimate).
        let cat = |low: f64, high: f64, items: &[&str]| ReferenceCategory {
            low,
            high,
            items: items.iter().map(|s| s.to_string()).collect(),
        };
        CostReference {
            low: 4300.0,
            high: 9600.0,
            source: "infrastructure-plan.md section 12".into(),
            categories: [
                (
                    "GKE".to_string(),
                    cat(2000.0, 4000.0, &["node_pool/", "gke/"]),
                ),
                ("Cloud SQL".to_string(), cat(500.0, 1000.0, &["cloud_sql/"])),
                ("Vertex AI".to_string(), cat(1000.0, 3000.0, &["llm/"])),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn drivers_are_sorted_by_their_part_of_the_difference() {
        let b = breakdown(&[
            ("node_pool/general", 3000.0),
            ("node_pool/ai", 2500.0),
            ("cloud_sql/primary", 800.0),
            ("llm/claude", 100_000.0),
            ("llm/gemini", 20_000.0),
            ("memorystore/cache", 300.0),
        ]);
        let s = project(&b, 1.0, Some(&seeds()));
        let c = s.comparison.expect("a comparison");
        // 3000 + 2500 + 800 + 120000 + 300 = 126600; above 9600 by 117000.
        assert_eq!(c.projected_usd, 126_600.0);
        assert_eq!(c.difference_usd, 117_000.0);
        let lines: Vec<(&str, f64)> = c
            .drivers
            .iter()
            .map(|d| (d.item.as_str(), d.difference_usd))
            .collect();
        // Vertex AI: 120000 - 3000 = 117000; GKE 5500 - 4000 = 1500; memorystore has no
        // reference line: 300; Cloud SQL 800 is inside 500-1000: 0.
        assert_eq!(
            lines,
            vec![
                ("Vertex AI", 117_000.0),
                ("GKE", 1500.0),
                ("memorystore/cache", 300.0),
                ("Cloud SQL", 0.0)
            ]
        );
        assert_eq!(c.drivers[0].items, vec!["llm/claude", "llm/gemini"]);
    }

    #[test]
    fn duty_scales_only_traffic_items() {
        let b = breakdown(&[("node_pool/general", 3000.0), ("llm/claude", 100_000.0)]);
        let s = project(&b, 0.55, None);
        // 3000 + 0.55 x 100000 = 58000
        assert!((s.monthly_usd - 58_000.0).abs() < 1e-9);
        // The run's own cost is not projected: still (3000 + 100000) / 730.
        assert!((s.total_usd - 103_000.0 / 730.0).abs() < 1e-9);
        // The month splits into what is paid whatever the traffic and what follows it.
        assert!((s.infrastructure_monthly_usd - 3000.0).abs() < 1e-9);
        assert!((s.usage_monthly_usd - 55_000.0).abs() < 1e-9);
        let p = s.projection.expect("projection");
        assert!((p.monthly_by_item["llm/claude"] - 55_000.0).abs() < 1e-9);
        assert!(p.assumes.contains("55.0 %"), "{}", p.assumes);
    }

    #[test]
    fn outside_is_zero_within_the_range() {
        assert_eq!(outside(5.0, 4.0, 6.0), 0.0);
        assert_eq!(outside(7.0, 4.0, 6.0), 1.0);
        assert_eq!(outside(3.0, 4.0, 6.0), -1.0);
    }
}
