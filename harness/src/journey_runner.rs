//! One journey over HTTP, through a goose user: templates filled with captured and built-in
//! values and secrets from the environment (at request time, never stored or logged), each
//! step's request sent and its whole body read, the status checked, values captured from the
//! JSON response, polling repeated until done, and every outcome classified and recorded.
//! What a journey adds around its steps has its own module: the feed's row ([`crate::feeder`]),
//! the cookie jar ([`crate::session`]); content checks are `models::check`'s.

use crate::measure::{ErrorKind, Outcome, Recorder};
use crate::schedule::{Arrival, Shard};
use goose::prelude::{GooseMethod, GooseRequest, GooseUser};
use models::http::{scalar_text, select, CompiledCall, HttpCall};
use models::random::RandomStream;
use models::Scenario;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Default timeout of one request when the step names none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A step ready to call.
#[derive(Clone, Debug)]
pub struct StepPlan {
    /// `journey/k service`, the step's name in outputs.
    pub name: String,
    pub service: String,
    pub call: CompiledCall,
    pub spec: HttpCall,
    /// `key=value` tags of the step's requests: its journey's, with its own `tags:` over them.
    pub tags: Vec<String>,
}

/// A journey ready to drive. `steps` holds every HTTP step (steps with no `http:` are internal
/// to the model and not called), depth first; `stages` says how they run: in order, and the
/// steps of `parallel:` branches at once, joined before the next stage.
#[derive(Clone, Debug)]
pub struct JourneyPlan {
    pub name: String,
    pub steps: Vec<StepPlan>,
    pub stages: Vec<Stage>,
    /// The scenario's seed: `probability:` and `delay:` draw from a stream derived from it and
    /// the arrival, so a run's choices are the same from run to run.
    pub seed: u64,
    /// The journey's `feed:`, whose row gives each arrival values for its templates.
    pub feed: Option<std::sync::Arc<crate::feeder::FeedPlan>>,
}

/// One stage of a journey: a call (an index into [`JourneyPlan::steps`]), branches that run
/// at once (each a list of stages) and join, a `delay:` step (network time the model adds:
/// the load waits it too, so load and simulation run the same journey), or a step with
/// `probability:` (its stages run only that often, as the simulator's branch does).
#[derive(Clone, Debug, PartialEq)]
pub enum Stage {
    Call(usize),
    Parallel(Vec<Vec<Stage>>),
    Delay(models::distribution::Sampler),
    Maybe { p: f64, stages: Vec<Stage> },
}

/// The step name used in outputs: `journey/k service` for a top-level step, `journey/k.b.m
/// service` for step `m` of branch `b` of the parallel step `k`.
pub fn step_name(journey: &str, index: &str, service: &str) -> String {
    format!("{journey}/{index} {service}")
}

/// Compiles every journey's HTTP steps. The scenario was validated, so templates parse; an
/// error here names the step anyway.
pub fn plan(scenario: &Scenario) -> Result<Vec<JourneyPlan>, String> {
    let mut out = Vec::new();
    for j in &scenario.workload.journeys {
        let feed = j.feed.as_ref().map(crate::feeder::FeedPlan::new);
        let mut known: Vec<String> = feed.as_ref().map(|f| f.columns.clone()).unwrap_or_default();
        let mut steps = Vec::new();
        let stages = plan_steps(&j.name, &j.steps, "", &mut known, &mut steps)?;
        tag_steps(&j.tags, &j.steps, &mut steps);
        out.push(JourneyPlan {
            name: j.name.clone(),
            steps,
            stages,
            seed: scenario.seed,
            feed: feed.map(std::sync::Arc::new),
        });
    }
    Ok(out)
}

/// Sets each planned step's tags: the journey's, with the step's own over them. `steps` was
/// planned from `list` depth first (a step's call, then its `parallel:` branches), the same
/// walk as here.
fn tag_steps(
    journey: &indexmap::IndexMap<String, String>,
    list: &[models::scenario::Step],
    steps: &mut [StepPlan],
) {
    fn walk<'s>(list: &'s [models::scenario::Step], out: &mut Vec<&'s models::scenario::Step>) {
        for s in list {
            if s.http.is_some() {
                out.push(s);
            }
            for branch in s.parallel.iter().flatten() {
                walk(branch, out);
            }
        }
    }
    let mut called = Vec::new();
    walk(list, &mut called);
    for (plan, step) in steps.iter_mut().zip(called) {
        let mut tags = journey.clone();
        tags.extend(step.tags.iter().map(|(k, v)| (k.clone(), v.clone())));
        plan.tags = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    }
}

/// The stages of `list` (whose position in the journey is `prefix`); `known` holds the values
/// captured before it and gains its captures. A branch sees what was captured before the
/// parallel step and in its own earlier steps, not what its sibling branches capture.
fn plan_steps(
    journey: &str,
    list: &[models::scenario::Step],
    prefix: &str,
    known: &mut Vec<String>,
    steps: &mut Vec<StepPlan>,
) -> Result<Vec<Stage>, String> {
    let mut out = Vec::new();
    for (k, s) in list.iter().enumerate() {
        let index = format!("{prefix}{k}");
        let mut stages = Vec::new();
        if let Some(d) = &s.delay {
            stages.push(Stage::Delay(d.sampler()));
        }
        if let Some(call) = &s.http {
            let compiled = call.compile(known).map_err(|problems| {
                let text: Vec<String> = problems.into_iter().map(|(_, m)| m).collect();
                format!("journey `{journey}` step {index}: {}", text.join("; "))
            })?;
            known.extend(call.capture.keys().cloned());
            stages.push(Stage::Call(steps.len()));
            steps.push(StepPlan {
                name: step_name(journey, &index, s.service.as_deref().unwrap_or("step")),
                service: s.service.clone().unwrap_or_default(),
                call: compiled,
                spec: call.clone(),
                tags: Vec::new(),
            });
        }
        if let Some(branches) = &s.parallel {
            let mut planned = Vec::new();
            let mut captured = Vec::new();
            for (b, branch) in branches.iter().enumerate() {
                let mut seen = known.clone();
                let before = seen.len();
                planned.push(plan_steps(
                    journey,
                    branch,
                    &format!("{index}.{b}."),
                    &mut seen,
                    steps,
                )?);
                captured.extend(seen.drain(before..));
            }
            known.extend(captured);
            if planned.iter().any(|b| !b.is_empty()) {
                stages.push(Stage::Parallel(planned));
            }
        }
        match s.probability {
            Some(p) if p < 1.0 && !stages.is_empty() => out.push(Stage::Maybe { p, stages }),
            _ => out.extend(stages),
        }
    }
    Ok(out)
}

/// The environment variables the plan's headers name, with where (journey index, the step's
/// path under the journey such as `steps[1]` or `steps[1].parallel[0][2]`, header) for a
/// located error.
pub fn env_vars(scenario: &Scenario) -> Vec<(String, (usize, String, String))> {
    fn walk(
        j: usize,
        list: &[models::scenario::Step],
        prefix: &str,
        out: &mut Vec<(String, (usize, String, String))>,
    ) {
        for (k, s) in list.iter().enumerate() {
            let index = format!("{prefix}[{k}]");
            if let Some(call) = &s.http {
                for (h, value) in &call.headers {
                    if let Ok(t) = models::http::Template::parse(value, models::http::Place::Header)
                    {
                        for v in t.env_vars() {
                            out.push((v.to_string(), (j, index.clone(), h.clone())));
                        }
                    }
                }
            }
            for (b, branch) in s.parallel.iter().flatten().enumerate() {
                walk(j, branch, &format!("{index}.parallel[{b}]"), out);
            }
        }
    }
    let mut out = Vec::new();
    for (j, journey) in scenario.workload.journeys.iter().enumerate() {
        walk(j, &journey.steps, "steps", &mut out);
    }
    out
}

/// What every journey of a run shares.
#[derive(Clone, Debug)]
pub struct RunContext {
    /// Start of the run in Unix seconds: the first part of every `{key}`.
    pub run_id: u64,
    pub shard: Shard,
}

impl RunContext {
    /// A key unique across shards and runs, sorting in arrival order within a run.
    pub fn key(&self, seq: u64) -> String {
        format!("{}-{:03}-{:010}", self.run_id, self.shard.index, seq)
    }
}

fn goose_method(m: &str) -> GooseMethod {
    match m {
        "POST" => GooseMethod::Post,
        "PUT" => GooseMethod::Put,
        "PATCH" => GooseMethod::Patch,
        "DELETE" => GooseMethod::Delete,
        "HEAD" => GooseMethod::Head,
        _ => GooseMethod::Get,
    }
}

/// What one request returned.
struct Response {
    status: u16,
    body: Vec<u8>,
    ttfb: Duration,
    /// A `stream: sse` answer's events (its body is not kept).
    stream: Option<crate::sse::StreamTiming>,
    /// `Set-Cookie` header values, for the journey's jar.
    set_cookies: Vec<String>,
}

fn failed(kind: ErrorKind, status: Option<u16>) -> Outcome {
    Outcome::Failed { kind, status }
}

/// A request or a body that did not come: a timeout, or a connection that failed.
fn transport(e: &reqwest::Error) -> Outcome {
    let kind = if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Connection
    };
    failed(kind, None)
}

/// Sends one request of a step and reads its whole body.
async fn send(
    user: &mut GooseUser,
    step: &StepPlan,
    vars: &HashMap<String, String>,
    rec: &Recorder,
) -> Result<Response, Outcome> {
    let var = |name: &str| vars.get(name).cloned();
    let env = |name: &str| std::env::var(name).ok();
    let other = |_| failed(ErrorKind::Other, None);
    let path = step.call.path.render(var, env).map_err(other)?;
    let method = goose_method(&step.call.method);
    let mut rb = user
        .get_request_builder(&method, &path)
        .map_err(|_| failed(ErrorKind::Other, None))?
        .timeout(
            step.spec
                .timeout
                .map_or(DEFAULT_TIMEOUT, |t| Duration::from_nanos(t.0)),
        );
    let mut has_content_type = false;
    let mut has_cookie = false;
    for (name, value) in &step.call.headers {
        // Secrets are substituted here and handed to the request only.
        let value = value.render(var, env).map_err(other)?;
        has_content_type |= name.eq_ignore_ascii_case("content-type");
        has_cookie |= name.eq_ignore_ascii_case("cookie");
        rb = rb.header(name.as_str(), value);
    }
    if let Some(cookies) = crate::session::cookie_header(vars).filter(|_| !has_cookie) {
        rb = rb.header("cookie", cookies);
    }
    if let Some(body) = &step.call.body {
        let body = body.render(var, env).map_err(other)?;
        let t = body.trim_start();
        if !has_content_type && (t.starts_with('{') || t.starts_with('[')) {
            rb = rb.header("content-type", "application/json");
        }
        rb = rb.body(body);
    }
    let request = GooseRequest::builder()
        .set_request_builder(rb)
        .name(step.name.as_str())
        .build();
    rec.request_sent();
    let sent = Instant::now();
    let answer = user
        .request(request)
        .await
        .map_err(|_| failed(ErrorKind::Other, None))?;
    let ttfb = sent.elapsed();
    let response = answer.response.map_err(|e| transport(&e))?;
    let status = response.status().as_u16();
    let set_cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect();
    if step.spec.stream.is_some() && step.spec.accepts(status) {
        let timing = crate::sse::read(response, sent)
            .await
            .map_err(|e| transport(&e))?;
        return Ok(Response {
            status,
            body: Vec::new(),
            ttfb,
            stream: Some(timing),
            set_cookies,
        });
    }
    let body = response.bytes().await.map_err(|e| transport(&e))?;
    Ok(Response {
        status,
        body: body.to_vec(),
        ttfb,
        stream: None,
        set_cookies,
    })
}

/// Runs one step (with its polling); on success, its captures are added to `vars`, and a
/// streamed answer's events are left in `stream`. A failed content check is recorded with its
/// reason against the arrival scheduled at `at`.
async fn run_step(
    user: &mut GooseUser,
    step: &StepPlan,
    vars: &mut HashMap<String, String>,
    rec: &Recorder,
    at: Duration,
    stream: &mut Option<crate::sse::StreamTiming>,
) -> (Option<Duration>, Outcome) {
    let poll_deadline = step
        .spec
        .poll
        .as_ref()
        .map(|p| (Instant::now() + Duration::from_nanos(p.timeout.0), p));
    loop {
        let mut r = match send(user, step, vars, rec).await {
            Ok(r) => r,
            Err(o) => return (None, o),
        };
        *stream = r.stream.take();
        crate::session::keep(vars, &r.set_cookies);
        if !step.spec.accepts(r.status) {
            return (Some(r.ttfb), failed(ErrorKind::Status, Some(r.status)));
        }
        let needs_json = !step.spec.capture.is_empty() || step.spec.poll.is_some();
        let doc: Option<serde_json::Value> = if needs_json {
            match serde_json::from_slice(&r.body) {
                Ok(d) => Some(d),
                Err(_) => return (Some(r.ttfb), failed(ErrorKind::Capture, Some(r.status))),
            }
        } else {
            None
        };
        if let (Some((deadline, poll)), Some(doc)) = (poll_deadline, &doc) {
            if !poll.until.holds(doc) {
                let interval = Duration::from_nanos(poll.interval.0);
                if Instant::now() + interval > deadline {
                    return (Some(r.ttfb), failed(ErrorKind::PollTimeout, Some(r.status)));
                }
                tokio::time::sleep(interval).await;
                continue;
            }
        }
        if let Some(check) = step.call.checks.iter().find(|c| c.apply(&r.body).is_err()) {
            rec.check_failed(at, &step.name, &check.to_string());
            return (Some(r.ttfb), failed(ErrorKind::Check, Some(r.status)));
        }
        if let Some(doc) = &doc {
            for (name, field) in &step.spec.capture {
                match select(doc, field).and_then(scalar_text) {
                    Some(v) => {
                        vars.insert(name.clone(), v);
                    }
                    None => return (Some(r.ttfb), failed(ErrorKind::Capture, Some(r.status))),
                }
            }
        }
        return (Some(r.ttfb), Outcome::Ok);
    }
}

/// Runs one journey for `arrival`; `started` is the run's start, so latency counts from the
/// scheduled start (`started + arrival.at`), however late the journey actually began.
pub async fn run_journey(
    user: &mut GooseUser,
    journey: &JourneyPlan,
    arrival: &Arrival,
    started: Instant,
    ctx: &RunContext,
    rec: &Recorder,
) -> Outcome {
    let scheduled = started + arrival.at;
    let mut vars: HashMap<String, String> = HashMap::new();
    vars.insert("seq".into(), arrival.seq.to_string());
    vars.insert("key".into(), ctx.key(arrival.seq));
    vars.insert("shard".into(), ctx.shard.index.to_string());
    vars.insert("journey".into(), journey.name.clone());
    if let Some(feed) = &journey.feed {
        let row = feed.row(journey.seed, ctx.shard.index, arrival.seq);
        for (column, value) in feed.columns.iter().zip(row) {
            vars.insert(column.clone(), value.clone());
        }
    }
    let mut step_start = scheduled;
    let run = Run {
        journey,
        at: arrival.at,
        rec,
        rng: std::sync::Mutex::new(journey_stream(journey.seed, ctx, arrival)),
    };
    let outcome = run
        .stages(user, &journey.stages, &mut vars, &mut step_start)
        .await;
    let finished = Instant::now();
    rec.journey(
        &journey.name,
        arrival.at,
        finished.saturating_duration_since(started),
        finished.saturating_duration_since(scheduled),
        &outcome,
    );
    outcome
}

/// The random stream of one journey's `probability:` and `delay:` draws: derived from the
/// seed, the shard and the arrival's sequence number, so it does not depend on timing or on
/// which user runs the journey.
pub fn journey_stream(seed: u64, ctx: &RunContext, arrival: &Arrival) -> RandomStream {
    RandomStream::derive(
        seed,
        ctx.shard.index,
        &format!("load/journey/{}", arrival.seq),
    )
}

/// One journey in progress: what its stages share.
struct Run<'a> {
    journey: &'a JourneyPlan,
    /// The arrival's scheduled time in the run.
    at: Duration,
    rec: &'a Recorder,
    /// Draws in stage order (branches of a `parallel:` draw as they reach a choice).
    rng: std::sync::Mutex<RandomStream>,
}

impl Run<'_> {
    fn draw(&self, f: impl FnOnce(&mut RandomStream) -> f64) -> f64 {
        let mut g = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g)
    }
}

type StageFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Outcome> + Send + 'a>>;

impl<'a> Run<'a> {
    /// Runs `stages` in order until one fails; `step_start` is when the next step could start
    /// (each step's latency counts from there).
    fn stages<'b>(
        &'b self,
        user: &'b mut GooseUser,
        stages: &'a [Stage],
        vars: &'b mut HashMap<String, String>,
        step_start: &'b mut Instant,
    ) -> StageFuture<'b>
    where
        'a: 'b,
    {
        Box::pin(async move {
            for stage in stages {
                let outcome = match stage {
                    Stage::Call(i) => {
                        let step = &self.journey.steps[*i];
                        let mut stream = None;
                        let (ttfb, o) =
                            run_step(user, step, vars, self.rec, self.at, &mut stream).await;
                        let now = Instant::now();
                        if let Some(t) = &stream {
                            let ok = o == Outcome::Ok;
                            self.rec
                                .stream(self.at, &self.journey.name, &step.name, t, ok);
                        }
                        self.rec.step(
                            self.at,
                            &step.name,
                            &step.tags,
                            now.saturating_duration_since(*step_start),
                            ttfb,
                            &o,
                        );
                        *step_start = now;
                        o
                    }
                    Stage::Parallel(branches) => {
                        self.fork_join(user, branches, vars, step_start).await
                    }
                    Stage::Delay(d) => {
                        let secs = self.draw(|r| d.sample(r));
                        if secs.is_finite() && secs > 0.0 {
                            tokio::time::sleep(Duration::from_secs_f64(secs)).await;
                        }
                        *step_start = Instant::now();
                        Outcome::Ok
                    }
                    Stage::Maybe { p, stages } => {
                        if self.draw(RandomStream::next_f64) < *p {
                            self.stages(user, stages, vars, step_start).await
                        } else {
                            Outcome::Ok
                        }
                    }
                };
                if outcome != Outcome::Ok {
                    return outcome;
                }
            }
            Outcome::Ok
        })
    }

    /// Runs the branches at once, each on a clone of the user (the same client and connection
    /// pool) with its own copy of the captured values, and joins them: the captures of every
    /// branch are kept, and the first failed branch (in branch order) fails the stage.
    async fn fork_join(
        &self,
        user: &GooseUser,
        branches: &'a [Vec<Stage>],
        vars: &mut HashMap<String, String>,
        step_start: &mut Instant,
    ) -> Outcome {
        let fork = *step_start;
        let mut users: Vec<GooseUser> = branches.iter().map(|_| user.clone()).collect();
        let mut copies: Vec<HashMap<String, String>> =
            branches.iter().map(|_| vars.clone()).collect();
        let mut starts: Vec<Instant> = branches.iter().map(|_| fork).collect();
        let outcomes = {
            let running: Vec<StageFuture<'_>> = users
                .iter_mut()
                .zip(copies.iter_mut())
                .zip(starts.iter_mut())
                .zip(branches)
                .map(|(((u, v), t), b)| self.stages(u, b, v, t))
                .collect();
            join_all(running).await
        };
        for copy in copies {
            vars.extend(copy);
        }
        *step_start = Instant::now();
        outcomes
            .into_iter()
            .find(|o| *o != Outcome::Ok)
            .unwrap_or(Outcome::Ok)
    }
}

/// Polls every future until all are done; their outputs in order.
async fn join_all(mut running: Vec<StageFuture<'_>>) -> Vec<Outcome> {
    let mut done: Vec<Option<Outcome>> = running.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, d) in running.iter_mut().zip(done.iter_mut()) {
            if d.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(o) => *d = Some(o),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().map(|d| d.unwrap_or(Outcome::Ok)).collect()
}
