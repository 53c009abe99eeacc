//! The management API through the API Gateway stand-in: the authorizer, then
//! the same handler each Lambda binary runs, on the embedded store.

use keygate_tests::{CountingStore, Harness, assert_no_secret, id_of};
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

#[tokio::test]
async fn bad_input_is_a_4xx_that_names_the_field_and_writes_nothing() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (_, existing) = h
        .create(&root, json!({"name": "existing", "key_type": "service"}))
        .await;
    let id = existing["id"].as_str().unwrap();
    let before = h.snapshot("acme").await;
    let long_name = "n".repeat(101);
    let big = format!(
        r#"{{"name":"big","key_type":"service","description":"{}"}}"#,
        "x".repeat(20 * 1024)
    );
    let create_cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "body"),
        ("[]".into(), 400, "object"),
        ("".into(), 400, "object"),
        (r#"{"name":5,"key_type":"service"}"#.into(), 400, "name"),
        (r#"{"name":"","key_type":"service"}"#.into(), 400, "name"),
        (
            format!(r#"{{"name":"{long_name}","key_type":"service"}}"#),
            400,
            "name",
        ),
        (r#"{"key_type":"service"}"#.into(), 400, "name"),
        (
            r#"{"name":"x","key_type":"servise"}"#.into(),
            400,
            "key_type",
        ),
        (r#"{"name":"x"}"#.into(), 400, "key_type"),
        (r#"{"name":"x","key_type":"user"}"#.into(), 400, "owner"),
        (
            r#"{"name":"x","key_type":"service","permissions":["runs:read","runs:fly"]}"#.into(),
            400,
            "runs:fly",
        ),
        (
            r#"{"name":"x","key_type":"service","permissions":{"preset":"everything"}}"#.into(),
            400,
            "everything",
        ),
        (
            r#"{"name":"x","key_type":"service","permissions":[]}"#.into(),
            400,
            "permissions",
        ),
        (
            r#"{"name":"x","key_type":"service","permissions":7}"#.into(),
            400,
            "permissions",
        ),
        (
            r#"{"name":"x","key_type":"service","expires_at":"2001-01-01T00:00:00Z"}"#.into(),
            400,
            "expires_at",
        ),
        (
            r#"{"name":"x","key_type":"service","expires_at":"soon"}"#.into(),
            400,
            "expires_at",
        ),
        (
            r#"{"name":"x","key_type":"service","permisions":["runs:read"]}"#.into(),
            400,
            "permisions",
        ),
        (big, 413, "bytes"),
    ];
    for (body, status, mention) in &create_cases {
        let reply = h
            .call("POST", "/v1/api-keys", Some(&root), Some(body))
            .await;
        reply.assert_error(*status);
        assert!(
            reply.error_message().contains(mention),
            "{body:.60}: message {:?} should mention {mention:?}",
            reply.error_message()
        );
    }
    let list_cases = [
        ("/v1/api-keys?status=actve", "status"),
        ("/v1/api-keys?limit=0", "limit"),
        ("/v1/api-keys?limit=101", "limit"),
        ("/v1/api-keys?limit=ten", "limit"),
        ("/v1/api-keys?cursor=garbage", "cursor"),
        ("/v1/api-keys?stauts=active", "stauts"),
    ];
    for (path, mention) in list_cases {
        let reply = h.call("GET", path, Some(&root), None).await;
        reply.assert_error(400);
        assert!(
            reply.error_message().contains(mention),
            "{path}: {:?}",
            reply.error_message()
        );
    }
    for path in [
        "/v1/api-keys/not-an-id",
        "/v1/api-keys/zzzzzzzzzzzzzzzzzzzzzz",
    ] {
        h.call("GET", path, Some(&root), None)
            .await
            .assert_error(404);
    }
    let reply = h
        .act(&root, id, "revoke", Some(r#"{"reason":"x","extra":1}"#))
        .await;
    reply.assert_error(400);
    assert_eq!(
        h.snapshot("acme").await,
        before,
        "no bad request wrote anything"
    );
    // Limits are inclusive.
    let hundred = "n".repeat(100);
    h.create(&root, json!({"name": hundred, "key_type": "service"}))
        .await;
    assert_eq!(
        h.call("GET", "/v1/api-keys?limit=100", Some(&root), None)
            .await
            .status,
        200
    );
    assert_eq!(
        h.call("GET", "/v1/api-keys?limit=1", Some(&root), None)
            .await
            .status,
        200
    );
}

/// A key, or just its 37-character secret, pasted into any field,
/// parameter or path is refused without being repeated.
#[tokio::test]
async fn error_messages_never_repeat_a_key_or_a_secret() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let secret = keygate_tests::secret_of(&root);
    let before = h.snapshot("acme").await;
    let (_, target) = h.create_scoped(&root, &["runs:read"]).await;
    let id = target["id"].as_str().unwrap().to_owned();
    let before_target = h.snapshot("acme").await;
    assert_eq!(before_target.len(), before.len() + 1);
    for pasted in [root.as_str(), secret.as_str()] {
        let bodies = [
            json!({"name": "x", "key_type": "service", "permissions": pasted}),
            json!({"name": "x", "key_type": "service", "permissions": [pasted]}),
            json!({"name": "x", "key_type": pasted}),
            json!({"name": "x", "key_type": "service", "permissions": {"preset": pasted}}),
            json!({"name": "x", "key_type": "service", "expires_at": pasted}),
            json!({ pasted: 1 }),
            json!({"name": "x", "key_type": "service", "owner": pasted}),
        ];
        for body in &bodies {
            let reply = h
                .call("POST", "/v1/api-keys", Some(&root), Some(&body.to_string()))
                .await;
            reply.assert_error(400);
            assert_no_secret(reply.body.to_string().as_bytes(), &[&root], "an error body");
        }
        for (verb, body) in [
            ("revoke", json!({ pasted: "x" })),
            ("rotate", json!({ "grace_period_seconds": pasted })),
            ("rotate", json!({ pasted: 1 })),
        ] {
            let reply = h.act(&root, &id, verb, Some(&body.to_string())).await;
            reply.assert_error(400);
            assert_no_secret(reply.body.to_string().as_bytes(), &[&root], "an error body");
        }
        for path in [
            format!("/v1/api-keys/{pasted}"),
            format!("/v1/api-keys?status={pasted}"),
            format!("/v1/api-keys?limit={pasted}"),
            format!("/v1/api-keys?cursor={pasted}"),
            format!("/v1/api-keys?{pasted}=1"),
            format!("/v1/audit-events?key_id={pasted}"),
            format!("/v1/audit-events?action={pasted}"),
        ] {
            let reply = h.call("GET", &path, Some(&root), None).await;
            assert!(reply.status == 400 || reply.status == 404, "{path}");
            assert_no_secret(reply.body.to_string().as_bytes(), &[&root], "an error body");
        }
    }
    // A whole key in a name, description or reason is refused too: it would
    // show to everyone who lists keys, and stay in the audit trail.
    for body in [
        json!({"name": format!("leaked {root}"), "key_type": "service"}),
        json!({"name": "x", "key_type": "service", "description": root}),
    ] {
        let reply = h
            .call("POST", "/v1/api-keys", Some(&root), Some(&body.to_string()))
            .await;
        reply.assert_error(400);
        assert!(
            reply
                .error_message()
                .contains("must not contain an API key")
        );
        assert_no_secret(reply.body.to_string().as_bytes(), &[&root], "an error body");
    }
    let reply = h
        .act(
            &root,
            &id,
            "revoke",
            Some(&json!({ "reason": root }).to_string()),
        )
        .await;
    assert!(
        reply.error_message().starts_with("reason:"),
        "{:#}",
        reply.body
    );
    assert_eq!(
        h.snapshot("acme").await,
        before_target,
        "nothing was written"
    );
}

/// Text that displays as something else is refused in every text
/// field, with a 400 that names the field.
#[tokio::test]
async fn invisible_formatting_characters_are_refused_in_every_text_field() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (_, target) = h.create_scoped(&root, &["runs:read"]).await;
    let id = target["id"].as_str().unwrap();
    let before = h.snapshot("acme").await;
    let events = h.events("acme").await.len();
    for tricky in [
        "a\u{202e}b",
        "zero\u{200b}width",
        "iso\u{2066}late",
        "\u{feff}bom",
        "bell\u{7}",
    ] {
        for (field, body) in [
            ("name", json!({"name": tricky, "key_type": "service"})),
            (
                "description",
                json!({"name": "x", "key_type": "service", "description": tricky}),
            ),
            (
                "owner",
                json!({"name": "x", "key_type": "user", "owner": tricky}),
            ),
        ] {
            let reply = h
                .call("POST", "/v1/api-keys", Some(&root), Some(&body.to_string()))
                .await;
            reply.assert_error(400);
            assert!(
                reply.error_message().starts_with(&format!("{field}:")),
                "{tricky:?}: {}",
                reply.error_message()
            );
        }
        for verb in ["revoke", "rotate"] {
            let reply = h
                .act(
                    &root,
                    id,
                    verb,
                    Some(&json!({ "reason": tricky }).to_string()),
                )
                .await;
            reply.assert_error(400);
            assert!(
                reply.error_message().starts_with("reason:"),
                "{verb} {tricky:?}"
            );
        }
    }
    let reply = h
        .call(
            "POST",
            "/v1/api-keys",
            Some(&root),
            Some(r#"{"name":"a\u202eb","key_type":"service"}"#),
        )
        .await;
    assert!(
        reply.error_message().contains("U+202E"),
        "{}",
        reply.error_message()
    );
    assert_eq!(h.snapshot("acme").await, before);
    assert_eq!(h.events("acme").await.len(), events);
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
        (Operation::SuspendKey, Some("api-keys:write")),
        (Operation::ReactivateKey, Some("api-keys:write")),
        (Operation::RevokeKey, Some("api-keys:write")),
        (Operation::RotateKey, Some("api-keys:write")),
        (Operation::DeleteKey, Some("api-keys:delete")),
        (Operation::ListScopes, None),
        (Operation::ListAuditEvents, Some("api-keys:read")),
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
        let others: Vec<&str> = Scope::all()
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

/// On the embedded store, each applied transition is exactly one commit (its
/// write and its event), a repeat none: the embedded twin of the DynamoDB
/// store's one-conditional-transaction check.
#[tokio::test]
async fn each_transition_is_one_commit_and_a_repeat_none() {
    use std::sync::atomic::Ordering;
    let h = Harness::new(CountingStore::new(
        keygate::store::EmbeddedStore::in_memory().unwrap(),
    ));
    let root = h.root_key("acme").await;
    let (_, target) = h.create_scoped(&root, &["runs:read"]).await;
    let id = target["id"].as_str().unwrap();
    for (verb, body, commits) in [
        ("suspend", None, 1),
        ("suspend", None, 0),
        ("reactivate", None, 1),
        ("reactivate", None, 0),
        ("revoke", Some(r#"{"reason":"r"}"#), 1),
        ("revoke", Some(r#"{"reason":"r"}"#), 0),
        ("suspend", None, 0),
    ] {
        let before = h.store().commits.load(Ordering::SeqCst);
        let reply = h.act(&root, id, verb, body).await;
        assert!(reply.status == 200 || reply.status == 409, "{verb}");
        assert_eq!(
            h.store().commits.load(Ordering::SeqCst) - before,
            commits,
            "{verb}"
        );
    }
}

/// The local gateway matches paths and query strings as API Gateway does: a
/// doubled slash is not found, a repeated parameter's values are joined with
/// commas, and the public routes need no key.
#[tokio::test]
async fn the_gateway_matches_paths_and_repeated_parameters_as_api_gateway_does() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let reply = h.call("GET", "//v1/api-keys", Some(&root), None).await;
    assert_eq!(
        (reply.status, reply.body),
        (404, json!({"message": "Not Found"}))
    );
    // API Gateway joins a repeated parameter's values with commas.
    let reply = h
        .call(
            "GET",
            "/v1/api-keys?status=active&status=revoked",
            Some(&root),
            None,
        )
        .await;
    reply.assert_error(400);
    assert!(reply.error_message().contains("status"));
    assert!(
        reply.error_message().contains("active,revoked"),
        "{}",
        reply.error_message()
    );
    let reply = h
        .call("GET", "/v1/api-keys?limit=5&limit=5", Some(&root), None)
        .await;
    reply.assert_error(400);
    // The public routes need no key.
    let page = h.call("GET", "/", None, None).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let asset = h.call("GET", "/console/app.js", None, None).await;
    assert_eq!(asset.status, 200);
    assert_eq!(
        asset.headers["content-type"],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(asset.headers["x-content-type-options"], "nosniff");
    let missing = h.call("GET", "/console/nope.js", None, None).await;
    assert_eq!(missing.status, 404);
    let document = h.call("GET", "/openapi.json", None, None).await;
    assert_eq!(document.status, 200);
    assert_eq!(document.body["openapi"], "3.1.0");
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

#[tokio::test]
async fn gateway_answers_match_api_gateway() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let reply = h.call("GET", "/v1/api-keys", None, None).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (401, json!({"message": "Unauthorized"}))
    );
    let reply = h.call("GET", "/v1/api-keys", Some("kg_nope"), None).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (403, json!({"message": "Forbidden"}))
    );
    let reply = h.call("GET", "/v2/elsewhere", Some(&root), None).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (404, json!({"message": "Not Found"}))
    );
    // A keygate path with a method it does not serve: 405 and Allow (the
    // stack's ANY routes answer the same).
    let reply = h.call("PUT", "/v1/api-keys", Some(&root), None).await;
    assert_eq!(
        (reply.status, reply.body.clone()),
        (405, json!({"message": "Method Not Allowed"}))
    );
    assert_eq!(reply.headers["allow"], "GET, POST");
    let reply = h.call("PATCH", "/v1/api-keys/abc", None, None).await;
    assert_eq!(reply.status, 405, "before the key is asked for");
    assert_eq!(reply.headers["allow"], "DELETE, GET");
}
