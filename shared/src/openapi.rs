//! The OpenAPI 3.1 document of the HTTP API, built from the route table.

use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use crate::routes::Operation;

/// The document as JSON text, built once.
pub fn document_json() -> &'static str {
    static TEXT: LazyLock<String> = LazyLock::new(|| document().to_string());
    &TEXT
}

/// The document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for op in Operation::ALL {
        let (method, path) = op.route_key().split_once(' ').unwrap_or(("GET", "/"));
        let entry = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        if let Value::Object(map) = entry {
            map.insert(
                method.to_ascii_lowercase(),
                json!({"operationId": op.function_name(), "responses": {"200": {"description": "OK"}}}),
            );
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "keygate", "version": env!("CARGO_PKG_VERSION")},
        "paths": paths,
    })
}
