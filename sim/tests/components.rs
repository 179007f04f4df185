//! Each platform component against a number computed independently: the cases in
//! tests/components/cases.json. Adding a case needs no code.

use models::queueing::MMc;
use serde_json::Value;
mod support;
use support::num;

#[test]
fn components_match_independent_computations() {
    let dir = support::data_dir("components");
    let mut failures = Vec::new();
    for case in &support::cases(&dir) {
        let file = case["scenario"].as_str().unwrap();
        let out = support::simulate(&dir, file);
        let summary = serde_json::to_value(&out.summary).unwrap();
        for check in case["checks"].as_array().unwrap() {
            let at = |p: &str| {
                summary
                    .pointer(p)
                    .unwrap_or_else(|| panic!("{file}: no {p} in summary"))
            };
            let (ok, line) = if let Some(j) = check["mean_in_ci"].as_str() {
                let mmc = |v: &Value| MMc {
                    lambda: num(&v["lambda"], "lambda"),
                    mu: num(&v["mu"], "mu"),
                    c: num(&v["c"], "c") as u32,
                };
                // A tandem (`stations`) sojourns in each in turn: the means add. A `mixture`
                // sends each request to one queue, with probability `weight`: the means mix.
                let sojourn: f64 = match (
                    check["stations"].as_array(),
                    check["mixture"].as_array(),
                    check.get("md1"),
                ) {
                    (Some(stations), _, _) => stations.iter().map(|s| mmc(s).mean_sojourn()).sum(),
                    (None, Some(mix), _) => mix
                        .iter()
                        .map(|s| num(&s["weight"], "weight") * mmc(s).mean_sojourn())
                        .sum(),
                    (None, None, Some(d)) => models::queueing::md1_mean_sojourn(
                        num(&d["lambda"], "lambda"),
                        num(&d["service_s"], "service_s"),
                    ),
                    (None, None, None) => mmc(check).mean_sojourn(),
                };
                let want = sojourn * 1e3 + check["offset_ms"].as_f64().unwrap_or(0.0);
                // `of: ttft`: the interval of the streams' time to first token.
                let ci_key = match check["of"].as_str() {
                    Some("ttft") => "ttft_ci95_ms",
                    _ => "ci95_ms",
                };
                let ci = &summary["journeys"][j][ci_key]["mean"];
                let (lo, hi) = (num(&ci[0], "ci"), num(&ci[1], "ci"));
                (
                    lo <= want && want <= hi,
                    format!("{file}: mean({j}) analytic {want:.3} ms in CI [{lo:.3}, {hi:.3}]"),
                )
            } else if let Some(level) = check["first_at_or_below"].as_f64() {
                // When a timeline series first comes down to `level` after `after_s`.
                let name = check["series"].as_str().unwrap();
                let after = num(&check["after_s"], "after_s");
                let series = out
                    .timeline
                    .series
                    .get(name)
                    .unwrap_or_else(|| panic!("{file}: no series {name}"));
                let when = series
                    .iter()
                    .find(|(t, v)| *t > after && *v <= level)
                    .map_or(f64::INFINITY, |(t, _)| *t);
                let (want, tol) = (num(&check["equals"], "equals"), num(&check["tol"], "tol"));
                (
                    (when - want).abs() <= tol,
                    format!("{file}: {name} <= {level} from {when} s vs {want} +- {tol}"),
                )
            } else if let Some(p) = check["in_ci"].as_str() {
                // A closed-form value inside the summary's 95 % CI (a `[lo, hi]` at `p`).
                let want = num(&check["value"], "value");
                let ci = at(p);
                let (lo, hi) = (num(&ci[0], "ci"), num(&ci[1], "ci"));
                (
                    lo <= want && want <= hi,
                    format!("{file}: {p}: {want} in [{lo:.4}, {hi:.4}]"),
                )
            } else if let Some(p) = check["binomial"].as_str() {
                let n = num(&at(p)["lookups"], "lookups");
                let obs = num(&at(p)["hit_ratio"], "hit_ratio");
                let want = num(&check["p"], "p");
                let se = (want * (1.0 - want) / n).sqrt();
                (
                    (obs - want).abs() <= 4.0 * se,
                    format!(
                        "{file}: {p} hit ratio {obs:.5} vs {want} (4 se = {:.5}, n = {n})",
                        4.0 * se
                    ),
                )
            } else {
                let p = check["path"].as_str().unwrap();
                let mut obs = num(at(p), p);
                // `per`: the ratio of the path's value to another's.
                if let Some(q) = check["per"].as_str() {
                    obs /= num(at(q), q);
                }
                if let Some(range) = check["between"].as_array() {
                    let (lo, hi) = (num(&range[0], "lo"), num(&range[1], "hi"));
                    (
                        lo <= obs && obs <= hi,
                        format!("{file}: {p} = {obs} in [{lo}, {hi}]"),
                    )
                } else if let Some(rate) = check["poisson_rate"].as_f64() {
                    let secs = num(&check["seconds"], "seconds");
                    let se = (rate / secs).sqrt();
                    (
                        (obs - rate).abs() <= 4.0 * se,
                        format!(
                            "{file}: {p} = {obs:.4} vs Poisson rate {rate} (4 se = {:.4})",
                            4.0 * se
                        ),
                    )
                } else {
                    let want = num(&check["equals"], "equals");
                    let tol = num(&check["tol"], "tol");
                    (
                        (obs - want).abs() <= tol,
                        format!("{file}: {p} = {obs} vs {want} +- {tol}"),
                    )
                }
            };
            println!("{} {line}", if ok { "ok  " } else { "FAIL" });
            if !ok {
                failures.push(line);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
