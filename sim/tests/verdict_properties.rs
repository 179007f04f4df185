//! Properties of verdicts over random small fault scenarios (fixed seeds): the RTO is never
//! shorter than the time the target had no ready pod, a fault after which the target never has
//! one again is never "recovered", and no SLO is met on a journey without a success.

use models::RandomStream;

/// One small scenario drawn from `rng`: a pod-based API behind a pool that may or may not be
/// able to grow, a pod kill or node loss, and a journey that may fail throughout.
fn scenario(i: u32, rng: &mut RandomStream) -> String {
    let mut pick = |xs: &[&'static str]| xs[(rng.next_u64() % xs.len() as u64) as usize];
    let max_nodes = pick(&["1", "2", "3"]);
    let replicas = pick(&["1", "2"]);
    let service_ms = pick(&["20", "50"]);
    let startup = pick(&["5s", "20s"]);
    let rate = pick(&["5", "20"]);
    let at = pick(&["90s", "150s", "200s"]);
    let fault = pick(&[
        "{kind: node_loss, target: general}",
        "{kind: pod_kill, target: api}",
    ]);
    // A 1 ms timeout on a journey that takes at least 5 ms: every request of it fails.
    let timeout = pick(&["", "", "\n      timeout: 1ms", "\n      timeout: 2s"]);
    let error_slo = pick(&["", "\n  - error_rate(call) < 5%"]);
    format!(
        "name: prop-{i}
seed: {seed}
horizon: 6m
warmup: 30s
replications: 1
node_pools:
  general: {{machine: n1-standard-4, min: 1, max: {max_nodes}}}
services:
  api:
    replicas: {replicas}
    concurrency: 4
    service_time: {{exponential: {{mean: {service_ms}ms}}}}
    pod: {{node_pool: general, cpu: 1000m, memory: 1Gi, startup: {startup}}}
workload:
  arrivals: {{poisson: {{rate: {rate}/s}}}}
  journeys:
    - name: call{timeout}
      steps: [{{delay: {{constant: 5ms}}}}, {{service: api}}]
faults:
  - {{at: {at}, {rest}
slos:
  - p95(call) < 500ms
  - mean(call) < 1s
  - availability > 99%{error_slo}
",
        seed = 100 + i,
        rest = &fault[1..],
    )
}

#[test]
fn rto_covers_the_outage_and_no_slo_is_met_without_a_success() {
    let mut rng = RandomStream::from_seed(2026);
    let (mut outages, mut never, mut no_success) = (0, 0, 0);
    let mut failures = Vec::new();
    for i in 0..24 {
        let text = scenario(i, &mut rng);
        let (s, _) = models::parse_scenario(&text, "prop.yaml", &[])
            .unwrap_or_else(|e| panic!("case {i}: {e:?}\n{text}"));
        let out = sim::simulate(&s, &sim::Options::default());
        let summary = &out.summary;
        let window = out.timeline.window_s;
        let at = s.faults[0].at.map_or(0.0, |d| d.as_secs_f64());
        // Ready pods sampled at each window's end; the samples after the fault with none.
        let ready = &out.timeline.series["replicas/api"];
        let empty = ready.iter().filter(|(t, r)| *t > at && *r == 0.0).count();
        let back = ready.last().is_some_and(|(_, r)| *r > 0.0);
        let f = &summary.recovery.faults[0];
        let mut fail = |m: String| failures.push(format!("case {i}: {m}\n{text}"));
        if !back {
            never += 1;
            if f.recovered || f.rto_s.is_some() {
                fail(format!(
                    "no ready pod at the end, yet recovered with rto {:?}",
                    f.rto_s
                ));
            }
        } else if empty > 0 {
            outages += 1;
        }
        // With the outage [t0, t1) sampled on a grid of `window`, `empty` samples mean
        // t1 - t0 >= (empty - 1) x window; recovery starts at a window that holds a
        // completion, so no earlier than t1 - window: RTO >= (empty - 2) x window.
        if let Some(rto) = f.rto_s {
            let floor = (empty as f64 - 2.0).max(0.0) * window;
            if rto < floor {
                fail(format!(
                    "rto {rto} s shorter than the outage's {floor} s ({empty} empty samples)"
                ));
            }
        }
        if !f.recovered {
            let availability = summary
                .slos
                .iter()
                .find(|v| v.name.starts_with("availability"));
            if availability.is_some_and(|v| v.met) {
                fail("availability met though the service never recovered".into());
            }
            if summary.recovery.rto_s.is_some() {
                fail("a run RTO though a fault never recovered".into());
            }
        }
        let call = &summary.journeys["call"];
        if call.count + call.unfinished > 0 && call.successes() == 0 {
            no_success += 1;
            for v in summary.slos.iter().filter(|v| v.name.contains("(call)")) {
                if v.met {
                    fail(format!("`{}` met on a journey without a success", v.name));
                }
            }
            if summary.all_slos_met() {
                fail("the run passes though a journey never succeeded".into());
            }
        }
    }
    println!(
        "{outages} recovered outages, {never} never recovered, {no_success} without a success"
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The draws must exercise every branch, or the properties were checked on nothing.
    assert!(
        outages >= 3 && never >= 2 && no_success >= 2,
        "{outages} {never} {no_success}"
    );
}
