//! `twin emulate`: the scenario's API as a real HTTP server on a local address. Each route comes
//! from a journey step's `http:` (method and path template, placeholders matching any segment)
//! and belongs to the step's service; a request waits in FIFO order for a free server of one of
//! the service's replicas (chosen as its `balancing` says: random, round robin, least request, or
//! one shared queue) and holds it for a service time drawn from the scenario's distribution, in
//! wall-clock time. So `twin load` against it measures what the scenario models.
//!
//! With a database, writes (POST, PUT, PATCH) store a row under the client's key (the body's
//! `key` field, else an `Idempotency-Key` header, else a generated one) before they are
//! acknowledged, and a GET whose path ends in a placeholder reads that key back (404 when
//! absent): what the drills' write audit needs.
//!
//! A step with `http: {stream: sse}` is answered as a server-sent-event stream ([`TokenStream`]):
//! on an `llm:` step, its endpoint's time to first token (plus prefill of the input tokens)
//! and then one event per output token every `per_output_token`, as the simulator models the
//! call; on a service step, one event when the service time ends.
//!
//! Its own endpoints: `GET /__twin/stats` (request counters as JSON), `GET /metrics`
//! (Prometheus text), `GET /__twin/health`, `GET /__twin/writes/KEY` and
//! `GET /__twin/writes?after=KEY&limit=N` (read-back and list, with a database).

use crate::store::Store;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use indexmap::IndexMap;
use models::http::{select, Place, Template};
use models::scenario::Balancing;
use models::{RandomStream, Sampler, Scenario};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// How to serve.
#[derive(Clone, Debug)]
pub struct EmulatorConfig {
    pub listen: SocketAddr,
    /// PostgreSQL connection string; writes are stored when given.
    pub database_url: Option<String>,
    /// Database connections kept open.
    pub database_pool: usize,
}

/// One route of the scenario's API.
#[derive(Clone, Debug)]
struct Route {
    method: String,
    /// Literal segments, `None` for a placeholder.
    segments: Vec<Option<String>>,
    /// `POST /features/{feature_id}` as written.
    name: String,
    /// The service whose queues it waits in; `None` answers at once.
    service: Option<usize>,
    /// Status of a successful answer.
    status: u16,
    /// Fields the caller captures, filled in the answer.
    captures: Vec<String>,
    /// The field polling waits for and the value that says done.
    done: Option<(String, Value)>,
}

struct Replica {
    servers: Semaphore,
    outstanding: AtomicUsize,
}

/// A service's replicas and their queues.
struct ServiceQueues {
    name: String,
    balancing: Balancing,
    replicas: Vec<Replica>,
    /// One queue for all replicas (`balancing: shared`).
    shared: Option<Semaphore>,
    concurrency: u32,
    sampler: Sampler,
    rng: Mutex<RandomStream>,
    round_robin: AtomicUsize,
    requests: AtomicU64,
    in_flight: AtomicU64,
    in_service: AtomicU64,
    served: AtomicU64,
    busy_us: AtomicU64,
    /// Time requests spent in the service (queued and in service), summed as they leave: with
    /// the in-flight gauge, Little's law measured on the server side alone.
    in_system_us: AtomicU64,
}

impl ServiceQueues {
    fn draw(&self) -> Duration {
        let secs = match self.rng.lock() {
            Ok(mut r) => self.sampler.sample(&mut r),
            Err(p) => self.sampler.sample(&mut p.into_inner()),
        };
        Duration::from_secs_f64(secs.max(0.0))
    }

    fn pick(&self) -> usize {
        let n = self.replicas.len();
        match self.balancing {
            Balancing::Shared => 0,
            Balancing::RoundRobin => self.round_robin.fetch_add(1, Ordering::Relaxed) % n,
            Balancing::Random => {
                let mut r = self.rng.lock().unwrap_or_else(|p| p.into_inner());
                r.below(n as u32) as usize
            }
            Balancing::LeastRequest => {
                // Ties go round the replicas rather than always to the first.
                let start = self.round_robin.fetch_add(1, Ordering::Relaxed);
                (0..n)
                    .map(|k| (start + k) % n)
                    .min_by_key(|&i| self.replicas[i].outstanding.load(Ordering::Relaxed))
                    .unwrap_or(0)
            }
        }
    }

    /// Queues for a server, holds it while `work` runs and at least for a drawn service time.
    async fn serve<T>(&self, work: impl std::future::Future<Output = T>) -> T {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        let arrived = Instant::now();
        let i = self.pick();
        let replica = &self.replicas[i];
        replica.outstanding.fetch_add(1, Ordering::Relaxed);
        let sem = self.shared.as_ref().unwrap_or(&replica.servers);
        // The semaphores are never closed, so acquiring only waits.
        let permit = sem.acquire().await;
        self.in_service.fetch_add(1, Ordering::Relaxed);
        let start = Instant::now();
        let until = start + self.draw();
        let out = work.await;
        crate::clock::sleep_until(until).await;
        drop(permit);
        let busy = u64::try_from(start.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.busy_us.fetch_add(busy, Ordering::Relaxed);
        self.in_service.fetch_sub(1, Ordering::Relaxed);
        self.served.fetch_add(1, Ordering::Relaxed);
        replica.outstanding.fetch_sub(1, Ordering::Relaxed);
        let in_system = u64::try_from(arrived.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.in_system_us.fetch_add(in_system, Ordering::Relaxed);
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        out
    }
}

/// How a streamed route emits its events: the LLM endpoint's timing (SPEC.md's LLM model:
/// first token after `time_to_first_token` + input tokens x `per_input_token`, then one token
/// every `per_output_token`), with the step's token counts.
struct TokenStream {
    first: Sampler,
    per_input: Duration,
    per_output: Duration,
    tokens_in: Option<Sampler>,
    tokens_out: Option<Sampler>,
    rng: Mutex<RandomStream>,
}

impl TokenStream {
    /// When the first event is due after the answer starts, the gap between events, and how
    /// many events (at least one).
    fn draw(&self) -> (Duration, Duration, u64) {
        let mut r = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let first = self.first.sample(&mut r).max(0.0);
        let tokens_in = self
            .tokens_in
            .as_ref()
            .map_or(0.0, |s| s.sample(&mut r).max(0.0));
        let out = self
            .tokens_out
            .as_ref()
            .map_or(1.0, |s| s.sample(&mut r).round());
        let first = Duration::from_secs_f64(first) + self.per_input.mul_f64(tokens_in);
        (first, self.per_output, (out as u64).max(1))
    }
}

/// A body that yields the events a producer task sends, as they come.
struct EventBody(tokio::sync::mpsc::Receiver<Bytes>);

impl futures_core::Stream for EventBody {
    type Item = Result<Bytes, std::convert::Infallible>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx).map(|b| b.map(Ok))
    }
}

/// The running emulator's state.
pub struct Emulator {
    routes: Vec<Route>,
    /// Per route, how it streams (`stream: sse` steps).
    streams: Vec<Option<TokenStream>>,
    services: Vec<ServiceQueues>,
    route_requests: Vec<AtomicU64>,
    requests: AtomicU64,
    unmatched: AtomicU64,
    writes: AtomicU64,
    write_failures: AtomicU64,
    generated: AtomicU64,
    store: Option<Store>,
    started: Instant,
    scenario: String,
}

/// Builds the routes and queues of a scenario (no I/O).
pub fn build(scenario: &Scenario, store: Option<Store>) -> Result<Emulator, String> {
    let mut services = Vec::new();
    let mut index = HashMap::new();
    for (k, (name, s)) in scenario.services.iter().enumerate() {
        // Cloud Run, VM and Ray services give their own counts and slots (no autoscaling here:
        // a Cloud Run service at zero instances is served by one).
        let n = s.initial_replicas().max(1);
        let concurrency = s.slots();
        let shared =
            (s.routing() == Balancing::Shared).then(|| Semaphore::new((n * concurrency) as usize));
        services.push(ServiceQueues {
            name: name.clone(),
            balancing: s.routing(),
            replicas: (0..n)
                .map(|_| Replica {
                    servers: Semaphore::new(concurrency.max(1) as usize),
                    outstanding: AtomicUsize::new(0),
                })
                .collect(),
            shared,
            concurrency,
            sampler: s.off_cpu_time().sampler(),
            rng: Mutex::new(RandomStream::derive(
                scenario.seed,
                0,
                &format!("emulator/{name}"),
            )),
            round_robin: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            in_service: AtomicU64::new(0),
            served: AtomicU64::new(0),
            busy_us: AtomicU64::new(0),
            in_system_us: AtomicU64::new(0),
        });
        index.insert(name.clone(), k);
    }
    let mut routes: Vec<Route> = Vec::new();
    let mut streams: Vec<Option<TokenStream>> = Vec::new();
    // Every HTTP step, those of `parallel:` branches included.
    fn http_steps<'s>(
        list: &'s [models::scenario::Step],
        out: &mut Vec<&'s models::scenario::Step>,
    ) {
        for s in list {
            if s.http.is_some() {
                out.push(s);
            }
            for branch in s.parallel.iter().flatten() {
                http_steps(branch, out);
            }
        }
    }
    let mut steps = Vec::new();
    for j in &scenario.workload.journeys {
        http_steps(&j.steps, &mut steps);
    }
    {
        for s in steps {
            let Some(call) = &s.http else { continue };
            let path = Template::parse(&call.path, Place::Path)
                .map_err(|e| format!("{}: {e}", call.path))?;
            let method = call.method.to_ascii_uppercase();
            let segments = path.segments();
            if routes
                .iter()
                .any(|r| r.method == method && r.segments == segments)
            {
                continue;
            }
            // An HTTP step is served by its service; a step with another action (an LLM call,
            // a topic) is served by the emulator without queueing.
            let service = match s.service.as_deref() {
                Some(name) => Some(
                    *index
                        .get(name)
                        .ok_or_else(|| format!("service `{name}` is not defined"))?,
                ),
                None => None,
            };
            streams.push(call.stream.map(|_| {
                let llm = s.llm.as_ref().and_then(|n| scenario.llm_endpoints.get(n));
                let zero = || models::Distribution::Constant(models::Duration::ZERO).sampler();
                TokenStream {
                    first: llm.map_or_else(zero, |e| e.time_to_first_token.sampler()),
                    per_input: llm.map_or(Duration::ZERO, |e| {
                        Duration::from_nanos(e.per_input_token.0)
                    }),
                    per_output: llm.map_or(Duration::ZERO, |e| {
                        Duration::from_nanos(e.per_output_token.0)
                    }),
                    tokens_in: s.tokens.as_ref().map(|t| t.tokens_in.sampler()),
                    tokens_out: s.tokens.as_ref().map(|t| t.tokens_out.sampler()),
                    rng: Mutex::new(RandomStream::derive(
                        scenario.seed,
                        0,
                        &format!("emulator/stream/{}", call.path),
                    )),
                }
            }));
            routes.push(Route {
                name: format!("{method} {}", call.path),
                method,
                segments,
                service,
                status: call.expect.first().copied().unwrap_or(200),
                captures: call.capture.values().cloned().collect(),
                done: call.poll.as_ref().and_then(|p| {
                    p.until
                        .equals
                        .first()
                        .map(|v| (p.until.field.clone(), v.clone()))
                }),
            });
        }
    }
    if routes.is_empty() {
        return Err("no journey step has an `http:` part, so there is no route to serve".into());
    }
    Ok(Emulator {
        route_requests: routes.iter().map(|_| AtomicU64::new(0)).collect(),
        routes,
        streams,
        services,
        requests: AtomicU64::new(0),
        unmatched: AtomicU64::new(0),
        writes: AtomicU64::new(0),
        write_failures: AtomicU64::new(0),
        generated: AtomicU64::new(0),
        store,
        started: Instant::now(),
        scenario: scenario.name.clone(),
    })
}

impl Emulator {
    /// How many routes the scenario's journeys define.
    pub fn route_count(&self) -> usize {
        self.routes.len()
    }

    /// The route a request matches, with the values of its placeholders.
    fn route(&self, method: &Method, path: &str) -> Option<(usize, Vec<String>)> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.routes.iter().enumerate().find_map(|(i, r)| {
            if r.method != method.as_str() || r.segments.len() != parts.len() {
                return None;
            }
            let mut values = Vec::new();
            for (seg, part) in r.segments.iter().zip(&parts) {
                match seg {
                    Some(lit) if lit != part => return None,
                    Some(_) => {}
                    None => values.push((*part).to_string()),
                }
            }
            Some((i, values))
        })
    }

    /// Counters as JSON (`GET /__twin/stats`).
    pub fn stats(&self) -> Value {
        let by_route: IndexMap<&str, u64> = self
            .routes
            .iter()
            .zip(&self.route_requests)
            .map(|(r, n)| (r.name.as_str(), n.load(Ordering::Relaxed)))
            .collect();
        let by_service: IndexMap<&str, Value> = self
            .services
            .iter()
            .map(|s| {
                (
                    s.name.as_str(),
                    json!({
                        "requests": s.requests.load(Ordering::Relaxed),
                        "in_flight": s.in_flight.load(Ordering::Relaxed),
                        "in_service": s.in_service.load(Ordering::Relaxed),
                        "served": s.served.load(Ordering::Relaxed),
                        "replicas": s.replicas.len(),
                        "concurrency": s.concurrency,
                    }),
                )
            })
            .collect();
        json!({
            "scenario": self.scenario,
            "uptime_s": self.started.elapsed().as_secs_f64(),
            "requests": self.requests.load(Ordering::Relaxed),
            "unmatched": self.unmatched.load(Ordering::Relaxed),
            "by_route": by_route,
            "by_service": by_service,
            // How late the service times' waits ended, and the CPU the server has used.
            "timer": {
                "lateness_ms": crate::measure::lateness_ms(&crate::clock::lateness()),
                "cpu_s": crate::clock::process_cpu().map(|d| d.as_secs_f64()),
            },
            "writes": {
                "acknowledged": self.writes.load(Ordering::Relaxed),
                "failed": self.write_failures.load(Ordering::Relaxed),
                "database": self.store.as_ref().map(|s| s.hosts().to_string()),
            },
        })
    }

    /// Prometheus text exposition (`GET /metrics`).
    pub fn metrics(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "# HELP twin_emulator_requests_total Requests received on a scenario route."
        );
        let _ = writeln!(o, "# TYPE twin_emulator_requests_total counter");
        for (r, n) in self.routes.iter().zip(&self.route_requests) {
            let _ = writeln!(
                o,
                "twin_emulator_requests_total{{route=\"{}\",service=\"{}\"}} {}",
                r.name.replace('"', "'"),
                r.service.map_or("", |k| self.services[k].name.as_str()),
                n.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(o, "# TYPE twin_emulator_unmatched_requests_total counter");
        let _ = writeln!(
            o,
            "twin_emulator_unmatched_requests_total {}",
            self.unmatched.load(Ordering::Relaxed)
        );
        for (metric, help, kind) in [
            (
                "service_requests_total",
                "Requests received by the service (every route it serves).",
                "counter",
            ),
            ("in_flight", "Requests queued or in service.", "gauge"),
            ("in_service", "Requests holding a server.", "gauge"),
            ("queue_length", "Requests waiting for a server.", "gauge"),
            ("concurrency", "Servers per replica.", "gauge"),
            ("served_total", "Requests served.", "counter"),
            (
                "busy_seconds_total",
                "Server time spent serving.",
                "counter",
            ),
            (
                "in_system_seconds_total",
                "Time requests spent queued and in service, summed as they leave.",
                "counter",
            ),
            ("replicas", "Replicas of the service.", "gauge"),
        ] {
            let _ = writeln!(o, "# HELP twin_emulator_{metric} {help}");
            let _ = writeln!(o, "# TYPE twin_emulator_{metric} {kind}");
            for s in &self.services {
                // Read once each, so that a queue length is never negative.
                let in_service = s.in_service.load(Ordering::Relaxed);
                let in_flight = s.in_flight.load(Ordering::Relaxed);
                let v = match metric {
                    "service_requests_total" => s.requests.load(Ordering::Relaxed) as f64,
                    "in_flight" => in_flight as f64,
                    "in_service" => in_service as f64,
                    "queue_length" => in_flight.saturating_sub(in_service) as f64,
                    "concurrency" => f64::from(s.concurrency),
                    "served_total" => s.served.load(Ordering::Relaxed) as f64,
                    "busy_seconds_total" => s.busy_us.load(Ordering::Relaxed) as f64 / 1e6,
                    "in_system_seconds_total" => {
                        s.in_system_us.load(Ordering::Relaxed) as f64 / 1e6
                    }
                    _ => s.replicas.len() as f64,
                };
                let _ = writeln!(o, "twin_emulator_{metric}{{service=\"{}\"}} {v}", s.name);
            }
        }
        let _ = writeln!(o, "# TYPE twin_emulator_writes_total counter");
        let _ = writeln!(
            o,
            "twin_emulator_writes_total {}",
            self.writes.load(Ordering::Relaxed)
        );
        let _ = writeln!(o, "# TYPE twin_emulator_write_failures_total counter");
        let _ = writeln!(
            o,
            "twin_emulator_write_failures_total {}",
            self.write_failures.load(Ordering::Relaxed)
        );
        o
    }

    async fn handle(&self, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
        let Some((i, values)) = self.route(&method, uri.path()) else {
            self.unmatched.fetch_add(1, Ordering::Relaxed);
            return (
                StatusCode::NOT_FOUND,
                Json(json!({"error": format!("no route {method} {}", uri.path())})),
            )
                .into_response();
        };
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.route_requests[i].fetch_add(1, Ordering::Relaxed);
        let route = &self.routes[i];
        let service = route.service.map(|k| &self.services[k]);
        let service_name = service.map_or("", |s| s.name.as_str());
        let write = matches!(method, Method::POST | Method::PUT | Method::PATCH);
        let work = async {
            let mut doc = json!({"ok": true, "service": service_name});
            let mut status = route.status;
            let value = |this: &Self| {
                format!(
                    "{}-{}",
                    service_name,
                    this.generated.fetch_add(1, Ordering::Relaxed)
                )
            };
            let key = if write {
                let text = String::from_utf8_lossy(&body).into_owned();
                let key = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v.get("key").and_then(models::http::scalar_text))
                    .or_else(|| {
                        headers
                            .get("idempotency-key")
                            .and_then(|h| h.to_str().ok())
                            .map(String::from)
                    })
                    .unwrap_or_else(|| value(self));
                if let Some(store) = &self.store {
                    match store.insert(&key, &route.name, &text).await {
                        Ok(_) => {
                            self.writes.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => {
                            self.write_failures.fetch_add(1, Ordering::Relaxed);
                            return (StatusCode::SERVICE_UNAVAILABLE, json!({"error": e}));
                        }
                    }
                }
                key
            } else if let (Some(store), Some(key)) = (&self.store, values.last()) {
                match store.get(key).await {
                    Ok(Some(row)) => {
                        doc["body"] = Value::String(row.body);
                        key.clone()
                    }
                    Ok(None) => {
                        return (
                            StatusCode::NOT_FOUND,
                            json!({"error": "no such key", "key": key}),
                        )
                    }
                    Err(e) => return (StatusCode::SERVICE_UNAVAILABLE, json!({"error": e})),
                }
            } else {
                values.last().cloned().unwrap_or_else(|| value(self))
            };
            doc["key"] = Value::String(key.clone());
            doc["id"] = Value::String(key.clone());
            for field in &route.captures {
                if select(&doc, field).is_none() {
                    set_field(&mut doc, field, Value::String(key.clone()));
                }
            }
            if let Some((field, done)) = &route.done {
                set_field(&mut doc, field, done.clone());
            }
            if !(100..=599).contains(&status) {
                status = 200;
            }
            (StatusCode::from_u16(status).unwrap_or(StatusCode::OK), doc)
        };
        let answer = match service {
            Some(s) => s.serve(work).await,
            None => work.await,
        };
        match (&self.streams[i], answer.0.is_success()) {
            (Some(stream), true) => stream_events(stream, answer),
            _ => answer.into_response_json(),
        }
    }
}

/// Answers with a server-sent-event stream timed by `stream`: each event carries the token's
/// index, the last one the answer's JSON document; `data: [DONE]` ends it. The events are
/// sent by a task of their own on the harness's timer, so a slow reader delays only itself.
fn stream_events(stream: &TokenStream, (status, doc): (StatusCode, Value)) -> Response {
    let (first, gap, n) = stream.draw();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let start = Instant::now();
        for k in 0..n {
            let due = start + first + gap.saturating_mul(u32::try_from(k).unwrap_or(u32::MAX));
            crate::clock::sleep_until(due).await;
            let data = if k + 1 == n {
                json!({"token": k, "done": doc}).to_string()
            } else {
                json!({"token": k}).to_string()
            };
            if tx
                .send(Bytes::from(format!("data: {data}\n\n")))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = tx.send(Bytes::from_static(b"data: [DONE]\n\n")).await;
    });
    (
        status,
        [
            (axum::http::header::CONTENT_TYPE, "text/event-stream"),
            (axum::http::header::CACHE_CONTROL, "no-cache"),
        ],
        axum::body::Body::from_stream(EventBody(rx)),
    )
        .into_response()
}

trait IntoJsonResponse {
    fn into_response_json(self) -> Response;
}
impl IntoJsonResponse for (StatusCode, Value) {
    fn into_response_json(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

/// Sets `field` (a dotted path with indices, or a JSON pointer) in `doc`, creating objects
/// and arrays on the way.
pub fn set_field(doc: &mut Value, field: &str, value: Value) {
    enum Seg {
        Key(String),
        Index(usize),
    }
    let mut segs = Vec::new();
    if let Some(p) = field.strip_prefix('/') {
        for s in p.split('/') {
            let s = s.replace("~1", "/").replace("~0", "~");
            segs.push(match s.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(s),
            });
        }
    } else {
        for part in field.split('.') {
            let (key, mut rest) = match part.find('[') {
                Some(i) => (&part[..i], &part[i..]),
                None => (part, ""),
            };
            if !key.is_empty() {
                segs.push(Seg::Key(key.to_string()));
            }
            while let Some(r) = rest.strip_prefix('[') {
                let Some(end) = r.find(']') else { break };
                if let Ok(i) = r[..end].parse() {
                    segs.push(Seg::Index(i));
                }
                rest = &r[end + 1..];
            }
        }
    }
    let mut cur = doc;
    for seg in segs {
        cur = match seg {
            Seg::Key(k) => {
                if !cur.is_object() {
                    *cur = json!({});
                }
                match cur {
                    Value::Object(m) => m.entry(k).or_insert(Value::Null),
                    _ => return,
                }
            }
            Seg::Index(i) => {
                if !cur.is_array() {
                    *cur = json!([]);
                }
                match cur {
                    Value::Array(a) => {
                        if a.len() <= i {
                            a.resize(i + 1, Value::Null);
                        }
                        &mut a[i]
                    }
                    _ => return,
                }
            }
        };
    }
    *cur = value;
}

async fn any_route(
    State(e): State<Arc<Emulator>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    e.handle(method, uri, headers, body).await
}

async fn stats(State(e): State<Arc<Emulator>>) -> Json<Value> {
    Json(e.stats())
}

async fn metrics(State(e): State<Arc<Emulator>>) -> Response {
    ([("content-type", "text/plain; version=0.0.4")], e.metrics()).into_response()
}

async fn write_by_key(State(e): State<Arc<Emulator>>, Path(key): Path<String>) -> Response {
    let Some(store) = &e.store else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no database (--database-url)"})),
        )
            .into_response();
    };
    match store.get(&key).await {
        Ok(Some(row)) => Json(json!(row)).into_response(),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no such key", "key": key})),
        )
            .into_response(),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": err}))).into_response(),
    }
}

async fn write_keys(
    State(e): State<Arc<Emulator>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(store) = &e.store else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": "no database (--database-url)"})),
        )
            .into_response();
    };
    let after = q.get("after").cloned().unwrap_or_default();
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<i64>().ok())
        .unwrap_or(1000)
        .clamp(1, 100_000);
    match store.keys(&after, limit).await {
        Ok(keys) => Json(json!({"keys": keys})).into_response(),
        Err(err) => (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"error": err}))).into_response(),
    }
}

/// The HTTP application of an emulator.
pub fn router(e: Arc<Emulator>) -> Router {
    Router::new()
        .route("/__twin/stats", get(stats))
        .route("/__twin/health", get(|| async { "ok" }))
        .route("/__twin/writes", get(write_keys))
        .route("/__twin/writes/{key}", get(write_by_key))
        .route("/metrics", get(metrics))
        .fallback(any_route)
        .with_state(e)
}

/// Connects the database (if any), binds, calls `ready` with the bound address, and serves
/// until `shutdown` completes.
pub async fn serve(
    scenario: &Scenario,
    cfg: &EmulatorConfig,
    ready: impl FnOnce(SocketAddr, &Emulator),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let store = match &cfg.database_url {
        Some(url) => Some(Store::connect(url, cfg.database_pool).await?),
        None => None,
    };
    let emulator = Arc::new(build(scenario, store)?);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}: {e}", cfg.listen))?;
    ready(addr, &emulator);
    axum::serve(listener, router(emulator))
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("the emulator failed: {e}"))
}

/// Serves on a runtime of its own until Ctrl-C or SIGTERM (what `twin emulate` runs).
pub fn run_blocking(
    scenario: &Scenario,
    cfg: &EmulatorConfig,
    ready: impl FnOnce(SocketAddr, &Emulator),
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    runtime.block_on(serve(scenario, cfg, ready, shutdown_signal()))
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nested_fields() {
        let mut d = json!({"ok": true});
        set_field(&mut d, "data.items[1].id", json!("x"));
        assert_eq!(select(&d, "data.items[1].id"), Some(&json!("x")));
        set_field(&mut d, "/a/b", json!(1));
        assert_eq!(d["a"]["b"], json!(1));
    }
}
