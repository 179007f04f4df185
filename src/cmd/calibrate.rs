//! `twin calibrate`: reads `twin load` folders (per-step HDR histograms, the offered rate,
//! observers' series) and trace files, hands their contents to the `calibrate` crate, and
//! writes the scenario with the fitted demands edited into its text (comments and order
//! kept), plus one CSV per empirical demand beside it. Refusals and bad input exit 2 with
//! nothing written.

use crate::cmd::load::{file_name, LOAD_FILE};
use crate::exit::{Failure, OK};
use calibrate::edit::Editor;
use calibrate::fit::Sample;
use calibrate::{Run, StepRun, Value};
use models::path::PathSegment;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The scenario whose demands are fitted.
    pub scenario: PathBuf,
    /// `twin load` output folders (one or more, e.g. at several low rates).
    #[arg(long = "from", num_args = 1.., required_unless_present = "traces")]
    pub from: Vec<PathBuf>,
    /// Trace files: OTLP JSON or JSON lines, Jaeger JSON, Zipkin v2 JSON.
    #[arg(long, num_args = 1..)]
    pub traces: Vec<PathBuf>,
    /// Where the calibrated scenario goes (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let loaded = crate::scenario_file::load(Some(&a.scenario), &[])?;
    let text = std::fs::read_to_string(&a.scenario)
        .map_err(|e| Failure::usage(format!("{}: cannot read: {e}", a.scenario.display())))?;
    let runs = a
        .from
        .iter()
        .map(|d| read_run(d))
        .collect::<Result<Vec<_>, _>>()?;
    let mut traces = Vec::new();
    for path in &a.traces {
        let body = std::fs::read_to_string(path)
            .map_err(|e| Failure::usage(format!("{}: cannot read: {e}", path.display())))?;
        let spans = calibrate::trace::parse(&body).map_err(|e| {
            Failure::usage(format!(
                "{}:{}:{}: {}",
                path.display(),
                e.line,
                e.column.max(1),
                e.message
            ))
        })?;
        eprintln!("{}: {} spans", path.display(), spans.len());
        traces.push((path.display().to_string(), spans));
    }
    let cal = calibrate::calibrate(&loaded.scenario, &runs, &traces)
        .map_err(|r| Failure::usage(format!("twin calibrate: refused: {r}")))?;
    if cal.fitted.is_empty() {
        for n in &cal.notes {
            eprintln!("  note: {n}");
        }
        return Err(Failure::usage(
            "twin calibrate: nothing to fit: no step of the scenario was measured",
        ));
    }

    // Empirical demands are CSVs beside the output (the scenario names them relatively).
    let out_dir = a
        .out
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let stem = a
        .out
        .as_deref()
        .or(Some(a.scenario.as_path()))
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "calibrated".into());
    let mut csvs: Vec<(PathBuf, String)> = Vec::new();
    let mut editor = Editor::new(&text);
    println_err("fitted:");
    for f in &cal.fitted {
        let value = match &f.value {
            Value::Law(l) => calibrate::law_yaml(l),
            Value::Zero => calibrate::ZERO_YAML.to_string(),
            Value::Calls(calls) => calibrate::calls_yaml(calls),
            Value::Empirical(s) => {
                let name = format!("{stem}.{}.{}.csv", file_name(&f.who), f.key);
                csvs.push((out_dir.join(&name), empirical_csv(s)));
                format!("{{empirical: {{file: {name}}}}}")
            }
        };
        eprintln!("  {} {}: {value}\n      # {}", f.who, f.key, f.comment);
        editor
            .set(&f.mapping, f.key, &f.sibling, &value, &f.comment)
            .map_err(|e| Failure::usage(format!("{}: {e}", a.scenario.display())))?;
    }
    print_graph(&cal);
    let journeys = loaded.scenario.workload.journeys.len();
    if !cal.mix.is_empty() && cal.mix.len() == journeys {
        for &(j, share, n) in &cal.mix {
            let at = [
                PathSegment::Key("workload".into()),
                PathSegment::Key("journeys".into()),
                PathSegment::Index(j),
            ];
            editor
                .set(
                    &at,
                    "weight",
                    "name",
                    &format!("{share:.4}"),
                    &format!("calibrated from the traces' root operations: {n} of them"),
                )
                .map_err(|e| Failure::usage(format!("{}: {e}", a.scenario.display())))?;
        }
    } else if !cal.mix.is_empty() {
        eprintln!(
            "  note: the traces' roots match {} of {journeys} journeys; weights left as written",
            cal.mix.len()
        );
    }
    for n in &cal.notes {
        eprintln!("  note: {n}");
    }
    let edited = editor.finish(&text);
    write_outputs(a.out.as_deref(), &edited, &csvs)?;
    Ok(OK)
}

fn println_err(s: &str) {
    eprintln!("{s}");
}

/// 1,000 quantiles of the sample, in milliseconds (what `{empirical: {file}}` reads).
fn empirical_csv(s: &Sample) -> String {
    let mut out =
        String::from("# calibrated by twin calibrate: 1000 quantiles of the measured sample\nms\n");
    for i in 0..1000 {
        let q = (f64::from(i) + 0.5) / 1000.0;
        out.push_str(&format!("{:.6}\n", s.quantile(q) * 1e3));
    }
    out
}

fn print_graph(cal: &calibrate::Calibration) {
    let Some(g) = &cal.graph else { return };
    eprintln!("call graph ({} traces):", g.traces);
    for ((from, to), e) in &g.edges {
        eprintln!(
            "  {from} -> {to}: {} ({} sync, {} async), branch probability {:.3}, {:.2} calls a calling visit{}",
            if e.synchronous() { "synchronous" } else { "asynchronous" },
            e.sync_calls,
            e.async_calls,
            g.branch_probability(from, to).unwrap_or(0.0),
            g.visits_per_call(from, to).unwrap_or(0.0),
            e.network_s
                .map(|n| format!(", network {:.3} ms a call", n * 1e3))
                .unwrap_or_default()
        );
    }
    for (name, own) in &g.own_time {
        let inferred = if g.inferred.contains(name) {
            " (inferred from its callers' client spans: it writes none)"
        } else {
            ""
        };
        eprintln!("  {name}: {} visits{inferred}", own.len());
    }
    eprintln!("journey mix (root operations):");
    for ((svc, op), share) in g.journey_mix() {
        eprintln!("  {svc} {op}: {:.1} %", share * 100.0);
    }
}

/// Writes the CSVs and the scenario beside their final places and renames them in, after
/// checking the result loads as a scenario: nothing half-written on failure.
fn write_outputs(
    out: Option<&Path>,
    edited: &str,
    csvs: &[(PathBuf, String)],
) -> Result<(), Failure> {
    let io =
        |p: &Path, e: std::io::Error| Failure::run(format!("{}: cannot write: {e}", p.display()));
    for (path, body) in csvs {
        let tmp = path.with_extension("csv.tmp");
        std::fs::write(&tmp, body).map_err(|e| io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    }
    match out {
        Some(path) => {
            let tmp = path.with_extension("yaml.tmp");
            std::fs::write(&tmp, edited).map_err(|e| io(&tmp, e))?;
            if let Err(e) = crate::scenario_file::load(Some(&tmp), &[]) {
                let _ = std::fs::remove_file(&tmp);
                return Err(Failure::run(format!(
                    "twin calibrate: the calibrated scenario does not load (a bug): {e}"
                )));
            }
            std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
            eprintln!("wrote {}", path.display());
        }
        None => print!("{edited}"),
    }
    Ok(())
}

/// A `twin load` folder as the crate's [`Run`].
fn read_run(dir: &Path) -> Result<Run, Failure> {
    let bad = |what: String| Failure::usage(format!("twin calibrate: {}: {what}", dir.display()));
    let text = std::fs::read_to_string(dir.join(LOAD_FILE)).map_err(|e| {
        bad(format!(
            "cannot read {LOAD_FILE}: {e} (written by `twin load`)"
        ))
    })?;
    let detail: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("{LOAD_FILE} is not JSON: {e}")))?;
    let summary = reports::json::read_summary(&dir.join(reports::SUMMARY_FILE))
        .map_err(|e| bad(e.to_string()))?;
    let timeline = reports::json::read_timeline(&dir.join(reports::TIMELINE_FILE))
        .map_err(|e| bad(e.to_string()))?;
    if summary.partial {
        eprintln!(
            "  note: {} is a partial run; its samples are used as they are",
            dir.display()
        );
    }
    let duration_s = summary.horizon_s;
    let offered: u64 = detail["offered"]
        .as_array()
        .map(|a| a.iter().filter_map(serde_json::Value::as_u64).sum())
        .unwrap_or(0);
    let mut steps = Vec::new();
    for key in detail["steps"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
    {
        let parsed = key
            .rsplit_once(' ')
            .and_then(|(head, service)| head.rsplit_once('/').map(|(j, i)| (j, i, service)));
        let Some((journey, index, service)) = parsed else {
            return Err(bad(format!(
                "{LOAD_FILE}: step `{key}` is not `journey/index service`"
            )));
        };
        let name = format!("step-{}.hdr", file_name(key));
        let path = dir.join("histograms").join(&name);
        let mut f = std::fs::File::open(&path)
            .map_err(|e| bad(format!("cannot read histograms/{name}: {e}")))?;
        let h = harness::measure::read_histogram(&mut f)
            .map_err(|e| bad(format!("histograms/{name}: {e}")))?;
        // Microseconds; each bucket at its equivalent value (the middle of its range).
        let points = h
            .iter_recorded()
            .map(|v| {
                (
                    h.median_equivalent(v.value_iterated_to()) as f64 / 1e6,
                    v.count_at_value(),
                )
            })
            .collect();
        steps.push(StepRun {
            journey: journey.to_string(),
            index: index.to_string(),
            service: service.to_string(),
            latency: Sample::new(points),
        });
    }
    Ok(Run {
        name: dir.display().to_string(),
        duration_s,
        offered_rps: offered as f64 / duration_s.max(1e-9),
        steps,
        series: timeline.series,
    })
}
