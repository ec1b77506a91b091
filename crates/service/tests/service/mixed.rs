//! Mixed worlds (issue 12): real people among simulated citizens, over real HTTP.

use crate::common::*;
use serde_json::{Value, json};
use xinyong_sim::{Scenario, Simulation};

const SIMULATED: u32 = 1_200;

fn scenario(days: u32) -> Scenario {
    let mut s = Scenario::default();
    s.run.name = "mixed-test".into();
    s.run.citizens = SIMULATED;
    s.run.days = days;
    s.run.seed = 5;
    s.world.misconduct.daily_rate_mean = 0.004;
    s.policy.sanction.regroup_after_days = 4;
    s
}

fn mixed_server(db: &TestDb, days: u32) -> TestServer {
    let mut config = config(db);
    let scenario = scenario(days);
    config.policy = Some(scenario.policy.clone());
    config.synthetic = Some(scenario);
    let server = TestServer::start(config);
    assert!(server.started().mixed);
    server
}

fn close_day(server: &TestServer) -> Value {
    expect(server.operator().post_empty("/v1/days/close").unwrap(), 200, None)
}

fn export(server: &TestServer, file: &str) -> String {
    let response = server.operator().get(&format!("/v1/operator/export/{file}")).unwrap();
    assert_eq!(response.status, 200, "{}", response.text());
    assert!(response.header("content-type").is_some_and(|t| t.starts_with("text/csv")));
    response.text()
}

/// The log's record kinds, in order.
fn record_kinds(db: &TestDb) -> Vec<String> {
    let mut store = xinyong_store::open(&db.location).unwrap();
    store.read_after(0, 100_000).unwrap().into_iter().map(|r| r.kind).collect()
}

#[test]
fn with_nobody_real_a_mixed_server_gives_simulates_metrics_and_a_restart_replays_them() {
    let days = 10;
    let db = TestDb::sqlite();
    let server = mixed_server(&db, days);
    let dashboard = expect(server.operator().get("/v1/operator/dashboard").unwrap(), 200, None);
    assert_eq!(dashboard["citizens"], SIMULATED);
    assert!(dashboard["groups"]["count"].as_u64().unwrap() >= 4, "the synthetic population is grouped");
    for _ in 0..days {
        close_day(&server);
    }
    let metrics = export(&server, "metrics.csv");
    let mut reference = Simulation::new(scenario(days)).unwrap();
    reference.run(|_, _| {});
    let expected = xinyong_sim::metrics::to_csv(reference.metrics(), &reference.tier_names());
    assert_eq!(metrics, expected, "a mixed world without participants is the simulation itself");
    let expulsions: u64 = reference.metrics().iter().map(|r| r.expulsions).sum();
    assert!(expulsions > 0, "the run exercises the votes");

    // The simulated citizens' commands are in the log, one record per day.
    let kinds = record_kinds(&db);
    assert_eq!(kinds[..2], ["bootstrap".to_string(), "synthetic".to_string()]);
    assert_eq!(kinds.iter().filter(|k| *k == "simulated_day").count(), days as usize);
    let ledger = export(&server, "ledger.csv");
    assert!(ledger.starts_with("day,citizen,delta,requested,cause,"));
    assert!(ledger.lines().skip(1).all(|l| l.ends_with(",0")), "nobody is real");

    // A restart replays the log (a mixed world takes no snapshot) to the same state.
    let before = hashes(&server);
    let config = server.stop();
    let server = TestServer::start(config);
    assert_eq!(server.started().snapshot_seq, 0);
    assert_eq!(server.started().replayed, before["seq"].as_u64().unwrap());
    assert_eq!(hashes(&server), before);
    assert_eq!(export(&server, "metrics.csv"), expected);
    assert_eq!(export(&server, "ledger.csv"), ledger);
}

#[test]
fn a_real_person_who_always_keeps_ends_with_exactly_the_points_the_rules_give() {
    let db = TestDb::sqlite();
    let server = mixed_server(&db, 20);
    let mut op = server.operator();
    let body = expect(op.post("/v1/citizens", &json!({"count": 2})).unwrap(), 201, None);
    let person = registered(&body);
    assert_eq!(person[0].0, SIMULATED, "real people come after the simulated citizens");
    close_day(&server); // placed at the first close, among the simulated
    let mut me = server.client(Some(&person[0].1));
    let profile = expect(me.get("/v1/citizens/me").unwrap(), 200, None);
    assert!(profile["group"].is_u64(), "placed into a group: {profile}");
    let group = expect(me.get("/v1/groups/mine").unwrap(), 200, None);
    assert!(group.to_string().find("simulated").is_none() && group.get("real").is_none(), "{group}");

    let mut answered = 0i64;
    for _ in 0..15 {
        let notices = expect(me.get("/v1/notices").unwrap(), 200, None);
        for n in notices["notices"].as_array().unwrap().iter().filter(|n| n["answer"].is_null()) {
            let path = format!("/v1/notices/{}/answer", n["incident"].as_str().unwrap());
            expect(me.post(&path, &json!({"answer": "keep"})).unwrap(), 200, None);
            answered += 1;
        }
        close_day(&server);
    }
    assert!(answered > 0, "the person's group had incidents to vote on");
    let incidents = expect(me.get("/v1/incidents/mine").unwrap(), 200, None);
    let penalties: i64 =
        incidents["incidents"].as_array().unwrap().iter().map(|i| i["penalty"].as_i64().unwrap()).sum();
    let policy = scenario(20).policy;
    let expected = policy.initial_score as i64 + penalties - policy.sanction.keep_penalty as i64 * answered;
    let score = expect(me.get("/v1/citizens/me").unwrap(), 200, None)["score"].as_i64().unwrap();
    assert_eq!(score, expected, "{answered} keeps, penalties {penalties}");

    // The simulated citizens never act for a real person: the silent one is counted silent.
    let population = expect(op.get("/v1/operator/population").unwrap(), 200, None);
    assert_eq!(population["real"]["citizens"], 2);
    assert_eq!(population["real"]["answered_keep"].as_i64().unwrap(), answered);
    assert_eq!(population["real"]["answered_expel"], 0);
    assert!(population["real"]["silent"].as_u64().unwrap() > 0, "the second person never answered");
    assert_eq!(population["simulated"]["citizens"], SIMULATED);
    assert!(population["simulated"]["answered_expel"].as_u64().unwrap() > 0);

    let real = expect(op.get("/v1/operator/citizens?population=real").unwrap(), 200, None);
    assert_eq!(real["total"], 2);
    assert!(real["citizens"].as_array().unwrap().iter().all(|c| c["real"] == true && c["account"].is_u64()));
    let simulated =
        expect(op.get("/v1/operator/citizens?population=simulated&offset=1195&limit=10").unwrap(), 200, None);
    assert_eq!(simulated["total"], SIMULATED);
    assert_eq!(simulated["citizens"].as_array().unwrap().len(), 5);
    assert!(simulated["citizens"].as_array().unwrap().iter().all(|c| c["real"] == false && c["account"].is_null()));
    expect(op.get("/v1/operator/citizens?population=robots").unwrap(), 400, Some("invalid_query"));
    expect(op.get("/v1/operator/citizens?limit=0").unwrap(), 400, Some("invalid_query"));
    let citizens = export(&server, "citizens.csv");
    let mine = citizens.lines().find(|l| l.starts_with(&format!("{},1,", SIMULATED))).expect("the person's row");
    assert!(mine.contains(&format!(",0,{answered},0,")), "{mine}");

    // Restart: the log replays the simulated days and the person's answers to the same state.
    let before = hashes(&server);
    let config = server.stop();
    let server = TestServer::start(config);
    assert_eq!(hashes(&server), before);
    let mut me = server.client(Some(&person[0].1));
    assert_eq!(expect(me.get("/v1/citizens/me").unwrap(), 200, None)["score"].as_i64().unwrap(), score);
}

#[test]
fn a_plain_server_has_no_simulated_metrics_and_says_so() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let w = world(&server, 3);
    expect(server.operator().get("/v1/operator/export/metrics.csv").unwrap(), 409, Some("not_mixed"));
    let population = expect(server.operator().get("/v1/operator/population").unwrap(), 200, None);
    assert_eq!(population["real"]["citizens"], 3);
    assert_eq!(population["simulated"]["citizens"], 0);
    expect(w.citizen(&server, 0).get("/v1/operator/population").unwrap(), 403, None);
}

#[test]
fn a_day_of_many_simulated_commands_spans_several_records_and_replays() {
    let db = TestDb::sqlite();
    let mut config = config(&db);
    let mut scenario = scenario(2);
    scenario.run.citizens = 30_000;
    config.policy = Some(scenario.policy.clone());
    config.synthetic = Some(scenario);
    let server = TestServer::start(config);
    for _ in 0..2 {
        close_day(&server);
    }
    let kinds = record_kinds(&db);
    let days = kinds.iter().filter(|k| *k == "simulated_day").count();
    assert!(days > 2, "{days} records for 2 days: a day's commands are split below the record size limit");
    let before = hashes(&server);
    let metrics = export(&server, "metrics.csv");
    let config = server.stop();
    let server = TestServer::start(config);
    assert_eq!(hashes(&server), before);
    assert_eq!(export(&server, "metrics.csv"), metrics);
}
