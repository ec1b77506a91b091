//! A synthetic but realistic run, for the tests and the `demo` example: the columns of the
//! metrics contract with values of the size a default run produces (10,000 citizens in
//! about 40 groups, scores around 1000, a few dozen incidents a day, campaign days).
//! Deterministic: the same (days, seed) gives the same table.

#![allow(dead_code)]

use serde_json::{Value, json};
use xinyong_report::Table;

/// splitmix64: enough randomness for plausible noise, no dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly Poisson(mean) for small means: a rounded normal, not below zero.
    fn count(&mut self, mean: f64) -> f64 {
        let normal = (0..6).map(|_| self.next()).sum::<f64>() - 3.0;
        (mean + normal * mean.sqrt() * 1.4).round().max(0.0)
    }
}

pub const TIERS: [&str; 6] = ["AAA", "AA", "A", "B", "C", "D"];

/// `days` days of metrics with every contract column, and the matching summary.
pub fn synthetic_run(days: usize, seed: u64) -> (Table, Value) {
    let mut noise = Noise(seed);
    let citizens: f64 = 10_000.0;
    let mut columns: Vec<(String, Vec<f64>)> = Vec::new();
    let mut push = |name: &str, row: usize, value: f64| {
        if row == 0 {
            columns.push((name.to_string(), Vec::with_capacity(days)));
        }
        let column = columns.iter_mut().find(|(n, _)| n == name).expect("column");
        column.1.push(value);
    };
    let mut groupless: f64 = 0.0;
    let mut pending_regroup = vec![0.0; days + 31];
    let mut previous_incidents: f64 = 0.0;
    let mut previous_false = 0.0;
    let mut kol = 0.62;
    let mut scandal_events = Vec::new();
    let mut totals = (0.0, 0.0, 0.0, 0.0);
    let mut falsely_flagged_people = 0.0;
    for row in 0..days {
        let day = row as f64;
        let progress = day / days.max(1) as f64;
        let weekday = row % 7;
        let campaign = row % 30 == 11 || row % 30 == 12;
        let incidents_true = noise.count(11.0);
        let incidents_false = noise.count(2.6);
        let notices = (previous_incidents * 248.0).round();
        let answers_expel = (notices * (0.52 + 0.06 * progress) * (0.95 + 0.1 * noise.next())).round();
        let answers_keep = (notices * 0.31 * (0.95 + 0.1 * noise.next())).round();
        let answers_none = (notices - answers_expel - answers_keep).max(0.0);
        let expulsions = (previous_incidents * (0.42 + 0.1 * progress)).round();
        let expulsions_innocent =
            if previous_incidents > 0.0 { (expulsions * previous_false / previous_incidents).round() } else { 0.0 };
        let appeals = noise.count(expulsions_innocent * 0.6 + 0.5);
        let appeals_granted = (appeals * 0.35).round();
        pending_regroup[row + 30] += expulsions - appeals_granted;
        let regrouped = pending_regroup[row] + appeals_granted;
        groupless = (groupless + expulsions - regrouped).max(0.0);

        let p50 = 1000.0 + 14.0 * progress + noise.next();
        let p10 = 992.0 - 48.0 * progress - noise.next() * 2.0;
        let p90 = 1009.0 + 46.0 * progress + noise.next() * 2.0;
        let mean = (p10 + 3.0 * p50 + p90) / 5.0;
        let gini = 0.002 + 0.018 * progress;
        let tier_d = (4.0 + 190.0 * progress * progress).round();
        let tier_c = (20.0 + 420.0 * progress).round();
        let tier_b = (60.0 + 900.0 * progress).round();
        let tier_aaa = (700.0 * progress * progress).round();
        let tier_aa = (150.0 + 1900.0 * progress).round();
        let tier_a = citizens - tier_d - tier_c - tier_b - tier_aaa - tier_aa;

        let base_orders = 2400.0 + if weekday >= 5 { 700.0 } else { 0.0 };
        let orders = noise.count(if campaign { base_orders * 2.3 } else { base_orders });
        let refused_travel = noise.count(tier_d * 0.012);
        let gmv = (orders * (82.0 + 6.0 * noise.next()) * 100.0).round() / 100.0;
        let discount_group = (gmv * (0.10 + if campaign { 0.06 } else { 0.0 }) * 100.0).round() / 100.0;
        let discount_credit = (gmv * (0.012 + 0.015 * progress) * 100.0).round() / 100.0;
        let pools = noise.count(orders * 0.7);
        let tier3 = noise.count(if campaign { 60.0 } else { 12.0 });
        let tier2 = noise.count(if campaign { 120.0 } else { 40.0 });
        let tier1 = noise.count(if campaign { 260.0 } else { 150.0 });

        let scandals = if noise.next() < 0.07 { 1.0 } else { 0.0 };
        if scandals > 0.0 {
            let hit = (3.0 + noise.next() * 20.0).round();
            kol *= 1.0 - hit / 200.0;
            scandal_events.push(json!({"day": row, "product": 1000 + row * 7, "kols_hit": hit}));
        } else {
            kol += 0.0015 * (1.0 - kol);
        }

        totals.0 += incidents_false;
        totals.1 += expulsions;
        totals.2 += expulsions_innocent;
        totals.3 += orders;

        push("day", row, day);
        push("citizens", row, citizens);
        push("groups", row, 40.0);
        push("groupless", row, groupless);
        push("incidents_true", row, incidents_true);
        push("incidents_false", row, incidents_false);
        push("notices", row, notices);
        push("answers_expel", row, answers_expel);
        push("answers_keep", row, answers_keep);
        push("answers_none", row, answers_none);
        push("expulsions", row, expulsions);
        push("expulsions_innocent", row, expulsions_innocent);
        push("appeals", row, appeals);
        push("appeals_granted", row, appeals_granted);
        push("regrouped", row, regrouped);
        push("score_mean", row, mean);
        push("score_p10", row, p10);
        push("score_p50", row, p50);
        push("score_p90", row, p90);
        push("score_gini", row, gini);
        push("tier_AAA", row, tier_aaa);
        push("tier_AA", row, tier_aa);
        push("tier_A", row, tier_a);
        push("tier_B", row, tier_b);
        push("tier_C", row, tier_c);
        push("tier_D", row, tier_d);
        push("travel_banned", row, tier_d);
        push("orders", row, orders);
        push("orders_refused_travel", row, refused_travel);
        push("gmv", row, gmv);
        push("discount_group", row, discount_group);
        push("discount_credit", row, discount_credit);
        push("pools", row, pools);
        push("pools_tier_1", row, tier1);
        push("pools_tier_2", row, tier2);
        push("pools_tier_3", row, tier3);
        push("kol_credibility_mean", row, kol);
        push("kol_credibility_p10", row, kol * 0.55);
        push("kol_credibility_p50", row, kol * 1.02);
        push("kol_credibility_p90", row, (kol * 1.38).min(1.0));
        push("scandals", row, scandals);
        push("group_size_min", row, 232.0 - (expulsions / 2.0).round());
        push("group_size_mean", row, 250.0 - groupless / 40.0);
        push("group_size_max", row, 291.0);
        falsely_flagged_people += (incidents_false * 0.9).round();
        push("people_falsely_flagged", row, falsely_flagged_people);
        push("banned_never_offended", row, (tier_d * 0.3).round());

        previous_incidents = incidents_true + incidents_false;
        previous_false = incidents_false;
    }
    let table = Table::from_columns(columns).expect("synthetic columns are consistent");
    // Shaped like the simulator's summary.json (crates/sim/src/summary.rs).
    let summary = json!({
        "version": "0.1.0",
        "seed": 42,
        "days": days,
        "citizens": 10000,
        "scenario": {
            "run": { "name": "synthetic demo", "seed": 42, "days": days, "citizens": 10000, "threads": 0 },
            "policy": {
                "initial_score": 1000,
                "score_min": 0,
                "score_max": 2000,
                "max_discount": 0.4,
                "groups": { "min_size": 200, "max_size": 300 },
                "sanction": {
                    "expel_reward": 3, "keep_penalty": 3, "abstain_as": "keep",
                    "expel_quorum": 0.5, "regroup_after_days": 30
                },
                "group_discounts": [
                    { "min_units": 10, "discount": 0.2 },
                    { "min_units": 25, "discount": 0.25 },
                    { "min_units": 50, "discount": 0.3 }
                ],
                "tiers": [
                    { "name": "AAA", "min_score": 1050, "favourite_discount": 0.1, "restrictions": [] },
                    { "name": "AA", "min_score": 1030, "favourite_discount": 0.05, "restrictions": [] },
                    { "name": "A", "min_score": 960, "favourite_discount": 0.0, "restrictions": [] },
                    { "name": "B", "min_score": 850, "favourite_discount": 0.0, "restrictions": [] },
                    { "name": "C", "min_score": 600, "favourite_discount": 0.0, "restrictions": [] },
                    { "name": "D", "min_score": 0, "favourite_discount": 0.0, "restrictions": ["travel"] }
                ]
            },
            "world": {
                "cameras": { "detection_rate": 0.6, "false_identification_rate": 0.00026 },
                "kols": { "count": 120, "scandal_window_days": 30, "scandal_factor": 0.5 }
            }
        },
        "wall_time_seconds": 3.21,
        "peak_rss_bytes": 187_000_000,
        "totals": {
            "incidents_false": totals.0,
            "expulsions": totals.1,
            "expulsions_innocent": totals.2,
            "orders": totals.3
        },
        "pools_by_tier": [
            { "discount": 0.2, "min_units": 10, "pools": 1, "share": 0.1 },
            { "discount": 0.25, "min_units": 25, "pools": 1, "share": 0.1 },
            { "discount": 0.3, "min_units": 50, "pools": 1, "share": 0.1 }
        ],
        "final_tiers": { "AAA": 1, "AA": 1, "A": 1, "B": 1, "C": 1, "D": 1 },
        "real_figures": {
            "source": "National Public Credit Information Center, 2018 annual report, as reported by the Associated Press (19 Feb 2019).",
            "banned_share_real": 13.0e6 / 1.4e9
        },
        "threads": 2,
        "scandal_events": scandal_events
    });
    (table, summary)
}

/// The same run with the columns a later issue adds (denunciations and vouchers).
pub fn with_denunciations(table: &Table) -> Table {
    let mut out = table.clone();
    let days = table.len();
    let mut noise = Noise(99);
    let mut all = Vec::with_capacity(days);
    let mut confirmed = Vec::with_capacity(days);
    let mut false_confirmed = Vec::with_capacity(days);
    let mut issued = Vec::with_capacity(days);
    let mut used = Vec::with_capacity(days);
    let mut camera = Vec::with_capacity(days);
    let mut denunciation = Vec::with_capacity(days);
    let innocent = table.column("expulsions_innocent").expect("column");
    for innocent_today in innocent {
        let a = noise.count(9.0);
        let c = (a * 0.6).round();
        let f = (c * 0.25).round();
        all.push(a);
        confirmed.push(c);
        false_confirmed.push(f);
        issued.push(c);
        used.push((c * 0.7).round());
        let d = (innocent_today / 3.0).floor();
        denunciation.push(d);
        camera.push(innocent_today - d);
    }
    for (name, values) in [
        ("denunciations", all),
        ("denunciations_confirmed", confirmed),
        ("denunciations_false_confirmed", false_confirmed),
        ("vouchers_issued", issued),
        ("vouchers_used", used),
        ("expulsions_innocent_camera", camera),
        ("expulsions_innocent_denunciation", denunciation),
    ] {
        out.push_column(name, values).expect("new column");
    }
    out
}

/// Drops the named columns.
pub fn without(table: &Table, names: &[&str]) -> Table {
    Table::from_columns(
        table
            .names()
            .iter()
            .filter(|name| {
                !names.contains(&name.as_str())
                    && !names.iter().any(|n| n.ends_with('*') && name.starts_with(n.trim_end_matches('*')))
            })
            .map(|name| (name.clone(), table.column(name).expect("column").to_vec())),
    )
    .expect("subset of a valid table")
}

/// The HTML of the `<figure id="ID">` element, if present.
pub fn figure<'a>(html: &'a str, id: &str) -> Option<&'a str> {
    let start = html.find(&format!("<figure id=\"{id}\""))?;
    let end = html[start..].find("</figure>")? + start + "</figure>".len();
    Some(&html[start..end])
}

/// Every `id` of a `<figure id="chart-…">`, in page order.
pub fn chart_ids(html: &str) -> Vec<String> {
    html.match_indices("<figure id=\"")
        .map(|(index, pattern)| {
            let rest = &html[index + pattern.len()..];
            rest[..rest.find('"').expect("closing quote")].to_string()
        })
        .collect()
}

/// Fails if the page refers to anything on a network: every `http://` or `https://` must
/// be an XML namespace (`xmlns="…"`), and no attribute may start with `//`.
pub fn assert_offline(html: &str) {
    for scheme in ["http://", "https://"] {
        for (index, _) in html.match_indices(scheme) {
            let before = &html[index.saturating_sub(7)..index];
            assert_eq!(
                before,
                "xmlns=\"",
                "network reference at byte {index}: {}",
                &html[index.saturating_sub(40)..(index + 60).min(html.len())]
            );
        }
    }
    for attribute in ["src=\"//", "href=\"//", "url(//", "url(\"//", "@import"] {
        assert!(!html.contains(attribute), "page refers to `{attribute}`");
    }
    assert!(!html.contains("<script"), "the page needs no script");
}
