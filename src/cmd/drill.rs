//! `twin drill`: runs one of the scenario's drills against a deployment under load through the
//! harness (plan, safety checks, steps, audit, RTO/RPO), sets the twin's prediction of the same
//! drill beside the measurement (the scenario simulated with the drill's `predict` fault), and
//! writes the run folder: summary.json (`kind: "drill"`), report.html, junit.xml, the drill log
//! and the audit's acknowledgement log. Exit 0 targets met, 1 missed, 2 plan only or bad input,
//! 3 stopped early (failed step, Ctrl-C) after rollback, with what was measured.
//!
//! With `--rollout NAME` it drills one of the scenario's rollouts instead: the rollout's
//! hooks (`rollouts[].drill`) run as a drill's steps would, driven by the harness's live
//! analysis (`harness::drill::rollout`); summary.json `rollouts` holds what happened, beside
//! the simulator's prediction of the same rollout (`fidelity.rollouts`). Exit 0 promoted,
//! 1 rolled back or undecided, 3 a hook failed.

use crate::exit::{self, Failure};
use crate::scenario_file;
use harness::drill::{plan, run, steps::Redactor, summary};
use models::fidelity::{Comparison, Fidelity};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Scenario file with a `drills:` section.
    pub scenario: PathBuf,
    /// The drill to run, by name.
    #[arg(long, required_unless_present = "rollout", conflicts_with = "rollout")]
    pub drill: Option<String>,
    /// Drill this rollout instead (`rollouts[].drill`: its deploy, weight, promote and
    /// rollback hooks, judged live from the load split by the version header).
    #[arg(long)]
    pub rollout: Option<String>,
    /// Base URL of the deployment; its host must be in `allowed_targets`.
    #[arg(long)]
    pub target: String,
    /// Run the drill's commands for real; without it the plan is printed and nothing runs.
    #[arg(long)]
    pub allow_destructive: bool,
    /// Output folder (default `reports/out/<scenario>-drill/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Do not simulate the drill's `predict` fault for a prediction.
    #[arg(long)]
    pub no_predict: bool,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    // Everything that can be wrong with the input is found before anything runs (exit 2).
    let loaded = scenario_file::load(Some(&a.scenario), &[])?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    let scenario = loaded.scenario;
    let file = a.scenario.display().to_string();
    let (drill, rollout) = match (&a.drill, &a.rollout) {
        (_, Some(name)) => {
            let (spec, hooks) = plan::find_rollout(&scenario, name)
                .map_err(|m| Failure::usage(format!("{file}: {m}")))?;
            (
                std::borrow::Cow::Owned(hooks.drill_spec(spec, &scenario)),
                Some((spec, hooks)),
            )
        }
        (Some(name), None) => (
            std::borrow::Cow::Borrowed(
                plan::find(&scenario, name).map_err(|m| Failure::usage(format!("{file}: {m}")))?,
            ),
            None,
        ),
        (None, None) => {
            return Err(Failure::usage(
                "name a drill (--drill) or a rollout (--rollout)",
            ))
        }
    };
    let drill: &models::drill::DrillSpec = &drill;
    let journeys: Vec<&str> = scenario
        .workload
        .journeys
        .iter()
        .map(|j| j.name.as_str())
        .collect();
    let problems = drill.check(&journeys, scenario.recovery_window);
    if rollout.is_none() && !problems.is_empty() {
        let k = scenario
            .drills
            .iter()
            .position(|d| d.name == drill.name)
            .unwrap_or(0);
        let text: Vec<String> = problems
            .iter()
            .map(|(path, m)| format!("{file}: drills[{k}].{path}: {m}"))
            .collect();
        return Err(Failure::usage(text.join("\n")));
    }
    plan::check_target(&a.target, &scenario, drill).map_err(Failure::usage)?;
    let missing: Vec<String> = plan::env_vars(drill)
        .into_iter()
        .filter(|n| std::env::var_os(n).is_none())
        .collect();
    print!("{}", plan::render(&scenario, drill, &a.target));
    let missing_text = (!missing.is_empty()).then(|| {
        format!(
            "the drill needs the environment variables {} (not set)",
            missing.join(", ")
        )
    });
    if !a.allow_destructive {
        if let Some(m) = &missing_text {
            println!("{m}");
        }
        println!(
            "not run: this drill breaks things on purpose; pass --allow-destructive to run it"
        );
        return Ok(exit::USAGE);
    }
    if let Some(m) = missing_text {
        return Err(Failure::usage(m));
    }
    plan::check_database(&scenario, drill).map_err(Failure::usage)?;
    let dir = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("reports/out/{}-drill", scenario.name)));
    let redactor = Redactor::from_texts(plan::secret_texts(drill));
    let run_id = format!(
        "drill-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
    );
    let counts = std::sync::Arc::new(harness::measure::Progress::default());
    let cfg = run::DrillConfig {
        target: a.target.clone(),
        run_id: run_id.clone(),
        progress: counts.clone(),
    };
    harness::load::probe(&a.target).map_err(|e| Failure::run(e.to_string()))?;
    let measured = crate::progress::follow_run(
        "drill",
        std::time::Duration::from_nanos(drill.load.duration.0),
        &counts,
        || match rollout {
            Some((spec, hooks)) => {
                harness::drill::rollout::run(&scenario, spec, hooks, drill, &cfg, &redactor)
            }
            None => run::run(&scenario, drill, &cfg, &redactor),
        },
    )
    .map_err(Failure::run)?;
    let (mut summary, timeline, figures) = summary::summarize(&scenario, drill, &measured);
    let mut predicted_rollouts = Vec::new();
    if let (Some((spec, hooks)), Some(run)) = (rollout, &measured.rollout) {
        summary.rollouts = vec![models::rollout::RolloutSummary::over(
            spec,
            vec![run.clone()],
            |_| None,
        )];
        summary.slos.push(rollout_verdict(spec, run, drill));
        if !a.no_predict {
            let s = hooks.prediction_scenario(spec, &scenario);
            let out = super::predict(&s, &sim::Options::default());
            predicted_rollouts.clone_from(&out.summary.rollouts);
            summary.fidelity = Some(Fidelity::compare(
                "simulation (in-process) of the rollout",
                &out.summary,
                &summary,
            ));
        }
    }

    // The twin's prediction of the same drill.
    let prediction = match (&drill.predict, a.no_predict || rollout.is_some()) {
        (Some(fault), false) => {
            let ran = figures
                .recovery_started_s
                .filter(|x| x.is_finite() && *x >= 0.0)
                .map(models::Duration::from_secs_f64);
            let s = drill.prediction_scenario(&scenario, fault, ran);
            let out = super::predict(&s, &sim::Options::default());
            summary.fidelity = Some(Fidelity::compare(
                "simulation (in-process)",
                &out.summary,
                &summary,
            ));
            Some(out.summary.recovery)
        }
        _ => None,
    };

    reports::write_run(&dir, &summary, &timeline)
        .map_err(|e| Failure::run(format!("{}: cannot write the report: {e}", dir.display())))?;
    write_extras(
        &dir,
        &summary,
        &measured,
        &figures,
        prediction.as_ref(),
        &predicted_rollouts,
        &run_id,
    )
    .map_err(|e| Failure::run(format!("{}: cannot write: {e}", dir.display())))?;

    if rollout.is_some() {
        print_rollouts(&summary);
    } else {
        print_figures(&summary, &figures, prediction.as_ref());
    }
    println!("wrote {}", dir.join("report.html").display());
    if measured.stopped_early() {
        eprintln!(
            "the drill stopped early and ran its rollback: {} holds what was measured (partial)",
            dir.display()
        );
        return Ok(exit::RUN_FAILED);
    }
    if figures.unreadable > 0 {
        eprintln!(
            "the audit could not read back {} writes: unknown, not kept; RPO is not measured (the run failed)",
            figures.unreadable
        );
        return Ok(exit::RUN_FAILED);
    }
    Ok(exit::from_verdicts(summary.all_slos_met()))
}

/// The rollout's own verdict: met when it was promoted. A rollback (the analysis found the
/// new version worse) or no decision within the load is a miss: never met for want of a
/// decision.
fn rollout_verdict(
    spec: &models::rollout::RolloutSpec,
    run: &models::rollout::RolloutRun,
    drill: &models::drill::DrillSpec,
) -> models::summary::SloVerdict {
    models::summary::SloVerdict {
        name: format!("rollout {} promoted", spec.name),
        observed: run.decided_at_s,
        bound: drill.load.duration.as_secs_f64(),
        met: run.outcome == models::rollout::Outcome::Promoted,
    }
}

fn print_rollouts(s: &models::RunSummary) {
    let secs = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3} s"));
    for r in &s.rollouts {
        println!("\nrollout {}", r.name);
        println!("  outcome                {:?}", r.outcome);
        println!("  decided at             {}", secs(r.decided_at_s));
        println!(
            "  new version            {} requests, {} failed ({:.3} % of journeys)",
            r.requests_new,
            r.errors_new,
            r.damage_share * 100.0
        );
        if let Some(p) = s.fidelity.as_ref().and_then(|f| f.rollouts.get(&r.name)) {
            println!(
                "  predicted              {:?} at {}, {:.1} failed before the decision (measured {})",
                p.outcome.predicted,
                secs(p.decided_at_s.as_ref().map(|c| c.predicted)),
                p.errors_to_decision.predicted,
                p.errors_to_decision.measured,
            );
            if let Some(w) = &p.wait_for_pods_s {
                println!(
                    "  start to first traffic {:.3} s (predicted {:.3} s)",
                    w.measured, w.predicted
                );
            }
        }
    }
}

fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |x| json!(x))
}

fn comparison(p: Option<f64>, m: Option<f64>) -> Value {
    match (p, m) {
        (Some(p), Some(m)) => json!(Comparison::new(p, m)),
        _ => json!({"predicted": opt(p), "measured": opt(m), "relative_error": null}),
    }
}

/// The drill-only parts of summary.json, the drill log and the acknowledgement log.
fn write_extras(
    dir: &Path,
    summary: &models::RunSummary,
    m: &run::DrillRun,
    f: &summary::DrillFigures,
    prediction: Option<&models::summary::Recovery>,
    predicted_rollouts: &[models::rollout::RolloutSummary],
    run_id: &str,
) -> std::io::Result<()> {
    let path = dir.join("summary.json");
    let text = std::fs::read_to_string(&path)?;
    let mut doc: Value = serde_json::from_str(&text).map_err(std::io::Error::other)?;
    let audit = f.audit.as_ref();
    if let Some(r) = doc.get_mut("recovery").and_then(Value::as_object_mut) {
        r.insert(
            "time_to_first_success_s".into(),
            opt(f.time_to_first_success_s),
        );
        r.insert("fault_at_s".into(), opt(f.fault_s));
        r.insert("steps_s".into(), opt(f.steps_s));
        r.insert("recovery_started_s".into(), opt(f.recovery_started_s));
        r.insert("window_s".into(), opt(f.criteria.map(|c| c.window_s)));
        r.insert("acknowledged".into(), json!(audit.map(|a| a.acknowledged)));
        r.insert("failed_writes".into(), json!(audit.map(|a| a.failed)));
        r.insert("duplicates".into(), json!(audit.map(|a| a.duplicates)));
        r.insert(
            "unacknowledged".into(),
            json!(audit.map(|a| a.unacknowledged)),
        );
        r.insert("unreadable".into(), json!(audit.map(|a| a.unknown)));
        r.insert(
            "oldest_lost_ack_s".into(),
            opt(audit.and_then(|a| a.oldest_lost_ack_s)),
        );
        r.insert("lost_keys".into(), json!(audit.map(|a| a.lost.clone())));
        r.insert("rpo_not_measured".into(), json!(f.rpo_not_measured));
    }
    if let Some(p) = prediction {
        doc["prediction"] = json!({
            "predicted_by": "simulation (in-process) with the drill's `predict` fault",
            "rto_s": comparison(p.rto_s, summary.recovery.rto_s),
            "rpo_s": comparison(p.rpo_s, summary.recovery.rpo_s),
            "lost_writes": comparison(
                p.lost_writes.map(|x| x as f64),
                summary.recovery.lost_writes.map(|x| x as f64)
            ),
        });
    }
    if !predicted_rollouts.is_empty() {
        // The prediction's own `rollouts` entries, the same type as the drill's.
        doc["prediction"] = json!({
            "predicted_by": "simulation (in-process) of the scenario with this rollout alone",
            "rollouts": predicted_rollouts,
        });
    }
    let steps = |list: &[harness::drill::steps::StepRecord]| -> Vec<Value> {
        list.iter()
            .map(|s| {
                json!({"label": s.label, "kind": s.kind.as_str(), "command": s.command,
                       "start_s": s.start_s, "end_s": s.end_s, "outcome": s.outcome.describe()})
            })
            .collect()
    };
    doc["drill"] = json!({
        "run_id": run_id,
        "steps": steps(&m.steps),
        "rollback": steps(&m.rollback),
        "failed_step": m.failed_step,
        "interrupted": m.interrupted,
        "load_end_s": m.load_end_s,
        "readback": m.readback,
        "requests": m.requests,
    });
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    std::fs::write(&path, text + "\n")?;
    std::fs::write(dir.join("drill.log"), m.log.join("\n") + "\n")?;
    let mut csv = String::from("seq,key,start_s,end_s,acked,attempts,status,present\n");
    for r in &m.audit {
        let present = match m.found.as_ref().and_then(|f| f.get(&r.key)) {
            Some(harness::drill::audit::Presence::Stored(n)) => n.to_string(),
            Some(harness::drill::audit::Presence::Unknown) => "unknown".into(),
            None => String::new(),
        };
        csv.push_str(&format!(
            "{},{},{:.6},{:.6},{},{},{},{}\n",
            r.seq, r.key, r.start_s, r.end_s, r.acked, r.attempts, r.status, present
        ));
    }
    std::fs::write(dir.join("audit.csv"), csv)
}

fn print_figures(
    s: &models::RunSummary,
    f: &summary::DrillFigures,
    prediction: Option<&models::summary::Recovery>,
) {
    let secs = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.3} s"));
    println!("\nrecovery");
    println!("  RTO                    {}", secs(s.recovery.rto_s));
    println!(
        "  time to first success  {}",
        secs(f.time_to_first_success_s)
    );
    println!("  steps took             {}", secs(f.steps_s));
    match (&f.rpo_not_measured, s.recovery.rpo_s) {
        (Some(why), _) => println!("  RPO                    not measured ({why})"),
        (None, r) => println!("  RPO                    {}", secs(r)),
    }
    println!(
        "  lost writes            {}",
        s.recovery
            .lost_writes
            .map_or("-".to_string(), |n| n.to_string())
    );
    if let Some(a) = &f.audit {
        println!(
            "  audited writes         {} ({} acknowledged, {} duplicates, {} unacknowledged but stored)",
            a.writes, a.acknowledged, a.duplicates, a.unacknowledged
        );
    }
    if let Some(p) = prediction {
        println!(
            "  predicted              RTO {}, RPO {}",
            secs(p.rto_s),
            secs(p.rpo_s)
        );
    }
    for v in &s.slos {
        println!("  {:<22} {}", v.name, if v.met { "met" } else { "MISSED" });
    }
}
