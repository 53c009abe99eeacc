//! The catalog is data: a deployer's own scopes, presets and routes, read
//! by the authorizer, the API and the OpenAPI document alike; and changing
//! it never widens a key.

use keygate::domain::catalog::Catalog;
use keygate::http::openapi::document;
use keygate::store::EmbeddedStore;
use keygate_tests::Harness;
use serde_json::json;

const ORDERS: &str = r#"version = 1

[resources.orders]
description = "Orders placed by customers."
actions.read = "Read orders."
actions.write = "Place and change orders."

[presets.read_only]
description = "Read everything."
scopes = ["*:read"]

[routes]
"GET /orders" = "orders:read"
"GET /orders/{id}" = "orders:read"
"POST /orders" = "orders:write"
"GET /health" = "any"
"#;

fn catalog(text: &str) -> Catalog {
    Catalog::parse(text, "orders.toml").expect("a valid catalog")
}

/// The same store under another catalog: a deployment whose file changed.
fn under(store: &EmbeddedStore, text: &str) -> Harness<EmbeddedStore> {
    let mut h = Harness::new(store.clone());
    h.app = h.app.with_catalog(catalog(text));
    h
}

#[tokio::test]
async fn a_deployer_s_scopes_presets_and_routes_without_touching_rust() {
    let store = EmbeddedStore::in_memory().unwrap();
    let h = under(&store, ORDERS);
    let root = h.root_key("acme").await;
    let scopes = h.call("GET", "/v1/scopes", Some(&root), None).await;
    assert_eq!(scopes.status, 200);
    assert_eq!(scopes.body["resources"][0]["resource"], "orders");
    assert_eq!(
        scopes.body["resources"][0]["actions"][1],
        json!({"scope": "orders:write", "description": "Place and change orders."})
    );
    assert_eq!(
        scopes.body["presets"]["read_only"],
        json!(["api-keys:read", "orders:read"])
    );
    assert_eq!(
        scopes.body["preset_descriptions"]["read_only"],
        "Read everything."
    );
    let (reader, record) = h
        .create(
            &root,
            json!({"name": "r", "key_type": "service", "permissions": {"preset": "read_only"}}),
        )
        .await;
    assert_eq!(record["scopes"], json!(["api-keys:read", "orders:read"]));
    assert!(h.authorize(&reader, "GET /orders/{id}").await);
    assert!(!h.authorize(&reader, "POST /orders").await);
    assert!(h.authorize(&reader, "GET /health").await);
    // The shipped catalog's scopes are not this deployment's.
    let refused = h
        .call(
            "POST",
            "/v1/api-keys",
            Some(&root),
            Some(
                &json!({"name": "x", "key_type": "service", "permissions": ["runs:read"]})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(refused.assert_error(400), "unknown_scope");
    // The OpenAPI document lists this catalog's scopes.
    let doc = document(&h.app.catalog);
    let listed = &doc["components"]["schemas"]["Scope"]["enum"];
    assert_eq!(
        listed,
        &json!([
            "orders:read",
            "orders:write",
            "api-keys:read",
            "api-keys:write",
            "api-keys:delete"
        ])
    );
}

/// Full access covers every scope, also one the catalog gains later; a
/// scoped key holds exactly what it was given, however a preset changes.
#[tokio::test]
async fn a_catalog_that_grows_widens_only_full_access() {
    let store = EmbeddedStore::in_memory().unwrap();
    let before = under(&store, ORDERS);
    let root = before.root_key("acme").await;
    let (reader, record) = before
        .create(
            &root,
            json!({"name": "r", "key_type": "service", "permissions": {"preset": "read_only"}}),
        )
        .await;
    let grown = ORDERS
        .replace(
            "[presets.read_only]",
            "[resources.invoices]\ndescription = \"Invoices.\"\nactions.read = \"Read invoices.\"\n\n[presets.read_only]",
        )
        .replace("[routes]", "[routes]\n\"GET /invoices\" = \"invoices:read\"");
    let after = under(&store, &grown);
    assert!(
        after.authorize(&root, "GET /invoices").await,
        "full access covers what is new"
    );
    assert!(
        !after.authorize(&reader, "GET /invoices").await,
        "read_only now has invoices:read, but a key made with it does not"
    );
    let now = after
        .call(
            "GET",
            &format!("/v1/api-keys/{}", record["id"].as_str().unwrap()),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(now.body["scopes"], record["scopes"]);
}

/// A scope taken out of the catalog grants nothing: keys keep it as text,
/// but no route can need it and no new key can be given it.
#[tokio::test]
async fn a_scope_taken_out_grants_nothing() {
    let store = EmbeddedStore::in_memory().unwrap();
    let before = under(&store, ORDERS);
    let root = before.root_key("acme").await;
    let (writer, record) = before.create_scoped(&root, &["orders:write"]).await;
    assert!(before.authorize(&writer, "POST /orders").await);
    let shrunk = ORDERS
        .replace("actions.write = \"Place and change orders.\"\n", "")
        .replace(
            "\"POST /orders\" = \"orders:write\"\n",
            "\"POST /orders\" = \"orders:read\"\n",
        )
        + "\n[retired]\n\"orders:write\" = \"Orders are placed by staff only.\"\n";
    let after = under(&store, &shrunk);
    assert!(
        !after.authorize(&writer, "POST /orders").await,
        "it grants nothing"
    );
    let kept = after
        .call(
            "GET",
            &format!("/v1/api-keys/{}", record["id"].as_str().unwrap()),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(
        kept.body["scopes"],
        json!(["orders:write"]),
        "the key keeps it as text"
    );
    let refused = after
        .call(
            "POST",
            "/v1/api-keys",
            Some(&root),
            Some(
                &json!({"name": "x", "key_type": "service", "permissions": ["orders:write"]})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(refused.assert_error(400), "unknown_scope");
}

/// docs/catalog.schema.json is what `keygate catalog schema` prints: editors
/// read it to complete keygate.toml, so it must describe the format the code
/// reads. Regenerate with `keygate catalog schema > docs/catalog.schema.json`.
#[test]
fn the_published_catalog_schema_is_the_one_the_code_reads() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/catalog.schema.json");
    let published: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("docs/catalog.schema.json"))
            .expect("docs/catalog.schema.json is JSON");
    assert_eq!(
        published,
        keygate::domain::catalog::file_schema(),
        "docs/catalog.schema.json is stale: run `keygate catalog schema > docs/catalog.schema.json`"
    );
}
