//! Service-level objectives as scenario files write them (`p95(submit) < 300ms`,
//! `error_rate(submit) < 0.1%`, `rto < 30s`, `availability > 99.9%`, `monthly_cost < $9600`),
//! `p95_ttft(chat) < 2s` and `p95_itl(chat) < 100ms` over server-sent-event streams, and their
//! verdict against a [`RunSummary`]. An entry may also be a mapping `{slo: TEXT, abort: true,
//! grace: 30s}` ([`Abort`]): a load run stops as soon as it is missed after the grace period.

use crate::summary::{RunSummary, SloVerdict};
use crate::units::{Duration, Fraction};
use serde::{de, Deserialize, Deserializer};
use std::fmt;

/// What an SLO measures.
#[derive(Clone, Debug, PartialEq)]
pub enum SloMetric {
    /// A latency percentile of a journey (50, 90, 95, 99, 99.9 ...).
    Percentile(f64),
    Mean,
    Max,
    ErrorRate,
    /// Fraction of successful requests over the horizon (all journeys, or one).
    Availability,
    Rto,
    Rpo,
    MonthlyCost,
    /// A percentile of a journey's time to first event of its `stream: sse` steps.
    Ttft(f64),
    /// A percentile of the gaps between events of a journey's `stream: sse` steps.
    Itl(f64),
}

/// Live judgement of an SLO during a load run (k6's `abortOnFail`): after `grace` of run
/// time, the run stops as soon as the objective is missed over what was measured so far.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Abort {
    pub grace: Duration,
}

impl Abort {
    /// The grace period when the entry names none: long enough for the first journeys to end
    /// and their rates to mean something, short beside a nightly run.
    pub const DEFAULT_GRACE: Duration = Duration(10_000_000_000);
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Comparison {
    Below,
    AtMost,
    Above,
    AtLeast,
}

/// One objective. `bound` is in the metric's summary unit: milliseconds for latencies, a
/// fraction for rates, seconds for RTO/RPO, US dollars for cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Slo {
    pub text: String,
    pub metric: SloMetric,
    journey: Option<String>,
    pub comparison: Comparison,
    pub bound: f64,
    /// Set by the mapping form with `abort: true`.
    pub abort: Option<Abort>,
}

impl Slo {
    pub fn journey(&self) -> Option<&str> {
        self.journey.as_deref()
    }

    pub fn parse(text: &str) -> Result<Slo, String> {
        let t = text.trim();
        let expected = "expected `p95(JOURNEY) < 300ms`, `mean(JOURNEY) < 200ms`, \
             `error_rate(JOURNEY) < 0.1%`, `p95_ttft(JOURNEY) < 2s`, `p95_itl(JOURNEY) < 100ms`, \
             `availability > 99.9%`, `rto < 30s`, `rpo < 15m` or `monthly_cost < $9600`";
        let (lhs, comparison, rhs) = ["<=", ">=", "<", ">"]
            .iter()
            .find_map(|op| {
                t.split_once(op).map(|(l, r)| {
                    let c = match *op {
                        "<" => Comparison::Below,
                        "<=" => Comparison::AtMost,
                        ">" => Comparison::Above,
                        _ => Comparison::AtLeast,
                    };
                    (l.trim(), c, r.trim())
                })
            })
            .ok_or_else(|| format!("`{t}` has no comparison: {expected}"))?;
        let (name, journey) = match lhs.split_once('(') {
            Some((n, rest)) => {
                let j = rest
                    .strip_suffix(')')
                    .ok_or_else(|| format!("`{lhs}` is missing its closing `)`: {expected}"))?
                    .trim();
                if j.is_empty() {
                    return Err(format!("`{lhs}` names no journey: {expected}"));
                }
                (n.trim(), Some(j.to_string()))
            }
            None => (lhs, None),
        };
        let metric = match name {
            "mean" => SloMetric::Mean,
            "max" => SloMetric::Max,
            "error_rate" => SloMetric::ErrorRate,
            "availability" => SloMetric::Availability,
            "rto" => SloMetric::Rto,
            "rpo" => SloMetric::Rpo,
            "monthly_cost" => SloMetric::MonthlyCost,
            p if p.starts_with('p') && (p.ends_with("_ttft") || p.ends_with("_itl")) => {
                let (q, stream) = p[1..]
                    .rsplit_once('_')
                    .ok_or_else(|| format!("unknown metric `{p}`: {expected}"))?;
                let q: f64 = q
                    .parse()
                    .map_err(|_| format!("unknown metric `{p}`: {expected}"))?;
                if !(0.0 < q && q < 100.0) {
                    return Err(format!("percentile `{p}` must lie between p0 and p100"));
                }
                if stream == "ttft" {
                    SloMetric::Ttft(q)
                } else {
                    SloMetric::Itl(q)
                }
            }
            p if p.starts_with('p') => {
                let q: f64 = p[1..]
                    .parse()
                    .map_err(|_| format!("unknown metric `{p}`: {expected}"))?;
                if !(0.0 < q && q < 100.0) {
                    return Err(format!("percentile `{p}` must lie between p0 and p100"));
                }
                SloMetric::Percentile(q)
            }
            other => return Err(format!("unknown metric `{other}`: {expected}")),
        };
        let needs_journey = matches!(
            metric,
            SloMetric::Percentile(_)
                | SloMetric::Mean
                | SloMetric::Max
                | SloMetric::ErrorRate
                | SloMetric::Ttft(_)
                | SloMetric::Itl(_)
        );
        if needs_journey && journey.is_none() {
            return Err(format!("`{name}` needs a journey, e.g. `{name}(checkout)`"));
        }
        if !needs_journey && metric != SloMetric::Availability && journey.is_some() {
            return Err(format!("`{name}` takes no journey"));
        }
        let bound = match metric {
            SloMetric::Percentile(_)
            | SloMetric::Mean
            | SloMetric::Max
            | SloMetric::Ttft(_)
            | SloMetric::Itl(_) => Duration::parse(rhs)?.as_millis_f64(),
            SloMetric::Rto | SloMetric::Rpo => Duration::parse(rhs)?.as_secs_f64(),
            SloMetric::ErrorRate | SloMetric::Availability => Fraction::parse(rhs)?.0,
            SloMetric::MonthlyCost => rhs
                .trim_start_matches('$')
                .replace(',', "")
                .parse::<f64>()
                .map_err(|_| format!("expected a dollar amount such as `$9600`, found `{rhs}`"))?,
        };
        Ok(Slo {
            text: t.to_string(),
            metric,
            journey,
            comparison,
            bound,
            abort: None,
        })
    }

    /// Whether the objective is a latency (judged over successful journeys only).
    pub fn is_latency(&self) -> bool {
        matches!(
            self.metric,
            SloMetric::Percentile(_)
                | SloMetric::Mean
                | SloMetric::Max
                | SloMetric::Ttft(_)
                | SloMetric::Itl(_)
        )
    }

    /// The observed value in the summary, if the run measured it.
    pub fn observe(&self, s: &RunSummary) -> Option<f64> {
        use crate::summary::JourneySummary;
        let journey = self.journey.as_ref().and_then(|j| s.journeys.get(j));
        // Latency is over successful journeys: one without a success has no latency to
        // judge ("no data"), not 0 ms.
        let succeeded = journey.filter(|j| j.successes() > 0);
        // Errors and unfinished journeys both count against rates.
        let offered = journey.filter(|j| j.count + j.unfinished > 0);
        let rate =
            |j: &JourneySummary| JourneySummary::failure_rate(j.count, j.errors, j.unfinished);
        match self.metric {
            SloMetric::Percentile(q) => succeeded.map(|j| j.latency_ms.percentile(q)),
            SloMetric::Mean => succeeded.map(|j| j.latency_ms.mean),
            SloMetric::Max => succeeded.map(|j| j.latency_ms.max),
            SloMetric::ErrorRate => offered.map(rate),
            SloMetric::Availability => match &self.journey {
                Some(_) => offered.map(|j| 1.0 - rate(j)),
                None => {
                    let (n, e, u) = s
                        .journeys
                        .values()
                        .fold((0u64, 0u64, 0u64), |(n, e, u), j| {
                            (n + j.count, e + j.errors, u + j.unfinished)
                        });
                    (n + u > 0).then(|| 1.0 - JourneySummary::failure_rate(n, e, u))
                }
            },
            SloMetric::Rto => s.recovery.rto_s,
            SloMetric::Rpo => s.recovery.rpo_s,
            SloMetric::MonthlyCost => s.cost.as_ref().map(|c| c.monthly_usd),
            SloMetric::Ttft(q) => journey
                .and_then(|j| j.ttft_ms.as_ref())
                .map(|t| t.percentile(q)),
            SloMetric::Itl(q) => journey
                .and_then(|j| j.itl_ms.as_ref())
                .map(|t| t.percentile(q)),
        }
    }

    /// The verdict: an objective whose value was not measured is not met, and availability
    /// is not met while a fault never recovered (SPEC.md, "Verdicts").
    pub fn verdict(&self, s: &RunSummary) -> SloVerdict {
        let observed = self.observe(s);
        let unrecovered =
            s.recovery.faults.iter().any(|f| !f.recovered) || s.recovery.recovered == Some(false);
        let met = observed.is_some_and(|v| match self.comparison {
            Comparison::Below => v < self.bound,
            Comparison::AtMost => v <= self.bound,
            Comparison::Above => v > self.bound,
            Comparison::AtLeast => v >= self.bound,
        }) && !(self.metric == SloMetric::Availability && unrecovered);
        SloVerdict {
            name: self.text.clone(),
            observed,
            bound: self.bound,
            met,
        }
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Slo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Slo;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "an objective such as `p95(call) < 300ms`, or a mapping \
                     `{slo: \"error_rate(call) < 1%\", abort: true, grace: 30s}`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Slo, E> {
                Slo::parse(v).map_err(E::custom)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Slo, A::Error> {
                const KEYS: &[&str] = &["slo", "abort", "grace"];
                let (mut text, mut abort, mut grace) = (None::<String>, None::<bool>, None);
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "slo" => text = Some(map.next_value()?),
                        "abort" => abort = Some(map.next_value()?),
                        "grace" => grace = Some(map.next_value::<Duration>()?),
                        other => return Err(de::Error::unknown_field(other, KEYS)),
                    }
                }
                let text = text.ok_or_else(|| de::Error::missing_field("slo"))?;
                let mut slo = Slo::parse(&text).map_err(de::Error::custom)?;
                if grace.is_some() && abort != Some(true) {
                    return Err(de::Error::custom(
                        "`grace` is the delay before an aborting SLO is judged: it needs `abort: true`",
                    ));
                }
                if abort == Some(true) {
                    slo.abort = Some(Abort {
                        grace: grace.unwrap_or(Abort::DEFAULT_GRACE),
                    });
                }
                Ok(slo)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_spec_forms() {
        let s = Slo::parse("p95(submit_requirement) < 300ms").unwrap();
        assert_eq!(s.metric, SloMetric::Percentile(95.0));
        assert_eq!(s.journey(), Some("submit_requirement"));
        assert_eq!(s.bound, 300.0);
        let e = Slo::parse("error_rate(call) < 0.1%").unwrap();
        assert_eq!(e.metric, SloMetric::ErrorRate);
        assert!((e.bound - 0.001).abs() < 1e-15);
        assert_eq!(Slo::parse("p99.9(x) < 1s").unwrap().bound, 1000.0);
        assert_eq!(Slo::parse("rto < 30s").unwrap().bound, 30.0);
        assert_eq!(Slo::parse("monthly_cost < $9,600").unwrap().bound, 9600.0);
        assert_eq!(
            Slo::parse("availability > 99.9%").unwrap().comparison,
            Comparison::Above
        );
    }

    #[test]
    fn no_success_no_latency_and_no_recovery_no_availability() {
        use crate::summary::{FaultOutcome, JourneySummary};
        let mut s = RunSummary::empty(crate::summary::RunKind::Simulation, "x", 1, 1, 60.0);
        // Every request failed: its latency fields hold 0 ms, which must not pass.
        s.journeys.insert(
            "call".into(),
            JourneySummary {
                count: 10,
                errors: 10,
                error_rate: 1.0,
                ..Default::default()
            },
        );
        let p95 = Slo::parse("p95(call) < 300ms").unwrap().verdict(&s);
        assert!(!p95.met && p95.observed.is_none());
        assert!(
            !s.all_slos_met(),
            "a journey without a success fails the run"
        );
        // Unfinished journeys count against availability and error rate.
        s.journeys.insert(
            "call".into(),
            JourneySummary {
                count: 90,
                errors: 0,
                unfinished: 10,
                ..Default::default()
            },
        );
        let a = Slo::parse("availability > 95%").unwrap();
        assert_eq!(a.observe(&s), Some(0.9));
        let e = Slo::parse("error_rate(call) < 5%").unwrap();
        assert_eq!(e.observe(&s), Some(0.1));
        // A fault that never recovered: availability is missed whatever the count says.
        s.journeys["call"].unfinished = 0;
        assert!(a.verdict(&s).met);
        s.recovery.faults.push(FaultOutcome {
            recovered: false,
            ..Default::default()
        });
        assert!(!a.verdict(&s).met);
    }

    #[test]
    fn stream_objectives_and_the_aborting_form() {
        let t = Slo::parse("p95_ttft(chat) < 2s").unwrap();
        assert_eq!((t.metric.clone(), t.bound), (SloMetric::Ttft(95.0), 2000.0));
        let i = Slo::parse("p99_itl(chat) < 100ms").unwrap();
        assert_eq!((i.metric.clone(), i.bound), (SloMetric::Itl(99.0), 100.0));
        assert!(Slo::parse("p95_ttft < 2s").is_err());
        assert!(Slo::parse("p100_itl(chat) < 2s").is_err());
        let yaml = |s: &str| serde_yaml_ng::from_str::<Slo>(s);
        let a = yaml("{slo: \"error_rate(x) < 1%\", abort: true}").unwrap();
        assert_eq!(
            a.abort,
            Some(Abort {
                grace: Abort::DEFAULT_GRACE
            })
        );
        let g = yaml("{slo: \"error_rate(x) < 1%\", abort: true, grace: 3s}").unwrap();
        assert_eq!(g.abort.unwrap().grace, Duration::from_secs(3));
        assert_eq!(yaml("{slo: \"p95(x) < 1s\"}").unwrap().abort, None);
        assert_eq!(yaml("\"p95(x) < 1s\"").unwrap().abort, None);
        for bad in [
            "{slo: \"p95(x) < 1s\", abrt: true}",
            "{abort: true}",
            "{slo: \"p95(x) < 1s\", grace: 3s}",
            "{slo: \"p95(x) < 1s\", abort: true, grace: 3}",
        ] {
            assert!(yaml(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn rejects_malformed_objectives() {
        for bad in [
            "p95(call) 300ms",
            "p95 < 300ms",
            "p95(call) < 300",
            "p100(call) < 1s",
            "latency(call) < 1s",
            "error_rate(call) < 150%",
            "rto(call) < 30s",
            "p95(call < 1s",
        ] {
            assert!(Slo::parse(bad).is_err(), "{bad} should be rejected");
        }
    }
}
