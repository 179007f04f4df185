//! Dynamic batching on GPUs: requests queue until `max_batch` are waiting or the oldest has
//! waited `max_wait`, then a free GPU serves the whole batch in the batch time for its size.
//! Batch member lists are preallocated per GPU: launching a batch allocates nothing.

use crate::calendar::Nanos;
use crate::model::BatcherModel;
use std::collections::VecDeque;

pub struct Batcher {
    /// Waiting requests with their arrival time.
    queue: VecDeque<(u32, Nanos)>,
    busy: Vec<bool>,
    /// The requests in each GPU's current batch.
    pub members: Vec<Vec<u32>>,
    pub timer_armed: bool,
    pub batches: u64,
    pub batched: u64,
    warmup: Nanos,
}

/// A batch that starts now on `gpu` and ends after `after`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Launch {
    pub gpu: u32,
    pub after: Nanos,
}

impl Batcher {
    pub fn new(m: &BatcherModel, warmup: Nanos) -> Batcher {
        Batcher {
            queue: VecDeque::new(),
            busy: vec![false; m.gpus as usize],
            members: (0..m.gpus)
                .map(|_| Vec::with_capacity(m.max_batch as usize))
                .collect(),
            timer_armed: false,
            batches: 0,
            batched: 0,
            warmup,
        }
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// When the oldest waiting request reaches its `max_wait`.
    pub fn deadline(&self, m: &BatcherModel) -> Option<Nanos> {
        self.queue.front().map(|(_, t)| t + m.max_wait)
    }

    pub fn arrive(&mut self, request: u32, now: Nanos) {
        self.queue.push_back((request, now));
    }

    /// Launches a batch if a GPU is free and the batch is due (full, or the oldest waited
    /// its `max_wait`).
    pub fn try_launch(&mut self, m: &BatcherModel, now: Nanos) -> Option<Launch> {
        let due =
            self.queue.len() >= m.max_batch as usize || self.deadline(m).is_some_and(|d| d <= now);
        if !due {
            return None;
        }
        let gpu = self.busy.iter().position(|b| !b)?;
        let n = self.queue.len().min(m.max_batch as usize);
        let members = &mut self.members[gpu];
        members.clear();
        members.extend(self.queue.drain(..n).map(|(r, _)| r));
        self.busy[gpu] = true;
        if now >= self.warmup {
            self.batches += 1;
            self.batched += n as u64;
        }
        Some(Launch {
            gpu: gpu as u32,
            after: m.time[n],
        })
    }

    pub fn has_idle_gpu(&self) -> bool {
        self.busy.iter().any(|b| !b)
    }

    pub fn finish(&mut self, gpu: u32) {
        self.busy[gpu as usize] = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> BatcherModel {
        BatcherModel {
            name: "t4".into(),
            gpus: 1,
            max_batch: 4,
            max_wait: 10,
            time: vec![0, 30, 34, 38, 42],
        }
    }

    #[test]
    fn launches_when_full_or_when_oldest_waited() {
        let m = model();
        let mut b = Batcher::new(&m, 0);
        for r in 0..3 {
            b.arrive(r, 0);
        }
        assert_eq!(b.try_launch(&m, 5), None, "not full, not due");
        b.arrive(3, 6);
        assert_eq!(b.try_launch(&m, 6), Some(Launch { gpu: 0, after: 42 }));
        assert_eq!(b.members[0], vec![0, 1, 2, 3]);
        b.arrive(4, 7);
        assert_eq!(b.try_launch(&m, 20), None, "the only GPU is busy");
        b.finish(0);
        assert_eq!(b.try_launch(&m, 20), Some(Launch { gpu: 0, after: 30 }));
    }
}
