//! The keygate API driven like API Gateway would drive it, on any store,
//! with a clock the test moves by hand.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use http::{HeaderMap, HeaderValue, Method, Uri};
use keygate::app::App;
use keygate::domain::audit::{AuditEvent, EventFilter};
use keygate::domain::key::KeyFormat;
use keygate::domain::org::OrgId;
use keygate::domain::record::{KeyRecord, StatusFilter};
use keygate::domain::time::{Clock, Timestamp};
use keygate::lambda_http::Body;
use keygate::runtime::gateway;
use keygate::runtime::gateway::Incoming;
use keygate::store::{EmbeddedStore, Store};
use serde_json::Value;

use crate::{all_events, authorizer_event};

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

    /// The same, answering requests over a key's limits in `mode`.
    pub fn in_limit_mode(self, mode: keygate::app::LimitMode) -> Self {
        let policy = keygate::app::LimitPolicy {
            mode,
            ..self.app.limit_policy
        };
        Self {
            app: self.app.with_limit_policy(policy),
            ..self
        }
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
