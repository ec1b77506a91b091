//! The decomposition: a coarse key per citizen, and the cutting of a key-ordered population
//! into independent blocks.
//!
//! The same [`BlockCutter`] drives [`crate::group`] (over a population it sorted itself) and
//! [`crate::BlockStream`] (over citizens pushed in key order), so both cut identical blocks.

use rayon::prelude::*;

use crate::types::{Bounds, Options, Profiles};
use crate::vector;

/// The coarse key of a profile: its two dominant interests, as `first·dims + second`.
///
/// Citizens with the same key share their two main interests; sorting by it puts citizens
/// whose main interest is the same next to each other, and within those, the ones whose
/// second interest is the same. For one-dimensional profiles the key is 0.
#[inline]
pub fn coarse_key(profile: &[f32]) -> u32 {
    let dims = profile.len() as u32;
    let [first, second, _] = vector::top3(profile);
    if dims < 2 { 0 } else { first * dims + second }
}

pub(crate) fn key_of(profile: &[f32], key_dims: usize) -> u32 {
    if key_dims == 0 || key_dims >= profile.len() { coarse_key(profile) } else { coarse_key(&profile[..key_dims]) }
}

/// Block sizes actually used for `bounds`: the target is raised to a size that always
/// splits exactly (so that no block but a last, merged one can leave anyone out), and the
/// maximum to at least `target + max_size` (so one citizen never closes two blocks).
pub(crate) fn block_limits(bounds: Bounds, options: &Options) -> (u64, u64) {
    let floor = bounds.always_exact_from().unwrap_or(0).max(u64::from(bounds.max_size));
    let target = u64::from(options.block_target).max(floor).max(1);
    let max = u64::from(options.block_max).max(target + u64::from(bounds.max_size));
    (target, max)
}

/// Cuts a stream of coarse keys (in non-decreasing order) into blocks.
///
/// Rules, applied citizen by citizen:
/// 1. an open block that holds at least `target` citizens closes when the key changes;
/// 2. an open block closes when it reaches `max` citizens, even inside one key;
/// 3. a closing block keeps [`Bounds::most_groupable`] of its citizens (all of them unless
///    `min_size == max_size`); the rest are carried into the next block, so no block but
///    the last leaves anyone out;
/// 4. at the end, a remainder smaller than `target/2`, or one that does not split exactly,
///    is merged into the last closed block (so tails of rare keys are not grouped alone).
#[derive(Clone, Debug)]
pub(crate) struct BlockCutter {
    bounds: Bounds,
    target: u64,
    max: u64,
    open: u64,
    key: Option<u32>,
}

impl BlockCutter {
    pub(crate) fn new(bounds: Bounds, options: &Options) -> BlockCutter {
        let (target, max) = block_limits(bounds, options);
        BlockCutter { bounds, target, max, open: 0, key: None }
    }

    /// Account for one more citizen with `key`. Returns the length of a block that closes
    /// *before* this citizen (the first that many citizens of the open block), if one does.
    pub(crate) fn push(&mut self, key: u32) -> Option<u64> {
        let mut closed = None;
        if self.open >= self.target && self.key != Some(key) {
            closed = self.close();
        }
        self.key = Some(key);
        self.open += 1;
        closed
    }

    /// After a push: a block that reached `max` closes, this citizen included.
    pub(crate) fn take_full(&mut self) -> Option<u64> {
        if self.open >= self.max { self.close() } else { None }
    }

    fn close(&mut self) -> Option<u64> {
        let keep = self.bounds.most_groupable(self.open);
        if keep == 0 {
            return None;
        }
        self.open -= keep;
        Some(keep)
    }

    /// The citizens still open at the end, and whether they should be merged into the
    /// last closed block (if there is one).
    pub(crate) fn finish(&self) -> (u64, bool) {
        let rest = self.open;
        let merge = rest > 0 && (rest < self.target / 2 || !self.bounds.is_exact(rest));
        (rest, merge)
    }
}

/// One block of a plan: positions `start..start+len` of the plan's order, grouped into
/// ids `first_group..first_group+groups`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockSpan {
    pub start: u64,
    pub len: u64,
    pub first_group: u32,
    pub groups: u32,
}

/// Block lengths for a key sequence, by the rules of [`BlockCutter`].
pub(crate) fn cut_blocks(keys: impl Iterator<Item = u32>, bounds: Bounds, options: &Options) -> Vec<u64> {
    let mut cutter = BlockCutter::new(bounds, options);
    let mut lengths = Vec::new();
    for key in keys {
        if let Some(len) = cutter.push(key) {
            lengths.push(len);
        }
        if let Some(len) = cutter.take_full() {
            lengths.push(len);
        }
    }
    let (rest, merge) = cutter.finish();
    if rest > 0 {
        match lengths.last_mut() {
            Some(last) if merge => *last += rest,
            _ => lengths.push(rest),
        }
    }
    lengths
}

/// Spans (with group ids) for block lengths.
pub(crate) fn spans(lengths: &[u64], bounds: Bounds, options: &Options) -> Vec<BlockSpan> {
    let target = options.target_for(bounds);
    let mut start = 0u64;
    let mut first_group = 0u64;
    lengths
        .iter()
        .map(|&len| {
            let groups = bounds.groups_for(len, target);
            let span = BlockSpan {
                start,
                len,
                first_group: u32::try_from(first_group).expect("more than 4 billion groups"),
                groups,
            };
            start += len;
            first_group += u64::from(groups);
            span
        })
        .collect()
}

/// How [`crate::group`] splits a population: the citizens in coarse-key order and the
/// blocks of that order.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Citizens sorted by (coarse key, citizen id).
    pub order: Vec<u32>,
    pub blocks: Vec<BlockSpan>,
}

impl Plan {
    pub fn groups(&self) -> u32 {
        self.blocks.last().map_or(0, |b| b.first_group + b.groups)
    }
}

/// Sort the population by coarse key and cut it into blocks (the first phase of
/// [`crate::group`], exposed so that callers can time it or inspect the blocks).
pub fn plan(profiles: Profiles, bounds: Bounds, options: &Options) -> Plan {
    bounds.validate().expect("invalid bounds");
    let n = profiles.len();
    let keys: Vec<u32> =
        (0..n).into_par_iter().with_min_len(1 << 14).map(|i| key_of(profiles.row(i), options.key_dims)).collect();
    let key_dims = if options.key_dims == 0 { profiles.dims() } else { options.key_dims.min(profiles.dims()) };
    let classes = key_dims * key_dims;
    // Sorted by (key, citizen): a counting sort over the key classes when they are few,
    // a comparison sort of distinct (key, citizen) pairs otherwise — the same order.
    let order: Vec<u32> = if classes <= 1 << 20 {
        let mut starts = vec![0u32; classes + 1];
        for &key in &keys {
            starts[key as usize + 1] += 1;
        }
        for class in 0..classes {
            starts[class + 1] += starts[class];
        }
        let mut order = vec![0u32; n];
        for (citizen, &key) in keys.iter().enumerate() {
            order[starts[key as usize] as usize] = citizen as u32;
            starts[key as usize] += 1;
        }
        order
    } else {
        let mut keyed: Vec<u64> =
            keys.par_iter().enumerate().map(|(citizen, &key)| (u64::from(key) << 32) | citizen as u64).collect();
        keyed.par_sort_unstable();
        keyed.into_iter().map(|k| k as u32).collect()
    };
    let lengths = cut_blocks(order.iter().map(|&citizen| keys[citizen as usize]), bounds, options);
    Plan { order, blocks: spans(&lengths, bounds, options) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(target: u32, max: u32) -> Options {
        Options { block_target: target, block_max: max, ..Options::default() }
    }

    #[test]
    fn coarse_key_is_the_ordered_pair_of_top_interests() {
        assert_eq!(coarse_key(&[0.1, 0.6, 0.3]), 3 + 2);
        assert_eq!(coarse_key(&[0.6, 0.1, 0.3]), 2);
        assert_eq!(coarse_key(&[7.0]), 0);
        assert_eq!(key_of(&[0.1, 0.6, 0.3, 9.0], 3), 5);
    }

    #[test]
    fn blocks_close_on_key_change_after_target() {
        let bounds = Bounds::default();
        // keys: 600 of key 0, 300 of key 1, 500 of key 2; target 400 (≥ 400 always exact).
        let keys = std::iter::repeat_n(0, 600).chain(std::iter::repeat_n(1, 300)).chain(std::iter::repeat_n(2, 500));
        assert_eq!(cut_blocks(keys, bounds, &options(400, 10_000)), vec![600, 800]);
    }

    #[test]
    fn blocks_cut_inside_a_key_at_max() {
        let bounds = Bounds::default();
        let keys = std::iter::repeat_n(5, 2500);
        assert_eq!(cut_blocks(keys, bounds, &options(400, 1000)), vec![1000, 1000, 500]);
        // A maximum below target + max_size is raised to it.
        let keys = std::iter::repeat_n(5, 2500);
        assert_eq!(cut_blocks(keys, bounds, &options(400, 500)), vec![700, 700, 700, 400]);
    }

    #[test]
    fn a_small_tail_merges_into_the_last_block() {
        let bounds = Bounds::default();
        let keys = std::iter::repeat_n(0, 1000).chain(std::iter::repeat_n(1, 150));
        assert_eq!(cut_blocks(keys, bounds, &options(400, 10_000)), vec![1150]);
    }

    #[test]
    fn equal_bounds_carry_the_remainder_forward() {
        let bounds = Bounds::new(10, 10).unwrap();
        let keys = std::iter::repeat_n(0, 25).chain(std::iter::repeat_n(1, 27)).chain(std::iter::repeat_n(2, 30));
        // Target 10: 25 close at the first key change keeping 20 and carrying 5; 32 close at
        // the next keeping 30 and carrying 2; the last 32 do not split exactly and merge.
        let lengths = cut_blocks(keys, bounds, &options(10, 1000));
        assert_eq!(lengths, vec![20, 62]);
        // Only the unavoidable 82 mod 10 citizens are left out.
        let kept: u64 = lengths.iter().map(|&l| bounds.most_groupable(l)).sum();
        assert_eq!(82 - kept, 2);
    }

    #[test]
    fn population_below_min_is_one_block_without_groups() {
        let bounds = Bounds::default();
        let lengths = cut_blocks(std::iter::repeat_n(0, 150), bounds, &options(400, 1000));
        assert_eq!(lengths, vec![150]);
        let spans = spans(&lengths, bounds, &Options::default());
        assert_eq!(spans[0].groups, 0);
    }

    #[test]
    fn spans_number_groups_consecutively() {
        let bounds = Bounds::default();
        let spans = spans(&[1000, 500, 700], bounds, &Options::default());
        assert_eq!(
            spans.iter().map(|s| (s.start, s.first_group, s.groups)).collect::<Vec<_>>(),
            vec![(0, 0, 4), (1000, 4, 2), (1500, 6, 3)]
        );
    }
}
