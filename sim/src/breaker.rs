//! A caller step's circuit breaker (`circuit_breaker:`), as resilience4j's `CircuitBreaker`
//! with a time-based sliding window: closed (calls pass, their outcomes fill the window),
//! open (calls are rejected at once for `open_for`), half-open (a fixed number of calls pass;
//! their failure rate closes it or opens it again). The module owns the state machine and
//! what it measured; the engine asks it before a visit and tells it each outcome. Pure: no
//! clock but the times it is given, so it is tested without the engine.
//!
//! resilience4j's time-based window keeps one bucket per second of the window and drops a
//! bucket when it slides out; here the window is `buckets` buckets of `window / buckets`
//! (one a second, at least one), allocated once. The open-to-half-open transition happens
//! `open_for` after opening whether or not a call arrives (resilience4j's
//! `automaticTransitionFromOpenToHalfOpenEnabled`; for the calls it changes nothing, and the
//! time spent open is then exactly `open_for` an opening). A rejected call is not recorded
//! (resilience4j records no outcome for `CallNotPermittedException`).

use crate::calendar::Nanos;
use models::scenario::CircuitBreaker as Spec;

/// Where a breaker stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Closed,
    /// Rejecting calls until `until`.
    Open {
        until: Nanos,
    },
    /// `permitted` calls let through so far, `done` of them recorded, `failed` failures.
    HalfOpen {
        permitted: u32,
        done: u32,
        failed: u32,
    },
}

/// One breaker: its configuration, state, sliding window and measurements.
#[derive(Clone, Debug)]
pub struct Breaker {
    threshold: f64,
    min_requests: u32,
    open_for: Nanos,
    half_open_calls: u32,
    bucket_ns: Nanos,
    /// Per bucket: (its epoch, calls, failures); a bucket whose epoch is stale is empty.
    buckets: Vec<(u64, u32, u32)>,
    /// Calls and failures over the buckets in the window.
    calls: u32,
    failures: u32,
    /// The newest epoch the window has slid to.
    epoch: u64,
    pub state: State,
    warmup: Nanos,
    /// Calls rejected while open (or beyond the half-open quota) after warm-up.
    pub rejected: u64,
    /// Transitions to open after warm-up.
    pub openings: u64,
    /// Nanoseconds open after warm-up, closed spans only (see [`Breaker::open_ns_at`]).
    open_ns: Nanos,
    /// The state changes, (time, state), kept for the first few (a test's hand count and
    /// the report), bounded so a flapping breaker allocates nothing after.
    pub transitions: Vec<(Nanos, State)>,
}

/// Transitions a breaker keeps (the first ones of the run).
const KEPT_TRANSITIONS: usize = 64;

impl Breaker {
    pub fn new(spec: &Spec, warmup: Nanos) -> Breaker {
        let window = spec.window.0.max(1);
        let n = (window / 1_000_000_000).max(1);
        Breaker {
            threshold: spec.failure_rate.0,
            min_requests: spec.min_requests.max(1),
            open_for: spec.open_for.0,
            half_open_calls: spec.half_open_calls.max(1),
            bucket_ns: (window / n).max(1),
            buckets: vec![(u64::MAX, 0, 0); n as usize],
            calls: 0,
            failures: 0,
            epoch: 0,
            state: State::Closed,
            warmup,
            rejected: 0,
            openings: 0,
            open_ns: 0,
            transitions: Vec::with_capacity(KEPT_TRANSITIONS),
        }
    }

    /// A call is about to be made at `now`: whether it may go (false: rejected at once).
    pub fn permit(&mut self, now: Nanos) -> bool {
        self.settle(now);
        let ok = match &mut self.state {
            State::Closed => true,
            State::Open { .. } => false,
            State::HalfOpen { permitted, .. } => {
                if *permitted < self.half_open_calls {
                    *permitted += 1;
                    true
                } else {
                    false
                }
            }
        };
        if !ok && now >= self.warmup {
            self.rejected += 1;
        }
        ok
    }

    /// A permitted call ended at `now`, failed or not.
    pub fn record(&mut self, now: Nanos, failed: bool) {
        self.settle(now);
        match &mut self.state {
            State::Closed => {
                self.slide(now);
                let n = self.buckets.len() as u64;
                let b = &mut self.buckets[(self.epoch % n) as usize];
                b.1 += 1;
                b.2 += u32::from(failed);
                self.calls += 1;
                self.failures += u32::from(failed);
                if self.calls >= self.min_requests
                    && f64::from(self.failures) >= self.threshold * f64::from(self.calls)
                {
                    self.open(now);
                }
            }
            // A call let through before the breaker opened, ending after: not recorded
            // (resilience4j drops outcomes that arrive in the open state).
            State::Open { .. } => {}
            State::HalfOpen {
                done, failed: f, ..
            } => {
                *done += 1;
                *f += u32::from(failed);
                if *done >= self.half_open_calls {
                    let (d, f) = (*done, *f);
                    if f64::from(f) >= self.threshold * f64::from(d) {
                        self.open(now);
                    } else {
                        self.clear_window();
                        self.change(now, State::Closed);
                    }
                }
            }
        }
    }

    /// Nanoseconds spent open after warm-up, up to `now`.
    pub fn open_ns_at(&self, now: Nanos) -> Nanos {
        match self.state {
            State::Open { until } => {
                let from = until.saturating_sub(self.open_for).max(self.warmup);
                self.open_ns + now.min(until).saturating_sub(from)
            }
            _ => self.open_ns,
        }
    }

    /// Moves an open breaker whose `open_for` has passed to half-open.
    #[inline]
    fn settle(&mut self, now: Nanos) {
        if let State::Open { until } = self.state {
            if now >= until {
                self.open_ns = self.open_ns_at(until);
                let half = State::HalfOpen {
                    permitted: 0,
                    done: 0,
                    failed: 0,
                };
                self.change(until, half);
            }
        }
    }

    fn open(&mut self, now: Nanos) {
        if now >= self.warmup {
            self.openings += 1;
        }
        self.change(
            now,
            State::Open {
                until: now + self.open_for,
            },
        );
    }

    fn change(&mut self, at: Nanos, state: State) {
        self.state = state;
        if self.transitions.len() < KEPT_TRANSITIONS {
            self.transitions.push((at, state));
        }
    }

    /// Slides the window to `now`'s bucket, dropping the buckets that left it.
    fn slide(&mut self, now: Nanos) {
        let e = now / self.bucket_ns;
        let n = self.buckets.len() as u64;
        if e >= self.epoch + n {
            self.clear_window();
        } else {
            for k in self.epoch + 1..=e {
                let b = &mut self.buckets[(k % n) as usize];
                if b.0 != u64::MAX {
                    self.calls -= b.1;
                    self.failures -= b.2;
                }
                *b = (k, 0, 0);
            }
        }
        let b = &mut self.buckets[(e % n) as usize];
        if b.0 != e {
            *b = (e, 0, 0);
        }
        self.epoch = e;
    }

    fn clear_window(&mut self) {
        for b in &mut self.buckets {
            *b = (u64::MAX, 0, 0);
        }
        self.calls = 0;
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::units::{Duration, Fraction};

    const S: Nanos = 1_000_000_000;

    fn spec(rate: f64, window_s: u64, min: u32, open_s: u64, half: u32) -> Spec {
        Spec {
            failure_rate: Fraction(rate),
            window: Duration(window_s * S),
            min_requests: min,
            open_for: Duration(open_s * S),
            half_open_calls: half,
        }
    }

    #[test]
    fn stays_closed_below_min_requests_whatever_fails() {
        let mut b = Breaker::new(&spec(0.5, 10, 5, 30, 2), 0);
        for i in 0..4 {
            assert!(b.permit(i * S));
            b.record(i * S, true);
        }
        assert_eq!(b.state, State::Closed);
        assert!(b.permit(4 * S));
        b.record(4 * S, true);
        assert_eq!(b.state, State::Open { until: 34 * S });
    }

    #[test]
    fn the_window_forgets_calls_older_than_it() {
        // 10 s window, 4 calls minimum, 50 %: 2 failures at t = 0, then successes from
        // t = 10 s; the old failures slid out, so 1 failure in 4 never opens it.
        let mut b = Breaker::new(&spec(0.5, 10, 4, 30, 2), 0);
        b.record(0, true);
        b.record(S / 2, true);
        for t in [10, 11] {
            b.record(t * S, false);
        }
        // Without forgetting: 3 failures in 5 calls would open it here.
        b.record(13 * S, true);
        assert_eq!(b.state, State::Closed);
        // Within one window: 2 of 4 fail -> open.
        b.record(14 * S, true);
        assert!(matches!(b.state, State::Open { .. }));
    }

    #[test]
    fn open_rejects_then_half_open_permits_its_quota_and_decides() {
        let mut b = Breaker::new(&spec(0.5, 10, 2, 30, 2), 0);
        b.record(0, true);
        b.record(S, true);
        assert_eq!(b.state, State::Open { until: 31 * S });
        assert!(!b.permit(2 * S));
        assert!(!b.permit(30 * S));
        // Half-open at 31 s: two calls pass, a third is rejected.
        assert!(b.permit(31 * S));
        assert!(b.permit(32 * S));
        assert!(!b.permit(33 * S));
        assert_eq!(b.rejected, 3);
        // One of two fails: 50 % >= 50 % -> open again.
        b.record(34 * S, false);
        b.record(35 * S, true);
        assert_eq!(b.state, State::Open { until: 65 * S });
        assert!(b.permit(65 * S) && b.permit(65 * S));
        b.record(66 * S, false);
        b.record(66 * S, false);
        assert_eq!(b.state, State::Closed);
        assert_eq!(b.openings, 2);
        assert_eq!(b.open_ns_at(100 * S), 60 * S);
        let kinds: Vec<Nanos> = b.transitions.iter().map(|t| t.0 / S).collect();
        assert_eq!(kinds, vec![1, 31, 35, 65, 66]);
    }

    #[test]
    fn open_time_counts_from_the_warmup_and_up_to_now() {
        let mut b = Breaker::new(&spec(0.5, 10, 1, 30, 1), 20 * S);
        b.record(10 * S, true); // opens at 10 s, until 40 s: 20 s of it after warm-up
        assert_eq!(b.open_ns_at(25 * S), 5 * S);
        assert!(b.permit(40 * S));
        assert_eq!(b.open_ns_at(41 * S), 20 * S);
        assert_eq!(b.openings, 0, "opened during warm-up");
    }
}
