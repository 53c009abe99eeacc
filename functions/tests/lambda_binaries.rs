//! The Lambda binaries proven as binaries: each is started as a process
//! against a local Lambda Runtime API, on DynamoDB (moto), and fed the
//! payload-2.0 fixtures from `infra/events/`.

use std::path::Path;
use std::time::Duration;

use keygate_tests::runtime_api::{Answer, RuntimeApi, function_command, spawn_function};
use keygate_tests::{Harness, authorizer_event, dynamodb_endpoint, fixture, fresh_dynamodb_store};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

const WAIT: Duration = Duration::from_secs(20);

fn response(answer: Answer) -> Value {
    match answer {
        Answer::Response(v) => v,
        Answer::Error(e) => panic!("the function reported an error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_binary_allows_and_denies() {
    let (store, _) = fresh_dynamodb_store().await;
    let table = store.table().to_owned();
    let audit = store.audit_table().to_owned();
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (reader, record) = h.create_scoped(&root, &["runs:read"]).await;
    let id = record["id"].as_str().unwrap().to_owned();

    let api = RuntimeApi::start().await;
    let endpoint = dynamodb_endpoint();
    let _function = spawn_function(
        Path::new(env!("CARGO_BIN_EXE_authorizer")),
        &api,
        &[
            ("TABLE_NAME", &table),
            ("AUDIT_TABLE_NAME", &audit),
            ("AWS_ENDPOINT_URL", &endpoint),
        ],
    );
    let ask = |key: &str, route: &str| serde_json::to_value(authorizer_event(key, route)).unwrap();

    let allowed = response(
        api.invoke(ask(&reader, "GET /v1/runs/{id}"), WAIT)
            .await
            .unwrap(),
    );
    assert_eq!(allowed["isAuthorized"], true, "{allowed}");
    assert_eq!(allowed["context"]["org_id"], "acme");
    assert_eq!(allowed["context"]["key_id"], id);
    assert_eq!(allowed["context"]["scopes"], "runs:read");

    for (key, route) in [
        (reader.as_str(), "POST /v1/runs"),
        (reader.as_str(), "GET /v1/unknown"),
        ("kg_malformed", "GET /v1/runs"),
    ] {
        let denied = response(api.invoke(ask(key, route), WAIT).await.unwrap());
        assert_eq!(denied["isAuthorized"], false, "{key} {route}");
    }

    let revoked = h
        .call(
            "POST",
            &format!("/v1/api-keys/{id}/revoke"),
            Some(&root),
            Some(r#"{"reason":"done"}"#),
        )
        .await;
    assert_eq!(revoked.status, 200);
    let denied = response(
        api.invoke(ask(&reader, "GET /v1/runs/{id}"), WAIT)
            .await
            .unwrap(),
    );
    assert_eq!(
        denied["isAuthorized"], false,
        "revocation applies on the next request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_binaries_serve_their_fixtures() {
    let (store, _) = fresh_dynamodb_store().await;
    let table = store.table().to_owned();
    let audit = store.audit_table().to_owned();
    let h = Harness::new(store);
    // The fixtures call as org "acme" about the key id they name: seed it.
    let event: Value = serde_json::from_str(&fixture("get-key")).unwrap();
    let fixture_id = event["pathParameters"]["id"].as_str().unwrap();
    let mut record = keygate_tests::contract::record("acme", "fixture");
    record.id = keygate::key::KeyId::parse(fixture_id).unwrap();
    keygate_tests::contract::seed(h.store(), &record).await;

    let endpoint = dynamodb_endpoint();
    let env = [
        ("TABLE_NAME", table.as_str()),
        ("AUDIT_TABLE_NAME", audit.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    for (binary, name, status) in [
        (env!("CARGO_BIN_EXE_get-key"), "get-key", 200),
        (env!("CARGO_BIN_EXE_create-key"), "create-key", 201),
        (env!("CARGO_BIN_EXE_suspend-key"), "suspend-key", 200),
        (env!("CARGO_BIN_EXE_list-keys"), "list-keys", 200),
    ] {
        let api = RuntimeApi::start().await;
        let _function = spawn_function(Path::new(binary), &api, &env);
        let event: Value = serde_json::from_str(&fixture(name)).unwrap();
        let answer = response(api.invoke(event, WAIT).await.unwrap());
        assert_eq!(answer["statusCode"], status, "{name}: {answer}");
        let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
        match name {
            "get-key" => assert_eq!(body["id"], fixture_id),
            "create-key" => {
                assert!(body["key"].as_str().unwrap().starts_with("kg_"));
                assert_eq!(body["scopes"], json!(["runs:read", "runs:write"]));
            }
            "suspend-key" => assert_eq!(body["status"], "suspended"),
            _ => {
                let data = body["data"].as_array().unwrap();
                assert_eq!(data.len(), 1, "the key create-key made: {body}");
                assert!(
                    data.iter()
                        .all(|r| r["status"] == "active" && r["id"] != fixture_id)
                );
            }
        }
    }
}

#[tokio::test]
async fn an_invalid_route_table_fails_loudly_at_start() {
    let api = RuntimeApi::start().await;
    let mut function = spawn_function(
        Path::new(env!("CARGO_BIN_EXE_authorizer")),
        &api,
        &[
            ("TABLE_NAME", "t"),
            ("AUDIT_TABLE_NAME", "t-audit"),
            ("KEYGATE_ROUTES", r#"{"GET /orders": "orders:read"}"#),
        ],
    );
    let status = tokio::time::timeout(WAIT, function.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success());
    let mut stderr = String::new();
    function
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("KEYGATE_ROUTES"), "{stderr}");
    assert!(stderr.contains("orders:read"), "{stderr}");
}

/// Even at `RUST_LOG=trace`, the authorizer's logs never hold the key it was
/// sent (the Lambda runtime would log each raw event at trace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_logs_no_key_even_at_trace() {
    let (store, _) = fresh_dynamodb_store().await;
    let table = store.table().to_owned();
    let audit = store.audit_table().to_owned();
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let api = RuntimeApi::start().await;
    let endpoint = dynamodb_endpoint();
    let mut function = function_command(
        Path::new(env!("CARGO_BIN_EXE_authorizer")),
        &api,
        &[
            ("TABLE_NAME", &table),
            ("AUDIT_TABLE_NAME", &audit),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("RUST_LOG", "trace"),
        ],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null())
    .spawn()
    .unwrap();
    // Read the logs as they come, or a full pipe would stall the function.
    let mut stdout = function.stdout.take().unwrap();
    let reader = tokio::spawn(async move {
        let mut logs = String::new();
        let _ = stdout.read_to_string(&mut logs).await;
        logs
    });
    for route in ["GET /v1/runs", "GET /v1/nowhere"] {
        let event = serde_json::to_value(authorizer_event(&root, route)).unwrap();
        response(api.invoke(event, WAIT).await.unwrap());
    }
    function.kill().await.unwrap();
    let logs = reader.await.unwrap();
    assert!(
        logs.contains("deny"),
        "trace logging was captured: {logs:.500}"
    );
    assert!(logs.contains("TRACE"), "at trace level");
    let secret = &keygate_tests::secret_of(&root);
    assert!(!logs.contains(secret), "the secret is in the logs");
    assert!(
        !logs.contains(&root[3..40]),
        "part of the key is in the logs"
    );
}
