//! What a monthly projection assumes, and how it compares with a reference estimate.
//!
//! [`crate::cost`] prices a month in which the run's usage pattern repeats: a run at peak
//! traffic projects the peak held all month. A scenario can say how much of the month the
//! traffic-driven items see (`cost: {projection: {duty: 0.55}}`, or the mean-to-peak ratio of a
//! daily profile, `duty: {profile: {points: [...], interpolate: linear, repeat: 24h}}`), and
//! declare the estimate it is to be compared with (`cost: {reference: {low, high, source,
//! categories}}`); [`project`] then gives `summary.json`'s `cost.projection` and
//! `cost.comparison`, with the items that drive the difference first.
//!
//! Traffic-driven items (LLM tokens, Firestore operations, Cloud Run, egress) scale with the
//! duty factor; capacity items (node pools, VMs, GKE fee, Cloud SQL, Memorystore, Pinecone
//! pods, storage) are kept as the run held them, which over-states an autoscaled pool: the
//! projection says so in `assumes`.

use crate::cost::CostBreakdown;
use crate::scenario::{Arrivals, Interpolation, ProfilePoint};
use crate::summary::CostSummary;
use crate::units::Duration;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

/// Item prefixes of `by_item` whose cost follows the traffic.
pub const TRAFFIC_ITEMS: [&str; 4] = ["llm/", "firestore/", "cloud_run/", "egress/"];

/// `cost.projection` of a scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ProjectionSpec {
    /// Absent: the run's traffic held all month.
    pub duty: Option<Duty>,
}

impl ProjectionSpec {
    /// The factor on traffic-driven items (1 without a duty).
    pub fn factor(&self) -> Result<f64, String> {
        self.duty.as_ref().map_or(Ok(1.0), Duty::factor)
    }
}

/// The share of the run's traffic level the month sees on average.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Duty {
    /// A fraction in (0, 1].
    Fraction(f64),
    /// The mean-to-peak ratio of a rate profile (a diurnal day).
    Profile { profile: DutyProfile },
}

/// A rate profile as `workload.arrivals.profile` writes it; only its shape matters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DutyProfile {
    pub points: Vec<DutyPoint>,
    #[serde(default)]
    pub interpolate: Interpolation,
    /// The period the mean is taken over (default: up to the last point).
    #[serde(default)]
    pub repeat: Option<Duration>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DutyPoint {
    pub at: Duration,
    /// Requests per second (or any unit: only ratios matter).
    pub rate: f64,
}

impl Duty {
    /// The factor on traffic-driven items, or why it cannot be computed.
    pub fn factor(&self) -> Result<f64, String> {
        match self {
            Duty::Fraction(f) if f.is_finite() && *f > 0.0 && *f <= 1.0 => Ok(*f),
            Duty::Fraction(f) => Err(format!("duty {f} must be in (0, 1]")),
            Duty::Profile { profile } => profile.mean_to_peak(),
        }
    }
}

impl DutyProfile {
    /// Mean over the period (`repeat`, else up to the last point) divided by the peak.
    pub fn mean_to_peak(&self) -> Result<f64, String> {
        if self.points.is_empty() || self.points.windows(2).any(|w| w[0].at >= w[1].at) {
            return Err("a duty profile needs points in increasing `at` order".into());
        }
        if self
            .points
            .iter()
            .any(|p| !(p.rate.is_finite() && p.rate >= 0.0))
        {
            return Err("a duty profile's rates must be finite and >= 0".into());
        }
        let period = match self.repeat {
            Some(r) if r.0 > 0 => r,
            Some(_) => return Err("a duty profile's repeat must be > 0".into()),
            None => self.points[self.points.len() - 1].at,
        };
        if period.0 == 0 {
            return Err("a duty profile needs a period: `repeat`, or a last point after 0".into());
        }
        let arrivals = Arrivals::Profile {
            points: self
                .points
                .iter()
                .map(|p| ProfilePoint {
                    at: p.at,
                    rate: crate::units::Rate(p.rate),
                })
                .collect(),
            interpolate: self.interpolate,
            repeat: Some(period),
        };
        let peak = arrivals.peak_rate();
        if peak <= 0.0 {
            return Err("a duty profile needs a positive rate".into());
        }
        Ok(arrivals.mean_rate(period) / peak)
    }
}

/// A reference estimate to compare the projection with (the seeds' $4,300-$9,600 a month).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostReference {
    pub low: f64,
    pub high: f64,
    /// Where the estimate comes from (document and section).
    pub source: String,
    /// The estimate's own lines, each with the `by_item` prefixes it covers.
    #[serde(default)]
    pub categories: IndexMap<String, ReferenceCategory>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceCategory {
    pub low: f64,
    pub high: f64,
    /// `by_item` key prefixes (`node_pool/`, `llm/`); an item goes to the first that matches.
    pub items: Vec<String>,
}

/// `cost.projection` in `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    /// The factor on traffic-driven items.
    pub duty: f64,
    /// What the projection assumes, in words.
    pub assumes: String,
    pub monthly_by_item: IndexMap<String, f64>,
}

/// `cost.comparison` in `summary.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostComparison {
    pub reference_low: f64,
    pub reference_high: f64,
    pub source: String,
    pub projected_usd: f64,
    /// Projected minus the nearest end of the range (0 within it).
    pub difference_usd: f64,
    /// Largest contribution to the difference first.
    pub drivers: Vec<CostDriver>,
}

/// One line of the comparison: a reference category (or an item the reference does not
/// break down) with its projection and its part of the difference.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostDriver {
    pub item: String,
    pub monthly_usd: f64,
    pub reference_low: Option<f64>,
    pub reference_high: Option<f64>,
    /// Projected minus the nearest end of the line's range (the whole projection for a line
    /// the reference has no figure for).
    pub difference_usd: f64,
    /// The `by_item` keys in this line.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
}

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
    use crate::cost::ItemCost;

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
        let p = s.projection.expect("projection");
        assert!((p.monthly_by_item["llm/claude"] - 55_000.0).abs() < 1e-9);
        assert!(p.assumes.contains("55.0 %"), "{}", p.assumes);
    }

    #[test]
    fn a_linear_day_from_10_to_100_and_back_has_mean_to_peak_0_55() {
        // Linear 10 -> 100 -> 10 over 24 h: the mean is (10 + 100) / 2 = 55, peak 100.
        let d: Duty = serde_json::from_str(
            r#"{"profile": {"points": [{"at": "0s", "rate": 10}, {"at": "12h", "rate": 100},
                {"at": "24h", "rate": 10}], "interpolate": "linear", "repeat": "24h"}}"#,
        )
        .expect("a duty");
        assert!((d.factor().unwrap() - 0.55).abs() < 1e-4);
        let d: Duty = serde_json::from_str("0.4").expect("a number");
        assert_eq!(d.factor(), Ok(0.4));
        assert!(Duty::Fraction(1.5).factor().is_err());
    }

    #[test]
    fn the_production_scenario_declares_the_seeds_estimate_and_the_diurnal_duty() {
        let text = include_str!("../../scenarios/production-gcp.yaml");
        let (s, _) = crate::parse_scenario(text, "production-gcp.yaml", &[]).expect("parses");
        let cost = s.cost.expect("a cost block");
        // Hand-computed in the scenario: 1295 rate-hours / 24 h / peak 100 = 0.539583.
        let duty = cost.projection.factor().expect("a duty");
        assert!((duty - 1295.0 / 2400.0).abs() < 1e-4, "{duty}");
        let r = cost.reference.expect("a reference");
        assert_eq!((r.low, r.high), (4300.0, 9600.0));
        // The seed's lines add up to its total (infrastructure-plan.md section 12).
        let lows: f64 = r.categories.values().map(|c| c.low).sum();
        let highs: f64 = r.categories.values().map(|c| c.high).sum();
        assert_eq!((lows, highs), (4300.0, 9600.0));
    }

    #[test]
    fn outside_is_zero_within_the_range() {
        assert_eq!(outside(5.0, 4.0, 6.0), 0.0);
        assert_eq!(outside(7.0, 4.0, 6.0), 1.0);
        assert_eq!(outside(3.0, 4.0, 6.0), -1.0);
    }
}
