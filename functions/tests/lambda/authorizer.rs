//! The authorizer binary: it allows and denies as the authorizer does, with
//! the documented context, a revocation applying on the next request, one
//! cold start then warm invocations; and its logs never hold the key, even
//! at trace.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use keygate::domain::key::KeyFormat;
use keygate_tests::rie::Rie;
use keygate_tests::{
    Harness, assert_no_secret, dynamodb_endpoint, fresh_dynamodb_store, seed_fixture_key,
};
use serde_json::json;

use crate::common::{AUTHORIZER, authorizer_with, event, tables};

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
                "name": "fixture",
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

/// The authorizer binary counts a limited key's uses in DynamoDB, exactly,
/// across two instances (two containers): `deny` mode denies the request
/// past the limit; `defer` mode lets it through with the limit, the wait and
/// the RateLimit fields in its context, for the handler to answer 429.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authorizer_binary_enforces_limits_in_each_mode() {
    let (store, _) = fresh_dynamodb_store().await;
    let (table, audit) = tables(&store);
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let endpoint = dynamodb_endpoint();
    let start = |mode: &'static str| {
        let (table, audit, endpoint) = (table.clone(), audit.clone(), endpoint.clone());
        async move {
            Rie::start(
                Path::new(AUTHORIZER),
                &[
                    ("TABLE_NAME", &table),
                    ("AUDIT_TABLE_NAME", &audit),
                    ("AWS_ENDPOINT_URL", &endpoint),
                    ("KEYGATE_LIMIT_MODE", mode),
                ],
            )
            .await
        }
    };
    let limited = json!({"name": "limited", "key_type": "service",
        "limits": {"rate": {"requests": 3, "window_seconds": 3600}}});

    let (key, _) = h.create(&root, limited.clone()).await;
    let (one, two) = (start("deny").await, start("deny").await);
    let mut allowed = 0;
    for i in 0..8 {
        let rie = if i % 2 == 0 { &one } else { &two };
        let answer = rie
            .invoke(authorizer_with(&key, "GET /v1/runs/{id}"))
            .await
            .unwrap();
        if answer["isAuthorized"] == true {
            allowed += 1;
            assert_eq!(answer["context"]["limits"], "rate=3/3600;quota=");
            assert!(
                answer["context"]["ratelimit"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("\"rate\";r={};t=", 3 - allowed)),
                "{answer}"
            );
        } else {
            assert_eq!(answer, json!({"isAuthorized": false, "context": {}}));
        }
    }
    assert_eq!(allowed, 3, "two containers, one budget");
    drop((one, two));

    let (key, _) = h.create(&root, limited).await;
    let first = unix_now();
    let deferring = start("defer").await;
    for _ in 0..3 {
        let answer = deferring
            .invoke(authorizer_with(&key, "GET /v1/runs/{id}"))
            .await
            .unwrap();
        assert!(answer["context"].get("limit").is_none(), "{answer}");
    }
    let before = unix_now();
    let over = deferring
        .invoke(authorizer_with(&key, "GET /v1/runs/{id}"))
        .await
        .unwrap();
    let after = unix_now();
    assert_eq!(over["isAuthorized"], true, "{over}");
    assert_eq!(over["context"]["limit"], "rate");
    let retry_after: u64 = over["context"]["retry_after"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    // A sliding window: the three requests were counted in this hour's
    // window; the next fits once, in the next window, their weight has
    // fallen to two of three: a third of an hour into it.
    // (Should an hour turn while it runs, only the bound is certain.)
    let fits = |now: i64| (now.div_euclid(3600) * 3600 + 3600 + 1200 - now) as u64;
    let expected = if first.div_euclid(3600) == after.div_euclid(3600) {
        fits(after)..=fits(before) + 1
    } else {
        1..=2 * 3600
    };
    assert!(expected.contains(&retry_after), "{over}");
    assert_eq!(
        over["context"]["ratelimit"],
        format!("\"rate\";r=0;t={retry_after}")
    );
    assert_eq!(over["context"]["ratelimit_policy"], "\"rate\";q=3;w=3600");
}

fn unix_now() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}
