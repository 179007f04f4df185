//! `twin drill --rollout`: a rollout drilled against two local servers behind a proxy the test
//! controls, all on loopback. The old version (v1) answers 200, the new one (v2) either fails 3
//! requests in 10 with 500 or answers 200; each names itself in `x-version`. The proxy sends
//! each request to v2 with the weight the drill's `set_weight` hook wrote to a file (an exact
//! share, not a coin: of every n requests, floor(n x weight) go to v2), so the counts below are
//! hand computations: at 100 journeys/s and a 20 % canary, a 2 s analysis sees 40 requests to
//! v2, 12 of them failed.
//!
//! The simulated rollout of the same scenario is decided at a closed-form time: a failed
//! first analysis at `at` + interval = 1 s + 2 s = 3 s, a promotion when the last pause ends,
//! 1 s + 4 s = 5 s. The drill's decision comes later by what its hooks took (milliseconds
//! here), so it must fall within one analysis interval after the prediction.

mod drill_support;

use drill_support::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How a backend answers its `n`-th request (from 0): status.
type Answer = fn(u64) -> u16;

/// Reads one HTTP/1.1 request (head and body) from `reader`; None at the end of the stream.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let end = line.trim().is_empty();
        head.extend_from_slice(line.as_bytes());
        if end {
            break;
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    head.extend_from_slice(&body);
    Some(head)
}

/// A backend: one request per connection, closed after the answer (the proxy reads to the end).
fn backend(version: &'static str, answer: Answer) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let served = Arc::new(AtomicU64::new(0));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let served = served.clone();
            std::thread::spawn(move || {
                let Ok(read) = conn.try_clone() else { return };
                let mut reader = BufReader::new(read);
                if read_request(&mut reader).is_none() {
                    return;
                }
                let status = answer(served.fetch_add(1, Ordering::SeqCst));
                let body = format!("{{\"version\": \"{version}\"}}");
                let mut out = conn;
                let _ = write!(
                    out,
                    "HTTP/1.1 {status} X\r\nx-version: {version}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            });
        }
    });
    port
}

/// The proxy: keep-alive towards the client, a fresh connection to the chosen backend per
/// request; the share of v2 is the percent in `weight_file` (absent: 0).
fn proxy(old: u16, new: u16, weight_file: PathBuf) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    // Requests routed so far and those sent to v2, under one lock so the share is exact.
    let routed = Arc::new(std::sync::Mutex::new((0u64, 0u64, -1.0f64)));
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let routed = routed.clone();
            let weight_file = weight_file.clone();
            std::thread::spawn(move || {
                let Ok(read) = conn.try_clone() else { return };
                let mut reader = BufReader::new(read);
                let mut out = conn;
                while let Some(request) = read_request(&mut reader) {
                    let w = std::fs::read_to_string(&weight_file)
                        .ok()
                        .and_then(|t| t.trim().parse::<f64>().ok())
                        .unwrap_or(0.0)
                        / 100.0;
                    let to_new = {
                        let mut g = routed.lock().expect("routed");
                        if g.2 != w {
                            // A new weight: its share counts from now.
                            *g = (0, 0, w);
                        }
                        g.0 += 1;
                        let go = ((g.0 as f64) * w).floor() as u64 > g.1;
                        if go {
                            g.1 += 1;
                        }
                        go
                    };
                    let port = if to_new { new } else { old };
                    let mut answer = Vec::new();
                    let ok = TcpStream::connect(("127.0.0.1", port))
                        .and_then(|mut b| {
                            b.write_all(&request)?;
                            b.read_to_end(&mut answer)
                        })
                        .is_ok();
                    if !ok {
                        answer = b"HTTP/1.1 502 X\r\nContent-Length: 0\r\n\r\n".to_vec();
                    }
                    if out.write_all(&answer).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

fn always_ok(_: u64) -> u16 {
    200
}

/// 3 requests in 10 fail.
fn thirty_percent_fail(n: u64) -> u16 {
    if n % 10 < 3 {
        500
    } else {
        200
    }
}

fn scenario(dir: &Path, new_version: &str) -> PathBuf {
    let d = dir.display();
    let text = format!(
        r#"name: rollout-drill
seed: 11
horizon: 30s
replications: 5
services:
  api: {{replicas: 2, concurrency: 16, service_time: {{constant: 2ms}}}}
workload:
  arrivals: {{poisson: {{rate: 100/s}}}}
  journeys:
    - name: call
      steps:
        - service: api
          http: {{method: GET, path: /work, expect: [200]}}
allowed_targets: [127.0.0.1]
rollouts:
  - name: v2
    service: api
    at: 1s
    strategy: canary
    steps: [{{weight: 20%, pause: 4s}}, {{weight: 100%}}]
    new_version: {new_version}
    analysis: {{interval: 2s, error_rate: 5%}}
    drill:
      shell: true
      deploy: "touch {d}/deployed"
      set_weight: "echo {{weight}} > {d}/weight.tmp && mv {d}/weight.tmp {d}/weight"
      promote: "touch {d}/promoted"
      rollback: "echo 0 > {d}/weight.tmp && mv {d}/weight.tmp {d}/weight && touch {d}/rolled-back"
"#
    );
    let path = dir.join("rollout.yaml");
    std::fs::write(&path, text).expect("scenario");
    path
}

fn drill(scenario: &Path, target: &str, out: &Path, extra: &[&str]) -> Output {
    twin()
        .arg("drill")
        .arg(scenario)
        .args(["--rollout", "v2", "--target", target])
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run twin drill")
}

/// v1 (always 200) and v2 (`answer`) behind the proxy, and the drill of the scenario whose
/// new version is `new_version` through it, destructive hooks allowed: its output, the
/// proxy's port, the run folder.
fn drill_through_proxy(dir: &Path, new_version: &str, answer: Answer) -> (Output, u16, PathBuf) {
    let s = scenario(dir, new_version);
    let old = backend("v1", always_ok);
    let new = backend("v2", answer);
    let port = proxy(old, new, dir.join("weight"));
    let out = dir.join("out");
    let o = drill(
        &s,
        &format!("http://127.0.0.1:{port}"),
        &out,
        &["--allow-destructive"],
    );
    (o, port, out)
}

/// The version that answers `n` requests through the proxy.
fn versions_through(port: u16, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let (_, body) = support_get(port);
            body
        })
        .collect()
}

fn support_get(port: u16) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET /work HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("write");
    let mut reader = BufReader::new(s);
    let mut status = 0;
    let mut version = String::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if line.starts_with("HTTP/") {
            status = line
                .split(' ')
                .nth(1)
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
        } else if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("x-version") {
                version = v.trim().to_string();
            }
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0u8; length];
    let _ = reader.read_exact(&mut body);
    (status, version)
}

fn num(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn a_failing_canary_is_rolled_back_at_the_first_analysis_as_predicted() {
    let scratch = Scratch::new("rollout-bad");
    let dir = &scratch.0;
    let (o, port, out) = drill_through_proxy(dir, "{errors: 30%}", thirty_percent_fail);
    let text = show(&o);
    // Rolled back: the rollout's verdict (promoted) is missed, exit 1.
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(dir.join("deployed").exists(), "{text}");
    assert!(
        dir.join("rolled-back").exists(),
        "the rollback hook did not run: {text}"
    );
    assert!(!dir.join("promoted").exists(), "{text}");
    // After the rollback the proxy sends everything to the old version.
    let seen = versions_through(port, 20);
    assert!(seen.iter().all(|v| v == "v1"), "{seen:?}");

    let doc = json(&out.join("summary.json"));
    let r = &doc["rollouts"][0];
    assert_eq!(r["outcome"], "rolled_back", "{text}");
    let analyses = r["runs"][0]["analyses"].as_array().expect("analyses");
    assert_eq!(analyses.len(), 1, "decided at the first analysis: {text}");
    // 100/s x 20 % x 2 s = 40 requests to v2, 3 in 10 failed: 12 (a boundary request either
    // side of the interval's edges).
    let (n, e) = (num(&analyses[0]["requests"]), num(&analyses[0]["errors"]));
    assert!((38.0..=42.0).contains(&n), "requests to v2: {n}");
    assert!((11.0..=13.0).contains(&e), "errors of v2: {e}");
    assert_eq!(analyses[0]["verdict"], "fail");
    let measured = num(&r["decided_at_s"]);
    // The prediction: every replication rolled back at 1 s + 2 s.
    let p = &doc["prediction"]["rollouts"][0];
    assert_eq!(p["outcomes"]["rolled_back"], 5, "{p}");
    let predicted = num(&p["decided_at_s"]);
    assert!((predicted - 3.0).abs() < 1e-9, "predicted {predicted}");
    assert!(
        measured >= predicted && measured - predicted < 2.0,
        "measured {measured} s, predicted {predicted} s"
    );
    eprintln!(
        "rolled back: decided at {measured:.3} s (predicted {predicted:.3} s), first analysis {n} requests to v2, {e} failed"
    );
    let f = &doc["fidelity"]["rollouts"]["v2"];
    assert_eq!(f["outcome"]["measured"], "rolled_back");
    assert_eq!(f["outcome"]["predicted"], "rolled_back");
    assert_eq!(num(&f["decided_at_s"]["measured"]), measured);
    // The damage: v2's failed requests over the journeys the drill started.
    let damage = num(&r["damage_share"]);
    let journeys = num(&r["runs"][0]["journeys"]);
    assert!(
        (damage - num(&r["errors_new"]) / journeys).abs() < 1e-12,
        "{r}"
    );
    let html = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(
        html.contains("new-version errors to the decision"),
        "no rollout comparison in the report"
    );
}

#[test]
fn a_good_canary_is_promoted_after_its_pause() {
    let scratch = Scratch::new("rollout-good");
    let dir = &scratch.0;
    let (o, port, out) = drill_through_proxy(dir, "{service_time: {constant: 1ms}}", always_ok);
    let text = show(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(dir.join("promoted").exists(), "{text}");
    assert!(!dir.join("rolled-back").exists(), "{text}");
    let seen = versions_through(port, 10);
    assert!(seen.iter().all(|v| v == "v2"), "{seen:?}");
    let doc = json(&out.join("summary.json"));
    let r = &doc["rollouts"][0];
    assert_eq!(r["outcome"], "promoted", "{text}");
    assert_eq!(num(&r["errors_new"]), 0.0);
    let predicted = num(&doc["prediction"]["rollouts"][0]["decided_at_s"]);
    assert!((predicted - 5.0).abs() < 1e-9, "predicted {predicted}");
    let measured = num(&r["decided_at_s"]);
    assert!(
        measured >= predicted && measured - predicted < 2.0,
        "measured {measured} s, predicted {predicted} s"
    );
    eprintln!("promoted: decided at {measured:.3} s (predicted {predicted:.3} s)");
    // Weights as the hooks set them: 0, 20 %, 100 %.
    let weights: Vec<f64> = r["runs"][0]["weights"]
        .as_array()
        .expect("weights")
        .iter()
        .map(|p| num(&p[1]))
        .collect();
    assert!(
        weights.contains(&0.2) && weights.last() == Some(&1.0),
        "{weights:?}"
    );
}

#[test]
fn a_rollout_drill_is_refused_without_allow_destructive() {
    let scratch = Scratch::new("rollout-refused");
    let dir = &scratch.0;
    let s = scenario(dir, "{errors: 30%}");
    let out = dir.join("out");
    let o = drill(&s, "http://127.0.0.1:9", &out, &[]);
    let text = show(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("--allow-destructive"), "{text}");
    assert!(
        text.contains("echo 20 > "),
        "the plan lists the hooks: {text}"
    );
    assert!(!dir.join("deployed").exists(), "a hook ran: {text}");
    assert!(!out.exists());
    // A rollout without reality hooks cannot be drilled (exit 2, and why).
    let bare = std::fs::read_to_string(&s).expect("scenario");
    let bare = bare.split("    drill:").next().expect("head").to_string();
    std::fs::write(&s, bare).expect("scenario");
    let o = drill(&s, "http://127.0.0.1:9", &out, &["--allow-destructive"]);
    let text = show(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("has no `drill:`"), "{text}");
}
