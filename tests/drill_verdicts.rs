//! Drill verdicts that never lie (issue 12): a read-back that cannot read is unknown, not
//! kept (RPO not measured, exit 3); an acknowledgement-only audit says RPO is not measured;
//! RTO never ends before the first success after the fault; a signal interrupts the running
//! step and the rollback still runs; the audit's database host passes `allowed_targets`.
//! Each drill runs against a tiny loopback server (tests/support) for a few seconds.

mod drill_support;

use drill_support::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Writes acknowledged; every read-back answered 503.
fn writes_ok_reads_503(method: &str, _: &str, _: Duration) -> (u16, Duration) {
    if method == "GET" {
        (503, Duration::ZERO)
    } else {
        (201, Duration::ZERO)
    }
}

fn drill_file(dir: &Path, drills: &str) -> PathBuf {
    let path = dir.join("drill.yaml");
    std::fs::write(&path, write_scenario("verdicts", drills)).expect("scenario");
    path
}

fn drill(name: &str, load: &str, steps: &str, audit: &str, targets: &str) -> String {
    format!(
        "  - name: {name}\n    load: {{{load}}}\n    steps:\n{steps}    audit: {audit}\n    recovery: {{window: 1s, success_rate: 50%}}\n    targets: {targets}\n"
    )
}

const FAULT: &str = "      - {at: 500ms, kind: fault, name: nothing, run: \"true\"}\n";

#[test]
fn unreadable_writes_are_unknown_not_kept() {
    // Old: "60/60 unreadable, lost 0, rpo met", exit 0.
    let server = TestServer::start(writes_ok_reads_503);
    let scratch = Scratch::new("drill-unreadable");
    let s = drill_file(
        &scratch.0,
        &drill(
            "unreadable",
            "rate: 20/s, duration: 2s, journeys: [write]",
            FAULT,
            "{journey: write, read: \"/writes/{key}\", read_attempts: 1}",
            "[rpo < 1m]",
        ),
    );
    let out = scratch.0.join("out");
    let o = run_drill(
        &s,
        "unreadable",
        &server.url(),
        &out,
        &["--allow-destructive", "--no-predict"],
    );
    let text = show(&o);
    assert_eq!(o.status.code(), Some(3), "{text}");
    let summary = json(&out.join("summary.json"));
    let r = &summary["recovery"];
    assert!(r["rpo_s"].is_null(), "{text}");
    assert!(r["lost_writes"].is_null(), "{text}");
    assert_eq!(r["unreadable"], 40, "{text}");
    assert_eq!(summary["slos"][0]["met"], false, "{text}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("RPO                    not measured"),
        "{text}"
    );
}

#[test]
fn an_acknowledgement_only_audit_does_not_claim_rpo() {
    // Old: "RPO 0.000 s / met" from an audit that cannot lose anything by construction.
    let server = TestServer::start(writes_ok_reads_503);
    let scratch = Scratch::new("drill-acks");
    let s = drill_file(
        &scratch.0,
        &drill(
            "acks",
            "rate: 20/s, duration: 2s, journeys: [write]",
            FAULT,
            "{journey: write}",
            "[rpo < 1m]",
        ),
    );
    let out = scratch.0.join("out");
    let o = run_drill(
        &s,
        "acks",
        &server.url(),
        &out,
        &["--allow-destructive", "--no-predict"],
    );
    let text = show(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("not measured (no read-back)"),
        "{text}"
    );
    let summary = json(&out.join("summary.json"));
    assert!(summary["recovery"]["rpo_s"].is_null(), "{text}");
    assert_eq!(summary["slos"][0]["met"], false, "{text}");
    assert_eq!(summary["recovery"]["rpo_not_measured"], "no read-back");
}

#[test]
fn rto_never_ends_before_the_first_success_after_the_fault() {
    // Writes fail from 1 s to 3 s of the server's clock (which starts before the drill's).
    // A 1 s window at 50 % success turns healthy when half of it is past the outage, about
    // 0.5 s before the first success: the old RTO (window start) came before the service was
    // back; now it is at least the time to the first success.
    fn outage(_: &str, _: &str, t: Duration) -> (u16, Duration) {
        if t >= Duration::from_secs(1) && t < Duration::from_secs(3) {
            (503, Duration::ZERO)
        } else {
            (201, Duration::ZERO)
        }
    }
    let server = TestServer::start(outage);
    let scratch = Scratch::new("drill-rto");
    let steps = "      - {at: 1s, kind: fault, name: nothing, run: \"true\"}\n      - {at: 1200ms, kind: recovery, name: nothing either, run: \"true\"}\n";
    let s = drill_file(
        &scratch.0,
        &drill(
            "rto",
            "rate: 40/s, duration: 5s, journeys: [write], timeout: 1s",
            steps,
            "{journey: write}",
            "[rto < 30s]",
        ),
    );
    let out = scratch.0.join("out");
    let o = run_drill(
        &s,
        "rto",
        &server.url(),
        &out,
        &["--allow-destructive", "--no-predict"],
    );
    let text = show(&o);
    let r = &json(&out.join("summary.json"))["recovery"];
    let rto = r["rto_s"].as_f64().unwrap_or_else(|| panic!("rto: {text}"));
    let first = r["time_to_first_success_s"]
        .as_f64()
        .unwrap_or_else(|| panic!("ttfs: {text}"));
    let started = r["recovery_started_s"]
        .as_f64()
        .expect("recovery_started_s");
    assert!(
        rto >= first && rto >= started,
        "RTO {rto}, first success {first}: {text}"
    );
    // The server is back 2 s after its own 1 s mark; the drill's clock starts later.
    assert!(rto > 1.0 && rto < 3.0, "RTO {rto}: {text}");
}

#[test]
fn a_signal_interrupts_the_running_step_and_the_rollback_still_runs() {
    // Old: the 30 s step ran on after SIGTERM (rollback 23 s later), and a second signal
    // exited with no rollback at all.
    let server = TestServer::start(writes_ok_reads_503);
    let scratch = Scratch::new("drill-signal");
    let steps =
        "      - {at: 300ms, kind: fault, name: a long step, run: \"sleep 30\", timeout: 60s}\n";
    let mut d = drill(
        "signal",
        "rate: 10/s, duration: 20s, journeys: [write]",
        steps,
        "{journey: write}",
        "[rto < 30s]",
    );
    d.push_str(&format!(
        "    rollback:\n      - {{run: \"touch {}/rolled-back\"}}\n",
        scratch.0.display()
    ));
    let s = drill_file(&scratch.0, &d);
    let out = scratch.0.join("out");
    let t = Instant::now();
    let mut child = twin()
        .arg("drill")
        .arg(&s)
        .args([
            "--drill",
            "signal",
            "--target",
            &server.url(),
            "--allow-destructive",
            "--no-predict",
        ])
        .arg("--out")
        .arg(&out)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1500));
    let pid = child.id().to_string();
    for _ in 0..2 {
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = child.wait().expect("wait");
    let took = t.elapsed().as_secs_f64();
    assert_eq!(status.code(), Some(3));
    assert!(took < 10.0, "the drill took {took:.1} s to stop");
    assert!(scratch.0.join("rolled-back").exists(), "no rollback");
    let summary = json(&out.join("summary.json"));
    let step = &summary["drill"]["steps"][0];
    assert_eq!(step["outcome"], "interrupted", "{summary}");
    let ran = step["end_s"].as_f64().expect("end") - step["start_s"].as_f64().expect("start");
    assert!(ran < 3.0, "the step ran {ran:.1} s");
}

#[test]
fn the_audit_database_host_must_be_allowed_and_its_secret_is_not_shown() {
    // Old: only the HTTP host was checked; the audit could read a database anywhere.
    let server = TestServer::start(writes_ok_reads_503);
    let scratch = Scratch::new("drill-dbhost");
    let s = drill_file(
        &scratch.0,
        &drill(
            "dbhost",
            "rate: 10/s, duration: 1s, journeys: [write]",
            FAULT,
            "{journey: write, sql: \"SELECT key FROM twin_writes\", database_url: \"postgres://twin:${TWIN_TEST_DB_SECRET}@10.9.8.7:5432/db\"}",
            "[rpo < 1m]",
        ),
    );
    let out = scratch.0.join("out");
    let o = twin()
        .arg("drill")
        .arg(&s)
        .args([
            "--drill",
            "dbhost",
            "--target",
            &server.url(),
            "--allow-destructive",
            "--no-predict",
        ])
        .arg("--out")
        .arg(&out)
        .env("TWIN_TEST_DB_SECRET", "hunter2-secret")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run");
    let text = show(&o);
    assert_eq!(o.status.code(), Some(2), "{text}");
    assert!(text.contains("database_url host `10.9.8.7`"), "{text}");
    assert!(!text.contains("hunter2-secret"), "{text}");
    assert!(!out.exists());
    assert_eq!(server.count("/"), 0, "traffic was sent: {text}");
}
