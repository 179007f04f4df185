//! The open-model arrival schedule of a load run: when each journey starts, from the scenario's
//! arrival process (Poisson, constant, profile, trace), scaled by `--rate-scale` and split
//! across `--shard I/N` workers. Users take their next start time from here rather than starting
//! when they happen to be free, so latency under overload is measured from the time a request
//! should have started (no coordinated omission).

use models::scenario::Arrivals;
use models::{Duration, RandomStream};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// `--shard I/N`: this worker is `index` (from 0) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Parses `I/N` with `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("`--shard {text}`: expected I/N with 0 <= I < N, e.g. 0/4");
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// One scheduled journey start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrival {
    /// Sequence number in this worker, from 0.
    pub seq: u64,
    /// When it should start, from the start of the run.
    pub at: std::time::Duration,
    /// Index of the journey in the scenario.
    pub journey: usize,
}

/// What the schedule is built from.
#[derive(Clone, Debug)]
pub struct ScheduleSpec {
    pub arrivals: Arrivals,
    pub rate_scale: f64,
    /// Profile (and trace) time runs this many times faster than the run's clock: run time `t`
    /// plays the profile at `t * time_scale`. 1 plays it as written.
    pub time_scale: f64,
    pub shard: Shard,
    /// No arrival is scheduled at or after this.
    pub duration: Duration,
    pub seed: u64,
    /// Journey weights, in scenario order.
    pub weights: Vec<f64>,
}

struct State {
    seq: u64,
    /// Time of the last arrival, seconds.
    t: f64,
    trace_index: usize,
    arrivals_rng: RandomStream,
    journeys_rng: RandomStream,
    stopped: bool,
}

/// A thread-safe source of arrivals, shared by every user of a load run.
pub struct Schedule {
    spec: ScheduleSpec,
    cumulative: Vec<f64>,
    state: Mutex<State>,
    started: OnceLock<Instant>,
}

impl Schedule {
    pub fn new(spec: ScheduleSpec) -> Schedule {
        let total: f64 = spec.weights.iter().sum();
        let mut acc = 0.0;
        let cumulative = spec
            .weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        let component = format!("load/shard-{}", spec.shard.index);
        let state = State {
            seq: 0,
            t: match &spec.arrivals {
                // Constant arrivals of shard I are offset by I/rate so the shards interleave.
                Arrivals::Constant { rate } => {
                    let r = rate.per_sec() * spec.rate_scale;
                    f64::from(spec.shard.index) / r - f64::from(spec.shard.count) / r
                }
                _ => 0.0,
            },
            trace_index: spec.shard.index as usize,
            arrivals_rng: RandomStream::derive(spec.seed, 0, &format!("{component}/arrivals")),
            journeys_rng: RandomStream::derive(spec.seed, 0, &format!("{component}/journeys")),
            stopped: false,
        };
        Schedule {
            spec,
            cumulative,
            state: Mutex::new(state),
            started: OnceLock::new(),
        }
    }

    /// The instant the run started: the first time anyone asked (or [`Schedule::start`]).
    pub fn started(&self) -> Instant {
        *self.started.get_or_init(Instant::now)
    }

    /// Starts the clock now if it has not started.
    pub fn start(&self) -> Instant {
        self.started()
    }

    /// No more arrivals after this call (Ctrl-C, SIGTERM).
    pub fn stop(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.stopped = true;
        }
    }

    /// The offered rate of this worker at run time `t` seconds, per second.
    pub fn rate_at(&self, t: f64) -> f64 {
        let scale = self.spec.rate_scale / f64::from(self.spec.shard.count);
        let profile_t = t * self.spec.time_scale;
        self.spec
            .arrivals
            .rate_at(Duration::from_secs_f64(profile_t))
            * scale
    }

    /// The peak rate of this worker, per second (sizes the user pool).
    pub fn peak_rate(&self) -> f64 {
        self.spec.arrivals.peak_rate() * self.spec.rate_scale / f64::from(self.spec.shard.count)
    }

    /// The next arrival, or `None` when the schedule is over or stopped.
    pub fn next(&self) -> Option<Arrival> {
        self.started();
        let mut s = self.state.lock().ok()?;
        if s.stopped {
            return None;
        }
        let end = self.spec.duration.as_secs_f64();
        let scale = self.spec.rate_scale;
        let shards = f64::from(self.spec.shard.count);
        let t = match &self.spec.arrivals {
            Arrivals::Poisson { rate } => {
                let r = rate.per_sec() * scale / shards;
                s.t - s.arrivals_rng.next_open01().ln() / r
            }
            Arrivals::Constant { rate } => s.t + shards / (rate.per_sec() * scale),
            Arrivals::Profile { .. } => {
                // Thinning: candidates at the peak rate, kept with probability rate(t)/peak.
                let peak = self.peak_rate();
                let mut t = s.t;
                loop {
                    t -= s.arrivals_rng.next_open01().ln() / peak;
                    if t >= end || s.arrivals_rng.next_f64() * peak < self.rate_at(t) {
                        break t;
                    }
                }
            }
            Arrivals::Trace { times, .. } => {
                let i = s.trace_index;
                s.trace_index += self.spec.shard.count as usize;
                match times.get(i) {
                    // `--rate-scale 2` plays the trace twice as fast, and so does
                    // `--time-scale 2`.
                    Some(at) => at.as_secs_f64() / (scale * self.spec.time_scale),
                    None => f64::INFINITY,
                }
            }
        };
        if t.is_nan() || t >= end {
            s.stopped = true;
            return None;
        }
        s.t = t;
        let u = s.journeys_rng.next_f64();
        let journey = self
            .cumulative
            .iter()
            .position(|c| u < *c)
            .unwrap_or(self.cumulative.len().saturating_sub(1));
        let seq = s.seq;
        s.seq += 1;
        Some(Arrival {
            seq,
            at: std::time::Duration::from_secs_f64(t.max(0.0)),
            journey,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::Rate;

    fn spec(arrivals: Arrivals, shard: Shard) -> ScheduleSpec {
        ScheduleSpec {
            arrivals,
            rate_scale: 1.0,
            time_scale: 1.0,
            shard,
            duration: Duration::from_secs(100),
            seed: 3,
            weights: vec![1.0, 3.0],
        }
    }

    #[test]
    fn poisson_has_the_rate_and_the_weights() {
        let s = Schedule::new(spec(
            Arrivals::Poisson {
                rate: Rate::parse("50/s").unwrap(),
            },
            Shard::WHOLE,
        ));
        let all: Vec<Arrival> = std::iter::from_fn(|| s.next()).collect();
        let n = all.len() as f64;
        assert!((n - 5000.0).abs() < 300.0, "{n}");
        let second = all.iter().filter(|a| a.journey == 1).count() as f64 / n;
        assert!((second - 0.75).abs() < 0.03, "{second}");
        assert!(all.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn constant_shards_interleave_to_the_whole_rate() {
        let rate = Rate::parse("10/s").unwrap();
        let mut times = Vec::new();
        for i in 0..4 {
            let s = Schedule::new(spec(
                Arrivals::Constant { rate },
                Shard { index: i, count: 4 },
            ));
            times.extend(std::iter::from_fn(|| s.next()).map(|a| a.at.as_secs_f64()));
        }
        times.sort_by(f64::total_cmp);
        assert_eq!(times.len(), 1000);
        assert!(times.windows(2).all(|w| ((w[1] - w[0]) - 0.1).abs() < 1e-6));
    }

    /// The diurnal day of `scenarios/diurnal-day.yaml` (linear between hourly points, repeated
    /// every 24 h) played at `--time-scale 60`: 24 h in 24 min. Each compressed minute holds one
    /// profile hour, so its expected count is 60 s x the mean of the two hourly rates (the
    /// profile is linear within the hour): the integral of the profile, computed by hand here.
    #[test]
    fn compressed_profile_counts_follow_the_integral_of_the_profile() {
        use models::scenario::{Interpolation, ProfilePoint};
        let knots = [
            (0.0, 20.0),
            (3.0, 10.0),
            (6.0, 25.0),
            (9.0, 90.0),
            (11.0, 100.0),
            (13.0, 85.0),
            (15.0, 100.0),
            (18.0, 60.0),
            (21.0, 35.0),
            (24.0, 20.0),
        ];
        let points = knots
            .iter()
            .map(|&(h, r)| ProfilePoint {
                at: Duration::from_secs_f64(h * 3600.0),
                rate: Rate::parse(&format!("{r}/s")).unwrap(),
            })
            .collect();
        let rate_at_hour = |h: f64| {
            let i = knots.iter().rposition(|k| k.0 <= h).unwrap();
            let (a, b) = (knots[i], knots[(i + 1).min(knots.len() - 1)]);
            if b.0 == a.0 {
                a.1
            } else {
                a.1 + (h - a.0) / (b.0 - a.0) * (b.1 - a.1)
            }
        };
        let mut sp = spec(
            Arrivals::Profile {
                points,
                interpolate: Interpolation::Linear,
                repeat: Some(Duration::from_secs(24 * 3600)),
            },
            Shard::WHOLE,
        );
        sp.time_scale = 60.0;
        sp.duration = Duration::from_secs(24 * 60);
        sp.seed = 11;
        let s = Schedule::new(sp);
        let mut counts = [0u64; 24];
        for a in std::iter::from_fn(|| s.next()) {
            counts[(a.at.as_secs_f64() / 60.0) as usize] += 1;
        }
        // Poisson counts: the standard deviation of window k is sqrt(expected_k) (33-77 here),
        // so each window must lie within 4 of them (a false alarm about once in 700 runs of 24
        // windows; the seed is fixed), and the chi-square statistic of 24 windows, mean 24 and
        // standard deviation 6.9, below 24 + 4 x 6.9 = 52.
        let mut chi2 = 0.0;
        for (k, n) in counts.iter().enumerate() {
            let h = k as f64;
            let expected = 60.0 * (rate_at_hour(h) + rate_at_hour(h + 1.0)) / 2.0;
            let d = *n as f64 - expected;
            assert!(
                d.abs() < 4.0 * expected.sqrt(),
                "minute {k} (profile hour {k}): {n} arrivals, expected {expected:.0}"
            );
            chi2 += d * d / expected;
        }
        let total: u64 = counts.iter().sum();
        // The whole day: 60 s x the profile's area in rate-hours (45 + 52.5 + 172.5 + 190 + 185
        // + 185 + 240 + 142.5 + 82.5 = 1295) = 77,700.
        let day: f64 = (0..24)
            .map(|k| 60.0 * (rate_at_hour(k as f64) + rate_at_hour(k as f64 + 1.0)) / 2.0)
            .sum();
        assert!((day - 77_700.0).abs() < 1e-6, "{day}");
        eprintln!(
            "compressed day: {total} arrivals vs {day:.0} expected, chi2 {chi2:.1} (24 windows)"
        );
        assert!(chi2 < 52.0, "chi2 {chi2}");
        // Uncompressed, the same 24 min would see only the first 0.4 h of the profile (~480).
        assert!(total > 70_000);
    }

    #[test]
    fn shard_parses() {
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        assert!(Shard::parse("4/4").is_err());
        assert!(Shard::parse("x").is_err());
    }
}
