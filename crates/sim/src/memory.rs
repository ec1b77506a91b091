//! What a run will need in memory, estimated before anything is allocated, so that a run
//! too large for the machine is refused up front instead of being killed halfway.
//!
//! The figures follow the data layout: 6 bytes a citizen in their group (`Member`), the
//! per-group structures, the notices alive between two closes, the incidents kept for
//! appeals, the simulator's bitsets of truth, and the ledger when it is kept in full.

use crate::scenario::Scenario;
use serde::Serialize;

/// An estimate, with its parts (name, bytes).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemoryEstimate {
    pub total_bytes: u64,
    pub parts: Vec<(&'static str, u64)>,
}

impl std::fmt::Display for MemoryEstimate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} GiB", self.total_bytes as f64 / (1u64 << 30) as f64)?;
        let parts: Vec<String> =
            self.parts.iter().map(|(n, b)| format!("{n} {:.2} GiB", *b as f64 / (1u64 << 30) as f64)).collect();
        write!(f, " ({})", parts.join(", "))
    }
}

/// Per-group bytes beyond the members: engine `Group` (64 B: the day's pending lists are
/// boxed only while something is pending, 128 B before), the directory's `GroupState`, the
/// centroid, allocator headers, and the placement index (three cone trees, ~40 B a group:
/// in each, a node of 16 B plus a 4-byte centre coordinate and a 4-byte largest coordinate
/// a topic for every ~12 groups; the tree over every group also lists them, 4 B each).
const GROUP_OVERHEAD: u64 = 200;

/// Estimates the peak memory of a run (group driver).
pub fn estimate(scenario: &Scenario) -> MemoryEstimate {
    let n = scenario.run.citizens as u64;
    let w = &scenario.world;
    let p = &scenario.policy;
    let mean_size = ((p.groups.min_size + p.groups.max_size) / 2).max(1) as u64;
    let groups = n.div_ceil(mean_size);
    let topics = w.topics as u64;
    let mut parts: Vec<(&'static str, u64)> = Vec::new();
    parts.push(("citizens in groups (6 B each)", n * std::mem::size_of::<xinyong_engine::Member>() as u64));
    parts.push(("groups", groups * (GROUP_OVERHEAD + topics * 4)));
    // Incidents a day: detected misconduct, false identifications, court reports.
    let rate = w.cameras.detection_rate * w.misconduct.daily_rate_mean
        + w.cameras.false_identification_rate
        + w.misconduct.debtor_share / w.misconduct.debtor_report_days.max(1) as f64;
    let incidents_per_day = (n as f64 * rate).ceil() as u64;
    // A notice batch keeps an answer a recipient (1 B) and ~128 B of its own; the
    // recipients themselves are the group's roster (no list while it is unchanged). A
    // group tallies yesterday's batches before delivering today's: one day's worth.
    parts.push(("open notices", incidents_per_day * (mean_size + 128)));
    parts.push(("incidents kept for appeals", 4 * incidents_per_day * 96));
    // Each KOL's promotions, 8 B each, kept for the scandal window and the day itself.
    let promotions = w.kol_count(scenario.run.citizens) as u64 * w.kols.promotions_per_day as u64;
    parts.push(("KOL promotions kept", promotions * (p.kol.scandal_window_days as u64 + 1) * 8));
    // Expelled citizens wait groupless for `regroup_after_days` (12 B each), a few per cent.
    parts.push(("groupless citizens", n / 20 * 12));
    parts.push(("truth bitsets", 2 * n.div_ceil(8)));
    let days = scenario.run.days as u64;
    if n <= scenario.run.ledger_max_citizens as u64 {
        // Entries (24 B) and the per-citizen index (4 B) for every notice answered.
        parts.push(("ledger", days * incidents_per_day * mean_size * 28));
    }
    parts.push(("metrics and tables", days * 1024 + (64 << 20)));
    // What the parts above do not capture, measured with `xinyong bench sim` (peak RSS minus
    // the parts): per-thread accumulators, the groups being worked on, the allocator's slack.
    // 0.6 B a citizen at 1.4 billion × 3 days, and about 1 B at 100 M over a year
    // (docs/BENCHMARKS.md); we count 1.5.
    parts.push(("day working set and allocator slack (measured)", n * 3 / 2));
    // Once expelled citizens are regrouped, groups grow and the allocator fragments. A
    // whole year at 100 M peaked at 12.4 B a citizen with the binary's allocator
    // (`crates/xinyong/src/allocator.rs`: mid-sized blocks on their own heap; 14.0 B with
    // glibc alone, 16.6 B before 7-byte members), 2.0 B under this estimate with 2.5 B
    // here (docs/BENCHMARKS.md): we count 1.5 B, which kept the estimate ~8 % above it.
    // With 6-byte members the year peaked at 11.2 B (1.04 GiB) against 1.15 GiB here.
    if scenario.run.days > scenario.policy.sanction.regroup_after_days {
        parts.push(("growth once the expelled are regrouped (measured)", n * 3 / 2));
    }
    if w.grouping == crate::world::GroupingMethod::Balanced {
        // While grouping: every profile (4 B a topic), the key order, the result and the
        // per-block copies (docs/grouping.md: 813 MB for 10 M citizens × 16 topics).
        parts.push(("balanced grouping (set-up only)", n * (topics * 4 + 16)));
    }
    MemoryEstimate { total_bytes: parts.iter().map(|(_, b)| b).sum(), parts }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_scale_is_mostly_the_6_byte_citizens() {
        let mut s = Scenario::default();
        s.run.citizens = 1_400_000_000;
        s.run.ledger_max_citizens = 0;
        // Balanced grouping would hold every profile: refused at this size.
        assert!(estimate(&s).total_bytes > 100 << 30);
        s.world.grouping = crate::world::GroupingMethod::Sorted;
        let e = estimate(&s);
        let citizens = e.parts[0].1;
        assert_eq!(citizens, 8_400_000_000);
        // The 6-byte members are the largest part; with two days of notices and the rest,
        // the whole is about twice that (docs/BENCHMARKS.md: above the 16 GiB goal).
        assert!(e.parts.iter().any(|(n, _)| n.starts_with("day working set")));
        assert!(e.total_bytes > citizens && e.total_bytes < 3 * citizens, "{e}");
    }

    #[test]
    fn a_full_ledger_dominates_a_long_run() {
        let mut s = Scenario::default();
        s.run.citizens = 200_000;
        let with_ledger = estimate(&s).total_bytes;
        s.run.ledger_max_citizens = 0;
        assert!(with_ledger > 2 * estimate(&s).total_bytes);
    }
}
