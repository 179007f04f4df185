//! Server-sent-event streams (`http: {stream: sse}`, issue #15): against a server written for
//! the test, whose stream has a known first-event delay and known gaps, `twin load` measures
//! time to first event, inter-event gaps and events within 5 %, and judges `p95_ttft` and
//! `p95_itl` SLOs; against `twin emulate`, the stream follows the scenario's LLM endpoint
//! (time to first token, then one token per `per_output_token`), and the simulator's prediction
//! of the same stream is set beside the measurement.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::time::Duration;
use support::*;

/// First event after this long, then `EVENTS - 1` more `GAP` apart.
const FIRST: Duration = Duration::from_millis(200);
const GAP: Duration = Duration::from_millis(50);
const EVENTS: u64 = 6;

/// An SSE server: each request (one per connection) gets `EVENTS` events on the timing above,
/// written as separate chunks with a comment line and an `event:` field among them, then
/// `data: [DONE]`, and the connection closes.
fn sse_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(conn.try_clone().expect("clone"));
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                let t0 = std::time::Instant::now();
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n: stream opens\n\n",
                );
                for k in 0..EVENTS {
                    let due = t0 + FIRST + GAP * k as u32;
                    std::thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
                    let _ = write!(conn, "event: token\ndata: {{\"k\": {k}}}\n\n");
                    let _ = conn.flush();
                }
                let _ = conn.write_all(b"data: [DONE]\n\n");
            });
        }
    });
    port
}

#[test]
fn first_event_gaps_and_events_are_measured_within_5_percent() {
    let port = sse_server();
    let tmp = tempfile::tempdir().expect("tempdir");
    let scen = tmp.path().join("chat.yaml");
    std::fs::write(
        &scen,
        "name: chat\nhorizon: 4s\nservices:\n  api: {replicas: 1, concurrency: 4, service_time: {constant: 1ms}}\n\
         workload:\n  arrivals: {constant: {rate: 5/s}}\n  journeys:\n    - name: chat\n      steps:\n        - service: api\n          http: {method: POST, path: /chat, body: '{\"prompt\": \"hi\"}', stream: sse}\n\
         slos:\n  - p95_ttft(chat) < 2s\n  - p95_itl(chat) < 10ms\n  - p99.9_ttft(chat) < 150ms\n",
    )
    .expect("write");
    let dir = tmp.path().join("run");
    let o = load(
        &scen,
        &format!("http://127.0.0.1:{port}"),
        &dir,
        &["--no-predict"],
    );
    // The gap objective (10 ms against 50 ms gaps) is missed.
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let summary = json(&dir.join("summary.json"));
    let chat = &summary["journeys"]["chat"];
    let n = chat["count"].as_u64().unwrap();
    assert_eq!(n, 20, "{chat}");
    assert_eq!(chat["errors"].as_u64(), Some(0), "{chat}");
    assert_eq!(chat["tokens"].as_u64(), Some(n * EVENTS), "{chat}");
    let within = |got: f64, want: Duration| {
        let want = want.as_secs_f64() * 1000.0;
        assert!(
            (got - want).abs() <= 0.05 * want,
            "{got} ms is not within 5 % of {want} ms: {chat}"
        );
    };
    within(chat["ttft_ms"]["p50"].as_f64().unwrap(), FIRST);
    within(chat["itl_ms"]["p50"].as_f64().unwrap(), GAP);
    within(chat["itl_ms"]["mean"].as_f64().unwrap(), GAP);
    // The step carries the same figures in load.json.
    let detail = json(&dir.join("load.json"));
    let step = &detail["steps"]["chat/0 api"]["summary"];
    assert_eq!(step["tokens"].as_u64(), Some(n * EVENTS), "{step}");
    let verdict = |name: &str| {
        summary["slos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no verdict {name}: {summary}"))
    };
    assert_eq!(verdict("p95_ttft(chat) < 2s")["met"], true);
    let itl = verdict("p95_itl(chat) < 10ms");
    assert_eq!(itl["met"], false);
    within(itl["observed"].as_f64().unwrap(), GAP);
    // A percentile beyond the standard ones is measured when an SLO asks for it: of 20 first
    // events, p99.9 is the slowest (the histogram's max), never sooner than the server's
    // 200 ms, so 150 ms is missed. Not bounded above: one scheduling stall of a loaded CI
    // machine moves a maximum (215.6 ms seen on 2026-12-06 while the p50 was 200.8 ms).
    let tail = verdict("p99.9_ttft(chat) < 150ms");
    assert_eq!(tail["met"], false);
    let p999 = chat["ttft_ms"]["other"]["p99.9"].as_f64().unwrap();
    assert_eq!(tail["observed"].as_f64(), Some(p999), "{chat}");
    assert_eq!(chat["ttft_ms"]["max"].as_f64(), Some(p999), "{chat}");
    let first_ms = FIRST.as_secs_f64() * 1000.0;
    assert!(
        p999 >= 0.95 * first_ms,
        "{p999} ms < the server's {first_ms} ms: {chat}"
    );
    // Bounded above by what cannot move with the machine: a first event comes within its
    // request, so no later than the slowest request's end.
    let slowest = chat["latency_ms"]["max"].as_f64().unwrap();
    assert!(
        p999 <= slowest,
        "first event {p999} ms after the slowest request's end {slowest} ms: {chat}"
    );
}

#[test]
fn the_emulator_streams_with_the_llm_endpoints_timing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let scen = tmp.path().join("llm.yaml");
    std::fs::write(
        &scen,
        "name: llm\nhorizon: 3s\nservices:\n  api: {replicas: 1, concurrency: 4, service_time: {constant: 1ms}}\n\
         llm_endpoints:\n  claude: {time_to_first_token: {constant: 120ms}, per_output_token: 20ms}\n\
         workload:\n  arrivals: {constant: {rate: 5/s}}\n  journeys:\n    - name: chat\n      steps:\n        - llm: claude\n          tokens: {tokens_in: {constant: 10}, tokens_out: {constant: 8}}\n          http: {method: POST, path: /chat, stream: sse}\n\
         slos:\n  - p95_ttft(chat) < 2s\n",
    )
    .expect("write");
    let emulator = Emulator::start(&scen);
    let dir = tmp.path().join("run");
    // With the twin's prediction beside the measurement.
    let o = load(&scen, &emulator.url(), &dir, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let summary = json(&dir.join("summary.json"));
    let chat = &summary["journeys"]["chat"];
    let n = chat["count"].as_u64().unwrap();
    assert_eq!(n, 15, "{chat}");
    assert_eq!(chat["tokens"].as_u64(), Some(n * 8), "{chat}");
    let ttft = chat["ttft_ms"]["p50"].as_f64().unwrap();
    let itl = chat["itl_ms"]["p50"].as_f64().unwrap();
    assert!((ttft - 120.0).abs() <= 6.0, "ttft {ttft}: {chat}");
    assert!((itl - 20.0).abs() <= 1.0, "itl {itl}: {chat}");
    // The simulator predicts the same stream: 120 ms to the first token, 20 ms gaps (within
    // the HDR histograms' 0.1 %), set beside what was measured.
    let f = &summary["fidelity"]["journeys"]["chat"];
    let predicted = |what: &str| f[what]["p50"]["predicted"].as_f64().unwrap_or(f64::NAN);
    assert!((predicted("ttft_ms") - 120.0).abs() <= 0.12, "{f}");
    assert!((predicted("itl_ms") - 20.0).abs() <= 0.02, "{f}");
    assert_eq!(f["ttft_ms"]["p50"]["measured"].as_f64(), Some(ttft), "{f}");
}
