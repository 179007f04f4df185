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
use std::sync::atomic::{AtomicBool, Ordering};
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
    pub users: usize,
    pub interrupted: bool,
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Installs the Ctrl-C / SIGTERM handler (once per process): the first signal stops the
/// schedule and trips goose's kill switch, so users finish their journey in flight and what
/// was measured is written; a second one exits at once.
pub fn install_interrupt_handler() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("interrupted again: exiting without writing");
            std::process::exit(130);
        }
        eprintln!("interrupted: finishing the journeys in flight and writing what was measured");
        goose::trigger_killswitch("interrupted (SIGINT/SIGTERM)");
    });
}

/// Whether an interrupt arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Checks that the target accepts TCP connections (before any traffic).
pub fn probe(target: &str) -> Result<(), LoadError> {
    let url = url::Url::parse(target).map_err(|e| {
        LoadError::Input(format!(
            "--target `{target}` is not a URL such as http://127.0.0.1:8080: {e}"
        ))
    })?;
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
}

/// Takes arrivals until the schedule is over, waiting for each one's start time.
async fn user_loop(user: &mut goose::prelude::GooseUser, shared: &Shared) {
    loop {
        if interrupted() || goose::is_killswitch_triggered() {
            shared.schedule.stop();
            return;
        }
        let Some(arrival) = shared.schedule.next() else {
            return;
        };
        let started = shared.schedule.started();
        let due = started + arrival.at;
        // Sleep in slices so a stop is noticed within a quarter of a second.
        loop {
            let now = Instant::now();
            if now >= due {
                break;
            }
            if interrupted() || goose::is_killswitch_triggered() {
                shared.schedule.stop();
                return;
            }
            let wake = due.min(now + Duration::from_millis(250));
            crate::clock::sleep_until(wake).await;
        }
        shared
            .recorder
            .started(arrival.at, Instant::now().saturating_duration_since(due));
        let Some(plan) = shared.plans.get(arrival.journey) else {
            continue;
        };
        if plan.steps.is_empty() {
            continue;
        }
        journey_runner::run_journey(user, plan, &arrival, started, &shared.ctx, &shared.recorder)
            .await;
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
    let users = cfg
        .users
        .unwrap_or_else(|| ((schedule.peak_rate() * 2.0).ceil() as usize).clamp(32, 4096));
    let journeys: Vec<String> = plans.iter().map(|p| p.name.clone()).collect();
    let steps: Vec<String> = plans
        .iter()
        .flat_map(|p| p.steps.iter().map(|s| s.name.clone()))
        .collect();
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let shared = Arc::new(Shared {
        schedule,
        recorder: Recorder::new(
            &journeys,
            &steps,
            cfg.window,
            std::time::Duration::from_nanos(cfg.warmup.0),
        ),
        plans,
        ctx: RunContext {
            run_id,
            shard: cfg.shard,
        },
    });

    let mut config = GooseConfiguration::default();
    config.host = Some(cfg.target.clone());
    config.users = Some(users);
    // Launch the whole pool within about a quarter of a second.
    config.increase_rate = Some(format!("{}", (users * 4).max(1)));
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
    install_interrupt_handler();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| LoadError::Run(format!("cannot start the async runtime: {e}")))?;
    let observer_specs = scenario.observers.clone();
    let target = cfg.target.clone();
    let (result, observed) = runtime.block_on(async move {
        let observers = crate::observer::Observers::start(&observer_specs, &target);
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
        (result, observers.finish().await)
    });
    drop(runtime);
    if let Err(e) = result {
        return Err(LoadError::Run(format!("{e:?}")));
    }
    let interrupted = interrupted();
    let mut measured = shared.recorder.snapshot();
    let origin = shared.schedule.started();
    for o in &observed {
        for (name, samples) in &o.series {
            let points = samples
                .iter()
                .map(|(at, v)| (signed_secs(*at, origin), *v))
                .collect();
            measured.timeline.series.insert(name.clone(), points);
        }
    }
    let mut summary = summarize(
        scenario,
        cfg,
        &measured,
        interrupted,
        wall.elapsed().as_secs_f64(),
    );
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
        users,
        interrupted,
    })
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
    )
}

/// The measurement as a run summary with the same fields as a simulation's.
pub fn summarize(
    scenario: &Scenario,
    cfg: &LoadConfig,
    m: &Measured,
    partial: bool,
    wall_s: f64,
) -> RunSummary {
    let extra: Vec<f64> = scenario
        .slos
        .iter()
        .filter_map(|s| match s.metric {
            SloMetric::Percentile(q) if !models::summary::LatencyStats::STANDARD.contains(&q) => {
                Some(q)
            }
            _ => None,
        })
        .collect();
    let measured_s = (cfg.duration.as_secs_f64() - cfg.warmup.as_secs_f64()).max(1e-9);
    let mut services = indexmap::IndexMap::new();
    for (name, svc) in &scenario.services {
        let calls: u64 = m
            .steps
            .iter()
            .filter(|(step, _)| step.rsplit(' ').next() == Some(name.as_str()))
            .map(|(_, s)| s.count)
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
        horizon_s: cfg.duration.as_secs_f64(),
        partial,
        journeys: m.journeys.iter().map(|(n, s)| (n.clone(), journey_summary(s, &extra))).collect(),
        services,
        slos: Vec::new(),
        cost: None,
        recovery: Recovery::default(),
        warnings: vec![
            "services: utilization and queue wait are not observable from the client; throughput counts calls per step".into(),
        ],
        engine: EngineStats {
            events: m.requests,
            wall_s,
        },
        components: Default::default(),
        fidelity: None,
    };
    if m.late_starts > 0 {
        summary.warnings.push(format!(
            "{} journeys started more than {} ms behind schedule (at most {:.0} ms): the user pool or the load machine could not keep up; their latency still counts from the scheduled start",
            m.late_starts,
            crate::measure::LATE.as_millis(),
            m.max_lateness.as_secs_f64() * 1000.0
        ));
    }
    if partial {
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
    summary
}
