//! The AWS endpoint the tests talk to: moto's DynamoDB and Secrets Manager
//! API (started by `infra/test.sh`), the dummy settings every process gets,
//! and an endpoint where nothing listens.

use std::sync::atomic::{AtomicUsize, Ordering};

use keygate::domain::id::KeyId;
use keygate::store::DynamoDbStore;
use keygate::store::dynamodb::{Tables, client_config};

use crate::OperationLog;

/// The DynamoDB-API endpoint the test command started (moto's server).
pub const ENV_DYNAMODB_ENDPOINT: &str = "KEYGATE_TEST_DYNAMODB_ENDPOINT";

pub fn dynamodb_endpoint() -> String {
    std::env::var(ENV_DYNAMODB_ENDPOINT).unwrap_or_else(|_| {
        panic!(
            "{ENV_DYNAMODB_ENDPOINT} is not set. The DynamoDB tests need a DynamoDB-API server: \
             run them with `infra/test.sh`, which installs and starts moto, or start one and set \
             {ENV_DYNAMODB_ENDPOINT}=http://127.0.0.1:PORT"
        )
    })
}

/// Dummy credentials and region for moto, and no metadata-service probing:
/// for this process ([`set_dummy_aws_env`]) and every process a test starts.
pub const DUMMY_AWS_ENV: [(&str, &str); 4] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

/// [`DUMMY_AWS_ENV`] in this process.
pub fn set_dummy_aws_env() {
    for (name, value) in DUMMY_AWS_ENV {
        // SAFETY (edition 2024): set before any client is built; every test sets the same values.
        unsafe { std::env::set_var(name, value) };
    }
}

/// `http://127.0.0.1:PORT` where nothing listens (the port was free a
/// moment ago): a store that is down.
pub fn unused_endpoint() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port");
    format!("http://127.0.0.1:{port}")
}

static TABLE_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Timeouts for moto: it is Python, serves one request at a time (see
/// `infra/moto_server.py`) to every test running in parallel, and copies a
/// table for each transaction, so a call can wait far longer than on
/// DynamoDB. The production defaults are tested against a stub in
/// `tests/tests/keygate/faults.rs`.
pub fn moto_timeouts() -> keygate::store::dynamodb::Timeouts {
    keygate::store::dynamodb::Timeouts {
        connect: std::time::Duration::from_secs(5),
        attempt: std::time::Duration::from_secs(20),
        operation: std::time::Duration::from_secs(30),
        max_attempts: 3,
    }
}

/// A plain client of the test DynamoDB endpoint, for reading raw items
/// (and writing ones no store operation would: a benchmark's bulk copies).
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    set_dummy_aws_env();
    keygate::store::dynamodb::client(Some(&dynamodb_endpoint()), moto_timeouts()).await
}

/// A fresh table on the test DynamoDB endpoint, with an operation log.
pub async fn fresh_dynamodb_store() -> (DynamoDbStore, OperationLog) {
    set_dummy_aws_env();
    let log = OperationLog::default();
    let config = client_config(Some(&dynamodb_endpoint()), moto_timeouts())
        .await
        .interceptor(log.clone());
    let client = aws_sdk_dynamodb::Client::from_conf(config.build());
    let table = format!(
        "keygate-test-{}-{}-{}",
        std::process::id(),
        TABLE_COUNTER.fetch_add(1, Ordering::SeqCst),
        uuid_like()
    );
    let store = DynamoDbStore::new(client, &Tables::named(&table));
    store.create_tables().await.expect("create test tables");
    log.clear();
    (store, log)
}

fn uuid_like() -> String {
    KeyId::generate().to_string()[14..].to_owned()
}

/// Store `value` as a new secret in the test endpoint's Secrets Manager
/// (moto); returns its ARN.
pub async fn create_secret(name: &str, value: &str) -> String {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Builder, Credentials, Region};
    let config = Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(dynamodb_endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .build();
    let out = aws_sdk_secretsmanager::Client::from_conf(config)
        .create_secret()
        .name(format!("{name}-{}", uuid_like()))
        .secret_string(value)
        .send()
        .await
        .expect("create the test secret");
    out.arn().expect("the secret's ARN").to_owned()
}
