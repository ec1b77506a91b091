//! Prices: list × (1 − group discount) × (1 − credit-tier discount), total capped.
//!
//! Money is in fen (1/100 yuan) as `i64`, discounts in basis points: every price is
//! an exact integer, computed the same way on every machine. Rounding is half up, at
//! two points only (after the group discount and after the credit discount), so the
//! breakdown always adds up: `unit = list − group − credit`.

use crate::policy::BasisPoints;
use serde::{Deserialize, Serialize};

/// An amount of money in fen (1/100 yuan).
pub type Fen = i64;

const BP: i64 = 10_000;

/// Why a unit costs what it costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PriceBreakdown {
    pub list_price: Fen,
    /// Discount of the group pool's tier, in basis points (0 when groupless or below tier 1).
    pub group_discount_bp: BasisPoints,
    /// Personal discount of the buyer's credit tier (0 unless the product is a favourite).
    pub credit_discount_bp: BasisPoints,
    /// Money taken off by the group discount, per unit.
    pub group_discount: Fen,
    /// Money taken off by the credit-tier discount, per unit, after the cap.
    pub credit_discount: Fen,
    /// True when the cap on the total discount reduced the credit discount.
    pub capped: bool,
    /// A denunciation voucher's discount, applied after the capped discounts (0 without one).
    #[serde(default)]
    pub voucher_bp: BasisPoints,
    /// Money taken off by the voucher, per unit.
    #[serde(default)]
    pub voucher_discount: Fen,
    /// What one unit costs: `list_price − group_discount − credit_discount − voucher_discount`.
    pub unit_price: Fen,
}

impl PriceBreakdown {
    /// The same price with a voucher taken off (rounded half up, per unit). Vouchers are a
    /// reward, outside the cap on tier discounts.
    pub fn with_voucher(mut self, voucher_bp: BasisPoints) -> PriceBreakdown {
        assert!(voucher_bp < BP as u32, "a voucher cannot make a unit free");
        let off = round_div(self.unit_price as i128 * voucher_bp as i128, BP as i128);
        self.voucher_bp = voucher_bp;
        self.voucher_discount = off;
        self.unit_price -= off;
        debug_assert_eq!(
            self.unit_price,
            self.list_price - self.group_discount - self.credit_discount - self.voucher_discount
        );
        self
    }
}

fn round_div(numerator: i128, denominator: i128) -> i64 {
    debug_assert!(numerator >= 0 && denominator > 0);
    let rounded = numerator + denominator / 2;
    // The same quotient in 64 bits when it fits (every realistic price): a 128-bit
    // division is a library call, ~3 % of a simulated day.
    match (u64::try_from(rounded), u64::try_from(denominator)) {
        (Ok(n), Ok(d)) => (n / d) as i64,
        _ => (rounded / denominator) as i64,
    }
}

/// The price of one unit.
///
/// Preconditions (guaranteed by policy validation): every discount ≤ `max_discount_bp`
/// < 10,000, and `list_price` ≥ 0.
pub fn unit_price(
    list_price: Fen,
    group_discount_bp: BasisPoints,
    credit_discount_bp: BasisPoints,
    max_discount_bp: BasisPoints,
) -> PriceBreakdown {
    assert!(list_price >= 0, "list price must not be negative");
    assert!(group_discount_bp <= max_discount_bp && credit_discount_bp <= max_discount_bp);
    assert!((max_discount_bp as i64) < BP);
    let list = list_price as i128;
    let after_group = round_div(list * (BP - group_discount_bp as i64) as i128, BP as i128);
    let after_both = round_div(
        list * (BP - group_discount_bp as i64) as i128 * (BP - credit_discount_bp as i64) as i128,
        (BP * BP) as i128,
    );
    let floor = round_div(list * (BP - max_discount_bp as i64) as i128, BP as i128);
    let unit = after_both.max(floor);
    let capped = floor > after_both;
    let breakdown = PriceBreakdown {
        list_price,
        group_discount_bp,
        credit_discount_bp,
        group_discount: list_price - after_group,
        credit_discount: after_group - unit,
        capped,
        voucher_bp: 0,
        voucher_discount: 0,
        unit_price: unit,
    };
    debug_assert!(breakdown.credit_discount >= 0, "the cap never exceeds the credit discount");
    debug_assert_eq!(breakdown.unit_price, list_price - breakdown.group_discount - breakdown.credit_discount);
    breakdown
}

/// Formats fen as yuan with two decimals ("12.30").
pub fn format_yuan(fen: Fen) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn list_price_without_discounts() {
        let b = unit_price(12_345, 0, 0, 4000);
        assert_eq!(b.unit_price, 12_345);
        assert_eq!((b.group_discount, b.credit_discount, b.capped), (0, 0, false));
    }

    #[test]
    fn group_then_credit_discount_compose() {
        // 100 yuan, 30 % group, 10 % credit → 100 × 0.7 × 0.9 = 63 (37 % off, under the 40 % cap).
        let b = unit_price(10_000, 3000, 1000, 4000);
        assert_eq!(b.unit_price, 6_300);
        assert_eq!(b.group_discount, 3_000);
        assert_eq!(b.credit_discount, 700);
        assert!(!b.capped);
    }

    #[test]
    fn cap_limits_the_total_discount() {
        // 30 % then 20 % would be 44 % off; the cap holds it to 40 %.
        let b = unit_price(10_000, 3000, 2000, 4000);
        assert_eq!(b.unit_price, 6_000);
        assert!(b.capped);
        assert_eq!(b.group_discount, 3_000);
        assert_eq!(b.credit_discount, 1_000);
    }

    #[test]
    fn a_voucher_comes_off_after_the_capped_discounts() {
        // 30 % group and 20 % credit are capped at 40 %: 60 yuan; a 10 % voucher: 54.
        let b = unit_price(10_000, 3000, 2000, 4000).with_voucher(1000);
        assert_eq!(b.unit_price, 5_400);
        assert_eq!(b.voucher_discount, 600);
        assert_eq!(b.unit_price, b.list_price - b.group_discount - b.credit_discount - b.voucher_discount);
    }

    #[test]
    fn yuan_formatting() {
        assert_eq!(format_yuan(0), "0.00");
        assert_eq!(format_yuan(1230), "12.30");
        assert_eq!(format_yuan(-5), "-0.05");
    }

    proptest! {
        #[test]
        fn discounts_never_exceed_the_cap_and_always_add_up(
            list in 0i64..10_000_000_000,
            max in 0u32..9_999,
            g_frac in 0.0f64..=1.0,
            c_frac in 0.0f64..=1.0,
        ) {
            let g = (max as f64 * g_frac) as u32;
            let c = (max as f64 * c_frac) as u32;
            let b = unit_price(list, g, c, max);
            prop_assert_eq!(b.unit_price, list - b.group_discount - b.credit_discount);
            prop_assert!(b.group_discount >= 0 && b.credit_discount >= 0);
            prop_assert!(b.unit_price <= list);
            // Total discount ≤ cap (up to half a fen of rounding on the floor price).
            let floor = (list as i128 * (10_000 - max as i128) + 5_000) / 10_000;
            prop_assert!(b.unit_price as i128 >= floor);
        }
    }
}
