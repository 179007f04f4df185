//! A load run followed while it runs: one JSON line per finished window (`--live FILE`, `-`
//! for stdout: journeys ended, errors and p95 per journey, flushed at once so a CI log or a
//! dashboard can follow), and live judgement of the SLOs marked `abort: true` (k6's
//! `abortOnFail`): after its grace period, an objective missed over what was measured so far
//! stops the run. The judgement is a pure function of the journeys so far ([`judge`]).

use indexmap::IndexMap;
use models::summary::{JourneySummary, RunKind, RunSummary};
use models::Slo;
use std::io::Write;
use std::sync::Mutex;

/// Why a run was stopped early by an aborting SLO.
#[derive(Clone, Debug, PartialEq)]
pub struct Aborted {
    /// The objective's text.
    pub slo: String,
    /// Run time at which it was found missed, seconds.
    pub at_s: f64,
    pub observed: Option<f64>,
}

/// Where window lines go, and the objectives judged live.
pub struct Live {
    out: Option<Mutex<Box<dyn Write + Send>>>,
    slos: Vec<Slo>,
}

impl Live {
    /// `path` `-` writes to stdout; a file is created (or truncated) now, before any traffic.
    pub fn open(path: Option<&std::path::Path>, slos: &[Slo]) -> Result<Live, String> {
        let out: Option<Box<dyn Write + Send>> = match path {
            None => None,
            Some(p) if p.as_os_str() == "-" => Some(Box::new(std::io::stdout())),
            Some(p) => Some(Box::new(std::fs::File::create(p).map_err(|e| {
                format!("--live {}: cannot create the file: {e}", p.display())
            })?)),
        };
        Ok(Live {
            out: out.map(Mutex::new),
            slos: slos.iter().filter(|s| s.abort.is_some()).cloned().collect(),
        })
    }

    /// Whether anything is followed (lines to write or objectives to judge).
    pub fn active(&self) -> bool {
        self.out.is_some() || !self.slos.is_empty()
    }

    /// Writes the line of window `index` (`start_s` long `width_s`), with `aborted` when the
    /// run was stopped in it. A write that fails is reported once on stderr, never fatal.
    pub fn line(
        &self,
        index: usize,
        width_s: f64,
        rows: &IndexMap<String, (u64, u64, Option<f64>)>,
        aborted: Option<&Aborted>,
    ) {
        let Some(out) = &self.out else { return };
        let journeys: serde_json::Map<String, serde_json::Value> = rows
            .iter()
            .map(|(n, (count, errors, p95))| {
                (
                    n.clone(),
                    serde_json::json!({"requests": count, "errors": errors, "p95_ms": p95}),
                )
            })
            .collect();
        let mut line = serde_json::json!({
            "window": index,
            "start_s": index as f64 * width_s,
            "end_s": (index + 1) as f64 * width_s,
            "journeys": journeys,
        });
        if let Some(a) = aborted {
            line["aborted"] =
                serde_json::json!({"slo": a.slo, "at_s": a.at_s, "observed": a.observed});
        }
        let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
        if writeln!(w, "{line}").and_then(|_| w.flush()).is_err() {
            eprintln!("--live: cannot write window {index}");
        }
    }

    /// The first aborting objective missed at run time `at_s` (see [`judge`]).
    pub fn judge(
        &self,
        scenario: &str,
        journeys: IndexMap<String, JourneySummary>,
        at_s: f64,
    ) -> Option<Aborted> {
        judge(&self.slos, scenario, journeys, at_s)
    }
}

/// The first of `slos` past its grace period at run time `at_s` and missed over `journeys`
/// (what was measured so far), with evidence: a latency objective over a journey that has not
/// ended yet is not judged (no journey has had time to), but one whose journeys all failed is.
pub fn judge(
    slos: &[Slo],
    scenario: &str,
    journeys: IndexMap<String, JourneySummary>,
    at_s: f64,
) -> Option<Aborted> {
    let summary = RunSummary {
        partial: true,
        journeys,
        ..RunSummary::empty(RunKind::Load, scenario, 0, 1, at_s)
    };
    slos.iter().find_map(|slo| {
        let grace = slo.abort?.grace.as_secs_f64();
        if at_s < grace {
            return None;
        }
        let ended = match slo.journey() {
            Some(j) => summary.journeys.get(j).is_some_and(|s| s.count > 0),
            None => summary.journeys.values().any(|s| s.count > 0),
        };
        if !ended {
            return None;
        }
        let v = slo.verdict(&summary);
        (!v.met).then(|| Aborted {
            slo: slo.text.clone(),
            at_s,
            observed: v.observed,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slo(text: &str, grace_s: Option<u64>) -> Slo {
        let mut s = Slo::parse(text).unwrap();
        s.abort = grace_s.map(|g| models::slo::Abort {
            grace: models::Duration::from_secs(g),
        });
        s
    }

    fn journeys(count: u64, errors: u64) -> IndexMap<String, JourneySummary> {
        let mut m = IndexMap::new();
        m.insert(
            "x".to_string(),
            JourneySummary {
                count,
                errors,
                error_rate: errors as f64 / count.max(1) as f64,
                ..Default::default()
            },
        );
        m
    }

    #[test]
    fn judged_after_the_grace_period_and_only_with_evidence() {
        let slos = [
            slo("error_rate(x) < 1%", Some(5)),
            slo("error_rate(x) < 0.1%", None),
        ];
        // 2 errors in 100 = 2 %: missed, but within the grace period.
        assert_eq!(judge(&slos, "s", journeys(100, 2), 4.9), None);
        let a = judge(&slos, "s", journeys(100, 2), 5.0).unwrap();
        assert_eq!(a.slo, "error_rate(x) < 1%");
        assert_eq!(a.observed, Some(0.02));
        // 1 in 200 = 0.5 %: met (the second, non-aborting objective is missed: not judged).
        assert_eq!(judge(&slos, "s", journeys(200, 1), 30.0), None);
        // Nothing ended yet: nothing to judge.
        assert_eq!(judge(&slos, "s", journeys(0, 0), 30.0), None);
        // A latency objective whose journeys all failed has no data: missed.
        let p95 = [slo("p95(x) < 1s", Some(0))];
        assert!(judge(&p95, "s", journeys(10, 10), 1.0).is_some());
    }
}
