//! Which demand each measurement fits, and the checks before fitting: a load run's step
//! samples pooled by service (or by step, where the step declares its own demand), the
//! client's and network's share taken out where the server's own time is observed, the CPU
//! split by the utilisation law (CPU seconds / requests) where CPU is observed, the declared
//! shape kept (a service that declares `cpu:` gets its `cpu:` fitted); traces give each
//! service's own time. A sample too small to fit, or taken where queueing was a visible part
//! of it, is refused with what to measure instead.

use crate::fit::{fit, Fit, Law, Sample};
use crate::graph::{self, Graph};
use crate::trace::Span;
use indexmap::IndexMap;
use models::path::PathSegment;
use models::scenario::{Service, Step};
use models::Scenario;

/// The fewest samples a demand is fitted from: at 200 the KS critical value is 0.096, and the
/// p95 rests on 10 points beyond it.
pub const MIN_SAMPLES: u64 = 200;

/// The most queueing a run may hide in its latencies: an M/M/c queue's mean wait at the
/// measured load, as a share of the mean demand (Erlang C). Above it the run is overloaded
/// for calibration and the demand would be overestimated by about that share.
pub const MAX_QUEUEING_SHARE: f64 = 0.05;

/// One step's latency in one load run.
#[derive(Clone, Debug)]
pub struct StepRun {
    pub journey: String,
    /// `k` for a top-level step, `k.b.m` for step m of branch b of the parallel step k.
    pub index: String,
    pub service: String,
    pub latency: Sample,
}

/// A `twin load` folder's measurements.
#[derive(Clone, Debug, Default)]
pub struct Run {
    pub name: String,
    pub duration_s: f64,
    /// The rate the run offered, journeys per second.
    pub offered_rps: f64,
    pub steps: Vec<StepRun>,
    /// Observers' series (`cpu_seconds/<service>`, `requests/<service>`,
    /// `server_seconds/<service>`: counters).
    pub series: IndexMap<String, Vec<(f64, f64)>>,
}

/// A fitted demand: what it is and where it goes.
#[derive(Clone, Debug)]
pub enum Value {
    Law(Law),
    /// Neither family fits: the measured sample, resampled.
    Empirical(Sample),
    /// None of it: a declared `service_time:` when everything measured is taken as CPU.
    Zero,
    /// A step's synchronous calls, from the traces: (callee, probability) each, in the order
    /// the traces first show them.
    Calls(Vec<(String, f64)>),
}

#[derive(Clone, Debug)]
pub struct Fitted {
    /// The mapping the key is set in (a service, or a step that declares its own demand).
    pub mapping: Vec<PathSegment>,
    /// A key the mapping is known to hold, to place a new key beside.
    pub sibling: String,
    /// `cpu`, `service_time` or `calls`.
    pub key: &'static str,
    pub value: Value,
    /// Who it is for: `service api` or `step read/0 api`.
    pub who: String,
    /// The comment written beside it: source, sample size, fit quality.
    pub comment: String,
}

/// Everything a calibration found.
#[derive(Debug, Default)]
pub struct Calibration {
    pub fitted: Vec<Fitted>,
    /// What was measured but not written, and why.
    pub notes: Vec<String>,
    pub graph: Option<Graph>,
    /// Journey weights from the traces' root operations: (journey index, share, roots seen).
    pub mix: Vec<(usize, f64, u64)>,
}

/// Why nothing was written.
#[derive(Debug, PartialEq)]
pub enum Refusal {
    TooSmall {
        who: String,
        run: String,
        n: u64,
    },
    Overloaded {
        who: String,
        run: String,
        utilisation: f64,
        queueing_share: f64,
        measure_at_rps: f64,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::TooSmall { who, run, n } => write!(
                f,
                "{run}: {who} has {n} samples; a fit needs at least {MIN_SAMPLES}: run longer (--duration) or at a higher rate"
            ),
            Refusal::Overloaded { who, run, utilisation, queueing_share, measure_at_rps } => write!(
                f,
                "{run}: {who} ran at {:.0} % utilisation; queueing would be about {:.0} % of the measured time and taken for demand: measure at {measure_at_rps:.3}/s or below (--rate-scale)",
                utilisation * 100.0,
                queueing_share * 100.0
            ),
        }
    }
}

/// The mean wait in an M/M/c queue at offered load `a` (Erlangs), as a share of the demand.
pub fn queueing_share(c: u32, a: f64) -> f64 {
    let c = c.max(1);
    if a >= f64::from(c) {
        return f64::INFINITY;
    }
    models::queueing::erlang_c(c, a) / (f64::from(c) - a)
}

/// The largest share of load `a` at which the queueing share stays within the bound.
fn safe_fraction(c: u32, a: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, 1.0);
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if queueing_share(c, a * mid) <= MAX_QUEUEING_SHARE {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A counter's increase over a series, and the time it spans (first to last sample).
fn counter_delta(series: &[(f64, f64)]) -> Option<(f64, f64)> {
    let (t0, v0) = *series.first()?;
    let (t1, v1) = *series.last()?;
    (t1 > t0 && v1 >= v0).then_some((v1 - v0, t1 - t0))
}

struct StepSite<'a> {
    path: Vec<PathSegment>,
    step: &'a Step,
}

/// Every step with a service, by (journey name, index as the load names it).
fn step_sites(s: &Scenario) -> IndexMap<(String, String), StepSite<'_>> {
    let mut out = IndexMap::new();
    for (j, journey) in s.workload.journeys.iter().enumerate() {
        let base = vec![
            PathSegment::Key("workload".into()),
            PathSegment::Key("journeys".into()),
            PathSegment::Index(j),
            PathSegment::Key("steps".into()),
        ];
        for (k, step) in journey.steps.iter().enumerate() {
            let mut p = base.clone();
            p.push(PathSegment::Index(k));
            for (b, branch) in step.parallel.iter().flatten().enumerate() {
                for (m, inner) in branch.iter().enumerate() {
                    let mut q = p.clone();
                    q.extend([
                        PathSegment::Key("parallel".into()),
                        PathSegment::Index(b),
                        PathSegment::Index(m),
                    ]);
                    out.insert(
                        (journey.name.clone(), format!("{k}.{b}.{m}")),
                        StepSite {
                            path: q,
                            step: inner,
                        },
                    );
                }
            }
            out.insert(
                (journey.name.clone(), k.to_string()),
                StepSite { path: p, step },
            );
        }
    }
    out
}

fn service_path(name: &str) -> Vec<PathSegment> {
    vec![
        PathSegment::Key("services".into()),
        PathSegment::Key(name.into()),
    ]
}

/// Where a demand sample goes: a step that declares its own demand, else its service.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Group {
    Service(String),
    Step(String, Vec<PathSegment>),
}

struct Pooled {
    sample: Sample,
    source: Vec<String>,
    service: String,
    has_calls: bool,
}

/// Calibrates `scenario`'s demands from load runs and traces (`(file, spans)`).
pub fn calibrate(
    scenario: &Scenario,
    runs: &[Run],
    traces: &[(String, Vec<Span>)],
) -> Result<Calibration, Refusal> {
    let sites = step_sites(scenario);
    let mut cal = Calibration::default();
    let mut groups: IndexMap<Group, Pooled> = IndexMap::new();
    let graph = (!traces.is_empty()).then(|| {
        let all: Vec<Span> = traces.iter().flat_map(|(_, s)| s.iter().cloned()).collect();
        graph::build_for(&all, |s| scenario.services.contains_key(s))
    });
    // Services the traces time well enough: their spans measure each request's time in the
    // server, where a load run sees the client's (the mean server-side time at best), so the
    // traces give their demand and the load runs only their CPU.
    let traced = |svc: &str| graph.as_ref().is_some_and(|g| g.visits(svc) >= MIN_SAMPLES);
    for run in runs {
        // Per service in this run: throughput and the pooled sample, for the overload check.
        let mut per_service: IndexMap<&str, (u64, Sample)> = IndexMap::new();
        for st in &run.steps {
            let Some(site) = sites.get(&(st.journey.clone(), st.index.clone())) else {
                cal.notes.push(format!(
                    "{}: step {}/{} {} is not in the scenario; skipped",
                    run.name, st.journey, st.index, st.service
                ));
                continue;
            };
            let e = per_service.entry(st.service.as_str()).or_default();
            e.0 += st.latency.len();
            e.1.merge(&st.latency);
            let group = if site.step.cpu.is_some() || site.step.service_time.is_some() {
                Group::Step(
                    format!("{}/{} {}", st.journey, st.index, st.service),
                    site.path.clone(),
                )
            } else {
                Group::Service(st.service.clone())
            };
            let g = groups.entry(group).or_insert_with(|| Pooled {
                sample: Sample::default(),
                source: Vec::new(),
                service: st.service.clone(),
                has_calls: false,
            });
            g.has_calls |= site.step.calls.as_ref().is_some_and(|c| !c.is_empty());
            g.sample.merge(&st.latency);
            g.source
                .push(format!("{} {}/{}", run.name, st.journey, st.index));
        }
        for (svc, (count, sample)) in &per_service {
            let Some(service) = scenario.services.get(*svc) else {
                continue;
            };
            check_load(run, svc, service, *count, sample)?;
        }
    }
    let trace_files = traces
        .iter()
        .map(|t| t.0.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    for (group, pooled) in &groups {
        let who = match group {
            Group::Service(s) => format!("service {s}"),
            Group::Step(s, _) => format!("step {s}"),
        };
        let in_traces = graph
            .as_ref()
            .is_some_and(|g| g.visits(&pooled.service) > 0);
        if pooled.has_calls && matches!(group, Group::Service(_)) && in_traces {
            // The traces separate its own time from its callees'; fitted below.
            continue;
        }
        if matches!(group, Group::Service(_)) && traced(&pooled.service) {
            cal.notes.push(format!(
                "{who}: fitted from the traces' server-side times, not the load's client-side latency ({} requests)",
                pooled.sample.len()
            ));
            continue;
        }
        if pooled.has_calls {
            cal.notes.push(format!(
                "{who}: its latency includes its synchronous calls' time; not fitted from the load (give --traces to separate them)"
            ));
            continue;
        }
        if pooled.sample.len() < MIN_SAMPLES {
            return Err(Refusal::TooSmall {
                who,
                run: pooled.source.join(", "),
                n: pooled.sample.len(),
            });
        }
        let Some(service) = scenario.services.get(&pooled.service) else {
            continue;
        };
        let (mapping, sibling) = match group {
            Group::Service(s) => (service_path(s), first_key(service)),
            Group::Step(_, p) => (p.clone(), "service".to_string()),
        };
        let split = observed_split(runs, &pooled.service, Some(&pooled.sample), &mut cal.notes);
        let sample = pooled.sample.shifted(split.overhead_s, 1e-6);
        let source = format!("load {}", pooled.source.join(" + "));
        emit(
            &mut cal,
            service,
            &mapping,
            &sibling,
            &who,
            &sample,
            split.cpu_s,
            &source,
        );
    }
    if let Some(g) = &graph {
        for (name, service) in &scenario.services {
            let Some(own) = g.own_time.get(name) else {
                continue;
            };
            let measured_by_load = groups.iter().any(|(k, p)| {
                p.service == *name
                    && !(p.has_calls && matches!(k, Group::Service(_)))
                    && !(matches!(k, Group::Service(_)) && traced(name))
            });
            if measured_by_load {
                continue;
            }
            let sample = Sample::from_values(own);
            let who = format!("service {name}");
            if sample.len() < MIN_SAMPLES {
                return Err(Refusal::TooSmall {
                    who,
                    run: trace_files.clone(),
                    n: sample.len(),
                });
            }
            // The CPU, where a load run scraped it; the spans are already server-side.
            let cpu = if runs.is_empty() {
                None
            } else {
                observed_split(runs, name, None, &mut cal.notes).cpu_s
            };
            emit(
                &mut cal,
                service,
                &service_path(name),
                &first_key(service),
                &who,
                &sample,
                cpu,
                &format!("traces {trace_files} (own time)"),
            );
        }
        cal.mix = journey_mix(scenario, g);
        traced_calls(&mut cal, scenario, g);
    }
    cal.graph = graph;
    Ok(cal)
}

/// The synchronous calls the traces show between modelled services, written into each step
/// of the caller that declares none: as many calls as the traces' mean visits per visit of
/// the caller (branch probability x visits per calling visit), the fraction as a call with a
/// `probability:`, so the scenario's mean visits match the traces'. A step that declares
/// `calls:` keeps them. The graph is per service: every step of the caller gets the same.
fn traced_calls(cal: &mut Calibration, scenario: &Scenario, g: &Graph) {
    for site in step_sites(scenario).values() {
        let (Some(caller), None) = (&site.step.service, &site.step.calls) else {
            continue;
        };
        let mut calls = Vec::new();
        let mut said = Vec::new();
        for ((from, to), e) in &g.edges {
            if from != caller || to == caller || !e.synchronous() {
                continue;
            }
            if !scenario.services.contains_key(to) {
                continue;
            }
            let p = g.branch_probability(from, to).unwrap_or(0.0);
            let per = g.visits_per_call(from, to).unwrap_or(0.0);
            let mean = p * per;
            let whole = mean.floor() as usize;
            calls.extend(std::iter::repeat_n((to.clone(), 1.0), whole));
            let rest = mean - whole as f64;
            if rest >= 0.005 {
                calls.push((to.clone(), (rest * 100.0).round() / 100.0));
            }
            said.push(format!(
                "{to}: in {:.1} % of {} visits, {per:.2} calls each ({} calls)",
                p * 100.0,
                g.visits(from),
                e.sync_calls
            ));
        }
        if calls.is_empty() {
            continue;
        }
        cal.fitted.push(Fitted {
            mapping: site.path.clone(),
            sibling: "service".into(),
            key: "calls",
            value: Value::Calls(calls),
            who: format!("a step of {caller}"),
            comment: format!(
                "calibrated from the traces' synchronous calls: {}",
                said.join("; ")
            ),
        });
    }
}

/// The first key a service mapping certainly holds, to add a key beside.
fn first_key(s: &Service) -> String {
    // `concurrency` and `replicas` have defaults and may be absent; a demand key is present
    // in every service the simulator runs (validation requires one).
    if s.service_time.is_some() {
        "service_time".into()
    } else if s.cpu.is_some() {
        "cpu".into()
    } else {
        "concurrency".into()
    }
}

fn check_load(
    run: &Run,
    svc: &str,
    service: &Service,
    count: u64,
    sample: &Sample,
) -> Result<(), Refusal> {
    if run.duration_s <= 0.0 || sample.is_empty() {
        return Ok(());
    }
    let replicas = service.replicas.initial().max(1);
    let x = count as f64 / run.duration_s / f64::from(replicas);
    let mut worst = (service.concurrency.max(1), x * sample.mean());
    // CPU: the cores are servers too; their load is the CPU seconds per second.
    if let (Some(cores), Some((cpu, span))) = (
        service.cores,
        run.series
            .get(&format!("cpu_seconds/{svc}"))
            .and_then(|s| counter_delta(s)),
    ) {
        let c = (cores.floor() as u32).max(1);
        let a = cpu / span / f64::from(replicas);
        if queueing_share(c, a) > queueing_share(worst.0, worst.1) {
            worst = (c, a);
        }
    }
    let share = queueing_share(worst.0, worst.1);
    if share > MAX_QUEUEING_SHARE {
        return Err(Refusal::Overloaded {
            who: format!("service {svc}"),
            run: run.name.clone(),
            utilisation: worst.1 / f64::from(worst.0),
            queueing_share: share,
            measure_at_rps: run.offered_rps * safe_fraction(worst.0, worst.1) * 0.9,
        });
    }
    Ok(())
}

struct Split {
    overhead_s: f64,
    cpu_s: Option<(f64, u64)>,
}

/// What the observers say of a service: the client's and network's share (client mean minus
/// server-side mean, from `server_seconds/` and `requests/` counters) of the client-side
/// `sample` (None: the sample is server-side already) and the CPU demand by the utilisation
/// law (`cpu_seconds/` over `requests/`, or over the load's own count).
fn observed_split(
    runs: &[Run],
    svc: &str,
    sample: Option<&Sample>,
    notes: &mut Vec<String>,
) -> Split {
    let (mut server_s, mut server_n, mut cpu_s, mut cpu_n) = (0.0, 0.0, 0.0, 0.0);
    // Each run's (requests a second, CPU seconds a second), for the fit across rates.
    let mut rates: Vec<(f64, f64)> = Vec::new();
    for run in runs {
        let requests = run
            .series
            .get(&format!("requests/{svc}"))
            .and_then(|s| counter_delta(s));
        if let (Some((t, _)), Some((n, _))) = (
            run.series
                .get(&format!("server_seconds/{svc}"))
                .and_then(|s| counter_delta(s)),
            requests,
        ) {
            server_s += t;
            server_n += n;
        }
        if let Some((cpu, span)) = run
            .series
            .get(&format!("cpu_seconds/{svc}"))
            .and_then(|s| counter_delta(s))
        {
            let n = requests.map(|r| r.0).unwrap_or_else(|| {
                let count: u64 = run
                    .steps
                    .iter()
                    .filter(|s| s.service == svc)
                    .map(|s| s.latency.len())
                    .sum();
                count as f64 * span / run.duration_s.max(span)
            });
            cpu_s += cpu;
            cpu_n += n;
            rates.push((n / span, cpu / span));
        }
    }
    let mut overhead_s = 0.0;
    if let (Some(sample), true) = (sample, server_n > 0.0) {
        let server_mean = server_s / server_n;
        overhead_s = (sample.mean() - server_mean).max(0.0);
        notes.push(format!(
            "service {svc}: client and network add {:.3} ms a request (client mean {:.3} ms, server {:.3} ms); subtracted",
            overhead_s * 1e3,
            sample.mean() * 1e3,
            server_mean * 1e3
        ));
    } else if sample.is_some() {
        notes.push(format!(
            "service {svc}: no server-side time observed (server_seconds/{svc}); the fit includes the client and the network"
        ));
    }
    let cpu = match idle_and_demand(&rates) {
        Some((idle, demand)) => {
            notes.push(format!(
                "service {svc}: CPU fitted across {} runs' rates: {:.3} ms a request above an idle {:.1} ms of CPU a second (the ratio alone would say {:.3} ms)",
                rates.len(),
                demand * 1e3,
                idle * 1e3,
                cpu_s / cpu_n * 1e3
            ));
            Some((demand, cpu_n as u64))
        }
        None => (cpu_n > 0.0).then(|| (cpu_s / cpu_n, cpu_n as u64)),
    };
    Split {
        overhead_s,
        cpu_s: cpu,
    }
}

/// The CPU a service burns with no requests (gunicorn's heartbeats, a database's background
/// writers) and the CPU a request adds, from runs at different rates: the least-squares line
/// of CPU seconds a second over requests a second (the utilisation law with an intercept).
/// The ratio of one run's CPU to its requests charges the idle CPU to the requests, which at
/// a calibration's low rate is most of the error. None with fewer than two runs, rates too
/// close to separate (the highest under 1.5x the lowest), or a line that does not rise or
/// that crosses below zero at no load (then the ratio stands).
pub fn idle_and_demand(rates: &[(f64, f64)]) -> Option<(f64, f64)> {
    let lo = rates.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
    let hi = rates.iter().map(|r| r.0).fold(0.0, f64::max);
    if rates.len() < 2 || lo <= 0.0 || hi < 1.5 * lo {
        return None;
    }
    let n = rates.len() as f64;
    let mx = rates.iter().map(|r| r.0).sum::<f64>() / n;
    let my = rates.iter().map(|r| r.1).sum::<f64>() / n;
    let sxy: f64 = rates.iter().map(|r| (r.0 - mx) * (r.1 - my)).sum();
    let sxx: f64 = rates.iter().map(|r| (r.0 - mx).powi(2)).sum();
    let demand = sxy / sxx;
    let idle = my - demand * mx;
    (demand > 0.0 && idle >= 0.0).then_some((idle, demand))
}

fn describe(f: &Fit) -> String {
    let kept = match f.law {
        Some(l) => format!(
            "{}, mean {:.3} ms ± {:.3}, cv {:.3} ± {:.3}",
            l.family.key(),
            l.mean * 1e3,
            l.mean_se * 1e3,
            l.cv,
            l.cv_se
        ),
        None => "empirical (neither family fits)".to_string(),
    };
    format!(
        "{kept}; n={}, KS lognormal {:.3}, gamma {:.3}",
        f.n, f.ks[0].1, f.ks[1].1
    )
}

/// The fitted values for one demand sample, in the service's declared shape.
#[allow(clippy::too_many_arguments)]
fn emit(
    cal: &mut Calibration,
    service: &Service,
    mapping: &[PathSegment],
    sibling: &str,
    who: &str,
    sample: &Sample,
    cpu: Option<(f64, u64)>,
    source: &str,
) {
    let f = fit(sample);
    let mean = sample.mean();
    let mut push = |key: &'static str, value: Value, comment: String| {
        cal.fitted.push(Fitted {
            mapping: mapping.to_vec(),
            sibling: sibling.to_string(),
            key,
            value,
            who: who.to_string(),
            comment,
        })
    };
    let whole = |share: f64| match f.law {
        Some(l) => Value::Law(l.with_mean(l.mean * share)),
        None => Value::Empirical(sample.scaled(share)),
    };
    let declares_cpu = service.cpu.is_some();
    match (declares_cpu, cpu) {
        (true, Some((d, n))) => {
            // The utilisation law gives the CPU's mean; the sample's shape is shared in
            // proportion, so CPU + off-CPU is the measured law at low load.
            let share = (d / mean).clamp(0.0, 1.0);
            if d > mean {
                cal.notes.push(format!(
                    "{who}: {:.3} ms of CPU a request exceeds its {:.3} ms latency (work off the request path, or threads in parallel); all of it taken as CPU",
                    d * 1e3, mean * 1e3
                ));
            }
            push(
                "cpu",
                whole(share),
                format!(
                    "calibrated from {source}: CPU {:.3} ms a request by the utilisation law ({n} requests), {:.0} % of the demand; shape {}",
                    d * 1e3,
                    share * 100.0,
                    describe(&f)
                ),
            );
            if share < 0.999 || service.service_time.is_some() {
                // All of it on the CPU: no off-CPU law (a law's mean must be positive).
                let off = if share >= 0.999 {
                    Value::Zero
                } else {
                    whole(1.0 - share)
                };
                push(
                    "service_time",
                    off,
                    format!(
                        "calibrated from {source}: the off-CPU {:.0} % of the demand; {}",
                        (1.0 - share) * 100.0,
                        describe(&f)
                    ),
                );
            }
        }
        (true, None) => {
            push(
                "cpu",
                whole(1.0),
                format!(
                    "calibrated from {source}: CPU not observed, all of the demand taken as CPU; {}",
                    describe(&f)
                ),
            );
            if service.service_time.is_some() {
                push(
                    "service_time",
                    Value::Zero,
                    format!("calibrated from {source}: CPU not observed, no off-CPU time"),
                );
            }
        }
        (false, cpu) => {
            if let Some((d, _)) = cpu {
                cal.notes.push(format!(
                    "{who}: CPU {:.3} ms a request observed, but the service declares no `cpu:`; all of the demand written as service_time",
                    d * 1e3
                ));
            }
            push(
                "service_time",
                whole(1.0),
                format!("calibrated from {source}: {}", describe(&f)),
            )
        }
    }
}

/// Journey weights from the roots of the traces: a journey matches the root operations named
/// as it is, or as its first step's `METHOD path` (a server span's usual name).
fn journey_mix(scenario: &Scenario, g: &Graph) -> Vec<(usize, f64, u64)> {
    let total: u64 = g.roots.values().sum();
    let mut out = Vec::new();
    for (j, journey) in scenario.workload.journeys.iter().enumerate() {
        let http = journey.steps.first().and_then(|s| s.http.as_ref());
        let names: Vec<String> = std::iter::once(journey.name.clone())
            .chain(http.map(|h| format!("{} {}", h.method, h.path)))
            .collect();
        let n: u64 = g
            .roots
            .iter()
            .filter(|((_, op), _)| names.iter().any(|x| x == op))
            .map(|(_, c)| *c)
            .sum();
        if n > 0 {
            out.push((j, n as f64 / total.max(1) as f64, n));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queueing_share_against_erlang_c() {
        // M/M/1 at ρ: Wq/S = ρ/(1-ρ); at 0.5, 1.
        assert!((queueing_share(1, 0.5) - 1.0).abs() < 1e-12);
        // M/M/2 at a = 1: C = 1/3, Wq/S = C/(c-a) = 1/3.
        assert!((queueing_share(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
        // The safe fraction of an M/M/1 at ρ = 0.5: ρ/(1-ρ) = 0.05 at ρ = 1/21.
        assert!((safe_fraction(1, 0.5) * 0.5 - 1.0 / 21.0).abs() < 1e-9);
    }
}
