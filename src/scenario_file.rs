//! Reading a scenario from disk (or the built-in one), resolving the files it names relative
//! to it, and turning diagnostics into an exit-2 failure. The only place the binary reads
//! scenario files.

use crate::exit::Failure;
use models::load::{parse_with, Diagnostic, Override};
use models::scenario::{Finding, Severity};
use models::Scenario;
use std::path::{Path, PathBuf};

/// The scenario `twin simulate` runs when given none.
pub const BUILTIN_NAME: &str = "scenarios/production-gcp.yaml";
pub const BUILTIN: &str = include_str!("../scenarios/production-gcp.yaml");

/// A parsed scenario and where it came from.
pub struct Loaded {
    pub scenario: Scenario,
    pub warnings: Vec<Diagnostic>,
}

/// Loads `path` (or the built-in scenario), applying `--set` overrides.
pub fn load(path: Option<&Path>, sets: &[String]) -> Result<Loaded, Failure> {
    let overrides = sets
        .iter()
        .map(|s| Override::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::usage)?;
    let (text, name, base) = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::usage(format!("{}: cannot read: {e}", p.display())))?;
            let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
            (text, p.display().to_string(), base)
        }
        None => (
            BUILTIN.to_string(),
            BUILTIN_NAME.to_string(),
            PathBuf::from("scenarios"),
        ),
    };
    let result = parse_with(&text, &name, &overrides, |s| resolve_files(s, &base));
    match result {
        Ok((scenario, warnings)) => Ok(Loaded { scenario, warnings }),
        Err(diags) => Err(Failure::usage(render(&diags))),
    }
}

/// Reads the files a scenario names, then validates it.
fn resolve_files(s: &mut Scenario, base: &Path) -> Vec<Finding> {
    let mut findings = Vec::new();
    for mut f in s.external_files_mut() {
        let full = base.join(&f.file);
        let problem = match std::fs::read_to_string(&full) {
            Err(e) => Some(format!("cannot read `{}`: {e}", full.display())),
            Ok(text) => f
                .slot
                .fill_from_csv(&text)
                .err()
                .map(|(line, e)| format!("{}:{line}: {e}", full.display())),
        };
        if let Some(message) = problem {
            findings.push(Finding {
                path: f.path.clone(),
                message,
                severity: Severity::Error,
            });
        }
    }
    if findings.is_empty() {
        s.validate()
    } else {
        findings
    }
}

/// One diagnostic a line, errors first.
pub fn render(diags: &[Diagnostic]) -> String {
    let mut lines: Vec<String> = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    lines.extend(
        diags
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .map(ToString::to_string),
    );
    lines.join("\n")
}
