//! Confidence intervals across replications (Student's t).

/// Two-sided 95 % quantile of Student's t with `df` degrees of freedom.
pub fn t95(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

/// The 95 % confidence interval of the mean of `xs`; a single value gives `[x, x]`.
pub fn ci95(xs: &[f64]) -> [f64; 2] {
    let n = xs.len();
    if n == 0 {
        return [0.0, 0.0];
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return [mean, mean];
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
    let half = t95(n - 1) * (var / n as f64).sqrt();
    [mean - half, mean + half]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ci_of_known_sample() {
        // mean 3, sd sqrt(2.5), n 5: half = 2.776 * sqrt(2.5/5).
        let [lo, hi] = ci95(&[1.0, 2.0, 3.0, 4.0, 5.0]);
        let half = 2.776 * (0.5f64).sqrt();
        assert!((lo - (3.0 - half)).abs() < 1e-12 && (hi - (3.0 + half)).abs() < 1e-12);
        assert_eq!(ci95(&[4.0]), [4.0, 4.0]);
    }
}
