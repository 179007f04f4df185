//! A load run: the scenario's workload driven at a URL through goose, embedded as a library.
//! Goose provides the users and their HTTP clients; the open-model schedule ([`crate::schedule`])
//! decides when each journey starts and [`crate::measure`] what it measured. Each goose user
//! runs one long transaction that takes arrivals from the shared schedule until it is over, so
//! the run ends when the last journey has finished (goose's users-exited end), and Ctrl-C or
//! SIGTERM stops the schedule and goose's kill switch so that what was measured is kept.

use crate::journey_runner::{self, JourneyPlan, RunContext};
use crate::measure::{journey_summary, Measured, Recorder};
use crate::schedule::{Schedule, ScheduleSpec, Shard};
use goose::config::GooseConfiguration;
use goose::prelude::{GooseAttack, Scenario as GooseScenario, Transaction, TransactionFunction};
use models::slo::SloMetric;
use models::summary::{EngineStats, Recovery, ReplicaStats, RunKind, RunSummary, ServiceSummary};
use models::Scenario;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to run (everything that is not in the scenario).
#[derive(Clone, Debug)]
pub struct LoadConfig {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub target: String,
    /// How long arrivals are scheduled for.
    pub duration: models::Duration,
    pub rate_scale: f64,
    /// Compresses the profile's clock (`--time-scale`, see [`ScheduleSpec::time_scale`]).
    pub time_scale: f64,
    pub shard: Shard,
    /// Journeys scheduled before this are left out of the summary.
    pub warmup: models::Duration,
    /// Goose users (concurrent journeys at most); `None` sizes the pool from the peak rate.
    pub users: Option<usize>,
    /// Width of the timeline's windows.
    pub window: Duration,
    /// `--live FILE` (`-`: stdout): one JSON line per window as the run goes.
    pub live: Option<std::path::PathBuf>,
    /// Counters for a progress bar; a fresh set when `None`.
    pub progress: Option<Arc<crate::measure::Progress>>,
}

/// Why a load run could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Bad input found before any traffic (exit 2).
    #[error("{0}")]
    Input(String),
    /// The target could not be reached (exit 3).
    #[error("{0}")]
    Unreachable(String),
    /// Goose or the runtime failed (exit 3).
    #[error("the load run failed: {0}")]
    Run(String),
}

/// A finished or interrupted load run.
pub struct LoadRun {
    pub summary: RunSummary,
    /// Its timeline holds the observers' series too.
    pub measured: Measured,
    /// What each observer saw (scrapes, failures).
    pub observed: Vec<crate::observer::Observed>,
    /// Journeys in flight at most (the pool as it grew).
    pub users: usize,
    /// The most journeys in flight the pool allowed.
    pub user_limit: usize,
    /// Arrivals that found the pool full and started late because of it.
    pub waited: u64,
    /// Seconds of schedule actually run (less than the duration when interrupted).
    pub ran_s: f64,
    pub interrupted: bool,
    /// The aborting SLO that stopped the run early, when one did.
    pub aborted: Option<crate::live::Aborted>,
    /// CPU time the process used while the load ran (getrusage), when it could be read.
    pub cpu: Option<Duration>,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// When the first interrupt arrived (the end of the time actually run).
static INTERRUPTED_AT: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Installs the Ctrl-C / SIGTERM handler (once per process): the first signal stops the
/// schedule and trips goose's kill switch, so users finish their journey in flight and what
/// was measured is written; a second one exits at once.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("interrupted again: exiting without writing");
            std::process::exit(130);
        }
        let _ = INTERRUPTED_AT.set(Instant::now());
        eprintln!("interrupted: finishing the journeys in flight and writing what was measured");
        goose::trigger_killswitch("interrupted (SIGINT/SIGTERM)");
    });
}

/// Whether an interrupt arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The target as an `http` or `https` URL with a host (bad input otherwise, exit 2).
pub fn check_target(target: &str) -> Result<url::Url, LoadError> {
    let url = url::Url::parse(target).map_err(|e| {
        LoadError::Input(format!(
            "--target `{target}` is not a URL such as http://127.0.0.1:8080: {e}"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(LoadError::Input(format!(
            "--target must be an http:// or https:// URL, found a `{}:` URL",
            url.scheme()
        )));
    }
    if url.host_str().is_none() {
        return Err(LoadError::Input("--target has no host".into()));
    }
    Ok(url)
}

/// What can be wrong with the run's settings, found before any traffic (exit 2).
pub fn check_config(cfg: &LoadConfig) -> Result<(), LoadError> {
    if cfg.users == Some(0) {
        return Err(LoadError::Input(
            "--users must be at least 1 (journeys in flight at most)".into(),
        ));
    }
    check_target(&cfg.target).map(|_| ())
}

/// Checks that the target accepts TCP connections (before any traffic).
pub fn probe(target: &str) -> Result<(), LoadError> {
    let url = check_target(target)?;
    let host = url
        .host_str()
        .ok_or_else(|| LoadError::Input(format!("--target `{target}` has no host")))?;
    let port = url.port_or_known_default().unwrap_or(80);
    let addrs: Vec<std::net::SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(&(host, port))
        .map_err(|e| {
            LoadError::Unreachable(format!(
                "cannot reach the target {target}: cannot resolve `{host}`: {e}"
            ))
        })?
        .collect();
    let mut last = None;
    for a in &addrs {
        match std::net::TcpStream::connect_timeout(a, Duration::from_secs(5)) {
            Ok(_) => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(LoadError::Unreachable(format!(
        "cannot reach the target {target}: {} (is the deployment up, and is --target right?)",
        last.map_or("no address".to_string(), |e| e.to_string())
    )))
}

struct Shared {
    schedule: Schedule,
    recorder: Recorder,
    plans: Vec<JourneyPlan>,
    ctx: RunContext,
    /// One permit per journey in flight: the pool grows on demand up to `limit`.
    slots: Arc<tokio::sync::Semaphore>,
    in_flight: AtomicUsize,
    peak: AtomicUsize,
    /// Arrivals that found every slot taken and waited for one (the pool's, not the
    /// server's, failure: like k6's dropped iterations).
    waited: AtomicU64,
    live: crate::live::Live,
    /// The first window whose `--live` line is not written yet.
    next_window: AtomicUsize,
    aborted: std::sync::Mutex<Option<crate::live::Aborted>>,
    scenario: String,
}

/// Follows the run window by window (see [`crate::live`]): a window's line is written once
/// it has ended (plus a little for the journeys ending at its edge), and the aborting SLOs
/// are judged then; a miss stops the schedule and trips goose's kill switch, as an interrupt
/// does, so what was measured is written.
async fn follow_windows(shared: Arc<Shared>) {
    let origin = loop {
        if let Some(t) = shared.recorder.progress.started.get() {
            break *t;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let width = shared.recorder.window_width();
    loop {
        let i = shared.next_window.load(Ordering::SeqCst);
        let end = origin + width * (i as u32 + 1);
        crate::clock::sleep_until(end + Duration::from_millis(20)).await;
        let at_s = end.saturating_duration_since(origin).as_secs_f64();
        let found = shared
            .live
            .judge(&shared.scenario, shared.recorder.journeys_so_far(&[]), at_s);
        shared.live.line(
            i,
            width.as_secs_f64(),
            &shared.recorder.window(i),
            found.as_ref(),
        );
        shared.next_window.store(i + 1, Ordering::SeqCst);
        if let Some(a) = found {
            eprintln!(
                "aborted at {:.1} s: SLO `{}` missed (observed {}); finishing the journeys in flight",
                a.at_s,
                a.slo,
                a.observed.map_or("no data".into(), |v| format!("{v}"))
            );
            *shared.aborted.lock().unwrap_or_else(|e| e.into_inner()) = Some(a);
            shared.schedule.stop();
            goose::trigger_killswitch("an SLO with abort: true was missed");
            return;
        }
    }
}

/// Journeys in flight at most when `--users` does not say: the open model starts every
/// arrival on time however long the journeys take, so the pool is only a guard against
/// exhausting the load machine (sockets, memory); reaching it fails the run (exit 3).
pub const DEFAULT_USER_LIMIT: usize = 20_000;

/// Arrivals a second (this worker's peak) up to which one thread runs the whole load: below
/// it a second worker only adds wake-ups (a journey's task handed over, a sibling woken to
/// steal), which at 200/s cost more CPU than the requests themselves; above it one thread on
/// a loaded machine falls behind (`benches/load-frugal.sh`).
const ONE_THREAD_UP_TO: f64 = 4000.0;

/// Goose users that take arrivals from the schedule and start each journey as its own task
/// (the journeys themselves are not bound to a goose user).
const DISPATCHERS: usize = 2;

/// Takes arrivals until the schedule is over, waiting for each one's start time, and starts
/// each journey as its own task on a clone of the goose user (the same client and connection
/// pool); returns when the schedule is over and every journey it started has finished.
async fn user_loop(user: &mut goose::prelude::GooseUser, shared: &Arc<Shared>) {
    let mut sleeper = crate::clock::Sleeper::default();
    loop {
        if interrupted() || goose::is_killswitch_triggered() {
            shared.schedule.stop();
            break;
        }
        let Some(arrival) = shared.schedule.next() else {
            break;
        };
        let started = shared.schedule.started();
        shared.recorder.progress.started.get_or_init(|| started);
        let due = started + arrival.at;
        // Sleep in slices so a stop is noticed within a quarter of a second.
        let mut stopped = false;
        loop {
            let now = Instant::now();
            if now >= due {
                break;
            }
            if interrupted() || goose::is_killswitch_triggered() {
                stopped = true;
                break;
            }
            let wake = due.min(now + Duration::from_millis(250));
            sleeper.until(wake).await;
        }
        if stopped {
            shared.schedule.stop();
            break;
        }
        let Some(plan) = shared.plans.get(arrival.journey) else {
            continue;
        };
        if plan.steps.is_empty() {
            continue;
        }
        let permit = match shared.slots.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                shared.waited.fetch_add(1, Ordering::Relaxed);
                match shared.slots.clone().acquire_owned().await {
                    Ok(p) => p,
                    Err(_) => break,
                }
            }
        };
        shared
            .recorder
            .started(arrival.at, Instant::now().saturating_duration_since(due));
        let now = shared.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        shared.peak.fetch_max(now, Ordering::Relaxed);
        let mine = shared.clone();
        let mut u = user.clone();
        tokio::spawn(async move {
            if let Some(plan) = mine.plans.get(arrival.journey) {
                journey_runner::run_journey(
                    &mut u,
                    plan,
                    &arrival,
                    started,
                    &mine.ctx,
                    &mine.recorder,
                )
                .await;
            }
            mine.in_flight.fetch_sub(1, Ordering::Relaxed);
            drop(permit);
        });
    }
    // Wait for the journeys in flight (not through the semaphore: a waiter there would hold
    // up the other dispatchers' arrivals, since tokio's semaphore is fair).
    while shared.in_flight.load(Ordering::SeqCst) > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the load and summarizes it. Blocks; makes its own tokio runtime for goose.
pub fn run(scenario: &Scenario, cfg: &LoadConfig) -> Result<LoadRun, LoadError> {
    let plans = journey_runner::plan(scenario).map_err(LoadError::Input)?;
    if plans.iter().all(|p| p.steps.is_empty()) {
        return Err(LoadError::Input(
            "no journey has a step with an `http:` part, so there is nothing to call".into(),
        ));
    }
    if !(cfg.rate_scale.is_finite() && cfg.rate_scale > 0.0) {
        return Err(LoadError::Input(format!(
            "--rate-scale must be > 0, found {}",
            cfg.rate_scale
        )));
    }
    if !(cfg.time_scale.is_finite() && cfg.time_scale > 0.0) {
        return Err(LoadError::Input(format!(
            "--time-scale must be > 0, found {}",
            cfg.time_scale
        )));
    }
    check_config(cfg)?;
    for (name, (j, k, header)) in journey_runner::env_vars(scenario) {
        if std::env::var_os(&name).is_none() {
            return Err(LoadError::Input(format!(
                "the environment variable `{name}` is not set (named by workload.journeys[{j}].{k}.http.headers.{header})"
            )));
        }
    }
    probe(&cfg.target)?;

    let schedule = Schedule::new(ScheduleSpec {
        arrivals: scenario.workload.arrivals.clone(),
        rate_scale: cfg.rate_scale,
        time_scale: cfg.time_scale,
        shard: cfg.shard,
        duration: cfg.duration,
        seed: scenario.seed,
        weights: scenario
            .workload
            .journeys
            .iter()
            .map(|j| j.weight)
            .collect(),
    });
    let limit = cfg.users.unwrap_or(DEFAULT_USER_LIMIT);
    let journeys: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
    let steps: Vec<String> = plans
        .iter()
        .flat_map(|p| p.steps.iter().map(|s| s.name.clone()))
        .collect();
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let live =
        crate::live::Live::open(cfg.live.as_deref(), &scenario.slos).map_err(LoadError::Input)?;
    let mut recorder = Recorder::new(
        &journeys,
        &steps,
        cfg.window,
        std::time::Duration::from_nanos(cfg.warmup.0),
    );
    if let Some(p) = &cfg.progress {
        recorder.progress = p.clone();
    }
    let shared = Arc::new(Shared {
        schedule,
        recorder,
        plans,
        ctx: RunContext {
            run_id,
            shard: cfg.shard,
        },
        slots: Arc::new(tokio::sync::Semaphore::new(limit)),
        in_flight: AtomicUsize::new(0),
        peak: AtomicUsize::new(0),
        waited: AtomicU64::new(0),
        live,
        next_window: AtomicUsize::new(0),
        aborted: std::sync::Mutex::new(None),
        scenario: scenario.name.clone(),
    });

    let mut config = GooseConfiguration::default();
    config.host = Some(cfg.target.clone());
    config.users = Some(DISPATCHERS);
    config.increase_rate = Some("1000".into());
    config.iterations = Some(1);
    config.quiet = 1;
    config.no_print_metrics = true;
    config.no_error_summary = true;
    config.no_telnet = true;
    // Goose's own metrics are not used (its times are rounded and start when a request is
    // sent, not when it was due): skipping them halves the cost of a request.
    config.no_metrics = true;

    let f_shared = shared.clone();
    let transaction: TransactionFunction = Arc::new(move |user| {
        let shared = f_shared.clone();
        Box::pin(async move {
            user_loop(user, &shared).await;
            Ok(())
        })
    });
    let wall = Instant::now();
    let cpu_before = crate::clock::process_cpu();
    install_interrupt_handler();
    let runtime = if shared.schedule.peak_rate() <= ONE_THREAD_UP_TO {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
    .enable_all()
    .build()
    .map_err(|e| LoadError::Run(format!("cannot start the async runtime: {e}")))?;
    let observer_specs = scenario.observers.clone();
    let target = cfg.target.clone();
    let following = shared.live.active().then(|| shared.clone());
    let (result, observed) = runtime.block_on(async move {
        let observers = crate::observer::Observers::start(&observer_specs, &target);
        let follower = following.map(|s| tokio::spawn(follow_windows(s)));
        // One client, and one connection pool, shared by every user (no cookies: the
        // journeys are stateless API calls); no gzip, so bodies are read as they come.
        let client = goose::client::GooseClientBuilder::new()
            .without_cookies()
            .gzip(false);
        let result = async {
            GooseAttack::initialize_with_config(config)?
                .set_client_builder_without_cookies(client)?
                .register_scenario(
                    GooseScenario::new("open-model")
                        .register_transaction(Transaction::new(transaction).set_name("journeys")),
                )
                .execute()
                .await
        }
        .await;
        if let Some(f) = follower {
            f.abort();
        }
        (result, observers.finish().await)
    });
    drop(runtime);
    let cpu = crate::clock::process_cpu()
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    if let Err(e) = result {
        return Err(LoadError::Run(format!("{e:?}")));
    }
    let interrupted = interrupted();
    let aborted = shared
        .aborted
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut measured = shared.recorder.snapshot();
    // The windows not yet written to `--live` (the last ones, ended with the run).
    let last = measured.windows.values().map(Vec::len).max().unwrap_or(0);
    for i in shared.next_window.load(Ordering::SeqCst)..last {
        shared.live.line(
            i,
            cfg.window.as_secs_f64(),
            &shared.recorder.window(i),
            None,
        );
    }
    let origin = shared.schedule.started();
    let full = cfg.duration.as_secs_f64();
    let ran_s = match (INTERRUPTED_AT.get(), &aborted) {
        (Some(at), _) if interrupted => {
            at.saturating_duration_since(origin).as_secs_f64().min(full)
        }
        (_, Some(a)) => a.at_s.min(full),
        _ => full,
    };
    for o in &observed {
        for (name, samples) in &o.series {
            let points = samples
                .iter()
                .map(|(at, v)| (signed_secs(*at, origin), *v))
                .collect();
            measured.timeline.series.insert(name.clone(), points);
        }
    }
    let waited = shared.waited.load(Ordering::Relaxed);
    let mut summary = summarize(
        scenario,
        cfg,
        &measured,
        (interrupted || aborted.is_some()).then_some(ran_s),
        wall.elapsed().as_secs_f64(),
    );
    if let Some(a) = &aborted {
        // Missed when the run was stopped, whatever the journeys in flight then added.
        for v in summary.slos.iter_mut().filter(|v| v.name == a.slo) {
            v.met = false;
        }
        summary.warnings.push(format!(
            "aborted at {:.1} s: SLO `{}` (abort: true) was missed after its grace period; this is what was measured until then",
            a.at_s, a.slo
        ));
    }
    if waited > 0 {
        summary.warnings.push(pool_exhausted(waited, limit));
    }
    for o in &observed {
        if o.failures > 0 {
            summary.warnings.push(format!(
                "observer `{}`: {} of {} scrapes failed (last: {})",
                o.name,
                o.failures,
                o.scrapes,
                o.last_error.as_deref().unwrap_or("?")
            ));
        }
        for ((name, _), missing) in o.series.iter().zip(&o.missing) {
            if *missing > 0 {
                summary.warnings.push(format!(
                    "observer `{}`: no sample matched `{name}` in {missing} scrapes",
                    o.name
                ));
            }
        }
    }
    let all_connection = measured
        .journeys
        .values()
        .all(|s| s.count > 0 && s.by_kind.get("connection").copied().unwrap_or(0) == s.count);
    if all_connection && measured.requests > 0 {
        return Err(LoadError::Unreachable(format!(
            "every request to {} failed to connect: the target is unreachable",
            cfg.target
        )));
    }
    Ok(LoadRun {
        summary,
        measured,
        observed,
        users: shared.peak.load(Ordering::Relaxed),
        user_limit: limit,
        waited,
        ran_s,
        interrupted,
        aborted,
        cpu,
    })
}

/// The run's own failure when the pool of users ran out (exit 3, not the server's fault).
pub fn pool_exhausted(waited: u64, limit: usize) -> String {
    format!(
        "the load could not start {waited} journeys on time: all {limit} users were busy (raise --users); this is the load machine's failure, not the target's"
    )
}

/// Seconds from `origin` to `at`, negative when `at` is earlier.
fn signed_secs(at: Instant, origin: Instant) -> f64 {
    match at.checked_duration_since(origin) {
        Some(d) => d.as_secs_f64(),
        None => -origin.saturating_duration_since(at).as_secs_f64(),
    }
}

/// Whether a load run measures an SLO's metric (cost, RTO and RPO are not a load's to judge).
pub fn measurable(metric: &SloMetric) -> bool {
    matches!(
        metric,
        SloMetric::Percentile(_)
            | SloMetric::Mean
            | SloMetric::Max
            | SloMetric::ErrorRate
            | SloMetric::Availability
            | SloMetric::Ttft(_)
            | SloMetric::Itl(_)
    )
}

/// The measurement as a run summary with the same fields as a simulation's.
pub fn summarize(
    scenario: &Scenario,
    cfg: &LoadConfig,
    m: &Measured,
    interrupted_at_s: Option<f64>,
    wall_s: f64,
) -> RunSummary {
    let partial = interrupted_at_s.is_some();
    // The time actually run: an interrupted run reports rates over what it ran, not over the
    // duration it was asked for.
    let ran_s = interrupted_at_s.unwrap_or_else(|| cfg.duration.as_secs_f64());
    let extra: Vec<f64> = scenario
        .slos
        .iter()
        .filter_map(|s| match s.metric {
            SloMetric::Percentile(q) | SloMetric::Ttft(q) | SloMetric::Itl(q)
                if !models::summary::LatencyStats::STANDARD.contains(&q) =>
            {
                Some(q)
            }
            _ => None,
        })
        .collect();
    let measured_s = (ran_s - cfg.warmup.as_secs_f64()).max(1e-9);
    let mut services = indexmap::IndexMap::new();
    for (name, svc) in &scenario.services {
        let calls: u64 = m
            .steps
            .iter()
            .filter(|(step, _)| step.rsplit(' ').next() == Some(name.as_str()))
            .map(|(_, s)| s.count - s.errors)
            .sum();
        let n = svc.initial_replicas();
        services.insert(
            name.clone(),
            ServiceSummary {
                throughput_rps: calls as f64 / measured_s,
                replicas: ReplicaStats {
                    min: n,
                    max: n,
                    mean: f64::from(n),
                    steady_from_s: None,
                },
                ..ServiceSummary::default()
            },
        );
    }
    let mut summary = RunSummary {
        kind: RunKind::Load,
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        replications: 1,
        horizon_s: ran_s,
        partial,
        journeys: m.journeys.iter().map(|(n, s)| (n.clone(), journey_summary(s, &extra))).collect(),
        services,
        slos: Vec::new(),
        cost: None,
        recovery: Recovery::default(),
        warnings: vec![
            "services: utilization and queue wait are not observable from the client; throughput counts the calls per step answered as expected, per second run".into(),
        ],
        engine: EngineStats {
            events: m.requests,
            wall_s,
        },
        components: Default::default(),
        fidelity: None,
        rollouts: Vec::new(),
        tags: m
            .tags
            .iter()
            .map(|(n, s)| (n.clone(), journey_summary(s, &extra)))
            .collect(),
    };
    if m.late_starts > 0 {
        summary.warnings.push(format!(
            "{} journeys started more than {} ms behind schedule (at most {:.0} ms): the user pool or the load machine could not keep up; their latency still counts from the scheduled start",
            m.late_starts,
            crate::measure::LATE.as_millis(),
            m.max_lateness.as_secs_f64() * 1000.0
        ));
    }
    for (step, s) in &m.steps {
        for (check, n) in &s.by_check {
            summary.warnings.push(format!(
                "step `{step}`: {n} of {} responses failed the check `{check}` (counted as errors)",
                s.count
            ));
        }
    }
    // A run stopped by an aborting SLO is partial too: the caller says which SLO.
    if partial && interrupted() {
        summary
            .warnings
            .push("interrupted: this is what was measured until then".into());
    }
    for slo in &scenario.slos {
        if measurable(&slo.metric) {
            summary.slos.push(slo.verdict(&summary));
        } else {
            summary
                .warnings
                .push(format!("SLO `{}` is not measured by a load run", slo.text));
        }
    }
    require_evidence(&mut summary, &scenario.slos);
    summary
}

/// Verdicts never "met" for want of evidence. `Slo::verdict` already misses a latency
/// objective over a journey with no success (observed null); this says so in a warning, and
/// gives each journey that never succeeded (`RunSummary::wholly_failed_journeys`, which
/// `all_slos_met` already counts against the run) a verdict of its own,
/// `successes(JOURNEY) > 0`, so JUnit shows it.
pub fn require_evidence(summary: &mut RunSummary, slos: &[models::Slo]) {
    for slo in slos {
        let latency = slo.is_latency();
        let no_data = summary
            .slos
            .iter()
            .any(|v| v.name == slo.text && v.observed.is_none());
        if latency && no_data {
            summary.warnings.push(format!(
                "SLO `{}`: no data (no journey succeeded, so there is no latency to judge): missed",
                slo.text
            ));
        }
    }
    let failed: Vec<(String, u64)> = summary
        .wholly_failed_journeys()
        .map(|n| (n.to_string(), summary.journeys[n].count))
        .collect();
    for (name, count) in failed {
        summary.slos.push(models::summary::SloVerdict {
            name: format!("successes({name}) > 0"),
            observed: Some(0.0),
            bound: 0.0,
            met: false,
        });
        summary.warnings.push(format!(
            "journey `{name}`: all {count} failed; the run fails whatever its SLOs say"
        ));
    }
}
