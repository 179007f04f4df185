//! The event calendar: future events in a total, deterministic order — by time, then by the
//! order they were scheduled (a sequence number), so two events at the same nanosecond always
//! happen in the order they were put in, on every machine.
//!
//! Two stores keep that one order. Most events go to a binary heap. Events scheduled a *fixed*
//! delay ahead (client timeouts: every journey of a kind gets the same one) go to a FIFO lane
//! per delay: the clock only moves forward, so `now + delay` is non-decreasing within a lane
//! and its front is its earliest. At 10,000 req/s with 30 s timeouts that keeps ~300,000
//! deadlines out of the heap, which then holds only the few thousand events in flight; a pop
//! compares the heap's top with each lane's front (a handful of lanes) by `(time, sequence)`.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Simulated time in integer nanoseconds since the start of the run.
pub type Nanos = u64;

struct Entry<E> {
    /// `time << 64 | seq`: one integer comparison orders by time, then sequence.
    key: u128,
    event: E,
}

impl<E> Entry<E> {
    #[inline]
    fn new(time: Nanos, seq: u64, event: E) -> Self {
        Entry {
            key: (u128::from(time) << 64) | u128::from(seq),
            event,
        }
    }

    #[inline]
    fn time(&self) -> Nanos {
        (self.key >> 64) as Nanos
    }
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, o: &Self) -> bool {
        self.key == o.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl<E> Ord for Entry<E> {
    // Reversed: BinaryHeap is a max-heap and the calendar pops the earliest.
    fn cmp(&self, o: &Self) -> Ordering {
        o.key.cmp(&self.key)
    }
}

/// Events `delay` apart from when they were scheduled, in scheduling order.
struct Lane<E> {
    delay: Nanos,
    queue: VecDeque<Entry<E>>,
}

/// A min-priority queue of events keyed by `(time, sequence)`.
pub struct Calendar<E> {
    heap: BinaryHeap<Entry<E>>,
    /// FIFO lanes of fixed-delay events, one per distinct delay (see the module docs).
    lanes: Vec<Lane<E>>,
    seq: u64,
    now: Nanos,
    popped: u64,
}

impl<E> Calendar<E> {
    pub fn with_capacity(n: usize) -> Self {
        Calendar {
            heap: BinaryHeap::with_capacity(n),
            lanes: Vec::new(),
            seq: 0,
            now: 0,
            popped: 0,
        }
    }

    /// The current simulated time (the time of the last event popped).
    #[inline]
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Schedules `event` at absolute time `at` (never before now).
    #[inline]
    pub fn schedule(&mut self, at: Nanos, event: E) {
        debug_assert!(at >= self.now, "an event may not be scheduled in the past");
        self.seq += 1;
        self.heap.push(Entry::new(at, self.seq, event));
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
        self.seq += 1;
        let entry = Entry::new(self.now.saturating_add(delay), self.seq, event);
        match self.lanes.iter_mut().find(|l| l.delay == delay) {
            Some(lane) => lane.queue.push_back(entry),
            None => self.lanes.push(Lane {
                delay,
                queue: VecDeque::from([entry]),
            }),
        }
    }

    /// The lane whose front comes before the heap's top, if any.
    #[inline]
    fn earliest_lane(&self) -> Option<usize> {
        let mut best = self.heap.peek().map_or(u128::MAX, |e| e.key);
        let mut lane = None;
        for (i, l) in self.lanes.iter().enumerate() {
            if let Some(f) = l.queue.front() {
                if f.key < best {
                    best = f.key;
                    lane = Some(i);
                }
            }
        }
        lane
    }

    /// Pops the earliest event and advances the clock to it.
    #[inline]
    pub fn pop(&mut self) -> Option<(Nanos, E)> {
        let e = match self.earliest_lane() {
            Some(i) => self.lanes[i].queue.pop_front()?,
            None => self.heap.pop()?,
        };
        self.now = e.time();
        self.popped += 1;
        Some((self.now, e.event))
    }

    /// Time of the earliest pending event.
    pub fn peek_time(&self) -> Option<Nanos> {
        match self.earliest_lane() {
            Some(i) => self.lanes[i].queue.front().map(Entry::time),
            None => self.heap.peek().map(Entry::time),
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
    /// (fixed delays mixed with arbitrary ones, ties included) against a reference heap.
    #[test]
    fn lanes_keep_the_heap_order() {
        let mut rng = models::RandomStream::derive(7, 0, "calendar-test");
        let mut lanes = Calendar::with_capacity(16);
        let mut reference = Calendar::with_capacity(16);
        let mut id = 0u32;
        for _ in 0..20_000 {
            let u = rng.next_f64();
            if u < 0.45 {
                let delay = [0, 5, 30, 1_000][(rng.next_f64() * 4.0) as usize];
                lanes.schedule_fixed(delay, id);
                reference.schedule_in(delay, id);
                id += 1;
            } else if u < 0.9 {
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
    }
}
