//! `twin merge DIR...`: joins the folders of a sharded run into the folder one unsharded run
//! would have written. Sweeps (`kind: "sweep"`, from `twin sweep --shard I/N`): the shards' rows
//! in point order, the same chosen point, the same `sweep.csv` and `sweep.json` byte for byte.
//! Load runs (`kind: "load"`) are refused for now with a clear message.

use crate::exit::{self, Failure};
use models::summary::{RunKind, RunSummary};
use models::sweep::SweepTable;
use models::timeline::Timeline;
use reports::frontier;
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The shards' output folders (any order).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Output folder (default `reports/out/<scenario>-<kind>/`).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(a: Args) -> Result<u8, Failure> {
    let kinds = a
        .dirs
        .iter()
        .map(|d| run_kind(d))
        .collect::<Result<Vec<_>, _>>()?;
    let kind = kinds[0];
    if let Some(k) = kinds.iter().position(|k| *k != kind) {
        return Err(Failure::usage(format!(
            "twin merge: {} holds a {} run and {} a {} run; merge folders of one kind",
            a.dirs[0].display(),
            kind.as_str(),
            a.dirs[k].display(),
            kinds[k].as_str()
        )));
    }
    match kind {
        RunKind::Sweep => merge_sweep(&a.dirs, a.out.as_deref()),
        RunKind::Load => Err(Failure::usage(
            "twin merge: merging load runs (kind \"load\") is not yet supported; each shard's \
             folder has its HDR histograms in histograms/*.hdr for when it is",
        )),
        other => Err(Failure::usage(format!(
            "twin merge: a {} run is not sharded; only sweep and load runs are merged",
            other.as_str()
        ))),
    }
}

fn merge_sweep(dirs: &[PathBuf], out: Option<&Path>) -> Result<u8, Failure> {
    let tables = dirs
        .iter()
        .map(|d| frontier::read_sweep(d).map_err(|e| Failure::usage(format!("twin merge: {e}"))))
        .collect::<Result<Vec<_>, _>>()?;
    // Where each point's summary is, before the tables move into the merge.
    let owners: Vec<(usize, &PathBuf)> = tables
        .iter()
        .zip(dirs)
        .flat_map(|(t, d)| t.rows.iter().map(move |r| (r.point, d)))
        .collect();
    let shard_choices: Vec<(Option<usize>, &PathBuf)> = tables
        .iter()
        .zip(dirs)
        .map(|(t, d)| (t.chosen.as_ref().map(|c| c.point), d))
        .collect();
    let table =
        SweepTable::merge(tables).map_err(|e| Failure::usage(format!("twin merge: {e}")))?;
    let mut points: Vec<(usize, RunSummary)> = Vec::with_capacity(owners.len());
    for (index, dir) in &owners {
        let s = frontier::read_point(dir, *index)
            .map_err(|e| Failure::usage(format!("twin merge: {e}")))?;
        points.push((*index, s));
    }
    points.sort_by_key(|p| p.0);
    let chosen = table
        .chosen
        .as_ref()
        .map(|c| c.point)
        .ok_or_else(|| Failure::usage("twin merge: the shards hold no point"))?;
    let mut summary = points
        .iter()
        .find(|p| p.0 == chosen)
        .map(|p| p.1.clone())
        .ok_or_else(|| Failure::usage(format!("twin merge: no summary for point {chosen}")))?;
    summary.kind = RunKind::Sweep;
    // The shard that chose the same point wrote its timeline (the best of the sweep is the best
    // of its shards' bests, so one did).
    let timeline = match shard_choices.iter().find(|(c, _)| *c == Some(chosen)) {
        Some((_, dir)) => reports::json::read_timeline(&dir.join(reports::TIMELINE_FILE))
            .map_err(|e| Failure::usage(format!("twin merge: {e}")))?,
        None => {
            eprintln!("twin merge: no shard kept the timeline of point {chosen}; the report has no time charts");
            Timeline::default()
        }
    };
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("reports/out/{}-sweep", table.scenario)));
    if dirs.iter().any(|d| same_folder(d, &dir)) {
        return Err(Failure::usage(format!(
            "twin merge: the output folder {} is one of the shards; choose another --out",
            dir.display()
        )));
    }
    frontier::write_sweep(&dir, &table, &summary, &timeline, &points).map_err(|e| {
        Failure::run(format!(
            "{}: cannot write the merged sweep: {e}",
            dir.display()
        ))
    })?;
    crate::cmd::sweep::print_outcome(&table);
    println!("wrote {}", dir.join(reports::REPORT_FILE).display());
    Ok(exit::from_verdicts(table.some_point_passes()))
}

/// The `kind` of the run whose folder `dir` is (only that field is read, so a folder written
/// by another version of twin is still recognised).
fn run_kind(dir: &Path) -> Result<RunKind, Failure> {
    let path = dir.join(reports::SUMMARY_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        Failure::usage(format!(
            "twin merge: cannot read {}: {e} (expected a run's output folder)",
            path.display()
        ))
    })?;
    serde_json::from_str::<serde_json::Value>(&text)
        .and_then(|v| serde_json::from_value::<RunKind>(v["kind"].clone()))
        .map_err(|e| {
            Failure::usage(format!(
                "twin merge: {} is not a run summary with a kind: {e}",
                path.display()
            ))
        })
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
