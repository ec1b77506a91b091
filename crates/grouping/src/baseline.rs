//! The quality measure and its two references: random balanced groups (the floor) and
//! unconstrained spherical k-means (the ceiling).

use rayon::prelude::*;
use xinyong_random::{Key, Stream};

use crate::types::{Bounds, Grouping, Profiles};
use crate::vector::{add_row, dot, norm2_f64, normalize_into, unit_of_sum};
use crate::{GroupingError, NO_GROUP};

/// "Day" tags of the draws of the baselines.
const DAY_RANDOM: u64 = 0xF100;
const DAY_KMEANS: u64 = 0xCE11;

/// Mean cosine similarity of grouped citizens to their group's centroid.
///
/// The centroid of a group is the mean of its members' unit profiles (the centre in the
/// cosine geometry), so the measure is `Σ_g ‖Σ_{i∈g} x̂_i‖ / Σ_g |g|`: 1 when every group is
/// of one mind, near `1/√size` for groups of unrelated random directions. Leftovers are not
/// counted; a zero profile counts as a member with cosine 0. Returns 0 without members.
pub fn quality(profiles: Profiles, grouping: &Grouping) -> f64 {
    let dims = profiles.dims();
    let sums = unit_sums(profiles, grouping);
    let total: f64 = sums.chunks_exact(dims).map(|sum| norm2_f64(sum).sqrt()).sum();
    let grouped = grouping.citizens() - grouping.leftovers().len();
    if grouped == 0 { 0.0 } else { total / grouped as f64 }
}

/// For every group, the sum of its members' unit profiles (`groups × dims`, row-major).
///
/// Each group's sum accumulates its members in citizen order, whoever computes it. Groups are
/// shared out in fixed ranges, each range scanning the population in order (memory read
/// sequentially, the range's sums small enough to stay in cache): the same bits as summing
/// member lists, without their random reads, whatever the thread count.
pub(crate) fn unit_sums(profiles: Profiles, grouping: &Grouping) -> Vec<f64> {
    assert_eq!(profiles.len(), grouping.citizens(), "profiles and grouping cover different populations");
    let dims = profiles.dims();
    let groups = grouping.groups() as usize;
    let ranges = (groups * dims * 8).div_ceil(QUALITY_RANGE_BYTES).max(4).min(groups.max(1));
    let per_range = groups.div_ceil(ranges).max(1);
    let parts: Vec<Vec<f64>> = (0..ranges)
        .into_par_iter()
        .map(|range| {
            let first = range * per_range;
            let last = ((range + 1) * per_range).min(groups);
            let mut sums = vec![0f64; last.saturating_sub(first) * dims];
            let mut unit = vec![0f32; dims];
            for (citizen, &g) in grouping.group_of.iter().enumerate() {
                let g = g as usize;
                if g >= first && g < last {
                    normalize_into(profiles.row(citizen), &mut unit);
                    add_row(&mut sums[(g - first) * dims..(g - first + 1) * dims], &unit);
                }
            }
            sums
        })
        .collect();
    parts.concat()
}

/// Largest block of group sums one range of [`quality`] keeps.
const QUALITY_RANGE_BYTES: usize = 8 << 20;

/// Random balanced groups: the same number of groups [`crate::group`] aims at with default
/// options (sizes as even as possible inside the bounds, the same leftovers count), members
/// drawn at random. Any grouping worth having must beat it.
pub fn random_balanced(profiles: Profiles, bounds: Bounds, seed: u64) -> Grouping {
    bounds.validate().expect("invalid bounds");
    let n = profiles.len() as u64;
    let groups = bounds.groups_for(n, bounds.midpoint());
    let grouped = if groups == 0 { 0 } else { bounds.most_groupable(n) };
    let mut order: Vec<(u64, u32)> =
        (0..n as u32).map(|i| (Key::new(seed, Stream::Grouping, DAY_RANDOM, u64::from(i)).digest(), i)).collect();
    order.par_sort_unstable();
    let mut group_of = vec![NO_GROUP; n as usize];
    let mut position = 0u64;
    for g in 0..u64::from(groups) {
        let size = grouped / u64::from(groups) + u64::from(g < grouped % u64::from(groups));
        for &(_, citizen) in &order[position as usize..(position + size) as usize] {
            group_of[citizen as usize] = g as u32;
        }
        position += size;
    }
    Grouping::from_group_of(group_of, groups).expect("ids in range")
}

/// Spherical k-means (cosine), k-means++ seeding, at most `iterations` Lloyd iterations:
/// the unconstrained reference. Sizes are whatever the data make them (empty clusters keep
/// their centre and stay empty), so it is a ceiling for a size-bounded grouping with the
/// same number of groups, not a grouping the system could use.
///
/// Cost `O(n·k·d)` per iteration and for the seeding: run it on a sample for large `n`.
pub fn kmeans(profiles: Profiles, k: u32, seed: u64, iterations: u32) -> Grouping {
    let n = profiles.len();
    let dims = profiles.dims();
    let k = (k as usize).min(n);
    if k == 0 {
        return Grouping::from_group_of(vec![NO_GROUP; n], 0).expect("empty");
    }
    let mut rows = vec![0f32; n * dims];
    rows.par_chunks_mut(dims)
        .enumerate()
        .with_min_len(4096)
        .for_each(|(i, unit)| normalize_into(profiles.row(i), unit));
    let row = |i: usize| &rows[i * dims..(i + 1) * dims];

    // k-means++ on the chord distance ‖x−c‖² = 2 − 2·x·c of unit vectors.
    let mut centres = vec![0f32; k * dims];
    let mut draws = Key::new(seed, Stream::Grouping, DAY_KMEANS, 0).draws();
    let first = draws.below(n as u64) as usize;
    centres[..dims].copy_from_slice(row(first));
    let mut distance: Vec<f64> =
        (0..n).into_par_iter().with_min_len(4096).map(|i| chord(row(i), &centres[..dims])).collect();
    for c in 1..k {
        let total: f64 = distance.iter().sum();
        let chosen = if total > 0.0 {
            let mut target = draws.uniform() * total;
            let mut chosen = n - 1;
            for (i, &d) in distance.iter().enumerate() {
                if target < d {
                    chosen = i;
                    break;
                }
                target -= d;
            }
            chosen
        } else {
            draws.below(n as u64) as usize
        };
        centres[c * dims..(c + 1) * dims].copy_from_slice(row(chosen));
        let centre = &centres[c * dims..(c + 1) * dims];
        distance.par_iter_mut().enumerate().with_min_len(4096).for_each(|(i, d)| *d = d.min(chord(row(i), centre)));
    }
    drop(distance);

    let mut labels = vec![NO_GROUP; n];
    let mut sums = vec![0f64; k * dims];
    for _ in 0..iterations {
        let changed: usize = labels
            .par_iter_mut()
            .enumerate()
            .with_min_len(1024)
            .map(|(i, label)| {
                let x = row(i);
                let mut best = (f32::NEG_INFINITY, 0u32);
                for (c, centre) in centres.chunks_exact(dims).enumerate() {
                    let s = dot(x, centre);
                    if s > best.0 {
                        best = (s, c as u32);
                    }
                }
                let changed = *label != best.1;
                *label = best.1;
                usize::from(changed)
            })
            .sum();
        if changed == 0 {
            break;
        }
        sums.fill(0.0);
        for (i, &label) in labels.iter().enumerate() {
            add_row(&mut sums[label as usize * dims..(label as usize + 1) * dims], row(i));
        }
        for (sum, centre) in sums.chunks_exact(dims).zip(centres.chunks_exact_mut(dims)) {
            if norm2_f64(sum) > 0.0 {
                unit_of_sum(sum, centre);
            }
        }
    }
    if iterations == 0 {
        // No iteration asked: assign to the seeds once so that everyone has a cluster.
        labels.par_iter_mut().enumerate().for_each(|(i, label)| {
            let x = row(i);
            let (mut best, mut best_c) = (f32::NEG_INFINITY, 0u32);
            for (c, centre) in centres.chunks_exact(dims).enumerate() {
                let s = dot(x, centre);
                if s > best {
                    (best, best_c) = (s, c as u32);
                }
            }
            *label = best_c;
        });
    }
    Grouping::from_group_of(labels, k as u32).expect("labels below k")
}

fn chord(x: &[f32], centre: &[f32]) -> f64 {
    (2.0 - 2.0 * f64::from(dot(x, centre))).max(0.0)
}

/// A grouping read from elsewhere (e.g. another tool's assignment): `labels[i]` is citizen
/// `i`'s group, negative for none. Group ids must be `0..groups` with `groups` the largest
/// label plus one (empty ids allowed).
pub fn grouping_from_labels(labels: &[i64]) -> Result<Grouping, GroupingError> {
    let groups = labels.iter().copied().max().unwrap_or(-1) + 1;
    let groups =
        u32::try_from(groups.max(0)).map_err(|_| GroupingError::UnknownGroup { group: u32::MAX, groups: 0 })?;
    let group_of = labels.iter().map(|&l| if l < 0 { NO_GROUP } else { l as u32 }).collect();
    Grouping::from_group_of(group_of, groups)
}
