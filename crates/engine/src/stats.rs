//! Score distribution kept as an exact histogram, updated on every change.
//!
//! Percentiles, the mean and the Gini coefficient come from integer sums over the
//! histogram, so they are exact, cheap (O(score range), not O(citizens)) and identical
//! whatever order the changes arrived in.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ScoreHistogram {
    /// Lowest score (bin 0).
    score_min: i32,
    /// `counts[k]` = citizens whose score is `score_min + k`.
    counts: Vec<u64>,
    total: u64,
}

impl ScoreHistogram {
    pub fn new(score_min: i32, score_max: i32) -> ScoreHistogram {
        assert!(score_max >= score_min);
        ScoreHistogram { score_min, counts: vec![0; (score_max - score_min) as usize + 1], total: 0 }
    }

    pub fn add(&mut self, offset: u16) {
        self.counts[offset as usize] += 1;
        self.total += 1;
    }

    pub fn add_many(&mut self, offset: u16, n: u64) {
        self.counts[offset as usize] += n;
        self.total += n;
    }

    pub fn remove(&mut self, offset: u16) {
        let c = &mut self.counts[offset as usize];
        assert!(*c > 0, "histogram underflow at offset {offset}");
        *c -= 1;
        self.total -= 1;
    }

    pub fn shift(&mut self, from: u16, to: u16) {
        if from != to {
            self.remove(from);
            self.add(to);
        }
    }

    /// Adds per-bin deltas (a merged fold of shifts; they sum to zero).
    pub fn apply_deltas(&mut self, deltas: &[i64]) {
        assert_eq!(deltas.len(), self.counts.len());
        for (c, &d) in self.counts.iter_mut().zip(deltas) {
            let next = *c as i64 + d;
            assert!(next >= 0, "histogram underflow");
            *c = next as u64;
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// Citizens with a score in `[low, high]` (inclusive, clamped to the range).
    pub fn count_between(&self, low: i32, high: i32) -> u64 {
        let lo = (low - self.score_min).max(0) as usize;
        let hi = ((high - self.score_min).max(-1) + 1) as usize;
        let hi = hi.min(self.counts.len());
        if lo >= hi { 0 } else { self.counts[lo..hi].iter().sum() }
    }

    /// Σ scores, exactly.
    pub fn sum(&self) -> i128 {
        self.counts.iter().enumerate().map(|(k, &c)| (self.score_min as i128 + k as i128) * c as i128).sum()
    }

    pub fn mean(&self) -> f64 {
        if self.total == 0 { 0.0 } else { self.sum() as f64 / self.total as f64 }
    }

    /// Nearest-rank percentile (`percent` in 0..=100): the smallest score such that at
    /// least `percent` % of citizens are at or below it.
    pub fn percentile(&self, percent: u32) -> i32 {
        assert!(percent <= 100);
        if self.total == 0 {
            return self.score_min;
        }
        let rank = ((percent as u128 * self.total as u128).div_ceil(100)).max(1) as u64;
        let mut cumulative = 0u64;
        for (k, &c) in self.counts.iter().enumerate() {
            cumulative += c;
            if cumulative >= rank {
                return self.score_min + k as i32;
            }
        }
        unreachable!("rank {rank} is at most total {}", self.total)
    }

    /// Gini coefficient of the scores, from the sorted-rank formula
    /// G = Σᵢ (2i − n − 1)·xᵢ / (n·Σx), summed bin by bin in integers.
    pub fn gini(&self) -> f64 {
        let n = self.total as i128;
        let sum = self.sum();
        if n == 0 || sum <= 0 {
            return 0.0;
        }
        let mut below = 0i128;
        let mut numerator = 0i128;
        for (k, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let c = c as i128;
            let value = self.score_min as i128 + k as i128;
            numerator += value * c * (2 * below + c - n);
            below += c;
        }
        numerator as f64 / (n as f64 * sum as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_scores(scores: &[i32]) -> ScoreHistogram {
        let mut h = ScoreHistogram::new(0, 2000);
        for &s in scores {
            h.add(s as u16);
        }
        h
    }

    fn gini_naive(xs: &[i32]) -> f64 {
        let n = xs.len() as f64;
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n;
        let mut total = 0.0;
        for &a in xs {
            for &b in xs {
                total += (a as f64 - b as f64).abs();
            }
        }
        total / (2.0 * n * n * mean)
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let h = from_scores(&[10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        assert_eq!(h.percentile(10), 10);
        assert_eq!(h.percentile(50), 50);
        assert_eq!(h.percentile(90), 90);
        assert_eq!(h.percentile(100), 100);
        assert_eq!(h.percentile(0), 10);
        assert_eq!(h.mean(), 55.0);
    }

    #[test]
    fn gini_matches_the_pairwise_definition() {
        for scores in [vec![1000; 5], vec![0, 0, 0, 100], vec![600, 1000, 1050, 990, 1003, 850, 12]] {
            let h = from_scores(&scores);
            assert!((h.gini() - gini_naive(&scores)).abs() < 1e-12, "{scores:?}");
        }
        assert_eq!(from_scores(&[1000; 4]).gini(), 0.0);
    }

    #[test]
    fn shifts_keep_the_total() {
        let mut h = from_scores(&[1000, 1000, 997]);
        h.shift(1000, 1003);
        assert_eq!(h.total(), 3);
        assert_eq!(h.count_between(1001, 2000), 1);
        assert_eq!(h.count_between(0, 999), 1);
        assert_eq!(h.sum(), 3000);
    }
}
