//! Progress on a terminal (indicatif): a bar polled from an atomic counter that the work
//! advances (simulated nanoseconds, sweep points), redrawn a few times a second by a thread of
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
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(8));
    let template = match unit {
        Unit::SimulatedNs => "{prefix} [{bar:30}] {percent:>3}% {msg} (eta {eta})",
        Unit::Items(_) => "{prefix} [{bar:30}] {pos}/{len} {msg} (eta {eta})",
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(label.to_string());
    // Drawn once at the start, however short the work turns out.
    bar.set_message(String::new());
    bar.tick();
    let done = AtomicBool::new(false);
    let out = std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
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
