//! What the web app relies on beyond the rest of the API: `pool_changed` events (a group-buy
//! progress bar moves when a group-mate orders), `promotion` events (a follower's feed), and
//! the read-only figures of
//! `api/web_support.rs` — a brand's sales and discounts, a KOL's sales through promotions,
//! the operator's chart series. The browser tests (tests/web) drive the screens themselves.

use crate::common::*;
use serde_json::json;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn group_mates_see_their_pool_move_and_nobody_else_does() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let w = world(&server, 5);
    let outsider = expect(server.operator().post("/v1/citizens", &json!({"count": 1})).unwrap(), 201, None);
    let outsider = server.client(Some(outsider["citizens"][0]["token"].as_str().unwrap()));
    let mate = w.citizen(&server, 1).events("/v1/events").expect("event stream");
    let other = outsider.events("/v1/events").expect("event stream");
    for stream in [&mate, &other] {
        stream.next_named("ready", WAIT).expect("ready");
    }

    expect(w.citizen(&server, 0).post("/v1/orders", &json!({"product": w.milk, "units": 2})).unwrap(), 201, None);
    let moved = mate.next_named("pool_changed", WAIT).expect("the group-mate is told").json();
    assert_eq!(moved["product"], w.milk);
    assert_eq!(moved["units"], 2);
    assert_eq!(moved["next_tier"], json!({"units_needed": 8, "discount_bp": 2000}));
    let mut fields: Vec<&str> = moved.as_object().unwrap().keys().map(String::as_str).collect();
    fields.sort();
    assert_eq!(fields, ["discount_bp", "next_tier", "product", "tier", "units"], "no buyer is named");

    // A batch for two members: one event per pool, with the units after the whole batch.
    let batch = json!({"orders": [{"citizen": 2, "product": w.milk, "units": 3}, {"citizen": 3, "product": w.milk, "units": 5}]});
    expect(server.operator().post("/v1/orders/batch", &batch).unwrap(), 200, None);
    let moved = mate.next_named("pool_changed", WAIT).expect("the batch moved the pool").json();
    assert_eq!(
        (moved["units"].as_u64(), moved["tier"].as_u64(), moved["discount_bp"].as_u64()),
        (Some(10), Some(1), Some(2000))
    );

    // The groupless citizen's next event is the day's close, not a pool of another group.
    expect(server.operator().post_empty("/v1/days/close").unwrap(), 200, None);
    assert_eq!(other.next(WAIT).expect("an event").event, "day_closed");
}

#[test]
fn brands_kols_and_the_operator_get_their_figures() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let w = world(&server, 5);
    let mut fan = w.citizen(&server, 0);
    expect(fan.post_empty(&format!("/v1/kols/{}/follow", w.kol_id)).unwrap(), 200, None);
    let fan_events = fan.events("/v1/events").expect("event stream");
    fan_events.next_named("ready", WAIT).expect("ready");
    let mut kol = server.client(Some(&w.kol));
    expect(kol.post("/v1/promotions", &json!({"product": w.milk})).unwrap(), 201, None);
    let promotion = fan_events.next_named("promotion", WAIT).expect("a follower is told").json();
    assert_eq!(promotion, json!({"kol": w.kol_id, "kol_name": "Li Jiaqi", "product": w.milk, "name": "milk"}));
    expect(fan.post("/v1/orders", &json!({"product": w.milk, "units": 4, "via": w.kol_id})).unwrap(), 201, None);
    expect(w.citizen(&server, 1).post("/v1/orders", &json!({"product": w.milk, "units": 6})).unwrap(), 201, None);

    let mut brand = server.client(Some(&w.brand));
    let before = expect(brand.get("/v1/brands/me").unwrap(), 200, None);
    assert_eq!(before["brand"], w.brand_id);
    assert_eq!(before["name"], "Mengniu");
    assert_eq!(before["products"].as_array().unwrap().len(), 2, "milk and the train ticket");
    assert_eq!(before["products"][0]["pending_units"], 10);
    assert_eq!(before["totals"]["orders"], 0, "nothing settled before the close");

    expect(server.operator().post_empty("/v1/days/close").unwrap(), 200, None);
    // 10 units of milk (10 yuan) reach the 20 % tier: 8 yuan a unit, 2 yuan granted each.
    let after = expect(brand.get("/v1/brands/me").unwrap(), 200, None);
    let milk = &after["products"][0]["settled"];
    assert_eq!((milk["orders"].as_u64(), milk["units"].as_u64()), (Some(2), Some(10)));
    assert_eq!(milk["revenue_fen"], 8000);
    assert_eq!(milk["group_discount_fen"], 2000);
    assert_eq!(after["totals"]["revenue_fen"], 8000);

    let sales = expect(kol.get("/v1/kols/me/sales").unwrap(), 200, None);
    assert_eq!(
        sales["days"],
        json!([{"day": 0, "orders": 1, "units": 4, "revenue_fen": 3200,
        "group_discount_fen": 800, "credit_discount_fen": 0, "voucher_discount_fen": 0}])
    );
    assert_eq!(sales["products"][0]["name"], "milk");

    let charts = expect(server.operator().get("/v1/operator/charts").unwrap(), 200, None);
    let bins = charts["score_histogram"]["bins"].as_array().unwrap();
    let counted: u64 = bins.iter().map(|b| b["citizens"].as_u64().unwrap()).sum();
    assert_eq!(counted, 5, "every citizen is in one bin");
    assert_eq!(charts["expulsions_by_day"], json!([{"day": 0, "expelled": 0, "overturned_on_appeal": 0}]));

    // Each figure is for its own role only (the full table is in authz).
    expect(fan.get("/v1/brands/me").unwrap(), 403, Some("forbidden"));
    expect(brand.get("/v1/kols/me/sales").unwrap(), 403, Some("forbidden"));
    expect(kol.get("/v1/operator/charts").unwrap(), 403, Some("forbidden"));
}
