//! The arrival process of new journeys: Poisson, evenly spaced, a time-varying Poisson profile
//! (by thinning against its peak rate, which is exact for any rate function), or a trace.

use crate::calendar::Nanos;
use models::scenario::Arrivals;
use models::{Duration, RandomStream};

/// Produces arrival instants one at a time; no allocation per arrival.
pub struct ArrivalProcess {
    kind: Kind,
    rng: RandomStream,
}

enum Kind {
    Poisson { mean_gap_s: f64 },
    Constant { gap: Nanos },
    Profile { spec: Arrivals, peak: f64 },
    Trace { times: Vec<Nanos>, next: usize },
}

impl ArrivalProcess {
    pub fn new(spec: &Arrivals, rng: RandomStream) -> ArrivalProcess {
        let kind = match spec {
            Arrivals::Poisson { rate } => Kind::Poisson {
                mean_gap_s: 1.0 / rate.per_sec(),
            },
            Arrivals::Constant { rate } => Kind::Constant {
                gap: Duration::from_secs_f64(1.0 / rate.per_sec()).0.max(1),
            },
            Arrivals::Profile { .. } => Kind::Profile {
                spec: spec.clone(),
                peak: spec.peak_rate(),
            },
            Arrivals::Trace { times, .. } => Kind::Trace {
                times: times.iter().map(|t| t.0).collect(),
                next: 0,
            },
        };
        ArrivalProcess { kind, rng }
    }

    /// The first arrival strictly after `now`, or None when the process has ended.
    #[inline]
    pub fn next_after(&mut self, now: Nanos) -> Option<Nanos> {
        if let Kind::Poisson { mean_gap_s } = self.kind {
            let gap = crate::calendar::secs_to_ns(mean_gap_s * self.rng.exp1());
            return Some(now + gap.max(1));
        }
        self.next_after_other(now)
    }

    /// [`Self::next_after`] for the processes other than Poisson (out of line, so that a
    /// Poisson arrival, once a customer, costs its draw and little else).
    #[inline(never)]
    fn next_after_other(&mut self, now: Nanos) -> Option<Nanos> {
        match &mut self.kind {
            Kind::Poisson { .. } => self.next_after(now),
            Kind::Constant { gap } => Some(now + *gap),
            Kind::Profile { spec, peak } => {
                if *peak <= 0.0 {
                    return None;
                }
                let quiet = quiet_from(spec);
                let mut t = now;
                loop {
                    let gap = self.rng.exp1() / *peak;
                    t += ((gap * 1e9) as Nanos).max(1);
                    if t >= quiet {
                        // The rate is 0 from here on: no arrival will ever be accepted.
                        return None;
                    }
                    let accept = spec.rate_at(Duration(t)) / *peak;
                    if self.rng.next_f64() < accept {
                        return Some(t);
                    }
                }
            }
            Kind::Trace { times, next } => {
                // Several arrivals at one instant are kept apart by the calendar's sequence.
                while *next < times.len() && times[*next] < now {
                    *next += 1;
                }
                let t = times.get(*next).copied();
                *next += 1;
                t
            }
        }
    }

    /// The instant of the first arrival of a run.
    pub fn first(&mut self) -> Option<Nanos> {
        match &mut self.kind {
            Kind::Trace { times, next } => {
                *next = 1;
                times.first().copied()
            }
            _ => self.next_after(0),
        }
    }
}

/// When a profile falls silent for good: from its last point, if that point's rate is 0 and
/// the profile does not repeat (before it, a rate of 0 may rise again); never otherwise.
fn quiet_from(spec: &Arrivals) -> Nanos {
    match spec {
        Arrivals::Profile {
            points,
            repeat: None,
            ..
        } => match points.last() {
            Some(last) if last.rate.per_sec() <= 0.0 => last.at.0,
            _ => Nanos::MAX,
        },
        _ => Nanos::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::scenario::{Interpolation, ProfilePoint};
    use models::Rate;

    fn count(spec: &Arrivals, horizon_s: f64, seed: u64) -> (u64, u64) {
        let mut p = ArrivalProcess::new(spec, RandomStream::from_seed(seed));
        let h = (horizon_s * 1e9) as Nanos;
        let (mut first_half, mut second_half) = (0, 0);
        let mut t = p.first();
        while let Some(x) = t {
            if x >= h {
                break;
            }
            if x < h / 2 {
                first_half += 1
            } else {
                second_half += 1
            }
            t = p.next_after(x);
        }
        (first_half, second_half)
    }

    #[test]
    fn poisson_count_matches_rate() {
        let (a, b) = count(&Arrivals::Poisson { rate: Rate(100.0) }, 1000.0, 3);
        // Expected 100000, sd sqrt(100000) = 316; 4 sd.
        assert!(((a + b) as f64 - 100_000.0).abs() < 1265.0, "{}", a + b);
    }

    #[test]
    fn step_profile_follows_its_points() {
        let spec = Arrivals::Profile {
            points: vec![
                ProfilePoint {
                    at: Duration::ZERO,
                    rate: Rate(50.0),
                },
                ProfilePoint {
                    at: Duration::from_secs(500),
                    rate: Rate(150.0),
                },
            ],
            interpolate: Interpolation::Step,
            repeat: None,
        };
        let (a, b) = count(&spec, 1000.0, 5);
        // 25000 (sd 158) then 75000 (sd 274); 4 sd each.
        assert!((a as f64 - 25_000.0).abs() < 632.0, "{a}");
        assert!((b as f64 - 75_000.0).abs() < 1096.0, "{b}");
    }

    #[test]
    fn a_profile_ending_at_zero_ends() {
        // 10/s for 100 s, then 0: about 1000 arrivals and then none (it used to search for
        // an accepted arrival forever).
        let spec = Arrivals::Profile {
            points: vec![
                ProfilePoint {
                    at: Duration::from_secs(0),
                    rate: Rate(10.0),
                },
                ProfilePoint {
                    at: Duration::from_secs(100),
                    rate: Rate(0.0),
                },
            ],
            interpolate: Interpolation::Step,
            repeat: None,
        };
        let mut p = ArrivalProcess::new(&spec, RandomStream::from_seed(5));
        let mut n = 0u64;
        let mut t = p.first();
        while let Some(now) = t {
            assert!(
                now < 100_000_000_000,
                "an arrival at {now} ns, after the rate fell to 0"
            );
            n += 1;
            t = p.next_after(now);
        }
        assert!(
            (n as f64 - 1000.0).abs() < 4.0 * 1000f64.sqrt(),
            "{n} arrivals"
        );
    }

    #[test]
    fn constant_arrivals_are_evenly_spaced() {
        let (a, b) = count(&Arrivals::Constant { rate: Rate(10.0) }, 100.0, 1);
        assert_eq!(a + b, 999); // 0.1s, 0.2s, ... 99.9s
    }
}
