//! Suspend, reactivate, revoke, delete and expiry through the HTTP API:
//! every cell of the lifecycle table, what each records, and each taking
//! effect on the very next call. (The cases every store must pass, racing
//! transitions included, are in the store contract's `lifecycle`.)

use keygate_tests::{Harness, id_of};
use serde_json::json;

const ROUTE: &str = "GET /v1/runs/{id}";

/// Every cell of PRODUCT.md's lifecycle table, through the handlers.
#[tokio::test]
async fn every_lifecycle_cell_through_http() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let revoke_body = Some(r#"{"reason":"rotated"}"#);
    // (from, action, expected status, expected resulting state)
    let cells = [
        ("active", "suspend", 200, "suspended"),
        ("active", "reactivate", 200, "active"),
        ("active", "revoke", 200, "revoked"),
        ("suspended", "suspend", 200, "suspended"),
        ("suspended", "reactivate", 200, "active"),
        ("suspended", "revoke", 200, "revoked"),
        ("revoked", "suspend", 409, "revoked"),
        ("revoked", "reactivate", 409, "revoked"),
        ("revoked", "revoke", 200, "revoked"),
    ];
    for (from, action, want_status, want_state) in cells {
        let (_, record) = h
            .create(&root, json!({"name": "cell", "key_type": "service"}))
            .await;
        let id = record["id"].as_str().unwrap();
        match from {
            "suspended" => {
                let r = h.act(&root, id, "suspend", None).await;
                assert_eq!(r.status, 200);
            }
            "revoked" => {
                let r = h.act(&root, id, "revoke", revoke_body).await;
                assert_eq!(r.status, 200);
            }
            _ => {}
        }
        let before = h
            .call("GET", &format!("/v1/api-keys/{id}"), Some(&root), None)
            .await
            .body;
        h.clock.advance(5);
        let body = if action == "revoke" {
            revoke_body
        } else {
            None
        };
        let reply = h
            .call(
                "POST",
                &format!("/v1/api-keys/{id}/{action}"),
                Some(&root),
                body,
            )
            .await;
        let after = h
            .call("GET", &format!("/v1/api-keys/{id}"), Some(&root), None)
            .await
            .body;
        assert_eq!(
            reply.status, want_status,
            "{from} --{action}--> {:#}",
            reply.body
        );
        assert_eq!(after["status"], want_state, "{from} --{action}");
        if want_status == 409 {
            assert_eq!(reply.assert_error(409), "invalid_transition");
            assert_eq!(after, before, "a refused transition changes nothing");
        } else {
            assert_eq!(reply.body, after, "the answer is the stored record");
        }
        if from == want_state {
            assert_eq!(after, before, "{from} --{action}: same-state is a no-op");
        }
    }
}

#[tokio::test]
async fn revoke_records_who_why_and_when_and_needs_a_reason() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (_, record) = h
        .create(&root, json!({"name": "x", "key_type": "service"}))
        .await;
    let path = format!("/v1/api-keys/{}/revoke", record["id"].as_str().unwrap());
    for body in [
        None,
        Some("{}"),
        Some(r#"{"reason":""}"#),
        Some(r#"{"reason":42}"#),
    ] {
        let reply = h.call("POST", &path, Some(&root), body).await;
        reply.assert_error(400);
    }
    let reply = h.call("POST", &path, Some(&root), Some(r#"{}"#)).await;
    assert!(reply.error_message().contains("reason"), "{:#}", reply.body);
    let reply = h
        .call("POST", &path, Some(&root), Some(r#"{"reason":"leaked"}"#))
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["revoked_reason"], "leaked");
    assert_eq!(reply.body["revoked_by"], id_of(&root));
    assert!(reply.body["revoked_at"].is_string());
}

#[tokio::test]
async fn delete_answers_204_then_404() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (key, record) = h
        .create(&root, json!({"name": "x", "key_type": "service"}))
        .await;
    let path = format!("/v1/api-keys/{}", record["id"].as_str().unwrap());
    let reply = h.call("DELETE", &path, Some(&root), None).await;
    assert_eq!(reply.status, 204);
    assert!(reply.body.is_null());
    h.call("GET", &path, Some(&root), None)
        .await
        .assert_error(404);
    h.call("DELETE", &path, Some(&root), None)
        .await
        .assert_error(404);
    assert!(!h.authorize(&key, "GET /v1/scopes").await);
}

#[tokio::test]
async fn expired_keys_are_denied_and_shown_as_expired() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let expires = h.now().plus_seconds(3600).to_string();
    let (key, record) = h
        .create(
            &root,
            json!({"name": "temp", "key_type": "service", "expires_at": expires}),
        )
        .await;
    assert_eq!(record["expires_at"], expires);
    assert_eq!(record["expired"], false);
    assert!(h.authorize(&key, "GET /v1/runs").await);
    h.clock.advance(3600);
    assert!(!h.authorize(&key, "GET /v1/runs").await);
    let path = format!("/v1/api-keys/{}", record["id"].as_str().unwrap());
    let got = h.call("GET", &path, Some(&root), None).await;
    assert_eq!(got.body["expired"], true);
    assert_eq!(got.body["status"], "active");
}

#[tokio::test]
async fn suspension_revocation_and_deletion_apply_on_the_very_next_call() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (key, rec) = h.create_scoped(&root, &["runs:read"]).await;
    let id = rec["id"].as_str().unwrap().to_owned();
    assert!(h.authorize(&key, ROUTE).await);
    h.act(&root, &id, "suspend", None).await;
    assert!(!h.authorize(&key, ROUTE).await, "suspended: denied at once");
    h.act(&root, &id, "reactivate", None).await;
    assert!(
        h.authorize(&key, ROUTE).await,
        "reactivated: allowed at once"
    );
    h.act(&root, &id, "revoke", Some(r#"{"reason":"gone"}"#))
        .await;
    assert!(!h.authorize(&key, ROUTE).await, "revoked: denied at once");

    let (key2, rec2) = h.create_scoped(&root, &["runs:read"]).await;
    assert!(h.authorize(&key2, ROUTE).await);
    h.call(
        "DELETE",
        &format!("/v1/api-keys/{}", rec2["id"].as_str().unwrap()),
        Some(&root),
        None,
    )
    .await;
    assert!(!h.authorize(&key2, ROUTE).await, "deleted: denied at once");
}
