//! Store wrappers that make a path observable (how often it touches the
//! store) or a race deterministic (a stale read, a change made meanwhile),
//! and a reader of a whole audit trail.

use std::sync::atomic::{AtomicUsize, Ordering};

use keygate::domain::audit::chain::ChainHead;
use keygate::domain::audit::{AuditEvent, EventFilter};
use keygate::domain::change::Change;
use keygate::domain::id::{EventId, KeyId};
use keygate::domain::limits::{Admission, Counters, Limits};
use keygate::domain::org::OrgId;
use keygate::domain::record::{KeyRecord, StatusFilter};
use keygate::domain::search::{KeyCounts, KeyQuery};
use keygate::domain::time::Timestamp;
use keygate::store::{Page, Store, StoreError};

/// A store wrapper that counts calls, to prove which paths touch the store;
/// and, made [`CountingStore::uncountable`], one whose usage counters cannot
/// be written (throttled, say): every count fails as DynamoDB's throttling
/// does, everything else works.
pub struct CountingStore<S> {
    pub inner: S,
    pub gets: AtomicUsize,
    pub commits: AtomicUsize,
    pub admits: AtomicUsize,
    pub calls: AtomicUsize,
    admits_fail: bool,
}

impl<S> CountingStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            gets: AtomicUsize::new(0),
            commits: AtomicUsize::new(0),
            admits: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            admits_fail: false,
        }
    }

    /// A store whose every count fails with throttling.
    pub fn uncountable(inner: S) -> Self {
        Self {
            admits_fail: true,
            ..Self::new(inner)
        }
    }

    pub fn total(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

impl<S: Store> Store for CountingStore<S> {
    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.tick();
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(id).await
    }
    async fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        self.tick();
        self.inner.list(org, filter, limit, after).await
    }
    async fn search(
        &self,
        org: &OrgId,
        query: &KeyQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        self.tick();
        self.inner.search(org, query, limit, after).await
    }
    async fn counts(&self, org: &OrgId) -> Result<Option<KeyCounts>, StoreError> {
        self.tick();
        self.inner.counts(org).await
    }
    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        self.tick();
        self.commits.fetch_add(1, Ordering::SeqCst);
        self.inner.commit(change).await
    }
    async fn list_events(
        &self,
        org: &OrgId,
        filter: EventFilter,
        limit: usize,
        after: Option<EventId>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        self.tick();
        self.inner.list_events(org, filter, limit, after).await
    }
    async fn record_use(
        &self,
        id: KeyId,
        at: Timestamp,
        unless_after: Timestamp,
    ) -> Result<bool, StoreError> {
        self.tick();
        self.inner.record_use(id, at, unless_after).await
    }
    async fn chain_head(&self, org: &OrgId) -> Result<Option<ChainHead>, StoreError> {
        self.tick();
        self.inner.chain_head(org).await
    }
    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.tick();
        self.inner.is_empty().await
    }
    async fn admit(
        &self,
        budget: KeyId,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Admission, StoreError> {
        self.tick();
        self.admits.fetch_add(1, Ordering::SeqCst);
        if self.admits_fail {
            return Err(StoreError::Unavailable {
                reason: "ProvisionedThroughputExceededException".into(),
                retry_after: std::time::Duration::from_secs(1),
                source: None,
            });
        }
        self.inner.admit(budget, limits, now_ms).await
    }
    async fn counters(&self, budget: KeyId, limits: &Limits) -> Result<Counters, StoreError> {
        self.tick();
        self.inner.counters(budget, limits).await
    }
}

/// A store whose first read of one key returns a stale copy of it, as if the
/// key had changed between a handler's read and its write: races made
/// deterministic.
pub struct StaleReadStore<S> {
    pub inner: S,
    stale: std::sync::Mutex<Option<KeyRecord>>,
    /// The key whose read triggers the change, how many of its reads pass
    /// first, and the change.
    meanwhile: std::sync::Mutex<Option<(KeyId, usize, Change)>>,
    pub served: std::sync::atomic::AtomicBool,
}

impl<S> StaleReadStore<S> {
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            stale: std::sync::Mutex::new(None),
            meanwhile: std::sync::Mutex::new(None),
            served: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The next read of `stale.id` returns `stale`, once.
    pub fn serve_once(&self, stale: KeyRecord) {
        *self.stale.lock().expect("lock") = Some(stale);
    }

    /// Just before the next read of `id`, `change` is committed, once: as
    /// if another request made it while this one ran.
    pub fn meanwhile(&self, id: KeyId, change: Change) {
        self.meanwhile_after_reads(id, 0, change);
    }

    /// As [`Self::meanwhile`], but `reads` reads of `id` pass first: with 1,
    /// a key's change lands after the authorizer read it and before its
    /// request's handler does.
    pub fn meanwhile_after_reads(&self, id: KeyId, reads: usize, change: Change) {
        *self.meanwhile.lock().expect("lock") = Some((id, reads, change));
    }
}

impl<S: Store> Store for StaleReadStore<S> {
    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let meanwhile = {
            let mut slot = self.meanwhile.lock().expect("lock");
            match slot.as_mut() {
                Some((at, 0, _)) if *at == id => slot.take(),
                Some((at, reads, _)) if *at == id => {
                    *reads -= 1;
                    None
                }
                _ => None,
            }
        };
        if let Some((_, _, change)) = meanwhile {
            self.inner.commit(&change).await?;
            self.served.store(true, Ordering::SeqCst);
        }
        let stale = {
            let mut slot = self.stale.lock().expect("lock");
            match slot.as_ref() {
                Some(r) if r.id == id => slot.take(),
                _ => None,
            }
        };
        if let Some(stale) = stale {
            self.served.store(true, Ordering::SeqCst);
            return Ok(Some(stale));
        }
        self.inner.get(id).await
    }
    async fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        self.inner.list(org, filter, limit, after).await
    }
    async fn search(
        &self,
        org: &OrgId,
        query: &KeyQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        self.inner.search(org, query, limit, after).await
    }
    async fn counts(&self, org: &OrgId) -> Result<Option<KeyCounts>, StoreError> {
        self.inner.counts(org).await
    }
    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        self.inner.commit(change).await
    }
    async fn list_events(
        &self,
        org: &OrgId,
        filter: EventFilter,
        limit: usize,
        after: Option<EventId>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        self.inner.list_events(org, filter, limit, after).await
    }
    async fn record_use(
        &self,
        id: KeyId,
        at: Timestamp,
        unless_after: Timestamp,
    ) -> Result<bool, StoreError> {
        self.inner.record_use(id, at, unless_after).await
    }
    async fn chain_head(&self, org: &OrgId) -> Result<Option<ChainHead>, StoreError> {
        self.inner.chain_head(org).await
    }
    async fn is_empty(&self) -> Result<bool, StoreError> {
        self.inner.is_empty().await
    }
    async fn admit(
        &self,
        budget: KeyId,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Admission, StoreError> {
        self.inner.admit(budget, limits, now_ms).await
    }
    async fn counters(&self, budget: KeyId, limits: &Limits) -> Result<Counters, StoreError> {
        self.inner.counters(budget, limits).await
    }
}

/// Every audit event of `org` in `store` matching `filter`, newest first,
/// page after page.
pub async fn all_events<S: Store>(store: &S, org: &OrgId, filter: EventFilter) -> Vec<AuditEvent> {
    let mut all = vec![];
    let mut after: Option<EventId> = None;
    loop {
        let page = store
            .list_events(org, filter, 100, after)
            .await
            .expect("list events");
        let next = page.next_after().map(|e| e.id);
        all.extend(page.items);
        match next {
            Some(id) => after = Some(id),
            None => return all,
        }
    }
}
