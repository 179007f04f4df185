//! Determinism (issue 2, SPEC.md "Outputs"): the same scenario and seed give a byte-identical
//! summary.json outside `engine`, whatever the number of threads; another seed gives another
//! summary. Runs the built binary as a user does, with `RAYON_NUM_THREADS` set to 1 and 2. The
//! run folder's CSVs and timeline.json must be byte-identical as well.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Every balancing mode, five distribution families, a ramped profile, two journeys, three
/// replications (so that replications really run on different threads).
const SCENARIO: &str = "tests/cases/valid/tandem-mixed.yaml";

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(SCENARIO)
}

/// Runs `twin simulate` with `threads` rayon threads into `out`; returns summary.json's bytes.
fn simulate(threads: usize, seed: u64, out: &Path) -> Vec<u8> {
    let run = Command::new(env!("CARGO_BIN_EXE_twin"))
        .arg("simulate")
        .arg(scenario())
        .args(["--seed", &seed.to_string()])
        .arg("--out")
        .arg(out)
        .env("RAYON_NUM_THREADS", threads.to_string())
        .output()
        .expect("run twin simulate");
    let stderr = String::from_utf8_lossy(&run.stderr);
    // 0 or 1: the run finished (an SLO may be missed); anything else is a failure.
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "twin simulate exited {:?}\n{stderr}",
        run.status.code()
    );
    std::fs::read(out.join("summary.json")).expect("summary.json written")
}

/// The byte range of the value of the top-level key `key` in a JSON text (brace matching,
/// strings skipped), so that everything else can be compared byte for byte.
fn value_span(json: &[u8], key: &str) -> Option<(usize, usize)> {
    let needle = format!("\"{key}\"");
    let (mut depth, mut i, mut in_str) = (0usize, 0usize, false);
    while i < json.len() {
        let c = json[i];
        if in_str {
            match c {
                b'\\' => i += 1,
                b'"' => in_str = false,
                _ => {}
            }
        } else {
            match c {
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth = depth.saturating_sub(1),
                b'"' if depth == 1 && json[i..].starts_with(needle.as_bytes()) => {
                    let mut j = i + needle.len();
                    while j < json.len() && (json[j] == b':' || json[j].is_ascii_whitespace()) {
                        j += 1;
                    }
                    // The value: an object here; find its end.
                    let start = j;
                    let (mut d, mut s) = (0usize, false);
                    while j < json.len() {
                        let c = json[j];
                        if s {
                            match c {
                                b'\\' => j += 1,
                                b'"' => s = false,
                                _ => {}
                            }
                        } else {
                            match c {
                                b'"' => s = true,
                                b'{' | b'[' => d += 1,
                                b'}' | b']' => {
                                    d -= 1;
                                    if d == 0 {
                                        return Some((start, j + 1));
                                    }
                                }
                                b',' if d == 0 => return Some((start, j)),
                                _ => {}
                            }
                        }
                        j += 1;
                    }
                    return None;
                }
                b'"' => in_str = true,
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// The summary with the `engine` object's contents cut out (its key stays).
fn without_engine(json: &[u8]) -> Vec<u8> {
    let (a, b) = value_span(json, "engine").expect("summary.json has an `engine` object");
    let mut out = json[..a].to_vec();
    out.extend_from_slice(b"{}");
    out.extend_from_slice(&json[b..]);
    out
}

fn first_difference(a: &[u8], b: &[u8]) -> String {
    let i = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    let show = |s: &[u8]| {
        String::from_utf8_lossy(&s[i.saturating_sub(80)..(i + 80).min(s.len())]).into_owned()
    };
    format!(
        "first difference at byte {i}:\n  {}\n  {}",
        show(a),
        show(b)
    )
}

#[test]
fn the_engine_object_is_cut_exactly() {
    let json =
        br#"{"a": {"x": [1, {"y": "}"}]}, "engine": {"events": 5, "wall_s": 0.1}, "z": "engine"}"#;
    assert_eq!(
        String::from_utf8_lossy(&without_engine(json)),
        r#"{"a": {"x": [1, {"y": "}"}]}, "engine": {}, "z": "engine"}"#
    );
}

#[test]
fn same_seed_same_summary_on_one_and_two_threads_another_seed_differs() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let one = simulate(1, 42, &tmp.path().join("t1"));
    let two = simulate(2, 42, &tmp.path().join("t2"));
    let again = simulate(2, 42, &tmp.path().join("t2-again"));
    let other = simulate(2, 43, &tmp.path().join("seed43"));

    let (a, b, c) = (
        without_engine(&one),
        without_engine(&two),
        without_engine(&again),
    );
    assert!(
        a == b,
        "1 thread vs 2 threads: {}",
        first_difference(&a, &b)
    );
    assert!(b == c, "2 threads, run twice: {}", first_difference(&b, &c));

    // The event count is a property of the run too, not of the machine.
    let events = |s: &[u8]| -> u64 {
        let v: serde_json::Value = serde_json::from_slice(s).expect("summary.json is JSON");
        v["engine"]["events"].as_u64().expect("engine.events")
    };
    assert_eq!(events(&one), events(&two));
    assert!(events(&one) > 0);

    // The other machine-readable outputs (time-window CSVs, the timeline) carry no wall time
    // at all: byte-identical as they are.
    for entry in std::fs::read_dir(tmp.path().join("t1")).expect("read the run folder") {
        let name = entry.expect("folder entry").file_name();
        let n = name.to_string_lossy();
        if n.ends_with(".csv") || n == "timeline.json" {
            let x = std::fs::read(tmp.path().join("t1").join(&name)).expect("read");
            let y = std::fs::read(tmp.path().join("t2").join(&name)).expect("read");
            assert!(x == y, "{n}, 1 vs 2 threads: {}", first_difference(&x, &y));
        }
    }

    let d = without_engine(&other);
    assert!(a != d, "seed 43 gave the same summary as seed 42");
    let v42: serde_json::Value = serde_json::from_slice(&one).expect("JSON");
    let v43: serde_json::Value = serde_json::from_slice(&other).expect("JSON");
    assert_eq!(v43["seed"], 43);
    assert_ne!(
        v42["journeys"]["checkout"]["latency_ms"], v43["journeys"]["checkout"]["latency_ms"],
        "another seed must draw other latencies"
    );
}
