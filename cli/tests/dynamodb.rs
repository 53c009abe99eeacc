//! The `keygate` command on DynamoDB (moto, started by `infra/test.sh`):
//! `table create`, `bootstrap --table` and `serve --table`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::{KEYGATE, request};

/// `keygate <args> --table T --dynamodb-endpoint E` with dummy AWS credentials.
fn keygate_on(table: &str, endpoint: &str, args: &[&str]) -> Command {
    let mut command = Command::new(KEYGATE);
    command
        .args(args)
        .args(["--table", table, "--dynamodb-endpoint", endpoint])
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    command
}

#[test]
fn table_create_bootstrap_and_serve_on_dynamodb() {
    let endpoint = keygate_tests::dynamodb_endpoint();
    let table = format!("keygate-cli-{}", std::process::id());
    let out = keygate_on(&table, &endpoint, &["table", "create"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
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

    let mut server = keygate_on(&table, &endpoint, &["serve", "--port", "0"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("serve exited").unwrap();
        assert!(
            !line.starts_with("kg_"),
            "the table has keys: no first key is minted"
        );
        if let Some(url) = line.strip_prefix("keygate: listening on ") {
            break url.to_owned();
        }
    };
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
    let _ = server.kill();
    let _ = server.wait();
}
