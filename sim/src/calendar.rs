//! The event calendar: future events in a total, deterministic order — by time, then by the
//! order they were scheduled (a sequence number), so two events at the same nanosecond always
//! happen in the order they were put in, on every machine.
//!
//! The order lives in one 128-bit key per event: `time << 64 | seq << 32 | slot`. The heap's
//! events wait in a slab (`slot` indexes it) so that what the heap moves and compares is 16
//! bytes, not the 32 of a key beside its event: the heap is the engine's hottest structure.
//! `seq` is 32 bits; when it would wrap, the pending keys are renumbered in their order (once
//! per ~4 billion events, the order unchanged).
//!
//! Two stores keep that one order. Most events go to a binary heap. Events that are scheduled
//! in time order go to a FIFO lane instead, whose front is then its earliest; a pop compares
//! the heap's top with each lane's front (a handful of lanes) by `(time, sequence)`. Two kinds
//! of event qualify:
//! - those a *fixed* delay ahead (client timeouts: every journey of a kind gets the same one),
//!   one lane per delay: the clock only moves forward, so `now + delay` is non-decreasing. At
//!   10,000 req/s with 30 s timeouts that keeps ~300,000 deadlines out of the heap, which then
//!   holds only the few thousand events in flight;
//! - those of a *stream* that schedules its next event when the last one fires (an arrival
//!   process, the timeline's ticks), one lane per stream holding at most one event: the next
//!   arrival waits beside the heap, not in it, which halves the heap's traffic on a queue
//!   whose only other events are departures.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// Simulated time in integer nanoseconds since the start of the run.
pub type Nanos = u64;

/// A time or duration as `f64` nanoseconds. Through `i64`: the same value for any time
/// under 292 years, in one instruction where `u64 as f64` takes six (the per-event paths
/// convert a few a customer).
#[inline]
pub fn ns_f64(ns: Nanos) -> f64 {
    ns as i64 as f64
}

/// Seconds (a sampled duration) as nanoseconds: as `(s * 1e9) as Nanos` for any duration
/// under 292 years (negative and NaN give 0), through `i64` for the same reason as
/// [`ns_f64`].
#[inline]
pub fn secs_to_ns(s: f64) -> Nanos {
    ((s * 1e9) as i64).max(0) as Nanos
}

/// Bits of a key below the time: the sequence number, then the slot.
const SEQ_SHIFT: u32 = 32;
const SLOT_MASK: u128 = (1 << SEQ_SHIFT) - 1;

#[inline]
fn key(time: Nanos, seq: u32, slot: u32) -> u128 {
    (u128::from(time) << 64) | (u128::from(seq) << SEQ_SHIFT) | u128::from(slot)
}

#[inline]
fn time_of(key: u128) -> Nanos {
    (key >> 64) as Nanos
}

#[inline]
fn slot_of(key: u128) -> usize {
    (key & SLOT_MASK) as usize
}

/// What puts events into a lane, in time order.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum LaneOf {
    /// Events `delay` apart from when they were scheduled.
    Delay(Nanos),
    /// A stream's events (see [`Calendar::schedule_stream`]).
    Stream(u32),
}

/// Events in scheduling order, which is their time order. They wait here beside their keys
/// (a lane moves nothing on a push or a pop, so it needs no slab).
struct Lane<E> {
    of: LaneOf,
    queue: VecDeque<(u128, E)>,
}

/// A min-priority queue of events keyed by `(time, sequence)`.
pub struct Calendar<E> {
    /// Keys, earliest on top (`Reverse`: std's heap is a max-heap).
    heap: BinaryHeap<Reverse<u128>>,
    /// FIFO lanes of keys scheduled in time order (see the module docs).
    lanes: Vec<Lane<E>>,
    /// Per stream number, its lane (`u32::MAX` before its first event).
    stream_lanes: Vec<u32>,
    /// The earliest of the lanes' fronts (`u128::MAX` when all are empty) and its lane, so
    /// that a pop compares the heap's top with one key.
    lane_min: u128,
    lane_min_at: usize,
    /// The pending events, by slot; `free` lists the slots not in use.
    events: Vec<E>,
    free: Vec<u32>,
    /// The last sequence number given; renumbering starts when it reaches `seq_limit`.
    seq: u32,
    seq_limit: u32,
    /// Times the keys were renumbered.
    renumbers: u32,
    now: Nanos,
    popped: u64,
}

impl<E: Copy> Calendar<E> {
    pub fn with_capacity(n: usize) -> Self {
        Calendar {
            heap: BinaryHeap::with_capacity(n),
            lanes: Vec::new(),
            stream_lanes: Vec::new(),
            lane_min: u128::MAX,
            lane_min_at: 0,
            events: Vec::with_capacity(n),
            free: Vec::with_capacity(n),
            seq: 0,
            seq_limit: u32::MAX,
            renumbers: 0,
            now: 0,
            popped: 0,
        }
    }

    /// The current simulated time (the time of the last event popped).
    #[inline]
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// The next sequence number.
    #[inline]
    fn next_seq(&mut self) -> u32 {
        if self.seq >= self.seq_limit {
            self.renumber();
        }
        self.seq += 1;
        self.seq
    }

    /// The key of a new event of the heap at `at`: its event stored, a sequence number drawn.
    #[inline]
    fn store(&mut self, at: Nanos, event: E) -> u128 {
        let seq = self.next_seq();
        let slot = match self.free.pop() {
            Some(s) => {
                self.events[s as usize] = event;
                s
            }
            None => {
                self.events.push(event);
                (self.events.len() - 1) as u32
            }
        };
        key(at, seq, slot)
    }

    /// Gives the pending keys new sequence numbers 1, 2, ... in their order (so the next
    /// ones, larger, still come after them), before `seq` would wrap.
    #[cold]
    fn renumber(&mut self) {
        let mut keys: Vec<u128> = self.heap.iter().map(|k| k.0).collect();
        for l in &self.lanes {
            keys.extend(l.queue.iter().map(|e| e.0));
        }
        keys.sort_unstable();
        let renumbered = |old: u128| -> u128 {
            // Distinct keys: the position in the sorted list is the new sequence number.
            let rank = keys.partition_point(|k| *k < old) as u32 + 1;
            key(time_of(old), rank, slot_of(old) as u32)
        };
        let heap: Vec<Reverse<u128>> = self.heap.iter().map(|k| Reverse(renumbered(k.0))).collect();
        for l in &mut self.lanes {
            for (k, _) in l.queue.iter_mut() {
                *k = renumbered(*k);
            }
        }
        self.heap = BinaryHeap::from(heap);
        self.seq = keys.len() as u32;
        self.renumbers += 1;
        self.find_lane_min();
    }

    /// Schedules `event` at absolute time `at` (never before now).
    #[inline]
    pub fn schedule(&mut self, at: Nanos, event: E) {
        debug_assert!(at >= self.now, "an event may not be scheduled in the past");
        let k = self.store(at, event);
        self.heap.push(Reverse(k));
    }

    /// Schedules `event` after `delay` from now.
    #[inline]
    pub fn schedule_in(&mut self, delay: Nanos, event: E) {
        self.schedule(self.now.saturating_add(delay), event);
    }

    /// Schedules `event` after `delay` from now, in the FIFO lane for that delay. Same order
    /// as [`Calendar::schedule_in`], cheaper for the many long, equal delays (timeouts). A new
    /// delay opens a lane (allocates: rare, a scenario has a few distinct timeouts).
    #[inline]
    pub fn schedule_fixed(&mut self, delay: Nanos, event: E) {
        let at = self.now.saturating_add(delay);
        let lane = self.open_lane(LaneOf::Delay(delay));
        self.push_lane(lane, at, event);
    }

    /// Schedules `event` at `at` in the lane of `stream`, whose events must be scheduled in
    /// time order (each at or after the one before). Same order as [`Calendar::schedule`],
    /// cheaper for a process that keeps one event pending (its next arrival).
    #[inline]
    pub fn schedule_stream(&mut self, stream: u32, at: Nanos, event: E) {
        debug_assert!(at >= self.now, "an event may not be scheduled in the past");
        let lane = match self.stream_lanes.get(stream as usize) {
            Some(&l) if l != u32::MAX => l as usize,
            _ => self.open_stream_lane(stream),
        };
        self.push_lane(lane, at, event);
    }

    /// The lane of a stream's first event (kept out of [`Calendar::schedule_stream`], which
    /// runs once an arrival).
    #[cold]
    fn open_stream_lane(&mut self, stream: u32) -> usize {
        let l = self.open_lane(LaneOf::Stream(stream));
        let n = self.stream_lanes.len().max(stream as usize + 1);
        self.stream_lanes.resize(n, u32::MAX);
        self.stream_lanes[stream as usize] = l as u32;
        l
    }

    /// The lane of `of`, opened if new (allocates: rare, a handful a scenario).
    fn open_lane(&mut self, of: LaneOf) -> usize {
        match self.lanes.iter().position(|l| l.of == of) {
            Some(i) => i,
            None => {
                self.lanes.push(Lane {
                    of,
                    queue: VecDeque::new(),
                });
                self.lanes.len() - 1
            }
        }
    }

    #[inline]
    fn push_lane(&mut self, lane: usize, at: Nanos, event: E) {
        // The slot bits stay 0: a lane keeps its events beside their keys.
        let k = key(at, self.next_seq(), 0);
        let queue = &mut self.lanes[lane].queue;
        debug_assert!(queue.back().is_none_or(|b| b.0 < k), "lane out of order");
        queue.push_back((k, event));
        if k < self.lane_min {
            self.lane_min = k;
            self.lane_min_at = lane;
        }
    }

    /// Recomputes the earliest lane front (after that front left).
    #[inline]
    fn find_lane_min(&mut self) {
        self.lane_min = u128::MAX;
        for (i, l) in self.lanes.iter().enumerate() {
            if let Some(&(f, _)) = l.queue.front() {
                if f < self.lane_min {
                    self.lane_min = f;
                    self.lane_min_at = i;
                }
            }
        }
    }

    /// Whether the earliest event is a lane's (else the heap's, if any).
    #[inline]
    fn lane_first(&self) -> bool {
        self.lane_min < self.heap.peek().map_or(u128::MAX, |k| k.0)
    }

    /// Pops the earliest event and advances the clock to it.
    #[inline]
    pub fn pop(&mut self) -> Option<(Nanos, E)> {
        if self.lane_first() {
            let (k, event) = self.lanes[self.lane_min_at].queue.pop_front()?;
            self.find_lane_min();
            self.now = time_of(k);
            self.popped += 1;
            return Some((self.now, event));
        }
        let k = self.heap.pop()?.0;
        self.now = time_of(k);
        self.popped += 1;
        let slot = slot_of(k);
        self.free.push(slot as u32);
        Some((self.now, self.events[slot]))
    }

    /// Time of the earliest pending event.
    pub fn peek_time(&self) -> Option<Nanos> {
        if self.lane_first() {
            Some(time_of(self.lane_min))
        } else {
            self.heap.peek().map(|k| time_of(k.0))
        }
    }

    /// Events popped so far.
    pub fn events(&self) -> u64 {
        self.popped
    }

    pub fn len(&self) -> usize {
        self.heap.len() + self.lanes.iter().map(|l| l.queue.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut c = Calendar::with_capacity(8);
        c.schedule(5, 'a');
        c.schedule(3, 'b');
        c.schedule(5, 'c');
        c.schedule(3, 'd');
        c.schedule(0, 'e');
        let order: Vec<char> = std::iter::from_fn(|| c.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['e', 'b', 'd', 'a', 'c']);
        assert_eq!(c.now(), 5);
        assert_eq!(c.events(), 5);
    }

    /// Lanes and heap together pop in exactly the order one heap would: random schedules
    /// (fixed delays and streams mixed with arbitrary ones, ties included) against a
    /// reference heap.
    #[test]
    fn lanes_keep_the_heap_order() {
        against_one_heap(Calendar::with_capacity(16), 0.9);
    }

    /// Sequence numbers renumbered every ~60 events (not every 4 billion) keep the order too.
    #[test]
    fn renumbering_keeps_the_order() {
        let mut c = Calendar::with_capacity(16);
        c.seq_limit = 60;
        // More pops than schedules: a few dozen pending at a time, renumbered often.
        let c = against_one_heap(c, 0.4);
        assert!(c.renumbers > 100, "renumbered {} times", c.renumbers);
    }

    /// Random schedules, a pop with probability `1 - schedule_share`.
    fn against_one_heap(mut lanes: Calendar<u32>, schedule_share: f64) -> Calendar<u32> {
        let mut rng = models::RandomStream::derive(7, 0, "calendar-test");
        let mut reference = Calendar::with_capacity(16);
        let mut id = 0u32;
        let mut last_of_stream = [0 as Nanos; 2];
        for _ in 0..20_000 {
            let u = rng.next_f64();
            if u < schedule_share / 2.0 {
                let delay = [0, 5, 30, 1_000][(rng.next_f64() * 4.0) as usize];
                lanes.schedule_fixed(delay, id);
                reference.schedule_in(delay, id);
                id += 1;
            } else if u < schedule_share * 2.0 / 3.0 {
                // A stream: its next event after its last one.
                let stream = (rng.next_f64() * 2.0) as usize;
                let at = last_of_stream[stream].max(lanes.now()) + (rng.next_f64() * 50.0) as Nanos;
                last_of_stream[stream] = at;
                lanes.schedule_stream(stream as u32, at, id);
                reference.schedule(at, id);
                id += 1;
            } else if u < schedule_share {
                let delay = (rng.next_f64() * 40.0) as Nanos;
                lanes.schedule_in(delay, id);
                reference.schedule_in(delay, id);
                id += 1;
            } else {
                assert_eq!(lanes.peek_time(), reference.peek_time());
                assert_eq!(lanes.pop(), reference.pop());
            }
            assert_eq!(lanes.len(), reference.len());
        }
        while let Some(e) = reference.pop() {
            assert_eq!(lanes.pop(), Some(e));
        }
        assert!(lanes.is_empty());
        lanes
    }
}
