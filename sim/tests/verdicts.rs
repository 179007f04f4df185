//! Verdicts that never lie (SPEC.md, "Verdicts"): each case of tests/verdicts/cases.json runs a
//! scenario and checks what its summary claims. Adding a case needs no code.

use serde_json::Value;
mod support;
use support::num;

#[test]
fn verdicts_count_missing_data_against_the_claim() {
    let dir = support::data_dir("verdicts");
    let mut failures = Vec::new();
    for case in &support::cases(&dir) {
        let file = case["scenario"]
            .as_str()
            .expect("a case names its scenario");
        let out = support::simulate(&dir, file);
        let summary = serde_json::to_value(&out.summary).expect("a summary is JSON");
        if std::env::var_os("VERDICTS_DUMP").is_some() {
            println!("{file}: {summary:#}");
        }
        for check in case["checks"].as_array().expect("a case has checks") {
            let (ok, line) = run_check(file, &out.summary, &summary, check);
            println!("{} {line}", if ok { "ok  " } else { "FAIL" });
            if !ok {
                failures.push(line);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn run_check(
    file: &str,
    s: &models::summary::RunSummary,
    summary: &Value,
    check: &Value,
) -> (bool, String) {
    if let Some(name) = check["slo"].as_str() {
        let want = check["met"].as_bool().expect("an slo check says `met`");
        let v = s.slos.iter().find(|v| v.name == name);
        let got = v.map(|v| v.met);
        return (
            got == Some(want),
            format!(
                "{file}: slo `{name}` met {got:?} (observed {:?}), want {want}",
                v.and_then(|v| v.observed)
            ),
        );
    }
    if let Some(want) = check["run_passes"].as_bool() {
        let got = s.all_slos_met();
        return (
            got == want,
            format!("{file}: run passes {got}, want {want}"),
        );
    }
    let p = check["path"].as_str().expect("a check names a path");
    let got = summary.pointer(p).cloned().unwrap_or(Value::Null);
    if check.get("null").is_some() {
        return (got.is_null(), format!("{file}: {p} = {got}, want null"));
    }
    if let Some(b) = check["is"].as_bool() {
        return (
            got.as_bool() == Some(b),
            format!("{file}: {p} = {got}, want {b}"),
        );
    }
    let Some(mut obs) = got.as_f64() else {
        return (false, format!("{file}: {p} = {got}, want a number"));
    };
    // `per`: the ratio of the path's value to another's.
    if let Some(q) = check["per"].as_str() {
        match summary.pointer(q).and_then(Value::as_f64) {
            Some(d) => obs /= d,
            None => return (false, format!("{file}: {q} is not a number")),
        }
    }
    if let Some(range) = check["between"].as_array() {
        let (lo, hi) = (num(&range[0], "lo"), num(&range[1], "hi"));
        return (
            lo <= obs && obs <= hi,
            format!("{file}: {p} = {obs} in [{lo}, {hi}]"),
        );
    }
    if let Some(rate) = check["poisson_rate"].as_f64() {
        // A count per replication, averaged over `reps`, against a Poisson mean.
        let secs = num(&check["seconds"], "seconds");
        let reps = num(&check["reps"], "reps");
        let mean = rate * secs;
        let se = (mean / reps).sqrt();
        return (
            (obs - mean).abs() <= 4.0 * se,
            format!(
                "{file}: {p} = {obs} vs Poisson mean {mean} (4 se = {:.1})",
                4.0 * se
            ),
        );
    }
    let want = num(&check["equals"], "equals");
    let tol = num(&check["tol"], "tol");
    (
        (obs - want).abs() <= tol,
        format!("{file}: {p} = {obs} vs {want} +- {tol}"),
    )
}
