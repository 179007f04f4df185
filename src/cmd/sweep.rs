//! `twin sweep`: capacity planning over a grid. Expands `--vary` dimensions into points
//! (`models::sweep`), loads and checks every point's scenario before simulating any (a bad path
//! or value is exit 2), simulates the points of this `--shard` in parallel on rayon's pool
//! (each point's replications nested on the same pool, so that a slow point spreads over the
//! cores: benches/sweep-scaling.sh), and writes the sweep folder
//! through `reports::frontier`: `sweep.csv`, `sweep.json`, the chosen point's `summary.json`
//! (`kind: "sweep"`) and `report.html` with the frontier chart.

use crate::exit::{self, Failure};
use crate::scenario_file;
use models::summary::{RunKind, RunSummary};
use models::sweep::{
    self, CostBasis, Dimension, Grid, Parameters, Pick, PickRule, RolloutBound, Shard, SweepRow,
    SweepTable,
};
use models::{Duration, Scenario};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// Scenario file.
    pub scenario: PathBuf,
    /// A dimension of the grid: `--vary services.api.replicas=1,2,3` (repeat for more; the
    /// grid is their cartesian product).
    #[arg(long = "vary", value_name = "PATH=V1,V2,...", required = true)]
    pub vary: Vec<String>,
    /// Run only the points whose index modulo N is I (from 0), e.g. `--shard 0/4`; `twin merge`
    /// joins the shards' folders.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Replications of each point (default: the scenario's).
    #[arg(long)]
    pub replications: Option<u32>,
    /// Simulated time of each point, e.g. `10m`.
    #[arg(long)]
    pub horizon: Option<String>,
    /// Which point to report: `cheapest` (the cheapest point that meets every SLO, the
    /// default) or `fastest` (the fastest rollout plan whose worst-case damage stays within
    /// every `--bound`).
    #[arg(long, value_name = "cheapest|fastest")]
    pub pick: Option<String>,
    /// With `--pick fastest`: a limit on every rollout's worst replication,
    /// `damage_share<=0.3%` (failed visits of the new version over journeys started) or
    /// `errors_new<=20` (repeat for more).
    #[arg(long = "bound", value_name = "METRIC<=VALUE")]
    pub bounds: Vec<String>,
    /// Override a scenario value at every point: `--set workload.arrivals.poisson.rate=50/s`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<String>,
    /// Output folder (default `reports/out/<scenario>-sweep/`, or `...-sweep-shard-I-of-N/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Run each point's replications one after another on the point's thread instead of
    /// letting rayon nest them (measured slower: one slow point, e.g. an unstable queue, then
    /// holds a core alone); for benchmarks, the results are the same.
    #[arg(long, hide = true)]
    pub sequential_replications: bool,
}

/// One grid point ready to simulate.
struct Point {
    index: usize,
    parameters: Parameters,
    scenario: Scenario,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let dimensions = a
        .vary
        .iter()
        .map(|v| Dimension::parse(v))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::usage)?;
    let grid = Grid::new(dimensions).map_err(Failure::usage)?;
    let rule = PickRule {
        pick: match &a.pick {
            Some(p) => Pick::parse(p).map_err(Failure::usage)?,
            None => Pick::Cheapest,
        },
        bounds: a
            .bounds
            .iter()
            .map(|b| RolloutBound::parse(b))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Failure::usage)?,
    };
    match (rule.pick, rule.bounds.is_empty()) {
        (Pick::Fastest, true) => {
            return Err(Failure::usage(
                "--pick fastest needs a --bound on the damage, e.g. --bound 'damage_share<=0.3%'",
            ))
        }
        (Pick::Cheapest, false) => {
            return Err(Failure::usage(
                "--bound limits a rollout's damage for --pick fastest; add --pick fastest",
            ))
        }
        _ => {}
    }
    let shard = match &a.shard {
        Some(s) => Shard::parse(s).map_err(Failure::usage)?,
        None => Shard::WHOLE,
    };
    let mut sets = a.sets.clone();
    if let Some(s) = a.seed {
        sets.push(format!("seed={s}"));
    }
    if let Some(r) = a.replications {
        sets.push(format!("replications={r}"));
    }
    if let Some(h) = &a.horizon {
        Duration::parse(h).map_err(|e| Failure::usage(format!("--horizon: {e}")))?;
        sets.push(format!("horizon={h}"));
    }
    let base = scenario_file::load(Some(&a.scenario), &sets)?;
    for w in &base.warnings {
        eprintln!("{w}");
    }
    let base = base.scenario;
    if rule.pick == Pick::Fastest && base.rollouts.is_empty() {
        return Err(Failure::usage(format!(
            "--pick fastest chooses among rollout plans, and {} has no `rollouts:`",
            a.scenario.display()
        )));
    }
    check_dimensions(&a.scenario, &sets, &grid)?;
    let indices = grid.shard_points(shard);
    if indices.is_empty() {
        return Err(Failure::usage(format!(
            "--shard {shard}: the grid has only {} point(s), so this shard has none; use at \
             most {} shards",
            grid.len(),
            grid.len()
        )));
    }
    let points = indices
        .into_iter()
        .map(|index| load_point(&a.scenario, &sets, &grid, index))
        .collect::<Result<Vec<_>, _>>()?;

    let journeys: Vec<&str> = base
        .workload
        .journeys
        .iter()
        .map(|j| j.name.as_str())
        .collect();
    let frontier_journey = sweep::frontier_journey(&base.slos, &journeys);
    eprintln!(
        "sweep: {} of {} point(s){}, {} replication(s) each, on {} thread(s)",
        points.len(),
        grid.len(),
        if shard == Shard::WHOLE {
            String::new()
        } else {
            format!(" (shard {shard})")
        },
        base.replications,
        rayon::current_num_threads()
    );
    let options = sim::Options {
        sequential: a.sequential_replications,
    };
    let started = std::time::Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let summaries: Vec<RunSummary> = crate::progress::follow(
        "sweep",
        points.len() as u64,
        crate::progress::Unit::Items("points"),
        &done,
        || {
            points
                .par_iter()
                .map(|p| {
                    let s = super::predict(&p.scenario, &options).summary;
                    done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    s
                })
                .collect()
        },
    );
    let wall = started.elapsed().as_secs_f64();
    eprintln!(
        "sweep: {} point(s) in {wall:.2} s ({:.1} points per minute)",
        points.len(),
        points.len() as f64 * 60.0 / wall.max(1e-9)
    );
    let rows: Vec<SweepRow> = points
        .iter()
        .zip(&summaries)
        .map(|(p, s)| {
            SweepRow::from_summary(
                p.index,
                p.parameters.clone(),
                s,
                frontier_journey.as_deref(),
            )
        })
        .collect();
    let table = SweepTable::new(
        base.name.clone(),
        base.seed,
        base.replications,
        grid,
        Some(shard),
        frontier_journey,
        rows,
    )
    .with_rule(rule);
    let chosen = table
        .chosen
        .as_ref()
        .and_then(|c| points.iter().position(|p| p.index == c.point))
        .ok_or_else(|| Failure::run("the sweep ran no point"))?;
    // The chosen point again, for its timeline (kept for one point rather than all): the
    // simulator's result depends only on the scenario and seed, so its summary is the row's.
    let again = super::predict(&points[chosen].scenario, &sim::Options::default());
    let mut summary = again.summary;
    summary.kind = RunKind::Sweep;
    let dir = a.out.clone().unwrap_or_else(|| {
        PathBuf::from(if shard == Shard::WHOLE {
            format!("reports/out/{}-sweep", base.name)
        } else {
            format!(
                "reports/out/{}-sweep-shard-{}-of-{}",
                base.name, shard.index, shard.count
            )
        })
    });
    let point_summaries: Vec<(usize, RunSummary)> =
        points.iter().map(|p| p.index).zip(summaries).collect();
    reports::frontier::write_sweep(&dir, &table, &summary, &again.timeline, &point_summaries)
        .map_err(|e| Failure::run(format!("{}: cannot write the sweep: {e}", dir.display())))?;
    print_outcome(&table);
    println!("wrote {}", dir.join(reports::REPORT_FILE).display());
    Ok(exit::from_verdicts(table.some_point_passes()))
}

/// Every value of every dimension on its own over the base scenario, so that a bad path or value
/// is named as the `--vary` it came from.
fn check_dimensions(scenario: &Path, sets: &[String], grid: &Grid) -> Result<(), Failure> {
    for d in &grid.dimensions {
        for v in &d.values {
            let mut with = sets.to_vec();
            with.push(format!("{}={v}", d.path));
            scenario_file::load(Some(scenario), &with).map_err(|e| {
                Failure::usage(format!(
                    "--vary {}: the value `{v}` does not make a valid scenario:\n{}",
                    d.path, e.message
                ))
            })?;
        }
    }
    Ok(())
}

/// Loads one point's scenario: the file, the `--set` overrides, then the point's parameters.
fn load_point(
    scenario: &Path,
    sets: &[String],
    grid: &Grid,
    index: usize,
) -> Result<Point, Failure> {
    let parameters = grid
        .point(index)
        .ok_or_else(|| Failure::run(format!("point {index} is outside the grid")))?;
    let mut with = sets.to_vec();
    with.extend(parameters.iter().map(|(p, v)| format!("{p}={v}")));
    let loaded = scenario_file::load(Some(scenario), &with).map_err(|e| {
        let shown: Vec<String> = parameters.iter().map(|(p, v)| format!("{p}={v}")).collect();
        Failure::usage(format!(
            "sweep point {index} ({}) is not a valid scenario:\n{}",
            shown.join(", "),
            e.message
        ))
    })?;
    Ok(Point {
        index,
        parameters,
        scenario: loaded.scenario,
    })
}

/// The rows, then the cheapest point that meets every SLO with its margin per SLO (or the
/// closest point when none does).
pub fn print_outcome(table: &SweepTable) {
    let basis = table.cost_basis;
    let mut header = format!("{:>6}", "point");
    for d in &table.grid.dimensions {
        header.push_str(&format!("  {:<24}", d.path));
    }
    header.push_str(&format!("  {:>10}  verdict", short_basis(basis)));
    println!("{header}");
    for r in &table.rows {
        let mut line = format!("{:>6}", r.point);
        for d in &table.grid.dimensions {
            line.push_str(&format!(
                "  {:<24}",
                r.parameters.get(&d.path).map_or("", String::as_str)
            ));
        }
        let missed: Vec<&str> = r
            .slos
            .iter()
            .filter(|c| !c.met)
            .map(|c| c.name.as_str())
            .collect();
        let verdict = if missed.is_empty() {
            "every SLO met".to_string()
        } else {
            format!("missed {}", missed.join("; "))
        };
        line.push_str(&format!(
            "  {:>10}  {verdict}",
            price(r.price(basis), basis)
        ));
        println!("{line}");
    }
    println!();
    if basis == CostBasis::Replicas {
        println!(
            "note: the run summaries carry no cost; points are ranked by replicas summed over \
             services (a proxy, not a price)"
        );
    }
    let Some(c) = &table.chosen else { return };
    if table.rule.pick == Pick::Fastest {
        print_fastest(table, c);
        return;
    }
    let params: Vec<String> = c
        .parameters
        .iter()
        .map(|(p, v)| format!("{p}={v}"))
        .collect();
    if c.meets_every_slo {
        println!(
            "cheapest point that meets every SLO: point {} ({}), {} {}",
            c.point,
            params.join(", "),
            short_basis(basis),
            price(c.price, basis)
        );
    } else {
        println!(
            "no point meets every SLO; the closest: point {} ({}), {} {}",
            c.point,
            params.join(", "),
            short_basis(basis),
            price(c.price, basis)
        );
    }
    for m in &c.margins {
        let observed = m
            .observed
            .map_or("not measured".into(), |o| format!("{o:.4}"));
        let margin = match (m.margin, m.margin_ratio) {
            (Some(v), Some(r)) => format!("margin {v:.4} ({:+.1}% of the bound)", r * 100.0),
            (Some(v), None) => format!("margin {v:.4}"),
            _ => "no margin (not measured)".into(),
        };
        println!(
            "  {} {:<40} observed {observed}, {margin}",
            if m.met { "MET   " } else { "MISSED" },
            m.name
        );
    }
}

/// Under `--pick fastest`: each point's rollouts (plan, outcome, worst damage), then the
/// fastest plan within the bounds.
fn print_fastest(table: &SweepTable, c: &sweep::Chosen) {
    let bounds: Vec<String> = table.rule.bounds.iter().map(ToString::to_string).collect();
    for r in &table.rows {
        for cell in &r.rollouts {
            println!(
                "{:>6}  rollout {}: plan {:.0} s of pauses, {} promoted / {} rolled back / {} \
                 undecided, done after {} s, damage {:.4} % (worst {:.4} %, {} failed visits)",
                r.point,
                cell.name,
                cell.planned_pause_s,
                cell.promoted,
                cell.rolled_back,
                cell.in_progress,
                cell.duration_s.map_or("-".into(), |d| format!("{d:.1}")),
                cell.damage_share * 100.0,
                cell.worst_damage_share * 100.0,
                cell.worst_errors_new
            );
        }
    }
    println!();
    let params: Vec<String> = c
        .parameters
        .iter()
        .map(|(p, v)| format!("{p}={v}"))
        .collect();
    let planned: f64 = c.rollouts.iter().map(|r| r.planned_pause_s).sum();
    if c.within_bounds == Some(true) {
        println!(
            "fastest rollout plan within {}: point {} ({}), {planned:.0} s of pauses",
            bounds.join(" and "),
            c.point,
            params.join(", ")
        );
    } else {
        println!(
            "no rollout plan stays within {} in its worst replication; the closest: point {} ({})",
            bounds.join(" and "),
            c.point,
            params.join(", ")
        );
    }
}

fn short_basis(basis: CostBasis) -> &'static str {
    match basis {
        CostBasis::MonthlyUsd => "USD/month",
        CostBasis::Replicas => "replicas*",
    }
}

fn price(v: f64, basis: CostBasis) -> String {
    match basis {
        CostBasis::MonthlyUsd => format!("${v:.2}"),
        CostBasis::Replicas => format!("{v:.2}"),
    }
}
