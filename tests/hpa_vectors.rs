//! Every vector of the shared HPA test file (`tests/data/hpa-vectors.json`, copied from
//! `kubernetes/hpa-vectors.json`; conventions in its `meta`) run through `k8s::hpa` and
//! compared with its `expected` answer. No vector is skipped: the count is checked against
//! the file's own `meta.counts`.

use k8s::hpa::vectors::{evaluate, project};
use serde_json::{json, Value};

fn expected_of(v: &Value) -> Value {
    if let Some(e) = v.get("expected").filter(|e| e.is_object()) {
        return e.clone();
    }
    if let Some(c) = v.get("expected_class") {
        return json!({ "class": c });
    }
    // A timeline answers on every step.
    let steps = v["steps"]
        .as_array()
        .expect("a vector without `expected` is a timeline with `steps`");
    json!({ "replicas_after": steps.iter().map(|s| s["replicas_after"].clone()).collect::<Vec<_>>() })
}

#[test]
fn every_upstream_vector_passes() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/hpa-vectors.json"
    ))
    .expect("tests/data/hpa-vectors.json");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    let counts = doc["meta"]["counts"].as_object().expect("meta.counts");
    let mut failures = Vec::new();
    let mut run = 0;
    for (section, n) in counts {
        let vectors = doc[section]
            .as_array()
            .unwrap_or_else(|| panic!("section {section} missing"));
        assert_eq!(
            vectors.len() as u64,
            n.as_u64().unwrap_or(0),
            "section {section}: meta.counts disagrees"
        );
        for v in vectors {
            let name = v["name"].as_str().unwrap_or("?");
            let want = expected_of(v);
            let got = match evaluate(section, v) {
                Ok(r) => project(&r, want.as_object().expect("expected is an object")),
                Err(e) => json!({ "error": e }),
            };
            run += 1;
            if got != want {
                failures.push(format!("{section} / {name}: got {got}, expected {want}"));
            }
        }
    }
    let total: u64 = counts.values().filter_map(Value::as_u64).sum();
    assert_eq!(run as u64, total);
    assert_eq!(total, 105, "the shared file holds 105 vectors");
    assert!(
        failures.is_empty(),
        "{} of {run} vectors fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn results_do_not_depend_on_expected() {
    // Strip every answer: each vector must evaluate the same way.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/hpa-vectors.json"
    ))
    .expect("tests/data/hpa-vectors.json");
    let doc: Value = serde_json::from_str(&text).expect("valid JSON");
    for (section, vectors) in doc.as_object().expect("object") {
        let Some(vectors) = vectors.as_array() else {
            continue;
        };
        for v in vectors {
            let mut bare = v.clone();
            if let Some(o) = bare.as_object_mut() {
                o.remove("expected");
                o.remove("expected_class");
            }
            if let Some(steps) = bare.get_mut("steps").and_then(Value::as_array_mut) {
                for s in steps {
                    if let Some(o) = s.as_object_mut() {
                        o.remove("replicas_after");
                    }
                }
            }
            assert_eq!(
                evaluate(section, &bare),
                evaluate(section, v),
                "{section} / {}",
                v["name"]
            );
        }
    }
}
