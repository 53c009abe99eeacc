//! The calling key is part of every write: a change is made only while the
//! key that asked for it is still as its request saw it, so a key
//! suspended, revoked or deleted while its request runs changes nothing,
//! itself included.

use std::sync::atomic::Ordering;

use keygate::domain::change::{ActorGuard, Change, Origin};
use keygate::domain::id::KeyId;
use keygate::domain::lifecycle::Transition;
use keygate::domain::record::KeyStatus;
use keygate::domain::time::Timestamp;
use keygate::store::{Store, StoreError};

use super::{events_of, id, key_in, origin, record};
use crate::{Harness, StaleReadStore};

/// A change is written only while the key that asked for it is still
/// active with the expiry its request saw (the guard), whatever it writes.
pub async fn a_change_requires_its_caller_as_it_was<S: Store>(store: S) {
    let caller = key_in(&store, "acme", KeyStatus::Active).await;
    let target = key_in(&store, "acme", KeyStatus::Active).await;
    let as_seen = |expires_at| {
        origin().guarded(ActorGuard {
            key_id: caller.id,
            expires_at,
        })
    };
    let events_before = events_of(&store, "acme").await;
    // As seen: the change is made.
    let (suspend, suspended) =
        Change::status(target.clone(), Transition::Suspend, None, &as_seen(None));
    store.commit(&suspend).await.expect("a guard that holds");
    // The request saw no expiry, the key now has one: refused.
    let expiring = Timestamp::now().plus_seconds(3600);
    for (seen, what) in [(Some(expiring), "another expiry")] {
        let change = Change::delete(suspended.clone(), &as_seen(seen));
        assert!(
            matches!(store.commit(&change).await, Err(StoreError::ActorChanged)),
            "{what}"
        );
    }
    // The caller suspended, or gone: neither a change nor a create is made.
    store
        .commit(&Change::status(caller.clone(), Transition::Suspend, None, &origin()).0)
        .await
        .expect("suspend the caller");
    let fresh = record("acme", "late");
    for change in [
        Change::delete(suspended.clone(), &as_seen(None)),
        Change::create(fresh.clone(), &as_seen(None)),
    ] {
        assert!(matches!(
            store.commit(&change).await,
            Err(StoreError::ActorChanged)
        ));
    }
    assert_eq!(store.get(fresh.id).await.expect("get"), None);
    assert_eq!(store.get(target.id).await.expect("get"), Some(suspended));
    // Two events more: the target's suspension and the caller's own.
    assert_eq!(
        events_of(&store, "acme").await.len(),
        events_before.len() + 2
    );
}

/// A caller whose key had expired by the change's time changes nothing,
/// even when its request saw that very expiry (an authorizer's cached allow
/// can outlive the key): in every store, at the write.
pub async fn a_caller_expired_by_the_change_changes_nothing<S: Store>(store: S) {
    let mut caller = record("acme", "expiring");
    // The change happens 5 s from now (see `origin`); the key expires in 1.
    caller.expires_at = Some(Timestamp::now().plus_seconds(1));
    super::seed(&store, &caller).await;
    let target = key_in(&store, "acme", KeyStatus::Active).await;
    let events_before = events_of(&store, "acme").await;
    let guard = ActorGuard {
        key_id: caller.id,
        expires_at: caller.expires_at,
    };
    let fresh = record("acme", "minted late");
    for change in [
        Change::status(
            target.clone(),
            Transition::Suspend,
            None,
            &origin().guarded(guard),
        )
        .0,
        Change::create(fresh.clone(), &origin().guarded(guard)),
    ] {
        assert!(matches!(
            store.commit(&change).await,
            Err(StoreError::ActorChanged)
        ));
    }
    assert_eq!(store.get(target.id).await.expect("get"), Some(target));
    assert_eq!(store.get(fresh.id).await.expect("get"), None);
    assert_eq!(events_of(&store, "acme").await, events_before);
}

/// The calling key is part of the write too: a key suspended, revoked or
/// deleted while its request runs changes nothing (the request was
/// authorized before, but its write is not made).
pub async fn a_key_changed_during_its_request_changes_nothing<S: Store>(store: S) {
    let h = Harness::new(StaleReadStore::new(store));
    let root = h.root_key("acme").await;
    let (_, target) = h.create_scoped(&root, &["runs:read"]).await;
    let target_id = KeyId::parse(&id(&target)).expect("id");
    for (verb, body) in [
        ("suspend", None),
        ("revoke", Some(r#"{"reason":"x"}"#)),
        ("rotate", Some("{}")),
    ] {
        let (caller, record) = h
            .create_scoped(&root, &["api-keys:write", "runs:read"])
            .await;
        let caller_id = KeyId::parse(&id(&record)).expect("id");
        let stored = h.store().get(caller_id).await.expect("get").expect("key");
        // Root suspends the caller after the authorizer let the request in,
        // before the handler reads its target.
        let (suspend, _) = Change::status(
            stored,
            Transition::Suspend,
            None,
            &Origin::bootstrap(h.now()),
        );
        h.store().meanwhile(target_id, suspend);
        h.store().served.store(false, Ordering::SeqCst);
        let keys_before = h.snapshot("acme").await;
        let events_before = h.events("acme").await.len();
        let reply = h.act(&caller, &id(&target), verb, body).await;
        assert!(
            h.store().served.load(Ordering::SeqCst),
            "{verb}: the race happened"
        );
        assert_eq!(reply.assert_error(403), "insufficient_authority", "{verb}");
        assert!(reply.error_message().contains("while this request ran"));
        // Only the caller's own suspension is new.
        let after: Vec<_> = h
            .snapshot("acme")
            .await
            .into_iter()
            .filter(|r| r.id != caller_id)
            .collect();
        let before: Vec<_> = keys_before
            .into_iter()
            .filter(|r| r.id != caller_id)
            .collect();
        assert_eq!(after, before, "{verb} wrote nothing");
        assert_eq!(h.events("acme").await.len(), events_before + 1, "{verb}");
    }
}

/// A key suspended while its own request runs (after the authorizer let it
/// in, before the handler reads it) cannot write itself: it cannot
/// reactivate itself, which would let a leaked key outlive its suspension
/// by racing it, and its other changes to itself are held to the guard any
/// other change is held to.
pub async fn a_key_suspended_during_its_request_cannot_revive_or_change_itself<S: Store>(store: S) {
    let h = Harness::new(StaleReadStore::new(store));
    let root = h.root_key("acme").await;
    for (method, verb, body, says) in [
        ("POST", "reactivate", None, "cannot reactivate itself"),
        (
            "POST",
            "revoke",
            Some(r#"{"reason":"x"}"#),
            "while this request ran",
        ),
        ("DELETE", "", None, "while this request ran"),
    ] {
        let (key, record) = h
            .create_scoped(&root, &["api-keys:write", "api-keys:delete"])
            .await;
        let key_id = KeyId::parse(&id(&record)).expect("id");
        let stored = h.store().get(key_id).await.expect("get").expect("key");
        let (suspend, _) = Change::status(
            stored,
            Transition::Suspend,
            None,
            &Origin::bootstrap(h.now()),
        );
        // The authorizer reads the key first and finds it active; the
        // suspension lands before the handler's read.
        h.store().meanwhile_after_reads(key_id, 1, suspend);
        h.store().served.store(false, Ordering::SeqCst);
        let others_before: Vec<_> = h
            .snapshot("acme")
            .await
            .into_iter()
            .filter(|r| r.id != key_id)
            .collect();
        let events_before = h.events("acme").await.len();
        let path = format!("/v1/api-keys/{key_id}/{verb}");
        let reply = h
            .call(method, path.trim_end_matches('/'), Some(&key), body)
            .await;
        assert!(
            h.store().served.load(Ordering::SeqCst),
            "{method} {verb}: the race happened"
        );
        assert_eq!(
            reply.assert_error(403),
            "insufficient_authority",
            "{method} {verb}"
        );
        assert!(
            reply.error_message().contains(says),
            "{}",
            reply.error_message()
        );
        let now = h
            .store()
            .get(key_id)
            .await
            .expect("get")
            .expect("still there");
        assert_eq!(
            now.status,
            KeyStatus::Suspended,
            "{method} {verb}: still suspended"
        );
        let others_after: Vec<_> = h
            .snapshot("acme")
            .await
            .into_iter()
            .filter(|r| r.id != key_id)
            .collect();
        assert_eq!(others_after, others_before);
        assert_eq!(
            h.events("acme").await.len(),
            events_before + 1,
            "{method} {verb}: only the suspension was recorded"
        );
    }
}
