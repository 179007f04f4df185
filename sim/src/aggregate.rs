//! Merging replications into one summary and one timeline: histograms merge exactly, means
//! come from exact sums, and confidence intervals from the spread across replications.

use crate::engine::ReplicationResult;
use crate::metrics::{percentile_ms, StreamMetrics};
use crate::model::Model;
use crate::stats::ci95;
use crate::Output;
use hdrhistogram::Histogram;
use indexmap::IndexMap;
use models::summary::{
    BatcherSummary, CloudRunSummary, Components, EngineStats, JourneySummary, LatencyCi,
    LatencyStats, LlmSummary, PoolSummary, QueueWait, RaySummary, Recovery, ReplicaStats, RunKind,
    RunSummary, ServiceSummary, TopicSummary,
};
use models::timeline::{Timeline, WindowStats};
use models::Scenario;

/// A stream distribution over the replications (each its histogram and exact sum, in
/// nanoseconds): the merged statistics and the 95 % intervals of the mean and p95 across
/// replications; `None` without a sample (a verdict on it is then "no data", never a 0 ms that
/// passes).
fn stream_stats<'a>(
    reps: impl Iterator<Item = (&'a Histogram<u64>, f64)>,
    extra_q: &[f64],
) -> (Option<LatencyStats>, Option<LatencyCi>) {
    let mut hist = crate::metrics::latency_histogram();
    let mut sum = 0.0;
    let (mut rep_means, mut rep_p95) = (Vec::new(), Vec::new());
    for (h, s) in reps {
        let _ = hist.add(h);
        sum += s;
        if !h.is_empty() {
            rep_means.push(s / h.len() as f64 / 1e6);
            rep_p95.push(percentile_ms(h, 95.0));
        }
    }
    if hist.is_empty() {
        return (None, None);
    }
    let mut stats = LatencyStats {
        mean: sum / hist.len() as f64 / 1e6,
        max: hist.max() as f64 / 1000.0,
        ..Default::default()
    };
    for q in LatencyStats::STANDARD.iter().chain(extra_q) {
        stats.set_percentile(*q, percentile_ms(&hist, *q));
    }
    let ci = LatencyCi {
        mean: ci95(&rep_means).map(|ci| ci.map(|x| x.max(0.0))),
        p95: ci95(&rep_p95).map(|ci| ci.map(|x| x.max(0.0))),
    };
    (Some(stats), Some(ci))
}

pub fn merge(scenario: &Scenario, model: &Model, results: Vec<ReplicationResult>) -> Output {
    let reps = results.len().max(1) as f64;
    let measured_s = (model.horizon - model.warmup) as f64 / 1e9;
    let extra_q: Vec<f64> = scenario
        .slos
        .iter()
        .filter_map(|s| match s.metric {
            models::slo::SloMetric::Percentile(q) if !LatencyStats::STANDARD.contains(&q) => {
                Some(q)
            }
            _ => None,
        })
        .collect();
    // Further percentiles of the streams an SLO asks for (`p99.9_ttft(x)`).
    let stream_q: Vec<f64> = scenario
        .slos
        .iter()
        .filter_map(|s| match s.metric {
            models::slo::SloMetric::Ttft(q) | models::slo::SloMetric::Itl(q)
                if !LatencyStats::STANDARD.contains(&q) =>
            {
                Some(q)
            }
            _ => None,
        })
        .collect();

    let mut journeys = IndexMap::new();
    let mut histograms = IndexMap::new();
    for (j, spec) in model.journeys.iter().enumerate() {
        let mut hist = crate::metrics::latency_histogram();
        let (mut count, mut errors, mut unfinished, mut sum) = (0u64, 0u64, 0u64, 0.0);
        let mut rep_means = Vec::new();
        let mut rep_p95 = Vec::new();
        for r in &results {
            let m = &r.journeys[j];
            // Same bounds everywhere, so adding cannot fail.
            let _ = hist.add(&m.latency_us);
            count += m.count;
            errors += m.errors;
            unfinished += m.unfinished;
            sum += m.sum_ns;
            // Latency is over successes: a replication without one has no sample to give.
            let ok = m.latency_us.len();
            if ok > 0 {
                rep_means.push(m.sum_ns / ok as f64 / 1e6);
                rep_p95.push(percentile_ms(&m.latency_us, 95.0));
            }
        }
        let ok = hist.len();
        let mut latency = LatencyStats {
            mean: if ok > 0 { sum / ok as f64 / 1e6 } else { 0.0 },
            p50: percentile_ms(&hist, 50.0),
            p90: percentile_ms(&hist, 90.0),
            p95: percentile_ms(&hist, 95.0),
            p99: percentile_ms(&hist, 99.0),
            max: if hist.is_empty() {
                0.0
            } else {
                hist.max() as f64 / 1000.0
            },
            other: Default::default(),
        };
        for q in &extra_q {
            latency.set_percentile(*q, percentile_ms(&hist, *q));
        }
        histograms.insert(spec.name.clone(), histogram_buckets(&hist));
        let streams = spec.streams.then(|| {
            let per_rep: Vec<&StreamMetrics> = results
                .iter()
                .filter_map(|r| r.journeys[j].stream.as_ref())
                .collect();
            let ttft = per_rep.iter().map(|m| (&m.ttft_us, m.ttft_sum_ns));
            let itl = per_rep.iter().map(|m| (&m.itl_us, m.itl_sum_ns));
            let tokens: u64 = per_rep.iter().map(|m| m.tokens).sum();
            (
                stream_stats(ttft, &stream_q),
                stream_stats(itl, &stream_q),
                tokens,
            )
        });
        let (ttft, itl, tokens) = match streams {
            Some((t, i, n)) => (Some(t), Some(i), Some(n)),
            None => (None, None, None),
        };
        journeys.insert(
            spec.name.clone(),
            JourneySummary {
                count,
                errors,
                error_rate: JourneySummary::failure_rate(count, errors, unfinished),
                latency_ms: latency,
                // Latencies are never negative: clamp the interval's low end.
                ci95_ms: LatencyCi {
                    mean: ci95(&rep_means).map(|ci| ci.map(|x| x.max(0.0))),
                    p95: ci95(&rep_p95).map(|ci| ci.map(|x| x.max(0.0))),
                },
                unfinished,
                circuit_breakers: breakers(model, &results, j as u32),
                ttft_ms: ttft.as_ref().and_then(|t| t.0.clone()),
                ttft_ci95_ms: ttft.and_then(|t| t.1),
                itl_ms: itl.as_ref().and_then(|t| t.0.clone()),
                itl_ci95_ms: itl.and_then(|t| t.1),
                tokens,
            },
        );
    }

    let mut services = IndexMap::new();
    let mut components = Components::default();
    for (i, spec) in model.stations.iter().enumerate() {
        let mut waits: Histogram<u64> = crate::metrics::latency_histogram();
        let (mut completions, mut area, mut wait_sum) = (0u64, 0.0, 0.0);
        let (mut capacity, mut replica_area) = (0.0, 0.0);
        let (mut rmin, mut rmax) = (u32::MAX, 0);
        for r in &results {
            let st = &r.stations[i].stats;
            let _ = waits.add(&st.waits_us);
            completions += st.completions;
            area += st.busy_area;
            wait_sum += st.wait_sum_ns;
            capacity += st.capacity_area;
            replica_area += st.replica_area;
            rmin = rmin.min(st.replicas_min);
            rmax = rmax.max(st.replicas_max);
        }
        let wait = QueueWait {
            mean: if waits.is_empty() {
                0.0
            } else {
                wait_sum / waits.len() as f64 / 1e6
            },
            p95: percentile_ms(&waits, 95.0),
        };
        let throughput_rps = completions as f64 / reps / measured_s;
        let utilization = if capacity > 0.0 { area / capacity } else { 0.0 };
        if let (Some(partitions), Some(topic)) = (spec.partitions, spec.name.strip_prefix("topic:"))
        {
            let groups = || results.iter().filter_map(|r| r.stations[i].group.as_ref());
            // Per replication: lag-records x time over the measured time and the partitions.
            let lags: Vec<f64> = groups()
                .map(|g| g.stats.lag_area / (measured_s * 1e9) / f64::from(partitions.max(1)))
                .collect();
            components.kafka.insert(
                topic.to_string(),
                TopicSummary {
                    partitions,
                    active_consumers: spec.replicas,
                    throughput_rps,
                    utilization,
                    lag_wait_ms: wait,
                    mean_partition_lag: lags.iter().sum::<f64>() / reps,
                    mean_partition_lag_ci95: ci95(&lags),
                    max_partition_lag: groups()
                        .map(|g| g.stats.max_partition_lag)
                        .max()
                        .unwrap_or(0),
                    rebalances: groups().map(|g| g.stats.rebalances as f64).sum::<f64>() / reps,
                    rebalance_s: groups().map(|g| g.stats.rebalance_ns).sum::<f64>() / reps / 1e9,
                },
            );
            continue;
        }
        services.insert(
            spec.name.clone(),
            ServiceSummary {
                throughput_rps,
                utilization,
                queue_wait_ms: wait,
                replicas: ReplicaStats {
                    min: rmin.min(rmax),
                    max: rmax,
                    mean: replica_area / reps / (measured_s * 1e9),
                    steady_from_s: None,
                },
            },
        );
    }
    for (p, (name, size)) in model.pools.iter().enumerate() {
        let mut waits: Histogram<u64> = crate::metrics::latency_histogram();
        let (mut area, mut wait_sum) = (0.0, 0.0);
        for r in &results {
            let _ = waits.add(&r.pools[p].waits_us);
            area += r.pools[p].busy_area;
            wait_sum += r.pools[p].wait_sum_ns;
        }
        components.pools.insert(
            name.clone(),
            PoolSummary {
                size: *size,
                utilization: area / reps / (f64::from(*size) * measured_s * 1e9),
                wait_ms: QueueWait {
                    mean: if waits.is_empty() {
                        0.0
                    } else {
                        wait_sum / waits.len() as f64 / 1e6
                    },
                    p95: percentile_ms(&waits, 95.0),
                },
            },
        );
    }
    for (c, name) in model.caches.iter().enumerate() {
        let (lookups, hits) = results.iter().fold((0, 0), |(l, h), r| {
            (l + r.cache_lookups[c].0, h + r.cache_lookups[c].1)
        });
        let entry = components.caches.entry(name.clone()).or_default();
        let total_hits = entry.hit_ratio * entry.lookups as f64 + hits as f64;
        entry.lookups += lookups;
        entry.hit_ratio = if entry.lookups > 0 {
            total_hits / entry.lookups as f64
        } else {
            0.0
        };
    }
    // Per replication, over the measured time, like every count of a component.
    for (e, spec) in model.llms.iter().enumerate() {
        let per_rep = |f: fn(&crate::llm::LlmCounts) -> f64| {
            results
                .iter()
                .map(|r| f(&r.endpoints[e].measured))
                .sum::<f64>()
                / reps
        };
        components.llm.insert(
            spec.name.clone(),
            LlmSummary {
                calls: per_rep(|m| m.calls as f64).round() as u64,
                throttled: per_rep(|m| m.throttled as f64).round() as u64,
                failed: per_rep(|m| m.failed as f64).round() as u64,
                tokens_in: per_rep(|m| m.tokens_in),
                tokens_out: per_rep(|m| m.tokens_out),
            },
        );
    }
    for (b, spec) in model.batchers.iter().enumerate() {
        let (batches, batched) = results.iter().fold((0, 0), |(n, m), r| {
            (n + r.batchers[b].batches, m + r.batchers[b].batched)
        });
        components.batchers.insert(
            spec.name.clone(),
            BatcherSummary {
                batches,
                mean_batch_size: if batches > 0 {
                    batched as f64 / batches as f64
                } else {
                    0.0
                },
                throughput_rps: batched as f64 / reps / measured_s,
            },
        );
    }

    compute_components(scenario, &results, &services, &mut components);
    let mut timeline = merge_timeline(model, &results);
    let mut warnings = Vec::new();
    for (name, svc) in services.iter_mut() {
        if scenario.services.get(name).is_some_and(|s| s.hpa.is_some()) {
            if let Some(series) = timeline.series.get(&format!("replicas/{name}")) {
                svc.replicas.steady_from_s = steady_from(series);
            }
        }
    }
    let mut recovery = recovery(scenario, &results, &mut timeline, &mut warnings);
    recovery.preemptions = preemptions(scenario, &results);
    for (name, j) in &journeys {
        if j.count + j.unfinished > 0 && j.successes() == 0 {
            warnings.push(format!(
                "journey {name}: no request succeeded ({} errors, {} unfinished): the run fails",
                j.errors, j.unfinished
            ));
        }
    }
    let usage = crate::usage::billed_usage(scenario, model, &results);
    let mut summary = RunSummary {
        kind: RunKind::Simulation,
        scenario: scenario.name.clone(),
        seed: scenario.seed,
        replications: scenario.replications,
        horizon_s: model.horizon as f64 / 1e9,
        partial: false,
        journeys,
        services,
        slos: Vec::new(),
        cost: None,
        recovery,
        components,
        warnings,
        fidelity: None,
        rollouts: Vec::new(),
        tags: Default::default(),
        engine: EngineStats {
            events: results.iter().map(|r| r.events).sum(),
            wall_s: 0.0,
        },
    };
    summary.rollouts = scenario
        .rollouts
        .iter()
        .enumerate()
        .map(|(i, spec)| {
            let runs = results
                .iter()
                .filter_map(|r| r.rollouts.iter().find(|(k, _)| *k == i))
                .map(|(_, run)| run.clone())
                .collect();
            models::rollout::RolloutSummary::over(spec, runs, ci95)
        })
        .collect();
    timeline.rollouts = summary
        .rollouts
        .iter()
        .zip(&scenario.rollouts)
        .filter_map(|(r, spec)| {
            let run = r.runs.first()?;
            Some(models::timeline::RolloutTrack::of(
                &r.name,
                spec.at.as_secs_f64(),
                run,
            ))
        })
        .collect();
    summary.slos = scenario.slos.iter().map(|s| s.verdict(&summary)).collect();
    timeline.histograms = histograms;
    Output {
        summary,
        timeline,
        usage,
    }
}

/// Window statistics averaged over replications (counts summed), and per-station series.
fn merge_timeline(model: &Model, results: &[ReplicationResult]) -> Timeline {
    let mut t = Timeline {
        window_s: results.first().map_or(1.0, |r| r.window_ns as f64 / 1e9),
        ..Timeline::default()
    };
    let reps = results.len().max(1) as f64;
    for (j, spec) in model.journeys.iter().enumerate() {
        let n = results
            .iter()
            .map(|r| r.journeys[j].windows.len())
            .min()
            .unwrap_or(0);
        let windows = (0..n)
            .map(|w| {
                let mut acc = WindowStats {
                    start_s: results[0].journeys[j].windows[w].start_s,
                    ..WindowStats::default()
                };
                // Latency over the replications with a success in the window: an empty
                // window has no latency, it is not 0 ms (the mean weighs by successes).
                let (mut with, mut ok_sum) = (0.0, 0.0);
                for r in results {
                    let x = &r.journeys[j].windows[w];
                    acc.count += x.count;
                    acc.errors += x.errors;
                    let ok = x.count.saturating_sub(x.errors) as f64;
                    if ok > 0.0 {
                        with += 1.0;
                        ok_sum += ok;
                        acc.mean_ms += x.mean_ms * ok;
                        acc.p50_ms += x.p50_ms;
                        acc.p95_ms += x.p95_ms;
                        acc.p99_ms += x.p99_ms;
                    }
                }
                if with > 0.0 {
                    acc.mean_ms /= ok_sum;
                    acc.p50_ms /= with;
                    acc.p95_ms /= with;
                    acc.p99_ms /= with;
                }
                acc
            })
            .collect();
        t.journeys.insert(spec.name.clone(), windows);
    }
    if let Some(first) = results.first() {
        for (k, name) in first.series_names.iter().enumerate() {
            let n = results.iter().map(|r| r.series[k].len()).min().unwrap_or(0);
            let points = (0..n)
                .map(|w| {
                    let v = results.iter().map(|r| r.series[k][w]).sum::<f64>() / reps;
                    ((w + 1) as f64 * t.window_s, v)
                })
                .collect();
            t.series.insert(name.clone(), points);
        }
    }
    for spec in model.stations.iter().filter(|s| s.partitions.is_none()) {
        // Cloud Run and Ray services have their instance and worker series instead.
        if t.series.contains_key(&format!("instances/{}", spec.name))
            || t.series.contains_key(&format!("ray_workers/{}", spec.name))
        {
            continue;
        }
        // Pod-based services have their replica series from the cluster already.
        t.series
            .entry(format!("replicas/{}", spec.name))
            .or_insert_with(|| {
                vec![
                    (0.0, f64::from(spec.replicas)),
                    (model.horizon as f64 / 1e9, f64::from(spec.replicas)),
                ]
            });
    }
    t
}

/// Cloud Run services' and Ray clusters' counts, averaged over replications; their instance
/// and worker ranges are their stations' replica ranges.
fn compute_components(
    scenario: &Scenario,
    results: &[ReplicationResult],
    services: &IndexMap<String, ServiceSummary>,
    components: &mut Components,
) {
    let reps = results.len().max(1) as f64;
    let names = |f: fn(&models::scenario::Service) -> bool| -> Vec<String> {
        scenario
            .services
            .iter()
            .filter(|(_, s)| f(s))
            .map(|(n, _)| n.clone())
            .collect()
    };
    for (k, name) in names(|s| s.cloud_run.is_some()).into_iter().enumerate() {
        let sum = |f: fn(&crate::cloud_run::CloudRunRecord) -> f64| {
            results.iter().map(|r| f(&r.cloud_run[k])).sum::<f64>() / reps
        };
        let instances = services
            .get(&name)
            .map(|s| s.replicas.clone())
            .unwrap_or_default();
        components.cloud_run.insert(
            name,
            CloudRunSummary {
                instances,
                cold_starts: sum(|r| r.cold_starts as f64),
                rejected_429: sum(|r| r.rejected as f64),
                billable_instance_s: sum(|r| r.billable_s),
            },
        );
    }
    for (k, name) in names(|s| s.ray.is_some()).into_iter().enumerate() {
        let workers = services
            .get(&name)
            .map(|s| s.replicas.clone())
            .unwrap_or_default();
        components.ray.insert(
            name,
            RaySummary {
                workers,
                launched: results
                    .iter()
                    .map(|r| r.ray[k].launched as f64)
                    .sum::<f64>()
                    / reps,
                worker_vm_s: results.iter().map(|r| r.ray[k].worker_s).sum::<f64>() / reps,
            },
        );
    }
}

/// About 60 log-spaced buckets from the smallest to the largest latency, as (upper ms, count).
fn histogram_buckets(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let (lo, hi) = (h.min().max(1) as f64, h.max().max(2) as f64);
    let n = 60;
    let ratio = (hi / lo).powf(1.0 / n as f64).max(1.000_001);
    let mut out = Vec::with_capacity(n + 1);
    let mut prev = 0u64;
    let mut edge = lo;
    for _ in 0..=n {
        let upper = (edge * ratio).ceil() as u64;
        let c = h.count_between(prev, upper);
        out.push((upper as f64 / 1000.0, c));
        prev = upper + 1;
        edge *= ratio;
        if prev > h.max() {
            break;
        }
    }
    out
}

/// The run time from which a series stays within max(1, 10 %) of its last value.
fn steady_from(series: &[(f64, f64)]) -> Option<f64> {
    let last = series.last()?.1;
    let tol = (0.1 * last).max(1.0);
    let i = series.iter().rposition(|(_, v)| (v - last).abs() > tol);
    Some(match i {
        Some(i) => series.get(i + 1).map_or(series[i].0, |p| p.0),
        None => series[0].0,
    })
}

/// RTO per fault as the client sees it, per replication: from the fault to the start of the
/// first window from which every window up to the next timed fault (or the horizon) is
/// healthy, provided that leaves at least one `recovery_window`. A window is healthy when
/// every journey's error rate and p95 (of its successes) are within their SLOs (no errors for
/// a journey without an error-rate SLO) and it is not stalled: requests waiting and none
/// ending for longer than the journey normally takes (see [`stalled_windows`]). A replication
/// that never recovers makes the fault unrecovered (`rto_s: null`); otherwise the RTO is the
/// mean over replications. RPO and lost writes from the crash, where every replication
/// measured them.
fn recovery(
    scenario: &Scenario,
    results: &[ReplicationResult],
    timeline: &mut Timeline,
    warnings: &mut Vec<String>,
) -> Recovery {
    use models::slo::SloMetric;
    let Some(first) = results.first() else {
        return Recovery::default();
    };
    if first.faults.is_empty() {
        return Recovery::default();
    }
    let reps = results.len() as f64;
    let window = timeline.window_s.max(1e-9);
    let need = (scenario.recovery_window.as_secs_f64() / window)
        .ceil()
        .max(1.0) as usize;
    // Per journey: (max error rate, max p95 ms).
    let bounds: Vec<(f64, f64)> = timeline
        .journeys
        .keys()
        .map(|j| {
            let mut err = 0.0;
            let mut p95 = f64::INFINITY;
            for s in scenario
                .slos
                .iter()
                .filter(|s| s.journey() == Some(j.as_str()))
            {
                match s.metric {
                    SloMetric::ErrorRate => err = s.bound,
                    SloMetric::Percentile(95.0) => p95 = s.bound,
                    _ => {}
                }
            }
            (err, p95)
        })
        .collect();
    // Per replication: which windows are healthy.
    let healthy: Vec<Vec<bool>> = results
        .iter()
        .map(|r| healthy_windows(r, &bounds, window))
        .collect();
    // The timed faults' windows, to bound each fault's "stays healthy" span.
    let timed: Vec<f64> = first
        .faults
        .iter()
        .enumerate()
        .filter(|(k, _)| scenario.faults[*k].mtbf.is_none())
        .map(|(_, f)| f.at_s)
        .collect();
    let mut out = Recovery::default();
    for (k, f) in first.faults.iter().enumerate() {
        if scenario.faults[k].mtbf.is_some() {
            // Random faults are summed up below, not timed one by one.
            continue;
        }
        let start = (f.at_s / window).floor() as usize;
        let next = timed
            .iter()
            .filter(|t| **t > f.at_s)
            .map(|t| (t / window).floor() as usize)
            .min();
        let rtos: Vec<Option<f64>> = healthy
            .iter()
            .map(|h| {
                let end = next.unwrap_or(h.len()).min(h.len());
                let from = (start..end).rev().find(|w| !h[*w]).map_or(start, |u| u + 1);
                (end >= from + need).then(|| (from as f64 * window - f.at_s).max(0.0))
            })
            .collect();
        let recovered = rtos.iter().all(Option::is_some);
        let rto = recovered.then(|| rtos.iter().flatten().sum::<f64>() / reps);
        if !recovered {
            let never = rtos.iter().filter(|r| r.is_none()).count();
            warnings.push(format!(
                "{} at {:.0} s: no recovery within the horizon in {never} of {} replication(s)",
                f.label,
                f.at_s,
                results.len()
            ));
        }
        let crash = f.rpo_s.is_some();
        let rpos: Vec<f64> = results.iter().filter_map(|r| r.faults[k].rpo_s).collect();
        let lost: Vec<u64> = results
            .iter()
            .filter_map(|r| r.faults[k].lost_writes)
            .collect();
        // Measured only where every replication measured it.
        let rpo = (rpos.len() == results.len()).then(|| rpos.iter().sum::<f64>() / reps);
        let lost = (lost.len() == results.len())
            .then(|| (lost.iter().sum::<u64>() as f64 / reps).round() as u64);
        out.faults.push(models::summary::FaultOutcome {
            at_s: f.at_s,
            fault: f.label.clone(),
            rto_s: rto,
            recovered,
            rpo_s: if crash { rpo } else { None },
            lost_writes: if crash { lost } else { None },
        });
        timeline.events.push(models::timeline::TimelineEvent {
            at_s: f.at_s,
            label: f.label.clone(),
        });
    }
    for (at, label) in &first.fault_marks {
        timeline.events.push(models::timeline::TimelineEvent {
            at_s: *at,
            label: label.clone(),
        });
    }
    out.random_faults = random_faults(scenario, results);
    // A fault that never recovered leaves no RTO to claim for the run.
    let recovered = out.faults.iter().all(|f| f.recovered);
    out.recovered = (!out.faults.is_empty()).then_some(recovered);
    out.rto_s = if recovered {
        out.faults.iter().filter_map(|f| f.rto_s).reduce(f64::max)
    } else {
        None
    };
    out.rpo_s = out.faults.iter().filter_map(|f| f.rpo_s).reduce(f64::max);
    out.lost_writes = out
        .faults
        .iter()
        .filter_map(|f| f.lost_writes)
        .reduce(|a, b| a + b);
    out
}

/// One replication's windows, healthy or not: every journey within its bounds `(max error
/// rate, max p95 ms)` (over the window's successes) and none stalled.
fn healthy_windows(r: &ReplicationResult, bounds: &[(f64, f64)], window_s: f64) -> Vec<bool> {
    let n = r
        .journeys
        .iter()
        .map(|m| m.windows.len())
        .min()
        .unwrap_or(0);
    let mut healthy = vec![true; n];
    for (m, (err, p95)) in r.journeys.iter().zip(bounds) {
        let stalled = stalled_windows(m, window_s);
        for (w, h) in healthy.iter_mut().enumerate() {
            let x = &m.windows[w];
            let within = x.count == 0
                || (x.errors as f64 / x.count as f64 <= *err
                    && (x.count == x.errors || x.p95_ms <= *p95));
            *h &= within && !stalled[w];
        }
    }
    healthy
}

/// Windows that began with journeys in flight and saw none end, in a run of such windows longer
/// than the journey normally takes: twice the median of its successes in the replication,
/// at least one window (a journey slower than a window leaves windows without an ending as
/// a matter of course). Traffic offered and nothing completed is a stall, not an empty window.
fn stalled_windows(m: &crate::metrics::JourneyMetrics, window_s: f64) -> Vec<bool> {
    let n = m.windows.len();
    let typical_s = 2.0 * percentile_ms(&m.latency_us, 50.0) / 1e3;
    let min_run = ((typical_s / window_s).ceil() as usize).max(1);
    let mut stalled = vec![false; n];
    let mut w = 0;
    while w < n {
        let waiting = |i: usize| m.windows[i].count == 0 && m.demand.get(i).is_some_and(|d| *d > 0);
        if !waiting(w) {
            w += 1;
            continue;
        }
        let run_start = w;
        while w < n && waiting(w) {
            w += 1;
        }
        if w - run_start >= min_run {
            stalled[run_start..w].iter_mut().for_each(|s| *s = true);
        }
    }
    stalled
}

/// Each random fault over the replications: occurrences and availability with their 95 %
/// intervals across replications, beside the renewal-theory figures (count = span / (MTBF +
/// MTTR), availability = MTBF / (MTBF + MTTR)).
fn random_faults(
    scenario: &Scenario,
    results: &[ReplicationResult],
) -> Vec<models::summary::RandomFaultOutcome> {
    let span = (scenario.horizon.0 - scenario.warmup.0) as f64 / 1e9;
    let mut out = Vec::new();
    for (k, f) in scenario.faults.iter().enumerate() {
        let Some(mtbf) = f.mtbf else { continue };
        let counts: Vec<f64> = results
            .iter()
            .map(|r| r.random_faults[k].occurrences as f64)
            .collect();
        let up: Vec<f64> = results
            .iter()
            .map(|r| 1.0 - r.random_faults[k].downtime_s / span)
            .collect();
        let n = results.len().max(1) as f64;
        let mttr = f.mean_repair_s();
        out.push(models::summary::RandomFaultOutcome {
            fault: f.name.clone().unwrap_or_else(|| f.label()),
            mtbf_s: mtbf.as_secs_f64(),
            mttr_s: mttr,
            occurrences: counts.iter().sum::<f64>() / n,
            occurrences_ci95: ci95(&counts),
            expected_occurrences: span / (mtbf.as_secs_f64() + mttr),
            downtime_s: results
                .iter()
                .map(|r| r.random_faults[k].downtime_s)
                .sum::<f64>()
                / n,
            availability: f.has_outage().then(|| up.iter().sum::<f64>() / n),
            availability_ci95: f.has_outage().then(|| ci95(&up)).flatten(),
            expected_availability: f.expected_availability(),
        });
    }
    out
}

/// The circuit breakers of journey `j`'s steps, summed (rejections, openings) or averaged
/// (time open) over the replications.
fn breakers(
    model: &Model,
    results: &[ReplicationResult],
    j: u32,
) -> Vec<models::summary::BreakerSummary> {
    let measured_s = model.horizon.saturating_sub(model.warmup) as f64 / 1e9;
    let n = results.len().max(1) as f64;
    model
        .breakers
        .iter()
        .enumerate()
        .filter(|(_, b)| b.journey == j)
        .map(|(k, b)| {
            let mut out = models::summary::BreakerSummary {
                service: b.service.clone(),
                ..Default::default()
            };
            for r in results {
                let (state, open_ns) = &r.breakers[k];
                out.rejected += state.rejected;
                out.openings += state.openings;
                out.open_s += *open_ns as f64 / 1e9 / n;
            }
            out.open_share = if measured_s > 0.0 {
                out.open_s / measured_s
            } else {
                0.0
            };
            out
        })
        .collect()
}

/// Each spot pool's preemptions over the replications, with the 95 % interval across them,
/// beside rate x exposed node-hours (the compensator of the count: their difference has mean
/// 0 and variance the expected count, whatever the autoscalers did to the node count).
fn preemptions(
    scenario: &Scenario,
    results: &[ReplicationResult],
) -> Vec<models::summary::PreemptionOutcome> {
    let n = results.len().max(1) as f64;
    let mut out = Vec::new();
    for (p, (name, np)) in scenario.node_pools.iter().enumerate() {
        let Some((rate, notice)) = np.preemption() else {
            continue;
        };
        let counts: Vec<f64> = results.iter().map(|r| r.preemptions[p] as f64).collect();
        let exposed_h = results
            .iter()
            .map(|r| r.exposed_node_seconds[p] / 3600.0)
            .sum::<f64>()
            / n;
        out.push(models::summary::PreemptionOutcome {
            node_pool: name.clone(),
            rate_per_node_hour: rate * 3600.0,
            notice_s: notice.as_secs_f64(),
            preemptions: counts.iter().sum::<f64>() / n,
            preemptions_ci95: ci95(&counts),
            exposed_node_hours: exposed_h,
            expected_preemptions: rate * 3600.0 * exposed_h,
        });
    }
    out
}
