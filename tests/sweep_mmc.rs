//! `twin sweep` end to end on a textbook M/M/c queue whose passing and failing points are known
//! from Erlang C (scenarios/examples/sweep-mmc.yaml: 24 calls/s of 100 ms on `replicas`
//! single-server replicas sharing one queue): p95 sojourn 573 ms with 3 replicas, 334 ms with
//! 4, 306 ms with 5, unstable below 3; so `p95(call) < 450ms` is met from 4 replicas on.
//! Also: exit statuses, and bad `--vary` refused (exit 2) before anything runs.

use std::path::Path;
use std::process::{Command, Output};

const SCENARIO: &str = "scenarios/examples/sweep-mmc.yaml";

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run twin")
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("valid JSON")
}

/// Erlang C p95 sojourn (ms) of M/M/c with λ = 24/s, μ = 10/s.
fn erlang_c_p95_ms(c: u32) -> f64 {
    models::queueing::MMc {
        lambda: 24.0,
        mu: 10.0,
        c,
    }
    .sojourn_quantile(0.95)
        * 1000.0
}

#[test]
fn replicas_sweep_picks_the_cheapest_point_erlang_c_allows() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let dir = tmp.path().join("sweep");
    let out = twin(&[
        "sweep",
        SCENARIO,
        "--vary",
        "services.api.replicas=1,2,3,4,5",
        "--out",
        dir.to_str().expect("utf-8 path"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "cheapest point that meets every SLO: point 3 (services.api.replicas=4), replicas* 4.00"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("margin"), "{stdout}");
    assert!(
        stdout.contains("carry no cost"),
        "cost missing is said: {stdout}"
    );

    let table = json(&dir.join("sweep.json"));
    let rows = table["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), 5);
    let met: Vec<bool> = rows.iter().map(|r| r["all_slos_met"] == true).collect();
    assert_eq!(met, vec![false, false, false, true, true]);
    for (row, c) in rows.iter().zip(1..).skip(2) {
        let p95 = row["p95_ms"].as_f64().expect("p95");
        let expected = erlang_c_p95_ms(c);
        // At 80 % utilisation (3 replicas) a 10-minute p95 varies by several percent.
        let tolerance = if c == 3 { 0.15 } else { 0.06 };
        assert!(
            (p95 - expected).abs() / expected < tolerance,
            "{c} replicas: p95 {p95:.1} ms, Erlang C {expected:.1} ms"
        );
        let cell = &row["slos"][0];
        assert_eq!(cell["name"], "p95(call) < 450ms");
        let ci = cell["ci95"].as_array().expect("p95 has a CI");
        assert!(
            ci[0].as_f64() <= Some(p95) && Some(p95) <= ci[1].as_f64(),
            "{cell}"
        );
        let margin = cell["margin"].as_f64().expect("margin");
        assert!((margin - (450.0 - p95)).abs() < 1e-9, "{cell}");
    }
    assert_eq!(table["chosen"]["point"], 3);
    assert_eq!(table["chosen"]["parameters"]["services.api.replicas"], "4");
    assert_eq!(table["cost_basis"], "replicas");

    let summary = json(&dir.join("summary.json"));
    assert_eq!(summary["kind"], "sweep");
    assert_eq!(summary["sweep"]["chosen"]["point"], 3);
    assert_eq!(summary["services"]["api"]["replicas"]["max"], 4);
    assert_eq!(summary["sweep"]["grid"]["dimensions"][0]["values"][4], "5");

    let csv = std::fs::read_to_string(dir.join("sweep.csv")).expect("sweep.csv");
    assert_eq!(csv.lines().count(), 6, "{csv}");
    assert!(
        csv.starts_with("point,services.api.replicas,p95(call) < 450ms,"),
        "{csv}"
    );
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(page.contains("charts/frontier.svg") && page.contains("id=\"sweep\""));
    assert!(dir.join("charts/frontier.svg").is_file());
    for i in 0..5 {
        assert!(dir.join(format!("points/{i}.json")).is_file());
    }
}

#[test]
fn a_grid_where_no_point_passes_exits_1_and_names_the_closest() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let dir = tmp.path().join("sweep");
    let out = twin(&[
        "sweep",
        SCENARIO,
        "--vary",
        "services.api.replicas=2,3",
        "--horizon",
        "3m",
        "--out",
        dir.to_str().expect("utf-8 path"),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("no point meets every SLO; the closest: point 1"),
        "{stdout}"
    );
    let summary = json(&dir.join("summary.json"));
    assert_eq!(summary["sweep"]["some_point_meets_every_slo"], false);
}

#[test]
fn bad_vary_exits_2_before_anything_runs() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let dir = tmp.path().join("never");
    let out_dir = dir.to_str().expect("utf-8 path");
    let cases: [(&[&str], &str); 6] = [
        (&["--vary", "services.nope.replicas=1,2"], "services.nope"),
        (&["--vary", "services.api.replicas=1,two"], "`two`"),
        (&["--vary", "services.api.replicas"], "expected PATH=V1,V2"),
        (&["--vary", "services.api.replicas=1,,2"], "empty"),
        (&["--vary", "services.api.colour=1,2"], "colour"),
        (
            &["--vary", "services.api.replicas=4,5", "--shard", "2/2"],
            "--shard 2/2",
        ),
    ];
    for (args, says) in cases {
        let mut all = vec!["sweep", SCENARIO];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--out", out_dir]);
        let out = twin(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "{args:?} should say {says}: {stderr}"
        );
        assert!(
            !stderr.contains("points per minute"),
            "{args:?} simulated: {stderr}"
        );
        assert!(!dir.exists(), "{args:?} wrote {}", dir.display());
    }
    let out = twin(&["sweep", SCENARIO]);
    assert_eq!(out.status.code(), Some(2), "--vary is required");
}
