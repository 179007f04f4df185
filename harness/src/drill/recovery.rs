//! RTO as the client sees it, from measured journeys: pure functions over samples (each
//! journey's scheduled start, end and outcome, in seconds of drill time).
//!
//! - RTO: from the fault to the start of the first window (`window_s` wide, starting at the
//!   fault or at a journey's scheduled start after it) in which the success rate is at least
//!   `min_success` and the p95 latency at most `max_p95_s`; the window must lie wholly within
//!   the load. `None`: never recovered while measured.
//! - Time to first success: from the fault to the end of the first successful journey that
//!   started after the first failure following the fault (after the fault when nothing
//!   failed, as when client retries hide the outage).
//! - Windowed series (success rate, p95) for the report's timeline.

/// One measured journey.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Scheduled start, seconds from the start of the load.
    pub start_s: f64,
    /// When it finished (acknowledged or given up).
    pub end_s: f64,
    pub ok: bool,
}

impl Sample {
    pub fn latency_s(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }
}

/// What "back within the SLOs" means.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Criteria {
    pub window_s: f64,
    pub min_success: f64,
    pub max_p95_s: Option<f64>,
}

/// The q-th percentile (0–100) by nearest rank of unsorted values; `None` when empty.
pub fn percentile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((q / 100.0) * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

fn sorted(samples: &[Sample]) -> Vec<Sample> {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
    s
}

/// Whether the samples of one window meet the criteria (an empty window does not).
fn window_ok(window: &[Sample], c: &Criteria) -> bool {
    if window.is_empty() {
        return false;
    }
    let ok = window.iter().filter(|s| s.ok).count();
    if (ok as f64) < c.min_success * window.len() as f64 - 1e-9 {
        return false;
    }
    match c.max_p95_s {
        None => true,
        Some(max) => {
            let mut lat: Vec<f64> = window.iter().map(Sample::latency_s).collect();
            percentile(&mut lat, 95.0).is_some_and(|p| p <= max)
        }
    }
}

/// RTO in seconds: see the module docs. `load_end_s` is the end of the scheduled load.
pub fn rto(samples: &[Sample], fault_s: f64, load_end_s: f64, c: &Criteria) -> Option<f64> {
    let s = sorted(samples);
    let first = s.partition_point(|x| x.start_s < fault_s);
    let mut candidates = vec![fault_s];
    candidates.extend(s[first..].iter().map(|x| x.start_s));
    let mut lo = first;
    let mut hi = first;
    for t in candidates {
        if t + c.window_s > load_end_s + 1e-9 {
            return None;
        }
        while lo < s.len() && s[lo].start_s < t {
            lo += 1;
        }
        hi = hi.max(lo);
        while hi < s.len() && s[hi].start_s < t + c.window_s {
            hi += 1;
        }
        if window_ok(&s[lo..hi], c) {
            return Some(t - fault_s);
        }
    }
    None
}

/// Time to first success in seconds (see the module docs); `None`: no success after the
/// first failure.
pub fn time_to_first_success(samples: &[Sample], fault_s: f64) -> Option<f64> {
    let s = sorted(samples);
    let first_failure = s.iter().find(|x| x.start_s >= fault_s && !x.ok);
    // Nothing failed (client retries hid the outage): the first journey started after the
    // fault that succeeded.
    let from = first_failure.map_or(fault_s, |f| f.start_s);
    s.iter()
        .filter(|x| x.ok && x.start_s >= from)
        .map(|x| x.end_s)
        .min_by(f64::total_cmp)
        .map(|end| (end - fault_s).max(0.0))
}

/// Per window of width `w` from 0: `(window start, success rate, p95 seconds)` of the
/// journeys scheduled in it (windows without journeys are left out).
pub fn windows(samples: &[Sample], w: f64) -> Vec<(f64, f64, f64)> {
    if w <= 0.0 {
        return Vec::new();
    }
    let s = sorted(samples);
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let k = (s[i].start_s / w).floor();
        let start = k * w;
        let mut j = i;
        while j < s.len() && s[j].start_s < start + w {
            j += 1;
        }
        let win = &s[i..j.max(i + 1)];
        let ok = win.iter().filter(|x| x.ok).count() as f64 / win.len() as f64;
        let mut lat: Vec<f64> = win.iter().map(Sample::latency_s).collect();
        out.push((start, ok, percentile(&mut lat, 95.0).unwrap_or(0.0)));
        i = j.max(i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10 journeys a second from 0 to `end`, failing in `[down_from, down_to)`, each taking
    /// `lat` (or `slow` while `slow_until` has not passed).
    fn run(end: f64, down: (f64, f64), lat: f64, slow: (f64, f64)) -> Vec<Sample> {
        (0..(end * 10.0) as usize)
            .map(|i| {
                let t = i as f64 / 10.0;
                let l = if t < slow.1 { slow.0 } else { lat };
                Sample {
                    start_s: t,
                    end_s: t + l,
                    ok: !(down.0 <= t && t < down.1),
                }
            })
            .collect()
    }

    const C: Criteria = Criteria {
        window_s: 1.0,
        min_success: 0.99,
        max_p95_s: Some(0.1),
    };

    #[test]
    fn rto_is_the_start_of_the_first_good_window() {
        let s = run(10.0, (3.0, 4.2), 0.01, (0.0, 0.0));
        let r = rto(&s, 3.0, 10.0, &C).expect("recovered");
        assert!((r - 1.2).abs() < 1e-9, "{r}");
        let ttfs = time_to_first_success(&s, 3.0).expect("success");
        assert!((ttfs - 1.21).abs() < 1e-9, "{ttfs}");
    }

    #[test]
    fn nothing_failed_means_zero() {
        let s = run(10.0, (0.0, 0.0), 0.01, (0.0, 0.0));
        assert_eq!(rto(&s, 3.0, 10.0, &C), Some(0.0));
        let ttfs = time_to_first_success(&s, 3.0).expect("success");
        assert!((ttfs - 0.01).abs() < 1e-9, "{ttfs}");
    }

    #[test]
    fn slow_answers_keep_the_service_down() {
        // Everything succeeds, but slowly until 5 s: p95 out of bounds until then.
        let s = run(10.0, (0.0, 0.0), 0.01, (0.5, 5.0));
        let r = rto(&s, 3.0, 10.0, &C).expect("recovered");
        assert!((r - 2.0).abs() < 1e-9, "{r}");
        // Without a p95 bound the service never looked down.
        let c = Criteria {
            max_p95_s: None,
            ..C
        };
        assert_eq!(rto(&s, 3.0, 10.0, &c), Some(0.0));
    }

    #[test]
    fn a_window_must_fit_in_the_load() {
        let s = run(5.0, (3.0, 4.5), 0.01, (0.0, 0.0));
        assert_eq!(rto(&s, 3.0, 5.0, &C), None);
        let loose = Criteria {
            min_success: 0.5,
            ..C
        };
        // The window [3, 4) has 0 % success; [3.6, 4.6) has 1 in 10 ... [4.0, 5.0) has 50 %.
        let r = rto(&s, 3.0, 5.0, &loose).expect("recovered");
        assert!((r - 1.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 95.0), Some(95.0));
        assert_eq!(percentile(&mut [], 95.0), None);
        let w = windows(&run(2.0, (0.0, 0.5), 0.01, (0.0, 0.0)), 1.0);
        assert_eq!(w.len(), 2);
        assert!((w[0].1 - 0.5).abs() < 1e-9 && (w[1].1 - 1.0).abs() < 1e-9);
    }
}
