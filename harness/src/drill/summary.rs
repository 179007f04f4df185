//! A drill's measurement as the run summary and timeline every run produces: journeys'
//! latency and errors, `recovery` {rto_s, rpo_s, lost_writes} judged against the drill's
//! targets, and the timeline with the steps as marks and success rate, p95 and lost writes as
//! series; plus the drill-only figures (time to first success, duplicates, unacknowledged).

use super::audit::{self, AuditResult};
use super::recovery::{self, Criteria, Sample};
use super::run::DrillRun;
use models::drill::{DrillSpec, StepKind};
use models::slo::Slo;
use models::slo::SloMetric;
use models::summary::SloVerdict;
use models::summary::{
    EngineStats, JourneySummary, LatencyCi, LatencyStats, Recovery, RunKind, RunSummary,
};
use models::timeline::{Timeline, TimelineEvent, WindowStats};
use models::Scenario;

/// What only a drill has, beside the summary.
#[derive(Clone, Debug, Default)]
pub struct DrillFigures {
    /// Start of the first fault step, seconds from the start of the load.
    pub fault_s: Option<f64>,
    /// From the fault to the end of the last recovery step (what the steps took).
    pub steps_s: Option<f64>,
    /// From the fault to the start of the last recovery step: no recovery can come earlier
    /// (a command may return some time after its effect, as `pg_ctl promote` does).
    pub recovery_started_s: Option<f64>,
    pub rto_s: Option<f64>,
    pub time_to_first_success_s: Option<f64>,
    pub audit: Option<AuditResult>,
    pub criteria: Option<Criteria>,
    /// Why RPO was not measured although the drill has an audit: no read-back (only
    /// acknowledgements), or writes the read-back could not read (unknown, not kept).
    pub rpo_not_measured: Option<String>,
    /// Writes the read-back could not read: the run itself failed (exit 3).
    pub unreadable: u64,
}

/// The recovery criteria: the drill's own, else the scenario's SLOs on the drill's journeys,
/// else 99 % success and no latency bound; the window is the scenario's `recovery_window`
/// unless the drill sets one.
pub fn criteria(scenario: &Scenario, drill: &DrillSpec, journeys: &[String]) -> Criteria {
    let on_load = |j: Option<&str>| {
        j.is_some_and(|j| {
            journeys.iter().any(|n| n == j)
                && (drill.load.journeys.is_empty() || drill.load.journeys.iter().any(|n| n == j))
        })
    };
    let max_error = scenario
        .slos
        .iter()
        .filter(|s| s.metric == SloMetric::ErrorRate && on_load(s.journey()))
        .map(|s| s.bound)
        .min_by(f64::total_cmp);
    let max_p95 = scenario
        .slos
        .iter()
        .filter(|s| s.metric == SloMetric::Percentile(95.0) && on_load(s.journey()))
        .map(|s| s.bound / 1000.0)
        .min_by(f64::total_cmp);
    Criteria {
        window_s: drill
            .recovery
            .window
            .unwrap_or(scenario.recovery_window)
            .as_secs_f64(),
        min_success: drill
            .recovery
            .success_rate
            .map(|f| f.0)
            .or(max_error.map(|e| 1.0 - e))
            .unwrap_or(0.99),
        max_p95_s: drill.recovery.p95.map(|d| d.as_secs_f64()).or(max_p95),
    }
}

fn latency(mut ms: Vec<f64>) -> LatencyStats {
    let mean = if ms.is_empty() {
        0.0
    } else {
        ms.iter().sum::<f64>() / ms.len() as f64
    };
    let mut p = |q| recovery::percentile(&mut ms, q).unwrap_or(0.0);
    LatencyStats {
        mean,
        p50: p(50.0),
        p90: p(90.0),
        p95: p(95.0),
        p99: p(99.0),
        max: p(100.0),
        other: Default::default(),
    }
}

/// Figures, summary and timeline of a finished (or stopped) drill.
pub fn summarize(
    scenario: &Scenario,
    drill: &DrillSpec,
    run: &DrillRun,
) -> (RunSummary, Timeline, DrillFigures) {
    let c = criteria(scenario, drill, &run.journeys);
    let all: Vec<Sample> = run.samples.iter().map(|(_, s)| *s).collect();
    let fault_s = run
        .steps
        .iter()
        .filter(|s| s.kind == StepKind::Fault)
        .map(|s| s.start_s)
        .min_by(f64::total_cmp);
    let steps_s = fault_s.and_then(|f| {
        run.steps
            .iter()
            .filter(|s| s.kind == StepKind::Recovery)
            .map(|s| s.end_s - f)
            .max_by(f64::total_cmp)
    });
    let recovery_started_s = fault_s.and_then(|f| {
        run.steps
            .iter()
            .filter(|s| s.kind == StepKind::Recovery)
            .map(|s| s.start_s - f)
            .max_by(f64::total_cmp)
    });
    let ttfs = fault_s.and_then(|f| recovery::time_to_first_success(&all, f));
    // A healthy window can start before the service is back (a window's samples are those
    // scheduled in it; its p95 may hide the failures at its start), so RTO never ends before
    // the first success after the fault nor before the last recovery step started.
    let rto_s = fault_s
        .and_then(|f| recovery::rto(&all, f, run.load_end_s, &c))
        .map(|r| {
            r.max(ttfs.unwrap_or(0.0))
                .max(recovery_started_s.unwrap_or(0.0))
        });
    let acks_only = drill
        .audit
        .as_ref()
        .is_some_and(|a| a.read.is_none() && a.sql.is_none());
    let audit_result = match &run.found {
        Some(found) => Some(audit::reconcile(&run.audit, found, fault_s)),
        // Acknowledgements only: nothing acknowledged can be found missing.
        None if acks_only && !run.stopped_early() => Some(audit::reconcile(
            &run.audit,
            &audit::acknowledged_only(&run.audit),
            fault_s,
        )),
        None => None,
    };
    let unreadable = audit_result.as_ref().map_or(0, |a| a.unknown);
    let rpo_not_measured = if audit_result.is_some() && acks_only {
        Some("no read-back".to_string())
    } else if unreadable > 0 {
        Some(format!(
            "{unreadable} of {} writes unreadable",
            audit_result.as_ref().map_or(0, |a| a.writes)
        ))
    } else {
        None
    };
    // Unknown is not kept: with no read-back, or writes it could not read, nothing says what
    // was lost, so neither RPO nor the lost writes are measured.
    let measured_audit = audit_result.as_ref().filter(|_| rpo_not_measured.is_none());
    let lost_writes = measured_audit.map(|a| a.lost.len() as u64);
    let rpo_s = measured_audit.map(|a| a.rpo_s);
    let recovery = Recovery {
        rto_s,
        rpo_s,
        lost_writes,
        ..Recovery::default()
    };

    let mut journeys = indexmap::IndexMap::new();
    for (j, name) in run.journeys.iter().enumerate() {
        let mine: Vec<&Sample> = run
            .samples
            .iter()
            .filter(|(k, _)| *k == j)
            .map(|(_, s)| s)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let count = mine.len() as u64;
        let errors = mine.iter().filter(|s| !s.ok).count() as u64;
        let lat = latency(mine.iter().map(|s| s.latency_s() * 1000.0).collect());
        journeys.insert(
            name.clone(),
            JourneySummary {
                count,
                errors,
                error_rate: errors as f64 / count as f64,
                // One measured run: no interval across replications.
                ci95_ms: LatencyCi::default(),
                latency_ms: lat,
                unfinished: 0,
                // Breakers are the simulator's: a measurement sees only their errors.
                circuit_breakers: Vec::new(),
                ..Default::default()
            },
        );
    }
    let measured = Measured {
        rto_s,
        rpo_s,
        lost_writes,
    };
    let mut warnings = Vec::new();
    if run.stopped_early() {
        warnings.push(match &run.failed_step {
            Some(s) => format!(
                "step `{s}` failed: the drill stopped, ran its rollback, and this is what was measured until then"
            ),
            None => "interrupted: the drill ran its rollback; this is what was measured until then".into(),
        });
    }
    if run.rollout.is_some() {
        // A rollout drill breaks nothing but the release: it has no RTO or RPO to start.
    } else if fault_s.is_none() {
        warnings.push("no fault step ran, so RTO and RPO have no start".into());
    } else if rto_s.is_none() && !run.stopped_early() {
        warnings.push(format!(
            "not recovered: no {:.1} s window after the fault met the success rate ({:.2} %){} within the load",
            c.window_s,
            c.min_success * 100.0,
            c.max_p95_s
                .map_or(String::new(), |p| format!(" and p95 (≤ {:.0} ms)", p * 1000.0))
        ));
    }
    if let Some(a) = &audit_result {
        if a.unknown > 0 {
            warnings.push(format!(
                "{} audited writes could not be read back: unknown, not kept; RPO is not measured and the run failed",
                a.unknown
            ));
        }
    }
    if !run.readback.is_empty() {
        warnings.push(format!("audit: {}", run.readback));
    }
    let summary = RunSummary {
        kind: RunKind::Drill,
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        replications: 1,
        horizon_s: drill.load.duration.as_secs_f64(),
        partial: run.stopped_early(),
        journeys,
        services: Default::default(),
        slos: drill
            .targets
            .iter()
            .map(|t| verdict(t, &measured))
            .collect(),
        cost: None,
        recovery,
        components: Default::default(),
        warnings,
        engine: EngineStats {
            events: run.requests,
            wall_s: run.wall_s,
        },
        fidelity: None,
        rollouts: Vec::new(),
        tags: Default::default(),
    };
    let timeline = timeline(drill, run, fault_s, rto_s, audit_result.as_ref(), &all);
    let figures = DrillFigures {
        fault_s,
        steps_s,
        recovery_started_s,
        rto_s,
        time_to_first_success_s: ttfs,
        audit: audit_result,
        criteria: Some(c),
        rpo_not_measured,
        unreadable,
    };
    (summary, timeline, figures)
}

fn timeline(
    drill: &DrillSpec,
    run: &DrillRun,
    fault_s: Option<f64>,
    rto_s: Option<f64>,
    audit_result: Option<&AuditResult>,
    all: &[Sample],
) -> Timeline {
    let w = (drill.load.duration.as_secs_f64() / 60.0).max(0.1);
    let mut t = Timeline {
        window_s: w,
        ..Timeline::default()
    };
    for (j, name) in run.journeys.iter().enumerate() {
        let mine: Vec<Sample> = run
            .samples
            .iter()
            .filter(|(k, _)| *k == j)
            .map(|(_, s)| *s)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let n = ((run.load_end_s / w).ceil() as usize).max(1);
        let mut windows = Vec::with_capacity(n);
        for i in 0..n {
            let (a, b) = (i as f64 * w, (i + 1) as f64 * w);
            let inside: Vec<&Sample> = mine
                .iter()
                .filter(|s| s.start_s >= a && s.start_s < b)
                .collect();
            let lat = latency(inside.iter().map(|s| s.latency_s() * 1000.0).collect());
            windows.push(WindowStats {
                start_s: a,
                count: inside.len() as u64,
                errors: inside.iter().filter(|s| !s.ok).count() as u64,
                mean_ms: lat.mean,
                p50_ms: lat.p50,
                p95_ms: lat.p95,
                p99_ms: lat.p99,
            });
        }
        t.journeys.insert(name.clone(), windows);
    }
    let win = recovery::windows(all, w);
    t.series.insert(
        "success_rate/all".into(),
        win.iter().map(|&(s, ok, _)| (s, ok)).collect(),
    );
    t.series.insert(
        "p95_ms/all".into(),
        win.iter().map(|&(s, _, p)| (s, p * 1000.0)).collect(),
    );
    if let (Some(a), Some(spec)) = (audit_result, &drill.audit) {
        t.series.insert(
            format!("lost_writes/{}", spec.journey),
            audit::lost_series(&run.audit, &a.lost),
        );
    }
    for s in &run.steps {
        let kind = if run.rollout.is_some() {
            "rollout"
        } else {
            s.kind.as_str()
        };
        t.events.push(TimelineEvent {
            at_s: s.start_s,
            label: format!("{kind}: {}", s.label),
        });
    }
    for a in run.rollout.iter().flat_map(|r| &r.analyses) {
        t.events.push(TimelineEvent {
            at_s: a.at_s,
            label: format!(
                "analysis: {:?}, {} of {} failed",
                a.verdict, a.errors, a.requests
            ),
        });
    }
    for s in &run.rollback {
        t.events.push(TimelineEvent {
            at_s: s.start_s,
            label: format!("rollback: {}", s.label),
        });
    }
    if let (Some(f), Some(r)) = (fault_s, rto_s) {
        t.events.push(TimelineEvent {
            at_s: f + r,
            label: format!("recovered (RTO {r:.3} s)"),
        });
    }
    t.events.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    t
}

/// What a drill measured that its targets are judged on.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Measured {
    pub rto_s: Option<f64>,
    pub rpo_s: Option<f64>,
    pub lost_writes: Option<u64>,
}

/// The verdict of one target. `rto` unmeasured (never recovered) is missed; `rpo` unmeasured
/// (no read-back, or writes it could not read) is missed; `rpo < B` is met
/// when no acknowledged write was lost, or when the loss spans less than `B` (so `rpo < 0s`
/// means exactly "nothing acknowledged was lost").
pub fn verdict(target: &Slo, m: &Measured) -> SloVerdict {
    let (observed, met) = match target.metric {
        SloMetric::Rto => (m.rto_s, m.rto_s.is_some_and(|v| v < target.bound)),
        SloMetric::Rpo => {
            let met = match (m.lost_writes, m.rpo_s) {
                (Some(0), Some(_)) => true,
                (Some(_), Some(r)) => r < target.bound,
                _ => false,
            };
            (m.rpo_s, met)
        }
        _ => (None, false),
    };
    SloVerdict {
        name: target.text.clone(),
        observed,
        bound: target.bound,
        met,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::slo::Slo;

    #[test]
    fn rpo_zero_means_nothing_lost() {
        let t = Slo::parse("rpo < 0s").expect("slo");
        let none_lost = Measured {
            rto_s: Some(1.0),
            rpo_s: Some(0.0),
            lost_writes: Some(0),
        };
        assert!(verdict(&t, &none_lost).met);
        let lost = Measured {
            lost_writes: Some(3),
            rpo_s: Some(0.3),
            ..none_lost
        };
        assert!(!verdict(&t, &lost).met);
        let t = Slo::parse("rpo < 15m").expect("slo");
        assert!(verdict(&t, &lost).met);
        let rto = Slo::parse("rto < 30s").expect("slo");
        assert!(verdict(&rto, &lost).met);
        assert!(!verdict(&rto, &Measured::default()).met);
        // Nothing read back: not measured, so not met whatever was counted.
        let unmeasured = Measured {
            rto_s: Some(1.0),
            rpo_s: None,
            lost_writes: Some(0),
        };
        assert!(!verdict(&Slo::parse("rpo < 15m").expect("slo"), &unmeasured).met);
    }
}
