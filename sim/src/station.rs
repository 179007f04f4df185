//! A service's replicas as queueing stations: per-replica FIFO queues (or one shared queue),
//! `concurrency` servers per replica, and the `balancing` rule that picks a replica.
//!
//! Requests are `u32` indices into the engine's request arena; a station never allocates per
//! request (its queues are ring buffers that grow to the longest queue seen and stay there).

use crate::calendar::Nanos;
use hdrhistogram::Histogram;
use models::scenario::Balancing;
use models::{RandomStream, Sampler};
use std::collections::VecDeque;

/// One replica (a pod): its busy servers and its own FIFO queue.
#[derive(Clone, Debug, Default)]
pub struct Replica {
    pub busy: u32,
    pub queue: VecDeque<u32>,
}

/// What a station measured after warm-up.
pub struct StationStats {
    /// Busy-server nanoseconds after warm-up.
    pub busy_area: f64,
    /// Busy-server nanoseconds since the start, warm-up included (for the timeline).
    pub busy_area_all: f64,
    /// Requests whose service finished after warm-up.
    pub completions: u64,
    /// Time in queue (microseconds) of requests that started service after warm-up.
    pub waits_us: Histogram<u64>,
    pub wait_sum_ns: f64,
}

pub struct Station {
    pub concurrency: u32,
    pub balancing: Balancing,
    pub replicas: Vec<Replica>,
    shared: VecDeque<u32>,
    busy: u32,
    next_rr: u32,
    service_time: Sampler,
    service_rng: RandomStream,
    route_rng: RandomStream,
    warmup: Nanos,
    last_change: Nanos,
    pub stats: StationStats,
}

/// A request that starts service now, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct Start {
    pub replica: u32,
    pub request: u32,
    pub service: Nanos,
}

impl Station {
    pub fn new(
        replicas: u32,
        concurrency: u32,
        balancing: Balancing,
        service_time: Sampler,
        service_rng: RandomStream,
        route_rng: RandomStream,
        warmup: Nanos,
    ) -> Station {
        Station {
            concurrency,
            balancing,
            replicas: vec![Replica::default(); replicas as usize],
            shared: VecDeque::new(),
            busy: 0,
            next_rr: 0,
            service_time,
            service_rng,
            route_rng,
            warmup,
            last_change: 0,
            stats: StationStats {
                busy_area: 0.0,
                busy_area_all: 0.0,
                completions: 0,
                waits_us: crate::metrics::latency_histogram(),
                wait_sum_ns: 0.0,
            },
        }
    }

    /// Servers across all replicas.
    pub fn servers(&self) -> u32 {
        self.replicas.len() as u32 * self.concurrency
    }

    /// Busy servers now.
    pub fn busy(&self) -> u32 {
        self.busy
    }

    /// Requests waiting now, over all queues.
    pub fn queued(&self) -> usize {
        self.shared.len() + self.replicas.iter().map(|r| r.queue.len()).sum::<usize>()
    }

    /// Adds busy-server time up to `now` (only the part after warm-up counts).
    #[inline]
    fn account(&mut self, now: Nanos) {
        let busy = f64::from(self.busy);
        self.stats.busy_area_all += busy * (now - self.last_change) as f64;
        let from = self.last_change.max(self.warmup);
        if now > from {
            self.stats.busy_area += busy * (now - from) as f64;
        }
        self.last_change = now;
    }

    #[inline]
    fn draw_service(&mut self) -> Nanos {
        (self.service_time.sample(&mut self.service_rng) * 1e9) as Nanos
    }

    /// Picks a replica by the balancing rule (not used for `shared`).
    #[inline]
    fn pick(&mut self) -> usize {
        let n = self.replicas.len() as u32;
        if n == 1 {
            return 0;
        }
        match self.balancing {
            Balancing::Random | Balancing::Shared => self.route_rng.below(n) as usize,
            Balancing::RoundRobin => {
                let r = self.next_rr % n;
                self.next_rr = r + 1;
                r as usize
            }
            // Envoy's LEAST_REQUEST: the less loaded of two replicas drawn at random
            // (power of two choices, its default choice_count of 2).
            Balancing::LeastRequest => {
                let a = self.route_rng.below(n);
                let b = (a + 1 + self.route_rng.below(n - 1)) % n;
                let load = |r: &Replica| r.busy as usize + r.queue.len();
                let (ra, rb) = (&self.replicas[a as usize], &self.replicas[b as usize]);
                if load(rb) < load(ra) {
                    b as usize
                } else {
                    a as usize
                }
            }
        }
    }

    /// A request arrives; returns the start if a server is free, else queues it.
    #[inline]
    pub fn arrive(&mut self, request: u32, now: Nanos) -> Option<Start> {
        if self.balancing == Balancing::Shared {
            if self.busy < self.servers() {
                // Any free server: credit it to the least busy replica for per-replica counts.
                let r = self
                    .replicas
                    .iter()
                    .position(|r| r.busy < self.concurrency)
                    .unwrap_or(0);
                return Some(self.start(r, request, now, now));
            }
            self.shared.push_back(request);
            return None;
        }
        let r = self.pick();
        if self.replicas[r].busy < self.concurrency {
            Some(self.start(r, request, now, now))
        } else {
            self.replicas[r].queue.push_back(request);
            None
        }
    }

    #[inline]
    fn start(&mut self, replica: usize, request: u32, queued_at: Nanos, now: Nanos) -> Start {
        self.account(now);
        self.busy += 1;
        self.replicas[replica].busy += 1;
        if now >= self.warmup {
            let wait = now - queued_at;
            self.stats.wait_sum_ns += wait as f64;
            crate::metrics::record_us(&mut self.stats.waits_us, wait);
        }
        Start {
            replica: replica as u32,
            request,
            service: self.draw_service(),
        }
    }

    /// A server of `replica` finishes; returns the next request it starts, if any. The caller
    /// passes the time each queued request was enqueued through `queued_at`.
    #[inline]
    pub fn depart(
        &mut self,
        replica: u32,
        now: Nanos,
        queued_at: impl Fn(u32) -> Nanos,
    ) -> Option<Start> {
        self.account(now);
        self.busy -= 1;
        let r = replica as usize;
        self.replicas[r].busy -= 1;
        if now >= self.warmup {
            self.stats.completions += 1;
        }
        let next = if self.balancing == Balancing::Shared {
            self.shared.pop_front()
        } else {
            self.replicas[r].queue.pop_front()
        }?;
        Some(self.start(r, next, queued_at(next), now))
    }

    /// Closes the busy-time account at the end of the run.
    pub fn finish(&mut self, now: Nanos) {
        self.account(now);
    }
}
