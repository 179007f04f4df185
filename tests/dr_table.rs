//! The DR table of scenarios/README.md comes from the DR scenarios. Each row of
//! `tests/cases/dr/table.json` names a scenario of `scenarios/drills/` (and the `--set`s of a
//! standby mode), the RTO its recovery parts add up to and the RPO its replication gives
//! (hand computations, written beside them), the verdicts of the seeds' targets, and the
//! standby's monthly bill lines (node-hours x list price, written out). The test runs `twin
//! simulate` on each, checks the summary against them, and checks that the README's row for it
//! states the same figures.

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what}: expected a number, found {v}"))
}

#[test]
fn dr_table_rows_are_what_the_scenarios_predict() {
    let cases: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/cases/dr/table.json")).expect("table.json"),
    )
    .expect("table.json is JSON");
    let readme = std::fs::read_to_string(root().join("scenarios/README.md")).expect("README");
    let tmp = tempfile::tempdir().expect("temporary folder");
    let mut problems = Vec::new();
    let rows = cases["rows"].as_array().expect("rows");
    assert!(rows.len() >= 6, "four scenarios and three standby modes");
    for (i, case) in rows.iter().enumerate() {
        let label = case["row"].as_str().expect("row");
        let dir = tmp.path().join(format!("run-{i}"));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_twin"));
        cmd.current_dir(root())
            .arg("simulate")
            .arg(case["scenario"].as_str().expect("scenario"))
            .arg("--out")
            .arg(&dir);
        for s in case["set"].as_array().into_iter().flatten() {
            cmd.arg("--set").arg(s.as_str().expect("a --set"));
        }
        let out = cmd.output().expect("run twin simulate");
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Exit 1 is a missed target, which some rows predict.
        if !matches!(out.status.code(), Some(0 | 1)) {
            problems.push(format!(
                "{label}: simulate exited {:?}: {stderr}",
                out.status.code()
            ));
            continue;
        }
        let summary: Value = serde_json::from_str(
            &std::fs::read_to_string(dir.join("summary.json")).expect("summary.json"),
        )
        .expect("summary is JSON");
        let rec = &summary["recovery"];
        for (key, field) in [("rto", "rto_s"), ("rpo", "rpo_s")] {
            let want = num(&case[format!("{key}_s")], label);
            let tol = num(&case[format!("{key}_tol")], label);
            match rec[field].as_f64() {
                Some(got) if (got - want).abs() <= tol => {}
                got => problems.push(format!(
                    "{label}: {field} {got:?}, expected {want} +- {tol} ({})",
                    case[format!("{key}_why")]
                )),
            }
        }
        for (name, met) in case["met"].as_object().expect("met") {
            let verdict = summary["slos"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|v| v["name"] == name.as_str());
            match verdict {
                Some(v) if v["met"] == *met => {}
                v => problems.push(format!("{label}: `{name}` expected met = {met}, got {v:?}")),
            }
        }
        let items = &summary["cost"]["projection"]["monthly_by_item"];
        for (item, want) in case["bill"].as_object().expect("bill") {
            let want = num(want, item);
            let got = items[item.as_str()].as_f64();
            if got.is_none_or(|g| (g - want).abs() > 0.01) {
                problems.push(format!("{label}: {item} monthly {got:?}, expected {want}"));
            }
        }
        if let Some(np) = case["not_priced"].as_str() {
            let listed = summary["cost"]["not_priced"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|x| x.as_str().is_some_and(|s| s.contains(np)));
            if !listed {
                problems.push(format!(
                    "{label}: `{np}` not listed in cost.not_priced: {}",
                    summary["cost"]["not_priced"]
                ));
            }
        }
        // The README's row: starts with the label, holds every figure.
        let line = readme
            .lines()
            .find(|l| l.starts_with(&format!("| {label} |")));
        match line {
            None => problems.push(format!(
                "{label}: no row `| {label} |` in scenarios/README.md"
            )),
            Some(l) => {
                for fig in case["readme"].as_array().expect("readme") {
                    let fig = fig.as_str().expect("a figure");
                    if !l.contains(fig) {
                        problems.push(format!("{label}: README row lacks `{fig}`: {l}"));
                    }
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
