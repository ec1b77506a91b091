//! `exp` and `ln` from `+ - * /` alone, so every machine computes the same bits.
//!
//! The standard library forwards `f64::exp` and `f64::ln` to the platform's libm, whose
//! last bit may differ between C libraries and CPUs. Results of a run must not, so the
//! simulator uses these instead. Both are accurate to a few units in the last place,
//! which is far more than a behaviour model needs; what matters is that they are exact
//! functions of their input.

// ln 2 split in a high part with trailing zero bits (k·LN2_HI is exact) and the rest.
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000);
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76);
const INV_LN2: f64 = std::f64::consts::LOG2_E;

/// 1/n! for n = 0..=13, each the correctly rounded double.
const INV_FACTORIAL: [f64; 14] = [
    1.0,
    1.0,
    0.5,
    1.0 / 6.0,
    1.0 / 24.0,
    1.0 / 120.0,
    1.0 / 720.0,
    1.0 / 5040.0,
    1.0 / 40320.0,
    1.0 / 362880.0,
    1.0 / 3628800.0,
    1.0 / 39916800.0,
    1.0 / 479001600.0,
    1.0 / 6227020800.0,
];

/// e^x, deterministic. Returns 0 below about -745 and +inf above about 709.78.
pub fn exp(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x > 709.782_712_893_384 {
        return f64::INFINITY;
    }
    if x < -745.133_219_101_941_1 {
        return 0.0;
    }
    if x == 0.0 {
        return 1.0;
    }
    // x = k·ln2 + r with |r| <= ln2/2.
    let k = round_half_away(x * INV_LN2);
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Taylor series of e^r to degree 13 in Horner form (the remainder is below 1e-17
    // relative); the coefficients 1/n! are exact constants, so only + and × are used.
    let mut sum = INV_FACTORIAL[13];
    for n in (0..13).rev() {
        sum = sum * r + INV_FACTORIAL[n];
    }
    scale_by_power_of_two(sum, k as i32)
}

/// Natural logarithm, deterministic. ln(0) = -inf, ln(x<0) = NaN.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x.is_infinite() {
        return x;
    }
    // Normalise subnormals first.
    let (x, extra_exponent) = if x < f64::MIN_POSITIVE { (x * 2f64.powi(54), -54) } else { (x, 0) };
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i32 - 1023 + extra_exponent;
    // Mantissa in [1, 2), then moved to [sqrt(1/2), sqrt(2)).
    let mut m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    if m > std::f64::consts::SQRT_2 {
        m *= 0.5;
        exponent += 1;
    }
    // ln(m) = 2·atanh(s), s = (m-1)/(m+1), |s| <= 0.1716.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut power = s;
    let mut sum = 0.0;
    for k in 0..14 {
        sum += power / (2 * k + 1) as f64;
        power *= s2;
    }
    let e = exponent as f64;
    (e * LN2_HI + 2.0 * sum) + e * LN2_LO
}

/// x^y for x > 0, deterministic (via exp and ln).
pub fn pow(x: f64, y: f64) -> f64 {
    if x == 1.0 || y == 0.0 {
        return 1.0;
    }
    exp(y * ln(x))
}

/// The logistic function 1 / (1 + e^-z).
pub fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + exp(-z))
}

/// The logistic function read from a table with linear interpolation (|error| < 2e-6):
/// a few nanoseconds instead of an `exp`, the same bits everywhere.
#[derive(Clone, Debug)]
pub struct LogisticTable {
    values: Vec<f64>,
}

impl LogisticTable {
    const RANGE: f64 = 32.0;
    const STEPS_PER_UNIT: f64 = 256.0;

    pub fn new() -> LogisticTable {
        let n = (2.0 * Self::RANGE * Self::STEPS_PER_UNIT) as usize + 1;
        let values = (0..n).map(|i| logistic(i as f64 / Self::STEPS_PER_UNIT - Self::RANGE)).collect();
        LogisticTable { values }
    }

    /// σ(z), clamped to the table's ends beyond ±32 (where σ is 0 or 1 to 1e-14).
    pub fn get(&self, z: f64) -> f64 {
        if z.is_nan() {
            return 0.5;
        }
        let x = (z.clamp(-Self::RANGE, Self::RANGE) + Self::RANGE) * Self::STEPS_PER_UNIT;
        let i = (x as usize).min(self.values.len() - 2);
        let t = x - i as f64;
        self.values[i] + t * (self.values[i + 1] - self.values[i])
    }
}

impl Default for LogisticTable {
    fn default() -> Self {
        LogisticTable::new()
    }
}

fn round_half_away(x: f64) -> f64 {
    // f64::round is exact and libm-free (implemented by bit manipulation in core).
    x.round()
}

fn scale_by_power_of_two(x: f64, k: i32) -> f64 {
    // Multiply in at most three exact steps to stay clear of overflow and subnormal traps.
    let mut result = x;
    let mut k = k;
    while k > 1000 {
        result *= f64::from_bits(((1000 + 1023) as u64) << 52);
        k -= 1000;
    }
    while k < -1000 {
        result *= f64::from_bits(((-1000 + 1023) as u64) << 52);
        k += 1000;
    }
    result * f64::from_bits(((k + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn exp_matches_libm_closely() {
        let mut x = -700.0;
        while x < 700.0 {
            assert!(close(exp(x), x.exp(), 4e-15), "exp({x}) = {} vs {}", exp(x), x.exp());
            x += 0.37;
        }
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(800.0), f64::INFINITY);
        assert_eq!(exp(-800.0), 0.0);
    }

    #[test]
    fn ln_matches_libm_closely() {
        let mut x = 1e-300;
        while x < 1e300 {
            assert!(close(ln(x), x.ln(), 4e-15) || (ln(x) - x.ln()).abs() < 1e-15, "ln({x})");
            x *= 1.7;
        }
        assert_eq!(ln(1.0), 0.0);
        assert!(ln(-1.0).is_nan());
        assert_eq!(ln(0.0), f64::NEG_INFINITY);
        assert!(close(ln(5e-324), (5e-324f64).ln(), 1e-14));
    }

    #[test]
    fn exp_and_ln_are_inverse() {
        for i in 1..1000 {
            let x = i as f64 * 0.731;
            assert!(close(exp(ln(x)), x, 1e-14), "{x}");
        }
    }

    #[test]
    fn the_logistic_table_is_close_to_the_function() {
        let table = LogisticTable::new();
        let mut z = -40.0;
        while z < 40.0 {
            assert!((table.get(z) - logistic(z)).abs() < 2e-6, "z = {z}");
            z += 0.0137;
        }
        assert_eq!(table.get(f64::NAN), 0.5);
    }

    #[test]
    fn logistic_is_symmetric_and_bounded() {
        for i in -100..100 {
            let z = i as f64 * 0.25;
            let p = logistic(z);
            assert!((0.0..=1.0).contains(&p));
            assert!((p + logistic(-z) - 1.0).abs() < 1e-15);
        }
        assert_eq!(logistic(0.0), 0.5);
    }
}
