//! Test support shared by keygate's cross-crate tests: a harness that drives
//! requests through the local API Gateway stand-in, fixtures from
//! `infra/events/`, a movable clock, a store that counts its calls, and the
//! DynamoDB (moto) connection.

use std::path::PathBuf;
use std::sync::Arc;

pub use operation_log::{Call, OperationLog};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};

use http::{HeaderMap, HeaderValue, Method, Uri};
use keygate::app::App;
use keygate::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use keygate::domain::audit::{AuditEvent, EventFilter};
use keygate::domain::change::Change;
use keygate::domain::id::EventId;
use keygate::domain::id::KeyId;
use keygate::domain::key::KeyFormat;
use keygate::domain::org::OrgId;
use keygate::domain::record::{KeyRecord, StatusFilter};
use keygate::domain::time::{Clock, Timestamp};
use keygate::lambda_http::Body;
use keygate::runtime::gateway;
use keygate::runtime::gateway::Incoming;
use keygate::store::dynamodb::{Tables, client_config};
use keygate::store::{DynamoDbStore, EmbeddedStore, Page, Store, StoreError};
use serde_json::Value;

pub mod contract;
pub mod operation_log;
pub mod rie;
pub mod runtime_api;
pub mod scenarios;

/// A clock the test moves by hand. Starts at the real time.
#[derive(Debug)]
pub struct TestClock(AtomicI64);

impl TestClock {
    pub fn new() -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(Timestamp::now().unix())))
    }

    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.0.load(Ordering::SeqCst))
    }
}

/// An HTTP answer, with the body parsed as JSON (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    pub fn error_message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }

    /// Asserts the documented error shape and returns the code.
    pub fn assert_error(&self, status: u16) -> &str {
        assert_eq!(self.status, status, "unexpected answer: {:#}", self.body);
        let error = &self.body["error"];
        assert!(
            error["code"].is_string(),
            "no error.code in {:#}",
            self.body
        );
        assert!(
            error["message"].is_string(),
            "no error.message in {:#}",
            self.body
        );
        assert!(
            error["request_id"].is_string(),
            "no error.request_id in {:#}",
            self.body
        );
        self.error_code()
    }
}

/// The keygate API with a store, driven like API Gateway would drive it.
pub struct Harness<S: Store> {
    pub app: App<S>,
    pub clock: Arc<TestClock>,
}

impl Harness<EmbeddedStore> {
    pub fn embedded() -> Self {
        Self::new(EmbeddedStore::in_memory().expect("in-memory store"))
    }
}

impl<S: Store> Harness<S> {
    pub fn new(store: S) -> Self {
        let clock = TestClock::new();
        let app = App::new(store, KeyFormat::default()).with_clock(clock.clone());
        Self { app, clock }
    }

    pub fn store(&self) -> &S {
        &self.app.store
    }

    /// A full-access key for `org`, minted straight into the store.
    pub async fn root_key(&self, org: &str) -> String {
        let org = OrgId::new(org).expect("valid org");
        let (_, key) = self.app.mint_root_key(&org, "root").await.expect("mint");
        key.expose().to_owned()
    }

    /// One request through route matching, the authorizer and the handler.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Reply {
        let mut headers = HeaderMap::new();
        if let Some(key) = key {
            headers.insert("x-api-key", HeaderValue::from_str(key).expect("header"));
        }
        if body.is_some() {
            headers.insert("content-type", HeaderValue::from_static("application/json"));
        }
        headers.insert("user-agent", HeaderValue::from_static("keygate-tests/1"));
        let incoming = Incoming {
            method: Method::from_bytes(method.as_bytes()).expect("method"),
            uri: path.parse::<Uri>().expect("uri"),
            headers,
            body: body.unwrap_or_default().as_bytes().to_vec(),
            source_ip: Some("203.0.113.9".to_owned()),
        };
        let response = gateway::dispatch(&self.app, incoming).await;
        let (parts, body) = response.into_parts();
        let body = match body {
            Body::Text(t) => serde_json::from_str(&t).unwrap_or(Value::String(t)),
            Body::Binary(b) => serde_json::from_slice(&b).unwrap_or(Value::Null),
            _ => Value::Null,
        };
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    /// `POST /v1/api-keys/{id}/{verb}` (suspend, reactivate or revoke) as `key`.
    pub async fn act(&self, key: &str, id: &str, verb: &str, body: Option<&str>) -> Reply {
        self.call(
            "POST",
            &format!("/v1/api-keys/{id}/{verb}"),
            Some(key),
            body,
        )
        .await
    }

    /// Create a key with `key` and return (full key, record JSON); asserts 201.
    pub async fn create(&self, key: &str, body: Value) -> (String, Value) {
        let reply = self
            .call("POST", "/v1/api-keys", Some(key), Some(&body.to_string()))
            .await;
        assert_eq!(reply.status, 201, "create failed: {:#}", reply.body);
        let full = reply.body["key"]
            .as_str()
            .expect("key in create answer")
            .to_owned();
        (full, reply.body)
    }

    /// A service key with the given scopes.
    pub async fn create_scoped(&self, key: &str, scopes: &[&str]) -> (String, Value) {
        self.create(
            key,
            serde_json::json!({"name": "scoped", "key_type": "service", "permissions": scopes}),
        )
        .await
    }

    /// Whether the authorizer lets `key` through on `route_key`, using the
    /// API Gateway fixture event.
    pub async fn authorize(&self, key: &str, route_key: &str) -> bool {
        let event = authorizer_event(key, route_key);
        keygate::http::authorizer::authorize(&self.app, &event)
            .await
            .is_authorized
    }

    /// Every record of `org` read straight from the store, for "nothing changed"
    /// checks. `last_used_at` is blanked: the authorizer writes it on every use.
    pub async fn snapshot(&self, org: &str) -> Vec<KeyRecord> {
        let org = OrgId::new(org).expect("org");
        let mut all = vec![];
        let mut after = None;
        loop {
            let page = self
                .app
                .store
                .list(&org, StatusFilter::All, 100, after)
                .await
                .expect("list");
            let next = page.next_after().map(|r| r.id);
            all.extend(page.items.into_iter().map(|mut r| {
                r.last_used_at = None;
                r
            }));
            match next {
                Some(id) => after = Some(id),
                None => return all,
            }
        }
    }

    /// Every audit event of `org`, newest first, read straight from the store.
    pub async fn events(&self, org: &str) -> Vec<AuditEvent> {
        self.events_of(org, EventFilter::default()).await
    }

    /// The audit events of `org` matching `filter`, newest first.
    pub async fn events_of(&self, org: &str, filter: EventFilter) -> Vec<AuditEvent> {
        all_events(&self.app.store, &OrgId::new(org).expect("org"), filter).await
    }

    /// The clock's time now.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// `infra/events/<name>.json`.
pub fn fixture(name: &str) -> String {
    let path = repo_root()
        .join("infra/events")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The key `infra/events/authorizer.json` sends, which every management
/// fixture acts on (see [`contract::seed_fixture_key`]).
pub fn fixture_key() -> String {
    let event: serde_json::Value =
        serde_json::from_str(&fixture("authorizer")).expect("the authorizer fixture");
    event["headers"]["x-api-key"]
        .as_str()
        .expect("its X-API-Key")
        .to_owned()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The authorizer fixture with another key and route.
pub fn authorizer_event(key: &str, route_key: &str) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut event: ApiGatewayV2CustomAuthorizerV2Request =
        serde_json::from_str(&fixture("authorizer")).expect("authorizer fixture parses");
    event.route_key = Some(route_key.to_owned());
    event.request_context.route_key = Some(route_key.to_owned());
    event
        .headers
        .insert("x-api-key", HeaderValue::from_str(key).expect("header"));
    event.identity_source = Some(vec![key.to_owned()]);
    event
}

/// The id part of a full key.
pub fn id_of(full_key: &str) -> String {
    KeyFormat::default()
        .parse(full_key)
        .expect("well-formed key")
        .id
        .to_string()
}

/// The secret part of a full key.
pub fn secret_of(full_key: &str) -> String {
    KeyFormat::default()
        .parse(full_key)
        .expect("well-formed key")
        .secret()
        .to_owned()
}

/// A store wrapper that counts calls, to prove which paths touch the store.
pub struct CountingStore<S> {
    pub inner: S,
    pub gets: AtomicUsize,
    pub commits: AtomicUsize,
    pub calls: AtomicUsize,
}

impl<S> CountingStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            gets: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
        }
    }

    pub fn total(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S: Store> Store for CountingStore<S> {
    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.tick();
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        self.tick();
        self.inner.list(org, filter, limit, after).await
    }
    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        self.tick();
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.inner.commit(change).await
    }
    async fn list_events(
        &self,
        org: &OrgId,
        filter: EventFilter,
        limit: usize,
        after: Option<EventId>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        self.tick();
        self.inner.list_events(org, filter, limit, after).await
    }
    async fn record_use(
        &self,
        id: KeyId,
        at: Timestamp,
        unless_after: Timestamp,
    ) -> Result<bool, StoreError> {
        self.tick();
        self.inner.record_use(id, at, unless_after).await
    }
    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.tick();
        self.inner.is_empty().await
    }
}

/// A store whose first read of one key returns a stale copy of it, as if the
/// key had changed between a handler's read and its write: races made
/// deterministic.
pub struct StaleReadStore<S> {
    pub inner: S,
    stale: std::sync::Mutex<Option<KeyRecord>>,
    /// The key whose read triggers the change, how many of its reads pass
    /// first, and the change.
    meanwhile: std::sync::Mutex<Option<(KeyId, usize, Change)>>,
    pub served: std::sync::atomic::AtomicBool,
}

impl<S> StaleReadStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            stale: std::sync::Mutex::new(None),
            meanwhile: std::sync::Mutex::new(None),
            served: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The next read of `stale.id` returns `stale`, once.
    pub fn serve_once(&self, stale: KeyRecord) {
        *self.stale.lock().expect("lock") = Some(stale);
    }

    /// Just before the next read of `id`, `change` is committed, once: as
    /// if another request made it while this one ran.
    pub fn meanwhile(&self, id: KeyId, change: Change) {
        self.meanwhile_after_reads(id, 0, change);
    }

    /// As [`Self::meanwhile`], but `reads` reads of `id` pass first: with 1,
    /// a key's change lands after the authorizer read it and before its
    /// request's handler does.
    pub fn meanwhile_after_reads(&self, id: KeyId, reads: usize, change: Change) {
        *self.meanwhile.lock().expect("lock") = Some((id, reads, change));
    }
}

impl<S: Store> Store for StaleReadStore<S> {
    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let meanwhile = {
            let mut slot = self.meanwhile.lock().expect("lock");
            match slot.as_mut() {
                Some((at, 0, _)) if *at == id => slot.take(),
                Some((at, reads, _)) if *at == id => {
                    *reads -= 1;
                    None
                }
                _ => None,
            }
        };
        if let Some((_, _, change)) = meanwhile {
            self.inner.commit(&change).await?;
            self.served.store(true, Ordering::SeqCst);
        }
        let stale = {
            let mut slot = self.stale.lock().expect("lock");
            match slot.as_ref() {
                Some(r) if r.id == id => slot.take(),
                _ => None,
            }
        };
        if let Some(stale) = stale {
            self.served.store(true, Ordering::SeqCst);
            return Ok(Some(stale));
        }
        self.inner.get(id).await
    }
    async fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        self.inner.list(org, filter, limit, after).await
    }
    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        self.inner.commit(change).await
    }
    async fn list_events(
        &self,
        org: &OrgId,
        filter: EventFilter,
        limit: usize,
        after: Option<EventId>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        self.inner.list_events(org, filter, limit, after).await
    }
    async fn record_use(
        &self,
        id: KeyId,
        at: Timestamp,
        unless_after: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.record_use(id, at, unless_after).await
    }
    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.inner.is_empty().await
    }
}

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

/// Every audit event of `org` in `store` matching `filter`, newest first,
/// page after page.
pub async fn all_events<S: Store>(store: &S, org: &OrgId, filter: EventFilter) -> Vec<AuditEvent> {
    let mut all = vec![];
    let mut after: Option<EventId> = None;
    loop {
        let page = store
            .list_events(org, filter, 100, after)
            .await
            .expect("list events");
        let next = page.next_after().map(|e| e.id);
        all.extend(page.items);
        match next {
            Some(id) => after = Some(id),
            None => return all,
        }
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
/// `tests/tests/faults.rs`.
pub fn moto_timeouts() -> keygate::store::dynamodb::Timeouts {
    keygate::store::dynamodb::Timeouts {
        connect: std::time::Duration::from_secs(5),
        attempt: std::time::Duration::from_secs(20),
        operation: std::time::Duration::from_secs(30),
        max_attempts: 3,
    }
}

/// A plain client of the test DynamoDB endpoint, for reading raw items.
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

/// Length of the windows [`assert_no_secret`] looks for.
pub const SECRET_WINDOW: usize = 12;

/// Fails if any [`SECRET_WINDOW`]-character window of the secret of any of
/// `keys` appears in `haystack` (logs, an error body, a file's bytes). The
/// one check every secret-leak test uses, so none looks at a slice only.
#[track_caller]
pub fn assert_no_secret(haystack: &[u8], keys: &[&str], what: &str) {
    for key in keys {
        let secret = secret_of(key);
        for (i, window) in secret.as_bytes().windows(SECRET_WINDOW).enumerate() {
            assert!(
                !haystack.windows(SECRET_WINDOW).any(|w| w == window),
                "{what}: characters {i}..{} of a key's secret appear in it",
                i + SECRET_WINDOW
            );
        }
    }
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
