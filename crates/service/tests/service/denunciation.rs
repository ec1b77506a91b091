//! Denunciation for vouchers over HTTP (issue 11): a citizen reports a group-mate, the
//! reporter confirms, the accused is penalised like a camera's incident and the denouncer's
//! voucher shows in the ledger and in the price breakdown.

use crate::common::*;
use serde_json::json;

struct Setup {
    server: TestServer,
    citizens: Vec<(u32, String)>,
    reporter: String,
    milk: u32,
}

fn setup(enabled: bool) -> Setup {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let mut op = server.operator();
    let policy = json!({
        "groups": {"min_size": 3, "max_size": 10},
        "denunciation": {"enabled": enabled, "voucher_percent": 0.1, "voucher_days": 30, "reward_points": 0,
                         "false_report_penalty": 5, "max_reports_per_day": 2},
    });
    expect(op.put("/v1/policy", &policy).unwrap(), 200, None);
    let body = expect(op.post("/v1/citizens", &json!({"count": 4})).unwrap(), 201, None);
    let citizens = registered(&body);
    let reporter = expect(op.post("/v1/reporters", &json!({"name": "camera network"})).unwrap(), 201, None);
    let brand = expect(op.post("/v1/brands", &json!({"name": "Mengniu"})).unwrap(), 201, None);
    let mut brand = server.client(Some(brand["token"].as_str().unwrap()));
    let milk = expect(brand.post("/v1/products", &json!({"name": "milk", "list_price_fen": 1000})).unwrap(), 201, None);
    expect(op.post_empty("/v1/groups/form").unwrap(), 201, None);
    Setup {
        server,
        citizens,
        reporter: reporter["token"].as_str().unwrap().to_string(),
        milk: milk["product"].as_u64().unwrap() as u32,
    }
}

#[test]
fn a_confirmed_report_punishes_the_accused_and_pays_a_voucher_used_on_the_next_order() {
    let s = setup(true);
    let (denouncer, accused) = (s.citizens[0].0, s.citizens[1].0);
    let mut me = s.server.client(Some(&s.citizens[0].1));
    let mut them = s.server.client(Some(&s.citizens[1].1));
    let mut reporter = s.server.client(Some(&s.reporter));

    // Refusals, each with its reason; nothing is filed.
    expect(
        me.post("/v1/reports", &json!({"accused": denouncer, "kind": "littering"})).unwrap(),
        422,
        Some("self_report"),
    );
    expect(
        me.post("/v1/reports", &json!({"accused": 999, "kind": "littering"})).unwrap(),
        404,
        Some("unknown_citizen"),
    );
    expect(
        me.post("/v1/reports", &json!({"accused": accused, "kind": "x"})).unwrap(),
        422,
        Some("unknown_incident_kind"),
    );
    expect(me.post("/v1/reports", &json!({"accused": accused})).unwrap(), 422, Some("invalid_body"));

    let filed = expect(me.post("/v1/reports", &json!({"accused": accused, "kind": "littering"})).unwrap(), 201, None);
    let report = filed["report"].as_str().unwrap().to_string();
    assert_eq!(filed["status"], "pending");
    // Not an incident yet: the accused's score has not moved.
    assert_eq!(expect(them.get("/v1/citizens/me").unwrap(), 200, None)["score"], 1000);
    let queue = expect(reporter.get("/v1/reports").unwrap(), 200, None);
    assert_eq!(queue["reports"][0]["report"], report.as_str());
    assert_eq!(queue["reports"][0]["accused"], accused);

    let decided = expect(
        reporter.post(&format!("/v1/reports/{report}/decision"), &json!({"confirmed": true})).unwrap(),
        200,
        None,
    );
    let incident = decided["incident"].as_str().unwrap().to_string();
    expect(
        reporter.post(&format!("/v1/reports/{report}/decision"), &json!({"confirmed": false})).unwrap(),
        409,
        Some("report_already_decided"),
    );
    // The accused is penalised as for a camera's incident, and is not told who reported.
    let profile = expect(them.get("/v1/citizens/me").unwrap(), 200, None);
    assert!(profile["score"].as_i64().unwrap() < 1000);
    let incidents = expect(them.get("/v1/incidents/mine").unwrap(), 200, None);
    assert_eq!(incidents["incidents"][0]["incident"], incident.as_str());
    assert_eq!(incidents["incidents"][0]["source"], "denunciation");
    assert!(!incidents.to_string().contains(&report), "the report id names the denouncer");

    // The denouncer holds a voucher, usable from the next day.
    let mine = expect(me.get("/v1/reports/mine").unwrap(), 200, None);
    assert_eq!(mine["reports"][0]["status"], "confirmed");
    assert_eq!(mine["vouchers"][0]["discount_bp"], 1000);
    let today = expect(me.post("/v1/orders/quote", &json!({"product": s.milk, "units": 1})).unwrap(), 200, None);
    assert_eq!(today["price"]["voucher_bp"], 0, "not on the day it is issued");
    expect(s.server.operator().post_empty("/v1/days/close").unwrap(), 200, None);
    let quote = expect(me.post("/v1/orders/quote", &json!({"product": s.milk, "units": 1})).unwrap(), 200, None);
    assert_eq!(quote["price"]["voucher_bp"], 1000);
    assert_eq!(quote["price"]["voucher_discount_fen"], 100);
    assert_eq!(quote["price"]["unit_price_fen"], 900);
    expect(me.post("/v1/orders", &json!({"product": s.milk, "units": 1})).unwrap(), 201, None);
    expect(s.server.operator().post_empty("/v1/days/close").unwrap(), 200, None);
    // Issued and used, both in the ledger.
    let ledger = expect(me.get("/v1/citizens/me/ledger").unwrap(), 200, None).to_string();
    assert!(ledger.contains("voucher_issued") && ledger.contains("voucher_used"), "{ledger}");
    assert_eq!(expect(me.get("/v1/reports/mine").unwrap(), 200, None)["vouchers"], json!([]));
}

#[test]
fn a_rejected_report_costs_the_denouncer_and_the_daily_limit_holds() {
    let s = setup(true);
    let accused = s.citizens[1].0;
    let mut me = s.server.client(Some(&s.citizens[0].1));
    let mut reporter = s.server.client(Some(&s.reporter));
    let mut reports = Vec::new();
    for _ in 0..2 {
        let r = expect(me.post("/v1/reports", &json!({"accused": accused, "kind": "littering"})).unwrap(), 201, None);
        reports.push(r["report"].as_str().unwrap().to_string());
    }
    expect(
        me.post("/v1/reports", &json!({"accused": accused, "kind": "littering"})).unwrap(),
        422,
        Some("too_many_reports"),
    );
    expect(
        reporter.post(&format!("/v1/reports/{}/decision", reports[0]), &json!({"confirmed": false})).unwrap(),
        200,
        None,
    );
    assert_eq!(expect(me.get("/v1/citizens/me").unwrap(), 200, None)["score"], 995, "false_report_penalty = 5");
    let mine = expect(me.get("/v1/reports/mine").unwrap(), 200, None);
    assert_eq!(mine["reports"][0]["status"], "rejected");
    assert_eq!(mine["reports"][1]["status"], "pending");
    expect(
        reporter.post("/v1/reports/r0-0-77/decision", &json!({"confirmed": true})).unwrap(),
        404,
        Some("unknown_report"),
    );
    expect(
        reporter.post("/v1/reports/nonsense/decision", &json!({"confirmed": true})).unwrap(),
        400,
        Some("invalid_report_id"),
    );
}

#[test]
fn denunciation_is_refused_while_the_policy_has_it_off() {
    let s = setup(false);
    let mut me = s.server.client(Some(&s.citizens[0].1));
    let accused = s.citizens[1].0;
    expect(
        me.post("/v1/reports", &json!({"accused": accused, "kind": "littering"})).unwrap(),
        403,
        Some("denunciation_disabled"),
    );
}
