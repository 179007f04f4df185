//! How a number reads to a person: latencies, counts, fractions, and an SLO's observed value and
//! bound in the unit of its metric (milliseconds, percent, seconds, dollars).

use models::slo::{Comparison, Slo, SloMetric};

/// A dash for what was not measured (NaN, infinite).
pub(crate) const MISSING: &str = "–";

/// Milliseconds with about three significant digits: `0.412`, `12.3`, `212`, `4 210`.
pub(crate) fn ms(v: f64) -> String {
    decimal(v)
}

/// A plain decimal with about three significant digits, thousands grouped.
pub(crate) fn decimal(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_string();
    }
    let a = v.abs();
    if a == 0.0 {
        "0".to_string()
    } else if a >= 100.0 {
        group_thousands(&format!("{v:.0}"))
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.001 {
        format!("{v:.3}")
    } else {
        format!("{v:.2e}")
    }
}

/// A count with thousands grouped by a thin space: `1 234 567`.
pub(crate) fn count(n: u64) -> String {
    group_thousands(&n.to_string())
}

/// A fraction as a percentage with two significant digits for small ones and enough digits
/// near 100 % to tell the nines apart: `0.0005` → `0.050 %`, `0.9999` → `99.99 %`.
pub(crate) fn percent(fraction: f64) -> String {
    if !fraction.is_finite() {
        return MISSING.to_string();
    }
    let p = fraction * 100.0;
    let a = p.abs();
    if a == 0.0 {
        return "0 %".to_string();
    }
    let digits = if (99.0..100.0).contains(&a) {
        // The small tolerance keeps 99.9 (which is 99.90000000000001 in binary) at one digit.
        ((-(100.0 - a).log10() - 1e-9).ceil() as usize).clamp(1, 6)
    } else if a >= 1.0 {
        1
    } else {
        ((-a.log10() - 1e-9).ceil() as usize + 1).min(8)
    };
    format!("{p:.digits$} %")
}

/// US dollars with cents.
pub(crate) fn usd(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_string();
    }
    let whole = format!("{:.2}", v.abs());
    let (int, cents) = whole.split_once('.').unwrap_or((&whole, "00"));
    let sign = if v < 0.0 { "-" } else { "" };
    format!("{sign}${}.{cents}", group_digits(int, ',', 4))
}

/// Seconds, with minutes or hours beside long ones: `3600 s (1.0 h)`.
pub(crate) fn seconds(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_string();
    }
    let base = format!("{} s", decimal(v));
    if v >= 3600.0 {
        format!("{base} ({:.1} h)", v / 3600.0)
    } else if v >= 120.0 {
        format!("{base} ({:.1} min)", v / 60.0)
    } else {
        base
    }
}

/// An SLO's value in the unit of its metric, read from the SLO's own text
/// (`p95(x) < 300ms` → milliseconds); a plain decimal if the text does not parse.
pub(crate) fn slo_value(slo_text: &str, v: f64) -> String {
    match Slo::parse(slo_text).map(|s| s.metric) {
        Ok(
            SloMetric::Percentile(_)
            | SloMetric::Mean
            | SloMetric::Max
            | SloMetric::Ttft(_)
            | SloMetric::Itl(_),
        ) => format!("{} ms", ms(v)),
        Ok(SloMetric::ErrorRate | SloMetric::Availability) => percent(v),
        Ok(SloMetric::Rto | SloMetric::Rpo) => seconds(v),
        Ok(SloMetric::MonthlyCost) => usd(v),
        Err(_) => decimal(v),
    }
}

/// The bound with its comparison: `< 300 ms`, `≥ 99.9 %`.
pub(crate) fn slo_bound(slo_text: &str, bound: f64) -> String {
    let op = match Slo::parse(slo_text).map(|s| s.comparison) {
        Ok(Comparison::Below) => "< ",
        Ok(Comparison::AtMost) => "≤ ",
        Ok(Comparison::Above) => "> ",
        Ok(Comparison::AtLeast) => "≥ ",
        Err(_) => "",
    };
    format!("{op}{}", slo_value(slo_text, bound))
}

/// Groups the digits of an integer (with optional sign) in threes with thin spaces, from five
/// digits on (`4210` stays whole, as typographers do).
fn group_thousands(int: &str) -> String {
    group_digits(int, '\u{2009}', 5)
}

/// Groups the digits of an integer in threes with `separator` once it has `from` digits.
fn group_digits(int: &str, separator: char, from: usize) -> String {
    let (sign, digits) = match int.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", int),
    };
    if digits.len() < from {
        return int.to_string();
    }
    let mut out = String::with_capacity(int.len() + digits.len() / 3 * 3);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(ms(212.04), "212");
        assert_eq!(ms(12.34), "12.3");
        assert_eq!(ms(f64::NAN), MISSING);
        assert_eq!(count(1234567), "1\u{2009}234\u{2009}567");
        assert_eq!(count(1234), "1234");
        assert_eq!(percent(0.001), "0.10 %");
        assert_eq!(percent(0.0005), "0.050 %");
        assert_eq!(percent(0.9999), "99.99 %");
        assert_eq!(percent(0.62), "62.0 %");
        assert_eq!(percent(0.0), "0 %");
        assert_eq!(usd(4300.5), "$4,300.50");
        assert_eq!(slo_value("p95(call) < 300ms", 212.0), "212 ms");
        assert_eq!(slo_bound("error_rate(call) < 0.1%", 0.001), "< 0.10 %");
        assert_eq!(slo_bound("availability >= 99.9%", 0.999), "≥ 99.9 %");
        assert_eq!(slo_bound("monthly_cost < $9600", 9600.0), "< $9,600.00");
        assert_eq!(seconds(3600.0), "3600 s (1.0 h)");
    }
}
