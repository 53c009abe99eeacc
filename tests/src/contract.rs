//! The store contract: one suite, run against every `Store` implementation by
//! [`contract_suite!`](crate::contract_suite). Each case takes a fresh, empty store.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keygate::key::{KeyFormat, KeyId};
use keygate::lifecycle::{Check, StatusChange, Transition, check};
use keygate::model::{
    KeyName, KeyRecord, KeyStatus, KeyType, OrgId, RevokeReason, StatusFilter, Timestamp,
};
use keygate::scope::Permissions;
use keygate::store::{Store, StoreError};
use serde_json::json;

use crate::Harness;

pub fn org(s: &str) -> OrgId {
    OrgId::new(s).expect("org")
}

/// A fresh active record of `org`, as the create handler would build it.
pub fn record(org_id: &str, name: &str) -> KeyRecord {
    KeyRecord::new_active(
        &KeyFormat::default().generate(),
        org(org_id),
        KeyName::new(name).expect("name"),
        KeyType::Service,
        Permissions::from_strings(&["runs:read", "runs:write"]).expect("scopes"),
        Timestamp::now(),
    )
}

pub fn change(transition: Transition) -> StatusChange {
    StatusChange {
        transition,
        at: Timestamp::now().plus_seconds(5),
        reason: (transition == Transition::Revoke)
            .then(|| RevokeReason::new("contract test").expect("reason")),
        by: Some(KeyId::from_u128(7)),
    }
}

/// Bring a fresh key of `org` into `status` through the store's transitions.
pub async fn key_in<S: Store>(store: &S, org_id: &str, status: KeyStatus) -> KeyRecord {
    let r = record(org_id, "lifecycle");
    store.insert(&r).await.expect("insert");
    match status {
        KeyStatus::Active => r,
        KeyStatus::Suspended => store
            .transition(&r.org_id, r.id, &change(Transition::Suspend))
            .await
            .expect("suspend"),
        KeyStatus::Revoked => store
            .transition(&r.org_id, r.id, &change(Transition::Revoke))
            .await
            .expect("revoke"),
    }
}

pub async fn create_then_get<S: Store>(store: S) {
    assert!(store.is_empty().await.expect("is_empty"));
    let r = record("acme", "first");
    store.insert(&r).await.expect("insert");
    assert_eq!(store.get(r.id).await.expect("get"), Some(r.clone()));
    assert!(!store.is_empty().await.expect("is_empty"));
    // Never overwrite: the same id again is refused and the record is unchanged.
    let mut clash = record("other", "clash");
    clash.id = r.id;
    assert!(matches!(
        store.insert(&clash).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(r.id).await.expect("get"), Some(r));
    assert_eq!(store.get(KeyId::generate()).await.expect("get"), None);
}

pub async fn every_lifecycle_cell<S: Store>(store: S) {
    for from in KeyStatus::ALL {
        for transition in [
            Transition::Suspend,
            Transition::Reactivate,
            Transition::Revoke,
        ] {
            let before = key_in(&store, "acme", from).await;
            let c = change(transition);
            let result = store.transition(&before.org_id, before.id, &c).await;
            let after = store
                .get(before.id)
                .await
                .expect("get")
                .expect("still there");
            match check(from, transition) {
                Check::Apply => {
                    let returned = result.unwrap_or_else(|e| panic!("{from} {transition:?}: {e}"));
                    assert_eq!(returned, after, "returned record is the stored one");
                    assert_eq!(after.status, transition.target());
                    assert_eq!(after.updated_at, c.at);
                    match transition {
                        Transition::Suspend => assert_eq!(after.suspended_at, Some(c.at)),
                        Transition::Reactivate => assert_eq!(after.suspended_at, None),
                        Transition::Revoke => {
                            assert_eq!(after.revoked_at, Some(c.at));
                            assert_eq!(after.revoked_reason, c.reason);
                            assert_eq!(after.revoked_by, c.by);
                        }
                    }
                }
                Check::NoOp => {
                    assert_eq!(result.expect("no-op succeeds"), before);
                    assert_eq!(after, before, "a no-op writes nothing");
                }
                Check::Conflict => {
                    assert!(
                        matches!(
                            result,
                            Err(StoreError::Conflict {
                                current: KeyStatus::Revoked
                            })
                        ),
                        "{from} {transition:?}: {result:?}"
                    );
                    assert_eq!(after, before, "a refused transition writes nothing");
                }
            }
        }
    }
}

pub async fn delete_is_scoped_to_the_org<S: Store>(store: S) {
    let mine = key_in(&store, "acme", KeyStatus::Revoked).await;
    assert!(matches!(
        store.delete(&org("other"), mine.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.get(mine.id).await.expect("get").is_some());
    store.delete(&org("acme"), mine.id).await.expect("delete");
    assert_eq!(store.get(mine.id).await.expect("get"), None);
    assert!(matches!(
        store.delete(&org("acme"), mine.id).await,
        Err(StoreError::NotFound)
    ));
    let page = store
        .list(&org("acme"), StatusFilter::All, 10, None)
        .await
        .expect("list");
    assert!(page.records.is_empty(), "deleted keys leave every index");
    let page = store
        .list(
            &org("acme"),
            StatusFilter::Only(KeyStatus::Revoked),
            10,
            None,
        )
        .await
        .expect("list");
    assert!(page.records.is_empty());
}

pub async fn other_orgs_cannot_touch_or_see_a_key<S: Store>(store: S) {
    let mine = key_in(&store, "acme", KeyStatus::Active).await;
    for t in [
        Transition::Suspend,
        Transition::Revoke,
        Transition::Reactivate,
    ] {
        assert!(matches!(
            store
                .transition(&org("intruder"), mine.id, &change(t))
                .await,
            Err(StoreError::NotFound)
        ));
    }
    assert_eq!(store.get(mine.id).await.expect("get"), Some(mine));
    for filter in [StatusFilter::All, StatusFilter::Only(KeyStatus::Active)] {
        let page = store
            .list(&org("intruder"), filter, 100, None)
            .await
            .expect("list");
        assert!(page.records.is_empty());
    }
    assert!(matches!(
        store
            .transition(
                &org("acme"),
                KeyId::generate(),
                &change(Transition::Suspend)
            )
            .await,
        Err(StoreError::NotFound)
    ));
}

pub async fn last_use_is_recorded_at_most_once_per_window<S: Store>(store: S) {
    let r = key_in(&store, "acme", KeyStatus::Active).await;
    let t0 = Timestamp::now();
    assert!(
        store
            .record_use(r.id, t0, t0.plus_seconds(-60))
            .await
            .expect("first")
    );
    assert!(
        !store
            .record_use(r.id, t0.plus_seconds(10), t0.plus_seconds(-50))
            .await
            .expect("inside the window")
    );
    assert_eq!(
        store
            .get(r.id)
            .await
            .expect("get")
            .expect("key")
            .last_used_at,
        Some(t0)
    );
    assert!(
        store
            .record_use(r.id, t0.plus_seconds(61), t0.plus_seconds(1))
            .await
            .expect("after the window")
    );
    assert!(
        !store
            .record_use(KeyId::generate(), t0, t0)
            .await
            .expect("missing key is not an error")
    );
}

/// 250 keys across all statuses, pages of 7, through the HTTP API.
pub async fn pagination_is_exact_newest_first<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let root_id = crate::id_of(&root);
    let mut expected: Vec<(String, KeyStatus)> = vec![(root_id, KeyStatus::Active)];
    for i in 0..249 {
        let (_, created) = h
            .create(&root, json!({"name": format!("k{i}"), "key_type": "service", "permissions": ["runs:read"]}))
            .await;
        let id = created["id"].as_str().expect("id").to_owned();
        let status = match i % 3 {
            0 => KeyStatus::Active,
            1 => KeyStatus::Suspended,
            _ => KeyStatus::Revoked,
        };
        let action = match status {
            KeyStatus::Active => None,
            KeyStatus::Suspended => Some(("suspend", None)),
            KeyStatus::Revoked => Some(("revoke", Some(r#"{"reason":"test"}"#))),
        };
        if let Some((verb, body)) = action {
            let reply = h
                .call(
                    "POST",
                    &format!("/v1/api-keys/{id}/{verb}"),
                    Some(&root),
                    body,
                )
                .await;
            assert_eq!(reply.status, 200, "{:#}", reply.body);
        }
        expected.push((id, status));
    }
    // Another org's keys never show up.
    let other = h.root_key("other").await;
    h.create(&other, json!({"name": "theirs", "key_type": "service"}))
        .await;
    expected.reverse(); // newest first

    for filter in ["all", "active", "suspended", "revoked"] {
        let want: Vec<&str> = expected
            .iter()
            .filter(|(_, s)| filter == "all" || s.as_str() == filter)
            .map(|(id, _)| id.as_str())
            .collect();
        let mut got: Vec<String> = vec![];
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/v1/api-keys?status={filter}&limit=7");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let reply = h.call("GET", &path, Some(&root), None).await;
            assert_eq!(reply.status, 200, "{:#}", reply.body);
            let data = reply.body["data"].as_array().expect("data");
            assert!(data.len() <= 7);
            for r in data {
                if filter != "all" {
                    assert_eq!(r["status"], filter);
                }
                got.push(r["id"].as_str().expect("id").to_owned());
            }
            pages += 1;
            match reply.body["next_cursor"].as_str() {
                Some(c) => {
                    assert_eq!(data.len(), 7, "only the last page is short");
                    cursor = Some(c.to_owned());
                }
                None => break,
            }
        }
        assert_eq!(got, want, "status={filter}: exact, newest first");
        assert_eq!(
            got.iter().collect::<HashSet<_>>().len(),
            got.len(),
            "no duplicates"
        );
        assert_eq!(pages, want.len().div_ceil(7).max(1));
    }

    // A cursor is bound to its org and filter, and tampering is a 400.
    let first = h
        .call("GET", "/v1/api-keys?status=all&limit=7", Some(&root), None)
        .await;
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let theirs = h
        .call(
            "GET",
            &format!("/v1/api-keys?limit=7&cursor={cursor}"),
            Some(&other),
            None,
        )
        .await;
    theirs.assert_error(400);
    assert!(theirs.error_message().contains("cursor"));
    let mut tampered = cursor.into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let reply = h
        .call(
            "GET",
            &format!("/v1/api-keys?limit=7&cursor={tampered}"),
            Some(&root),
            None,
        )
        .await;
    reply.assert_error(400);
    let reply = h
        .call(
            "GET",
            "/v1/api-keys?status=active&limit=7&cursor=bm90LWEtY3Vyc29y",
            Some(&root),
            None,
        )
        .await;
    reply.assert_error(400);
}

#[derive(Debug)]
struct Outcome {
    transition: Transition,
    started: u64,
    finished: u64,
    result: Result<KeyStatus, String>,
}

/// 50 tasks race suspend / reactivate / revoke on one key.
pub async fn racing_transitions_never_undo_a_revoke<S: Store>(store: S) {
    let store = Arc::new(store);
    let r = key_in(store.as_ref(), "acme", KeyStatus::Active).await;
    let clock = Arc::new(AtomicU64::new(0));
    let mut tasks = vec![];
    for i in 0..50 {
        let store = Arc::clone(&store);
        let clock = Arc::clone(&clock);
        let org_id = r.org_id.clone();
        let transition = match i % 5 {
            0 | 1 => Transition::Suspend,
            2 | 3 => Transition::Reactivate,
            _ => Transition::Revoke,
        };
        tasks.push(tokio::spawn(async move {
            // Stagger so revokes land mid-race rather than all first.
            tokio::time::sleep(std::time::Duration::from_millis((i % 10) * 3)).await;
            let started = clock.fetch_add(1, Ordering::SeqCst);
            let result = store
                .transition(&org_id, r.id, &change(transition))
                .await
                .map(|k| k.status)
                .map_err(|e| e.to_string());
            let finished = clock.fetch_add(1, Ordering::SeqCst);
            Outcome {
                transition,
                started,
                finished,
                result,
            }
        }));
    }
    let mut outcomes = vec![];
    for t in tasks {
        outcomes.push(t.await.expect("task"));
    }
    let final_status = store.get(r.id).await.expect("get").expect("key").status;
    let revoked_at: Option<u64> = outcomes
        .iter()
        .filter(|o| o.transition == Transition::Revoke && o.result.is_ok())
        .map(|o| o.finished)
        .min();
    assert_eq!(
        final_status == KeyStatus::Revoked,
        revoked_at.is_some(),
        "final state is revoked iff a revoke succeeded: {outcomes:#?}"
    );
    if let Some(revoked_at) = revoked_at {
        for o in outcomes.iter().filter(|o| o.started > revoked_at) {
            if let Ok(status) = &o.result {
                assert_eq!(
                    *status,
                    KeyStatus::Revoked,
                    "a call after the revoke moved the key: {o:?}"
                );
            }
        }
    }
    for o in &outcomes {
        if let Err(e) = &o.result {
            assert!(
                e.contains("revoked"),
                "only leaving revoked may fail: {o:?}"
            );
        }
    }
}

/// Expands to one `#[tokio::test]` per contract case; `$make` builds a fresh store.
#[macro_export]
macro_rules! contract_suite {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn create_then_get() {
            $crate::contract::create_then_get($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn every_lifecycle_cell() {
            $crate::contract::every_lifecycle_cell($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn delete_is_scoped_to_the_org() {
            $crate::contract::delete_is_scoped_to_the_org($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn other_orgs_cannot_touch_or_see_a_key() {
            $crate::contract::other_orgs_cannot_touch_or_see_a_key($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn last_use_is_recorded_at_most_once_per_window() {
            $crate::contract::last_use_is_recorded_at_most_once_per_window($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn pagination_is_exact_newest_first() {
            $crate::contract::pagination_is_exact_newest_first($make).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn racing_transitions_never_undo_a_revoke() {
            $crate::contract::racing_transitions_never_undo_a_revoke($make).await
        }
    };
}
