//! One block, start to finish: unit rows → seed tree → trim (when the block does not split
//! exactly) → refinement → global group ids.

use rayon::prelude::*;

use crate::plan::{self, Plan};
use crate::refine;
use crate::tree;
use crate::types::{Bounds, Grouping, GroupingStats, Options, Profiles};
use crate::vector::{dot, normalize_into, unit_of_sum};
use crate::{NO_GROUP, vector};

/// The grouping of one block of citizens.
#[derive(Clone, Debug, PartialEq)]
pub struct BlockGrouping {
    /// For each row of the block, its global group id (`first_group..first_group+groups`)
    /// or [`NO_GROUP`].
    pub group_of: Vec<u32>,
    /// Groups formed; ids `first_group..first_group+groups`.
    pub groups: u32,
    pub stats: GroupingStats,
}

/// Group one block of citizens on its own, numbering its groups from `first_group`.
///
/// This is what [`crate::group`] does to each block of its plan: a caller whose population
/// is generated in coarse-key order can call it block by block (or use
/// [`crate::BlockStream`], which also cuts the blocks) and never hold more than a block.
/// The number of groups is known before grouping: [`groups_in_block`].
pub fn group_block(profiles: Profiles, bounds: Bounds, options: &Options, first_group: u32) -> BlockGrouping {
    bounds.validate().expect("invalid bounds");
    let dims = profiles.dims();
    let mut rows = vec![0f32; profiles.values().len()];
    rows.par_chunks_mut(dims * 4096).enumerate().for_each(|(chunk, out)| {
        for (offset, unit) in out.chunks_exact_mut(dims).enumerate() {
            normalize_into(profiles.row(chunk * 4096 + offset), unit);
        }
    });
    group_unit_rows(rows, dims, bounds, options, first_group)
}

/// Number of groups [`group_block`] forms from `citizens` citizens.
pub fn groups_in_block(citizens: u64, bounds: Bounds, options: &Options) -> u32 {
    bounds.groups_for(citizens, options.target_for(bounds))
}

pub(crate) fn group_unit_rows(
    rows: Vec<f32>,
    dims: usize,
    bounds: Bounds,
    options: &Options,
    first_group: u32,
) -> BlockGrouping {
    let m = rows.len() / dims;
    let groups = groups_in_block(m as u64, bounds, options);
    let mut stats = GroupingStats { blocks: 1, largest_block: m as u32, ..GroupingStats::default() };
    if groups == 0 {
        return BlockGrouping { group_of: vec![NO_GROUP; m], groups, stats };
    }
    let exact = bounds.is_exact(m as u64);
    let seed = tree::build(rows, dims, groups, exact.then_some(bounds), options.seed, first_group);
    let mut local = vec![NO_GROUP; m];
    for (g, range) in seed.leaf_offsets.windows(2).enumerate() {
        local[range[0] as usize..range[1] as usize].fill(g as u32);
    }
    if !exact {
        trim_leaves(&seed, dims, &mut local, bounds.max_size);
    }
    stats.seed_objective = refine::objective(&seed.rows, dims, &local, groups);
    let outcome = refine::refine(
        &seed.rows,
        dims,
        &mut local,
        groups,
        bounds,
        options.refine_passes,
        options.neighbours,
        options.min_pass_gain,
    );
    stats.objective = refine::objective(&seed.rows, dims, &local, groups);
    stats.moves = outcome.moves;
    stats.swaps = outcome.swaps;
    stats.passes = outcome.passes;
    let mut group_of = vec![NO_GROUP; m];
    for (p, &g) in local.iter().enumerate() {
        if g != NO_GROUP {
            group_of[seed.ids[p] as usize] = first_group + g;
            stats.grouped += 1;
        }
    }
    BlockGrouping { group_of, groups, stats }
}

/// In a block that cannot split exactly every leaf holds more than `max` citizens; each
/// keeps the `max` most similar to its centroid, the others become leftovers.
fn trim_leaves(seed: &tree::Seed, dims: usize, local: &mut [u32], max: u32) {
    let mut sum = vec![0f64; dims];
    let mut centroid = vec![0f32; dims];
    for range in seed.leaf_offsets.windows(2) {
        let (start, end) = (range[0] as usize, range[1] as usize);
        let excess = (end - start).saturating_sub(max as usize);
        if excess == 0 {
            continue;
        }
        sum.fill(0.0);
        for p in start..end {
            vector::add_row(&mut sum, &seed.rows[p * dims..(p + 1) * dims]);
        }
        unit_of_sum(&sum, &mut centroid);
        let mut by_similarity: Vec<(f32, usize)> =
            (start..end).map(|p| (dot(&seed.rows[p * dims..(p + 1) * dims], &centroid), p)).collect();
        by_similarity.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        for &(_, p) in &by_similarity[..excess] {
            local[p] = NO_GROUP;
        }
    }
}

/// Group every block of a [`Plan`] (in parallel) and assemble the population's grouping.
pub fn group_planned(profiles: Profiles, plan: &Plan, bounds: Bounds, options: &Options) -> Grouping {
    bounds.validate().expect("invalid bounds");
    let dims = profiles.dims();
    let outcomes: Vec<BlockGrouping> = plan
        .blocks
        .par_iter()
        .map(|span| {
            let order = &plan.order[span.start as usize..(span.start + span.len) as usize];
            let mut rows = vec![0f32; order.len() * dims];
            rows.par_chunks_mut(dims * 4096).enumerate().for_each(|(chunk, out)| {
                for (offset, unit) in out.chunks_exact_mut(dims).enumerate() {
                    normalize_into(profiles.row(order[chunk * 4096 + offset] as usize), unit);
                }
            });
            let outcome = group_unit_rows(rows, dims, bounds, options, span.first_group);
            debug_assert_eq!(outcome.groups, span.groups);
            outcome
        })
        .collect();
    let mut group_of = vec![NO_GROUP; profiles.len()];
    let mut stats = GroupingStats::default();
    for (span, outcome) in plan.blocks.iter().zip(&outcomes) {
        let order = &plan.order[span.start as usize..(span.start + span.len) as usize];
        for (&citizen, &g) in order.iter().zip(&outcome.group_of) {
            group_of[citizen as usize] = g;
        }
        stats.absorb(&outcome.stats);
    }
    drop(outcomes);
    let mut grouping = Grouping::from_group_of(group_of, plan.groups()).expect("block ids stay in range");
    grouping.stats = stats;
    grouping
}

/// Partition citizens into groups of `bounds.min_size..=bounds.max_size` members, most
/// alike inside each group. See the crate documentation for the algorithm.
pub fn group(profiles: Profiles, bounds: Bounds, options: &Options) -> Grouping {
    let plan = plan::plan(profiles, bounds, options);
    group_planned(profiles, &plan, bounds, options)
}
