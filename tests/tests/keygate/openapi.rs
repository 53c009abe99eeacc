//! The OpenAPI document in step with the code. Every route of the
//! route table is documented and nothing else; every status it documents
//! for an operation is one that operation really answers (each is provoked
//! here); every error code is documented, here and in the README.

use std::collections::{BTreeMap, BTreeSet};

use keygate::app::LimitMode;
use keygate::domain::catalog::Catalog;
use keygate::domain::routes::{Operation, Page, Requirement, Serves};
use keygate::http::error::ErrorCode;
use keygate::http::openapi::{document, documented_statuses};
use keygate::lambda_http::request::from_str;
use keygate::store::DynamoDbStore;
use keygate::store::dynamodb::{Tables, Timeouts};
use keygate_tests::{CountingStore, Harness, fixture, repo_root};
use serde_json::{Value, json};
use strum::VariantArray;

#[test]
fn every_route_is_documented_and_nothing_else() {
    let doc = document(Catalog::builtin());
    let mut documented = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let tags: BTreeSet<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented.insert(format!("{} {path}", method.to_ascii_uppercase()));
            // Readers such as the console's reference list operations by
            // their tag: one under a tag not declared would go unseen.
            for tag in op["tags"].as_array().unwrap() {
                assert!(
                    tags.contains(tag.as_str().unwrap()),
                    "{method} {path}: tag {tag} is declared"
                );
            }
            assert!(
                ids.insert(op["operationId"].as_str().unwrap().to_owned()),
                "unique ids"
            );
            assert!(op["summary"].is_string(), "{method} {path}");
            for (status, response) in op["responses"].as_object().unwrap() {
                let response = resolve(&doc, response);
                assert!(
                    response["description"].is_string(),
                    "{method} {path} {status}"
                );
                if let Some(content) = response["content"].as_object() {
                    for (media, body) in content {
                        let example = &body["example"];
                        assert!(
                            media != "application/json" || !example.is_null(),
                            "{method} {path} {status}: a JSON answer has an example"
                        );
                    }
                }
            }
        }
    }
    let routes: BTreeSet<String> = Catalog::builtin()
        .routes()
        .routes()
        .iter()
        .filter(|r| r.is_keygate())
        .map(|r| r.route_key())
        .collect();
    assert_eq!(documented, routes);
    // Public routes need no key; everything else needs the X-API-Key scheme,
    // and each operation names what it asks of the key as the route table does.
    for route in Catalog::builtin()
        .routes()
        .routes()
        .iter()
        .filter(|r| r.is_keygate())
    {
        let doc_op = &doc["paths"][&route.path][route.method.to_ascii_lowercase()];
        let public = matches!(route.serves, Serves::Page(_));
        let key = route.route_key();
        assert_eq!(doc_op["security"] == json!([]), public, "{key}");
        let named = &doc_op["x-required-scope"];
        match route.requirement() {
            Some(Requirement::Scope(scope)) => assert_eq!(named, scope.as_str()),
            Some(Requirement::AnyValidKey) => assert_eq!(named, "any"),
            None => assert!(named.is_null() && public, "{key}"),
        }
    }
    assert_eq!(doc["security"], json!([{"ApiKey": []}]));
    assert_eq!(
        doc["components"]["securitySchemes"]["ApiKey"]["name"],
        "X-API-Key"
    );
}

fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => reference
            .trim_start_matches("#/")
            .split('/')
            .fold(doc, |v, part| &v[part]),
        None => value,
    }
}

#[test]
fn every_error_code_is_documented_in_the_document_and_the_readme() {
    let doc = document(Catalog::builtin());
    let detail = resolve(
        &doc,
        &doc["components"]["schemas"]["Error"]["properties"]["error"],
    );
    let code = resolve(&doc, &detail["properties"]["code"]);
    let documented: BTreeSet<&str> = code["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let codes: BTreeSet<&str> = ErrorCode::VARIANTS.iter().map(|c| c.as_str()).collect();
    assert_eq!(documented, codes);
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    for code in ErrorCode::VARIANTS {
        assert!(
            readme.contains(&format!("`{}` | {}", code.as_str(), code.status())),
            "README's error table lacks `{}` | {}",
            code.as_str(),
            code.status()
        );
    }
}

/// An unreachable store: the handler's store call fails, so it answers 503.
async fn down_store() -> DynamoDbStore {
    keygate_tests::set_dummy_aws_env();
    let timeouts = Timeouts {
        connect: std::time::Duration::from_millis(100),
        attempt: std::time::Duration::from_millis(200),
        operation: std::time::Duration::from_millis(400),
        max_attempts: 1,
    };
    let client =
        keygate::store::dynamodb::client(Some(&keygate_tests::unused_endpoint()), timeouts).await;
    DynamoDbStore::new(client, &Tables::named("down"))
}

/// Provoke every documented status of every operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_status_is_one_the_operation_answers() {
    let doc = document(Catalog::builtin());
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (reader, _) = h.create_scoped(&root, &["runs:read"]).await;
    let (_, revoked) = h.create_scoped(&root, &["runs:read"]).await;
    let revoked = revoked["id"].as_str().unwrap().to_owned();
    h.act(&root, &revoked, "revoke", Some(r#"{"reason":"x"}"#))
        .await;
    let unknown = keygate::domain::id::KeyId::generate().to_string();
    let big = format!(r#"{{"reason":"{}"}}"#, "x".repeat(20_000));
    let down = Harness::new(down_store().await);
    let limited = json!({"name": "limited", "key_type": "service",
        "limits": {"rate": {"requests": 1, "window_seconds": 86400}}});
    let over = Harness::embedded().in_limit_mode(LimitMode::Defer);
    let over_root = over.root_key("acme").await;
    let (over_key, _) = over.create(&over_root, limited.clone()).await;
    assert_eq!(
        over.call("GET", "/v1/scopes", Some(&over_key), None)
            .await
            .status,
        200
    );
    let uncountable = Harness::new(CountingStore::uncountable(
        keygate::store::EmbeddedStore::in_memory().unwrap(),
    ))
    .in_limit_mode(LimitMode::Defer);
    let uncountable_root = uncountable.root_key("acme").await;
    let (uncountable_key, _) = uncountable.create(&uncountable_root, limited).await;

    let mut seen: BTreeMap<Operation, BTreeSet<u16>> = BTreeMap::new();
    for &op in Operation::VARIANTS {
        let statuses = seen.entry(op).or_default();
        let (method, template) = op.route_key().split_once(' ').unwrap();
        let fresh = || async {
            let (_, k) = h.create_scoped(&root, &["runs:read"]).await;
            k["id"].as_str().unwrap().to_owned()
        };
        let path_for = |id: &str| template.replace("{id}", id).replace("{file}", "app.js");
        // The successful answer.
        let ok_body = match op {
            Operation::CreateKey => Some(r#"{"name":"n","key_type":"service"}"#.to_owned()),
            Operation::RevokeKey => Some(r#"{"reason":"r"}"#.to_owned()),
            Operation::RotateKey | Operation::SetLimits => Some("{}".to_owned()),
            Operation::UpdateKey => Some(r#"{"name":"renamed"}"#.to_owned()),
            _ => None,
        };
        let target = fresh().await;
        let reply = h
            .call(method, &path_for(&target), Some(&root), ok_body.as_deref())
            .await;
        statuses.insert(reply.status);
        // API Gateway's: no key, a denied key.
        statuses.insert(
            h.call(method, &path_for(&target), None, ok_body.as_deref())
                .await
                .status,
        );
        let denied_key = if op == Operation::ListScopes {
            "kg_not-a-key"
        } else {
            reader.as_str()
        };
        statuses.insert(
            h.call(
                method,
                &path_for(&target),
                Some(denied_key),
                ok_body.as_deref(),
            )
            .await
            .status,
        );
        // Bad input.
        let bad = match op {
            Operation::CreateKey
            | Operation::RevokeKey
            | Operation::RotateKey
            | Operation::SetLimits
            | Operation::UpdateKey => Some((path_for(&target), Some(r#"{"unknown":1}"#))),
            Operation::ListKeys => Some(("/v1/api-keys?status=nope".to_owned(), None)),
            Operation::ListAuditEvents => Some(("/v1/audit-events?action=nope".to_owned(), None)),
            _ => None,
        };
        if let Some((path, body)) = bad {
            statuses.insert(h.call(method, &path, Some(&root), body).await.status);
        }
        if template.contains("{id}") {
            statuses.insert(
                h.call(method, &path_for(&unknown), Some(&root), ok_body.as_deref())
                    .await
                    .status,
            );
        }
        if matches!(
            op,
            Operation::SuspendKey | Operation::ReactivateKey | Operation::RotateKey
        ) {
            statuses.insert(
                h.call(method, &path_for(&revoked), Some(&root), ok_body.as_deref())
                    .await
                    .status,
            );
        }
        if op == Operation::DeleteKey {
            // A rotation's successor while the key it replaced is in grace.
            let rotated = h
                .act(
                    &root,
                    &fresh().await,
                    "rotate",
                    Some(r#"{"grace_period_seconds":600}"#),
                )
                .await;
            let successor = rotated.body["id"].as_str().unwrap().to_owned();
            statuses.insert(
                h.call(method, &path_for(&successor), Some(&root), None)
                    .await
                    .status,
            );
        }
        if matches!(method, "POST" | "PUT" | "PATCH") {
            statuses.insert(
                h.call(method, &path_for(&fresh().await), Some(&root), Some(&big))
                    .await
                    .status,
            );
        }
        // In defer mode, a key over its limit (429), and one whose use could
        // not be counted (503), before the call is made.
        statuses.insert(
            over.call(
                method,
                &path_for(&target),
                Some(&over_key),
                ok_body.as_deref(),
            )
            .await
            .status,
        );
        statuses.insert(
            uncountable
                .call(
                    method,
                    &path_for(&target),
                    Some(&uncountable_key),
                    ok_body.as_deref(),
                )
                .await
                .status,
        );
        // The store down, behind an authorizer that allowed the call.
        if op != Operation::ListScopes {
            let request = from_str(&fixture(op.function_name())).unwrap();
            statuses.insert(
                keygate::http::handle(&down.app, op, request)
                    .await
                    .status()
                    .as_u16(),
            );
        }
    }
    for &op in Operation::VARIANTS {
        let documented: BTreeSet<u16> = documented_statuses(&doc, op.route_key())
            .into_iter()
            .collect();
        assert_eq!(
            seen[&op],
            documented,
            "{}: statuses answered vs documented",
            op.route_key()
        );
    }
    // The public pages: found, and (an asset) not found.
    for &page in Page::VARIANTS {
        let (method, template) = page.route_key().split_once(' ').unwrap();
        let mut statuses = BTreeSet::from([h
            .call(method, &template.replace("{file}", "app.js"), None, None)
            .await
            .status]);
        if page == Page::ConsoleAsset {
            statuses.insert(
                h.call("GET", "/console/missing.js", None, None)
                    .await
                    .status,
            );
        }
        let documented: BTreeSet<u16> = documented_statuses(&doc, page.route_key())
            .into_iter()
            .collect();
        assert_eq!(statuses, documented, "{}", page.route_key());
    }
}

/// Every request example in the document is accepted as it stands (a
/// client copying one gets a success, not a 400 for a date that has passed),
/// and an empty cursor, which the API refuses, is outside the schema.
#[tokio::test]
async fn every_request_example_is_accepted_as_it_stands() {
    let doc = document(Catalog::builtin());
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let mut tried = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(example) = op["requestBody"]["content"]["application/json"]
                .get("example")
                .cloned()
            else {
                continue;
            };
            let (_, target) = h.create_scoped(&root, &["runs:read"]).await;
            let concrete = path.replace("{id}", target["id"].as_str().unwrap());
            let reply = h
                .call(
                    &method.to_ascii_uppercase(),
                    &concrete,
                    Some(&root),
                    Some(&example.to_string()),
                )
                .await;
            assert!(
                (200..300).contains(&reply.status),
                "{method} {path} with its example {example}: {:#}",
                reply.body
            );
            tried += 1;
        }
    }
    assert_eq!(
        tried, 5,
        "create, update, revoke, rotate and set-limits have examples"
    );
    let cursor = resolve(&doc, &doc["components"]["parameters"]["Cursor"]);
    assert_eq!(cursor["schema"]["minLength"], 1);
    let reply = h
        .call("GET", "/v1/api-keys?cursor=", Some(&root), None)
        .await;
    reply.assert_error(400);
}
