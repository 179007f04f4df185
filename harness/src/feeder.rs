//! Which row of a journey's `feed:` ([`models::feed`]) an arrival gets: row `seq mod rows` in
//! file order (`sequential`), or one drawn from a stream derived from the seed, the shard and
//! the arrival (`random`), so a run's rows are the same from run to run whatever the timing.

use models::feed::{Feed, FeedOrder};
use models::random::RandomStream;

/// A feed ready for the load: its columns and rows, shared by every journey of a plan.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedPlan {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    pub order: FeedOrder,
}

impl FeedPlan {
    pub fn new(feed: &Feed) -> FeedPlan {
        FeedPlan {
            columns: feed.columns.clone(),
            rows: feed.rows.clone(),
            order: feed.order,
        }
    }

    /// The row of arrival `seq` of shard `shard`.
    pub fn row(&self, seed: u64, shard: u32, seq: u64) -> &[String] {
        let n = self.rows.len();
        if n == 0 {
            return &[];
        }
        let i = match self.order {
            FeedOrder::Sequential => (seq % n as u64) as usize,
            FeedOrder::Random => {
                let mut g = RandomStream::derive(seed, shard, &format!("load/feed/{seq}"));
                ((g.next_f64() * n as f64) as usize).min(n - 1)
            }
        };
        &self.rows[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(order: FeedOrder) -> FeedPlan {
        FeedPlan {
            columns: vec!["id".into()],
            rows: (0..4).map(|i| vec![i.to_string()]).collect(),
            order,
        }
    }

    #[test]
    fn sequential_wraps_and_random_is_repeatable() {
        let p = plan(FeedOrder::Sequential);
        let ids: Vec<&str> = (0..6).map(|s| p.row(1, 0, s)[0].as_str()).collect();
        assert_eq!(ids, ["0", "1", "2", "3", "0", "1"]);
        let r = plan(FeedOrder::Random);
        let a: Vec<String> = (0..200).map(|s| r.row(7, 0, s)[0].clone()).collect();
        let b: Vec<String> = (0..200).map(|s| r.row(7, 0, s)[0].clone()).collect();
        assert_eq!(a, b, "same seed, same rows");
        // Every row is drawn: 200 draws miss one of 4 rows with probability 4 (3/4)^200 < 1e-24.
        for i in 0..4 {
            assert!(a.contains(&i.to_string()), "row {i} drawn");
        }
    }
}
