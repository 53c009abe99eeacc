//! No key or secret ever reaches a log line: every log line of create,
//! authorize, suspend, revoke, failed calls and denials, captured at TRACE.

use std::io::Write;
use std::sync::{Arc, Mutex};

use keygate_tests::Harness;
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
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .json()
        .with_writer(move || writer.clone())
        .init();

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
    h.act(&root, id, "revoke", Some(r#"{"reason":"test"}"#))
        .await;
    assert!(!h.authorize(&key, "GET /v1/runs").await);
    h.call("POST", "/v1/api-keys", Some(&key), Some("{}")).await;

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("key created"), "logging was captured: {logs}");
    assert!(logs.contains("deny"));
    for full in [&root, &key] {
        let secret = &keygate_tests::secret_of(full);
        assert!(!logs.contains(full.as_str()), "a full key is in the logs");
        for i in 0..=secret.len() - 12 {
            assert!(
                !logs.contains(&secret[i..i + 12]),
                "part of a secret is in the logs"
            );
        }
    }
}
