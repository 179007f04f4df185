//! Each trace format (fixtures in tests/data/traces: the same two traces written as OTLP JSON
//! with hex ids, OTLP JSON lines with base64 ids, Jaeger JSON and Zipkin v2 JSON) gives the
//! same spans and the same call graph, computed by hand from the fixture's timestamps:
//! trace 1: api 0-10 ms calls db through a client span 1-6 ms (db's server span 2-5 ms) and
//! publishes (6-7 ms) a message that worker consumes at 20-30 ms; trace 2: api 100-104 ms.

use calibrate::graph::{build, build_for};
use calibrate::trace::parse;

const FIXTURES: [&str; 4] = [
    "otlp-hex.json",
    "otlp-base64.jsonl",
    "jaeger.json",
    "zipkin.json",
];

fn read(name: &str) -> String {
    let path = format!("{}/../tests/data/traces/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn every_format_gives_the_hand_computed_graph() {
    for name in FIXTURES {
        let spans = parse(&read(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(spans.len(), 6, "{name}");
        // Ids normalised to hex whatever the file wrote.
        assert!(
            spans
                .iter()
                .any(|s| s.trace_id == "000102030405060708090a0b0c0d0e0f"),
            "{name}"
        );
        let g = build(&spans);
        assert_eq!(g.traces, 2, "{name}");
        // api's own time: 10 ms minus the 5 ms its client span waited on db; 4 ms.
        let mut api = g.own_time["api"].clone();
        api.sort_by(f64::total_cmp);
        assert!(
            close(api[0], 0.004) && close(api[1], 0.005),
            "{name}: {api:?}"
        );
        assert!(close(g.own_time["db"][0], 0.003), "{name}");
        assert!(close(g.own_time["worker"][0], 0.010), "{name}");
        let db = &g.edges[&("api".to_string(), "db".to_string())];
        assert!(db.synchronous() && db.sync_calls == 1, "{name}: {db:?}");
        // The wire: the client span (5 ms) minus the server span (3 ms).
        assert!(close(db.network_s.unwrap_or(0.0), 0.002), "{name}: {db:?}");
        let worker = &g.edges[&("api".to_string(), "worker".to_string())];
        assert!(
            !worker.synchronous() && worker.async_calls == 1,
            "{name}: {worker:?}"
        );
        // One of api's two visits calls db, once.
        assert!(
            close(g.branch_probability("api", "db").unwrap_or(0.0), 0.5),
            "{name}"
        );
        assert!(
            close(g.visits_per_call("api", "db").unwrap_or(0.0), 1.0),
            "{name}"
        );
        // Both traces start at api: the whole journey mix is api's one operation.
        let mix = g.journey_mix();
        assert_eq!(mix.len(), 1, "{name}: {mix:?}");
        assert_eq!(mix[0].0 .0, "api");
        assert!(close(mix[0].1, 1.0));
    }
}

/// Services that write no spans, seen in their callers' client spans (fixtures peers-*: the
/// same two traces in each format). Trace 1: api 0-10 ms queries PostgreSQL through a client
/// span 2-5 ms (`db.system`; Zipkin: `remoteEndpoint`) and Redis 6-8 ms (`peer.service`),
/// neither answering with a span; trace 2: api 100-110 ms calls db through a client span
/// 101-106 ms naming `peer.service: db`, and db answers with its own server span 102-105 ms.
#[test]
fn uninstrumented_peers_are_inferred_from_client_spans() {
    for name in ["peers-otlp.json", "peers-jaeger.json", "peers-zipkin.json"] {
        let spans = parse(&read(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let g = build(&spans);
        let inferred: Vec<&str> = g.inferred.iter().map(String::as_str).collect();
        // db answered with a span of its own: it is not inferred, nor visited twice.
        assert_eq!(inferred, ["postgresql", "redis"], "{name}");
        assert_eq!(g.own_time["postgresql"], [0.003], "{name}");
        assert_eq!(g.own_time["redis"], [0.002], "{name}");
        assert_eq!(g.visits("db"), 1, "{name}");
        // api's own time: trace 1 10 - 3 - 2 = 5 ms; trace 2 10 - 5 (its client span) = 5 ms.
        let mut api = g.own_time["api"].clone();
        api.sort_by(f64::total_cmp);
        assert!(
            close(api[0], 0.005) && close(api[1], 0.005),
            "{name}: {api:?}"
        );
        let pg = &g.edges[&("api".to_string(), "postgresql".to_string())];
        assert!(pg.synchronous() && pg.sync_calls == 1, "{name}: {pg:?}");
        // The client span is the only record of an inferred call: no wire to tell apart.
        assert_eq!(pg.network_s, None, "{name}");
        assert!(close(
            g.branch_probability("api", "postgresql").unwrap_or(0.0),
            0.5
        ));
        // A model without PostgreSQL and Redis keeps their time in api's demand.
        let g = build_for(&spans, |s| s == "api" || s == "db");
        let mut api = g.own_time["api"].clone();
        api.sort_by(f64::total_cmp);
        assert!(
            close(api[0], 0.005) && close(api[1], 0.010),
            "{name}: {api:?}"
        );
        // ... and a model of api alone keeps db's too; the edges are all still there.
        let g = build_for(&spans, |s| s == "api");
        assert!(g.own_time["api"].iter().all(|&t| close(t, 0.010)), "{name}");
        assert_eq!(g.edges.len(), 3, "{name}");
    }
}

#[test]
fn a_bad_id_is_refused_with_its_line() {
    let text = read("otlp-base64.jsonl").replacen("AAAAAAAAAAE=", "**bad**", 1);
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, 1, "{e:?}");
    assert!(e.message.contains("neither hex nor base64"), "{e:?}");
    let text = read("otlp-base64.jsonl") + "{\"resourceSpans\": [}\n";
    let e = parse(&text).unwrap_err();
    assert_eq!(e.line, 4, "{e:?}");
}
