//! Running a drill's commands: each step is run without a shell (its `run` split into words)
//! unless it asks for one, in a process group of its own, with stdin closed and its output
//! captured into the drill log, and killed with its whole group when its timeout passes.
//! `${ENV}` in a command is replaced from the environment only in the argument handed to the
//! process; logs, plans and reports show it as written, and the values of every variable a
//! drill names are redacted from captured output.

use models::drill::{DrillStep, StepKind};
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Captured output kept per step (the rest is cut).
const MAX_OUTPUT: usize = 16 * 1024;

/// How a step ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    Ok,
    /// Exited with a non-zero status (`None`: killed by a signal).
    Failed(Option<i32>),
    TimedOut,
    /// Stopped (with its process group) because the drill was interrupted.
    Interrupted,
    /// Could not be started (no such program, an unset variable ...).
    NotStarted(String),
}

impl StepOutcome {
    pub fn ok(&self) -> bool {
        *self == StepOutcome::Ok
    }

    pub fn describe(&self) -> String {
        match self {
            StepOutcome::Ok => "ok".into(),
            StepOutcome::Failed(Some(c)) => format!("exit status {c}"),
            StepOutcome::Failed(None) => "killed by a signal".into(),
            StepOutcome::TimedOut => "timed out".into(),
            StepOutcome::Interrupted => "interrupted".into(),
            StepOutcome::NotStarted(e) => format!("not started: {e}"),
        }
    }
}

/// What one step did, times in seconds from the start of the load.
#[derive(Clone, Debug)]
pub struct StepRecord {
    pub label: String,
    pub kind: StepKind,
    /// The command as written (secrets as `${ENV}`).
    pub command: String,
    pub start_s: f64,
    pub end_s: f64,
    pub outcome: StepOutcome,
    /// Standard output and error, redacted.
    pub output: String,
    /// Standard output alone, redacted (what a reading hook printed).
    pub stdout: String,
}

/// Replaces the values of the variables a drill names with `${NAME}`.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Vec<(String, String)>,
}

impl Redactor {
    /// Collects `${NAME}` references from `texts` and the current values of those variables.
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Redactor {
        let mut secrets: Vec<(String, String)> = Vec::new();
        for t in texts {
            for name in env_refs(t) {
                if let Ok(v) = std::env::var(&name) {
                    if !v.is_empty() && !secrets.iter().any(|(s, _)| *s == v) {
                        secrets.push((v, format!("${{{name}}}")));
                    }
                }
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        Redactor { secrets }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (value, name) in &self.secrets {
            out = out.replace(value.as_str(), name);
        }
        out
    }
}

/// The variables `${NAME}` a text names.
pub fn env_refs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        match after.find('}') {
            Some(j) => {
                let name = &after[..j];
                if !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    && !out.iter().any(|n| n == name)
                {
                    out.push(name.to_string());
                }
                rest = &after[j + 1..];
            }
            None => break,
        }
    }
    out
}

/// `text` with every `${NAME}` replaced by its value; an unset variable is an error.
pub fn expand(text: &str) -> Result<String, String> {
    let mut out = text.to_string();
    for name in env_refs(text) {
        let v = std::env::var(&name)
            .map_err(|_| format!("the environment variable `{name}` is not set"))?;
        out = out.replace(&format!("${{{name}}}"), &v);
    }
    Ok(out)
}

fn build(step: &DrillStep) -> Result<Command, String> {
    if step.shell {
        let mut c = Command::new("sh");
        c.arg("-c").arg(expand(&step.run)?);
        return Ok(c);
    }
    let words = split_command(&step.run)?;
    let Some((program, args)) = words.split_first() else {
        return Err("the command is empty".into());
    };
    let mut c = Command::new(expand(program)?);
    for a in args {
        c.arg(expand(a)?);
    }
    Ok(c)
}

/// Reads a pipe to its end (keeping the first [`MAX_OUTPUT`] bytes) and sends them tagged
/// with `stdout` (true for standard output).
fn reader(mut r: impl Read + Send + 'static, stdout: bool, tx: mpsc::Sender<(bool, Vec<u8>)>) {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if buf.len() < MAX_OUTPUT {
                        buf.extend_from_slice(&chunk[..n]);
                    }
                }
            }
        }
        let _ = tx.send((stdout, buf));
    });
}

/// Kills a process group (the step and whatever it started in its group).
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs one step to its end or its timeout. `origin` is the start of the load.
pub fn run_step(step: &DrillStep, origin: Instant, redactor: &Redactor) -> StepRecord {
    run_step_until(step, origin, redactor, &|| false)
}

/// [`run_step`], stopping the step (its whole process group) as soon as `cancel` says so.
pub fn run_step_until(
    step: &DrillStep,
    origin: Instant,
    redactor: &Redactor,
    cancel: &dyn Fn() -> bool,
) -> StepRecord {
    let start = Instant::now();
    let since = |t: Instant| t.saturating_duration_since(origin).as_secs_f64();
    let record = |outcome, output: String, stdout: String, end: Instant| StepRecord {
        label: step.label(),
        kind: step.kind,
        command: step.run.clone(),
        start_s: since(start),
        end_s: since(end),
        outcome,
        output: redactor.redact(&output),
        stdout: redactor.redact(&stdout),
    };
    let mut cmd = match build(step) {
        Ok(c) => c,
        Err(e) => {
            return record(
                StepOutcome::NotStarted(e),
                String::new(),
                String::new(),
                Instant::now(),
            )
        }
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return record(
                StepOutcome::NotStarted(format!("cannot start: {e}")),
                String::new(),
                String::new(),
                Instant::now(),
            )
        }
    };
    let (tx, rx) = mpsc::channel();
    let mut readers = 0;
    if let Some(o) = child.stdout.take() {
        reader(o, true, tx.clone());
        readers += 1;
    }
    if let Some(e) = child.stderr.take() {
        reader(e, false, tx);
        readers += 1;
    }
    let deadline = start + Duration::from_nanos(step.timeout.0);
    let outcome = loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => break StepOutcome::Ok,
            Ok(Some(status)) => break StepOutcome::Failed(status.code()),
            Ok(None) => {}
            Err(e) => break StepOutcome::NotStarted(format!("cannot wait for it: {e}")),
        }
        if Instant::now() >= deadline {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            break StepOutcome::TimedOut;
        }
        if cancel() {
            kill_group(child.id());
            let _ = child.kill();
            let _ = child.wait();
            break StepOutcome::Interrupted;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let end = Instant::now();
    // Output of a process the step left running in the background (holding the pipe) is not
    // waited for beyond a moment.
    let (mut output, mut stdout) = (Vec::new(), Vec::new());
    for _ in 0..readers {
        if let Ok((is_stdout, chunk)) = rx.recv_timeout(Duration::from_millis(200)) {
            if is_stdout {
                stdout.clone_from(&chunk);
            }
            output.extend(chunk);
        }
    }
    output.truncate(MAX_OUTPUT);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    record(outcome, text(&output), text(&stdout), end)
}

/// Splits a command line into words: whitespace separates, `'…'` and `"…"` quote (no
/// escapes inside single quotes; `\` escapes the next character elsewhere).
pub fn split_command(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed ' in `{line}`")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(x) => cur.push(x),
                            None => return Err(format!("trailing \\ in `{line}`")),
                        },
                        Some(x) => cur.push(x),
                        None => return Err(format!("unclosed \" in `{line}`")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(x) => cur.push(x),
                    None => return Err(format!("trailing \\ in `{line}`")),
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(run: &str, shell: bool, timeout_ms: u64) -> DrillStep {
        DrillStep {
            at: models::Duration::ZERO,
            run: run.into(),
            kind: StepKind::Check,
            timeout: models::Duration::from_millis(timeout_ms),
            shell,
            name: None,
        }
    }

    #[test]
    fn runs_without_a_shell_and_captures_output() {
        let r = run_step(
            &step("echo 'a b' $HOME", false, 5000),
            Instant::now(),
            &Redactor::default(),
        );
        assert!(r.outcome.ok(), "{r:?}");
        // No shell: `$HOME` is passed as written.
        assert_eq!(r.output.trim(), "a b $HOME");
    }

    #[test]
    fn failures_and_timeouts() {
        let r = run_step(
            &step("false", false, 5000),
            Instant::now(),
            &Redactor::default(),
        );
        assert_eq!(r.outcome, StepOutcome::Failed(Some(1)));
        let t = Instant::now();
        let r = run_step(&step("sleep 5", false, 200), t, &Redactor::default());
        assert_eq!(r.outcome, StepOutcome::TimedOut);
        assert!(t.elapsed() < Duration::from_secs(3));
        let r = run_step(
            &step("/no/such/program", false, 200),
            t,
            &Redactor::default(),
        );
        assert!(matches!(r.outcome, StepOutcome::NotStarted(_)));
    }

    #[test]
    fn secrets_are_redacted() {
        std::env::set_var("TWIN_DRILL_TEST_SECRET", "hunter2-secret");
        let s = step("echo ${TWIN_DRILL_TEST_SECRET}", true, 5000);
        let red = Redactor::from_texts([s.run.as_str()]);
        let r = run_step(&s, Instant::now(), &red);
        assert!(r.outcome.ok());
        assert_eq!(r.output.trim(), "${TWIN_DRILL_TEST_SECRET}");
        assert_eq!(r.command, "echo ${TWIN_DRILL_TEST_SECRET}");
        assert_eq!(env_refs("a ${X} ${Y_1} ${X} $Z"), vec!["X", "Y_1"]);
    }

    #[test]
    fn splits_commands_without_a_shell() {
        assert_eq!(
            split_command(r#"pg_ctl -D '/a b' stop -m "imm ediate""#).expect("split"),
            vec!["pg_ctl", "-D", "/a b", "stop", "-m", "imm ediate"]
        );
        assert!(split_command("echo 'x").is_err());
        assert_eq!(split_command("  ").expect("split"), Vec::<String>::new());
    }
}
