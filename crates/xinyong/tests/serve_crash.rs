//! Crash safety of `xinyong serve`, with the real binary: SIGKILL the server during a
//! stream of writes from several clients, restart it, and check that every command it
//! acknowledged is there — through the API and in the log itself — and that the state it
//! rebuilt equals a replay of the whole log from scratch.

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use xinyong_service::client::Client;

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &str, token: &str, extra: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_xinyong"))
        .args(["serve", "--db", db, "--listen", "127.0.0.1:0", "--snapshot-every", "25"])
        .args(extra)
        .env("XINYONG_OPERATOR_TOKEN", token)
        .env("XINYONG_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start xinyong serve");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let url = loop {
        let line = lines.next().expect("the server printed its address").expect("a line");
        if let Some(url) = line.split("listening on ").nth(1) {
            break url.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

#[track_caller]
fn ok(response: std::io::Result<xinyong_service::client::Response>, status: u16) -> Value {
    let response = response.expect("an answer");
    assert_eq!(response.status, status, "{}", response.text());
    response.json()
}

/// What the clients were told before the kill: (log seq, what was acknowledged).
#[derive(Default)]
struct Acked {
    orders: Vec<(u64, usize, String)>,
    incidents: Vec<(u64, u32, String)>,
    closed_days: Vec<(u64, u64)>,
}

#[test]
fn killed_mid_stream_every_acknowledged_command_survives_and_replays_identically() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("xinyong.db").to_str().unwrap().to_string();
    let token = xinyong_service::Token::generate().unwrap().as_str().to_string();
    let server = start(&db, &token, &[]);
    let url = server.url.clone();

    // Set-up: small groups, 40 citizens, a brand with one product, a reporter.
    let mut op = Client::new(&url).unwrap().with_token(&token);
    ok(op.put("/v1/policy", &json!({"groups": {"min_size": 3, "max_size": 10}})), 200);
    let created = ok(op.post("/v1/citizens", &json!({"count": 40})), 201);
    let citizens: Vec<(u32, String)> = created["citizens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["citizen"].as_u64().unwrap() as u32, c["token"].as_str().unwrap().to_string()))
        .collect();
    let brand = ok(op.post("/v1/brands", &json!({"name": "b"})), 201);
    let product =
        ok(op.post("/v1/products", &json!({"name": "milk", "list_price_fen": 1000, "brand": brand["brand"]})), 201);
    let product = product["product"].as_u64().unwrap();
    let reporter = ok(op.post("/v1/reporters", &json!({"name": "camera"})), 201)["token"].as_str().unwrap().to_string();
    ok(op.post_empty("/v1/groups/form"), 201);

    // The stream: four citizen clients ordering, a reporter, and the operator closing days.
    let acked = Arc::new(Mutex::new(Acked::default()));
    let count = Arc::new(AtomicUsize::new(0));
    let dead = Arc::new(AtomicBool::new(false));
    let seq_of =
        |r: &xinyong_service::client::Response| r.header("xinyong-seq").and_then(|s| s.parse().ok()).unwrap_or(0);
    let (acked_ref, count_ref, dead_ref, url_ref, citizens_ref, reporter_ref, token_ref) =
        (&acked, &count, &dead, &url, &citizens, &reporter, &token);
    std::thread::scope(|scope| {
        for t in 0..4 {
            let (acked, count, dead, url, citizens) = (acked_ref, count_ref, dead_ref, url_ref, citizens_ref);
            scope.spawn(move || {
                let mut client = Client::new(url).unwrap();
                let mut i = t;
                while !dead.load(Ordering::Relaxed) {
                    let (_, token) = &citizens[i % citizens.len()];
                    client.set_token(Some(token));
                    match client.post("/v1/orders", &json!({"product": product, "units": 1})) {
                        Ok(r) if r.status == 201 => {
                            let order = r.json()["order"].as_str().unwrap().to_string();
                            acked.lock().unwrap().orders.push((seq_of(&r), i % citizens.len(), order));
                            count.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => assert!(r.status < 500, "{}", r.text()),
                        Err(_) => break, // the server is gone
                    }
                    i += 4;
                }
            });
        }
        let (acked, dead, url, citizens, reporter) = (acked_ref, dead_ref, url_ref, citizens_ref, reporter_ref);
        scope.spawn(move || {
            let mut client = Client::new(url).unwrap().with_token(reporter);
            let mut k = 0u32;
            while !dead.load(Ordering::Relaxed) {
                let citizen = citizens[(k as usize * 7) % citizens.len()].0;
                match client.post("/v1/incidents", &json!({"citizen": citizen, "kind": "littering"})) {
                    Ok(r) if r.status == 201 => {
                        let id = r.json()["incident"].as_str().unwrap().to_string();
                        acked.lock().unwrap().incidents.push((seq_of(&r), citizen, id));
                    }
                    Ok(r) => assert!(r.status < 500, "{}", r.text()),
                    Err(_) => break,
                }
                k += 1;
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let (acked, dead, url, token) = (acked_ref, dead_ref, url_ref, token_ref);
        scope.spawn(move || {
            let mut client = Client::new(url).unwrap().with_token(token);
            while !dead.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(15));
                match client.post_empty("/v1/days/close") {
                    Ok(r) if r.status == 200 => {
                        let day = r.json()["day"].as_u64().unwrap();
                        acked.lock().unwrap().closed_days.push((seq_of(&r), day));
                    }
                    Ok(r) => assert!(r.status < 500, "{}", r.text()),
                    Err(_) => break,
                }
            }
        });
        // Kill once the stream is well under way (the kill lands anywhere in the cycle).
        while count_ref.load(Ordering::Relaxed) < 600 {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut server = server;
        server.child.kill().expect("SIGKILL the server");
        server.child.wait().unwrap();
        dead_ref.store(true, Ordering::Relaxed);
    });
    let acked = Arc::try_unwrap(acked).ok().unwrap().into_inner().unwrap();
    assert!(acked.orders.len() >= 600 && !acked.incidents.is_empty() && !acked.closed_days.is_empty());

    // Every acknowledged record is in the log at the seq the client was told.
    {
        let mut store = xinyong_store::open(&db).expect("reopen the log");
        let seqs: Vec<u64> = acked
            .orders
            .iter()
            .map(|o| o.0)
            .chain(acked.incidents.iter().map(|i| i.0))
            .chain(acked.closed_days.iter().map(|d| d.0))
            .collect();
        assert!(seqs.iter().all(|&s| s > 0), "every write answer carries its seq");
        let records =
            xinyong_store::crash_test::records_at(store.as_mut(), &seqs).expect("acknowledged seqs are in the log");
        for (seq, _, order) in &acked.orders {
            let body: Value = serde_json::from_slice(&records[seq].body).unwrap();
            assert_eq!(body["command"]["command"]["type"], "place_order", "seq {seq} holds order {order}");
        }
    }

    // Restart (newest snapshot + the records after it): every acknowledged command is there.
    let server = start(&db, &token, &[]);
    let mut op = Client::new(&server.url).unwrap().with_token(&token);
    let mut orders_by_citizen: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    for (_, citizen, order) in &acked.orders {
        orders_by_citizen.entry(*citizen).or_default().insert(order.clone());
    }
    for (citizen, orders) in &orders_by_citizen {
        let mut client = Client::new(&server.url).unwrap().with_token(&citizens[*citizen].1);
        let mine = ok(client.get("/v1/orders/mine"), 200);
        let found: BTreeSet<String> = mine["pending"]
            .as_array()
            .unwrap()
            .iter()
            .chain(mine["settled"].as_array().unwrap())
            .map(|o| o["order"].as_str().unwrap().to_string())
            .collect();
        let missing: Vec<&String> = orders.difference(&found).collect();
        assert!(missing.is_empty(), "citizen {citizen}: acknowledged orders missing after the crash: {missing:?}");
    }
    for (_, citizen, incident) in &acked.incidents {
        let audit = ok(op.get(&format!("/v1/citizens/{citizen}")), 200);
        assert!(
            audit["incidents"].as_array().unwrap().iter().any(|i| i["incident"] == incident.as_str()),
            "acknowledged incident {incident} is missing"
        );
    }
    let last_closed = acked.closed_days.iter().map(|d| d.1).max().unwrap();
    let today = ok(op.get("/v1/days/current"), 200)["day"].as_u64().unwrap();
    assert!(today > last_closed, "day {last_closed} was closed and acknowledged");
    let restarted = ok(op.get("/v1/operator/state-hash"), 200);

    // Killed again (no shutdown snapshot), then a replay of the whole log, no snapshot at all.
    drop(server);
    let replayed = start(&db, &token, &["--no-snapshots"]);
    let mut op = Client::new(&replayed.url).unwrap().with_token(&token);
    assert_eq!(ok(op.get("/v1/operator/state-hash"), 200), restarted, "the state equals a replay from scratch");
}
