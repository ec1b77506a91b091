//! Who may do what: every endpoint × every role (+ no token, a malformed one, an unknown
//! one), against the intended table below, the server's behaviour and `/openapi.json`'s
//! `x-roles` — all three must agree. Then the privacy rules that roles alone do not give:
//! one citizen never reaches another's data, even by guessing ids.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use xinyong_service::Token;

const O: &str = "operator";
const R: &str = "reporter";
const C: &str = "citizen";
const K: &str = "kol";
const B: &str = "brand";
const ALL: &[&str] = &[O, R, C, K, B];
const PUBLIC: &[&str] = &["public"];

/// The intended access of every endpoint.
fn intended() -> BTreeMap<(&'static str, &'static str), &'static [&'static str]> {
    let table: &[(&str, &str, &[&str])] = &[
        ("get", "/healthz", PUBLIC),
        ("get", "/metrics", PUBLIC),
        ("get", "/openapi.json", PUBLIC),
        ("post", "/v1/register", PUBLIC),
        ("get", "/v1/me", ALL),
        ("post", "/v1/citizens", &[O]),
        ("post", "/v1/kols", &[O]),
        ("post", "/v1/brands", &[O]),
        ("post", "/v1/reporters", &[O]),
        ("get", "/v1/citizens/me", &[C]),
        ("get", "/v1/citizens/me/ledger", &[C]),
        ("get", "/v1/citizens/me/explanation", &[C]),
        ("put", "/v1/citizens/me/favourites", &[C]),
        ("put", "/v1/citizens/me/interests", &[C]),
        ("get", "/v1/citizens/{id}", &[O]),
        ("get", "/v1/groups/mine", &[C]),
        ("get", "/v1/groups/mine/pools", &[C]),
        ("post", "/v1/groups/form", &[O]),
        ("get", "/v1/kols", ALL),
        ("get", "/v1/kols/me", &[K]),
        ("post", "/v1/kols/{id}/follow", &[C]),
        ("delete", "/v1/kols/{id}/follow", &[C]),
        ("post", "/v1/promotions", &[K]),
        ("get", "/v1/feed", &[C]),
        ("get", "/v1/products", ALL),
        ("post", "/v1/products", &[O, B]),
        ("post", "/v1/products/{id}/scandal", &[O]),
        ("post", "/v1/orders/quote", &[C]),
        ("post", "/v1/orders", &[C]),
        ("post", "/v1/orders/batch", &[O, C]),
        ("get", "/v1/orders/mine", &[C]),
        ("post", "/v1/incidents", &[O, R]),
        ("get", "/v1/incidents/mine", &[C]),
        ("post", "/v1/incidents/{id}/appeal", &[C]),
        ("post", "/v1/incidents/{id}/decision", &[O]),
        ("get", "/v1/appeals", &[O]),
        ("post", "/v1/reports", &[C]),
        ("get", "/v1/reports/mine", &[C]),
        ("get", "/v1/reports", &[O, R]),
        ("post", "/v1/reports/{id}/decision", &[O, R]),
        ("get", "/v1/notices", &[C]),
        ("post", "/v1/notices/{id}/answer", &[C]),
        ("post", "/v1/days/close", &[O]),
        ("get", "/v1/days/current", ALL),
        ("get", "/v1/policy", ALL),
        ("put", "/v1/policy", &[O]),
        ("get", "/v1/operator/dashboard", &[O]),
        ("get", "/v1/operator/state-hash", &[O]),
        ("get", "/v1/events", ALL),
        // The web app's read-only figures (api/web_support.rs).
        ("get", "/v1/brands/me", &[B]),
        ("get", "/v1/kols/me/sales", &[K]),
        ("get", "/v1/operator/charts", &[O]),
        // Mixed worlds (api/mixed.rs): the operator's side-by-side view and exports.
        ("get", "/v1/operator/citizens", &[O]),
        ("get", "/v1/operator/population", &[O]),
        ("get", "/v1/operator/export/metrics.csv", &[O]),
        ("get", "/v1/operator/export/ledger.csv", &[O]),
        ("get", "/v1/operator/export/citizens.csv", &[O]),
    ];
    table.iter().map(|(m, p, r)| ((*m, *p), *r)).collect()
}

fn send(
    server: &TestServer,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> xinyong_service::client::Response {
    let mut client = server.client(token);
    let bytes = body.map(|b| serde_json::to_vec(b).unwrap());
    let headers: &[(&str, &str)] = if body.is_some() { &[("content-type", "application/json")] } else { &[] };
    client.send(&method.to_uppercase(), path, headers, bytes.as_deref()).unwrap()
}

#[test]
fn every_endpoint_times_every_role() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let w = world(&server, 5);
    // An incident against citizen 0, delivered to the group, so incident paths resolve.
    let mut reporter = server.client(Some(&w.reporter));
    let incident =
        expect(reporter.post("/v1/incidents", &json!({"citizen": 0, "kind": "littering"})).unwrap(), 201, None);
    let incident = incident["incident"].as_str().unwrap().to_string();
    expect(server.operator().post_empty("/v1/days/close").unwrap(), 200, None);

    let tokens: BTreeMap<&str, String> = [
        (O, server.operator.clone()),
        (R, w.reporter.clone()),
        (C, w.citizens[0].1.clone()),
        (K, w.kol.clone()),
        (B, w.brand.clone()),
    ]
    .into_iter()
    .collect();
    let spec = expect(server.client(None).get("/openapi.json").unwrap(), 200, None);
    let intended = intended();
    let mut checked = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, op) in operations.as_object().unwrap() {
            let key = (method.as_str(), path.as_str());
            let Some(roles) = intended.get(&key) else {
                panic!("{method} {path} is routed but not in the intended table")
            };
            let mut documented: Vec<&str> =
                op["x-roles"].as_array().unwrap().iter().map(|r| r.as_str().unwrap()).collect();
            let mut expected = roles.to_vec();
            documented.sort();
            expected.sort();
            assert_eq!(documented, expected, "{method} {path}: /openapi.json says {documented:?}");
            if *roles == PUBLIC {
                continue;
            }
            let concrete = if path.contains("/incidents/") || path.contains("/notices/") {
                path.replace("{id}", &incident)
            } else {
                path.replace("{id}", "0")
            };
            let body = op["requestBody"]["content"]["application/json"]["example"].clone();
            let body = (!body.is_null()).then_some(body);
            let unknown = Token::generate().unwrap();
            for token in [None, Some("not-a-token"), Some(unknown.as_str())] {
                let response = send(&server, token, method, &concrete, body.as_ref());
                expect(response, 401, Some("unauthorized"));
            }
            for role in ALL {
                let token = tokens[role].as_str();
                let allowed = roles.contains(role);
                checked += 1;
                if allowed && path == "/v1/events" {
                    let stream = server.client(Some(token)).events(path).unwrap_or_else(|e| panic!("{role}: {e}"));
                    assert!(stream.next_named("ready", Duration::from_secs(10)).is_some());
                    continue;
                }
                let response = send(&server, Some(token), method, &concrete, body.as_ref());
                if allowed {
                    let code = response.code();
                    assert!(
                        response.status < 500 && response.status != 401 && code.as_deref() != Some("forbidden"),
                        "{role} may {method} {path}, got {}: {}",
                        response.status,
                        response.text()
                    );
                    // The documented example is a body the handler accepts.
                    assert!(
                        !matches!(code.as_deref(), Some("bad_json" | "invalid_body" | "unsupported_media_type")),
                        "{method} {path}: the documented example is refused: {}",
                        response.text()
                    );
                } else {
                    expect(response, 403, Some("forbidden"));
                }
            }
        }
    }
    assert_eq!(checked, (intended.len() - 4) * ALL.len(), "every non-public endpoint was checked for every role");
    assert_eq!(
        intended.len(),
        spec["paths"].as_object().unwrap().values().map(|ops| ops.as_object().unwrap().len()).sum::<usize>(),
        "every intended endpoint is routed"
    );
}

#[test]
fn public_endpoints_need_no_token() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let mut anonymous = server.client(None);
    assert_eq!(expect(anonymous.get("/healthz").unwrap(), 200, None)["status"], "ok");
    let metrics = anonymous.get("/metrics").unwrap();
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().contains("xinyong_log_seq "), "{}", metrics.text());
    assert_eq!(expect(anonymous.get("/openapi.json").unwrap(), 200, None)["openapi"], "3.1.0");
    expect(anonymous.post_empty("/v1/register").unwrap(), 403, Some("registration_closed"));
    let page = anonymous.get("/").unwrap();
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/openapi.json"));
}

#[test]
fn self_registration_when_the_server_allows_it() {
    let db = TestDb::sqlite();
    let mut config = config(&db);
    config.self_registration = true;
    let server = TestServer::start(config);
    let me = expect(server.client(None).post_empty("/v1/register").unwrap(), 201, None);
    let mut citizen = server.client(Some(me["token"].as_str().unwrap()));
    assert_eq!(expect(citizen.get("/v1/me").unwrap(), 200, None)["role"], "citizen");
}

#[test]
fn a_citizen_never_reaches_another_citizens_data() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let w = world(&server, 5);
    // A second group of three.
    let mut op = server.operator();
    let more = expect(op.post("/v1/citizens", &json!({"count": 3})).unwrap(), 201, None);
    expect(op.post_empty("/v1/groups/form").unwrap(), 201, None);
    let stranger_token = more["citizens"][0]["token"].as_str().unwrap().to_string();
    let mut stranger = server.client(Some(&stranger_token));
    assert_eq!(expect(stranger.get("/v1/groups/mine").unwrap(), 200, None)["size"], 3);

    // Browsers' EventSource cannot set headers: the token may come in the query.
    let mate_events = server.client(None).events(&format!("/v1/events?access_token={}", w.citizens[1].1)).unwrap();
    assert!(mate_events.next_named("ready", Duration::from_secs(10)).is_some());
    let mut reporter = server.client(Some(&w.reporter));
    let incident =
        expect(reporter.post("/v1/incidents", &json!({"citizen": 0, "kind": "littering"})).unwrap(), 201, None);
    let incident = incident["incident"].as_str().unwrap().to_string();
    expect(op.post_empty("/v1/days/close").unwrap(), 200, None);
    // The group-mate's first event is the day close, not the offender's private news.
    let first = mate_events.next(Duration::from_secs(10)).expect("an event");
    assert_eq!(first.event, "day_closed");

    // Another citizen's profile is the operator's business only.
    expect(w.citizen(&server, 1).get("/v1/citizens/0").unwrap(), 403, Some("forbidden"));
    // Someone else's incident looks exactly like one that does not exist.
    let theirs = stranger.post_empty(&format!("/v1/incidents/{incident}/appeal")).unwrap();
    let nothing = stranger.post_empty("/v1/incidents/i0-0-99/appeal").unwrap();
    let (theirs, nothing) =
        (expect(theirs, 404, Some("unknown_incident")), expect(nothing, 404, Some("unknown_incident")));
    assert_eq!(theirs["code"], nothing["code"]);
    // A notice to another group: the same answer as no notice at all.
    let path = format!("/v1/notices/{incident}/answer");
    expect(stranger.post(&path, &json!({"answer": "expel"})).unwrap(), 404, Some("unknown_notice"));
    expect(
        stranger.post("/v1/notices/i0-0-99/answer", &json!({"answer": "expel"})).unwrap(),
        404,
        Some("unknown_notice"),
    );
    // The offender cannot vote on themself; the group-mate can.
    expect(w.citizen(&server, 0).post(&path, &json!({"answer": "keep"})).unwrap(), 404, Some("unknown_notice"));
    expect(w.citizen(&server, 1).post(&path, &json!({"answer": "keep"})).unwrap(), 200, None);
    // A citizen's batch names no other citizen.
    let batch = json!({"orders": [{"citizen": 0, "product": w.milk}]});
    expect(w.citizen(&server, 1).post("/v1/orders/batch", &batch).unwrap(), 403, Some("forbidden"));
    // A brand adds products of its own brand only.
    let other_brand = expect(op.post("/v1/brands", &json!({"name": "Yili"})).unwrap(), 201, None);
    let product = json!({"name": "yoghurt", "list_price_fen": 500, "brand": other_brand["brand"]});
    expect(server.client(Some(&w.brand)).post("/v1/products", &product).unwrap(), 403, Some("forbidden"));
    assert_eq!(w.brand_id, 0);
}

#[test]
fn a_kol_promotes_and_followers_buy_through_them() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let w = world(&server, 3);
    let mut kol = server.client(Some(&w.kol));
    let mut fan = w.citizen(&server, 0);
    let via = json!({"product": w.milk, "units": 1, "via": w.kol_id});
    expect(fan.post("/v1/orders", &via).unwrap(), 409, Some("promotion_not_active"));
    expect(kol.post("/v1/promotions", &json!({"product": w.milk})).unwrap(), 201, None);
    expect(kol.post("/v1/promotions", &json!({"product": w.milk})).unwrap(), 409, Some("already_promoted"));
    expect(fan.post("/v1/orders", &via).unwrap(), 409, Some("not_following"));
    expect(fan.post_empty(&format!("/v1/kols/{}/follow", w.kol_id)).unwrap(), 200, None);
    let feed = expect(fan.get("/v1/feed").unwrap(), 200, None);
    assert_eq!(feed["promotions"][0]["product"], w.milk);
    expect(fan.post("/v1/orders", &via).unwrap(), 201, None);
    expect(server.operator().post_empty("/v1/days/close").unwrap(), 200, None);
    let me = expect(kol.get("/v1/kols/me").unwrap(), 200, None);
    assert_eq!((me["followers"].clone(), me["units_sold"].clone()), (json!(1), json!(1)));
    expect(fan.delete(&format!("/v1/kols/{}/follow", w.kol_id)).unwrap(), 200, None);
    let kols = expect(fan.get("/v1/kols").unwrap(), 200, None);
    assert_eq!(kols["kols"][0]["followers"], 0);
}
