//! Issue 18's command-line additions as a user runs them: `twin completions SHELL`,
//! `twin validate --json` (machine-readable diagnostics), and the progress bar of `twin
//! simulate` and `twin sweep`: drawn on a pseudo-terminal (util-linux `script`), absent through
//! a pipe or with `CI` set, a one-line summary either way.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

fn twin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twin"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn completions_for_bash_zsh_and_fish_name_the_subcommands() {
    for (shell, marker) in [
        ("bash", "_twin()"),
        ("zsh", "#compdef twin"),
        ("fish", "complete -c twin"),
    ] {
        let out = twin()
            .args(["completions", shell])
            .output()
            .expect("run twin");
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: no `{marker}`");
        for sub in ["simulate", "validate", "sweep", "hpa", "completions"] {
            assert!(script.contains(sub), "{shell}: `{sub}` missing");
        }
    }
    let bad = twin()
        .args(["completions", "tcsh"])
        .output()
        .expect("run twin");
    assert_eq!(bad.status.code(), Some(2));
}

fn validate_json(files: &[&Path]) -> (Option<i32>, serde_json::Value) {
    let out = twin()
        .args(["validate", "--json"])
        .args(files)
        .output()
        .expect("run twin");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (out.status.code(), v)
}

#[test]
fn validate_json_lists_errors_with_file_line_column_and_severity() {
    let bad = root().join("tests/cases/invalid/replicas-zero.yaml");
    let good = root().join("tests/cases/valid/minimal.yaml");
    let (code, v) = validate_json(&[&bad, &good]);
    assert_eq!(code, Some(2), "{v}");
    let files = v["files"].as_array().expect("files");
    assert_eq!(files.len(), 2);
    assert_eq!(files[0]["valid"], false);
    assert_eq!(files[1]["valid"], true);
    assert_eq!(files[1]["scenario"], "minimal");
    let diags = v["diagnostics"].as_array().expect("diagnostics");
    // The case's own header says where its error is: `# expect: LINE:COL: SUBSTRING`.
    let text = std::fs::read_to_string(&bad).expect("case");
    let expect = text
        .lines()
        .find_map(|l| l.strip_prefix("# expect: "))
        .expect("an expect header");
    let mut parts = expect.splitn(3, ':');
    let line: u64 = parts
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("line");
    let col: u64 = parts
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("col");
    let needle = parts.next().expect("substring").trim();
    let d = diags
        .iter()
        .find(|d| d["message"].as_str().is_some_and(|m| m.contains(needle)))
        .unwrap_or_else(|| panic!("no diagnostic with `{needle}`: {v}"));
    assert_eq!(d["file"].as_str(), Some(bad.display().to_string().as_str()));
    assert_eq!(
        (d["line"].as_u64(), d["column"].as_u64()),
        (Some(line), Some(col))
    );
    assert_eq!(d["severity"], "error");

    let (code, v) = validate_json(&[&good]);
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(v["diagnostics"].as_array().map(Vec::len), Some(0));
}

/// `twin simulate` under `script` (a pseudo-terminal): returns what the terminal showed.
fn simulate_output(tty: bool, ci: bool, out: &Path) -> String {
    let scenario = root().join("tests/cases/valid/minimal.yaml");
    let args = format!(
        "{} simulate {} --horizon 2h --replications 2 --out {}",
        env!("CARGO_BIN_EXE_twin"),
        scenario.display(),
        out.display()
    );
    let run = support::as_seen(&args, tty, ci);
    assert!(
        matches!(run.status.code(), Some(0 | 1)),
        "{:?}: {}",
        run.status.code(),
        String::from_utf8_lossy(&run.stdout)
    );
    String::from_utf8_lossy(&run.stdout).into_owned()
}

#[test]
fn a_progress_bar_is_drawn_on_a_terminal_only() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("temporary folder");
    let on_tty = simulate_output(true, false, &tmp.path().join("a"));
    let piped = simulate_output(false, false, &tmp.path().join("b"));
    let in_ci = simulate_output(true, true, &tmp.path().join("c"));
    let summary = "simulated 2 replication(s) x 7200 s in";
    for (what, text) in [("tty", &on_tty), ("pipe", &piped), ("CI", &in_ci)] {
        assert!(text.contains(summary), "{what}: no summary line in {text}");
    }
    // The bar's frame: `simulate [====...`.
    assert!(
        on_tty.contains("simulate ["),
        "no bar on a terminal: {on_tty}"
    );
    for (what, text) in [("pipe", &piped), ("CI", &in_ci)] {
        assert!(
            !text.contains("simulate ["),
            "{what}: a bar was drawn: {text}"
        );
        assert!(
            !text.contains('\u{1b}'),
            "{what}: escape sequences: {text:?}"
        );
    }
}
