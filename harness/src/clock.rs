//! The harness's one timer: waiting until an instant with sub-millisecond precision and no
//! spinning. tokio's timer fires on millisecond ticks after the deadline (on average half a
//! millisecond to a millisecond late), and a yield-spin over the last stretch costs a core
//! (about 4.4 ms of CPU a request at 200 req/s). [`sleep_until`]: one scheduler thread keeps the
//! pending deadlines in a heap and sleeps on a futex with an absolute CLOCK_MONOTONIC timeout
//! (its timer slack set to 1 ns on Linux so the kernel does not round the wake-up 50 us later);
//! when a deadline is due it wakes the waiting task, which the tokio runtime then resumes. A
//! [`Sleeper`], for a task that waits again and again (the load's dispatchers), saves that
//! thread's wake-up: on Linux it keeps one timerfd (an absolute hrtimer, which has no timer
//! slack) registered with the runtime's reactor, so the thread asleep there wakes at the
//! deadline and runs the task itself. The emulator's service times, the load's scheduled starts
//! and the drills' arrivals all wait here, and every wait's lateness (deadline to resumption)
//! goes into one process-wide histogram ([`lateness`]).

use hdrhistogram::Histogram;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A pending deadline and the task to wake at it.
struct Entry {
    at: Instant,
    /// Ties in insertion order (a heap is not stable).
    seq: u64,
    wake: tokio::sync::oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Entry {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Default)]
struct Pending {
    heap: BinaryHeap<Reverse<Entry>>,
    seq: u64,
}

/// The scheduler thread's state: the pending deadlines, and a condition variable it sleeps on
/// until the earliest (notified only when a new deadline becomes the earliest).
struct Timer {
    pending: Mutex<Pending>,
    earlier: Condvar,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::new(Timer {
            pending: Mutex::new(Pending::default()),
            earlier: Condvar::new(),
        }));
        // The thread lives as long as the process (it sleeps when nothing is pending). Should
        // it fail to start, waits fall back to tokio's timer (see `sleep_until`).
        let _ = std::thread::Builder::new()
            .name("twin-timer".into())
            .spawn(move || t.run());
        t
    })
}

impl Timer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn add(&self, at: Instant, wake: tokio::sync::oneshot::Sender<()>) {
        let mut g = self.lock();
        let earliest = g.heap.peek().is_none_or(|Reverse(e)| at < e.at);
        let seq = g.seq;
        g.seq += 1;
        g.heap.push(Reverse(Entry { at, seq, wake }));
        drop(g);
        if earliest {
            self.earlier.notify_one();
        }
    }

    fn run(&self) {
        precise_timer_slack();
        let mut g = self.lock();
        loop {
            let now = Instant::now();
            while g.heap.peek().is_some_and(|Reverse(e)| e.at <= now) {
                if let Some(Reverse(e)) = g.heap.pop() {
                    // The waiter may have gone (a dropped future): nothing to wake.
                    let _ = e.wake.send(());
                }
            }
            g = match g.heap.peek().map(|Reverse(e)| e.at) {
                Some(at) => {
                    self.earlier
                        .wait_timeout(g, at.saturating_duration_since(now))
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.earlier.wait(g).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }
}

/// Asks the kernel not to defer this thread's timed waits (the default slack of a normal
/// thread is 50 us, added to every wake-up).
fn precise_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and changes only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// [`Sleeper`]s with a timerfd at once at most; the others wait on the scheduler thread, so
/// timers never take the descriptors sockets need.
pub const MAX_TIMERFDS: usize = 256;

/// Timerfds registered with the current tokio runtime's reactor (Linux).
#[cfg(target_os = "linux")]
mod timerfd {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;
    use tokio::io::unix::AsyncFd;
    use tokio::io::Interest;

    static OPEN: AtomicUsize = AtomicUsize::new(0);

    /// One of the [`super::MAX_TIMERFDS`], given back when dropped.
    struct Slot;

    impl Slot {
        fn take() -> Option<Slot> {
            let taken = OPEN.fetch_add(1, Ordering::Relaxed);
            if taken >= super::MAX_TIMERFDS {
                OPEN.fetch_sub(1, Ordering::Relaxed);
                return None;
            }
            Some(Slot)
        }
    }

    impl Drop for Slot {
        fn drop(&mut self) {
            OPEN.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// A timerfd watched by the runtime's reactor, armed again for each wait.
    pub struct Timer {
        fd: AsyncFd<OwnedFd>,
        _slot: Slot,
    }

    impl Timer {
        /// A new timerfd, or `None` when none can be had (no runtime here, the cap reached,
        /// the kernel refusing).
        pub fn new() -> Option<Timer> {
            // Registering needs a runtime (it would panic without one).
            tokio::runtime::Handle::try_current().ok()?;
            let slot = Slot::take()?;
            // SAFETY: timerfd_create takes two integers and returns a new descriptor or -1.
            let raw = unsafe {
                libc::timerfd_create(
                    libc::CLOCK_MONOTONIC,
                    libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
                )
            };
            if raw < 0 {
                return None;
            }
            // SAFETY: `raw` is a descriptor just created and owned by nothing else.
            let fd = unsafe { OwnedFd::from_raw_fd(raw) };
            // SAFETY: an OwnedFd is open and names the same descriptor until dropped, which
            // only the AsyncFd does.
            let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok()?;
            Some(Timer { fd, _slot: slot })
        }

        /// Sets the timer to expire at `deadline` (which resets its expiry count, so the
        /// descriptor is not readable until then). The expiry is absolute, so a thread
        /// preempted before the call still wakes at the deadline, not that much later.
        fn arm(&self, deadline: Instant) -> bool {
            // `Instant` is CLOCK_MONOTONIC on Linux. Read before the kernel's clock, so the
            // expiry computed is at or after the deadline, never a few nanoseconds before it.
            let left = deadline.saturating_duration_since(Instant::now());
            // SAFETY: clock_gettime fills the struct it is given.
            let mut now: libc::timespec = unsafe { std::mem::zeroed() };
            if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) } != 0 {
                return false;
            }
            let nanos = now.tv_nsec + i64::from(left.subsec_nanos());
            let Ok(secs) = i64::try_from(left.as_secs()) else {
                return false;
            };
            let spec = libc::itimerspec {
                it_interval: libc::timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: libc::timespec {
                    tv_sec: now.tv_sec.saturating_add(secs + nanos / 1_000_000_000),
                    tv_nsec: nanos % 1_000_000_000,
                },
            };
            // SAFETY: the descriptor is a timerfd; `spec` is read, the old value not asked for.
            let set = unsafe {
                libc::timerfd_settime(
                    self.fd.get_ref().as_raw_fd(),
                    libc::TFD_TIMER_ABSTIME,
                    &spec,
                    std::ptr::null_mut(),
                )
            };
            set == 0
        }

        /// Waits until `deadline`; false if the timer or the reactor failed (the caller then
        /// waits another way).
        pub async fn wait_until(&self, deadline: Instant) -> bool {
            loop {
                if !self.arm(deadline) {
                    return false;
                }
                let Ok(mut ready) = self.fd.readable().await else {
                    return false;
                };
                // The next wait waits for the next expiry. Readiness left by an earlier wait
                // that was dropped before its end ends this one early: armed again, it waits.
                ready.clear_ready();
                if Instant::now() >= deadline {
                    return true;
                }
            }
        }
    }
}

/// A timer for a task that waits again and again (the load's dispatchers): on Linux one
/// timerfd, registered with the runtime once and armed again for each wait, so a wait costs
/// one system call and the reactor's wake-up; the scheduler thread when that cannot be had.
/// Made in a task of a tokio runtime with I/O enabled (as all the harness's are) and used
/// there.
#[derive(Default)]
pub struct Sleeper {
    #[cfg(target_os = "linux")]
    fd: Option<timerfd::Timer>,
    /// No timerfd could be had or it failed: the scheduler thread from now on.
    #[cfg(target_os = "linux")]
    threaded: bool,
}

impl Sleeper {
    /// Sleeps until `deadline`; returns at once if it has passed.
    pub async fn until(&mut self, deadline: Instant) {
        if deadline <= Instant::now() {
            return;
        }
        #[cfg(target_os = "linux")]
        if !self.threaded {
            if self.fd.is_none() {
                self.fd = timerfd::Timer::new();
            }
            match &self.fd {
                Some(t) if t.wait_until(deadline).await => {
                    record(Instant::now().saturating_duration_since(deadline));
                    return;
                }
                _ => {
                    self.fd = None;
                    self.threaded = true;
                }
            }
        }
        sleep_until(deadline).await;
    }
}

/// Sleeps until `deadline` on the scheduler thread's timer; returns at once if it has passed.
pub async fn sleep_until(deadline: Instant) {
    if deadline <= Instant::now() {
        return;
    }
    let (tx, rx) = tokio::sync::oneshot::channel();
    timer().add(deadline, tx);
    if rx.await.is_err() {
        // The scheduler thread is gone (it could not start): the runtime's timer instead.
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await;
    }
    record(Instant::now().saturating_duration_since(deadline));
}

/// Sleeps for `d` (see [`sleep_until`]).
pub async fn sleep(d: Duration) {
    sleep_until(Instant::now() + d).await;
}

fn stats() -> &'static Mutex<Histogram<u64>> {
    static LATENESS: OnceLock<Mutex<Histogram<u64>>> = OnceLock::new();
    LATENESS.get_or_init(|| Mutex::new(crate::measure::new_histogram()))
}

fn record(late: Duration) {
    let us = u64::try_from(late.as_micros()).unwrap_or(u64::MAX);
    // Zero lateness is recorded as 1 us, the histogram's floor.
    stats()
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .saturating_record(us.max(1));
}

/// The lateness of every wait so far in this process, in microseconds.
pub fn lateness() -> Histogram<u64> {
    stats().lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// CPU time (user + system) this process has used so far (`getrusage(RUSAGE_SELF)`), or
/// `None` where it cannot be read.
pub fn process_cpu() -> Option<Duration> {
    #[cfg(unix)]
    {
        // SAFETY: getrusage fills the struct it is given and reads nothing else.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
            return None;
        }
        let tv = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec.max(0) as u64)
                + Duration::from_micros(t.tv_usec.max(0) as u64)
        };
        Some(tv(u.ru_utime) + tv(u.ru_stime))
    }
    #[cfg(not(unix))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Waits resume in deadline order, never before their deadline, whatever order they were
    /// added in (the heap's order, and a later-added earlier deadline waking the thread).
    #[test]
    fn waits_end_in_deadline_order_and_never_early() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let order = std::sync::Arc::new(Mutex::new(Vec::new()));
        let t0 = Instant::now() + Duration::from_millis(20);
        rt.block_on(async {
            let mut tasks = Vec::new();
            // Added latest-first: each new one becomes the earliest.
            for k in (0..10u64).rev() {
                let order = order.clone();
                let at = t0 + Duration::from_millis(3 * k);
                tasks.push(tokio::spawn(async move {
                    sleep_until(at).await;
                    let now = Instant::now();
                    order.lock().unwrap().push((k, now >= at));
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
        let order = order.lock().unwrap();
        let ks: Vec<u64> = order.iter().map(|(k, _)| *k).collect();
        assert_eq!(ks, (0..10).collect::<Vec<_>>());
        assert!(order.iter().all(|(_, on_time)| *on_time));
    }

    /// A reused sleeper never ends a wait early, including the wait after one dropped before
    /// its deadline (whose timer, expiring while nobody waits, must not end the next one).
    #[test]
    fn a_reused_sleeper_waits_each_deadline_out() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let mut s = Sleeper::default();
            let dropped = Instant::now() + Duration::from_millis(5);
            let cut = tokio::time::timeout(Duration::from_millis(1), s.until(dropped)).await;
            assert!(cut.is_err(), "the first wait was cut short");
            // Blocks the runtime's thread past the dropped deadline: its timer expires unseen.
            std::thread::sleep(Duration::from_millis(10));
            for k in 1..=5u64 {
                let at = Instant::now() + Duration::from_millis(3 * k);
                s.until(at).await;
                assert!(Instant::now() >= at, "wait {k} ended early");
            }
        });
    }

    /// More sleepers at once than timerfds allowed: the rest wait on the scheduler thread,
    /// and every wait ends, none early.
    #[test]
    fn sleepers_beyond_the_timerfds_wait_on_the_scheduler_thread() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let t0 = Instant::now() + Duration::from_millis(20);
        let on_time = rt.block_on(async {
            let tasks: Vec<_> = (0..MAX_TIMERFDS as u64 + 100)
                .map(|k| {
                    let at = t0 + Duration::from_micros(50 * k);
                    tokio::spawn(async move {
                        Sleeper::default().until(at).await;
                        Instant::now() >= at
                    })
                })
                .collect();
            let mut on_time = 0;
            for t in tasks {
                on_time += usize::from(t.await.unwrap());
            }
            on_time
        });
        assert_eq!(on_time, MAX_TIMERFDS + 100);
    }

    #[test]
    fn process_cpu_grows_with_work() {
        let a = process_cpu().unwrap();
        // Busy until the process has used 20 ms more CPU (however loaded the machine), within
        // a wall-clock bound: a reading that does not grow fails here.
        let t = Instant::now();
        let mut x = 0u64;
        while process_cpu().unwrap() - a < Duration::from_millis(20) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "CPU time does not grow"
            );
            for _ in 0..10_000 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            }
        }
        std::hint::black_box(x);
    }
}
