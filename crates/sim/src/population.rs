//! Synthetic people, products and KOLs, generated from the seed.
//!
//! Each attribute is drawn from its own stream keyed by the entity's id, so a citizen's
//! profile is the same whether 1 or 16 threads generate the population, and changing,
//! say, the number of favourites does not change anyone's interests.

use crate::world::WorldConfig;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use xinyong_engine::{CitizenId, Directory, GroupId, KolId, ProductId, ProductSpec};
use xinyong_random::dist::{ZipfTable, dirichlet, gamma};
use xinyong_random::{Key, Stream, math};

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
        let sigma = c.price_sigma;
        for topic in 0..world.topics {
            for rank in 0..c.products_per_topic {
                let id = products.len() as u64;
                let mut d = Key::new(seed, Stream::Product, 0, id).draws();
                let price = c.price_median_yuan * math::exp(sigma * d.normal());
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
            });
        }
        Catalogue { products, by_topic, travel, topic_popularity: ZipfTable::new(c.products_per_topic as usize, 1.0) }
    }

    /// A product of a topic, drawn by popularity.
    pub fn popular_in(&self, topic: usize, draws: &mut xinyong_random::Draws) -> ProductId {
        self.by_topic[topic][self.topic_popularity.sample(draws)]
    }
}

/// KOLs: each has a topic; popularity (and so follower counts) is Zipf by rank.
#[derive(Clone, Debug)]
pub struct Kols {
    pub topic: Vec<u16>,
    /// `by_topic[t]`: KOLs of topic t, most popular first.
    pub by_topic: Vec<Vec<KolId>>,
    zipf_by_topic: Vec<Option<ZipfTable>>,
}

impl Kols {
    pub fn generate(world: &WorldConfig, citizens: u32, seed: u64, topic_weights: &[f64]) -> Kols {
        let n = world.kol_count(citizens);
        let mut topic = Vec::with_capacity(n as usize);
        let mut by_topic = vec![Vec::new(); world.topics as usize];
        for k in 0..n {
            let t = Key::new(seed, Stream::Kol, 0, k as u64).draws().weighted_index(topic_weights);
            topic.push(t as u16);
            by_topic[t].push(KolId(k));
        }
        let zipf_by_topic = by_topic
            .iter()
            .map(|v| (!v.is_empty()).then(|| ZipfTable::new(v.len(), world.kols.zipf_exponent)))
            .collect();
        Kols { topic, by_topic, zipf_by_topic }
    }

    pub fn len(&self) -> usize {
        self.topic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.topic.is_empty()
    }

    /// A KOL of a topic, drawn by popularity (None when the topic has no KOL).
    pub fn popular_in(&self, topic: usize, draws: &mut xinyong_random::Draws) -> Option<KolId> {
        let table = self.zipf_by_topic[topic].as_ref()?;
        Some(self.by_topic[topic][table.sample(draws)])
    }
}

/// Every citizen's static attributes, in flat arrays indexed by citizen id.
#[derive(Clone, Debug)]
pub struct Population {
    pub topics: usize,
    /// Interest profiles, row-major (`topics` values per citizen), each summing to 1.
    pub profiles: Vec<f32>,
    pub main_topic: Vec<u8>,
    /// Daily probability of misconduct.
    pub propensity: Vec<f32>,
    /// Mean orders per day.
    pub buy_rate: Vec<f32>,
    /// Lasting leniency in answering notices (log-odds of "expel").
    pub disposition: Vec<f32>,
    /// For judgement debtors: the day offset (0..report_days) of their monthly report;
    /// `u16::MAX` for everyone else.
    pub debt_offset: Vec<u16>,
    pub region: Vec<u16>,
    pub favourites_per_citizen: usize,
    pub favourites: Vec<ProductId>,
    pub follows_per_citizen: usize,
    /// `u32::MAX` pads a citizen's list when fewer KOLs exist.
    pub follows: Vec<KolId>,
}

/// Topic weights ∝ rank^(−exponent) (topic 0 the most popular).
pub fn topic_weights(world: &WorldConfig) -> Vec<f64> {
    (0..world.topics).map(|t| math::pow(t as f64 + 1.0, -world.interests.popularity_exponent)).collect()
}

struct CitizenDraw {
    profile: Vec<f32>,
    main_topic: u8,
    propensity: f32,
    buy_rate: f32,
    disposition: f32,
    debt_offset: u16,
    region: u16,
    favourites: Vec<ProductId>,
    follows: Vec<KolId>,
}

impl Population {
    pub fn generate(
        world: &WorldConfig,
        citizens: u32,
        seed: u64,
        catalogue: &Catalogue,
        kols: &Kols,
        topic_weights: &[f64],
    ) -> Population {
        let topics = world.topics as usize;
        let total: f64 = topic_weights.iter().sum();
        let alpha: Vec<f64> =
            topic_weights.iter().map(|w| world.interests.concentration * topics as f64 * w / total).collect();
        let regions = ZipfTable::new(world.regions as usize, 0.6);
        let f = world.commerce.favourites as usize;
        let k = world.kols.follows_per_citizen as usize;
        let draws: Vec<CitizenDraw> = (0..citizens)
            .into_par_iter()
            .map(|i| {
                let id = i as u64;
                let mut d = Key::new(seed, Stream::Profile, 0, id).draws();
                let mut draw = vec![0.0f64; topics];
                dirichlet(&mut d, &alpha, &mut draw);
                let profile: Vec<f32> = draw.iter().map(|&x| x as f32).collect();
                let main_topic = profile
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                    .map(|(t, _)| t)
                    .unwrap_or(0) as u8;
                let m = &world.misconduct;
                let mut d = Key::new(seed, Stream::Propensity, 0, id).draws();
                let propensity = (m.daily_rate_mean * gamma(&mut d, m.heterogeneity) / m.heterogeneity).min(1.0);
                let mut d = Key::new(seed, Stream::Budget, 0, id).draws();
                // Between 0 and twice the mean: simple and bounded (orders use thinning).
                let buy_rate = world.commerce.buy_rate_mean * 2.0 * d.uniform();
                let disposition =
                    world.voting.disposition_sd * Key::new(seed, Stream::Disposition, 0, id).draws().normal();
                let region = regions.sample(&mut Key::new(seed, Stream::Region, 0, id).draws()) as u16;
                let mut d = Key::new(seed, Stream::Propensity, 1, id).draws();
                let debt_offset =
                    if d.bernoulli(m.debtor_share) { d.below(m.debtor_report_days as u64) as u16 } else { u16::MAX };
                let mut d = Key::new(seed, Stream::Favourites, 0, id).draws();
                let mut favourites = Vec::with_capacity(f);
                let weights: Vec<f64> = profile.iter().map(|&x| x as f64).collect();
                let mut tries = 0;
                while favourites.len() < f && tries < 16 * f {
                    tries += 1;
                    let topic = d.weighted_index(&weights);
                    let p = catalogue.popular_in(topic, &mut d);
                    if !favourites.contains(&p) {
                        favourites.push(p);
                    }
                }
                while favourites.len() < f {
                    favourites.push(ProductId(u32::MAX));
                }
                let mut d = Key::new(seed, Stream::Follows, 0, id).draws();
                let mut follows = Vec::with_capacity(k);
                let mut tries = 0;
                while follows.len() < k && tries < 16 * k.max(1) {
                    tries += 1;
                    let topic = d.weighted_index(&weights);
                    if let Some(kol) = kols.popular_in(topic, &mut d)
                        && !follows.contains(&kol)
                    {
                        follows.push(kol);
                    }
                }
                while follows.len() < k {
                    follows.push(KolId(u32::MAX));
                }
                CitizenDraw {
                    profile,
                    main_topic,
                    propensity: propensity as f32,
                    buy_rate: buy_rate as f32,
                    disposition: disposition as f32,
                    debt_offset,
                    region,
                    favourites,
                    follows,
                }
            })
            .collect();
        let n = citizens as usize;
        let mut p = Population {
            topics,
            profiles: Vec::with_capacity(n * topics),
            main_topic: Vec::with_capacity(n),
            propensity: Vec::with_capacity(n),
            buy_rate: Vec::with_capacity(n),
            disposition: Vec::with_capacity(n),
            debt_offset: Vec::with_capacity(n),
            region: Vec::with_capacity(n),
            favourites_per_citizen: f,
            favourites: Vec::with_capacity(n * f),
            follows_per_citizen: k,
            follows: Vec::with_capacity(n * k),
        };
        for c in draws {
            p.profiles.extend(c.profile);
            p.main_topic.push(c.main_topic);
            p.propensity.push(c.propensity);
            p.buy_rate.push(c.buy_rate);
            p.disposition.push(c.disposition);
            p.debt_offset.push(c.debt_offset);
            p.region.push(c.region);
            p.favourites.extend(c.favourites);
            p.follows.extend(c.follows);
        }
        p
    }

    pub fn len(&self) -> usize {
        self.main_topic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.main_topic.is_empty()
    }

    pub fn profile(&self, c: CitizenId) -> &[f32] {
        &self.profiles[c.index() * self.topics..(c.index() + 1) * self.topics]
    }

    pub fn favourites_of(&self, c: CitizenId) -> &[ProductId] {
        let f = self.favourites_per_citizen;
        &self.favourites[c.index() * f..(c.index() + 1) * f]
    }

    pub fn follows_of(&self, c: CitizenId) -> &[KolId] {
        let k = self.follows_per_citizen;
        &self.follows[c.index() * k..(c.index() + 1) * k]
    }
}

/// The simulator's directory: generated people, and group centroids fixed at formation.
#[derive(Clone, Debug)]
pub struct SyntheticDirectory {
    pub population: Population,
    /// Group centroids, row-major (`topics` values per group).
    pub centroids: Vec<f32>,
    /// Groups by the main topic of their centroid.
    pub groups_by_topic: Vec<Vec<GroupId>>,
    pub group_topic: Vec<u8>,
    /// Lasting leniency of each group (log-odds of "expel").
    pub group_culture: Vec<f32>,
}

/// How many candidate groups a placement's first attempt considers.
const PLACEMENT_SHORTLIST: usize = 16;

impl SyntheticDirectory {
    pub fn new(population: Population) -> SyntheticDirectory {
        SyntheticDirectory {
            population,
            centroids: Vec::new(),
            groups_by_topic: Vec::new(),
            group_topic: Vec::new(),
            group_culture: Vec::new(),
        }
    }

    /// Records the groups as formed: centroids, topics and cultures.
    pub fn set_groups(&mut self, group_of: &[(CitizenId, GroupId)], group_count: u32, seed: u64, culture_sd: f64) {
        let topics = self.population.topics;
        let g = group_count as usize;
        let mut sums = vec![0.0f64; g * topics];
        let mut counts = vec![0u32; g];
        for &(c, group) in group_of {
            counts[group.index()] += 1;
            for (s, &x) in
                sums[group.index() * topics..(group.index() + 1) * topics].iter_mut().zip(self.population.profile(c))
            {
                *s += x as f64;
            }
        }
        self.centroids = sums
            .chunks(topics)
            .zip(&counts)
            .flat_map(|(row, &n)| row.iter().map(move |&s| if n == 0 { 0.0 } else { (s / n as f64) as f32 }))
            .collect();
        self.group_topic = self
            .centroids
            .chunks(topics)
            .map(|row| {
                row.iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1).then(b.0.cmp(&a.0)))
                    .map(|(t, _)| t as u8)
                    .unwrap_or(0)
            })
            .collect();
        self.groups_by_topic = vec![Vec::new(); topics];
        for (i, &t) in self.group_topic.iter().enumerate() {
            self.groups_by_topic[t as usize].push(GroupId(i as u32));
        }
        self.group_culture = (0..group_count)
            .map(|i| (culture_sd * Key::new(seed, Stream::Culture, 0, i as u64).draws().normal()) as f32)
            .collect();
    }

    fn similarity(&self, c: CitizenId, g: GroupId) -> f64 {
        let topics = self.population.topics;
        let a = self.population.profile(c);
        let b = &self.centroids[g.index() * topics..(g.index() + 1) * topics];
        let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
        for (&x, &y) in a.iter().zip(b) {
            dot += x as f64 * y as f64;
            na += x as f64 * x as f64;
            nb += y as f64 * y as f64;
        }
        if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na.sqrt() * nb.sqrt()) }
    }

    fn ranked(&self, c: CitizenId, groups: &[GroupId], keep: usize, out: &mut Vec<GroupId>) {
        let mut scored: Vec<(f64, GroupId)> = groups.iter().map(|&g| (self.similarity(c, g), g)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        out.extend(scored.into_iter().take(keep).map(|(_, g)| g));
    }
}

impl Directory for SyntheticDirectory {
    fn is_favourite(&self, citizen: CitizenId, product: ProductId) -> bool {
        self.population.favourites_of(citizen).contains(&product)
    }

    fn follows(&self, citizen: CitizenId, kol: KolId) -> bool {
        self.population.follows_of(citizen).contains(&kol)
    }

    /// Attempt 0: the most similar groups sharing the citizen's main topic; attempt 1:
    /// every group of that topic; attempt 2: every group (at once when no group shares
    /// the topic). The engine takes the first with
    /// room, preferring a group below `min_size`.
    fn placement_candidates(&self, citizen: CitizenId, attempt: u32, groups: u32, out: &mut Vec<GroupId>) {
        out.clear();
        let topic = self.population.main_topic[citizen.index()] as usize;
        let same_topic = self.groups_by_topic.get(topic).map(|v| v.as_slice()).unwrap_or(&[]);
        let all = || -> Vec<GroupId> { (0..groups.min(self.group_topic.len() as u32)).map(GroupId).collect() };
        match attempt {
            // No group shares the citizen's main topic: go straight to every group.
            0 | 1 if same_topic.is_empty() => self.ranked(citizen, &all(), usize::MAX, out),
            0 => self.ranked(citizen, same_topic, PLACEMENT_SHORTLIST, out),
            1 => self.ranked(citizen, same_topic, usize::MAX, out),
            2 => self.ranked(citizen, &all(), usize::MAX, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_world() -> (WorldConfig, Catalogue, Kols, Population) {
        let world = WorldConfig::default();
        let weights = topic_weights(&world);
        let catalogue = Catalogue::generate(&world, 3);
        let kols = Kols::generate(&world, 40_000, 3, &weights);
        let population = Population::generate(&world, 40_000, 3, &catalogue, &kols, &weights);
        (world, catalogue, kols, population)
    }

    #[test]
    fn generation_does_not_depend_on_the_thread_count() {
        let (world, catalogue, kols, _) = small_world();
        let weights = topic_weights(&world);
        let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let four = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        let a = one.install(|| Population::generate(&world, 3000, 9, &catalogue, &kols, &weights));
        let b = four.install(|| Population::generate(&world, 3000, 9, &catalogue, &kols, &weights));
        assert_eq!(a.profiles, b.profiles);
        assert_eq!(a.favourites, b.favourites);
        assert_eq!(a.propensity, b.propensity);
    }

    #[test]
    fn profiles_sum_to_one_and_favourites_follow_interests() {
        let (world, catalogue, _, p) = small_world();
        let mut aligned = 0;
        for c in 0..p.len() as u32 {
            let c = CitizenId(c);
            let sum: f32 = p.profile(c).iter().sum();
            assert!((sum - 1.0).abs() < 1e-4);
            let main = p.main_topic[c.index()] as u16;
            aligned +=
                p.favourites_of(c).iter().filter(|f| catalogue.products[f.index()].spec.category == main).count();
        }
        // Favourites come from the citizen's main topic far more often than chance (1 in 16).
        let share = aligned as f64 / (p.len() * world.commerce.favourites as usize) as f64;
        assert!(share > 4.0 / world.topics as f64, "share of favourites in the main topic: {share}");
    }

    #[test]
    fn misconduct_is_heterogeneous_with_the_configured_mean() {
        let (world, _, _, p) = small_world();
        let mean = p.propensity.iter().map(|&x| x as f64).sum::<f64>() / p.len() as f64;
        assert!((mean / world.misconduct.daily_rate_mean - 1.0).abs() < 0.2, "mean {mean}");
        let mut sorted = p.propensity.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let top_decile: f32 = sorted[sorted.len() * 9 / 10..].iter().sum();
        let all: f32 = sorted.iter().sum();
        assert!(top_decile / all > 0.4, "the top tenth does a large share of the misconduct");
    }

    #[test]
    fn follower_counts_are_heavy_tailed() {
        let (_, _, kols, p) = small_world();
        let mut counts = vec![0u32; kols.len()];
        for &k in &p.follows {
            if k.0 != u32::MAX {
                counts[k.index()] += 1;
            }
        }
        counts.sort_unstable_by(|a, b| b.cmp(a));
        assert!(counts.len() >= 20, "{} KOLs", counts.len());
        let median = counts[counts.len() / 2].max(1);
        assert!(counts[0] >= 4 * median, "top {} vs median {}", counts[0], median);
    }
}
