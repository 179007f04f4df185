//! The special functions the fits need: log-gamma, the regularised lower incomplete gamma
//! (the gamma law's CDF), the complementary error function (the lognormal's CDF), digamma
//! and trigamma (the gamma MLE's Newton steps). Numerical Recipes' forms, accurate to ~1e-10
//! (erfc to 1.2e-7, `models::canary_stats`'s), far finer than any KS distance we report.

/// ln Γ(x) for x > 0: the log of `models`' Lanczos Γ where Γ is finite, Stirling's series
/// (error below 1e-13 there) above, where a gamma law's shape 1/cv² can reach.
pub fn ln_gamma(x: f64) -> f64 {
    if x < 100.0 {
        return models::distribution::gamma_fn(x).ln();
    }
    let inv = 1.0 / x;
    (x - 0.5) * x.ln() - x
        + 0.5 * (2.0 * std::f64::consts::PI).ln()
        + inv * (1.0 / 12.0 - inv * inv * (1.0 / 360.0 - inv * inv / 1260.0))
}

/// P(a, x) = γ(a, x) / Γ(a): the CDF at `x` of a gamma law of shape `a` and scale 1.
pub fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let gln = ln_gamma(a);
    if x < a + 1.0 {
        // Series: converges fast below the mode.
        let (mut ap, mut sum) = (a, 1.0 / a);
        let mut del = sum;
        for _ in 0..1000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (sum.ln() - x + a * x.ln() - gln).exp().min(1.0)
    } else {
        // Continued fraction (modified Lentz) for Q = 1 - P above it.
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        let q = (-x + a * x.ln() - gln).exp() * h;
        (1.0 - q).clamp(0.0, 1.0)
    }
}

/// The standard normal CDF: the one `models::canary_stats` computes through erfc.
pub use models::canary_stats::normal_cdf;

/// ψ(x), the digamma function, for x > 0 (recurrence up to 10, then the asymptotic series).
pub fn digamma(mut x: f64) -> f64 {
    let mut r = 0.0;
    while x < 10.0 {
        r -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    r + x.ln()
        - 0.5 / x
        - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))))
}

/// ψ'(x), the trigamma function, for x > 0.
pub fn trigamma(mut x: f64) -> f64 {
    let mut r = 0.0;
    while x < 10.0 {
        r += 1.0 / (x * x);
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    r + 1.0 / x + f / 2.0 + f / x * (1.0 / 6.0 - f * (1.0 / 30.0 - f * (1.0 / 42.0 - f / 30.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn against_tabulated_values() {
        // Γ(5) = 24, Γ(1/2) = √π (Abramowitz & Stegun 6.1).
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
        // Both sides of the switch to Stirling agree with ln((n-1)!) summed exactly.
        let ln_fact = |n: u32| (1..n).map(|k| f64::from(k).ln()).sum::<f64>();
        assert!((ln_gamma(99.0) - ln_fact(99)).abs() < 1e-9);
        assert!((ln_gamma(150.0) - ln_fact(150)).abs() < 1e-9);
        // P(1, x) = 1 - e^-x (the exponential law); P(3, 2) = 1 - 5e^-2 (Erlang-3).
        assert!((gamma_p(1.0, 0.7) - (1.0 - (-0.7f64).exp())).abs() < 1e-12);
        assert!((gamma_p(3.0, 2.0) - (1.0 - 5.0 * (-2.0f64).exp())).abs() < 1e-12);
        assert!((gamma_p(3.0, 9.0) - (1.0 - 50.5 * (-9.0f64).exp())).abs() < 1e-12);
        // Φ(1.959964) = 0.975.
        assert!((normal_cdf(1.959_964) - 0.975).abs() < 1e-6);
        // ψ(1) = -γ (Euler-Mascheroni), ψ'(1) = π²/6.
        assert!((digamma(1.0) + 0.577_215_664_901_532_9).abs() < 1e-10);
        assert!((trigamma(1.0) - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-10);
    }
}
