//! The seed: recursive bisection along principal directions (a size-aware PCA tree).
//!
//! A node holding `m` citizens that must become `k` groups is cut in two along its principal
//! direction. Where the bounds are known (the block splits exactly), the cut is the
//! threshold on the projections that best separates the two sides (Otsu: largest
//! between-side variance), among thresholds whose two sides can each still be split into
//! groups within the bounds and each hold at least a fifth of the node; the left side gets
//! as many of the `k` groups as its share of the rows, within what its size allows. Each
//! side is then a feasible node, so every leaf lands within the bounds. Clustered data are
//! cut between clusters rather than through them.
//!
//! Where no such threshold exists (or the block does not split exactly and leaves are
//! trimmed later), the cut is proportional: `⌊k/2⌋` groups and `m·⌊k/2⌋/k` rows (rounded) on
//! the left, the rows with the smallest projections, found by radix selection.
//!
//! Cost: one projection pass, one histogram and one stable partition per level,
//! `O(m·d·depth)` in all (depth at most `log(k)/log(5/4)`, about `log2(k)` in practice), plus
//! a covariance of at most [`SAMPLE`] rows per node. Rows move physically between two
//! buffers (ping-pong) so that every pass reads memory in order; the leaves come out in the
//! in-order of the tree, where neighbours are similar.

use rayon::prelude::*;
use xinyong_random::{Key, Stream, pair};

use crate::types::Bounds;
use crate::vector::{dot, ordered_bits};

/// Rows sampled (evenly spaced) to estimate a node's principal direction.
pub(crate) const SAMPLE: usize = 256;
/// Nodes at least this large split their two children on two threads.
const PARALLEL_ROWS: usize = 32_768;
/// Power iterations on the node's covariance.
const POWER_ITERATIONS: usize = 32;
/// "Day" tag of the draws for the start vectors of power iterations.
pub(crate) const DAY_TREE: u64 = 0x7EE;

/// The seed partition of one block.
pub(crate) struct Seed {
    /// Block-local row ids in leaf order.
    pub ids: Vec<u32>,
    /// Unit rows in leaf order: position `p` holds row `ids[p]`.
    pub rows: Vec<f32>,
    /// Leaf `g` holds positions `leaf_offsets[g]..leaf_offsets[g+1]`.
    pub leaf_offsets: Vec<u32>,
}

/// Size of the left part when `m` citizens form `k` groups and the left takes `⌊k/2⌋`.
#[inline]
fn left_len(m: usize, k: u32) -> usize {
    let left = u128::from(k / 2);
    ((m as u128 * left * 2 + u128::from(k)) / (2 * u128::from(k))) as usize
}

struct Context {
    dims: usize,
    seed: u64,
    first_group: u32,
    /// Bounds every leaf must respect; `None` when the block cannot split exactly, where
    /// every split is proportional and leaves are trimmed afterwards.
    bounds: Option<Bounds>,
}

/// Build the seed of `leaves` groups over unit `rows` (`dims` per row). With `bounds`, every
/// leaf holds `min_size..=max_size` rows (the caller checked that `leaves` allows it).
pub(crate) fn build(
    rows: Vec<f32>,
    dims: usize,
    leaves: u32,
    bounds: Option<Bounds>,
    seed: u64,
    first_group: u32,
) -> Seed {
    let m = rows.len() / dims;
    let mut ids: Vec<u32> = (0..m as u32).collect();
    if leaves <= 1 {
        let leaf_offsets = if leaves == 0 { vec![0] } else { vec![0, m as u32] };
        return Seed { ids, rows, leaf_offsets };
    }
    let mut rows = rows;
    let mut other = vec![0f32; rows.len()];
    let mut ids_other = vec![0u32; m];
    let mut sizes = vec![0u32; leaves as usize];
    let context = Context { dims, seed, first_group, bounds };
    split(&context, &mut rows, &mut other, &mut ids, &mut ids_other, false, &mut sizes, 0);
    let mut leaf_offsets = Vec::with_capacity(leaves as usize + 1);
    leaf_offsets.push(0u32);
    for size in sizes {
        leaf_offsets.push(leaf_offsets.last().expect("starts with 0") + size);
    }
    Seed { ids, rows, leaf_offsets }
}

/// Split a node into `sizes.len()` leaves, writing each leaf's size. Its data is in `other`
/// when `in_other`, else in `home`; the result must end in `home` (the buffer the caller
/// keeps).
#[allow(clippy::too_many_arguments)]
fn split(
    context: &Context,
    home: &mut [f32],
    other: &mut [f32],
    ids_home: &mut [u32],
    ids_other: &mut [u32],
    in_other: bool,
    sizes: &mut [u32],
    first_leaf: u32,
) {
    let m = ids_home.len();
    let leaves = sizes.len() as u32;
    if leaves <= 1 {
        sizes[0] = m as u32;
        if in_other {
            home.copy_from_slice(other);
            ids_home.copy_from_slice(ids_other);
        }
        return;
    }
    let (left, left_leaves) = if in_other {
        partition(context, other, home, ids_other, ids_home, leaves, first_leaf)
    } else {
        partition(context, home, other, ids_home, ids_other, leaves, first_leaf)
    };
    let dims = context.dims;
    let (home_left, home_right) = home.split_at_mut(left * dims);
    let (other_left, other_right) = other.split_at_mut(left * dims);
    let (ids_home_left, ids_home_right) = ids_home.split_at_mut(left);
    let (ids_other_left, ids_other_right) = ids_other.split_at_mut(left);
    let (sizes_left, sizes_right) = sizes.split_at_mut(left_leaves as usize);
    let mut run_left =
        move || split(context, home_left, other_left, ids_home_left, ids_other_left, !in_other, sizes_left, first_leaf);
    let mut run_right = move || {
        split(
            context,
            home_right,
            other_right,
            ids_home_right,
            ids_other_right,
            !in_other,
            sizes_right,
            first_leaf + left_leaves,
        )
    };
    if m >= PARALLEL_ROWS {
        rayon::join(run_left, run_right);
    } else {
        run_left();
        run_right();
    }
}

/// Cut a node of `source` rows into two sides along its principal direction, moving the
/// left side to the front of `target` and the right side after it, both in their original
/// order. Returns the number of rows and of leaves on the left.
#[allow(clippy::too_many_arguments)]
fn partition(
    context: &Context,
    source: &[f32],
    target: &mut [f32],
    ids_source: &[u32],
    ids_target: &mut [u32],
    leaves: u32,
    first_leaf: u32,
) -> (usize, u32) {
    let dims = context.dims;
    let m = ids_source.len();
    let direction = principal_direction(context, source, first_leaf, leaves);
    let mut projection = vec![0f32; m];
    let project = |(chunk, out): (usize, &mut [f32])| {
        let base = chunk * 4096;
        for (offset, value) in out.iter_mut().enumerate() {
            let row = &source[(base + offset) * dims..(base + offset + 1) * dims];
            *value = dot(row, &direction);
        }
    };
    if m >= PARALLEL_ROWS {
        projection.par_chunks_mut(4096).enumerate().for_each(project);
    } else {
        projection.chunks_mut(4096).enumerate().for_each(project);
    }
    let mut move_row = |p: usize, slot: usize| {
        target[slot * dims..(slot + 1) * dims].copy_from_slice(&source[p * dims..(p + 1) * dims]);
        ids_target[slot] = ids_source[p];
    };
    if let Some(cut) = context.bounds.and_then(|bounds| gap_cut(&projection, leaves, bounds)) {
        let (mut to_left, mut to_right) = (0usize, cut.left_rows);
        for (p, &value) in projection.iter().enumerate() {
            let slot = if cut.bin_of(value) < cut.first_right_bin {
                to_left += 1;
                to_left - 1
            } else {
                to_right += 1;
                to_right - 1
            };
            move_row(p, slot);
        }
        debug_assert_eq!((to_left, to_right), (cut.left_rows, m));
        return (cut.left_rows, cut.left_leaves);
    }
    // Proportional cut: `⌊k/2⌋` leaves and as large a share of the rows on the left, the
    // smallest in the strict order (projection, position) — every row projecting below the
    // pivot, then the first `quota` rows (in position order) that project exactly on it.
    let left = left_len(m, leaves);
    let keys: Vec<u32> = projection.iter().map(|&v| ordered_bits(v)).collect();
    let (pivot, mut quota) = select(&keys, left);
    let (mut to_left, mut to_right) = (0usize, left);
    for (p, &value) in keys.iter().enumerate() {
        let goes_left = value < pivot || (value == pivot && quota > 0);
        let slot = if goes_left {
            if value == pivot {
                quota -= 1;
            }
            to_left += 1;
            to_left - 1
        } else {
            to_right += 1;
            to_right - 1
        };
        move_row(p, slot);
    }
    debug_assert_eq!((to_left, to_right), (left, m));
    (left, leaves / 2)
}

/// Histogram bins of projections searched for a natural gap.
const BINS: usize = 512;
/// Neither side of a gap cut may hold less than this share of the node's rows (bounds the
/// depth of the tree, hence its cost, to about `log(k) / log(1/(1−share))`).
const MIN_SIDE_SHARE: f64 = 0.2;

/// A cut at a bin boundary of the projections.
struct GapCut {
    low: f32,
    scale: f32,
    first_right_bin: usize,
    left_rows: usize,
    left_leaves: u32,
}

impl GapCut {
    #[inline]
    fn bin_of(&self, value: f32) -> usize {
        (((value - self.low) * self.scale) as usize).min(BINS - 1)
    }
}

/// The cut of a node that best separates its two sides along the projection (largest
/// between-side variance, as in Otsu's threshold), among the cuts whose two sides can both
/// be split exactly into groups within the bounds and hold at least [`MIN_SIDE_SHARE`] of
/// the rows. Clustered data are thus cut between clusters rather than through them.
fn gap_cut(projection: &[f32], leaves: u32, bounds: Bounds) -> Option<GapCut> {
    let m = projection.len();
    let (mut low, mut high) = (f32::INFINITY, f32::NEG_INFINITY);
    for &v in projection {
        low = low.min(v);
        high = high.max(v);
    }
    if high - low <= 1e-6 {
        return None;
    }
    let scale = BINS as f32 / (high - low);
    let mut cut = GapCut { low, scale, first_right_bin: 0, left_rows: 0, left_leaves: 0 };
    let mut counts = [0u32; BINS];
    let mut sums = [0f64; BINS];
    for &v in projection {
        let bin = cut.bin_of(v);
        counts[bin] += 1;
        sums[bin] += f64::from(v);
    }
    let total: f64 = sums.iter().sum();
    let (min, max) = (u64::from(bounds.min_size), u64::from(bounds.max_size));
    let k = u64::from(leaves);
    let smallest_side = ((m as f64) * MIN_SIDE_SHARE).ceil() as u64;
    let (mut left_rows, mut left_sum) = (0u64, 0f64);
    let mut best: Option<(f64, usize, u64, u64)> = None;
    for bin in 0..BINS - 1 {
        left_rows += u64::from(counts[bin]);
        left_sum += sums[bin];
        let right_rows = m as u64 - left_rows;
        if left_rows < smallest_side || right_rows < smallest_side {
            continue;
        }
        // Leaves on the left: both sides must split exactly.
        let lowest = left_rows.div_ceil(max).max(k.saturating_sub(right_rows / min)).max(1);
        let highest = (left_rows / min).min(k.saturating_sub(right_rows.div_ceil(max))).min(k - 1);
        if lowest > highest {
            continue;
        }
        let right_sum = total - left_sum;
        let separation = left_sum * left_sum / left_rows as f64 + right_sum * right_sum / right_rows as f64;
        if best.is_none_or(|(score, ..)| separation > score) {
            // As many leaves on the left as its share of the rows, within what is possible.
            let proportional = (k * left_rows + m as u64 / 2) / m as u64;
            best = Some((separation, bin + 1, left_rows, proportional.clamp(lowest, highest)));
        }
    }
    let (_, first_right_bin, left_rows, left_leaves) = best?;
    cut.first_right_bin = first_right_bin;
    cut.left_rows = left_rows as usize;
    cut.left_leaves = left_leaves as u32;
    Some(cut)
}

/// Radix selection of rank `rank` (0-based) among `values` ordered by (value, position):
/// returns the value at that rank and how many rows holding exactly that value come before
/// it. Three histogram passes (11, 11 and 10 bits), each `O(m)`, no comparisons sort.
fn select(values: &[u32], rank: usize) -> (u32, usize) {
    assert!(rank < values.len(), "rank {rank} out of {} values", values.len());
    let mut prefix = 0u32;
    let mut remaining = rank;
    for (shift, width, fixed) in [(21u32, 11u32, 0u32), (10, 11, 11), (0, 10, 22)] {
        let mut histogram = [0usize; 1 << 11];
        let mask = (1u32 << width) - 1;
        for &value in values {
            // Only rows that share the bits fixed so far (all rows on the first pass).
            if fixed == 0 || value >> (32 - fixed) == prefix >> (32 - fixed) {
                histogram[((value >> shift) & mask) as usize] += 1;
            }
        }
        let mut bucket = 0usize;
        while remaining >= histogram[bucket] {
            remaining -= histogram[bucket];
            bucket += 1;
        }
        prefix |= (bucket as u32) << shift;
    }
    (prefix, remaining)
}

/// The direction of largest variance of the node's rows, estimated on an evenly spaced
/// sample by power iteration from a seeded random start.
fn principal_direction(context: &Context, rows: &[f32], first_leaf: u32, leaves: u32) -> Vec<f32> {
    let dims = context.dims;
    let m = rows.len() / dims;
    let samples = m.min(SAMPLE);
    let sample = |i: usize| {
        let p = i * m / samples;
        &rows[p * dims..(p + 1) * dims]
    };
    let mut draws = Key::new(
        context.seed,
        Stream::Grouping,
        DAY_TREE,
        pair(u64::from(context.first_group) + u64::from(first_leaf), u64::from(leaves)),
    )
    .draws();
    let mut v: Vec<f64> = (0..dims).map(|_| 2.0 * draws.uniform() - 1.0).collect();
    let mut mean = vec![0f64; dims];
    for i in 0..samples {
        for (mu, &x) in mean.iter_mut().zip(sample(i)) {
            *mu += f64::from(x);
        }
    }
    mean.iter_mut().for_each(|mu| *mu /= samples as f64);
    let mut w = vec![0f64; dims];
    if dims <= 64 {
        // Explicit covariance: samples·d²/2 once, then d² per iteration.
        let mut covariance = vec![0f64; dims * dims];
        let mut centred = vec![0f64; dims];
        for i in 0..samples {
            for ((c, &x), mu) in centred.iter_mut().zip(sample(i)).zip(&mean) {
                *c = f64::from(x) - mu;
            }
            for a in 0..dims {
                let ca = centred[a];
                let row = &mut covariance[a * dims..(a + 1) * dims];
                for b in a..dims {
                    row[b] += ca * centred[b];
                }
            }
        }
        for a in 0..dims {
            for b in 0..a {
                covariance[a * dims + b] = covariance[b * dims + a];
            }
        }
        for _ in 0..POWER_ITERATIONS {
            for (a, wa) in w.iter_mut().enumerate() {
                *wa = covariance[a * dims..(a + 1) * dims].iter().zip(&v).map(|(c, x)| c * x).sum();
            }
            if !renormalise(&mut w) {
                break;
            }
            std::mem::swap(&mut v, &mut w);
        }
    } else {
        // Implicit: w = Σ ((x−μ)·v)(x−μ), 2·samples·d per iteration.
        for _ in 0..POWER_ITERATIONS / 2 {
            w.fill(0.0);
            for i in 0..samples {
                let row = sample(i);
                let along: f64 = row.iter().zip(&mean).zip(&v).map(|((&x, mu), vv)| (f64::from(x) - mu) * vv).sum();
                for ((wa, &x), mu) in w.iter_mut().zip(row).zip(&mean) {
                    *wa += along * (f64::from(x) - mu);
                }
            }
            if !renormalise(&mut w) {
                break;
            }
            std::mem::swap(&mut v, &mut w);
        }
    }
    // Turn the principal axis towards the line between the two sides it separates (2-means
    // on the sample, a few rounds): for clustered data the best cut is not always
    // perpendicular to the axis of largest variance.
    let mut along: Vec<(f64, usize)> = Vec::with_capacity(samples);
    for _ in 0..TWO_MEANS_ROUNDS {
        along.clear();
        along
            .extend((0..samples).map(|i| (sample(i).iter().zip(&v).map(|(&x, vv)| f64::from(x) * vv).sum::<f64>(), i)));
        along.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let total: f64 = along.iter().map(|a| a.0).sum();
        let smallest = ((samples as f64) * MIN_SIDE_SHARE).ceil() as usize;
        let (mut best, mut best_score, mut left_sum) = (None, f64::NEG_INFINITY, 0.0);
        for (count, &(value, _)) in along.iter().enumerate().take(samples.saturating_sub(smallest)) {
            left_sum += value;
            let left = count + 1;
            if left < smallest.max(1) {
                continue;
            }
            let right = samples - left;
            let score = left_sum * left_sum / left as f64 + (total - left_sum).powi(2) / right as f64;
            if score > best_score {
                (best, best_score) = (Some(left), score);
            }
        }
        let Some(left) = best else { break };
        let mut difference = vec![0f64; dims];
        for (rank, &(_, i)) in along.iter().enumerate() {
            let weight = if rank < left { -1.0 / left as f64 } else { 1.0 / (samples - left) as f64 };
            for (d, &x) in difference.iter_mut().zip(sample(i)) {
                *d += weight * f64::from(x);
            }
        }
        if !renormalise(&mut difference) {
            break;
        }
        v = difference;
    }
    v.iter().map(|&x| x as f32).collect()
}

/// Rounds of sample 2-means turning the principal axis.
const TWO_MEANS_ROUNDS: usize = 3;

/// Scale to unit length; false (and unchanged) for a zero vector.
fn renormalise(v: &mut [f64]) -> bool {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm == 0.0 || !norm.is_finite() {
        return false;
    }
    v.iter_mut().for_each(|x| *x /= norm);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radix_selection_matches_sorting() {
        let values: Vec<u32> =
            (0..5_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 7) % 900 + (i % 3) * 1_000_000_000).collect();
        let mut sorted: Vec<(u32, usize)> = values.iter().copied().zip(0..).collect();
        sorted.sort_unstable();
        for rank in [0, 1, 17, 2_499, 2_500, 4_999] {
            let (pivot, before) = select(&values, rank);
            assert_eq!(pivot, sorted[rank].0, "rank {rank}");
            let equal_before = sorted[..rank].iter().filter(|(v, _)| *v == pivot).count();
            assert_eq!(before, equal_before, "rank {rank}");
        }
        assert_eq!(select(&[7, 7, 7, 7], 2), (7, 2));
    }

    fn random_unit_rows(m: usize, dims: usize) -> Vec<f32> {
        let mut rows = vec![0f32; m * dims];
        for (i, row) in rows.chunks_exact_mut(dims).enumerate() {
            let mut draws = Key::new(3, Stream::Test, 0, i as u64).draws();
            let raw: Vec<f32> = (0..dims).map(|_| draws.uniform() as f32).collect();
            crate::vector::normalize_into(&raw, row);
        }
        rows
    }

    #[test]
    fn proportional_leaves_differ_by_at_most_one() {
        for (m, k) in [(1000usize, 4u32), (1001, 4), (600, 3), (12_345, 49), (400, 2)] {
            let seed = build(random_unit_rows(m, 3), 3, k, None, 1, 0);
            assert_eq!(seed.leaf_offsets.len(), k as usize + 1);
            assert_eq!(*seed.leaf_offsets.last().unwrap() as usize, m);
            for w in seed.leaf_offsets.windows(2) {
                let size = (w[1] - w[0]) as usize;
                assert!(m / k as usize <= size && size <= m.div_ceil(k as usize), "m {m} k {k}: leaf of {size}");
            }
        }
    }

    #[test]
    fn bounded_leaves_stay_within_bounds() {
        let bounds = Bounds::new(200, 300).unwrap();
        for (m, k) in [(10_000usize, 40u32), (10_000, 34), (10_000, 50), (4_321, 17)] {
            let seed = build(random_unit_rows(m, 5), 5, k, Some(bounds), 1, 0);
            assert_eq!(seed.leaf_offsets.len(), k as usize + 1);
            assert_eq!(*seed.leaf_offsets.last().unwrap() as usize, m);
            for w in seed.leaf_offsets.windows(2) {
                assert!((200..=300).contains(&(w[1] - w[0])), "m {m} k {k}: leaf of {}", w[1] - w[0]);
            }
            let mut ids = seed.ids.clone();
            ids.sort_unstable();
            assert_eq!(ids, (0..m as u32).collect::<Vec<_>>());
        }
    }

    #[test]
    fn bisection_separates_two_opposite_clouds() {
        // 300 rows near +x, 300 near +y (unit vectors); two leaves must be the two clouds.
        let dims = 2;
        let mut rows = Vec::new();
        for i in 0..600 {
            let jitter = (i % 17) as f32 * 0.01;
            let (x, y) = if i % 2 == 0 { (1.0, jitter) } else { (jitter, 1.0) };
            let norm = (x * x + y * y).sqrt();
            rows.extend_from_slice(&[x / norm, y / norm]);
        }
        let seed = build(rows, dims, 2, None, 7, 0);
        assert_eq!(seed.leaf_offsets, vec![0, 300, 600]);
        let left_parity = seed.ids[0] % 2;
        assert!(seed.ids[..300].iter().all(|&id| id % 2 == left_parity));
        assert!(seed.ids[300..].iter().all(|&id| id % 2 != left_parity));
        // Rows travelled with their ids.
        for (p, &id) in seed.ids.iter().enumerate() {
            let expected_x_large = id % 2 == 0;
            assert_eq!(seed.rows[p * 2] > seed.rows[p * 2 + 1], expected_x_large);
        }
    }
}
