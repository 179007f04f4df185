//! The HPA and cluster autoscaler in the loop: a 3x traffic step, checked against the node
//! arithmetic (an n1-standard-4 node holds 3 pods of 1 CPU out of its 3.6 allocatable CPUs,
//! so ready replicas never exceed 3 x nodes) and the pool's limits.

mod support;

#[test]
fn scale_up_never_overcommits_nodes_and_stays_within_limits() {
    let out = support::simulate(&support::data_dir("autoscaling"), "step-3x.yaml");
    let replicas = &out.timeline.series["replicas/api"];
    let nodes = &out.timeline.series["nodes/general"];
    let pending = &out.timeline.series["pending/api"];
    assert_eq!(replicas.len(), nodes.len());
    for ((t, r), (_, n)) in replicas.iter().zip(nodes) {
        assert!(*r <= 3.0 * n + 1e-9, "at {t} s: {r} replicas on {n} nodes");
        assert!(*n <= 10.0, "at {t} s: {n} nodes over the pool's max of 10");
    }
    // The step needs more nodes: pods wait Pending for them, then get placed.
    assert!(
        pending.iter().any(|(_, p)| *p > 0.0),
        "no pod ever waited for a node"
    );
    assert_eq!(
        pending.last().map(|p| p.1),
        Some(0.0),
        "pods still pending at the end"
    );
    let before = replicas.iter().find(|(t, _)| *t >= 590.0).unwrap().1;
    let after = replicas.last().unwrap().1;
    assert!(
        after >= 2.5 * before,
        "replicas {before} -> {after} for a 3x step"
    );
    // summary.json: the range covers the scenario's 11 (ceil(300 x 0.1 / 4 / 0.7)); while the
    // backlog drains the ready pods read 100 % CPU, and the largest proposal from the count
    // that carries the load is ceil(11 x 100 / 70) = 16 (the HPA's max of 20 could never be
    // exceeded, so it bounds nothing).
    let r = &out.summary.services["api"].replicas;
    assert!((11..=16).contains(&r.max) && r.min <= 4, "replicas {r:?}");
    // The new steady state: 11 is reached no sooner than 600 s + an HPA sync (15 s) + a node
    // (lognormal mean 90 s, cv 0.25: >= 33 s at 4 standard deviations of its log) + start-up
    // (20 s) = 668 s, and an overshoot comes down only after the 5-minute scale-down
    // stabilization (>= 968 s). At the latest, three rounds of scale-up (4 -> 6 -> 9 -> 13,
    // each a sync, a CA scan, a node at <= 241 s and start-up: 3 x 286 s) and the window and
    // a sync: 600 + 858 + 315 = 1773 s. (The horizon, 1800 s, bounds nothing.)
    let steady = r
        .steady_from_s
        .expect("steady_from_s for an autoscaled service");
    let last = after;
    let earliest = if f64::from(r.max) > last + 1.0 {
        968.0
    } else {
        668.0
    };
    assert!(
        (earliest..=1773.0).contains(&steady),
        "steady from {steady} s, want [{earliest}, 1773] (max {}, ends at {last})",
        r.max
    );
}

/// Mean of `samples` and its standard error (samples taken as independent).
fn mean_and_se(samples: &[f64]) -> (f64, f64) {
    let n = samples.len() as f64;
    let mean = samples.iter().sum::<f64>() / n;
    let var = samples.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

/// Runs replication 0 of `file` (with overrides) and returns the HPA's sync records and the
/// ready replicas over time.
fn run_with(file: &str, overrides: &[&str]) -> (Vec<sim::cluster::HpaSyncRecord>, Vec<(f64, f64)>) {
    let r = replication(file, overrides);
    let k = r
        .series_names
        .iter()
        .position(|n| n == "replicas/api")
        .expect("replicas series");
    let w = r.window_ns as f64 / 1e9;
    let replicas = r.series[k]
        .iter()
        .enumerate()
        .map(|(i, v)| ((i + 1) as f64 * w, *v))
        .collect();
    (r.hpa_syncs, replicas)
}

/// The HPA's own arithmetic for one metric: the proposal `ceil(current x value / target)`
/// unless the ratio is within the 0.1 tolerance, capped by the legacy scale-up limit
/// max(2 x current, 4) and by maxReplicas.
fn proposal(current: i32, value: f64, target: f64, max: i32) -> i32 {
    let ratio = value / target;
    if (0.9..=1.1).contains(&ratio) {
        return current;
    }
    let p = (f64::from(current) * ratio).ceil() as i32;
    p.min((2 * current).max(4)).min(max)
}

#[test]
fn a_p95_hpa_scales_up_where_a_cpu_hpa_under_the_same_load_does_not() {
    // See latency-hpa.yaml for the queueing arithmetic: rho = 0.6 per replica, CPU 60 % of a
    // 70 % target (proposal ceil(4 x 0.857) = 4), p95 = 749 ms of a 500 ms target (6).
    let (syncs, replicas) = run_with("latency-hpa.yaml", &[]);
    // The first scale-up is the formula applied to what the adapter served. Every pod is
    // ready and has a sample by then, so no missing/unready adjustment applies.
    let up = syncs
        .iter()
        .find(|s| s.desired > s.current)
        .expect("the p95 HPA scales up");
    let p95 = up.metrics[0].expect("p95 served");
    assert_eq!(up.current, 4);
    assert_eq!(
        up.desired,
        proposal(up.current, p95, 500.0, 12),
        "at {} s: p95 {p95:.0} ms",
        up.time_s
    );
    // The adapter's p95 of an M/M/1 at rho 0.6 is 749 ms in steady state. The first sync
    // reads a window that started from empty queues (below steady state) of ~180 requests a
    // pod, whose p95 has a relative standard error of ~11 % a pod (~5 % over 4 pods). It must
    // read above 550 ms, the 500 ms target plus the 10 % tolerance, for the HPA to act, and
    // cannot sit far above steady state.
    assert!(
        (550.0..=900.0).contains(&p95),
        "p95 {p95:.0} ms at {} s, theory 749 ms",
        up.time_s
    );
    // Every sync whose pods all have a sample, and that does not scale down (scale-downs wait
    // for the 5-minute stabilization), is the formula applied to what the adapter served.
    // (A pod without a sample yet counts as 0 on a scale-up: upstream's missing-pod rule,
    // which the controller's own vectors test.)
    let mut checked = 0;
    for s in syncs
        .iter()
        .filter(|s| s.desired >= s.current && s.samples[0] == s.current as usize)
    {
        if let Some(v) = s.metrics[0] {
            let want = proposal(s.current, v, 500.0, 12);
            // A proposal below the current count is held by stabilization (desired = current).
            let held = want < s.current && s.desired == s.current;
            assert!(
                s.desired == want || held,
                "at {} s: {} -> {} with p95 {v:.0} ms (formula {want})",
                s.time_s,
                s.current,
                s.desired
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "only {checked} syncs checked");
    // The 2-minute window overshoots (see the scenario), then 5-minute steps come down to
    // 7 (p95 456 ms) or 8 (429 ms, at the tolerance's edge once bucketed).
    let peak = replicas.iter().map(|r| r.1).fold(0.0, f64::max);
    assert!(peak >= 8.0, "peak {peak} replicas");
    let last = replicas.last().expect("samples").1;
    let changes: Vec<String> = syncs
        .iter()
        .filter(|s| s.desired != s.current)
        .map(|s| format!("{}s:{}->{}", s.time_s, s.current, s.desired))
        .collect();
    eprintln!(
        "p95 HPA: first scale-up at {} s with p95 {p95:.0} ms; changes {changes:?}; ends at {last}",
        up.time_s
    );
    assert!((7.0..=8.0).contains(&last), "ends at {last} replicas");

    // The same load under CPU 70 %: utilization 60 % proposes ceil(4 x 0.857) = 4, and the
    // count never leaves 4 (at min, and never above the target by 10 %).
    let cpu_override = "services.api.hpa.metrics[0]={type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}";
    let rep = replication("latency-hpa.yaml", &[cpu_override]);
    let (cpu_syncs, cpu_replicas) = run_with("latency-hpa.yaml", &[cpu_override]);
    assert!(
        cpu_replicas.iter().all(|(_, r)| *r == 4.0),
        "{cpu_replicas:?}"
    );
    let cpu: Vec<f64> = cpu_syncs.iter().filter_map(|s| s.metrics[0]).collect();
    assert!(cpu.len() > 30, "only {} CPU samples", cpu.len());
    // CPU here is slot occupancy (one worker on one CPU), so checking it against rho = 0.6
    // would only restate how the scenario was written. Check it instead against what the
    // requests themselves went through: by Little's law on the servers, busy workers =
    // throughput x mean service time, where the throughput is the journeys' completions and
    // the service time their sojourn less their queue wait (each from the requests' own
    // clocks, not from the busy-time accounting the kubelet reads). Over 4 pods,
    // CPU % = 100 x X x (W - Wq) / 4. Each CPU sample averages 4 pods x 15 s of an M/M/1
    // busy indicator (~360 requests), over windows that do not overlap and are long beside a
    // busy period (mean 125 ms at rho 0.6): nearly independent; the estimate from ~33,000
    // requests has a relative error of ~1 %. Within 4 standard errors of both.
    let measured_s = (rep.window_ns as f64 / 1e9) * rep.journeys[0].windows.len() as f64 - 60.0;
    let j = &rep.journeys[0];
    let st = &rep.stations[0].stats;
    let served = st.completions as f64;
    let sojourn_s = j.sum_ns / j.latency_us.len().max(1) as f64 / 1e9;
    let wait_s = st.wait_sum_ns / st.waits_us.len().max(1) as f64 / 1e9;
    let littles = 100.0 * (served / measured_s) * (sojourn_s - wait_s) / 4.0;
    let littles_se = littles * (2.0 / served).sqrt();
    let (mean, se) = mean_and_se(&cpu);
    let tol = 4.0 * (se * se + littles_se * littles_se).sqrt();
    eprintln!(
        "CPU HPA: mean utilization {mean:.2} % (se {se:.2}) over {} samples vs Little's law \
         {littles:.2} % (se {littles_se:.2}) from {served} requests, replicas 4 throughout",
        cpu.len()
    );
    assert!(
        (mean - littles).abs() < tol,
        "mean CPU utilization {mean:.2} % vs X (W - Wq) / 4 = {littles:.2} % (4 se = {tol:.2})"
    );
    assert!(cpu_syncs.iter().all(|s| s.desired == 4));
}

#[test]
fn an_external_request_rate_metric_scales_to_rate_over_target() {
    // The same 24 req/s, now under an External `requests_per_second` with an AverageValue of
    // 5 per replica: the HPA wants ceil(24 / 5) = ceil(4.8) = 5 replicas. From 4 the ratio
    // 4.8 / 4 = 1.2 is outside the tolerance -> 5; at 5 it is 0.96, inside -> stays. Once
    // the adapter's 2-minute window is full it holds ~2,900 arrivals: a standard error of
    // ~2 % (4.8 +- 0.1), far from the 4.5 and 5.5 where the answer would change. The first
    // syncs see a shorter window (at 30 s one 15 s interval, ~360 arrivals, +-5 %): a rate
    // read over 25/s there asks for 6, which the legacy path then holds for its 5-minute
    // scale-down window before coming back to 5.
    let (syncs, replicas) = run_with(
        "latency-hpa.yaml",
        &["services.api.hpa.metrics[0]={type: External, external: {metric: {name: requests_per_second}, target: {type: AverageValue, averageValue: 5}}}"],
    );
    let rates: Vec<f64> = syncs.iter().skip(8).filter_map(|s| s.metrics[0]).collect();
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    eprintln!("External rate: mean {mean:.2}/s over {} syncs", rates.len());
    assert!(
        (23.0..=25.0).contains(&mean),
        "served rate {mean:.2}/s for 24/s"
    );
    assert_eq!(replicas.last().map(|r| r.1), Some(5.0), "{replicas:?}");
    assert!(
        replicas.iter().all(|r| (4.0..=6.0).contains(&r.1)),
        "{replicas:?}"
    );
    // Once at 5 after the start-up overshoot, it stays: leaving 5 needs a ratio outside the
    // 10 % tolerance, a full-window reading above 27.5/s or below 22.5/s (about +-7 standard
    // errors). How long the overshoot lasts is not bounded here: at 6 replicas each reading
    // above 25/s (+2 standard errors, a few per cent of syncs) asks for 6 again and restarts
    // the 5-minute hold.
    let first_five = replicas
        .iter()
        .position(|r| r.0 >= 60.0 && r.1 == 5.0)
        .expect("comes down to 5");
    assert!(
        replicas[first_five..].iter().all(|r| r.1 == 5.0),
        "{replicas:?}"
    );
    for s in syncs.iter().filter(|s| s.time_s >= 120.0) {
        let want = (s.metrics[0].expect("rate") / 5.0).ceil() as i32;
        let ratio = s.metrics[0].expect("rate") / (5.0 * f64::from(s.current));
        // The External AverageValue formula; within the tolerance the count stays, and a
        // lower proposal waits for the stabilization window.
        assert!(
            s.desired == want
                || (0.9..=1.1).contains(&ratio)
                || (want < s.current && s.desired == s.current),
            "at {} s: {} -> {} at {:?}/s",
            s.time_s,
            s.current,
            s.desired,
            s.metrics[0]
        );
    }
}

/// A timeline series of one replication, as (end of window in s, value).
fn series(r: &sim::engine::ReplicationResult, name: &str) -> Vec<(f64, f64)> {
    let k = r
        .series_names
        .iter()
        .position(|n| n == name)
        .unwrap_or_else(|| panic!("no series {name}"));
    let w = r.window_ns as f64 / 1e9;
    r.series[k]
        .iter()
        .enumerate()
        .map(|(i, v)| ((i + 1) as f64 * w, *v))
        .collect()
}

/// Runs replication 0 of `file` with overrides.
fn replication(file: &str, overrides: &[&str]) -> sim::engine::ReplicationResult {
    let scenario = support::scenario(&support::data_dir("autoscaling"), file, overrides);
    let model = sim::model::Model::compile(&scenario);
    sim::engine::run_replication(&scenario, &model, scenario.seed, 0)
}

#[test]
fn a_consumer_service_scales_on_its_consumer_groups_work_and_the_group_follows_its_pods() {
    // See kafka-consumers.yaml: 32 busy consumer threads offered; 8 threads per pod; CPU 70 %
    // asks for ceil(32 / (8 x 0.7)) = ceil(5.714) = 6 pods; 40 partitions cap the group.
    let r = replication("kafka-consumers.yaml", &[]);
    let replicas = series(&r, "replicas/worker");
    let consumers = series(&r, "consumers/jobs");
    let (threads, partitions, target): (f64, f64, f64) = (8.0, 40.0, 0.7);
    let offered = 320.0 * 0.1;
    let want = (offered / (threads * target)).ceil();
    assert_eq!(want, 6.0);
    // The group's active consumers are min(partitions, ready pods x threads) at every sample
    // (both read at the same instant), and never more than the partitions.
    assert_eq!(replicas.len(), consumers.len());
    for ((t, n), (_, c)) in replicas.iter().zip(&consumers) {
        assert_eq!(*c, (n * threads).min(partitions), "at {t} s: {n} pods");
        assert!(*c <= partitions, "at {t} s: {c} consumers");
    }
    assert_eq!(replicas.first().map(|r| r.1), Some(2.0), "starts at min");
    assert!(
        consumers.iter().any(|c| c.1 == partitions),
        "the partition cap never bound: {consumers:?}"
    );
    // The HPA saw the group's work: it left minReplicas, and settles on the hand-computed 6.
    let changes: Vec<String> = r
        .hpa_syncs
        .iter()
        .filter(|s| s.desired != s.current)
        .map(|s| format!("{}s:{}->{}", s.time_s, s.current, s.desired))
        .collect();
    eprintln!("consumer HPA: changes {changes:?}");
    assert_eq!(replicas.last().map(|r| r.1), Some(want), "{changes:?}");
    // Every scale-up whose pods all had a sample is the HPA's formula on what it read.
    let mut ups = 0;
    for s in r
        .hpa_syncs
        .iter()
        .filter(|s| s.desired > s.current && s.samples[0] == s.current as usize)
    {
        let v = s.metrics[0].expect("CPU served");
        assert_eq!(
            s.desired,
            proposal(s.current, v, 70.0, 10),
            "at {} s",
            s.time_s
        );
        ups += 1;
    }
    assert!(ups >= 2, "only {ups} scale-ups checked: {changes:?}");
    // In the steady state (the last 10 minutes at 6 pods, backlog long drained) the HPA reads
    // offered / (6 x 8) = 66.7 %. One sample averages 48 threads over 15 s (~4,800 events);
    // consecutive 15 s windows do not overlap and are long beside a 100 ms service, so the
    // samples are nearly independent: the mean is within 4 standard errors of the offered load.
    let steady: Vec<f64> = r
        .hpa_syncs
        .iter()
        .filter(|s| s.time_s >= 1200.0)
        .filter_map(|s| s.metrics[0])
        .collect();
    let (mean, se) = mean_and_se(&steady);
    let expected = 100.0 * offered / (want * threads);
    eprintln!(
        "consumer HPA: steady CPU {mean:.2} % (se {se:.2}, n {}) vs {expected:.2} %",
        steady.len(),
    );
    assert!(
        (mean - expected).abs() < 4.0 * se,
        "steady CPU {mean:.2} % vs {expected:.2} % (4 se = {:.2})",
        4.0 * se
    );
}

#[test]
fn a_killed_consumer_pod_takes_its_consumers_with_it_until_its_replacement_is_ready() {
    // The same service held at 2 pods (16 consumers of 40 partitions, overloaded: the HPA is
    // off) loses a pod at 100 s; its ReplicaSet's replacement is ready after the 20 s
    // start-up. Samples are per second: 16 consumers up to 100 s, 8 from the kill until the
    // replacement is ready (~120 s), 16 after.
    let r = replication(
        "kafka-consumers.yaml",
        &[
            "services.worker.replicas=2",
            "services.worker.hpa=null",
            "faults=[{kind: pod_kill, target: worker, at: 100s}]",
        ],
    );
    let consumers = series(&r, "consumers/jobs");
    let at = |t: f64| {
        consumers
            .iter()
            .find(|c| (c.0 - t).abs() < 1e-9)
            .map(|c| c.1)
            .expect("sample")
    };
    assert_eq!(at(99.0), 16.0);
    assert_eq!(at(101.0), 8.0);
    assert_eq!(at(119.0), 8.0);
    assert_eq!(at(121.0), 16.0);
    assert_eq!(consumers.last().map(|c| c.1), Some(16.0));
    assert!(consumers.iter().all(|c| c.1 == 16.0 || c.1 == 8.0));
}

#[test]
fn with_cpu_declared_the_hpa_reads_real_cpu_not_busy_slots() {
    // latency-hpa.yaml's 24/s on its 4 pods of 1 CPU, now 8 workers a pod whose visits take
    // 50 ms of CPU then 50 ms off it: each pod uses 6/s x 50 ms = 0.3 cores, 30 % of its
    // request. Read from busy slots it would be 6/s x 100 ms / 8 = 7.5 %.
    let (syncs, _) = run_with(
        "latency-hpa.yaml",
        &[
            "services.api.hpa.metrics[0]={type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}",
            "services.api.concurrency=8",
            "services.api.cpu={constant: 50ms}",
            "services.api.service_time={constant: 50ms}",
        ],
    );
    let cpu: Vec<f64> = syncs.iter().filter_map(|s| s.metrics[0]).collect();
    assert!(cpu.len() > 30, "only {} CPU samples", cpu.len());
    let (mean, se) = mean_and_se(&cpu);
    eprintln!("CPU HPA with cpu: mean utilization {mean:.2} % (se {se:.2})");
    assert!(
        (mean - 30.0).abs() < 4.0 * se.max(0.25),
        "mean CPU utilization {mean:.2} % vs 30 % (4 se = {:.2})",
        4.0 * se
    );
}

#[test]
fn a_consumer_lag_hpa_reads_the_consumer_groups_lag_not_the_services_http_queue() {
    // kafka-consumers.yaml under an External `kafka_consumer_lag` with an AverageValue of 50
    // events a pod instead of CPU. The worker serves no HTTP: all its backlog is its group's.
    // At 2 pods (16 consumers x 10/s = 160/s for 320/s offered) the lag grows by ~160 events
    // a second, so the HPA must scale out; it settles where the group keeps up: 5 pods are
    // 40 consumers (the partition cap), each partition an M/M/1 at rho = 8/10 holding
    // rho / (1 - rho) = 4 events, a lag of 160 = 32 a pod, under the target; 4 pods (32
    // consumers, rho = 1) never keep up. (On main the metric read the worker's empty HTTP
    // queue: 0, and the group stayed at 2 pods with its backlog growing.)
    let r = replication(
        "kafka-consumers.yaml",
        &["services.worker.hpa.metrics[0]={type: External, external: {metric: {name: kafka_consumer_lag}, target: {type: AverageValue, averageValue: 50}}}"],
    );
    let replicas = series(&r, "replicas/worker");
    let lag = series(&r, "kafka_lag/jobs");
    let seen: Vec<f64> = r.hpa_syncs.iter().filter_map(|s| s.metrics[0]).collect();
    assert!(
        seen.iter().any(|v| *v > 1000.0),
        "the HPA never saw the growing lag: {seen:?}"
    );
    let last = replicas.last().map(|r| r.1).expect("samples");
    assert!(last >= 5.0, "ends at {last} pods: {replicas:?}");
    // Once scaled out the group keeps up: the lag at the end is the stable queue's, not a
    // backlog (at 40 M/M/1 partitions at rho 0.8 a sample above 1,000 waiting events is
    // beyond any plausible fluctuation).
    let end = lag.last().map(|l| l.1).expect("lag samples");
    assert!(end < 1000.0, "lag {end} at the end: {lag:?}");
}
