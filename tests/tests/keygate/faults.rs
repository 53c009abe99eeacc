//! What a user sees when DynamoDB is throttling, slow or down. A
//! stub DynamoDB endpoint answers `ThrottlingException`,
//! `ProvisionedThroughputExceededException`, a cancelled transaction, or
//! nothing at all; the API must answer 503 with `Retry-After` within the
//! operation timeout, and the authorizer must deny.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use keygate::domain::routes::Operation;
use keygate::lambda_http::request::from_str;
use keygate::store::DynamoDbStore;
use keygate::store::dynamodb::{Tables, Timeouts};
use keygate_tests::runtime_api::spawn_http_server;
use keygate_tests::{Harness, authorizer_event, fixture};
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// How the stub answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Throttling,
    ProvisionedThroughput,
    /// Never answers.
    Hang,
    /// Reads work (the fixture's key); every transaction is cancelled
    /// because its audit event's write was throttled.
    EventWriteThrottled,
}

const TIMEOUTS: Timeouts = Timeouts {
    connect: Duration::from_millis(200),
    attempt: Duration::from_millis(300),
    operation: Duration::from_millis(900),
    max_attempts: 3,
};

/// A bound no answer may exceed: the operation timeout plus scheduling slack.
fn bound() -> Duration {
    TIMEOUTS.operation + Duration::from_millis(700)
}

fn error(kind: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({
        "__type": format!("com.amazonaws.dynamodb.v20120810#{kind}"),
        "message": "stub DynamoDB fault",
    });
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    (400, body)
}

/// The fixture's key (`infra/events/*.json` act on it), as
/// DynamoDB would return the item.
fn fixture_item() -> Value {
    let id = "0354eiuPHXWwV73zzxesBl";
    json!({
        "id": {"S": id}, "org_id": {"S": "acme"}, "org_status": {"S": "acme#active"},
        "name": {"S": "fixture"}, "key_type": {"S": "service"},
        "scopes": {"L": [{"S": "*"}]}, "status": {"S": "active"}, "hint": {"S": "kg_...QoC6"},
        "secret_hash": {"B": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
        "created_at": {"N": "1795752308"}, "updated_at": {"N": "1795752308"}, "version": {"N": "1"}
    })
}

/// Start the stub; returns its URL and a count of the requests it saw.
async fn stub(fault: Fault) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = seen.clone();
    spawn_http_server(
        listener,
        move |req: hyper::Request<hyper::body::Incoming>| {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                let target = req
                    .headers()
                    .get("x-amz-target")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|t| t.rsplit('.').next())
                    .unwrap_or_default()
                    .to_owned();
                let sent: Value = req
                    .into_body()
                    .collect()
                    .await
                    .ok()
                    .and_then(|b| serde_json::from_slice(&b.to_bytes()).ok())
                    .unwrap_or_default();
                // The audit chain's head is read by its organization's key.
                let reads_head = sent["Key"]["org_id"].is_object();
                let (status, body) = match (fault, target.as_str()) {
                    (Fault::Hang, _) => {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        (500, json!({}))
                    }
                    (Fault::Throttling, _) => error("ThrottlingException", json!({})),
                    (Fault::ProvisionedThroughput, _) => {
                        error("ProvisionedThroughputExceededException", json!({}))
                    }
                    (Fault::EventWriteThrottled, "GetItem") if reads_head => (200, json!({})),
                    (Fault::EventWriteThrottled, "GetItem") => {
                        (200, json!({"Item": fixture_item()}))
                    }
                    (Fault::EventWriteThrottled, "TransactWriteItems") => error(
                        "TransactionCanceledException",
                        json!({"CancellationReasons": [
                            {"Code": "None"},
                            {"Code": "ThrottlingError", "Message": "throughput exceeded"}
                        ]}),
                    ),
                    (Fault::EventWriteThrottled, _) => (200, json!({})),
                };
                hyper::Response::builder()
                    .status(status)
                    .header("content-type", "application/x-amz-json-1.0")
                    .body(Full::new(Bytes::from(body.to_string())))
                    .unwrap()
            }
        },
    );
    (url, seen)
}

async fn store_at(url: &str) -> DynamoDbStore {
    store_with(url, TIMEOUTS).await
}

async fn store_with(url: &str, timeouts: Timeouts) -> DynamoDbStore {
    keygate_tests::set_dummy_aws_env();
    let client = keygate::store::dynamodb::client(Some(url), timeouts).await;
    DynamoDbStore::new(client, &Tables::named("keygate-stub"))
}

/// Every management call answers 503 + Retry-After in time; the authorizer
/// denies in time.
async fn unavailable_everywhere(fault: Fault) {
    let (url, seen) = stub(fault).await;
    // One attempt: the store's own answer (not the SDK's retries running
    // into the operation timeout) must be what becomes the 503.
    let timeouts = match fault {
        Fault::Hang => TIMEOUTS,
        _ => Timeouts {
            max_attempts: 1,
            ..TIMEOUTS
        },
    };
    let h = Harness::new(store_with(&url, timeouts).await);
    let key = keygate::domain::key::KeyFormat::default().generate();

    let started = Instant::now();
    let decision = keygate::http::authorizer::authorize(
        &h.app,
        &authorizer_event(key.key.expose(), "GET /v1/runs"),
    )
    .await;
    assert!(!decision.is_authorized, "{fault:?}: fail closed");
    assert!(
        started.elapsed() < bound(),
        "{fault:?}: {:?}",
        started.elapsed()
    );

    for op in [
        Operation::CreateKey,
        Operation::ListKeys,
        Operation::GetKey,
        Operation::SuspendKey,
        Operation::RotateKey,
        Operation::DeleteKey,
        Operation::ListAuditEvents,
    ] {
        let request = from_str(&fixture(op.function_name())).unwrap();
        let started = Instant::now();
        let response = keygate::http::handle(&h.app, op, request).await;
        let took = started.elapsed();
        assert_eq!(response.status(), 503, "{fault:?} {}", op.function_name());
        let retry_after: u64 = response.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(retry_after >= 1);
        let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["error"]["code"], "service_unavailable");
        assert!(body["error"]["request_id"].is_string());
        assert!(
            took < bound(),
            "{fault:?} {}: answered after {took:?}, past the operation timeout",
            op.function_name()
        );
    }
    assert!(seen.load(Ordering::SeqCst) > 0, "the stub was asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_is_a_503_with_retry_after_and_a_deny() {
    unavailable_everywhere(Fault::Throttling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exceeded_throughput_is_a_503_with_retry_after_and_a_deny() {
    unavailable_everywhere(Fault::ProvisionedThroughput).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_store_is_a_503_within_the_operation_timeout() {
    unavailable_everywhere(Fault::Hang).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_is_down_denies_and_answers_503() {
    let h = Harness::new(store_at(&keygate_tests::unused_endpoint()).await);
    let key = keygate::domain::key::KeyFormat::default().generate();
    let decision = keygate::http::authorizer::authorize(
        &h.app,
        &authorizer_event(key.key.expose(), "GET /v1/runs"),
    )
    .await;
    assert!(!decision.is_authorized);
    let request = from_str(&fixture("create-key")).unwrap();
    let response = keygate::http::handle(&h.app, Operation::CreateKey, request).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().get("retry-after").is_some());
}

/// If the audit event cannot be written, the change does not
/// happen, and the caller is told to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_event_cannot_be_written_is_a_503() {
    let (url, _) = stub(Fault::EventWriteThrottled).await;
    let h = Harness::new(store_at(&url).await);
    for op in [
        Operation::SuspendKey,
        Operation::RevokeKey,
        Operation::RotateKey,
        Operation::DeleteKey,
        Operation::CreateKey,
    ] {
        let request = from_str(&fixture(op.function_name())).unwrap();
        let response = keygate::http::handle(&h.app, op, request).await;
        assert_eq!(response.status(), 503, "{}", op.function_name());
        assert!(response.headers().get("retry-after").is_some());
    }
}
