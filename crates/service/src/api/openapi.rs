//! `/openapi.json`, generated from the routes' [`RouteDoc`]s.
//!
//! Written by hand rather than with a derive crate: the engine's types (which the responses
//! are built from) know nothing of OpenAPI, and should not. Request schemas are inferred
//! from each route's example body (objects closed with `additionalProperties: false`, as
//! the server refuses unknown fields); tests send every example to the server, so an example
//! that stopped matching its handler would fail them. Each operation carries `x-roles`, the
//! roles it admits, which the authorization-matrix test checks against the server.

use super::RouteDoc;
use serde_json::{Map, Value, json};

/// JSON Schema of a value, inferred from an example.
pub fn schema_of(example: &Value) -> Value {
    match example {
        Value::Null => json!({}),
        Value::Bool(_) => json!({"type": "boolean"}),
        Value::Number(n) if n.is_f64() => json!({"type": "number"}),
        Value::Number(_) => json!({"type": "integer"}),
        Value::String(_) => json!({"type": "string"}),
        Value::Array(items) => json!({"type": "array", "items": items.first().map(schema_of).unwrap_or(json!({}))}),
        Value::Object(map) => {
            let properties: Map<String, Value> = map.iter().map(|(k, v)| (k.clone(), schema_of(v))).collect();
            json!({"type": "object", "properties": properties, "additionalProperties": false})
        }
    }
}

fn operation_id(doc: &RouteDoc) -> String {
    let path: String =
        doc.path.trim_start_matches('/').chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    format!("{}_{}", doc.method.as_str().to_lowercase(), path.trim_matches('_').replace("__", "_"))
}

fn parameters(doc: &RouteDoc) -> Vec<Value> {
    doc.path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| {
            let incident = doc.path.starts_with("/v1/incidents/") || doc.path.starts_with("/v1/notices/");
            let schema = if incident {
                json!({"type": "string", "pattern": "^i[0-9]+-[0-9]+-[0-9]+$", "example": "i12-345-0"})
            } else {
                json!({"type": "integer", "minimum": 0})
            };
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect()
}

fn success_content(doc: &RouteDoc) -> Value {
    match doc.path {
        "/metrics" => json!({"text/plain": {"schema": {"type": "string"}}}),
        "/v1/events" => json!({"text/event-stream": {"schema": {"type": "string"}}}),
        _ => json!({"application/json": {"schema": {"type": "object"}}}),
    }
}

/// The OpenAPI 3.1 document of `docs`.
pub fn spec(docs: &[RouteDoc]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for doc in docs {
        let roles: Vec<&str> =
            if doc.roles.is_empty() { vec!["public"] } else { doc.roles.iter().map(|r| r.name()).collect() };
        let mut op = json!({
            "operationId": operation_id(doc),
            "summary": doc.summary,
            "tags": [doc.tag],
            "x-roles": roles,
            "parameters": parameters(doc),
            "responses": {
                doc.success.to_string(): {"description": "success", "content": success_content(doc)},
                "4XX": {"$ref": "#/components/responses/Error"},
            },
        });
        op["security"] = if doc.roles.is_empty() { json!([]) } else { json!([{"bearer": []}]) };
        if let Some(example) = doc.example {
            let example: Value = serde_json::from_str(example).expect("route examples are JSON");
            op["requestBody"] = json!({
                "required": true,
                "content": {"application/json": {"schema": schema_of(&example), "example": example}},
            });
            op["x-body-bytes-max"] = json!(doc.body_bytes_max);
        }
        let entry = paths.entry(doc.path.to_string()).or_insert_with(|| json!({}));
        entry[doc.method.as_str().to_lowercase()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "xinyong",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The live social-commerce social-credit platform of the article: citizens, KOLs, brands, \
                reporters (the camera network) and the operator, driving one deterministic engine. Every error is \
                a JSON body {code, reason, details?}; unknown fields are refused.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                "description": "64 hex characters, given once when the account is created"}},
            "schemas": {"Error": {
                "type": "object",
                "required": ["code", "reason"],
                "properties": {
                    "code": {"type": "string", "description": "stable machine code, e.g. travel_banned"},
                    "reason": {"type": "string", "description": "a sentence for people"},
                    "details": {"type": "object"},
                },
            }},
            "responses": {"Error": {
                "description": "refused: 400 malformed, 401 no or unknown token, 403 wrong role or travel ban, \
                    404 unknown id, 405 method, 409 conflicts with the current state, 413 body too large, \
                    415 not JSON, 422 invalid value",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_route_is_in_the_spec_once() {
        let docs = crate::api::route_docs();
        let spec = spec(&docs);
        let mut seen = std::collections::BTreeSet::new();
        for doc in &docs {
            assert!(
                seen.insert((doc.method.clone().to_string(), doc.path)),
                "{} {} is routed twice",
                doc.method,
                doc.path
            );
            let op = &spec["paths"][doc.path][doc.method.as_str().to_lowercase()];
            assert_eq!(op["summary"], doc.summary, "{} {}", doc.method, doc.path);
        }
        let operations: usize = spec["paths"].as_object().unwrap().values().map(|p| p.as_object().unwrap().len()).sum();
        assert_eq!(operations, docs.len());
    }

    #[test]
    fn schemas_close_objects() {
        let s = schema_of(&json!({"product": 1, "via": null, "ids": [1], "x": 0.5}));
        assert_eq!(s["additionalProperties"], false);
        assert_eq!(s["properties"]["product"]["type"], "integer");
        assert_eq!(s["properties"]["x"]["type"], "number");
        assert_eq!(s["properties"]["ids"]["items"]["type"], "integer");
    }
}
