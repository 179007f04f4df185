//! A fast front for an HDR histogram on the engine's per-event path. `hdrhistogram`'s
//! `record` costs about 60 instructions (an `Option` index, min/max upkeep, a saturating total,
//! a resize check); the engine records two or three latencies a customer. A [`Tally`] keeps the
//! same buckets as its histogram (the index arithmetic of HdrHistogram for its lowest value of
//! 1 and its significant digits) in a plain array, counts into it, and [`Tally::flush_into`]
//! adds the counts to the histogram, one `record_n` of each bucket's lowest value. Every
//! value in a bucket is equivalent to the histogram, so the result is the histogram that
//! recording each value would have made: the same counts, total, min and max, hence the same
//! percentiles and mean (tested against direct recording below).

use hdrhistogram::Histogram;

pub struct Tally {
    counts: Vec<u64>,
    /// The touched index range (`lo > hi` when empty), so a flush walks only that.
    lo: usize,
    hi: usize,
    /// HdrHistogram's `leading_zero_count_base`, `sub_bucket_mask` and
    /// `sub_bucket_half_count_magnitude` for a lowest discernible value of 1.
    zero_base: u32,
    mask: u64,
    half_magnitude: u32,
}

impl Tally {
    /// A tally for `h`, whose lowest discernible value must be 1 (the engine's histograms).
    pub fn for_histogram(h: &Histogram<u64>) -> Tally {
        debug_assert_eq!(
            h.low(),
            1,
            "a tally needs a histogram whose lowest value is 1"
        );
        // As HdrHistogram sizes its sub-buckets: enough for single-unit resolution up to
        // 2 x 10^digits.
        let single_unit = 2 * 10u64.pow(u32::from(h.sigfig()));
        let magnitude = 64 - (single_unit - 1).leading_zeros();
        let mut t = Tally {
            counts: Vec::new(),
            lo: usize::MAX,
            hi: 0,
            zero_base: 64 - magnitude,
            mask: (1u64 << magnitude) - 1,
            half_magnitude: magnitude - 1,
        };
        t.counts = vec![0; t.index(h.high()) + 1];
        t
    }

    /// HdrHistogram's `index_for` (with a unit magnitude of 0).
    #[inline]
    fn index(&self, value: u64) -> usize {
        let bucket = self.zero_base - (value | self.mask).leading_zeros();
        let sub = (value >> bucket) as usize;
        ((bucket as usize + 1) << self.half_magnitude) + sub - (1 << self.half_magnitude)
    }

    /// HdrHistogram's `value_for`: the lowest value of the bucket at `index`.
    fn value(&self, index: usize) -> u64 {
        let half = 1usize << self.half_magnitude;
        let bucket = (index >> self.half_magnitude) as i64 - 1;
        let sub = (index & (half - 1)) + half;
        if bucket < 0 {
            (sub - half) as u64
        } else {
            (sub as u64) << bucket
        }
    }

    /// Counts `value`, which must lie within the histogram's range (callers clamp).
    #[inline]
    pub fn record(&mut self, value: u64) {
        let i = self.index(value);
        if let Some(c) = self.counts.get_mut(i) {
            *c += 1;
            self.lo = self.lo.min(i);
            self.hi = self.hi.max(i);
        }
    }

    /// Adds the counts to `h` and clears them.
    pub fn flush_into(&mut self, h: &mut Histogram<u64>) {
        if self.lo > self.hi {
            return;
        }
        for i in self.lo..=self.hi {
            let n = std::mem::take(&mut self.counts[i]);
            if n > 0 {
                // In range by construction, so recording cannot fail.
                let _ = h.record_n(self.value(i), n);
            }
        }
        self.lo = usize::MAX;
        self.hi = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{latency_histogram, window_histogram, MAX_US};

    /// Values over the whole range (1 us to 10^11 us, log-uniform, plus the edges), counted by
    /// a tally and flushed, make the histogram that recording them one by one makes.
    #[test]
    fn a_flushed_tally_is_the_directly_recorded_histogram() {
        let mut rng = models::RandomStream::derive(3, 0, "tally-test");
        for make in [latency_histogram, window_histogram] {
            let mut direct = make();
            let mut tallied = make();
            let mut tally = Tally::for_histogram(&tallied);
            for round in 0..3 {
                let mut values = vec![1, 2, 1023, 1024, 2047, 2048, 2049, MAX_US];
                for _ in 0..20_000 {
                    let v = (rng.next_f64() * (MAX_US as f64).ln()).exp() as u64;
                    values.push(v.clamp(1, MAX_US));
                }
                for v in values {
                    let _ = direct.record(v);
                    tally.record(v);
                }
                // Flushed more than once: counts add up, nothing is counted twice.
                tally.flush_into(&mut tallied);
                assert!(tallied == direct, "round {round}");
                assert_eq!(tallied.len(), direct.len());
                assert_eq!(tallied.max(), direct.max());
                assert_eq!(tallied.min(), direct.min());
                assert_eq!(tallied.mean(), direct.mean());
                for q in [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                    assert_eq!(
                        tallied.value_at_quantile(q),
                        direct.value_at_quantile(q),
                        "q {q}"
                    );
                }
            }
        }
    }
}
