//! When a key was last used: recorded at most once per window, and kept by a
//! change decided on a read that did not see it.

use keygate::domain::change::Change;
use keygate::domain::id::KeyId;
use keygate::domain::lifecycle::Transition;
use keygate::domain::record::KeyStatus;
use keygate::domain::time::Timestamp;
use keygate::store::Store;

use super::{key_in, origin};

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
