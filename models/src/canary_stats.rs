//! The statistics of a Kayenta-style canary judgement: is the canary worse than the baseline
//! with confidence? Mann-Whitney U (rank-sum, ties averaged, normal approximation with tie
//! correction and continuity correction) for latency, and the pooled two-proportion z test for
//! error rates; both one-sided ("the canary is worse"), as Kayenta's judge asks. Pure functions
//! over samples, tested against textbook values.

/// The standard normal distribution function, through `erfc` (W. J. Cody's rational
/// approximations as in Numerical Recipes' `erfcc`: relative error below 1.2e-7 everywhere).
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// The outcome of a one-sided test: the statistic and the p-value of "the canary is worse".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneSided {
    /// U of the canary (Mann-Whitney) or z (two proportions).
    pub statistic: f64,
    pub z: f64,
    pub p_value: f64,
}

/// Mann-Whitney U of `canary` against `baseline`: U counts the pairs in which the canary's value
/// is the larger (ties count one half); a large U means a slower canary. `p_value` is the
/// one-sided probability of a U at least this large if both came from one distribution (normal
/// approximation, tie-corrected variance, continuity correction of 1/2). None when either
/// sample is empty.
pub fn mann_whitney_greater(canary: &[f64], baseline: &[f64]) -> Option<OneSided> {
    let (n1, n2) = (canary.len(), baseline.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    // Rank the pooled sample: (value, from the canary).
    let mut pooled: Vec<(f64, bool)> = canary
        .iter()
        .map(|v| (*v, true))
        .chain(baseline.iter().map(|v| (*v, false)))
        .collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = pooled.len();
    let (mut rank_sum, mut tie_term) = (0.0, 0.0);
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && pooled[j].0 == pooled[i].0 {
            j += 1;
        }
        // Ranks i+1..=j share their mean.
        let mean_rank = (i + 1 + j) as f64 / 2.0;
        let in_canary = pooled[i..j].iter().filter(|p| p.1).count();
        rank_sum += mean_rank * in_canary as f64;
        let t = (j - i) as f64;
        tie_term += t * t * t - t;
        i = j;
    }
    let (n1f, n2f, nf) = (n1 as f64, n2 as f64, n as f64);
    let u = rank_sum - n1f * (n1f + 1.0) / 2.0;
    let mean = n1f * n2f / 2.0;
    let var = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)).max(1.0));
    let z = if var > 0.0 {
        (u - mean - 0.5) / var.sqrt()
    } else {
        0.0
    };
    Some(OneSided {
        statistic: u,
        z,
        p_value: 1.0 - normal_cdf(z),
    })
}

/// The pooled two-proportion z test of "the canary's error rate is higher": z = (p1 - p2) /
/// sqrt(p (1 - p) (1/n1 + 1/n2)) with p the pooled rate. None when either side had no
/// requests; z = 0 (p = 1/2) when neither had an error.
pub fn two_proportion_greater(
    canary_errors: u64,
    canary_n: u64,
    baseline_errors: u64,
    baseline_n: u64,
) -> Option<OneSided> {
    if canary_n == 0 || baseline_n == 0 {
        return None;
    }
    let (x1, n1, x2, n2) = (
        canary_errors as f64,
        canary_n as f64,
        baseline_errors as f64,
        baseline_n as f64,
    );
    let pooled = (x1 + x2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let diff = x1 / n1 - x2 / n2;
    let z = if se > 0.0 { diff / se } else { 0.0 };
    Some(OneSided {
        statistic: z,
        z,
        p_value: 1.0 - normal_cdf(z),
    })
}

/// The `q` quantile of `values` (sorted in place), by the nearest-rank method (the smallest
/// value with at least q of the sample at or below it). None when empty.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    let rank = ((q * values.len() as f64).ceil() as usize).clamp(1, values.len());
    Some(values[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RandomStream;

    #[test]
    fn the_normal_distribution_function_matches_its_table() {
        // Abramowitz & Stegun table 26.1.
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (1.644_853_627, 0.95),
            (1.959_963_985, 0.975),
            (2.326_347_874, 0.99),
            (-1.0, 0.158_655_254),
            (3.0, 0.998_650_102),
        ] {
            assert!(
                (normal_cdf(z) - p).abs() < 2e-7,
                "Phi({z}) = {}",
                normal_cdf(z)
            );
        }
    }

    #[test]
    fn u_counts_the_pairs_the_canary_wins() {
        // Mann & Whitney's definition by hand: canary {3, 5}, baseline {1, 4}: pairs (3,1),
        // (5,1), (5,4) won, (3,4) lost: U = 3 of n1 n2 = 4.
        let r = mann_whitney_greater(&[3.0, 5.0], &[1.0, 4.0]).unwrap();
        assert_eq!(r.statistic, 3.0);
        // A tie counts one half: canary {2}, baseline {2, 1}: U = 0.5 + 1.
        let r = mann_whitney_greater(&[2.0], &[2.0, 1.0]).unwrap();
        assert_eq!(r.statistic, 1.5);
    }

    #[test]
    fn the_textbook_example_gives_its_u_and_z() {
        // Siegel & Castellan's style example worked by hand: canary 7 values, baseline 8,
        // no ties. Canary ranks among the 15: 4, 8, 9, 11, 12, 14, 15 -> R1 = 73,
        // U = 73 - 7*8/2 = 45; mean 28, variance 7*8*16/12 = 74.667, z = (45 - 28 - 0.5) /
        // 8.641 = 1.9095, one-sided p = 0.0281.
        let canary = [4.0, 8.0, 9.0, 11.0, 12.0, 14.0, 15.0];
        let baseline = [1.0, 2.0, 3.0, 5.0, 6.0, 7.0, 10.0, 13.0];
        let r = mann_whitney_greater(&canary, &baseline).unwrap();
        assert_eq!(r.statistic, 45.0);
        assert!((r.z - 1.909_5).abs() < 1e-3, "z = {}", r.z);
        assert!((r.p_value - 0.028_1).abs() < 5e-4, "p = {}", r.p_value);
    }

    #[test]
    fn ties_shrink_the_variance_as_the_correction_says() {
        // All values equal: no evidence either way (variance 0, z 0, p 1/2).
        let r = mann_whitney_greater(&[1.0, 1.0], &[1.0, 1.0, 1.0]).unwrap();
        assert_eq!(r.statistic, 3.0);
        assert!((r.p_value - 0.5).abs() < 1e-7);
        // Canary {2, 2}, baseline {1, 2}: ranks 1, 3, 3, 3; R1 = 6, U = 3; one tie group of
        // 3: var = 2*2/12 * (5 - (27 - 3)/(4*3)) = 1/3 * 3 = 1; z = (3 - 2 - 0.5)/1 = 0.5.
        let r = mann_whitney_greater(&[2.0, 2.0], &[1.0, 2.0]).unwrap();
        assert_eq!(r.statistic, 3.0);
        assert!((r.z - 0.5).abs() < 1e-12, "z = {}", r.z);
    }

    #[test]
    fn two_proportions_give_the_textbook_z() {
        // By hand: 30/200 against 20/200: pooled 0.125, se = sqrt(0.125*0.875*0.01) =
        // 0.0330719, z = 0.05 / 0.0330719 = 1.5119, one-sided p = 0.0653.
        let r = two_proportion_greater(30, 200, 20, 200).unwrap();
        assert!((r.z - 1.511_9).abs() < 1e-4, "z = {}", r.z);
        assert!((r.p_value - 0.065_3).abs() < 5e-4, "p = {}", r.p_value);
        assert!((two_proportion_greater(0, 10, 0, 10).unwrap().p_value - 0.5).abs() < 1e-7);
        assert!(two_proportion_greater(1, 0, 0, 10).is_none());
    }

    #[test]
    fn quantile_is_nearest_rank() {
        let mut v: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.95), Some(19.0));
        assert_eq!(quantile(&mut v, 0.5), Some(10.0));
        assert_eq!(quantile(&mut [], 0.5), None);
    }

    /// Lognormal latencies with median `median` (sigma 0.5).
    fn latencies(rng: &mut RandomStream, n: usize, scale: f64) -> Vec<f64> {
        let s = crate::Sampler::Lognormal {
            mu: (0.1f64 * scale).ln(),
            sigma: 0.5,
        };
        (0..n).map(|_| s.sample(rng)).collect()
    }

    /// A canary at 10 % of 40 req/s for a 30 s interval: 120 requests beside 1,080 of the
    /// baseline. A 20 % slower canary is detected at 95 % confidence nearly always (power of
    /// the one-sided test at this size, by the normal approximation: a shift of ln 1.2 =
    /// 0.182 in the log is 0.182 / (0.5 sqrt(1/120 + 1/1080)) = 3.79 standard errors, 3.70
    /// after U's 0.955 asymptotic efficiency, so power = Phi(3.70 - 1.645) = 0.98); identical versions fire at the nominal 5 %: over 2,000 seeds, the count
    /// is within the binomial's 99.9 % band (100 +- 32).
    #[test]
    fn a_20_percent_regression_is_detected_and_identical_versions_fire_at_the_nominal_rate() {
        let (n_canary, n_base, alpha, seeds) = (120, 1080, 0.05, 2000u64);
        let (mut detected, mut false_alarms) = (0, 0);
        for seed in 0..seeds {
            let mut rng = RandomStream::derive(seed, 0, "canary-stats");
            let base = latencies(&mut rng, n_base, 1.0);
            let same = latencies(&mut rng, n_canary, 1.0);
            let slower = latencies(&mut rng, n_canary, 1.2);
            if mann_whitney_greater(&slower, &base).unwrap().p_value < alpha {
                detected += 1;
            }
            if mann_whitney_greater(&same, &base).unwrap().p_value < alpha {
                false_alarms += 1;
            }
        }
        let power = f64::from(detected) / seeds as f64;
        assert!(power > 0.95, "power {power}");
        let expected = alpha * seeds as f64;
        let sd = (expected * (1.0 - alpha)).sqrt();
        assert!(
            (f64::from(false_alarms) - expected).abs() < 3.29 * sd,
            "{false_alarms} false alarms of {seeds}, expected {expected} +- {:.0}",
            3.29 * sd
        );
    }

    /// Errors: identical 1 % error rates fire at most at the nominal rate (the discrete test is
    /// conservative at small counts), and 5 % against 1 % at the canary's size is detected.
    #[test]
    fn the_error_test_detects_a_bad_canary_and_holds_its_level() {
        let (n_canary, n_base, alpha, seeds) = (600u64, 5400u64, 0.05, 2000u64);
        let (mut detected, mut false_alarms) = (0u32, 0u32);
        let count = |rng: &mut RandomStream, n: u64, p: f64| {
            (0..n).filter(|_| rng.next_f64() < p).count() as u64
        };
        for seed in 0..seeds {
            let mut rng = RandomStream::derive(seed, 0, "canary-errors");
            let base = count(&mut rng, n_base, 0.01);
            let same = count(&mut rng, n_canary, 0.01);
            let bad = count(&mut rng, n_canary, 0.05);
            if two_proportion_greater(bad, n_canary, base, n_base)
                .unwrap()
                .p_value
                < alpha
            {
                detected += 1;
            }
            if two_proportion_greater(same, n_canary, base, n_base)
                .unwrap()
                .p_value
                < alpha
            {
                false_alarms += 1;
            }
        }
        assert!(
            f64::from(detected) / seeds as f64 > 0.99,
            "detected {detected}"
        );
        let expected = alpha * seeds as f64;
        let sd = (expected * (1.0 - alpha)).sqrt();
        assert!(
            f64::from(false_alarms) < expected + 3.29 * sd,
            "{false_alarms} false alarms of {seeds}"
        );
    }
}
