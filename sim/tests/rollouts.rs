//! Rollouts against hand computations: the scenarios in tests/rollouts/ (each states its
//! expected figures and how they follow), checked here from the summary's `rollouts`.

mod support;

use models::rollout::{Outcome, RolloutSummary, Verdict};

fn rollout(file: &str) -> RolloutSummary {
    let out = support::simulate(&support::data_dir("rollouts"), file);
    out.summary
        .rollouts
        .into_iter()
        .next()
        .expect("one rollout")
}

#[test]
fn a_failing_canary_is_rolled_back_at_the_first_analysis_with_the_predicted_damage() {
    let r = rollout("canary-bad.yaml");
    let n = r.runs.len() as u32;
    assert_eq!(r.outcomes.rolled_back, n, "{:?}", r.outcomes);
    for run in &r.runs {
        assert_eq!(run.decided_at_s, Some(90.0));
        assert_eq!(run.analyses.len(), 1);
        assert_eq!(run.analyses[0].verdict, Verdict::Fail);
    }
    // 100/s x 10 % x 5 % x 30 s = 15 failed visits of the new version per replication.
    let ci = r.errors_new_ci95.expect("a CI over 30 replications");
    assert!(
        ci[0] <= 15.0 && 15.0 <= ci[1],
        "errors_new CI {ci:?}, mean {}",
        r.errors_new
    );
    // And its traffic: 100/s x 10 % x 30 s = 300 visits (Poisson: sd 17 a replication).
    let reps = f64::from(n);
    assert!((r.requests_new - 300.0).abs() < 4.0 * 300f64.sqrt() / reps.sqrt());
    // The damage's share of all journeys (3 min at 100/s = 18,000): 15 / 18,000.
    // Four standard errors of the mean count (Poisson, 15 a replication) over the journeys.
    let tolerance = 4.0 * (15.0 / reps).sqrt() / 18_000.0;
    assert!(
        (r.damage_share - 15.0 / 18_000.0).abs() < tolerance,
        "{}",
        r.damage_share
    );
}

#[test]
fn a_slightly_faster_version_is_promoted_after_its_pauses() {
    let r = rollout("canary-faster.yaml");
    assert_eq!(r.outcome, Outcome::Promoted);
    assert_eq!(r.outcomes.promoted, r.runs.len() as u32);
    // at 60 s + pauses 2 m + 2 m.
    assert_eq!(r.decided_at_s, Some(300.0));
    for run in &r.runs {
        let w: Vec<f64> = run.weights.iter().map(|p| p[1]).collect();
        assert!(
            w.contains(&0.1) && w.contains(&0.5) && w.contains(&1.0),
            "{w:?}"
        );
        assert!(run.analyses.iter().all(|a| a.verdict == Verdict::Pass));
    }
}

#[test]
fn a_blue_green_switch_without_headroom_waits_for_the_cluster_autoscaler() {
    let with_room = rollout("blue-green-headroom.yaml");
    // Room for the green pods: their start-up alone.
    assert_eq!(with_room.wait_for_pods_s, Some(20.0));
    assert_eq!(with_room.outcome, Outcome::Promoted);
    let without = rollout("blue-green-no-headroom.yaml");
    let wait = without.wait_for_pods_s.expect("the switch came");
    // A scan (<= 10 s), a node (~90 s, cv 0.25), the start-up (20 s).
    assert!(wait > 60.0 && wait < 240.0, "waited {wait} s");
    for run in &without.runs {
        assert!(
            run.first_traffic_s.unwrap() - 60.0 > 50.0,
            "{:?}",
            run.first_traffic_s
        );
    }
    assert_eq!(without.outcome, Outcome::Promoted);
    // Promoted one pause after the switch (60 s), when an analysis had passed.
    let run = &without.runs[0];
    assert_eq!(run.decided_at_s, Some(run.first_traffic_s.unwrap() + 60.0));
}

#[test]
fn the_baseline_comparison_catches_a_20_percent_regression() {
    let r = rollout("compare-slower.yaml");
    assert_eq!(
        r.outcomes.rolled_back,
        r.runs.len() as u32,
        "{:?}",
        r.outcomes
    );
    for run in &r.runs {
        let last = run.analyses.last().unwrap();
        assert!(last.reason.contains("Mann-Whitney"), "{}", last.reason);
    }
}

#[test]
fn identical_versions_are_rolled_back_at_most_at_the_nominal_rate() {
    let r = rollout("compare-identical.yaml");
    let analyses: Vec<_> = r.runs.iter().flat_map(|run| &run.analyses).collect();
    let n = analyses.len() as f64;
    let fired = analyses
        .iter()
        .filter(|a| a.verdict == Verdict::Fail)
        .count() as f64;
    // 95 % over the rollout's 8 planned analyses (4 min of pauses / 30 s): each analysis is
    // one test at 5 % / 8; the count is binomial(n, 0.00625); 99.9 % band.
    let p = 0.05 / 8.0;
    let (mean, sd) = (p * n, (p * (1.0 - p) * n).sqrt());
    assert!(
        (fired - mean).abs() < 3.29 * sd.max(1.0),
        "{fired} of {n} analyses fired, expected {mean:.1} +- {:.1}",
        3.29 * sd
    );
    // The rollout as a whole: rolled back at most 5 % of the time (Bonferroni bounds the
    // family's error); a binomial(runs, 0.05) count's 99.9 % upper band.
    let runs = r.runs.len() as f64;
    let rolled_back = f64::from(r.outcomes.rolled_back);
    let upper = 0.05 * runs + 3.09 * (0.05 * 0.95 * runs).sqrt();
    assert!(
        rolled_back <= upper,
        "{rolled_back} of {runs} identical rollouts rolled back (at most {upper:.1})"
    );
    assert!(analyses.iter().all(|a| !a.reason.contains("errors worse")));
}

#[test]
fn a_rollout_ends_when_the_losing_versions_replicas_are_gone() {
    // Rolled back at 90 s, the canary's replica drained for 30 s: from 60 s to 120 s.
    let bad = rollout("canary-bad.yaml");
    assert_eq!(bad.duration_s, Some(60.0));
    assert!(bad.runs.iter().all(|r| r.completed_at_s == Some(120.0)));
    // Promoted at 300 s, the old version's 4 replicas drained for 30 s: from 60 s to 330 s.
    let out = support::simulate(&support::data_dir("rollouts"), "canary-faster.yaml");
    let r = &out.summary.rollouts[0];
    assert_eq!(r.duration_s, Some(270.0));
    assert_eq!(r.planned_pause_s, 240.0);
    // The old version ends with none of its replicas, the new one holds the service's 4.
    let old = &out.summary.services["api"].replicas;
    let new = &out.summary.services["api@v2"].replicas;
    assert_eq!((old.min, old.max), (0, 4), "{old:?}");
    assert_eq!(new.max, 4, "{new:?}");
}

#[test]
fn a_promoted_blue_green_switch_gives_its_nodes_back() {
    let out = support::simulate(
        &support::data_dir("rollouts"),
        "blue-green-frees-nodes.yaml",
    );
    let r = &out.summary.rollouts[0];
    assert_eq!(r.outcome, Outcome::Promoted);
    let run = &r.runs[0];
    let decided = run.decided_at_s.expect("decided");
    let done = run.completed_at_s.expect("completed");
    assert_eq!(done, decided + 30.0);
    let nodes = &out.timeline.series["nodes/general"];
    let at = |t: f64| {
        nodes
            .iter()
            .rev()
            .find(|p| p.0 <= t)
            .map(|p| p.1)
            .expect("a sample")
    };
    assert_eq!(at(59.0), 2.0, "before the rollout");
    assert_eq!(at(decided), 4.0, "blue and green side by side");
    // The scale-down: at the scan 10 min after the first scan (every 10 s) that saw the blue
    // nodes empty; the timeline samples every 10 s, after the scan of the same instant.
    let first_empty_scan = (done / 10.0).ceil() * 10.0;
    assert_eq!(out.timeline.window_s, 10.0);
    assert_eq!(at(first_empty_scan + 590.0), 4.0);
    assert_eq!(at(first_empty_scan + 600.0), 2.0);
    let (_, last) = *nodes.last().expect("samples");
    assert_eq!(
        last, 2.0,
        "the node count (and cost) after promotion is the one before"
    );
}

#[test]
fn the_hpa_scales_the_promoted_version() {
    let out = support::simulate(&support::data_dir("rollouts"), "canary-then-step.yaml");
    let r = &out.summary.rollouts[0];
    assert_eq!(r.outcome, Outcome::Promoted);
    let decided = r.decided_at_s.expect("decided");
    assert!(decided < 600.0, "promoted at {decided} s, after the step");
    // The old version is gone once drained, and nothing brings it back.
    let old = &out.timeline.series["replicas/api"];
    assert!(
        old.iter()
            .filter(|(t, _)| *t >= decided + 30.0)
            .all(|p| p.1 == 0.0),
        "{old:?}"
    );
    let new = &out.summary.services["api@v2"].replicas;
    assert!((11..=16).contains(&new.max), "new version {new:?}");
    // The HPA's ratio goes on being reported under the service's name, and reads the step
    // (saturated pods read their whole CPU: 100 / 70 = 1.43 at most).
    let ratio = &out.timeline.series["hpa_ratio/api"];
    let after: Vec<f64> = ratio
        .iter()
        .filter(|(t, _)| *t > 600.0)
        .map(|p| p.1)
        .collect();
    assert!(
        after.iter().all(|v| v.is_finite()) && after.iter().any(|v| *v > 1.4),
        "{after:?}"
    );
}
