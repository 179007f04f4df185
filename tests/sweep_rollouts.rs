//! `twin sweep --pick fastest` over rollout plans (scenarios/examples/rollout-plans.yaml states
//! the hand computation): three first-step pauses with a bad release; the shortest lets the
//! canary reach 100 % before the first analysis (82.5 failed visits a replication, 0.46 % of
//! the journeys), the other two roll back at 10 % (15, 0.083 %); under a 0.25 % bound on the
//! worst replication the answer is the middle pause, the faster of the two within it.

use std::process::Command;

fn sweep(extra: &[&str]) -> (std::process::Output, tempfile::TempDir) {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let dir = tmp.path().join("sweep");
    let mut args = vec![
        "sweep",
        "scenarios/examples/rollout-plans.yaml",
        "--vary",
        "rollouts.0.steps.0.pause=15s,45s,2m",
        "--out",
        dir.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let out = Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(&args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run twin");
    (out, tmp)
}

#[test]
fn the_fastest_plan_within_the_damage_bound_is_the_middle_pause() {
    let (out, tmp) = sweep(&["--pick", "fastest", "--bound", "damage_share<=0.25%"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "fastest rollout plan within damage_share <= 0.25%: point 1 \
             (rollouts.0.steps.0.pause=45s), 45 s of pauses"
        ),
        "{stdout}"
    );
    let text = std::fs::read_to_string(tmp.path().join("sweep/sweep.json")).expect("sweep.json");
    let table: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(table["chosen"]["point"], 1);
    assert_eq!(table["chosen"]["within_bounds"], true);
    assert_eq!(table["rule"]["pick"], "fastest");
    let cell = |i: usize| table["rows"][i]["rollouts"][0].clone();
    let worst = |i: usize| cell(i)["worst_damage_share"].as_f64().expect("worst");
    let mean = |i: usize| cell(i)["errors_new"].as_f64().expect("errors_new");
    // Mean failed visits against the hand computation: Poisson, 10 replications, 4 standard
    // errors.
    for (i, want) in [(0, 82.5), (1, 15.0), (2, 15.0)] {
        let tolerance = 4.0 * (want / 10.0f64).sqrt();
        assert!(
            (mean(i) - want).abs() < tolerance,
            "point {i}: {} failed visits, expected {want} +- {tolerance:.1}",
            mean(i)
        );
        assert_eq!(cell(i)["rolled_back"], 10, "point {i}: {}", cell(i));
    }
    assert!(worst(0) > 0.0025 && worst(1) <= 0.0025 && worst(2) <= 0.0025);
    assert_eq!(cell(1)["planned_pause_s"], 45.0);
    assert_eq!(cell(2)["planned_pause_s"], 120.0);
}

#[test]
fn a_bound_no_plan_meets_exits_1_with_the_closest() {
    let (out, _tmp) = sweep(&["--pick", "fastest", "--bound", "errors_new<=2"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("no rollout plan stays within errors_new <= 2"),
        "{stdout}"
    );
}

#[test]
fn pick_and_bound_are_checked_before_anything_runs() {
    for (args, says) in [
        (&["--pick", "fastest"][..], "needs a --bound"),
        (&["--bound", "damage_share<=1%"][..], "add --pick fastest"),
        (
            &["--pick", "quickest", "--bound", "damage_share<=1%"][..],
            "`--pick quickest`",
        ),
        (
            &["--pick", "fastest", "--bound", "damage<=1%"][..],
            "unknown metric `damage`",
        ),
        (
            &["--pick", "fastest", "--bound", "errors_new<=5%"][..],
            "a count",
        ),
    ] {
        let (out, tmp) = sweep(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(
            !tmp.path().join("sweep").exists(),
            "{args:?} wrote a folder"
        );
    }
}

#[test]
fn the_sweep_report_names_the_fastest_plan_not_the_cheapest() {
    let (out, tmp) = sweep(&["--pick", "fastest", "--bound", "damage_share<=0.25%"]);
    assert_eq!(out.status.code(), Some(0));
    let page = std::fs::read_to_string(tmp.path().join("sweep/report.html")).expect("report");
    assert!(
        page.contains(
            "Fastest rollout plan whose worst replication stays within damage_share &lt;= 0.25%: \
             point 1"
        ),
        "{page}"
    );
    assert!(!page.contains("Cheapest point that meets every SLO"));
}
