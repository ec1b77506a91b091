//! Whatever a client sends, the answer is a 4xx JSON body with a code and a reason — never
//! a 5xx, never a dropped connection — and the server stays healthy.

use crate::common::*;
use serde_json::{Value, json};
use xinyong_service::client::Response;

struct Case {
    what: &'static str,
    method: &'static str,
    path: String,
    token: Option<String>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
}

fn case(
    what: &'static str,
    method: &'static str,
    path: &str,
    token: &str,
    body: &str,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_string(),
        token: Some(token.to_string()),
        content_type: Some("application/json"),
        body: body.as_bytes().to_vec(),
        status,
        code,
    }
}

fn send(server: &TestServer, c: &Case) -> Response {
    let mut client = server.client(c.token.as_deref());
    let headers: Vec<(&str, &str)> = c.content_type.map(|t| vec![("content-type", t)]).unwrap_or_default();
    let body = (!c.body.is_empty() || c.method != "GET").then_some(c.body.as_slice());
    client.send(c.method, &c.path, &headers, body).unwrap_or_else(|e| panic!("{}: {e}", c.what))
}

/// A refusal body: JSON with a non-empty code and reason.
#[track_caller]
fn assert_refusal_shape(response: &Response, what: &str) {
    let body: Value =
        serde_json::from_slice(&response.body).unwrap_or_else(|_| panic!("{what}: not JSON: {}", response.text()));
    assert!(body["code"].as_str().is_some_and(|c| !c.is_empty()), "{what}: {}", response.text());
    assert!(body["reason"].as_str().is_some_and(|r| !r.is_empty()), "{what}: {}", response.text());
    assert_eq!(response.header("content-type"), Some("application/json"), "{what}");
}

#[test]
fn malformed_requests_get_a_json_refusal_with_a_code() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let w = world(&server, 3);
    let op = server.operator.clone();
    let me = w.citizens[0].1.clone();
    let reporter = w.reporter.clone();
    let big = format!("{{\"product\": 0, \"units\": 1, \"via\": null, \"pad\": \"{}\"}}", "x".repeat(70 << 10));
    let huge_batch = format!("{{\"orders\": [{}]}}", vec![r#"{"product": 0}"#; 200_000].join(","));
    let many_orders = format!("{{\"orders\": [{}]}}", vec![r#"{"product":0}"#; 10_001].join(","));
    let deep = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
    let too_many_interests = format!("{{\"interests\": [{}]}}", vec!["1"; 65].join(","));
    let too_many_favourites =
        format!("{{\"products\": [{}]}}", (0..17).map(|i| i.to_string()).collect::<Vec<_>>().join(","));
    let long_name = format!("{{\"name\": \"{}\"}}", "n".repeat(300));
    let mut cases = vec![
        case("malformed JSON", "POST", "/v1/orders", &me, r#"{"product": "#, 400, "bad_json"),
        case("trailing garbage", "POST", "/v1/orders", &me, r#"{"product": 0} x"#, 400, "bad_json"),
        case("unknown field", "POST", "/v1/orders", &me, r#"{"product": 0, "colour": "red"}"#, 422, "invalid_body"),
        case("wrong type", "POST", "/v1/orders", &me, r#"{"product": "milk"}"#, 422, "invalid_body"),
        case("negative units", "POST", "/v1/orders", &me, r#"{"product": 0, "units": -1}"#, 422, "invalid_body"),
        case("zero units", "POST", "/v1/orders", &me, r#"{"product": 0, "units": 0}"#, 422, "invalid_units"),
        case("too many units", "POST", "/v1/orders", &me, r#"{"product": 0, "units": 21}"#, 422, "invalid_units"),
        case("not an object", "POST", "/v1/orders", &me, r#"[1, 2]"#, 422, "invalid_body"),
        case("empty body", "POST", "/v1/orders", &me, "", 400, "bad_json"),
        case("deep nesting", "POST", "/v1/orders", &me, &deep, 422, "invalid_body"),
        case("oversized body", "POST", "/v1/orders", &me, &big, 413, "body_too_large"),
        case("oversized batch", "POST", "/v1/orders/batch", &op, &huge_batch, 413, "body_too_large"),
        case("too many orders", "POST", "/v1/orders/batch", &op, &many_orders, 422, "invalid_count"),
        case("empty batch", "POST", "/v1/orders/batch", &op, r#"{"orders": []}"#, 422, "invalid_count"),
        case(
            "batch without citizen",
            "POST",
            "/v1/orders/batch",
            &op,
            r#"{"orders": [{"product": 0}]}"#,
            422,
            "citizen_required",
        ),
        case("unknown product", "POST", "/v1/orders", &me, r#"{"product": 999}"#, 404, "unknown_product"),
        case("unknown KOL", "POST", "/v1/kols/999/follow", &me, "", 404, "unknown_kol"),
        case("unknown KOL via", "POST", "/v1/orders", &me, r#"{"product": 0, "via": 999}"#, 404, "unknown_kol"),
        case("id not a number", "POST", "/v1/kols/abc/follow", &me, "", 400, "invalid_id"),
        case("id too large", "POST", "/v1/kols/99999999999/follow", &me, "", 400, "invalid_id"),
        case("unknown citizen", "GET", "/v1/citizens/4000000000", &op, "", 404, "unknown_citizen"),
        case("bad incident id", "POST", "/v1/incidents/banana/appeal", &me, "", 400, "invalid_incident_id"),
        case(
            "incident id out of range",
            "POST",
            "/v1/incidents/i99999999-0-0/appeal",
            &me,
            "",
            400,
            "invalid_incident_id",
        ),
        case(
            "incident id with extra parts",
            "POST",
            "/v1/incidents/i1-0-0-0/decision",
            &op,
            r#"{"granted": true}"#,
            400,
            "invalid_incident_id",
        ),
        case("unknown incident", "POST", "/v1/incidents/i0-0-7/appeal", &me, "", 404, "unknown_incident"),
        case(
            "unknown incident decision",
            "POST",
            "/v1/incidents/i0-0-7/decision",
            &op,
            r#"{"granted": true}"#,
            404,
            "unknown_incident",
        ),
        case("decision without field", "POST", "/v1/incidents/i0-0-7/decision", &op, "{}", 422, "invalid_body"),
        case(
            "answer not expel or keep",
            "POST",
            "/v1/notices/i0-1-0/answer",
            &me,
            r#"{"answer": "maybe"}"#,
            422,
            "invalid_body",
        ),
        case(
            "unknown incident kind",
            "POST",
            "/v1/incidents",
            &reporter,
            r#"{"citizen": 0, "kind": "jaywalking"}"#,
            422,
            "unknown_incident_kind",
        ),
        case(
            "incident in the future",
            "POST",
            "/v1/incidents",
            &reporter,
            r#"{"citizen": 0, "kind": "littering", "day": 99}"#,
            422,
            "incident_in_future",
        ),
        case(
            "incident against nobody",
            "POST",
            "/v1/incidents",
            &reporter,
            r#"{"citizen": 77, "kind": "littering"}"#,
            404,
            "unknown_citizen",
        ),
        case(
            "interests out of range",
            "PUT",
            "/v1/citizens/me/interests",
            &me,
            r#"{"interests": [1e39]}"#,
            400,
            "bad_json",
        ),
        case(
            "negative interests",
            "PUT",
            "/v1/citizens/me/interests",
            &me,
            r#"{"interests": [-1]}"#,
            422,
            "invalid_value",
        ),
        case("no interests", "PUT", "/v1/citizens/me/interests", &me, r#"{"interests": []}"#, 422, "invalid_value"),
        case("too many interests", "PUT", "/v1/citizens/me/interests", &me, &too_many_interests, 422, "invalid_value"),
        case(
            "too many favourites",
            "PUT",
            "/v1/citizens/me/favourites",
            &me,
            &too_many_favourites,
            422,
            "limit_reached",
        ),
        case(
            "unknown favourite",
            "PUT",
            "/v1/citizens/me/favourites",
            &me,
            r#"{"products": [42]}"#,
            404,
            "unknown_product",
        ),
        case("policy after set-up", "PUT", "/v1/policy", &op, "{}", 409, "policy_locked"),
        case("policy unknown key", "PUT", "/v1/policy", &op, r#"{"initial_scroe": 3}"#, 422, "invalid_body"),
        case("empty name", "POST", "/v1/kols", &op, r#"{"name": " "}"#, 422, "invalid_name"),
        case("long name", "POST", "/v1/brands", &op, &long_name, 422, "invalid_name"),
        case("zero citizens", "POST", "/v1/citizens", &op, r#"{"count": 0}"#, 422, "invalid_count"),
        case("too many citizens", "POST", "/v1/citizens", &op, r#"{"count": 10001}"#, 422, "invalid_count"),
        case(
            "negative price",
            "POST",
            "/v1/products",
            &op,
            r#"{"name": "x", "list_price_fen": -1, "brand": 0}"#,
            422,
            "invalid_value",
        ),
        case(
            "product without brand",
            "POST",
            "/v1/products",
            &op,
            r#"{"name": "x", "list_price_fen": 1}"#,
            422,
            "brand_required",
        ),
        case(
            "product of no brand",
            "POST",
            "/v1/products",
            &op,
            r#"{"name": "x", "list_price_fen": 1, "brand": 9}"#,
            404,
            "unknown_brand",
        ),
        case("unknown route", "GET", "/v1/nothing", &me, "", 404, "no_route"),
        case("wrong method", "DELETE", "/v1/orders", &me, "", 405, "method_not_allowed"),
        case("groups with too few", "POST", "/v1/groups/form", &op, "", 409, "not_enough_citizens"),
        case("optional body, bad", "POST", "/v1/citizens", &op, r#"{"count": "three"}"#, 422, "invalid_body"),
        case("invalid UTF-8", "POST", "/v1/orders", &me, "{\"product\": \"\u{fffd}\"}", 422, "invalid_body"),
    ];
    let mut no_type =
        case("no content type", "POST", "/v1/orders", &me, r#"{"product": 0}"#, 415, "unsupported_media_type");
    no_type.content_type = None;
    cases.push(no_type);
    let mut text = case("text/plain", "POST", "/v1/orders", &me, r#"{"product": 0}"#, 415, "unsupported_media_type");
    text.content_type = Some("text/plain");
    cases.push(text);
    let mut basic = case("basic auth", "GET", "/v1/me", &me, "", 401, "unauthorized");
    basic.token = None;
    cases.push(basic);
    let mut raw_utf8 = case("bytes that are not UTF-8", "POST", "/v1/orders", &me, "", 400, "bad_json");
    raw_utf8.body = vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}'];
    cases.push(raw_utf8);

    for c in &cases {
        let response = send(&server, c);
        assert_eq!(response.status, c.status, "{}: {}", c.what, response.text());
        assert_refusal_shape(&response, c.what);
        assert_eq!(response.code().as_deref(), Some(c.code), "{}: {}", c.what, response.text());
    }
    // A malformed Authorization scheme.
    let mut client = server.client(None);
    let response = client.send("GET", "/v1/me", &[("authorization", "Basic dXNlcjpwYXNz")], None).unwrap();
    assert_eq!(response.status, 401);
    assert_refusal_shape(&response, "basic scheme");
    expect(server.client(None).get("/healthz").unwrap(), 200, None);
}

#[test]
fn a_fresh_server_refuses_an_invalid_policy_by_key() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let refused = server.operator().put("/v1/policy", &json!({"groups": {"min_size": 400}})).unwrap();
    let body = expect(refused, 422, Some("invalid_policy"));
    assert_eq!(body["details"]["key"], "policy.groups.min_size");
    let accepted =
        expect(server.operator().put("/v1/policy", &json!({"sanction": {"keep_penalty": 0}})).unwrap(), 200, None);
    assert_eq!(accepted["policy"]["sanction"]["keep_penalty"], 0);
    assert_eq!(expect(server.operator().get("/v1/policy").unwrap(), 200, None)["in_setup"], true);
}

/// A small deterministic generator (xorshift), so that a failure replays exactly.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn value(&mut self, depth: u32) -> Value {
        const KEYS: &[&str] = &[
            "product",
            "units",
            "via",
            "citizen",
            "kind",
            "day",
            "answer",
            "granted",
            "name",
            "count",
            "orders",
            "interests",
            "products",
            "list_price_fen",
            "travel",
            "brand",
            "category",
            "groups",
            "min_size",
            "x",
        ];
        match self.below(if depth > 3 { 6 } else { 8 }) {
            0 => Value::Null,
            1 => json!(self.below(2) == 0),
            2 => json!(self.below(30) as i64 - 5),
            3 => json!([u32::MAX as u64, u64::MAX, 1 << 53][self.below(3) as usize]),
            4 => json!(-1.5e300 * (self.below(3) as f64 - 1.0)),
            5 => json!(["expel", "keep", "littering", "", "i0-0-0", "💥", "a\u{0}b"][self.below(7) as usize]),
            6 => Value::Array((0..self.below(4)).map(|_| self.value(depth + 1)).collect()),
            _ => Value::Object(
                (0..self.below(5))
                    .map(|_| (KEYS[self.below(KEYS.len() as u64) as usize].to_string(), self.value(depth + 1)))
                    .collect(),
            ),
        }
    }

    fn bytes(&mut self) -> Vec<u8> {
        const ALPHABET: &[u8] = b"{}[]\":,0123456789.-eE tfnul\\x\xff";
        (0..self.below(64)).map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize]).collect()
    }
}

#[test]
fn random_bodies_and_paths_never_get_a_5xx() {
    let db = TestDb::sqlite();
    let server = TestServer::start(config(&db));
    let w = world(&server, 4);
    let spec = expect(server.client(None).get("/openapi.json").unwrap(), 200, None);
    let tokens = [server.operator.clone(), w.citizens[0].1.clone(), w.reporter.clone(), w.kol.clone(), w.brand.clone()];
    let mut random = Random(0x9e37_79b9_7f4a_7c15);
    let mut sent = 0;
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, _) in operations.as_object().unwrap() {
            if method == "get" {
                continue; // reads take no body; the event stream would not end
            }
            for round in 0..24 {
                let token = &tokens[round % tokens.len()];
                let concrete = path.replace("{id}", ["0", "i0-0-0", "7", "x", "i1-2-3-4"][random.below(5) as usize]);
                let body =
                    if random.below(3) == 0 { random.bytes() } else { serde_json::to_vec(&random.value(0)).unwrap() };
                let mut client = server.client(Some(token));
                let response = client
                    .send(&method.to_uppercase(), &concrete, &[("content-type", "application/json")], Some(&body))
                    .unwrap_or_else(|e| panic!("{method} {concrete}: {e}"));
                let what = format!("{method} {concrete} {}", String::from_utf8_lossy(&body));
                assert!(response.status < 500, "{what}: {} {}", response.status, response.text());
                if response.status >= 400 {
                    assert_refusal_shape(&response, &what);
                }
                sent += 1;
            }
        }
    }
    // Random paths and methods.
    for _ in 0..200 {
        let segments: Vec<String> = (0..random.below(5))
            .map(|_| {
                ["v1", "citizens", "me", "%00", "..", "i0-0-0", "9", "orders", "events"][random.below(9) as usize]
                    .to_string()
            })
            .collect();
        let path = format!("/{}", segments.join("/"));
        let method = ["GET", "POST", "PUT", "DELETE", "PATCH"][random.below(5) as usize];
        if method == "GET" && path == "/v1/events" {
            continue;
        }
        let response = server.client(Some(&tokens[0])).send(method, &path, &[], None).unwrap();
        assert!(response.status < 500, "{method} {path}: {}", response.text());
        sent += 1;
    }
    assert!(sent > 500);
    expect(server.client(None).get("/healthz").unwrap(), 200, None);
}
