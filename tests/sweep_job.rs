//! deploy/sweep-job.yaml: a Kubernetes Indexed Job whose pods each run one shard of a sweep,
//! selected by JOB_COMPLETION_INDEX with the same N as `completions`; and its command, run here
//! as Kubernetes would run it for index 0 (with local paths), works.

use serde_yaml_ng::Value;
use std::process::Command;

const MANIFEST: &str = include_str!("../deploy/sweep-job.yaml");

fn job() -> Value {
    serde_yaml_ng::from_str(MANIFEST).expect("deploy/sweep-job.yaml is YAML")
}

/// The sweep container's shell script (`command: [/bin/sh, -c]`, `args: [SCRIPT]`).
fn script(job: &Value) -> String {
    let containers = job["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers");
    let c = containers
        .iter()
        .find(|c| c["name"].as_str() == Some("sweep"))
        .expect("a container named sweep");
    let command: Vec<&str> = c["command"]
        .as_sequence()
        .expect("command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(command, vec!["/bin/sh", "-c"]);
    c["args"][0].as_str().expect("one script").to_string()
}

/// The script's words, line continuations joined.
fn words(script: &str) -> Vec<String> {
    script
        .replace("\\\n", " ")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn is_an_indexed_job_sharded_by_completion_index() {
    let job = job();
    assert_eq!(job["apiVersion"].as_str(), Some("batch/v1"));
    assert_eq!(job["kind"].as_str(), Some("Job"));
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_u64().expect("completions");
    let parallelism = spec["parallelism"].as_u64().expect("parallelism");
    assert!(completions > 1 && (1..=completions).contains(&parallelism));
    assert_eq!(
        spec["template"]["spec"]["restartPolicy"].as_str(),
        Some("Never")
    );

    let w = words(&script(&job));
    assert_eq!(&w[..2], &["twin", "sweep"]);
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
    // The merge the comment tells of names every shard's folder.
    let merge_line = MANIFEST
        .lines()
        .skip_while(|l| !l.contains("twin merge"))
        .take(2)
        .collect::<String>();
    for i in 0..completions {
        assert!(merge_line.contains(&format!("shard-{i}")), "{merge_line}");
    }
}

#[test]
fn the_pod_script_runs_shard_0_as_kubernetes_would() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let root = env!("CARGO_MANIFEST_DIR");
    // What Kubernetes does before the shell runs ($(VAR) expansion), and the pod's paths
    // mapped to local ones.
    let script = script(&job())
        .replace("$(JOB_COMPLETION_INDEX)", "0")
        .replace(
            "twin sweep",
            &format!("'{}' sweep", env!("CARGO_BIN_EXE_twin")),
        )
        .replace("/scenarios/", &format!("{root}/scenarios/examples/"))
        .replace("/results/", &format!("{}/", tmp.path().display()));
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("run the pod's script");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{script}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let table: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("shard-0/sweep.json")).expect("sweep.json"),
    )
    .expect("JSON");
    let n = job()["spec"]["completions"].as_u64().expect("completions");
    assert_eq!(table["shard"]["index"], 0);
    assert_eq!(table["shard"]["count"].as_u64(), Some(n));
}
