//! `twin validate SCENARIO... [--json]`: checks scenario files without running them. With
//! `--json`, stdout is one JSON document: per file whether it is valid, and every diagnostic
//! with its file, line, column (1-based; 0 when it has no place, e.g. an unreadable file),
//! message and severity. Exit 2 when any file has an error, either way.

use crate::exit::{self, Failure};
use crate::scenario_file::{self, Problem};
use models::load::Diagnostic;
use models::scenario::Severity;
use serde_json::json;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario files to check.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Print the findings as JSON on stdout (file, line, column, message, severity).
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let mut failed = Vec::new();
    let mut files = Vec::new();
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    for path in &a.scenarios {
        match scenario_file::load_diagnostics(Some(path), &[]) {
            Ok(loaded) => {
                if !a.json {
                    for w in &loaded.warnings {
                        eprintln!("{w}");
                    }
                    println!("{}: ok ({})", path.display(), loaded.scenario.name);
                }
                files.push(json!({
                    "file": path.display().to_string(),
                    "valid": true,
                    "scenario": loaded.scenario.name,
                }));
                diagnostics.extend(loaded.warnings);
            }
            Err(problem) => {
                let diags = match problem {
                    Problem::Diagnostics(d) => d,
                    Problem::Usage(message) => vec![Diagnostic {
                        file: path.display().to_string(),
                        line: 0,
                        col: 0,
                        message,
                        severity: Severity::Error,
                    }],
                };
                failed.push(scenario_file::render(&diags));
                files.push(json!({"file": path.display().to_string(), "valid": false}));
                diagnostics.extend(diags);
            }
        }
    }
    if a.json {
        let list: Vec<serde_json::Value> = diagnostics
            .iter()
            .map(|d| {
                json!({
                    "file": d.file,
                    "line": d.line,
                    "column": d.col,
                    "message": d.message,
                    "severity": match d.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                    },
                })
            })
            .collect();
        let doc = json!({"valid": failed.is_empty(), "files": files, "diagnostics": list});
        let text = serde_json::to_string_pretty(&doc)
            .map_err(|e| Failure::run(format!("cannot render the findings as JSON: {e}")))?;
        println!("{text}");
        return Ok(if failed.is_empty() {
            exit::OK
        } else {
            exit::USAGE
        });
    }
    if failed.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Failure::usage(failed.join("\n")))
    }
}
