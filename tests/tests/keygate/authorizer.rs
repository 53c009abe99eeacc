//! The authorizer, fed API Gateway payload-2.0 events built from
//! `infra/events/authorizer.json`: the context it passes on, every reason it
//! denies, no store call for what it can refuse unread, deployer routes, and
//! the last use it records.

use std::sync::atomic::Ordering;

use keygate::domain::key::{BODY_LEN, KeyFormat};
use keygate::http::authorizer::{Decision, DenyReason, decide};
use keygate::store::EmbeddedStore;
use keygate_tests::{CountingStore, Harness, authorizer_event};
use serde_json::json;

const ROUTE: &str = "GET /v1/runs/{id}";

async fn deny_reason<S: keygate::store::Store>(
    h: &Harness<S>,
    key: &str,
    route: &str,
) -> Option<DenyReason> {
    match decide(&h.app, &authorizer_event(key, route)).await {
        Decision::Allow(_) => None,
        Decision::Deny(reason) => Some(reason),
    }
}

#[tokio::test]
async fn an_allowed_key_gets_the_documented_context() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (key, record) = h
        .create(&root, json!({"name": "u", "key_type": "user", "owner": "ada", "permissions": ["runs:read", "agents:read"]}))
        .await;
    let response =
        keygate::http::authorizer::authorize(&h.app, &authorizer_event(&key, ROUTE)).await;
    assert!(response.is_authorized);
    assert_eq!(
        response.context,
        json!({
            "org_id": "acme",
            "key_id": record["id"],
            "key_type": "user",
            "owner": "ada",
            "scopes": "agents:read runs:read",
            "hint": record["hint"],
            "name": "u",
            "expires_at": "",
        })
    );
    let root_ctx =
        keygate::http::authorizer::authorize(&h.app, &authorizer_event(&root, ROUTE)).await;
    assert_eq!(root_ctx.context["scopes"], "*");
    // An expiring key tells the handlers when, so its keys cannot outlive it.
    let expires = keygate::domain::time::Timestamp::now()
        .plus_seconds(600)
        .to_string();
    let (short, _) = h
        .create(
            &root,
            json!({"name": "s", "key_type": "service", "expires_at": expires}),
        )
        .await;
    let short_ctx =
        keygate::http::authorizer::authorize(&h.app, &authorizer_event(&short, ROUTE)).await;
    assert_eq!(short_ctx.context["expires_at"], expires);
    assert_eq!(root_ctx.context["owner"], "");
    // The simple-response wire format API Gateway expects.
    let wire = serde_json::to_value(&response).unwrap();
    assert_eq!(wire["isAuthorized"], true);
}

#[tokio::test]
async fn every_deny_case() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (scoped, _) = h.create_scoped(&root, &["runs:read"]).await;
    assert_eq!(deny_reason(&h, &scoped, ROUTE).await, None, "allowed");
    assert_eq!(
        deny_reason(&h, &scoped, "POST /v1/runs").await,
        Some(DenyReason::MissingScope)
    );
    assert_eq!(
        deny_reason(&h, &scoped, "GET /v1/secrets").await,
        Some(DenyReason::UnknownRoute)
    );
    assert_eq!(
        deny_reason(&h, &root, "GET /v1/secrets").await,
        Some(DenyReason::UnknownRoute)
    );

    let (suspended, rec) = h.create_scoped(&root, &["runs:read"]).await;
    let id = rec["id"].as_str().unwrap();
    h.act(&root, id, "suspend", None).await;
    assert_eq!(
        deny_reason(&h, &suspended, ROUTE).await,
        Some(DenyReason::Suspended)
    );

    let (revoked, rec) = h.create_scoped(&root, &["runs:read"]).await;
    let id = rec["id"].as_str().unwrap();
    h.act(&root, id, "revoke", Some(r#"{"reason":"x"}"#)).await;
    assert_eq!(
        deny_reason(&h, &revoked, ROUTE).await,
        Some(DenyReason::Revoked)
    );

    let (deleted, rec) = h.create_scoped(&root, &["runs:read"]).await;
    let id = rec["id"].as_str().unwrap();
    h.call("DELETE", &format!("/v1/api-keys/{id}"), Some(&root), None)
        .await;
    assert_eq!(
        deny_reason(&h, &deleted, ROUTE).await,
        Some(DenyReason::UnknownKey)
    );

    let expires = keygate::domain::time::Timestamp::now()
        .plus_seconds(120)
        .to_string();
    let (expiring, _) = h
        .create(
            &root,
            json!({"name": "e", "key_type": "service", "expires_at": expires}),
        )
        .await;
    h.clock.advance(121);
    assert_eq!(
        deny_reason(&h, &expiring, ROUTE).await,
        Some(DenyReason::Expired)
    );

    // Right id, wrong secret: a well-formed key with a valid checksum.
    let forged = KeyFormat::default().generate_with_id(
        keygate::domain::id::KeyId::parse(&keygate_tests::id_of(&scoped)).unwrap(),
    );
    assert_eq!(
        deny_reason(&h, forged.key.expose(), ROUTE).await,
        Some(DenyReason::WrongSecret)
    );

    let mut bad_checksum = scoped.clone().into_bytes();
    let last = bad_checksum.len() - 1;
    bad_checksum[last] = if bad_checksum[last] == b'a' {
        b'b'
    } else {
        b'a'
    };
    let bad_checksum = String::from_utf8(bad_checksum).unwrap();
    assert_eq!(
        deny_reason(&h, &bad_checksum, ROUTE).await,
        Some(DenyReason::Malformed)
    );
    for malformed in [
        "",
        "kg_",
        "Bearer abc",
        "kg_short",
        &format!("gk_{}", &scoped[3..]),
        &format!("{scoped}x"),
    ] {
        assert_eq!(
            deny_reason(&h, malformed, ROUTE).await,
            Some(DenyReason::Malformed),
            "{malformed}"
        );
    }
    // A key from another deployment's prefix is malformed here.
    let acme = KeyFormat::new(
        keygate::domain::key::KeyPrefix::new("acme").unwrap(),
        Default::default(),
    )
    .generate();
    assert_eq!(
        deny_reason(&h, acme.key.expose(), ROUTE).await,
        Some(DenyReason::Malformed)
    );
}

#[tokio::test]
async fn malformed_keys_and_unknown_routes_make_no_store_call() {
    let store = CountingStore::new(EmbeddedStore::in_memory().unwrap());
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let before = h.store().total();
    let mut bad = root.clone().into_bytes();
    bad[10] = if bad[10] == b'Q' { b'R' } else { b'Q' };
    let bad = String::from_utf8(bad).unwrap();
    let junk = format!("kg_{}", "A".repeat(BODY_LEN));
    for key in [bad.as_str(), "kg_", "nonsense", junk.as_str()] {
        let response =
            keygate::http::authorizer::authorize(&h.app, &authorizer_event(key, ROUTE)).await;
        assert!(!response.is_authorized);
    }
    let response =
        keygate::http::authorizer::authorize(&h.app, &authorizer_event(&root, "GET /v1/nowhere"))
            .await;
    assert!(!response.is_authorized);
    assert_eq!(
        h.store().total(),
        before,
        "no store call for malformed keys or unknown routes"
    );

    let gets = h.store().gets.load(Ordering::SeqCst);
    assert!(h.authorize(&root, ROUTE).await);
    assert_eq!(
        h.store().gets.load(Ordering::SeqCst),
        gets + 1,
        "exactly one read for a well-formed key"
    );
}

#[tokio::test]
async fn deployer_routes_are_enforced_without_recompiling() {
    let catalog = keygate::domain::catalog::Catalog::parse(
        r#"version = 1
[resources.orders]
description = "Orders."
actions.read = "Read orders."
[resources.invoices]
description = "Invoices."
actions.read = "Read invoices."
[routes]
"GET /orders/{id}" = "orders:read"
"GET /health" = "any"
"#,
        "orders.toml",
    )
    .unwrap();
    let mut h = Harness::embedded();
    h.app = h.app.with_catalog(catalog);
    let root = h.root_key("acme").await;
    let (reader, _) = h.create_scoped(&root, &["orders:read"]).await;
    let (other, _) = h.create_scoped(&root, &["invoices:read"]).await;
    assert!(h.authorize(&reader, "GET /orders/{id}").await);
    assert!(!h.authorize(&other, "GET /orders/{id}").await);
    assert!(h.authorize(&other, "GET /health").await);
    assert!(
        !h.authorize(&other, "GET /orders").await,
        "no such route: denied"
    );
    assert!(
        !h.authorize(&reader, "GET /v1/runs").await,
        "the shipped catalog's routes are not this one's"
    );
}

#[tokio::test]
async fn last_used_at_is_shown_and_updated_at_most_once_a_minute() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (key, record) = h.create_scoped(&root, &["runs:read"]).await;
    let path = format!("/v1/api-keys/{}", record["id"].as_str().unwrap());
    assert!(h.call("GET", &path, Some(&root), None).await.body["last_used_at"].is_null());
    assert!(h.authorize(&key, "GET /v1/runs").await);
    let first = h.call("GET", &path, Some(&root), None).await.body["last_used_at"].clone();
    assert!(first.is_string());
    h.clock.advance(30);
    assert!(h.authorize(&key, "GET /v1/runs").await);
    assert_eq!(
        h.call("GET", &path, Some(&root), None).await.body["last_used_at"],
        first
    );
    h.clock.advance(31);
    assert!(h.authorize(&key, "GET /v1/runs").await);
    assert_ne!(
        h.call("GET", &path, Some(&root), None).await.body["last_used_at"],
        first
    );
}
