//! Local improvement: moves and swaps of citizens between neighbouring groups.
//!
//! The objective is `Σ_g ‖S_g‖` with `S_g` the sum of group `g`'s unit profiles: it equals
//! the sum over members of the cosine to their group centroid, so the mean cosine is the
//! objective divided by the number grouped. Moving a unit row `x` from `g` to `h` changes it
//! by exactly `‖S_g−x‖ − ‖S_g‖ + ‖S_h+x‖ − ‖S_h‖`, computable from three dot products.
//!
//! A pass:
//! 1. recomputes the sums from the assignment (in `f64`, in position order);
//! 2. lists, for every group, its `neighbours` most similar groups among ids within
//!    [`WINDOW`] of its own (neighbouring ids are neighbouring cells of the seed tree);
//! 3. has every citizen propose a move to the neighbour whose centroid it is most similar
//!    to, if more similar than to its own and if the move alone would gain — in parallel,
//!    each proposal a pure function of the pass's state;
//! 4. applies proposals sequentially in a fixed order: for each pair of groups, the best
//!    proposals in opposite directions are swapped while the exact swap gain is positive
//!    (sizes unchanged), then remaining proposals move alone where both sizes allow it.
//!
//! Every applied step is rechecked against the current sums, so the objective never
//! decreases and the sizes never leave the bounds.

use rayon::prelude::*;

use crate::NO_GROUP;
use crate::types::Bounds;
use crate::vector::{add_row, dot, dot_f64, norm2_f64, ordered_bits, sub_row, unit_of_sum};

/// Half-width of the id window searched for neighbouring groups.
pub(crate) const WINDOW: usize = 256;
/// Smallest gain worth a step (guards against cycling on rounding noise).
const EPSILON: f64 = 1e-9;
/// Positions per parallel chunk when computing proposals.
const CHUNK: usize = 8192;

#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct RefineOutcome {
    pub passes: u32,
    pub moves: u64,
    pub swaps: u64,
}

#[derive(Clone, Copy, Debug)]
struct Proposal {
    from: u32,
    to: u32,
    position: u32,
    gain: f32,
}

struct State<'a> {
    dims: usize,
    rows: &'a [f32],
    group_of: &'a mut [u32],
    sums: Vec<f64>,
    norms2: Vec<f64>,
    sizes: Vec<u32>,
}

impl State<'_> {
    fn sum(&self, g: u32) -> &[f64] {
        &self.sums[g as usize * self.dims..(g as usize + 1) * self.dims]
    }

    fn row(&self, p: u32) -> &[f32] {
        &self.rows[p as usize * self.dims..(p as usize + 1) * self.dims]
    }

    fn recompute(&mut self) {
        let dims = self.dims;
        self.sums.fill(0.0);
        self.sizes.fill(0);
        for (p, &g) in self.group_of.iter().enumerate() {
            if g != NO_GROUP {
                add_row(
                    &mut self.sums[g as usize * dims..(g as usize + 1) * dims],
                    &self.rows[p * dims..(p + 1) * dims],
                );
                self.sizes[g as usize] += 1;
            }
        }
        for (g, norm2) in self.norms2.iter_mut().enumerate() {
            *norm2 = norm2_f64(&self.sums[g * dims..(g + 1) * dims]);
        }
    }

    fn shift(&mut self, g: u32, add: Option<u32>, remove: Option<u32>) {
        let dims = self.dims;
        let range = g as usize * dims..(g as usize + 1) * dims;
        if let Some(p) = add {
            let row = &self.rows[p as usize * dims..(p as usize + 1) * dims];
            add_row(&mut self.sums[range.clone()], row);
        }
        if let Some(p) = remove {
            let row = &self.rows[p as usize * dims..(p as usize + 1) * dims];
            sub_row(&mut self.sums[range.clone()], row);
        }
        self.norms2[g as usize] = norm2_f64(&self.sums[range]);
    }

    /// Exact gain of moving position `p` from `g` to `h`.
    fn move_gain(&self, p: u32, g: u32, h: u32) -> f64 {
        let x = self.row(p);
        let xx: f64 = x.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let (ng, nh) = (self.norms2[g as usize], self.norms2[h as usize]);
        let after_g = (ng - 2.0 * dot_f64(x, self.sum(g)) + xx).max(0.0).sqrt();
        let after_h = (nh + 2.0 * dot_f64(x, self.sum(h)) + xx).max(0.0).sqrt();
        after_g + after_h - ng.sqrt() - nh.sqrt()
    }

    /// Exact gain of swapping position `i` (in `g`) with position `j` (in `h`).
    fn swap_gain(&self, i: u32, j: u32, g: u32, h: u32) -> f64 {
        let (xi, xj) = (self.row(i), self.row(j));
        let ii: f64 = xi.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let jj: f64 = xj.iter().map(|&v| f64::from(v) * f64::from(v)).sum();
        let ij: f64 = xi.iter().zip(xj).map(|(&a, &b)| f64::from(a) * f64::from(b)).sum();
        let (sg, sh) = (self.sum(g), self.sum(h));
        let (ng, nh) = (self.norms2[g as usize], self.norms2[h as usize]);
        let after_g = ng + ii + jj - 2.0 * dot_f64(xi, sg) + 2.0 * dot_f64(xj, sg) - 2.0 * ij;
        let after_h = nh + ii + jj - 2.0 * dot_f64(xj, sh) + 2.0 * dot_f64(xi, sh) - 2.0 * ij;
        after_g.max(0.0).sqrt() + after_h.max(0.0).sqrt() - ng.sqrt() - nh.sqrt()
    }
}

/// `Σ_g ‖S_g‖` of an assignment (positions to local groups).
pub(crate) fn objective(rows: &[f32], dims: usize, group_of: &[u32], groups: u32) -> f64 {
    let mut sums = vec![0f64; groups as usize * dims];
    for (p, &g) in group_of.iter().enumerate() {
        if g != NO_GROUP {
            add_row(&mut sums[g as usize * dims..(g as usize + 1) * dims], &rows[p * dims..(p + 1) * dims]);
        }
    }
    sums.chunks_exact(dims.max(1)).map(|s| norm2_f64(s).sqrt()).sum()
}

/// Improve `group_of` (positions → local group ids, [`NO_GROUP`] for leftovers, which never
/// move) by at most `passes` passes. `rows` are unit vectors, one per position.
#[allow(clippy::too_many_arguments)]
pub(crate) fn refine(
    rows: &[f32],
    dims: usize,
    group_of: &mut [u32],
    groups: u32,
    bounds: Bounds,
    passes: u32,
    neighbours: u32,
    min_pass_gain: f64,
) -> RefineOutcome {
    let mut outcome = RefineOutcome::default();
    if groups < 2 || passes == 0 || neighbours == 0 {
        return outcome;
    }
    let k = groups as usize;
    let mut state = State { dims, rows, group_of, sums: vec![0.0; k * dims], norms2: vec![0.0; k], sizes: vec![0; k] };
    for _ in 0..passes {
        state.recompute();
        outcome.passes += 1;
        let mut centroids = vec![0f32; k * dims];
        for (g, c) in centroids.chunks_exact_mut(dims).enumerate() {
            unit_of_sum(state.sum(g as u32), c);
        }
        let lists = neighbour_lists(&centroids, dims, k, neighbours as usize);
        let mut proposals = propose(&state, &centroids, &lists, neighbours as usize);
        if proposals.is_empty() {
            break;
        }
        // By pair of groups, direction, decreasing gain, position: a strict order. Paired
        // groups are within WINDOW ids of each other, so their distance fits in 9 bits.
        proposals.sort_unstable_by_key(|p| {
            let (low, high) = (p.from.min(p.to), p.from.max(p.to));
            debug_assert!(((high - low) as usize) < 1 << 9);
            (u128::from(low) << 74)
                | (u128::from(high - low) << 65)
                | (u128::from(p.from != low) << 64)
                | (u128::from(!ordered_bits(p.gain)) << 32)
                | u128::from(p.position)
        });
        let (moves, swaps, gain) = apply(&mut state, &proposals, bounds);
        outcome.moves += moves;
        outcome.swaps += swaps;
        // Stop once a pass raises the mean cosine by less than `min_pass_gain`.
        let grouped = state.sizes.iter().map(|&s| f64::from(s)).sum::<f64>();
        if moves + swaps == 0 || gain < min_pass_gain * grouped {
            break;
        }
    }
    outcome
}

/// For each group, up to `count` most similar groups (by centroid cosine) among ids within
/// [`WINDOW`]; [`NO_GROUP`] pads short lists.
fn neighbour_lists(centroids: &[f32], dims: usize, k: usize, count: usize) -> Vec<u32> {
    let mut lists = vec![NO_GROUP; k * count];
    lists.par_chunks_mut(count).enumerate().with_min_len(64).for_each(|(g, list)| {
        let own = &centroids[g * dims..(g + 1) * dims];
        let mut best: Vec<(f32, u32)> = Vec::with_capacity(count + 1);
        for h in g.saturating_sub(WINDOW)..(g + WINDOW + 1).min(k) {
            if h == g {
                continue;
            }
            let similarity = dot(own, &centroids[h * dims..(h + 1) * dims]);
            // Keep the `count` best, ties to the lower id (h increases, so strict >).
            if best.len() < count || similarity > best[best.len() - 1].0 {
                let at = best.partition_point(|&(s, _)| s >= similarity);
                best.insert(at, (similarity, h as u32));
                best.truncate(count);
            }
        }
        for (slot, &(_, h)) in list.iter_mut().zip(&best) {
            *slot = h;
        }
    });
    lists
}

fn propose(state: &State, centroids: &[f32], lists: &[u32], count: usize) -> Vec<Proposal> {
    let dims = state.dims;
    let positions = state.group_of.len();
    let chunks = positions.div_ceil(CHUNK);
    let per_chunk: Vec<Vec<Proposal>> = (0..chunks)
        .into_par_iter()
        .map(|chunk| {
            let mut out = Vec::new();
            for p in chunk * CHUNK..((chunk + 1) * CHUNK).min(positions) {
                let g = state.group_of[p];
                if g == NO_GROUP {
                    continue;
                }
                let x = &state.rows[p * dims..(p + 1) * dims];
                let g = g as usize;
                let norm_g = state.norms2[g].sqrt();
                let along_g = f64::from(dot(x, &centroids[g * dims..(g + 1) * dims])) * norm_g;
                if along_g == 0.0 && x.iter().all(|&v| v == 0.0) {
                    continue;
                }
                // Screen candidates by cosine to their centroid (one dot product each), then
                // take the exact gain of the most similar one only.
                let own = f64::from(dot(x, &centroids[g * dims..(g + 1) * dims]));
                let mut best: Option<(f32, u32)> = None;
                for &h in &lists[g * count..(g + 1) * count] {
                    if h == NO_GROUP {
                        break;
                    }
                    let hu = h as usize;
                    let similarity = dot(x, &centroids[hu * dims..(hu + 1) * dims]);
                    if best.is_none_or(|(b, _)| similarity > b) {
                        best = Some((similarity, h));
                    }
                }
                let Some((similarity, h)) = best else { continue };
                if f64::from(similarity) <= own {
                    continue;
                }
                let hu = h as usize;
                let norm_h = state.norms2[hu].sqrt();
                let leave = (state.norms2[g] - 2.0 * along_g + 1.0).max(0.0).sqrt() - norm_g;
                let join = (state.norms2[hu] + 2.0 * f64::from(similarity) * norm_h + 1.0).sqrt() - norm_h;
                let gain = leave + join;
                if gain > EPSILON {
                    out.push(Proposal { from: g as u32, to: h, position: p as u32, gain: gain as f32 });
                }
            }
            out
        })
        .collect();
    per_chunk.into_iter().flatten().collect()
}

/// Apply sorted proposals; returns (moves, swaps, total exact gain).
fn apply(state: &mut State, proposals: &[Proposal], bounds: Bounds) -> (u64, u64, f64) {
    let (mut moves, mut swaps, mut total) = (0u64, 0u64, 0f64);
    let mut start = 0;
    while start < proposals.len() {
        let pair = |p: &Proposal| (p.from.min(p.to), p.from.max(p.to));
        let key = pair(&proposals[start]);
        let end = start + proposals[start..].partition_point(|p| pair(p) == key);
        let split = start + proposals[start..end].partition_point(|p| p.from == key.0);
        let (forward, backward) = (&proposals[start..split], &proposals[split..end]);
        let (low, high) = key;
        // Swaps: best forward with best backward while the exact gain stays positive.
        let mut paired = 0;
        while paired < forward.len().min(backward.len()) {
            let (i, j) = (forward[paired].position, backward[paired].position);
            let gain = state.swap_gain(i, j, low, high);
            if gain <= EPSILON {
                break;
            }
            total += gain;
            state.shift(low, Some(j), Some(i));
            state.shift(high, Some(i), Some(j));
            state.group_of[i as usize] = high;
            state.group_of[j as usize] = low;
            swaps += 1;
            paired += 1;
        }
        // Single moves where sizes allow.
        for (list, from, to) in [(&forward[paired..], low, high), (&backward[paired..], high, low)] {
            for proposal in list {
                let (from_size, to_size) = (state.sizes[from as usize], state.sizes[to as usize]);
                if from_size <= bounds.min_size || to_size >= bounds.max_size {
                    break;
                }
                let gain = state.move_gain(proposal.position, from, to);
                if gain <= EPSILON {
                    continue;
                }
                total += gain;
                state.shift(from, None, Some(proposal.position));
                state.shift(to, Some(proposal.position), None);
                state.sizes[from as usize] -= 1;
                state.sizes[to as usize] += 1;
                state.group_of[proposal.position as usize] = to;
                moves += 1;
            }
        }
        start = end;
    }
    (moves, swaps, total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vector::normalize_into;

    /// Rows of two tight directions, deliberately mis-assigned: half of each direction in
    /// the wrong group.
    fn crossed(dims: usize, per_side: usize) -> (Vec<f32>, Vec<u32>) {
        let mut rows = Vec::new();
        let mut group_of = Vec::new();
        for i in 0..2 * per_side {
            let side = i % 2;
            let mut raw = vec![0.05f32; dims];
            raw[side] = 1.0;
            raw[2 + (i % 3)] += 0.1;
            let mut unit = vec![0f32; dims];
            normalize_into(&raw, &mut unit);
            rows.extend_from_slice(&unit);
            // First half: correct group; second half: the other group.
            let correct = side as u32;
            group_of.push(if i < per_side { correct } else { 1 - correct });
        }
        (rows, group_of)
    }

    #[test]
    fn swaps_untangle_crossed_groups_and_keep_sizes() {
        let dims = 6;
        let (rows, mut group_of) = crossed(dims, 100);
        let before = objective(&rows, dims, &group_of, 2);
        let bounds = Bounds::new(100, 100).unwrap();
        let outcome = refine(&rows, dims, &mut group_of, 2, bounds, 10, 4, 0.0);
        let after = objective(&rows, dims, &group_of, 2);
        assert!(after > before + 10.0, "objective {before} → {after}");
        assert!(outcome.swaps > 0);
        assert_eq!(outcome.moves, 0, "equal bounds allow no single move");
        // Every row is now with its own direction.
        for (i, &g) in group_of.iter().enumerate() {
            assert_eq!(g, group_of[i % 2], "row {i}");
        }
        assert_eq!(group_of.iter().filter(|&&g| g == 0).count(), 100);
    }

    #[test]
    fn moves_respect_the_bounds() {
        let dims = 6;
        let (rows, mut group_of) = crossed(dims, 100);
        // Group 0 has 100 members; bounds 90..=110 allow at most 10 to leave.
        let bounds = Bounds::new(90, 110).unwrap();
        refine(&rows, dims, &mut group_of, 2, bounds, 10, 4, 0.0);
        let size0 = group_of.iter().filter(|&&g| g == 0).count();
        assert!((90..=110).contains(&size0), "size {size0}");
    }

    #[test]
    fn refinement_never_lowers_the_objective_and_leaves_leftovers_alone() {
        let dims = 6;
        let (rows, mut group_of) = crossed(dims, 100);
        group_of[3] = NO_GROUP;
        group_of[150] = NO_GROUP;
        let before = objective(&rows, dims, &group_of, 2);
        refine(&rows, dims, &mut group_of, 2, Bounds::new(1, 1000).unwrap(), 3, 1, 0.0);
        assert!(objective(&rows, dims, &group_of, 2) >= before);
        assert_eq!((group_of[3], group_of[150]), (NO_GROUP, NO_GROUP));
    }
}
