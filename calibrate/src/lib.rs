//! Calibration: fits a scenario's demands to measurements of the real system (`twin
//! calibrate`). `fit` fits a sample (lognormal, gamma, or the sample itself, judged by the KS
//! distance), `trace` reads OTLP, Jaeger and Zipkin JSON into spans, `graph` finds the call
//! graph and each service's own time in them, `demand` decides which sample fits which
//! demand (and writes the traces' synchronous calls into steps that declare none) and refuses samples too small or taken under queueing, `edit` writes the fitted
//! values into the scenario's text in place. Pure: the binary reads the files and hands in
//! their contents; this crate does no I/O.

pub mod demand;
pub mod edit;
pub mod fit;
pub mod graph;
pub mod special;
pub mod trace;

pub use demand::{calibrate, Calibration, Fitted, Refusal, Run, StepRun, Value};

/// A law as the scenario writes it: `{gamma: {mean: 12.345ms, cv: 0.5}}`.
pub fn law_yaml(l: &fit::Law) -> String {
    format!(
        "{{{}: {{mean: {}, cv: {:.3}}}}}",
        l.family.key(),
        duration_text(l.mean),
        l.cv
    )
}

/// No time at all, as the scenario writes it ([`Value::Zero`]).
pub const ZERO_YAML: &str = "{constant: 0s}";

/// A step's calls as the scenario writes them: `[{service: db}, {service: db, probability: 0.4}]`.
pub fn calls_yaml(calls: &[(String, f64)]) -> String {
    let each: Vec<String> = calls
        .iter()
        .map(|(service, p)| {
            if *p >= 1.0 {
                format!("{{service: {service}}}")
            } else {
                format!("{{service: {service}, probability: {p}}}")
            }
        })
        .collect();
    format!("[{}]", each.join(", "))
}

/// Seconds as a duration with a unit and 4 significant digits (`12.35ms`, `850.2us`).
pub fn duration_text(s: f64) -> String {
    let (v, unit) = if s >= 1.0 {
        (s, "s")
    } else if s >= 1e-3 {
        (s * 1e3, "ms")
    } else {
        (s * 1e6, "us")
    };
    let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 6) as usize;
    format!("{v:.digits$}{unit}")
}
