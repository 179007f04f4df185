//! deploy/load-job.yaml: a Kubernetes Indexed Job whose N pods each run `twin load --shard k/N`
//! at once (parallelism == completions == N), each into its own folder; and its pods' script and
//! the merge its header documents, run here as Kubernetes would run them (all N indices at
//! once, against `twin emulate` on loopback, for 3 s instead of 30 min), give one merged load
//! folder whose count is what the emulator served.

mod support;

use serde_yaml_ng::Value;
use std::process::Command;
use support::*;

const MANIFEST: &str = include_str!("../deploy/load-job.yaml");

fn job() -> Value {
    serde_yaml_ng::from_str(MANIFEST).expect("deploy/load-job.yaml is YAML")
}

/// The load container's shell script (`command: [/bin/sh, -c]`, `args: [SCRIPT]`).
fn script(job: &Value) -> String {
    let containers = job["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers");
    let c = containers
        .iter()
        .find(|c| c["name"].as_str() == Some("load"))
        .expect("a container named load");
    let command: Vec<&str> = c["command"]
        .as_sequence()
        .expect("command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(command, vec!["/bin/sh", "-c"]);
    c["args"][0].as_str().expect("one script").to_string()
}

fn words(script: &str) -> Vec<String> {
    script
        .replace("\\\n", " ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The `twin merge` command of the header comment, continuation lines joined.
fn merge_command() -> String {
    let lines: Vec<&str> = MANIFEST
        .lines()
        .skip_while(|l| !l.contains("twin merge"))
        .take(2)
        .map(|l| l.trim_start_matches('#').trim())
        .collect();
    lines.join(" ").replace('\\', " ")
}

#[test]
fn is_an_indexed_job_whose_workers_run_at_once_one_shard_each() {
    let job = job();
    assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"));
    assert_eq!(job["kind"].as_str(), Some("Job"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_u64().expect("completions");
    let parallelism = spec["parallelism"].as_u64().expect("parallelism");
    assert!(completions > 1);
    // Load shards must run together: each sends 1/N of the rate.
    assert_eq!(parallelism, completions, "every shard runs at once");
    // A retried shard would send its share after the others: no retries.
    assert_eq!(spec["backoffLimit"].as_u64(), Some(0));
    assert_eq!(
        spec["template"]["spec"]["restartPolicy"].as_str(),
        Some("Never")
    );

    let w = words(&script(&job));
    assert_eq!(&w[..2], &["twin", "load"]);
    let after = |flag: &str| {
        w.iter()
            .position(|x| x == flag)
            .and_then(|i| w.get(i + 1))
            .unwrap_or_else(|| panic!("{flag} in {w:?}"))
            .clone()
    };
    let shard = after("--shard");
    let n = shard
        .strip_prefix("$(JOB_COMPLETION_INDEX)/")
        .unwrap_or_else(|| panic!("--shard {shard} uses JOB_COMPLETION_INDEX"));
    assert_eq!(
        n.parse::<u64>().ok(),
        Some(completions),
        "--shard N == completions"
    );
    assert!(
        after("--out").contains("$(JOB_COMPLETION_INDEX)"),
        "one folder per shard"
    );
    // The same explicit duration in every pod (`twin merge` refuses shards that differ).
    assert!(after("--duration").ends_with('m'));
    assert!(after("--target").starts_with("http"));
    // The merge names every shard's folder.
    let merge = merge_command();
    for i in 0..completions {
        assert!(merge.contains(&format!("/results/shard-{i} ")), "{merge}");
    }
    assert!(merge.contains("--out /results/merged"), "{merge}");
}

#[test]
fn the_pods_and_the_merge_run_as_documented() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let scenario = example("loopback-mmc.yaml");
    let emulator = Emulator::start(&scenario);
    let job = job();
    let n = job["spec"]["completions"].as_u64().expect("completions");
    let results = format!("{}/", tmp.path().display());
    let bin = env!("CARGO_BIN_EXE_twin");
    let pods: Vec<_> = (0..n)
        .map(|i| {
            let script = script(&job)
                .replace("$(JOB_COMPLETION_INDEX)", &i.to_string())
                .replace("twin load", &format!("'{bin}' load"))
                .replace("/scenarios/staging.yaml", &scenario.display().to_string())
                .replace(
                    "http://staging-gateway.staging.svc.cluster.local",
                    &emulator.url(),
                )
                .replace("--duration 30m", "--duration 3s")
                .replace("/results/", &results);
            Command::new("/bin/sh")
                .arg("-c")
                .arg(&script)
                .spawn()
                .expect("start a pod's script")
        })
        .collect();
    for mut p in pods {
        let status = p.wait().expect("pod script");
        assert_eq!(status.code(), Some(0), "a pod's script failed");
    }
    let merge = merge_command()
        .replace("twin merge", &format!("'{bin}' merge"))
        .replace("/results/", &results);
    let o = Command::new("/bin/sh")
        .arg("-c")
        .arg(&merge)
        .output()
        .expect("twin merge");
    assert_eq!(o.status.code(), Some(0), "{merge}\n{}", show(&o));
    let merged = json(&tmp.path().join("merged/load.json"));
    let summary = json(&tmp.path().join("merged/summary.json"));
    // Every request the shards sent, the emulator served; one journey, one step each.
    assert_eq!(merged["requests"].as_u64(), Some(emulator.requests()));
    assert_eq!(
        summary["journeys"]["call"]["count"].as_u64(),
        merged["requests"].as_u64()
    );
    assert_eq!(merged["shard"]["merged_from"].as_u64(), Some(n));
    for f in ["report.html", "junit.xml", "timeseries.csv"] {
        assert!(tmp.path().join("merged").join(f).exists(), "{f}");
    }
}
