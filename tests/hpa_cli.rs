//! End to end: `twin hpa eval` reproduces every answer of the shared vectors file, and
//! `twin hpa replay` replays a small recorded series with a hand-computed answer.

use serde_json::{json, Value};
use std::process::Command;

fn twin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_twin"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn expected_of(v: &Value) -> Value {
    if let Some(e) = v.get("expected").filter(|e| e.is_object()) {
        return e.clone();
    }
    if let Some(c) = v.get("expected_class") {
        return json!({ "class": c });
    }
    let steps = v["steps"].as_array().expect("timeline steps");
    json!({ "replicas_after": steps.iter().map(|s| s["replicas_after"].clone()).collect::<Vec<_>>() })
}

#[test]
fn eval_reproduces_every_expected_answer() {
    let out = twin()
        .args(["hpa", "eval", "tests/data/hpa-vectors.json"])
        .output()
        .expect("run twin");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/data/hpa-vectors.json").expect("file"),
    )
    .expect("json");
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 105);
    let mut failures = Vec::new();
    for l in &lines {
        let section = l["section"].as_str().expect("section");
        let name = l["name"].as_str().expect("name");
        let v = doc[section]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["name"] == name))
            .expect("known vector");
        if l["result"] != expected_of(v) {
            failures.push(format!(
                "{section} / {name}: {} vs {}",
                l["result"],
                expected_of(v)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn eval_works_without_answers() {
    let mut doc: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/data/hpa-vectors.json").expect("file"),
    )
    .expect("json");
    let answers = doc.clone();
    for (_, vectors) in doc.as_object_mut().expect("object") {
        for v in vectors.as_array_mut().into_iter().flatten() {
            if let Some(o) = v.as_object_mut() {
                o.remove("expected");
                o.remove("expected_class");
            }
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bare.json");
    std::fs::write(&path, doc.to_string()).expect("write");
    let out = twin()
        .args(["hpa", "eval"])
        .arg(&path)
        .output()
        .expect("run twin");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for l in String::from_utf8_lossy(&out.stdout).lines() {
        let l: Value = serde_json::from_str(l).expect("json line");
        let v = answers[l["section"].as_str().expect("section")]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["name"] == l["name"]))
            .expect("vector");
        // Every answer of the original file is among the computed fields.
        for (k, want) in expected_of(v).as_object().expect("object") {
            assert_eq!(
                &l["result"][k], want,
                "{} / {} field {k}",
                l["section"], l["name"]
            );
        }
    }
}

#[test]
fn replay_matches_the_hand_computed_sequence() {
    // Computed by hand from hpa-algorithm.md (legacy path, cpu 50% of 500m, 15s syncs):
    // t=0    a,b just started: their samples predate readiness + one 15s window -> unready,
    //        no metric -> FailedGetMetrics, stay at 2 (from the Deployment).
    // t=15   250m/500m = 50% -> ratio 1.0, within tolerance -> 2.
    // t=30   100% -> ratio 2.0 -> ceil(2.0*2) = 4; legacy cap max(2*2, 4) = 4 -> 4.
    // t=45   c,d Pending (unready): ratio 2.0 with unready pods -> re-average with c,d at 0:
    //        1000/2000 = 50% -> within -> 4.
    // t=60   c,d Ready at 60, samples at 60 < 60 + 15s window -> still unready -> 4.
    // t=75   c,d count: 1200/2000 = 60% -> 1.2 -> ceil(4.8) = 5.
    // t=90   a-d at 50%, e Pending: ratio 1.0 -> 5.
    // t=105+ a-d at 20%: ceil(0.4*4) = 2, but the legacy stabilizer keeps the max over the
    //        last 300s, and the recommendation 5 of t=90 counts until it is MORE than 300s
    //        old: 5 through t=390, 2 at t=405 and t=420.
    let out = twin()
        .args([
            "hpa",
            "replay",
            "--hpa",
            "tests/data/hpa/hpa.yaml",
            "--deployment",
            "tests/data/hpa/deployment.yaml",
            "--metrics",
            "tests/data/hpa/metrics.csv",
        ])
        .output()
        .expect("run twin");
    assert!(
        out.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("time_s,current_replicas,metric_desired,replicas,decision,pods,ready_pods")
    );
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    let replicas: Vec<i32> = rows
        .iter()
        .map(|r| r[3].parse().expect("replicas"))
        .collect();
    let mut want = vec![2, 2, 4, 4, 4, 5];
    want.extend(std::iter::repeat_n(5, 21));
    want.extend([2, 2]);
    assert_eq!(replicas, want);
    let times: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(times.first(), Some(&"0"));
    assert_eq!(times.last(), Some(&"420"));
    assert_eq!(rows[0][4], "FailedGetMetrics");
    assert_eq!(rows[0][2], "", "no metric proposal at t=0");
    assert_eq!(rows[7][2], "2", "the metrics want 2 from t=105");

    // --out writes DIR/replicas.csv with the same content.
    let dir = tempfile::tempdir().expect("tempdir");
    let out2 = twin()
        .args([
            "hpa",
            "replay",
            "--hpa",
            "tests/data/hpa/hpa.yaml",
            "--deployment",
            "tests/data/hpa/deployment.yaml",
        ])
        .args(["--metrics", "tests/data/hpa/metrics.csv", "--out"])
        .arg(dir.path())
        .output()
        .expect("run twin");
    assert!(out2.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("replicas.csv")).expect("written"),
        text
    );

    // ... and the chart beside it: well-formed SVG with the replica panel and one panel for
    // the HPA's one metric (cpu) with its target line (there is one only when the request is
    // known: 50 % of the Deployment's 500m).
    let svg = std::fs::read_to_string(dir.path().join("replicas.svg")).expect("chart written");
    let elements = well_formed(&svg).unwrap_or_else(|e| panic!("replicas.svg: {e}"));
    assert_eq!(elements.first().map(String::as_str), Some("svg"));
    let texts: Vec<&str> = svg
        .split("<text")
        .skip(1)
        .filter_map(|t| t.split_once('>').map(|(_, rest)| rest))
        .filter_map(|t| t.split_once("</text>").map(|(inner, _)| inner.trim()))
        .collect();
    for want in [
        "HPA gateway replayed",
        "replicas",
        "metric-desired",
        "cpu",
        "cpu (cores per pod)",
        "cpu (mean per pod)",
        "target",
    ] {
        assert!(texts.contains(&want), "no text `{want}` in {texts:?}");
    }
    // Two panels, each a plot of lines: plotters writes lines as <polyline>.
    let polylines = elements.iter().filter(|e| *e == "polyline").count();
    assert!(polylines >= 4, "{polylines} polylines");
}

/// Checks that `text` is well-formed XML as far as tags go (every open tag closed in order,
/// quotes balanced inside tags, one root) and returns the element names in document order.
fn well_formed(text: &str) -> Result<Vec<String>, String> {
    let mut stack: Vec<String> = Vec::new();
    let mut names = Vec::new();
    let mut roots = 0;
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let after = &rest[start + 1..];
        // The tag ends at the first `>` outside quotes.
        let mut quote = None;
        let mut end = None;
        for (i, c) in after.char_indices() {
            match (quote, c) {
                (None, '"' | '\'') => quote = Some(c),
                (Some(q), c) if c == q => quote = None,
                (None, '>') => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end.ok_or("an unterminated tag")?;
        let tag = &after[..end];
        rest = &after[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name.trim() {
                return Err(format!("<{open}> closed by </{name}>"));
            }
            continue;
        }
        let name: String = tag
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '/')
            .collect();
        if name.is_empty() {
            return Err(format!("a tag without a name: <{tag}>"));
        }
        if stack.is_empty() {
            roots += 1;
        }
        names.push(name.clone());
        if !tag.ends_with('/') {
            stack.push(name);
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed: {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(names)
}

#[test]
fn bad_input_exits_2_naming_the_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hpa = std::fs::read_to_string("tests/data/hpa/hpa.yaml")
        .expect("file")
        .replace("averageUtilization: 50", "averageUtilization: 0");
    let path = dir.path().join("hpa.yaml");
    std::fs::write(&path, hpa).expect("write");
    let out = twin()
        .args(["hpa", "replay", "--hpa"])
        .arg(&path)
        .args([
            "--deployment",
            "tests/data/hpa/deployment.yaml",
            "--metrics",
            "tests/data/hpa/metrics.csv",
        ])
        .output()
        .expect("run twin");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "hpa.yaml:21:9: spec.metrics[0].resource.target.averageUtilization: must be at least 1"
        ),
        "{err}"
    );

    // A Utilization target without --deployment has no requests to divide by.
    let out = twin()
        .args([
            "hpa",
            "replay",
            "--hpa",
            "tests/data/hpa/hpa.yaml",
            "--metrics",
            "tests/data/hpa/metrics.csv",
        ])
        .output()
        .expect("run twin");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--deployment"));

    let out = twin()
        .args(["hpa", "eval", "tests/data/hpa/hpa.yaml"])
        .output()
        .expect("run twin");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_scenario_hpa_file_runs_as_its_spec_written_inline() {
    // tests/cases/valid/hpa-file.yaml names ../k8s/hpa-gateway.yaml; the same scenario with
    // that manifest's spec pasted inline must simulate to the same summary (engine aside).
    let with_file = std::path::Path::new("tests/cases/valid/hpa-file.yaml");
    let text = std::fs::read_to_string(with_file).expect("case");
    let inline = text.replace(
        "    hpa: {file: ../k8s/hpa-gateway.yaml}",
        "    hpa:
      minReplicas: 2
      maxReplicas: 10
      metrics:
        - type: Resource
          resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}
        - type: Pods
          pods: {metric: {name: p95_latency_ms}, target: {type: AverageValue, averageValue: \"500\"}}
      behavior:
        scaleUp: {policies: [{type: Percent, value: 100, periodSeconds: 60}]}
        scaleDown: {stabilizationWindowSeconds: 300}",
    );
    assert_ne!(inline, text, "the case still names the manifest");
    let dir = tempfile::tempdir().expect("tempdir");
    let inline_path = dir.path().join("hpa-inline.yaml");
    std::fs::write(&inline_path, inline).expect("write");
    let summary = |scenario: &std::path::Path, out: &str| -> serde_json::Value {
        let out_dir = dir.path().join(out);
        let run = twin()
            .arg("simulate")
            .arg(scenario)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .expect("run twin");
        assert!(
            run.status.code().is_some_and(|c| c <= 1),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let text = std::fs::read_to_string(out_dir.join("summary.json")).expect("summary");
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
        v.as_object_mut().expect("object").remove("engine");
        v
    };
    let a = summary(with_file, "file");
    let b = summary(&inline_path, "inline");
    assert_eq!(a, b);
    // The manifest's HPA acted: 87.5 % CPU of a 70 % target -> 3 replicas (see the case).
    assert_eq!(
        a["services"]["gateway"]["replicas"]["max"].as_u64(),
        Some(3),
        "{a}"
    );
}
