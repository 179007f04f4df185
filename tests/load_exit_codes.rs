//! `twin load`'s exit statuses (SPEC.md): 1 when an SLO is missed, 3 when the target is
//! unreachable (with a clear message) or the run is interrupted (what was measured is written,
//! marked partial), 2 for a bad template, found before any traffic.

mod support;

use std::time::{Duration, Instant};
use support::*;

#[test]
fn an_impossible_slo_exits_1() {
    let scenario = example("loopback-mmc.yaml");
    let emulator = Emulator::start(&scenario);
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    let o = load(
        &scenario,
        &emulator.url(),
        &dir,
        &[
            "--duration",
            "3s",
            "--no-predict",
            "--set",
            r#"slos=["p95(call) < 1ms"]"#,
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let summary = json(&dir.join("summary.json"));
    assert_eq!(summary["slos"][0]["met"], false);
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("failure"), "{junit}");
}

#[test]
fn an_unreachable_target_exits_3_with_a_clear_message() {
    // A port nobody listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    let o = load(
        &example("loopback-mmc.yaml"),
        &format!("http://127.0.0.1:{port}"),
        &dir,
        &["--duration", "2s", "--no-predict"],
    );
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cannot reach the target") && err.contains(&port.to_string()),
        "{err}"
    );
    assert!(
        !dir.exists(),
        "nothing is written for a run that could not start"
    );
}

#[test]
fn a_bad_template_exits_2_before_any_traffic() {
    let emulator = Emulator::start(&example("loopback-mmc.yaml"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let bad = tmp.path().join("bad.yaml");
    let text = std::fs::read_to_string(example("loopback-mmc.yaml"))
        .expect("scenario")
        .replace("path: /calls,", "path: '/calls/{call_id}',");
    std::fs::write(&bad, text).expect("write");
    let o = load(
        &bad,
        &emulator.url(),
        &tmp.path().join("run"),
        &["--duration", "2s"],
    );
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    // file:line:col, then what is wrong.
    let located = format!("{}:20:", bad.display());
    assert!(err.contains(&located) && err.contains("{call_id}"), "{err}");
    assert_eq!(emulator.requests(), 0, "no traffic before the error");
}

#[test]
fn sigterm_writes_what_was_measured_marked_partial() {
    let scenario = example("loopback-mmc.yaml");
    let emulator = Emulator::start(&scenario);
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    let mut child = twin()
        .arg("load")
        .arg(&scenario)
        .args([
            "--target",
            &emulator.url(),
            "--duration",
            "60s",
            "--no-predict",
            "--out",
        ])
        .arg(&dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start twin load");
    // Wait until traffic flows, then SIGTERM by PID.
    let deadline = Instant::now() + Duration::from_secs(30);
    while emulator.requests() < 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let started = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if started.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("twin load did not stop after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(3));
    let summary = json(&dir.join("summary.json"));
    assert_eq!(summary["partial"], true);
    let n = summary["journeys"]["call"]["count"].as_u64().unwrap_or(0);
    assert!(n >= 50, "{summary}");
    let detail = json(&dir.join("load.json"));
    assert_eq!(detail["requests"].as_u64(), Some(emulator.requests()));
}
