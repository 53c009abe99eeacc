//! The store contract: one suite, run against every `Store` implementation by
//! [`contract_suite!`](crate::contract_suite). Each case takes a fresh, empty
//! store. The cases here hold the port itself to its promises; the ones in
//! [`crate::scenarios`] drive the same store through the HTTP API.

use keygate::domain::audit::{Actor, AuditAction, EventFilter};
use keygate::domain::change::{Change, KeyWrite, Origin};
use keygate::domain::id::EventId;
use keygate::domain::id::KeyId;
use keygate::domain::key::KeyFormat;
use keygate::domain::lifecycle::{Check, Rotation, Transition, check};
use keygate::domain::org::OrgId;
use keygate::domain::record::{KeyRecord, KeyStatus, KeyType, StatusFilter};
use keygate::domain::scope::Permissions;
use keygate::domain::text::{KeyName, RevokeReason};
use keygate::domain::time::Timestamp;
use keygate::store::{Store, StoreError};

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

/// A change made by key 7 through a request, 5 seconds from now.
pub fn origin() -> Origin {
    Origin::new(
        Actor::Key {
            id: KeyId::from_u128(7),
            hint: "kg_...test".into(),
        },
        Timestamp::now().plus_seconds(5),
        "contract-request",
        Some("203.0.113.1"),
        Some("contract-test/1"),
    )
}

fn reason() -> RevokeReason {
    RevokeReason::new("contract test").expect("reason")
}

/// Commit a create of a fresh key of `org` and bring it into `status`.
pub async fn key_in<S: Store>(store: &S, org_id: &str, status: KeyStatus) -> KeyRecord {
    let r = record(org_id, "lifecycle");
    store
        .commit(&Change::create(r.clone(), &origin()))
        .await
        .expect("create");
    let transition = match status {
        KeyStatus::Active => return r,
        KeyStatus::Suspended => Transition::Suspend,
        KeyStatus::Revoked => Transition::Revoke,
    };
    let change = Change::status(r, transition, Some(reason()), &origin()).0;
    store.commit(&change).await.expect("transition");
    updated(&change)
}

/// The key as a change's (first) update leaves it.
pub fn updated(change: &Change) -> KeyRecord {
    match change.writes().first() {
        Some(KeyWrite::Update { after, .. }) => after.clone(),
        other => panic!("not an update: {other:?}"),
    }
}

async fn events_of<S: Store>(store: &S, org_id: &str) -> Vec<keygate::domain::audit::AuditEvent> {
    crate::all_events(store, &org(org_id), EventFilter::default()).await
}

pub async fn create_then_get<S: Store>(store: S) {
    assert!(store.is_empty().await.expect("is_empty"));
    let r = record("acme", "first");
    let created = Change::create(r.clone(), &origin());
    store.commit(&created).await.expect("create");
    assert_eq!(store.get(r.id).await.expect("get"), Some(r.clone()));
    assert!(!store.is_empty().await.expect("is_empty"));
    assert_eq!(
        events_of(&store, "acme").await,
        vec![created.events()[0].clone()]
    );
    // Never overwrite: the same id again is refused, the record and the
    // audit trail are unchanged.
    let mut clash = record("acme", "clash");
    clash.id = r.id;
    assert!(matches!(
        store.commit(&Change::create(clash, &origin())).await,
        Err(StoreError::AlreadyExists)
    ));
    assert_eq!(store.get(r.id).await.expect("get"), Some(r));
    assert_eq!(events_of(&store, "acme").await.len(), 1);
    assert_eq!(store.get(KeyId::generate()).await.expect("get"), None);
}

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
            };
            let events = store
                .list_events(&org("acme"), filter, 10, None)
                .await
                .expect("events")
                .items;
            assert_eq!(events.first(), change.events().first());
            assert_eq!(events[0].status_before, Some(from));
            assert_eq!(events[0].status_after, Some(transition.target()));
        }
    }
}

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
    let mut events_before = events_before;
    let suspended = Change::status(key.clone(), Transition::Suspend, None, &origin()).0;
    store.commit(&suspended).await.expect("suspend");
    let back = Change::status(updated(&suspended), Transition::Reactivate, None, &origin()).0;
    store.commit(&back).await.expect("reactivate");
    let key = updated(&back);
    events_before = [
        vec![back.events()[0].clone(), suspended.events()[0].clone()],
        events_before,
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
    assert_eq!(events_of(&store, "acme").await, events_before);
    assert!(events_of(&store, "intruder").await.is_empty());
    // A key that is gone.
    let mut gone = record("acme", "gone");
    gone.id = KeyId::generate();
    assert!(matches!(
        store.commit(&Change::delete(gone, &origin())).await,
        Err(StoreError::Changed)
    ));
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
    let stored = store.get(r.id).await.expect("get").expect("key");
    assert_eq!(stored.last_used_at, Some(t0));
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
    // A change decided on a read without the latest use keeps the use.
    let change = Change::status(r, Transition::Suspend, None, &origin()).0;
    store.commit(&change).await.expect("suspend");
    let after = store.get(stored.id).await.expect("get").expect("key");
    assert_eq!(after.last_used_at, Some(t0.plus_seconds(61)));
    assert_eq!(after.status, KeyStatus::Suspended);
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

/// A change is written only while the key that asked for it is still
/// active with the expiry its request saw (the guard), whatever it writes.
pub async fn a_change_requires_its_caller_as_it_was<S: Store>(store: S) {
    use keygate::domain::change::ActorGuard;
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

/// Events of two orgs, listed by every filter, newest first, in pages.
pub async fn events_are_listed_by_every_filter<S: Store>(store: S) {
    let a = key_in(&store, "acme", KeyStatus::Active).await;
    let b = key_in(&store, "acme", KeyStatus::Suspended).await;
    let theirs = key_in(&store, "other", KeyStatus::Revoked).await;
    let a_suspended = Change::status(a.clone(), Transition::Suspend, None, &origin()).0;
    store.commit(&a_suspended).await.expect("suspend a");
    let a_now = updated(&a_suspended);
    store
        .commit(&Change::status(a_now, Transition::Reactivate, None, &origin()).0)
        .await
        .expect("reactivate a");
    let all = events_of(&store, "acme").await;
    // a: create, suspend, reactivate; b: create, suspend.
    assert_eq!(all.len(), 5);
    let ids: Vec<EventId> = all.iter().map(|e| e.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(ids, sorted, "newest first");
    assert!(all.iter().all(|e| e.org_id == org("acme")));
    assert!(all.iter().all(|e| e.key_id != theirs.id));

    let cases = [
        (Some(a.id), None, 3),
        (Some(b.id), None, 2),
        (None, Some(AuditAction::Suspend), 2),
        (None, Some(AuditAction::Create), 2),
        (Some(a.id), Some(AuditAction::Suspend), 1),
        (Some(b.id), Some(AuditAction::Reactivate), 0),
        (Some(theirs.id), None, 0),
    ];
    for (key_id, action, count) in cases {
        let filter = EventFilter { key_id, action };
        let want: Vec<EventId> = all
            .iter()
            .filter(|e| {
                key_id.is_none_or(|k| k == e.key_id) && action.is_none_or(|a| a == e.action)
            })
            .map(|e| e.id)
            .collect();
        assert_eq!(want.len(), count, "{filter:?}");
        // Pages of one: every page exact, the last says no more.
        let mut got = vec![];
        let mut after = None;
        loop {
            let page = store
                .list_events(&org("acme"), filter, 1, after)
                .await
                .expect("page");
            got.extend(page.items.iter().map(|e| e.id));
            match page.next_after() {
                Some(e) => after = Some(e.id),
                None => break,
            }
        }
        assert_eq!(got, want, "{filter:?}");
    }
}

/// Expands to one `#[tokio::test]` per contract case and per HTTP scenario;
/// `$make` builds a fresh store.
#[macro_export]
macro_rules! contract_suite {
    ($make:expr) => {
        $crate::contract_suite!(@cases $make;
            contract::create_then_get,
            contract::every_applied_transition,
            contract::a_change_to_a_key_that_changed_is_refused,
            contract::delete_removes_the_key_but_keeps_its_history,
            contract::last_use_is_recorded_at_most_once_per_window,
            contract::a_change_that_fails_halfway_leaves_nothing,
            contract::events_are_listed_by_every_filter,
            contract::a_change_requires_its_caller_as_it_was,
            scenarios::pagination_is_exact_newest_first,
            scenarios::racing_transitions_never_undo_a_revoke,
            scenarios::a_key_cannot_change_a_key_it_does_not_cover,
            scenarios::a_key_may_always_act_on_itself,
            scenarios::authority_is_decided_on_the_key_as_written,
            scenarios::a_key_changed_during_its_request_changes_nothing,
            scenarios::a_key_suspended_during_its_request_cannot_revive_or_change_itself,
            scenarios::a_short_lived_key_cannot_mint_a_longer_lived_one,
            scenarios::bootstrap_recovers_a_locked_out_organization,
            scenarios::rotation_without_grace_revokes_the_old_key_at_once,
            scenarios::rotation_with_grace_keeps_the_old_key_until_it_ends,
            scenarios::rotation_refuses_what_cannot_be_rotated,
            scenarios::racing_rotations_make_exactly_one_successor,
            scenarios::every_change_leaves_exactly_one_event,
            scenarios::refused_calls_leave_no_event,
            scenarios::the_audit_api_filters_pages_and_isolates,
        );
    };
    (@cases $make:expr; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::$module::$case($make).await
            }
        )*
    };
}

/// Put `record` into `store` as-is (with its create event): fixtures that
/// need a key with a particular id.
pub async fn seed<S: Store>(store: &S, record: &KeyRecord) {
    store
        .commit(&Change::create(record.clone(), &origin()))
        .await
        .expect("seed a key");
}

/// The calling key every management fixture's authorizer context names
/// (org `acme`, full access, no expiry): another key than the one they act
/// on, since a key cannot reactivate itself.
pub const FIXTURE_CALLER_ID: &str = "0354eiuPHXWwV73zzxesAd";

/// The key of `infra/events/authorizer.json`, which every management
/// fixture acts on, and the key they act as ([`FIXTURE_CALLER_ID`]), both
/// in org `acme` with full access, put into `store`. Returns the first's id.
pub async fn seed_fixture_key<S: Store>(store: &S) -> KeyId {
    let mut caller = record("acme", "fixture caller");
    caller.id = KeyId::parse(FIXTURE_CALLER_ID).expect("a key id");
    caller.hint = "kg_...Adm1".into();
    caller.permissions = Permissions::Full;
    seed(store, &caller).await;
    let full = crate::fixture_key();
    let format = KeyFormat::default();
    let parsed = format.parse(&full).expect("the fixture key is well-formed");
    let mut fixture = record("acme", "fixture");
    fixture.id = parsed.id;
    fixture.secret_hash = format.hasher().hash(parsed.secret());
    fixture.hint = format!("kg_...{}", &full[full.len() - 4..]);
    fixture.permissions = Permissions::Full;
    seed(store, &fixture).await;
    parsed.id
}
