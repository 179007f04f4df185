//! Runs the hand-computed cost cases of `cost_cases.json`: for each case, the written arithmetic
//! must evaluate to the expected value, and the cost model must produce that value from the
//! case's usage.

use billing::Billing;
use billing::PriceTable;
use indexmap::IndexMap;
use models::cost::{CostModel, Usage};
use serde::Deserialize;

#[derive(Deserialize)]
struct File {
    #[allow(dead_code)]
    about: String,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
    arithmetic: String,
    expected_total_usd: f64,
    #[serde(default)]
    monthly_arithmetic: Option<String>,
    #[serde(default)]
    expected_monthly_usd: Option<f64>,
    #[serde(default)]
    expected_by_item: IndexMap<String, f64>,
    #[serde(default)]
    model: CostModel,
    usage: Usage,
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn hand_computed_cost_cases() {
    let file: File =
        serde_json::from_str(include_str!("cost_cases.json")).expect("cost_cases.json");
    let table = PriceTable::builtin().expect("price table");
    assert!(file.cases.len() >= 20, "{} cases", file.cases.len());
    let mut failures = Vec::new();
    for case in &file.cases {
        let hand = eval(&case.arithmetic);
        if !close(hand, case.expected_total_usd) {
            failures.push(format!(
                "{}: arithmetic `{}` = {hand}, but expected_total_usd is {}",
                case.name, case.arithmetic, case.expected_total_usd
            ));
        }
        if let (Some(text), Some(expected)) = (&case.monthly_arithmetic, case.expected_monthly_usd)
        {
            let hand = eval(text);
            if !close(hand, expected) {
                failures.push(format!(
                    "{}: monthly `{text}` = {hand}, expected {expected}",
                    case.name
                ));
            }
        }
        let bill = match case.model.breakdown(table, &case.usage) {
            Ok(bill) => bill,
            Err(e) => {
                failures.push(format!("{}: {e}", case.name));
                continue;
            }
        };
        if !close(bill.total_usd, case.expected_total_usd) {
            failures.push(format!(
                "{}: model total {} != hand {}",
                case.name, bill.total_usd, case.expected_total_usd
            ));
        }
        let monthly = case
            .expected_monthly_usd
            .unwrap_or_else(|| case.expected_total_usd * 730.0 * 3600.0 / case.usage.span_s);
        if !close(bill.monthly_usd, monthly) {
            failures.push(format!(
                "{}: model monthly {} != {monthly}",
                case.name, bill.monthly_usd
            ));
        }
        // SPEC.md: infrastructure + usage = the month; usage is the traffic-driven lines.
        match case.model.cost(table, &case.usage) {
            Ok(c) => {
                let traffic: f64 = bill
                    .items
                    .iter()
                    .filter(|(k, _)| {
                        ["llm/", "firestore/", "cloud_run/", "egress/"]
                            .iter()
                            .any(|p| k.starts_with(p))
                    })
                    .map(|(_, v)| v.monthly_usd)
                    .sum::<f64>()
                    * case.model.projection.factor().unwrap_or(1.0);
                if !close(
                    c.infrastructure_monthly_usd + c.usage_monthly_usd,
                    c.monthly_usd,
                ) || !close(c.usage_monthly_usd, traffic)
                {
                    failures.push(format!(
                        "{}: infrastructure {} + usage {} vs month {} (traffic lines {traffic})",
                        case.name, c.infrastructure_monthly_usd, c.usage_monthly_usd, c.monthly_usd
                    ));
                }
            }
            Err(e) => failures.push(format!("{}: {e}", case.name)),
        }
        for (key, expected) in &case.expected_by_item {
            match bill.items.get(key) {
                Some(got) if close(got.total_usd, *expected) => {}
                got => failures.push(format!(
                    "{}: {key} = {got:?}, expected {expected}",
                    case.name
                )),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Evaluates `+ - * /` and parentheses over decimal numbers (the cases' hand arithmetic).
fn eval(text: &str) -> f64 {
    let tokens: Vec<char> = text.chars().filter(|c| !c.is_whitespace()).collect();
    let mut pos = 0;
    let value = sum(&tokens, &mut pos);
    assert_eq!(pos, tokens.len(), "trailing input in `{text}`");
    value
}

fn sum(t: &[char], pos: &mut usize) -> f64 {
    let mut v = product(t, pos);
    while let Some(&op) = t.get(*pos) {
        match op {
            '+' => {
                *pos += 1;
                v += product(t, pos);
            }
            '-' => {
                *pos += 1;
                v -= product(t, pos);
            }
            _ => break,
        }
    }
    v
}

fn product(t: &[char], pos: &mut usize) -> f64 {
    let mut v = atom(t, pos);
    while let Some(&op) = t.get(*pos) {
        match op {
            '*' => {
                *pos += 1;
                v *= atom(t, pos);
            }
            '/' => {
                *pos += 1;
                v /= atom(t, pos);
            }
            _ => break,
        }
    }
    v
}

fn atom(t: &[char], pos: &mut usize) -> f64 {
    if t.get(*pos) == Some(&'(') {
        *pos += 1;
        let v = sum(t, pos);
        assert_eq!(t.get(*pos), Some(&')'), "missing `)`");
        *pos += 1;
        return v;
    }
    let start = *pos;
    while t
        .get(*pos)
        .is_some_and(|c| c.is_ascii_digit() || *c == '.' || *c == '_')
    {
        *pos += 1;
    }
    let number: String = t[start..*pos].iter().filter(|c| **c != '_').collect();
    number
        .parse()
        .unwrap_or_else(|_| panic!("expected a number at {start}"))
}

#[test]
fn the_evaluator_follows_precedence() {
    assert_eq!(eval("1 + 2 * 3"), 7.0);
    assert_eq!(eval("(1 + 2) * 3"), 9.0);
    assert_eq!(eval("10 - 4 - 3"), 3.0);
    assert_eq!(eval("8 / 4 / 2"), 1.0);
    assert_eq!(eval("1_000 * 0.5"), 500.0);
}
