//! What the data-driven simulator tests share: reading a case file and simulating a scenario
//! named relative to it.

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The folder of a test's data, under sim/tests/.
pub fn data_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

/// A number of a case file, or a panic naming what was expected.
#[allow(dead_code)] // not every test binary reads a cases file
pub fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what}: not a number: {v}"))
}

/// The `cases` array of `dir/cases.json`.
#[allow(dead_code)] // not every test binary reads a cases file
pub fn cases(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("cases.json")).expect("cases.json is readable");
    let v: Value = serde_json::from_str(&text).expect("cases.json is JSON");
    v["cases"]
        .as_array()
        .expect("cases.json has a `cases` array")
        .clone()
}

/// Parses `dir/file` with `--set` style overrides (`path=value`).
#[allow(dead_code)] // not every test binary overrides
pub fn scenario(dir: &Path, file: &str, overrides: &[&str]) -> models::Scenario {
    let overrides: Vec<models::Override> = overrides
        .iter()
        .map(|o| models::Override::parse(o).expect("override"))
        .collect();
    parse(dir, file, &overrides)
}

/// Parses `dir/file` and the files its `extends:` chain names (each relative to the file
/// naming it), as `twin` does, with the same validation.
fn parse(dir: &Path, file: &str, overrides: &[models::Override]) -> models::Scenario {
    let mut files = vec![(file.to_string(), read(&dir.join(file)))];
    let mut at = dir.join(file);
    while let Some((name, _, _)) = models::load::extends_of(&files[files.len() - 1].1) {
        assert!(
            files.len() <= models::load::MAX_EXTENDS,
            "{file}: extends chain too deep"
        );
        at = at.parent().unwrap_or(Path::new("")).join(&name);
        files.push((at.display().to_string(), read(&at)));
    }
    let layers: Vec<models::load::Layer<'_>> = files
        .iter()
        .map(|(file, text)| models::load::Layer { text, file })
        .collect();
    let (scenario, _) = models::load::parse_layers(&layers, overrides, |s| s.validate())
        .unwrap_or_else(|e| panic!("{file}: {e:?}"));
    scenario
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Parses `dir/file`, simulates it with default options and bills it, as `twin simulate` does.
#[allow(dead_code)] // not every test binary simulates from a file as is
pub fn simulate(dir: &Path, file: &str) -> sim::Output {
    let scenario = parse(dir, file, &[]);
    let mut out = sim::simulate(&scenario, &sim::Options::default());
    if let Some(usage) = &out.usage {
        billing::bill_run(&scenario, usage, &mut out.summary);
    }
    out
}
