//! Bad scenario files, data-driven: every `tests/cases/invalid/*.yaml` opens with one or more
//! `# expect: LINE:COL: SUBSTRING` comment lines. `twin validate FILE` must exit 2 and print,
//! for each, an error line `FILE:LINE:COL: error: ...` containing SUBSTRING; `twin simulate FILE
//! --out DIR` must exit 2 and leave no DIR; neither may panic.
//!
//! A case whose error lies in a file it names (an `hpa: {file}` manifest) says so with
//! `# expect-in: FILE:LINE:COL: SUBSTRING`, FILE relative to the case: the error line must be
//! `FILE:LINE:COL: error: ...` with FILE as the scenario names it. Manifests live in
//! `tests/cases/k8s/` (and `scenarios/k8s/`), which are not scenarios and are not walked.
//!
//! `tests/cases/warning/*.yaml` carry the same header for warnings (an unstable queue): validate
//! exits 0 and prints `FILE:LINE:COL: warning: ...`. `tests/cases/valid/*.yaml` and the shipped
//! `scenarios/` must validate with exit 0 and no output on stderr.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn twin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_twin"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.yaml` files of a folder (recursively), sorted.
fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = entry.expect("folder entry").path();
            if p.is_dir() {
                // Kubernetes manifests that scenarios name are not scenarios.
                if p.file_name().is_some_and(|n| n != "k8s") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// One `# expect: LINE:COL: SUBSTRING` line (or `# expect-in: FILE:LINE:COL: SUBSTRING`).
#[derive(Debug)]
struct Expect {
    /// The file the error is in, as the error line names it.
    file: String,
    line: usize,
    col: usize,
    text: String,
}

fn expectations(file: &Path) -> Vec<Expect> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    text.lines()
        .map(|l| l.trim_start_matches('\u{feff}'))
        .filter_map(|l| {
            l.strip_prefix("# expect:")
                .map(|r| (None, r))
                .or_else(|| l.strip_prefix("# expect-in:").map(|r| (Some(()), r)))
        })
        .map(|(inner, rest)| {
            let parse = || -> Option<Expect> {
                let rest = rest.trim();
                let (shown, rest) = match inner {
                    None => (file.display().to_string(), rest),
                    Some(()) => {
                        let (name, rest) = rest.split_once(':')?;
                        let dir = file.parent()?;
                        (dir.join(name.trim()).display().to_string(), rest)
                    }
                };
                let mut parts = rest.splitn(3, ':');
                let line = parts.next()?.trim().parse().ok()?;
                let col = parts.next()?.trim().parse().ok()?;
                let text = parts.next()?.trim().to_string();
                (!text.is_empty()).then_some(Expect {
                    file: shown,
                    line,
                    col,
                    text,
                })
            };
            parse().unwrap_or_else(|| {
                panic!(
                    "{}: malformed `# expect:{rest}` (want `# expect: LINE:COL: TEXT` or `# expect-in: FILE:LINE:COL: TEXT`)",
                    file.display()
                )
            })
        })
        .collect()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Checks every expectation against `stderr`; returns the problems found.
fn check_located(file: &Path, level: &str, stderr: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let expects = expectations(file);
    if expects.is_empty() {
        problems.push(format!("{}: no `# expect:` line", file.display()));
    }
    for e in expects {
        let prefix = format!("{}:{}:{}: {level}: ", e.file, e.line, e.col);
        let found = stderr
            .lines()
            .any(|l| l.starts_with(&prefix) && l.contains(&e.text));
        if !found {
            problems.push(format!(
                "{}: expected a line `{prefix}...{}...`; stderr was:\n{stderr}",
                file.display(),
                e.text
            ));
        }
    }
    problems
}

fn report(problems: Vec<String>) {
    assert!(
        problems.is_empty(),
        "{} problem(s):\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

#[test]
fn invalid_cases_exit_2_with_file_line_col_and_message() {
    let files = yaml_files(&root().join("tests/cases/invalid"));
    assert!(
        files.len() >= 20,
        "only {} invalid cases found",
        files.len()
    );
    let mut problems = Vec::new();
    for file in &files {
        let out = twin()
            .arg("validate")
            .arg(file)
            .output()
            .expect("run twin validate");
        let (stdout, stderr) = text(&out);
        if out.status.code() != Some(2) {
            problems.push(format!(
                "{}: validate exited {:?}, expected 2\nstdout: {stdout}\nstderr: {stderr}",
                file.display(),
                out.status.code()
            ));
        }
        if stderr.contains("panicked") {
            problems.push(format!("{}: validate panicked:\n{stderr}", file.display()));
        }
        problems.extend(check_located(file, "error", &stderr));
    }
    report(problems);
}

#[test]
fn invalid_cases_make_simulate_exit_2_and_write_nothing() {
    let files = yaml_files(&root().join("tests/cases/invalid"));
    let tmp = tempfile::tempdir().expect("temporary folder");
    let mut problems = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let dir = tmp.path().join(format!("out-{i}"));
        let out = twin()
            .arg("simulate")
            .arg(file)
            .arg("--out")
            .arg(&dir)
            .output()
            .expect("run twin simulate");
        let (_, stderr) = text(&out);
        if out.status.code() != Some(2) {
            problems.push(format!(
                "{}: simulate exited {:?}, expected 2\nstderr: {stderr}",
                file.display(),
                out.status.code()
            ));
        }
        if stderr.contains("panicked") {
            problems.push(format!("{}: simulate panicked:\n{stderr}", file.display()));
        }
        if dir.exists() {
            problems.push(format!(
                "{}: simulate left {} behind",
                file.display(),
                dir.display()
            ));
        }
        // The error is the same one validate gives.
        problems.extend(check_located(file, "error", &stderr));
    }
    report(problems);
}

#[test]
fn warning_cases_validate_with_exit_0_and_print_the_warning() {
    let files = yaml_files(&root().join("tests/cases/warning"));
    assert!(!files.is_empty(), "no warning cases found");
    let mut problems = Vec::new();
    for file in &files {
        let out = twin()
            .arg("validate")
            .arg(file)
            .output()
            .expect("run twin validate");
        let (stdout, stderr) = text(&out);
        if out.status.code() != Some(0) || !stdout.contains(": ok") {
            problems.push(format!(
                "{}: validate exited {:?}, expected 0 and `ok`\nstdout: {stdout}\nstderr: {stderr}",
                file.display(),
                out.status.code()
            ));
        }
        if stderr.contains("error:") || stderr.contains("panicked") {
            problems.push(format!(
                "{}: unexpected error output:\n{stderr}",
                file.display()
            ));
        }
        problems.extend(check_located(file, "warning", &stderr));
    }
    report(problems);
}

#[test]
fn valid_cases_and_shipped_scenarios_validate() {
    let mut files = yaml_files(&root().join("tests/cases/valid"));
    assert!(files.len() >= 3, "only {} valid cases found", files.len());
    files.extend(yaml_files(&root().join("scenarios")));
    let mut problems = Vec::new();
    for file in &files {
        let out = twin()
            .arg("validate")
            .arg(file)
            .output()
            .expect("run twin validate");
        let (stdout, stderr) = text(&out);
        if out.status.code() != Some(0) || !stdout.contains(": ok") {
            problems.push(format!(
                "{}: validate exited {:?}, expected 0\nstdout: {stdout}\nstderr: {stderr}",
                file.display(),
                out.status.code()
            ));
        }
        // Files under tests/cases/valid are meant to be clean: no warnings either.
        if file.starts_with(root().join("tests/cases/valid")) && !stderr.trim().is_empty() {
            problems.push(format!(
                "{}: unexpected output on stderr:\n{stderr}",
                file.display()
            ));
        }
    }
    report(problems);
}

#[test]
fn several_files_are_all_reported() {
    // `twin validate A B` reports both files' errors, and exits 2 if any is bad.
    let dir = root().join("tests/cases");
    let good = dir.join("valid/mmc-random.yaml");
    let bad1 = dir.join("invalid/missing-service.yaml");
    let bad2 = dir.join("invalid/rate-unit-fortnight.yaml");
    let out = twin()
        .arg("validate")
        .args([&good, &bad1, &bad2])
        .output()
        .expect("run twin validate");
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(stdout.contains("mmc-random.yaml: ok"), "{stdout}");
    let mut problems = check_located(&bad1, "error", &stderr);
    problems.extend(check_located(&bad2, "error", &stderr));
    report(problems);
}
