//! Reading a scenario from disk (or the built-in one), resolving the files it names relative
//! to it (CSV samples and traces, HorizontalPodAutoscaler manifests), and turning diagnostics
//! into an exit-2 failure. The only place the binary reads scenario files.

use crate::exit::Failure;
use models::hpa::spec::{FileProblem, SpecError};
use models::load::{extends_of, parse_layers, Diagnostic, Layer, Override, MAX_EXTENDS};
use models::scenario::{FileSlot, Finding, Severity};
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
    load_diagnostics(path, sets).map_err(|problem| match problem {
        Problem::Usage(message) => Failure::usage(message),
        Problem::Diagnostics(diags) => Failure::usage(render(&diags)),
    })
}

/// Why a scenario did not load: a usage problem (an unreadable file, a bad `--set`), or
/// diagnostics with their file, line and column (`twin validate --json` lists them).
pub enum Problem {
    Usage(String),
    Diagnostics(Vec<Diagnostic>),
}

/// [`load`], with the diagnostics kept as values.
pub fn load_diagnostics(path: Option<&Path>, sets: &[String]) -> Result<Loaded, Problem> {
    let overrides = sets
        .iter()
        .map(|s| Override::parse(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Problem::Usage)?;
    let (text, name, base) = match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Problem::Usage(format!("{}: cannot read: {e}", p.display())))?;
            let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
            (text, p.display().to_string(), base)
        }
        None => (
            BUILTIN.to_string(),
            BUILTIN_NAME.to_string(),
            PathBuf::from("scenarios"),
        ),
    };
    let chain = match path {
        Some(p) => read_extended(p, &text)?,
        None => Vec::new(),
    };
    let mut layers = vec![Layer {
        text: &text,
        file: &name,
    }];
    layers.extend(chain.iter().map(|(file, text)| Layer { text, file }));
    // Errors inside a named manifest are placed in that file, not in the scenario.
    let mut in_files = Vec::new();
    let result = parse_layers(&layers, &overrides, |s| {
        resolve_files(s, &base, &mut in_files)
    });
    match result {
        Ok((scenario, warnings)) => Ok(Loaded { scenario, warnings }),
        Err(mut diags) => {
            in_files.append(&mut diags);
            Err(Problem::Diagnostics(in_files))
        }
    }
}

/// The files `extends:` chains to below the scenario at `path` (whose text is `text`), each
/// named relative to the file that names it: (name, text), nearest first. A file that cannot
/// be read is an error at the `extends:` naming it. The chain stops after [`MAX_EXTENDS`]
/// files or at a file already in it; the parse then reports the `extends:` left unread.
fn read_extended(path: &Path, text: &str) -> Result<Vec<(String, String)>, Problem> {
    let mut chain: Vec<(String, String)> = Vec::new();
    let mut seen = vec![std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())];
    let mut from = (path.to_path_buf(), text.to_string());
    while let Some((name, line, col)) = extends_of(&from.1) {
        let next = from.0.parent().unwrap_or(Path::new("")).join(&name);
        let canonical = std::fs::canonicalize(&next).unwrap_or_else(|_| next.clone());
        if chain.len() >= MAX_EXTENDS || seen.contains(&canonical) {
            break;
        }
        let base = std::fs::read_to_string(&next).map_err(|e| {
            Problem::Diagnostics(vec![Diagnostic {
                file: from.0.display().to_string(),
                line,
                col,
                message: format!("extends: cannot read `{}`: {e}", next.display()),
                severity: Severity::Error,
            }])
        })?;
        seen.push(canonical);
        chain.push((next.display().to_string(), base.clone()));
        from = (next, base);
    }
    Ok(chain)
}

/// Reads the files a scenario names, then validates it. Problems inside a named HPA manifest
/// go to `in_files` with the manifest's own `file:line:col`.
fn resolve_files(s: &mut Scenario, base: &Path, in_files: &mut Vec<Diagnostic>) -> Vec<Finding> {
    let mut findings = Vec::new();
    for mut f in s.external_files_mut() {
        let full = base.join(&f.file);
        let problem = match (std::fs::read_to_string(&full), &mut f.slot) {
            (Err(e), _) => Some(format!("cannot read `{}`: {e}", full.display())),
            (Ok(text), FileSlot::Hpa(spec)) => match spec.fill_from_manifest(&text) {
                Ok(()) => None,
                Err(FileProblem::NotAlone(m)) => Some(m),
                Err(FileProblem::Manifest(errors)) => {
                    in_files.extend(errors.iter().map(|e| Diagnostic {
                        file: full.display().to_string(),
                        line: e.line.max(1),
                        col: e.col.max(1),
                        message: manifest_message(e),
                        severity: Severity::Error,
                    }));
                    Some(format!(
                        "the HorizontalPodAutoscaler manifest `{}` has {} error(s), listed above",
                        full.display(),
                        errors.len()
                    ))
                }
            },
            (Ok(text), slot) => slot.fill_from_csv(&text).err().map(|(line, e)| {
                in_files.push(Diagnostic {
                    file: full.display().to_string(),
                    line: line.max(1),
                    col: 1,
                    message: e,
                    severity: Severity::Error,
                });
                format!(
                    "the file `{}` has an error at line {line}, listed above",
                    full.display()
                )
            }),
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

/// A manifest error as `field: message` (its position goes in the diagnostic's own place).
fn manifest_message(e: &SpecError) -> String {
    let field = e.field();
    if field.is_empty() {
        e.message.clone()
    } else {
        format!("{field}: {}", e.message)
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
