//! Synthetic people, products and KOLs, regenerated from the seed on demand.
//!
//! Nothing about a citizen is stored: every static attribute is a pure function of
//! (seed, citizen id), cheap enough to recompute when needed (a few nanoseconds to a few
//! tens). That is what lets the same model run for a village or for 1.4 billion people
//! in the same memory per citizen (8 bytes, the engine's `Member`), and what makes the
//! population identical whatever the number of threads or shards.
//!
//! Each citizen has [`INTERESTS`] interest topics drawn by topic popularity, with weights
//! from a flat Dirichlet (sorted: the first is the main interest). Favourites and followed
//! KOLs come from those topics, by popularity within the topic.

use crate::shortlist::{Holding, TopicTree, ranking};
use crate::world::WorldConfig;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use xinyong_engine::directory::first_choice;
use xinyong_engine::{CitizenId, Directory, GroupId, KolId, ProductId, ProductSpec};
use xinyong_random::dist::{Cumulative, ZipfTable, gamma};
use xinyong_random::{Draws, Key, Prefix, Stream, math};

/// Interest topics per citizen.
pub const INTERESTS: usize = 3;
/// Resolution of the tables that turn one uniform draw into a propensity or a disposition.
const LEVELS: usize = 4096;
/// Fixed-point unit of propensities (per day), so that sums are exact in any order.
pub const PROPENSITY_UNIT: f64 = 1e-12;

/// Topic index of the travel category (one past the interest topics).
pub fn travel_category(world: &WorldConfig) -> u16 {
    world.topics as u16
}

/// A product as the world knows it (the engine's spec plus its hidden scandal hazard).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProductInfo {
    pub spec: ProductSpec,
    /// Daily probability of a scandal.
    pub scandal_rate: f64,
    /// Rank within its topic (0 = most popular).
    pub rank: u32,
}

/// The catalogue: products by topic, most popular first.
#[derive(Clone, Debug)]
pub struct Catalogue {
    pub products: Vec<ProductInfo>,
    /// `by_topic[t]`: products of topic t, most popular first.
    pub by_topic: Vec<Vec<ProductId>>,
    pub travel: Vec<ProductId>,
    /// Popularity within a topic (rank → probability).
    pub topic_popularity: ZipfTable,
}

impl Catalogue {
    pub fn generate(world: &WorldConfig, seed: u64) -> Catalogue {
        let c = &world.commerce;
        let mut products = Vec::new();
        let mut by_topic = vec![Vec::new(); world.topics as usize];
        for topic in 0..world.topics {
            for rank in 0..c.products_per_topic {
                let id = products.len() as u64;
                let mut d = Key::new(seed, Stream::Product, 0, id).draws();
                let price = c.price_median_yuan * math::exp(c.price_sigma * d.normal());
                let hazard = c.scandal_rate * gamma(&mut d, 0.5) / 0.5;
                by_topic[topic as usize].push(ProductId(id as u32));
                products.push(ProductInfo {
                    spec: ProductSpec {
                        name: format!("topic {topic} product {rank}"),
                        brand: xinyong_engine::BrandId(id as u32 % 97),
                        category: topic as u16,
                        list_price: ((price * 100.0).round() as i64).max(1),
                        travel: false,
                    },
                    scandal_rate: hazard.min(1.0),
                    rank,
                });
            }
        }
        let mut travel = Vec::new();
        for i in 0..c.travel_products {
            let id = products.len() as u64;
            let mut d = Key::new(seed, Stream::Product, 0, id).draws();
            // Alternate trains (50–500 yuan) and planes (500–2000 yuan).
            let plane = i % 2 == 1;
            let (low, high) = if plane { (500.0, 2000.0) } else { (50.0, 500.0) };
            let price = low + (high - low) * d.uniform();
            travel.push(ProductId(id as u32));
            products.push(ProductInfo {
                spec: ProductSpec {
                    name: format!("{} ticket {}", if plane { "plane" } else { "train" }, i / 2),
                    brand: xinyong_engine::BrandId(1000 + i % 3),
                    category: travel_category(world),
                    list_price: (price * 100.0).round() as i64,
                    travel: true,
                },
                scandal_rate: 0.0,
                rank: i,
            });
        }
        Catalogue { products, by_topic, travel, topic_popularity: ZipfTable::new(c.products_per_topic as usize, 1.0) }
    }

    /// A product of a topic, drawn by popularity.
    pub fn popular_in(&self, topic: usize, draws: &mut Draws) -> ProductId {
        self.by_topic[topic][self.topic_popularity.sample(draws)]
    }
}

/// KOLs: each has a topic; popularity (and so follower counts) is Zipf by rank.
#[derive(Clone, Debug)]
pub struct Kols {
    pub topic: Vec<u16>,
    /// `by_topic[t]`: KOLs of topic t, most popular first.
    pub by_topic: Vec<Vec<KolId>>,
    /// Each KOL's place in its topic's list (its popularity rank).
    rank: Vec<u32>,
    /// Where each topic's KOLs start in the order of places (topic, then rank): a list
    /// by place keeps the most followed KOLs of every topic side by side.
    first_place: Vec<u32>,
    zipf_by_topic: Vec<Option<ZipfTable>>,
}

impl Kols {
    pub fn generate(world: &WorldConfig, citizens: u32, seed: u64, topic_weights: &[f64]) -> Kols {
        let n = world.kol_count(citizens);
        let mut topic = Vec::with_capacity(n as usize);
        let mut rank = Vec::with_capacity(n as usize);
        let mut by_topic = vec![Vec::new(); world.topics as usize];
        for k in 0..n {
            let t = Key::new(seed, Stream::Kol, 0, k as u64).draws().weighted_index(topic_weights);
            topic.push(t as u16);
            rank.push(by_topic[t].len() as u32);
            by_topic[t].push(KolId(k));
        }
        let zipf_by_topic = by_topic
            .iter()
            .map(|v| (!v.is_empty()).then(|| ZipfTable::new(v.len(), world.kols.zipf_exponent)))
            .collect();
        let first_place = std::iter::once(0)
            .chain(by_topic.iter().scan(0u32, |start, v| {
                *start += v.len() as u32;
                Some(*start)
            }))
            .collect();
        Kols { topic, by_topic, rank, first_place, zipf_by_topic }
    }

    /// A KOL's place in the order of places: by topic, then by popularity rank.
    pub fn place(&self, kol: KolId) -> usize {
        let k = kol.index();
        self.first_place[self.topic[k] as usize] as usize + self.rank[k] as usize
    }

    pub fn len(&self) -> usize {
        self.topic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topic.is_empty()
    }

    /// A KOL of a topic, drawn by popularity (None when the topic has no KOL).
    pub fn popular_in(&self, topic: usize, draws: &mut Draws) -> Option<KolId> {
        let table = self.zipf_by_topic[topic].as_ref()?;
        Some(self.by_topic[topic][table.sample(draws)])
    }

    /// [`Self::popular_in`]'s KOL, as its place ([`Self::place`]).
    pub fn popular_place_in(&self, topic: usize, draws: &mut Draws) -> Option<usize> {
        let table = self.zipf_by_topic[topic].as_ref()?;
        Some(self.first_place[topic] as usize + table.sample(draws))
    }
}

/// Topic weights ∝ rank^(−exponent) (topic 0 the most popular).
pub fn topic_weights(world: &WorldConfig) -> Vec<f64> {
    (0..world.topics).map(|t| math::pow(t as f64 + 1.0, -world.interests.popularity_exponent)).collect()
}

/// A citizen's interests: topics (main first) and their weights (summing to 1, descending).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interests {
    pub topics: [u8; INTERESTS],
    pub weights: [f32; INTERESTS],
}

impl Interests {
    pub fn main(&self) -> u8 {
        self.topics[0]
    }

    /// The grouping key: topics in order, then the main weight (coarse).
    pub fn key(&self) -> (u8, u8, u8) {
        (self.topics[0], self.topics[1], self.topics[2])
    }

    /// Σ weight² (the squared norm of the interest vector).
    pub fn norm_squared(&self) -> f64 {
        self.weights.iter().map(|&w| w as f64 * w as f64).sum()
    }

    /// The norm of the interest vector (what a similarity divides by).
    pub fn norm(&self) -> f64 {
        self.norm_squared().sqrt()
    }

    /// The (topic, weight) pairs a [`TopicTree`] searches for; None outside the tree's
    /// bound (no direction, or a negative weight), where every group must be scored.
    fn tree_query(&self) -> Option<[(usize, f64); INTERESTS]> {
        let query: [(usize, f64); INTERESTS] =
            std::array::from_fn(|k| (self.topics[k] as usize, self.weights[k] as f64));
        let searchable = self.norm_squared() > 0.0 && query.iter().all(|&(_, w)| w >= 0.0);
        searchable.then_some(query)
    }
}

/// Equal-probability levels of a distribution: `levels[i]` is the mean of the i-th of
/// `LEVELS` equal slices of a large, fixed sample. One uniform draw then picks a level.
fn levels(sample: impl Fn(&mut Draws) -> f64) -> Vec<f64> {
    const PER_LEVEL: usize = 64;
    // The table depends only on the distribution's parameters, not on the run's seed.
    let mut values: Vec<f64> =
        (0..LEVELS * PER_LEVEL).map(|i| sample(&mut Key::new(0, Stream::Tables, 0, i as u64).draws())).collect();
    values.sort_by(|a, b| a.total_cmp(b));
    values.chunks(PER_LEVEL).map(|c| c.iter().sum::<f64>() / PER_LEVEL as f64).collect()
}

/// Slots of the per-thread memo of interests (direct-mapped by citizen id).
const MEMO_SLOTS: usize = 512;

#[derive(Clone, Copy)]
struct MemoEntry {
    /// 0: empty (populations take tags from 1).
    tag: u64,
    citizen: u32,
    interests: Interests,
}

static NEXT_MEMO_TAG: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

thread_local! {
    static MEMO: [std::cell::Cell<MemoEntry>; MEMO_SLOTS] = const {
        [const {
            std::cell::Cell::new(MemoEntry {
                tag: 0,
                citizen: 0,
                interests: Interests { topics: [0; INTERESTS], weights: [0.0; INTERESTS] },
            })
        }; MEMO_SLOTS]
    };
}

/// Everything about synthetic citizens, regenerated from (seed, id).
#[derive(Clone, Debug)]
pub struct People {
    /// This population's key in the per-thread memo of interests (see [`People::interests`]).
    memo_tag: u64,
    topics: usize,
    citizens: u32,
    topic_cumulative: Cumulative,
    propensity_levels: Vec<f64>,
    propensity_fixed: Vec<u64>,
    disposition_levels: Vec<f64>,
    buy_rate_mean: f64,
    debtor_share: f64,
    debtor_days: u32,
    favourites: usize,
    follows: usize,
    regions: ZipfTable,
    catalogue_by_topic: Vec<Vec<ProductId>>,
    /// Each catalogue product's (topic, rank in the topic); tickets have none.
    product_place: Vec<Option<(u16, u32)>>,
    product_popularity: ZipfTable,
    kols: Kols,
    /// Hashed (seed, stream, 0) parts of the keys drawn per citizen.
    prefix: Prefixes,
}

#[derive(Clone, Debug)]
struct Prefixes {
    profile: Prefix,
    propensity: Prefix,
    debt: Prefix,
    budget: Prefix,
    disposition: Prefix,
    region: Prefix,
    /// One per favourite slot and per followed slot.
    favourites: Vec<Prefix>,
    follows: Vec<Prefix>,
}

impl People {
    pub fn new(world: &WorldConfig, citizens: u32, seed: u64, catalogue: &Catalogue, kols: &Kols) -> People {
        let weights = topic_weights(world);
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let topic_cumulative = Cumulative::new(
            weights
                .iter()
                .map(|w| {
                    acc += w / total;
                    acc
                })
                .collect(),
        );
        let m = &world.misconduct;
        let (mean, shape) = (m.daily_rate_mean, m.heterogeneity);
        let propensity_levels: Vec<f64> = levels(|d| (mean * gamma(d, shape) / shape).min(1.0));
        let propensity_fixed = propensity_levels.iter().map(|p| (p / PROPENSITY_UNIT).round() as u64).collect();
        let sd = world.voting.disposition_sd;
        let disposition_levels = levels(|d| sd * d.normal());
        People {
            memo_tag: NEXT_MEMO_TAG.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            topics: world.topics as usize,
            citizens,
            topic_cumulative,
            propensity_levels,
            propensity_fixed,
            disposition_levels,
            buy_rate_mean: world.commerce.buy_rate_mean,
            debtor_share: m.debtor_share,
            debtor_days: m.debtor_report_days,
            favourites: world.commerce.favourites as usize,
            follows: world.kols.follows_per_citizen as usize,
            regions: ZipfTable::new(world.regions as usize, 0.6),
            catalogue_by_topic: catalogue.by_topic.clone(),
            product_place: {
                let mut place = vec![None; catalogue.products.len()];
                for (topic, list) in catalogue.by_topic.iter().enumerate() {
                    for (rank, p) in list.iter().enumerate() {
                        place[p.index()] = Some((topic as u16, rank as u32));
                    }
                }
                place
            },
            product_popularity: catalogue.topic_popularity.clone(),
            kols: kols.clone(),
            prefix: Prefixes {
                profile: Prefix::new(seed, Stream::Profile, 0),
                propensity: Prefix::new(seed, Stream::Propensity, 0),
                debt: Prefix::new(seed, Stream::Propensity, 1),
                budget: Prefix::new(seed, Stream::Budget, 0),
                disposition: Prefix::new(seed, Stream::Disposition, 0),
                region: Prefix::new(seed, Stream::Region, 0),
                favourites: (0..world.commerce.favourites as u64)
                    .map(|i| Prefix::new(seed, Stream::Favourites, i))
                    .collect(),
                follows: (0..world.kols.follows_per_citizen as u64)
                    .map(|j| Prefix::new(seed, Stream::Follows, j))
                    .collect(),
            },
        }
    }

    pub fn len(&self) -> u32 {
        self.citizens
    }

    pub fn is_empty(&self) -> bool {
        self.citizens == 0
    }

    pub fn topics(&self) -> usize {
        self.topics
    }

    fn topic_draw(&self, d: &mut Draws) -> u8 {
        let u = d.uniform();
        self.topic_cumulative.index(u).min(self.topics - 1) as u8
    }

    /// Interest topics (distinct, by popularity) and weights (flat Dirichlet, sorted).
    ///
    /// An order asks for its buyer's interests two or three times (the planner picks a KOL
    /// or a favourite; the engine then checks favourites and follows), so the last few
    /// hundred are remembered per thread, keyed by population and citizen. A memo only:
    /// the value is always what [`People::regenerate_interests`] gives.
    pub fn interests(&self, c: CitizenId) -> Interests {
        MEMO.with(|memo| {
            let slot = &memo[c.0 as usize % MEMO_SLOTS];
            if let Some(interests) = self.remembered(slot.get(), c) {
                return interests;
            }
            let interests = self.regenerate_interests(c);
            slot.set(MemoEntry { tag: self.memo_tag, citizen: c.0, interests });
            interests
        })
    }

    /// What a memo entry holds for `c` of this population, if it is theirs.
    fn remembered(&self, entry: MemoEntry, c: CitizenId) -> Option<Interests> {
        (entry.tag == self.memo_tag && entry.citizen == c.0).then_some(entry.interests)
    }

    /// The citizen's interest topics: from the memo of [`People::interests`] when there,
    /// else drawn alone, without the weights that follow them in the citizen's draws (and
    /// not remembered). What the engine's checks of an order need.
    fn topics_of(&self, c: CitizenId) -> [u8; INTERESTS] {
        MEMO.with(|memo| {
            if let Some(interests) = self.remembered(memo[c.0 as usize % MEMO_SLOTS].get(), c) {
                return interests.topics;
            }
            self.draw_topics(&mut self.prefix.profile.draws(c.0 as u64))
        })
    }

    /// [`People::interests`] drawn again from (seed, id).
    pub fn regenerate_interests(&self, c: CitizenId) -> Interests {
        const _: () = assert!(INTERESTS == 3, "the weights below are written for three interests");
        let mut d = self.prefix.profile.draws(c.0 as u64);
        let topics = self.draw_topics(&mut d);
        let n = INTERESTS.min(self.topics);
        // Spacings of two sorted uniforms are a flat Dirichlet on three parts; sorted
        // descending so that the first topic is the main interest.
        let weights = if n < INTERESTS {
            let mut w = [0f32; INTERESTS];
            w[0] = 1.0;
            w
        } else {
            let (u, v) = (d.uniform(), d.uniform());
            let (low, high) = if u <= v { (u, v) } else { (v, u) };
            let mut w = [low as f32, (high - low) as f32, (1.0 - high) as f32];
            if w[0] < w[1] {
                w.swap(0, 1);
            }
            if w[1] < w[2] {
                w.swap(1, 2);
            }
            if w[0] < w[1] {
                w.swap(0, 1);
            }
            w
        };
        Interests { topics, weights }
    }

    /// The first draws of [`People::regenerate_interests`]: distinct topics, as drawn.
    fn draw_topics(&self, d: &mut Draws) -> [u8; INTERESTS] {
        let mut topics = [0u8; INTERESTS];
        let n = INTERESTS.min(self.topics);
        for i in 0..n {
            // Rejection keeps topics distinct; bounded, then the first unused topic.
            let mut t = self.topic_draw(d);
            let mut tries = 0;
            while topics[..i].contains(&t) && tries < 64 {
                t = self.topic_draw(d);
                tries += 1;
            }
            if topics[..i].contains(&t) {
                t = (0..self.topics as u8).find(|x| !topics[..i].contains(x)).expect("enough topics");
            }
            topics[i] = t;
        }
        for i in n..INTERESTS {
            topics[i] = topics[0];
        }
        topics
    }

    /// The dense interest profile over all topics (for grouping: every citizen once a pass,
    /// so regenerated rather than through the memo of [`People::interests`]).
    pub fn profile(&self, c: CitizenId, out: &mut [f32]) {
        assert_eq!(out.len(), self.topics);
        out.iter_mut().for_each(|x| *x = 0.0);
        let i = self.regenerate_interests(c);
        for (t, w) in i.topics.iter().zip(i.weights) {
            out[*t as usize] += w;
        }
    }

    fn propensity_index(&self, c: CitizenId) -> usize {
        (self.prefix.propensity.uniform(c.0 as u64) * LEVELS as f64) as usize
    }

    /// Daily probability of (camera-visible) misconduct.
    pub fn propensity(&self, c: CitizenId) -> f64 {
        self.propensity_levels[self.propensity_index(c)]
    }

    /// The propensity in fixed point (units of [`PROPENSITY_UNIT`]), for exact sums.
    pub fn propensity_fixed(&self, c: CitizenId) -> u64 {
        self.propensity_fixed[self.propensity_index(c)]
    }

    /// Mean individual orders per day (uniform between 0 and twice the world's mean).
    pub fn buy_rate(&self, c: CitizenId) -> f64 {
        self.buy_rate_mean * 2.0 * self.prefix.budget.uniform(c.0 as u64)
    }

    /// Lasting leniency when answering notices (log-odds of "expel").
    pub fn disposition(&self, c: CitizenId) -> f64 {
        let u = self.prefix.disposition.uniform(c.0 as u64);
        self.disposition_levels[(u * LEVELS as f64) as usize]
    }

    /// For a court debtor: the day (mod `debtor_report_days`) of their report.
    pub fn debt_offset(&self, c: CitizenId) -> Option<u32> {
        if self.debtor_share <= 0.0 {
            return None;
        }
        let mut d = self.prefix.debt.draws(c.0 as u64);
        d.bernoulli(self.debtor_share).then(|| d.below(self.debtor_days as u64) as u32)
    }

    pub fn region(&self, c: CitizenId) -> u16 {
        self.regions.sample(&mut self.prefix.region.draws(c.0 as u64)) as u16
    }

    /// The topic slot of favourite `i` (favourites go round the interests, main first).
    fn slot(i: usize) -> usize {
        i % INTERESTS
    }

    /// Favourite number `i` (0-based, < favourites per citizen); may repeat another.
    pub fn favourite(&self, c: CitizenId, interests: &Interests, i: usize) -> ProductId {
        let topic = interests.topics[Self::slot(i)] as usize;
        let mut d = self.prefix.favourites[i].draws(c.0 as u64);
        self.catalogue_by_topic[topic][self.product_popularity.sample(&mut d)]
    }

    /// How many favourites each citizen has.
    pub fn favourite_count(&self) -> usize {
        self.favourites
    }

    /// Whether `p` (of topic `category`) is one of `c`'s favourites: whether a favourite slot
    /// of that topic draws the product's rank ([`People::favourite`], asked of the two ends
    /// of the rank's interval instead of drawing the rank: same answer, no search).
    pub fn is_favourite(&self, c: CitizenId, product: ProductId, category: u16) -> bool {
        if category as usize >= self.topics {
            return false; // tickets are nobody's favourite
        }
        // A favourite of a topic is a product of that topic's list.
        let Some(Some((topic, rank))) = self.product_place.get(product.index()).copied() else { return false };
        if topic != category {
            return false;
        }
        let topics = self.topics_of(c);
        (0..self.favourites)
            .filter(|&i| topics[Self::slot(i)] as u16 == category)
            .any(|i| self.product_popularity.gives(self.prefix.favourites[i].uniform(c.0 as u64), rank as usize))
    }

    /// KOL number `j` that `c` follows (None when its topic has no KOL).
    pub fn followed(&self, c: CitizenId, interests: &Interests, j: usize) -> Option<KolId> {
        let topic = interests.topics[Self::slot(j)] as usize;
        let mut d = self.prefix.follows[j].draws(c.0 as u64);
        self.kols.popular_in(topic, &mut d)
    }

    /// [`Self::followed`]'s KOL, as its place ([`Kols::place`]).
    pub fn followed_place(&self, c: CitizenId, interests: &Interests, j: usize) -> Option<usize> {
        let topic = interests.topics[Self::slot(j)] as usize;
        let mut d = self.prefix.follows[j].draws(c.0 as u64);
        self.kols.popular_place_in(topic, &mut d)
    }

    pub fn follow_count(&self) -> usize {
        self.follows
    }

    /// Whether `c` follows `kol`: whether a followed slot of the KOL's topic draws its rank
    /// ([`People::followed`], asked as [`People::is_favourite`] asks).
    pub fn follows(&self, c: CitizenId, kol: KolId) -> bool {
        let Some(&topic) = self.kols.topic.get(kol.index()) else { return false };
        let Some(table) = self.kols.zipf_by_topic[topic as usize].as_ref() else { return false };
        let rank = self.kols.rank[kol.index()] as usize;
        let topics = self.topics_of(c);
        (0..self.follows)
            .filter(|&j| topics[Self::slot(j)] as u16 == topic)
            .any(|j| table.gives(self.prefix.follows[j].uniform(c.0 as u64), rank))
    }
}

/// What the simulator keeps per group (derived from members, updated as they move).
#[derive(Clone, Debug, Default)]
pub struct GroupState {
    /// The group's interest key (top three topics of the centroid).
    pub key: (u8, u8, u8),
    pub main_topic: u8,
    /// Lasting leniency of the group (log-odds of "expel").
    pub culture: f32,
    /// Σ members' propensities, fixed point (exact in any order).
    pub propensity_sum: u64,
    /// Court debtors among the members: (report day offset, citizen), sorted.
    pub debtors: Vec<(u32, CitizenId)>,
}

/// What the simulator needs of its engine's directory: the synthetic one, alone
/// ([`SyntheticDirectory`]) or beside real people's declarations (a mixed world, see
/// [`crate::mixed::MixedDirectory`]).
pub trait SimDirectory: Directory + Send + Sync {
    fn synthetic(&self) -> &SyntheticDirectory;
    fn synthetic_mut(&mut self) -> &mut SyntheticDirectory;
    /// Whether the simulator decides this citizen's actions (false for a real person).
    fn is_simulated(&self, citizen: CitizenId) -> bool;
}

impl SimDirectory for SyntheticDirectory {
    fn synthetic(&self) -> &SyntheticDirectory {
        self
    }

    fn synthetic_mut(&mut self) -> &mut SyntheticDirectory {
        self
    }

    fn is_simulated(&self, _: CitizenId) -> bool {
        true
    }
}

/// How many candidate groups a placement's first attempt considers.
const PLACEMENT_SHORTLIST: usize = 16;

/// How many groups with room a prepared later attempt lists (the most similar of the
/// main topic's groups, or of every group); when all of them have filled up by the time
/// the citizen is placed, the search runs as if nothing had been prepared.
const PREPARED_LATER: usize = 16;

/// A citizen's second attempt is prepared when at most this many of their shortlist's
/// groups have room as the placements start: with none, the second attempt is certain;
/// with one or two, the others placed before them often fill those up.
const SECOND_WHEN_ROOM_IN_AT_MOST: usize = 2;

/// Candidate lists worked out before a regrouping asks for them
/// ([`Directory::prepare_placements`]): the citizens (sorted), where each list ends in
/// `groups`, the lists, and whether each list holds every group that could be chosen.
#[derive(Clone, Debug, Default)]
struct Prepared {
    citizens: Vec<CitizenId>,
    ends: Vec<u32>,
    groups: Vec<GroupId>,
    complete: Vec<bool>,
}

impl Prepared {
    fn get(&self, citizen: CitizenId) -> Option<(&[GroupId], bool)> {
        let i = self.citizens.binary_search(&citizen).ok()?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        Some((&self.groups[start..self.ends[i] as usize], self.complete[i]))
    }

    fn push(&mut self, citizen: CitizenId, list: &[GroupId], complete: bool) {
        debug_assert!(self.citizens.last().is_none_or(|&last| last < citizen), "citizens in order");
        self.citizens.push(citizen);
        self.groups.extend_from_slice(list);
        self.ends.push(self.groups.len() as u32);
        self.complete.push(complete);
    }

    /// Forgets every list, giving the memory back (up to ~0.5 M lists a day at 1.4 billion).
    fn release(&mut self) {
        *self = Prepared::default();
    }

    fn heap_bytes(&self) -> u64 {
        (self.citizens.capacity() * 4
            + self.ends.capacity() * 4
            + self.groups.capacity() * 4
            + self.complete.capacity()) as u64
    }
}

/// How many times [`Directory::prepare_placements`] forecasts the regrouping, each time
/// preparing the later attempts of the citizens the forecast found in need of one with
/// nothing prepared (those placed through their new lists then take places too, which
/// the next forecast sees).
const FORECAST_ROUNDS: usize = 2;

/// One citizen's prepared candidates: the first attempt's shortlist, the later attempts'
/// best groups with room (each with whether it holds every group with room), and whether
/// the later attempts could be prepared at all (their interests give a tree query).
struct PlacementLists {
    first: Vec<GroupId>,
    later: [Option<(Vec<GroupId>, bool)>; 2],
    searchable: bool,
}

/// A forecast of a regrouping from prepared lists: each citizen, in turn, takes a place in
/// the first group of their lists with places left (`free`, as the placements start; a
/// group past its end is taken to have room). Returns the citizens (their indices) who
/// find no room in their shortlist and have no later list prepared. It does not prefer the
/// groups below `min_size` as the engine does, nor follow a citizen who runs out of a
/// prepared list: it only guides what to prepare.
fn forecast_unprepared(lists: &[PlacementLists], free: &[u16]) -> Vec<u32> {
    let mut left = free.to_vec();
    let mut take = |list: &[GroupId]| {
        let found = list.iter().find(|g| left.get(g.index()).is_none_or(|&n| n > 0));
        if let Some(n) = found.and_then(|g| left.get_mut(g.index())) {
            *n -= 1;
        }
        found.is_some()
    };
    let mut unprepared = Vec::new();
    for (i, lists) in lists.iter().enumerate() {
        if take(&lists.first) {
            continue;
        }
        match &lists.later {
            [None, _] => {
                if lists.searchable {
                    unprepared.push(i as u32);
                }
            }
            // The third list is asked for only when the second held every group with room.
            [Some((second, complete)), third] => {
                if !take(second)
                    && *complete
                    && let Some((third, _)) = third
                {
                    take(third);
                }
            }
        }
    }
    unprepared
}

/// The simulator's directory: regenerated people and per-group state.
#[derive(Clone, Debug)]
pub struct SyntheticDirectory {
    pub people: People,
    pub groups: Vec<GroupState>,
    /// Mean interest profile of each group at formation, row-major (`topics` per group).
    centroids: Vec<f32>,
    /// Each centroid's norm, worked out once at formation (placement ranks thousands of
    /// groups a citizen at 100 M, and a search of the index scores every group of each leaf
    /// it visits: no square root each time).
    centroid_norms: Vec<f64>,
    /// Groups by interest key, indexed for exact shortlists ([`crate::shortlist`]).
    by_key: BTreeMap<(u8, u8, u8), TopicTree>,
    /// Groups by main topic, indexed the same way.
    by_main_topic: Vec<TopicTree>,
    /// Every group formed, indexed the same way (the last attempt of a placement).
    all: TopicTree,
    /// Products' categories (for favourite checks).
    categories: Vec<u16>,
    /// The first attempt's shortlists of the citizens being regrouped, worked out in
    /// parallel before the regrouping asks ([`Directory::prepare_placements`]).
    first: Prepared,
    /// The later attempts' best groups with room as the placements started: the second
    /// attempt's (the main topic's) for the citizens whose shortlist had at most
    /// [`SECOND_WHEN_ROOM_IN_AT_MOST`] groups with room then, the third's (every group's)
    /// for those whose main topic had fewer than [`PREPARED_LATER`] groups with room.
    later: [Prepared; 2],
    /// While a regrouping places citizens: the nodes of each main topic's tree, and of the
    /// tree of every group, that hold a group with room as the placements started (groups
    /// only fill up meanwhile, so a node without one never has one later). Empty otherwise.
    with_room: RoomNodes,
}

/// The nodes of the later attempts' trees holding a group with room ([`Holding`]).
#[derive(Clone, Debug, Default)]
struct RoomNodes {
    by_main_topic: Vec<Holding>,
    all: Option<Holding>,
}

impl SyntheticDirectory {
    pub fn new(people: People, catalogue: &Catalogue) -> SyntheticDirectory {
        let topics = people.topics();
        SyntheticDirectory {
            people,
            groups: Vec::new(),
            centroids: Vec::new(),
            centroid_norms: Vec::new(),
            by_key: BTreeMap::new(),
            by_main_topic: vec![TopicTree::default(); topics],
            all: TopicTree::default(),
            categories: catalogue.products.iter().map(|p| p.spec.category).collect(),
            first: Prepared::default(),
            later: [Prepared::default(), Prepared::default()],
            with_room: RoomNodes::default(),
        }
    }

    /// Heap bytes of the per-group state: the table, debtor lists, centroids and the
    /// placement index.
    pub fn heap_use(&self) -> Vec<(&'static str, u64)> {
        let debtors: usize = self.groups.iter().map(|g| g.debtors.capacity() * 8).sum();
        let trees = self.by_key.values().chain(&self.by_main_topic).chain([&self.all]).map(TopicTree::heap_bytes);
        vec![
            ("directory: group states", (self.groups.capacity() * std::mem::size_of::<GroupState>() + debtors) as u64),
            ("directory: centroids", (self.centroids.capacity() * 4 + self.centroid_norms.capacity() * 8) as u64),
            ("directory: placement index", trees.sum()),
            (
                "directory: prepared placements",
                self.first.heap_bytes()
                    + self.later.iter().map(Prepared::heap_bytes).sum::<u64>()
                    + self
                        .with_room
                        .by_main_topic
                        .iter()
                        .chain(&self.with_room.all)
                        .map(Holding::heap_bytes)
                        .sum::<u64>(),
            ),
        ]
    }

    /// Makes room for the state of `count` new groups (before anyone joins them).
    pub fn prepare_groups(&mut self, count: usize) {
        self.groups = vec![GroupState::default(); count];
    }

    /// Records the groups' centroids as formed, and derives their keys and cultures.
    pub fn set_centroids(&mut self, centroids: Vec<f32>, seed: u64, culture_sd: f64) {
        let topics = self.people.topics();
        assert_eq!(centroids.len(), self.groups.len() * topics, "one centroid per group");
        for (i, (state, centroid)) in self.groups.iter_mut().zip(centroids.chunks(topics)).enumerate() {
            let mut order: Vec<usize> = (0..topics).collect();
            order.sort_by(|&a, &b| centroid[b].total_cmp(&centroid[a]).then(a.cmp(&b)));
            let pick = |k: usize| order.get(k).copied().unwrap_or(order[0]) as u8;
            state.key = (pick(0), pick(1), pick(2));
            state.main_topic = pick(0);
            state.culture = (culture_sd * Key::new(seed, Stream::Culture, 0, i as u64).draws().normal()) as f32;
        }
        self.centroid_norms =
            centroids.chunks(topics).map(|c| c.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt()).collect();
        self.centroids = centroids;
        let mut by_key: BTreeMap<(u8, u8, u8), Vec<GroupId>> = BTreeMap::new();
        let mut by_main_topic = vec![Vec::new(); topics];
        for (i, state) in self.groups.iter().enumerate() {
            by_key.entry(state.key).or_default().push(GroupId(i as u32));
            by_main_topic[state.main_topic as usize].push(GroupId(i as u32));
        }
        let tree = |list: Vec<GroupId>| TopicTree::build(list, topics, |g, out| self.direction(g, out));
        let keyed: Vec<((u8, u8, u8), Vec<GroupId>)> = by_key.into_iter().collect();
        // A key's tree is searched by citizens of that key only: it is split along the key's topics.
        let along_key = |(a, b, c): (u8, u8, u8), list: Vec<GroupId>| {
            let mut axes = vec![a as usize, b as usize, c as usize];
            axes.sort_unstable();
            axes.dedup();
            TopicTree::build_along(list, topics, &axes, |g, out| self.direction(g, out))
        };
        let keyed: Vec<((u8, u8, u8), TopicTree)> =
            keyed.into_par_iter().map(|(k, list)| (k, along_key(k, list))).collect();
        let by_main_topic = by_main_topic.into_par_iter().map(tree).collect();
        let all = tree((0..self.groups.len() as u32).map(GroupId).collect());
        self.by_key = keyed.into_iter().collect();
        self.by_main_topic = by_main_topic;
        self.all = all;
    }

    /// Group `g`'s centroid divided by its norm (zeros for an empty centroid).
    fn direction(&self, g: GroupId, out: &mut [f64]) {
        let topics = self.people.topics();
        let centroid = &self.centroids[g.index() * topics..(g.index() + 1) * topics];
        let norm = self.centroid_norms[g.index()];
        for (o, &c) in out.iter_mut().zip(centroid) {
            *o = if norm == 0.0 { 0.0 } else { c as f64 / norm };
        }
    }

    /// `citizen`'s first-attempt shortlist, when [`Directory::prepare_placements`] made it.
    fn prepared(&self, citizen: CitizenId) -> Option<&[GroupId]> {
        self.first.get(citizen).map(|(list, _)| list)
    }

    /// Cosine of `interests` (whose norm is `own`, [`Interests::norm`]) and group `g`'s centroid.
    fn similarity_with(&self, interests: &Interests, own: f64, g: GroupId) -> f64 {
        let topics = self.people.topics();
        let centroid = &self.centroids[g.index() * topics..(g.index() + 1) * topics];
        let mut dot = 0.0f64;
        for (t, w) in interests.topics.iter().zip(interests.weights) {
            dot += w as f64 * centroid[*t as usize] as f64;
        }
        let theirs = self.centroid_norms[g.index()];
        if own == 0.0 || theirs == 0.0 { 0.0 } else { dot / (own * theirs) }
    }

    /// Group `g`'s mean interest profile at formation (None for a group made later).
    pub fn centroid(&self, g: GroupId) -> Option<&[f32]> {
        let topics = self.people.topics();
        self.centroids.get(g.index() * topics..(g.index() + 1) * topics)
    }

    /// The interests of a dense profile (a person's declared one): its three heaviest topics,
    /// weights normalised, as the simulator's own citizens have.
    pub fn interests_of_profile(&self, profile: &[f32]) -> Interests {
        let topics = self.people.topics();
        let mut order: Vec<usize> = (0..topics.min(profile.len())).collect();
        order.sort_by(|&a, &b| profile[b].total_cmp(&profile[a]).then(a.cmp(&b)));
        let (mut topics, mut weights) = ([0u8; INTERESTS], [0f32; INTERESTS]);
        for (k, &t) in order.iter().take(INTERESTS).enumerate() {
            topics[k] = t as u8;
            weights[k] = profile[t].max(0.0);
        }
        let sum: f32 = weights.iter().sum();
        if sum > 0.0 {
            weights.iter_mut().for_each(|w| *w /= sum);
        } else {
            weights = [1.0, 0.0, 0.0];
        }
        Interests { topics, weights }
    }

    /// [`Directory::placement_candidates`] for given interests (the simulator's placement,
    /// for a citizen whose interests are not the seed's).
    pub fn placement_for(&self, interests: &Interests, attempt: u32, groups: u32, out: &mut Vec<GroupId>) {
        out.clear();
        match attempt {
            0 => {
                if let Some(same) = self.by_key.get(&interests.key()) {
                    self.shortlist(interests, same, out);
                }
                if out.is_empty() {
                    self.shortlist(interests, &self.by_main_topic[interests.main() as usize], out);
                }
            }
            1 => self.ranked(interests, self.by_main_topic[interests.main() as usize].groups(), usize::MAX, out),
            // Every group, ranked: only reached when no group of the citizen's main topic has room.
            2 => {
                let all: Vec<GroupId> = (0..groups.min(self.groups.len() as u32)).map(GroupId).collect();
                self.ranked(interests, &all, usize::MAX, out);
            }
            _ => {}
        }
    }

    /// [`Directory::choose_group`] for given interests: the first of
    /// [`Self::placement_for`]'s candidates below `min_size` (in `refill`), else the first
    /// with room — found without ranking every group when the attempt ranks a whole list
    /// (attempts 1 and 2: the main topic's groups, every group).
    pub fn choose_for(
        &self,
        interests: &Interests,
        attempt: u32,
        groups: u32,
        refill: &[GroupId],
        has_room: &dyn Fn(GroupId) -> bool,
        scratch: &mut Vec<GroupId>,
    ) -> Option<GroupId> {
        let main = interests.main();
        let own = interests.norm();
        let query = interests.tree_query();
        let tree = match (attempt, query) {
            (1, Some(_)) => &self.by_main_topic[main as usize],
            (2, Some(_)) if self.every_group_indexed(groups) => &self.all,
            _ => {
                self.placement_for(interests, attempt, groups, scratch);
                return first_choice(scratch, refill, has_room);
            }
        };
        let query = query.expect("an indexed attempt has a query");
        if let Some(g) = self.best_refill(interests, attempt, refill) {
            return Some(g);
        }
        scratch.clear();
        let within = self.with_room(attempt, main);
        tree.top_where(&query, 1, within, has_room, |g| self.similarity_with(interests, own, g), scratch);
        scratch.first().copied()
    }

    /// The nodes of a later attempt's tree (1: `main`'s, 2: every group's) that held a
    /// group with room as the placements under way started; None outside a regrouping.
    fn with_room(&self, attempt: u32, main: u8) -> Option<&Holding> {
        match attempt {
            1 => self.with_room.by_main_topic.get(main as usize),
            2 => self.with_room.all.as_ref(),
            _ => None,
        }
    }

    /// Whether the tree of every group holds all of the `groups` the engine counts (every
    /// one has a centroid, none was made later): then the last attempt searches that tree.
    fn every_group_indexed(&self, groups: u32) -> bool {
        (groups as usize).min(self.groups.len()) == self.centroid_norms.len()
    }

    /// The first of an indexed attempt's full ranking below min_size (in `refill`): the
    /// most similar of those in the attempt's scope (usually few).
    fn best_refill(&self, interests: &Interests, attempt: u32, refill: &[GroupId]) -> Option<GroupId> {
        let (formed, main, own) = (self.centroid_norms.len(), interests.main(), interests.norm());
        let in_scope = |g: GroupId| g.index() < formed && (attempt == 2 || self.groups[g.index()].main_topic == main);
        refill
            .iter()
            .filter(|&&g| in_scope(g))
            .map(|&g| (self.similarity_with(interests, own, g), g))
            .min_by(ranking)
            .map(|(_, g)| g)
    }

    /// A later attempt (1: the main topic's groups, 2: every group) answered from a list of
    /// its best groups with room at the start, when one was prepared: a refill first, as
    /// always; else the first of the list that still has room. Groups only fill up
    /// meanwhile, so the one found is the first of the full ranking with room. When the
    /// list ran out, there is no group with room (`Some(None)`) if the list held every
    /// group that had room, and otherwise the answer must be searched for (`None`, as for
    /// a citizen not prepared).
    fn choose_prepared(
        &self,
        citizen: CitizenId,
        attempt: u32,
        groups: u32,
        refill: &[GroupId],
        has_room: &dyn Fn(GroupId) -> bool,
    ) -> Option<Option<GroupId>> {
        let prepared = match attempt {
            1 => &self.later[0],
            // Prepared over the tree of every group: valid where the search uses that tree.
            2 if self.every_group_indexed(groups) => &self.later[1],
            _ => return None,
        };
        let (list, complete) = prepared.get(citizen)?;
        if let Some(g) = self.best_refill(&self.people.interests(citizen), attempt, refill) {
            return Some(Some(g));
        }
        match list.iter().copied().find(|&g| has_room(g)) {
            Some(g) => Some(Some(g)),
            None if complete => Some(None),
            None => None,
        }
    }

    /// The state of group `g`, made on first use for a group created after formation.
    fn group_state(&mut self, group: GroupId) -> &mut GroupState {
        if group.index() >= self.groups.len() {
            self.groups.resize(group.index() + 1, GroupState::default());
        }
        &mut self.groups[group.index()]
    }

    /// The [`PLACEMENT_SHORTLIST`] groups of `tree` most similar to `interests`, most similar
    /// first (ties: lower id): what [`Self::ranked`] gives, found through the tree.
    fn shortlist(&self, interests: &Interests, tree: &TopicTree, out: &mut Vec<GroupId>) {
        match interests.tree_query() {
            Some(query) => {
                let own = interests.norm();
                tree.top(&query, PLACEMENT_SHORTLIST, |g| self.similarity_with(interests, own, g), out);
            }
            None => self.ranked(interests, tree.groups(), PLACEMENT_SHORTLIST, out),
        }
    }

    /// The `keep` groups most similar to `interests`, most similar first (ties: lower id).
    /// The order is total, so selecting the first `keep` before sorting them gives what
    /// sorting everything gives.
    fn ranked(&self, interests: &Interests, groups: &[GroupId], keep: usize, out: &mut Vec<GroupId>) {
        let own = interests.norm();
        let mut scored: Vec<(f64, GroupId)> =
            groups.iter().map(|&g| (self.similarity_with(interests, own, g), g)).collect();
        if keep < scored.len() {
            scored.select_nth_unstable_by(keep, ranking);
            scored.truncate(keep);
        }
        scored.sort_by(ranking);
        out.extend(scored.into_iter().map(|(_, g)| g));
    }
}

impl Directory for SyntheticDirectory {
    fn is_favourite(&self, citizen: CitizenId, product: ProductId) -> bool {
        let category = self.categories.get(product.index()).copied().unwrap_or(u16::MAX);
        self.people.is_favourite(citizen, product, category)
    }

    fn follows(&self, citizen: CitizenId, kol: KolId) -> bool {
        self.people.follows(citizen, kol)
    }

    /// Attempt 0: the most similar groups with the citizen's interest key; attempt 1: the
    /// most similar groups with their main topic; attempt 2: every group.
    fn placement_candidates(&self, citizen: CitizenId, attempt: u32, groups: u32, out: &mut Vec<GroupId>) {
        self.placement_for(&self.people.interests(citizen), attempt, groups, out);
    }

    fn choose_group(
        &self,
        citizen: CitizenId,
        attempt: u32,
        groups: u32,
        refill: &[GroupId],
        has_room: &dyn Fn(GroupId) -> bool,
        scratch: &mut Vec<GroupId>,
    ) -> Option<GroupId> {
        if attempt == 0
            && let Some(list) = self.prepared(citizen)
        {
            return first_choice(list, refill, has_room);
        }
        if let Some(choice) = self.choose_prepared(citizen, attempt, groups, refill, has_room) {
            return choice;
        }
        self.choose_for(&self.people.interests(citizen), attempt, groups, refill, has_room, scratch)
    }

    /// Works out, on the threads of the pool this runs in, the first attempt's shortlist of
    /// every citizen about to be regrouped, and the later attempts' best groups with room
    /// for those likely to need them. A shortlist ranks groups by their centroids at
    /// formation, which placements do not change, so it is what the regrouping would find
    /// when it reaches the citizen; only the choice in it depends on the sizes by then.
    /// Groups only fill up while the regrouping places, so the best groups with room at
    /// the start hold the best one with room later, unless all of them filled up.
    ///
    /// Who is likely to need a later attempt: those whose shortlist has little room at
    /// the start, and those whom a forecast of the regrouping (each citizen, in turn,
    /// takes a place in the first group of their lists with places left) finds with no
    /// room left in their shortlist. The forecast only chooses whom to prepare; a citizen
    /// it misses is searched for when asked, as if nothing had been prepared.
    fn prepare_placements(&mut self, citizens: &[CitizenId], free: &[u16]) {
        self.first.release();
        self.later.iter_mut().for_each(Prepared::release);
        self.with_room = RoomNodes::default();
        if citizens.is_empty() {
            return;
        }
        debug_assert!(citizens.is_sorted(), "the groupless are listed by id");
        // A group the engine did not describe is taken to have room: a larger set of
        // groups with room only makes the lists longer, never wrong.
        let had_room = |g: GroupId| free.get(g.index()).is_none_or(|&left| left > 0);
        // Late in a year most groups near a citizen's interests may be full: the searches
        // for room pass over the nodes holding none (in the lists prepared here and in
        // the regrouping's searches).
        self.with_room = RoomNodes {
            by_main_topic: self.by_main_topic.par_iter().map(|tree| tree.holding(had_room)).collect(),
            all: Some(self.all.holding(had_room)),
        };
        let this = &*self;
        // The best groups with room at the start in the tree of `attempt`, and whether they
        // are all of them.
        let best_with_room = |interests: &Interests, query: &[(usize, f64)], attempt: u32| {
            let own = interests.norm();
            let tree = if attempt == 1 { &this.by_main_topic[interests.main() as usize] } else { &this.all };
            let within = this.with_room(attempt, interests.main());
            let mut best = Vec::with_capacity(PREPARED_LATER);
            let similarity = |g| this.similarity_with(interests, own, g);
            tree.top_where(query, PREPARED_LATER, within, had_room, similarity, &mut best);
            let complete = best.len() < PREPARED_LATER;
            (best, complete)
        };
        // The second attempt's list, and the third's when the second holds every group
        // with room (none when the citizen's interests give no query: searched when asked).
        let later_lists = |interests: &Interests| -> [Option<(Vec<GroupId>, bool)>; 2] {
            let Some(query) = interests.tree_query() else { return [None, None] };
            let second = best_with_room(interests, &query, 1);
            let third = if second.1 { Some(best_with_room(interests, &query, 2)) } else { None };
            [Some(second), third]
        };
        // Searched in the order of their interests (key, then weights), not of their ids:
        // citizens who search the same tree, along nearly the same path, follow one
        // another, and the nodes and centroids they read stay in the caches. The lists
        // come back in citizen order; the order of work changes no list.
        let mut order: Vec<(Interests, u32)> =
            citizens.par_iter().enumerate().map(|(i, &c)| (this.people.interests(c), i as u32)).collect();
        order.par_sort_unstable_by_key(|&(interests, i)| {
            let [a, b, _] = interests.weights.map(f32::to_bits);
            (interests.key(), a, b, i)
        });
        let mut lists: Vec<(u32, PlacementLists)> = order
            .par_iter()
            .map(|&(interests, i)| {
                let mut first = Vec::with_capacity(PLACEMENT_SHORTLIST);
                this.placement_for(&interests, 0, 0, &mut first);
                let little_room = first.iter().filter(|&&g| had_room(g)).count() <= SECOND_WHEN_ROOM_IN_AT_MOST;
                let later = if little_room { later_lists(&interests) } else { [None, None] };
                (i, PlacementLists { first, later, searchable: interests.tree_query().is_some() })
            })
            .collect();
        drop(order);
        lists.sort_unstable_by_key(|&(i, _)| i);
        let mut lists: Vec<PlacementLists> = lists.into_iter().map(|(_, l)| l).collect();
        for _ in 0..FORECAST_ROUNDS {
            let unprepared = forecast_unprepared(&lists, free);
            if unprepared.is_empty() {
                break;
            }
            let more: Vec<_> =
                unprepared.par_iter().map(|&i| later_lists(&this.people.interests(citizens[i as usize]))).collect();
            for (&i, later) in unprepared.iter().zip(more) {
                lists[i as usize].later = later;
            }
        }
        for (&c, PlacementLists { first, later, .. }) in citizens.iter().zip(&lists) {
            self.first.push(c, first, true);
            for (prepared, list) in self.later.iter_mut().zip(later) {
                if let Some((best, complete)) = list {
                    prepared.push(c, best, *complete);
                }
            }
        }
    }

    fn joined(&mut self, citizen: CitizenId, group: GroupId) {
        let p = self.people.propensity_fixed(citizen);
        let debt = self.people.debt_offset(citizen);
        let state = self.group_state(group);
        state.propensity_sum += p;
        if let Some(offset) = debt {
            let at = state.debtors.binary_search(&(offset, citizen)).unwrap_or_else(|e| e);
            state.debtors.insert(at, (offset, citizen));
        }
    }

    fn left(&mut self, citizen: CitizenId, group: GroupId) {
        let p = self.people.propensity_fixed(citizen);
        let debt = self.people.debt_offset(citizen);
        let state = self.group_state(group);
        state.propensity_sum -= p;
        if let Some(offset) = debt
            && let Ok(at) = state.debtors.binary_search(&(offset, citizen))
        {
            state.debtors.remove(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn people(n: u32) -> (WorldConfig, Catalogue, Kols, People) {
        let world = WorldConfig::default();
        let weights = topic_weights(&world);
        let catalogue = Catalogue::generate(&world, 3);
        let kols = Kols::generate(&world, n, 3, &weights);
        let people = People::new(&world, n, 3, &catalogue, &kols);
        (world, catalogue, kols, people)
    }

    /// A directory of `groups` formed groups whose centroids are citizens' interests blurred
    /// a little (so keys repeat and many groups are near each other); some have no direction.
    fn formed_directory(groups: usize) -> (People, SyntheticDirectory) {
        let (_, catalogue, _, people) = people(20_000);
        let topics = people.topics();
        let mut dir = SyntheticDirectory::new(people.clone(), &catalogue);
        let mut centroids = vec![0f32; groups * topics];
        for g in 0..groups {
            let base = people.interests(CitizenId(g as u32 * 5));
            let mut draws = Key::new(7, Stream::Tables, 1, g as u64).draws();
            for t in 0..topics {
                centroids[g * topics + t] = 0.02 * draws.uniform() as f32;
            }
            for (t, w) in base.topics.iter().zip(base.weights) {
                centroids[g * topics + *t as usize] += w;
            }
            if g % 500 == 7 {
                centroids[g * topics..(g + 1) * topics].fill(0.0); // a group with no direction
            }
        }
        dir.prepare_groups(groups);
        dir.set_centroids(centroids, 7, 0.5);
        (people, dir)
    }

    #[test]
    fn prepared_placements_choose_what_asking_one_by_one_chooses() {
        let groups = 2_000u32;
        let (_, fresh) = formed_directory(groups as usize);
        let mut prepared = fresh.clone();
        let citizens: Vec<CitizenId> = (0..600u32).map(|c| CitizenId(c * 11 + 3)).collect();
        prepared.prepare_placements(&citizens, &[]);
        // Groups below min_size, and groups that are full, as a regrouping would see them.
        let refill: Vec<GroupId> = (0..groups).filter(|g| g % 97 == 5).map(GroupId).collect();
        let has_room = |g: GroupId| !g.0.is_multiple_of(3);
        let (mut scratch, mut refilled) = (Vec::new(), 0);
        for &c in &citizens {
            let expected = fresh.choose_group(c, 0, groups, &refill, &has_room, &mut scratch);
            assert!(prepared.prepared(c).is_some(), "{c} was prepared");
            assert_eq!(prepared.choose_group(c, 0, groups, &refill, &has_room, &mut scratch), expected, "{c}");
            refilled += expected.is_some_and(|g| refill.binary_search(&g).is_ok()) as u32;
        }
        assert!(refilled > 0, "some choices were refills");
        // Later attempts, and citizens not prepared, are answered as before.
        let stranger = CitizenId(5);
        assert!(prepared.prepared(stranger).is_none());
        assert_eq!(
            prepared.choose_group(stranger, 0, groups, &refill, &has_room, &mut scratch),
            fresh.choose_group(stranger, 0, groups, &refill, &has_room, &mut scratch)
        );
        assert_eq!(
            prepared.choose_group(citizens[0], 1, groups, &refill, &has_room, &mut scratch),
            fresh.choose_group(citizens[0], 1, groups, &refill, &has_room, &mut scratch)
        );
        prepared.prepare_placements(&[], &[]);
        assert!(prepared.prepared(citizens[0]).is_none(), "done: nothing kept");
        assert_eq!(prepared.first.groups.capacity(), 0);
    }

    #[test]
    fn prepared_later_attempts_choose_what_searching_chooses_while_groups_fill_up() {
        // A late-year regrouping: most groups full, the rest filling up as citizens are
        // placed one by one, so prepared lists run out, and some main topics run out of room.
        let groups = 2_000u32;
        let (_, fresh) = formed_directory(groups as usize);
        let mut prepared = fresh.clone();
        let citizens: Vec<CitizenId> = (0..1_500u32).map(|c| CitizenId(c * 13 + 1)).collect();
        // Room left in each group: none for nine in ten, one to three places for the others.
        let mut room_left: Vec<u32> = (0..groups)
            .map(|g| {
                let d = Key::new(5, Stream::Tables, 6, g as u64).uniform();
                if d < 0.9 { 0 } else { 1 + (d * 1000.0) as u32 % 3 }
            })
            .collect();
        let mut refill: Vec<GroupId> =
            (0..groups).filter(|g| g % 211 == 9 && room_left[*g as usize] > 0).map(GroupId).collect();
        let free: Vec<u16> = room_left.iter().map(|&r| r as u16).collect();
        prepared.prepare_placements(&citizens, &free);
        let [second, third] = &prepared.later;
        assert!(second.citizens.len() > 100, "{} second attempts prepared", second.citizens.len());
        assert!(third.citizens.len() > 10, "{} third attempts prepared", third.citizens.len());
        let mut scratch = Vec::new();
        let (mut from_list, mut searched, mut none_left, mut third_from_list) = (0, 0, 0, 0);
        // Second attempts asked for, and those of them with nothing prepared.
        let (mut second_asked, mut second_unprepared) = (0, 0);
        for &c in &citizens {
            let has_room = |g: GroupId| room_left[g.index()] > 0;
            let mut chosen = None;
            for attempt in 0..3 {
                let expected = fresh.choose_group(c, attempt, groups, &refill, &has_room, &mut scratch);
                let got = prepared.choose_group(c, attempt, groups, &refill, &has_room, &mut scratch);
                assert_eq!(got, expected, "citizen {c}, attempt {attempt}");
                if attempt == 1 {
                    second_asked += 1;
                    second_unprepared += prepared.later[0].get(c).is_none() as u32;
                }
                match (attempt, prepared.choose_prepared(c, attempt, groups, &refill, &has_room)) {
                    (1, Some(Some(_))) => from_list += 1,
                    (1, Some(None)) => none_left += 1,
                    (1, None) => searched += prepared.later[0].get(c).is_some() as u32,
                    (2, Some(Some(_))) => third_from_list += 1,
                    _ => {}
                }
                if got.is_some() {
                    chosen = got;
                    break;
                }
            }
            if let Some(g) = chosen {
                room_left[g.index()] -= 1;
                // As the engine's: a group leaves the refill list once it is big enough
                // (here, once full).
                if room_left[g.index()] == 0 {
                    refill.retain(|&r| r != g);
                }
            }
        }
        // Every way of answering was taken: from the list, the list run out (searched), no
        // room left in the main topic at all, and the third attempt from its list.
        assert!(
            from_list > 50 && searched > 5 && none_left > 5 && third_from_list > 5,
            "{from_list} {searched} {none_left} {third_from_list}"
        );
        // The forecast prepared nearly every second attempt that was asked for, where
        // preparing only the shortlists with little room at the start misses many.
        assert!(second_asked > 200, "{second_asked} second attempts");
        assert!(
            second_unprepared * 50 < second_asked,
            "{second_unprepared} of {second_asked} second attempts unprepared"
        );
        prepared.prepare_placements(&[], &[]);
        assert!(prepared.later.iter().all(|p| p.get(citizens[0]).is_none() && p.groups.capacity() == 0));
    }

    #[test]
    fn a_followed_kols_place_is_the_followed_kol() {
        let (_, _, kols, people) = people(200_000);
        assert!(kols.len() > 50, "{} KOLs", kols.len());
        // Places are a numbering of the KOLs: by topic, then by rank.
        let mut by_place = vec![None; kols.len()];
        for k in (0..kols.len() as u32).map(KolId) {
            let place = kols.place(k);
            assert!(by_place[place].replace(k).is_none(), "{k:?} shares place {place}");
        }
        for pair in by_place.windows(2) {
            let [a, b] = [pair[0].unwrap(), pair[1].unwrap()].map(|k| (kols.topic[k.index()], kols.rank[k.index()]));
            assert!(a < b, "places follow topic, then rank");
        }
        let mut followed = 0;
        for c in (0..20_000u32).map(|c| CitizenId(c * 9 + 2)) {
            let interests = people.interests(c);
            for j in 0..people.follow_count() {
                let place = people.followed_place(c, &interests, j);
                assert_eq!(place.map(|p| by_place[p].unwrap()), people.followed(c, &interests, j), "{c} {j}");
                followed += place.is_some() as u32;
            }
        }
        assert!(followed > 50_000, "{followed} follows");
    }

    #[test]
    fn the_forecast_finds_who_will_find_no_room_in_their_shortlist() {
        let ids = |list: &[u32]| list.iter().copied().map(GroupId).collect::<Vec<_>>();
        let lists = |first: &[u32], second: Option<(&[u32], bool)>, third: Option<&[u32]>, searchable| PlacementLists {
            first: ids(first),
            later: [second.map(|(l, complete)| (ids(l), complete)), third.map(|l| (ids(l), false))],
            searchable,
        };
        // Places left: one in group 0, two in group 1, none in group 2, one in group 3;
        // group 9 is past the list (taken to have room).
        let free = [1u16, 2, 0, 1];
        let all = [
            lists(&[0, 1], None, None, true),                  // 0: takes group 0
            lists(&[0, 2], None, None, true),                  // 1: no room left: to prepare
            lists(&[2, 0], Some((&[1], false)), None, true),   // 2: takes group 1 from its second list
            lists(&[0], None, None, false),                    // 3: no room, but no query to prepare
            lists(&[1, 0], None, None, true),                  // 4: takes group 1's last place
            lists(&[1], None, None, true),                     // 5: no room left: to prepare
            lists(&[9], None, None, true),                     // 6: a group not described has room
            lists(&[], None, None, true),                      // 7: an empty shortlist: to prepare
            lists(&[0], Some((&[2], true)), Some(&[3]), true), // 8: takes group 3 from the third list
            lists(&[0], Some((&[2], true)), Some(&[3]), true), // 9: all its lists full: searched later
            lists(&[3], None, None, true),                     // 10: group 3 taken by 8: to prepare
            lists(&[0], Some((&[2], false)), None, true),      // 11: its second list runs out: searched later
        ];
        assert_eq!(forecast_unprepared(&all, &free), vec![1, 5, 7, 10]);
    }

    #[test]
    fn shortlists_through_the_tree_are_the_ranking_of_every_group() {
        // The placement of 2 000 citizens among 3 000 groups: the tree's shortlist must be
        // the first 16 of ranking every group.
        let groups = 3_000usize;
        let (people, dir) = formed_directory(groups);
        let (mut via_tree, mut every) = (Vec::new(), Vec::new());
        let (mut compared, mut from_long_lists) = (0, 0);
        for c in 0..2_000u32 {
            let interests = people.interests(CitizenId(c * 7 + 1));
            dir.placement_for(&interests, 0, groups as u32, &mut via_tree);
            let own = interests.norm_squared();
            let list: Vec<GroupId> = match dir.by_key.get(&interests.key()) {
                Some(tree) if !tree.is_empty() => tree.groups().to_vec(),
                _ => dir.by_main_topic[interests.main() as usize].groups().to_vec(),
            };
            every.clear();
            dir.ranked(&interests, &list, PLACEMENT_SHORTLIST, &mut every);
            assert_eq!(via_tree, every, "citizen {c}: {interests:?} (own {own})");
            compared += via_tree.len();
            from_long_lists += (list.len() > 4 * PLACEMENT_SHORTLIST) as usize;
        }
        // Most shortlists are full, and many come from lists the tree had to search.
        assert!(compared > 2_000 * 4, "shortlists were compared ({compared} entries)");
        assert!(from_long_lists > 200, "{from_long_lists} citizens had more than 64 groups to choose from");
    }

    #[test]
    fn choosing_through_the_trees_is_choosing_from_the_full_ranking() {
        // For every attempt, random sets of full groups and of groups below min_size: the
        // directory's choice must be the engine's rule applied to the ranked candidates.
        let groups = 3_000usize;
        let (people, dir) = formed_directory(groups);
        let mut scratch = Vec::new();
        let mut candidates = Vec::new();
        let mut chosen_by_attempt = [0usize; 3];
        for c in 0..1_500u32 {
            let interests = people.interests(CitizenId(c * 11 + 3));
            let mut d = Key::new(9, Stream::Tables, 2, c as u64).draws();
            // From almost every group full to almost none; refills from none to many.
            let full_share = d.uniform();
            let refill_share = if c % 3 == 0 { 0.0 } else { 0.02 * d.uniform() };
            let salt = c as u64;
            let full = |g: GroupId| Key::new(salt, Stream::Tables, 3, g.0 as u64).uniform() < full_share;
            let refill: Vec<GroupId> = (0..groups as u32)
                .map(GroupId)
                .filter(|g| Key::new(salt, Stream::Tables, 4, g.0 as u64).uniform() < refill_share)
                .collect();
            let has_room = |g: GroupId| g.index() < groups && !full(g);
            for attempt in 0..3 {
                let got = dir.choose_for(&interests, attempt, groups as u32, &refill, &has_room, &mut scratch);
                dir.placement_for(&interests, attempt, groups as u32, &mut candidates);
                let expected = first_choice(&candidates, &refill, &has_room);
                assert_eq!(got, expected, "citizen {c}, attempt {attempt}");
                chosen_by_attempt[attempt as usize] += got.is_some() as usize;
            }
        }
        // Each attempt chose groups, through refills and through room.
        assert!(chosen_by_attempt.iter().all(|&n| n > 300), "{chosen_by_attempt:?}");
    }

    #[test]
    fn interests_are_distinct_topics_with_sorted_weights_summing_to_one() {
        let (world, _, _, p) = people(1000);
        for c in 0..1000 {
            let i = p.interests(CitizenId(c));
            assert!(i.topics[0] != i.topics[1] && i.topics[1] != i.topics[2] && i.topics[0] != i.topics[2]);
            assert!(i.topics.iter().all(|&t| (t as u32) < world.topics));
            assert!(i.weights[0] >= i.weights[1] && i.weights[1] >= i.weights[2]);
            assert!((i.weights.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        // Regenerating gives the same answer.
        assert_eq!(p.interests(CitizenId(7)), p.interests(CitizenId(7)));
    }

    #[test]
    fn popular_topics_are_chosen_more() {
        let (_, _, _, p) = people(20_000);
        let mut counts = [0u32; 16];
        for c in 0..20_000 {
            counts[p.interests(CitizenId(c)).main() as usize] += 1;
        }
        assert!(counts[0] > 2 * counts[15], "{counts:?}");
    }

    #[test]
    fn favourites_follow_interests_and_are_recognised() {
        let (_, catalogue, _, p) = people(2000);
        for c in 0..2000 {
            let c = CitizenId(c);
            let interests = p.interests(c);
            for i in 0..p.favourite_count() {
                let f = p.favourite(c, &interests, i);
                let category = catalogue.products[f.index()].spec.category;
                assert!(interests.topics.contains(&(category as u8)));
                assert!(p.is_favourite(c, f, category), "{c} favourite {f}");
            }
        }
        // A ticket is nobody's favourite.
        let ticket = catalogue.travel[0];
        assert!(!p.is_favourite(CitizenId(1), ticket, catalogue.products[ticket.index()].spec.category));
    }

    /// The engine's checks of an order (favourite? follower?) answer what drawing every
    /// favourite and every followed KOL and comparing them answers: for every product
    /// (favourites, the rest of their topics, other topics, tickets) and every KOL, with
    /// the citizen's interests in the memo and not.
    #[test]
    fn order_checks_answer_what_drawing_and_comparing_answers() {
        let (_, catalogue, kols, p) = people(200_000);
        assert!(kols.len() >= 50, "{} KOLs", kols.len());
        let (mut favourites, mut followed) = (0, 0);
        for c in 0..2_000 {
            let c = CitizenId(c);
            let interests = p.regenerate_interests(c);
            if c.0.is_multiple_of(2) {
                assert_eq!(p.interests(c), interests);
            }
            for (index, info) in catalogue.products.iter().enumerate() {
                let product = ProductId(index as u32);
                let drawn = (0..p.favourite_count()).any(|i| p.favourite(c, &interests, i) == product);
                assert_eq!(p.is_favourite(c, product, info.spec.category), drawn, "{c} {product}");
                favourites += drawn as u32;
            }
            for k in 0..kols.len() as u32 {
                let kol = KolId(k);
                let drawn = (0..p.follow_count()).any(|j| p.followed(c, &interests, j) == Some(kol));
                assert_eq!(p.follows(c, kol), drawn, "{c} {kol:?}");
                followed += drawn as u32;
            }
        }
        // Both answers were met many times (up to 6 favourites and 3 KOLs a citizen).
        assert!(favourites > 6_000 && followed > 3_000, "{favourites} {followed}");
    }

    #[test]
    fn misconduct_is_heterogeneous_with_the_configured_mean() {
        let (world, _, _, p) = people(40_000);
        let mut v: Vec<f64> = (0..40_000).map(|c| p.propensity(CitizenId(c))).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean / world.misconduct.daily_rate_mean - 1.0).abs() < 0.1, "mean {mean}");
        v.sort_by(|a, b| a.total_cmp(b));
        let top: f64 = v[v.len() * 9 / 10..].iter().sum();
        assert!(top / v.iter().sum::<f64>() > 0.4, "the top tenth does a large share of the misconduct");
        let fixed: u64 = (0..100).map(|c| p.propensity_fixed(CitizenId(c))).sum();
        let float: f64 = (0..100).map(|c| p.propensity(CitizenId(c))).sum();
        assert!((fixed as f64 * PROPENSITY_UNIT - float).abs() < 1e-9);
    }

    #[test]
    fn follower_counts_are_heavy_tailed() {
        let (_, _, kols, p) = people(40_000);
        let mut counts = vec![0u32; kols.len()];
        for c in 0..40_000 {
            let c = CitizenId(c);
            let interests = p.interests(c);
            for j in 0..p.follow_count() {
                if let Some(k) = p.followed(c, &interests, j) {
                    counts[k.index()] += 1;
                    assert!(p.follows(c, k));
                }
            }
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        assert!(counts.len() >= 20, "{} KOLs", counts.len());
        let median = counts[counts.len() / 2].max(1);
        assert!(counts[0] >= 4 * median, "top {} vs median {}", counts[0], median);
    }

    #[test]
    fn about_the_configured_share_are_court_debtors() {
        let (world, _, _, p) = people(50_000);
        let debtors = (0..50_000).filter(|&c| p.debt_offset(CitizenId(c)).is_some()).count();
        let expected = 50_000.0 * world.misconduct.debtor_share;
        assert!((debtors as f64 - expected).abs() < 5.0 * expected.sqrt(), "{debtors} vs {expected}");
    }
}
