//! Splitting one run between workers and between generators: which
//! arrivals of a schedule each worker takes ([`Slice`]), which share of the
//! run and which block of the identifier pool each `--shard i/n` generator
//! owns ([`Shard`]).
//!
//! A [`Slice`] is "every `stride`-th arrival starting at `offset`". Worker
//! `w` of `W` in shard `i` of `n` takes `offset = i + n·w`, `stride = n·W`:
//! the slices of all workers of all shards are disjoint and together hold
//! every arrival exactly once, so the total is exact and each share is
//! spread evenly over time. Pure arithmetic: no clock, no I/O.

use std::fmt;
use std::ops::Range;

/// A `--shard` that is not `i/n` with `0 <= i < n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardError {
    pub input: String,
    pub reason: &'static str,
}

impl fmt::Display for ShardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid shard {:?}: {} (expected i/n with 0 <= i < n, e.g. 0/4)",
            self.input, self.reason
        )
    }
}

impl std::error::Error for ShardError {}

/// Every `stride`-th arrival, starting at arrival `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slice {
    pub offset: u64,
    pub stride: u64,
}

impl Slice {
    /// All arrivals.
    pub const WHOLE: Slice = Slice {
        offset: 0,
        stride: 1,
    };

    /// Worker `worker` of `workers` in `shard`: disjoint from every other
    /// worker of every shard, and all of them together are the whole.
    pub fn worker(shard: Shard, workers: u32, worker: u32) -> Slice {
        assert!(worker < workers, "worker {worker} of {workers}");
        Slice {
            offset: u64::from(shard.index) + u64::from(shard.count) * u64::from(worker),
            stride: u64::from(shard.count) * u64::from(workers),
        }
    }
}

/// One of `count` generators sharing a run (`--shard index/count`,
/// counting from 0 like a Kubernetes Indexed Job's completion index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// A generator running alone.
    pub const ALONE: Shard = Shard { index: 0, count: 1 };

    /// Reads `i/n`.
    pub fn parse(input: &str) -> Result<Shard, ShardError> {
        let error = |reason| ShardError {
            input: input.to_string(),
            reason,
        };
        let (index, count) = input.trim().split_once('/').ok_or(error("no '/'"))?;
        let index: u32 = index
            .parse()
            .map_err(|_| error("i is not a whole number"))?;
        let count: u32 = count
            .parse()
            .map_err(|_| error("n is not a whole number"))?;
        if count == 0 {
            return Err(error("n must be at least 1"));
        }
        if index >= count {
            return Err(error("i must be less than n (shards count from 0)"));
        }
        Ok(Shard { index, count })
    }

    /// This shard's block of an identifier pool of `pool` entries: blocks
    /// of the `count` shards are disjoint, cover `0..pool` and differ in
    /// size by at most one.
    pub fn pool_range(&self, pool: u64) -> Range<u64> {
        let at = |i: u32| (u128::from(pool) * u128::from(i) / u128::from(self.count)) as u64;
        at(self.index)..at(self.index + 1)
    }

    /// This shard's part of a whole that is split as evenly as can be
    /// (closed-model connections, say).
    pub fn share(&self, total: u64) -> u64 {
        split_count(total, u64::from(self.count), u64::from(self.index))
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Part `index` of `total` split into `parts` as evenly as can be: the
/// first `total % parts` parts get one more.
pub fn split_count(total: u64, parts: u64, index: u64) -> u64 {
    assert!(index < parts, "part {index} of {parts}");
    total / parts + u64::from(index < total % parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::schedule::OpenModel;
    use proptest::prelude::*;
    use std::time::Duration;

    #[test]
    fn shards_read_i_of_n_from_zero() {
        assert_eq!(Shard::parse("0/4"), Ok(Shard { index: 0, count: 4 }));
        assert_eq!(Shard::parse("3/4").unwrap().to_string(), "3/4");
        for bad in ["4/4", "1/0", "1", "a/2", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn split_count_hands_out_the_remainder_first() {
        let parts: Vec<u64> = (0..4).map(|i| split_count(10, 4, i)).collect();
        assert_eq!(parts, [3, 3, 2, 2]);
    }

    proptest! {
        #[test]
        fn slices_of_all_shards_and_workers_partition_the_arrivals(
            rate in 1.0f64..400.0,
            millis in 100u64..3000,
            shards in 1u32..5,
            workers in 1u32..5,
        ) {
            let model = OpenModel::constant(rate, Duration::from_millis(millis)).unwrap();
            let mut seen = vec![0u8; model.total_arrivals() as usize];
            for index in 0..shards {
                let shard = Shard { index, count: shards };
                for worker in 0..workers {
                    let mut last = Duration::ZERO;
                    for (k, t) in model.arrivals(Slice::worker(shard, workers, worker)) {
                        seen[k as usize] += 1;
                        prop_assert!(t >= last, "times go forward");
                        prop_assert_eq!(Some(t), model.arrival_time(k));
                        last = t;
                    }
                }
            }
            prop_assert!(seen.iter().all(|&n| n == 1), "every arrival exactly once");
        }

        #[test]
        fn shard_pool_ranges_are_disjoint_and_cover_the_pool(
            pool in 0u64..100_000,
            count in 1u32..64,
        ) {
            let mut next = 0;
            for index in 0..count {
                let range = Shard { index, count }.pool_range(pool);
                prop_assert_eq!(range.start, next, "contiguous, no overlap");
                prop_assert!(range.end - range.start <= pool / u64::from(count) + 1);
                next = range.end;
            }
            prop_assert_eq!(next, pool);
        }

    }
}
