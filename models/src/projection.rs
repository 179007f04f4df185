//! What a monthly projection assumes and how it compares with a reference estimate, as a
//! scenario writes them (`cost: {projection: {duty: 0.55}}` or a daily profile's mean-to-peak
//! ratio; `cost: {reference: {low, high, source, categories}}`) and as `summary.json` reports
//! them (`cost.projection`, `cost.comparison`). The `billing` crate computes them.

use crate::scenario::{Arrivals, Interpolation, ProfilePoint};
use crate::units::Duration;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}

/// The month as a function of traffic (`summary.json` `cost.cost_vs_traffic`): the run's
/// usage with its traffic-driven items (tokens, operations, bytes, Cloud Run) scaled to each
/// rate and priced again (egress tiers included), its capacity items as the run held them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostVsTraffic {
    pub assumes: String,
    /// The journeys per second the run offered (its mean arrival rate): the month there is the
    /// run's `monthly_usd`.
    pub run_rate_per_s: f64,
    /// The month at rates from 1/1000 of the run's to twice it (log spaced).
    pub points: Vec<CostAtRate>,
    /// The traffic whose month falls inside the reference band (with `cost.reference`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band: Option<BandFit>,
}

/// The month at one traffic level.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CostAtRate {
    /// Journeys per second, at the traffic level the run's rate stands for (its peak, when
    /// the projection's duty is a day's mean-to-peak ratio).
    pub rate_per_s: f64,
    pub monthly_usd: f64,
    pub infrastructure_monthly_usd: f64,
    pub usage_monthly_usd: f64,
    /// Each journey's count on an average day: its share of the arrivals x rate x duty x
    /// 86,400 s.
    pub journeys_per_day: IndexMap<String, f64>,
}

/// Where the month meets the reference band's ends.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BandFit {
    pub low_usd: f64,
    pub high_usd: f64,
    /// The lowest traffic whose month reaches `low_usd` (rate 0 when the capacity alone
    /// costs that much).
    pub from: CostAtRate,
    /// The highest traffic whose month stays within `high_usd`; `null` when the capacity alone
    /// costs more (no traffic fits).
    pub to: Option<CostAtRate>,
}
