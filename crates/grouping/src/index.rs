//! Incremental grouping: place newcomers and regrouped citizens, refill, merge, dissolve,
//! split and open groups without regrouping everyone.
//!
//! See [`GroupIndex`] for the rules and the approximation.

use std::collections::BTreeSet;

use crate::types::{Bounds, Grouping, Options, Profiles};
use crate::vector::{add_row, dot_f64, norm2_f64, normalize_into, sub_row, top3, top3_f64};
use crate::{GroupingError, NO_GROUP};

const TOPIC_BITS: u32 = 21;
/// Half-width of the id neighbourhood searched around the best group found by key.
const ID_WINDOW: u32 = 8;
/// Most moves along ids.
const ID_CLIMB_STEPS: usize = 8;
const TOPIC_MASK: u64 = (1 << TOPIC_BITS) - 1;

fn pack(top: [u32; 3]) -> u64 {
    let part = |t: u32| if t == u32::MAX { TOPIC_MASK } else { u64::from(t) };
    (part(top[0]) << (2 * TOPIC_BITS)) | (part(top[1]) << TOPIC_BITS) | part(top[2])
}

/// The groups scanned for a placement, and the one chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    pub group: Option<u32>,
    /// Groups whose similarity was computed (the cost of the search).
    pub scanned: u32,
    /// Level that decided: 3 = same top-three interests (any order) … 0 = every group.
    pub level: u8,
}

/// Sums and sizes of groups, indexed by dominant interests, for incremental operations.
///
/// The index keeps, per group, the sum of its members' unit profiles (`f64`) and its size —
/// `dims × 8 + 4` bytes a group, no member lists (the caller owns membership). Each group is
/// filed under the key of its centroid's three dominant interests, in order. A placement
/// looks first at the groups that share the citizen's dominant interests and widens only when
/// too few of them have room:
///
/// - level 3: the centroid's top three interests are the citizen's top three, in order;
/// - level 2: its top two are the citizen's top two;
/// - level 1: its top interest is the citizen's;
/// - level 0: every group.
///
/// The first level that offers at least [`GroupIndex::min_candidates`] groups with room
/// decides (level 0 always decides). From the best group found there, the search then climbs
/// along group ids — for a grouping made by [`crate::group`], neighbouring ids are similar
/// groups — to a better group within 8 ids, while there is one (at most 8 steps).
///
/// This is an approximation: a group whose centroid ranks the interests differently can be
/// closer and be missed when the narrower level had enough candidates. Measured on 20 000
/// groups each centred on one synthetic profile (harsher than real centroids, which average
/// out personal noise): the best group is found for nearly two newcomers in three, the cosine lost
/// is 0.007 on average and 0.07 at worst, and about 100 groups are scanned instead of
/// 20 000. Raising `min_candidates` trades scans for accuracy (64: 0.003 lost, 680 scanned).
///
/// # Rules
///
/// - A newcomer or a regrouped (expelled) citizen goes to [`GroupIndex::place`]'s group;
///   `None` (no room anywhere) leaves them in the groupless pool.
/// - Groups below `min_size` ([`GroupIndex::below_min`]) are refilled from the pool
///   ([`GroupIndex::refill`]); one still short merges into the most similar group that can
///   take it whole ([`GroupIndex::merge_target`], [`GroupIndex::merge`]); if none can, it is
///   dissolved and its members placed one by one ([`GroupIndex::dissolve`]).
/// - When the pool holds citizens nobody has room for, [`GroupIndex::absorb_pool`] groups
///   them among themselves into new groups.
/// - [`GroupIndex::split`] halves a group only when both halves reach `min_size` (never with
///   200..=300).
#[derive(Clone, Debug)]
pub struct GroupIndex {
    dims: usize,
    bounds: Bounds,
    sums: Vec<f64>,
    sizes: Vec<u32>,
    retired: Vec<bool>,
    keys: Vec<u64>,
    by_key: BTreeSet<(u64, u32)>,
    below_min: BTreeSet<u32>,
    /// A search level decides once it offers this many groups with room (default 16).
    pub min_candidates: u32,
}

impl GroupIndex {
    /// Index the groups of a grouping of `profiles`.
    pub fn from_grouping(profiles: Profiles, grouping: &Grouping, bounds: Bounds) -> Result<GroupIndex, GroupingError> {
        bounds.validate()?;
        if profiles.len() != grouping.citizens() {
            return Err(GroupingError::MismatchedPopulations { left: profiles.len(), right: grouping.citizens() });
        }
        let sums = crate::baseline::unit_sums(profiles, grouping);
        GroupIndex::from_sums(profiles.dims(), bounds, sums, grouping.sizes())
    }

    /// Index groups given by their sums of members' **unit** profiles and their sizes.
    pub fn from_sums(
        dims: usize,
        bounds: Bounds,
        sums: Vec<f64>,
        sizes: Vec<u32>,
    ) -> Result<GroupIndex, GroupingError> {
        bounds.validate()?;
        if dims == 0 || sums.len() != sizes.len() * dims {
            return Err(GroupingError::DimsMismatch { expected: dims, got: sums.len() / sizes.len().max(1) });
        }
        let groups = sizes.len();
        let mut index = GroupIndex {
            dims,
            bounds,
            sums,
            sizes,
            retired: vec![false; groups],
            keys: vec![0; groups],
            by_key: BTreeSet::new(),
            below_min: BTreeSet::new(),
            min_candidates: 16,
        };
        for g in 0..groups as u32 {
            index.file(g);
        }
        Ok(index)
    }

    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// Group ids ever used (`0..groups()`), retired ones included.
    pub fn groups(&self) -> u32 {
        self.sizes.len() as u32
    }

    pub fn size(&self, g: u32) -> u32 {
        self.sizes[g as usize]
    }

    /// A retired group (merged into another or dissolved) takes no members any more.
    pub fn is_retired(&self, g: u32) -> bool {
        self.retired[g as usize]
    }

    /// Unit centroid of group `g` (zero for an empty group).
    pub fn centroid(&self, g: u32) -> Vec<f32> {
        let mut out = vec![0f32; self.dims];
        crate::vector::unit_of_sum(self.sum(g), &mut out);
        out
    }

    /// Live groups below `min_size`, in increasing id: they need a refill (or a merge).
    pub fn below_min(&self) -> Vec<u32> {
        self.below_min.iter().copied().collect()
    }

    /// Cosine of a unit profile with group `g`'s centroid (0 for an empty group).
    fn score(&self, unit: &[f32], g: u32) -> f64 {
        let sum = self.sum(g);
        let norm = norm2_f64(sum).sqrt();
        if norm == 0.0 { 0.0 } else { dot_f64(unit, sum) / norm }
    }

    fn sum(&self, g: u32) -> &[f64] {
        &self.sums[g as usize * self.dims..(g as usize + 1) * self.dims]
    }

    /// (Re)file group `g` under its current key and below-min status.
    fn file(&mut self, g: u32) {
        let gi = g as usize;
        self.by_key.remove(&(self.keys[gi], g));
        self.below_min.remove(&g);
        if self.retired[gi] {
            return;
        }
        self.keys[gi] = pack(top3_f64(self.sum(g)));
        self.by_key.insert((self.keys[gi], g));
        if self.sizes[gi] < self.bounds.min_size {
            self.below_min.insert(g);
        }
    }

    fn check_live(&self, g: u32) -> Result<(), GroupingError> {
        if g >= self.groups() {
            return Err(GroupingError::UnknownGroup { group: g, groups: self.groups() });
        }
        if self.retired[g as usize] {
            return Err(GroupingError::GroupRetired { group: g });
        }
        Ok(())
    }

    fn check_dims(&self, profile: &[f32]) -> Result<(), GroupingError> {
        if profile.len() != self.dims {
            return Err(GroupingError::DimsMismatch { expected: self.dims, got: profile.len() });
        }
        Ok(())
    }

    /// The most similar group with room (`size < max_size`), searched as the module
    /// documentation describes; `None` when no group has room.
    pub fn place(&self, profile: &[f32]) -> Option<u32> {
        self.placement(profile, |_| true).group
    }

    /// [`GroupIndex::place`] among the groups `allowed` accepts (e.g. not the group that
    /// just expelled this citizen), with the cost of the search.
    pub fn placement(&self, profile: &[f32], allowed: impl Fn(u32) -> bool) -> Placement {
        assert_eq!(profile.len(), self.dims, "profile of the wrong dimension");
        let mut unit = vec![0f32; self.dims];
        normalize_into(profile, &mut unit);
        let key = pack(top3(profile));
        let mut scanned = 0u32;
        for level in (0..=3u8).rev() {
            // The level's key range: the keys sharing the first `level` interests.
            let free_bits = 3 * TOPIC_BITS - TOPIC_BITS * u32::from(level);
            let (low, high) = if level == 0 {
                (0, u64::MAX)
            } else {
                (key >> free_bits << free_bits, key | ((1u64 << free_bits) - 1))
            };
            let mut best: Option<(f64, u32)> = None;
            let mut with_room = 0u32;
            for &(_, g) in self.by_key.range((low, 0)..=(high, u32::MAX)) {
                if self.sizes[g as usize] >= self.bounds.max_size || !allowed(g) {
                    continue;
                }
                with_room += 1;
                scanned += 1;
                let score = self.score(&unit, g);
                if best.is_none_or(|(s, held)| score > s || (score == s && g < held)) {
                    best = Some((score, g));
                }
            }
            if level == 0 || (with_room >= self.min_candidates && best.is_some()) {
                let best = best.map(|found| self.climb_ids(&unit, found, &allowed, &mut scanned));
                return Placement { group: best.map(|(_, g)| g), scanned, level };
            }
        }
        unreachable!("level 0 always decides")
    }

    /// From the best group found, look at the groups with nearby ids (similar groups, for a
    /// grouping made by [`crate::group`]) and move to a better one while there is one.
    fn climb_ids(
        &self,
        unit: &[f32],
        mut best: (f64, u32),
        allowed: &impl Fn(u32) -> bool,
        scanned: &mut u32,
    ) -> (f64, u32) {
        for _ in 0..ID_CLIMB_STEPS {
            let centre = best.1;
            let low = centre.saturating_sub(ID_WINDOW);
            let high = (centre + ID_WINDOW).min(self.groups() - 1);
            for g in low..=high {
                if g == centre
                    || self.retired[g as usize]
                    || self.sizes[g as usize] >= self.bounds.max_size
                    || !allowed(g)
                {
                    continue;
                }
                *scanned += 1;
                let score = self.score(unit, g);
                if score > best.0 || (score == best.0 && g < best.1) {
                    best = (score, g);
                }
            }
            if best.1 == centre {
                break;
            }
        }
        best
    }

    /// Count `profile` into group `g`. Fails if `g` is unknown, retired or full.
    pub fn add_member(&mut self, g: u32, profile: &[f32]) -> Result<(), GroupingError> {
        self.check_live(g)?;
        self.check_dims(profile)?;
        if self.sizes[g as usize] >= self.bounds.max_size {
            return Err(GroupingError::GroupFull { group: g, max_size: self.bounds.max_size });
        }
        let mut unit = vec![0f32; self.dims];
        normalize_into(profile, &mut unit);
        let dims = self.dims;
        add_row(&mut self.sums[g as usize * dims..(g as usize + 1) * dims], &unit);
        self.sizes[g as usize] += 1;
        self.file(g);
        Ok(())
    }

    /// Take `profile` (a member's) out of group `g`. The index cannot check membership: the
    /// caller must pass a profile it added (or that was in the grouping it was built from).
    pub fn remove_member(&mut self, g: u32, profile: &[f32]) -> Result<(), GroupingError> {
        self.check_live(g)?;
        self.check_dims(profile)?;
        if self.sizes[g as usize] == 0 {
            return Err(GroupingError::GroupEmpty { group: g });
        }
        let mut unit = vec![0f32; self.dims];
        normalize_into(profile, &mut unit);
        let dims = self.dims;
        sub_row(&mut self.sums[g as usize * dims..(g as usize + 1) * dims], &unit);
        self.sizes[g as usize] -= 1;
        self.file(g);
        Ok(())
    }

    /// Refill every group below `min_size` from a pool of groupless citizens: in increasing
    /// group id, each takes the pool citizens most similar to its centroid until it reaches
    /// `min_size` or the pool is empty. Returns `(pool row, group)` for each citizen taken;
    /// the caller records the memberships.
    pub fn refill(&mut self, pool: Profiles) -> Result<Vec<(u32, u32)>, GroupingError> {
        if pool.dims() != self.dims {
            return Err(GroupingError::DimsMismatch { expected: self.dims, got: pool.dims() });
        }
        let mut taken = vec![false; pool.len()];
        let mut assignments = Vec::new();
        let mut unit = vec![0f32; self.dims];
        for g in self.below_min() {
            let need = (self.bounds.min_size - self.sizes[g as usize]) as usize;
            let sum = self.sum(g).to_vec();
            let norm = norm2_f64(&sum).sqrt();
            let mut candidates: Vec<(f64, u32)> = (0..pool.len())
                .filter(|&row| !taken[row])
                .map(|row| {
                    normalize_into(pool.row(row), &mut unit);
                    let score = if norm == 0.0 { 0.0 } else { dot_f64(&unit, &sum) / norm };
                    (score, row as u32)
                })
                .collect();
            candidates.sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, row) in candidates.iter().take(need) {
                self.add_member(g, pool.row(row as usize))?;
                taken[row as usize] = true;
                assignments.push((row, g));
            }
        }
        Ok(assignments)
    }

    /// The most similar live group that can absorb all of group `g` (combined size at most
    /// `max_size`), searched like a placement from `g`'s centroid.
    pub fn merge_target(&self, g: u32) -> Option<u32> {
        let size = self.sizes[g as usize];
        let centroid = self.centroid(g);
        let max = self.bounds.max_size;
        self.placement(&centroid, |h| h != g && self.sizes[h as usize] + size <= max).group
    }

    /// Merge group `from` into `into` (the caller moves the members); `from` is retired.
    pub fn merge(&mut self, from: u32, into: u32) -> Result<(), GroupingError> {
        self.check_live(from)?;
        self.check_live(into)?;
        let combined = self.sizes[from as usize] + self.sizes[into as usize];
        if from == into || combined > self.bounds.max_size {
            return Err(GroupingError::MergeTooLarge { from, into, size: combined, max_size: self.bounds.max_size });
        }
        let dims = self.dims;
        for t in 0..dims {
            self.sums[into as usize * dims + t] += self.sums[from as usize * dims + t];
            self.sums[from as usize * dims + t] = 0.0;
        }
        self.sizes[into as usize] = combined;
        self.sizes[from as usize] = 0;
        self.retired[from as usize] = true;
        self.file(from);
        self.file(into);
        Ok(())
    }

    /// Dissolve group `g`: retire it and place each member (rows of `members`, in order) in
    /// the most similar other group with room. Returns each member's new group, `None` for
    /// those that found no room (they join the groupless pool).
    pub fn dissolve(&mut self, g: u32, members: Profiles) -> Result<Vec<Option<u32>>, GroupingError> {
        self.check_live(g)?;
        if members.dims() != self.dims {
            return Err(GroupingError::DimsMismatch { expected: self.dims, got: members.dims() });
        }
        self.retired[g as usize] = true;
        self.sizes[g as usize] = 0;
        let dims = self.dims;
        self.sums[g as usize * dims..(g as usize + 1) * dims].fill(0.0);
        self.file(g);
        let mut placed = Vec::with_capacity(members.len());
        for row in 0..members.len() {
            let profile = members.row(row);
            let target = self.placement(profile, |h| h != g).group;
            if let Some(h) = target {
                self.add_member(h, profile)?;
            }
            placed.push(target);
        }
        Ok(placed)
    }

    /// Open a new group from `members` (between `min_size` and `max_size` of them); its id
    /// is the next unused one. New ids sit at the end, so they break the "neighbouring ids
    /// are similar groups" order until the next full regrouping.
    pub fn open_group(&mut self, members: Profiles) -> Result<u32, GroupingError> {
        if members.dims() != self.dims {
            return Err(GroupingError::DimsMismatch { expected: self.dims, got: members.dims() });
        }
        let size = members.len() as u32;
        if size < self.bounds.min_size || size > self.bounds.max_size {
            return Err(GroupingError::SizeOutOfBounds { group: self.groups(), size, bounds: self.bounds });
        }
        let g = self.groups();
        let mut sum = vec![0f64; self.dims];
        let mut unit = vec![0f32; self.dims];
        for row in 0..members.len() {
            normalize_into(members.row(row), &mut unit);
            add_row(&mut sum, &unit);
        }
        self.sums.extend_from_slice(&sum);
        self.sizes.push(size);
        self.retired.push(false);
        self.keys.push(0);
        self.file(g);
        Ok(g)
    }

    /// Form new groups from a groupless pool (e.g. citizens no group had room for), grouped
    /// among themselves by [`crate::group`]. Returns each pool row's new group, [`NO_GROUP`]
    /// for those left over (fewer than `min_size` alike, or an inexact remainder).
    pub fn absorb_pool(&mut self, pool: Profiles, options: &Options) -> Result<Vec<u32>, GroupingError> {
        if pool.dims() != self.dims {
            return Err(GroupingError::DimsMismatch { expected: self.dims, got: pool.dims() });
        }
        let grouping = crate::group(pool, self.bounds, options);
        let mut assigned = vec![NO_GROUP; pool.len()];
        for local in 0..grouping.groups() {
            let members = grouping.members(local);
            let mut values = Vec::with_capacity(members.len() * self.dims);
            for &row in members {
                values.extend_from_slice(pool.row(row as usize));
            }
            let g = self.open_group(Profiles::new(self.dims, &values)?)?;
            for &row in members {
                assigned[row as usize] = g;
            }
        }
        Ok(assigned)
    }

    /// Split group `g` (whose members are the rows of `members`) in two along its principal
    /// direction. Possible only when `size >= 2·min_size` — never with 200..=300, where a
    /// full group (300) cannot make two of 200: there, newcomers without room wait in the
    /// pool and [`GroupIndex::absorb_pool`] forms new groups. Returns the new group's id and,
    /// per member row, whether it moved to the new group.
    pub fn split(&mut self, g: u32, members: Profiles) -> Result<(u32, Vec<bool>), GroupingError> {
        self.check_live(g)?;
        let size = self.sizes[g as usize];
        if members.dims() != self.dims {
            return Err(GroupingError::DimsMismatch { expected: self.dims, got: members.dims() });
        }
        if members.len() as u32 != size || size < 2 * self.bounds.min_size {
            return Err(GroupingError::CannotSplit { group: g, size, min_size: self.bounds.min_size });
        }
        let dims = self.dims;
        let mut rows = vec![0f32; members.values().len()];
        for (row, unit) in rows.chunks_exact_mut(dims).enumerate() {
            normalize_into(members.row(row), unit);
        }
        let seed = crate::tree::build(rows, dims, 2, None, u64::from(g), g);
        let half = seed.leaf_offsets[1] as usize;
        let mut moved = vec![false; members.len()];
        let mut new_values = Vec::with_capacity((members.len() - half) * dims);
        for &id in &seed.ids[half..] {
            moved[id as usize] = true;
            new_values.extend_from_slice(members.row(id as usize));
        }
        // Take the moving half out of g, then open it as a group of its own.
        let mut unit = vec![0f32; dims];
        for &id in &seed.ids[half..] {
            normalize_into(members.row(id as usize), &mut unit);
            sub_row(&mut self.sums[g as usize * dims..(g as usize + 1) * dims], &unit);
        }
        self.sizes[g as usize] = half as u32;
        self.file(g);
        let new_group = self.open_group(Profiles::new(dims, &new_values)?)?;
        Ok((new_group, moved))
    }
}
