//! No key or secret ever reaches a log line: every log line of create,
//! authorize, suspend, rotate, revoke, failed calls and denials, captured at
//! TRACE, checked with the one secret-window check.

use std::io::Write;
use std::sync::{Arc, Mutex};

use keygate_tests::{Harness, assert_no_secret};
use serde_json::json;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_in_logs() {
    let captured = Captured::default();
    let writer = captured.clone();
    // The subscriber of this test's thread, not the process's: every test of
    // this binary runs in one process, and a global subscriber would capture
    // (and slow) them all. The runtime is single-threaded, so the requests
    // below log on this thread (the embedded store's writes run on blocking
    // threads, and log nothing).
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .json()
        .with_writer(move || writer.clone())
        .finish();
    let _logging = tracing::subscriber::set_default(subscriber);

    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (key, record) = h
        .create(
            &root,
            json!({"name": "logged", "key_type": "service", "permissions": ["runs:read"]}),
        )
        .await;
    let id = record["id"].as_str().unwrap();
    assert!(h.authorize(&key, "GET /v1/runs").await);
    assert!(!h.authorize(&key, "POST /v1/runs").await);
    let mut wrong = key.clone().into_bytes();
    wrong[40] = if wrong[40] == b'x' { b'y' } else { b'x' };
    assert!(
        !h.authorize(&String::from_utf8(wrong).unwrap(), "GET /v1/runs")
            .await
    );
    h.act(&root, id, "suspend", None).await;
    h.act(&root, id, "reactivate", None).await;
    let rotated = h.act(&root, id, "rotate", Some("{}")).await;
    let successor = rotated.body["key"].as_str().unwrap().to_owned();
    let successor_id = rotated.body["id"].as_str().unwrap().to_owned();
    h.act(&root, &successor_id, "revoke", Some(r#"{"reason":"test"}"#))
        .await;
    assert!(!h.authorize(&key, "GET /v1/runs").await);
    h.call("POST", "/v1/api-keys", Some(&key), Some("{}")).await;
    // A key pasted into every field of a request, and into the path.
    let pasted = format!(r#"{{"name":"{root}","key_type":"{root}","permissions":["{root}"]}}"#);
    h.call("POST", "/v1/api-keys", Some(&root), Some(&pasted))
        .await;
    h.call("GET", &format!("/v1/api-keys/{root}"), Some(&root), None)
        .await;

    let logs = captured.0.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&logs);
    assert!(
        text.contains("\"operation\":\"create-key\"") && text.contains("\"status\":201"),
        "logging was captured: {text}"
    );
    assert!(text.contains("deny"));
    assert!(text.contains("TRACE") || text.contains("DEBUG"));
    assert_no_secret(&logs, &[&root, &key, &successor], "the logs");
}
