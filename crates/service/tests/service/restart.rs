//! Restarts: the state after a clean restart (from the shutdown snapshot) equals the state
//! before, and so does a replay of the whole log without any snapshot. Also the day clock,
//! whose closes are logged like any command.

use crate::common::*;
use serde_json::json;
use std::time::{Duration, Instant};

/// Some of everything: follows, promotions, favourites, interests, orders (a refused travel
/// order included), incidents, answers, an appeal, a scandal, day closes.
fn activity(server: &TestServer, w: &World, round: u32) {
    let mut op = server.operator();
    let mut kol = server.client(Some(&w.kol));
    let mut reporter = server.client(Some(&w.reporter));
    for i in 0..w.citizens.len() {
        let mut c = w.citizen(server, i);
        c.post_empty(&format!("/v1/kols/{}/follow", w.kol_id)).unwrap();
        c.put("/v1/citizens/me/favourites", &json!({"products": [w.milk]})).unwrap();
        c.put("/v1/citizens/me/interests", &json!({"interests": [0.1 * i as f64 + 0.05, 1.0 / 3.0, round as f64]}))
            .unwrap();
    }
    expect(kol.post("/v1/promotions", &json!({"product": w.milk})).unwrap(), 201, None);
    for i in 0..w.citizens.len() {
        let via = if i % 2 == 0 { json!(w.kol_id) } else { json!(null) };
        let body = json!({"product": w.milk, "units": 1 + i as u32, "via": via});
        expect(w.citizen(server, i).post("/v1/orders", &body).unwrap(), 201, None);
        w.citizen(server, i).post("/v1/orders", &json!({"product": w.train, "units": 1})).unwrap();
    }
    let batch = json!({"orders": [{"citizen": 0, "product": w.milk, "units": 2}, {"citizen": 1, "product": 99}]});
    expect(op.post("/v1/orders/batch", &batch).unwrap(), 200, None);
    let incident =
        expect(reporter.post("/v1/incidents", &json!({"citizen": 2, "kind": "fare_evasion"})).unwrap(), 201, None);
    let incident = incident["incident"].as_str().unwrap().to_string();
    expect(op.post_empty("/v1/days/close").unwrap(), 200, None);
    w.citizen(server, 0).post(&format!("/v1/notices/{incident}/answer"), &json!({"answer": "expel"})).unwrap();
    w.citizen(server, 2).post_empty(&format!("/v1/incidents/{incident}/appeal")).unwrap();
    op.post(&format!("/v1/incidents/{incident}/decision"), &json!({"granted": round.is_multiple_of(2)})).unwrap();
    op.post_empty(&format!("/v1/products/{}/scandal", w.milk)).unwrap();
    expect(op.post_empty("/v1/days/close").unwrap(), 200, None);
}

#[test]
fn state_after_restart_equals_state_before_and_a_replay_from_scratch() {
    let db = TestDb::sqlite();
    let mut config = config(&db);
    config.snapshot_every = 7;
    let server = TestServer::start(config);
    let w = world(&server, 6);
    activity(&server, &w, 0);
    let before = hashes(&server);
    let dashboard = expect(server.operator().get("/v1/operator/dashboard").unwrap(), 200, None);
    assert!(dashboard["totals"]["orders_refused_travel"].as_u64().unwrap() == 0, "nobody is banned yet");

    // Clean restart: the shutdown snapshot holds everything; nothing to replay.
    let config = server.stop();
    let server = TestServer::start(config);
    let started = server.started();
    assert_eq!(started.snapshot_seq, before["seq"].as_u64().unwrap());
    assert_eq!(started.replayed, 0);
    assert_eq!(hashes(&server), before);
    assert_eq!(expect(server.operator().get("/v1/operator/dashboard").unwrap(), 200, None), dashboard);

    // Work goes on after the snapshot; then a replay of the whole log, no snapshot.
    activity(&server, &w, 1);
    let after = hashes(&server);
    assert_ne!(after["service_state_hash"], before["service_state_hash"]);
    let mut config = server.stop();
    config.use_snapshots = false;
    let server = TestServer::start(config);
    assert_eq!(server.started().snapshot_seq, 0);
    assert_eq!(server.started().replayed, after["seq"].as_u64().unwrap());
    assert_eq!(hashes(&server), after);
    // Tokens still open the same accounts.
    assert_eq!(expect(w.citizen(&server, 3).get("/v1/me").unwrap(), 200, None)["citizen"], w.citizens[3].0);
}

#[test]
fn a_refused_travel_order_survives_a_restart_in_the_day_report() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let w = world(&server, 3);
    let mut reporter = server.client(Some(&w.reporter));
    for _ in 0..5 {
        expect(
            reporter.post("/v1/incidents", &json!({"citizen": 1, "kind": "destroying_public_equipment"})).unwrap(),
            201,
            None,
        );
    }
    expect(server.operator().post_empty("/v1/days/close").unwrap(), 200, None);
    expect(w.citizen(&server, 1).post("/v1/orders", &json!({"product": w.train})).unwrap(), 403, Some("travel_banned"));
    let config = server.stop();
    let server = TestServer::start(config);
    let day = expect(server.operator().post_empty("/v1/days/close").unwrap(), 200, None);
    assert_eq!(day["orders_refused_travel"], 1, "the refusal before the restart is counted in its day");
}

#[test]
fn the_day_clock_closes_days_through_the_log() {
    let db = TestDb::sqlite();
    let mut config = config(&db);
    config.day_length = Some(Duration::from_millis(100));
    let server = TestServer::start(config);
    let mut op = server.operator();
    let deadline = Instant::now() + Duration::from_secs(60);
    let day = loop {
        let current = expect(op.get("/v1/days/current").unwrap(), 200, None);
        assert_eq!(current["clock"]["day_length_ms"], 100);
        let day = current["day"].as_u64().unwrap();
        if day >= 2 || Instant::now() > deadline {
            break day;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(day >= 2, "the clock closed no day in a minute");
    let mut config = server.stop();
    config.day_length = None;
    let server = TestServer::start(config);
    let current = expect(server.operator().get("/v1/days/current").unwrap(), 200, None);
    assert!(current["day"].as_u64().unwrap() >= day, "closed days are in the log");
    assert_eq!(current["clock"], json!(null));
}
