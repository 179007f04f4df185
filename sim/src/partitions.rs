//! A Kafka consumer group's partitions as first-class queues: one FIFO queue per partition of
//! the topic, the range assignor that gives each consumer (a replica of the group's station) a
//! contiguous range of them, and the eager rebalance that pauses the whole group when its
//! membership changes. A consumer processes one record at a time, taking its partitions in
//! turn; a partition is consumed in order, so it never has two records in process, even while
//! it moves from one consumer to another. The backlog belongs to the partition, not to the
//! consumer: a partition moves with its backlog.
//!
//! This module owns the partition state and its accounting (lag, rebalances); the station
//! ([`crate::station`]) owns the consumers' slots and busy time, and the engine schedules the
//! rebalance's end. Nothing here allocates per record: the queues are ring buffers that grow
//! to the longest backlog seen and stay; only a rebalance (a rare control event) allocates.

use crate::calendar::Nanos;
use crate::model::NONE;
use models::platform::Partitioner;
use std::collections::VecDeque;

/// A consumer group's partition layout, compiled from its topic.
#[derive(Clone, Copy, Debug)]
pub struct GroupConfig {
    pub partitions: u32,
    pub partitioner: Partitioner,
    /// How long the group pauses on a membership change (`kafka.rebalance_time`).
    pub rebalance_time: Nanos,
}

/// What a membership change did to the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rebalance {
    /// The group paused until then; the engine ends the rebalance at that time.
    Until(Nanos),
    /// A rebalance is under way already: the change joins it.
    Joined,
    /// No pause (the group forming before the run, or a zero `rebalance_time`): the caller
    /// assigns the partitions now.
    Now,
}

/// What the group measured after warm-up.
#[derive(Clone, Debug, Default)]
pub struct GroupStats {
    /// Record-nanoseconds of lag (waiting or in process), summed over the partitions.
    pub lag_area: f64,
    /// The largest lag one partition reached.
    pub max_partition_lag: u64,
    pub rebalances: u64,
    /// Nanoseconds paused in rebalances.
    pub rebalance_ns: f64,
}

pub struct Partitions {
    config: GroupConfig,
    /// Per partition: the records waiting, oldest first.
    queues: Vec<VecDeque<u32>>,
    /// Per partition: its consumer (a replica index), [`NONE`] when unassigned.
    owner: Vec<u32>,
    /// Per partition: whether one of its records is in process now.
    in_process: Vec<bool>,
    /// Per partition: no leader (a broker loss): its records wait.
    leaderless: Vec<bool>,
    /// Per replica: its assigned range `[first, end)` and the next partition it looks at.
    ranges: Vec<(u32, u32, u32)>,
    /// Per replica: the partition whose record it processes ([`NONE`] when idle).
    serving: Vec<u32>,
    /// The group is paused in a rebalance (since when).
    paused_since: Option<Nanos>,
    next_partition: u32,
    /// Records in the group (waiting or in process) and since when that count holds.
    lag: u64,
    last_change: Nanos,
    warmup: Nanos,
    pub stats: GroupStats,
}

impl Partitions {
    /// The group as it stands before the run: its first `consumers` replicas assigned.
    pub fn new(config: GroupConfig, consumers: u32, warmup: Nanos) -> Partitions {
        let n = config.partitions as usize;
        let mut p = Partitions {
            config,
            queues: vec![VecDeque::new(); n],
            owner: vec![NONE; n],
            in_process: vec![false; n],
            leaderless: vec![false; n],
            ranges: Vec::new(),
            serving: Vec::new(),
            paused_since: None,
            next_partition: 0,
            lag: 0,
            last_change: 0,
            warmup,
            stats: GroupStats::default(),
        };
        let members: Vec<u32> = (0..consumers).collect();
        p.assign(&members);
        p
    }

    pub fn count(&self) -> u32 {
        self.config.partitions
    }

    /// Records waiting over all partitions.
    pub fn waiting(&self) -> usize {
        self.queues.iter().map(VecDeque::len).sum()
    }

    /// The partition a new record goes to (`draw` gives a uniform index below its argument).
    #[inline]
    pub fn partition_for(&mut self, draw: impl FnOnce(u32) -> u32) -> u32 {
        match self.config.partitioner {
            Partitioner::Hash => draw(self.config.partitions),
            Partitioner::RoundRobin => {
                let p = self.next_partition;
                self.next_partition = (p + 1) % self.config.partitions;
                p
            }
        }
    }

    #[inline]
    fn account(&mut self, now: Nanos) {
        let from = self.last_change.max(self.warmup);
        if now > from {
            self.stats.lag_area += self.lag as f64 * (now - from) as f64;
        }
        self.last_change = now;
    }

    /// A record arrives at partition `p`; returns the consumer that starts it now, if one
    /// may (`idle(replica)`: that consumer has a free slot and takes work), else it waits.
    #[inline]
    pub fn arrive(
        &mut self,
        p: u32,
        request: u32,
        now: Nanos,
        idle: impl Fn(u32) -> bool,
    ) -> Option<u32> {
        self.account(now);
        self.lag += 1;
        let i = p as usize;
        let owner = self.owner[i];
        let startable = self.paused_since.is_none()
            && owner != NONE
            && !self.in_process[i]
            && !self.leaderless[i]
            && self.queues[i].is_empty()
            && idle(owner);
        if startable {
            self.in_process[i] = true;
            self.serving[owner as usize] = p;
        } else {
            self.queues[i].push_back(request);
        }
        if now >= self.warmup {
            let lag = self.queues[i].len() as u64 + u64::from(self.in_process[i]);
            self.stats.max_partition_lag = self.stats.max_partition_lag.max(lag);
        }
        startable.then_some(owner)
    }

    /// Consumer `replica` finished its record. Returns the partition it served (whose new
    /// owner may now take it up, if the record moved in a rebalance meanwhile).
    #[inline]
    pub fn finish(&mut self, replica: u32, now: Nanos) -> u32 {
        self.account(now);
        self.lag = self.lag.saturating_sub(1);
        let p = std::mem::replace(&mut self.serving[replica as usize], NONE);
        if p != NONE {
            self.in_process[p as usize] = false;
        }
        p
    }

    /// The next record consumer `replica` takes from its partitions (round robin over them,
    /// in order within each), if the group is not paused.
    #[inline]
    pub fn next_for(&mut self, replica: u32) -> Option<u32> {
        if self.paused_since.is_some() {
            return None;
        }
        let (first, end, cursor) = *self.ranges.get(replica as usize)?;
        let len = end - first;
        for k in 0..len {
            let p = first + (cursor - first + k) % len;
            let i = p as usize;
            if self.in_process[i] || self.leaderless[i] || self.owner[i] != replica {
                continue;
            }
            if let Some(r) = self.queues[i].pop_front() {
                self.in_process[i] = true;
                self.serving[replica as usize] = p;
                self.ranges[replica as usize].2 = if p + 1 == end { first } else { p + 1 };
                return Some(r);
            }
        }
        None
    }

    /// The consumer partition `p` is assigned to ([`NONE`] when none).
    pub fn owner(&self, p: u32) -> u32 {
        self.owner[p as usize]
    }

    /// The group's membership changed at `now`: Kafka's eager rebalance revokes every
    /// partition and the whole group stops until it is over. A change during a rebalance
    /// joins it (one generation). Before the run (`now` = 0) the group just forms.
    pub fn begin_rebalance(&mut self, now: Nanos) -> Rebalance {
        if self.paused_since.is_some() {
            return Rebalance::Joined;
        }
        if now == 0 || self.config.rebalance_time == 0 {
            if now >= self.warmup && now > 0 {
                self.stats.rebalances += 1;
            }
            return Rebalance::Now;
        }
        if now >= self.warmup {
            self.stats.rebalances += 1;
        }
        self.paused_since = Some(now);
        Rebalance::Until(now + self.config.rebalance_time)
    }

    /// The rebalance is over: the range assignor over `members` (the ready consumers) gives
    /// each a contiguous range, in order of their ids; the group goes on.
    pub fn end_rebalance(&mut self, members: &[u32], now: Nanos) {
        if let Some(since) = self.paused_since.take() {
            let from = since.max(self.warmup);
            if now > from {
                self.stats.rebalance_ns += (now - from) as f64;
            }
        }
        self.assign(members);
    }

    /// Kafka's `RangeAssignor`: consumers sorted, partitions in order, each consumer
    /// `partitions / n` of them and the first `partitions % n` one more.
    fn assign(&mut self, members: &[u32]) {
        let mut sorted = members.to_vec();
        sorted.sort_unstable();
        let top = sorted.last().map_or(0, |m| *m as usize + 1);
        if self.ranges.len() < top {
            self.ranges.resize(top, (0, 0, 0));
            self.serving.resize(top, NONE);
        }
        for r in &mut self.ranges {
            *r = (0, 0, 0);
        }
        self.owner.fill(NONE);
        let n = sorted.len() as u32;
        if n == 0 {
            return;
        }
        let (each, extra) = (self.config.partitions / n, self.config.partitions % n);
        let mut first = 0;
        for (k, m) in sorted.iter().enumerate() {
            let len = each + u32::from((k as u32) < extra);
            self.ranges[*m as usize] = (first, first + len, first);
            for p in first..first + len {
                self.owner[p as usize] = *m;
            }
            first += len;
        }
    }

    /// Sets whether partition `p` has a leader (a broker loss and its election).
    pub fn set_leaderless(&mut self, p: u32, leaderless: bool) {
        self.leaderless[p as usize] = leaderless;
    }

    /// Every record waiting, removed (the group's service went down).
    pub fn drain(&mut self, out: &mut Vec<u32>, now: Nanos) {
        self.account(now);
        for q in &mut self.queues {
            self.lag = self.lag.saturating_sub(q.len() as u64);
            out.extend(q.drain(..));
        }
    }

    /// Brings the lag and pause accounts up to `now` (a timeline tick, the run's end).
    pub fn account_to(&mut self, now: Nanos) {
        self.account(now);
        if let Some(since) = self.paused_since {
            let from = since.max(self.warmup);
            if now > from {
                self.stats.rebalance_ns += (now - from) as f64;
            }
            self.paused_since = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(partitions: u32, consumers: u32) -> Partitions {
        Partitions::new(
            GroupConfig {
                partitions,
                partitioner: Partitioner::RoundRobin,
                rebalance_time: 3_000_000_000,
            },
            consumers,
            0,
        )
    }

    #[test]
    fn the_range_assignor_gives_the_first_consumers_one_more() {
        // Kafka's RangeAssignor javadoc: 3 partitions over 2 consumers: C0 [p0, p1], C1 [p2].
        let g = group(3, 2);
        assert_eq!([g.owner(0), g.owner(1), g.owner(2)], [0, 0, 1]);
        // 7 over 3: 3, 2, 2.
        let g = group(7, 3);
        let owners: Vec<u32> = (0..7).map(|p| g.owner(p)).collect();
        assert_eq!(owners, [0, 0, 0, 1, 1, 2, 2]);
        // More consumers than partitions: the last ones get none.
        let g = group(2, 3);
        assert_eq!([g.owner(0), g.owner(1)], [0, 1]);
    }

    #[test]
    fn a_partition_moves_with_its_backlog_and_keeps_its_order() {
        // 2 partitions, 1 consumer (0) holds both. Records 10, 11 to p0, p1 (round robin):
        // 10 starts, 11 waits on p1; 12 waits on p0.
        let mut g = group(2, 1);
        let idle = |_| true;
        assert_eq!(g.arrive(0, 10, 1, idle), Some(0));
        assert_eq!(g.arrive(1, 11, 1, |_| false), None);
        assert_eq!(g.arrive(0, 12, 1, |_| false), None);
        // Consumer 1 joins: the group pauses; nothing starts meanwhile.
        assert_eq!(g.begin_rebalance(5), Rebalance::Until(5 + 3_000_000_000));
        assert_eq!(g.finish(0, 6), 0);
        assert_eq!(g.next_for(0), None, "paused");
        g.end_rebalance(&[1, 0], 3_000_000_005);
        // p0 stays with consumer 0 with its record 12; p1 moved to consumer 1 with 11.
        assert_eq!(g.next_for(1), Some(11));
        assert_eq!(g.next_for(0), Some(12));
        assert_eq!(g.stats.rebalances, 1);
        assert_eq!(g.stats.rebalance_ns, 3e9);
    }
}
