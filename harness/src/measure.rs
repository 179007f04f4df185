//! What a load run measured, in the project's own HDR histograms (microsecond resolution, not
//! goose's rounded times): per journey and per step, latency from the scheduled start, time to
//! first byte, errors by kind, and fixed windows over run time. Turned at the end into the same
//! [`RunSummary`] and [`Timeline`] a simulation produces, and the histograms are saved
//! (HdrHistogram V2 format) so that the shards of a sharded run merge exactly.

use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
pub use hdrhistogram::Histogram;
use indexmap::IndexMap;
use models::summary::{JourneySummary, LatencyCi, LatencyStats};
use models::timeline::{Timeline, WindowStats};
use serde::Serialize;
use std::sync::Mutex;
use std::time::Duration;

/// Highest latency recorded exactly (one hour, in microseconds); longer ones saturate.
const MAX_US: u64 = 3_600_000_000;

/// A latency histogram in microseconds with three significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("constant bounds are valid")
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(MAX_US)
        .clamp(1, MAX_US)
}

/// Why a request or a journey failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A status the step does not accept.
    Status,
    /// No complete answer within the step's timeout.
    Timeout,
    /// The connection could not be made or broke.
    Connection,
    /// The response lacked a value to capture (or was not JSON).
    Capture,
    /// Polling did not see the done value within its timeout.
    PollTimeout,
    /// The body failed the step's `check:` (the reason is in [`Stats::by_check`]).
    Check,
    /// Anything else (a request that could not be built).
    Other,
}

impl ErrorKind {
    pub const ALL: [ErrorKind; 7] = [
        ErrorKind::Status,
        ErrorKind::Timeout,
        ErrorKind::Connection,
        ErrorKind::Capture,
        ErrorKind::PollTimeout,
        ErrorKind::Check,
        ErrorKind::Other,
    ];

    /// The kind named `text` (as [`ErrorKind::as_str`] writes it).
    pub fn parse(text: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Status => "status",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Connection => "connection",
            ErrorKind::Capture => "capture",
            ErrorKind::PollTimeout => "poll_timeout",
            ErrorKind::Check => "check",
            ErrorKind::Other => "other",
        }
    }
}

/// Latency and errors of one journey or step.
#[derive(Clone, Debug)]
pub struct Stats {
    pub latency: Histogram<u64>,
    pub ttfb: Histogram<u64>,
    pub count: u64,
    pub errors: u64,
    pub by_kind: IndexMap<&'static str, u64>,
    /// Unexpected statuses, `"503"` -> count.
    pub by_status: IndexMap<String, u64>,
    /// Failed content checks by check (`$.status equals ok`) -> count (steps only).
    pub by_check: IndexMap<String, u64>,
    /// Server-sent-event timing, for journeys and steps that stream.
    pub stream: Option<StreamStats>,
}

/// The events of the `stream: sse` steps of a journey or step: time to first event and the
/// gaps between events of the successful streams (microseconds), and every event received.
#[derive(Clone, Debug)]
pub struct StreamStats {
    pub ttft: Histogram<u64>,
    pub itl: Histogram<u64>,
    pub tokens: u64,
}

impl Default for StreamStats {
    fn default() -> Self {
        StreamStats {
            ttft: new_histogram(),
            itl: new_histogram(),
            tokens: 0,
        }
    }
}

impl StreamStats {
    fn record(&mut self, t: &crate::sse::StreamTiming, ok: bool) {
        self.tokens += t.events;
        if ok {
            if let Some(first) = t.first {
                self.ttft.saturating_record(micros(first));
            }
            for g in &t.gaps {
                self.itl.saturating_record(micros(*g));
            }
        }
    }

    fn add(&mut self, other: &StreamStats) {
        let _ = self.ttft.add(&other.ttft);
        let _ = self.itl.add(&other.itl);
        self.tokens += other.tokens;
    }
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            latency: new_histogram(),
            ttfb: new_histogram(),
            count: 0,
            errors: 0,
            by_kind: IndexMap::new(),
            by_status: IndexMap::new(),
            stream: None,
            by_check: IndexMap::new(),
        }
    }
}

impl Stats {
    /// Adds another worker's measurement of the same journey or step (histograms add exactly).
    pub fn add(&mut self, other: &Stats) {
        // Both use the bounds of [`new_histogram`], so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.ttfb.add(&other.ttfb);
        self.count += other.count;
        self.errors += other.errors;
        for (k, n) in &other.by_kind {
            *self.by_kind.entry(k).or_default() += n;
        }
        for (k, n) in &other.by_status {
            *self.by_status.entry(k.clone()).or_default() += n;
        }
        if let Some(o) = &other.stream {
            self.stream.get_or_insert_with(StreamStats::default).add(o);
        }
        for (k, n) in &other.by_check {
            *self.by_check.entry(k.clone()).or_default() += n;
        }
    }

    fn record(&mut self, latency: Duration, outcome: &Outcome) {
        self.count += 1;
        match outcome {
            Outcome::Ok => {
                self.latency.saturating_record(micros(latency));
            }
            Outcome::Failed { kind, status } => {
                self.errors += 1;
                *self.by_kind.entry(kind.as_str()).or_default() += 1;
                if let Some(s) = status {
                    *self.by_status.entry(s.to_string()).or_default() += 1;
                }
            }
        }
    }
}

/// How a request or a journey ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Ok,
    Failed {
        kind: ErrorKind,
        status: Option<u16>,
    },
}

/// The journeys that completed in one window of run time.
#[derive(Clone, Debug)]
pub struct Window {
    /// Latency of the successful ones.
    pub hist: Histogram<u64>,
    pub count: u64,
    pub errors: u64,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            hist: new_histogram(),
            count: 0,
            errors: 0,
        }
    }
}

#[derive(Default)]
struct Inner {
    journeys: IndexMap<String, Stats>,
    steps: IndexMap<String, Stats>,
    /// Per tag `key=value`, the requests (step calls) carrying it.
    tags: IndexMap<String, Stats>,
    /// Per journey, per window of completion time.
    windows: IndexMap<String, Vec<Window>>,
    /// Arrivals per window (offered load as it happened).
    offered: Vec<u64>,
    /// Requests sent (every attempt, polls included).
    requests: u64,
    late_starts: u64,
    max_lateness: Duration,
    /// Every start's lateness behind its schedule, microseconds.
    lateness: Option<Histogram<u64>>,
}

/// What a progress bar follows while a load or a drill runs: counters the run adds to and a
/// bar polls (no lock, nothing drawn from here).
#[derive(Debug, Default)]
pub struct Progress {
    pub requests: std::sync::atomic::AtomicU64,
    /// Journeys that ended in an error.
    pub errors: std::sync::atomic::AtomicU64,
    /// When the schedule started (unset before the first arrival is due).
    pub started: std::sync::OnceLock<std::time::Instant>,
}

impl Progress {
    /// Run time so far.
    pub fn elapsed(&self) -> Duration {
        self.started.get().map_or(Duration::ZERO, |t| t.elapsed())
    }
}

/// The shared recorder of one load run.
pub struct Recorder {
    inner: Mutex<Inner>,
    window: Duration,
    warmup: Duration,
    /// Counters for a progress bar (a fresh set unless the caller hands one in).
    pub progress: std::sync::Arc<Progress>,
}

/// A start later than this behind its schedule counts as late (the user pool or the machine
/// could not keep up).
pub const LATE: Duration = Duration::from_millis(10);

impl Recorder {
    /// `journeys` and `steps` fix the order of the output; `warmup` excludes journeys scheduled
    /// before it from the summary (they still count in the windows).
    pub fn new(
        journeys: &[String],
        steps: &[String],
        window: Duration,
        warmup: Duration,
    ) -> Recorder {
        let inner = Inner {
            journeys: journeys
                .iter()
                .map(|j| (j.clone(), Stats::default()))
                .collect(),
            steps: steps
                .iter()
                .map(|s| (s.clone(), Stats::default()))
                .collect(),
            windows: journeys.iter().map(|j| (j.clone(), Vec::new())).collect(),
            ..Inner::default()
        };
        Recorder {
            inner: Mutex::new(inner),
            window,
            warmup,
            progress: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves counts that are still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn window_index(&self, t: Duration) -> usize {
        (t.as_secs_f64() / self.window.as_secs_f64()) as usize
    }

    /// A journey started, `lateness` after its scheduled time.
    pub fn started(&self, scheduled: Duration, lateness: Duration) {
        let w = self.window_index(scheduled);
        let mut g = self.lock();
        if g.offered.len() <= w {
            g.offered.resize(w + 1, 0);
        }
        g.offered[w] += 1;
        if lateness > LATE {
            g.late_starts += 1;
        }
        g.max_lateness = g.max_lateness.max(lateness);
        g.lateness
            .get_or_insert_with(new_histogram)
            .saturating_record(micros(lateness));
    }

    /// One request was sent.
    pub fn request_sent(&self) {
        self.lock().requests += 1;
        self.progress
            .requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// A step finished: `latency` from when it could start (the scheduled start for the first
    /// step), `ttfb` from sending its (last) request to the response headers. `tags` are the
    /// step's `key=value` tags, each of which counts it too.
    pub fn step(
        &self,
        scheduled: Duration,
        step: &str,
        tags: &[String],
        latency: Duration,
        ttfb: Option<Duration>,
        outcome: &Outcome,
    ) {
        if scheduled < self.warmup {
            return;
        }
        let mut g = self.lock();
        if let Some(s) = g.steps.get_mut(step) {
            s.record(latency, outcome);
            if let Some(t) = ttfb {
                s.ttfb.saturating_record(micros(t));
            }
        }
        for tag in tags {
            match g.tags.get_mut(tag) {
                Some(s) => s.record(latency, outcome),
                None => {
                    let mut s = Stats::default();
                    s.record(latency, outcome);
                    g.tags.insert(tag.clone(), s);
                }
            }
        }
    }

    /// A step's response failed its content check `check` (recorded as the step's reason;
    /// the error itself is counted by [`Recorder::step`]).
    pub fn check_failed(&self, scheduled: Duration, step: &str, check: &str) {
        if scheduled < self.warmup {
            return;
        }
        let mut g = self.lock();
        if let Some(s) = g.steps.get_mut(step) {
            match s.by_check.get_mut(check) {
                Some(n) => *n += 1,
                None => {
                    s.by_check.insert(check.to_string(), 1);
                }
            }
        }
    }

    /// A `stream: sse` step of `journey` read its events (`ok`: the step succeeded).
    pub fn stream(
        &self,
        scheduled: Duration,
        journey: &str,
        step: &str,
        timing: &crate::sse::StreamTiming,
        ok: bool,
    ) {
        if scheduled < self.warmup {
            return;
        }
        let mut g = self.lock();
        if let Some(s) = g.steps.get_mut(step) {
            s.stream
                .get_or_insert_with(Default::default)
                .record(timing, ok);
        }
        if let Some(s) = g.journeys.get_mut(journey) {
            s.stream
                .get_or_insert_with(Default::default)
                .record(timing, ok);
        }
    }

    /// A journey finished at run time `finished`.
    pub fn journey(
        &self,
        journey: &str,
        scheduled: Duration,
        finished: Duration,
        latency: Duration,
        outcome: &Outcome,
    ) {
        let w = self.window_index(finished);
        if *outcome != Outcome::Ok {
            self.progress
                .errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let mut g = self.lock();
        if let Some(ws) = g.windows.get_mut(journey) {
            if ws.len() <= w {
                ws.resize_with(w + 1, Window::default);
            }
            let win = &mut ws[w];
            win.count += 1;
            match outcome {
                Outcome::Ok => {
                    win.hist.saturating_record(micros(latency));
                }
                Outcome::Failed { .. } => win.errors += 1,
            }
        }
        if scheduled >= self.warmup {
            if let Some(s) = g.journeys.get_mut(journey) {
                s.record(latency, outcome);
            }
        }
    }

    /// The journeys measured so far (after the warmup), as summaries: what live judgement
    /// (`abort: true` SLOs) looks at.
    pub fn journeys_so_far(&self, extra: &[f64]) -> IndexMap<String, JourneySummary> {
        let g = self.lock();
        g.journeys
            .iter()
            .map(|(n, s)| (n.clone(), journey_summary(s, extra)))
            .collect()
    }

    /// Window `i` of completion time, per journey: journeys ended, errors, and the p95 of the
    /// successful ones in milliseconds (`None` without one). A line of `--live`.
    pub fn window(&self, i: usize) -> IndexMap<String, (u64, u64, Option<f64>)> {
        let g = self.lock();
        g.windows
            .iter()
            .map(|(n, ws)| {
                let row = ws.get(i).map_or((0, 0, None), |w| {
                    let p95 = (!w.hist.is_empty()).then(|| ms(w.hist.value_at_quantile(0.95)));
                    (w.count, w.errors, p95)
                });
                (n.clone(), row)
            })
            .collect()
    }

    /// The width of a window.
    pub fn window_width(&self) -> Duration {
        self.window
    }

    /// Everything measured so far.
    pub fn snapshot(&self) -> Measured {
        let g = self.lock();
        let mut m = Measured {
            journeys: g.journeys.clone(),
            steps: g.steps.clone(),
            tags: g.tags.clone(),
            windows: g.windows.clone(),
            offered: g.offered.clone(),
            window_s: self.window.as_secs_f64(),
            timeline: Timeline::default(),
            requests: g.requests,
            late_starts: g.late_starts,
            max_lateness: g.max_lateness,
            lateness: g.lateness.clone().unwrap_or_else(new_histogram),
        };
        m.timeline = m.build_timeline();
        m
    }
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// A histogram as `(upper bound ms, count)` buckets growing by 20 %.
pub fn buckets(h: &Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    h.iter_log(100, 1.2)
        .filter(|v| v.count_since_last_iteration() > 0)
        .map(|v| (ms(v.value_iterated_to()), v.count_since_last_iteration()))
        .collect()
}

/// A finished (or interrupted) run's measurements.
#[derive(Clone, Debug)]
pub struct Measured {
    pub journeys: IndexMap<String, Stats>,
    pub steps: IndexMap<String, Stats>,
    /// Per tag `key=value`, the requests carrying it (see [`Recorder::step`]).
    pub tags: IndexMap<String, Stats>,
    /// Per journey, per window of completion time (scheduled before the warmup included).
    pub windows: IndexMap<String, Vec<Window>>,
    /// Arrivals per window of scheduled time.
    pub offered: Vec<u64>,
    pub window_s: f64,
    /// Built from the above by [`Measured::build_timeline`]; observers add their series.
    pub timeline: Timeline,
    pub requests: u64,
    pub late_starts: u64,
    pub max_lateness: Duration,
    /// Every journey start's lateness behind its schedule (the timer's precision and the
    /// load machine's), microseconds.
    pub lateness: Histogram<u64>,
}

impl Measured {
    /// Adds another worker's measurement of the same run (a shard): histograms add exactly,
    /// counts add, windows add by index. The timeline is not rebuilt.
    pub fn add(&mut self, other: &Measured) {
        for (name, s) in &other.journeys {
            self.journeys.entry(name.clone()).or_default().add(s);
        }
        for (name, s) in &other.steps {
            self.steps.entry(name.clone()).or_default().add(s);
        }
        for (name, s) in &other.tags {
            self.tags.entry(name.clone()).or_default().add(s);
        }
        for (name, ws) in &other.windows {
            let mine = self.windows.entry(name.clone()).or_default();
            if mine.len() < ws.len() {
                mine.resize_with(ws.len(), Window::default);
            }
            for (m, w) in mine.iter_mut().zip(ws) {
                let _ = m.hist.add(&w.hist);
                m.count += w.count;
                m.errors += w.errors;
            }
        }
        if self.offered.len() < other.offered.len() {
            self.offered.resize(other.offered.len(), 0);
        }
        for (m, o) in self.offered.iter_mut().zip(&other.offered) {
            *m += o;
        }
        self.requests += other.requests;
        self.late_starts += other.late_starts;
        self.max_lateness = self.max_lateness.max(other.max_lateness);
        let _ = self.lateness.add(&other.lateness);
    }

    /// The timeline of the windows: per journey latency by window, the offered rate
    /// (`rate/offered`), and the journeys' latency distributions.
    pub fn build_timeline(&self) -> Timeline {
        let window_s = self.window_s;
        let mut timeline = Timeline {
            window_s,
            ..Timeline::default()
        };
        for (name, ws) in &self.windows {
            let rows = ws
                .iter()
                .enumerate()
                .map(|(i, w)| {
                    let q = |p: f64| {
                        if w.hist.is_empty() {
                            0.0
                        } else {
                            ms(w.hist.value_at_quantile(p))
                        }
                    };
                    WindowStats {
                        start_s: i as f64 * window_s,
                        count: w.count,
                        errors: w.errors,
                        mean_ms: if w.hist.is_empty() {
                            0.0
                        } else {
                            w.hist.mean() / 1000.0
                        },
                        p50_ms: q(0.50),
                        p95_ms: q(0.95),
                        p99_ms: q(0.99),
                    }
                })
                .collect();
            timeline.journeys.insert(name.clone(), rows);
        }
        timeline.series.insert(
            "rate/offered".into(),
            self.offered
                .iter()
                .enumerate()
                .map(|(i, n)| (i as f64 * window_s, *n as f64 / window_s))
                .collect(),
        );
        for (name, s) in &self.journeys {
            timeline
                .histograms
                .insert(name.clone(), buckets(&s.latency));
        }
        timeline
    }
}

/// Latency statistics in milliseconds from a microsecond histogram, with any extra percentiles.
pub fn latency_stats(h: &Histogram<u64>, extra: &[f64]) -> LatencyStats {
    let mut s = LatencyStats::default();
    if h.is_empty() {
        return s;
    }
    s.mean = h.mean() / 1000.0;
    s.max = ms(h.max());
    for q in LatencyStats::STANDARD.iter().chain(extra) {
        s.set_percentile(*q, ms(h.value_at_quantile(q / 100.0)));
    }
    s
}

/// The summary of one journey (or step).
pub fn journey_summary(s: &Stats, extra: &[f64]) -> JourneySummary {
    let latency_ms = latency_stats(&s.latency, extra);
    JourneySummary {
        count: s.count,
        errors: s.errors,
        error_rate: if s.count == 0 {
            0.0
        } else {
            s.errors as f64 / s.count as f64
        },
        // One measured run: no interval across replications.
        ci95_ms: LatencyCi::default(),
        latency_ms,
        unfinished: 0,
        // Breakers are the simulator's: a measurement sees only their errors.
        circuit_breakers: Vec::new(),
        // No successful stream, no statistics: zeros would pass `p95_ttft(x) < 2s` for want
        // of evidence (SPEC.md "Verdicts"); `null` is judged "no data".
        ttft_ms: s
            .stream
            .as_ref()
            .filter(|t| !t.ttft.is_empty())
            .map(|t| latency_stats(&t.ttft, extra)),
        itl_ms: s
            .stream
            .as_ref()
            .filter(|t| !t.itl.is_empty())
            .map(|t| latency_stats(&t.itl, extra)),
        tokens: s.stream.as_ref().map(|t| t.tokens),
        // One measured run: no interval across replications.
        ttft_ci95_ms: None,
        itl_ci95_ms: None,
    }
}

/// The distribution of a lateness histogram (microseconds) in milliseconds: how far behind
/// their deadlines waits ended (`load.lateness_ms` of summary.json, `timer` of the emulator's stats). Null with no sample.
pub fn lateness_ms(h: &Histogram<u64>) -> serde_json::Value {
    if h.is_empty() {
        return serde_json::Value::Null;
    }
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1000.0;
    serde_json::json!({
        "count": h.len(),
        "p50": q(0.50),
        "p90": q(0.90),
        "p99": q(0.99),
        "p999": q(0.999),
        "max": h.max() as f64 / 1000.0,
    })
}

/// Writes a histogram in the HdrHistogram V2 format.
pub fn write_histogram(h: &Histogram<u64>, w: &mut impl std::io::Write) -> std::io::Result<()> {
    V2Serializer::new()
        .serialize(h, w)
        .map(|_| ())
        .map_err(|e| std::io::Error::other(format!("{e:?}")))
}

/// Reads a histogram written by [`write_histogram`].
pub fn read_histogram(r: &mut impl std::io::Read) -> std::io::Result<Histogram<u64>> {
    Deserializer::new()
        .deserialize(r)
        .map_err(|e| std::io::Error::other(format!("{e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_round_trips() {
        let r = Recorder::new(
            &["a".into()],
            &["a/0 api".into()],
            Duration::from_secs(1),
            Duration::ZERO,
        );
        for i in 1..=100u64 {
            let d = Duration::from_millis(i);
            r.journey("a", Duration::ZERO, d, d, &Outcome::Ok);
        }
        r.journey(
            "a",
            Duration::ZERO,
            Duration::from_secs(2),
            Duration::from_millis(5),
            &Outcome::Failed {
                kind: ErrorKind::Status,
                status: Some(503),
            },
        );
        let m = r.snapshot();
        let s = journey_summary(&m.journeys["a"], &[]);
        assert_eq!((s.count, s.errors), (101, 1));
        assert!(
            (s.latency_ms.p50 - 50.0).abs() < 0.1,
            "{}",
            s.latency_ms.p50
        );
        assert_eq!(m.journeys["a"].by_status["503"], 1);
        assert_eq!(m.timeline.journeys["a"].len(), 3);
        let mut buf = Vec::new();
        write_histogram(&m.journeys["a"].latency, &mut buf).unwrap();
        let back = read_histogram(&mut buf.as_slice()).unwrap();
        assert_eq!(back.len(), 100);
    }
}
