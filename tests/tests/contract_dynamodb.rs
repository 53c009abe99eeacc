//! The store contract on the DynamoDB store, against moto's DynamoDB API
//! (started by `infra/test.sh`), plus what only DynamoDB can show: the
//! operations sent on the wire, behaviour when the store is down, and the raw
//! items at rest.

use std::time::{Duration, Instant};

use keygate::store::DynamoDbStore;
use keygate::store::dynamodb::{INDEX_BY_ORG, INDEX_BY_ORG_STATUS, Timeouts};
use keygate_tests::{Harness, authorizer_event, fresh_dynamodb_store};
use serde_json::json;

keygate_tests::contract_suite!(keygate_tests::fresh_dynamodb_store().await.0);

#[tokio::test]
async fn the_authorizer_reads_once_consistently_and_lists_query_a_gsi() {
    let (store, log) = fresh_dynamodb_store().await;
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (key, _) = h.create_scoped(&root, &["runs:read"]).await;

    log.clear();
    let malformed = format!("{}x", &key[..key.len() - 1]);
    let event = authorizer_event(&malformed, "GET /v1/runs");
    assert!(
        !keygate::authorizer::authorize(&h.app, &event)
            .await
            .is_authorized
    );
    assert!(
        log.calls().is_empty(),
        "a malformed key makes no DynamoDB call: {:?}",
        log.calls()
    );

    assert!(h.authorize(&key, "GET /v1/runs").await);
    let reads: Vec<_> = log
        .calls()
        .into_iter()
        .filter(|c| c.operation == "GetItem")
        .collect();
    assert_eq!(reads.len(), 1, "{:?}", log.calls());
    assert!(
        reads[0].consistent_read,
        "the authorizer's read is strongly consistent"
    );
    assert!(log.count("UpdateItem") <= 1, "at most the last-used write");

    // Within the minute the key is not written again.
    log.clear();
    assert!(h.authorize(&key, "GET /v1/runs").await);
    assert_eq!(log.count("GetItem"), 1);
    assert_eq!(log.count("UpdateItem"), 0, "{:?}", log.calls());

    for (status, index) in [
        ("all", INDEX_BY_ORG),
        ("active", INDEX_BY_ORG_STATUS),
        ("revoked", INDEX_BY_ORG_STATUS),
    ] {
        log.clear();
        let reply = h
            .call(
                "GET",
                &format!("/v1/api-keys?status={status}"),
                Some(&root),
                None,
            )
            .await;
        assert_eq!(reply.status, 200);
        let queries: Vec<_> = log
            .calls()
            .into_iter()
            .filter(|c| c.operation == "Query")
            .collect();
        assert_eq!(queries.len(), 1, "{:?}", log.calls());
        assert_eq!(queries[0].index.as_deref(), Some(index));
        assert_eq!(log.count("Scan"), 0);
    }
}

/// A DynamoDB store pointed at a port nobody listens on.
async fn unreachable_store(timeouts: Timeouts) -> DynamoDbStore {
    keygate_tests::set_dummy_aws_env();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client =
        DynamoDbStore::client(Some(&format!("http://127.0.0.1:{port}")), timeouts, None).await;
    DynamoDbStore::new(client, "keygate-down")
}

#[tokio::test]
async fn a_store_that_is_down_denies_and_answers_503() {
    let timeouts = Timeouts {
        connect: Duration::from_millis(200),
        attempt: Duration::from_millis(300),
        operation: Duration::from_millis(800),
        max_attempts: 2,
    };
    let store = unreachable_store(timeouts).await;
    let h = Harness::new(store);
    // A well-formed key: minted locally, never stored (the store is down).
    let key = keygate::key::KeyFormat::default().generate();
    let started = Instant::now();
    let response =
        keygate::authorizer::authorize(&h.app, &authorizer_event(key.key.expose(), "GET /v1/runs"))
            .await;
    assert!(!response.is_authorized, "fail closed");
    assert!(
        started.elapsed() < timeouts.operation + Duration::from_millis(700),
        "{:?}",
        started.elapsed()
    );

    // The handlers, given a caller context, answer 503 with Retry-After.
    let event =
        keygate::lambda_http::request::from_str(&keygate_tests::fixture("create-key")).unwrap();
    let response = keygate::api::handle(&h.app, keygate::routes::Operation::CreateKey, event).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
    let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(body["error"]["code"], "service_unavailable");
    assert!(body["error"]["request_id"].is_string());
}

#[tokio::test]
async fn nothing_secret_at_rest_in_the_raw_item() {
    let (store, _) = fresh_dynamodb_store().await;
    let raw = store.raw_client().clone();
    let table = store.table().to_owned();
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (key, record) = h
        .create(&root, json!({"name": "k", "key_type": "service"}))
        .await;
    let item = raw
        .get_item()
        .table_name(&table)
        .key(
            "id",
            aws_sdk_dynamodb::types::AttributeValue::S(record["id"].as_str().unwrap().to_owned()),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let dump = format!("{item:?}");
    let secret = &keygate_tests::secret_of(&key);
    for i in 0..=secret.len() - 20 {
        assert!(
            !dump.contains(&secret[i..i + 20]),
            "a run of the secret is in the item"
        );
    }
    assert!(!dump.contains(&key));
    assert!(item.contains_key("secret_hash"));
}

#[tokio::test]
async fn every_lambda_handler_works_on_dynamodb() {
    let (store, _) = fresh_dynamodb_store().await;
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (_, rec) = h
        .create(&root, json!({"name": "d", "key_type": "service"}))
        .await;
    let id = rec["id"].as_str().unwrap();
    for (method, path, body, status) in [
        ("GET", format!("/v1/api-keys/{id}"), None, 200),
        ("POST", format!("/v1/api-keys/{id}/suspend"), None, 200),
        ("POST", format!("/v1/api-keys/{id}/reactivate"), None, 200),
        (
            "POST",
            format!("/v1/api-keys/{id}/revoke"),
            Some(r#"{"reason":"r"}"#),
            200,
        ),
        ("POST", format!("/v1/api-keys/{id}/reactivate"), None, 409),
        ("GET", "/v1/api-keys?status=revoked".to_owned(), None, 200),
        ("GET", "/v1/scopes".to_owned(), None, 200),
        ("DELETE", format!("/v1/api-keys/{id}"), None, 204),
        ("GET", format!("/v1/api-keys/{id}"), None, 404),
    ] {
        let reply = h.call(method, &path, Some(&root), body).await;
        assert_eq!(reply.status, status, "{method} {path}: {:#}", reply.body);
    }
}
