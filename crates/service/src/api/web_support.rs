//! Read-only figures the web app's screens need and the rest of the API does not give:
//! a brand's sales and the discounts it granted, a KOL's sales through promotions day by
//! day, and the operator's chart series (the score histogram, expulsions per day and how
//! many of them were overturned on appeal).
//!
//! All three scan the settled orders or the closed days: linear in the history, which suits
//! a classroom or a lab (the service's purpose). Nothing here changes state.

use super::extract::{Access, Auth, KolOnly, OperatorOnly};
use super::{Api, App, Doc};
use crate::error::ApiError;
use crate::state::{Role, ServiceState};
use axum::Json;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use xinyong_engine::{AppealStatus, BrandId, KolId};

/// Bins of the operator's score histogram (at most; one more when the range is not aligned).
pub const SCORE_BINS: i32 = 20;

/// A brand's own account only (the operator sees everything through the dashboard).
pub struct BrandOnly;

impl Access for BrandOnly {
    const ROLES: &'static [Role] = &[Role::Brand];
}

/// The web app's read-only endpoints, added to the API's route table.
pub fn routes(api: Api) -> Api {
    api.add(
        Method::GET,
        "/v1/brands/me",
        my_brand,
        Doc::of::<BrandOnly>(
            "products",
            "My brand: my products, today's pending units, settled orders, revenue and the group and credit discounts granted.",
        ),
    )
    .add(
        Method::GET,
        "/v1/kols/me/sales",
        my_kol_sales,
        Doc::of::<KolOnly>("kols", "Units and money sold through my promotions, per closed day and per product."),
    )
    .add(
        Method::GET,
        "/v1/operator/charts",
        operator_charts,
        Doc::of::<OperatorOnly>(
            "operator",
            "Chart series: the score histogram, and expulsions per day with those later overturned on appeal.",
        ),
    )
}

async fn read<R: Send + 'static>(
    app: &App,
    f: impl FnOnce(&ServiceState) -> Result<R, ApiError> + Send + 'static,
) -> Result<R, ApiError> {
    app.actor.call(move |core| f(&core.state)).await
}

#[derive(Default, Clone, Copy)]
struct Sales {
    orders: u64,
    units: u64,
    revenue_fen: i64,
    group_discount_fen: i64,
    credit_discount_fen: i64,
    voucher_discount_fen: i64,
}

impl Sales {
    fn add(&mut self, s: &xinyong_engine::SettledOrder) {
        let units = s.order.units as i64;
        self.orders += 1;
        self.units += s.order.units as u64;
        self.revenue_fen += s.total;
        self.group_discount_fen += s.price.group_discount * units;
        self.credit_discount_fen += s.price.credit_discount * units;
        self.voucher_discount_fen += s.price.voucher_discount * units;
    }

    fn json(&self) -> Value {
        json!({
            "orders": self.orders,
            "units": self.units,
            "revenue_fen": self.revenue_fen,
            "group_discount_fen": self.group_discount_fen,
            "credit_discount_fen": self.credit_discount_fen,
            "voucher_discount_fen": self.voucher_discount_fen,
        })
    }
}

async fn my_brand(State(app): State<App>, auth: Auth<BrandOnly>) -> Result<Response, ApiError> {
    let brand = BrandId(auth.principal().subject);
    let value = read(&app, move |s| {
        let e = &s.engine;
        let name = s.brands.get(brand.index()).map(|b| b.name.clone());
        let mine: Vec<usize> =
            e.products().iter().enumerate().filter(|(_, p)| p.brand == brand).map(|(i, _)| i).collect();
        let mut sales: BTreeMap<usize, Sales> = mine.iter().map(|&i| (i, Sales::default())).collect();
        let mut total = Sales::default();
        for settled in e.settled_orders() {
            if let Some(entry) = sales.get_mut(&settled.order.product.index()) {
                entry.add(settled);
                total.add(settled);
            }
        }
        let mut pending: BTreeMap<usize, u64> = BTreeMap::new();
        for order in e.pending_orders() {
            if sales.contains_key(&order.product.index()) {
                *pending.entry(order.product.index()).or_default() += order.units as u64;
            }
        }
        let products: Vec<Value> = mine
            .iter()
            .map(|&i| {
                let p = &e.products()[i];
                json!({
                    "product": i, "name": p.name, "category": p.category, "list_price_fen": p.list_price,
                    "travel": p.travel, "scandals": p.scandals,
                    "pending_units": pending.get(&i).copied().unwrap_or(0),
                    "settled": sales[&i].json(),
                })
            })
            .collect();
        Ok(json!({"brand": brand.0, "name": name, "day": e.day(), "products": products, "totals": total.json()}))
    })
    .await?;
    Ok(Json(value).into_response())
}

async fn my_kol_sales(State(app): State<App>, auth: Auth<KolOnly>) -> Result<Response, ApiError> {
    let kol = KolId(auth.principal().subject);
    let value = read(&app, move |s| {
        let e = &s.engine;
        if kol.index() >= e.kols().len() {
            return Err(xinyong_engine::Refusal::UnknownKol { kol }.into());
        }
        let mut by_day: BTreeMap<u32, Sales> = BTreeMap::new();
        let mut by_product: BTreeMap<usize, Sales> = BTreeMap::new();
        for settled in e.settled_orders().iter().filter(|o| o.order.promotion == Some(kol)) {
            by_day.entry(settled.order.id.day).or_default().add(settled);
            by_product.entry(settled.order.product.index()).or_default().add(settled);
        }
        let days: Vec<Value> = by_day
            .iter()
            .map(|(day, sales)| {
                let mut v = sales.json();
                v["day"] = json!(day);
                v
            })
            .collect();
        let products: Vec<Value> = by_product
            .iter()
            .map(|(&product, sales)| {
                let mut v = sales.json();
                v["product"] = json!(product);
                v["name"] = json!(e.products()[product].name);
                v
            })
            .collect();
        Ok(json!({"kol": kol.0, "day": e.day(), "days": days, "products": products}))
    })
    .await?;
    Ok(Json(value).into_response())
}

/// The smallest of 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, … that is at least `width`.
fn round_width(width: i32) -> i32 {
    let mut unit = 1;
    loop {
        for tenths in [10, 20, 25, 50] {
            let candidate = tenths * unit / 10;
            if candidate * 10 == tenths * unit && candidate >= width {
                return candidate;
            }
        }
        unit *= 10;
    }
}

async fn operator_charts(State(app): State<App>, _auth: Auth<OperatorOnly>) -> Result<Response, ApiError> {
    let value = read(&app, |s| {
        let e = &s.engine;
        let policy = &e.rules().policy;
        let scores = e.scores();
        // Bins over the scores present (most people sit near the initial score, so the
        // whole range would give one bar), of a round width.
        let bins: Vec<Value> = if scores.total() == 0 {
            Vec::new()
        } else {
            let (low, high) = (scores.percentile(0), scores.percentile(100));
            let width = round_width(((high - low + 1) as u32).div_ceil(SCORE_BINS as u32) as i32);
            let first = low.div_euclid(width) * width;
            (0..=SCORE_BINS)
                .map(|k| first + k * width)
                .take_while(|&from| from <= high)
                .map(|from| {
                    let to = from + width - 1;
                    json!({"low": from, "high": to, "citizens": scores.count_between(from, to)})
                })
                .collect()
        };
        let tiers: Vec<Value> =
            e.rules().tiers.iter().map(|t| json!({"tier": t.name, "min_score": t.min_score})).collect();
        let expulsions: Vec<Value> = s
            .days
            .iter()
            .map(|d| {
                let overturned = d
                    .expelled
                    .iter()
                    .filter(|(incident, _)| {
                        e.incident(*incident).is_some_and(|i| matches!(i.appeal, AppealStatus::Granted { .. }))
                    })
                    .count();
                json!({"day": d.day, "expelled": d.expelled.len(), "overturned_on_appeal": overturned})
            })
            .collect();
        Ok(json!({
            "day": e.day(),
            "score_histogram": {"score_min": policy.score_min, "score_max": policy.score_max, "bins": bins, "tiers": tiers},
            "expulsions_by_day": expulsions,
            "note": "an expulsion overturned on appeal is the only sign the service has of an innocent person expelled",
        }))
    })
    .await?;
    Ok(Json(value).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn histogram_widths_are_round() {
        let widths: Vec<i32> = [1, 2, 3, 6, 11, 21, 24, 26, 101, 240].into_iter().map(super::round_width).collect();
        assert_eq!(widths, [1, 2, 5, 10, 20, 25, 25, 50, 200, 250]);
    }
}
