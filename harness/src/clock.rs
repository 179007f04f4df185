//! Waiting until an instant more precisely than tokio's timer, which fires on millisecond ticks
//! after the deadline (on average half a millisecond to a millisecond late). The emulator's
//! service times and the load's scheduled starts both end here, so without this both sides of
//! a loopback run would add about a millisecond to every request.

use std::time::{Duration, Instant};

/// Below this much time left, yield instead of sleeping.
const SPIN: Duration = Duration::from_micros(1500);

/// Sleeps until `deadline`: on the timer until shortly before it, then yielding to other tasks.
pub async fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline <= now {
        return;
    }
    if deadline - now > SPIN {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline - SPIN)).await;
    }
    while Instant::now() < deadline {
        tokio::task::yield_now().await;
    }
}
