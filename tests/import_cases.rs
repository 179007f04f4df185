//! `twin import`, data-driven: every `tests/cases/import/NAME.json` names the manifests it reads
//! (`"manifests": [...]`, relative to the folder; default `NAME.yaml`) and what must hold:
//! - `"exit"`: the status (default 0);
//! - `"facts"`: `{"dotted.path": value}` in the written scenario (read as YAML; a numeric
//!   segment indexes a sequence), each equal as JSON;
//! - `"absent"`: dotted paths the scenario must not have;
//! - `"text"`: substrings of the scenario's text (its comments and placeholders);
//! - `"stderr"`: substrings of what import prints on stderr (skipped objects, errors with
//!   `file:line:col`).
//!
//! Every case that exits 0 must write a scenario that `twin validate` accepts (exit 0), and a
//! failing one must leave no file behind.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn twin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twin"))
}

fn cases() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/cases/import")
}

/// The value at a dotted path (`services.api.replicas.min`, `workload.journeys.0.name`).
fn at<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, seg| match v {
        Value::Array(a) => a.get(seg.parse::<usize>().ok()?),
        Value::Object(m) => m.get(seg),
        _ => None,
    })
}

fn run_case(spec_file: &Path, tmp: &Path) -> Vec<String> {
    let stem = spec_file
        .file_stem()
        .expect("case name")
        .to_string_lossy()
        .into_owned();
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(spec_file).unwrap_or_else(|e| panic!("{stem}: {e}")),
    )
    .unwrap_or_else(|e| panic!("{stem}.json: {e}"));
    let manifests: Vec<String> = match spec.get("manifests").and_then(Value::as_array) {
        Some(list) => list
            .iter()
            .map(|m| m.as_str().expect("manifest names are strings").to_string())
            .collect(),
        None => vec![format!("{stem}.yaml")],
    };
    let out_file = tmp.join(format!("{stem}.yaml"));
    let out = twin()
        .current_dir(cases())
        .arg("import")
        .args(&manifests)
        .arg("--out")
        .arg(&out_file)
        .output()
        .expect("run twin import");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut problems = Vec::new();
    let want_exit = spec.get("exit").and_then(Value::as_i64).unwrap_or(0);
    if out.status.code().map(i64::from) != Some(want_exit) {
        problems.push(format!(
            "exited {:?}, expected {want_exit}\nstderr: {stderr}",
            out.status.code()
        ));
    }
    if stderr.contains("panicked") {
        problems.push(format!("panicked:\n{stderr}"));
    }
    for s in spec
        .get("stderr")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = s.as_str().expect("stderr substrings are strings");
        if !stderr.contains(s) {
            problems.push(format!("stderr lacks `{s}`:\n{stderr}"));
        }
    }
    if want_exit != 0 {
        if out_file.exists() {
            problems.push(format!("exit {want_exit} left {}", out_file.display()));
        }
        return problems;
    }
    let Ok(text) = std::fs::read_to_string(&out_file) else {
        problems.push(format!("no scenario written to {}", out_file.display()));
        return problems;
    };
    let scenario: Value = match serde_yaml_ng::from_str(&text) {
        Ok(v) => v,
        Err(e) => {
            problems.push(format!("the scenario is not YAML: {e}\n{text}"));
            return problems;
        }
    };
    if let Some(facts) = spec.get("facts").and_then(Value::as_object) {
        for (path, want) in facts {
            match at(&scenario, path) {
                Some(got) if got == want => {}
                got => problems.push(format!("{path}: {got:?}, expected {want}")),
            }
        }
    }
    for p in spec
        .get("absent")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let p = p.as_str().expect("absent paths are strings");
        if let Some(v) = at(&scenario, p) {
            problems.push(format!("{p} should be absent, is {v}"));
        }
    }
    for s in spec
        .get("text")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = s.as_str().expect("text substrings are strings");
        if !text.contains(s) {
            problems.push(format!("the scenario lacks `{s}`"));
        }
    }
    let v = twin()
        .arg("validate")
        .arg(&out_file)
        .output()
        .expect("run twin validate");
    if !v.status.success() {
        problems.push(format!(
            "twin validate exited {:?}:\n{}",
            v.status.code(),
            String::from_utf8_lossy(&v.stderr)
        ));
    }
    if !problems.is_empty() {
        problems.push(format!("the scenario:\n{text}"));
    }
    problems
}

#[test]
fn import_cases() {
    let mut specs: Vec<PathBuf> = std::fs::read_dir(cases())
        .expect("tests/cases/import")
        .map(|e| e.expect("folder entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 6, "only {} import cases", specs.len());
    let tmp = tempfile::tempdir().expect("temporary folder");
    let mut failed = Vec::new();
    for s in &specs {
        let problems = run_case(s, tmp.path());
        if !problems.is_empty() {
            failed.push(format!("{}:\n  {}", s.display(), problems.join("\n  ")));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[test]
fn import_without_out_prints_the_scenario() {
    let out = twin()
        .current_dir(cases())
        .args(["import", "deployment-hpa.yaml"])
        .output()
        .expect("run twin import");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("name: imported"), "{text}");
    assert!(text.contains("services:"), "{text}");
}
