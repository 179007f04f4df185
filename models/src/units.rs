//! Durations, rates and percentages as scenario files write them (`250ms`, `90/s`, `0.1%`).
//!
//! Durations are integer nanoseconds so that simulated time is exact and totally ordered; rates
//! are events per second as `f64`.

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A span of time in integer nanoseconds, written with a unit: `250ms`, `30s`, `15m`, `2h`, `7d`
/// (also `us`/`µs`/`ns`, and decimals such as `1.5s`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub u64);

pub const NANOS_PER_SEC: u64 = 1_000_000_000;

impl Duration {
    pub const ZERO: Duration = Duration(0);

    pub fn from_secs_f64(s: f64) -> Duration {
        Duration((s * NANOS_PER_SEC as f64).round().max(0.0) as u64)
    }
    pub fn from_millis(ms: u64) -> Duration {
        Duration(ms * 1_000_000)
    }
    pub fn from_secs(s: u64) -> Duration {
        Duration(s * NANOS_PER_SEC)
    }
    pub fn as_nanos(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// Parses `250ms`, `1.5s`, `2h`. The unit is required: a bare number is ambiguous.
    pub fn parse(text: &str) -> Result<Duration, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| {
                format!("expected a duration with a unit (ns, us, ms, s, m, h, d), e.g. `250ms`, found `{t}`")
            })?;
        let (num, unit) = t.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("expected a duration such as `250ms` or `1.5s`, found `{t}`"))?;
        let scale = match unit.trim() {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" | "min" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            other => {
                return Err(format!(
                    "unknown duration unit `{other}` in `{t}`: expected ns, us, ms, s, m, h or d"
                ))
            }
        };
        let nanos = value * scale;
        if !nanos.is_finite() || nanos > u64::MAX as f64 / 2.0 {
            return Err(format!("duration `{t}` is out of range"));
        }
        Ok(Duration(nanos.round() as u64))
    }
}

impl fmt::Display for Duration {
    /// The shortest exact form: `300ms`, `2h`, `1.5s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (unit, scale) in [
            ("d", 86_400 * NANOS_PER_SEC),
            ("h", 3_600 * NANOS_PER_SEC),
            ("m", 60 * NANOS_PER_SEC),
            ("s", NANOS_PER_SEC),
            ("ms", 1_000_000),
            ("us", 1_000),
        ] {
            if n >= scale && n.is_multiple_of(scale) {
                return write!(f, "{}{}", n / scale, unit);
            }
        }
        if n >= NANOS_PER_SEC {
            return write!(f, "{}s", n as f64 / NANOS_PER_SEC as f64);
        }
        if n >= 1_000_000 {
            return write!(f, "{}ms", n as f64 / 1e6);
        }
        write!(f, "{n}ns")
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Duration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration with a unit, e.g. `250ms`, `30s`, `2h`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
                Duration::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
                if v == 0 {
                    Ok(Duration::ZERO)
                } else {
                    Err(E::custom(format!(
                        "expected a duration with a unit, e.g. `{v}ms` or `{v}s`, found the bare number {v}"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
                if v < 0 {
                    Err(E::custom(format!(
                        "a duration cannot be negative, found {v}"
                    )))
                } else {
                    self.visit_u64(v as u64)
                }
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Duration, E> {
                Err(E::custom(format!(
                    "expected a duration with a unit, e.g. `{v}s`, found the bare number {v}"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Events per second, written `90/s`, `3000/min`, `5/h` (`/m` is taken as per minute too).
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Rate(pub f64);

impl Rate {
    pub fn per_sec(self) -> f64 {
        self.0
    }
    pub fn parse(text: &str) -> Result<Rate, String> {
        let t = text.trim();
        let (num, unit) = t.split_once('/').ok_or_else(|| {
            format!("expected a rate such as `90/s`, `3000/min` or `5/h`, found `{t}`")
        })?;
        let value: f64 = num
            .trim()
            .parse()
            .map_err(|_| format!("expected a number before `/` in the rate `{t}`"))?;
        let per = match unit.trim() {
            "s" | "sec" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            other => {
                return Err(format!(
                    "unknown rate unit `/{other}` in `{t}`: expected /s, /min or /h"
                ))
            }
        };
        if !value.is_finite() || value < 0.0 {
            return Err(format!("a rate must be a non-negative number, found `{t}`"));
        }
        Ok(Rate(value / per))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.0)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Rate;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a rate such as `90/s`, `3000/min` or `5/h`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Rate, E> {
                Rate::parse(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A fraction written as a percentage (`0.1%`) or a plain fraction (`0.001`).
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
pub struct Fraction(pub f64);

impl Fraction {
    pub fn parse(text: &str) -> Result<Fraction, String> {
        let t = text.trim();
        let (num, scale) = match t.strip_suffix('%') {
            Some(n) => (n.trim(), 0.01),
            None => (t, 1.0),
        };
        let v: f64 = num
            .parse()
            .map_err(|_| format!("expected a percentage such as `0.1%`, found `{t}`"))?;
        if !(0.0..=1.0).contains(&(v * scale)) {
            return Err(format!("a fraction must lie in 0%..100%, found `{t}`"));
        }
        Ok(Fraction(v * scale))
    }
}

impl<'de> Deserialize<'de> for Fraction {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = Fraction;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage such as `95%` or a fraction such as 0.95")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Fraction, E> {
                Fraction::parse(v).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Fraction, E> {
                Fraction::parse(&v.to_string()).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Fraction, E> {
                Fraction::parse(&v.to_string()).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(Duration::parse("250ms").unwrap(), Duration(250_000_000));
        assert_eq!(Duration::parse("1.5s").unwrap(), Duration(1_500_000_000));
        assert_eq!(Duration::parse("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(Duration::parse("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(
            Duration::parse("7d").unwrap(),
            Duration::from_secs(7 * 86400)
        );
        assert_eq!(Duration::parse("10us").unwrap(), Duration(10_000));
        assert!(Duration::parse("250").is_err());
        assert!(Duration::parse("250 parsecs").is_err());
        assert!(Duration::parse("ms").is_err());
        assert!(Duration::parse("-5s").is_err());
    }

    #[test]
    fn durations_print_their_shortest_exact_form() {
        assert_eq!(Duration::parse("300ms").unwrap().to_string(), "300ms");
        assert_eq!(Duration::parse("120m").unwrap().to_string(), "2h");
        assert_eq!(Duration::parse("1.5s").unwrap().to_string(), "1500ms");
    }

    #[test]
    fn rates_parse_per_unit() {
        assert_eq!(Rate::parse("90/s").unwrap().per_sec(), 90.0);
        assert_eq!(Rate::parse("3000/min").unwrap().per_sec(), 50.0);
        assert_eq!(Rate::parse("7200/h").unwrap().per_sec(), 2.0);
        assert!(Rate::parse("90").is_err());
        assert!(Rate::parse("-1/s").is_err());
        assert!(Rate::parse("5/fortnight").is_err());
    }

    #[test]
    fn fractions_parse_percent_and_plain() {
        assert!((Fraction::parse("0.1%").unwrap().0 - 0.001).abs() < 1e-15);
        assert_eq!(Fraction::parse("0.5").unwrap().0, 0.5);
        assert!(Fraction::parse("150%").is_err());
    }
}
