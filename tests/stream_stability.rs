//! Value stability (issue 18): a seed means the same draws on every machine and after every
//! dependency upgrade. `tests/data/golden/streams.yaml` samples every law of
//! `models::distribution` (through the pinned `rand_distr`) plus Poisson arrivals; its
//! summary.json outside `engine` is stored as `streams.summary.json` and compared byte for
//! byte. When a change of streams is intended, regenerate it with
//! `TWIN_BLESS=1 cargo test --release --test stream_stability` and say so in the commit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/golden")
        .join(name)
}

/// The text with the top-level `"engine": {...}` object emptied (wall time differs by run).
fn without_engine(text: &str) -> String {
    let Some(key) = text.find("\"engine\":") else {
        panic!("summary.json has no `engine` object");
    };
    let open = key + text[key..].find('{').expect("engine is an object");
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return format!("{}{{}}{}", &text[..open], &text[open + i + 1..]);
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced engine object")
}

#[test]
fn the_engine_object_is_emptied_and_nothing_else() {
    assert_eq!(
        without_engine("{\"a\": 1, \"engine\": {\"events\": 5, \"x\": {\"y\": 2}}, \"b\": 3}"),
        "{\"a\": 1, \"engine\": {}, \"b\": 3}"
    );
}

#[test]
fn a_fixed_seed_gives_the_stored_summary_byte_for_byte() {
    let tmp = tempfile::tempdir().expect("temporary folder");
    let out = tmp.path().join("run");
    let run = Command::new(env!("CARGO_BIN_EXE_twin"))
        .arg("simulate")
        .arg(golden("streams.yaml"))
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run twin simulate");
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "twin simulate exited {:?}\n{}",
        run.status.code(),
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(out.join("summary.json")).expect("summary.json");
    let got = without_engine(&text);
    let stored = golden("streams.summary.json");
    if std::env::var_os("TWIN_BLESS").is_some() {
        std::fs::write(&stored, &got).expect("write the golden summary");
        return;
    }
    let want = std::fs::read_to_string(&stored).expect("tests/data/golden/streams.summary.json");
    if got != want {
        let line = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "the summary of a fixed seed changed (a stream changed: an upgrade of rand_core or \
             rand_distr, or of the engine's draws). First different line {}:\n  got:  {}\n  want: {}\n\
             If intended, regenerate with TWIN_BLESS=1 and say so in the commit.",
            line + 1,
            got.lines().nth(line).unwrap_or(""),
            want.lines().nth(line).unwrap_or("")
        );
    }
}
