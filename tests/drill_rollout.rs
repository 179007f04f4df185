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
//!
//! The same proxy drills a blue-green switch (the green stack deployed, then all traffic at
//! once), a Kayenta-style comparison with the baseline (the backends sleep seeded draws, the
//! new one longer or alike), and a `memory:` bound read by the rollout's `memory` hook (the
//! reading a file the test writes).

mod drill_support;

use drill_support::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How a backend answers its `n`-th request (from 0): status, and how long it sleeps first.
type Answer = fn(u64) -> (u16, Duration);

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
                let (status, sleep) = answer(served.fetch_add(1, Ordering::SeqCst));
                std::thread::sleep(sleep);
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

fn always_ok(_: u64) -> (u16, Duration) {
    (200, Duration::ZERO)
}

/// 3 requests in 10 fail.
fn thirty_percent_fail(n: u64) -> (u16, Duration) {
    (if n % 10 < 3 { 500 } else { 200 }, Duration::ZERO)
}

/// The `n`-th draw of stream `seed`, uniform in [0, 1): SplitMix64 of (seed, n), so a backend's
/// sleeps are fixed by its seed whatever the threads' order.
fn draw(seed: u64, n: u64) -> f64 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(n.wrapping_add(1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Sleeps uniform in [10 ms, 30 ms] x `scale`, from stream `seed` (the scenario's
/// `uniform: {min: 10ms, max: 30ms}`, scaled).
fn sleeps(seed: u64, n: u64, scale: f64) -> (u16, Duration) {
    let ms = (10.0 + 20.0 * draw(seed, n)) * scale;
    (200, Duration::from_secs_f64(ms / 1e3))
}

/// The baseline (v1) of the comparison: uniform 10-30 ms, stream 1.
fn baseline_sleeps(n: u64) -> (u16, Duration) {
    sleeps(1, n, 1.0)
}

/// A new version like the baseline, from a stream of its own (2).
fn same_sleeps(n: u64) -> (u16, Duration) {
    sleeps(2, n, 1.0)
}

/// A new version 30 % slower: uniform 13-39 ms, stream 2.
fn slower_sleeps(n: u64) -> (u16, Duration) {
    sleeps(2, n, 1.3)
}

/// The rollout a scenario drills, each part as YAML flow text (`{d}` in `hooks` is the test's
/// folder); [`Rollout::canary`] is the plan the first tests drill.
struct Rollout {
    strategy: &'static str,
    /// Journeys a second (the drill's load runs at the workload's rate).
    rate: u32,
    /// Keys of the service `api` besides its replicas.
    service: &'static str,
    steps: &'static str,
    new_version: &'static str,
    analysis: &'static str,
    /// The `set_weight` hook.
    set_weight: &'static str,
    /// The `deploy` hook.
    deploy: &'static str,
    /// More hooks of `drill:`, one `key: "command"` a line.
    hooks: &'static str,
}

impl Rollout {
    fn canary(new_version: &'static str) -> Rollout {
        Rollout {
            strategy: "canary",
            rate: 100,
            service: "concurrency: 16, service_time: {constant: 2ms}",
            steps: "[{weight: 20%, pause: 4s}, {weight: 100%}]",
            new_version,
            analysis: "{interval: 2s, error_rate: 5%}",
            set_weight: "echo {weight} > {d}/weight.tmp && mv {d}/weight.tmp {d}/weight",
            deploy: "touch {d}/deployed",
            hooks: "",
        }
    }
}

fn scenario(dir: &Path, new_version: &'static str) -> PathBuf {
    scenario_of(dir, &Rollout::canary(new_version))
}

fn scenario_of(dir: &Path, r: &Rollout) -> PathBuf {
    let d = dir.display().to_string();
    let hook = |h: &str| h.replace("{d}", &d);
    let hooks: String = r
        .hooks
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| format!("      {}\n", hook(l.trim())))
        .collect();
    // Room for the old pods and a second copy (the green stack), when there are pods.
    let pools = if r.service.contains("pod:") {
        "node_pools:\n  general: {machine: n1-standard-4, min: 4, max: 4}\n"
    } else {
        ""
    };
    let text = format!(
        r#"name: rollout-drill
seed: 11
horizon: 30s
replications: 5
{pools}services:
  api: {{replicas: 2, {service}}}
workload:
  arrivals: {{poisson: {{rate: {rate}/s}}}}
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
    strategy: {strategy}
    steps: {steps}
    new_version: {new_version}
    analysis: {analysis}
    drill:
      shell: true
      deploy: "{deploy}"
      set_weight: "{set_weight}"
      promote: "touch {d}/promoted"
      rollback: "echo 0 > {d}/weight.tmp && mv {d}/weight.tmp {d}/weight && touch {d}/rolled-back"
{hooks}"#,
        service = r.service,
        rate = r.rate,
        strategy = r.strategy,
        steps = r.steps,
        new_version = r.new_version,
        analysis = r.analysis,
        deploy = hook(r.deploy),
        set_weight = hook(r.set_weight),
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
fn drill_through_proxy(
    dir: &Path,
    new_version: &'static str,
    answer: Answer,
) -> (Output, u16, PathBuf) {
    drill_rollout(dir, &Rollout::canary(new_version), always_ok, answer)
}

/// [`drill_through_proxy`] of the rollout `r`, v1 answering `old_answer`.
fn drill_rollout(
    dir: &Path,
    r: &Rollout,
    old_answer: Answer,
    answer: Answer,
) -> (Output, u16, PathBuf) {
    let s = scenario_of(dir, r);
    let old = backend("v1", old_answer);
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

/// The new version's weights, in order, of a summary.json rollout's (only) run.
fn weights(rollout: &serde_json::Value) -> Vec<f64> {
    rollout["runs"][0]["weights"]
        .as_array()
        .expect("weights")
        .iter()
        .map(|p| num(&p[1]))
        .collect()
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
    let weights = weights(r);
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

/// A drill whose decision is known: its name, the new version's demands (what the prediction
/// simulates) and how its backend answers, whether it is promoted, and when the simulator
/// decides.
struct Case {
    name: &'static str,
    new_version: &'static str,
    answer: Answer,
    promoted: bool,
    predicted_s: f64,
}

impl Case {
    fn of(
        name: &'static str,
        new_version: &'static str,
        answer: Answer,
        promoted: bool,
        predicted_s: f64,
    ) -> Case {
        Case {
            name,
            new_version,
            answer,
            promoted,
            predicted_s,
        }
    }
}

/// What a drill of a [`Rollout`] must show: its outcome (the hooks that ran, the exit status,
/// where the proxy sends traffic after the decision) and its decision beside the
/// prediction's: both decide alike, at the predicted time or within one analysis interval
/// after it (what the hooks took). Returns summary.json, the measured and predicted decision
/// times.
fn check_decision(
    dir: &Path,
    o: &Output,
    port: u16,
    out: &Path,
    promoted: bool,
    predicted_s: f64,
    interval_s: f64,
) -> (serde_json::Value, f64, f64) {
    let text = show(o);
    assert_eq!(
        o.status.code(),
        Some(if promoted { 0 } else { 1 }),
        "{text}"
    );
    assert!(dir.join("deployed").exists(), "{text}");
    assert_eq!(dir.join("promoted").exists(), promoted, "{text}");
    assert_eq!(dir.join("rolled-back").exists(), !promoted, "{text}");
    let now = if promoted { "v2" } else { "v1" };
    let seen = versions_through(port, 10);
    assert!(seen.iter().all(|v| v == now), "{seen:?}");
    let doc = json(&out.join("summary.json"));
    let outcome = if promoted { "promoted" } else { "rolled_back" };
    assert_eq!(doc["rollouts"][0]["outcome"], outcome, "{text}");
    let p = &doc["prediction"]["rollouts"][0];
    assert_eq!(p["outcome"], outcome, "{p}");
    let predicted = num(&p["decided_at_s"]);
    assert!(
        (predicted - predicted_s).abs() < 1e-9,
        "predicted {predicted}"
    );
    let measured = num(&doc["rollouts"][0]["decided_at_s"]);
    assert!(
        measured >= predicted && measured - predicted < interval_s,
        "measured {measured} s, predicted {predicted} s"
    );
    let f = &doc["fidelity"]["rollouts"]["v2"];
    assert_eq!(num(&f["decided_at_s"]["measured"]), measured);
    assert_eq!(num(&f["decided_at_s"]["predicted"]), predicted);
    (doc, measured, predicted)
}

/// Drills the case `c` (its rollout `r`, v1 answering `old`) in a folder of its own and checks
/// its decision ([`check_decision`]): the drill's output, summary.json, the measured and
/// predicted decision times.
fn drill_case(
    c: &Case,
    r: &Rollout,
    old: Answer,
    interval_s: f64,
) -> (String, serde_json::Value, f64, f64) {
    let scratch = Scratch::new(&format!("rollout-{}", c.name.replace([' ', '%'], "-")));
    let dir = &scratch.0;
    let (o, port, out) = drill_rollout(dir, r, old, c.answer);
    let (doc, measured, predicted) =
        check_decision(dir, &o, port, &out, c.promoted, c.predicted_s, interval_s);
    (show(&o), doc, measured, predicted)
}

/// The analyses of the drilled rollout.
fn analyses(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    doc["rollouts"][0]["runs"][0]["analyses"]
        .as_array()
        .expect("analyses")
        .clone()
}

/// Blue-green: the deploy hook returns once the green stack is up (it sleeps the pods' 1 s
/// start-up here, as `kubectl rollout status` would wait), then one switch sends all traffic
/// to it (`set_weight` needs no `{weight}` for one switch); the rollback switches back. The
/// prediction: the green pods are ready 1 s after the start (1 s), the switch then (2 s); a
/// failing green is rolled back at its first analysis, 2 s + 2 s = 4 s, having taken
/// 100/s x 2 s = 200 requests, 60 of them failed; a good one is promoted when its pause ends,
/// 2 s + 4 s = 6 s.
#[test]
fn a_blue_green_switch_is_promoted_after_its_pause_or_rolled_back_at_the_first_analysis() {
    let cases = [
        Case::of(
            "failing green",
            "{errors: 30%}",
            thirty_percent_fail,
            false,
            4.0,
        ),
        Case::of(
            "good green",
            "{service_time: {constant: 1ms}}",
            always_ok,
            true,
            6.0,
        ),
    ];
    for c in cases {
        let rollout = Rollout {
            strategy: "blue_green",
            service: "concurrency: 16, service_time: {constant: 2ms}, \
                      pod: {node_pool: general, cpu: \"1\", memory: 1Gi, startup: 1s}",
            steps: "[{weight: 100%, pause: 4s}]",
            new_version: c.new_version,
            set_weight: "echo 100 > {d}/weight.tmp && mv {d}/weight.tmp {d}/weight",
            deploy: "sleep 1 && touch {d}/deployed",
            ..Rollout::canary("")
        };
        let (text, doc, measured, predicted) = drill_case(&c, &rollout, always_ok, 2.0);
        let r = &doc["rollouts"][0];
        assert_eq!(r["strategy"], "blue_green");
        // One switch: the weight is 0 until the green stack is deployed, then 100 % (or 0
        // again after a rollback), never between.
        let weights = weights(r);
        assert!(
            weights.iter().all(|w| *w == 0.0 || *w == 1.0),
            "{weights:?}"
        );
        let steps = doc["drill"]["steps"].as_array().expect("steps");
        let labels: Vec<&str> = steps.iter().filter_map(|s| s["label"].as_str()).collect();
        let end = if c.promoted { "promote" } else { "rollback" };
        assert_eq!(labels, ["deploy", "set weight 100 %", end], "{text}");
        assert!(
            num(&steps[0]["end_s"]) <= num(&steps[1]["start_s"]),
            "the switch before the green stack was up: {text}"
        );
        // The green stack's wait beside the prediction's (the pods' start-up).
        let wait = &doc["fidelity"]["rollouts"]["v2"]["wait_for_pods_s"];
        let (wait_p, wait_m) = (num(&wait["predicted"]), num(&wait["measured"]));
        assert!((wait_p - 1.0).abs() < 1e-9, "{wait}");
        assert!((1.0..2.0).contains(&wait_m), "{wait}");
        let a = analyses(&doc);
        let (n, e) = (num(&a[0]["requests"]), num(&a[0]["errors"]));
        if c.promoted {
            assert_eq!(a.len(), 2, "analyses at 4 s and 6 s: {text}");
            assert_eq!(num(&r["errors_new"]), 0.0);
        } else {
            assert_eq!(a.len(), 1, "decided at the first analysis: {text}");
            // 100/s x 2 s = 200 to green, 3 in 10 failed: 60 (a boundary request either side).
            assert!((196.0..=204.0).contains(&n), "requests to green: {n}");
            assert!((57.0..=63.0).contains(&e), "errors of green: {e}");
        }
        eprintln!(
            "blue-green, {}: {} at {measured:.3} s (predicted {predicted:.3} s), green stack up \
             after {wait_m:.3} s (predicted {wait_p:.3} s), first analysis {n} requests, {e} failed",
            c.name,
            r["outcome"]
        );
    }
}

/// Kayenta-style: each analysis compares the canary's own requests with the baseline's of the
/// same interval (Mann-Whitney U on latency, one-sided, at 99 % shared by the plan's 2
/// analyses: p < 0.005 fails). The backends sleep uniform 10-30 ms (v1, stream 1) and the new
/// version either the same (stream 2) or 30 % longer, uniform 13-39 ms. At 150 journeys/s and
/// a 20 % canary a 3 s analysis holds 90 canary and 360 baseline requests.
///
/// Power: P(slower > baseline) = 0.722 for these uniforms, so U's mean is 0.222 x 90 x 360
/// above its null mean; U's null standard deviation is sqrt(90 x 360 x 451 / 12) = 1103, so
/// z = 7,193 / 1,103 = 6.5, against 2.58 at p = 0.005: the first analysis misses it with
/// probability Phi(2.58 - 6.5) < 1e-4 (the client's own noise, equal for both versions, only
/// thins it). Identical versions are rolled back at most 1 % of the time over the plan
/// (Bonferroni), and with the backends' seeds fixed the draws are the same in every run.
#[test]
fn a_baseline_comparison_rolls_back_a_slower_version_and_promotes_an_identical_one() {
    const SLOWER: &str = "{service_time: {uniform: {min: 13ms, max: 39ms}}}";
    const SAME: &str = "{service_time: {uniform: {min: 10ms, max: 30ms}}}";
    let cases = [
        Case::of("30 % slower", SLOWER, slower_sleeps, false, 4.0),
        Case::of("identical", SAME, same_sleeps, true, 7.0),
    ];
    for c in cases {
        let rollout = Rollout {
            rate: 150,
            // Enough slots that neither version queues: its sojourn is its sleep.
            service: "concurrency: 64, service_time: {uniform: {min: 10ms, max: 30ms}}",
            steps: "[{weight: 20%, pause: 6s}, {weight: 100%}]",
            new_version: c.new_version,
            analysis: "{interval: 3s, compare: baseline, confidence: 99%}",
            ..Rollout::canary("")
        };
        let (text, doc, measured, predicted) = drill_case(&c, &rollout, baseline_sleeps, 3.0);
        let a = analyses(&doc);
        let p: Vec<f64> = a.iter().map(|a| num(&a["p_latency"])).collect();
        let n: Vec<f64> = a.iter().map(|a| num(&a["requests"])).collect();
        // 150/s x 20 % x 3 s = 90 canary requests an analysis (a boundary request either side).
        assert!(n.iter().all(|n| (86.0..=94.0).contains(n)), "{n:?}");
        if c.promoted {
            assert_eq!(a.len(), 2, "analyses at 4 s and 7 s: {text}");
            assert!(p.iter().all(|p| *p >= 0.005), "{p:?}");
        } else {
            assert_eq!(a.len(), 1, "decided at the first analysis: {text}");
            assert!(p[0] < 0.005, "{p:?}");
            let reason = a[0]["reason"].as_str().unwrap_or("");
            assert!(
                reason.contains("latency worse than the baseline"),
                "{reason}"
            );
        }
        eprintln!(
            "compare, {}: {} at {measured:.3} s (predicted {predicted:.3} s), canary requests \
             {n:?}, Mann-Whitney p {p:?}",
            c.name, doc["rollouts"][0]["outcome"]
        );
    }
}

/// A `memory:` bound in a drill is judged on what the rollout's `memory` hook prints at each
/// analysis (here `cat` of a file the test writes): one line per pod, the fullest counts. Pods
/// request 1 Gi (started at once: the canary's timeline is the first tests'), the bound is
/// 90 %: 950Mi is 92.8 % and rolls back at the first analysis (1 s + 2 s = 3 s predicted, with
/// the new version's memory set to match), 60 % promotes after the pause (1 s + 4 s = 5 s). A
/// hook that fails or prints nothing is no data: the analysis fails and says why (the
/// prediction, which cannot know, promotes).
#[test]
fn a_memory_bound_is_judged_on_the_memory_hooks_reading() {
    struct Case {
        /// The file `memory` the hook prints (None: absent, so `cat` fails).
        reading: Option<&'static str>,
        new_version: &'static str,
        promoted: bool,
        predicted: &'static str,
        predicted_s: f64,
        reason: &'static str,
    }
    let high = "{memory_usage: {base: 950Mi}}";
    let low = "{memory_usage: {base: 600Mi}}";
    let cases = [
        Case {
            reading: Some("40%\n950Mi\n"),
            new_version: high,
            promoted: false,
            predicted: "rolled_back",
            predicted_s: 3.0,
            reason: "memory 92.8 % > 90.0 %",
        },
        Case {
            reading: Some("60%\n"),
            new_version: low,
            promoted: true,
            predicted: "promoted",
            predicted_s: 5.0,
            reason: "",
        },
        Case {
            reading: None,
            new_version: low,
            promoted: false,
            predicted: "promoted",
            predicted_s: 5.0,
            reason: "memory: not observed (the `memory` command: exit status 1)",
        },
        Case {
            reading: Some(""),
            new_version: low,
            promoted: false,
            predicted: "promoted",
            predicted_s: 5.0,
            reason: "memory: not observed (the `memory` command printed nothing)",
        },
    ];
    for (k, c) in cases.iter().enumerate() {
        let scratch = Scratch::new(&format!("rollout-memory-{k}"));
        let dir = &scratch.0;
        if let Some(m) = c.reading {
            std::fs::write(dir.join("memory"), m).expect("memory reading");
        }
        let rollout = Rollout {
            service: "concurrency: 16, service_time: {constant: 2ms}, \
                      pod: {node_pool: general, cpu: \"1\", memory: 1Gi, startup: 0s}",
            new_version: c.new_version,
            analysis: "{interval: 2s, error_rate: 5%, memory: 90%}",
            hooks: "memory: \"cat {d}/memory\"",
            ..Rollout::canary("")
        };
        let (o, port, out) = drill_rollout(dir, &rollout, always_ok, always_ok);
        let text = show(&o);
        let doc = if c.predicted == "promoted" && !c.promoted {
            // The measurement and the prediction part: only the measured side is checked.
            assert_eq!(o.status.code(), Some(1), "{text}");
            assert!(dir.join("rolled-back").exists(), "{text}");
            let seen = versions_through(port, 10);
            assert!(seen.iter().all(|v| v == "v1"), "{seen:?}");
            let doc = json(&out.join("summary.json"));
            assert_eq!(doc["rollouts"][0]["outcome"], "rolled_back", "{text}");
            assert_eq!(doc["prediction"]["rollouts"][0]["outcome"], "promoted");
            doc
        } else {
            check_decision(dir, &o, port, &out, c.promoted, c.predicted_s, 2.0).0
        };
        let a = analyses(&doc);
        let memory: Vec<Option<f64>> = a.iter().map(|a| a["memory"].as_f64()).collect();
        if c.promoted {
            assert_eq!(memory, [Some(0.6), Some(0.6)], "{text}");
        } else {
            assert_eq!(a.len(), 1, "decided at the first analysis: {text}");
            assert_eq!(a[0]["verdict"], "fail");
            assert_eq!(a[0]["reason"], c.reason, "{text}");
        }
        assert!(
            text.contains("check `read memory`"),
            "the reading is in the drill log: {text}"
        );
        eprintln!(
            "memory {:?}: {} at {:.3} s (predicted {} at {:.3} s), analyses' memory {memory:?}, {}",
            c.reading,
            doc["rollouts"][0]["outcome"],
            num(&doc["rollouts"][0]["decided_at_s"]),
            doc["prediction"]["rollouts"][0]["outcome"],
            num(&doc["prediction"]["rollouts"][0]["decided_at_s"]),
            a[0]["reason"]
        );
    }
}
