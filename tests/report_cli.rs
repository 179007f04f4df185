//! `twin report DIR` as a user runs it: re-renders a run's folder, and names the file when the
//! folder has no readable summary.json (exit status 2).

use std::process::Command;

fn twin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twin"))
}

#[test]
fn a_folder_without_summary_exits_2_naming_the_file() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = twin()
        .arg("report")
        .arg(tmp.path())
        .output()
        .expect("run twin");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("summary.json"), "{stderr}");

    std::fs::write(tmp.path().join("summary.json"), "{ not json").expect("write");
    let out = twin()
        .arg("report")
        .arg(tmp.path())
        .output()
        .expect("run twin");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("summary.json") && stderr.contains("line 1"),
        "{stderr}"
    );
}

#[test]
fn renders_a_written_run_again() {
    let summary: models::RunSummary = serde_json::from_str(
        r#"{"kind": "simulation", "scenario": "mm1", "seed": 1, "replications": 1,
            "horizon_s": 60.0, "journeys": {}, "services": {}, "slos": [], "cost": null,
            "recovery": {"rto_s": null, "rpo_s": null, "lost_writes": null},
            "engine": {"events": 0, "wall_s": 0.0}}"#,
    )
    .expect("a minimal summary");
    let tmp = tempfile::tempdir().expect("temporary folder");
    let dir = tmp.path().join("mm1-simulation");
    let written = reports::write_run(&dir, &summary, &Default::default()).expect("write");
    std::fs::remove_file(&written.report).expect("remove report.html");
    let out = twin().arg("report").arg(&dir).output().expect("run twin");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(written.report.is_file());
    assert!(String::from_utf8_lossy(&out.stdout).contains("report.html"));
}

#[test]
fn renders_a_sweep_folder_again_with_its_sweep_section() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let dir = tmp.path().join("sweep");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = twin()
        .arg("sweep")
        .arg(root.join("scenarios/examples/sweep-mmc.yaml"))
        .args(["--vary", "services.api.replicas=3,4"])
        .args(["--horizon", "2m", "--replications", "1", "--out"])
        .arg(&dir)
        .output()
        .expect("run twin sweep");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = dir.join("report.html");
    let written = std::fs::read_to_string(&report).expect("the sweep's report");
    assert!(written.contains("id=\"sweep\""));
    std::fs::remove_file(&report).expect("remove report.html");
    let out = twin().arg("report").arg(&dir).output().expect("run twin");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = std::fs::read_to_string(&report).expect("report.html again");
    // Before the fix the folder re-rendered as a plain run: no Sweep section, no frontier.
    assert!(again.contains("id=\"sweep\""), "Sweep section kept");
    assert!(again.contains("charts/frontier.svg"));
    assert_eq!(again, written);
}
