//! The storage port. The embedded (redb) and DynamoDB adapters implement
//! [`Store`]; nothing outside an adapter knows how records are laid out.

use std::future::Future;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::key::KeyId;
use crate::lifecycle::StatusChange;
use crate::model::{KeyRecord, KeyStatus, OrgId, StatusFilter, Timestamp};

pub mod dynamodb;
pub mod embedded;

pub use dynamodb::DynamoDbStore;
pub use embedded::EmbeddedStore;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such key in this organization.
    #[error("no such key")]
    NotFound,
    /// The transition is not allowed from the key's current state.
    #[error("the key is {current}")]
    Conflict { current: KeyStatus },
    /// A record with this id already exists.
    #[error("a key with this id already exists")]
    AlreadyExists,
    /// Throttled, down or timed out: worth retrying later.
    #[error("the key store is unavailable: {reason}")]
    Unavailable {
        reason: String,
        retry_after: Duration,
    },
    /// The store answered with something keygate did not write.
    #[error("the key store returned an unreadable record: {0}")]
    Corrupt(String),
    /// Anything else the store reported (misconfiguration, permissions).
    #[error("the key store failed: {0}")]
    Failed(String),
}

/// One page of a list, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<KeyRecord>,
    /// The last id of this page when more keys follow.
    pub next_after: Option<KeyId>,
}

impl Page {
    /// A page from up to `limit + 1` records read newest first: the extra one
    /// only tells that another page follows.
    pub fn from_overfetch(mut records: Vec<KeyRecord>, limit: usize) -> Self {
        let more = records.len() > limit;
        records.truncate(limit);
        let next_after = if more {
            records.last().map(|r| r.id)
        } else {
            None
        };
        Page {
            records,
            next_after,
        }
    }
}

/// The storage port. Every method is one round trip to the store; transitions
/// and deletes are conditional writes, so concurrent callers cannot undo a revoke.
pub trait Store: Send + Sync + 'static {
    /// Insert a new record; fails with `AlreadyExists` rather than overwrite.
    fn insert(&self, record: &KeyRecord) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A strongly consistent read by id, any organization.
    fn get(&self, id: KeyId) -> impl Future<Output = Result<Option<KeyRecord>, StoreError>> + Send;

    /// Keys of `org` matching `filter`, newest first, starting after `after`.
    fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// Apply `change` if the key belongs to `org` and its status allows it.
    /// Returns the key afterwards; the unchanged key when it already had the
    /// target status; `NotFound` or `Conflict` otherwise.
    fn transition(
        &self,
        org: &OrgId,
        id: KeyId,
        change: &StatusChange,
    ) -> impl Future<Output = Result<KeyRecord, StoreError>> + Send;

    /// Remove the key if it belongs to `org`, else `NotFound`.
    fn delete(&self, org: &OrgId, id: KeyId)
    -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Set `last_used_at = at` unless it is already later than `unless_after`.
    /// Returns whether it wrote.
    fn record_use(
        &self,
        id: KeyId,
        at: Timestamp,
        unless_after: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Whether the store holds no keys at all (first start of `keygate serve`).
    fn is_empty(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The opaque pagination cursor: which org and filter it belongs to and the
/// last id served, with a CRC so a damaged cursor is a 400, not a wrong page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub org: OrgId,
    pub filter: StatusFilter,
    pub after: KeyId,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("cursor is not one keygate issued")]
    Malformed,
    #[error("cursor belongs to another organization")]
    OtherOrg,
    #[error("cursor was issued for status={0}")]
    OtherFilter(&'static str),
}

impl Cursor {
    pub fn encode(&self) -> String {
        let payload = format!(
            "1|{}|{}|{}",
            self.org.as_str(),
            self.filter.as_str(),
            self.after
        );
        let crc = crc32fast::hash(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(format!("{payload}|{crc:08x}"))
    }

    /// Decode a cursor and check that it belongs to this caller and filter.
    pub fn decode(text: &str, org: &OrgId, filter: StatusFilter) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| CursorError::Malformed)?;
        let text = String::from_utf8(bytes).map_err(|_| CursorError::Malformed)?;
        let (payload, crc) = text.rsplit_once('|').ok_or(CursorError::Malformed)?;
        if format!("{:08x}", crc32fast::hash(payload.as_bytes())) != crc {
            return Err(CursorError::Malformed);
        }
        let mut parts = payload.split('|');
        let (Some("1"), Some(org_text), Some(filter_text), Some(id_text), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(CursorError::Malformed);
        };
        let cursor_org = OrgId::new(org_text).map_err(|_| CursorError::Malformed)?;
        let cursor_filter = StatusFilter::parse(filter_text).ok_or(CursorError::Malformed)?;
        let after = KeyId::parse(id_text).map_err(|_| CursorError::Malformed)?;
        if &cursor_org != org {
            return Err(CursorError::OtherOrg);
        }
        if cursor_filter != filter {
            return Err(CursorError::OtherFilter(cursor_filter.as_str()));
        }
        Ok(Cursor {
            org: cursor_org,
            filter,
            after,
        })
    }
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
    async fn insert(&self, record: &KeyRecord) -> Result<(), StoreError> {
        delegate!(self, s => s.insert(record))
    }
    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        delegate!(self, s => s.get(id))
    }
    async fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> Result<Page, StoreError> {
        delegate!(self, s => s.list(org, filter, limit, after))
    }
    async fn transition(
        &self,
        org: &OrgId,
        id: KeyId,
        change: &StatusChange,
    ) -> Result<KeyRecord, StoreError> {
        delegate!(self, s => s.transition(org, id, change))
    }
    async fn delete(&self, org: &OrgId, id: KeyId) -> Result<(), StoreError> {
        delegate!(self, s => s.delete(org, id))
    }
    async fn record_use(
        &self,
        id: KeyId,
        at: Timestamp,
        unless_after: Timestamp,
    ) -> Result<bool, StoreError> {
        delegate!(self, s => s.record_use(id, at, unless_after))
    }
    async fn is_empty(&self) -> Result<bool, StoreError> {
        delegate!(self, s => s.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(s: &str) -> OrgId {
        OrgId::new(s).unwrap()
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_org_and_filter() {
        let c = Cursor {
            org: org("acme"),
            filter: StatusFilter::Only(KeyStatus::Active),
            after: KeyId::from_u128(42),
        };
        let text = c.encode();
        assert_eq!(Cursor::decode(&text, &org("acme"), c.filter), Ok(c.clone()));
        assert_eq!(
            Cursor::decode(&text, &org("other"), c.filter),
            Err(CursorError::OtherOrg)
        );
        assert_eq!(
            Cursor::decode(&text, &org("acme"), StatusFilter::All),
            Err(CursorError::OtherFilter("active"))
        );
        for bad in ["", "!!!", &text[1..], &format!("{text}A")] {
            assert!(
                Cursor::decode(bad, &org("acme"), c.filter).is_err(),
                "{bad}"
            );
        }
    }
}
