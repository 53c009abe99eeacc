//! What a request over its key's limits gets, in each mode: `deny` (the
//! authorizer's deny, 403 as API Gateway answers it) and `defer` (429 from
//! keygate's handler, before it does anything, with `Retry-After` and the
//! IETF RateLimit fields); and a count that cannot be made, which refuses
//! the request unless the deployer chose fail-open.

use keygate::app::{LimitFailure, LimitMode, LimitPolicy};
use keygate::store::EmbeddedStore;
use keygate_tests::{CountingStore, Harness};
use serde_json::json;
use std::sync::atomic::Ordering;

fn limited(requests: u64) -> serde_json::Value {
    json!({"name": "limited", "key_type": "service",
        "limits": {"rate": {"requests": requests, "window_seconds": 3600}}})
}

#[tokio::test]
async fn deny_mode_answers_403_over_the_limit() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (key, _) = h.create(&root, limited(2)).await;
    for _ in 0..2 {
        assert_eq!(
            h.call("GET", "/v1/scopes", Some(&key), None).await.status,
            200
        );
    }
    let over = h.call("GET", "/v1/scopes", Some(&key), None).await;
    assert_eq!(over.status, 403);
    assert_eq!(over.body, json!({"message": "Forbidden"}));
}

#[tokio::test]
async fn defer_mode_answers_429_with_retry_after_and_the_ratelimit_fields() {
    let h = Harness::embedded().in_limit_mode(LimitMode::Defer);
    let root = h.root_key("acme").await;
    let (key, _) = h.create(&root, limited(2)).await;
    // Within the limit: served, and told where it stands.
    let first = h.call("GET", "/v1/scopes", Some(&key), None).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.headers["ratelimit-policy"], "\"rate\";q=2;w=3600");
    let remaining = first.headers["ratelimit"].to_str().unwrap();
    assert!(remaining.starts_with("\"rate\";r=1;t="), "{remaining}");
    // A key without limits hears nothing of them.
    let plain = h.call("GET", "/v1/scopes", Some(&root), None).await;
    assert!(plain.headers.get("ratelimit").is_none());

    assert_eq!(
        h.call("GET", "/v1/scopes", Some(&key), None).await.status,
        200
    );
    // Over it: 429 before the handler does anything. A create would have
    // made a key; none is made.
    let before = h.snapshot("acme").await;
    let events = h.events("acme").await.len();
    let over = h
        .call(
            "POST",
            "/v1/api-keys",
            Some(&key),
            Some(&json!({"name": "x", "key_type": "service"}).to_string()),
        )
        .await;
    assert_eq!(over.assert_error(429), "limit_exceeded");
    assert!(
        over.error_message()
            .contains("rate limit of 2 requests per hour"),
        "{}",
        over.error_message()
    );
    let retry_after: i64 = over.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // A sliding window: both requests were counted in this hour's window;
    // the next fits in the next window once their weight has fallen to one
    // of two, half an hour into it (the test clock stands still).
    let now = h.now().unix();
    assert_eq!(retry_after, now.div_euclid(3600) * 3600 + 3600 + 1800 - now);
    assert_eq!(
        over.headers["ratelimit"],
        format!("\"rate\";r=0;t={retry_after}").as_str()
    );
    assert_eq!(over.headers["ratelimit-policy"], "\"rate\";q=2;w=3600");
    assert_eq!(h.snapshot("acme").await, before);
    assert_eq!(h.events("acme").await.len(), events);
    // The count resumes when the window allows: an hour later, it is served.
    h.clock.advance(3600 * 2);
    assert_eq!(
        h.call("GET", "/v1/scopes", Some(&key), None).await.status,
        200
    );
}

#[tokio::test]
async fn a_use_that_cannot_be_counted_is_refused_unless_the_deployer_chose_open() {
    let store = || CountingStore::uncountable(EmbeddedStore::in_memory().unwrap());
    // deny: refused by the authorizer.
    let h = Harness::new(store());
    let root = h.root_key("acme").await;
    let (key, _) = h.create(&root, limited(100)).await;
    assert_eq!(
        h.call("GET", "/v1/scopes", Some(&key), None).await.status,
        403
    );
    // A key without limits is not counted, so it is served as ever.
    assert_eq!(
        h.call("GET", "/v1/scopes", Some(&root), None).await.status,
        200
    );

    // defer: 503 with Retry-After from the handler.
    let h = Harness::new(store()).in_limit_mode(LimitMode::Defer);
    let root = h.root_key("acme").await;
    let (key, _) = h.create(&root, limited(100)).await;
    let reply = h.call("GET", "/v1/scopes", Some(&key), None).await;
    assert_eq!(reply.assert_error(503), "service_unavailable");
    assert_eq!(reply.headers["retry-after"], "1");

    // open, the deployer's explicit trade: let through uncounted.
    for mode in [LimitMode::Deny, LimitMode::Defer] {
        let mut h = Harness::new(store());
        h.app = h.app.with_limit_policy(LimitPolicy {
            mode,
            on_failure: LimitFailure::Open,
        });
        let root = h.root_key("acme").await;
        let (key, _) = h.create(&root, limited(1)).await;
        for _ in 0..3 {
            assert_eq!(
                h.call("GET", "/v1/scopes", Some(&key), None).await.status,
                200
            );
        }
    }
}

/// The authorizer asks the store nothing more for a key without limits.
#[tokio::test]
async fn an_unlimited_key_is_never_counted() {
    let h = Harness::new(CountingStore::new(EmbeddedStore::in_memory().unwrap()));
    let root = h.root_key("acme").await;
    let (free, _) = h.create_scoped(&root, &["runs:read"]).await;
    let (limited, _) = h.create(&root, limited(10)).await;
    let admits = || h.store().admits.load(Ordering::SeqCst);
    let start = admits();
    for _ in 0..5 {
        assert!(h.authorize(&free, "GET /v1/runs").await);
    }
    assert_eq!(admits(), start);
    assert!(h.authorize(&limited, "GET /v1/runs").await);
    assert_eq!(admits(), start + 1);
}

/// What a key view says of setting its limits is what the call decides: a
/// limited key may set limits within its own on a key of its budget, even
/// one an unlimited key left looser than its own; never on itself.
#[tokio::test]
async fn the_set_limits_permit_is_what_the_call_decides() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let (admin, admin_record) = h
        .create(
            &root,
            json!({"name": "admin", "key_type": "service",
                "permissions": ["api-keys:read", "api-keys:write"],
                "limits": {"rate": {"requests": 100, "window_seconds": 60}}}),
        )
        .await;
    let (_, child) = h
        .create(
            &admin,
            json!({"name": "child", "key_type": "service", "permissions": ["api-keys:read"]}),
        )
        .await;
    let child_path = format!("/v1/api-keys/{}", child["id"].as_str().unwrap());
    // An unlimited key removes the child's limits: looser than the admin's.
    let removed = h
        .call(
            "PUT",
            &format!("{child_path}/limits"),
            Some(&root),
            Some("{}"),
        )
        .await;
    assert_eq!(removed.status, 200, "{:#}", removed.body);
    let view = h.call("GET", &child_path, Some(&admin), None).await;
    assert_eq!(
        view.body["caller"]["set_limits"],
        json!({"allowed": true, "code": null, "reason": null})
    );
    let set = h
        .call(
            "PUT",
            &format!("{child_path}/limits"),
            Some(&admin),
            Some(r#"{"rate": {"requests": 50, "window_seconds": 60}}"#),
        )
        .await;
    assert_eq!(set.status, 200, "{:#}", set.body);
    let own_path = format!("/v1/api-keys/{}", admin_record["id"].as_str().unwrap());
    let own = h.call("GET", &own_path, Some(&admin), None).await;
    assert_eq!(own.body["caller"]["set_limits"]["allowed"], false);
    let tried = h
        .call(
            "PUT",
            &format!("{own_path}/limits"),
            Some(&admin),
            Some("{}"),
        )
        .await;
    assert_eq!(tried.assert_error(403), "insufficient_authority");
}
