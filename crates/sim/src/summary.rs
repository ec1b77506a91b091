//! What happened, in plain words and numbers, and the `summary.json` of a run.

use crate::simulation::Simulation;
use serde_json::json;

/// China's population in the article's reference year (rounded, 2018: 1.395 billion).
pub const CHINA_POPULATION: f64 = 1.4e9;
/// Ticket purchases blocked in 2018 (17.5 M flights + 5.5 M trains), the article's "23 million".
pub const REAL_REFUSED_TICKETS_2018: f64 = 23.0e6;
/// People on the court blacklist who were blocked, about 13 million (2018).
pub const REAL_BLACKLISTED_PEOPLE: f64 = 13.0e6;

/// Sources of the real figures above, cited wherever they are shown.
pub const REAL_FIGURES_SOURCE: &str = "National Public Credit Information Center, 2018 annual report, \
as reported by the Associated Press (19 Feb 2019): 17.46 M flight and 5.47 M train ticket purchases \
blocked in 2018; about 13 M people on the Supreme People's Court blacklist of 'discredited' persons.";

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Fen as yuan with thousands separators: "1,234,567.89".
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let abs = fen.unsigned_abs();
    format!("{sign}{}.{:02}", thousands(abs / 100), abs % 100)
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 { "0 %".into() } else { format!("{:.1} %", 100.0 * part as f64 / whole as f64) }
}

/// Plain-language sentences about the run.
pub fn headline(sim: &Simulation) -> Vec<String> {
    let t = sim.totals();
    let s = sim.scenario();
    let Some(last) = sim.metrics().last() else { return vec!["Nothing happened: the run has no days.".into()] };
    let citizens = last.citizens;
    let days = sim.metrics().len() as u64;
    let tier_names = sim.tier_names();
    let mut out = Vec::new();
    out.push(format!(
        "{} citizens in {} interest groups, {} days, seed {}.",
        thousands(citizens),
        thousands(last.groups),
        days,
        s.run.seed
    ));
    let incidents = t.incidents_true + t.incidents_false;
    out.push(format!(
        "Cameras reported {} incidents; {} of them ({}) flagged people who had done nothing — {} distinct innocent people.",
        thousands(incidents),
        thousands(t.incidents_false),
        pct(t.incidents_false, incidents),
        thousands(last.people_falsely_flagged)
    ));
    let answers = t.answers_expel + t.answers_keep + t.answers_none;
    out.push(format!(
        "Group-mates received {} notices: {} answered expel, {} keep, {} did not answer (counted as {}).",
        thousands(t.notices),
        pct(t.answers_expel, answers),
        pct(t.answers_keep, answers),
        pct(t.answers_none, answers),
        s.policy.sanction.abstain_as
    ));
    out.push(format!(
        "{} people were expelled from their group; {} of them ({}) had done nothing.",
        thousands(t.expulsions),
        thousands(t.expulsions_innocent),
        pct(t.expulsions_innocent, t.expulsions)
    ));
    if let Some(n) = &t.denunciation {
        out.push(format!(
            "Citizens filed {} denunciations; {} were confirmed and became incidents (counted above), {} of them \
             against people who had done nothing. {} vouchers paid, {} used (¥{} off); {} of the innocent \
             expelled were denounced, {} flagged by cameras.",
            thousands(n.denunciations),
            thousands(n.denunciations_confirmed),
            thousands(n.denunciations_false_confirmed),
            thousands(n.vouchers_issued),
            thousands(n.vouchers_used),
            yuan(n.discount_voucher),
            thousands(n.expulsions_innocent_denunciation),
            thousands(n.expulsions_innocent_camera)
        ));
    }
    let real_banned_share = REAL_BLACKLISTED_PEOPLE / CHINA_POPULATION;
    out.push(format!(
        "{} citizens ({}) ended banned from travel; {} of them never committed a detected offence. \
         Real reference: about 13 million blacklisted people, {:.2} % of China.",
        thousands(last.travel_banned),
        pct(last.travel_banned, citizens),
        thousands(last.banned_never_offended),
        100.0 * real_banned_share
    ));
    let per_thousand_year = |n: u64| 1000.0 * n as f64 / citizens.max(1) as f64 * 365.0 / days.max(1) as f64;
    out.push(format!(
        "{} travel tickets were refused ({:.1} per 1,000 citizens per year; the article's 23 million blocked \
         purchases in 2018 are {:.1} per 1,000).",
        thousands(t.orders_refused_travel),
        per_thousand_year(t.orders_refused_travel),
        1000.0 * REAL_REFUSED_TICKETS_2018 / CHINA_POPULATION
    ));
    let reached: Vec<String> = t
        .pools_by_tier
        .iter()
        .zip(&s.policy.group_discounts)
        .map(|(&n, d)| format!("{} reached {:.0} %", pct(n, t.pools), d.discount * 100.0))
        .collect();
    out.push(format!(
        "{} orders, ¥{} spent; group pools: {} ({}); discounts ¥{} from groups, ¥{} from credit tiers.",
        thousands(t.orders),
        yuan(t.gmv_fen),
        thousands(t.pools),
        reached.join(", "),
        yuan(t.discount_group_fen),
        yuan(t.discount_credit_fen)
    ));
    let tiers: Vec<String> =
        tier_names.iter().zip(&last.tiers).map(|(n, c)| format!("{n} {}", thousands(*c))).collect();
    out.push(format!(
        "Final tiers: {}. Mean score {:.1} (p10 {}, median {}, p90 {}).",
        tiers.join(", "),
        last.score_mean,
        last.score_p10,
        last.score_p50,
        last.score_p90
    ));
    out
}

/// The `summary.json` document.
pub fn summary_json(sim: &Simulation, wall_time_seconds: f64, peak_rss_bytes: Option<u64>) -> serde_json::Value {
    let last = sim.metrics().last().cloned().unwrap_or_default();
    let t = sim.totals();
    let tier_names = sim.tier_names();
    let final_tiers: serde_json::Map<String, serde_json::Value> =
        tier_names.iter().zip(&last.tiers).map(|(n, c)| (n.clone(), json!(c))).collect();
    let pool_shares: Vec<serde_json::Value> = t
        .pools_by_tier
        .iter()
        .zip(&sim.scenario().policy.group_discounts)
        .map(|(&n, d)| {
            json!({
                "discount": d.discount,
                "min_units": d.min_units,
                "pools": n,
                "share": if t.pools == 0 { 0.0 } else { n as f64 / t.pools as f64 },
            })
        })
        .collect();
    let days = sim.metrics().len().max(1) as f64;
    let citizens = last.citizens.max(1) as f64;
    json!({
        "version": env!("CARGO_PKG_VERSION"),
        "seed": sim.scenario().run.seed,
        "days": sim.metrics().len(),
        "citizens": last.citizens,
        "scenario": sim.scenario().resolved_json(),
        "wall_time_seconds": wall_time_seconds,
        "peak_rss_bytes": peak_rss_bytes,
        "totals": {
            "incidents_true": t.incidents_true,
            "incidents_false": t.incidents_false,
            "people_falsely_flagged": last.people_falsely_flagged,
            "notices": t.notices,
            "answers_expel": t.answers_expel,
            "answers_keep": t.answers_keep,
            "answers_none": t.answers_none,
            "expulsions": t.expulsions,
            "expulsions_innocent": t.expulsions_innocent,
            "appeals": t.appeals,
            "appeals_granted": t.appeals_granted,
            "orders": t.orders,
            "orders_refused_travel": t.orders_refused_travel,
            "gmv_yuan": t.gmv_fen as f64 / 100.0,
            "discount_group_yuan": t.discount_group_fen as f64 / 100.0,
            "discount_credit_yuan": t.discount_credit_fen as f64 / 100.0,
            "pools": t.pools,
            "scandals": t.scandals,
            "points_from_incidents_and_appeals": t.penalty_points,
            "points_from_votes": t.vote_points,
            "travel_banned_end": last.travel_banned,
            "banned_never_offended_end": last.banned_never_offended,
        },
        "pools_by_tier": pool_shares,
        "final_tiers": final_tiers,
        "real_figures": {
            "source": REAL_FIGURES_SOURCE,
            "banned_share_real": REAL_BLACKLISTED_PEOPLE / CHINA_POPULATION,
            "banned_share_simulated": last.travel_banned as f64 / citizens,
            "refused_tickets_per_capita_year_real": REAL_REFUSED_TICKETS_2018 / CHINA_POPULATION,
            "refused_tickets_per_capita_year_simulated": t.orders_refused_travel as f64 / citizens * 365.0 / days,
        },
        "headline": headline(sim),
        "scandal_events": sim.scandal_events(),
        "timings": sim.timings(),
    })
}
