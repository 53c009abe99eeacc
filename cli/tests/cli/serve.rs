//! `keygate serve` end to end over real HTTP: the built binary, a temp data
//! directory, the printed first key, the whole lifecycle, then a restart.

use crate::common::{KEYGATE, Server, request};
use serde_json::json;

#[test]
fn lifecycle_over_http_and_data_survives_a_restart() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().expect("first start prints a key");
    let base = format!("{}/v1/api-keys", server.url);

    let created = request(
        "POST",
        &base,
        Some(&root),
        Some(r#"{"name":"e2e","key_type":"service","permissions":["runs:read"]}"#),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let key = created.body["key"].as_str().unwrap().to_owned();
    let id = created.body["id"].as_str().unwrap().to_owned();
    let item = format!("{base}/{id}");
    let runs = format!("{}/v1/runs", server.url);

    let listed = request("GET", &format!("{base}?status=active"), Some(&root), None);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["data"][0]["id"], id, "newest first");
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 2);

    // The new key passes the authorizer on its route (no backend: 404 from the gateway),
    // and is denied where it lacks the scope.
    assert_eq!(request("GET", &runs, Some(&key), None).status, 404);
    assert_eq!(request("GET", &base, Some(&key), None).status, 403);

    assert_eq!(
        request("POST", &format!("{item}/suspend"), Some(&root), None).body["status"],
        "suspended"
    );
    let denied = request("GET", &runs, Some(&key), None);
    assert_eq!(
        (denied.status, denied.body),
        (403, json!({"message": "Forbidden"}))
    );
    assert_eq!(
        request("POST", &format!("{item}/reactivate"), Some(&root), None).body["status"],
        "active"
    );
    assert_eq!(request("GET", &runs, Some(&key), None).status, 404);
    let revoked = request(
        "POST",
        &format!("{item}/revoke"),
        Some(&root),
        Some(r#"{"reason":"e2e"}"#),
    );
    assert_eq!(revoked.body["status"], "revoked");
    assert_eq!(request("GET", &runs, Some(&key), None).status, 403);
    let conflict = request("POST", &format!("{item}/reactivate"), Some(&root), None);
    assert_eq!(conflict.status, 409);
    assert_eq!(conflict.body["error"]["code"], "invalid_transition");

    let unauthorized = request("GET", &base, None, None);
    assert_eq!(
        (unauthorized.status, unauthorized.body),
        (401, json!({"message": "Unauthorized"}))
    );
    // As API Gateway: route and identity before the body. A 2 MB body to an
    // unknown route is a 404 and to a known route without a key a 401, not a
    // 413; with a key, the body is read and refused as too large.
    let huge = "x".repeat(2 * 1024 * 1024);
    let unknown = request(
        "POST",
        &format!("{}/v1/nowhere", server.url),
        Some(&root),
        Some(&huge),
    );
    assert_eq!(
        (unknown.status, unknown.body),
        (404, json!({"message": "Not Found"}))
    );
    let keyless = request("POST", &base, None, Some(&huge));
    assert_eq!(
        (keyless.status, keyless.body),
        (401, json!({"message": "Unauthorized"}))
    );
    let too_large = request("POST", &base, Some(&root), Some(&huge));
    assert_eq!(too_large.status, 413);
    assert_eq!(too_large.body["error"]["code"], "payload_too_large");
    let missing = request("GET", &format!("{}/nowhere", server.url), Some(&root), None);
    assert_eq!(
        (missing.status, missing.body),
        (404, json!({"message": "Not Found"}))
    );

    // A second process cannot open the store while the server holds it.
    let locked = std::process::Command::new(KEYGATE)
        .args(["bootstrap", "--org", "other", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!locked.status.success());
    let stderr = String::from_utf8_lossy(&locked.stderr);
    assert!(stderr.contains("in use"), "{stderr}");
    assert!(locked.stdout.is_empty());

    // A second key to delete after the restart.
    let doomed = request(
        "POST",
        &base,
        Some(&root),
        Some(r#"{"name":"doomed","key_type":"service"}"#),
    );
    let doomed_id = doomed.body["id"].as_str().unwrap().to_owned();
    server.stop();

    let server = Server::start(data.path());
    assert_eq!(
        server.first_key, None,
        "no new key on a store that has keys"
    );
    let base = format!("{}/v1/api-keys", server.url);
    let got = request("GET", &format!("{base}/{id}"), Some(&root), None);
    assert_eq!(got.status, 200, "the root key and the revoked key survived");
    assert_eq!(got.body["status"], "revoked");
    assert_eq!(got.body["revoked_reason"], "e2e");
    assert_eq!(
        request("DELETE", &format!("{base}/{doomed_id}"), Some(&root), None).status,
        204
    );
    assert_eq!(
        request("GET", &format!("{base}/{doomed_id}"), Some(&root), None).status,
        404
    );
    let all = request("GET", &base, Some(&root), None);
    assert_eq!(all.body["data"].as_array().unwrap().len(), 2);
    server.stop();

    // With the server stopped, bootstrap mints a key for a new org and prints only it.
    let minted = std::process::Command::new(KEYGATE)
        .args(["bootstrap", "--org", "second-org", "--data"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let stdout = String::from_utf8(minted.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "only the key: {stdout}");
    assert!(lines[0].starts_with("kg_"));
    let server = Server::start(data.path());
    let theirs = request(
        "GET",
        &format!("{}/v1/api-keys", server.url),
        Some(lines[0]),
        None,
    );
    assert_eq!(theirs.status, 200);
    assert_eq!(
        theirs.body["data"].as_array().unwrap().len(),
        1,
        "a new org sees only its own key"
    );
    assert_eq!(theirs.body["data"][0]["org_id"], "second-org");
    let other_org = request(
        "GET",
        &format!("{}/v1/api-keys/{id}", server.url),
        Some(lines[0]),
        None,
    );
    assert_eq!(other_org.status, 404, "another org's key is a 404");
    server.stop();
}

/// An organization whose only full-access key is gone is recovered
/// with `keygate bootstrap --org` by whoever can write the store.
#[test]
fn bootstrap_recovers_a_locked_out_organization() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let me = format!("{}/v1/api-keys/{}", server.url, keygate_tests::id_of(&root));
    assert_eq!(request("DELETE", &me, Some(&root), None).status, 204);
    let locked = request(
        "GET",
        &format!("{}/v1/api-keys", server.url),
        Some(&root),
        None,
    );
    assert_eq!(locked.status, 403, "locked out");
    server.stop();

    let minted = std::process::Command::new(KEYGATE)
        .args([
            "bootstrap",
            "--org",
            "default",
            "--name",
            "recovered",
            "--data",
        ])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(
        minted.status.success(),
        "{}",
        String::from_utf8_lossy(&minted.stderr)
    );
    let key = String::from_utf8(minted.stdout).unwrap().trim().to_owned();
    let server = Server::start(data.path());
    assert_eq!(server.first_key, None);
    let listed = request(
        "GET",
        &format!("{}/v1/api-keys", server.url),
        Some(&key),
        None,
    );
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["data"][0]["name"], "recovered");
    assert_eq!(listed.body["data"][0]["scopes"], json!(["*"]));
    let events = request(
        "GET",
        &format!("{}/v1/audit-events", server.url),
        Some(&key),
        None,
    );
    assert_eq!(events.body["data"][0]["action"], "bootstrap");
    assert_eq!(events.body["data"][0]["actor_type"], "bootstrap");
    assert_eq!(
        events.body["data"][1]["action"], "delete",
        "the old key's history stays"
    );
    server.stop();
}

/// `keygate serve` on a port another process holds: it fails, saying so,
/// before minting anything, so a later start still prints the first key.
#[test]
fn serve_listens_before_it_mints_the_first_key() {
    let data = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut child = std::process::Command::new(KEYGATE)
        .args(["serve", "--port", &port, "--data"])
        .arg(data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("keygate serve kept running on a port in use");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")) && stderr.contains("--port"),
        "{stderr}"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("kg_") && !stdout.contains("shown only this once"),
        "no key was printed: {stdout}"
    );
    drop(taken);

    let server = Server::start(data.path());
    assert!(
        server.first_key.is_some(),
        "the first successful start prints the first key"
    );
    server.stop();
}
