//! A demand's distribution fitted to a sample: lognormal and gamma by maximum likelihood,
//! each judged by its Kolmogorov-Smirnov distance to the sample, the better one kept when it
//! fits and the sample itself (empirical) when neither does. Samples are weighted (value,
//! count) pairs so an HDR histogram's buckets are a sample without expanding them.

use crate::special::{digamma, gamma_p, normal_cdf, trigamma};

/// Observations in seconds, each with how many times it was seen; sorted, positive.
#[derive(Clone, Debug, Default)]
pub struct Sample {
    points: Vec<(f64, u64)>,
    n: u64,
}

impl Sample {
    /// Sorts and keeps the positive, finite values (a zero latency has no logarithm: it is
    /// a measurement floor, not a demand).
    pub fn new(mut points: Vec<(f64, u64)>) -> Sample {
        points.retain(|&(v, c)| v.is_finite() && v > 0.0 && c > 0);
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let n = points.iter().map(|p| p.1).sum();
        Sample { points, n }
    }

    pub fn from_values(values: &[f64]) -> Sample {
        Sample::new(values.iter().map(|&v| (v, 1)).collect())
    }

    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn points(&self) -> &[(f64, u64)] {
        &self.points
    }

    pub fn mean(&self) -> f64 {
        self.points.iter().map(|&(v, c)| v * c as f64).sum::<f64>() / self.n as f64
    }

    /// Every value shifted by `-d` (what the client and network add), floored at `floor`.
    pub fn shifted(&self, d: f64, floor: f64) -> Sample {
        Sample::new(
            self.points
                .iter()
                .map(|&(v, c)| ((v - d).max(floor), c))
                .collect(),
        )
    }

    /// Every value multiplied by `k`.
    pub fn scaled(&self, k: f64) -> Sample {
        Sample::new(self.points.iter().map(|&(v, c)| (v * k, c)).collect())
    }

    /// The `q` quantile (nearest rank).
    pub fn quantile(&self, q: f64) -> f64 {
        let rank = ((q * self.n as f64).ceil() as u64).clamp(1, self.n.max(1));
        let mut seen = 0;
        for &(v, c) in &self.points {
            seen += c;
            if seen >= rank {
                return v;
            }
        }
        self.points.last().map_or(0.0, |p| p.0)
    }

    /// Adds another sample's points (two steps of one service pooled).
    pub fn merge(&mut self, other: &Sample) {
        let mut points = std::mem::take(&mut self.points);
        points.extend_from_slice(&other.points);
        *self = Sample::new(points);
    }

    /// The Kolmogorov-Smirnov distance sup |F_n - F| to a continuous CDF, checked on both
    /// sides of every step of the empirical CDF.
    pub fn ks_distance(&self, cdf: impl Fn(f64) -> f64) -> f64 {
        let n = self.n as f64;
        let mut below = 0u64;
        let mut d: f64 = 0.0;
        for &(v, c) in &self.points {
            let f = cdf(v);
            d = d.max((f - below as f64 / n).abs());
            below += c;
            d = d.max((below as f64 / n - f).abs());
        }
        d
    }
}

/// A fitted parametric law, in the scenario's terms (mean and coefficient of variation, in
/// seconds), with the standard errors of those two from the estimator's Fisher information.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Law {
    pub family: Family,
    pub mean: f64,
    pub cv: f64,
    pub mean_se: f64,
    pub cv_se: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    Lognormal,
    Gamma,
}

impl Family {
    pub fn key(self) -> &'static str {
        match self {
            Family::Lognormal => "lognormal",
            Family::Gamma => "gamma",
        }
    }
}

impl Law {
    pub fn cdf(&self, x: f64) -> f64 {
        match self.family {
            Family::Lognormal => {
                let s2 = (1.0 + self.cv * self.cv).ln();
                let mu = self.mean.ln() - s2 / 2.0;
                if x <= 0.0 {
                    0.0
                } else {
                    normal_cdf((x.ln() - mu) / s2.sqrt())
                }
            }
            Family::Gamma => {
                let k = 1.0 / (self.cv * self.cv);
                gamma_p(k, x * k / self.mean)
            }
        }
    }

    /// The same shape with another mean (a demand split in proportion).
    pub fn with_mean(self, mean: f64) -> Law {
        let k = mean / self.mean;
        Law {
            mean,
            mean_se: self.mean_se * k,
            ..self
        }
    }
}

/// Lognormal by maximum likelihood: μ and σ² are the mean and (1/n) variance of ln x.
pub fn lognormal(s: &Sample) -> Law {
    let n = s.len() as f64;
    let mu = s
        .points()
        .iter()
        .map(|&(v, c)| v.ln() * c as f64)
        .sum::<f64>()
        / n;
    let s2 = s
        .points()
        .iter()
        .map(|&(v, c)| (v.ln() - mu).powi(2) * c as f64)
        .sum::<f64>()
        / n;
    let mean = (mu + s2 / 2.0).exp();
    let cv = (s2.exp() - 1.0).sqrt();
    // Delta method: Var(μ̂) = σ²/n, Var(σ̂²) = 2σ⁴/n, independent.
    // mean = exp(μ + σ²/2): ∂/∂μ = mean, ∂/∂σ² = mean/2.
    let mean_se = mean * (s2 / n + s2 * s2 / (2.0 * n)).sqrt();
    // cv = sqrt(e^{σ²} - 1): ∂/∂σ² = e^{σ²} / (2 cv).
    let cv_se = if cv > 0.0 {
        s2.exp() / (2.0 * cv) * (2.0 * s2 * s2 / n).sqrt()
    } else {
        0.0
    };
    Law {
        family: Family::Lognormal,
        mean,
        cv,
        mean_se,
        cv_se,
    }
}

/// Gamma by maximum likelihood: the shape k solves ln k - ψ(k) = ln x̄ - mean(ln x)
/// (Minka's start, then Newton), the mean is x̄.
pub fn gamma(s: &Sample) -> Law {
    let n = s.len() as f64;
    let mean = s.mean();
    let mean_ln = s
        .points()
        .iter()
        .map(|&(v, c)| v.ln() * c as f64)
        .sum::<f64>()
        / n;
    let d = (mean.ln() - mean_ln).max(1e-12);
    let mut k = (3.0 - d + ((d - 3.0).powi(2) + 24.0 * d).sqrt()) / (12.0 * d);
    for _ in 0..50 {
        let step = (k.ln() - digamma(k) - d) / (1.0 / k - trigamma(k));
        let next = (k - step).max(k / 10.0);
        if (next - k).abs() < 1e-12 * k {
            k = next;
            break;
        }
        k = next;
    }
    // Fisher information of (k, θ) per observation: [[ψ'(k), 1/θ], [1/θ, k/θ²]]; the MLE of
    // the mean kθ is x̄, whose variance is kθ²/n exactly. Var(k̂) = k / (n (k ψ'(k) - 1)).
    let theta = mean / k;
    let var_k = k / (n * (k * trigamma(k) - 1.0));
    let cv = 1.0 / k.sqrt();
    Law {
        family: Family::Gamma,
        mean,
        cv,
        mean_se: (k * theta * theta / n).sqrt(),
        cv_se: 0.5 * k.powf(-1.5) * var_k.sqrt(),
    }
}

/// What a sample was fitted with.
#[derive(Clone, Debug)]
pub struct Fit {
    /// The law kept, or None when neither family fits (the sample is used as it is).
    pub law: Option<Law>,
    /// The KS distance of each family tried, lognormal then gamma.
    pub ks: [(Family, f64); 2],
    pub n: u64,
    pub mean: f64,
}

impl Fit {
    /// The KS distance of the law kept (or the best tried, when neither fits).
    pub fn ks_kept(&self) -> f64 {
        match self.law {
            Some(l) => self
                .ks
                .iter()
                .find(|k| k.0 == l.family)
                .map_or(1.0, |k| k.1),
            None => self.ks[0].1.min(self.ks[1].1),
        }
    }
}

/// A family fits when the KS distance is below the 5 % critical value for the sample's size
/// (1.36/√n: indistinguishable from the law) or below [`CLOSE_ENOUGH`] (the law's quantiles
/// are at most that many percentiles off the sample's; with 10⁵ samples and histogram
/// buckets, every law is "distinguishable", and 2 percentiles is what a p95 can tolerate).
pub const CLOSE_ENOUGH: f64 = 0.02;

/// Fits both families and keeps the one with the smaller KS distance, if it fits.
pub fn fit(s: &Sample) -> Fit {
    let ln = lognormal(s);
    let ga = gamma(s);
    let d_ln = s.ks_distance(|x| ln.cdf(x));
    let d_ga = s.ks_distance(|x| ga.cdf(x));
    let critical = (1.36 / (s.len() as f64).sqrt()).max(CLOSE_ENOUGH);
    let (best, d) = if d_ln <= d_ga { (ln, d_ln) } else { (ga, d_ga) };
    Fit {
        law: (d <= critical).then_some(best),
        ks: [(Family::Lognormal, d_ln), (Family::Gamma, d_ga)],
        n: s.len(),
        mean: s.mean(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::distribution::Distribution;
    use models::random::RandomStream;
    use models::units::Duration;

    fn draw(d: &Distribution, n: usize, seed: u64) -> Sample {
        let s = d.sampler();
        let mut rng = RandomStream::from_seed(seed);
        Sample::from_values(&(0..n).map(|_| s.sample(&mut rng)).collect::<Vec<_>>())
    }

    fn ms(x: f64) -> Duration {
        Duration::from_secs_f64(x / 1000.0)
    }

    /// Within 3.5 standard errors (two-sided 0.05 % per check: with a few dozen checks over
    /// fixed seeds, a false alarm is not expected, a biased estimator is caught).
    fn within(got: f64, want: f64, se: f64, what: &str) {
        assert!(
            (got - want).abs() <= 3.5 * se,
            "{what}: got {got}, want {want}, se {se}"
        );
    }

    #[test]
    fn parameters_are_recovered_within_their_standard_error() {
        let cases = [
            (Family::Lognormal, 1, 20.0, 0.5),
            (Family::Lognormal, 2, 3.0, 1.5),
            (Family::Lognormal, 3, 150.0, 0.2),
            (Family::Gamma, 4, 20.0, 0.5),
            (Family::Gamma, 5, 8.0, 1.0),
            (Family::Gamma, 6, 90.0, 0.3),
        ];
        for (family, seed, mean, cv) in cases {
            let d = match family {
                Family::Lognormal => Distribution::Lognormal { mean: ms(mean), cv },
                Family::Gamma => Distribution::Gamma { mean: ms(mean), cv },
            };
            let f = fit(&draw(&d, 20_000, seed));
            let law = f.law.expect("a sample of a family fits it");
            assert_eq!(law.family, family, "seed {seed}: {:?}", f.ks);
            within(law.mean, mean / 1000.0, law.mean_se, "mean");
            within(law.cv, cv, law.cv_se, "cv");
        }
    }

    #[test]
    fn the_standard_errors_match_the_spread_over_replications() {
        // 200 replications of n = 500: the sample sd of the estimates should match the
        // reported se within the sd's own sampling error (~5 % at 200 replications: 20 %).
        let d = Distribution::Gamma {
            mean: ms(10.0),
            cv: 0.7,
        };
        let fits: Vec<Law> = (0..200).map(|i| gamma(&draw(&d, 500, 100 + i))).collect();
        let m = fits.iter().map(|l| l.cv).sum::<f64>() / 200.0;
        let sd = (fits.iter().map(|l| (l.cv - m).powi(2)).sum::<f64>() / 199.0).sqrt();
        let se = fits.iter().map(|l| l.cv_se).sum::<f64>() / 200.0;
        assert!((sd / se - 1.0).abs() < 0.2, "sd {sd} vs se {se}");
    }

    #[test]
    fn neither_family_fits_a_bimodal_sample() {
        // Half at ~2 ms, half at ~40 ms (a cache hit or miss): an empirical law.
        let mut a = draw(
            &Distribution::Gamma {
                mean: ms(2.0),
                cv: 0.1,
            },
            5000,
            7,
        );
        a.merge(&draw(
            &Distribution::Gamma {
                mean: ms(40.0),
                cv: 0.1,
            },
            5000,
            8,
        ));
        let f = fit(&a);
        assert!(f.law.is_none(), "{:?}", f);
        // The best family misses by far more than the bound: half the mass is misplaced.
        assert!(f.ks_kept() > 0.1, "{:?}", f.ks);
    }

    #[test]
    fn ks_distance_of_a_known_step() {
        // One point at 1.0 against the uniform CDF on [0, 2]: F(1) = 0.5, F_n jumps 0 -> 1.
        let s = Sample::from_values(&[1.0]);
        assert!((s.ks_distance(|x| (x / 2.0).clamp(0.0, 1.0)) - 0.5).abs() < 1e-12);
        // Quantiles by nearest rank.
        let s = Sample::from_values(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.quantile(0.5), 2.0);
        assert_eq!(s.quantile(0.95), 4.0);
    }
}
