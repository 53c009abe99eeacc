//! The store contract on the embedded (redb) store, plus what only it
//! shows: one commit per change, persistence, the lock, retention, and the
//! bytes at rest.

use keygate::domain::audit::{AuditAction, EventFilter};
use keygate::domain::change::Change;
use keygate::domain::record::KeyStatus;
use keygate::store::{EmbeddedStore, Store, embedded::OpenError};
use keygate_tests::contract::{key_in, org, origin, record, unlinked};
use keygate_tests::{CountingStore, Harness, all_events, assert_no_secret};
use serde_json::json;

keygate_tests::contract_suite!(EmbeddedStore::in_memory().expect("in-memory store"));

/// The file-backed store keeps everything across a reopen, and a second
/// process-level open of the same directory is refused while the first is open.
#[tokio::test]
async fn the_file_store_survives_a_reopen_and_is_locked_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let record = record("acme", "persisted");
    let change = Change::create(record.clone(), &origin());
    {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store.commit(&change).await.unwrap();
        assert!(matches!(
            EmbeddedStore::open(dir.path()),
            Err(OpenError::Locked(_))
        ));
    }
    let reopened = EmbeddedStore::open(dir.path()).unwrap();
    assert_eq!(reopened.get(record.id).await.unwrap(), Some(record));
    let events = reopened
        .list_events(&org("acme"), EventFilter::default(), 10, None)
        .await
        .unwrap();
    assert_eq!(unlinked(events.items), vec![change.events()[0].clone()]);
}

/// No 12-character window of any key's secret is anywhere in the data file,
/// after creates, a rotation (which shows a new key) and revocations.
#[tokio::test]
async fn nothing_secret_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let h = Harness::new(EmbeddedStore::open(dir.path()).unwrap());
    let root = h.root_key("acme").await;
    let (key, record) = h
        .create(&root, json!({"name": "k", "key_type": "service"}))
        .await;
    let id = record["id"].as_str().unwrap();
    let rotated = h.act(&root, id, "rotate", Some("{}")).await;
    let successor = rotated.body["key"].as_str().unwrap().to_owned();
    drop(h);
    let bytes = std::fs::read(dir.path().join(keygate::store::embedded::DATA_FILE)).unwrap();
    assert!(!bytes.is_empty());
    assert_no_secret(&bytes, &[&root, &key, &successor], "the data file");
}

/// With a retention set, events older than it are removed as later changes
/// are written; without one, they stay.
#[tokio::test]
async fn audit_retention_removes_old_events() {
    let store = EmbeddedStore::in_memory()
        .unwrap()
        .with_audit_retention(Some(1));
    let old = key_in(&store, "acme", KeyStatus::Suspended).await;
    let org = org("acme");
    assert_eq!(
        all_events(&store, &org, EventFilter::default()).await.len(),
        2
    );
    // A change two days later: the day-old retention drops the two events.
    let mut later = origin();
    later.at = later.at.plus_seconds(2 * 86_400);
    let fresh = record("acme", "fresh");
    store
        .commit(&Change::create(fresh.clone(), &later))
        .await
        .unwrap();
    let left = all_events(&store, &org, EventFilter::default()).await;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].key_id, fresh.id);
    let by_key = store
        .list_events(
            &org,
            EventFilter {
                key_id: Some(old.id),
                action: Some(AuditAction::Suspend),
                ..EventFilter::default()
            },
            100,
            None,
        )
        .await
        .unwrap();
    assert!(by_key.items.is_empty(), "gone from every index");

    let forever = EmbeddedStore::in_memory().unwrap();
    key_in(&forever, "acme", KeyStatus::Active).await;
    let mut much_later = origin();
    much_later.at = much_later.at.plus_seconds(3650 * 86_400);
    forever
        .commit(&Change::create(record("acme", "x"), &much_later))
        .await
        .unwrap();
    assert_eq!(
        all_events(&forever, &org, EventFilter::default())
            .await
            .len(),
        2,
        "kept forever without a retention"
    );
}

/// On the embedded store, each applied transition is exactly one commit (its
/// write and its event), a repeat none: the embedded twin of the DynamoDB
/// store's one-conditional-transaction check.
#[tokio::test]
async fn each_transition_is_one_commit_and_a_repeat_none() {
    use std::sync::atomic::Ordering;
    let h = Harness::new(CountingStore::new(
        keygate::store::EmbeddedStore::in_memory().unwrap(),
    ));
    let root = h.root_key("acme").await;
    let (_, target) = h.create_scoped(&root, &["runs:read"]).await;
    let id = target["id"].as_str().unwrap();
    for (verb, body, commits) in [
        ("suspend", None, 1),
        ("suspend", None, 0),
        ("reactivate", None, 1),
        ("reactivate", None, 0),
        ("revoke", Some(r#"{"reason":"r"}"#), 1),
        ("revoke", Some(r#"{"reason":"r"}"#), 0),
        ("suspend", None, 0),
    ] {
        let before = h.store().commits.load(Ordering::SeqCst);
        let reply = h.act(&root, id, verb, body).await;
        assert!(reply.status == 200 || reply.status == 409, "{verb}");
        assert_eq!(
            h.store().commits.load(Ordering::SeqCst) - before,
            commits,
            "{verb}"
        );
    }
}

/// The data directory and its file are their owner's alone (0700, 0600),
/// whatever the umask: the file holds every key's hash and the audit trail.
/// An existing file is made so too.
#[tokio::test]
async fn the_data_directory_and_file_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    drop(EmbeddedStore::open(&dir).expect("open"));
    assert_eq!(mode(&dir), 0o700);
    let file = dir.join(keygate::store::embedded::DATA_FILE);
    assert_eq!(mode(&file), 0o600);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    drop(EmbeddedStore::open(&dir).expect("reopen"));
    assert_eq!(mode(&file), 0o600, "an existing file is tightened");
}

/// A data file written before keys were searchable and counted and events
/// indexed by actor (its tables for them missing) gets them as it opens:
/// searches, counts and the actor filter answer as for a new file.
#[tokio::test]
async fn an_older_data_file_is_indexed_and_counted_as_it_opens() {
    use keygate::domain::search::{KeyCounts, KeyQuery, KeySearch};
    use keygate::domain::text::KeyName;
    let dir = tempfile::tempdir().unwrap();
    let org = org("acme");
    let (suspended, actor) = {
        let store = EmbeddedStore::open(dir.path()).unwrap();
        let suspended = key_in(&store, "acme", KeyStatus::Suspended).await;
        key_in(&store, "acme", KeyStatus::Active).await;
        (suspended, origin().actor.key_id().unwrap())
    };
    {
        let db =
            redb::Database::create(dir.path().join(keygate::store::embedded::DATA_FILE)).unwrap();
        let txn = db.begin_write().unwrap();
        type Search =
            redb::TableDefinition<'static, (&'static str, &'static str, &'static str), u128>;
        for table in ["keys_by_name", "keys_by_type"] {
            assert!(txn.delete_table(Search::new(table)).unwrap(), "{table}");
        }
        let counts: redb::TableDefinition<&str, &[u8]> = redb::TableDefinition::new("key_counts");
        let by_actor: redb::TableDefinition<(&str, u128, u128), ()> =
            redb::TableDefinition::new("events_by_actor");
        let by_actor_action: redb::TableDefinition<(&str, u128, &str, u128), ()> =
            redb::TableDefinition::new("events_by_actor_action");
        assert!(txn.delete_table(counts).unwrap());
        assert!(txn.delete_table(by_actor).unwrap());
        assert!(txn.delete_table(by_actor_action).unwrap());
        txn.commit().unwrap();
    }
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let keys = store
        .list(&org, keygate::domain::record::StatusFilter::All, 10, None)
        .await
        .unwrap()
        .items;
    assert_eq!(
        store.counts(&org).await.unwrap(),
        Some(KeyCounts::of(&keys)),
        "counted"
    );
    let found = store
        .search(
            &org,
            &KeyQuery {
                status: keygate::domain::record::StatusFilter::Only(KeyStatus::Suspended),
                search: KeySearch::name_prefix(&KeyName::new("LIFE").unwrap()),
            },
            10,
            None,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(found, vec![suspended], "searchable");
    let by_actor = store
        .list_events(
            &org,
            EventFilter {
                actor: Some(actor),
                ..EventFilter::default()
            },
            10,
            None,
        )
        .await
        .unwrap()
        .items;
    assert_eq!(
        by_actor.len(),
        3,
        "two creates and a suspend, by their actor"
    );
}
