//! Engine values as JSON on the wire: ids as the strings paths take (`i12-345-0`,
//! `o3-7-1`), money in fen with the unit in the name, discounts in basis points.
//!
//! Only this module knows the wire shape of engine types, so the engine's own serde (used
//! for the log and snapshots) can change without breaking clients.

use crate::state::ServiceEngine;
use serde_json::{Value, json};
use xinyong_engine::{
    AppealStatus, CitizenView, DayReport, Incident, LedgerEntry, Order, OrderReceipt, PriceBreakdown,
};

pub fn price(p: &PriceBreakdown) -> Value {
    json!({
        "list_price_fen": p.list_price,
        "group_discount_bp": p.group_discount_bp,
        "credit_discount_bp": p.credit_discount_bp,
        "group_discount_fen": p.group_discount,
        "credit_discount_fen": p.credit_discount,
        "capped": p.capped,
        "voucher_bp": p.voucher_bp,
        "voucher_discount_fen": p.voucher_discount,
        "unit_price_fen": p.unit_price,
    })
}

pub fn next_tier(next: Option<(u64, u32)>) -> Value {
    match next {
        Some((units_needed, discount_bp)) => json!({"units_needed": units_needed, "discount_bp": discount_bp}),
        None => Value::Null,
    }
}

/// A placed order or a quote (the price is provisional until the day closes).
pub fn receipt(r: &OrderReceipt, product: u32, units: u32, via: Option<u32>) -> Value {
    json!({
        "order": r.order.to_string(),
        "product": product,
        "units": units,
        "via": via,
        "price": price(&r.provisional),
        "total_fen": r.provisional_total,
        "pool_units": r.pool_units,
        "next_tier": next_tier(r.next_tier),
        "provisional": true,
    })
}

pub fn pending_order(o: &Order) -> Value {
    json!({
        "order": o.id.to_string(),
        "product": o.product.0,
        "units": o.units,
        "via": o.promotion.map(|k| k.0),
        "credit_discount_bp": o.credit_discount_bp,
        "status": "pending",
    })
}

pub fn profile(engine: &ServiceEngine, v: &CitizenView) -> Value {
    let tier = engine.rules().tier(v.tier_index);
    let next_up = (v.tier_index as usize)
        .checked_sub(1)
        .map(|i| &engine.rules().tiers[i])
        .map(|t| json!({"tier": t.name, "score_needed": t.min_score, "points_to_go": t.min_score - v.score}));
    json!({
        "citizen": v.citizen.0,
        "score": v.score,
        "tier": v.tier,
        "favourite_discount_bp": tier.favourite_discount_bp,
        "restrictions": v.restrictions,
        "travel_banned": v.travel_score_needed.is_some(),
        "travel_score_needed": v.travel_score_needed,
        "next_tier": next_up,
        "group": v.group.map(|g| g.0),
        "group_size": v.group_size,
        "regroup_day": v.regroup_day,
        "day": engine.day(),
    })
}

pub fn ledger_entry(engine: &ServiceEngine, e: &LedgerEntry) -> Value {
    let incident = e.cause.incident();
    let kind = incident
        .and_then(|i| engine.incident(i))
        .map(|i| engine.rules().policy.incident_kinds[i.kind as usize].name.clone());
    json!({
        "day": e.day,
        "delta": e.delta,
        "requested": e.requested,
        "cause": e.cause.kind(),
        "incident": incident.map(|i| i.to_string()),
        "report": e.cause.report().map(|r| r.to_string()),
        "incident_kind": kind,
    })
}

/// One sentence per ledger entry, for people.
pub fn explain_entry(engine: &ServiceEngine, e: &LedgerEntry) -> String {
    use xinyong_engine::{Answer, Cause};
    let incident_id = e.cause.incident();
    let incident = incident_id.map(|i| i.to_string()).unwrap_or_default();
    let kind = incident_id
        .and_then(|i| engine.incident(i))
        .map(|i| engine.rules().policy.incident_kinds[i.kind as usize].name.replace('_', " "))
        .unwrap_or_else(|| "incident".into());
    let what = match e.cause {
        Cause::Incident { .. } => format!("you were reported for {kind} ({incident})"),
        Cause::Vote { answer: Answer::Expel, abstained: false, .. } => {
            format!("you answered \"expel\" to the notice about {incident}")
        }
        Cause::Vote { answer: Answer::Keep, abstained: false, .. } => {
            format!("you answered \"keep\" to the notice about {incident}")
        }
        Cause::Vote { answer, abstained: true, .. } => {
            format!("you did not answer the notice about {incident}; it counted as \"{}\"", answer.name())
        }
        Cause::AppealGranted { .. } => format!("your appeal of {incident} was granted"),
        Cause::DenunciationReward { report, .. } => {
            format!("your report {report} was confirmed (it became {incident})")
        }
        Cause::FalseReport { report } => format!("your report {report} was rejected"),
        Cause::VoucherIssued { .. } => format!("you received a voucher for your confirmed report ({incident})"),
        Cause::VoucherUsed { order, .. } => format!("you used a voucher on order {order}"),
        Cause::VoucherExpired { .. } => "a voucher expired unused".to_string(),
    };
    let bound = if e.delta != e.requested {
        format!(" (the rule asked for {:+}; a score bound absorbed the rest)", e.requested)
    } else {
        String::new()
    };
    format!("day {}: {:+} — {what}{bound}", e.day, e.delta)
}

pub fn appeal(status: &AppealStatus) -> Value {
    match *status {
        AppealStatus::NotAppealed => json!({"status": "not_appealed"}),
        AppealStatus::Filed { day } => json!({"status": "filed", "filed": day}),
        AppealStatus::Granted { filed, decided } => json!({"status": "granted", "filed": filed, "decided": decided}),
        AppealStatus::Rejected { filed, decided } => json!({"status": "rejected", "filed": filed, "decided": decided}),
    }
}

pub fn incident(engine: &ServiceEngine, i: &Incident) -> Value {
    let kind = &engine.rules().policy.incident_kinds[i.kind as usize];
    json!({
        "incident": i.id.to_string(),
        "citizen": i.id.citizen.0,
        "kind": kind.name,
        "day": i.day,
        "reported": i.id.day,
        "penalty": i.penalty_applied,
        "group_notified": i.group.is_some(),
        "outcome": i.outcome.map(|o| json!({"notified": o.notified, "expel": o.expel, "keep": o.keep,
            "unanswered": o.unanswered, "expelled": o.expelled})),
        // Never the report's id: it names the denouncer.
        "source": match i.source {
            xinyong_engine::IncidentSource::Camera => "camera",
            xinyong_engine::IncidentSource::Denunciation { .. } => "denunciation",
        },
        "appeal": appeal(&i.appeal),
        "appeal_last_day": i.id.day.saturating_add(engine.rules().policy.appeals.window_days),
    })
}

pub fn day_report(r: &DayReport) -> Value {
    json!({
        "day": r.day,
        "incidents_reported": r.incidents_reported,
        "notices_delivered": r.notices_delivered,
        "answers_expel": r.answers_expel,
        "answers_keep": r.answers_keep,
        "answers_none": r.answers_none,
        "expelled": r.expelled.iter().map(|(i, c)| json!({"incident": i.to_string(), "citizen": c.0})).collect::<Vec<_>>(),
        "regrouped": r.regrouped,
        "unplaced": r.unplaced,
        "orders": r.orders,
        "units": r.units,
        "gmv_fen": r.gmv,
        "discount_group_fen": r.discount_group,
        "discount_credit_fen": r.discount_credit,
        "pools": r.pools,
        "pools_by_tier": r.pools_by_tier,
        "orders_refused_travel": r.orders_refused_travel,
        "orders_refused_other": r.orders_refused_other,
        "scandals": r.scandals.iter().map(|p| p.0).collect::<Vec<_>>(),
        "kol_scandal_hits": r.kol_scandal_hits,
        "kol_successes": r.kol_successes,
        "appeals_filed": r.appeals_filed,
        "appeals_granted": r.appeals_granted,
        "appeals_rejected": r.appeals_rejected,
        "promotions": r.promotions,
    })
}
