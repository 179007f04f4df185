//! The report in a real browser: Debian's headless chromium opens a report rendered from a small
//! hand-made run and must lay it out, load every chart image, and log nothing to its console
//! (the report has no script of its own; a copy of the page carries the checking script).
//!
//! Chromium is required, not optional: without it these tests fail and say how to get it.

use models::fidelity::Fidelity;
use models::summary::*;
use models::timeline::{Timeline, TimelineEvent, WindowStats};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";

/// Appended to a copy of the report: after load, records in the DOM how many images there are,
/// which did not load, and how tall the page is.
const CHECK_SCRIPT: &str = r#"<script>
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var broken = images.filter(function (i) { return !(i.complete && i.naturalWidth > 0); })
                     .map(function (i) { return i.getAttribute('src'); });
  var out = document.createElement('pre');
  out.id = 'twin-check';
  out.textContent = 'images=' + images.length + ';broken=' + broken.join(',') +
    ';tables=' + document.querySelectorAll('table').length +
    ';height=' + document.documentElement.scrollHeight + ';end';
  document.body.appendChild(out);
});
</script>
"#;

fn chromium() -> PathBuf {
    let path = std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from(CHROMIUM), PathBuf::from);
    assert!(
        path.is_file(),
        "{} not found: this test needs Debian's chromium (`apt-get install chromium`); \
         `.ci/run` installs it when it is missing",
        path.display()
    );
    path
}

/// Runs headless chromium on a page with a fresh profile; returns (stdout, stderr).
fn run_chromium(extra: &[String], page: &Path) -> (String, String) {
    let profile = tempfile::tempdir().expect("temporary profile folder");
    let mut args: Vec<String> = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=10000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend(extra.iter().cloned());
    args.push(format!("file://{}", page.display()));
    let mut child = Command::new(chromium())
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait for chromium").is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            panic!("chromium did not finish within 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("chromium output");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// What the check script recorded, and every console message chromium logged.
struct BrowserCheck {
    images: usize,
    broken: Vec<String>,
    tables: usize,
    height: u32,
    console: Vec<String>,
}

fn check_in_browser(report: &Path) -> BrowserCheck {
    let page = std::fs::read_to_string(report).expect("read report.html");
    let checked = page.replace("</body>", &format!("{CHECK_SCRIPT}</body>"));
    let check_page = report.with_file_name("browser-check.html");
    std::fs::write(&check_page, checked).expect("write the checking copy");
    let (dom, log) = run_chromium(&["--dump-dom".to_string()], &check_page);
    let record = dom
        .split("<pre id=\"twin-check\">")
        .nth(1)
        .and_then(|rest| rest.split(";end").next())
        .unwrap_or_else(|| panic!("the check script did not run; DOM:\n{dom}"));
    let field = |name: &str| -> String {
        record
            .split(';')
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .unwrap_or_default()
            .to_string()
    };
    BrowserCheck {
        images: field("images").parse().expect("image count"),
        broken: field("broken")
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        tables: field("tables").parse().expect("table count"),
        height: field("height").parse().expect("page height"),
        console: log
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(String::from)
            .collect(),
    }
}

#[test]
fn the_report_renders_in_chromium_with_every_chart_and_no_console_message() {
    let (summary, timeline) = hand_made_run();
    let tmp = tempfile::tempdir().expect("temporary folder");
    let written =
        reports::write_run(&tmp.path().join("run"), &summary, &timeline).expect("write the run");
    let charts = written
        .files
        .iter()
        .filter(|f| f.starts_with("charts"))
        .count();
    assert_eq!(charts, 7, "2 latency + 2 histograms + 3 families");

    let check = check_in_browser(&written.report);
    assert_eq!(check.images, charts, "every chart is on the page");
    assert!(
        check.broken.is_empty(),
        "charts that did not load: {:?}",
        check.broken
    );
    assert!(
        check.tables >= 5,
        "SLO, journey, fidelity, service, cost tables; saw {}",
        check.tables
    );
    assert!(
        check.height > 2000,
        "the page has its full length laid out ({} px)",
        check.height
    );
    assert!(
        check.console.is_empty(),
        "console messages: {:#?}",
        check.console
    );

    let screenshot = tmp.path().join("report.png");
    run_chromium(
        &[
            format!("--screenshot={}", screenshot.display()),
            "--window-size=1200,2400".to_string(),
        ],
        &written.report,
    );
    let png = std::fs::read(&screenshot).expect("chromium wrote a screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real screenshot ({} bytes)",
        png.len()
    );
    if let Some(keep) = std::env::var_os("TWIN_KEEP_REPORT") {
        let keep = PathBuf::from(keep);
        let _ = std::fs::remove_dir_all(&keep);
        std::fs::rename(tmp.path(), &keep).expect("keep the report");
        std::mem::forget(tmp);
    }
}

/// The check is not vacuous: a chart that does not load and a console message are both seen.
#[test]
fn the_browser_check_sees_a_broken_chart_and_a_console_message() {
    let (summary, timeline) = hand_made_run();
    let tmp = tempfile::tempdir().expect("temporary folder");
    let written =
        reports::write_run(&tmp.path().join("run"), &summary, &timeline).expect("write the run");
    let victim = written
        .files
        .iter()
        .find(|f| f.starts_with("charts"))
        .expect("a chart");
    std::fs::write(written.dir.join(victim), "not an svg").expect("spoil a chart");
    let page = std::fs::read_to_string(&written.report).expect("read report.html");
    let noisy = page.replace(
        "</body>",
        "<script>console.error('twin-probe');</script></body>",
    );
    std::fs::write(&written.report, noisy).expect("write report.html");

    let check = check_in_browser(&written.report);
    assert_eq!(check.broken, vec![victim.display().to_string()]);
    assert_eq!(check.console.len(), 1, "{:#?}", check.console);
    assert!(check.console[0].contains("twin-probe"));
}

/// A small load run with two journeys, a fault and its recovery, every optional section.
fn hand_made_run() -> (RunSummary, Timeline) {
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
    let service = |rps: f64, utilization: f64, min: u32, max: u32| ServiceSummary {
        throughput_rps: rps,
        utilization,
        queue_wait_ms: QueueWait {
            mean: 40.0 * utilization,
            p95: 180.0 * utilization,
        },
        replicas: ReplicaStats {
            min,
            max,
            mean: f64::from(min + max) / 2.0,
            steady_from_s: None,
        },
    };
    let verdict = |name: &str, observed: Option<f64>, bound: f64, met: bool| SloVerdict {
        name: name.into(),
        observed,
        bound,
        met,
    };
    let measured = RunSummary {
        kind: RunKind::Load,
        scenario: "staging <nightly> & \"friends\"".into(),
        seed: 7,
        replications: 1,
        horizon_s: 600.0,
        partial: true,
        journeys: [
            ("submit_requirement".to_string(), journey(12_000, 6, 412.0)),
            ("get_feature".to_string(), journey(48_000, 0, 95.0)),
        ]
        .into_iter()
        .collect(),
        services: [
            ("gateway".to_string(), service(100.0, 0.62, 2, 5)),
            ("postgres".to_string(), service(40.0, 0.91, 1, 1)),
        ]
        .into_iter()
        .collect(),
        slos: vec![
            verdict("p95(submit_requirement) < 300ms", Some(412.0), 300.0, false),
            verdict(
                "error_rate(submit_requirement) < 0.1%",
                Some(0.0005),
                0.001,
                true,
            ),
            verdict("availability >= 99.9%", Some(0.9999), 0.999, true),
            verdict("rto < 30s", Some(27.5), 30.0, true),
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
        warnings: vec!["postgres is 91 % busy: <queueing> grows steeply".into()],
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
        journeys: measured
            .journeys
            .iter()
            .map(|(name, j)| (name.clone(), journey(j.count, 0, j.latency_ms.p95 * 0.8)))
            .collect(),
        ..measured.clone()
    };
    let summary = RunSummary {
        components: Default::default(),
        fidelity: Some(Fidelity::compare(
            "simulation (in-process)",
            &predicted,
            &measured,
        )),
        ..measured
    };

    let window_s = 10.0;
    let windows = |base: f64| -> Vec<WindowStats> {
        (0..60)
            .map(|i| {
                let slow = if (20..24).contains(&i) { 3.0 } else { 1.0 };
                WindowStats {
                    start_s: f64::from(i) * window_s,
                    count: if i == 40 { 0 } else { 100 },
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
    timeline
        .journeys
        .insert("submit_requirement".into(), windows(150.0));
    timeline
        .journeys
        .insert("get_feature".into(), windows(40.0));
    timeline.series.insert(
        "replicas/gateway".into(),
        vec![
            (0.0, 2.0),
            (210.0, 2.0),
            (210.0, 4.0),
            (300.0, 4.0),
            (300.0, 5.0),
            (600.0, 5.0),
        ],
    );
    timeline
        .series
        .insert("replicas/postgres".into(), vec![(0.0, 1.0), (600.0, 1.0)]);
    timeline.series.insert(
        "queue/gateway".into(),
        (0..60)
            .map(|i| (f64::from(i) * 10.0, f64::from(i % 7)))
            .collect(),
    );
    timeline.series.insert(
        "kafka_lag/requirement.analyzed".into(),
        vec![(0.0, 0.0), (200.0, 120.0), (260.0, 10.0), (600.0, 0.0)],
    );
    let buckets = |scale: f64| -> Vec<(f64, u64)> {
        (1..40)
            .map(|k| {
                let weight = (-(f64::from(k) - 15.0).powi(2) / 30.0).exp();
                (scale * 1.2f64.powi(k), (1000.0 * weight) as u64)
            })
            .collect()
    };
    timeline
        .histograms
        .insert("submit_requirement".into(), buckets(5.0));
    timeline
        .histograms
        .insert("get_feature".into(), buckets(1.5));
    timeline.events = vec![
        TimelineEvent {
            at_s: 200.0,
            label: "postgres primary crash".into(),
        },
        TimelineEvent {
            at_s: 227.5,
            label: "replica promoted".into(),
        },
    ];
    (summary, timeline)
}

/// Inlined into a page holding every chart's SVG: records each chart whose text (legend entries,
/// labels, title) lies outside its own box, by the laid-out rectangles of the browser.
const LEGEND_SCRIPT: &str = r#"<script>
window.addEventListener('load', function () {
  var outside = [];
  var charts = document.querySelectorAll('div.chart');
  charts.forEach(function (div) {
    var svg = div.querySelector('svg');
    var box = svg.getBoundingClientRect();
    svg.querySelectorAll('text').forEach(function (t) {
      var r = t.getBoundingClientRect();
      if (r.width === 0) { return; }
      if (r.left < box.left - 0.5 || r.right > box.right + 0.5 ||
          r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5) {
        outside.push(div.id + ':' + t.textContent.trim());
      }
    });
  });
  // The checked charts leave the page: the dumped DOM must stay small (a pipe's buffer).
  charts.forEach(function (div) { div.remove(); });
  var out = document.createElement('pre');
  out.id = 'twin-check';
  out.textContent = 'charts=' + charts.length + ';outside=' + outside.join('|') + ';end';
  document.body.appendChild(out);
});
</script>
"#;

#[test]
fn the_trend_chart_is_drawn_and_every_legend_stays_inside_its_chart() {
    let (summary, mut timeline) = hand_made_run();
    // A family of 20 long-named series (more than one chart holds) and three nights of history.
    for k in 0..20 {
        timeline.series.insert(
            format!("replicas/agent-service-with-a-long-name-{k:02}"),
            vec![(0.0, k as f64), (300.0, k as f64 + 1.0)],
        );
    }
    let line = |values: [f64; 3]| models::trend::TrendLine {
        values: values.iter().map(|v| Some(*v)).collect(),
        thresholds: vec![None, Some(values[0] * 1.2), Some(values[0] * 1.2)],
    };
    timeline.trend = Some(models::trend::Trend {
        nights: (2..5).map(|d| format!("2026-12-0{d}T02:00:00Z")).collect(),
        partial: vec![false; 3],
        metrics: vec![models::trend::TrendMetric {
            name: "p95_ms".into(),
            unit: "ms".into(),
            journeys: [(
                "a-journey-whose-name-is-far-too-long-for-a-legend".to_string(),
                line([100.0, 110.0, 140.0]),
            )]
            .into_iter()
            .collect(),
        }],
        regressions: vec!["p95(x) = 140.0 ms is 40.0% worse".into()],
    });
    // A rollout rolled back near the run's end (its label hangs left of its mark), with every
    // verdict in the legend.
    use models::rollout::{Outcome, Verdict};
    timeline.rollouts.push(models::timeline::RolloutTrack {
        name: "a-release-whose-name-is-long".into(),
        start_s: 60.0,
        weights: vec![
            (0.0, 0.0),
            (60.0, 0.0),
            (60.0, 0.1),
            (300.0, 0.1),
            (300.0, 0.5),
            (570.0, 0.5),
            (570.0, 0.0),
            (600.0, 0.0),
        ],
        analyses: vec![
            (90.0, Verdict::Inconclusive),
            (120.0, Verdict::Pass),
            (540.0, Verdict::Pass),
            (570.0, Verdict::Fail),
        ],
        outcome: Outcome::RolledBack,
        decided_at_s: Some(570.0),
        completed_at_s: Some(600.0),
    });
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("run");
    reports::write_run(&dir, &summary, &timeline).expect("write the run");
    let page = std::fs::read_to_string(dir.join("report.html")).expect("report");
    assert!(
        dir.join("charts/rollout-1-a-release-whose-name-is-long.svg")
            .exists(),
        "the rollout chart"
    );
    assert!(page.contains("<section id=\"trend\">"), "the trend section");
    assert!(
        page.contains("charts/trend-1-p95_ms.svg"),
        "the trend chart"
    );
    assert!(
        page.contains("(3 of 3)"),
        "20 series split over 3 charts of at most 8"
    );
    // Every chart inline in one page, so the browser lays out their text.
    let mut inline = String::from("<!DOCTYPE html><html><body>");
    let mut names: Vec<_> = std::fs::read_dir(dir.join("charts"))
        .expect("charts")
        .map(|e| e.expect("entry").path())
        .collect();
    names.sort();
    for path in &names {
        let svg = std::fs::read_to_string(path).expect("svg");
        inline.push_str(&format!(
            "<div class=\"chart\" id=\"{}\">{svg}</div>",
            path.file_name().expect("name").to_string_lossy()
        ));
    }
    inline.push_str(LEGEND_SCRIPT);
    inline.push_str("</body></html>");
    let check = tmp.path().join("legends.html");
    std::fs::write(&check, inline).expect("write the page");
    let (dom, _) = run_chromium(&["--dump-dom".to_string()], &check);
    let record = dom
        .split("<pre id=\"twin-check\">")
        .nth(1)
        .and_then(|rest| rest.split(";end").next())
        .unwrap_or_else(|| panic!("the check script did not run; DOM:\n{dom}"));
    assert!(
        record.starts_with(&format!("charts={};", names.len())),
        "{record}"
    );
    assert_eq!(
        record.split(";outside=").nth(1),
        Some(""),
        "text outside its chart: {record}"
    );
}
