//! The drill's safety rails: without `--allow-destructive` the plan is printed and nothing runs
//! (exit 2); a target outside `allowed_targets` is refused (exit 2); a failing step stops the
//! drill, runs the rollback and writes what was measured, marked partial (exit 3); secrets are
//! shown as `${ENV}` only.

mod drill_support;

use drill_support::*;

fn scenario(dir: &std::path::Path) -> std::path::PathBuf {
    let drills = format!(
        r#"  - name: broken
    load: {{rate: 20/s, duration: 4s, journeys: [write]}}
    steps:
      - {{at: 0s, kind: check, name: mark, run: "touch {dir}/ran"}}
      - {{at: 500ms, kind: fault, name: leak and fail, shell: true, run: "echo token=${{TWIN_DRILL_SECRET}}; exit 7", timeout: 5s}}
      - {{at: 1s, kind: recovery, run: "touch {dir}/never"}}
    rollback:
      - {{run: "touch {dir}/rolled-back"}}
    audit: {{journey: write}}
    recovery: {{window: 1s}}
    targets: [rto < 30s]
"#,
        dir = dir.display()
    );
    let path = dir.join("safety.yaml");
    std::fs::write(&path, write_scenario("safety", &drills)).expect("scenario");
    path
}

#[test]
fn without_allow_destructive_only_the_plan_is_printed() {
    let scratch = Scratch::new("drill-plan");
    let s = scenario(&scratch.0);
    let out = scratch.0.join("out");
    let o = run_drill(&s, "broken", "http://127.0.0.1:9", &out, &[]);
    let text = show(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("steps:") && stdout.contains("echo token=${TWIN_DRILL_SECRET}"),
        "{text}"
    );
    assert!(stdout.contains("--allow-destructive"), "{text}");
    assert!(!scratch.0.join("ran").exists(), "a command ran: {text}");
    assert!(!out.exists());
}

#[test]
fn a_target_outside_allowed_targets_is_refused() {
    let scratch = Scratch::new("drill-allowed");
    let s = scenario(&scratch.0);
    let out = scratch.0.join("out");
    let o = run_drill(
        &s,
        "broken",
        "http://10.20.30.40:8080",
        &out,
        &["--allow-destructive"],
    );
    let text = show(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("allowed_targets"), "{text}");
    assert!(!scratch.0.join("ran").exists(), "a command ran: {text}");
    let o = run_drill(
        &s,
        "nope",
        "http://127.0.0.1:9",
        &out,
        &["--allow-destructive"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

#[test]
fn a_failed_step_rolls_back_and_writes_a_partial_summary() {
    let scratch = Scratch::new("drill-fail");
    let s = scenario(&scratch.0);
    let emu_scenario = scratch.0.join("emulate.yaml");
    std::fs::write(&emu_scenario, write_scenario("emulate", "  []")).expect("scenario");
    let emulator = Emulator::with_database(&emu_scenario, None);
    let out = scratch.0.join("out");
    let o = twin()
        .arg("drill")
        .arg(&s)
        .args([
            "--drill",
            "broken",
            "--target",
            &emulator.url(),
            "--allow-destructive",
        ])
        .arg("--out")
        .arg(&out)
        .env("TWIN_DRILL_SECRET", "s3cr3t-value-42")
        .output()
        .expect("twin drill");
    let text = show(&o);
    assert_eq!(o.status.code(), Some(3), "{text}");
    assert!(scratch.0.join("ran").exists(), "{text}");
    assert!(
        scratch.0.join("rolled-back").exists(),
        "rollback did not run: {text}"
    );
    assert!(
        !scratch.0.join("never").exists(),
        "a step ran after the failure: {text}"
    );
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["kind"], "drill");
    assert_eq!(summary["partial"], true, "{text}");
    assert_eq!(summary["drill"]["failed_step"], "leak and fail");
    assert!(summary["journeys"]["write"]["count"].as_u64().unwrap_or(0) > 0);
    // The secret is redacted everywhere it could have gone.
    let log = std::fs::read_to_string(out.join("drill.log")).expect("drill.log");
    assert!(log.contains("token=${TWIN_DRILL_SECRET}"), "{log}");
    for f in ["drill.log", "summary.json", "report.html", "timeline.json"] {
        let body = std::fs::read_to_string(out.join(f)).expect(f);
        assert!(!body.contains("s3cr3t-value-42"), "{f} holds the secret");
    }
    assert!(
        !text.contains("s3cr3t-value-42"),
        "the output holds the secret"
    );
}
