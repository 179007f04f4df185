//! A small hand-made run (a load test with two journeys, faults and every optional section) for
//! the unit tests.

use indexmap::IndexMap;
use models::fidelity::Fidelity;
use models::summary::*;
use models::timeline::{Timeline, TimelineEvent, WindowStats};

pub(crate) fn small_run(scenario: &str) -> (RunSummary, Timeline) {
    let journey = |count: u64, errors: u64, p95: f64| JourneySummary {
        count,
        errors,
        error_rate: errors as f64 / count as f64,
        latency_ms: LatencyStats {
            mean: p95 * 0.45,
            p50: p95 * 0.35,
            p90: p95 * 0.8,
            p95,
            p99: p95 * 1.6,
            max: p95 * 3.0,
            other: Default::default(),
        },
        ci95_ms: LatencyCi {
            mean: Some([p95 * 0.44, p95 * 0.46]),
            p95: Some([p95 * 0.97, p95 * 1.03]),
        },
        unfinished: 0,
        circuit_breakers: Vec::new(),
        ..Default::default()
    };
    let mut journeys = IndexMap::new();
    journeys.insert("checkout".to_string(), journey(12_000, 6, 412.0));
    journeys.insert("browse".to_string(), journey(48_000, 0, 95.0));
    let mut services = IndexMap::new();
    services.insert(
        "gateway".to_string(),
        ServiceSummary {
            throughput_rps: 100.0,
            utilization: 0.62,
            queue_wait_ms: QueueWait {
                mean: 3.1,
                p95: 12.0,
            },
            replicas: ReplicaStats {
                min: 2,
                max: 5,
                mean: 3.4,
                steady_from_s: None,
            },
        },
    );
    services.insert(
        "db".to_string(),
        ServiceSummary {
            throughput_rps: 40.0,
            utilization: 0.91,
            queue_wait_ms: QueueWait {
                mean: 40.0,
                p95: 180.0,
            },
            replicas: ReplicaStats {
                min: 1,
                max: 1,
                mean: 1.0,
                steady_from_s: None,
            },
        },
    );
    let slo = |name: &str, observed: Option<f64>, bound: f64, met: bool| SloVerdict {
        name: name.into(),
        observed,
        bound,
        met,
    };
    let summary = RunSummary {
        kind: RunKind::Load,
        scenario: scenario.into(),
        seed: 7,
        replications: 1,
        horizon_s: 600.0,
        partial: true,
        journeys,
        services,
        slos: vec![
            slo("p95(checkout) < 300ms", Some(412.0), 300.0, false),
            slo("error_rate(checkout) < 0.1%", Some(0.0005), 0.001, true),
            slo("availability >= 99.9%", Some(0.9999), 0.999, true),
            slo("rto < 30s", None, 30.0, false),
        ],
        cost: Some(CostSummary {
            total_usd: 1.25,
            monthly_usd: 5400.0,
            infrastructure_monthly_usd: 4320.0,
            usage_monthly_usd: 1080.0,
            by_item: [
                ("node_pool/general".to_string(), 1.0),
                ("llm/claude".to_string(), 0.25),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        }),
        recovery: Recovery {
            rto_s: Some(27.5),
            rpo_s: Some(0.0),
            lost_writes: Some(0),
            faults: Vec::new(),
            ..Default::default()
        },
        warnings: vec!["db is 91 % busy: queueing grows steeply".into()],
        engine: EngineStats {
            events: 1_000_000,
            wall_s: 1.5,
        },
        components: Default::default(),
        fidelity: None,
        rollouts: Vec::new(),
        tags: Default::default(),
    };
    let predicted = RunSummary {
        kind: RunKind::Simulation,
        journeys: summary
            .journeys
            .iter()
            .map(|(name, j)| (name.clone(), journey(j.count, 0, j.latency_ms.p95 / 1.373)))
            .collect(),
        ..summary.clone()
    };
    let summary = RunSummary {
        components: Default::default(),
        fidelity: Some(Fidelity::compare(
            "simulation (in-process)",
            &predicted,
            &summary,
        )),
        ..summary
    };
    let window_s = 10.0;
    let windows = |base: f64| -> Vec<WindowStats> {
        (0..60)
            .map(|i| {
                let start_s = i as f64 * window_s;
                let slow = if (20..24).contains(&i) { 3.0 } else { 1.0 };
                let count = if i == 40 { 0 } else { 100 };
                WindowStats {
                    start_s,
                    count,
                    errors: u64::from(i == 21),
                    mean_ms: base * slow,
                    p50_ms: base * 0.8 * slow,
                    p95_ms: base * 2.0 * slow,
                    p99_ms: base * 3.0 * slow,
                }
            })
            .collect()
    };
    let mut timeline = Timeline {
        window_s,
        ..Timeline::default()
    };
    timeline.journeys.insert("checkout".into(), windows(150.0));
    timeline.journeys.insert("browse".into(), windows(40.0));
    let steps = |values: &[(f64, f64)]| values.to_vec();
    timeline.series.insert(
        "replicas/gateway".into(),
        steps(&[(0.0, 2.0), (210.0, 4.0), (300.0, 5.0), (450.0, 3.0)]),
    );
    timeline.series.insert(
        "queue/gateway".into(),
        (0..60).map(|i| (i as f64 * 10.0, (i % 7) as f64)).collect(),
    );
    timeline
        .series
        .insert("replicas/db".into(), steps(&[(0.0, 1.0), (600.0, 1.0)]));
    timeline.series.insert(
        "kafka_lag/requirement.analyzed".into(),
        steps(&[(0.0, 0.0), (200.0, 120.0), (260.0, 10.0)]),
    );
    let buckets = |scale: f64| -> Vec<(f64, u64)> {
        (1..40)
            .map(|k| {
                (
                    scale * 1.2f64.powi(k),
                    (1000.0 * (-(k as f64 - 15.0).powi(2) / 30.0).exp()) as u64,
                )
            })
            .collect()
    };
    timeline.histograms.insert("checkout".into(), buckets(5.0));
    timeline.histograms.insert("browse".into(), buckets(1.5));
    timeline.events = vec![
        TimelineEvent {
            at_s: 200.0,
            label: "db primary crash".into(),
        },
        TimelineEvent {
            at_s: 227.5,
            label: "replica promoted".into(),
        },
    ];
    (summary, timeline)
}
