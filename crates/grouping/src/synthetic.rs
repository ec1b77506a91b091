//! Clustered synthetic interest profiles, for `xinyong group`, benchmarks and tests.
//!
//! The population follows a small generative story:
//! - there are `archetypes` interest archetypes (communities: anglers, K-pop fans, …), each a
//!   sparse mix of topics drawn from a symmetric Dirichlet (`concentration` < 1: two to
//!   four topics carry most of the weight);
//! - archetypes differ in popularity, Zipf-distributed (`popularity_exponent`);
//! - a citizen picks an archetype and weights each of its topics by a personal factor
//!   uniform in `1 ± spread`, plus a little uniform `background` interest in every topic;
//!   the profile is normalised to sum to 1 (shares of attention).
//!
//! Citizen `i`'s profile depends only on `(seed, i, dims, config)`, not on the population
//! size: the first 100 000 citizens of a 10 M population are the 100 000-citizen population.

use rayon::prelude::*;
use xinyong_random::dist::{ZipfTable, dirichlet};
use xinyong_random::{Key, Stream};

const DAY_ARCHETYPE: u64 = 0x5A1;
const DAY_CITIZEN: u64 = 0x5A2;

/// Parameters of the synthetic population.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub archetypes: u32,
    pub concentration: f64,
    pub popularity_exponent: f64,
    pub spread: f32,
    pub background: f32,
}

impl Default for Config {
    fn default() -> Config {
        Config { archetypes: 1024, concentration: 0.25, popularity_exponent: 0.8, spread: 0.5, background: 0.02 }
    }
}

/// `n` profiles of `dims` topics (row-major), default [`Config`].
pub fn profiles(n: usize, dims: usize, seed: u64) -> Vec<f32> {
    profiles_with(n, dims, seed, &Config::default())
}

/// The archetypes' topic mixes (`archetypes × dims`, row-major).
pub fn archetypes(dims: usize, seed: u64, config: &Config) -> Vec<f32> {
    let alpha = vec![config.concentration; dims];
    let mut mix = vec![0f64; dims];
    let mut out = Vec::with_capacity(config.archetypes as usize * dims);
    for a in 0..config.archetypes {
        let mut draws = Key::new(seed, Stream::Grouping, DAY_ARCHETYPE, u64::from(a)).draws();
        dirichlet(&mut draws, &alpha, &mut mix);
        out.extend(mix.iter().map(|&x| x as f32));
    }
    out
}

/// `n` profiles of `dims` topics with explicit parameters.
pub fn profiles_with(n: usize, dims: usize, seed: u64, config: &Config) -> Vec<f32> {
    profiles_range(0, n, dims, seed, config)
}

/// The profiles of citizens `first..first + n` of the population `profiles_with` draws
/// (e.g. newcomers who join a population of `first`).
pub fn profiles_range(first: usize, n: usize, dims: usize, seed: u64, config: &Config) -> Vec<f32> {
    assert!(dims > 0 && config.archetypes > 0, "need at least one topic and one archetype");
    let centres = archetypes(dims, seed, config);
    let popularity = ZipfTable::new(config.archetypes as usize, config.popularity_exponent);
    let mut values = vec![0f32; n * dims];
    values.par_chunks_mut(dims * 4096).enumerate().for_each(|(chunk, out)| {
        for (offset, row) in out.chunks_exact_mut(dims).enumerate() {
            let citizen = (first + chunk * 4096 + offset) as u64;
            let mut draws = Key::new(seed, Stream::Grouping, DAY_CITIZEN, citizen).draws();
            let a = popularity.sample(&mut draws);
            let centre = &centres[a * dims..(a + 1) * dims];
            let mut total = 0f32;
            for (x, &c) in row.iter_mut().zip(centre) {
                let personal = 1.0 - config.spread + 2.0 * config.spread * draws.uniform() as f32;
                *x = c * personal + config.background * draws.uniform() as f32;
                total += *x;
            }
            if total > 0.0 {
                row.iter_mut().for_each(|x| *x /= total);
            }
        }
    });
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_shares_and_do_not_depend_on_population_size() {
        let small = profiles(1000, 12, 3);
        let large = profiles(5000, 12, 3);
        assert_eq!(small[..], large[..small.len()]);
        for row in small.chunks_exact(12) {
            let total: f32 = row.iter().sum();
            assert!((total - 1.0).abs() < 1e-5);
            assert!(row.iter().all(|&x| x >= 0.0));
        }
        assert_ne!(profiles(1000, 12, 4), small);
        let tail = profiles_range(1000, 4000, 12, 3, &Config::default());
        assert_eq!(tail[..], large[small.len()..]);
    }

    #[test]
    fn archetypes_are_sparse() {
        // With concentration 0.25 in 16 topics, the top two topics carry most of the weight.
        let centres = archetypes(16, 1, &Config::default());
        let mut top_two_mass = 0.0;
        for row in centres.chunks_exact(16) {
            let mut sorted = row.to_vec();
            sorted.sort_by(|a, b| b.total_cmp(a));
            top_two_mass += sorted[0] + sorted[1];
        }
        let mean = top_two_mass / 1024.0;
        assert!(mean > 0.55, "mean top-two mass {mean}");
    }
}
