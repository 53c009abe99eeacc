//! A store that is down or hangs: the management functions answer 503 with
//! `Retry-After`, and the authorizer denies within the Lambda timeout.

use std::path::Path;
use std::time::{Duration, Instant};

use keygate_tests::fixture_key;
use keygate_tests::rie::Rie;

use crate::common::{AUTHORIZER, authorizer_with, binary, event};

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
