//! Confidence intervals across replications (Student's t).

/// Two-sided 95 % quantile of Student's t with `df` degrees of freedom: the table for 1-30,
/// beyond it the Cornish-Fisher expansion of t about the normal quantile (four terms in 1/df,
/// accurate to 1e-6 from df 30 on), so that every df has its own value.
pub fn t95(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => {
            // z = the normal 0.975 quantile.
            let z: f64 = 1.959_963_984_540_054;
            let v = df as f64;
            let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
            z + (z3 + z) / (4.0 * v)
                + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
                + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v.powi(3))
                + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z)
                    / (92160.0 * v.powi(4))
        }
    }
}

/// The 95 % confidence interval of the mean of `xs`; `None` for fewer than two values (one
/// replication has no interval, and `[x, x]` would claim a certainty it does not have).
pub fn ci95(xs: &[f64]) -> Option<[f64; 2]> {
    let n = xs.len();
    if n < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    let half = t95(n - 1) * (var / n as f64).sqrt();
    Some([mean - half, mean + half])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_of_known_sample() {
        // mean 3, sd sqrt(2.5), n 5: half = 2.776 * sqrt(2.5/5).
        let [lo, hi] = ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        let half = 2.776 * (0.5f64).sqrt();
        assert!((lo - (3.0 - half)).abs() < 1e-12 && (hi - (3.0 + half)).abs() < 1e-12);
        assert_eq!(ci95(&[4.0]), None);
        assert_eq!(ci95(&[]), None);
    }

    #[test]
    fn t_quantiles_beyond_the_table() {
        // Reference values of qt(0.975, df) (R): every df gets its own, not the next
        // tabulated one's.
        for (df, want) in [
            (30, 2.042_272),
            (31, 2.039_513),
            (35, 2.030_108),
            (40, 2.021_075),
            (61, 1.999_624),
            (100, 1.983_972),
            (120, 1.979_930),
            (1000, 1.962_339),
        ] {
            let got = t95(df);
            assert!((got - want).abs() < 1e-3, "df {df}: {got} vs {want}");
        }
        assert!(t95(31) > t95(35) && t95(35) > t95(40) && t95(61) > t95(120));
    }
}
