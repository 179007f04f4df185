//! `twin import MANIFESTS... [--out FILE]`: a scenario skeleton from Kubernetes manifests
//! (`kubectl get -o yaml`, a Helm render). This module reads the files and splits them into
//! YAML documents; the mapping itself is pure, in [`skeleton`].

mod skeleton;

use crate::exit::{self, Failure};
use skeleton::{Document, Problem};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Kubernetes YAML files: multi-document (`---`), `kind: List`, Helm renders.
    #[arg(required = true)]
    pub manifests: Vec<PathBuf>,
    /// Write the scenario here (nothing half-written is left); default: standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The scenario's `name:`; default: the --out file's stem, else `imported`.
    #[arg(long)]
    pub name: Option<String>,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let mut docs = Vec::new();
    let mut problems = Vec::new();
    for path in &a.manifests {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("{}: error: cannot read: {e}", path.display())))?;
        match split(&path.display().to_string(), &text) {
            Ok(mut d) => docs.append(&mut d),
            Err(p) => problems.push(p),
        }
    }
    if !problems.is_empty() {
        return Err(located(problems));
    }
    let name = a
        .name
        .clone()
        .or_else(|| {
            a.out
                .as_deref()
                .and_then(Path::file_stem)
                .map(|s| s.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "imported".to_string());
    let imported = skeleton::import(&name, &docs).map_err(located)?;
    for s in &imported.skipped {
        eprintln!("skipped: {s}");
    }
    match &a.out {
        None => print!("{}", imported.text),
        Some(out) => {
            // Write beside, then rename: nothing half-written is left behind.
            let mut tmp = out.clone().into_os_string();
            tmp.push(".tmp");
            let tmp = PathBuf::from(tmp);
            std::fs::write(&tmp, &imported.text)
                .and_then(|_| std::fs::rename(&tmp, out))
                .map_err(|e| {
                    let _ = std::fs::remove_file(&tmp);
                    Failure::usage(format!("{}: error: cannot write: {e}", out.display()))
                })?;
            eprintln!(
                "{}: {} service(s) imported; replace every `# TODO`, then `twin validate {}`",
                out.display(),
                imported.services,
                out.display()
            );
        }
    }
    Ok(exit::OK)
}

fn located(problems: Vec<Problem>) -> Failure {
    Failure::usage(
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// Splits a file into its YAML documents (at `---` lines; `...` ends one) and parses each,
/// a syntax error located at the file's own line and column.
fn split(file: &str, text: &str) -> Result<Vec<Document>, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    // Each chunk: the 1-based line it starts on and its lines; a marker line stays as blanks
    // (`--- {kind: X}` keeps its content) so that lines and columns stay the file's own.
    let mut chunks: Vec<(usize, Vec<String>)> = vec![(1, Vec::new())];
    for (i, line) in text.lines().enumerate() {
        let marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        if marker("---") || marker("...") {
            chunks.push((i + 1, vec![format!("   {}", &line[3..])]));
        } else if let Some((_, lines)) = chunks.last_mut() {
            lines.push(line.to_string());
        }
    }
    let mut docs = Vec::new();
    for (first_line, lines) in chunks {
        let chunk = lines.join("\n");
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&chunk).map_err(|e| {
            let (line, col) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
            let msg = e.to_string();
            let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
            Problem {
                file: file.to_string(),
                line: first_line + line.saturating_sub(1),
                col,
                message: format!("invalid YAML: {msg}"),
            }
        })?;
        docs.push(Document {
            file: file.to_string(),
            first_line,
            text: chunk,
            value,
        });
    }
    Ok(docs)
}
