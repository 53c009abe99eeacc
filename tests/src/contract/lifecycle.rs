//! Suspend, reactivate, revoke and delete: every transition the lifecycle
//! applies is written as decided, with its event; a deleted key leaves every
//! index but keeps its history; racing transitions never undo a revoke.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keygate::domain::audit::{AuditAction, EventFilter};
use keygate::domain::change::Change;
use keygate::domain::id::KeyId;
use keygate::domain::lifecycle::{Check, Transition, check};
use keygate::domain::record::{KeyStatus, StatusFilter};
use keygate::store::Store;
use serde_json::{Value, json};

use super::{get, id, key_in, org, origin, reason, unlinked, updated};
use crate::Harness;

/// Every transition the lifecycle applies, written as decided, with its event.
pub async fn every_applied_transition<S: Store>(store: S) {
    for &from in <KeyStatus as strum::VariantArray>::VARIANTS {
        for transition in [
            Transition::Suspend,
            Transition::Reactivate,
            Transition::Revoke,
        ] {
            if check(from, transition) != Ok(Check::Apply) {
                continue;
            }
            let before = key_in(&store, "acme", from).await;
            let change = Change::status(before.clone(), transition, Some(reason()), &origin()).0;
            store
                .commit(&change)
                .await
                .unwrap_or_else(|e| panic!("{from} {transition:?}: {e}"));
            let after = store.get(before.id).await.expect("get").expect("there");
            assert_eq!(after, updated(&change), "{from} {transition:?}");
            assert_eq!(after.status, transition.target());
            let listed = store
                .list(&org("acme"), StatusFilter::Only(after.status), 100, None)
                .await
                .expect("list");
            assert!(
                listed.items.iter().any(|r| r.id == after.id),
                "the status index follows"
            );
            let filter = EventFilter {
                key_id: Some(before.id),
                action: None,
                ..EventFilter::default()
            };
            let events = store
                .list_events(&org("acme"), filter, 10, None)
                .await
                .expect("events")
                .items;
            assert_eq!(unlinked(events.clone()).first(), change.events().first());
            assert_eq!(events[0].status_before, Some(from));
            assert_eq!(events[0].status_after, Some(transition.target()));
        }
    }
}

pub async fn delete_removes_the_key_but_keeps_its_history<S: Store>(store: S) {
    let key = key_in(&store, "acme", KeyStatus::Revoked).await;
    let deleted = Change::delete(key.clone(), &origin());
    store.commit(&deleted).await.expect("delete");
    assert_eq!(store.get(key.id).await.expect("get"), None);
    for filter in [StatusFilter::All, StatusFilter::Only(KeyStatus::Revoked)] {
        let page = store
            .list(&org("acme"), filter, 10, None)
            .await
            .expect("list");
        assert!(page.items.is_empty(), "deleted keys leave every index");
    }
    let history = store
        .list_events(
            &org("acme"),
            EventFilter {
                key_id: Some(key.id),
                action: None,
                ..EventFilter::default()
            },
            10,
            None,
        )
        .await
        .expect("events")
        .items;
    let actions: Vec<AuditAction> = history.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Delete,
            AuditAction::Revoke,
            AuditAction::Create
        ]
    );
    assert_eq!(history[0].status_after, None);
    assert_eq!(history[0].status_before, Some(KeyStatus::Revoked));
}

#[derive(Debug)]
struct Outcome {
    verb: &'static str,
    started: u64,
    finished: u64,
    status: u16,
    after: Value,
}

/// 40 calls race suspend / reactivate / revoke on one key, through the
/// handlers (read, decide, conditional write, retry).
pub async fn racing_transitions_never_undo_a_revoke<S: Store>(store: S) {
    let h = Arc::new(Harness::new(store));
    let root = h.root_key("acme").await;
    let (_, record) = h
        .create(&root, json!({"name": "raced", "key_type": "service"}))
        .await;
    let target = id(&record);
    let events_before = h.events("acme").await.len();
    let clock = Arc::new(AtomicU64::new(0));
    let mut tasks = vec![];
    for i in 0..40u64 {
        let (h, clock, root, target) = (h.clone(), clock.clone(), root.clone(), target.clone());
        let verb = match i % 5 {
            0 | 1 => "suspend",
            2 | 3 => "reactivate",
            _ => "revoke",
        };
        tasks.push(tokio::spawn(async move {
            // Stagger so revokes land mid-race rather than all first.
            tokio::time::sleep(std::time::Duration::from_millis((i % 10) * 3)).await;
            let body = (verb == "revoke").then_some(r#"{"reason":"race"}"#);
            let started = clock.fetch_add(1, Ordering::SeqCst);
            let reply = h.act(&root, &target, verb, body).await;
            let finished = clock.fetch_add(1, Ordering::SeqCst);
            Outcome {
                verb,
                started,
                finished,
                status: reply.status,
                after: reply.body,
            }
        }));
    }
    let mut outcomes = vec![];
    for t in tasks {
        outcomes.push(t.await.expect("task"));
    }
    let final_status = get(&h, &root, &target).await.body["status"].clone();
    let revoked_at: Option<u64> = outcomes
        .iter()
        .filter(|o| o.verb == "revoke" && o.status == 200)
        .map(|o| o.finished)
        .min();
    assert_eq!(
        final_status == "revoked",
        revoked_at.is_some(),
        "final state is revoked iff a revoke succeeded: {outcomes:#?}"
    );
    if let Some(revoked_at) = revoked_at {
        for o in outcomes.iter().filter(|o| o.started > revoked_at) {
            if o.status == 200 {
                assert_eq!(
                    o.after["status"], "revoked",
                    "a call after the revoke moved the key: {o:?}"
                );
            }
        }
    }
    for o in &outcomes {
        // A call that keeps losing the race to others answers 503 with
        // Retry-After (and writes nothing; the trail below shows it).
        let retry_later = o.status == 503 && o.after["error"]["code"] == "service_unavailable";
        assert!(
            o.status == 200 || (o.status == 409 && o.verb != "revoke") || retry_later,
            "only leaving revoked may fail: {o:?}"
        );
    }
    // Each applied change wrote exactly one event; repeats wrote none. The
    // trail replays the race: every event starts where the previous ended.
    let events = h
        .events_of(
            "acme",
            EventFilter {
                key_id: KeyId::parse(&target).ok(),
                action: None,
                ..EventFilter::default()
            },
        )
        .await;
    assert_eq!(
        h.events("acme").await.len() - events_before,
        events.len() - 1
    );
    let mut state = Some(KeyStatus::Active);
    for e in events.iter().rev().skip(1) {
        assert_eq!(
            e.status_before, state,
            "the trail is continuous: {events:#?}"
        );
        assert_ne!(e.status_before, e.status_after, "no event for a no-op");
        state = e.status_after;
    }
    assert_eq!(state.map(|s| s.as_str()), final_status.as_str());
}
