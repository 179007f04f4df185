//! `twin calibrate` end to end: `twin emulate` serves a known demand on loopback, `twin load`
//! measures it, and the calibrated scenario must hold that demand again (within the fit's
//! standard error), marked with its source; an overloaded run, a run too small and traces too
//! few are refused with exit 2 and nothing written.

mod support;

use std::path::{Path, PathBuf};
use support::*;

fn case(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/calibrate")
        .join(name)
}

fn calibrate(scenario: &Path, args: &[&std::ffi::OsStr]) -> std::process::Output {
    twin()
        .arg("calibrate")
        .arg(scenario)
        .args(args)
        .output()
        .expect("run twin calibrate")
}

/// The number after `key` in `text` (`mean 20.123 ms ± 0.456`).
fn number_after(text: &str, key: &str) -> f64 {
    let at = text
        .find(key)
        .unwrap_or_else(|| panic!("no `{key}` in {text}"))
        + key.len();
    text[at..]
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.'))
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after `{key}` in {text}"))
}

/// Measures `scenario` on `emu` for `duration` into `dir/name`, then calibrates from it into
/// `dir/name.yaml`: the load's exit status, calibrate's output and where it wrote.
fn measure_and_calibrate(
    scenario: &Path,
    emu: &Emulator,
    dir: &Path,
    name: &str,
    duration: &str,
) -> (Option<i32>, std::process::Output, PathBuf) {
    let run = dir.join(name);
    let o = load(scenario, &emu.url(), &run, &["--duration", duration]);
    let out = dir.join(format!("{name}.yaml"));
    let c = calibrate(
        scenario,
        &[
            "--from".as_ref(),
            run.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    );
    (o.status.code(), c, out)
}

#[test]
fn a_low_load_run_gives_back_the_emulated_demand() {
    let scenario = case("low-load.yaml");
    let emu = Emulator::start(&scenario);
    let dir = tempfile::tempdir().expect("tempdir");
    let (loaded, o, out) = measure_and_calibrate(&scenario, &emu, dir.path(), "run", "10s");
    assert_eq!(loaded, Some(0));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("client and network add"), "{stderr}");
    let text = std::fs::read_to_string(&out).expect("calibrated scenario");
    let line = text
        .lines()
        .find(|l| l.contains("service_time:"))
        .expect("a service_time line");
    assert!(line.contains("# calibrated from load"), "{line}");
    assert!(
        !line.contains("empirical"),
        "a gamma sample fits a law: {line}"
    );
    let comment = &line[line.find('#').expect("a comment")..];
    // The emulated demand: mean 20 ms, cv 0.5, each within 3.5 standard errors of the fit
    // (the client's share is subtracted as measured by the server's own counter).
    let (mean, mean_se) = (number_after(comment, "mean"), number_after(comment, "±"));
    assert!((mean - 20.0).abs() <= 3.5 * mean_se, "{line}");
    let cv_part = &comment[comment.find("cv ").expect("cv")..];
    let (cv, cv_se) = (number_after(cv_part, "cv"), number_after(cv_part, "±"));
    assert!((cv - 0.5).abs() <= 3.5 * cv_se, "{line}");
    // Everything else is kept byte for byte: the comments and the other keys.
    for l in std::fs::read_to_string(&scenario)
        .expect("scenario")
        .lines()
    {
        if !l.contains("service_time:") {
            assert!(text.contains(l), "lost line: {l}");
        }
    }
    let v = twin().arg("validate").arg(&out).output().expect("validate");
    assert_eq!(v.status.code(), Some(0), "{}", show(&v));

    // The same run is too small once cut to 2 s (~80 samples).
    let (loaded, o, refused) = measure_and_calibrate(&scenario, &emu, dir.path(), "small", "2s");
    assert_eq!(loaded, Some(0));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        show(&o).contains("a fit needs at least 200"),
        "{}",
        show(&o)
    );
    assert!(!refused.exists());
}

#[test]
fn an_overloaded_run_is_refused_with_the_rate_to_measure_at() {
    let scenario = case("overloaded.yaml");
    let emu = Emulator::start(&scenario);
    let dir = tempfile::tempdir().expect("tempdir");
    let (loaded, o, out) = measure_and_calibrate(&scenario, &emu, dir.path(), "run", "8s");
    assert!(loaded.is_some_and(|c| c <= 1));
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let msg = show(&o);
    assert!(
        msg.contains("utilisation") && msg.contains("measure at"),
        "{msg}"
    );
    // At most the rate at which an M/M/1 waits 5 % of its demand (ρ = 1/21 at 20 ms:
    // 2.38/s), less the margin: the measured mean includes the queueing, so it is lower still.
    let rate = number_after(&msg, "measure at");
    assert!(rate > 0.0 && rate < 40.0 / 21.0 / 0.8 * 0.9, "{msg}");
    assert!(!out.exists());
}

#[test]
fn traces_too_few_are_refused_and_bad_traces_located() {
    let scenario = case("low-load.yaml");
    let traces = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/traces/zipkin.json");
    let o = calibrate(&scenario, &["--traces".as_ref(), traces.as_os_str()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        show(&o).contains("service api has 2 samples"),
        "{}",
        show(&o)
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"data\": [\n {\"spans\": [1]}]}").expect("write");
    let o = calibrate(&scenario, &["--traces".as_ref(), bad.as_os_str()]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(show(&o).contains("bad.json:1:"), "{}", show(&o));
}
