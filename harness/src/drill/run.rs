//! One drill run against a URL: an open-model load (journeys started evenly at the drill's rate,
//! never waiting for earlier ones, latency counted from the scheduled start), the steps run on
//! their own thread at their times, the audit journey's writes logged with their keys and
//! acknowledgements, and afterwards the read-back. A failed step or Ctrl-C stops the load,
//! runs the rollback steps and returns what was measured, marked as stopped early.

use super::audit::{self, AuditRecord, Presence};
use super::recovery::Sample;
use super::steps::{expand, run_step, Redactor, StepRecord};
use crate::journey_runner::{self, JourneyPlan, StepPlan};
use models::drill::{AuditSpec, DrillSpec, DrillStep, RetryPolicy};
use models::http::{scalar_text, select};
use models::Scenario;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How to run (what is not in the scenario).
#[derive(Clone, Debug)]
pub struct DrillConfig {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub target: String,
    /// Prefix of the audit keys, unique per run.
    pub run_id: String,
    /// Counters for a progress bar (requests, failed journeys, run time).
    pub progress: Arc<crate::measure::Progress>,
}

/// What a drill measured.
#[derive(Debug, Default)]
pub struct DrillRun {
    /// Journey names, by the index used in `samples`.
    pub journeys: Vec<String>,
    pub samples: Vec<(usize, Sample)>,
    /// The audit journey's writes, in key order.
    pub audit: Vec<AuditRecord>,
    /// What the read-back found; `None` when there was none (no audit, stopped early, or
    /// acknowledgements only).
    pub found: Option<HashMap<String, Presence>>,
    /// How the writes were read back, or why they were not.
    pub readback: String,
    pub steps: Vec<StepRecord>,
    pub rollback: Vec<StepRecord>,
    /// The step whose failure stopped the drill.
    pub failed_step: Option<String>,
    pub interrupted: bool,
    /// End of the scheduled load (or when it was stopped), seconds.
    pub load_end_s: f64,
    pub requests: u64,
    pub wall_s: f64,
    /// The drill log: steps, their output, the load, the read-back.
    pub log: Vec<String>,
    /// A rollout drill's record (`twin drill --rollout`): weights, analyses, the decision.
    pub rollout: Option<models::rollout::RolloutRun>,
}

impl DrillRun {
    /// Stopped before its end (a failed step or Ctrl-C): what it holds is partial.
    pub fn stopped_early(&self) -> bool {
        self.interrupted || self.failed_step.is_some()
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

static SIGNALS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Installs the Ctrl-C / SIGTERM handler (once per process): the first signal stops the
/// drill: the running step is interrupted (its process group killed), the rollback runs and
/// what was measured is written. A second signal does not skip the rollback (a drill left
/// broken is worse than a slow exit); only a third exits at once.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        let n = SIGNALS.fetch_add(1, Ordering::SeqCst) + 1;
        if n >= 3 {
            eprintln!("interrupted a third time: exiting without finishing the rollback");
            std::process::exit(130);
        }
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("interrupted again: the rollback still runs (a third signal exits at once)");
            return;
        }
        eprintln!(
            "interrupted: stopping the load, running the rollback, writing what was measured"
        );
    });
}

pub(super) fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// A shared, timestamped log, echoed to stderr as it grows.
#[derive(Clone)]
pub(super) struct Log {
    lines: Arc<Mutex<Vec<String>>>,
    origin: Instant,
}

impl Log {
    pub(super) fn line(&self, text: &str) {
        let t = self.origin.elapsed().as_secs_f64();
        let line = format!("[{t:>8.3}s] {text}");
        eprintln!("{line}");
        self.lines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(line);
    }

    pub(super) fn step(&self, r: &StepRecord) {
        self.line(&format!(
            "{} `{}` ran {:.3}s → {:.3}s: {}",
            r.kind.as_str(),
            r.label,
            r.start_s,
            r.end_s,
            r.outcome.describe()
        ));
        for l in r.output.lines() {
            self.line(&format!("    | {l}"));
        }
    }

    /// Runs `s` (stopped if the drill is interrupted), its start and outcome logged.
    pub(super) fn run(&self, s: &DrillStep, origin: Instant, redactor: &Redactor) -> StepRecord {
        self.line(&format!(
            "{} `{}` starts{}",
            s.kind.as_str(),
            s.label(),
            if s.label() == s.run {
                String::new()
            } else {
                format!(": {}", s.run)
            }
        ));
        let r = super::steps::run_step_until(s, origin, redactor, &interrupted);
        self.step(&r);
        r
    }

    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

struct Load {
    plans: Vec<JourneyPlan>,
    client: reqwest::Client,
    base: String,
    retry: Option<RetryPolicy>,
    timeout: Duration,
    audit_journey: Option<usize>,
    run_id: String,
    origin: Instant,
    stop: Arc<AtomicBool>,
    requests: AtomicU64,
    progress: Arc<crate::measure::Progress>,
    samples: Mutex<Vec<(usize, Sample)>>,
    audit: Mutex<Vec<AuditRecord>>,
    /// A rollout drill's split of the calls by the version that answered.
    versions: Option<Arc<VersionTap>>,
}

enum CallError {
    /// No answer (connection refused or reset, timeout).
    Transport,
    /// An answer the step does not accept.
    Status(u16),
    /// The request could not be built or the answer not read as asked.
    Other,
}

impl Load {
    async fn call(
        &self,
        step: &StepPlan,
        vars: &HashMap<String, String>,
    ) -> Result<(u16, Vec<u8>), CallError> {
        let var = |name: &str| vars.get(name).cloned();
        let env = |name: &str| std::env::var(name).ok();
        let path = step
            .call
            .path
            .render(var, env)
            .map_err(|_| CallError::Other)?;
        let method = reqwest::Method::from_bytes(step.call.method.as_bytes())
            .map_err(|_| CallError::Other)?;
        let timeout = step
            .spec
            .timeout
            .map_or(self.timeout, |t| Duration::from_nanos(t.0));
        let mut rb = self
            .client
            .request(method, format!("{}{path}", self.base))
            .timeout(timeout);
        let mut has_content_type = false;
        for (name, value) in &step.call.headers {
            // Secrets are substituted here and handed to the request only.
            let value = value.render(var, env).map_err(|_| CallError::Other)?;
            has_content_type |= name.eq_ignore_ascii_case("content-type");
            rb = rb.header(name.as_str(), value);
        }
        if let Some(body) = &step.call.body {
            let body = body.render(var, env).map_err(|_| CallError::Other)?;
            let t = body.trim_start();
            if !has_content_type && (t.starts_with('{') || t.starts_with('[')) {
                rb = rb.header("content-type", "application/json");
            }
            rb = rb.body(body);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.progress.requests.fetch_add(1, Ordering::Relaxed);
        let sent = Instant::now();
        let response = rb.send().await.map_err(|_| CallError::Transport)?;
        let status = response.status().as_u16();
        let version = self
            .versions
            .as_ref()
            .map(|tap| (tap, tap.is_new(&response)));
        let body = response.bytes().await.map_err(|_| CallError::Transport)?;
        if let Some((tap, Some(new))) = version {
            tap.record(new, step.spec.accepts(status), sent.elapsed().as_secs_f64());
        }
        if !step.spec.accepts(status) {
            return Err(CallError::Status(status));
        }
        Ok((status, body.to_vec()))
    }

    /// One step with the client's retries (same key each time): connection errors,
    /// timeouts, 429 and 5xx are retried. Returns success, the last status, attempts made.
    async fn step(&self, step: &StepPlan, vars: &mut HashMap<String, String>) -> (bool, u16, u32) {
        let attempts = self.retry.as_ref().map_or(1, |r| r.attempts.max(1));
        let backoff = self
            .retry
            .as_ref()
            .map_or(Duration::ZERO, |r| Duration::from_nanos(r.backoff.0));
        let mut last = 0;
        for a in 1..=attempts {
            match self.call(step, vars).await {
                Ok((status, body)) => {
                    if !step.spec.capture.is_empty() {
                        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&body) else {
                            return (false, status, a);
                        };
                        for (name, field) in &step.spec.capture {
                            match select(&doc, field).and_then(scalar_text) {
                                Some(v) => {
                                    vars.insert(name.clone(), v);
                                }
                                None => return (false, status, a),
                            }
                        }
                    }
                    return (true, status, a);
                }
                Err(CallError::Other) => return (false, last, a),
                Err(CallError::Status(s)) => {
                    last = s;
                    if !(s == 429 || s >= 500) {
                        return (false, s, a);
                    }
                }
                Err(CallError::Transport) => last = 0,
            }
            if a < attempts {
                if self.stop.load(Ordering::SeqCst) {
                    return (false, last, a);
                }
                tokio::time::sleep(backoff).await;
            }
        }
        (false, last, attempts)
    }

    async fn journey(&self, j: usize, seq: u64, start_s: f64) {
        let plan = &self.plans[j];
        let key = audit::key(&self.run_id, seq);
        let mut vars = HashMap::new();
        vars.insert("seq".to_string(), seq.to_string());
        vars.insert("key".to_string(), key.clone());
        vars.insert("shard".to_string(), "0".to_string());
        vars.insert("journey".to_string(), plan.name.clone());
        let (mut ok, mut status, mut attempts) = (true, 0, 0);
        for step in &plan.steps {
            let (o, s, a) = self.step(step, &mut vars).await;
            status = s;
            attempts += a;
            if !o {
                ok = false;
                break;
            }
        }
        let end_s = self.origin.elapsed().as_secs_f64();
        if !ok {
            self.progress.errors.fetch_add(1, Ordering::Relaxed);
        }
        let sample = Sample { start_s, end_s, ok };
        lock(&self.samples).push((j, sample));
        if self.audit_journey == Some(j) {
            lock(&self.audit).push(AuditRecord {
                seq,
                key,
                start_s,
                end_s,
                acked: ok,
                attempts,
                status,
            });
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What drives a drill's timeline: its steps, or a rollout's controller.
enum Timeline {
    Steps(std::thread::JoinHandle<(Vec<StepRecord>, Option<String>)>),
    Rollout(super::rollout::Controller),
}

/// A rollout drill's view of the load: every answer that names its version in the rollout's
/// header, split into the new version's and the old's, for the live analysis. Answers with no
/// such header (connection errors, a proxy's own 502) belong to neither and are not judged.
pub(super) struct VersionTap {
    header: String,
    new_value: String,
    /// The calls since the last analysis took them.
    calls: Mutex<Vec<VersionedCall>>,
    new_requests: AtomicU64,
    new_errors: AtomicU64,
}

/// One answered call: which version answered, whether the step accepted the answer, and its
/// latency (from sending the request to the end of the body).
#[derive(Clone, Copy, Debug)]
pub struct VersionedCall {
    pub new: bool,
    pub ok: bool,
    pub latency_s: f64,
}

impl VersionTap {
    fn new(header: &str, new_value: &str) -> VersionTap {
        VersionTap {
            header: header.to_string(),
            new_value: new_value.to_string(),
            calls: Mutex::new(Vec::new()),
            new_requests: AtomicU64::new(0),
            new_errors: AtomicU64::new(0),
        }
    }

    /// Whether the new version answered (`None`: the answer does not say).
    fn is_new(&self, response: &reqwest::Response) -> Option<bool> {
        let v = response
            .headers()
            .get(self.header.as_str())?
            .to_str()
            .ok()?;
        Some(v.trim() == self.new_value)
    }

    fn record(&self, new: bool, ok: bool, latency_s: f64) {
        if new {
            self.new_requests.fetch_add(1, Ordering::Relaxed);
            if !ok {
                self.new_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
        lock(&self.calls).push(VersionedCall { new, ok, latency_s });
    }

    /// The calls answered since the last call of this (the interval's).
    pub(super) fn take(&self) -> Vec<VersionedCall> {
        std::mem::take(&mut *lock(&self.calls))
    }

    /// The new version's calls over the whole run, and those that failed.
    fn totals(&self) -> (u64, u64) {
        (
            self.new_requests.load(Ordering::Relaxed),
            self.new_errors.load(Ordering::Relaxed),
        )
    }
}

/// Runs `steps` on a thread of their own at their times; stops at the first failure (and
/// sets `stop`) or when `stop` is set by someone else.
fn spawn_steps(
    steps: Vec<DrillStep>,
    origin: Instant,
    stop: Arc<AtomicBool>,
    redactor: Redactor,
    log: Log,
) -> std::thread::JoinHandle<(Vec<StepRecord>, Option<String>)> {
    std::thread::spawn(move || {
        let mut done = Vec::new();
        for s in steps {
            let due = origin + Duration::from_nanos(s.at.0);
            loop {
                if stop.load(Ordering::SeqCst) || interrupted() {
                    return (done, None);
                }
                let now = Instant::now();
                if now >= due {
                    break;
                }
                std::thread::sleep((due - now).min(Duration::from_millis(20)));
            }
            let r = log.run(&s, origin, &redactor);
            if r.outcome == super::steps::StepOutcome::Interrupted {
                done.push(r);
                return (done, None);
            }
            let failed = !r.outcome.ok();
            let label = r.label.clone();
            done.push(r);
            if failed {
                stop.store(true, Ordering::SeqCst);
                return (done, Some(label));
            }
        }
        (done, None)
    })
}

/// Runs the drill. Blocks; makes its own tokio runtime.
pub fn run(
    scenario: &Scenario,
    drill: &DrillSpec,
    cfg: &DrillConfig,
    redactor: &Redactor,
) -> Result<DrillRun, String> {
    run_with(scenario, drill, cfg, redactor, None)
}

/// Runs `drill`, its timeline driven by its steps or, for a rollout drill, by the rollout's
/// controller ([`super::rollout`]), which runs the same hooks as `drill`'s steps at the times
/// the analyses decide.
pub(super) fn run_with(
    scenario: &Scenario,
    drill: &DrillSpec,
    cfg: &DrillConfig,
    redactor: &Redactor,
    rollout: Option<(
        &models::rollout::RolloutSpec,
        &models::rollout::RolloutDrill,
    )>,
) -> Result<DrillRun, String> {
    let plans = journey_runner::plan(scenario)?;
    let selected: Vec<usize> = if drill.load.journeys.is_empty() {
        (0..plans.len())
            .filter(|&i| !plans[i].steps.is_empty())
            .collect()
    } else {
        drill
            .load
            .journeys
            .iter()
            .filter_map(|n| plans.iter().position(|p| &p.name == n))
            .collect()
    };
    if selected.is_empty() || selected.iter().all(|&i| plans[i].steps.is_empty()) {
        return Err(format!(
            "drill `{}`: no journey of its load has an `http:` step, so there is nothing to call",
            drill.name
        ));
    }
    let audit_journey = drill
        .audit
        .as_ref()
        .and_then(|a| plans.iter().position(|p| p.name == a.journey));
    let rate = drill.load.rate.0;
    let duration_s = drill.load.duration.as_secs_f64();
    let arrivals = ((duration_s * rate).ceil() as u64).max(1);
    let timeout = Duration::from_nanos(drill.load.timeout.0);
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(2)))
        .pool_idle_timeout(Duration::from_secs(5))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    install_interrupt_handler();

    let wall = Instant::now();
    let origin = Instant::now();
    let log = Log {
        lines: Arc::new(Mutex::new(Vec::new())),
        origin,
    };
    let stop = Arc::new(AtomicBool::new(false));
    cfg.progress.started.get_or_init(|| origin);
    log.line(&format!(
        "load starts: {} journeys at {rate}/s for {}",
        arrivals, drill.load.duration
    ));
    let versions = rollout.map(|(spec, hooks)| {
        Arc::new(VersionTap::new(
            &hooks.version_header,
            hooks.new_version_value(spec),
        ))
    });
    let timeline = match (rollout, &versions) {
        (Some((spec, hooks)), Some(tap)) => {
            Timeline::Rollout(super::rollout::spawn(super::rollout::Start {
                spec: spec.clone(),
                hooks: hooks.clone(),
                tap: tap.clone(),
                origin,
                stop: stop.clone(),
                redactor: redactor.clone(),
                log: log.clone(),
                memory_request: scenario
                    .services
                    .get(&spec.service)
                    .and_then(|svc| svc.pod.as_ref())
                    .and_then(|pod| models::platform::parse_memory_bytes(&pod.memory).ok()),
            }))
        }
        _ => {
            let mut steps = drill.steps.clone();
            steps.sort_by_key(|s| s.at);
            Timeline::Steps(spawn_steps(
                steps,
                origin,
                stop.clone(),
                redactor.clone(),
                log.clone(),
            ))
        }
    };

    let load = Arc::new(Load {
        plans,
        client: client.clone(),
        base: cfg.target.trim_end_matches('/').to_string(),
        retry: drill.load.retry.clone(),
        timeout,
        audit_journey,
        run_id: cfg.run_id.clone(),
        origin,
        stop: stop.clone(),
        requests: AtomicU64::new(0),
        progress: cfg.progress.clone(),
        samples: Mutex::new(Vec::new()),
        audit: Mutex::new(Vec::new()),
        versions: versions.clone(),
    });
    let l = load.clone();
    let stop_l = stop.clone();
    let load_end_s = runtime.block_on(async move {
        let mut set = tokio::task::JoinSet::new();
        let mut end_s = arrivals as f64 / rate;
        'arrivals: for i in 0..arrivals {
            let at_s = i as f64 / rate;
            let due = origin + Duration::from_secs_f64(at_s);
            loop {
                if stop_l.load(Ordering::SeqCst) || interrupted() {
                    end_s = origin.elapsed().as_secs_f64();
                    stop_l.store(true, Ordering::SeqCst);
                    break 'arrivals;
                }
                let now = Instant::now();
                if now >= due {
                    break;
                }
                crate::clock::sleep_until(due.min(now + Duration::from_millis(50))).await;
            }
            let j = selected[(i as usize) % selected.len()];
            let l = l.clone();
            set.spawn(async move { l.journey(j, i, at_s).await });
            while set.try_join_next().is_some() {}
        }
        if stop_l.load(Ordering::SeqCst) {
            // Journeys in flight get one request timeout to finish, then are dropped.
            let _ =
                tokio::time::timeout(timeout, async { while set.join_next().await.is_some() {} })
                    .await;
            set.abort_all();
        } else {
            while set.join_next().await.is_some() {}
        }
        end_s
    });
    log.line("load ended");
    let panicked = || (Vec::new(), Some("(the step thread panicked)".to_string()));
    let (steps_done, failed_step, rollout_run) = match timeline {
        Timeline::Steps(t) => {
            let (done, failed) = t.join().unwrap_or_else(|_| panicked());
            (done, failed, None)
        }
        Timeline::Rollout(t) => match t.join() {
            Ok((done, failed, mut r)) => {
                if let (Some(&[_, w]), Some(tap)) = (r.weights.last(), &versions) {
                    r.weights.push([load_end_s, w]);
                    (r.requests_new, r.errors_new) = tap.totals();
                }
                (done, failed, Some(r))
            }
            Err(_) => {
                let (done, failed) = panicked();
                (done, failed, None)
            }
        },
    };
    let was_interrupted = interrupted();
    let mut out = DrillRun {
        journeys: load.plans.iter().map(|p| p.name.clone()).collect(),
        samples: std::mem::take(&mut *lock(&load.samples)),
        audit: std::mem::take(&mut *lock(&load.audit)),
        steps: steps_done,
        failed_step,
        interrupted: was_interrupted,
        load_end_s,
        requests: load.requests.load(Ordering::Relaxed),
        rollout: rollout_run,
        ..DrillRun::default()
    };
    if let Some(r) = &mut out.rollout {
        r.journeys = out.samples.len() as u64;
    }
    out.audit.sort_by(|a, b| a.key.cmp(&b.key));

    if out.stopped_early() {
        let why = match &out.failed_step {
            Some(s) => format!("step `{s}` failed"),
            None => "interrupted".to_string(),
        };
        // A rollout whose rollback hook already ran (and failed) is not rolled back twice.
        let rolled_back = out
            .rollout
            .as_ref()
            .is_some_and(|r| r.outcome == models::rollout::Outcome::RolledBack);
        log.line(&format!("{why}: running the rollback"));
        for s in drill.rollback.iter().filter(|_| !rolled_back) {
            let r = run_step(s, origin, redactor);
            log.step(&r);
            out.rollback.push(r);
        }
        out.readback = format!("not read back: {why}");
    } else if let Some(a) = &drill.audit {
        log.line(&format!("reading back {} audited writes", out.audit.len()));
        match runtime.block_on(read_back(a, &client, &cfg.target, &out.audit)) {
            Ok((found, how)) => {
                out.found = found;
                out.readback = how;
            }
            Err(e) => out.readback = format!("the read-back failed: {}", redactor.redact(&e)),
        }
        log.line(&out.readback);
    }
    out.wall_s = wall.elapsed().as_secs_f64();
    out.log = log.take();
    Ok(out)
}

/// Reads the audited keys back as the audit says.
async fn read_back(
    a: &AuditSpec,
    client: &reqwest::Client,
    target: &str,
    records: &[AuditRecord],
) -> Result<(Option<HashMap<String, Presence>>, String), String> {
    if let Some(read) = &a.read {
        let found = read_back_api(client, target, read, records, a.read_attempts).await;
        return Ok((Some(found), format!("read back through GET {read}")));
    }
    if let (Some(sql), Some(url)) = (&a.sql, &a.database_url) {
        let stored = read_back_sql(url, sql).await?;
        return Ok((
            Some(audit::presence_from_list(records, &stored)),
            "read back with the audit's SQL query".to_string(),
        ));
    }
    Ok((
        None,
        "acknowledgements only: the audit has no `read` or `sql`".into(),
    ))
}

async fn read_back_api(
    client: &reqwest::Client,
    target: &str,
    read: &str,
    records: &[AuditRecord],
    attempts: u32,
) -> HashMap<String, Presence> {
    let base = target.trim_end_matches('/').to_string();
    let gate = Arc::new(tokio::sync::Semaphore::new(16));
    let mut set = tokio::task::JoinSet::new();
    for r in records {
        let url = format!("{base}{}", read.replace("{key}", &r.key));
        let key = r.key.clone();
        let client = client.clone();
        let gate = gate.clone();
        set.spawn(async move {
            let _permit = gate.acquire().await;
            for _ in 0..attempts.max(1) {
                if let Ok(resp) = client.get(&url).send().await {
                    let s = resp.status().as_u16();
                    if (200..300).contains(&s) {
                        return (key, Presence::Stored(1));
                    }
                    if s == 404 {
                        return (key, Presence::Stored(0));
                    }
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            (key, Presence::Unknown)
        });
    }
    let mut found = HashMap::new();
    while let Some(r) = set.join_next().await {
        if let Ok((k, p)) = r {
            found.insert(k, p);
        }
    }
    found
}

/// Runs the audit's query (after the new primary accepts connections); its first column is
/// the stored keys. Errors never include the connection string.
async fn read_back_sql(url: &str, sql: &str) -> Result<Vec<String>, String> {
    let url = expand(url)?;
    let mut config: tokio_postgres::Config = url.parse().map_err(|_| {
        "the audit's database_url is not a PostgreSQL connection string".to_string()
    })?;
    config.connect_timeout(Duration::from_secs(2));
    let mut last = String::new();
    for _ in 0..40 {
        match config.connect(tokio_postgres::NoTls).await {
            Ok((client, conn)) => {
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                let rows = client
                    .query(sql, &[])
                    .await
                    .map_err(|e| format!("the audit query failed: {e}"))?;
                return rows
                    .iter()
                    .map(|r| {
                        r.try_get::<_, String>(0)
                            .map_err(|e| format!("the audit query's first column is not text: {e}"))
                    })
                    .collect();
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!("cannot connect to the audit database: {last}"))
}
