//! Progress on a terminal (indicatif): a bar polled from an atomic counter that the work
//! advances (simulated nanoseconds, sweep points; for `twin load` and `twin drill` the run time
//! elapsed of the duration, with requests and errors so far), redrawn a few times a second by a thread of
//! its own so that the work's hot path only adds to a counter. Nothing is drawn when stdout or
//! stderr is not a terminal, or `CI` is set (SPEC.md: quiet in CI); the caller prints its
//! one-line summary either way.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Whether a bar is drawn: both streams are terminals and `CI` is unset (or empty).
pub fn enabled() -> bool {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    !ci && std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

/// What the counter counts, for the bar's text.
#[derive(Clone, Copy)]
pub enum Unit {
    /// Simulated nanoseconds, shown as simulated seconds.
    SimulatedNs,
    /// Plain items (sweep points, requests).
    Items(&'static str),
}

/// A bar of `total` steps drawn on stderr with `template`, drawn once at the start however
/// short the work turns out.
fn new_bar(label: &str, total: u64, template: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(8));
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_string());
    bar.set_message(String::new());
    bar.tick();
    bar
}

/// Runs `work` while a bar (when [`enabled`]) follows `counter` up to `total`.
pub fn follow<T>(
    label: &str,
    total: u64,
    unit: Unit,
    counter: &Arc<AtomicU64>,
    work: impl FnOnce() -> T,
) -> T {
    if !enabled() || total == 0 {
        return work();
    }
    let template = match unit {
        Unit::SimulatedNs => "{prefix} [{bar:30}] {percent:>3}% {msg} (eta {eta})",
        Unit::Items(_) => "{prefix} [{bar:30}] {pos}/{len} {msg} (eta {eta})",
    };
    let bar = new_bar(label, total, template);
    while_redrawing(&bar, work, |bar| {
        let n = counter.load(Ordering::Relaxed).min(total);
        bar.set_position(n);
        bar.set_message(match unit {
            Unit::SimulatedNs => format!(
                "{:.0} of {:.0} s simulated",
                n as f64 / 1e9,
                total as f64 / 1e9
            ),
            Unit::Items(what) => what.to_string(),
        });
    })
}

/// Runs `work` while a thread calls `redraw` on `bar` every 100 ms; clears the bar after.
fn while_redrawing<T>(
    bar: &ProgressBar,
    work: impl FnOnce() -> T,
    redraw: impl Fn(&ProgressBar) + Sync,
) -> T {
    let done = AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                redraw(bar);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let out = work();
        done.store(true, Ordering::Relaxed);
        out
    });
    bar.finish_and_clear();
    out
}

/// Runs a load or a drill (`work`) while a bar (when [`enabled`]) shows the run time of
/// `duration` elapsed and the requests and errors so far from `counts`; then prints the run's
/// one-line summary on stderr either way.
pub fn follow_run<T>(
    label: &str,
    duration: Duration,
    counts: &Arc<harness::measure::Progress>,
    work: impl FnOnce() -> T,
) -> T {
    let total = u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .max(1);
    let out = if enabled() {
        let bar = new_bar(label, total, "{prefix} [{bar:30}] {percent:>3}% {msg}");
        while_redrawing(&bar, work, |bar| {
            let ran = counts.elapsed();
            bar.set_position(u64::try_from(ran.as_millis()).unwrap_or(total).min(total));
            bar.set_message(line(ran, duration, counts));
        })
    } else {
        work()
    };
    eprintln!(
        "{label}: {}",
        line(counts.elapsed().min(duration), duration, counts)
    );
    out
}

/// `12.0 of 60 s, 2400 requests, 3 errors`.
fn line(ran: Duration, duration: Duration, counts: &harness::measure::Progress) -> String {
    format!(
        "{:.1} of {:.0} s, {} requests, {} errors",
        ran.as_secs_f64(),
        duration.as_secs_f64(),
        counts.requests.load(Ordering::Relaxed),
        counts.errors.load(Ordering::Relaxed)
    )
}
