//! Real servers for tests: started in-process on 127.0.0.1, port 0, and spoken to over HTTP
//! with the crate's blocking client — the same bytes a browser or curl would send.

use serde_json::{Value, json};
use std::io::Write;
use std::sync::atomic::{AtomicU32, Ordering};
use xinyong_service::client::{Client, Response};
use xinyong_service::{ServeConfig, Server, Token};

pub const POSTGRES_ENV: &str = "XINYONG_TEST_POSTGRES";

/// A database that lives as long as the test: a temporary SQLite file, or a fresh schema
/// in the PostgreSQL server named by `XINYONG_TEST_POSTGRES`.
pub struct TestDb {
    pub location: String,
    kind: Kind,
}

enum Kind {
    Sqlite { _dir: tempfile::TempDir },
    Postgres { base_url: String, schema: String },
}

static SCHEMA_COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("xinyong.db").to_str().expect("UTF-8 path").to_string();
        TestDb { location: path, kind: Kind::Sqlite { _dir: dir } }
    }

    /// A fresh schema, or None after saying why the test skips. In CI (`CI` set) a missing
    /// server fails the test: `.ci/run` always provides one.
    pub fn postgres(test_name: &str) -> Option<TestDb> {
        let base_url = match std::env::var(POSTGRES_ENV) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                let in_ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "0" | "false"));
                if in_ci {
                    panic!(
                        "{POSTGRES_ENV} is not set but CI is: the PostgreSQL tests must run in CI. \
                         Start a server with `eval \"$(bash .ci/postgres.sh)\"` before the tests"
                    );
                }
                let _ = writeln!(
                    std::io::stderr(),
                    "skipping PostgreSQL test {test_name}: set {POSTGRES_ENV}=postgres://... (e.g. eval \"$(bash .ci/postgres.sh)\")"
                );
                return None;
            }
        };
        let mut name: String = test_name.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        name.truncate(30);
        let schema =
            format!("xinyong_service_{}_{}_{name}", std::process::id(), SCHEMA_COUNTER.fetch_add(1, Ordering::Relaxed));
        let mut client = postgres::Client::connect(&base_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("cannot connect to {POSTGRES_ENV}: {e}"));
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
            .expect("create a test schema");
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let location = format!("{base_url}{separator}options=-c%20search_path%3D{schema}");
        Some(TestDb { location, kind: Kind::Postgres { base_url, schema } })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Kind::Postgres { base_url, schema } = &self.kind
            && let Ok(mut client) = postgres::Client::connect(base_url, postgres::NoTls)
        {
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

/// A server running on its own tokio runtime, for blocking tests.
pub struct TestServer {
    runtime: tokio::runtime::Runtime,
    server: Option<Server>,
    pub url: String,
    pub operator: String,
    pub config: ServeConfig,
}

pub fn config(db: &TestDb) -> ServeConfig {
    let mut config = ServeConfig::new(db.location.clone());
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.operator_token = Some(Token::generate().unwrap().as_str().to_string());
    config
}

impl TestServer {
    pub fn start(config: ServeConfig) -> TestServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let server = runtime.block_on(Server::start(config.clone())).unwrap_or_else(|e| panic!("server start: {e}"));
        let url = server.url();
        let operator = config.operator_token.clone().expect("tests give the operator token");
        TestServer { runtime, server: Some(server), url, operator, config }
    }

    /// A client with `token` (None: no Authorization header).
    pub fn client(&self, token: Option<&str>) -> Client {
        let client = Client::new(&self.url).expect("client");
        match token {
            Some(token) => client.with_token(token),
            None => client,
        }
    }

    pub fn operator(&self) -> Client {
        self.client(Some(&self.operator))
    }

    pub fn started(&self) -> xinyong_service::Started {
        self.server.as_ref().expect("running").started().clone()
    }

    /// Clean shutdown (snapshot, flush).
    pub fn stop(mut self) -> ServeConfig {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown()).expect("clean shutdown");
        }
        self.config.clone()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = self.runtime.block_on(server.shutdown());
        }
    }
}

/// Asserts the status and, for refusals, the code and a reason; returns the JSON body.
#[track_caller]
pub fn expect(response: Response, status: u16, code: Option<&str>) -> Value {
    let body = response.json();
    assert_eq!(response.status, status, "expected {status} {code:?}, got {}: {}", response.status, response.text());
    if let Some(code) = code {
        assert_eq!(body["code"], code, "{}", response.text());
        assert!(body["reason"].as_str().is_some_and(|r| !r.is_empty()), "a refusal says why: {}", response.text());
    }
    body
}

/// The accounts and catalogue most tests start from.
pub struct World {
    pub citizens: Vec<(u32, String)>,
    pub reporter: String,
    pub brand: String,
    pub brand_id: u32,
    pub kol: String,
    pub kol_id: u32,
    pub milk: u32,
    pub train: u32,
}

impl World {
    pub fn citizen(&self, server: &TestServer, i: usize) -> Client {
        server.client(Some(&self.citizens[i].1))
    }
}

/// Small groups (3..=10) so that a handful of citizens form one; everything else default.
pub fn small_policy() -> Value {
    json!({"groups": {"min_size": 3, "max_size": 10}})
}

/// Sets the small policy, creates `n` citizens in one group, a reporter, a brand with milk
/// (10 yuan) and a train ticket (553 yuan, travel), and a KOL.
/// (citizen id, token) of each citizen a `POST /v1/citizens` reply registered.
pub fn registered(body: &Value) -> Vec<(u32, String)> {
    body["citizens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["citizen"].as_u64().unwrap() as u32, c["token"].as_str().unwrap().to_string()))
        .collect()
}

pub fn world(server: &TestServer, n: u32) -> World {
    let mut op = server.operator();
    expect(op.put("/v1/policy", &small_policy()).unwrap(), 200, None);
    let body = expect(op.post("/v1/citizens", &json!({"count": n})).unwrap(), 201, None);
    let citizens = registered(&body);
    let reporter = expect(op.post("/v1/reporters", &json!({"name": "camera network"})).unwrap(), 201, None);
    let brand = expect(op.post("/v1/brands", &json!({"name": "Mengniu"})).unwrap(), 201, None);
    let kol = expect(op.post("/v1/kols", &json!({"name": "Li Jiaqi"})).unwrap(), 201, None);
    let mut brand_client = server.client(Some(brand["token"].as_str().unwrap()));
    let milk =
        expect(brand_client.post("/v1/products", &json!({"name": "milk", "list_price_fen": 1000})).unwrap(), 201, None);
    let train = expect(
        brand_client
            .post("/v1/products", &json!({"name": "train ticket", "list_price_fen": 55300, "travel": true}))
            .unwrap(),
        201,
        None,
    );
    if n >= 3 {
        expect(op.post_empty("/v1/groups/form").unwrap(), 201, None);
    }
    World {
        citizens,
        reporter: reporter["token"].as_str().unwrap().to_string(),
        brand: brand["token"].as_str().unwrap().to_string(),
        brand_id: brand["brand"].as_u64().unwrap() as u32,
        kol: kol["token"].as_str().unwrap().to_string(),
        kol_id: kol["kol"].as_u64().unwrap() as u32,
        milk: milk["product"].as_u64().unwrap() as u32,
        train: train["product"].as_u64().unwrap() as u32,
    }
}

/// The operator's view of the state digests.
pub fn hashes(server: &TestServer) -> Value {
    expect(server.operator().get("/v1/operator/state-hash").unwrap(), 200, None)
}
