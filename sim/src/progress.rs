//! How far a simulation has got, for a progress bar the caller polls: simulated nanoseconds
//! summed over replications, and replications finished. The engine reports at its timeline
//! ticks (a few hundred a replication), never per event; a replication's thread finds the
//! counter in a thread-local set by [`crate::simulate_with_progress`], so neither the engine's
//! signature nor its hot path changes, and a run without a counter pays one thread-local read a
//! tick.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Counters a caller shares with a running simulation.
#[derive(Debug, Default)]
pub struct Progress {
    /// Simulated nanoseconds, summed over replications (at most replications x horizon).
    pub simulated_ns: Arc<AtomicU64>,
    /// Replications finished.
    pub replications_done: AtomicU64,
}

thread_local! {
    /// The counter of the replication running on this thread, and how far it has reported.
    static CURRENT: RefCell<Option<(Arc<AtomicU64>, u64)>> = const { RefCell::new(None) };
}

/// Runs one replication on this thread with `progress` as its counter; at the end the
/// replication counts in full (the horizon), whatever its last tick reported.
pub(crate) fn replication<T>(
    progress: Option<&Progress>,
    horizon_ns: u64,
    run: impl FnOnce() -> T,
) -> T {
    let Some(p) = progress else { return run() };
    CURRENT.with(|c| *c.borrow_mut() = Some((p.simulated_ns.clone(), 0)));
    let out = run();
    let reported = CURRENT.with(|c| c.borrow_mut().take().map_or(0, |(_, r)| r));
    p.simulated_ns
        .fetch_add(horizon_ns.saturating_sub(reported), Ordering::Relaxed);
    p.replications_done.fetch_add(1, Ordering::Relaxed);
    out
}

/// The engine's timeline tick: this replication has simulated up to `now_ns`.
#[inline]
pub(crate) fn reached(now_ns: u64) {
    CURRENT.with(|c| {
        if let Some((counter, reported)) = c.borrow_mut().as_mut() {
            if now_ns > *reported {
                counter.fetch_add(now_ns - *reported, Ordering::Relaxed);
                *reported = now_ns;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_add_up_to_the_horizon_per_replication() {
        let p = Progress::default();
        for _ in 0..3 {
            replication(Some(&p), 1_000, || {
                reached(300);
                reached(300);
                reached(700);
                assert_eq!(p.simulated_ns.load(Ordering::Relaxed) % 1_000, 700);
            });
        }
        assert_eq!(p.simulated_ns.load(Ordering::Relaxed), 3_000);
        assert_eq!(p.replications_done.load(Ordering::Relaxed), 3);
        // Without a counter, a tick is a no-op.
        reached(5);
        replication(None, 1_000, || reached(10));
        assert_eq!(p.simulated_ns.load(Ordering::Relaxed), 3_000);
    }
}
