//! Configuration read at start: the pepper from Secrets Manager reaches the
//! hasher, and a function whose pepper or route table cannot be read does
//! not start.

use std::path::Path;
use std::time::Duration;

use keygate::domain::id::KeyId;
use keygate::domain::key::{KeyFormat, SecretHasher};
use keygate::store::Store;
use keygate_tests::rie::Rie;
use keygate_tests::{dynamodb_endpoint, fresh_dynamodb_store, seed_fixture_key};

use crate::common::{AUTHORIZER, authorizer_with, binary, event, serve, tables};

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

/// A catalog whose route names a scope it does not have stops the function
/// at start, with a message naming the variable, the file, the line and the
/// field: never a silent deny-all.
#[tokio::test]
async fn an_invalid_catalog_fails_loudly_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("orders.toml");
    std::fs::write(
        &catalog,
        "version = 1\n[routes]\n\"GET /orders\" = \"orders:write\"\n",
    )
    .unwrap();
    let rie = Rie::start(
        Path::new(AUTHORIZER),
        &[
            ("TABLE_NAME", "t"),
            ("AUDIT_TABLE_NAME", "t-audit"),
            ("KEYGATE_CATALOG", catalog.to_str().unwrap()),
        ],
    )
    .await;
    let error = rie
        .invoke(event("authorizer"))
        .await
        .expect_err("a function that cannot start answers nothing");
    assert!(error.contains("HTTP 502"), "{error}");
    assert!(
        rie.wait_for_output("orders.toml:3", Duration::from_secs(10))
            .await,
        "{}",
        rie.output()
    );
    let logs = rie.stop().await;
    assert!(logs.output.contains("KEYGATE_CATALOG"), "{}", logs.output);
    assert!(
        logs.output.contains("orders:write is not in the catalog"),
        "{}",
        logs.output
    );
    assert!(
        logs.emulator
            .contains("Runtime exited with error: exit status 1"),
        "{}",
        logs.emulator
    );
}
