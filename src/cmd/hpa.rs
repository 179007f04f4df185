//! `twin hpa eval` and `twin hpa replay`: the Kubernetes HPA algorithm of `k8s::hpa` over
//! test vectors and over recorded metrics.

use crate::exit::{self, Failure};
use k8s::hpa::controller::ControllerConfig;
use k8s::hpa::replay::{self, ReplaySettings};
use k8s::hpa::spec::{parse_manifest, MetricKind, ResolvedHpa, ResourceTarget, ValueTarget};
use k8s::hpa::target::parse_deployment;
use k8s::hpa::target::PodSpec;
use k8s::hpa::vectors::{evaluate_document, project};
use models::units::Duration;
use reports::charts::{ReplayChart, ReplayPanel};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Evaluate every vector of a file in the hpa-vectors.json format; prints one JSON object
    /// per line: {"section", "name", "result"}.
    Eval(EvalArgs),
    /// Replay a recorded per-pod metric series through an autoscaling/v2 HPA manifest: the
    /// replica count the controller would choose at every sync, as CSV.
    Replay(ReplayArgs),
}

#[derive(clap::Args)]
pub struct EvalArgs {
    /// A JSON file of vector sections (e.g. tests/data/hpa-vectors.json).
    pub file: PathBuf,
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The HorizontalPodAutoscaler manifest (autoscaling/v2, as `kubectl get hpa -o yaml` prints it).
    #[arg(long)]
    pub hpa: PathBuf,
    /// The target Deployment manifest: pod requests (needed by Utilization targets) and the
    /// starting replica count.
    #[arg(long)]
    pub deployment: Option<PathBuf>,
    /// The per-pod series: CSV with header time,pod,ready,cpu,memory[,METRIC...].
    #[arg(long)]
    pub metrics: PathBuf,
    /// Write DIR/replicas.csv and the chart DIR/replicas.svg (replicas and each metric over
    /// time) instead of printing the CSV to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The controller's sync period.
    #[arg(long, default_value = "15s", value_parser = Duration::parse)]
    pub sync_period: Duration,
    /// The window each resource sample averages over (metrics-server resolution).
    #[arg(long, default_value = "15s", value_parser = Duration::parse)]
    pub metric_window: Duration,
}

pub fn run(c: Command) -> Result<u8, Failure> {
    match c {
        Command::Eval(a) => eval(a),
        Command::Replay(a) => replay_cmd(a),
    }
}

fn read(path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Failure::usage(format!("{}: cannot read: {e}", path.display())))
}

/// Exit 0 when every vector evaluated (whether or not it matches any `expected`: this command
/// computes, it does not judge); 2 when the file is not a vectors file or a vector is malformed.
fn eval(a: EvalArgs) -> Result<u8, Failure> {
    let text = read(&a.file)?;
    let doc: Value = serde_json::from_str(&text)
        .map_err(|e| Failure::usage(format!("{}: not JSON: {e}", a.file.display())))?;
    let evaluations = evaluate_document(&doc)
        .map_err(|e| Failure::usage(format!("{}: {e}", a.file.display())))?;
    let mut out = std::io::stdout().lock();
    let mut malformed = Vec::new();
    for e in evaluations {
        let vector = doc[&e.section]
            .as_array()
            .and_then(|vs| vs.iter().find(|v| v["name"] == e.name.as_str()));
        // Answer in the shape of the file's answers when it has them: `expected` (or
        // `expected_class`) only selects which computed fields are printed; its values are
        // never read. Without answers, every field the vector's kind computes is printed.
        let result = match vector {
            Some(v) if v.get("expected").is_some_and(Value::is_object) => v["expected"]
                .as_object()
                .map_or(e.result.clone(), |keys| project(&e.result, keys)),
            Some(v) if v.get("expected_class").is_some() => project(
                &e.result,
                json!({"class": null})
                    .as_object()
                    .unwrap_or(&Default::default()),
            ),
            _ => e.result.clone(),
        };
        if let Some(err) = result.get("error") {
            malformed.push(format!(
                "{} / {}: {}",
                e.section,
                e.name,
                err.as_str().unwrap_or("?")
            ));
        }
        let line = json!({"section": e.section, "name": e.name, "result": result});
        writeln!(out, "{line}")
            .map_err(|e| Failure::run(format!("cannot write to stdout: {e}")))?;
    }
    if malformed.is_empty() {
        Ok(exit::OK)
    } else {
        Err(Failure::usage(format!(
            "{} vector(s) could not be evaluated:\n{}",
            malformed.len(),
            malformed.join("\n")
        )))
    }
}

fn replay_cmd(a: ReplayArgs) -> Result<u8, Failure> {
    let controller = ControllerConfig {
        sync_period: a.sync_period,
        ..ControllerConfig::default()
    };
    if a.sync_period == Duration::ZERO {
        return Err(Failure::usage("--sync-period must be positive"));
    }
    let hpa_text = read(&a.hpa)?;
    let (manifest, hpa) =
        parse_manifest(&hpa_text, controller.downscale_stabilization).map_err(|errs| {
            Failure::usage(
                errs.iter()
                    .map(|e| format!("{}:{e}", a.hpa.display()))
                    .collect::<Vec<_>>()
                    .join("\n"),
            )
        })?;
    let hpa_name = manifest.name().map(str::to_string);
    let (template, initial_replicas) = match &a.deployment {
        None => (None, None),
        Some(p) => {
            let d = parse_deployment(&read(p)?)
                .map_err(|e| Failure::usage(format!("{}:{e}", p.display())))?;
            (Some(d.spec.template.spec), d.spec.replicas)
        }
    };
    let series = replay::parse_series(&read(&a.metrics)?)
        .map_err(|e| Failure::usage(format!("{}: {e}", a.metrics.display())))?;
    replay::check(&hpa, &series, template.as_ref()).map_err(|problems| {
        Failure::usage(
            problems
                .iter()
                .map(|p| format!("{}: {p}", a.hpa.display()))
                .collect::<Vec<_>>()
                .join("\n"),
        )
    })?;
    let chart_panels = panels(&hpa, template.as_ref());
    let settings = ReplaySettings {
        controller,
        metric_window: a.metric_window,
        template,
        initial_replicas,
    };
    let steps = replay::replay(&hpa, &series, &settings);
    let csv = reports::csv::hpa_replay(&steps);
    match &a.out {
        None => {
            std::io::stdout()
                .lock()
                .write_all(csv.as_bytes())
                .map_err(|e| Failure::run(format!("cannot write to stdout: {e}")))?;
        }
        Some(dir) => {
            let times: Vec<f64> = steps.iter().map(|s| s.time.as_secs_f64()).collect();
            let chart = ReplayChart {
                title: format!("HPA {} replayed", hpa_name.as_deref().unwrap_or("")),
                replicas: steps
                    .iter()
                    .map(|s| (s.time.as_secs_f64(), f64::from(s.replicas)))
                    .collect(),
                metric_desired: steps
                    .iter()
                    .map(|s| (s.time.as_secs_f64(), s.metric_desired.map(f64::from)))
                    .collect(),
                panels: chart_panels
                    .into_iter()
                    .map(|p| ReplayPanel {
                        points: times
                            .iter()
                            .map(|t| {
                                let v = series
                                    .mean_at(Duration::from_secs_f64(*t), &p.column)
                                    .map(|m| m / p.per_unit);
                                (*t, v)
                            })
                            .collect(),
                        metric: p.column,
                        unit: p.unit,
                        target: p.target,
                    })
                    .collect(),
            };
            let svg = reports::charts::replay_svg(&chart)
                .map_err(|e| Failure::run(format!("cannot draw the replay chart: {e}")))?;
            std::fs::create_dir_all(dir)
                .map_err(|e| Failure::run(format!("{}: cannot create: {e}", dir.display())))?;
            // Write beside, then rename: nothing half-written is left behind.
            for (name, text) in [("replicas.csv", &csv), ("replicas.svg", &svg)] {
                let tmp = dir.join(format!(".{name}.tmp"));
                let dest = dir.join(name);
                std::fs::write(&tmp, text)
                    .and_then(|_| std::fs::rename(&tmp, &dest))
                    .map_err(|e| Failure::run(format!("{}: cannot write: {e}", dest.display())))?;
                println!("{}", dest.display());
            }
        }
    }
    Ok(exit::OK)
}

/// One metric of the HPA as the replay chart shows it: the series column, how many
/// milli-units make one unit of the axis, the axis' name and the target in that unit.
struct PanelSpec {
    column: String,
    per_unit: f64,
    unit: String,
    target: Option<f64>,
}

fn panels(hpa: &ResolvedHpa, template: Option<&PodSpec>) -> Vec<PanelSpec> {
    hpa.metrics
        .iter()
        .map(|m| match m {
            MetricKind::Resource {
                name,
                container,
                target,
            } => {
                let memory = name == "memory";
                let (per_unit, unit) = if memory {
                    (1000.0 * 1024.0 * 1024.0, format!("{name} (MiB per pod)"))
                } else {
                    (1000.0, format!("{name} (cores per pod)"))
                };
                let target = match target {
                    ResourceTarget::AverageValue(t) => Some(*t as f64 / per_unit),
                    ResourceTarget::Utilization(pct) => template
                        .and_then(|t| t.request_milli(name, container.as_deref()).ok())
                        .map(|req| req as f64 * f64::from(*pct) / 100.0 / per_unit),
                };
                PanelSpec {
                    column: name.clone(),
                    per_unit,
                    unit,
                    target,
                }
            }
            MetricKind::Pods {
                metric,
                target_average_milli,
            } => PanelSpec {
                column: metric.clone(),
                per_unit: 1000.0,
                unit: format!("{metric} (per pod)"),
                target: Some(*target_average_milli as f64 / 1000.0),
            },
            MetricKind::Object { metric, target } | MetricKind::External { metric, target } => {
                PanelSpec {
                    column: metric.clone(),
                    per_unit: 1000.0,
                    unit: metric.clone(),
                    target: match target {
                        ValueTarget::Value(t) => Some(*t as f64 / 1000.0),
                        ValueTarget::AverageValue(_) => None,
                    },
                }
            }
        })
        .collect()
}
