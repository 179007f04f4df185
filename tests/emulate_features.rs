//! `twin emulate` serving a two-step journey (capture, poll, secret header) and queueing in
//! wall-clock time; `twin load` driving it with the secret taken from the environment and never
//! written anywhere.

mod support;

use std::time::{Duration, Instant};
use support::*;

const SECRET: &str = "s3cret-token-7f1c9d";

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn captures_polls_and_secrets() {
    let scenario = example("loopback-features.yaml");
    let emulator = Emulator::start(&scenario);
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    let history = out.path().join("history.csv");
    let o = twin()
        .arg("load")
        .arg(&scenario)
        .args([
            "--target",
            &emulator.url(),
            "--duration",
            "4s",
            "--no-predict",
            "--out",
        ])
        .arg(&dir)
        .arg("--history")
        .arg(&history)
        .env("TWIN_API_TOKEN", SECRET)
        .env("TWIN_COMMIT", "abc123")
        .output()
        .expect("twin load");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let summary = json(&dir.join("summary.json"));
    let j = &summary["journeys"]["submit_feature"];
    assert!(j["count"].as_u64().unwrap_or(0) >= 100, "{summary}");
    assert_eq!(j["errors"].as_u64(), Some(0), "{summary}");
    // Both steps were called: the POST, then the GET on the captured id.
    let stats: serde_json::Value =
        serde_json::from_str(&emulator.get("/__twin/stats").1).expect("stats");
    let posts = stats["by_route"]["POST /features"].as_u64().unwrap_or(0);
    let gets = stats["by_route"]["GET /features/{feature_id}"]
        .as_u64()
        .unwrap_or(0);
    assert!(posts > 0 && gets >= posts, "{stats}");
    let detail = json(&dir.join("load.json"));
    assert_eq!(detail["requests"].as_u64(), Some(posts + gets));
    // The secret is in no output.
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!printed.contains(SECRET));
    for f in files_under(&dir).into_iter().chain([history.clone()]) {
        let bytes = std::fs::read(&f).expect("read");
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "{} holds the secret",
            f.display()
        );
    }
    let h = std::fs::read_to_string(&history).expect("history");
    assert!(
        h.starts_with("time,scenario,commit,partial,submit_feature p95_ms"),
        "{h}"
    );
    assert!(
        h.lines()
            .nth(1)
            .is_some_and(|l| l.contains("loopback-features,abc123,false")),
        "{h}"
    );
}

#[test]
fn a_missing_secret_exits_2_before_any_traffic() {
    let scenario = example("loopback-features.yaml");
    let emulator = Emulator::start(&scenario);
    let out = tempfile::tempdir().expect("tempdir");
    let o = twin()
        .arg("load")
        .arg(&scenario)
        .args(["--target", &emulator.url(), "--duration", "2s", "--out"])
        .arg(out.path().join("run"))
        .env_remove("TWIN_API_TOKEN")
        .output()
        .expect("twin load");
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("TWIN_API_TOKEN"));
    assert_eq!(emulator.requests(), 0);
}

#[test]
fn requests_wait_in_fifo_order_for_a_server() {
    // One replica, one server, a constant 200 ms: three requests at once finish at about
    // 200, 400 and 600 ms.
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("fifo.yaml");
    std::fs::write(
        &path,
        "name: fifo\nhorizon: 1m\nservices:\n  api:\n    concurrency: 1\n    service_time: {constant: 200ms}\n\
         workload:\n  arrivals: {poisson: {rate: 1/s}}\n  journeys:\n    - name: call\n      steps:\n        - service: api\n          http: {path: /x}\n",
    )
    .expect("write");
    let emulator = Emulator::start(&path);
    let port = emulator.port;
    let start = Instant::now();
    let threads: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || (http(port, "GET", "/x", "").0, start.elapsed())))
        .collect();
    let mut done: Vec<Duration> = threads
        .into_iter()
        .map(|t| {
            let (status, d) = t.join().expect("thread");
            assert_eq!(status, 200);
            d
        })
        .collect();
    done.sort();
    for (i, d) in done.iter().enumerate() {
        let want = 0.2 * (i + 1) as f64;
        assert!(
            (d.as_secs_f64() - want).abs() < 0.08,
            "request {i} took {d:?}, want ~{want}s"
        );
    }
    assert_eq!(http(port, "GET", "/nowhere", "").0, 404);
    let (status, metrics) = emulator.get("/metrics");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("twin_emulator_requests_total{route=\"GET /x\",service=\"api\"} 3"),
        "{metrics}"
    );
}
