//! `twin load`: drives a deployment with the scenario's workload through the harness (goose),
//! sets the twin's prediction beside the measurement (`fidelity`), writes the run folder,
//! keeps the history and judges regressions. The one place that joins `harness` and `sim`.

use crate::exit::{self, Failure};
use crate::scenario_file;
use harness::load::{LoadConfig, LoadError};
use harness::measure::{journey_summary, write_histogram};
use harness::schedule::Shard;
use models::fidelity::Fidelity;
use models::scenario::Arrivals;
use models::{Duration, Rate, RunSummary, Scenario};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Scenario file whose journeys have `http:` steps.
    pub scenario: PathBuf,
    /// Base URL of the deployment, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub target: String,
    /// How long to schedule arrivals (default: the scenario's horizon), e.g. `10m`.
    #[arg(long)]
    pub duration: Option<String>,
    /// Multiply the arrival rate (2 = twice the scenario's traffic).
    #[arg(long, default_value_t = 1.0)]
    pub rate_scale: f64,
    /// Play the arrival profile this many times faster (60: a 24 h diurnal profile in 24 min,
    /// at the profile's own rates). The default duration and warmup shrink by the same factor.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Leave journeys scheduled before this out of the summary (default: the scenario's warmup
    /// when no --duration is given, else none).
    #[arg(long)]
    pub warmup: Option<String>,
    /// Output folder (default `reports/out/<scenario>-load/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Take the prediction from this summary.json instead of simulating in-process.
    #[arg(long, value_name = "SUMMARY.json")]
    pub predicted: Option<PathBuf>,
    /// Do not simulate the scenario for a prediction.
    #[arg(long, conflicts_with = "predicted")]
    pub no_predict: bool,
    /// Append one row for this run to a history CSV.
    #[arg(long, value_name = "FILE.csv")]
    pub history: Option<PathBuf>,
    /// Exit 1 when a journey's p95 is worse than the median of the last 7 history rows by more
    /// than PCT percent, or its error rate above its median by more than PCT percent of it and
    /// at least 0.1 percentage point (needs --history).
    #[arg(long, value_name = "PCT", requires = "history")]
    pub fail_on_regression: Option<f64>,
    /// This worker's share: `I/N` runs 1/N of the arrival rate (`twin merge` joins the shards).
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Goose users (journeys in flight at most); default from the peak rate.
    #[arg(long)]
    pub users: Option<usize>,
    /// Write one JSON line per window as the run goes (journeys ended, errors, p95 per
    /// journey), flushed each window; `-` writes them to stdout.
    #[arg(long, value_name = "FILE")]
    pub live: Option<PathBuf>,
    /// Override a scenario value: `--set workload.arrivals.poisson.rate=50/s`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
}

/// The base URL without any user or password.
fn shown_target(target: &str) -> String {
    match target.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((_, host)) if !host.contains('/') || rest.find('@') < rest.find('/') => {
                format!("{scheme}://{host}")
            }
            _ => target.to_string(),
        },
        None => target.to_string(),
    }
}

/// The scenario with its profile's (or trace's) clock running `x` times faster, and its horizon
/// and warmup shortened to match (the prediction for `--time-scale`).
fn compressed(scenario: &Scenario, x: f64) -> Scenario {
    let mut s = scenario.clone();
    if x == 1.0 {
        return s;
    }
    let shrink = |d: Duration| Duration((d.0 as f64 / x) as u64);
    match &mut s.workload.arrivals {
        Arrivals::Poisson { .. } | Arrivals::Constant { .. } => {}
        Arrivals::Profile { points, repeat, .. } => {
            points.iter_mut().for_each(|p| p.at = shrink(p.at));
            *repeat = repeat.map(shrink);
        }
        Arrivals::Trace { times, .. } => times.iter_mut().for_each(|t| *t = shrink(*t)),
    }
    s.horizon = shrink(s.horizon);
    s.warmup = shrink(s.warmup);
    s
}

/// The scenario with its arrival rate multiplied by `x` (the prediction for `--rate-scale`).
fn scaled(scenario: &Scenario, x: f64) -> Scenario {
    let mut s = scenario.clone();
    match &mut s.workload.arrivals {
        Arrivals::Poisson { rate } | Arrivals::Constant { rate } => *rate = Rate(rate.0 * x),
        Arrivals::Profile { points, .. } => {
            points.iter_mut().for_each(|p| p.rate = Rate(p.rate.0 * x))
        }
        Arrivals::Trace { times, .. } => times
            .iter_mut()
            .for_each(|t| *t = Duration((t.0 as f64 / x) as u64)),
    }
    s
}

fn read_prediction(path: &Path) -> Result<RunSummary, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("--predicted {}: cannot read: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| {
        Failure::usage(format!(
            "--predicted {}: not a summary.json: {e}",
            path.display()
        ))
    })
}

pub fn run(a: Args) -> Result<u8, Failure> {
    // Everything that can be wrong with the input is found before any traffic (exit 2).
    let loaded = scenario_file::load(Some(&a.scenario), &a.sets)?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let scenario = loaded.scenario;
    if !(a.time_scale.is_finite() && a.time_scale > 0.0) {
        return Err(Failure::usage(format!(
            "--time-scale must be > 0, found {}",
            a.time_scale
        )));
    }
    let time_scaled = compressed(&scenario, a.time_scale);
    let duration = match &a.duration {
        Some(d) => Duration::parse(d).map_err(|e| Failure::usage(format!("--duration: {e}")))?,
        None => time_scaled.horizon,
    };
    if duration.0 == 0 {
        return Err(Failure::usage("--duration must be greater than zero"));
    }
    let warmup = match &a.warmup {
        Some(w) => Duration::parse(w).map_err(|e| Failure::usage(format!("--warmup: {e}")))?,
        None if a.duration.is_none() => time_scaled.warmup,
        None => Duration::ZERO,
    };
    if warmup >= duration {
        return Err(Failure::usage(format!(
            "--warmup ({warmup}) must be shorter than the duration ({duration})"
        )));
    }
    let shard = match &a.shard {
        Some(s) => Shard::parse(s).map_err(Failure::usage)?,
        None => Shard::WHOLE,
    };
    let predicted_file = a.predicted.as_deref().map(read_prediction).transpose()?;
    let history = match &a.history {
        Some(h) => Some(harness::history::read(h).map_err(Failure::usage)?),
        None => None,
    };
    let dir = a.out.clone().unwrap_or_else(|| {
        let suffix = if shard.count > 1 {
            format!("-shard-{}-of-{}", shard.index, shard.count)
        } else {
            String::new()
        };
        PathBuf::from(format!("reports/out/{}-load{suffix}", scenario.name))
    });
    let window_s = (duration.as_secs_f64() / 300.0).ceil().max(1.0);
    let counts = std::sync::Arc::new(harness::measure::Progress::default());
    let cfg = LoadConfig {
        target: a.target.clone(),
        duration,
        rate_scale: a.rate_scale,
        time_scale: a.time_scale,
        shard,
        warmup,
        users: a.users,
        window: std::time::Duration::from_secs_f64(window_s),
        live: a.live.clone(),
        progress: Some(counts.clone()),
    };
    harness::load::check_config(&cfg).map_err(|e| Failure::usage(e.to_string()))?;
    let target = shown_target(&a.target);
    eprintln!(
        "twin load: {} against {target} for {duration}{}{}{}",
        scenario.name,
        if a.rate_scale == 1.0 {
            String::new()
        } else {
            format!(" at {}x the rate", a.rate_scale)
        },
        if a.time_scale == 1.0 {
            String::new()
        } else {
            format!(", the profile's clock {}x faster", a.time_scale)
        },
        if shard.count > 1 {
            format!(", shard {}/{}", shard.index, shard.count)
        } else {
            String::new()
        },
    );

    let run = crate::progress::follow_run(
        "load",
        std::time::Duration::from_nanos(duration.0),
        &counts,
        || harness::load::run(&scenario, &cfg),
    )
    .map_err(|e| match e {
        LoadError::Input(m) => Failure::usage(format!("{}: {m}", a.scenario.display())),
        LoadError::Unreachable(m) => Failure::run(m),
        LoadError::Run(m) => Failure::run(m),
    })?;
    let run_meta = (
        run.users,
        run.user_limit,
        run.waited,
        run.ran_s,
        run.interrupted,
    );
    let mut summary = run.summary;
    summary
        .warnings
        .extend(loaded.warnings.iter().map(|w| w.message.clone()));

    // The prediction beside the measurement.
    let prediction = match (predicted_file, a.no_predict) {
        (Some(p), _) => {
            let path = a.predicted.as_deref().unwrap_or(Path::new(""));
            // The timeline beside a given summary.json, when there is one (for observers).
            let timeline = path
                .parent()
                .map(|d| d.join(reports::TIMELINE_FILE))
                .filter(|t| t.exists())
                .and_then(|t| reports::json::read_timeline(&t).ok());
            Some((format!("{}", path.display()), p, timeline))
        }
        (None, true) => None,
        (None, false) => {
            // The prediction of this run: its rate, its duration and warmup, not the
            // scenario's horizon.
            let mut predicted = scaled(&time_scaled, a.rate_scale);
            predicted.horizon = duration;
            predicted.warmup = warmup;
            let out = super::predict(&predicted, &sim::Options::default());
            Some((
                "simulation (in-process)".to_string(),
                out.summary,
                Some(out.timeline),
            ))
        }
    };
    let prediction_horizon_s = prediction.as_ref().map(|(_, p, _)| p.horizon_s);
    let mut measured = run.measured;
    if let Some((by, p, timeline)) = &prediction {
        summary.fidelity = Some(Fidelity::compare(by, p, &summary));
        // Each observed series with `compare_with` gets the predicted one beside it.
        for o in &scenario.observers {
            for s in &o.series {
                let (Some(c), Some(name)) = (&s.compare_with, s.predicted_name()) else {
                    continue;
                };
                match timeline.as_ref().and_then(|t| t.series.get(c)) {
                    Some(points) => {
                        measured.timeline.series.insert(name, points.clone());
                    }
                    None => summary.warnings.push(format!(
                        "observer `{}`: the prediction has no series `{c}` to compare with (series are named like replicas/SERVICE, queue/SERVICE)",
                        o.name
                    )),
                }
            }
        }
    }

    // The history's judgement and trend go in the report, so they come before it is written.
    let mut history_row = None;
    let mut regressed = false;
    if let Some(rows) = &history {
        let time = harness::history::utc_timestamp(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        );
        let row = harness::history::row_for(&summary, time, harness::history::commit_from_env());
        let found = match a.fail_on_regression {
            Some(pct) => harness::history::regressions(rows, &row, pct),
            None => Vec::new(),
        };
        for r in &found {
            println!("regression: {r}");
            summary.warnings.push(format!("regression: {r}"));
        }
        regressed = !found.is_empty() && !summary.partial;
        measured.timeline.trend = Some(harness::history::trend(
            rows,
            &row,
            a.fail_on_regression,
            &found,
        ));
        history_row = Some(row);
    }

    reports::write_run(&dir, &summary, &measured.timeline)
        .map_err(|e| Failure::run(format!("{}: cannot write the report: {e}", dir.display())))?;
    write_extras(
        &dir,
        &measured,
        &target,
        run.users,
        json!({"index": shard.index, "count": shard.count}),
        &observers_json(&run.observed),
    )
    .map_err(|e| Failure::run(format!("{}: cannot write: {e}", dir.display())))?;

    let mut figures = run_figures(&run_meta, &measured);
    if let Some(a) = &run.aborted {
        figures["aborted"] = json!({"slo": a.slo, "at_s": a.at_s, "observed": a.observed});
    }
    figures["prediction_horizon_s"] = json!(prediction_horizon_s);
    // The load machine's own cost (getrusage of the process over the run): CPU stolen from a
    // target that shares the machine.
    if let Some(cpu) = run.cpu {
        figures["cpu_s"] = json!(cpu.as_secs_f64());
        figures["cpu_us_per_request"] = json!(
            (measured.requests > 0).then(|| cpu.as_secs_f64() * 1e6 / measured.requests as f64)
        );
    }
    add_load_block(&dir, &figures)
        .map_err(|e| Failure::run(format!("{}: cannot write: {e}", dir.display())))?;
    crate::cmd::simulate::print_table(&summary);
    print_fidelity(&summary);
    let mut code = exit::from_verdicts(summary.all_slos_met());
    if regressed {
        code = code.max(exit::SLO_MISSED);
    }
    if let (Some(path), Some(rows), Some(row)) = (&a.history, history, history_row) {
        harness::history::append(path, rows, row).map_err(Failure::run)?;
    }
    println!("wrote {}", dir.join("report.html").display());
    println!("requests sent: {}", measured.requests);
    if let Some(a) = &run.aborted {
        eprintln!(
            "the run was aborted at {:.1} s: SLO `{}` was missed; {} holds what was measured (partial)",
            a.at_s,
            a.slo,
            dir.display()
        );
        return Ok(exit::SLO_MISSED);
    }
    if run.interrupted {
        eprintln!(
            "the run was interrupted: {} holds what was measured (partial)",
            dir.display()
        );
        return Ok(exit::RUN_FAILED);
    }
    if run.waited > 0 {
        eprintln!(
            "{}",
            harness::load::pool_exhausted(run.waited, run.user_limit)
        );
        return Ok(exit::RUN_FAILED);
    }
    Ok(code)
}

/// The load's own figures in summary.json: journeys started late (and those that waited for a
/// free user, the pool's failure), the pool, requests sent and answered, the time run.
fn run_figures(
    (users, limit, waited, ran_s, interrupted): &(usize, usize, u64, f64, bool),
    m: &harness::measure::Measured,
) -> serde_json::Value {
    let completed: u64 = m.steps.values().map(|s| s.count).sum();
    json!({
        "late_starts": m.late_starts,
        "max_lateness_ms": m.max_lateness.as_secs_f64() * 1000.0,
        "lateness_ms": harness::measure::lateness_ms(&m.lateness),
        "dropped": waited,
        "users_peak": users,
        "user_limit": limit,
        "requests_sent": m.requests,
        "steps_completed": completed,
        "ran_s": ran_s,
        "interrupted": interrupted,
    })
}

/// Adds `load` to the summary.json just written.
fn add_load_block(dir: &Path, block: &serde_json::Value) -> std::io::Result<()> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path)?;
    let mut doc: serde_json::Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    doc["load"] = block.clone();
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    std::fs::write(&path, text + "\n")
}

fn print_fidelity(s: &RunSummary) {
    let Some(f) = &s.fidelity else { return };
    println!("\nprediction ({}) beside measurement", f.predicted_by);
    println!(
        "{:<28} {:>11} {:>11} {:>8} {:>11} {:>11} {:>8}",
        "journey", "pred p50", "meas p50", "err", "pred p95", "meas p95", "err"
    );
    let pct = |c: &models::fidelity::Comparison| {
        c.relative_error
            .map_or("-".to_string(), |e| format!("{:+.1}%", e * 100.0))
    };
    for (name, j) in &f.journeys {
        println!(
            "{:<28} {:>11.1} {:>11.1} {:>8} {:>11.1} {:>11.1} {:>8}",
            name,
            j.p50_ms.predicted,
            j.p50_ms.measured,
            pct(&j.p50_ms),
            j.p95_ms.predicted,
            j.p95_ms.measured,
            pct(&j.p95_ms)
        );
    }
}

/// A journey's or step's name as a file name (`histograms/journey-<name>.hdr`).
/// The histograms of a journey's or step's streams (`kind`: `journey` or `step`).
pub(crate) fn stream_file(kind: &str, name: &str) -> String {
    format!("stream-{kind}-{}.hdr", file_name(name))
}

/// The latency histogram of the `k`th tag of load.json's `tags`.
pub(crate) fn tag_file(k: usize) -> String {
    format!("tag-{k}.hdr")
}

pub(crate) fn file_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// What only a load run has: per-step latency and time to first byte, errors by kind, and the
/// HDR histograms (journeys, steps, time to first byte, each journey's windows one after the
/// other, the streams' time to first token and gaps, two to a `stream-*.hdr`, and per tag in
/// `tags` order, `tag-N.hdr`), so that shards merge exactly. `shard` says which worker wrote it.
pub(crate) fn write_extras(
    dir: &Path,
    m: &harness::measure::Measured,
    target: &str,
    users: usize,
    shard: serde_json::Value,
    observers: &serde_json::Value,
) -> std::io::Result<()> {
    let hist_dir = dir.join("histograms");
    std::fs::create_dir_all(&hist_dir)?;
    for (name, s) in &m.journeys {
        let mut f =
            std::fs::File::create(hist_dir.join(format!("journey-{}.hdr", file_name(name))))?;
        write_histogram(&s.latency, &mut f)?;
    }
    for (name, ws) in &m.windows {
        let mut f =
            std::fs::File::create(hist_dir.join(format!("windows-{}.hdr", file_name(name))))?;
        for w in ws {
            write_histogram(&w.hist, &mut f)?;
        }
    }
    write_histogram(
        &m.lateness,
        &mut std::fs::File::create(hist_dir.join(LATENESS_FILE))?,
    )?;
    for (name, s) in &m.steps {
        let mut f = std::fs::File::create(hist_dir.join(format!("step-{}.hdr", file_name(name))))?;
        write_histogram(&s.latency, &mut f)?;
        let mut f = std::fs::File::create(hist_dir.join(format!("ttfb-{}.hdr", file_name(name))))?;
        write_histogram(&s.ttfb, &mut f)?;
    }
    let streams = m
        .journeys
        .iter()
        .map(|(n, s)| (stream_file("journey", n), s))
        .chain(m.steps.iter().map(|(n, s)| (stream_file("step", n), s)));
    for (file, s) in streams {
        if let Some(st) = &s.stream {
            let mut f = std::fs::File::create(hist_dir.join(file))?;
            write_histogram(&st.ttft, &mut f)?;
            write_histogram(&st.itl, &mut f)?;
        }
    }
    // Tags by index: `key=value` names may differ only where `file_name` folds them together.
    for (k, s) in m.tags.values().enumerate() {
        let mut f = std::fs::File::create(hist_dir.join(tag_file(k)))?;
        write_histogram(&s.latency, &mut f)?;
    }
    let tags: Vec<serde_json::Value> = m
        .tags
        .iter()
        .map(|(n, s)| {
            json!({
                "tag": n,
                "count": s.count,
                "errors": s.errors,
                "errors_by_kind": s.by_kind,
                "errors_by_status": s.by_status,
            })
        })
        .collect();
    let steps: serde_json::Map<String, serde_json::Value> = m
        .steps
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                json!({
                    "summary": journey_summary(s, &[]),
                    "ttfb_ms": harness::measure::latency_stats(&s.ttfb, &[]),
                    "errors_by_kind": s.by_kind,
                    "errors_by_status": s.by_status,
                    "errors_by_check": s.by_check,
                    "stream_tokens": s.stream.as_ref().map(|t| t.tokens),
                }),
            )
        })
        .collect();
    let journeys: serde_json::Map<String, serde_json::Value> = m
        .journeys
        .iter()
        .map(|(n, s)| {
            (
                n.clone(),
                json!({
                    "errors_by_kind": s.by_kind,
                    "errors_by_status": s.by_status,
                    "stream_tokens": s.stream.as_ref().map(|t| t.tokens),
                }),
            )
        })
        .collect();
    let windows: serde_json::Map<String, serde_json::Value> = m
        .windows
        .iter()
        .map(|(n, ws)| {
            (
                n.clone(),
                json!(ws.iter().map(|w| [w.count, w.errors]).collect::<Vec<_>>()),
            )
        })
        .collect();
    let detail = json!({
        "target": target,
        "users": users,
        "shard": shard,
        "requests": m.requests,
        "late_starts": m.late_starts,
        "max_lateness_ms": m.max_lateness.as_secs_f64() * 1000.0,
        "window_s": m.window_s,
        "observers": observers,
        "offered": m.offered,
        "windows": windows,
        "journeys": journeys,
        "steps": steps,
        "tags": tags,
        "histograms": "histograms/*.hdr: HdrHistogram V2, microseconds; windows-*.hdr: one per window of `windows`, in order; stream-*.hdr: time to first token, then the gaps between tokens; tag-N.hdr: the Nth of `tags`",
    });
    let text = serde_json::to_string_pretty(&detail).map_err(std::io::Error::other)?;
    std::fs::write(dir.join(LOAD_FILE), text)
}

/// Scrapes and failures per observer (`observers` of load.json).
fn observers_json(observed: &[harness::observer::Observed]) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = observed
        .iter()
        .map(|o| {
            (
                o.name.clone(),
                json!({
                    "scrapes": o.scrapes,
                    "failures": o.failures,
                    "last_error": o.last_error,
                    "series": o.series.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    serde_json::Value::Object(map)
}

/// Every journey start's lateness behind its schedule, under `histograms/`.
pub(crate) const LATENESS_FILE: &str = "lateness.hdr";

/// The load run's own detail file in its folder.
pub(crate) const LOAD_FILE: &str = "load.json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_not_shown() {
        assert_eq!(shown_target("http://u:p@host:1/x"), "http://host:1/x");
        assert_eq!(
            shown_target("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
    }
}
