//! A replica's CPUs (`cpu:`, `cores:`, `cpu_slice:`): the visits in their CPU phase share
//! `cores` processors. `cores` is modelled as `k = ceil(cores)` processors of speed
//! `cores / k` (half a core: one processor at half speed, CFS's quota as a fluid).
//!
//! - Round robin (`cpu_slice > 0`): a visit on a free processor runs until its demand is
//!   served; while others wait for a processor, each runs at most one slice (counted from
//!   when it was dispatched) and goes to the back of the run queue. Slice events exist only
//!   under contention (more visits on the CPU than processors): an uncontended visit costs one
//!   event, its completion.
//! - Processor sharing (`cpu_slice: 0s`): exact, by virtual time. Every visit on the CPU is
//!   served at rate `min(speed, cores / n)`; `vtime` is the demand each has received since
//!   the start, a visit's finish tag is `vtime` at its arrival plus its demand, and the one
//!   pending event is the smallest tag's completion, recomputed on arrival and departure.
//!
//! Events carry a tag (`gen << 8 | processor`); an event whose tag is no longer its
//! processor's is stale and ignored, so rescheduling never searches the calendar. Nothing is
//! allocated per event once the run queue and the heap reach their working size.

use crate::calendar::Nanos;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

const IDLE: u32 = u32::MAX;
const NEVER: Nanos = Nanos::MAX;

/// A service's CPU model, per replica.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CpuConfig {
    pub cores: f64,
    /// 0: processor sharing.
    pub slice: Nanos,
}

#[derive(Clone, Copy, Debug)]
struct Processor {
    request: u32,
    /// Demand (ns of CPU at speed 1) left as of `since`.
    remaining: f64,
    since: Nanos,
    /// When the request was put on this processor (slices count from here).
    dispatched: Nanos,
    /// The pending event's time and tag.
    at: Nanos,
    tag: u32,
}

impl Default for Processor {
    fn default() -> Self {
        Processor {
            request: IDLE,
            remaining: 0.0,
            since: 0,
            dispatched: 0,
            at: NEVER,
            tag: 0,
        }
    }
}

/// One replica's CPUs (empty and unused for a service without `cpu:`).
#[derive(Clone, Debug, Default)]
pub struct Cpu {
    cores: f64,
    speed: f64,
    slice: Nanos,
    processors: Vec<Processor>,
    /// Round robin: visits waiting for a processor, with their remaining demand.
    ready: VecDeque<(u32, f64)>,
    /// Processor sharing: (finish tag as f64 bits, request), smallest first.
    heap: BinaryHeap<Reverse<(u64, u32)>>,
    vtime: f64,
    /// Visits on the CPU (running or ready).
    on: u32,
    /// Core-nanoseconds of CPU consumed, up to `last`.
    area: f64,
    last: Nanos,
    /// Events to schedule: (time, tag). The engine drains it after each call.
    pub events: Vec<(Nanos, u32)>,
}

impl Cpu {
    pub fn new(c: CpuConfig) -> Cpu {
        let k = (c.cores.ceil() as usize).clamp(1, 255);
        let ps = c.slice == 0;
        Cpu {
            cores: c.cores,
            speed: c.cores / k as f64,
            slice: c.slice,
            processors: vec![Processor::default(); if ps { 1 } else { k }],
            events: Vec::with_capacity(k + 1),
            ..Cpu::default()
        }
    }

    /// Whether the replica has a CPU model.
    #[inline]
    pub fn configured(&self) -> bool {
        !self.processors.is_empty()
    }

    /// Core-nanoseconds consumed up to `now`.
    pub fn area_at(&self, now: Nanos) -> f64 {
        self.area + self.busy_cores() * now.saturating_sub(self.last) as f64
    }

    /// Visits on the CPU now (running or waiting for a processor).
    pub fn on_cpu(&self) -> u32 {
        self.on
    }

    #[inline]
    fn busy_cores(&self) -> f64 {
        (f64::from(self.on) * self.speed).min(self.cores)
    }

    #[inline]
    fn account(&mut self, now: Nanos) {
        let dt = now.saturating_sub(self.last) as f64;
        if self.slice == 0 && self.on > 0 {
            self.vtime += dt * self.ps_rate();
        }
        self.area += self.busy_cores() * dt;
        self.last = now;
    }

    /// Processor sharing: the rate each visit on the CPU is served at.
    #[inline]
    fn ps_rate(&self) -> f64 {
        self.speed.min(self.cores / f64::from(self.on.max(1)))
    }

    /// Visit `request` comes to the CPU with `demand` nanoseconds of CPU work.
    pub fn arrive(&mut self, request: u32, demand: Nanos, now: Nanos) {
        self.account(now);
        self.on += 1;
        let demand = demand as f64;
        if self.slice == 0 {
            let tag = self.vtime + demand;
            self.heap.push(Reverse((tag.to_bits(), request)));
            self.reschedule_ps(now);
            return;
        }
        if let Some(i) = self.processors.iter().position(|p| p.request == IDLE) {
            self.dispatch(i, request, demand, now);
            return;
        }
        self.ready.push_back((request, demand));
        if self.ready.len() == 1 {
            // Contention begins: every running visit now stops at its slice's end.
            for i in 0..self.processors.len() {
                self.reschedule(i, now);
            }
        }
    }

    /// An event with `tag` fires; returns the visit whose CPU demand is now served, if any
    /// (a stale event, or a slice's end, returns None).
    pub fn fire(&mut self, tag: u32, now: Nanos) -> Option<u32> {
        let i = (tag & 0xff) as usize;
        if self.processors.get(i).map(|p| p.tag) != Some(tag) {
            return None;
        }
        self.account(now);
        self.processors[i].at = NEVER;
        if self.slice == 0 {
            let done = match self.heap.peek() {
                Some(Reverse((f, r))) if f64::from_bits(*f) <= self.vtime + 1.0 => Some(*r),
                _ => None,
            };
            if done.is_some() {
                self.heap.pop();
                self.on -= 1;
            }
            self.reschedule_ps(now);
            return done;
        }
        self.settle(i, now);
        let p = self.processors[i];
        if p.remaining <= 0.5 {
            self.on -= 1;
            self.processors[i].request = IDLE;
            if let Some((r, d)) = self.ready.pop_front() {
                self.dispatch(i, r, d, now);
            }
            return Some(p.request);
        }
        // The slice ended: the next waiting visit takes the processor, if there is one.
        if let Some((r, d)) = self.ready.pop_front() {
            self.ready.push_back((p.request, p.remaining));
            self.dispatch(i, r, d, now);
        } else {
            self.reschedule(i, now);
        }
        None
    }

    #[inline]
    fn settle(&mut self, i: usize, now: Nanos) {
        let p = &mut self.processors[i];
        if p.request != IDLE {
            p.remaining -= (now - p.since) as f64 * self.speed;
            p.since = now;
        }
    }

    fn dispatch(&mut self, i: usize, request: u32, demand: f64, now: Nanos) {
        let p = &mut self.processors[i];
        p.request = request;
        p.remaining = demand;
        p.since = now;
        p.dispatched = now;
        self.reschedule(i, now);
    }

    /// Round robin: processor `i`'s next event, its visit's completion or (while others
    /// wait) its slice's end.
    fn reschedule(&mut self, i: usize, now: Nanos) {
        self.settle(i, now);
        let p = self.processors[i];
        if p.request == IDLE {
            return;
        }
        let mut t = now + (p.remaining.max(0.0) / self.speed).ceil() as Nanos;
        if !self.ready.is_empty() {
            let slices = (now - p.dispatched) / self.slice + 1;
            t = t.min(p.dispatched + slices * self.slice);
        }
        self.set_event(i, t);
    }

    /// Processor sharing: the next completion (the smallest finish tag).
    fn reschedule_ps(&mut self, now: Nanos) {
        let Some(Reverse((f, _))) = self.heap.peek() else {
            return;
        };
        let left = (f64::from_bits(*f) - self.vtime).max(0.0);
        let t = now + (left / self.ps_rate()).ceil() as Nanos;
        self.set_event(0, t);
    }

    #[inline]
    fn set_event(&mut self, i: usize, t: Nanos) {
        let p = &mut self.processors[i];
        if p.at == t {
            return;
        }
        p.at = t;
        p.tag = (p.tag.wrapping_add(0x100) & !0xff) | i as u32;
        self.events.push((t, p.tag));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs arrivals (time, request, demand) through `cpu` to the end; returns each
    /// request's completion time and the number of events fired.
    fn run(cfg: CpuConfig, jobs: &[(Nanos, u32, Nanos)]) -> (Vec<(u32, Nanos)>, usize) {
        let mut cpu = Cpu::new(cfg);
        let mut pending: Vec<(Nanos, u32)> = Vec::new();
        let mut done = Vec::new();
        let mut fired = 0;
        let mut next_job = 0;
        loop {
            pending.append(&mut cpu.events);
            pending.sort();
            let ev = pending.first().copied();
            let job = jobs.get(next_job).copied();
            match (ev, job) {
                (None, None) => break,
                (_, Some((t, r, d))) if ev.is_none_or(|e| t <= e.0) => {
                    next_job += 1;
                    cpu.arrive(r, d, t);
                }
                (Some((t, tag)), _) => {
                    pending.remove(0);
                    fired += 1;
                    if let Some(r) = cpu.fire(tag, t) {
                        done.push((r, t));
                    }
                }
                (None, Some(_)) => unreachable!(),
            }
        }
        (done, fired)
    }

    const MS: Nanos = 1_000_000;

    #[test]
    fn alone_a_visit_takes_its_demand_in_one_event() {
        let (done, fired) = run(
            CpuConfig {
                cores: 1.0,
                slice: 3 * MS,
            },
            &[(0, 7, 10 * MS)],
        );
        assert_eq!(done, vec![(7, 10 * MS)]);
        assert_eq!(fired, 1);
    }

    #[test]
    fn round_robin_alternates_slices() {
        // Two 5 ms visits on one core, 3 ms slices: A 0-3, B 3-6, A 6-8, B 8-10.
        let (done, _) = run(
            CpuConfig {
                cores: 1.0,
                slice: 3 * MS,
            },
            &[(0, 0, 5 * MS), (MS, 1, 5 * MS)],
        );
        assert_eq!(done, vec![(0, 8 * MS), (1, 10 * MS)]);
    }

    #[test]
    fn processor_sharing_halves_the_rate() {
        // A (10 ms) alone for 2 ms, then shared with B (4 ms): B needs 8 ms of wall time
        // (done at 10 ms); A then has 4 ms left alone (done at 14 ms).
        let (done, fired) = run(
            CpuConfig {
                cores: 1.0,
                slice: 0,
            },
            &[(0, 0, 10 * MS), (2 * MS, 1, 4 * MS)],
        );
        assert_eq!(done, vec![(1, 10 * MS), (0, 14 * MS)]);
        assert!(fired <= 3, "{fired}");
    }

    #[test]
    fn two_cores_serve_two_visits_at_once_and_half_a_core_half_as_fast() {
        let two = CpuConfig {
            cores: 2.0,
            slice: 3 * MS,
        };
        let (done, _) = run(two, &[(0, 0, 10 * MS), (0, 1, 10 * MS)]);
        assert_eq!(done, vec![(0, 10 * MS), (1, 10 * MS)]);
        let half = CpuConfig {
            cores: 0.5,
            slice: 0,
        };
        let (done, _) = run(half, &[(0, 0, 10 * MS)]);
        assert_eq!(done, vec![(0, 20 * MS)]);
    }

    #[test]
    fn cpu_area_is_the_demand_served() {
        let mut cpu = Cpu::new(CpuConfig {
            cores: 1.0,
            slice: 0,
        });
        cpu.arrive(0, 10 * MS, 0);
        cpu.arrive(1, 10 * MS, 0);
        assert!((cpu.area_at(5 * MS) - 5e6).abs() < 1.0);
    }
}
