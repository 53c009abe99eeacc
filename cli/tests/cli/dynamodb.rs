//! The `keygate` command on DynamoDB (moto, started by `infra/test.sh`):
//! `table create`, `table upgrade`, `bootstrap --table` and `serve --table`.

use std::process::Command;

use crate::common::{KEYGATE, Server, request};

/// `keygate <args> --table T --dynamodb-endpoint E` with dummy AWS credentials.
fn keygate_on(table: &str, endpoint: &str, args: &[&str]) -> Command {
    let mut command = Command::new(KEYGATE);
    command
        .args(args)
        .args(["--table", table, "--dynamodb-endpoint", endpoint])
        .envs(keygate_tests::DUMMY_AWS_ENV);
    command
}

/// `keygate table create` of a new table `<name>-<pid>` on the test
/// endpoint; returns the table and the endpoint.
fn table_created(name: &str) -> (String, String) {
    let endpoint = keygate_tests::dynamodb_endpoint();
    let table = format!("{name}-{}", std::process::id());
    let out = keygate_on(&table, &endpoint, &["table", "create"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (table, endpoint)
}

#[test]
fn table_create_bootstrap_and_serve_on_dynamodb() {
    let (table, endpoint) = table_created("keygate-cli");
    // Creating it again fails with DynamoDB's message, not a panic.
    let again = keygate_on(&table, &endpoint, &["table", "create"])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("keygate:"));

    let out = keygate_on(&table, &endpoint, &["bootstrap", "--org", "acme"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("kg_"));

    let server = Server::spawn(keygate_on(&table, &endpoint, &["serve", "--port", "0"]));
    assert_eq!(
        server.first_key, None,
        "the table has keys: no first key is minted"
    );
    let url = &server.url;
    let base = format!("{url}/v1/api-keys");
    let created = request(
        "POST",
        &base,
        Some(&key),
        Some(r#"{"name":"on-dynamo","key_type":"service","permissions":["runs:read"]}"#),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["id"].as_str().unwrap();
    let new_key = created.body["key"].as_str().unwrap();
    assert_eq!(
        request("GET", &format!("{url}/v1/runs"), Some(new_key), None).status,
        404,
        "allowed, no backend"
    );
    let revoked = request(
        "POST",
        &format!("{base}/{id}/revoke"),
        Some(&key),
        Some(r#"{"reason":"done"}"#),
    );
    assert_eq!(revoked.body["status"], "revoked");
    assert_eq!(
        request("GET", &format!("{url}/v1/runs"), Some(new_key), None).status,
        403
    );
    let listed = request("GET", &format!("{base}?status=revoked"), Some(&key), None);
    assert_eq!(listed.body["data"][0]["id"], id);
    server.stop();
}

/// `keygate serve` on DynamoDB with `env`, stopped when dropped.
fn serve_on(table: &str, endpoint: &str, env: &[(&str, &str)]) -> Server {
    let mut command = keygate_on(table, endpoint, &["serve", "--port", "0"]);
    command.envs(env.iter().copied());
    Server::spawn(command)
}

/// On DynamoDB: a locked-out organization is recovered with
/// `bootstrap --org --table`, and the pepper comes from Secrets Manager
/// (moto's), never from a plain setting; an unreadable secret stops the
/// process at start.
#[test]
fn recovery_and_a_pepper_from_secrets_manager_on_dynamodb() {
    let (table, endpoint) = table_created("keygate-cli-pepper");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let secret = runtime.block_on(keygate_tests::create_secret(
        "keygate-pepper",
        "a-long-random-pepper",
    ));
    let peppered = [
        ("KEYGATE_PEPPER_SECRET_ID", secret.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];

    let bootstrap = |env: &[(&str, &str)]| {
        let mut command = keygate_on(&table, &endpoint, &["bootstrap", "--org", "acme"]);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().unwrap()
    };
    let out = bootstrap(&peppered);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let root = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // The key verifies with the pepper, and only with it.
    let with_pepper = serve_on(&table, &endpoint, &peppered);
    let url = &with_pepper.url;
    let me = format!("{url}/v1/api-keys/{}", keygate_tests::id_of(&root));
    assert_eq!(request("GET", &me, Some(&root), None).status, 200);
    // Lock the org out: its only key deletes itself.
    assert_eq!(request("DELETE", &me, Some(&root), None).status, 204);
    assert_eq!(
        request("GET", &format!("{url}/v1/api-keys"), Some(&root), None).status,
        403
    );
    with_pepper.stop();
    let without = serve_on(&table, &endpoint, &[]);
    let url = &without.url;
    let recovered = bootstrap(&peppered);
    assert!(recovered.status.success());
    let key = String::from_utf8(recovered.stdout)
        .unwrap()
        .trim()
        .to_owned();
    assert_eq!(
        request("GET", &format!("{url}/v1/api-keys"), Some(&key), None).status,
        403,
        "a peppered key does not verify without the pepper"
    );
    without.stop();
    let with_pepper = serve_on(&table, &endpoint, &peppered);
    let url = &with_pepper.url;
    let listed = request("GET", &format!("{url}/v1/api-keys"), Some(&key), None);
    assert_eq!(listed.status, 200, "recovered");
    assert_eq!(listed.body["data"][0]["scopes"], serde_json::json!(["*"]));
    let events = request("GET", &format!("{url}/v1/audit-events"), Some(&key), None);
    let actions: Vec<&str> = events.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["bootstrap", "delete", "bootstrap"]);
    with_pepper.stop();

    // A secret that cannot be read stops the process; it never runs unpeppered.
    let missing = format!("{secret}-gone");
    let out = bootstrap(&[
        ("KEYGATE_PEPPER_SECRET_ID", missing.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("KEYGATE_PEPPER_SECRET_ID"), "{stderr}");
    assert!(out.stdout.is_empty(), "no key was minted");
}

/// `table upgrade` on tables already up to date says so and changes nothing.
#[test]
fn table_upgrade_reports_what_it_did() {
    let (table, endpoint) = table_created("keygate-upgrade");
    let out = keygate_on(&table, &endpoint, &["bootstrap", "--org", "acme"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out = keygate_on(&table, &endpoint, &["table", "upgrade"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        said.trim(),
        "keygate: 0 keys made findable (1 were already), 1 organizations counted"
    );
}
