//! The management and console binaries: each serves its own fixture (with
//! no window of a key's secret in its logs at trace), and refuses, fails
//! closed on and logs an event meant for another route.

use keygate::domain::id::KeyId;
use keygate::store::Store;
use keygate_tests::{
    FIXTURE_CALLER_ID, assert_no_secret, dynamodb_endpoint, fixture_key, fresh_dynamodb_store,
    seed_fixture_key,
};
use serde_json::{Value, json};

use crate::common::{binary, event, serve, tables};

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

    let (status, body) = run("update-key").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], "fixture renamed");
    assert_eq!(body["description"], "renamed by its fixture");
    assert_eq!(body["status"], "active");

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

    let (status, body) = run("set-limits").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["limits"],
        json!({"rate": {"requests": 100, "window_seconds": 60},
               "quota": {"requests": 100000, "period": "month"}})
    );

    let (status, body) = run("get-usage").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["key_id"], &body["budget"]), (&json!(id), &json!(id)));
    assert_eq!(body["rate"]["limit"], 100);
    assert_eq!(body["rate"]["used"], 0);
    assert_eq!(body["quota"]["remaining"], 100000);

    let (status, body) = run("reset-usage").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["quota"]["used"], 0);

    let (status, body) = run("rotate-key").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["rotated_from"], id);
    assert_eq!(body["budget"], id, "the successor draws on the same budget");
    assert_eq!(
        body["name"], "fixture renamed",
        "the successor has its name"
    );
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
        [
            "rotate",
            "reset_usage",
            "set_limits",
            "reactivate",
            "suspend",
            "update",
            "create"
        ],
        "{body}"
    );
    assert_eq!(body["data"][5]["actor_name"], "fixture caller", "{body}");
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
