//! The initial grouping of a synthetic population.

use crate::population::{People, SimDirectory};
use rayon::prelude::*;
use xinyong_engine::{CitizenId, Engine, Rules};

/// Sizes of `k` balanced groups covering `n` citizens within `[min, max]`, or fewer
/// citizens when no exact split exists (the rest stay groupless).
pub fn balanced_sizes(n: u64, min: u64, max: u64) -> Vec<u64> {
    assert!(min >= 1 && min <= max);
    if n < min {
        return Vec::new();
    }
    let target = (min + max) / 2;
    let lowest = n.div_ceil(max);
    let highest = n / min;
    let (k, covered) = if lowest <= highest {
        (((n as f64 / target as f64).round() as u64).clamp(lowest, highest).max(1), n)
    } else {
        // No exact split (e.g. 350 with 200..=300): fill the groups we can, leave the rest.
        (highest, (highest * max).min(n))
    };
    let base = covered / k;
    let extra = covered % k;
    (0..k).map(|i| base + u64::from(i < extra)).collect()
}

/// A citizen and the index of the new group they are placed in.
type Placed = (u32, CitizenId);

/// Citizens per chunk of the formation's second pass (bounds its scratch memory).
const CHUNK: u32 = 1 << 22;

/// The interest bucket of a citizen: their three topics, in order, as one index.
fn bucket(people: &People, c: CitizenId) -> usize {
    let t = people.topics();
    // Every citizen once a pass: regenerated, not through the memo of `People::interests`.
    let (a, b, c) = people.regenerate_interests(c).key();
    (a as usize * t + b as usize) * t + c as usize
}

/// Where a sorted position falls among balanced groups (`None`: left over, groupless).
fn group_at(position: u64, sizes_base: u64, extra: u64, covered: u64) -> Option<u32> {
    if position >= covered {
        return None;
    }
    let big = extra * (sizes_base + 1);
    Some(if position < big { position / (sizes_base + 1) } else { extra + (position - big) / sizes_base } as u32)
}

/// Forms the interest groups of a synthetic population and registers everyone in the
/// engine: citizens ordered by interest key (main, second, third topic; then id) and cut
/// into balanced groups of `min_size..=max_size`.
///
/// It never holds that order in memory: a first pass counts citizens per key, a second
/// pass (in id order, in chunks) computes each citizen's position from the counts and
/// places them directly into their group (`Engine::populate`). Memory: the groups
/// themselves (8 bytes a citizen) plus the group centroids. Returns the centroids
/// (row-major, `topics` values per group).
pub fn form<D: SimDirectory>(engine: &mut Engine<D>, people: &People, rules: &Rules) -> Result<Vec<f32>, String> {
    let n = people.len();
    let topics = people.topics();
    let buckets = topics * topics * topics;
    // Pass 1: citizens per bucket.
    let counts = (0..n)
        .into_par_iter()
        .fold(
            || vec![0u64; buckets],
            |mut counts, c| {
                counts[bucket(people, CitizenId(c))] += 1;
                counts
            },
        )
        .reduce(
            || vec![0u64; buckets],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let mut next_position: Vec<u64> = Vec::with_capacity(buckets);
    let mut acc = 0;
    for count in &counts {
        next_position.push(acc);
        acc += count;
    }
    let sizes = balanced_sizes(n as u64, rules.policy.groups.min_size as u64, rules.policy.groups.max_size as u64);
    let covered: u64 = sizes.iter().sum();
    let (base, extra) =
        if sizes.is_empty() { (1, 0) } else { (covered / sizes.len() as u64, covered % sizes.len() as u64) };
    let group_sizes: Vec<u32> = sizes.iter().map(|&s| s as u32).collect();
    engine.directory_mut().synthetic_mut().prepare_groups(group_sizes.len());
    let mut centroids = vec![0f32; group_sizes.len() * topics];
    let mut populate = engine.populate(n, &group_sizes).map_err(|e| e.to_string())?;
    // Pass 2, chunk by chunk of ids: keys in parallel; positions in id order (cheap: the
    // counters fit in cache); then the chunk's citizens sorted by group and placed group
    // after group (`Populate::place_grouped`: writes near one another instead of one cache
    // miss a citizen), and the centroids summed per group in parallel. A group's members
    // and its centroid's sum come in id order either way, so the bits are those of a
    // citizen-by-citizen pass.
    let mut pairs: Vec<Placed> = Vec::new();
    for start in (0..n).step_by(CHUNK as usize) {
        let end = (start as u64 + CHUNK as u64).min(n as u64) as u32;
        let keys: Vec<u32> = (start..end).into_par_iter().map(|c| bucket(people, CitizenId(c)) as u32).collect();
        pairs.clear();
        for (c, &key) in (start..end).zip(&keys) {
            let position = next_position[key as usize];
            next_position[key as usize] += 1;
            if let Some(g) = group_at(position, base, extra, covered) {
                pairs.push((g, CitizenId(c)));
            }
        }
        drop(keys);
        pairs.par_sort_unstable();
        populate.place_grouped(end, &pairs).map_err(|e| e.to_string())?;
        // Each group's rows of the centroid table, paired with its citizens of this chunk.
        let mut rows: Vec<(&mut [f32], &[Placed])> = Vec::new();
        let mut rest: &mut [f32] = &mut centroids;
        let mut offset = 0usize;
        for run in pairs.chunk_by(|a, b| a.0 == b.0) {
            let at = run[0].0 as usize * topics;
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(at - offset);
            let (row, tail) = tail.split_at_mut(topics);
            rows.push((row, run));
            rest = tail;
            offset = at + topics;
        }
        rows.into_par_iter().for_each_init(
            || vec![0f32; topics],
            |profile, (row, run)| {
                for &(_, c) in run {
                    people.profile(c, profile);
                    row.iter_mut().zip(profile.iter()).for_each(|(s, &x)| *s += x);
                }
            },
        );
    }
    populate.finish().map_err(|e| e.to_string())?;
    for (g, &size) in group_sizes.iter().enumerate() {
        centroids[g * topics..(g + 1) * topics].iter_mut().for_each(|x| *x /= size.max(1) as f32);
    }
    Ok(centroids)
}

/// The balanced clustering of every citizen's interest profile (the grouping crate's
/// [`xinyong_grouping::group`]), before anyone is registered: its group count is needed
/// first (a shard's range of groups).
pub fn balanced(people: &People, rules: &Rules, seed: u64) -> Result<xinyong_grouping::Grouping, String> {
    let n = people.len() as usize;
    let topics = people.topics();
    let mut values = vec![0f32; n * topics];
    values.par_chunks_mut(topics).enumerate().for_each(|(c, row)| people.profile(CitizenId(c as u32), row));
    let profiles = xinyong_grouping::Profiles::new(topics, &values).map_err(|e| e.to_string())?;
    let bounds = xinyong_grouping::Bounds::new(rules.policy.groups.min_size, rules.policy.groups.max_size)
        .map_err(|e| e.to_string())?;
    let options = xinyong_grouping::Options { seed, ..xinyong_grouping::Options::default() };
    Ok(xinyong_grouping::group(profiles, bounds, &options))
}

/// Registers everyone in the engine into the groups of `grouping` (leftovers groupless),
/// in id order. Returns the group centroids (row-major, `topics` values per group).
pub fn populate<D: SimDirectory>(
    engine: &mut Engine<D>,
    people: &People,
    grouping: &xinyong_grouping::Grouping,
) -> Result<Vec<f32>, String> {
    let n = people.len();
    let topics = people.topics();
    let sizes = grouping.sizes();
    engine.directory_mut().synthetic_mut().prepare_groups(sizes.len());
    let mut centroids = vec![0f32; sizes.len() * topics];
    let mut populate = engine.populate(n, &sizes).map_err(|e| e.to_string())?;
    let mut profile = vec![0f32; topics];
    for (c, &g) in grouping.group_of.iter().enumerate() {
        if g == xinyong_grouping::NO_GROUP {
            continue;
        }
        populate.place(CitizenId(c as u32), g).map_err(|e| e.to_string())?;
        people.profile(CitizenId(c as u32), &mut profile);
        for (s, &x) in centroids[g as usize * topics..(g as usize + 1) * topics].iter_mut().zip(&profile) {
            *s += x;
        }
    }
    populate.finish().map_err(|e| e.to_string())?;
    for (g, &size) in sizes.iter().enumerate() {
        centroids[g * topics..(g + 1) * topics].iter_mut().for_each(|x| *x /= size.max(1) as f32);
    }
    Ok(centroids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_sizes_respect_the_bounds() {
        for n in [0u64, 199, 200, 300, 301, 350, 399, 400, 599, 600, 1000, 100_000, 123_457] {
            let sizes = balanced_sizes(n, 200, 300);
            assert!(sizes.iter().all(|&s| (200..=300).contains(&s)), "n={n}: {sizes:?}");
            let covered: u64 = sizes.iter().sum();
            assert!(covered <= n);
            if n >= 600 || (200..=300).contains(&n) || n == 400 {
                assert_eq!(covered, n, "n={n} admits an exact split");
            }
        }
        assert_eq!(balanced_sizes(350, 200, 300), vec![300], "no exact split: 50 stay groupless");
    }
}
