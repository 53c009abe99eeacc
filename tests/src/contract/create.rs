//! Creating a key: it is stored as created, with its event, and never
//! overwrites another.

use keygate::domain::change::Change;
use keygate::domain::id::KeyId;
use keygate::store::{Store, StoreError};

use super::{events_of, origin, record, unlinked};

pub async fn create_then_get<S: Store>(store: S) {
    assert!(store.is_empty().await.expect("is_empty"));
    let r = record("acme", "first");
    let created = Change::create(r.clone(), &origin());
    store.commit(&created).await.expect("create");
    assert_eq!(store.get(r.id).await.expect("get"), Some(r.clone()));
    assert!(!store.is_empty().await.expect("is_empty"));
    assert_eq!(
        unlinked(events_of(&store, "acme").await),
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
