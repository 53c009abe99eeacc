//! The Lambda binaries proven as Lambda functions: each runs under AWS's
//! Lambda Runtime Interface Emulator (`keygate_tests::rie`; installed by
//! `infra/install-rie.sh`), on DynamoDB (moto), and is fed its payload-2.0
//! fixture from `infra/events/`.

use std::path::Path;
use std::time::{Duration, Instant};

use keygate::domain::id::KeyId;
use keygate::domain::key::{KeyFormat, SecretHasher};
use keygate::store::{DynamoDbStore, Store};
use keygate_tests::rie::Rie;
use keygate_tests::{
    FIXTURE_CALLER_ID, Harness, assert_no_secret, authorizer_event, dynamodb_endpoint, fixture,
    fixture_key, fresh_dynamodb_store, seed_fixture_key,
};
use serde_json::{Value, json};

const AUTHORIZER: &str = env!("CARGO_BIN_EXE_authorizer");

/// The Lambda environment of a function on `store`'s tables.
fn tables(store: &DynamoDbStore) -> (String, String) {
    let tables = store.tables();
    (tables.keys, tables.audit)
}

fn event(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

fn authorizer_with(key: &str, route: &str) -> Value {
    serde_json::to_value(authorizer_event(key, route)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_binary_allows_and_denies() {
    let (store, _) = fresh_dynamodb_store().await;
    let (table, audit) = tables(&store);
    let h = Harness::new(store);
    let fixture_id = seed_fixture_key(h.store()).await;
    let root = h.root_key("acme").await;
    let (reader, record) = h.create_scoped(&root, &["runs:read"]).await;
    let reader_id = record["id"].as_str().unwrap().to_owned();

    let endpoint = dynamodb_endpoint();
    let rie = Rie::start(
        Path::new(AUTHORIZER),
        &[
            ("TABLE_NAME", &table),
            ("AUDIT_TABLE_NAME", &audit),
            ("AWS_ENDPOINT_URL", &endpoint),
        ],
    )
    .await;
    assert!(
        rie.runtime_pids().is_empty(),
        "the emulator starts the function on the first invoke, not before"
    );

    // The fixture as API Gateway sends it.
    let allowed = rie.invoke(event("authorizer")).await.unwrap();
    assert_eq!(
        allowed,
        json!({
            "isAuthorized": true,
            "context": {
                "org_id": "acme",
                "key_id": fixture_id.to_string(),
                "key_type": "service",
                "owner": "",
                "scopes": "*",
                "hint": "kg_...QoC6",
                "expires_at": "",
            }
        })
    );
    assert_eq!(rie.runtime_pids().len(), 1, "one function process");
    assert_eq!(rie.init_durations_ms().len(), 1, "{}", rie.emulator_log());

    let allowed = rie
        .invoke(authorizer_with(&reader, "GET /v1/runs/{id}"))
        .await
        .unwrap();
    assert_eq!(allowed["isAuthorized"], true, "{allowed}");
    assert_eq!(allowed["context"]["org_id"], "acme");
    assert_eq!(allowed["context"]["key_id"], reader_id);
    assert_eq!(allowed["context"]["scopes"], "runs:read");

    // The fixture's key with another secret: well-formed, checksum valid.
    let wrong_secret = KeyFormat::default().generate_with_id(fixture_id);
    for (key, route) in [
        (reader.as_str(), "POST /v1/runs"),
        (reader.as_str(), "GET /v1/unknown"),
        ("kg_malformed", "GET /v1/runs"),
        (wrong_secret.key.expose(), "GET /v1/api-keys/{id}"),
    ] {
        let denied = rie.invoke(authorizer_with(key, route)).await.unwrap();
        assert_eq!(
            denied,
            json!({"isAuthorized": false, "context": {}}),
            "{route}"
        );
    }

    let revoked = h
        .act(&root, &reader_id, "revoke", Some(r#"{"reason":"done"}"#))
        .await;
    assert_eq!(revoked.status, 200);
    let denied = rie
        .invoke(authorizer_with(&reader, "GET /v1/runs/{id}"))
        .await
        .unwrap();
    assert_eq!(
        denied["isAuthorized"], false,
        "revocation applies on the next request"
    );
    assert_eq!(
        rie.init_durations_ms().len(),
        1,
        "one cold start, then warm invocations"
    );
}

/// Invoke `binary` on `event` under a fresh emulator at `RUST_LOG=trace`;
/// the HTTP status, the JSON body (`Null` when there is none), and every
/// line the function and the emulator printed.
async fn serve(binary: &str, event: Value, env: &[(&str, &str)]) -> (u64, Value, String) {
    let mut env = env.to_vec();
    env.push(("RUST_LOG", "trace"));
    let rie = Rie::start(Path::new(binary), &env).await;
    let answer = rie
        .invoke(event)
        .await
        .unwrap_or_else(|e| panic!("{binary}: {e}"));
    let status = answer["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("{binary}: no statusCode in {answer}"));
    let body = match answer["body"].as_str() {
        Some(text) if !text.is_empty() => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
        _ => Value::Null,
    };
    let logs = rie.stop().await;
    (status, body, format!("{}\n{}", logs.output, logs.emulator))
}

fn binary(name: &str) -> &'static str {
    match name {
        "get-key" => env!("CARGO_BIN_EXE_get-key"),
        "list-scopes" => env!("CARGO_BIN_EXE_list-scopes"),
        "create-key" => env!("CARGO_BIN_EXE_create-key"),
        "list-keys" => env!("CARGO_BIN_EXE_list-keys"),
        "suspend-key" => env!("CARGO_BIN_EXE_suspend-key"),
        "reactivate-key" => env!("CARGO_BIN_EXE_reactivate-key"),
        "rotate-key" => env!("CARGO_BIN_EXE_rotate-key"),
        "list-audit-events" => env!("CARGO_BIN_EXE_list-audit-events"),
        "revoke-key" => env!("CARGO_BIN_EXE_revoke-key"),
        "delete-key" => env!("CARGO_BIN_EXE_delete-key"),
        "console" => env!("CARGO_BIN_EXE_console"),
        other => panic!("no binary {other}"),
    }
}

/// Every function but the authorizer on its own fixture, in an order the
/// fixtures allow (all act on the fixture key, as another key of org `acme`), each at
/// `RUST_LOG=trace` with no window of any key's secret in its logs, and
/// each refusing another function's event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_serves_its_fixture() {
    let (store, _) = fresh_dynamodb_store().await;
    let (table, audit) = tables(&store);
    let id = seed_fixture_key(&store).await.to_string();
    let endpoint = dynamodb_endpoint();
    let env = [
        ("TABLE_NAME", table.as_str()),
        ("AUDIT_TABLE_NAME", audit.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let mut shown: Vec<String> = vec![fixture_key()];
    let mut all_logs = String::new();
    let mut run = async |name: &str| {
        let (status, body, logs) = serve(binary(name), event(name), &env).await;
        if let Some(key) = body["key"].as_str() {
            shown.push(key.to_owned());
        }
        all_logs.push_str(&logs);
        assert!(
            logs.contains(&format!("\"operation\":\"{name}\"")),
            "{name} logged the request: {logs}"
        );
        (status, body)
    };

    let (status, body) = run("get-key").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], id);
    assert_eq!(body["org_id"], "acme");
    assert_eq!(body["name"], "fixture");
    assert_eq!(body["status"], "active");
    assert_eq!(body["scopes"], json!(["*"]));
    assert!(body.get("secret_hash").is_none(), "{body}");

    let (status, body) = run("list-scopes").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["full_access"], "*");
    assert_eq!(body["resources"].as_array().map(Vec::len), Some(13));
    assert!(body["presets"]["read_only"].is_array(), "{body}");

    let (status, body) = run("create-key").await;
    assert_eq!(status, 201, "{body}");
    assert!(body["key"].as_str().unwrap().starts_with("kg_"), "{body}");
    assert_eq!(body["name"], "ci-deployer");
    assert_eq!(body["key_type"], "service");
    assert_eq!(body["scopes"], json!(["runs:read", "runs:write"]));
    assert_eq!(body["created_by"], FIXTURE_CALLER_ID);
    let created = body["id"].as_str().unwrap().to_owned();

    let (status, body) = run("list-keys").await;
    assert_eq!(status, 200, "{body}");
    let mut listed: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    listed.sort_unstable();
    let mut expected = vec![id.as_str(), created.as_str(), FIXTURE_CALLER_ID];
    expected.sort_unstable();
    assert_eq!(listed, expected, "{body}");

    let (status, body) = run("suspend-key").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "suspended");
    assert!(body["suspended_at"].is_string(), "{body}");

    let (status, body) = run("reactivate-key").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["id"].as_str(), &body["status"]),
        (Some(id.as_str()), &json!("active"))
    );

    let (status, body) = run("rotate-key").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["rotated_from"], id);
    assert_eq!(body["name"], "fixture");
    assert!(body["key"].as_str().unwrap().starts_with("kg_"));

    let (status, body) = run("list-audit-events").await;
    assert_eq!(status, 200, "{body}");
    let actions: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        ["rotate", "reactivate", "suspend", "create"],
        "{body}"
    );
    assert_eq!(body["data"][0]["source_ip"], "203.0.113.7");
    assert_eq!(body["data"][0]["request_id"], "NpbN7gV4DoEEMVw=");

    let (status, body) = run("revoke-key").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "revoked");
    assert_eq!(body["revoked_reason"], "leaked in a build log");

    let (status, body) = run("delete-key").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(body, Value::Null);
    assert!(
        store
            .get(KeyId::parse(&id).unwrap())
            .await
            .unwrap()
            .is_none(),
        "deleted from the table"
    );

    let (status, body) = run("console").await;
    assert_eq!(status, 200);
    assert!(
        body.as_str()
            .is_some_and(|page| page.contains("<title>keygate console</title>"))
    );

    let shown: Vec<&str> = shown.iter().map(String::as_str).collect();
    assert_eq!(shown.len(), 3, "the fixture key, create's and rotate's");
    assert!(all_logs.contains("TRACE"), "logged at trace");
    assert_no_secret(all_logs.as_bytes(), &shown, "the functions' logs at trace");
}

/// A function deployed behind another route refuses the event
/// (fail closed), answers 500 and logs both route keys, and writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_behind_the_wrong_route_refuses_it() {
    let (store, _) = fresh_dynamodb_store().await;
    let (table, audit) = tables(&store);
    let id = seed_fixture_key(&store).await;
    let endpoint = dynamodb_endpoint();
    let env = [
        ("TABLE_NAME", table.as_str()),
        ("AUDIT_TABLE_NAME", audit.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let before = store.get(id).await.unwrap();
    for (function, sent) in [
        ("revoke-key", "delete-key"),
        ("delete-key", "get-key"),
        ("console", "suspend-key"),
        ("get-key", "console"),
    ] {
        let (status, body, logs) = serve(binary(function), event(sent), &env).await;
        assert_eq!(status, 500, "{function} served {sent}'s event: {body}");
        assert_eq!(body["error"]["code"], "internal_error");
        let route = event(sent)["routeKey"].as_str().unwrap().to_owned();
        assert!(logs.contains("misrouted"), "{logs}");
        assert!(
            logs.contains(&route),
            "the log names the route received: {logs}"
        );
    }
    assert_eq!(store.get(id).await.unwrap(), before, "the key is untouched");
}

/// The pepper reaches the hasher in the deployed functions: a key
/// created by create-key with the pepper (read from moto's Secrets Manager)
/// verifies in the authorizer with the pepper and not without it; a function
/// whose secret cannot be read does not start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pepper_comes_from_secrets_manager() {
    let (store, _) = fresh_dynamodb_store().await;
    let (table, audit) = tables(&store);
    seed_fixture_key(&store).await;
    let endpoint = dynamodb_endpoint();
    let pepper = "a-pepper-only-secrets-manager-knows";
    let secret = keygate_tests::create_secret("pepper", pepper).await;
    let plain = [
        ("TABLE_NAME", table.as_str()),
        ("AUDIT_TABLE_NAME", audit.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let mut peppered = plain.to_vec();
    peppered.push(("KEYGATE_PEPPER_SECRET_ID", secret.as_str()));

    let (status, body, _) = serve(binary("create-key"), event("create-key"), &peppered).await;
    assert_eq!(status, 201, "{body}");
    let key = body["key"].as_str().unwrap().to_owned();
    let stored = store
        .get(KeyId::parse(body["id"].as_str().unwrap()).unwrap())
        .await
        .unwrap()
        .unwrap();
    let parsed = KeyFormat::default().parse(&key).unwrap();
    assert_eq!(
        stored.secret_hash,
        SecretHasher::new(Some(pepper.as_bytes())).hash(parsed.secret()),
        "stored with the pepper from Secrets Manager"
    );
    assert_ne!(
        stored.secret_hash,
        SecretHasher::new(None).hash(parsed.secret())
    );

    let ask = authorizer_with(&key, "GET /v1/runs");
    let with = Rie::start(Path::new(AUTHORIZER), &peppered).await;
    assert_eq!(
        with.invoke(ask.clone()).await.unwrap()["isAuthorized"],
        true
    );
    let without = Rie::start(Path::new(AUTHORIZER), &plain).await;
    assert_eq!(
        without.invoke(ask).await.unwrap()["isAuthorized"],
        false,
        "a peppered key does not verify without the pepper"
    );

    let mut unreadable = plain.to_vec();
    let gone = format!("{secret}-gone");
    unreadable.push(("KEYGATE_PEPPER_SECRET_ID", gone.as_str()));
    for function in [AUTHORIZER, binary("create-key"), binary("rotate-key")] {
        let rie = Rie::start(Path::new(function), &unreadable).await;
        let error = rie
            .invoke(event("create-key"))
            .await
            .expect_err("a function without its pepper does not start");
        assert!(error.contains("HTTP 502"), "{error}");
        assert!(
            rie.wait_for_output("KEYGATE_PEPPER_SECRET_ID", Duration::from_secs(10))
                .await,
            "{function}: {}",
            rie.output()
        );
    }
}

/// A management function whose store is down answers 503 with Retry-After.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_outage_is_a_503() {
    let down = keygate_tests::unused_endpoint();
    let env = [
        ("TABLE_NAME", "t"),
        ("AUDIT_TABLE_NAME", "t-audit"),
        ("AWS_ENDPOINT_URL", down.as_str()),
        ("KEYGATE_STORE_TIMEOUT_MS", "500"),
    ];
    for name in ["get-key", "suspend-key", "list-audit-events"] {
        let rie = Rie::start(Path::new(binary(name)), &env).await;
        let answer = rie.invoke(event(name)).await.unwrap();
        assert_eq!(answer["statusCode"], 503, "{name}: {answer}");
        assert!(
            answer["headers"]["retry-after"].is_string(),
            "{name}: {answer}"
        );
    }
}

#[tokio::test]
async fn an_invalid_route_table_fails_loudly_at_start() {
    let rie = Rie::start(
        Path::new(AUTHORIZER),
        &[
            ("TABLE_NAME", "t"),
            ("AUDIT_TABLE_NAME", "t-audit"),
            ("KEYGATE_ROUTES", r#"{"GET /orders": "orders:read"}"#),
        ],
    )
    .await;
    let error = rie
        .invoke(event("authorizer"))
        .await
        .expect_err("a function that cannot start answers nothing");
    assert!(error.contains("HTTP 502"), "{error}");
    assert!(
        rie.wait_for_output("orders:read", Duration::from_secs(10))
            .await,
        "{}",
        rie.output()
    );
    let logs = rie.stop().await;
    assert!(logs.output.contains("KEYGATE_ROUTES"), "{}", logs.output);
    assert!(
        logs.emulator
            .contains("Runtime exited with error: exit status 1"),
        "{}",
        logs.emulator
    );
}

/// A DynamoDB that takes connections and never answers: the authorizer
/// denies once its store timeout (2.5 s by default) runs out, inside the
/// template's 10 s Lambda timeout; with a Lambda timeout shorter than the
/// store's, the emulator stops the function and the next invoke starts anew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_store_is_a_deny_within_the_lambda_timeout() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    let fixture_key = fixture_key();

    let rie = Rie::start(
        Path::new(AUTHORIZER),
        &[
            ("TABLE_NAME", "t"),
            ("AUDIT_TABLE_NAME", "t-audit"),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "10"),
        ],
    )
    .await;
    let started = Instant::now();
    let denied = rie.invoke(event("authorizer")).await.unwrap();
    assert_eq!(denied["isAuthorized"], false, "{denied}");
    assert!(started.elapsed() < Duration::from_secs(8), "{started:?}");
    drop(rie);

    let rie = Rie::start(
        Path::new(AUTHORIZER),
        &[
            ("TABLE_NAME", "t"),
            ("AUDIT_TABLE_NAME", "t-audit"),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", "1"),
            ("KEYGATE_STORE_TIMEOUT_MS", "5000"),
        ],
    )
    .await;
    let error = rie.invoke(event("authorizer")).await.unwrap_err();
    assert!(
        error.contains("Task timed out after 1.00 seconds"),
        "{error}"
    );
    // A key denied without a store call: answered by a new function process.
    let denied = rie
        .invoke(authorizer_with(&fixture_key[..20], "GET /v1/runs"))
        .await
        .unwrap();
    assert_eq!(denied["isAuthorized"], false);
    assert_eq!(rie.init_durations_ms().len(), 2, "{}", rie.emulator_log());
}

/// The function runs in a process group of its own under the emulator:
/// dropping the `Rie` must stop both, or every test would leave a function
/// process behind.
#[tokio::test]
async fn dropping_the_emulator_stops_the_function() {
    let rie = Rie::start(
        Path::new(AUTHORIZER),
        &[("TABLE_NAME", "t"), ("AUDIT_TABLE_NAME", "t-audit")],
    )
    .await;
    let denied = rie
        .invoke(authorizer_with("kg_malformed", "GET /v1/runs"))
        .await
        .unwrap();
    assert_eq!(denied["isAuthorized"], false);
    let emulator = rie.pid().unwrap();
    let function = rie.runtime_pids();
    assert_eq!(function.len(), 1);
    drop(rie);
    let gone = |pid: u32| {
        // Gone, or a zombie waiting for its parent to reap it.
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')))
            .unwrap_or(true)
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while !(gone(emulator) && gone(function[0])) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(gone(emulator), "the emulator {emulator} still runs");
    assert!(gone(function[0]), "the function {} still runs", function[0]);
}

/// Even at `RUST_LOG=trace`, the authorizer's logs never hold the key it was
/// sent (the Lambda runtime would log each raw event at trace).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_logs_no_key_even_at_trace() {
    let (store, _) = fresh_dynamodb_store().await;
    let (table, audit) = tables(&store);
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let endpoint = dynamodb_endpoint();
    let rie = Rie::start(
        Path::new(AUTHORIZER),
        &[
            ("TABLE_NAME", &table),
            ("AUDIT_TABLE_NAME", &audit),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("RUST_LOG", "trace"),
        ],
    )
    .await;
    for route in ["GET /v1/runs", "GET /v1/nowhere", "POST /v1/api-keys"] {
        rie.invoke(authorizer_with(&root, route)).await.unwrap();
    }
    let logs = rie.stop().await;
    assert!(
        logs.output.contains("deny"),
        "trace logging was captured: {:.500}",
        logs.output
    );
    assert!(logs.output.contains("TRACE"), "at trace level");
    let all = format!("{}{}", logs.output, logs.emulator);
    assert_no_secret(all.as_bytes(), &[&root], "the authorizer's logs at trace");
}
