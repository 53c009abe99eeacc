//! The storage port. The embedded (redb) and DynamoDB adapters implement
//! [`Store`]; nothing outside an adapter knows how records are laid out.

use std::future::Future;
use std::time::Duration;

use crate::domain::audit::chain::ChainHead;
use crate::domain::audit::{AuditEvent, EventFilter};
use crate::domain::change::{Change, MalformedChange, Refused};
use crate::domain::id::EventId;
use crate::domain::id::KeyId;
use crate::domain::limits::{Admission, Counters, Limits};
use crate::domain::org::OrgId;
use crate::domain::record::{KeyRecord, StatusFilter};
use crate::domain::search::{KeyCounts, KeyQuery};
use crate::domain::time::Timestamp;

pub mod dynamodb;
pub mod embedded;

pub use dynamodb::DynamoDbStore;
pub use embedded::EmbeddedStore;

/// What a store reports besides its own outcomes: the SDK's or redb's error,
/// kept whole so the chain of causes can be logged.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write's condition failed: a key it updates or deletes is no longer
    /// as the change read it (or is gone). Read again and decide again.
    #[error("the key changed since it was read")]
    Changed,
    /// A record with this id already exists.
    #[error("a key with this id already exists")]
    AlreadyExists,
    /// The key that asked for the change is no longer as its request saw it
    /// (see [`crate::domain::change::ActorGuard`]); nothing was written.
    #[error("the calling key changed while the request ran")]
    ActorChanged,
    /// Throttled, down or timed out: worth retrying later.
    #[error("the key store is unavailable: {reason}")]
    Unavailable {
        reason: String,
        retry_after: Duration,
        #[source]
        source: Option<BoxError>,
    },
    /// The store answered with something keygate did not write.
    #[error("the key store returned an unreadable record: {0}")]
    Corrupt(String),
    /// A change that breaks the port's rules (a bug, never the caller's input).
    #[error("refused a malformed change: {0}")]
    Malformed(#[from] MalformedChange),
    /// Anything else the store reported (misconfiguration, permissions).
    #[error("the key store failed")]
    Failed(#[source] BoxError),
}

impl StoreError {
    /// A fault with no error value behind it, described in words.
    pub fn failed(message: impl Into<String>) -> Self {
        StoreError::Failed(message.into().into())
    }
}

impl From<Refused> for StoreError {
    fn from(e: Refused) -> Self {
        match e {
            Refused::Malformed(m) => StoreError::Malformed(m),
            Refused::ActorChanged => StoreError::ActorChanged,
        }
    }
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Whether more items follow the last one of this page.
    pub more: bool,
}

impl<T> Page<T> {
    /// A page from up to `limit + 1` items read newest first: the extra one
    /// only tells that another page follows.
    pub fn from_overfetch(mut items: Vec<T>, limit: usize) -> Self {
        let more = items.len() > limit;
        items.truncate(limit);
        Page { items, more }
    }

    /// The last item, when another page follows it.
    pub fn next_after(&self) -> Option<&T> {
        if self.more { self.items.last() } else { None }
    }
}

/// The storage port. Every method is one round trip to the store. Every
/// change is a [`Change`]: its writes and its audit event, applied together
/// or not at all, each write conditional on the state it was decided on.
pub trait Store: Send + Sync + 'static {
    /// A strongly consistent read by id, any organization.
    fn get(&self, id: KeyId) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;

    /// Keys of `org` matching `filter`, newest first, starting after `after`.
    fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> impl Future<Output = Result<Page<KeyRecord>, StoreError>> + Send;

    /// Keys of `org` matching `query`, in its search's order (see
    /// [`crate::domain::search`]), starting after the sort key `after`.
    fn search(
        &self,
        org: &OrgId,
        query: &KeyQuery,
        limit: usize,
        after: Option<&str>,
    ) -> impl Future<Output = Result<Page<KeyRecord>, StoreError>> + Send;

    /// How many keys `org` has in each status, as of its last change;
    /// `None` when the store cannot tell exactly (an organization whose
    /// keys predate counting on DynamoDB, until they are counted).
    fn counts(
        &self,
        org: &OrgId,
    ) -> impl Future<Output = Result<Option<KeyCounts>, StoreError>> + Send;

    /// Apply every write of `change` and record its event, atomically.
    /// `AlreadyExists` when an inserted id exists, `Changed` when a key it
    /// updates or deletes is no longer as read; then nothing is written.
    fn commit(&self, change: &Change) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Audit events of `org` matching `filter`, newest first, after `after`.
    fn list_events(
        &self,
        org: &OrgId,
        filter: EventFilter,
        limit: usize,
        after: Option<EventId>,
    ) -> impl Future<Output = Result<Page<AuditEvent>, StoreError>> + Send;

    /// Set `last_used_at = at` unless it is already later than `unless_after`.
    /// Returns whether it wrote. Not audited: it changes no key's state.
    fn record_use(
        &self,
        id: KeyId,
        at: Timestamp,
        unless_after: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The head of `org`'s audit chain: its last event's place and hash
    /// (`None` before its first chained event).
    fn chain_head(
        &self,
        org: &OrgId,
    ) -> impl Future<Output = Result<Option<ChainHead>, StoreError>> + Send;

    /// Whether the store holds no keys at all (first start of `keygate serve`).
    fn is_empty(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Count one request of a key with `limits` in `budget`'s counters at
    /// `now_ms`, unless one more would exceed a limit: then count nothing.
    /// Exact however many processes count at once (see
    /// [`crate::domain::limits::plan`]). Not audited: it changes no key.
    fn admit(
        &self,
        budget: KeyId,
        limits: &Limits,
        now_ms: i64,
    ) -> impl Future<Output = Result<Admission, StoreError>> + Send;

    /// `budget`'s counters for `limits`, as stored now (strongly consistent).
    fn counters(
        &self,
        budget: KeyId,
        limits: &Limits,
    ) -> impl Future<Output = Result<Counters, StoreError>> + Send;
}

/// Either adapter, chosen at start-up (`keygate serve --data` or `--table`).
pub enum AnyStore {
    Embedded(EmbeddedStore),
    DynamoDb(DynamoDbStore),
}

macro_rules! delegate {
    ($self:ident, $s:ident => $call:expr) => {
        match $self {
            AnyStore::Embedded($s) => $call.await,
            AnyStore::DynamoDb($s) => $call.await,
        }
    };
}

impl Store for AnyStore {
    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        delegate!(self, s => s.get(id))
    }
    async fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        delegate!(self, s => s.list(org, filter, limit, after))
    }
    async fn search(
        &self,
        org: &OrgId,
        query: &KeyQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        delegate!(self, s => s.search(org, query, limit, after))
    }
    async fn counts(&self, org: &OrgId) -> Result<Option<KeyCounts>, StoreError> {
        delegate!(self, s => s.counts(org))
    }
    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        delegate!(self, s => s.commit(change))
    }
    async fn list_events(
        &self,
        org: &OrgId,
        filter: EventFilter,
        limit: usize,
        after: Option<EventId>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        delegate!(self, s => s.list_events(org, filter, limit, after))
    }
    async fn record_use(
        &self,
        id: KeyId,
        at: Timestamp,
        unless_after: Timestamp,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.record_use(id, at, unless_after))
    }
    async fn chain_head(&self, org: &OrgId) -> Result<Option<ChainHead>, StoreError> {
        delegate!(self, s => s.chain_head(org))
    }
    async fn is_empty(&self) -> Result<bool, StoreError> {
        delegate!(self, s => s.is_empty())
    }
    async fn admit(
        &self,
        budget: KeyId,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Admission, StoreError> {
        delegate!(self, s => s.admit(budget, limits, now_ms))
    }
    async fn counters(&self, budget: KeyId, limits: &Limits) -> Result<Counters, StoreError> {
        delegate!(self, s => s.counters(budget, limits))
    }
}
