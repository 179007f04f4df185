//! Observers on loopback: `twin load` drives `twin emulate` (an M/M/10 queue at utilisation
//! 0.6, scenarios/examples/loopback-observed.yaml) and scrapes the emulator's own /metrics every
//! 100 ms. The last scraped request counter equals the emulator's own count and the load's; the
//! scraped number in the system agrees with Little's law measured on the server alone (the
//! time-average of the in-flight gauge against the scraped in-system seconds per second), the
//! load's own W is at least the server's, and the number in service agrees with lambda x E[S]; the queue samples are plausible; the
//! observed series sit beside the predicted ones in the timeline and the report's chart. Alone in
//! its file so no other test competes for the CPU while it measures.

mod support;

use support::*;

/// The samples of a series in the timeline.
fn series(timeline: &serde_json::Value, name: &str) -> Vec<(f64, f64)> {
    timeline["series"][name]
        .as_array()
        .unwrap_or_else(|| {
            panic!(
                "no series {name} in {:?}",
                timeline["series"]
                    .as_object()
                    .map(|m| m.keys().collect::<Vec<_>>())
            )
        })
        .iter()
        .map(|p| (p[0].as_f64().expect("t"), p[1].as_f64().expect("v")))
        .collect()
}

/// Mean and standard error by batch means (10 consecutive batches: the samples, 100 ms apart,
/// are correlated over about one service time, 50 ms, so batches of ~18 are nearly independent).
fn mean_and_se(values: &[f64]) -> (f64, f64) {
    let b = 10;
    let per = values.len() / b;
    let means: Vec<f64> = (0..b)
        .map(|k| values[k * per..(k + 1) * per].iter().sum::<f64>() / per as f64)
        .collect();
    let m = means.iter().sum::<f64>() / b as f64;
    let var = means.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (b - 1) as f64;
    (m, (var / b as f64).sqrt())
}

#[test]
fn scraped_series_agree_with_the_counters_and_littles_law() {
    let scenario = example("loopback-observed.yaml");
    let emulator = Emulator::start(&scenario);
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    let (duration, warmup) = (20.0, 2.0);
    let o = load(
        &scenario,
        &emulator.url(),
        &dir,
        &["--duration", "20s", "--warmup", "2s"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let detail = json(&dir.join("load.json"));
    let summary = json(&dir.join("summary.json"));
    let timeline = json(&dir.join("timeline.json"));

    // No scrape failed; about one every 100 ms.
    let obs = &detail["observers"]["emulator"];
    assert_eq!(obs["failures"].as_u64(), Some(0), "{obs}");
    let scrapes = obs["scrapes"].as_u64().unwrap_or(0);
    assert!((150..=230).contains(&scrapes), "{scrapes} scrapes");

    // Counts: the last scrape (after the run's last request) equals the emulator's own counter
    // and the load's count of requests sent.
    let requests = series(&timeline, "requests/api");
    let last = requests.last().expect("a sample").1 as u64;
    let served = emulator.requests();
    let sent = detail["requests"].as_u64().expect("requests");
    eprintln!("scraped requests_total {last}, emulator {served}, load {sent}");
    assert_eq!(last, served);
    assert_eq!(last, sent);

    // Little's law over the measured part of the run.
    let steady = |name: &str| -> Vec<f64> {
        series(&timeline, name)
            .into_iter()
            .filter(|(t, _)| *t >= warmup && *t < duration)
            .map(|(_, v)| v)
            .collect()
    };
    let in_flight = steady("in_flight/api");
    let in_service = steady("in_service/api");
    let queue = steady("queue/api (observed)");
    let call = &summary["journeys"]["call"];
    let lambda = call["count"].as_f64().expect("count") / (duration - warmup);
    let w = call["latency_ms"]["mean"].as_f64().expect("mean") / 1000.0;
    let (l, l_se) = mean_and_se(&in_flight);
    let (busy, busy_se) = mean_and_se(&in_service);
    // The server's side of Little's law: the in-system seconds the emulator summed over the
    // steady window, per second, is lambda x W_server exactly (up to the requests in flight at
    // the window's two edges: ~L x W / T = 6 x 0.05 / 19 = 0.016 requests, 0.3 % of L).
    let in_system = series(&timeline, "in_system_s/api");
    let first = in_system
        .iter()
        .find(|(t, _)| *t >= warmup)
        .expect("a steady sample");
    let last = in_system
        .iter()
        .rev()
        .find(|(t, _)| *t < duration)
        .expect("a steady sample");
    let lambda_w_server = (last.1 - first.1) / (last.0 - first.0);
    // 99.9 % two-sided t quantile with 9 degrees of freedom (10 batch means).
    let t = 4.78;
    eprintln!(
        "Little: scraped L {l:.3} (SE {l_se:.3}, n {}) vs server lambda x W {lambda_w_server:.3}; \
         client lambda {lambda:.1}/s x W {:.2} ms = {:.3}; \
         in service {busy:.3} (SE {busy_se:.3}) vs lambda x E[S] = {:.3}; mean queue {:.3}",
        in_flight.len(),
        w * 1000.0,
        lambda * w,
        lambda * 0.05,
        queue.iter().sum::<f64>() / queue.len() as f64
    );
    assert!(in_flight.len() >= 150, "{} samples", in_flight.len());
    assert!(
        (l - lambda_w_server).abs() < t * l_se,
        "L {l} vs the server's lambda W {lambda_w_server}"
    );
    // The load measures from the scheduled start, so its W holds the server's and more (the
    // client and loopback): never less, beyond the noise of L.
    assert!(
        lambda * w > l - t * l_se,
        "client lambda W {} below the server's L {l}",
        lambda * w
    );
    assert!(
        (busy - lambda * 0.05).abs() < t * busy_se,
        "busy {busy} vs lambda E[S] {}",
        lambda * 0.05
    );
    // Plausible samples: never more in service than the 10 servers, queues never negative,
    // and a mean queue near Erlang C's Lq = 0.15 (far below 1).
    assert!(in_service.iter().all(|v| (0.0..=10.0).contains(v)));
    assert!(queue.iter().all(|v| *v >= 0.0));
    assert!(queue.iter().sum::<f64>() / (queue.len() as f64) < 1.0);

    // Beside the prediction: replicas observed (1) and predicted (1); the queue of both.
    let replicas = series(&timeline, "replicas/api (observed)");
    assert!(replicas.iter().all(|(_, v)| *v == 1.0));
    let predicted = series(&timeline, "replicas/api (predicted)");
    assert!(!predicted.is_empty() && predicted.iter().all(|(_, v)| *v == 1.0));
    assert!(!series(&timeline, "queue/api (predicted)").is_empty());
    let chart = std::fs::read_dir(dir.join("charts"))
        .expect("charts")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("series-") && n.ends_with("-queue.svg"))
        })
        .expect("a queue chart");
    let svg = std::fs::read_to_string(&chart).expect("svg");
    assert!(svg.contains("api (observed)") && svg.contains("api (predicted)"));
    assert!(std::fs::read_to_string(dir.join("series.csv"))
        .expect("series.csv")
        .contains("in_flight/api"));
}

/// An observer whose endpoint is not there: every scrape fails, the run still measures and
/// exits 0, and the failures are reported.
#[test]
fn scrape_failures_are_reported_not_fatal() {
    let scenario = example("loopback-mmc.yaml");
    let emulator = Emulator::start(&scenario);
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().join("run");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a port")
        .port();
    let o = load(
        &scenario,
        &emulator.url(),
        &dir,
        &[
            "--duration",
            "2s",
            "--no-predict",
            "--set",
            &format!(
                "observers=[{{name: ksm, url: 'http://127.0.0.1:{port}/metrics', interval: 200ms, series: [{{metric: kube_horizontalpodautoscaler_status_current_replicas}}]}}]"
            ),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let detail = json(&dir.join("load.json"));
    let ksm = &detail["observers"]["ksm"];
    let scrapes = ksm["scrapes"].as_u64().unwrap_or(0);
    assert!(scrapes >= 5, "{ksm}");
    assert_eq!(ksm["failures"].as_u64(), Some(scrapes));
    let summary = json(&dir.join("summary.json"));
    let warned = summary["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .any(|w| {
            w.as_str()
                .is_some_and(|w| w.contains("observer `ksm`") && w.contains("failed"))
        });
    assert!(warned, "{}", summary["warnings"]);
}
