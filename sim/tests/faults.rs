//! Each fault against its closed form: the cases in tests/faults/cases.json (renewal theory
//! for random faults, TCP retransmission timeouts for packet loss, the lag a Kafka broker loss
//! leaves, cache misses during a Redis failover). Adding a case needs no code. Tolerances are
//! 4 standard errors, each derived where it is computed.

mod support;
use support::num;

/// Mean and variance of the latency one lossy hop adds (seconds): with probability
/// q = 1 - (1 - p)^n some segment is lost; the first loss costs `rto`, each loss of the
/// retransmission (probability p) a doubled RTO, up to 15 retries.
fn hop_moments(p: f64, n: u32, rto: f64) -> (f64, f64) {
    let q = 1.0 - (1.0 - p).powi(n as i32);
    let (mut m1, mut m2) = (0.0, 0.0);
    let (mut delay, mut step, mut prob) = (rto, rto, 1.0);
    for k in 0..=15 {
        // k further losses, then success (or the 15th retry, whatever follows).
        let pk = if k == 15 { prob } else { prob * (1.0 - p) };
        m1 += pk * delay;
        m2 += pk * delay * delay;
        prob *= p;
        step *= 2.0;
        delay += step;
    }
    let mean = q * m1;
    (mean, q * m2 - mean * mean)
}

#[test]
fn faults_match_their_closed_forms() {
    let dir = support::data_dir("faults");
    let mut failures = Vec::new();
    for case in &support::cases(&dir) {
        let file = case["scenario"].as_str().unwrap();
        let out = support::simulate(&dir, file);
        let summary = serde_json::to_value(&out.summary).unwrap();
        for check in case["checks"].as_array().unwrap() {
            let at = |p: &str| {
                summary
                    .pointer(p)
                    .unwrap_or_else(|| panic!("{file}: no {p} in summary"))
            };
            let c = |k: &str| num(&check[k], k);
            let (ok, line) = if let Some(k) = check["renewal_count"].as_u64() {
                // Failures in [0, H] of an alternating renewal process (cycle C = up + repair,
                // mean mu, variance s2 = mtbf^2 + Var(mttr)): mean H / mu, variance
                // H s2 / mu^3 (renewal CLT); over `reps` replications the se is
                // sqrt(H s2 / mu^3 / reps). Poisson would give H / mu; exponential up times
                // with a constant repair make the count slightly less variable than that.
                let (mtbf, mttr, span, reps) = (c("mtbf_s"), c("mttr_s"), c("span_s"), c("reps"));
                let mu = mtbf + mttr;
                let want = span / mu;
                let se = (span * (mtbf * mtbf + c("mttr_var")) / mu.powi(3) / reps).sqrt();
                let f = &summary["recovery"]["random_faults"][k as usize];
                let obs = num(&f["occurrences"], "occurrences");
                (
                    (obs - want).abs() <= 4.0 * se
                        && (num(&f["expected_occurrences"], "expected") - want).abs() < 1e-9,
                    format!(
                        "{file}: occurrences {obs:.1} vs H/(MTBF+MTTR) = {want:.1} (4 se = {:.1})",
                        4.0 * se
                    ),
                )
            } else if let Some(k) = check["renewal_availability"].as_u64() {
                // Up-time share: A = MTBF / (MTBF + MTTR). The down share a = MTTR / mu is a
                // renewal-reward ratio; its variance over H is Var(R - a C) / (mu H), with
                // R - a C = (1 - a) MTTR - a Up for a constant repair, so a^2 MTBF^2 / (mu H).
                let (mtbf, mttr, span, reps) = (c("mtbf_s"), c("mttr_s"), c("span_s"), c("reps"));
                let mu = mtbf + mttr;
                let a = mttr / mu;
                let want = mtbf / mu;
                let se = (a * a * mtbf * mtbf / (mu * span) / reps).sqrt();
                let f = &summary["recovery"]["random_faults"][k as usize];
                let obs = num(&f["availability"], "availability");
                let closed = num(&f["expected_availability"], "expected_availability");
                (
                    (obs - want).abs() <= 4.0 * se && (closed - want).abs() < 1e-12,
                    format!("{file}: availability {obs:.5} vs MTBF/(MTBF+MTTR) = {want:.5} (4 se = {:.5}); closed form reported {closed:.5}", 4.0 * se),
                )
            } else if let Some(j) = check["journey_availability"].as_str() {
                // Journeys arrive as a Poisson process, so given the downtime the failed
                // share is binomial around the down share: se = sqrt(a (1 - a) / n).
                let k = check["fault"].as_u64().unwrap() as usize;
                let up = num(
                    &summary["recovery"]["random_faults"][k]["availability"],
                    "availability",
                );
                let n = num(&summary["journeys"][j]["count"], "count");
                let obs = 1.0 - num(&summary["journeys"][j]["error_rate"], "error_rate");
                let se = (up * (1.0 - up) / n).sqrt();
                (
                    (obs - up).abs() <= 4.0 * se,
                    format!("{file}: {j} availability {obs:.5} vs the target's up share {up:.5} (4 se = {:.5}, n = {n})", 4.0 * se),
                )
            } else if let Some(k) = check["preemption_count"].as_u64() {
                // Each node is preempted as a Poisson process of rate r while exposed, so the
                // pool's count N minus r x its exposure X is a martingale with variance E[N]:
                // over `reps` replications the mean count is within 4 sqrt(E / reps) of
                // r x mean exposure, whatever the autoscaler did to the node count.
                let f = &summary["recovery"]["preemptions"][k as usize];
                let rate = num(&f["rate_per_node_hour"], "rate_per_node_hour");
                let exposed = num(&f["exposed_node_hours"], "exposed_node_hours");
                let want = rate * exposed;
                let obs = num(&f["preemptions"], "preemptions");
                let se = (want / c("reps")).sqrt();
                let reported = num(&f["expected_preemptions"], "expected_preemptions");
                (
                    (obs - want).abs() <= 4.0 * se
                        && (rate - c("rate_per_node_hour")).abs() < 1e-12
                        && (reported - want).abs() < 1e-9
                        && want > 0.0,
                    format!(
                        "{file}: preemptions {obs:.2} vs rate x exposure = {rate} x {exposed:.2} = {want:.2} (4 se = {:.2}); CI {:?}",
                        4.0 * se,
                        f["preemptions_ci95"]
                    ),
                )
            } else if let Some(j) = check["hop_delay_mean"].as_str() {
                let (mean, var) = hop_moments(c("p"), c("packets") as u32, c("rto_ms") / 1e3);
                let want = c("base_ms") + mean * 1e3;
                let n = num(&summary["journeys"][j]["count"], "count");
                // Constant service times: all of the variance is the hops'.
                let se = (var / n).sqrt() * 1e3;
                let obs = num(&summary["journeys"][j]["latency_ms"]["mean"], "mean");
                (
                    (obs - want).abs() <= 4.0 * se,
                    format!(
                        "{file}: mean({j}) {obs:.3} ms vs {want:.3} ms (4 se = {:.3}, n = {n})",
                        4.0 * se
                    ),
                )
            } else if let Some(name) = check["series_at"].as_str() {
                let t = c("t");
                let series = &out.timeline.series[name];
                let obs = series
                    .iter()
                    .find(|(x, _)| (x - t).abs() < 1e-9)
                    .unwrap_or_else(|| panic!("{file}: {name} has no point at {t} s"))
                    .1;
                if let Some(bound) = check["below"].as_f64() {
                    (
                        obs < bound,
                        format!("{file}: {name} at {t} s = {obs:.2} < {bound}"),
                    )
                } else {
                    // The mean over `reps` replications of a Poisson count: se = sqrt(m / reps).
                    let want = c("poisson_mean");
                    let se = (want / c("reps")).sqrt();
                    (
                        (obs - want).abs() <= 4.0 * se,
                        format!(
                            "{file}: {name} at {t} s = {obs:.1} vs {want} (4 se = {:.1})",
                            4.0 * se
                        ),
                    )
                }
            } else if let Some(p) = check["binomial"].as_str() {
                let n = num(&at(p)["lookups"], "lookups");
                let obs = num(&at(p)["hit_ratio"], "hit_ratio");
                let want = c("p");
                // Hits are binomial given the lookups (the outage's share of lookups is
                // itself random but its variance adds less than 1 % here).
                let se = (want * (1.0 - want) / n).sqrt();
                (
                    (obs - want).abs() <= 4.0 * se,
                    format!(
                        "{file}: {p} hit ratio {obs:.5} vs {want} (4 se = {:.5}, n = {n})",
                        4.0 * se
                    ),
                )
            } else {
                let p = check["path"].as_str().unwrap();
                let obs = num(at(p), p);
                if let Some(rate) = check["poisson_rate"].as_f64() {
                    let se = (rate / c("seconds")).sqrt();
                    (
                        (obs - rate).abs() <= 4.0 * se,
                        format!(
                            "{file}: {p} = {obs:.4} vs Poisson rate {rate} (4 se = {:.4})",
                            4.0 * se
                        ),
                    )
                } else {
                    let (want, tol) = (c("equals"), c("tol"));
                    (
                        (obs - want).abs() <= tol,
                        format!("{file}: {p} = {obs} vs {want} +- {tol}"),
                    )
                }
            };
            println!("{} {line}", if ok { "ok  " } else { "FAIL" });
            if !ok {
                failures.push(line);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn hop_moments_match_the_closed_mean() {
    // q RTO / (1 - 2p): 0.401263 x 0.2 / 0.9 = 0.0891695 s (the geometric series, truncated
    // at 15 retries, differs by (2p)^16 ~ 1e-16).
    let (m, _) = hop_moments(0.05, 10, 0.2);
    assert!((m - 0.0891695).abs() < 1e-6, "{m}");
}

#[test]
fn adding_a_fault_does_not_change_another_faults_draws() {
    let dir = support::data_dir("faults");
    let text = std::fs::read_to_string(dir.join("random-crash.yaml")).unwrap();
    let parse = |t: &str| {
        models::parse_scenario(t, "random-crash.yaml", &[])
            .unwrap()
            .0
    };
    let mut one = parse(&text);
    one.horizon = models::Duration::from_secs(200 * 3600);
    one.replications = 1;
    let mut two = one.clone();
    let mut other = two.faults[0].clone();
    other.name = Some("another".into());
    other.mtbf = Some(models::Duration::from_secs(7 * 3600));
    two.faults.push(other);
    let a = sim::simulate(&one, &sim::Options::default()).summary;
    let b = sim::simulate(&two, &sim::Options::default()).summary;
    // The first fault's failures come from its own stream: the same count in both runs.
    assert_eq!(
        a.recovery.random_faults[0].occurrences,
        b.recovery.random_faults[0].occurrences
    );
    assert_eq!(b.recovery.random_faults.len(), 2);
}

/// A small platform written at about 50/s, with one fault given as YAML text.
fn recovery_scenario(fault: &str, resolution: &str) -> models::Scenario {
    let text = format!(
        r#"name: recovery-parts
seed: 3
horizon: 40m
warmup: 1m
replications: 2
recovery_window: 10s
recovery_resolution: {resolution}
services:
  db: {{replicas: 1, concurrency: 20, service_time: {{constant: 5ms}}}}
workload:
  arrivals: {{poisson: {{rate: 50/s}}}}
  journeys:
    - name: write
      steps: [{{service: db}}]
slos:
  - error_rate(write) < 1%
faults:
  - {fault}
"#
    );
    models::parse_scenario(&text, "recovery.yaml", &[])
        .unwrap_or_else(|e| panic!("{e:?}\n{text}"))
        .0
}

/// RTO from the windows is never below the sum of the recovery's parts (each a lower bound:
/// nothing serves before every step is done) and at most one window above it; a corruption's
/// RPO is never below its detection delay.
#[test]
fn rto_is_never_below_its_parts_and_corruption_rpo_is_its_detection() {
    let cases = [
        // Failover: 3 x 10 s + 10 + 5 + 2 = 47 s.
        ("{at: 5m, kind: primary_crash, target: db, recovery: {check_interval: 10s, failure_threshold: 3}}", 47.0),
        // Backup restore: 30 s detection + 60 s provision + 10 GB / 100 MB/s = 100 s + replay of
        // 10 min x ~50 writes/s x 1000 B = 30 MB at 20 MB/s = ~1.5 s + 2 s reconnect.
        ("{at: 5m, kind: primary_crash, target: db, recovery: {check_interval: 10s, failure_threshold: 3, from_backup: {provision: 60s, size_gb: 10, restore_mb_s: 100, since_backup: 10m}}, replication: {corruption: {detected_after: 20m}}}", 193.5),
        // Region failover, hot standby: 60 s alert + 120 s DNS + 180 s promotion + 2 s.
        ("{at: 5m, kind: region_loss, target: db, recovery: {detection: 1m, region_failover: {dns_switch: 2m, promotion: 3m, standby: hot}}}", 362.0),
    ];
    for (fault, parts) in cases {
        for resolution in ["1s", "100ms"] {
            let s = recovery_scenario(fault, resolution);
            let r = sim::simulate(&s, &sim::Options::default()).summary.recovery;
            let rto = r.rto_s.unwrap_or_else(|| panic!("no RTO: {fault}"));
            let w: f64 = if resolution == "1s" { 1.0 } else { 0.1 };
            // The replay part moves with the observed rate (50/s +- a few %): 0.1 s of slack.
            assert!(
                rto + 0.1 >= parts,
                "{fault} at {resolution}: RTO {rto} < parts {parts}"
            );
            assert!(
                rto <= parts + w + 0.1,
                "{fault} at {resolution}: RTO {rto} > {parts} + {w}"
            );
            if fault.contains("corruption") {
                let rpo = r.rpo_s.expect("rpo");
                assert!(rpo >= 1200.0, "RPO {rpo} below the 20 min detection delay");
            }
        }
    }
}
