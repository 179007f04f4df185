//! `twin load` followed while it runs (issue #15): an SLO with `abort: true` stops a 60 s run
//! against a failing server within its grace period (partial results, exit 1), and `--live`
//! writes one parseable JSON line per window whose counts add up to the summary's. The
//! progress bar of `twin load` is drawn on a pseudo-terminal only (util-linux `script`).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

fn failing(_: &str, _: &str, _: Duration) -> (u16, Duration) {
    (500, Duration::ZERO)
}

fn scenario(dir: &std::path::Path, slos: &str) -> std::path::PathBuf {
    let path = dir.join("live.yaml");
    std::fs::write(
        &path,
        format!(
            "name: live\nhorizon: 60s\nservices:\n  api: {{replicas: 1, concurrency: 4, service_time: {{constant: 1ms}}}}\n\
             workload:\n  arrivals: {{constant: {{rate: 20/s}}}}\n  journeys:\n    - name: x\n      steps:\n        - service: api\n          http: {{path: /x}}\n\
             slos:\n{slos}"
        ),
    )
    .expect("write scenario");
    path
}

#[test]
fn an_aborting_slo_stops_a_60s_run_within_its_grace() {
    let server = TestServer::start(failing);
    let tmp = tempfile::tempdir().expect("tempdir");
    let scen = scenario(
        tmp.path(),
        "  - {slo: \"error_rate(x) < 1%\", abort: true, grace: 3s}\n  - p95(x) < 1s\n",
    );
    let dir = tmp.path().join("run");
    let live = tmp.path().join("live.jsonl");
    let t0 = Instant::now();
    let o = load(
        &scen,
        &server.url(),
        &dir,
        &[
            "--duration",
            "60s",
            "--no-predict",
            "--live",
            live.to_str().unwrap(),
        ],
    );
    let wall = t0.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    // Judged at the end of each 1 s window: the first judgement at or after the 3 s grace is
    // the end of window 2 (3 s); the run then stops and finishes the journeys in flight (each
    // answered at once). Start-up and the writing of the report take the rest.
    assert!(
        wall < Duration::from_secs(20),
        "took {wall:?}: {}",
        show(&o)
    );
    let summary = json(&dir.join("summary.json"));
    assert_eq!(summary["partial"], true, "{summary}");
    let aborted = &summary["load"]["aborted"];
    assert_eq!(aborted["slo"], "error_rate(x) < 1%", "{summary}");
    assert_eq!(aborted["at_s"].as_f64(), Some(3.0));
    assert_eq!(aborted["observed"].as_f64(), Some(1.0));
    let ran = summary["load"]["ran_s"].as_f64().unwrap();
    assert_eq!(ran, 3.0);
    // 20/s for 3 s: about 60 journeys, not the 1,200 of the full minute.
    let count = summary["journeys"]["x"]["count"].as_u64().unwrap();
    assert!((50..=90).contains(&count), "{count} journeys");
    let missed = summary["slos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "error_rate(x) < 1%")
        .expect("verdict");
    assert_eq!(missed["met"], false);
    assert!(summary["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().starts_with("aborted at 3.0 s")));
    // The live file: one line per window up to the abort (its line says so), then the
    // windows that ended with the run.
    let text = std::fs::read_to_string(&live).expect("live file");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert!(lines.len() >= 3, "{text}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l["window"].as_u64(), Some(i as u64), "{text}");
    }
    assert_eq!(lines[2]["aborted"]["slo"], "error_rate(x) < 1%", "{text}");
}

#[test]
fn live_lines_count_the_windows_and_add_up_to_the_summary() {
    let scenario = example("loopback-trivial.yaml");
    let emulator = Emulator::start(&scenario);
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    let live = tmp.path().join("live.jsonl");
    let o = load(
        &scenario,
        &emulator.url(),
        &dir,
        &[
            "--duration",
            "4s",
            "--no-predict",
            "--set",
            "workload.arrivals={constant: {rate: 50/s}}",
            "--live",
            live.to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let summary = json(&dir.join("summary.json"));
    let detail = json(&dir.join("load.json"));
    let windows = detail["windows"]["get"].as_array().expect("windows").len();
    let text = std::fs::read_to_string(&live).expect("live file");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    // 4 s of 1 s windows, and a fifth when the last journeys end just after 4 s.
    assert_eq!(lines.len(), windows, "{text}");
    assert!((4..=5).contains(&windows), "{windows}");
    let total: u64 = lines
        .iter()
        .map(|l| l["journeys"]["get"]["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(total, summary["journeys"]["get"]["count"].as_u64().unwrap());
    assert_eq!(total, 200);
    assert!(lines[1]["journeys"]["get"]["p95_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(lines[1]["start_s"].as_f64(), Some(1.0));
    // The load's own timing figures.
    let lateness = &summary["load"]["lateness_ms"];
    assert_eq!(lateness["count"].as_u64(), Some(200), "{summary}");
    assert!(summary["load"]["cpu_us_per_request"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_aborting_slos_are_located_input_errors() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let scen = scenario(
        tmp.path(),
        "  - {slo: \"error_rate(x) < 1%\", abort: true, grace: 3s, when: now}\n",
    );
    let o = twin().arg("validate").arg(&scen).output().expect("run");
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("live.yaml:13:"), "{err}");
    assert!(err.contains("when"), "{err}");
}

/// `twin load` under `script` (a terminal) or a pipe, with or without `CI`.
fn load_output(tty: bool, ci: bool, url: &str, out: &std::path::Path) -> String {
    let args = format!(
        "{} load {} --target {url} --duration 2s --no-predict --out {}",
        env!("CARGO_BIN_EXE_twin"),
        example("loopback-trivial.yaml").display(),
        out.display()
    );
    let run = as_seen(&args, tty, ci);
    String::from_utf8_lossy(&run.stdout).into_owned()
}

#[test]
fn the_load_progress_bar_is_drawn_on_a_terminal_only() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let emulator = Emulator::start(&example("loopback-trivial.yaml"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = emulator.url();
    let on_tty = load_output(true, false, &url, &tmp.path().join("a"));
    let piped = load_output(false, false, &url, &tmp.path().join("b"));
    let in_ci = load_output(true, true, &url, &tmp.path().join("c"));
    // The one-line summary either way: 2 s at 200/s (about 400 requests), none failed.
    for (what, text) in [("tty", &on_tty), ("pipe", &piped), ("CI", &in_ci)] {
        let line = text
            .lines()
            .find_map(|l| l.split("load: 2.0 of 2 s, ").nth(1))
            .unwrap_or_else(|| panic!("{what}: no summary line in {text}"));
        let n: u64 = line.split(' ').next().unwrap().parse().unwrap();
        assert!((395..=405).contains(&n), "{what}: {line}");
        assert!(line.ends_with("requests, 0 errors"), "{what}: {line}");
    }
    assert!(on_tty.contains("load ["), "no bar on a terminal: {on_tty}");
    for (what, text) in [("pipe", &piped), ("CI", &in_ci)] {
        assert!(!text.contains("load ["), "{what}: a bar was drawn: {text}");
        assert!(
            !text.contains('\u{1b}'),
            "{what}: escape sequences: {text:?}"
        );
    }
}
