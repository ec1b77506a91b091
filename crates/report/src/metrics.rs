//! What each metrics column means: the one place that says which columns are **flows**
//! (counted per day, summed over a run) and which are **stocks** (a state at the day's
//! end, read at the last day), plus plain-language labels and units.
//!
//! The rule follows the data contract of `metrics.csv`:
//!
//! * `day` is the index, not a metric.
//! * **Stocks**: `citizens`, `groups`, `groupless`, `travel_banned`,
//!   `banned_never_offended`, `people_falsely_flagged` (a running count of distinct
//!   people), every `tier_*`, every `score_*` (mean, percentiles, Gini), every
//!   `kol_credibility_*` and every `group_size_*` column. A run's value for a stock is its
//!   **last** finite value.
//! * **Flows**: every other column — incidents, notices, answers, expulsions, appeals,
//!   regroupings, orders, refused orders, GMV, discounts, pools, scandals, and columns
//!   added later (denunciations, vouchers, …) unless they are added to the stock list
//!   here. A run's value for a flow is the **sum** of its finite daily values.
//!
//! `compare` and `sweep` use exactly this rule for their per-run values.

use crate::Table;

/// How a metrics column aggregates over a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricKind {
    /// Counted per day (incidents, orders, yuan…): a run's value is the total.
    Flow,
    /// A state at the day's end (citizens, tier counts, percentiles…): a run's value is
    /// the last day's.
    Stock,
}

/// Stock columns named exactly.
const STOCK_NAMES: &[&str] = &[
    "citizens",
    "groups",
    "groupless",
    "travel_banned",
    "banned_never_offended",
    // Distinct people flagged so far: cumulative, so its last value is the run's value.
    "people_falsely_flagged",
];

/// Stock columns named by prefix (tier names and distribution statistics vary).
const STOCK_PREFIXES: &[&str] = &["tier_", "score_", "kol_credibility_", "group_size_"];

/// The index column: neither flow nor stock.
pub const DAY_COLUMN: &str = "day";

impl MetricKind {
    /// The kind of a metrics column; `None` for the `day` index.
    pub fn of(column: &str) -> Option<MetricKind> {
        if column == DAY_COLUMN {
            None
        } else if STOCK_NAMES.contains(&column) || STOCK_PREFIXES.iter().any(|prefix| column.starts_with(prefix)) {
            Some(MetricKind::Stock)
        } else {
            Some(MetricKind::Flow)
        }
    }

    /// "total" or "end of run", for tables.
    pub fn aggregate_name(self) -> &'static str {
        match self {
            MetricKind::Flow => "total",
            MetricKind::Stock => "end of run",
        }
    }

    /// A run's value from its daily values: the sum of finite values for a flow, the last
    /// finite value for a stock; NaN when there is none.
    pub fn aggregate(self, daily: &[f64]) -> f64 {
        match self {
            MetricKind::Flow => {
                let mut finite = daily.iter().filter(|value| value.is_finite()).peekable();
                if finite.peek().is_none() { f64::NAN } else { finite.sum() }
            }
            MetricKind::Stock => daily.iter().rev().copied().find(|value| value.is_finite()).unwrap_or(f64::NAN),
        }
    }
}

/// A run's value of `column` (see [`MetricKind::aggregate`]); `None` if the table lacks
/// the column or `column` is the day index.
pub fn run_value(table: &Table, column: &str) -> Option<f64> {
    let kind = MetricKind::of(column)?;
    table.column(column).map(|daily| kind.aggregate(daily))
}

/// The metric columns of a table (every column but `day`), in file order.
pub fn metric_columns(table: &Table) -> Vec<String> {
    table.names().iter().filter(|name| MetricKind::of(name).is_some()).cloned().collect()
}

/// The metrics `compare` draws day by day and `sweep` draws against parameters, when
/// present: the outcomes a reader of the article asks about first.
pub const KEY_METRICS: &[&str] = &[
    "score_p50",
    "incidents_false",
    "people_falsely_flagged",
    "expulsions",
    "expulsions_innocent",
    "groupless",
    "travel_banned",
    "banned_never_offended",
    "orders",
    "orders_refused_travel",
    "gmv",
    "discount_group",
    "discount_credit",
    "kol_credibility_mean",
    "denunciations_false_confirmed",
];

/// Plain-language label and unit of a column, e.g. `gmv` → ("gross merchandise value",
/// "yuan"). Unknown columns keep their name and have no unit.
pub fn describe(column: &str) -> (String, &'static str) {
    let known: Option<(&str, &'static str)> = match column {
        "day" => Some(("day", "day")),
        "citizens" => Some(("citizens", "people")),
        "groups" => Some(("interest groups", "groups")),
        "groupless" => Some(("groupless citizens", "people")),
        "incidents_true" => Some(("true incidents", "incidents")),
        "incidents_false" => Some(("false identifications", "incidents")),
        "notices" => Some(("notices sent", "messages")),
        "answers_expel" => Some(("answers: expel", "answers")),
        "answers_keep" => Some(("answers: keep", "answers")),
        "answers_none" => Some(("no answer", "answers")),
        "expulsions" => Some(("expulsions", "people")),
        "expulsions_innocent" => Some(("innocent people expelled", "people")),
        "expulsions_innocent_camera" => Some(("innocent expelled (camera)", "people")),
        "expulsions_innocent_denunciation" => Some(("innocent expelled (denunciation)", "people")),
        "appeals" => Some(("appeals", "appeals")),
        "appeals_granted" => Some(("appeals granted", "appeals")),
        "regrouped" => Some(("citizens regrouped", "people")),
        "score_mean" => Some(("mean score", "points")),
        "score_p10" => Some(("score, 10th percentile", "points")),
        "score_p50" => Some(("median score", "points")),
        "score_p90" => Some(("score, 90th percentile", "points")),
        "score_gini" => Some(("score Gini coefficient", "0–1")),
        "travel_banned" => Some(("travel-banned citizens", "people")),
        "banned_never_offended" => Some(("banned, never offended", "people")),
        "people_falsely_flagged" => Some(("distinct people falsely flagged", "people")),
        "orders" => Some(("orders", "orders")),
        "orders_refused_travel" => Some(("travel tickets refused", "orders")),
        "gmv" => Some(("gross merchandise value", "yuan")),
        "discount_group" => Some(("group-tier discounts", "yuan")),
        "discount_credit" => Some(("credit-tier discounts", "yuan")),
        "pools" => Some(("order pools", "pools")),
        "kol_credibility_mean" => Some(("mean KOL credibility", "0–1")),
        "kol_credibility_p10" => Some(("KOL credibility, 10th percentile", "0–1")),
        "kol_credibility_p50" => Some(("median KOL credibility", "0–1")),
        "kol_credibility_p90" => Some(("KOL credibility, 90th percentile", "0–1")),
        "scandals" => Some(("product scandals", "scandals")),
        "group_size_min" => Some(("smallest group", "people")),
        "group_size_mean" => Some(("mean group size", "people")),
        "group_size_max" => Some(("largest group", "people")),
        "denunciations" => Some(("denunciations", "reports")),
        "denunciations_confirmed" => Some(("denunciations confirmed", "reports")),
        "denunciations_false_confirmed" => Some(("false denunciations confirmed", "reports")),
        "vouchers_issued" => Some(("vouchers issued", "vouchers")),
        "vouchers_used" => Some(("vouchers used", "vouchers")),
        _ => None,
    };
    if let Some((label, unit)) = known {
        return (label.to_string(), unit);
    }
    if let Some(tier) = column.strip_prefix("tier_") {
        return (format!("citizens in tier {tier}"), "people");
    }
    if let Some(level) = column.strip_prefix("pools_tier_") {
        return (format!("pools reaching discount tier {level}"), "pools");
    }
    if let Some(reason) = column.strip_prefix("orders_refused_") {
        return (format!("orders refused ({})", reason.replace('_', " ")), "orders");
    }
    (column.to_string(), "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_contract_columns_have_the_documented_kinds() {
        for stock in [
            "citizens",
            "groups",
            "groupless",
            "tier_AAA",
            "tier_D",
            "travel_banned",
            "score_p50",
            "score_gini",
            "kol_credibility_p90",
            "group_size_max",
            "banned_never_offended",
            "people_falsely_flagged",
        ] {
            assert_eq!(MetricKind::of(stock), Some(MetricKind::Stock), "{stock}");
        }
        for flow in [
            "incidents_true",
            "answers_none",
            "expulsions_innocent",
            "orders_refused_travel",
            "gmv",
            "discount_credit",
            "pools_tier_3",
            "scandals",
            "denunciations_false_confirmed",
            "vouchers_used",
        ] {
            assert_eq!(MetricKind::of(flow), Some(MetricKind::Flow), "{flow}");
        }
        assert_eq!(MetricKind::of("day"), None);
    }

    #[test]
    fn flows_sum_and_stocks_keep_the_last_value() {
        let daily = [1.0, f64::NAN, 2.0, 4.0, f64::NAN];
        assert_eq!(MetricKind::Flow.aggregate(&daily), 7.0);
        assert_eq!(MetricKind::Stock.aggregate(&daily), 4.0);
        assert!(MetricKind::Flow.aggregate(&[f64::NAN]).is_nan());
        assert!(MetricKind::Stock.aggregate(&[]).is_nan());
    }
}
