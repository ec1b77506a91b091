//! Balanced interest grouping: partition citizens into groups of `min_size..=max_size`
//! members (the article's 200–300) so that members of a group are alike.
//!
//! In the article, Tencent cross-references its data so that people are grouped by interest
//! into groups of 200 or 300. This crate is that capability, for the simulator and the live
//! service alike: [`group`] partitions a population, [`GroupIndex`] keeps a grouping up to
//! date one citizen at a time, [`quality`] measures a grouping against the two references
//! [`random_balanced`] (floor) and [`kmeans`] (ceiling).
//!
//! # What "alike" means
//!
//! Similarity is the cosine of interest profiles ([`Profiles`]; append purchase-history
//! features with [`combine_features`]). A group's centroid is the mean of its members' unit
//! profiles, and a grouping is scored by the mean cosine of members to their centroid —
//! equivalently `Σ_g ‖Σ_{i∈g} x̂_i‖ / grouped`, which is what the algorithm maximises.
//!
//! # The algorithm, and why
//!
//! Size-constrained clustering is usually done as k-means whose assignment step is a
//! min-cost flow or an assignment problem (`k-means-constrained`): `n·k` arcs per iteration,
//! hopeless for 10 million citizens and 40 000 groups, let alone 1.4 billion. This crate
//! instead builds groups that are balanced *by construction* and then improves them locally:
//!
//! 1. **Coarse key and blocks** ([`plan`]). Each citizen gets a key from its two dominant
//!    interests ([`coarse_key`]). The population is sorted by (key, id) and cut into blocks
//!    of consecutive keys (about [`Options::block_target`] citizens, at most
//!    [`Options::block_max`]). Blocks are independent: they are grouped in parallel, and a
//!    caller whose population is generated in key order can group it block by block in
//!    bounded memory ([`group_block`], [`BlockStream`]). [`group`] is exactly that
//!    algorithm applied to a population it sorted itself.
//! 2. **Seed: a size-aware PCA tree.** Inside a block of `m` citizens that must form `k`
//!    groups (the count nearest `m / target` that the bounds allow), the block is cut in two
//!    along its principal direction (power iteration on a 256-row sample) at the threshold
//!    that best separates the two sides (Otsu's criterion on a 512-bin histogram of the
//!    projections), among the thresholds whose two sides can both still be split exactly
//!    into groups within the bounds and hold at least a fifth of the rows each; each side gets
//!    its share of the `k` groups, and the cut recurses until one group is left. Clusters
//!    are thus cut between rather than through, every leaf lands inside the bounds by
//!    construction, the cost is `O(m·d·depth)` with depth at most `log(k)/log(5/4)`, memory
//!    is read sequentially (rows move between two buffers level by level), and the leaves
//!    come out in an order where neighbours are similar (the in-order of the tree).
//! 3. **Refinement: moves and swaps.** Up to [`Options::refine_passes`] passes (8; they stop
//!    once a pass gains less than [`Options::min_pass_gain`]) in which every citizen
//!    proposes a move to the most similar of its group's neighbouring groups (parallel,
//!    pure), then the proposals are applied in a fixed order as pairwise swaps (sizes
//!    unchanged) or single moves (where sizes allow), each checked against the exact
//!    objective. The objective never decreases and the bounds always hold.
//!
//! The tree alone gets most of the way (on 1 M synthetic citizens: 0.981 mean cosine, against
//! 0.578 for random groups); refinement adds the last few thousandths (0.984), at about the
//! cost of the tree again. `docs/grouping.md` has the measurements and the reasoning.
//!
//! # Keeping a grouping up to date
//!
//! [`GroupIndex`] holds each group's sum of unit profiles and size, filed by the group's
//! dominant interests: it places a newcomer (or a regrouped citizen) in the most similar
//! group with room without scanning every group, refills groups that fell below
//! `min_size` from the groupless pool, merges or dissolves those it cannot refill, splits
//! (only when bounds allow two halves) and opens new groups from the pool. Its
//! documentation states the rules and the approximation.
//!
//! Group ids follow the block order then the tree order, so **neighbouring ids are similar
//! groups**: a caller can look for "a nearby group" among nearby ids.
//!
//! # When the population does not split exactly
//!
//! `n` citizens fit in groups of `min..=max` iff some `k` has `k·min <= n <= k·max` (with
//! 200..=300: every `n >= 400`, and 200..=300 itself). Otherwise the grouping forms
//! `⌊n/min⌋` groups of `max` members — the most citizens any grouping can hold — and the
//! rest stay groupless ([`NO_GROUP`], listed in [`Grouping::leftovers`]): in each tree leaf
//! the members least similar to the leaf's centroid. 350 citizens give one group of 300 and
//! 50 leftovers; 150 give no group at all. Blocks are cut so that only the last block can be
//! inexact, so the leftovers are never more than this minimum.
//!
//! # Determinism
//!
//! The result is a function of the profiles, the bounds and the [`Options`] (whose `seed`
//! picks the start vectors of the power iterations): parallel work is split at fixed
//! boundaries and merged in a fixed order, so the thread count never changes a bit.
//!
//! ```
//! use xinyong_grouping::{Bounds, Options, Profiles, group, quality, random_balanced, synthetic};
//! let dims = 16;
//! let values = synthetic::profiles(5_000, dims, 7);
//! let profiles = Profiles::new(dims, &values).unwrap();
//! let grouping = group(profiles, Bounds::default(), &Options::default());
//! assert_eq!(grouping.groups(), 20);
//! grouping.check_bounds(Bounds::default()).unwrap();
//! let floor = quality(profiles, &random_balanced(profiles, Bounds::default(), 7));
//! assert!(quality(profiles, &grouping) > floor + 0.1);
//! ```

mod baseline;
mod block;
mod index;
mod plan;
mod refine;
mod stream;
pub mod synthetic;
mod tree;
mod types;
mod vector;

pub use baseline::{grouping_from_labels, kmeans, quality, random_balanced};
pub use block::{BlockGrouping, group, group_block, group_planned, groups_in_block};
pub use index::{GroupIndex, Placement};
pub use plan::{BlockSpan, Plan, coarse_key, plan};
pub use stream::{BlockStream, GroupedBlock};
pub use types::{Bounds, Grouping, GroupingStats, MAX_DIMS, Options, Profiles, SizeSummary, combine_features};

/// The group id of a citizen in no group.
pub const NO_GROUP: u32 = u32::MAX;

/// Run `f` on a pool of `threads` worker threads (0: one per core). Results never depend
/// on the thread count; this only changes how fast they come.
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R, GroupingError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|error| GroupingError::ThreadPool { reason: error.to_string() })?;
    Ok(pool.install(f))
}

/// Worker threads the grouping functions would use if called here.
pub fn current_threads() -> usize {
    rayon::current_num_threads()
}

/// What can go wrong, each variant saying what to fix.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GroupingError {
    #[error("group size bounds must satisfy 1 <= min_size <= max_size, got {min_size}..={max_size}")]
    InvalidBounds { min_size: u32, max_size: u32 },
    #[error("profiles need between 1 and {MAX_DIMS} dimensions, got {dims}")]
    InvalidDims { dims: usize },
    #[error("{values} profile values do not make whole rows of {dims} dimensions")]
    RaggedProfiles { dims: usize, values: usize },
    #[error("{citizens} citizens: ids are u32 with u32::MAX reserved, so at most 4294967294 per call")]
    TooManyCitizens { citizens: usize },
    #[error("profile of citizen {citizen}, dimension {dim} is not a finite number")]
    NonFiniteValue { citizen: usize, dim: usize },
    #[error("the two inputs cover different populations ({left} and {right} citizens)")]
    MismatchedPopulations { left: usize, right: usize },
    #[error("profile has {got} dimensions where {expected} were expected")]
    DimsMismatch { expected: usize, got: usize },
    #[error("group {group} does not exist (there are {groups})")]
    UnknownGroup { group: u32, groups: u32 },
    #[error("group {group} has {size} members, outside {}..={}", bounds.min_size, bounds.max_size)]
    SizeOutOfBounds { group: u32, size: u32, bounds: Bounds },
    #[error("group {group} is full ({max_size} members): place the citizen elsewhere")]
    GroupFull { group: u32, max_size: u32 },
    #[error("group {group} has no member to remove")]
    GroupEmpty { group: u32 },
    #[error("group {group} was merged or dissolved and takes no members")]
    GroupRetired { group: u32 },
    #[error("merging group {from} into {into} would make {size} members, more than {max_size}")]
    MergeTooLarge { from: u32, into: u32, size: u32, max_size: u32 },
    #[error("group {group} of {size} cannot split into two groups of at least {min_size}")]
    CannotSplit { group: u32, size: u32, min_size: u32 },
    #[error("cannot start a thread pool: {reason}")]
    ThreadPool { reason: String },
    #[error("citizen {citizen} has coarse key {key}, below the previous {previous}: push citizens in key order")]
    OutOfKeyOrder { citizen: u64, key: u32, previous: u32 },
}
