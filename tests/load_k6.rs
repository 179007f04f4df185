//! What k6 users expect of `twin load`, each against a server written for the test on
//! 127.0.0.1 that records what it receives ([`recording`]): content checks that fail the run,
//! a feeder's values arriving at the server, cookies and a captured token kept within one
//! journey and never shared, `delay:` think time seen in the server's own timestamps, and
//! per-request tags splitting the summary. Every run is a few seconds at tens of requests.

mod recording;
mod support;

use recording::{Recording, Seen};
use std::collections::HashMap;
use std::path::Path;
use support::{json, load, show};

/// Writes `name.yaml` (the scenario's head, then `journeys`) into `dir`.
fn scenario(dir: &Path, name: &str, rate: &str, journeys: &str) -> std::path::PathBuf {
    let text = format!(
        "name: {name}\nseed: 5\nhorizon: 1m\nservices:\n  api: {{replicas: 1, concurrency: 100, service_time: {{constant: 1ms}}}}\nworkload:\n  arrivals: {{constant: {{rate: {rate}}}}}\n  journeys:\n{journeys}"
    );
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, text).expect("write scenario");
    path
}

fn run(scenario: &Path, server: &Recording, dir: &Path) -> std::process::Output {
    load(
        scenario,
        &server.url(),
        dir,
        &["--duration", "2s", "--no-predict"],
    )
}

fn count(seen: &[Seen], prefix: &str) -> u64 {
    seen.iter().filter(|s| s.path.starts_with(prefix)).count() as u64
}

fn status_body(req: &Seen, _: u64) -> (u16, Vec<(String, String)>, String) {
    match req.path.as_str() {
        "/ok" => (200, vec![], r#"{"status": "ok"}"#.into()),
        "/bad" => (200, vec![], r#"{"status": "degraded"}"#.into()),
        p if p.starts_with("/b") => (503, vec![], "{}".into()),
        _ => (200, vec![], "{}".into()),
    }
}

#[test]
fn content_checks_fail_the_run_with_their_reason() {
    let server = Recording::start(status_body);
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = scenario(
        tmp.path(),
        "checks",
        "20/s",
        r#"    - name: good
      steps: [{service: api, http: {path: /ok, check: {jsonpath: "$.status", equals: ok}}}]
    - name: bad
      steps: [{service: api, http: {path: /bad, check: [{regex: '"status"'}, {jsonpath: "$.status", equals: [ok, fine]}]}}]
slos:
  - error_rate(good) < 1%
"#,
    );
    let dir = tmp.path().join("run");
    let o = run(&s, &server, &dir);
    // Every `bad` response is a 200 that fails its second check: the run is missed (exit 1).
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let seen = server.seen();
    let summary = json(&dir.join("summary.json"));
    let (good, bad) = (&summary["journeys"]["good"], &summary["journeys"]["bad"]);
    assert_eq!(good["count"], count(&seen, "/ok"));
    assert_eq!(good["errors"], 0, "a passing check is no error");
    let n = count(&seen, "/bad");
    assert!(n > 0);
    assert_eq!(bad["count"], n);
    assert_eq!(bad["errors"], n, "every failed check is an error");
    let verdict = summary["slos"]
        .as_array()
        .expect("slos")
        .iter()
        .find(|v| v["name"] == "successes(bad) > 0")
        .expect("the wholly failed journey's verdict");
    assert_eq!(verdict["met"], false);
    let reason = format!(
        "step `bad/0 api`: {n} of {n} responses failed the check `$.status equals ok or fine`"
    );
    assert!(
        summary["warnings"]
            .as_array()
            .expect("warnings")
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.starts_with(&reason))),
        "{reason} in {}",
        summary["warnings"]
    );
    let detail = json(&dir.join("load.json"));
    let step = &detail["steps"]["bad/0 api"];
    assert_eq!(step["errors_by_kind"]["check"], n);
    assert_eq!(step["errors_by_check"]["$.status equals ok or fine"], n);
    assert!(step["errors_by_check"].get("regex \"status\"").is_none());
}

/// The feed's rows, as the file holds them after CSV unquoting.
const ROWS: [(&str, &str); 3] = [("p1", "a,b"), ("p2", "say \"hi\""), ("p3", "plain")];

#[test]
fn a_feeders_values_arrive_at_the_server_in_order() {
    let server = Recording::start(status_body);
    let tmp = tempfile::tempdir().expect("tempdir");
    // The feed sits beside the scenario, which names it relative to itself.
    std::fs::create_dir(tmp.path().join("data")).expect("mkdir");
    std::fs::write(
        tmp.path().join("data/prompts.csv"),
        "id,prompt\n# ids and prompts\np1,\"a,b\"\np2,\"say \"\"hi\"\"\"\np3,plain\n",
    )
    .expect("write feed");
    let s = scenario(
        tmp.path(),
        "feeder",
        "20/s",
        r#"    - name: chat
      feed: {file: data/prompts.csv, order: sequential}
      steps:
        - service: api
          http: {method: POST, path: "/items/{id}", headers: {x-prompt: "{prompt}"}, body: '{"id": "{id}", "n": {seq}}'}
"#,
    );
    let dir = tmp.path().join("run");
    let o = run(&s, &server, &dir);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let seen = server.seen();
    let n = seen.len();
    assert!(n >= 30, "{n} requests");
    let mut per_row: HashMap<&str, usize> = HashMap::new();
    for req in &seen {
        let id = req.path.strip_prefix("/items/").expect("feed path");
        let (_, prompt) = ROWS
            .iter()
            .find(|(i, _)| *i == id)
            .unwrap_or_else(|| panic!("{id} is not a row of the feed"));
        assert_eq!(req.header("x-prompt"), Some(*prompt), "{req:?}");
        let body: serde_json::Value = serde_json::from_str(&req.body).expect("JSON body");
        assert_eq!(body["id"], id);
        // Sequential: arrival `seq` takes row `seq mod 3`.
        let seq = body["n"].as_u64().expect("seq") as usize;
        assert_eq!(ROWS[seq % 3].0, id, "{req:?}");
        *per_row.entry(id).or_default() += 1;
    }
    for (i, (id, _)) in ROWS.iter().enumerate() {
        // Arrivals 0..n: those with seq mod 3 == i.
        assert_eq!(
            per_row.get(id).copied().unwrap_or(0),
            (n - i).div_ceil(3),
            "{id}"
        );
    }
}

#[test]
fn a_bad_feed_is_reported_at_its_line_before_any_traffic() {
    let server = Recording::start(status_body);
    let tmp = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        tmp.path().join("p.jsonl"),
        "{\"id\": \"p1\"}\n{\"ID\": \"p2\"}\n",
    )
    .expect("write feed");
    let s = scenario(
        tmp.path(),
        "feeder-bad",
        "20/s",
        "    - name: chat\n      feed: {file: p.jsonl, order: random}\n      steps: [{service: api, http: {path: \"/items/{id}\"}}]\n",
    );
    let dir = tmp.path().join("run");
    let o = run(&s, &server, &dir);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let at = format!(
        "{}:2:1: error: no `id` where the first line has it",
        tmp.path().join("p.jsonl").display()
    );
    assert!(err.contains(&at), "{at} in {err}");
    assert!(server.seen().is_empty(), "no traffic");
    assert!(!dir.exists());
}

fn session(req: &Seen, n: u64) -> (u16, Vec<(String, String)>, String) {
    if req.path == "/login" {
        (
            200,
            vec![("Set-Cookie".into(), format!("sid=s{n}; Path=/; HttpOnly"))],
            format!(r#"{{"token": "t{n}"}}"#),
        )
    } else {
        (200, vec![], "{}".into())
    }
}

#[test]
fn cookies_and_a_captured_token_stay_within_their_journey() {
    let server = Recording::start(session);
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = scenario(
        tmp.path(),
        "cookies",
        "25/s",
        r#"    - name: user
      steps:
        - {service: api, http: {method: POST, path: /login, capture: {token: token}}}
        - {service: api, http: {path: /me, headers: {authorization: "Bearer {token}"}}}
        - {service: api, http: {path: /me/again, headers: {authorization: "Bearer {token}"}}}
"#,
    );
    let dir = tmp.path().join("run");
    let o = run(&s, &server, &dir);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let seen = server.seen();
    let logins = count(&seen, "/login");
    assert!(logins >= 40, "{logins} journeys");
    // A journey starts with an empty jar: a cookie on a login came from another journey.
    for req in seen.iter().filter(|r| r.path == "/login") {
        assert_eq!(req.header("cookie"), None, "{req:?}");
    }
    // Each later request carries its own journey's cookie and token (the same number), and
    // each session is seen by exactly the two requests of its journey.
    let mut per_session: HashMap<String, u64> = HashMap::new();
    for req in seen.iter().filter(|r| r.path.starts_with("/me")) {
        let sid = req
            .header("cookie")
            .and_then(|c| c.strip_prefix("sid=s"))
            .unwrap_or_else(|| panic!("no session cookie: {req:?}"));
        assert_eq!(
            req.header("authorization"),
            Some(format!("Bearer t{sid}").as_str())
        );
        *per_session.entry(sid.to_string()).or_default() += 1;
    }
    assert_eq!(per_session.len() as u64, logins);
    assert!(per_session.values().all(|&k| k == 2), "{per_session:?}");
}

#[test]
fn delay_steps_wait_between_requests_as_the_server_sees_them() {
    let server = Recording::start(status_body);
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = scenario(
        tmp.path(),
        "think",
        "10/s",
        r#"    - name: think
      steps:
        - {service: api, http: {path: "/first/{key}"}}
        - {delay: {constant: 300ms}}
        - {service: api, http: {path: "/second/{key}"}}
"#,
    );
    let dir = tmp.path().join("run");
    let o = run(&s, &server, &dir);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let seen = server.seen();
    let first: HashMap<&str, std::time::Duration> = seen
        .iter()
        .filter_map(|r| Some((r.path.strip_prefix("/first/")?, r.at)))
        .collect();
    let mut gaps_ms: Vec<f64> = seen
        .iter()
        .filter_map(|r| {
            let key = r.path.strip_prefix("/second/")?;
            Some((r.at - first[key]).as_secs_f64() * 1000.0)
        })
        .collect();
    assert_eq!(gaps_ms.len(), first.len());
    assert!(gaps_ms.len() >= 18, "{} journeys", gaps_ms.len());
    gaps_ms.sort_by(f64::total_cmp);
    // Never sooner than the think time; the median adds one loopback exchange and a timer
    // tick (a few ms), robust to a stall of the shared test machine.
    assert!(gaps_ms[0] >= 300.0, "{gaps_ms:?}");
    let median = gaps_ms[gaps_ms.len() / 2];
    assert!(median < 320.0, "{gaps_ms:?}");
}

#[test]
fn tags_split_the_summary_per_request() {
    let server = Recording::start(status_body);
    let tmp = tempfile::tempdir().expect("tempdir");
    let s = scenario(
        tmp.path(),
        "tags",
        "20/s",
        r#"    - name: ta
      tags: {tenant: a}
      steps:
        - {service: api, tags: {model: x}, http: {path: /a}}
        - {service: api, http: {path: /a2}}
    - name: tb
      tags: {tenant: b, model: y}
      steps:
        - {service: api, tags: {model: x}, http: {path: /b}}
"#,
    );
    let dir = tmp.path().join("run");
    let o = run(&s, &server, &dir);
    // Every `tb` request is a 503: that journey wholly fails the run.
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let seen = server.seen();
    let (a, a2, b) = (
        count(&seen, "/a") - count(&seen, "/a2"),
        count(&seen, "/a2"),
        count(&seen, "/b"),
    );
    assert!(a > 0 && b > 0);
    let tags = &json(&dir.join("summary.json"))["tags"];
    let expect = |tag: &str, requests: u64, errors: u64| {
        assert_eq!(tags[tag]["count"], requests, "{tag}: {tags}");
        assert_eq!(tags[tag]["errors"], errors, "{tag}: {tags}");
    };
    expect("tenant=a", a + a2, 0);
    expect("tenant=b", b, b);
    // A step's own tag replaces its journey's value for the same key.
    expect("model=x", a + b, b);
    assert!(tags.get("model=y").is_none(), "{tags}");
    for q in ["p50", "p95", "p99"] {
        assert!(tags["tenant=a"]["latency_ms"][q].as_f64().expect(q) > 0.0);
    }
}
