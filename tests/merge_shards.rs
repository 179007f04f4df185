//! `twin merge` of a sharded sweep: two shards merged give exactly what one unsharded sweep
//! writes (`sweep.csv` and `sweep.json` byte for byte, the same chosen point and summary), and
//! incomplete, repeated or mixed folders are refused with exit status 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SCENARIO: &str = "scenarios/examples/sweep-mmc.yaml";

fn twin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run twin")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn sweep(out: &Path, shard: Option<&str>, threads: &str) -> Output {
    let mut args = vec![
        "sweep",
        SCENARIO,
        "--vary",
        "services.api.replicas=3,4,5",
        "--vary",
        "workload.arrivals.poisson.rate=20/s,24/s",
        "--horizon",
        "4m",
        "--replications",
        "3",
        "--out",
        s(out),
    ];
    if let Some(sh) = shard {
        args.extend_from_slice(&["--shard", sh]);
    }
    Command::new(env!("CARGO_BIN_EXE_twin"))
        .args(&args)
        .env("RAYON_NUM_THREADS", threads)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run twin")
}

fn read(p: PathBuf) -> Vec<u8> {
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn without_engine(p: PathBuf) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_slice(&read(p)).expect("JSON");
    v.as_object_mut().expect("object").remove("engine");
    v
}

#[test]
fn two_merged_shards_equal_one_unsharded_sweep() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let whole = tmp.path().join("whole");
    let shard0 = tmp.path().join("shard-0");
    let shard1 = tmp.path().join("shard-1");
    let merged = tmp.path().join("merged");
    let out = sweep(&whole, None, "2");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Shards on a different number of threads: the result must not depend on it.
    for (dir, shard) in [(&shard0, "0/2"), (&shard1, "1/2")] {
        let out = sweep(dir, Some(shard), "1");
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let table: serde_json::Value =
            serde_json::from_slice(&read(dir.join("sweep.json"))).unwrap();
        assert_eq!(table["rows"].as_array().map(Vec::len), Some(3));
        assert_eq!(table["shard"]["count"], 2);
    }
    let out = twin(&["merge", s(&shard1), s(&shard0), "--out", s(&merged)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("cheapest point that meets every SLO"),
        "{stdout}"
    );
    for f in ["sweep.csv", "sweep.json"] {
        assert!(read(whole.join(f)) == read(merged.join(f)), "{f} differs");
    }
    for i in 0..6 {
        let f = format!("points/{i}.json");
        assert_eq!(
            without_engine(whole.join(&f)),
            without_engine(merged.join(&f)),
            "{f}"
        );
    }
    assert_eq!(
        without_engine(whole.join("summary.json")),
        without_engine(merged.join("summary.json"))
    );
    assert!(read(whole.join("timeline.json")) == read(merged.join("timeline.json")));
    assert!(merged.join("report.html").is_file() && merged.join("charts/frontier.svg").is_file());

    // Refusals: a shard missing, a shard twice, the output folder being a shard.
    let out = twin(&["merge", s(&shard0), "--out", s(&tmp.path().join("m2"))]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("1/2"), "names the missing shard: {stderr}");
    let out = twin(&[
        "merge",
        s(&shard0),
        s(&shard0),
        "--out",
        s(&tmp.path().join("m3")),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("twice"));
    let out = twin(&["merge", s(&shard0), s(&shard1), "--out", s(&shard0)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!tmp.path().join("m2").exists() && !tmp.path().join("m3").exists());
}

#[test]
fn merge_refuses_what_it_cannot_merge() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = twin(&["merge", s(tmp.path())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("summary.json"));

    let load = tmp.path().join("load");
    std::fs::create_dir(&load).unwrap();
    let summary = r#"{"kind": "load", "scenario": "x", "seed": 1, "replications": 1,
        "horizon_s": 60.0, "journeys": {}, "services": {}, "slos": [], "cost": null,
        "recovery": {"rto_s": null, "rpo_s": null, "lost_writes": null},
        "engine": {"events": 0, "wall_s": 0.0}}"#;
    std::fs::write(load.join("summary.json"), summary).unwrap();
    let out = twin(&["merge", s(&load)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // A load folder without its load.json (histograms, shard) cannot be merged.
    assert!(stderr.contains("load.json"), "{stderr}");

    let sim = tmp.path().join("sim");
    std::fs::create_dir(&sim).unwrap();
    std::fs::write(
        sim.join("summary.json"),
        summary.replace("\"load\"", "\"simulation\""),
    )
    .unwrap();
    let out = twin(&["merge", s(&sim), s(&load)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("one kind"));
}
