//! The authorizer's decision without I/O: every `decide` case next to the
//! floor, SHA-256 of the same secret. Run with
//! `cargo bench -p keygate-shared --bench authorizer_decision`; `infra/bench/micro.sh`
//! repeats it and prints medians, spread and ratios to the floor.
//!
//! `allowed_limited` is a key with a rate limit it never reaches: the same
//! decision plus one count of its use (a write transaction on redb, a
//! locked map update on the `HashMap` store).
//!
//! The allowed, wrong-secret and missing-scope cases run on the in-memory
//! embedded (redb) store and on a `HashMap` store defined here, so the cost of
//! the store's read path can be told apart from the decision's own.

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use keygate::app::App;
use keygate::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use keygate::domain::audit::{AuditEvent, EventFilter};
use keygate::domain::change::{Change, KeyWrite, Origin};
use keygate::domain::id::EventId;
use keygate::domain::id::KeyId;
use keygate::domain::key::KeyFormat;
use keygate::domain::limits::{Admission, Counters, Limits, Planned, RateLimit, plan};
use keygate::domain::org::OrgId;
use keygate::domain::record::{KeyRecord, KeyType, StatusFilter};
use keygate::domain::scope::Permissions;
use keygate::domain::text::KeyName;
use keygate::domain::time::{Clock, Timestamp};
use keygate::http::authorizer::{Decision, DenyReason, decide};
use keygate::store::{EmbeddedStore, Page, Store, StoreError};
use tokio::runtime::Runtime;

const ALLOWED_ROUTE: &str = "GET /v1/runs/{id}";
const WRITE_ROUTE: &str = "POST /v1/runs";

/// A clock that stands still, so `last_used_at` stays fresh and the steady
/// state (no `record_use` write) is what gets measured.
struct FixedClock(Timestamp);

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        self.0
    }
}

/// The cheapest possible store: a locked `HashMap` that clones the record,
/// as any store handing out owned records must; usage counters in another.
#[derive(Default)]
struct MapStore(
    RwLock<HashMap<KeyId, KeyRecord>>,
    Mutex<HashMap<KeyId, Counters>>,
);

fn unsupported() -> StoreError {
    StoreError::Failed("not used by the authorizer benchmark".into())
}

impl Store for MapStore {
    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let map = self.0.read().map_err(|_| unsupported())?;
        Ok(map.get(&id).cloned())
    }
    async fn list(
        &self,
        _: &OrgId,
        _: StatusFilter,
        _: usize,
        _: Option<KeyId>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        Err(unsupported())
    }
    async fn search(
        &self,
        _: &OrgId,
        _: &keygate::domain::search::KeyQuery,
        _: usize,
        _: Option<&str>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        Err(unsupported())
    }
    async fn counts(
        &self,
        _: &OrgId,
    ) -> Result<Option<keygate::domain::search::KeyCounts>, StoreError> {
        Err(unsupported())
    }
    /// Inserts only: all the benchmark needs to seed a key.
    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        let mut map = self.0.write().map_err(|_| unsupported())?;
        for write in change.writes() {
            match write {
                KeyWrite::Insert(record) => {
                    map.insert(record.id, record.clone());
                }
                _ => return Err(unsupported()),
            }
        }
        Ok(())
    }
    async fn list_events(
        &self,
        _: &OrgId,
        _: EventFilter,
        _: usize,
        _: Option<EventId>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        Err(unsupported())
    }
    async fn record_use(&self, _: KeyId, _: Timestamp, _: Timestamp) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn chain_head(
        &self,
        _: &OrgId,
    ) -> Result<Option<keygate::domain::audit::chain::ChainHead>, StoreError> {
        Ok(None)
    }
    async fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(false)
    }
    async fn admit(
        &self,
        budget: KeyId,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Admission, StoreError> {
        let mut counters = self.1.lock().map_err(|_| unsupported())?;
        let seen = counters.entry(budget).or_default();
        match plan(limits, seen, now_ms) {
            Planned::Count(plan) => {
                *seen = plan.after.clone();
                Ok(Admission::Admitted(plan.after))
            }
            Planned::Exceeded(e) => Ok(Admission::Exceeded(e)),
        }
    }
    async fn counters(&self, budget: KeyId, _: &Limits) -> Result<Counters, StoreError> {
        let counters = self.1.lock().map_err(|_| unsupported())?;
        Ok(counters.get(&budget).cloned().unwrap_or_default())
    }
}

/// Poll once; the in-memory stores never suspend on the read path, so this
/// measures the decision and not an executor. Falls back to tokio otherwise.
fn run<F: Future>(rt: &Runtime, fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => rt.block_on(fut),
    }
}

/// One event per case, built once: the authorizer fixture with another key and route.
fn event(key: &str, route_key: &str) -> ApiGatewayV2CustomAuthorizerV2Request {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/events/authorizer.json"
    );
    let text = std::fs::read_to_string(fixture).expect("authorizer fixture");
    let mut event: ApiGatewayV2CustomAuthorizerV2Request =
        serde_json::from_str(&text).expect("fixture parses");
    event.route_key = Some(route_key.to_owned());
    event.request_context.route_key = Some(route_key.to_owned());
    event
        .headers
        .insert("x-api-key", key.parse().expect("header value"));
    event.identity_source = Some(vec![key.to_owned()]);
    event
}

struct Keys {
    record: KeyRecord,
    /// Another key, with a rate limit it never reaches here.
    limited: KeyRecord,
    limited_key: String,
    valid: String,
    wrong_secret: String,
    bad_checksum: String,
    secret: String,
}

fn keys(format: &KeyFormat, now: Timestamp) -> Keys {
    let new = format.generate();
    let valid = new.key.expose().to_owned();
    let secret = format.parse(&valid).expect("valid").secret().to_owned();
    // Same id, another secret, a correct checksum: reaches the hash comparison.
    let wrong_secret = format.generate_with_id(new.id).key.expose().to_owned();
    let mut bad_checksum = valid.clone();
    let last = if bad_checksum.ends_with('0') {
        "1"
    } else {
        "0"
    };
    bad_checksum.replace_range(bad_checksum.len() - 1.., last);
    let record = KeyRecord {
        last_used_at: Some(now),
        ..KeyRecord::new_active(
            &new,
            OrgId::new("acme").expect("org"),
            KeyName::new("bench").expect("name"),
            KeyType::Service,
            Permissions::from_strings(&["runs:read"]).expect("scopes"),
            now,
        )
    };
    let other = format.generate();
    let limited = KeyRecord {
        id: other.id,
        budget: other.id,
        secret_hash: other.hash,
        hint: other.hint.clone(),
        limits: Limits {
            rate: Some(RateLimit::new(1_000_000_000, 1).expect("limit")),
            quota: None,
        },
        ..record.clone()
    };
    Keys {
        record,
        limited,
        limited_key: other.key.expose().to_owned(),
        valid,
        wrong_secret,
        bad_checksum,
        secret,
    }
}

fn app<S: Store>(rt: &Runtime, store: S, records: &[&KeyRecord], now: Timestamp) -> App<S> {
    for record in records {
        let seed = Change::create((*record).clone(), &Origin::bootstrap(now));
        rt.block_on(store.commit(&seed)).expect("insert");
    }
    App::new(store, KeyFormat::default()).with_clock(Arc::new(FixedClock(now)))
}

fn bench_decide(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The embedded store counts a limited key's use on tokio's blocking pool.
    let _runtime = rt.enter();
    let format = KeyFormat::default();
    let now = Timestamp::now();
    let k = keys(&format, now);
    let embedded = app(
        &rt,
        EmbeddedStore::in_memory().expect("store"),
        &[&k.record, &k.limited],
        now,
    );
    let map = app(&rt, MapStore::default(), &[&k.record, &k.limited], now);

    let allowed = event(&k.valid, ALLOWED_ROUTE);
    let bad_checksum = event(&k.bad_checksum, ALLOWED_ROUTE);
    let malformed = event("kg_0354eiuPHXWwV73zzxesBl", ALLOWED_ROUTE);
    let wrong_secret = event(&k.wrong_secret, ALLOWED_ROUTE);
    let missing_scope = event(&k.valid, WRITE_ROUTE);
    let unknown_route = event(&k.valid, "GET /v1/unknown");
    let limited = event(&k.limited_key, ALLOWED_ROUTE);

    // Each case must decide what its name says, or its figure means nothing.
    let expect = |app: &App<_>, e, want: Option<DenyReason>| {
        let got = run(&rt, decide(app, e));
        match (want, got) {
            (None, Decision::Allow(_)) => {}
            (Some(w), Decision::Deny(g)) if w == g => {}
            (w, g) => panic!("expected {w:?}, got {g:?}"),
        }
    };
    expect(&embedded, &allowed, None);
    expect(&embedded, &limited, None);
    expect(&embedded, &bad_checksum, Some(DenyReason::Malformed));
    expect(&embedded, &malformed, Some(DenyReason::Malformed));
    expect(&embedded, &wrong_secret, Some(DenyReason::WrongSecret));
    expect(&embedded, &missing_scope, Some(DenyReason::MissingScope));
    expect(&embedded, &unknown_route, Some(DenyReason::UnknownRoute));
    let expect_map = |e, want: Option<DenyReason>| {
        let got = run(&rt, decide(&map, e));
        assert_eq!(
            want,
            match got {
                Decision::Allow(_) => None,
                Decision::Deny(r) => Some(r),
            }
        );
    };
    expect_map(&allowed, None);
    expect_map(&limited, None);
    expect_map(&wrong_secret, Some(DenyReason::WrongSecret));
    expect_map(&missing_scope, Some(DenyReason::MissingScope));

    let mut g = c.benchmark_group("authorizer");
    let hasher = format.hasher();
    g.bench_function("floor_sha256_secret", |b| {
        b.iter(|| hasher.hash(black_box(&k.secret)))
    });
    let cases = [
        ("allowed", &allowed),
        ("allowed_limited", &limited),
        ("bad_checksum", &bad_checksum),
        ("malformed", &malformed),
        ("wrong_secret", &wrong_secret),
        ("missing_scope", &missing_scope),
        ("unknown_route", &unknown_route),
    ];
    for (name, e) in cases {
        g.bench_function(format!("{name}/embedded"), |b| {
            b.iter(|| run(&rt, decide(&embedded, black_box(e))))
        });
    }
    for (name, e) in [
        ("allowed", &allowed),
        ("allowed_limited", &limited),
        ("wrong_secret", &wrong_secret),
        ("missing_scope", &missing_scope),
    ] {
        g.bench_function(format!("{name}/hashmap"), |b| {
            b.iter(|| run(&rt, decide(&map, black_box(e))))
        });
    }
    g.finish();

    // Where the allowed decision's time goes, piece by piece.
    let mut g = c.benchmark_group("authorizer_parts");
    g.bench_function("parse_key", |b| {
        b.iter(|| format.parse(black_box(&k.valid)).map(|p| p.id))
    });
    g.bench_function("store_get/embedded", |b| {
        b.iter(|| run(&rt, embedded.store.get(black_box(k.record.id))))
    });
    g.bench_function("store_get/hashmap", |b| {
        b.iter(|| run(&rt, map.store.get(black_box(k.record.id))))
    });
    g.bench_function("route_lookup", |b| {
        b.iter(|| embedded.routes().required_scope(black_box(ALLOWED_ROUTE)))
    });
    g.bench_function("context_scopes_string", |b| {
        b.iter(|| black_box(&k.record.permissions).to_context_string())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench_decide
}
criterion_main!(benches);
