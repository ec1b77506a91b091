//! Distributions built on [`Draws`](crate::Draws), all deterministic.

use crate::Draws;
use crate::math::{exp, ln, pow};

/// A Poisson draw with mean `lambda` (≥ 0).
///
/// Inversion for small means (cost O(λ)); for λ > 64 the sum of independent Poisson
/// pieces of mean ≤ 64, which is exact in distribution and keeps `exp(-λ)` away from
/// underflow. Means in xinyong are per group and day, rarely above a few hundred.
pub fn poisson(draws: &mut Draws, lambda: f64) -> u64 {
    assert!(lambda >= 0.0 && lambda.is_finite(), "poisson mean must be finite and ≥ 0, got {lambda}");
    if lambda == 0.0 {
        return 0;
    }
    let pieces = (lambda / 64.0).ceil();
    let piece_mean = lambda / pieces;
    let mut total = 0;
    for _ in 0..pieces as u64 {
        total += poisson_inversion(draws, piece_mean);
    }
    total
}

fn poisson_inversion(draws: &mut Draws, lambda: f64) -> u64 {
    let u = draws.uniform();
    let mut k = 0u64;
    let mut p = exp(-lambda);
    let mut cumulative = p;
    // Bounded: beyond 1000 terms the remaining mass is below 1e-300 for λ ≤ 64.
    while u >= cumulative && k < 1000 {
        k += 1;
        p *= lambda / k as f64;
        cumulative += p;
    }
    k
}

/// Poisson draws for one fixed small mean, by inversion over a precomputed CDF: the same
/// result as [`poisson`] for that mean without an `exp` per draw.
#[derive(Clone, Debug)]
pub struct PoissonTable {
    cumulative: Cumulative,
}

impl PoissonTable {
    /// Means up to 16 (the table stops where the remaining mass is below 1e-15).
    pub fn new(lambda: f64) -> PoissonTable {
        assert!((0.0..=16.0).contains(&lambda), "PoissonTable is for small means, got {lambda}");
        let mut p = exp(-lambda);
        let mut c = p;
        let mut cumulative = vec![c];
        let mut k = 0u64;
        while 1.0 - c > 1e-15 && k < 200 {
            k += 1;
            p *= lambda / k as f64;
            c += p;
            cumulative.push(c);
        }
        PoissonTable { cumulative: Cumulative::new(cumulative) }
    }

    pub fn sample(&self, draws: &mut Draws) -> u64 {
        self.cumulative.index(draws.uniform()) as u64
    }
}

/// A Gamma(shape, 1) draw (Marsaglia and Tsang), shape > 0.
pub fn gamma(draws: &mut Draws, shape: f64) -> f64 {
    assert!(shape > 0.0, "gamma shape must be positive, got {shape}");
    if shape < 1.0 {
        // Gamma(a) = Gamma(a+1) · U^(1/a).
        let u = draws.uniform_open0();
        return gamma(draws, shape + 1.0) * pow(u, 1.0 / shape);
    }
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = draws.normal();
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = draws.uniform_open0();
        if u < 1.0 - 0.0331 * x * x * x * x || ln(u) < 0.5 * x * x + d * (1.0 - v + ln(v)) {
            return d * v;
        }
    }
}

/// Fill `out` with a Dirichlet(alpha) draw (all alpha > 0).
pub fn dirichlet(draws: &mut Draws, alpha: &[f64], out: &mut [f64]) {
    assert_eq!(alpha.len(), out.len());
    let mut total = 0.0;
    for (o, &a) in out.iter_mut().zip(alpha) {
        *o = gamma(draws, a);
        total += *o;
    }
    if total <= 0.0 {
        // All draws underflowed (tiny alphas): put the mass on one coordinate.
        let i = draws.below(out.len() as u64) as usize;
        out.iter_mut().for_each(|o| *o = 0.0);
        out[i] = 1.0;
        return;
    }
    out.iter_mut().for_each(|o| *o /= total);
}

/// A non-decreasing cumulative distribution with a guide table (Chen and Asau, 1974):
/// [`Cumulative::index`] returns exactly `partition_point(|c| c <= u)` — the same index a
/// binary search gives, so switching to it changes no result — in about one step instead
/// of log₂ n unpredictable branches. The guide has a power-of-two number of cells, so a
/// draw's cell `⌊u·K⌋` and the cell's lower end `j / K` are exact in floating point.
#[derive(Clone, Debug)]
pub struct Cumulative {
    values: Vec<f64>,
    /// `guide[j]` = how many values are ≤ j / K: where the search for any u ≥ j / K starts.
    guide: Vec<u32>,
}

impl Cumulative {
    pub fn new(values: Vec<f64>) -> Cumulative {
        assert!(values.windows(2).all(|w| w[0] <= w[1]), "a cumulative distribution never decreases");
        assert!(values.len() < u32::MAX as usize);
        let cells = (2 * values.len()).next_power_of_two().max(1);
        let guide = (0..cells).map(|j| values.partition_point(|&c| c <= j as f64 / cells as f64) as u32).collect();
        Cumulative { values, guide }
    }

    /// How many values are ≤ `u`, for `u` in `[0, 1)`.
    #[inline]
    pub fn index(&self, u: f64) -> usize {
        debug_assert!((0.0..1.0).contains(&u));
        let cell = ((u * self.guide.len() as f64) as usize).min(self.guide.len() - 1);
        let mut i = self.guide[cell] as usize;
        while i < self.values.len() && self.values[i] <= u {
            i += 1;
        }
        i
    }

    pub fn values(&self) -> &[f64] {
        &self.values
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

/// Ranks a [`ZipfTable`] guides (see [`Cumulative`]): the most likely ones, whose guide and
/// values stay in the caches (16 KB each).
const ZIPF_HEAD: usize = 2048;

/// Ranks 1..=n drawn with P(k) ∝ k^(-exponent): exactly the rank of the cumulative table
/// that a binary search of the draw gives.
///
/// The head of the table (its first [`ZIPF_HEAD`] ranks, where most draws fall) is found
/// through a guide (see [`Cumulative`]). A draw beyond the head is found near where the
/// distribution's continuous approximation puts it, then settled by comparing it with the
/// table's values there (a few steps, a binary search if it were far off): one read of
/// the table where a guide over every rank (16 B a rank; 11 MB for China's KOLs) would
/// add a read of the guide, each a likely cache miss in a large table. The approximation
/// only chooses where to look, so it changes no answer.
#[derive(Clone, Debug)]
pub struct ZipfTable {
    /// Cumulative probability by zero-based rank.
    values: Vec<f64>,
    /// The head's values, guided.
    head: Cumulative,
    /// The tail's approximation: the rank r at a draw u solves
    /// ∫_{r+½}^{n+½} x^(−s) dx = (1 − u)·total, where total is Σ k^(−s) over the table,
    /// so r + ½ = (`scale` − (1 − u)·`slope`)^`power`, or, for s = 1,
    /// r + ½ = `scale`·e^(−(1 − u)·`slope`).
    scale: f64,
    slope: f64,
    power: f64,
    harmonic: bool,
}

impl ZipfTable {
    pub fn new(n: usize, exponent: f64) -> ZipfTable {
        assert!(n > 0, "a Zipf table needs at least one rank");
        assert!(exponent.is_finite() && exponent >= 0.0, "a Zipf exponent is finite and ≥ 0, got {exponent}");
        let mut values = Vec::with_capacity(n);
        let mut total = 0.0;
        for k in 1..=n {
            total += pow(k as f64, -exponent);
            values.push(total);
        }
        values.iter_mut().for_each(|c| *c /= total);
        let head = Cumulative::new(values[..n.min(ZIPF_HEAD)].to_vec());
        let end = n as f64 + 0.5;
        let harmonic = exponent == 1.0;
        let (scale, slope, power) = if harmonic {
            (end, total, 1.0)
        } else {
            let rise = 1.0 - exponent;
            (pow(end, rise), rise * total, 1.0 / rise)
        };
        ZipfTable { values, head, scale, slope, power, harmonic }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// A zero-based rank (0 is the most likely).
    pub fn sample(&self, draws: &mut Draws) -> usize {
        self.rank_at(draws.uniform())
    }

    /// The rank a draw `u` in `[0, 1)` gives: how many cumulative values are ≤ `u`, at
    /// most the last rank (the last value may fall short of 1 by rounding).
    #[inline]
    pub fn rank_at(&self, u: f64) -> usize {
        let (n, head) = (self.values.len(), self.head.len());
        if u < self.values[head - 1] {
            return self.head.index(u);
        }
        if head == n {
            return n - 1;
        }
        // values[head − 1] ≤ u: the count is in head..=n.
        let guess = self.tail_guess(u).clamp(head, n);
        settle(&self.values, u, head, guess).min(n - 1)
    }

    /// Where the continuous approximation puts the count of values ≤ `u` (any number:
    /// [`settle`] makes it exact).
    #[inline]
    fn tail_guess(&self, u: f64) -> usize {
        let mass = (1.0 - u) * self.slope;
        let end = if self.harmonic { self.scale * exp(-mass) } else { pow(self.scale - mass, self.power) };
        // NaN or out of range (far in the tail, rounding) saturate; `settle` searches on.
        (end - 0.5) as usize
    }

    /// Whether [`ZipfTable::sample`] gives `rank` when its draw is `u`: the same answer as
    /// sampling and comparing, read from the two ends of the rank's interval instead of
    /// searching for the rank.
    #[inline]
    pub fn gives(&self, u: f64, rank: usize) -> bool {
        let c = &self.values;
        let n = c.len();
        if rank >= n {
            return false;
        }
        // `sample` is min(#{c ≤ u}, n − 1), and #{c ≤ u} = rank ⟺ c[rank − 1] ≤ u < c[rank]
        // (c never decreases); the last rank also takes every u beyond the table's end.
        (rank == 0 || c[rank - 1] <= u) && (rank == n - 1 || u < c[rank])
    }

    /// The probability of the zero-based rank `k`.
    pub fn probability(&self, k: usize) -> f64 {
        let c = &self.values;
        let below = if k == 0 { 0.0 } else { c[k - 1] };
        c[k] - below
    }
}

/// How many of `values` (sorted) are ≤ `u`, knowing that the first `low` are: from `guess`
/// a few steps either way, then a binary search if the answer is further.
#[inline]
fn settle(values: &[f64], u: f64, low: usize, guess: usize) -> usize {
    debug_assert!(low == 0 || values[low - 1] <= u);
    let mut i = guess.clamp(low, values.len());
    for _ in 0..8 {
        if i > low && values[i - 1] > u {
            i -= 1;
        } else if i < values.len() && values[i] <= u {
            i += 1;
        } else {
            return i;
        }
    }
    if i > low && values[i - 1] > u {
        low + values[low..i].partition_point(|&c| c <= u)
    } else {
        i + values[i..].partition_point(|&c| c <= u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_finds_what_binary_search_finds() {
        let mut draws = crate::Prefix::new(7, crate::Stream::Tie, 0).draws(0);
        for n in [1usize, 2, 3, 16, 100, 1000] {
            // Uneven steps, repeated values and a last value below 1 (like rounding leaves).
            let mut c: Vec<f64> = (0..n).map(|_| draws.uniform().powi(3)).collect();
            c.sort_by(f64::total_cmp);
            if n > 3 {
                c[1] = c[2];
            }
            let table = Cumulative::new(c.clone());
            let mut us: Vec<f64> = (0..20_000).map(|_| draws.uniform()).collect();
            // Exactly on values and on cell boundaries too.
            us.extend(c.iter().copied().filter(|&x| x < 1.0));
            us.extend((0..table.guide.len()).map(|j| j as f64 / table.guide.len() as f64));
            for u in us {
                assert_eq!(table.index(u), c.partition_point(|&x| x <= u), "n = {n}, u = {u}");
            }
        }
    }
    use crate::{Key, Stream};

    fn mean_var(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        (mean, var)
    }

    #[test]
    fn poisson_mean_and_variance_match() {
        for lambda in [0.05, 1.0, 12.5, 70.0, 300.0] {
            let xs: Vec<f64> =
                (0..20_000).map(|i| poisson(&mut Key::new(1, Stream::Test, 0, i).draws(), lambda) as f64).collect();
            let (mean, var) = mean_var(&xs);
            let tolerance = 5.0 * (lambda / 20_000f64).sqrt() + 1e-3;
            assert!((mean - lambda).abs() < tolerance, "λ={lambda}: mean {mean}");
            assert!((var / lambda - 1.0).abs() < 0.06, "λ={lambda}: variance {var}");
        }
        assert_eq!(poisson(&mut Key::new(1, Stream::Test, 0, 0).draws(), 0.0), 0);
    }

    #[test]
    fn the_poisson_table_has_the_right_mean() {
        let table = PoissonTable::new(0.5);
        let n = 50_000;
        let mean =
            (0..n).map(|i| table.sample(&mut Key::new(8, Stream::Test, 0, i).draws()) as f64).sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.015, "mean {mean}");
        assert_eq!(PoissonTable::new(0.0).sample(&mut Key::new(8, Stream::Test, 0, 0).draws()), 0);
    }

    #[test]
    fn gamma_mean_matches_shape() {
        for shape in [0.3, 1.0, 4.5] {
            let mut d = Key::new(2, Stream::Test, 0, 0).draws();
            let xs: Vec<f64> = (0..40_000).map(|_| gamma(&mut d, shape)).collect();
            let (mean, var) = mean_var(&xs);
            assert!((mean / shape - 1.0).abs() < 0.03, "shape {shape}: mean {mean}");
            assert!((var / shape - 1.0).abs() < 0.08, "shape {shape}: var {var}");
        }
    }

    #[test]
    fn dirichlet_sums_to_one() {
        let mut d = Key::new(3, Stream::Test, 0, 0).draws();
        let alpha = [0.2; 12];
        let mut out = [0.0; 12];
        for _ in 0..1000 {
            dirichlet(&mut d, &alpha, &mut out);
            let s: f64 = out.iter().sum();
            assert!((s - 1.0).abs() < 1e-12);
            assert!(out.iter().all(|&x| x >= 0.0));
        }
    }

    #[test]
    fn a_rank_is_given_exactly_when_sampling_gives_it() {
        let mut draws = crate::Prefix::new(9, crate::Stream::Tie, 0).draws(0);
        for (n, exponent) in [(1usize, 1.0), (2, 1.0), (7, 0.0), (200, 1.0), (5_000, 1.1)] {
            let table = ZipfTable::new(n, exponent);
            let c = table.values.clone();
            let mut us: Vec<f64> = (0..20_000).map(|_| draws.uniform()).collect();
            // Exactly on the interval ends, and the last representable draw.
            us.extend(c.iter().copied().filter(|&x| x < 1.0));
            us.push(1.0 - f64::EPSILON / 2.0);
            for u in us {
                let given = c.partition_point(|&x| x <= u).min(n - 1);
                for rank in [given.saturating_sub(1), given, given + 1, n, n + 3] {
                    assert_eq!(table.gives(u, rank), rank == given, "n = {n}, u = {u}, rank = {rank}");
                }
            }
        }
    }

    #[test]
    fn a_zipf_rank_is_what_binary_search_of_the_table_gives() {
        let mut draws = crate::Prefix::new(11, crate::Stream::Tie, 0).draws(0);
        for n in [1usize, 2, 100, ZIPF_HEAD - 1, ZIPF_HEAD, ZIPF_HEAD + 1, 5_000, 200_000] {
            for exponent in [0.0, 0.3, 0.999, 1.0, 1.1, 2.0, 5.0] {
                let table = ZipfTable::new(n, exponent);
                let c = &table.values;
                let mut worst = 0;
                let mut us: Vec<f64> = (0..5_000).map(|_| draws.uniform()).collect();
                // Draws deep in the tail, on values and either side of them (the head's
                // end among them), and the last representable draw.
                us.extend((0..2_000).map(|_| 1.0 - draws.uniform() * draws.uniform() * 1e-3));
                for k in (0..n).step_by(1 + n / 3_000).chain([ZIPF_HEAD - 1, ZIPF_HEAD, n - 1]).filter(|&k| k < n) {
                    us.extend([c[k], c[k].next_down(), c[k].next_up()].into_iter().filter(|u| (0.0..1.0).contains(u)));
                }
                us.push(1.0 - f64::EPSILON / 2.0);
                for u in us {
                    let expected = c.partition_point(|&x| x <= u).min(n - 1);
                    assert_eq!(table.rank_at(u), expected, "n = {n}, exponent = {exponent}, u = {u}");
                    // Beyond the head the approximation alone lands within a step or two.
                    if u >= c[n.min(ZIPF_HEAD) - 1] && expected < n - 1 {
                        worst = worst.max(table.tail_guess(u).abs_diff(expected));
                    }
                }
                assert!(worst <= 2, "n = {n}, exponent = {exponent}: a guess {worst} ranks off");
            }
        }
    }

    #[test]
    fn settling_from_any_guess_is_exact() {
        let mut draws = crate::Prefix::new(12, crate::Stream::Tie, 0).draws(0);
        let mut c: Vec<f64> = (0..3_000).map(|_| draws.uniform()).collect();
        c.sort_by(f64::total_cmp);
        let repeated = c[10];
        c[10..20].fill(repeated);
        for _ in 0..3_000 {
            let u = draws.uniform();
            let expected = c.partition_point(|&x| x <= u);
            let low = draws.below(expected as u64 + 1) as usize;
            for guess in
                [0, low, expected.saturating_sub(3), expected, expected + 5, expected + 500, c.len(), usize::MAX]
            {
                assert_eq!(settle(&c, u, low, guess), expected, "u = {u}, low = {low}, guess = {guess}");
            }
        }
    }

    #[test]
    fn zipf_is_heavy_tailed_and_normalised() {
        let table = ZipfTable::new(1000, 1.1);
        let total: f64 = (0..1000).map(|k| table.probability(k)).sum();
        assert!((total - 1.0).abs() < 1e-12);
        assert!(table.probability(0) > 10.0 * table.probability(20));
        let mut d = Key::new(4, Stream::Test, 0, 0).draws();
        let mut first = 0;
        for _ in 0..20_000 {
            let k = table.sample(&mut d);
            assert!(k < 1000);
            if k == 0 {
                first += 1;
            }
        }
        let expected = 20_000.0 * table.probability(0);
        assert!((first as f64 - expected).abs() < 5.0 * expected.sqrt(), "{first} vs {expected}");
    }
}
