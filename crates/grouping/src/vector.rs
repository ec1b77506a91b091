//! Small, deterministic vector kernels.
//!
//! Rust never reassociates floating-point arithmetic, so every function here gives the same
//! bits on every machine. Dot products use eight independent accumulators combined in a
//! fixed tree: the compiler can keep them in SIMD lanes, and the order of additions is
//! written down rather than left to an optimiser.

/// Dot product of two `f32` slices of equal length.
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let mut low = [0f32; 4];
    let mut high = [0f32; 4];
    let chunks_a = a.chunks_exact(8);
    let chunks_b = b.chunks_exact(8);
    let mut tail = 0f32;
    for (x, y) in chunks_a.remainder().iter().zip(chunks_b.remainder()) {
        tail += x * y;
    }
    for (x, y) in chunks_a.zip(chunks_b) {
        // Fixed-size arrays: no bounds checks, so the lanes map onto two SIMD registers.
        let x: &[f32; 8] = x.try_into().expect("chunk of 8");
        let y: &[f32; 8] = y.try_into().expect("chunk of 8");
        for lane in 0..4 {
            low[lane] += x[lane] * y[lane];
            high[lane] += x[lane + 4] * y[lane + 4];
        }
    }
    let lanes = [low[0] + high[0], low[1] + high[1], low[2] + high[2], low[3] + high[3]];
    ((lanes[0] + lanes[2]) + (lanes[1] + lanes[3])) + tail
}

/// Dot product of an `f32` row with an `f64` vector (group sums), in `f64`.
#[inline]
pub(crate) fn dot_f64(a: &[f32], b: &[f64]) -> f64 {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [0f64; 4];
    let chunks_a = a.chunks_exact(4);
    let chunks_b = b.chunks_exact(4);
    let mut tail = 0f64;
    for (x, y) in chunks_a.remainder().iter().zip(chunks_b.remainder()) {
        tail += f64::from(*x) * y;
    }
    for (x, y) in chunks_a.zip(chunks_b) {
        let x: &[f32; 4] = x.try_into().expect("chunk of 4");
        let y: &[f64; 4] = y.try_into().expect("chunk of 4");
        for lane in 0..4 {
            acc[lane] += f64::from(x[lane]) * y[lane];
        }
    }
    ((acc[0] + acc[2]) + (acc[1] + acc[3])) + tail
}

/// Squared Euclidean norm of an `f64` vector.
#[inline]
pub(crate) fn norm2_f64(a: &[f64]) -> f64 {
    a.iter().map(|x| x * x).sum()
}

/// `sum += row` in `f64`.
#[inline]
pub(crate) fn add_row(sum: &mut [f64], row: &[f32]) {
    for (s, &x) in sum.iter_mut().zip(row) {
        *s += f64::from(x);
    }
}

/// `sum -= row` in `f64`.
#[inline]
pub(crate) fn sub_row(sum: &mut [f64], row: &[f32]) {
    for (s, &x) in sum.iter_mut().zip(row) {
        *s -= f64::from(x);
    }
}

/// Write the unit vector of `src` into `dst`; a zero row stays zero (it has no direction,
/// so its cosine with anything is taken as 0).
#[inline]
pub(crate) fn normalize_into(src: &[f32], dst: &mut [f32]) {
    let norm2: f64 = src.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
    if norm2 == 0.0 {
        dst.fill(0.0);
        return;
    }
    let inverse = 1.0 / norm2.sqrt();
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = (f64::from(s) * inverse) as f32;
    }
}

/// The unit vector of an `f64` sum, as `f32` (zero stays zero).
#[inline]
pub(crate) fn unit_of_sum(sum: &[f64], dst: &mut [f32]) {
    let norm = norm2_f64(sum).sqrt();
    if norm == 0.0 {
        dst.fill(0.0);
        return;
    }
    for (d, &s) in dst.iter_mut().zip(sum) {
        *d = (s / norm) as f32;
    }
}

/// Indices of the three largest values (ties go to the lower index); `u32::MAX` where the
/// row has fewer than three values.
#[inline]
pub(crate) fn top3(row: &[f32]) -> [u32; 3] {
    top3_of(row, f32::NEG_INFINITY)
}

/// Same as [`top3`] for an `f64` vector.
#[inline]
pub(crate) fn top3_f64(row: &[f64]) -> [u32; 3] {
    top3_of(row, f64::NEG_INFINITY)
}

/// [`top3`] for any float type; `lowest` only fills the slots not yet taken.
#[inline]
fn top3_of<T: Copy + PartialOrd>(row: &[T], lowest: T) -> [u32; 3] {
    let mut best = [u32::MAX; 3];
    let mut value = [lowest; 3];
    for (index, &x) in row.iter().enumerate() {
        // Strictly greater: an equal later value never displaces an earlier one.
        if best[0] == u32::MAX || x > value[0] {
            best = [index as u32, best[0], best[1]];
            value = [x, value[0], value[1]];
        } else if best[1] == u32::MAX || x > value[1] {
            best = [best[0], index as u32, best[1]];
            value = [value[0], x, value[1]];
        } else if best[2] == u32::MAX || x > value[2] {
            best[2] = index as u32;
            value[2] = x;
        }
    }
    best
}

/// A `u32` whose unsigned order is the total order of the `f32` (for selection and sorting).
#[inline]
pub(crate) fn ordered_bits(x: f32) -> u32 {
    let bits = x.to_bits();
    if bits & 0x8000_0000 != 0 { !bits } else { bits | 0x8000_0000 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_matches_naive_sum_for_all_lengths() {
        for len in 0..40 {
            let a: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..len).map(|i| (i as f32 * 1.3).cos()).collect();
            let naive: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            assert!((f64::from(dot(&a, &b)) - naive).abs() < 1e-5, "len {len}");
            let b64: Vec<f64> = b.iter().map(|&x| f64::from(x)).collect();
            assert!((dot_f64(&a, &b64) - naive).abs() < 1e-12, "len {len}");
        }
    }

    #[test]
    fn top3_breaks_ties_towards_the_lower_index() {
        assert_eq!(top3(&[0.1, 0.5, 0.5, 0.2]), [1, 2, 3]);
        assert_eq!(top3(&[3.0]), [0, u32::MAX, u32::MAX]);
        assert_eq!(top3(&[1.0, 2.0]), [1, 0, u32::MAX]);
        assert_eq!(top3(&[0.0; 5]), [0, 1, 2]);
        assert_eq!(top3_f64(&[0.2, 0.1, 0.9, 0.9]), [2, 3, 0]);
    }

    #[test]
    fn ordered_bits_follow_float_order() {
        let xs = [-3.5f32, -1.0, -0.0, 0.0, 1e-30, 0.5, 2.0, 1e30];
        for pair in xs.windows(2) {
            assert!(ordered_bits(pair[0]) < ordered_bits(pair[1]), "{pair:?}");
        }
    }

    #[test]
    fn normalize_gives_unit_vectors_and_keeps_zero() {
        let mut out = [0f32; 3];
        normalize_into(&[3.0, 0.0, 4.0], &mut out);
        assert_eq!(out, [0.6, 0.0, 0.8]);
        normalize_into(&[0.0, 0.0, 0.0], &mut out);
        assert_eq!(out, [0.0; 3]);
    }
}
