//! Creating a key: the full key is shown once, in the create answer, and
//! never again; permissions default to full access, and presets expand.

use keygate_tests::{Harness, assert_no_secret, id_of};
use serde_json::json;

#[tokio::test]
async fn create_returns_the_key_once_and_records_never_show_it() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let reply = h
        .call(
            "POST",
            "/v1/api-keys",
            Some(&root),
            Some(r#"{"name":"ci","description":"deploys","key_type":"service","permissions":["runs:write","runs:read"]}"#),
        )
        .await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let key = reply.body["key"].as_str().unwrap().to_owned();
    let id = reply.body["id"].as_str().unwrap().to_owned();
    assert_eq!(id, id_of(&key));
    assert_eq!(reply.body["scopes"], json!(["runs:read", "runs:write"]));
    assert_eq!(reply.body["status"], "active");
    assert_eq!(reply.body["expired"], false);
    assert_eq!(reply.body["org_id"], "acme");
    assert_eq!(reply.body["created_by"], id_of(&root));
    assert_eq!(
        reply.body["hint"],
        format!("kg_...{}", &key[key.len() - 4..])
    );
    for absent in [
        "owner",
        "expires_at",
        "revoked_at",
        "last_used_at",
        "suspended_at",
    ] {
        assert!(reply.body[absent].is_null(), "{absent}");
    }

    let got = h
        .call("GET", &format!("/v1/api-keys/{id}"), Some(&root), None)
        .await;
    assert_eq!(got.status, 200);
    assert!(got.body.get("key").is_none());
    assert!(got.body.get("secret_hash").is_none());
    assert_no_secret(got.body.to_string().as_bytes(), &[&key], "a key's record");
    let listed = h.call("GET", "/v1/api-keys", Some(&root), None).await;
    assert_no_secret(listed.body.to_string().as_bytes(), &[&key], "the key list");

    // The new key works, with exactly its scopes.
    assert!(h.authorize(&key, "GET /v1/runs/{id}").await);
    assert!(h.authorize(&key, "POST /v1/runs").await);
    assert!(!h.authorize(&key, "GET /v1/agents").await);
}

#[tokio::test]
async fn permissions_default_to_full_access_and_presets_expand() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (full, record) = h
        .create(&root, json!({"name": "full", "key_type": "service"}))
        .await;
    assert_eq!(record["scopes"], json!(["*"]));
    assert!(h.authorize(&full, "DELETE /v1/dashboards/{id}").await);

    let (_, record) = h
        .create(
            &root,
            json!({"name": "uploader", "key_type": "service", "permissions": {"preset": "upload_conversations"}}),
        )
        .await;
    assert_eq!(
        record["scopes"],
        json!(["conversations:read", "conversations:submit"])
    );
    let (ro, record) = h
        .create(&root, json!({"name": "ro", "key_type": "user", "owner": "ada@example.com", "permissions": {"preset": "read_only"}}))
        .await;
    assert_eq!(record["scopes"].as_array().unwrap().len(), 13);
    assert_eq!(record["owner"], "ada@example.com");
    assert_eq!(record["key_type"], "user");
    assert!(h.authorize(&ro, "GET /v1/api-keys").await);
    assert!(!h.authorize(&ro, "POST /v1/api-keys").await);

    let scopes = h.call("GET", "/v1/scopes", Some(&ro), None).await;
    assert_eq!(scopes.status, 200);
    assert_eq!(scopes.body["resources"].as_array().unwrap().len(), 13);
    assert_eq!(
        scopes.body["presets"]["run_evaluations"]
            .as_array()
            .unwrap()
            .len(),
        9
    );
    assert_eq!(scopes.body["full_access"], "*");
}
