//! What a key may do: a route needs its scope (at the authorizer and again
//! in the handler), a key cannot grant more than it holds, and it acts only
//! within its organization. (The cover rule, authority in time and the
//! caller guard run on every store: the store contract's `authority` and
//! `caller_guard`.)

use keygate_tests::{CountingStore, Harness};
use serde_json::json;

#[tokio::test]
async fn a_route_needs_its_scope() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (reader, _) = h.create_scoped(&root, &["api-keys:read"]).await;
    let (_, target) = h
        .create(&root, json!({"name": "t", "key_type": "service"}))
        .await;
    let id = target["id"].as_str().unwrap();
    assert_eq!(
        h.call("GET", &format!("/v1/api-keys/{id}"), Some(&reader), None)
            .await
            .status,
        200
    );
    for (method, path) in [
        ("POST", format!("/v1/api-keys/{id}/suspend")),
        ("DELETE", format!("/v1/api-keys/{id}")),
        ("POST", "/v1/api-keys".to_owned()),
    ] {
        let reply = h.call(method, &path, Some(&reader), Some("{}")).await;
        assert_eq!(reply.status, 403, "{method} {path}");
        assert_eq!(reply.body, json!({"message": "Forbidden"}));
    }
    assert_eq!(
        h.call("GET", &format!("/v1/api-keys/{id}"), Some(&root), None)
            .await
            .body["status"],
        "active"
    );
}

/// One table over every operation. A key holding every scope but
/// the one the operation needs is denied by the authorizer, and the
/// handler's own check refuses it too, with no store call.
#[tokio::test]
async fn every_operation_needs_exactly_its_scope() {
    use keygate::domain::routes::{Operation, Requirement};
    use keygate::domain::scope::Scope;
    use keygate::lambda_http::request::from_str;

    let h = Harness::new(CountingStore::new(
        keygate::store::EmbeddedStore::in_memory().unwrap(),
    ));
    let root = h.root_key("acme").await;
    let expected = [
        (Operation::CreateKey, Some("api-keys:write")),
        (Operation::ListKeys, Some("api-keys:read")),
        (Operation::GetKey, Some("api-keys:read")),
        (Operation::UpdateKey, Some("api-keys:write")),
        (Operation::SuspendKey, Some("api-keys:write")),
        (Operation::ReactivateKey, Some("api-keys:write")),
        (Operation::RevokeKey, Some("api-keys:write")),
        (Operation::RotateKey, Some("api-keys:write")),
        (Operation::DeleteKey, Some("api-keys:delete")),
        (Operation::ListScopes, None),
        (Operation::ListAuditEvents, Some("api-keys:read")),
        (Operation::SetLimits, Some("api-keys:write")),
        (Operation::GetUsage, Some("api-keys:read")),
        (Operation::ResetUsage, Some("api-keys:write")),
    ];
    let keyed: Vec<Operation> = <Operation as strum::VariantArray>::VARIANTS.to_vec();
    assert_eq!(
        keyed,
        expected.iter().map(|(op, _)| *op).collect::<Vec<_>>(),
        "the table names every key-protected operation"
    );
    for (op, scope) in expected {
        let Some(scope) = scope else {
            assert_eq!(op.required(), Requirement::AnyValidKey);
            let (any, _) = h.create_scoped(&root, &["runs:read"]).await;
            assert!(h.authorize(&any, op.route_key()).await, "any valid key");
            continue;
        };
        assert_eq!(
            op.required(),
            Requirement::Scope(Scope::parse(scope).unwrap()),
            "{}",
            op.route_key()
        );
        let others: Vec<&str> = keygate::domain::catalog::Catalog::builtin()
            .scopes()
            .iter()
            .map(|s| s.as_str())
            .filter(|s| *s != scope)
            .collect();
        let (lacking, _) = h.create_scoped(&root, &others).await;
        assert!(
            !h.authorize(&lacking, op.route_key()).await,
            "{}: a key without {scope} passed the authorizer",
            op.route_key()
        );
        let (holding, _) = h.create_scoped(&root, &[scope]).await;
        assert!(
            h.authorize(&holding, op.route_key()).await,
            "{scope} suffices"
        );

        // The handler, given a context whose scopes lack it (as a
        // misconfigured gateway or a stale cached decision might send).
        let mut event: serde_json::Value =
            serde_json::from_str(&keygate_tests::fixture(op.function_name())).unwrap();
        event["requestContext"]["authorizer"]["lambda"]["scopes"] = others.join(" ").into();
        let calls = h.store().total();
        let response =
            keygate::http::handle(&h.app, op, from_str(&event.to_string()).unwrap()).await;
        assert_eq!(response.status().as_u16(), 403, "{}", op.route_key());
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["error"]["code"], "insufficient_scope");
        assert!(body["error"]["message"].as_str().unwrap().contains(scope));
        assert_eq!(h.store().total(), calls, "refused before any store call");
    }
}

#[tokio::test]
async fn a_key_cannot_grant_more_than_it_holds() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (limited, _) = h
        .create_scoped(&root, &["api-keys:write", "api-keys:read", "runs:read"])
        .await;
    let before = h.snapshot("acme").await;

    let reply = h
        .call(
            "POST",
            "/v1/api-keys",
            Some(&limited),
            Some(r#"{"name":"up","key_type":"service","permissions":["runs:read","runs:write"]}"#),
        )
        .await;
    assert_eq!(reply.assert_error(403), "privilege_escalation");
    assert!(
        reply.error_message().contains("runs:write"),
        "{:#}",
        reply.body
    );
    assert!(
        !reply.error_message().contains("runs:read,"),
        "names only the missing scope"
    );

    for full in [
        r#"{"name":"up","key_type":"service"}"#,
        r#"{"name":"up","key_type":"service","permissions":"full"}"#,
    ] {
        let reply = h
            .call("POST", "/v1/api-keys", Some(&limited), Some(full))
            .await;
        assert_eq!(reply.assert_error(403), "privilege_escalation");
        assert!(reply.error_message().contains("full-access"));
    }
    let reply = h
        .call(
            "POST",
            "/v1/api-keys",
            Some(&limited),
            Some(r#"{"name":"up","key_type":"service","permissions":{"preset":"read_only"}}"#),
        )
        .await;
    reply.assert_error(403);
    assert_eq!(h.snapshot("acme").await, before, "nothing was written");

    let (sub, record) = h
        .create_scoped(&limited, &["runs:read", "api-keys:read"])
        .await;
    assert_eq!(record["scopes"], json!(["api-keys:read", "runs:read"]));
    assert!(h.authorize(&sub, "GET /v1/runs").await);
}

#[tokio::test]
async fn organizations_are_isolated() {
    let h = Harness::embedded();
    let a = h.root_key("org-a").await;
    let b = h.root_key("org-b").await;
    let (b_key, b_record) = h
        .create(&b, json!({"name": "b-only", "key_type": "service"}))
        .await;
    let id = b_record["id"].as_str().unwrap();
    let before = h.snapshot("org-b").await;
    for (method, path, body) in [
        ("GET", format!("/v1/api-keys/{id}"), None),
        ("POST", format!("/v1/api-keys/{id}/suspend"), None),
        ("POST", format!("/v1/api-keys/{id}/reactivate"), None),
        (
            "POST",
            format!("/v1/api-keys/{id}/revoke"),
            Some(r#"{"reason":"mine now"}"#),
        ),
        ("DELETE", format!("/v1/api-keys/{id}"), None),
    ] {
        let reply = h.call(method, &path, Some(&a), body).await;
        assert_eq!(reply.assert_error(404), "not_found", "{method} {path}");
    }
    assert_eq!(h.snapshot("org-b").await, before);
    for status in ["all", "active", "suspended", "revoked"] {
        let listed = h
            .call(
                "GET",
                &format!("/v1/api-keys?status={status}"),
                Some(&a),
                None,
            )
            .await;
        assert_eq!(listed.status, 200);
        let ids: Vec<&str> = listed.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap())
            .collect();
        assert!(
            !ids.contains(&id),
            "org-a sees org-b's key in status={status}"
        );
        assert!(
            listed.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .all(|r| r["org_id"] == "org-a")
        );
    }
    assert!(h.authorize(&b_key, "GET /v1/runs").await);
}
