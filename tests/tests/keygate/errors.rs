//! Bad input: a 4xx that names the field (413 for a body too large),
//! unknown fields and parameters refused, text that displays as something
//! else refused, a pasted key never repeated, and nothing written.

use keygate_tests::{Harness, assert_no_secret};
use serde_json::json;

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
    // Limits are inclusive. (Words, not one run of 100 letters: a run as long
    // as a key's secret is refused as one.)
    let hundred = "name ".repeat(20);
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
async fn invisible_and_key_shaped_text_is_refused_in_every_text_field() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (_, target) = h.create_scoped(&root, &["runs:read"]).await;
    let id = target["id"].as_str().unwrap();
    let before = h.snapshot("acme").await;
    let events = h.events("acme").await.len();
    let key = h.root_key("other").await;
    let body = key.split_once('_').unwrap().1.to_owned();
    let secret = body[22..59].to_owned();
    let key_shaped = [
        format!("leaked in CI log: {body}"),
        format!("x{body}"),
        format!("secret={secret}"),
    ];
    let tricky_texts = [
        "a\u{202e}b",
        "zero\u{200b}width",
        "iso\u{2066}late",
        "\u{feff}bom",
        "bell\u{7}",
        // Line and paragraph separators, private-use and unassigned code
        // points, and text that shows nothing at all.
        "line\u{2028}break",
        "para\u{2029}graph",
        "private\u{e000}",
        "unassigned\u{0378}",
        "\u{3164}",
        "\u{2800}\u{2800}",
    ]
    .map(str::to_owned);
    for tricky in tricky_texts.iter().chain(&key_shaped) {
        let tricky = tricky.as_str();
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
    // Nothing of a key-shaped text is repeated in the answer.
    for text in &key_shaped {
        let body = json!({"name": "x", "key_type": "service", "description": text});
        let reply = h
            .call("POST", "/v1/api-keys", Some(&root), Some(&body.to_string()))
            .await;
        assert!(
            reply.error_message().contains("API key"),
            "{}",
            reply.error_message()
        );
        assert_no_secret(
            reply.body.to_string().as_bytes(),
            &[key.as_str()],
            "the refusal",
        );
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

/// Every route refuses a query parameter or a body field it does not read,
/// naming it, and writes nothing: `POST …/suspend?foo=bar` with
/// `{"junk":1}` does not suspend the key.
#[tokio::test]
async fn every_route_refuses_unknown_query_parameters_and_body_fields() {
    use keygate::domain::routes::Operation;
    use strum::VariantArray;
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (_, target) = h.create_scoped(&root, &["runs:read"]).await;
    let id = target["id"].as_str().unwrap();
    let keys_before = h.snapshot("acme").await;
    let events_before = h.events("acme").await.len();
    for op in Operation::VARIANTS {
        let (method, template) = op.route_key().split_once(' ').unwrap();
        let path = template.replace("{id}", id);
        // A body the call would otherwise take, so the unknown part is what fails.
        let good_body = match op {
            Operation::CreateKey => Some(json!({"name": "n", "key_type": "service"})),
            Operation::RevokeKey => Some(json!({"reason": "r"})),
            Operation::RotateKey | Operation::SetLimits => Some(json!({})),
            Operation::UpdateKey => Some(json!({"name": "n"})),
            _ => None,
        };
        let with_junk = {
            let mut body = good_body.clone().unwrap_or_else(|| json!({}));
            body["junk"] = json!(1);
            body.to_string()
        };
        let reply = h.call(method, &path, Some(&root), Some(&with_junk)).await;
        assert_eq!(
            reply.assert_error(400),
            "invalid_request",
            "{method} {path}"
        );
        assert!(
            reply.error_message().starts_with("\"junk\": unknown field"),
            "{method} {path}: {}",
            reply.error_message()
        );
        let body = good_body.map(|b| b.to_string());
        let reply = h
            .call(
                method,
                &format!("{path}?foo=bar"),
                Some(&root),
                body.as_deref(),
            )
            .await;
        assert_eq!(
            reply.assert_error(400),
            "invalid_request",
            "{method} {path}?foo"
        );
        assert!(
            reply
                .error_message()
                .starts_with("\"foo\": unknown query parameter"),
            "{method} {path}: {}",
            reply.error_message()
        );
    }
    // A call that takes no body accepts none, or an empty object.
    for body in [None, Some("{}"), Some("  ")] {
        let reply = h
            .call("GET", &format!("/v1/api-keys/{id}"), Some(&root), body)
            .await;
        assert_eq!(reply.status, 200, "{body:?}");
    }
    assert_eq!(h.snapshot("acme").await, keys_before, "nothing was written");
    assert_eq!(h.events("acme").await.len(), events_before);
}

/// Every API answer, success or error, is never sniffed as another type
/// and never stored by a cache; those that carry a key above all.
#[tokio::test]
async fn every_api_answer_is_nosniff_and_no_store() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let created = h
        .call(
            "POST",
            "/v1/api-keys",
            Some(&root),
            Some(r#"{"name":"n","key_type":"service"}"#),
        )
        .await;
    let id = created.body["id"].as_str().unwrap().to_owned();
    let rotated = h.act(&root, &id, "rotate", Some("{}")).await;
    let successor = rotated.body["id"].as_str().unwrap().to_owned();
    let answers = [
        ("create", created),
        ("rotate", rotated),
        (
            "list",
            h.call("GET", "/v1/api-keys", Some(&root), None).await,
        ),
        (
            "get",
            h.call(
                "GET",
                &format!("/v1/api-keys/{successor}"),
                Some(&root),
                None,
            )
            .await,
        ),
        (
            "scopes",
            h.call("GET", "/v1/scopes", Some(&root), None).await,
        ),
        (
            "400",
            h.call("GET", "/v1/api-keys?status=nope", Some(&root), None)
                .await,
        ),
        (
            "404",
            h.call(
                "GET",
                "/v1/api-keys/0000000000000000000000",
                Some(&root),
                None,
            )
            .await,
        ),
        (
            "delete",
            h.call(
                "DELETE",
                &format!("/v1/api-keys/{successor}"),
                Some(&root),
                None,
            )
            .await,
        ),
    ];
    for (what, reply) in answers {
        assert_eq!(reply.headers["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(reply.headers["cache-control"], "no-store", "{what}");
    }
}
