//! Counter-based randomness and deterministic math for xinyong.
//!
//! Every random draw in xinyong is a pure function of `(seed, stream, day, entity)`.
//! There is no shared sequential generator: two threads, two shards or two machines
//! that ask for the draws of the same key get the same numbers, whatever order they
//! ask in. That is what makes a run byte-identical across thread counts and clusters.
//!
//! ```
//! use xinyong_random::{Key, Stream};
//! let mut draws = Key::new(42, Stream::Incident, 7, 1001).draws();
//! let a = draws.uniform();
//! let mut again = Key::new(42, Stream::Incident, 7, 1001).draws();
//! assert_eq!(a.to_bits(), again.uniform().to_bits());
//! ```
//!
//! The [`math`] module holds `exp` and `ln` written with `+ - * /` only, so that results
//! do not depend on the platform's libm (which may differ in the last bit between
//! machines). `f64::sqrt` is correctly rounded by IEEE 754 and is used as is.

pub mod dist;
pub mod math;

pub use dist::{Cumulative, PoissonTable, ZipfTable, gamma, poisson};

/// What a draw is for. Each purpose has its own stream, so adding draws for one
/// purpose never shifts the draws of another (the basis of common random numbers).
///
/// The numeric values are part of the reproducibility contract: never renumber.
#[repr(u64)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stream {
    /// Static interest profile of a citizen.
    Profile = 1,
    /// Favourite products of a citizen.
    Favourites = 2,
    /// Misconduct propensity of a citizen.
    Propensity = 3,
    /// KOLs a citizen follows.
    Follows = 4,
    /// Buying propensity and budget of a citizen.
    Budget = 5,
    /// Product catalogue.
    Product = 6,
    /// KOL attributes (topic, promotions).
    Kol = 7,
    /// True incidents detected by cameras, per group and day.
    Incident = 8,
    /// False identifications, per group and day.
    FalseIdentification = 9,
    /// Answers to notices.
    Vote = 10,
    /// Ties between two citizens.
    Tie = 11,
    /// Orders, per group and day.
    Order = 12,
    /// Product scandals, per product and day.
    Scandal = 13,
    /// KOL promotions, per KOL and day.
    Promotion = 14,
    /// Appeals filed and decided.
    Appeal = 15,
    /// Grouping (initialisation, random baselines).
    Grouping = 16,
    /// Region of a citizen.
    Region = 17,
    /// Denunciations filed by citizens.
    Denunciation = 18,
    /// Confirmation of denunciations.
    Confirmation = 19,
    /// Campaign days (shopping festivals).
    Campaign = 20,
    /// A citizen's lasting leniency when answering notices.
    Disposition = 21,
    /// A group's lasting culture when answering notices.
    Culture = 22,
    /// A group's deal of the day.
    Deal = 23,
    /// Fixed tables of a distribution's levels (independent of the run's seed).
    Tables = 24,
    /// Anything a test or a benchmark needs.
    Test = 99,
}

/// The address of an independent sequence of draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub seed: u64,
    pub stream: Stream,
    pub day: u64,
    pub entity: u64,
}

impl Key {
    pub const fn new(seed: u64, stream: Stream, day: u64, entity: u64) -> Key {
        Key { seed, stream, day, entity }
    }

    /// The 64-bit digest of the key; the starting point of its draws.
    pub fn digest(&self) -> u64 {
        Prefix::new(self.seed, self.stream, self.day).digest(self.entity)
    }

    /// The sequence of draws for this key.
    pub fn draws(&self) -> Draws {
        Draws { base: self.digest(), counter: 0 }
    }

    /// The first draw of this key as a uniform in `[0, 1)`: for one-shot decisions.
    pub fn uniform(&self) -> f64 {
        self.draws().uniform()
    }
}

/// The (seed, stream, day) part of a key, hashed once: drawing for many entities of the
/// same stream and day then costs one mixing round each. Gives exactly the draws of
/// [`Key`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Prefix(u64);

impl Prefix {
    pub fn new(seed: u64, stream: Stream, day: u64) -> Prefix {
        let mut h = mix(seed ^ 0x243F_6A88_85A3_08D3);
        h = mix(h ^ (stream as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        Prefix(mix(h ^ day.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)))
    }

    #[inline]
    pub fn digest(self, entity: u64) -> u64 {
        mix(self.0 ^ entity.wrapping_mul(0x1656_67B1_9E37_79F9))
    }

    #[inline]
    pub fn draws(self, entity: u64) -> Draws {
        Draws::from_digest(self.digest(entity))
    }

    /// The first draw for `entity` as a uniform in `[0, 1)`.
    #[inline]
    pub fn uniform(self, entity: u64) -> f64 {
        self.draws(entity).uniform()
    }
}

/// SplitMix64's finaliser: a bijection on u64 with full avalanche.
#[inline]
pub const fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Combine two 64-bit values into one well-mixed value (order matters).
#[inline]
pub const fn pair(a: u64, b: u64) -> u64 {
    Paired::first(a).with(b)
}

/// [`pair`] with its first value mixed once: `Paired::first(a).with(b) == pair(a, b)`.
/// For one value paired with many (an incident with each of its voters), this saves one
/// mixing round of two for each of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paired(u64);

impl Paired {
    #[inline]
    pub const fn first(a: u64) -> Paired {
        Paired(mix(a ^ 0x5851_F42D_4C95_7F2D))
    }

    #[inline]
    pub const fn with(self, b: u64) -> u64 {
        mix(self.0.wrapping_add(b))
    }
}

/// An independent sequence of draws: the `i`-th draw is `mix(base + (i+1)·γ)`.
///
/// This is SplitMix64 started at the key's digest; because the position is a counter,
/// draw `i` never depends on how draws of other keys were interleaved with it.
#[derive(Clone, Debug)]
pub struct Draws {
    base: u64,
    counter: u64,
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

impl Draws {
    /// Draws from a raw 64-bit state (e.g. a digest combined by the caller).
    pub const fn from_digest(digest: u64) -> Draws {
        Draws { base: digest, counter: 0 }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.counter = self.counter.wrapping_add(1);
        mix(self.base.wrapping_add(self.counter.wrapping_mul(GOLDEN_GAMMA)))
    }

    /// A uniform draw in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform draw in `(0, 1]`: never zero, safe to take a logarithm of.
    #[inline]
    pub fn uniform_open0(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// A uniform integer in `0..n` (n > 0), by Lemire's multiply-shift.
    /// The bias is below n / 2^64, far under anything a run can observe.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no value");
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// True with probability `p` (p outside [0, 1] is clamped).
    #[inline]
    pub fn bernoulli(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// A standard normal draw (Marsaglia's polar method; uses only ln and sqrt).
    pub fn normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * math::ln(s) / s).sqrt();
            }
        }
    }

    /// An exponential draw with rate 1.
    pub fn exponential(&mut self) -> f64 {
        -math::ln(self.uniform_open0())
    }

    /// Index drawn with probability proportional to `weights[i]` (all ≥ 0, sum > 0).
    pub fn weighted_index(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        assert!(total > 0.0, "weighted_index needs a positive total weight");
        let mut target = self.uniform() * total;
        for (index, &w) in weights.iter().enumerate() {
            if target < w {
                return index;
            }
            target -= w;
        }
        // Rounding can leave the target a hair above the last weight.
        weights.iter().rposition(|&w| w > 0.0).expect("a positive weight exists")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_and_its_hoisted_half_are_the_two_rounds_of_the_definition() {
        // Part of the reproducibility contract: votes and ties are keyed by pairs.
        for (a, b) in [(0, 0), (1, 2), (2, 1), (u64::MAX, 7), (0x1234_5678_9ABC_DEF0, u64::MAX)] {
            let defined = mix(mix(a ^ 0x5851_F42D_4C95_7F2D).wrapping_add(b));
            assert_eq!(pair(a, b), defined);
            assert_eq!(Paired::first(a).with(b), defined);
        }
        assert_ne!(pair(1, 2), pair(2, 1), "order matters");
    }

    #[test]
    fn same_key_same_draws_whatever_the_interleaving() {
        let key_a = Key::new(7, Stream::Vote, 3, 11);
        let key_b = Key::new(7, Stream::Vote, 3, 12);
        let mut a = key_a.draws();
        let mut b = key_b.draws();
        let interleaved: Vec<u64> = (0..8).flat_map(|_| [a.next_u64(), b.next_u64()]).collect();
        let mut a2 = key_a.draws();
        let only_a: Vec<u64> = (0..8).map(|_| a2.next_u64()).collect();
        let from_interleaved: Vec<u64> = interleaved.iter().step_by(2).copied().collect();
        assert_eq!(only_a, from_interleaved);
    }

    #[test]
    fn a_prefix_gives_the_draws_of_the_full_key() {
        let prefix = Prefix::new(5, Stream::Order, 9);
        for entity in [0u64, 1, 77, u64::MAX] {
            let mut a = prefix.draws(entity);
            let mut b = Key::new(5, Stream::Order, 9, entity).draws();
            for _ in 0..4 {
                assert_eq!(a.next_u64(), b.next_u64());
            }
        }
    }

    #[test]
    fn keys_differing_in_any_component_differ() {
        let base = Key::new(1, Stream::Order, 2, 3);
        let variants = [
            Key::new(2, Stream::Order, 2, 3),
            Key::new(1, Stream::Vote, 2, 3),
            Key::new(1, Stream::Order, 3, 3),
            Key::new(1, Stream::Order, 2, 4),
        ];
        for v in variants {
            assert_ne!(base.digest(), v.digest(), "{v:?}");
        }
    }

    #[test]
    fn uniform_is_in_range_and_roughly_flat() {
        let mut d = Key::new(9, Stream::Test, 0, 0).draws();
        let mut buckets = [0u32; 10];
        for _ in 0..100_000 {
            let u = d.uniform();
            assert!((0.0..1.0).contains(&u));
            buckets[(u * 10.0) as usize] += 1;
        }
        for b in buckets {
            assert!((9_500..10_500).contains(&b), "bucket count {b}");
        }
    }

    #[test]
    fn below_stays_below() {
        let mut d = Key::new(9, Stream::Test, 1, 0).draws();
        for n in [1u64, 2, 3, 7, 1000, u64::MAX] {
            for _ in 0..1000 {
                assert!(d.below(n) < n);
            }
        }
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut d = Key::new(3, Stream::Test, 2, 0).draws();
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| d.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn weighted_index_follows_weights() {
        let mut d = Key::new(3, Stream::Test, 3, 0).draws();
        let w = [1.0, 0.0, 3.0];
        let mut counts = [0u32; 3];
        for _ in 0..40_000 {
            counts[d.weighted_index(&w)] += 1;
        }
        assert_eq!(counts[1], 0);
        let ratio = counts[2] as f64 / counts[0] as f64;
        assert!((ratio - 3.0).abs() < 0.15, "ratio {ratio}");
    }
}
