//! What the engine needs to know about people but does not own: favourites, follows,
//! and which groups are closest to a citizen's interests.
//!
//! The simulator regenerates these from (seed, citizen id) instead of storing them;
//! the service stores what real people chose. Both implement [`Directory`], so the
//! rules stay in one place while the data lives where it fits.

use crate::ids::{CitizenId, GroupId, KolId, ProductId};
use crate::refusal::Refusal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Most favourite products one citizen can declare.
pub const FAVOURITES_MAX: usize = 16;
/// Most KOLs one citizen can follow.
pub const FOLLOWS_MAX: usize = 64;
/// Most interest dimensions of a stored profile.
pub const INTEREST_DIMS_MAX: usize = 64;

pub trait Directory: Sync {
    /// Whether `product` is one of `citizen`'s favourites (the credit-tier discount applies).
    fn is_favourite(&self, citizen: CitizenId, product: ProductId) -> bool;

    /// Whether `citizen` follows `kol` (buying in place needs it).
    fn follows(&self, citizen: CitizenId, kol: KolId) -> bool;

    /// Candidate groups for placing a groupless citizen, most similar first.
    ///
    /// The engine calls this with `attempt` 0, 1, 2, … (a bounded number of times) until it
    /// finds a group with room; each attempt may widen the search, and an attempt may list
    /// nothing. The engine prefers the first candidate below `min_size` (a refill), else the
    /// first with room.
    fn placement_candidates(&self, citizen: CitizenId, attempt: u32, groups: u32, out: &mut Vec<GroupId>);

    /// Where a groupless citizen goes at this `attempt`: the first of
    /// [`Self::placement_candidates`] that is in `refill` (sorted: the groups below
    /// `min_size`), else the first for which `has_room` holds; `None` when neither.
    ///
    /// A directory that can find it without listing every candidate overrides this (the
    /// simulator searches an index); the answer must be the same.
    fn choose_group(
        &self,
        citizen: CitizenId,
        attempt: u32,
        groups: u32,
        refill: &[GroupId],
        has_room: &dyn Fn(GroupId) -> bool,
        scratch: &mut Vec<GroupId>,
    ) -> Option<GroupId> {
        self.placement_candidates(citizen, attempt, groups, scratch);
        first_choice(scratch, refill, has_room)
    }

    /// The regrouping is about to place `citizens` (in this order, each asked for with
    /// [`Self::choose_group`]); an empty list when it is done. `free[g]` is how many places
    /// group `g` has left before `max_size` as the placements start (0: no room; at most
    /// `u16::MAX`; a group past the end of the list is not described); placements only
    /// add members, so a group without room then has none later, while one with room may
    /// fill up before a citizen is asked for. A directory may work out all the citizens'
    /// candidates here, at once (the simulator's does, on its threads), and answer from
    /// them, as long as its answers are those it would give without preparing. Default:
    /// nothing.
    fn prepare_placements(&mut self, _citizens: &[CitizenId], _free: &[u16]) {}

    /// A citizen joined a group (keep centroids right). Default: nothing.
    fn joined(&mut self, _citizen: CitizenId, _group: GroupId) {}

    /// A citizen left a group. Default: nothing.
    fn left(&mut self, _citizen: CitizenId, _group: GroupId) {}

    /// Records that `citizen` follows `kol`. Synthetic directories refuse.
    fn follow(&mut self, _citizen: CitizenId, _kol: KolId) -> Result<(), Refusal> {
        Err(Refusal::Unsupported { what: "following a KOL".into(), reason: "follows are synthetic here".into() })
    }

    /// Records that `citizen` no longer follows `kol`.
    fn unfollow(&mut self, _citizen: CitizenId, _kol: KolId) -> Result<(), Refusal> {
        Err(Refusal::Unsupported { what: "unfollowing a KOL".into(), reason: "follows are synthetic here".into() })
    }

    /// Replaces `citizen`'s favourite products.
    fn set_favourites(&mut self, _citizen: CitizenId, _products: &[ProductId]) -> Result<(), Refusal> {
        Err(Refusal::Unsupported { what: "setting favourites".into(), reason: "favourites are synthetic here".into() })
    }

    /// Replaces `citizen`'s interest profile (used for grouping).
    fn set_interests(&mut self, _citizen: CitizenId, _interests: &[f32]) -> Result<(), Refusal> {
        Err(Refusal::Unsupported { what: "setting interests".into(), reason: "interests are synthetic here".into() })
    }

    /// Number of followers of a KOL, when the directory knows it cheaply.
    fn follower_count(&self, _kol: KolId) -> Option<u64> {
        None
    }
}

/// A directory that stores what people declared: the live service's.
///
/// Placement ranks groups by cosine similarity between the citizen's interests and the
/// mean interests of the group's members; without interests, smaller groups come first.
/// It scans all groups, which suits a service of thousands of people, not a country.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredDirectory {
    favourites: BTreeMap<CitizenId, Vec<ProductId>>,
    follows: BTreeMap<CitizenId, Vec<KolId>>,
    followers: BTreeMap<KolId, u64>,
    interests: BTreeMap<CitizenId, Vec<f32>>,
    /// Per group: sum of members' interest vectors and how many members have one.
    centroids: BTreeMap<GroupId, (Vec<f64>, u32)>,
    membership: BTreeMap<CitizenId, GroupId>,
}

impl StoredDirectory {
    pub fn new() -> StoredDirectory {
        StoredDirectory::default()
    }

    pub fn favourites(&self, citizen: CitizenId) -> &[ProductId] {
        self.favourites.get(&citizen).map(|v| v.as_slice()).unwrap_or(&[])
    }

    pub fn followed(&self, citizen: CitizenId) -> &[KolId] {
        self.follows.get(&citizen).map(|v| v.as_slice()).unwrap_or(&[])
    }

    pub fn interests(&self, citizen: CitizenId) -> Option<&[f32]> {
        self.interests.get(&citizen).map(|v| v.as_slice())
    }

    /// The mean interest profile of a group's members (those who declared one).
    pub fn group_interests(&self, group: GroupId) -> Option<Vec<f64>> {
        self.centroids.get(&group).filter(|(_, n)| *n > 0).map(|(sum, n)| sum.iter().map(|s| s / *n as f64).collect())
    }

    fn add_to_centroid(&mut self, citizen: CitizenId, group: GroupId, sign: f64) {
        let Some(interests) = self.interests.get(&citizen) else {
            return;
        };
        let entry = self.centroids.entry(group).or_insert_with(|| (vec![0.0; interests.len()], 0));
        if entry.0.len() < interests.len() {
            entry.0.resize(interests.len(), 0.0);
        }
        for (s, &x) in entry.0.iter_mut().zip(interests) {
            *s += sign * x as f64;
        }
        if sign > 0.0 {
            entry.1 += 1;
        } else {
            entry.1 = entry.1.saturating_sub(1);
        }
    }
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let mut dot = 0.0;
    let mut na = 0.0;
    let mut nb = 0.0;
    for (&x, &y) in a.iter().zip(b) {
        dot += x as f64 * y;
        na += x as f64 * x as f64;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na.sqrt() * nb.sqrt()) }
}

/// The first of `candidates` in `refill` (sorted), else the first for which `has_room`
/// holds: the engine's choice among ranked candidates ([`Directory::choose_group`]).
pub fn first_choice(candidates: &[GroupId], refill: &[GroupId], has_room: &dyn Fn(GroupId) -> bool) -> Option<GroupId> {
    let refilled = candidates.iter().find(|g| refill.binary_search(g).is_ok());
    refilled.or_else(|| candidates.iter().find(|&&g| has_room(g))).copied()
}

impl Directory for StoredDirectory {
    fn is_favourite(&self, citizen: CitizenId, product: ProductId) -> bool {
        self.favourites(citizen).contains(&product)
    }

    fn follows(&self, citizen: CitizenId, kol: KolId) -> bool {
        self.followed(citizen).contains(&kol)
    }

    fn placement_candidates(&self, citizen: CitizenId, attempt: u32, groups: u32, out: &mut Vec<GroupId>) {
        out.clear();
        if attempt > 0 {
            return; // the first attempt already lists every group
        }
        let mut ranked: Vec<(f64, GroupId)> = (0..groups)
            .map(GroupId)
            .map(|g| {
                let similarity = match (self.interests.get(&citizen), self.group_interests(g)) {
                    (Some(mine), Some(theirs)) => cosine(mine, &theirs),
                    _ => 0.0,
                };
                (similarity, g)
            })
            .collect();
        // Most similar first; ties by group id, so the order is total and deterministic.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        out.extend(ranked.into_iter().map(|(_, g)| g));
    }

    fn joined(&mut self, citizen: CitizenId, group: GroupId) {
        self.membership.insert(citizen, group);
        self.add_to_centroid(citizen, group, 1.0);
    }

    fn left(&mut self, citizen: CitizenId, group: GroupId) {
        self.membership.remove(&citizen);
        self.add_to_centroid(citizen, group, -1.0);
    }

    fn follow(&mut self, citizen: CitizenId, kol: KolId) -> Result<(), Refusal> {
        let list = self.follows.entry(citizen).or_default();
        if list.contains(&kol) {
            return Ok(());
        }
        if list.len() >= FOLLOWS_MAX {
            return Err(Refusal::LimitReached { what: "KOLs followed".into(), max: FOLLOWS_MAX as u64 });
        }
        list.push(kol);
        *self.followers.entry(kol).or_default() += 1;
        Ok(())
    }

    fn unfollow(&mut self, citizen: CitizenId, kol: KolId) -> Result<(), Refusal> {
        let list = self.follows.entry(citizen).or_default();
        if let Some(i) = list.iter().position(|&k| k == kol) {
            list.remove(i);
            if let Some(n) = self.followers.get_mut(&kol) {
                *n = n.saturating_sub(1);
            }
        }
        Ok(())
    }

    fn set_favourites(&mut self, citizen: CitizenId, products: &[ProductId]) -> Result<(), Refusal> {
        if products.len() > FAVOURITES_MAX {
            return Err(Refusal::LimitReached { what: "favourite products".into(), max: FAVOURITES_MAX as u64 });
        }
        let mut list = products.to_vec();
        list.sort();
        list.dedup();
        self.favourites.insert(citizen, list);
        Ok(())
    }

    fn set_interests(&mut self, citizen: CitizenId, interests: &[f32]) -> Result<(), Refusal> {
        if interests.is_empty() || interests.len() > INTEREST_DIMS_MAX {
            return Err(Refusal::InvalidValue {
                field: "interests".into(),
                reason: format!("give 1 to {INTEREST_DIMS_MAX} numbers"),
            });
        }
        if interests.iter().any(|x| !x.is_finite() || *x < 0.0) {
            return Err(Refusal::InvalidValue {
                field: "interests".into(),
                reason: "interests are non-negative weights".into(),
            });
        }
        let group = self.membership.get(&citizen).copied();
        if let Some(g) = group {
            self.add_to_centroid(citizen, g, -1.0);
        }
        self.interests.insert(citizen, interests.to_vec());
        if let Some(g) = group {
            self.add_to_centroid(citizen, g, 1.0);
        }
        Ok(())
    }

    fn follower_count(&self, kol: KolId) -> Option<u64> {
        Some(self.followers.get(&kol).copied().unwrap_or(0))
    }
}
