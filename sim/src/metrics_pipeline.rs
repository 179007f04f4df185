//! The metrics a simulated HorizontalPodAutoscaler reads, produced the way the real pipeline
//! produces them, so the HPA sees the same stale, averaged figures it would in a cluster:
//!
//! - **Resource metrics** (metrics-server). The kubelet's counters for a pod are read every
//!   `resolution`, each reading already `kubelet_lag` old when metrics-server takes it. A CPU
//!   sample is the rate between two consecutive readings (cumulative busy time, so the average
//!   over one resolution), timestamped at the newer reading, with `window = resolution`; memory
//!   is the working-set gauge of the newer reading. At a sync the HPA gets the latest sample
//!   already published (`timestamp + kubelet_lag <= now`). A pod needs two readings before it
//!   has a CPU sample (metrics-server computes a rate), so a new pod is "missing" for up to a
//!   resolution, as in a real cluster. A Kafka consumer service's pod reads, besides its own
//!   requests, its even share of the work its consumer groups did (the `cluster` module
//!   shares it out at each reading): consumer threads run in the pods.
//! - **Custom metrics** (Prometheus + adapter). Each ready pod exports cumulative request
//!   counters by latency bucket; Prometheus scrapes them every `scrape_interval`; the adapter
//!   answers a query at time `now` from the scrapes inside `(now - rate_window, now]`:
//!   `rate()` is the increase between the first and last of them over their time span (the
//!   extrapolation Prometheus applies to the window edges scales numerator and denominator of
//!   a quantile alike, and changes a rate by at most one scrape's share), and
//!   `histogram_quantile` interpolates linearly inside the bucket, as Prometheus does.
//!
//! Counting a request is one increment in a fixed array ([`LatencyCounters::observe`]): the
//! per-request path allocates nothing. Readings are taken on rare control events into rings
//! allocated when a pod is created.

use crate::calendar::Nanos;
use models::metrics_pipeline::MAX_BUCKETS;

/// Cumulative request counts by latency bucket: `counts[i]` holds requests with duration
/// `<= bounds[i]` and `> bounds[i-1]`; the last used slot (`bounds.len()`) is `+Inf`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyCounters {
    pub counts: [u64; MAX_BUCKETS + 1],
}

impl Default for LatencyCounters {
    fn default() -> Self {
        LatencyCounters {
            counts: [0; MAX_BUCKETS + 1],
        }
    }
}

impl LatencyCounters {
    /// Counts one request of duration `d` (a linear scan: the bucket lists are short).
    #[inline]
    pub fn observe(&mut self, bounds: &[Nanos], d: Nanos) {
        let i = bounds.iter().position(|b| d <= *b).unwrap_or(bounds.len());
        self.counts[i] += 1;
    }

    /// Every request counted.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `self - earlier`, bucket by bucket (counters only grow).
    pub fn since(&self, earlier: &LatencyCounters) -> LatencyCounters {
        let mut out = *self;
        for (o, e) in out.counts.iter_mut().zip(earlier.counts.iter()) {
            *o = o.saturating_sub(*e);
        }
        out
    }

    /// Adds `other` bucket by bucket (`sum by (le)` over pods).
    pub fn add(&mut self, other: &LatencyCounters) {
        for (o, e) in self.counts.iter_mut().zip(other.counts.iter()) {
            *o += *e;
        }
    }
}

/// Prometheus' `histogram_quantile(q, ...)` over per-bucket counts with upper bounds `bounds`
/// (seconds) and a final `+Inf` bucket: NaN with no observations; the highest finite bound if
/// the rank falls in `+Inf`; otherwise linear interpolation inside the bucket that holds the
/// rank (the first bucket starts at 0).
pub fn histogram_quantile(q: f64, bounds: &[f64], counts: &[u64]) -> f64 {
    let total: u64 = counts.iter().take(bounds.len() + 1).sum();
    if total == 0 || !(0.0..=1.0).contains(&q) {
        return f64::NAN;
    }
    let rank = q * total as f64;
    let mut below = 0u64;
    for (i, c) in counts.iter().take(bounds.len() + 1).enumerate() {
        let cumulative = below + c;
        if cumulative as f64 >= rank && *c > 0 {
            if i == bounds.len() {
                return bounds.last().copied().unwrap_or(f64::NAN);
            }
            let start = if i == 0 { 0.0 } else { bounds[i - 1] };
            let end = bounds[i];
            return start + (end - start) * ((rank - below as f64) / *c as f64);
        }
        below = cumulative;
    }
    bounds.last().copied().unwrap_or(f64::NAN)
}

/// A fixed-capacity ring, newest last; pushing onto a full ring drops the oldest.
#[derive(Clone, Debug)]
pub struct Ring<T: Copy> {
    items: Vec<T>,
    capacity: usize,
    head: usize,
}

impl<T: Copy> Ring<T> {
    pub fn new(capacity: usize) -> Ring<T> {
        Ring {
            items: Vec::with_capacity(capacity.max(1)),
            capacity: capacity.max(1),
            head: 0,
        }
    }

    pub fn push(&mut self, x: T) {
        if self.items.len() < self.capacity {
            self.items.push(x);
        } else {
            self.items[self.head] = x;
            self.head = (self.head + 1) % self.capacity;
        }
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The `i`-th newest item (0 = newest).
    pub fn newest(&self, i: usize) -> Option<T> {
        let n = self.items.len();
        if i >= n {
            return None;
        }
        // Oldest is at `head` once full; newest just before it.
        let idx = (self.head + n - 1 - i) % n;
        Some(self.items[idx])
    }
}

/// What the kubelet knows of a pod at one instant.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KubeletReading {
    pub t: Nanos,
    /// Busy server-nanoseconds of the pod since it started (its cumulative CPU).
    pub cpu_area: f64,
    /// Requests in service in the pod, for its memory.
    pub in_flight: u32,
}

/// A metrics-server sample as the HPA receives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResourceSample {
    pub timestamp: Nanos,
    pub window: Nanos,
    /// Average busy servers over the window (CPU usage = this / concurrency x request).
    pub busy_servers: f64,
    /// Requests in the pod at `timestamp`.
    pub in_flight: u32,
}

/// The latest sample metrics-server serves at `now`: the newest reading already published
/// (`t + lag <= now`) and the reading before it. `None` until a pod has two published
/// readings.
pub fn resource_sample(
    readings: &Ring<KubeletReading>,
    now: Nanos,
    lag: Nanos,
) -> Option<ResourceSample> {
    let mut i = 0;
    while let Some(r) = readings.newest(i) {
        if r.t.saturating_add(lag) <= now {
            let prev = readings.newest(i + 1)?;
            let window = r.t.checked_sub(prev.t).filter(|w| *w > 0)?;
            return Some(ResourceSample {
                timestamp: r.t,
                window,
                busy_servers: (r.cpu_area - prev.cpu_area).max(0.0) / window as f64,
                in_flight: r.in_flight,
            });
        }
        i += 1;
    }
    None
}

/// What one Prometheus scrape of a pod got.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PromReading {
    pub t: Nanos,
    pub latency: LatencyCounters,
    /// Requests waiting at the pod (a gauge).
    pub queued: u32,
}

/// The increase of a pod's counters over the scrapes inside `(now - window, now]`, and the
/// time between the first and last of them; `None` with fewer than two such scrapes (a
/// Prometheus range with one sample yields no rate).
pub fn increase(
    scrapes: &Ring<PromReading>,
    now: Nanos,
    window: Nanos,
) -> Option<(LatencyCounters, Nanos, PromReading)> {
    let from = now.saturating_sub(window);
    let mut last = None;
    let mut first = None;
    let mut i = 0;
    while let Some(r) = scrapes.newest(i) {
        i += 1;
        if r.t > now {
            continue;
        }
        if r.t <= from && now >= window {
            break;
        }
        if last.is_none() {
            last = Some(r);
        }
        first = Some(r);
    }
    let (first, last) = (first?, last?);
    let span = last.t.checked_sub(first.t).filter(|s| *s > 0)?;
    Some((last.latency.since(&first.latency), span, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Nanos = 1_000_000_000;

    /// A pod's CPU with a hand-made usage history: 1 busy server from 0 to 20 s, 3 from 20 s
    /// to 40 s, 2 afterwards. Cumulative busy server-seconds: C(t) = t (t <= 20),
    /// 20 + 3 (t - 20) (t <= 40), 80 + 2 (t - 40).
    fn cumulative(t: f64) -> f64 {
        if t <= 20.0 {
            t
        } else if t <= 40.0 {
            20.0 + 3.0 * (t - 20.0)
        } else {
            80.0 + 2.0 * (t - 40.0)
        }
    }

    #[test]
    fn resource_samples_are_lagged_windowed_averages() {
        // Resolution 15 s, lag 5 s: readings at 10, 25, 40, 55, 70 s (k x 15 - 5), each
        // published 5 s later (15, 30, 45, 60, 75 s).
        let (res, lag) = (15 * S, 5 * S);
        let mut ring = Ring::new(4);
        let mut t = res - lag;
        let mut got = Vec::new();
        // HPA syncs at 0, 15, 30, ... 75 s; readings are taken when their time comes.
        for sync in (0..=75).step_by(15) {
            let now = sync * S;
            while t <= now {
                ring.push(KubeletReading {
                    t,
                    cpu_area: cumulative(t as f64 / S as f64) * S as f64,
                    in_flight: (t / S) as u32,
                });
                t += res;
            }
            got.push(resource_sample(&ring, now, lag).map(|s| {
                (
                    s.timestamp / S,
                    s.window / S,
                    (s.busy_servers * 1000.0).round() / 1000.0,
                    s.in_flight,
                )
            }));
        }
        // By hand:
        //  0 s: nothing read yet.           15 s: one reading (10 s) published: no rate yet.
        // 30 s: readings 10, 25: (C(25) - C(10)) / 15 = (35 - 10) / 15 = 1.667.
        // 45 s: 25, 40: (80 - 35) / 15 = 3.       60 s: 40, 55: (110 - 80) / 15 = 2.
        // 75 s: 55, 70: (140 - 110) / 15 = 2.
        // The 55 s reading is taken at 55 s but not served before 60 s: at 55 s a sync would
        // still see the 40 s sample (checked below).
        assert_eq!(
            got,
            vec![
                None,
                None,
                Some((25, 15, 1.667, 25)),
                Some((40, 15, 3.0, 40)),
                Some((55, 15, 2.0, 55)),
                Some((70, 15, 2.0, 70)),
            ]
        );
        let mut ring = Ring::new(4);
        for t in [10, 25, 40, 55] {
            ring.push(KubeletReading {
                t: t * S,
                cpu_area: cumulative(t as f64) * S as f64,
                in_flight: 0,
            });
        }
        assert_eq!(
            resource_sample(&ring, 59 * S, lag).map(|s| s.timestamp),
            Some(40 * S)
        );
        assert_eq!(
            resource_sample(&ring, 60 * S, lag).map(|s| s.timestamp),
            Some(55 * S)
        );
    }

    #[test]
    fn histogram_quantile_interpolates_like_prometheus() {
        let bounds = [0.1, 0.25, 0.5, 1.0];
        // 100 requests: 50 <= 0.1, 30 in (0.1, 0.25], 15 in (0.25, 0.5], 5 in (0.5, 1].
        let counts = [50, 30, 15, 5, 0];
        // rank 0.5 x 100 = 50: the first bucket, 0 + 0.1 x 50/50.
        assert!((histogram_quantile(0.5, &bounds, &counts) - 0.1).abs() < 1e-12);
        // rank 95: third bucket (cumulative 80 .. 95): 0.25 + 0.25 x (95 - 80)/15 = 0.5.
        assert!((histogram_quantile(0.95, &bounds, &counts) - 0.5).abs() < 1e-12);
        // rank 90: 0.25 + 0.25 x 10/15 = 0.41667.
        assert!((histogram_quantile(0.9, &bounds, &counts) - 0.416_666_666_7).abs() < 1e-9);
        // rank 99: fourth bucket: 0.5 + 0.5 x (99 - 95)/5 = 0.9.
        assert!((histogram_quantile(0.99, &bounds, &counts) - 0.9).abs() < 1e-12);
        // In +Inf: the highest finite bound.
        assert_eq!(histogram_quantile(0.99, &bounds, &[0, 0, 0, 0, 10]), 1.0);
        assert!(histogram_quantile(0.5, &bounds, &[0; 5]).is_nan());
    }

    #[test]
    fn increase_uses_the_scrapes_inside_the_window() {
        let bounds = [S / 10];
        let mut ring = Ring::new(10);
        for k in 1..=10u64 {
            let mut c = LatencyCounters::default();
            // 10 requests a second, all fast: cumulative 10 x t.
            for _ in 0..(10 * 15 * k) {
                c.observe(&bounds, S / 20);
            }
            ring.push(PromReading {
                t: k * 15 * S,
                latency: c,
                queued: k as u32,
            });
        }
        // At 150 s over 2 m: scrapes in (30, 150] = 45 .. 150 s; increase 10 x 105 over 105 s.
        let (inc, span, last) = increase(&ring, 150 * S, 120 * S).expect("two scrapes");
        assert_eq!((inc.total(), span / S, last.queued), (1050, 105, 10));
        // At 16 s there is one scrape (15 s): no rate.
        let mut one = Ring::new(10);
        one.push(ring.newest(9).expect("first"));
        assert!(increase(&one, 16 * S, 120 * S).is_none());
    }
}
