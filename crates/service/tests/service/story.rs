//! The article's drunk night, over HTTP, on SQLite and on PostgreSQL: the same story as the
//! engine's doc example, told by five people with tokens, a reporter, a brand and the
//! operator — then the server is restarted and must remember every bit of it.

use crate::common::*;
use serde_json::json;
use std::time::Duration;

fn drunk_night(db: &TestDb) {
    let server = TestServer::start(config(db));
    let w = world(&server, 5);
    let mut op = server.operator();
    let mut reporter = server.client(Some(&w.reporter));
    let mut x = w.citizen(&server, 0);
    let x_id = w.citizens[0].0;

    // Everyone is in the same group of five.
    let group = expect(x.get("/v1/groups/mine").unwrap(), 200, None);
    assert_eq!(group["size"], 5);
    assert!(group.get("members").is_none(), "a citizen never sees who the others are");

    // Citizen 1 listens for events before anything happens.
    let events = w.citizen(&server, 1).events("/v1/events").expect("event stream");
    assert_eq!(events.next_named("ready", Duration::from_secs(10)).expect("ready").event, "ready");
    let x_events = x.events("/v1/events").expect("event stream");

    // Day 0: the cameras identify X drunk at night. The penalty applies at once.
    let incident = expect(
        reporter.post("/v1/incidents", &json!({"citizen": x_id, "kind": "public_drunkenness"})).unwrap(),
        201,
        None,
    );
    let incident_id = incident["incident"].as_str().unwrap().to_string();
    assert_eq!(incident["penalty"], -10);
    assert_eq!(expect(x.get("/v1/citizens/me").unwrap(), 200, None)["score"], 990);
    let told = x_events.next_named("incident_reported", Duration::from_secs(10)).expect("X is told");
    assert_eq!(told.json()["incident"], incident_id.as_str());

    // Nothing to answer before the day closes.
    let mut mate = w.citizen(&server, 1);
    let early = mate.post(&format!("/v1/notices/{incident_id}/answer"), &json!({"answer": "expel"})).unwrap();
    expect(early, 409, Some("notice_not_delivered"));

    // The day closes: the notices go out to the four group-mates.
    let day0 = expect(op.post_empty("/v1/days/close").unwrap(), 200, None);
    assert_eq!(day0["notices_delivered"], 4);
    let notice = events.next_named("notice", Duration::from_secs(10)).expect("a notice event");
    assert_eq!(notice.json()["incident"], incident_id.as_str());
    assert_eq!(notice.json()["expel_points"], 3);
    let notices = expect(mate.get("/v1/notices").unwrap(), 200, None);
    assert_eq!(notices["notices"][0]["incident"], incident_id.as_str());
    assert_eq!(notices["notices"][0]["offender"], x_id);
    assert_eq!(notices["notices"][0]["keep_points"], -3);
    // X gets no notice about themself.
    assert_eq!(expect(x.get("/v1/notices").unwrap(), 200, None)["notices"], json!([]));

    // Day 1: two say expel, one keep, one says nothing (counted as keep).
    for (i, answer) in [(1, "expel"), (2, "expel"), (3, "keep")] {
        let path = format!("/v1/notices/{incident_id}/answer");
        expect(w.citizen(&server, i).post(&path, &json!({"answer": answer})).unwrap(), 200, None);
    }
    let again = mate.post(&format!("/v1/notices/{incident_id}/answer"), &json!({"answer": "keep"})).unwrap();
    expect(again, 409, Some("already_answered"));
    let day1 = expect(op.post_empty("/v1/days/close").unwrap(), 200, None);
    assert_eq!(day1["expelled"], json!([{"incident": incident_id, "citizen": x_id}]));
    assert_eq!(
        (day1["answers_expel"].clone(), day1["answers_keep"].clone(), day1["answers_none"].clone()),
        (json!(2), json!(1), json!(1))
    );
    let tallied = events.next_named("vote_tallied", Duration::from_secs(10)).expect("points event");
    assert_eq!(tallied.json()["delta"], 3);
    assert_eq!(
        x_events.next_named("expelled", Duration::from_secs(10)).expect("X is told").json()["incident"],
        incident_id.as_str()
    );

    let score = |i: usize| expect(w.citizen(&server, i).get("/v1/citizens/me").unwrap(), 200, None)["score"].clone();
    assert_eq!(
        [score(0), score(1), score(2), score(3), score(4)],
        [json!(990), json!(1003), json!(1003), json!(997), json!(997)]
    );
    let profile = expect(x.get("/v1/citizens/me").unwrap(), 200, None);
    assert_eq!(profile["group"], json!(null), "X is groupless: no group discounts");
    assert_eq!(profile["regroup_day"], 31);

    // Why is my score 997? The explanation says it in words.
    let why = expect(w.citizen(&server, 4).get("/v1/citizens/me/explanation").unwrap(), 200, None);
    let sentence = why["sentences"][0].as_str().unwrap();
    assert!(sentence.contains("did not answer") && sentence.contains("\"keep\""), "{sentence}");
    let ledger = expect(x.get("/v1/citizens/me/ledger").unwrap(), 200, None);
    assert_eq!(ledger["entries"][0]["cause"], "incident");
    assert_eq!(ledger["entries"][0]["incident_kind"], "public_drunkenness");

    // X appeals; the operator grants it: the 10 points come back, the expulsion stands.
    expect(x.post_empty(&format!("/v1/incidents/{incident_id}/appeal")).unwrap(), 200, None);
    let pending = expect(op.get("/v1/appeals").unwrap(), 200, None);
    assert_eq!(pending["appeals"][0]["incident"], incident_id.as_str());
    let decided = expect(
        op.post(&format!("/v1/incidents/{incident_id}/decision"), &json!({"granted": true})).unwrap(),
        200,
        None,
    );
    assert_eq!(decided["delta"], 10);
    assert_eq!(
        x_events.next_named("appeal_decided", Duration::from_secs(10)).expect("X is told").json()["granted"],
        true
    );
    assert_eq!(score(0), 1000);

    // Citizen 4 is caught destroying public equipment five times: tier D at the close.
    let c4 = w.citizens[4].0;
    for _ in 0..5 {
        let body = json!({"citizen": c4, "kind": "destroying_public_equipment"});
        expect(reporter.post("/v1/incidents", &body).unwrap(), 201, None);
    }
    expect(op.post_empty("/v1/days/close").unwrap(), 200, None);
    let mut c4_client = w.citizen(&server, 4);
    let me = expect(c4_client.get("/v1/citizens/me").unwrap(), 200, None);
    assert_eq!(
        (me["score"].clone(), me["tier"].clone(), me["travel_banned"].clone()),
        (json!(497), json!("D"), json!(true))
    );
    // The train ticket is refused, with the reason and what would lift the ban.
    let refused = c4_client.post("/v1/orders", &json!({"product": w.train})).unwrap();
    let refusal = expect(refused, 403, Some("travel_banned"));
    assert_eq!(refusal["details"]["score_needed"], 600);
    assert!(refusal["reason"].as_str().unwrap().contains("banned from travel"));
    // Milk is fine. Group buying: the group's milk pool reaches the first tier (10 units).
    let mut c1 = w.citizen(&server, 1);
    let quote = expect(c1.post("/v1/orders/quote", &json!({"product": w.milk, "units": 4})).unwrap(), 200, None);
    assert_eq!(quote["price"]["unit_price_fen"], 1000);
    assert_eq!(quote["next_tier"]["units_needed"], 6);
    let order = expect(c1.post("/v1/orders", &json!({"product": w.milk, "units": 4})).unwrap(), 201, None);
    let order_id = order["order"].as_str().unwrap().to_string();
    expect(w.citizen(&server, 2).post("/v1/orders", &json!({"product": w.milk, "units": 6})).unwrap(), 201, None);
    let pools = expect(c1.get("/v1/groups/mine/pools").unwrap(), 200, None);
    assert_eq!(pools["pools"][0]["units"], 10);
    assert_eq!(pools["pools"][0]["discount_bp"], 2000);
    let day3 = expect(op.post_empty("/v1/days/close").unwrap(), 200, None);
    assert_eq!(day3["orders_refused_travel"], 1);
    assert_eq!(day3["pools_by_tier"], json!([0, 1, 0, 0]));
    let mine = expect(c1.get("/v1/orders/mine").unwrap(), 200, None);
    assert_eq!(mine["settled"][0]["order"], order_id.as_str());
    assert_eq!(mine["settled"][0]["unit_price_fen"], 800, "20 % off for the pool of 10");

    // The operator's dashboard counts it all.
    let dashboard = expect(op.get("/v1/operator/dashboard").unwrap(), 200, None);
    assert_eq!(dashboard["totals"]["expulsions"], 1);
    assert_eq!(dashboard["totals"]["appeals_granted"], 1);
    assert_eq!(dashboard["totals"]["orders_refused_travel"], 1);
    assert_eq!(dashboard["travel_banned"], 1);
    assert_eq!(dashboard["history"].as_array().unwrap().len(), 4);

    // A restart remembers everything, to the bit.
    let before = hashes(&server);
    let profile_before = expect(w.citizen(&server, 3).get("/v1/citizens/me").unwrap(), 200, None);
    let config = server.stop();
    let server = TestServer::start(config);
    assert_eq!(hashes(&server), before);
    assert_eq!(
        expect(server.client(Some(&w.citizens[3].1)).get("/v1/citizens/me").unwrap(), 200, None),
        profile_before
    );
}

#[test]
fn drunk_night_on_sqlite() {
    drunk_night(&TestDb::sqlite());
}

#[test]
fn drunk_night_on_postgres() {
    if let Some(db) = TestDb::postgres("drunk_night") {
        drunk_night(&db);
    }
}
