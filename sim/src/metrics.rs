//! Measurements kept during a replication: HDR histograms of latency and queue wait, exact
//! sums for means, and per-window statistics for the timeline. Memory is fixed by the number of
//! journeys and windows, never by the number of requests.

use crate::calendar::Nanos;
use crate::tally::Tally;
use hdrhistogram::Histogram;
use models::timeline::WindowStats;

/// Highest latency recorded exactly: 10^11 us (about 28 hours); longer ones saturate.
pub const MAX_US: u64 = 100_000_000_000;

/// A latency histogram in microseconds with 3 significant digits (0.1 % resolution).
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("static histogram bounds are valid")
}

/// A coarser histogram (2 significant digits) for per-window percentiles.
pub fn window_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 2).expect("static histogram bounds are valid")
}

/// Records a duration in nanoseconds, clamped into the histogram's range.
#[inline]
pub fn record_us(h: &mut Histogram<u64>, nanos: Nanos) {
    let us = (nanos / 1000).clamp(1, MAX_US);
    // In range by construction, so recording cannot fail.
    let _ = h.record(us);
}

/// A percentile of a microsecond histogram, in milliseconds (0 when empty).
pub fn percentile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        return 0.0;
    }
    h.value_at_quantile(q / 100.0) as f64 / 1000.0
}

/// One journey's measurements in one replication. Latency is that of the successful
/// journeys; errors are counted beside it. Every journey offered is counted, so a window in
/// which requests waited and none ended can be told from an idle one.
pub struct JourneyMetrics {
    /// Latency of the successful journeys started after warm-up (complete after
    /// [`JourneyMetrics::finish`]; counted in `latency_tally` meanwhile).
    pub latency_us: Histogram<u64>,
    latency_tally: Tally,
    pub sum_ns: f64,
    /// Journeys started after warm-up that ended (successes and errors).
    pub count: u64,
    pub errors: u64,
    /// Journeys started after warm-up still in flight at the horizon after waiting longer
    /// than the recovery window (set at the end of the replication).
    pub unfinished: u64,
    window: Histogram<u64>,
    window_tally: Tally,
    window_sum_ns: f64,
    window_count: u64,
    window_errors: u64,
    /// Journeys in flight now (started, not yet ended or abandoned).
    in_flight: u64,
    /// Journeys in flight at the start of the current window (carried over from the last):
    /// if none of the window's journeys ends, these waited through all of it. Arrivals within
    /// the window are not counted: one arriving just before the window closes has had no time
    /// to end, which at fine windows is no sign of a stall.
    window_demand: u64,
    pub windows: Vec<WindowStats>,
    /// Per closed window, its demand (as `window_demand`).
    pub demand: Vec<u64>,
    /// The journey's streams (`None` when none of its steps streams): allocated once, here.
    pub stream: Option<StreamMetrics>,
}

/// The streams of one journey in one replication (journeys started after warm-up, calls
/// served whole): time to first token from the streaming step's start, the gaps between
/// tokens, and the tokens. A call's `n` tokens make `n - 1` equal gaps, recorded at once.
pub struct StreamMetrics {
    pub ttft_us: Histogram<u64>,
    pub ttft_sum_ns: f64,
    pub itl_us: Histogram<u64>,
    pub itl_sum_ns: f64,
    pub tokens: u64,
}

impl StreamMetrics {
    pub fn new() -> Self {
        StreamMetrics {
            ttft_us: latency_histogram(),
            ttft_sum_ns: 0.0,
            itl_us: latency_histogram(),
            itl_sum_ns: 0.0,
            tokens: 0,
        }
    }

    /// A stream whose first token came `ttft` after its step started, then `tokens - 1` more
    /// every `gap`.
    #[inline]
    pub fn record(&mut self, ttft: Nanos, gap: Nanos, tokens: u64) {
        record_us(&mut self.ttft_us, ttft);
        self.ttft_sum_ns += ttft as f64;
        self.tokens += tokens;
        let gaps = tokens.saturating_sub(1);
        if gaps > 0 {
            let us = (gap / 1000).clamp(1, MAX_US);
            // In range by construction, so recording cannot fail.
            let _ = self.itl_us.record_n(us, gaps);
            self.itl_sum_ns += gap as f64 * gaps as f64;
        }
    }
}

impl Default for StreamMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl JourneyMetrics {
    pub fn new() -> Self {
        let (latency_us, window) = (latency_histogram(), window_histogram());
        JourneyMetrics {
            latency_tally: Tally::for_histogram(&latency_us),
            latency_us,
            sum_ns: 0.0,
            count: 0,
            errors: 0,
            unfinished: 0,
            window_tally: Tally::for_histogram(&window),
            window,
            window_sum_ns: 0.0,
            window_count: 0,
            window_errors: 0,
            in_flight: 0,
            window_demand: 0,
            windows: Vec::new(),
            demand: Vec::new(),
            stream: None,
        }
    }

    /// With room for the streams of a journey that has streaming steps.
    pub fn streaming(mut self, streams: bool) -> Self {
        self.stream = streams.then(StreamMetrics::new);
        self
    }

    /// A journey arrived.
    #[inline]
    pub fn arrive(&mut self) {
        self.in_flight += 1;
    }

    /// A journey ended (or its client gave up); `counted` when it started after warm-up.
    #[inline]
    pub fn complete(&mut self, sojourn: Nanos, ok: bool, counted: bool) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.window_count += 1;
        let us = (sojourn / 1000).clamp(1, MAX_US);
        if ok {
            self.window_tally.record(us);
            self.window_sum_ns += crate::calendar::ns_f64(sojourn);
        } else {
            self.window_errors += 1;
        }
        if counted {
            self.count += 1;
            if ok {
                self.latency_tally.record(us);
                self.sum_ns += crate::calendar::ns_f64(sojourn);
            } else {
                self.errors += 1;
            }
        }
    }

    /// Completes `latency_us` (once the replication is over).
    pub fn finish(&mut self) {
        self.latency_tally.flush_into(&mut self.latency_us);
    }

    /// Closes the window that started at `start_s`.
    pub fn close_window(&mut self, start_s: f64) {
        self.window_tally.flush_into(&mut self.window);
        let ok = self.window.len();
        self.windows.push(WindowStats {
            start_s,
            count: self.window_count,
            errors: self.window_errors,
            mean_ms: if ok > 0 {
                self.window_sum_ns / ok as f64 / 1e6
            } else {
                0.0
            },
            p50_ms: percentile_ms(&self.window, 50.0),
            p95_ms: percentile_ms(&self.window, 95.0),
            p99_ms: percentile_ms(&self.window, 99.0),
        });
        self.demand.push(self.window_demand);
        self.window.reset();
        self.window_sum_ns = 0.0;
        self.window_count = 0;
        self.window_errors = 0;
        self.window_demand = self.in_flight;
    }
}

impl Default for JourneyMetrics {
    fn default() -> Self {
        Self::new()
    }
}

/// The timeline window for a horizon: a round width giving at most about 200 windows.
pub fn window_width(horizon: Nanos) -> Nanos {
    const NICE_S: [u64; 14] = [
        1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
    ];
    let horizon_s = horizon / 1_000_000_000;
    let w = NICE_S
        .iter()
        .copied()
        .find(|w| horizon_s / w <= 200)
        .unwrap_or(horizon_s.div_ceil(200).max(1));
    w * 1_000_000_000
}
