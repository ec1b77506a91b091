//! One row of metrics per simulated day (MODEL.md §4), written as CSV and Parquet.
//!
//! Column names are a contract with the report, the Python package and researchers'
//! scripts: they are listed once, in [`MetricsRow::columns`]. Tier columns follow the
//! scenario's tier names (`tier_AAA`, ...); pool tiers are numbered from 1.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use xinyong_engine::Fen;

/// A value in the table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Cell {
    Int(i64),
    /// A float printed with a fixed number of decimals (so the bytes are stable).
    Float(f64, usize),
    /// Money in fen, printed as yuan with two decimals.
    Money(Fen),
}

impl Cell {
    pub fn write(&self, out: &mut String) {
        match *self {
            Cell::Int(v) => write!(out, "{v}").expect("writing to a string"),
            Cell::Float(v, decimals) => write!(out, "{v:.decimals$}").expect("writing to a string"),
            Cell::Money(fen) => out.push_str(&xinyong_engine::format_yuan(fen)),
        }
    }

    pub fn as_f64(&self) -> f64 {
        match *self {
            Cell::Int(v) => v as f64,
            Cell::Float(v, _) => v,
            Cell::Money(fen) => fen as f64 / 100.0,
        }
    }
}

/// The day's metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricsRow {
    pub day: u32,
    pub citizens: u64,
    pub groups: u64,
    pub groupless: u64,
    pub incidents_true: u64,
    pub incidents_false: u64,
    pub notices: u64,
    pub answers_expel: u64,
    pub answers_keep: u64,
    pub answers_none: u64,
    pub expulsions: u64,
    pub expulsions_innocent: u64,
    pub appeals: u64,
    pub appeals_granted: u64,
    pub regrouped: u64,
    pub score_mean: f64,
    pub score_p10: i64,
    pub score_p50: i64,
    pub score_p90: i64,
    pub score_gini: f64,
    /// Citizens per tier, in the policy's order (highest first).
    pub tiers: Vec<u64>,
    pub travel_banned: u64,
    pub orders: u64,
    pub orders_refused_travel: u64,
    pub gmv: Fen,
    pub discount_group: Fen,
    pub discount_credit: Fen,
    pub pools: u64,
    /// Pools that reached each pool tier (index 0 = tier 1).
    pub pools_by_tier: Vec<u64>,
    pub kol_credibility_mean: f64,
    pub kol_credibility_p10: f64,
    pub kol_credibility_p50: f64,
    pub kol_credibility_p90: f64,
    pub scandals: u64,
    pub group_size_min: u64,
    pub group_size_mean: f64,
    pub group_size_max: u64,
    /// Distinct citizens flagged at least once for something they did not do (cumulative).
    pub people_falsely_flagged: u64,
    /// Citizens banned from travel who never committed a detected offence.
    pub banned_never_offended: u64,
    /// Present when the policy enables denunciation (its columns come last, and only then:
    /// with denunciation off the table is the same bytes as without the feature).
    pub denunciation: Option<DenunciationRow>,
}

/// The day's denunciation and voucher figures.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DenunciationRow {
    /// Reports filed (accepted by the engine).
    pub denunciations: u64,
    pub denunciations_confirmed: u64,
    /// Confirmed reports against people who did nothing.
    pub denunciations_false_confirmed: u64,
    pub vouchers_issued: u64,
    pub vouchers_used: u64,
    pub vouchers_expired: u64,
    pub discount_voucher: Fen,
    /// `expulsions_innocent` split by where the false incident came from.
    pub expulsions_innocent_camera: u64,
    pub expulsions_innocent_denunciation: u64,
}

impl MetricsRow {
    /// Column names and values, in file order.
    pub fn columns(&self, tier_names: &[String]) -> Vec<(String, Cell)> {
        assert_eq!(self.tiers.len(), tier_names.len(), "one count per tier");
        let mut c: Vec<(String, Cell)> = Vec::with_capacity(48);
        let mut int = |name: &str, v: u64| c.push((name.to_string(), Cell::Int(v as i64)));
        int("day", self.day as u64);
        int("citizens", self.citizens);
        int("groups", self.groups);
        int("groupless", self.groupless);
        int("incidents_true", self.incidents_true);
        int("incidents_false", self.incidents_false);
        int("notices", self.notices);
        int("answers_expel", self.answers_expel);
        int("answers_keep", self.answers_keep);
        int("answers_none", self.answers_none);
        int("expulsions", self.expulsions);
        int("expulsions_innocent", self.expulsions_innocent);
        int("appeals", self.appeals);
        int("appeals_granted", self.appeals_granted);
        int("regrouped", self.regrouped);
        c.push(("score_mean".into(), Cell::Float(self.score_mean, 4)));
        c.push(("score_p10".into(), Cell::Int(self.score_p10)));
        c.push(("score_p50".into(), Cell::Int(self.score_p50)));
        c.push(("score_p90".into(), Cell::Int(self.score_p90)));
        c.push(("score_gini".into(), Cell::Float(self.score_gini, 6)));
        for (name, &n) in tier_names.iter().zip(&self.tiers) {
            c.push((format!("tier_{name}"), Cell::Int(n as i64)));
        }
        let mut int = |name: &str, v: u64| c.push((name.to_string(), Cell::Int(v as i64)));
        int("travel_banned", self.travel_banned);
        int("orders", self.orders);
        int("orders_refused_travel", self.orders_refused_travel);
        c.push(("gmv".into(), Cell::Money(self.gmv)));
        c.push(("discount_group".into(), Cell::Money(self.discount_group)));
        c.push(("discount_credit".into(), Cell::Money(self.discount_credit)));
        c.push(("pools".into(), Cell::Int(self.pools as i64)));
        for (i, &n) in self.pools_by_tier.iter().enumerate() {
            c.push((format!("pools_tier_{}", i + 1), Cell::Int(n as i64)));
        }
        for (name, v) in [
            ("kol_credibility_mean", self.kol_credibility_mean),
            ("kol_credibility_p10", self.kol_credibility_p10),
            ("kol_credibility_p50", self.kol_credibility_p50),
            ("kol_credibility_p90", self.kol_credibility_p90),
        ] {
            c.push((name.into(), Cell::Float(v, 6)));
        }
        c.push(("scandals".into(), Cell::Int(self.scandals as i64)));
        c.push(("group_size_min".into(), Cell::Int(self.group_size_min as i64)));
        c.push(("group_size_mean".into(), Cell::Float(self.group_size_mean, 2)));
        c.push(("group_size_max".into(), Cell::Int(self.group_size_max as i64)));
        c.push(("people_falsely_flagged".into(), Cell::Int(self.people_falsely_flagged as i64)));
        c.push(("banned_never_offended".into(), Cell::Int(self.banned_never_offended as i64)));
        if let Some(n) = &self.denunciation {
            let mut int = |name: &str, v: u64| c.push((name.to_string(), Cell::Int(v as i64)));
            int("denunciations", n.denunciations);
            int("denunciations_confirmed", n.denunciations_confirmed);
            int("denunciations_false_confirmed", n.denunciations_false_confirmed);
            int("vouchers_issued", n.vouchers_issued);
            int("vouchers_used", n.vouchers_used);
            int("vouchers_expired", n.vouchers_expired);
            c.push(("discount_voucher".into(), Cell::Money(n.discount_voucher)));
            let mut int = |name: &str, v: u64| c.push((name.to_string(), Cell::Int(v as i64)));
            int("expulsions_innocent_camera", n.expulsions_innocent_camera);
            int("expulsions_innocent_denunciation", n.expulsions_innocent_denunciation);
        }
        c
    }
}

/// The whole table as CSV (header + one line per day). Deterministic bytes.
pub fn to_csv(rows: &[MetricsRow], tier_names: &[String]) -> String {
    let mut out = String::with_capacity(rows.len() * 300 + 600);
    let Some(first) = rows.first() else { return out };
    let header: Vec<String> = first.columns(tier_names).into_iter().map(|(n, _)| n).collect();
    out.push_str(&header.join(","));
    out.push('\n');
    for row in rows {
        for (i, (_, cell)) in row.columns(tier_names).iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell.write(&mut out);
        }
        out.push('\n');
    }
    out
}

/// Column names for a policy (used when there are no rows yet).
pub fn column_names(tier_names: &[String], pool_tiers: usize) -> Vec<String> {
    let row =
        MetricsRow { tiers: vec![0; tier_names.len()], pools_by_tier: vec![0; pool_tiers], ..MetricsRow::default() };
    row.columns(tier_names).into_iter().map(|(n, _)| n).collect()
}

/// Nearest-rank percentile of sorted values.
pub fn percentile_sorted(sorted: &[f64], percent: u32) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((percent as usize * sorted.len()).div_ceil(100)).max(1);
    sorted[rank - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_has_the_documented_columns_in_order() {
        let tiers: Vec<String> = ["AAA", "AA", "A", "B", "C", "D"].iter().map(|s| s.to_string()).collect();
        let names = column_names(&tiers, 3);
        let required = [
            "day",
            "citizens",
            "groups",
            "groupless",
            "incidents_true",
            "incidents_false",
            "notices",
            "answers_expel",
            "answers_keep",
            "answers_none",
            "expulsions",
            "expulsions_innocent",
            "appeals",
            "score_mean",
            "score_p10",
            "score_p50",
            "score_p90",
            "score_gini",
            "tier_AAA",
            "tier_AA",
            "tier_A",
            "tier_B",
            "tier_C",
            "tier_D",
            "travel_banned",
            "orders",
            "orders_refused_travel",
            "gmv",
            "discount_group",
            "discount_credit",
            "kol_credibility_mean",
        ];
        let mut last = 0;
        for r in required {
            let at = names.iter().position(|n| n == r).unwrap_or_else(|| panic!("missing column {r}"));
            assert!(at >= last, "{r} out of order");
            last = at;
        }
        assert!(names.contains(&"pools_tier_3".to_string()));
    }

    #[test]
    fn cells_print_stable_text() {
        let mut s = String::new();
        Cell::Float(1000.0 / 3.0, 4).write(&mut s);
        s.push('|');
        Cell::Money(123_456).write(&mut s);
        s.push('|');
        Cell::Int(-7).write(&mut s);
        assert_eq!(s, "333.3333|1234.56|-7");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let v = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0];
        assert_eq!(percentile_sorted(&v, 10), 0.1);
        assert_eq!(percentile_sorted(&v, 50), 0.5);
        assert_eq!(percentile_sorted(&v, 90), 0.9);
        assert_eq!(percentile_sorted(&[], 50), 0.0);
    }
}
