//! A change is one conditional, all-or-nothing write: decided on a key that
//! has changed since, it is refused; failing halfway, it leaves nothing.

use keygate::domain::change::Change;
use keygate::domain::id::KeyId;
use keygate::domain::lifecycle::{Rotation, Transition};
use keygate::domain::record::KeyStatus;
use keygate::domain::scope::Permissions;
use keygate::domain::time::Timestamp;
use keygate::store::{Store, StoreError};

use super::{events_of, key_in, org, origin, reason, record, unlinked, updated};

/// A change decided on a key that has changed since is refused as a whole:
/// the check and the write cannot race.
pub async fn a_change_to_a_key_that_changed_is_refused<S: Store>(store: S) {
    let key = key_in(&store, "acme", KeyStatus::Active).await;
    let events_before = events_of(&store, "acme").await;
    let mut stale = key.clone();
    stale.status = KeyStatus::Suspended;
    let mut wider = key.clone();
    wider.permissions = Permissions::Full;
    let mut other_org = key.clone();
    other_org.org_id = org("intruder");
    let mut expiring = key.clone();
    expiring.expires_at = Some(Timestamp::now().plus_seconds(60));
    let mut rotated = key.clone();
    rotated.rotated_to = Some(KeyId::generate());
    for (what, before) in [
        ("status", stale),
        ("permissions", wider),
        ("expiry", expiring),
        ("rotation", rotated),
    ] {
        for change in [
            Change::status(
                before.clone(),
                Transition::Revoke,
                Some(reason()),
                &origin(),
            )
            .0,
            Change::delete(before.clone(), &origin()),
        ] {
            assert!(
                matches!(store.commit(&change).await, Err(StoreError::Changed)),
                "a change decided on another {what} was written"
            );
        }
    }
    // Changed and changed back (suspended, then reactivated): the status is
    // what was read, but the key is not; the change is refused all the same.
    let suspended = Change::status(key.clone(), Transition::Suspend, None, &origin()).0;
    store.commit(&suspended).await.expect("suspend");
    let back = Change::status(updated(&suspended), Transition::Reactivate, None, &origin()).0;
    store.commit(&back).await.expect("reactivate");
    let key = updated(&back);
    let events_before = [
        vec![back.events()[0].clone(), suspended.events()[0].clone()],
        unlinked(events_before),
    ]
    .concat();
    let mut original = key.clone();
    original.version -= 2;
    assert_eq!(original.status, key.status);
    assert!(matches!(
        store
            .commit(&Change::status(original, Transition::Revoke, Some(reason()), &origin()).0)
            .await,
        Err(StoreError::Changed)
    ));
    // Another org's view of the key: refused, and the intruder's audit trail
    // stays empty too.
    let intruding = Change::delete(other_org.clone(), &origin());
    assert!(store.commit(&intruding).await.is_err());
    assert_eq!(store.get(key.id).await.expect("get"), Some(key.clone()));
    assert_eq!(unlinked(events_of(&store, "acme").await), events_before);
    assert!(events_of(&store, "intruder").await.is_empty());
    // A key that is gone.
    let mut gone = record("acme", "gone");
    gone.id = KeyId::generate();
    gone.budget = gone.id;
    assert!(matches!(
        store.commit(&Change::delete(gone, &origin())).await,
        Err(StoreError::Changed)
    ));
}

/// A fault in the middle of a change (a rotation whose old key is written
/// first, then whose successor's id turns out to exist) leaves both keys and
/// the audit trail exactly as they were.
pub async fn a_change_that_fails_halfway_leaves_nothing<S: Store>(store: S) {
    let old = key_in(&store, "acme", KeyStatus::Active).await;
    let existing = key_in(&store, "acme", KeyStatus::Active).await;
    let events_before = events_of(&store, "acme").await;
    let mut clash = record("acme", "successor");
    clash.id = existing.id;
    let successor = record("acme", "successor");
    let rotation = Rotation {
        grace_secs: 0,
        reason: None,
    };
    let doomed = Change::rotate(old.clone(), clash, &rotation, &origin()).0;
    assert!(matches!(
        store.commit(&doomed).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(existing.id).await.expect("get"), Some(existing));
    assert_eq!(store.get(old.id).await.expect("get"), Some(old.clone()));
    assert_eq!(store.get(successor.id).await.expect("get"), None);
    assert_eq!(events_of(&store, "acme").await, events_before);
    // The same rotation with a fresh successor id goes through, whole.
    let ok = Change::rotate(old.clone(), successor.clone(), &rotation, &origin()).0;
    store.commit(&ok).await.expect("rotate");
    let retired = store.get(old.id).await.expect("get").expect("old");
    assert_eq!(retired.status, KeyStatus::Revoked);
    assert_eq!(retired.rotated_to, Some(successor.id));
    let new = store.get(successor.id).await.expect("get").expect("new");
    assert_eq!(new.rotated_from, Some(old.id));
    assert_eq!(
        events_of(&store, "acme").await.len(),
        events_before.len() + 2,
        "the old key's rotate and the new key's create"
    );
}
