//! Client connection pools: `size` connections, FIFO waiters. A pool of N connections in front
//! of a server is an N-server queue for the steps it wraps.

use crate::calendar::Nanos;
use hdrhistogram::Histogram;
use std::collections::VecDeque;

pub struct ConnectionPool {
    pub size: u32,
    pub in_use: u32,
    /// Requests waiting for a connection, with the time they started waiting.
    waiters: VecDeque<(u32, Nanos)>,
    warmup: Nanos,
    pub waits_us: Histogram<u64>,
    pub wait_sum_ns: f64,
    /// Connection-nanoseconds in use after warm-up.
    pub busy_area: f64,
    last_change: Nanos,
}

impl ConnectionPool {
    pub fn new(size: u32, warmup: Nanos) -> Self {
        ConnectionPool {
            size,
            in_use: 0,
            waiters: VecDeque::new(),
            warmup,
            waits_us: crate::metrics::latency_histogram(),
            wait_sum_ns: 0.0,
            busy_area: 0.0,
            last_change: 0,
        }
    }

    fn account(&mut self, now: Nanos) {
        let from = self.last_change.max(self.warmup);
        if now > from {
            self.busy_area += f64::from(self.in_use) * (now - from) as f64;
        }
        self.last_change = now;
    }

    fn record_wait(&mut self, since: Nanos, now: Nanos) {
        if now >= self.warmup {
            self.wait_sum_ns += (now - since) as f64;
            crate::metrics::record_us(&mut self.waits_us, now - since);
        }
    }

    /// Takes a connection now (true) or queues the request (false).
    pub fn acquire(&mut self, request: u32, now: Nanos) -> bool {
        if self.in_use < self.size {
            self.account(now);
            self.in_use += 1;
            self.record_wait(now, now);
            true
        } else {
            self.waiters.push_back((request, now));
            false
        }
    }

    /// Gives a connection back; returns the waiter it passes to, if any.
    pub fn release(&mut self, now: Nanos) -> Option<u32> {
        match self.waiters.pop_front() {
            Some((next, since)) => {
                self.record_wait(since, now);
                Some(next)
            }
            None => {
                self.account(now);
                self.in_use -= 1;
                None
            }
        }
    }

    pub fn waiting(&self) -> usize {
        self.waiters.len()
    }

    pub fn finish(&mut self, now: Nanos) {
        self.account(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_connections_to_waiters_in_order() {
        let mut p = ConnectionPool::new(2, 0);
        assert!(p.acquire(1, 0));
        assert!(p.acquire(2, 0));
        assert!(!p.acquire(3, 5));
        assert!(!p.acquire(4, 6));
        assert_eq!(p.release(10), Some(3));
        assert_eq!(p.release(11), Some(4));
        assert_eq!(p.in_use, 2);
        assert_eq!(p.release(12), None);
        assert_eq!(p.in_use, 1);
    }
}
