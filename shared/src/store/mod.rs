//! The storage port. The embedded (redb) and DynamoDB adapters implement
//! [`Store`]; nothing outside an adapter knows how records are laid out.

use std::future::Future;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::audit::{AuditEvent, EventFilter, EventId};
use crate::change::{Change, MalformedChange, Refused};
use crate::key::KeyId;
use crate::model::{KeyRecord, OrgId, StatusFilter, Timestamp};

pub mod dynamodb;
pub mod embedded;

pub use dynamodb::DynamoDbStore;
pub use embedded::EmbeddedStore;

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
    /// (see [`crate::change::ActorGuard`]); nothing was written.
    #[error("the calling key changed while the request ran")]
    ActorChanged,
    /// Throttled, down or timed out: worth retrying later.
    #[error("the key store is unavailable: {reason}")]
    Unavailable {
        reason: String,
        retry_after: Duration,
    },
    /// The store answered with something keygate did not write.
    #[error("the key store returned an unreadable record: {0}")]
    Corrupt(String),
    /// A change that breaks the port's rules (a bug, never the caller's input).
    #[error("refused a malformed change: {0}")]
    Malformed(#[from] MalformedChange),
    /// Anything else the store reported (misconfiguration, permissions).
    #[error("the key store failed: {0}")]
    Failed(String),
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

    /// Whether the store holds no keys at all (first start of `keygate serve`).
    fn is_empty(&self) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// The opaque pagination cursor: which org and filter it belongs to and the
/// last id served, with a CRC so a damaged cursor is a 400, not a wrong page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub org: OrgId,
    /// The list and filter it continues, e.g. `active` or `events:<key>:`.
    pub scope: String,
    /// The last id served (a key id or an event id).
    pub after: u128,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("cursor is not one keygate issued")]
    Malformed,
    #[error("cursor belongs to another organization")]
    OtherOrg,
    #[error("cursor was issued for another filter; repeat the filter it was issued with")]
    OtherFilter,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let payload = format!(
            "1|{}|{}|{}",
            self.org.as_str(),
            self.scope,
            crate::key::KeyId::from_u128(self.after)
        );
        let crc = crc32fast::hash(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(format!("{payload}|{crc:08x}"))
    }

    /// Decode a cursor and check that it belongs to this caller and filter.
    pub fn decode(text: &str, org: &OrgId, scope: &str) -> Result<Self, CursorError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| CursorError::Malformed)?;
        let text = String::from_utf8(bytes).map_err(|_| CursorError::Malformed)?;
        let (payload, crc) = text.rsplit_once('|').ok_or(CursorError::Malformed)?;
        if format!("{:08x}", crc32fast::hash(payload.as_bytes())) != crc {
            return Err(CursorError::Malformed);
        }
        let mut parts = payload.split('|');
        let (Some("1"), Some(org_text), Some(scope_text), Some(id_text), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(CursorError::Malformed);
        };
        let cursor_org = OrgId::new(org_text).map_err(|_| CursorError::Malformed)?;
        let after = KeyId::parse(id_text)
            .map_err(|_| CursorError::Malformed)?
            .as_u128();
        if &cursor_org != org {
            return Err(CursorError::OtherOrg);
        }
        if scope_text != scope {
            return Err(CursorError::OtherFilter);
        }
        Ok(Cursor {
            org: cursor_org,
            scope: scope_text.to_owned(),
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
            scope: "active".into(),
            after: 42,
        };
        let text = c.encode();
        assert_eq!(Cursor::decode(&text, &org("acme"), "active"), Ok(c.clone()));
        assert_eq!(
            Cursor::decode(&text, &org("other"), "active"),
            Err(CursorError::OtherOrg)
        );
        assert_eq!(
            Cursor::decode(&text, &org("acme"), "all"),
            Err(CursorError::OtherFilter)
        );
        for bad in ["", "!!!", &text[1..], &format!("{text}A")] {
            assert!(
                Cursor::decode(bad, &org("acme"), "active").is_err(),
                "{bad}"
            );
        }
    }
}
