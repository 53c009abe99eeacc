//! Usage limits, through the real authorizer: exact under racing requests
//! from several processes, spent only by requests that pass every other
//! check, shared by a rotation and by a limited key's keys, and changed or
//! reset only by another key, with an audit event.

use std::sync::Arc;

use keygate::app::App;
use keygate::domain::audit::AuditAction;
use keygate::domain::key::KeyFormat;
use keygate::domain::limits::Limits;
use keygate::http::authorizer::authorize;
use keygate::store::Store;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::{Harness, authorizer_event, id_of};

const ROUTE: &str = "GET /v1/runs/{id}";

/// `count` requests of `key` at once, spread over `apps` (separate
/// processes, each with its own memory, on one store): how many were let in.
async fn race<S: Store + Clone>(h: &Harness<S>, apps: usize, key: &str, count: usize) -> usize {
    let apps: Vec<Arc<App<S>>> = (0..apps)
        .map(|_| {
            Arc::new(App::new(h.store().clone(), KeyFormat::default()).with_clock(h.clock.clone()))
        })
        .collect();
    let mut tasks = JoinSet::new();
    for i in 0..count {
        let app = Arc::clone(&apps[i % apps.len()]);
        let event = authorizer_event(key, ROUTE);
        tasks.spawn(async move { authorize(&app, &event).await.is_authorized });
    }
    let mut allowed = 0;
    while let Some(done) = tasks.join_next().await {
        allowed += usize::from(done.expect("request task"));
    }
    allowed
}

/// A service key with these limits, made by `by`.
async fn limited<S: Store>(h: &Harness<S>, by: &str, limits: Value) -> (String, Value) {
    h.create(
        by,
        json!({"name": "limited", "key_type": "service", "limits": limits}),
    )
    .await
}

async fn usage<S: Store>(h: &Harness<S>, by: &str, key: &str) -> Value {
    let reply = h
        .call(
            "GET",
            &format!("/v1/api-keys/{}/usage", id_of(key)),
            Some(by),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    reply.body
}

/// How many of `n` requests of `key`, one after another, are let in.
async fn allowed<S: Store>(h: &Harness<S>, key: &str, n: usize) -> usize {
    let mut allowed = 0;
    for _ in 0..n {
        allowed += usize::from(h.authorize(key, ROUTE).await);
    }
    allowed
}

pub async fn fifty_racing_requests_against_a_limit_of_ten_admit_ten<S: Store + Clone>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (key, _) = limited(
        &h,
        &root,
        json!({"rate": {"requests": 10, "window_seconds": 3600}}),
    )
    .await;
    assert_eq!(race(&h, 4, &key, 50).await, 10);
    let usage = usage(&h, &root, &key).await;
    assert_eq!(usage["rate"]["used"], 10);
    assert_eq!(usage["rate"]["remaining"], 0);
}

pub async fn a_quota_over_several_processes_allows_exactly_its_requests<S: Store + Clone>(
    store: S,
) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (key, _) = limited(
        &h,
        &root,
        json!({"quota": {"requests": 7, "period": "day"}}),
    )
    .await;
    assert_eq!(race(&h, 3, &key, 30).await, 7);
    assert_eq!(race(&h, 2, &key, 5).await, 0, "the day's quota is spent");
    assert_eq!(usage(&h, &root, &key).await["quota"]["used"], 7);
}

pub async fn requests_denied_for_another_reason_spend_nothing<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (key, record) = h
        .create(
            &root,
            json!({"name": "reader", "key_type": "service", "permissions": ["runs:read"],
                "limits": {"rate": {"requests": 2, "window_seconds": 3600},
                           "quota": {"requests": 2, "period": "month"}}}),
        )
        .await;
    let id = record["id"].as_str().unwrap();
    // Someone who knows the key's id, with secrets of their own.
    let format = KeyFormat::default();
    let key_id = format.parse(&key).unwrap().id;
    for _ in 0..10 {
        let forged = format.generate_with_id(key_id).key.expose().to_owned();
        assert!(!h.authorize(&forged, ROUTE).await);
    }
    // The right key on a route its scopes do not reach.
    for _ in 0..10 {
        assert!(!h.authorize(&key, "POST /v1/runs").await);
    }
    // Suspended, then back.
    h.act(&root, id, "suspend", None).await;
    assert_eq!(allowed(&h, &key, 10).await, 0);
    h.act(&root, id, "reactivate", None).await;
    let usage = usage(&h, &root, &key).await;
    assert_eq!(
        (&usage["rate"]["used"], &usage["quota"]["used"]),
        (&json!(0), &json!(0))
    );
    assert_eq!(
        allowed(&h, &key, 5).await,
        2,
        "the whole budget is still there"
    );
}

pub async fn the_sliding_window_and_the_month_turn_with_the_clock<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    // Start at a minute's start, so the windows are where the test says.
    h.clock.advance(60 - h.now().unix().rem_euclid(60));
    let (key, _) = limited(
        &h,
        &root,
        json!({"rate": {"requests": 10, "window_seconds": 60}}),
    )
    .await;
    assert_eq!(allowed(&h, &key, 15).await, 10);
    // The next window: all of the last one still overlaps.
    h.clock.advance(60);
    assert_eq!(allowed(&h, &key, 5).await, 0);
    // Halfway: half of it does, so 5 fit.
    h.clock.advance(30);
    assert_eq!(allowed(&h, &key, 10).await, 5);
    // Two windows on, nothing of it is left.
    h.clock.advance(120);
    assert_eq!(allowed(&h, &key, 15).await, 10);

    let (monthly, _) = limited(
        &h,
        &root,
        json!({"quota": {"requests": 3, "period": "month"}}),
    )
    .await;
    assert_eq!(allowed(&h, &monthly, 5).await, 3);
    let next_month = keygate::domain::limits::QuotaPeriod::Month
        .at(h.now().unix() * 1000)
        .1
        / 1000;
    h.clock.advance(next_month - h.now().unix() - 1);
    assert_eq!(allowed(&h, &monthly, 2).await, 0, "the month's last second");
    let reply = usage(&h, &root, &monthly).await;
    assert_eq!(reply["quota"]["remaining"], 0);
    assert_eq!(
        reply["quota"]["resets_at"],
        json!(keygate::domain::time::Timestamp::from_unix(next_month).to_string())
    );
    h.clock.advance(1);
    assert_eq!(
        allowed(&h, &monthly, 5).await,
        3,
        "a new month, with no job run"
    );
}

pub async fn rotating_or_minting_never_escapes_a_budget<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let hour = json!({"rate": {"requests": 3, "window_seconds": 3600}});
    let (old, record) = limited(&h, &root, hour.clone()).await;
    assert_eq!(allowed(&h, &old, 3).await, 3);
    // Rotating is not a reset: the successor draws on the same budget.
    let rotated = h
        .call(
            "POST",
            &format!("/v1/api-keys/{}/rotate", record["id"].as_str().unwrap()),
            Some(&root),
            Some(r#"{"grace_period_seconds": 600}"#),
        )
        .await;
    assert_eq!(rotated.status, 201);
    assert_eq!(rotated.body["budget"], record["budget"]);
    assert_eq!(rotated.body["limits"], record["limits"]);
    let successor = rotated.body["key"].as_str().unwrap().to_owned();
    assert_eq!(allowed(&h, &successor, 3).await, 0);
    assert_eq!(
        allowed(&h, &old, 3).await,
        0,
        "nor does the old key, in grace"
    );

    // A limited key that may write keys: its keys draw on its budget.
    let (admin, admin_record) = limited(
        &h,
        &root,
        json!({"rate": {"requests": 5, "window_seconds": 3600}}),
    )
    .await;
    let looser = h
        .call(
            "POST",
            "/v1/api-keys",
            Some(&admin),
            Some(&json!({"name": "free", "key_type": "service", "limits": {}}).to_string()),
        )
        .await;
    assert_eq!(looser.assert_error(403), "insufficient_authority");
    assert!(
        looser.error_message().contains("5 requests per hour"),
        "{}",
        looser.error_message()
    );
    let (child, child_record) = h
        .create(&admin, json!({"name": "child", "key_type": "service"}))
        .await;
    assert_eq!(child_record["budget"], admin_record["budget"]);
    assert_eq!(child_record["limits"], admin_record["limits"]);
    // The admin spent 2 requests (the refused create counted too: it passed
    // the authorizer); its child has the other 3.
    assert_eq!(allowed(&h, &child, 5).await, 3);
    assert_eq!(allowed(&h, &admin, 1).await, 0);
}

pub async fn limits_change_only_by_another_key_and_leave_an_event<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (writer, writer_record) = limited(
        &h,
        &root,
        json!({"rate": {"requests": 100, "window_seconds": 60}}),
    )
    .await;
    let writer_id = writer_record["id"].as_str().unwrap();
    let h = &h;
    let put = |by: &str, id: &str, body: Value| {
        let path = format!("/v1/api-keys/{id}/limits");
        let by = by.to_owned();
        async move {
            h.call("PUT", &path, Some(&by), Some(&body.to_string()))
                .await
        }
    };
    // A key cannot loosen (or touch) its own limits, nor reset its usage.
    let own = put(&writer, writer_id, json!({})).await;
    assert_eq!(own.assert_error(403), "insufficient_authority");
    let reset = h
        .call(
            "POST",
            &format!("/v1/api-keys/{writer_id}/reset-usage"),
            Some(&writer),
            None,
        )
        .await;
    assert_eq!(reset.assert_error(403), "insufficient_authority");
    let events = h.events("acme").await.len();

    // Another key with authority: an explicit, audited act.
    let (target, target_record) = h.create_scoped(&root, &["runs:read"]).await;
    let target_id = target_record["id"].as_str().unwrap();
    assert_eq!(
        target_record["limits"],
        json!({"rate": null, "quota": null})
    );
    let set = put(
        &root,
        target_id,
        json!({"rate": {"requests": 2, "window_seconds": 60}}),
    )
    .await;
    assert_eq!(set.status, 200, "{:#}", set.body);
    assert_eq!(
        set.body["limits"]["rate"],
        json!({"requests": 2, "window_seconds": 60})
    );
    let trail = h.events("acme").await;
    assert_eq!(trail.len(), events + 2, "the create and the change");
    let event = &trail[0];
    assert_eq!(event.action, AuditAction::SetLimits);
    let change = event.limits.expect("the limits before and after");
    assert_eq!(change.before, Limits::NONE);
    assert_eq!(change.after.rate.map(|r| r.requests), Some(2));
    assert_eq!(allowed(h, &target, 5).await, 2);
    // The same limits again change nothing and record nothing.
    put(
        &root,
        target_id,
        json!({"rate": {"requests": 2, "window_seconds": 60}}),
    )
    .await;
    assert_eq!(h.events("acme").await.len(), events + 2);

    // A reset: the budget's counts back to zero, in the same write as its event.
    let reset = h
        .call(
            "POST",
            &format!("/v1/api-keys/{target_id}/reset-usage"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(reset.status, 200, "{:#}", reset.body);
    assert_eq!(reset.body["rate"]["used"], 0);
    assert_eq!(h.events("acme").await[0].action, AuditAction::ResetUsage);
    assert_eq!(allowed(h, &target, 5).await, 2);

    // Removing them: explicit too.
    let removed = put(&root, target_id, json!({})).await;
    assert_eq!(removed.body["limits"], json!({"rate": null, "quota": null}));
    assert_eq!(
        h.events("acme").await[0].limits.map(|l| l.after),
        Some(Limits::NONE)
    );
    assert_eq!(allowed(h, &target, 5).await, 5);
    let usage = usage(h, &root, &target).await;
    assert_eq!(
        (&usage["rate"], &usage["quota"]),
        (&Value::Null, &Value::Null)
    );

    // Bad limits are a 400 that names the field, and change nothing.
    let before = h.snapshot("acme").await;
    for (body, field) in [
        (
            json!({"rate": {"requests": 0, "window_seconds": 60}}),
            "rate.requests",
        ),
        (
            json!({"rate": {"requests": 5, "window_seconds": 86401}}),
            "rate.window_seconds",
        ),
        (json!({"rate": {"requests": 5}}), "rate.window_seconds"),
        (
            json!({"quota": {"requests": 5, "period": "week"}}),
            "quota.period",
        ),
        (
            json!({"quota": {"requests": 5, "period": "day", "burst": 1}}),
            "quota.\"burst\"",
        ),
        (json!({"rate": 5}), "rate"),
    ] {
        let reply = put(&root, target_id, body.clone()).await;
        assert_eq!(reply.assert_error(400), "invalid_request", "{body}");
        assert!(
            reply.error_message().starts_with(field),
            "{body}: {}",
            reply.error_message()
        );
    }
    assert_eq!(h.snapshot("acme").await, before);
}
