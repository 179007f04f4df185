//! `twin merge DIR...`: joins the folders of a sharded run into the folder one unsharded run
//! would have written. Sweeps (`kind: "sweep"`, from `twin sweep --shard I/N`): the shards' rows
//! in point order, the same chosen point, the same `sweep.csv` and `sweep.json` byte for byte.
//! Load runs (`kind: "load"`, from `twin load --shard I/N`): the folder one unsharded run would
//! have written, from the shards' HDR histograms (added exactly, percentiles recomputed),
//! counts and rates summed, windows merged by index, SLOs judged again on the merged summary,
//! and `partial` if any shard was. Streams' time to first token and gaps, and the per-tag
//! split, merge the same way (their histograms added, their counts summed).

use crate::cmd::load::{file_name, stream_file, tag_file, write_extras, LATENESS_FILE, LOAD_FILE};
use crate::exit::{self, Failure};
use harness::measure::{
    journey_summary, read_histogram, ErrorKind, Histogram, Measured, Stats, StreamStats, Window,
};
use indexmap::IndexMap;
use models::fidelity::{Comparison, PercentileComparison};
use models::slo::{Slo, SloMetric};
use models::summary::LatencyStats;
use models::summary::{RunKind, RunSummary};
use models::sweep::SweepTable;
use models::timeline::Timeline;
use reports::frontier;
use serde_json::{json, Value};
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
        RunKind::Load => merge_load(&a.dirs, a.out.as_deref()),
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

/// One shard of a load run, as read back from its folder.
struct LoadShard {
    dir: PathBuf,
    summary: RunSummary,
    timeline: Timeline,
    detail: Value,
    measured: Measured,
    index: u64,
    count: u64,
}

fn merge_load(dirs: &[PathBuf], out: Option<&Path>) -> Result<u8, Failure> {
    let shards = dirs
        .iter()
        .map(|d| read_load_shard(d))
        .collect::<Result<Vec<_>, _>>()?;
    let first = &shards[0];
    let n = first.count;
    for s in &shards {
        let differs = |what: &str| {
            Failure::usage(format!(
                "twin merge: {} and {} are not shards of one load run ({what} differs)",
                first.dir.display(),
                s.dir.display()
            ))
        };
        if s.summary.scenario != first.summary.scenario {
            return Err(differs("the scenario"));
        }
        if s.count != n {
            return Err(differs("the N of --shard I/N"));
        }
        if s.summary.horizon_s != first.summary.horizon_s {
            return Err(differs("the duration"));
        }
        if s.measured.window_s != first.measured.window_s {
            return Err(differs("the window"));
        }
    }
    let mut seen = vec![false; n as usize];
    for s in &shards {
        let slot = &mut seen[s.index as usize];
        if *slot {
            return Err(Failure::usage(format!(
                "twin merge: shard {}/{n} is given twice ({} is one)",
                s.index,
                s.dir.display()
            )));
        }
        *slot = true;
    }
    if let Some(missing) = seen.iter().position(|x| !x) {
        return Err(Failure::usage(format!(
            "twin merge: shard {missing}/{n} is missing: give the folders of all {n} shards"
        )));
    }

    let mut measured = first.measured.clone();
    for s in &shards[1..] {
        measured.add(&s.measured);
    }
    let mut timeline = measured.build_timeline();
    // Observers scrape the deployment, not the load: every shard saw the same series, so the
    // first shard's are kept; events are the first shard's too.
    for (name, v) in &first.timeline.series {
        timeline
            .series
            .entry(name.clone())
            .or_insert_with(|| v.clone());
    }
    timeline.events = first.timeline.events.clone();
    measured.timeline = timeline;

    let summary = merged_summary(&shards, &measured)?;
    let dir = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(format!("reports/out/{}-load", summary.scenario)));
    if dirs.iter().any(|d| same_folder(d, &dir)) {
        return Err(Failure::usage(format!(
            "twin merge: the output folder {} is one of the shards; choose another --out",
            dir.display()
        )));
    }
    reports::write_run(&dir, &summary, &measured.timeline)
        .map_err(|e| Failure::run(format!("{}: cannot write the report: {e}", dir.display())))?;
    let users: u64 = shards
        .iter()
        .filter_map(|s| s.detail["users"].as_u64())
        .sum();
    let target = first.detail["target"].as_str().unwrap_or_default();
    write_extras(
        &dir,
        &measured,
        target,
        users as usize,
        json!({"index": 0, "count": 1, "merged_from": n}),
        &first.detail["observers"],
    )
    .map_err(|e| Failure::run(format!("{}: cannot write: {e}", dir.display())))?;
    crate::cmd::simulate::print_table(&summary);
    println!("merged {n} shards: {} requests", measured.requests);
    println!("wrote {}", dir.join(reports::REPORT_FILE).display());
    if summary.partial {
        eprintln!("a shard was interrupted: the merged run is partial");
        return Ok(exit::RUN_FAILED);
    }
    Ok(exit::from_verdicts(summary.all_slos_met()))
}

/// The summary one unsharded run would have written: the first shard's, with the journeys from
/// the merged histograms, the services' throughput summed, the SLOs judged again and the
/// prediction compared with the merged measurement.
fn merged_summary(shards: &[LoadShard], m: &Measured) -> Result<RunSummary, Failure> {
    let first = &shards[0].summary;
    let slos = first
        .slos
        .iter()
        .map(|v| {
            Slo::parse(&v.name).map_err(|e| {
                Failure::usage(format!(
                    "twin merge: {}: the SLO `{}` does not parse: {e}",
                    shards[0].dir.display(),
                    v.name
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let extra: Vec<f64> = slos
        .iter()
        .filter_map(|s| match s.metric {
            SloMetric::Percentile(q) if !LatencyStats::STANDARD.contains(&q) => Some(q),
            _ => None,
        })
        .collect();
    let mut summary = first.clone();
    summary.journeys = m
        .journeys
        .iter()
        .map(|(name, s)| (name.clone(), journey_summary(s, &extra)))
        .collect();
    summary.tags = m
        .tags
        .iter()
        .map(|(name, s)| (name.clone(), journey_summary(s, &extra)))
        .collect();
    for (name, svc) in summary.services.iter_mut() {
        svc.throughput_rps = shards
            .iter()
            .filter_map(|s| s.summary.services.get(name))
            .map(|x| x.throughput_rps)
            .sum();
    }
    summary.partial = shards.iter().any(|s| s.summary.partial);
    summary.engine.events = shards.iter().map(|s| s.summary.engine.events).sum();
    summary.engine.wall_s = shards
        .iter()
        .map(|s| s.summary.engine.wall_s)
        .fold(0.0, f64::max);
    let mut warnings: Vec<String> = Vec::new();
    for w in shards.iter().flat_map(|s| &s.summary.warnings) {
        if !warnings.contains(w) {
            warnings.push(w.clone());
        }
    }
    summary.warnings = warnings;
    if let Some(f) = summary.fidelity.as_mut() {
        for (name, j) in f.journeys.iter_mut() {
            let Some(mj) = summary.journeys.get(name) else {
                continue;
            };
            let again = |c: &Comparison, measured: f64| Comparison::new(c.predicted, measured);
            j.mean_ms = again(&j.mean_ms, mj.latency_ms.mean);
            j.p50_ms = again(&j.p50_ms, mj.latency_ms.p50);
            j.p95_ms = again(&j.p95_ms, mj.latency_ms.p95);
            j.p99_ms = again(&j.p99_ms, mj.latency_ms.p99);
            j.error_rate = again(&j.error_rate, mj.error_rate);
            let stream = |c: &mut Option<PercentileComparison>, m: Option<&LatencyStats>| {
                *c = c.take().zip(m).map(|(c, m)| PercentileComparison {
                    p50: again(&c.p50, m.p50),
                    p95: again(&c.p95, m.p95),
                    p99: again(&c.p99, m.p99),
                });
            };
            stream(&mut j.ttft_ms, mj.ttft_ms.as_ref());
            stream(&mut j.itl_ms, mj.itl_ms.as_ref());
        }
    }
    summary.slos = slos.iter().map(|s| s.verdict(&summary)).collect();
    Ok(summary)
}

fn read_load_shard(dir: &Path) -> Result<LoadShard, Failure> {
    let bad = |what: String| Failure::usage(format!("twin merge: {}: {what}", dir.display()));
    let path = dir.join(LOAD_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        bad(format!(
            "cannot read {LOAD_FILE}: {e} (written by `twin load`)"
        ))
    })?;
    let detail: Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("{LOAD_FILE} is not JSON: {e}")))?;
    let summary = reports::json::read_summary(&dir.join(reports::SUMMARY_FILE))
        .map_err(|e| bad(e.to_string()))?;
    let timeline = reports::json::read_timeline(&dir.join(reports::TIMELINE_FILE))
        .map_err(|e| bad(e.to_string()))?;
    let (Some(index), Some(count)) = (
        detail["shard"]["index"].as_u64(),
        detail["shard"]["count"].as_u64(),
    ) else {
        return Err(bad(format!(
            "{LOAD_FILE} names no shard (written by an older twin, or already merged)"
        )));
    };
    if detail["shard"].get("merged_from").is_some() || count == 0 || index >= count {
        return Err(bad(format!(
            "{LOAD_FILE} is not a shard of a sharded run (shard {index}/{count})"
        )));
    }
    let window_s = detail["window_s"]
        .as_f64()
        .ok_or_else(|| bad(format!("{LOAD_FILE} has no window_s")))?;
    let hist = |name: &str| -> Result<Histogram<u64>, Failure> {
        let path = dir.join("histograms").join(name);
        let mut f = std::fs::File::open(&path)
            .map_err(|e| bad(format!("cannot read histograms/{name}: {e}")))?;
        read_histogram(&mut f).map_err(|e| bad(format!("histograms/{name}: {e}")))
    };
    let counts = |v: &Value| -> IndexMap<&'static str, u64> {
        v.as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, n)| Some((ErrorKind::parse(k)?.as_str(), n.as_u64()?)))
            .collect()
    };
    let statuses = |v: &Value| -> IndexMap<String, u64> {
        v.as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, n)| Some((k.clone(), n.as_u64()?)))
            .collect()
    };
    // A journey's or step's streams: tokens in load.json, then its file's two histograms.
    let stream = |d: &Value, file: String| -> Result<Option<StreamStats>, Failure> {
        let Some(tokens) = d["stream_tokens"].as_u64() else {
            return Ok(None);
        };
        let path = dir.join("histograms").join(&file);
        let mut f = std::fs::File::open(&path)
            .map_err(|e| bad(format!("cannot read histograms/{file}: {e}")))?;
        let mut next =
            || read_histogram(&mut f).map_err(|e| bad(format!("histograms/{file}: {e}")));
        Ok(Some(StreamStats {
            ttft: next()?,
            itl: next()?,
            tokens,
        }))
    };
    let mut journeys = IndexMap::new();
    let mut windows = IndexMap::new();
    for (name, j) in &summary.journeys {
        let d = &detail["journeys"][name];
        journeys.insert(
            name.clone(),
            Stats {
                latency: hist(&format!("journey-{}.hdr", file_name(name)))?,
                count: j.count,
                errors: j.errors,
                by_kind: counts(&d["errors_by_kind"]),
                by_status: statuses(&d["errors_by_status"]),
                stream: stream(d, stream_file("journey", name))?,
                ..Stats::default()
            },
        );
        let rows = detail["windows"][name]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let path = dir
            .join("histograms")
            .join(format!("windows-{}.hdr", file_name(name)));
        let mut f = std::fs::File::open(&path)
            .map_err(|e| bad(format!("cannot read {}: {e}", path.display())))?;
        let mut ws = Vec::with_capacity(rows.len());
        for row in &rows {
            let h = read_histogram(&mut f).map_err(|e| bad(format!("{}: {e}", path.display())))?;
            ws.push(Window {
                hist: h,
                count: row[0].as_u64().unwrap_or(0),
                errors: row[1].as_u64().unwrap_or(0),
            });
        }
        windows.insert(name.clone(), ws);
    }
    let mut steps = IndexMap::new();
    if let Some(map) = detail["steps"].as_object() {
        for (name, d) in map {
            let file = file_name(name);
            steps.insert(
                name.clone(),
                Stats {
                    latency: hist(&format!("step-{file}.hdr"))?,
                    ttfb: hist(&format!("ttfb-{file}.hdr"))?,
                    count: d["summary"]["count"].as_u64().unwrap_or(0),
                    errors: d["summary"]["errors"].as_u64().unwrap_or(0),
                    by_kind: counts(&d["errors_by_kind"]),
                    by_status: statuses(&d["errors_by_status"]),
                    by_check: statuses(&d["errors_by_check"]),
                    stream: stream(d, stream_file("step", name))?,
                },
            );
        }
    }
    // A folder written before tags were kept beside a shard has none to add.
    let mut tags = IndexMap::new();
    for (k, t) in detail["tags"].as_array().into_iter().flatten().enumerate() {
        let name = t["tag"]
            .as_str()
            .ok_or_else(|| bad(format!("{LOAD_FILE}: tag {k} has no name")))?;
        tags.insert(
            name.to_string(),
            Stats {
                latency: hist(&tag_file(k))?,
                count: t["count"].as_u64().unwrap_or(0),
                errors: t["errors"].as_u64().unwrap_or(0),
                by_kind: counts(&t["errors_by_kind"]),
                by_status: statuses(&t["errors_by_status"]),
                ..Stats::default()
            },
        );
    }
    let offered = detail["offered"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v.as_u64().unwrap_or(0))
        .collect();
    let measured = Measured {
        journeys,
        steps,
        tags,
        windows,
        offered,
        window_s,
        timeline: Timeline::default(),
        requests: detail["requests"].as_u64().unwrap_or(0),
        late_starts: detail["late_starts"].as_u64().unwrap_or(0),
        max_lateness: std::time::Duration::from_secs_f64(
            detail["max_lateness_ms"].as_f64().unwrap_or(0.0).max(0.0) / 1000.0,
        ),
        // A folder written before start lateness was kept has none to add.
        lateness: if dir.join("histograms").join(LATENESS_FILE).exists() {
            hist(LATENESS_FILE)?
        } else {
            harness::measure::new_histogram()
        },
    };
    Ok(LoadShard {
        dir: dir.to_path_buf(),
        summary,
        timeline,
        detail,
        measured,
        index,
        count,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use harness::measure::new_histogram;

    fn hist(ms: &[u64]) -> Histogram<u64> {
        let mut h = new_histogram();
        for v in ms {
            h.record(v * 1000).expect("in range");
        }
        h
    }

    /// A journey (or step) with the given latencies and streams.
    fn stats(latency: &[u64], errors: u64, ttft: &[u64], itl: &[u64], tokens: u64) -> Stats {
        Stats {
            latency: hist(latency),
            count: latency.len() as u64 + errors,
            errors,
            stream: Some(StreamStats {
                ttft: hist(ttft),
                itl: hist(itl),
                tokens,
            }),
            ..Stats::default()
        }
    }

    /// Writes shard `index` of 2 as `twin load --shard index/2` would.
    fn shard(dir: &Path, index: u64, chat: Stats, tag: Stats) {
        let mut m = Measured {
            journeys: [("chat".to_string(), chat.clone())].into_iter().collect(),
            steps: [("chat/0 llm".to_string(), chat)].into_iter().collect(),
            tags: [("tenant=a".to_string(), tag)].into_iter().collect(),
            windows: [("chat".to_string(), vec![Window::default()])]
                .into_iter()
                .collect(),
            offered: vec![1],
            window_s: 1.0,
            timeline: Timeline::default(),
            requests: 3,
            late_starts: 0,
            max_lateness: std::time::Duration::ZERO,
            lateness: new_histogram(),
        };
        m.timeline = m.build_timeline();
        let summary = RunSummary {
            journeys: m
                .journeys
                .iter()
                .map(|(n, s)| (n.clone(), journey_summary(s, &[])))
                .collect(),
            tags: m
                .tags
                .iter()
                .map(|(n, s)| (n.clone(), journey_summary(s, &[])))
                .collect(),
            ..RunSummary::empty(RunKind::Load, "streams", 1, 1, 10.0)
        };
        reports::write_run(dir, &summary, &m.timeline).expect("write the shard");
        write_extras(
            dir,
            &m,
            "http://127.0.0.1:1",
            1,
            json!({"index": index, "count": 2}),
            &Value::Null,
        )
        .expect("write load.json");
    }

    fn read_json(p: PathBuf) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&p).expect("read")).expect("JSON")
    }

    /// Within the HDR histograms' 0.1 % (3 significant digits).
    fn near(v: &Value, want: f64) {
        let got = v.as_f64().unwrap_or(f64::NAN);
        assert!((got - want).abs() <= want * 1e-3, "{got} vs {want}");
    }

    #[test]
    fn streams_and_tags_of_two_shards_add_exactly() {
        let tmp = tempfile::tempdir().expect("temporary folder");
        let (d0, d1, out) = (
            tmp.path().join("0"),
            tmp.path().join("1"),
            tmp.path().join("m"),
        );
        // Shard 0: first tokens at 500 and 700 ms, three 20 ms gaps, 10 tokens; shard 1: 600,
        // 900 and 1000 ms, one 40 ms gap, 7 tokens. tenant=a: 100 ms; 300 ms and an error.
        shard(
            &d0,
            0,
            stats(&[1000, 1200], 0, &[500, 700], &[20, 20, 20], 10),
            Stats {
                stream: None,
                ..stats(&[100], 0, &[], &[], 0)
            },
        );
        shard(
            &d1,
            1,
            stats(&[1100, 1300, 1500], 0, &[600, 900, 1000], &[40], 7),
            Stats {
                stream: None,
                ..stats(&[300], 1, &[], &[], 0)
            },
        );
        let code = merge_load(&[d1.clone(), d0.clone()], Some(&out)).expect("merged");
        assert_eq!(code, exit::OK);
        let s = read_json(out.join(reports::SUMMARY_FILE));
        let chat = &s["journeys"]["chat"];
        // 500, 600, 700, 900, 1000: the median is the third, 700 ms (500 and 900 in the
        // shards alone); the mean 740 ms.
        near(&chat["ttft_ms"]["p50"], 700.0);
        near(&chat["ttft_ms"]["mean"], 740.0);
        near(&chat["ttft_ms"]["max"], 1000.0);
        // 20, 20, 20, 40: p50 20, p95 40, mean 25.
        near(&chat["itl_ms"]["p50"], 20.0);
        near(&chat["itl_ms"]["p95"], 40.0);
        near(&chat["itl_ms"]["mean"], 25.0);
        assert_eq!(chat["tokens"], 17);
        // The step's streams merge too (load.json), and a second merge could read them back.
        let detail = read_json(out.join(LOAD_FILE));
        near(
            &detail["steps"]["chat/0 llm"]["summary"]["ttft_ms"]["p50"],
            700.0,
        );
        assert_eq!(detail["journeys"]["chat"]["stream_tokens"], 17);
        // The tag: 3 requests, 1 error, latency over the two successes 100 and 300 ms.
        let tag = &s["tags"]["tenant=a"];
        assert_eq!(
            (tag["count"].as_u64(), tag["errors"].as_u64()),
            (Some(3), Some(1))
        );
        near(&tag["latency_ms"]["p50"], 100.0);
        near(&tag["latency_ms"]["max"], 300.0);
    }
}
