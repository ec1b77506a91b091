//! The initial grouping of a synthetic population.

use crate::population::People;
use rayon::prelude::*;
use xinyong_engine::{CitizenId, GroupId, Rules};

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

/// Groups citizens by interest: ordered by their interest key (main, second, third topic),
/// then by the strength of the main interest, and cut into balanced groups of
/// `min_size..=max_size`.
pub fn initial_groups(people: &People, rules: &Rules) -> Result<Vec<(CitizenId, GroupId)>, String> {
    let n = people.len();
    let mut order: Vec<(u8, u8, u8, u32, u32)> = (0..n)
        .into_par_iter()
        .map(|c| {
            let i = people.interests(CitizenId(c));
            let strength = u32::MAX - (i.weights[0] as f64 * 1e9) as u32;
            (i.topics[0], i.topics[1], i.topics[2], strength, c)
        })
        .collect();
    order.par_sort_unstable();
    let sizes = balanced_sizes(n as u64, rules.policy.groups.min_size as u64, rules.policy.groups.max_size as u64);
    let mut out = Vec::with_capacity(n as usize);
    let mut next = order.iter();
    for (g, &size) in sizes.iter().enumerate() {
        for _ in 0..size {
            let &(_, _, _, _, c) = next.next().ok_or("balanced sizes cover at most the population")?;
            out.push((CitizenId(c), GroupId(g as u32)));
        }
    }
    Ok(out)
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
