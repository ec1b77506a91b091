//! Exact shortlists for placement: the `keep` groups whose centroids are most similar to a
//! citizen's interests, found without scoring every group.
//!
//! A group's similarity to a citizen is the cosine of the angle between the citizen's
//! interest weights `w` (three topics) and the group's centroid: `ŵ · u` with `ŵ = w / |w|`
//! and `u = centroid / |centroid|`, unit vectors in topic space. A [`TopicTree`] (a cone
//! tree) splits a list of groups in halves along the topic where their directions spread
//! most, down to leaves of at most [`LEAF`] groups, and keeps for every node a centre
//! direction `c` and the largest angle `θ` between `c` and any of its groups. A group under
//! the node is then at least `φ − θ` away from `ŵ` (`φ` the angle between `ŵ` and `c`), so
//! `cos(max(0, φ − θ))` bounds its similarity. Every node also keeps, per topic, the largest
//! coordinate `h` of its groups' directions (at least 0): as weights are ≥ 0,
//! `Σ w_t·h_t / |w|` bounds the similarity too. A search takes the lower of the two bounds
//! and visits nodes best first (highest bound next, from a heap); it stops when the highest
//! bound left is below the shortlist's last entry. (A depth-first search, which this
//! replaced, also visited nodes whose bound was only above the entries found so far: at
//! 100 M citizens twice the leaves, for a group with room among a main topic's groups.)
//! A tree of one interest key is split along the key's topics alone, because the citizens
//! who search it weigh nothing else.
//!
//! The two bounds fail in different places. A citizen weighs three topics; a main topic's
//! groups span many keys (their second and third topics), and a node mixing keys is wide
//! in angle, so its cone bound is near 1, while its largest coordinates on the citizen's
//! second and third topics stay low. Among a key's near-identical groups it is the other
//! way round. At 100 M citizens the box bound cut the groups looked at by the searches for
//! a group with room (over a main topic's groups) five-fold.
//!
//! Near the best groups a cosine is flat, so a bound by angles stays tight there (a bound by
//! a box of coordinates does not: its corner lies outside the sphere). Angles are computed
//! from chords (`2·asin(|a − b| / 2)`), which stay exact for nearly equal directions where
//! `acos` of a dot product does not, and the bound is loosened by [`SLACK`]. A search needs
//! no angle itself: with `sin(φ/2) = chord / 2` and each node's `cos(θ/2)` and `sin(θ/2)`
//! (kept at build), `cos(φ − θ) = 1 − 2·sin²((φ − θ)/2)` takes two square roots and a few
//! products, where `asin`, `cos` and normalising the centre took most of a visit's time;
//! the chord itself comes from a dot product over the query's topics and each node's
//! stored squared length of its centre.
//!
//! The result is exactly what scoring every group and sorting gives (the order is total:
//! similarity, then lower id; a node is skipped only when its bound is below the last
//! entry), whatever the tree's shape. Written by hand: spatial-index crates answer
//! nearest-neighbour queries by distance, not exact top-k cosines with this tie order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use xinyong_engine::ids::GroupId;

/// The placement's order of scored groups: more similar first, then lower id (a total
/// order: `total_cmp` on the similarity).
pub fn ranking(a: &(f64, GroupId), b: &(f64, GroupId)) -> Ordering {
    b.0.total_cmp(&a.0).then(a.1.cmp(&b.1))
}

/// Most groups in a leaf.
pub const LEAF: usize = 32;

/// Angle (radians) added to every node's radius: covers the rounding of stored directions
/// (f32, ~1e-7) many times over; it costs nothing near the best groups (cos 1e-5 ≈ 1 − 5e-11).
const SLACK: f64 = 1e-5;

/// A node is skipped only when its bound is below the shortlist's last similarity by more
/// than this (rounding of a similarity is ~1e-15).
const MARGIN: f64 = 1e-9;

/// Added to every stored largest coordinate (f32 rounding of a direction is ~6e-8).
const BOX_SLACK: f64 = 1e-6;

/// Taken off the chord between a query and a node's stored centre: a centre stored in f32
/// is within ~1e-7 of the unit (or zero) vector the node's radius was measured from, and
/// the chord from a dot product is within ~4e-8 of the chord.
const CENTRE_SLACK: f64 = 1e-6;

/// A node's bound, ordered by `total_cmp` (the frontier of a search is a heap of them).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Bound(f64);

impl Eq for Bound {}

impl PartialOrd for Bound {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bound {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

#[derive(Clone, Copy, Debug)]
struct Node {
    /// The node's groups: `groups[start..end]`.
    start: u32,
    end: u32,
    /// Index of the first child (the second follows it); 0 for a leaf (0 is the root).
    children: u32,
    /// The stored centre's squared length less 1 (~1e-7; −1 for a zero centre): a search
    /// gets the chord from a dot product over the query's few topics.
    centre_excess: f32,
    /// The cosine and sine of half the node's radius (the largest angle between its centre
    /// and a group's direction, plus [`SLACK`]): what the cone bound needs, worked out once.
    half: [f64; 2],
}

/// Groups in tree order, with a centre direction and a radius for every node.
#[derive(Clone, Debug, Default)]
pub struct TopicTree {
    groups: Vec<GroupId>,
    nodes: Vec<Node>,
    /// `topics` values a node: its centre (unit length up to f32 rounding).
    centres: Vec<f32>,
    /// `topics` values a node: the largest coordinate of its groups' directions, per topic.
    highs: Vec<f32>,
    topics: usize,
}

/// Which nodes of one [`TopicTree`] hold at least one group of a set (made by
/// [`TopicTree::holding`]): a search among that set's groups passes over the others
/// without visiting them. At the end of a year, most groups near a citizen's interests can
/// be full; a search for one with room otherwise visits each of their leaves.
#[derive(Clone, Debug, Default)]
pub struct Holding {
    nodes: Vec<bool>,
}

impl Holding {
    /// Heap bytes (one byte a node).
    pub fn heap_bytes(&self) -> u64 {
        self.nodes.capacity() as u64
    }
}

/// The angle between unit vectors `a` and `b`, from their chord.
fn angle(a: impl Iterator<Item = f64>, b: impl Iterator<Item = f64>) -> f64 {
    let chord: f64 = a.zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    2.0 * (chord / 2.0).min(1.0).asin()
}

/// `v / |v|` into `out` (false, and zeros, for a zero vector).
fn normalize(v: &[f32], out: &mut [f64]) -> bool {
    let norm = v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
    for (o, &x) in out.iter_mut().zip(v) {
        *o = if norm == 0.0 { 0.0 } else { x as f64 / norm };
    }
    norm != 0.0
}

impl TopicTree {
    /// Heap bytes of the tree (its group list, nodes, centres and largest coordinates).
    pub fn heap_bytes(&self) -> u64 {
        (self.groups.capacity() * 4
            + self.nodes.capacity() * std::mem::size_of::<Node>()
            + (self.centres.capacity() + self.highs.capacity()) * 4) as u64
    }

    /// Builds the tree of `groups`; `direction(g, out)` writes group `g`'s direction
    /// (`topics` values, `centroid / |centroid|`, zeros for an empty centroid).
    pub fn build(groups: Vec<GroupId>, topics: usize, direction: impl Fn(GroupId, &mut [f64])) -> TopicTree {
        let every: Vec<usize> = (0..topics).collect();
        TopicTree::build_along(groups, topics, &every, direction)
    }

    /// [`Self::build`], splitting nodes only along the topics in `axes` (those the searches
    /// of this tree weigh: a tree of one interest key is searched by citizens of that key,
    /// whose similarity to a group depends on the key's three coordinates alone).
    pub fn build_along(
        groups: Vec<GroupId>,
        topics: usize,
        axes: &[usize],
        direction: impl Fn(GroupId, &mut [f64]),
    ) -> TopicTree {
        assert!(topics > 0, "at least one topic");
        assert!(!axes.is_empty() && axes.iter().all(|&t| t < topics), "axes are topics");
        let n = groups.len();
        assert!(n <= u32::MAX as usize, "groups fit in 32 bits");
        if n == 0 {
            return TopicTree { groups, nodes: Vec::new(), centres: Vec::new(), highs: Vec::new(), topics };
        }
        let mut u = vec![0f32; n * topics];
        let mut row = vec![0f64; topics];
        for (i, &g) in groups.iter().enumerate() {
            direction(g, &mut row);
            for (slot, &x) in u[i * topics..(i + 1) * topics].iter_mut().zip(&row) {
                assert!(x.is_finite(), "a finite direction");
                *slot = x as f32;
            }
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        let leaf = |start, end| Node { start, end, children: 0, centre_excess: 0.0, half: [1.0, 0.0] };
        let mut nodes = vec![leaf(0, n as u32)];
        let mut centres = Vec::with_capacity(2 * n.div_ceil(LEAF) * topics);
        let mut highs = Vec::with_capacity(2 * n.div_ceil(LEAF) * topics);
        let (mut low, mut high, mut sum) = (vec![0f32; topics], vec![0f32; topics], vec![0f64; topics]);
        let (mut centre, mut member) = (vec![0f64; topics], vec![0f64; topics]);
        let mut stored = vec![0f32; topics];
        // Breadth first: children are appended after their parent, centres in node order.
        let mut i = 0;
        while i < nodes.len() {
            let Node { start, end, .. } = nodes[i];
            let slice = &mut order[start as usize..end as usize];
            low.fill(f32::INFINITY);
            high.fill(f32::NEG_INFINITY);
            sum.fill(0.0);
            for &k in slice.iter() {
                let row = &u[k as usize * topics..(k as usize + 1) * topics];
                for t in 0..topics {
                    low[t] = low[t].min(row[t]);
                    high[t] = high[t].max(row[t]);
                    sum[t] += row[t] as f64;
                }
            }
            // The centre as stored (f32); the radius is measured from exactly that.
            let norm = sum.iter().map(|x| x * x).sum::<f64>().sqrt();
            for (s, &x) in stored.iter_mut().zip(&sum) {
                *s = if norm == 0.0 { 0.0 } else { (x / norm) as f32 };
            }
            normalize(&stored, &mut centre);
            let mut radius = 0f64;
            for &k in slice.iter() {
                if normalize(&u[k as usize * topics..(k as usize + 1) * topics], &mut member) {
                    radius = radius.max(angle(centre.iter().copied(), member.iter().copied()));
                }
            }
            let half = (radius + SLACK) / 2.0;
            nodes[i].half = [half.cos(), half.sin()];
            nodes[i].centre_excess = (stored.iter().map(|&x| x as f64 * x as f64).sum::<f64>() - 1.0) as f32;
            centres.extend_from_slice(&stored);
            highs.extend(high.iter().map(|&h| h.max(0.0)));
            if slice.len() > LEAF {
                let spread = |t: usize| high[t] - low[t];
                let axis = axes
                    .iter()
                    .copied()
                    .max_by(|&a, &b| spread(a).total_cmp(&spread(b)).then(b.cmp(&a)))
                    .expect("axes");
                let mid = slice.len() / 2;
                slice.select_nth_unstable_by(mid, |&a, &b| {
                    u[a as usize * topics + axis].total_cmp(&u[b as usize * topics + axis]).then(a.cmp(&b))
                });
                nodes[i].children = nodes.len() as u32;
                let split = start + mid as u32;
                nodes.push(leaf(start, split));
                nodes.push(leaf(split, end));
            }
            i += 1;
        }
        let groups = order.iter().map(|&k| groups[k as usize]).collect();
        TopicTree { groups, nodes, centres, highs, topics }
    }

    /// The groups, in tree order.
    pub fn groups(&self) -> &[GroupId] {
        &self.groups
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Which nodes hold at least one group for which `member` holds. Nodes are stored
    /// parents before children, so one pass from the last node up sees every child first.
    pub fn holding(&self, member: impl Fn(GroupId) -> bool) -> Holding {
        let mut nodes = vec![false; self.nodes.len()];
        for n in (0..self.nodes.len()).rev() {
            let node = self.nodes[n];
            nodes[n] = if node.children == 0 {
                self.groups[node.start as usize..node.end as usize].iter().any(|&g| member(g))
            } else {
                nodes[node.children as usize] || nodes[node.children as usize + 1]
            };
        }
        Holding { nodes }
    }

    /// The cone bound of node `n` for `query` (whose norm is `norm`): above the similarity
    /// of every group under the node (see [`Self::top_where`]).
    fn cone(&self, n: usize, query: &[(usize, f64)], norm: f64) -> f64 {
        let centre = &self.centres[n * self.topics..(n + 1) * self.topics];
        // |u − c|² = |u|² + |c|² − 2·u·c, with |u| = 1 and the dot product over the query's
        // topics only: its rounding (~1e-15) moves the chord by 4e-8 at most.
        let dot = query.iter().map(|&(t, w)| w * centre[t] as f64).sum::<f64>() / norm;
        let chord = (2.0 + self.nodes[n].centre_excess as f64 - 2.0 * dot).max(0.0).sqrt();
        // Half the angle φ between the query and the centre, from the chord shortened by
        // what storing the centre in f32 (and the rounding above) may have moved it.
        let half_sin = ((chord - CENTRE_SLACK).max(0.0) / 2.0).min(1.0);
        let half_cos = (1.0 - half_sin * half_sin).sqrt();
        let [theta_cos, theta_sin] = self.nodes[n].half;
        // sin((φ − θ)/2): at most 0 when the query lies inside the cone.
        let x = half_sin * theta_cos - half_cos * theta_sin;
        // Never below 0: a group with no direction scores 0 and has no angle to bound.
        if x <= 0.0 { 1.0 } else { (1.0 - 2.0 * x * x).max(0.0) }
    }

    /// Appends to `out` the `keep` groups of highest `similarity`, highest first (ties:
    /// lower id). `query` is the citizen's (topic, weight) pairs (distinct topics, weights
    /// ≥ 0, not all zero); `similarity(g)` must be the cosine of the weights and group
    /// `g`'s direction (up to rounding).
    pub fn top(
        &self,
        query: &[(usize, f64)],
        keep: usize,
        similarity: impl Fn(GroupId) -> f64,
        out: &mut Vec<GroupId>,
    ) {
        self.top_where(query, keep, None, |_| true, similarity, out)
    }

    /// [`Self::top`] among the groups for which `accept` holds (the others are passed over,
    /// not scored): with `keep` 1, the first of the full ranking that `accept`s. With
    /// `within` (made by [`Self::holding`] on this tree for a set that holds every group
    /// `accept`s), the nodes holding none of the set are not visited.
    pub fn top_where(
        &self,
        query: &[(usize, f64)],
        keep: usize,
        within: Option<&Holding>,
        accept: impl Fn(GroupId) -> bool,
        similarity: impl Fn(GroupId) -> f64,
        out: &mut Vec<GroupId>,
    ) {
        assert!(query.iter().all(|&(t, w)| t < self.topics && w >= 0.0), "topics in range, weights ≥ 0");
        let norm = query.iter().map(|&(_, w)| w * w).sum::<f64>().sqrt();
        assert!(norm > 0.0 && norm.is_finite(), "a direction to search");
        // A node can be visited only when `within` holds it (every node, without one).
        let open = |n: u32| within.is_none_or(|h| h.nodes[n as usize]);
        if let Some(h) = within {
            assert_eq!(h.nodes.len(), self.nodes.len(), "the nodes held are of this tree");
        }
        if self.nodes.is_empty() || keep == 0 || !open(0) {
            return;
        }
        // A node's bound: the lower of two, each above every similarity under the node.
        // The box's (the query's weights times the node's largest coordinates) costs a few
        // multiplications and is tight across interest keys; the cone's (the angle to the
        // node's centre, less its radius) is tight near the best groups. When the box's is
        // already below `floor`, the node will be skipped, and the cone's is not worked out.
        //
        // The cone's is `cos(φ − θ)` (1 when `φ ≤ θ`), `φ` the angle between the query and
        // the centre, `θ` the radius, worked out without a trigonometric call: from the
        // chord, `sin(φ/2)` is `chord / 2` (exact for near directions) and `cos(φ/2)` its
        // complement; with the node's `cos(θ/2)` and `sin(θ/2)`, `x = sin((φ − θ)/2)` is a
        // difference of products, and `cos(φ − θ) = 1 − 2x²`.
        let bound = |node: u32, floor: f64| -> f64 {
            let n = node as usize;
            let high = &self.highs[n * self.topics..(n + 1) * self.topics];
            let boxed = query.iter().map(|&(t, w)| w * (high[t] as f64 + BOX_SLACK)).sum::<f64>() / norm;
            if boxed < floor {
                return boxed;
            }
            self.cone(n, query, norm).min(boxed)
        };
        let before = |a: &(f64, GroupId), b: &(f64, GroupId)| ranking(a, b).is_lt();
        let mut best: Vec<(f64, GroupId)> = Vec::with_capacity(keep.min(self.groups.len()) + 1);
        // Nodes whose bound is below this are skipped: their groups cannot enter `best`.
        let floor =
            |best: &[(f64, GroupId)]| if best.len() == keep { best[keep - 1].0 - MARGIN } else { f64::NEG_INFINITY };
        // Best first: the node of highest bound is visited next. Once that bound is below the
        // floor, so is every other node's, and the search is over. The result does not depend
        // on the order of visits: a node is passed over only when none of its groups can
        // enter `best`.
        let mut frontier: BinaryHeap<(Bound, u32)> = BinaryHeap::new();
        frontier.push((Bound(bound(0, f64::NEG_INFINITY)), 0));
        while let Some((Bound(node_bound), n)) = frontier.pop() {
            if node_bound < floor(&best) {
                break;
            }
            let node = self.nodes[n as usize];
            if node.children == 0 {
                for &g in &self.groups[node.start as usize..node.end as usize] {
                    if !accept(g) {
                        continue;
                    }
                    let entry = (similarity(g), g);
                    if best.len() < keep || before(&entry, &best[keep - 1]) {
                        let at = best.partition_point(|b| before(b, &entry));
                        best.insert(at, entry);
                        best.truncate(keep);
                    }
                }
            } else {
                // A child already below the floor is not kept (the floor only rises).
                let low = floor(&best);
                for child in [node.children, node.children + 1] {
                    if !open(child) {
                        continue;
                    }
                    let b = bound(child, low);
                    if b >= low {
                        frontier.push((Bound(b), child));
                    }
                }
            }
        }
        out.extend(best.into_iter().map(|(_, g)| g));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Scores every group and sorts: what the tree must reproduce.
    fn brute(rows: &[Vec<f32>], query: &[(usize, f64)], keep: usize) -> Vec<GroupId> {
        let own: f64 = query.iter().map(|&(_, w)| w * w).sum();
        let mut scored: Vec<(f64, GroupId)> =
            rows.iter().enumerate().map(|(g, row)| (cosine(row, query, own), GroupId(g as u32))).collect();
        scored.sort_by(ranking);
        scored.into_iter().take(keep).map(|(_, g)| g).collect()
    }

    fn cosine(row: &[f32], query: &[(usize, f64)], own: f64) -> f64 {
        let theirs: f64 = row.iter().map(|&x| x as f64 * x as f64).sum();
        let dot: f64 = query.iter().map(|&(t, w)| w * row[t] as f64).sum();
        if own == 0.0 || theirs == 0.0 { 0.0 } else { dot / (own.sqrt() * theirs.sqrt()) }
    }

    fn tree(rows: &[Vec<f32>], topics: usize) -> TopicTree {
        tree_along(rows, topics, &(0..topics).collect::<Vec<_>>())
    }

    /// The tree of `rows`, split along `axes` only.
    fn tree_along(rows: &[Vec<f32>], topics: usize, axes: &[usize]) -> TopicTree {
        let ids = (0..rows.len() as u32).map(GroupId).collect();
        TopicTree::build_along(ids, topics, axes, |g, out| {
            let row = &rows[g.index()];
            let norm = row.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
            for (o, &x) in out.iter_mut().zip(row) {
                *o = if norm == 0.0 { 0.0 } else { x as f64 / norm };
            }
        })
    }

    fn search(t: &TopicTree, rows: &[Vec<f32>], query: &[(usize, f64)], keep: usize) -> Vec<GroupId> {
        let own: f64 = query.iter().map(|&(_, w)| w * w).sum();
        let mut out = Vec::new();
        t.top(query, keep, |g| cosine(&rows[g.index()], query, own), &mut out);
        out
    }

    fn rows_strategy() -> impl Strategy<Value = (usize, Vec<Vec<f32>>)> {
        (3usize..8).prop_flat_map(|topics| {
            // Coarse values make exact ties (and duplicate groups) common.
            let row = prop::collection::vec(prop_oneof![Just(0.0f32), (0u8..6).prop_map(|k| k as f32 / 5.0)], topics);
            (Just(topics), prop::collection::vec(row, 0..300))
        })
    }

    proptest! {
        #[test]
        fn the_tree_finds_what_scoring_every_group_finds(
            (topics, rows) in rows_strategy(),
            picks in prop::collection::vec((0usize..8, 0u8..6), 1..4),
            keep in 1usize..40,
            modulus in 0usize..5,
            axes in prop::collection::vec(0usize..8, 1..4),
        ) {
            let t = tree(&rows, topics);
            // Split along a few topics only (whether the query weighs them or not).
            let axes: Vec<usize> = axes.into_iter().map(|a| a % topics).collect();
            let along = tree_along(&rows, topics, &axes);
            let mut query: Vec<(usize, f64)> = Vec::new();
            for (topic, w) in picks {
                let topic = topic % topics;
                if query.iter().all(|&(q, _)| q != topic) {
                    query.push((topic, w as f64 / 5.0));
                }
            }
            prop_assume!(query.iter().any(|&(_, w)| w > 0.0));
            prop_assert_eq!(search(&t, &rows, &query, keep), brute(&rows, &query, keep));
            prop_assert_eq!(search(&along, &rows, &query, keep), brute(&rows, &query, keep));
            // Filtered: the first of the full ranking among the accepted groups.
            let accepted = |g: GroupId| (g.0 as usize * 7 + modulus) % 5 < 2;
            let own: f64 = query.iter().map(|&(_, w)| w * w).sum();
            let mut first = Vec::new();
            t.top_where(&query, 1, None, accepted, |g| cosine(&rows[g.index()], &query, own), &mut first);
            let expected: Vec<GroupId> =
                brute(&rows, &query, rows.len()).into_iter().filter(|&g| accepted(g)).take(1).collect();
            prop_assert_eq!(&first, &expected);
            let mut first_along = Vec::new();
            along.top_where(&query, 1, None, accepted, |g| cosine(&rows[g.index()], &query, own), &mut first_along);
            prop_assert_eq!(&first_along, &expected);
            // Within the nodes holding a set of groups that holds the accepted ones (the
            // accepted and a few more, as groups with room at the start hold those with
            // room later): the same groups, for any `keep`.
            let held = |g: GroupId| accepted(g) || g.0 % 11 == modulus as u32;
            let expected_keep: Vec<GroupId> =
                brute(&rows, &query, rows.len()).into_iter().filter(|&g| accepted(g)).take(keep).collect();
            for tree in [&t, &along] {
                let within = tree.holding(held);
                let mut got = Vec::new();
                tree.top_where(&query, keep, Some(&within), accepted, |g| cosine(&rows[g.index()], &query, own), &mut got);
                prop_assert_eq!(&got, &expected_keep);
                // A node is held exactly when one of its groups is in the set.
                for (node, &holds) in tree.nodes.iter().zip(&within.nodes) {
                    let groups = &tree.groups[node.start as usize..node.end as usize];
                    prop_assert_eq!(holds, groups.iter().any(|&g| held(g)));
                }
            }
            let mut all = t.groups().to_vec();
            all.sort();
            prop_assert_eq!(all, (0..rows.len() as u32).map(GroupId).collect::<Vec<_>>());
        }
    }

    /// Uniform values in [0, 1) from a xorshift stream (test data, fixed by `state`).
    fn uniforms(mut state: u64) -> impl FnMut() -> f32 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 40) as f32 / (1u64 << 24) as f32
        }
    }

    #[test]
    fn a_large_list_is_searched_exactly_and_visits_few_groups() {
        // 20 000 groups of one interest key: their members weigh topics 0, 1 and 2 (in
        // varying shares), with a little of the other 13 topics — as a key's groups do.
        let topics = 16;
        let mut next = uniforms(0x9e37_79b9_7f4a_7c15);
        let rows: Vec<Vec<f32>> = (0..20_000)
            .map(|_| {
                let (a, b) = (next(), next());
                let main = [0.4 + 0.5 * a, 0.3 * b, 0.1 * next()];
                (0..topics).map(|t| if t < 3 { main[t] } else { 0.01 * next() }).collect()
            })
            .collect();
        let t = tree(&rows, topics);
        let visited = std::cell::Cell::new(0usize);
        for _ in 0..50 {
            let (a, b) = (next() as f64, next() as f64);
            let main = 0.34 + 0.6 * a;
            let query = [(0, main), (1, (1.0 - main) * (0.5 + 0.5 * b)), (2, (1.0 - main) * 0.5 * (1.0 - b))];
            let own: f64 = query.iter().map(|&(_, w)| w * w).sum();
            let mut out = Vec::new();
            t.top(
                &query,
                16,
                |g| {
                    visited.set(visited.get() + 1);
                    cosine(&rows[g.index()], &query, own)
                },
                &mut out,
            );
            assert_eq!(out, brute(&rows, &query, 16));
        }
        // Scoring everything would be 50 × 20 000 = 1 000 000.
        eprintln!("visited {}", visited.get());
        assert!(visited.get() < 100_000, "the tree scored {} groups", visited.get());
    }

    /// 20 000 groups of main topic 0 (of 16 topics), each with its own second and third
    /// topics among the other 15 (210 keys), numbered by key as groups formed from citizens
    /// sorted by key are: as the search for a group with room over a main topic's groups
    /// sees them.
    fn main_topic_rows(next: &mut impl FnMut() -> f32) -> Vec<Vec<f32>> {
        let topics = 16;
        let mut rows: Vec<Vec<f32>> = (0..20_000)
            .map(|_| {
                let second = 1 + (next() * 15.0) as usize % 15;
                let third = 1 + (second + (next() * 14.0) as usize % 14) % 15;
                // A centroid of citizens with this key: weights summing to 1, heaviest first.
                let main = 0.4 + 0.2 * next();
                let share = 0.55 + 0.3 * next();
                let mut row = vec![0f32; topics];
                row[0] = main;
                row[second] = (1.0 - main) * share;
                row[third] = (1.0 - main) * (1.0 - share);
                row
            })
            .collect();
        let key = |row: &Vec<f32>| {
            let mut order: Vec<usize> = (1..topics).filter(|&t| row[t] > 0.0).collect();
            order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
            order
        };
        rows.sort_by_cached_key(key);
        rows
    }

    /// A citizen of main topic 0 with `second` and `third` topics.
    fn main_topic_query(next: &mut impl FnMut() -> f32, second: usize, third: usize) -> [(usize, f64); 3] {
        let main = 0.34 + 0.6 * next() as f64;
        [(0, main), (second, (1.0 - main) * 0.7), (third, (1.0 - main) * 0.3)]
    }

    #[test]
    fn a_main_topics_groups_of_many_keys_are_searched_through_their_largest_coordinates() {
        // Only one group in four has room.
        let topics = 16;
        let mut next = uniforms(0x2545_f491_4f6c_dd1d);
        let rows = main_topic_rows(&mut next);
        let t = tree(&rows, topics);
        let room = |g: GroupId| g.0 % 4 == 1;
        let looked = std::cell::Cell::new(0usize);
        for _ in 0..50 {
            let (second, third) = (1 + (next() * 15.0) as usize % 15, 1 + (next() * 15.0) as usize % 15);
            if second == third {
                continue;
            }
            let query = main_topic_query(&mut next, second, third);
            let own: f64 = query.iter().map(|&(_, w)| w * w).sum();
            let mut out = Vec::new();
            let accept = |g: GroupId| {
                looked.set(looked.get() + 1);
                room(g)
            };
            t.top_where(&query, 16, None, accept, |g| cosine(&rows[g.index()], &query, own), &mut out);
            let expected: Vec<GroupId> =
                brute(&rows, &query, rows.len()).into_iter().filter(|&g| room(g)).take(16).collect();
            assert_eq!(out, expected);
        }
        // Looking at every group would be up to 50 × 20 000 = 1 000 000; with the cone
        // bound alone the tree looks at ~210 000, with both bounds ~75 000.
        eprintln!("looked at {}", looked.get());
        assert!(looked.get() < 120_000, "the tree looked at {} groups", looked.get());
    }

    #[test]
    fn a_search_for_room_passes_over_the_nodes_whose_groups_are_all_full() {
        // Late in a year: every group whose second topic is 1 to 8 is full, the others have
        // room, and the citizens looking for a group have second topics 1 to 8, so the
        // groups most like them are full. A search within the nodes holding a group with
        // room finds the same groups and looks at far fewer.
        let topics = 16;
        let mut next = uniforms(0x51_7cc1_b727_220a);
        let rows = main_topic_rows(&mut next);
        let t = tree(&rows, topics);
        let second_topic = |g: GroupId| (1..topics).max_by(|&a, &b| rows[g.index()][a].total_cmp(&rows[g.index()][b]));
        let room = |g: GroupId| second_topic(g).is_some_and(|s| s > 8);
        let with_room = t.holding(room);
        let looked = std::cell::Cell::new(0usize);
        let accept = |g: GroupId| {
            looked.set(looked.get() + 1);
            room(g)
        };
        let (mut without, mut within) = (0, 0);
        for _ in 0..50 {
            let second = 1 + (next() * 8.0) as usize % 8;
            let third = 1 + (second + (next() * 14.0) as usize % 14) % 15;
            let query = main_topic_query(&mut next, second, third);
            let own: f64 = query.iter().map(|&(_, w)| w * w).sum();
            let expected: Vec<GroupId> =
                brute(&rows, &query, rows.len()).into_iter().filter(|&g| room(g)).take(16).collect();
            for (holding, count) in [(None, &mut without), (Some(&with_room), &mut within)] {
                let before = looked.get();
                let mut out = Vec::new();
                t.top_where(&query, 16, holding, accept, |g| cosine(&rows[g.index()], &query, own), &mut out);
                assert_eq!(out, expected);
                *count += looked.get() - before;
            }
        }
        eprintln!("looked at {without} groups, {within} within the nodes holding a group with room");
        assert!(within * 3 < without, "within: {within}, without: {without}");
    }

    proptest! {
        #[test]
        fn the_cone_bound_is_the_cosine_of_the_gap_and_above_every_group(
            (topics, rows) in rows_strategy(),
            picks in prop::collection::vec((0usize..8, 0u8..6), 1..4),
        ) {
            let t = tree(&rows, topics);
            let mut unit = vec![0f64; topics];
            for (topic, w) in picks {
                unit[topic % topics] = w as f64 / 5.0;
            }
            let norm = unit.iter().map(|w| w * w).sum::<f64>().sqrt();
            prop_assume!(norm > 0.0);
            unit.iter_mut().for_each(|w| *w /= norm);
            let query: Vec<(usize, f64)> = (0..topics).filter(|&k| unit[k] > 0.0).map(|k| (k, unit[k])).collect();
            let own: f64 = query.iter().map(|&(_, w)| w * w).sum();
            let mut centre = vec![0f64; topics];
            for (n, node) in t.nodes.iter().enumerate() {
                let cone = t.cone(n, &query, 1.0);
                // What the angles give: cos(max(0, φ − θ)), φ measured from the centre
                // as normalised, θ from the stored half angle.
                normalize(&t.centres[n * topics..(n + 1) * topics], &mut centre);
                let theta = 2.0 * node.half[1].atan2(node.half[0]);
                let gap = angle(unit.iter().copied(), centre.iter().copied()) - theta;
                let by_angles = gap.max(0.0).cos().max(0.0);
                // Never below it (the chord is taken a little shorter), and close to it.
                prop_assert!(cone >= by_angles - 1e-12, "node {}: {} < {}", n, cone, by_angles);
                prop_assert!(cone <= by_angles + 1e-5, "node {}: {} ≫ {}", n, cone, by_angles);
                for &g in &t.groups[node.start as usize..node.end as usize] {
                    let similarity = cosine(&rows[g.index()], &query, own);
                    prop_assert!(similarity <= cone + 1e-12, "node {}, group {}: {} > {}", n, g.0, similarity, cone);
                }
            }
        }
    }

    #[test]
    fn angles_from_chords_are_exact_for_near_directions() {
        let a = [1.0, 0.0];
        let tiny = 1e-9f64;
        let b = [tiny.cos(), tiny.sin()];
        let got = angle(a.iter().copied(), b.iter().copied());
        assert!((got - tiny).abs() < 1e-15, "{got}");
        let right = angle(a.iter().copied(), [0.0, 1.0].iter().copied());
        assert!((right - std::f64::consts::FRAC_PI_2).abs() < 1e-12);
    }
}
