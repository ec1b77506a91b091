//! The plain values the crate's functions take and give: bounds, profiles, options, groupings.

use crate::vector;
use crate::{GroupingError, NO_GROUP};

/// Size bounds of an interest group: every group has `min_size..=max_size` members.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bounds {
    pub min_size: u32,
    pub max_size: u32,
}

impl Default for Bounds {
    /// The article's 200–300.
    fn default() -> Bounds {
        Bounds { min_size: 200, max_size: 300 }
    }
}

impl Bounds {
    /// Validated bounds: `1 <= min_size <= max_size`.
    pub fn new(min_size: u32, max_size: u32) -> Result<Bounds, GroupingError> {
        let bounds = Bounds { min_size, max_size };
        bounds.validate()?;
        Ok(bounds)
    }

    pub fn validate(&self) -> Result<(), GroupingError> {
        if self.min_size == 0 || self.min_size > self.max_size {
            return Err(GroupingError::InvalidBounds { min_size: self.min_size, max_size: self.max_size });
        }
        Ok(())
    }

    /// Whether `citizens` can be split exactly into groups within the bounds: some `k` has
    /// `k·min <= citizens <= k·max`.
    pub fn is_exact(&self, citizens: u64) -> bool {
        self.most_groupable(citizens) == citizens
    }

    /// The largest number of the `citizens` that groups within the bounds can hold:
    /// `min(citizens, ⌊citizens/min⌋·max)`. The rest are leftovers whatever the algorithm.
    pub fn most_groupable(&self, citizens: u64) -> u64 {
        let groups = citizens / u64::from(self.min_size);
        citizens.min(groups * u64::from(self.max_size))
    }

    /// The population size from which every larger population splits exactly, if any.
    ///
    /// With `min < max` the ranges `[k·min, k·max]` overlap from `k0 = ⌈(min−1)/(max−min)⌉`
    /// on, so every population of at least `k0·min` splits (400 for 200..=300). With
    /// `min == max > 1` only multiples of `min` split, so there is no such size.
    pub fn always_exact_from(&self) -> Option<u64> {
        let (min, max) = (u64::from(self.min_size), u64::from(self.max_size));
        if min == 1 {
            return Some(0);
        }
        if min == max {
            return None;
        }
        let k0 = (min - 1).div_ceil(max - min);
        Some(k0 * min)
    }

    /// Number of groups a block of `citizens` is cut into, aiming at `target` members each.
    ///
    /// When the block splits exactly, the count nearest `citizens/target` among the counts
    /// that respect the bounds; otherwise `⌊citizens/min⌋` full groups, which holds the most
    /// citizens ([`Bounds::most_groupable`]).
    pub fn groups_for(&self, citizens: u64, target: u32) -> u32 {
        let (min, max) = (u64::from(self.min_size), u64::from(self.max_size));
        let fewest = citizens.div_ceil(max);
        let most = citizens / min;
        let count = if fewest > most {
            most
        } else {
            let target = u64::from(target.clamp(self.min_size, self.max_size));
            ((citizens + target / 2) / target).clamp(fewest, most)
        };
        u32::try_from(count).expect("more than 4 billion groups in one block")
    }

    /// The default target group size: the middle of the bounds, which leaves room both to
    /// place newcomers and to lose members before a refill is needed.
    pub fn midpoint(&self) -> u32 {
        self.min_size + (self.max_size - self.min_size) / 2
    }
}

/// Interest profiles, one row of `dims` values per citizen (row `i` is citizen `i`).
///
/// The values are interest weights (typically non-negative shares of attention per topic,
/// with purchase-history features appended when the caller has them, see
/// [`crate::combine_features`]). Only their direction matters: similarity is the cosine.
#[derive(Clone, Copy, Debug)]
pub struct Profiles<'a> {
    dims: usize,
    values: &'a [f32],
}

/// Largest number of interest dimensions (the coarse key packs two topic indices in a `u32`).
pub const MAX_DIMS: usize = 65_535;

impl<'a> Profiles<'a> {
    /// Row-major profiles: `values.len()` must be a multiple of `dims`, every value finite,
    /// and the citizen count below `u32::MAX` (citizen and group ids are `u32`).
    pub fn new(dims: usize, values: &'a [f32]) -> Result<Profiles<'a>, GroupingError> {
        if dims == 0 || dims > MAX_DIMS {
            return Err(GroupingError::InvalidDims { dims });
        }
        if !values.len().is_multiple_of(dims) {
            return Err(GroupingError::RaggedProfiles { dims, values: values.len() });
        }
        let citizens = values.len() / dims;
        if citizens >= NO_GROUP as usize {
            return Err(GroupingError::TooManyCitizens { citizens });
        }
        if let Some(position) = values.iter().position(|v| !v.is_finite()) {
            return Err(GroupingError::NonFiniteValue { citizen: position / dims, dim: position % dims });
        }
        Ok(Profiles { dims, values })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    /// Number of citizens (rows).
    pub fn len(&self) -> usize {
        self.values.len() / self.dims
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The profile of citizen `i`.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [f32] {
        &self.values[i * self.dims..(i + 1) * self.dims]
    }

    pub fn values(&self) -> &'a [f32] {
        self.values
    }

    /// The rows `range` as profiles of their own (a block of a larger population).
    pub fn slice(&self, range: std::ops::Range<usize>) -> Profiles<'a> {
        Profiles { dims: self.dims, values: &self.values[range.start * self.dims..range.end * self.dims] }
    }
}

/// Concatenate interest profiles with purchase-history features into one profile per
/// citizen, each part scaled to unit length first and the purchase part weighted by
/// `purchase_weight`.
///
/// The cosine of two combined profiles is then `(cos_interest + w²·cos_purchase) / (1 + w²)`
/// for citizens with both parts non-zero: `w = 1` gives purchases as much say as interests.
/// The coarse key of the blocks should stay on the interest part: set
/// [`Options::key_dims`] to `interests.dims()`.
pub fn combine_features(
    interests: Profiles,
    purchases: Profiles,
    purchase_weight: f32,
) -> Result<Vec<f32>, GroupingError> {
    if interests.len() != purchases.len() {
        return Err(GroupingError::MismatchedPopulations { left: interests.len(), right: purchases.len() });
    }
    let dims = interests.dims() + purchases.dims();
    let mut combined = vec![0f32; interests.len() * dims];
    for (i, out) in combined.chunks_exact_mut(dims).enumerate() {
        let (left, right) = out.split_at_mut(interests.dims());
        vector::normalize_into(interests.row(i), left);
        vector::normalize_into(purchases.row(i), right);
        right.iter_mut().for_each(|x| *x *= purchase_weight);
    }
    Ok(combined)
}

/// How [`crate::group`] works; every field has a default that suits 200..=300 groups.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// Seed of the only random choice in the algorithm (the start vector of each split's
    /// power iteration) and of the baselines. Same seed and input: same grouping.
    pub seed: u64,
    /// Size the seed partition aims at; `None` is the middle of the bounds (250 for
    /// 200..=300), which leaves room to place newcomers and to lose members.
    pub target_size: Option<u32>,
    /// Local-improvement passes (moves and swaps between neighbouring groups) per block;
    /// 0 keeps the space-partitioning seed as is. Passes stop early once nothing improves.
    pub refine_passes: u32,
    /// Candidate groups a citizen may move to in a refinement pass: the most similar groups
    /// to its own among nearby group ids.
    pub neighbours: u32,
    /// Refinement stops after a pass that raised the mean cosine (of the block) by less
    /// than this.
    pub min_pass_gain: f64,
    /// A block closes at the first change of coarse key once it holds this many citizens.
    pub block_target: u32,
    /// A block never holds more than this many citizens (bounds the memory of a block:
    /// about `block_max × dims × 8` bytes plus a few `u32`/`u64` per citizen).
    pub block_max: u32,
    /// Coarse key on the first `key_dims` dimensions only (0: all); set it to the interest
    /// dimensions when purchase features are appended.
    pub key_dims: usize,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            seed: 0,
            target_size: None,
            refine_passes: 8,
            neighbours: 16,
            min_pass_gain: 1e-4,
            block_target: 1 << 16,
            block_max: 1 << 20,
            key_dims: 0,
        }
    }
}

impl Options {
    pub(crate) fn target_for(&self, bounds: Bounds) -> u32 {
        self.target_size.unwrap_or_else(|| bounds.midpoint()).clamp(bounds.min_size, bounds.max_size)
    }
}

/// What the algorithm did, summed over blocks (for reports; no clock is read).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GroupingStats {
    /// Blocks the population was cut into.
    pub blocks: u32,
    /// Citizens in the largest block.
    pub largest_block: u32,
    /// `Σ_g ‖Σ_{i∈g} x̂_i‖` after the space-partitioning seed (divide by `grouped` for the
    /// mean cosine to the centroid).
    pub seed_objective: f64,
    /// The same after refinement.
    pub objective: f64,
    /// Citizens in a group.
    pub grouped: u64,
    /// Single moves and pairwise swaps applied by refinement.
    pub moves: u64,
    pub swaps: u64,
    /// Most refinement passes run in one block.
    pub passes: u32,
}

impl GroupingStats {
    /// Mean cosine to the group centroid after the seed, before refinement.
    pub fn seed_quality(&self) -> f64 {
        if self.grouped == 0 { 0.0 } else { self.seed_objective / self.grouped as f64 }
    }

    pub(crate) fn absorb(&mut self, other: &GroupingStats) {
        self.blocks += other.blocks;
        self.largest_block = self.largest_block.max(other.largest_block);
        self.seed_objective += other.seed_objective;
        self.objective += other.objective;
        self.grouped += other.grouped;
        self.moves += other.moves;
        self.swaps += other.swaps;
        self.passes = self.passes.max(other.passes);
    }
}

/// A partition of citizens into groups, plus the citizens left out.
///
/// `group_of[i]` is citizen `i`'s group id, or [`NO_GROUP`]. Group ids run `0..groups()`;
/// for groupings made by [`crate::group`] neighbouring ids are similar groups.
#[derive(Clone, Debug, PartialEq)]
pub struct Grouping {
    pub group_of: Vec<u32>,
    /// Members of group `g` are `members[offsets[g]..offsets[g+1]]`, in citizen order.
    offsets: Vec<u32>,
    members: Vec<u32>,
    leftovers: Vec<u32>,
    pub stats: GroupingStats,
}

/// Smallest, mean and largest group size.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SizeSummary {
    pub min: u32,
    pub mean: f64,
    pub max: u32,
}

impl Grouping {
    /// Index a `group_of` vector (ids `< groups` or [`NO_GROUP`]).
    pub fn from_group_of(group_of: Vec<u32>, groups: u32) -> Result<Grouping, GroupingError> {
        let mut offsets = vec![0u32; groups as usize + 1];
        let mut leftovers = Vec::new();
        for (citizen, &g) in group_of.iter().enumerate() {
            if g == NO_GROUP {
                leftovers.push(citizen as u32);
            } else if g >= groups {
                return Err(GroupingError::UnknownGroup { group: g, groups });
            } else {
                offsets[g as usize + 1] += 1;
            }
        }
        for g in 0..groups as usize {
            offsets[g + 1] += offsets[g];
        }
        let mut fill = offsets.clone();
        let mut members = vec![0u32; group_of.len() - leftovers.len()];
        for (citizen, &g) in group_of.iter().enumerate() {
            if g != NO_GROUP {
                members[fill[g as usize] as usize] = citizen as u32;
                fill[g as usize] += 1;
            }
        }
        Ok(Grouping { group_of, offsets, members, leftovers, stats: GroupingStats::default() })
    }

    /// Number of groups (ids `0..groups()`).
    pub fn groups(&self) -> u32 {
        (self.offsets.len() - 1) as u32
    }

    /// Number of citizens, grouped or not.
    pub fn citizens(&self) -> usize {
        self.group_of.len()
    }

    /// Members of group `g`, in increasing citizen id.
    pub fn members(&self, g: u32) -> &[u32] {
        let g = g as usize;
        &self.members[self.offsets[g] as usize..self.offsets[g + 1] as usize]
    }

    pub fn size(&self, g: u32) -> u32 {
        let g = g as usize;
        self.offsets[g + 1] - self.offsets[g]
    }

    /// Size of every group, by id.
    pub fn sizes(&self) -> Vec<u32> {
        self.offsets.windows(2).map(|w| w[1] - w[0]).collect()
    }

    /// Citizens in no group, in increasing id.
    pub fn leftovers(&self) -> &[u32] {
        &self.leftovers
    }

    /// Smallest, mean and largest group size (`None` without groups).
    pub fn size_summary(&self) -> Option<SizeSummary> {
        let sizes = self.sizes();
        let min = *sizes.iter().min()?;
        let max = *sizes.iter().max()?;
        let mean = sizes.iter().map(|&s| f64::from(s)).sum::<f64>() / sizes.len() as f64;
        Some(SizeSummary { min, mean, max })
    }

    /// Every group within the bounds?
    pub fn check_bounds(&self, bounds: Bounds) -> Result<(), GroupingError> {
        for g in 0..self.groups() {
            let size = self.size(g);
            if size < bounds.min_size || size > bounds.max_size {
                return Err(GroupingError::SizeOutOfBounds { group: g, size, bounds });
            }
        }
        Ok(())
    }
}
