//! The embedded store: one redb file, for `keygate serve` and for tests.
//!
//! Keys: `keys` (id → record), `keys_by_org` ((org, id) → ()),
//! `keys_by_org_status` ((org, status, id) → ()), and for searches
//! `keys_by_name` and `keys_by_type` ((org, status or `*`, sort key) → id,
//! with the sort keys of [`crate::domain::search`]); `key_counts` (org →
//! its counts, moved by each change in its transaction). Audit events: `events`
//! (id → event) and one index per filter: `events_by_org` ((org, id)),
//! `events_by_key` ((org, key, id)), `events_by_action` ((org, action, id)),
//! `events_by_key_action` ((org, key, action, id)), `events_by_actor`
//! ((org, actor, id)) and `events_by_actor_action` ((org, actor, action,
//! id)). Ids are time-ordered, so a reverse range over an index is "newest
//! first", a page starts exactly after the cursor's id without skipping
//! anything, and a time range is a range of ids.
//!
//! Every change is one redb write transaction (serialised, ACID): its
//! conditions are checked, its writes made and its event recorded before the
//! commit, and an error anywhere drops the transaction with nothing written.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use self::codec::{
    UsageDoc, decode, decode_counts, decode_event, decode_head, decode_usage, encode,
    encode_counts, encode_event, encode_head, encode_usage,
};
use super::{Page, Store, StoreError};
use crate::domain::audit::chain::ChainHead;
use crate::domain::audit::{AuditEvent, EventFilter, EventIndex};
use crate::domain::change::{Change, KeyWrite};
use crate::domain::id::{EventId, KeyId};
use crate::domain::limits::{Admission, Counters, Limits, Planned, plan};
use crate::domain::org::OrgId;
use crate::domain::record::{KeyRecord, StatusFilter};
use crate::domain::search::{
    CountDelta, KeyCounts, KeyQuery, SearchIndex, name_sort_key, type_sort_key,
};
use crate::domain::time::Timestamp;
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};

mod codec;
mod error;

const KEYS: TableDefinition<u128, &[u8]> = TableDefinition::new("keys");
const BY_ORG: TableDefinition<(&str, u128), ()> = TableDefinition::new("keys_by_org");
const BY_STATUS: TableDefinition<(&str, &str, u128), ()> =
    TableDefinition::new("keys_by_org_status");
/// Keys by (org, status or [`ALL`], sort key) → id, for searches by name
/// and by type.
const BY_NAME: TableDefinition<(&str, &str, &str), u128> = TableDefinition::new("keys_by_name");
const BY_TYPE: TableDefinition<(&str, &str, &str), u128> = TableDefinition::new("keys_by_type");
/// The search tables' part for every status (no status is spelt so).
const ALL: &str = "*";
/// Each organization's [`KeyCounts`].
const COUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("key_counts");
const EVENTS: TableDefinition<u128, &[u8]> = TableDefinition::new("events");
const EVENTS_BY_ORG: TableDefinition<(&str, u128), ()> = TableDefinition::new("events_by_org");
const EVENTS_BY_KEY: TableDefinition<(&str, u128, u128), ()> =
    TableDefinition::new("events_by_key");
const EVENTS_BY_ACTION: TableDefinition<(&str, &str, u128), ()> =
    TableDefinition::new("events_by_action");
/// Each organization's audit chain head (see [`crate::domain::chain`]).
const CHAIN_HEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("chain_heads");
const EVENTS_BY_KEY_ACTION: TableDefinition<(&str, u128, &str, u128), ()> =
    TableDefinition::new("events_by_key_action");
/// Each budget's usage counters (budget id → [`UsageDoc`]).
const USAGE: TableDefinition<u128, &[u8]> = TableDefinition::new("usage");

/// A count is made durable (fsync) at most this often; counts in between
/// are committed in memory, and a crash loses at most this much of them.
const USAGE_DURABLE_EVERY_MS: i64 = 1_000;
/// Events by the key that made them (bootstrap events have none).
const EVENTS_BY_ACTOR: TableDefinition<(&str, u128, u128), ()> =
    TableDefinition::new("events_by_actor");
const EVENTS_BY_ACTOR_ACTION: TableDefinition<(&str, u128, &str, u128), ()> =
    TableDefinition::new("events_by_actor_action");

/// The file inside `--data DIR`.
pub const DATA_FILE: &str = "keygate.redb";

/// Expired events removed per change at most, so a purge never makes one
/// change slow; a backlog drains over the following changes.
const PURGE_BATCH: usize = 64;

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    /// Keep audit events this many seconds; `None` keeps them forever.
    retention_secs: Option<i64>,
    /// When a usage count was last committed durably (ms).
    usage_durable_at: Arc<AtomicI64>,
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the data directory {0} is in use by another keygate process (is `keygate serve` running?)"
    )]
    Locked(String),
    #[error("cannot open the data directory {path}")]
    Other {
        path: String,
        #[source]
        source: super::BoxError,
    },
}

/// The data directory and file, readable by their owner only (0700, 0600):
/// the file holds every key's hash and the audit trail. A directory that
/// exists keeps its mode; the file is made the owner's alone either way.
fn create_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    let file = dir.join(DATA_FILE);
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&file)?;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
}

impl EmbeddedStore {
    /// Open (or create) `DIR/keygate.redb`. Fails with `Locked` while another
    /// process has it open.
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        let shown = dir.display().to_string();
        let other = |source: super::BoxError| OpenError::Other {
            path: shown.clone(),
            source,
        };
        create_private(dir).map_err(|e| other(e.into()))?;
        let db = Database::create(dir.join(DATA_FILE)).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => OpenError::Locked(shown.clone()),
            e => other(e.into()),
        })?;
        Self::init(db).map_err(|e| other(e.into()))
    }

    /// A store that lives in memory only (tests and benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder().create_with_backend(redb::backends::InMemoryBackend::new())?;
        Self::init(db)
    }

    /// Remove audit events older than `days` (from the next change on).
    pub fn with_audit_retention(mut self, days: Option<u32>) -> Self {
        self.retention_secs = days.map(|d| i64::from(d) * 86_400);
        self
    }

    fn init(db: Database) -> Result<Self, StoreError> {
        let txn = db.begin_write()?;
        txn.open_table(KEYS)?;
        txn.open_table(BY_ORG)?;
        txn.open_table(BY_STATUS)?;
        txn.open_table(BY_NAME)?;
        txn.open_table(BY_TYPE)?;
        txn.open_table(COUNTS)?;
        txn.open_table(EVENTS)?;
        txn.open_table(EVENTS_BY_ORG)?;
        txn.open_table(EVENTS_BY_KEY)?;
        txn.open_table(EVENTS_BY_ACTION)?;
        txn.open_table(EVENTS_BY_KEY_ACTION)?;
        txn.open_table(CHAIN_HEADS)?;
        txn.open_table(USAGE)?;
        index_actors_of_older_events(&txn)?;
        index_and_count_older_keys(&txn)?;
        txn.commit()?;
        Ok(Self {
            db: Arc::new(db),
            retention_secs: None,
            usage_durable_at: Arc::new(AtomicI64::new(0)),
        })
    }

    /// Run a write transaction off the async executor; commit when `f`
    /// succeeds, drop (abort) it when `f` fails.
    async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || {
            let txn = db.begin_write()?;
            let out = f(&txn)?;
            txn.commit()?;
            Ok(out)
        })
        .await?
    }
}

fn read_usage(txn: &WriteTransaction, budget: KeyId) -> Result<UsageDoc, StoreError> {
    let usage = txn.open_table(USAGE)?;
    let bytes = usage.get(budget.as_u128())?;
    Ok(bytes
        .map(|b| decode_usage(b.value()))
        .transpose()?
        .unwrap_or_default())
}

fn read_record(txn: &WriteTransaction, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
    let keys = txn.open_table(KEYS)?;
    let bytes = keys.get(id.as_u128())?;
    bytes.map(|b| decode(b.value())).transpose()
}

fn write_record(txn: &WriteTransaction, record: &KeyRecord) -> Result<(), StoreError> {
    let mut keys = txn.open_table(KEYS)?;
    keys.insert(record.id.as_u128(), encode(record)?.as_slice())?;
    Ok(())
}

fn insert_key(txn: &WriteTransaction, record: &KeyRecord) -> Result<(), StoreError> {
    if read_record(txn, record.id)?.is_some() {
        return Err(StoreError::AlreadyExists);
    }
    write_record(txn, record)?;
    let (org, id) = (record.org_id.as_str(), record.id.as_u128());
    txn.open_table(BY_ORG)?.insert((org, id), ())?;
    txn.open_table(BY_STATUS)?
        .insert((org, record.status.as_str(), id), ())?;
    index_for_search(txn, record, true)
}

/// Add (or remove) a key's entries in the search tables: by name and by
/// type, each under every status and under its own.
fn index_for_search(
    txn: &WriteTransaction,
    record: &KeyRecord,
    add: bool,
) -> Result<(), StoreError> {
    let (org, id) = (record.org_id.as_str(), record.id.as_u128());
    let (name, key_type) = (name_sort_key(record), type_sort_key(record));
    let mut by_name = txn.open_table(BY_NAME)?;
    let mut by_type = txn.open_table(BY_TYPE)?;
    for part in [ALL, record.status.as_str()] {
        if add {
            by_name.insert((org, part, name.as_str()), id)?;
            by_type.insert((org, part, key_type.as_str()), id)?;
        } else {
            by_name.remove((org, part, name.as_str()))?;
            by_type.remove((org, part, key_type.as_str()))?;
        }
    }
    Ok(())
}

/// Move `org`'s counts by `delta`.
fn count(txn: &WriteTransaction, org: &str, delta: &CountDelta) -> Result<(), StoreError> {
    let mut counts = txn.open_table(COUNTS)?;
    let now = counts
        .get(org)?
        .map(|b| decode_counts(b.value()))
        .transpose()?
        .unwrap_or_default();
    counts.insert(org, encode_counts(&now.plus(delta))?.as_slice())?;
    Ok(())
}

/// A file written before keys were searchable and counted has keys but no
/// search entries or counts: make them, once, as the file is opened.
fn index_and_count_older_keys(txn: &WriteTransaction) -> Result<(), StoreError> {
    let indexed = !txn.open_table(BY_NAME)?.is_empty()?;
    let counted = !txn.open_table(COUNTS)?.is_empty()?;
    if indexed && counted {
        return Ok(());
    }
    let records: Vec<KeyRecord> = {
        let keys = txn.open_table(KEYS)?;
        let mut found = vec![];
        for entry in keys.iter()? {
            let (_, bytes) = entry?;
            found.push(decode(bytes.value())?);
        }
        found
    };
    if !indexed {
        for record in &records {
            index_for_search(txn, record, true)?;
        }
    }
    if !counted {
        let mut by_org: std::collections::BTreeMap<&str, Vec<&KeyRecord>> = Default::default();
        for record in &records {
            by_org
                .entry(record.org_id.as_str())
                .or_default()
                .push(record);
        }
        let mut counts = txn.open_table(COUNTS)?;
        for (org, records) in by_org {
            let tally = KeyCounts::of(records);
            counts.insert(org, encode_counts(&tally)?.as_slice())?;
        }
    }
    Ok(())
}

/// The stored key, if it is still `before` as far as the change's checks went.
fn unchanged(txn: &WriteTransaction, before: &KeyRecord) -> Result<KeyRecord, StoreError> {
    read_record(txn, before.id)?
        .filter(|current| before.unchanged_in(current))
        .ok_or(StoreError::Changed)
}

fn update_key(
    txn: &WriteTransaction,
    before: &KeyRecord,
    after: &KeyRecord,
) -> Result<(), StoreError> {
    let current = unchanged(txn, before)?;
    let next = KeyRecord {
        last_used_at: current.last_used_at,
        ..after.clone()
    };
    write_record(txn, &next)?;
    if current.status != next.status {
        let mut by_status = txn.open_table(BY_STATUS)?;
        let (org, id) = (next.org_id.as_str(), next.id.as_u128());
        by_status.remove((org, current.status.as_str(), id))?;
        by_status.insert((org, next.status.as_str(), id), ())?;
    }
    if current.status != next.status || current.name != next.name {
        index_for_search(txn, &current, false)?;
        index_for_search(txn, &next, true)?;
    }
    Ok(())
}

fn delete_key(txn: &WriteTransaction, before: &KeyRecord) -> Result<(), StoreError> {
    let current = unchanged(txn, before)?;
    let (org, id) = (current.org_id.as_str(), current.id.as_u128());
    txn.open_table(KEYS)?.remove(id)?;
    txn.open_table(BY_ORG)?.remove((org, id))?;
    txn.open_table(BY_STATUS)?
        .remove((org, current.status.as_str(), id))?;
    index_for_search(txn, &current, false)
}

/// Link `events` into their organization's chain after its head, write
/// them, and move the head: all inside the change's transaction, so the
/// chain has no gaps and no two events share a place.
fn link_and_insert_events(txn: &WriteTransaction, events: &[AuditEvent]) -> Result<(), StoreError> {
    let Some(first) = events.first() else {
        return Ok(());
    };
    let org = first.org_id.as_str();
    let head = read_head(txn, org)?.unwrap_or(ChainHead::START);
    let (links, next) = head.extend(events);
    for (event, link) in events.iter().zip(links) {
        let linked = AuditEvent {
            link: Some(link),
            ..event.clone()
        };
        insert_event(txn, &linked)?;
    }
    txn.open_table(CHAIN_HEADS)?
        .insert(org, encode_head(&next)?.as_slice())?;
    tracing::info!(org, head = %next, "audit chain head");
    Ok(())
}

fn read_head(txn: &WriteTransaction, org: &str) -> Result<Option<ChainHead>, StoreError> {
    let heads = txn.open_table(CHAIN_HEADS)?;
    let bytes = heads.get(org)?;
    bytes.map(|b| decode_head(b.value())).transpose()
}

fn insert_event(txn: &WriteTransaction, event: &AuditEvent) -> Result<(), StoreError> {
    let id = event.id.as_u128();
    let mut events = txn.open_table(EVENTS)?;
    if events.get(id)?.is_some() {
        return Err(StoreError::failed(format!(
            "an audit event with id {} exists",
            event.id
        )));
    }
    events.insert(id, encode_event(event)?.as_slice())?;
    index_event(txn, event, true)
}

/// Add (or remove) an event's entries in every event index.
fn index_event(txn: &WriteTransaction, event: &AuditEvent, add: bool) -> Result<(), StoreError> {
    let (org, key, action, id) = (
        event.org_id.as_str(),
        event.key_id.as_u128(),
        event.action.as_str(),
        event.id.as_u128(),
    );
    let mut by_org = txn.open_table(EVENTS_BY_ORG)?;
    let mut by_key = txn.open_table(EVENTS_BY_KEY)?;
    let mut by_action = txn.open_table(EVENTS_BY_ACTION)?;
    let mut by_key_action = txn.open_table(EVENTS_BY_KEY_ACTION)?;
    if add {
        by_org.insert((org, id), ())?;
        by_key.insert((org, key, id), ())?;
        by_action.insert((org, action, id), ())?;
        by_key_action.insert((org, key, action, id), ())?;
    } else {
        by_org.remove((org, id))?;
        by_key.remove((org, key, id))?;
        by_action.remove((org, action, id))?;
        by_key_action.remove((org, key, action, id))?;
    }
    index_actor(txn, event, add)
}

/// Add (or remove) an event's entries in the indexes by actor, when a key
/// made it.
fn index_actor(txn: &WriteTransaction, event: &AuditEvent, add: bool) -> Result<(), StoreError> {
    let Some(actor) = event.actor.key_id().map(KeyId::as_u128) else {
        return Ok(());
    };
    let (org, action, id) = (
        event.org_id.as_str(),
        event.action.as_str(),
        event.id.as_u128(),
    );
    let mut by_actor = txn.open_table(EVENTS_BY_ACTOR)?;
    let mut by_actor_action = txn.open_table(EVENTS_BY_ACTOR_ACTION)?;
    if add {
        by_actor.insert((org, actor, id), ())?;
        by_actor_action.insert((org, actor, action, id), ())?;
    } else {
        by_actor.remove((org, actor, id))?;
        by_actor_action.remove((org, actor, action, id))?;
    }
    Ok(())
}

/// A file written before events were indexed by actor has events and an
/// empty actor index: index them, once, as the file is opened.
fn index_actors_of_older_events(txn: &WriteTransaction) -> Result<(), StoreError> {
    if !txn.open_table(EVENTS_BY_ACTOR)?.is_empty()? {
        return Ok(());
    }
    let older: Vec<AuditEvent> = {
        let events = txn.open_table(EVENTS)?;
        let mut found = vec![];
        for entry in events.iter()? {
            let (_, bytes) = entry?;
            found.push(decode_event(bytes.value())?);
        }
        found
    };
    for event in &older {
        index_actor(txn, event, true)?;
    }
    Ok(())
}

/// Remove up to [`PURGE_BATCH`] events older than `cutoff`, oldest first.
fn purge_events(txn: &WriteTransaction, cutoff: Timestamp) -> Result<(), StoreError> {
    let expired: Vec<AuditEvent> = {
        let events = txn.open_table(EVENTS)?;
        let mut found = vec![];
        for entry in events.iter()?.take(PURGE_BATCH) {
            let (_, bytes) = entry?;
            let event = decode_event(bytes.value())?;
            if event.at >= cutoff {
                break;
            }
            found.push(event);
        }
        found
    };
    let mut events = txn.open_table(EVENTS)?;
    for event in &expired {
        events.remove(event.id.as_u128())?;
    }
    drop(events);
    for event in &expired {
        index_event(txn, event, false)?;
    }
    Ok(())
}

/// Up to `limit + 1` ids from a reverse range over an index, newest first:
/// ids from `lower` (inclusive) to `upper` (exclusive; `None`: no bound),
/// which the caller keeps non-empty.
macro_rules! newest_ids {
    ($txn:expr, $table:expr, $limit:expr, ($lower:expr, $upper:expr), ($($prefix:expr),*), $pick:expr) => {{
        let index = $txn.open_table($table)?;
        let lower: u128 = $lower;
        let range = match $upper {
            None => index.range(($($prefix,)* lower)..=($($prefix,)* u128::MAX)),
            Some(upper) => index.range(($($prefix,)* lower)..($($prefix,)* upper)),
        }?;
        range
            .rev()
            .take($limit + 1)
            .map(|e| e.map(|(k, _)| $pick(k.value())).map_err(StoreError::from))
            .collect::<Result<Vec<u128>, StoreError>>()?
    }};
}

impl Store for EmbeddedStore {
    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let keys = txn.open_table(KEYS)?;
        let bytes = keys.get(id.as_u128())?;
        bytes.map(|b| decode(b.value())).transpose()
    }

    async fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        let txn = self.db.begin_read()?;
        let org = org.as_str();
        let after = after.map(KeyId::as_u128);
        // One extra id tells whether another page follows.
        let ids = match filter {
            StatusFilter::All => {
                newest_ids!(txn, BY_ORG, limit, (0, after), (org), |k: (&str, u128)| k.1)
            }
            StatusFilter::Only(status) => newest_ids!(
                txn,
                BY_STATUS,
                limit,
                (0, after),
                (org, status.as_str()),
                |k: (&str, &str, u128)| k.2
            ),
        };
        let keys = txn.open_table(KEYS)?;
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            let bytes = keys
                .get(id)?
                .ok_or_else(|| StoreError::Corrupt("index names a missing key".into()))?;
            records.push(decode(bytes.value())?);
        }
        Ok(Page::from_overfetch(records, limit))
    }

    async fn search(
        &self,
        org: &OrgId,
        query: &KeyQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        let Some((lower, upper)) = query.search.range(after) else {
            return Ok(Page::from_overfetch(vec![], limit));
        };
        let txn = self.db.begin_read()?;
        let table = match query.search.index() {
            SearchIndex::Name => txn.open_table(BY_NAME)?,
            SearchIndex::Type => txn.open_table(BY_TYPE)?,
        };
        let (org, part) = (
            org.as_str(),
            match query.status {
                StatusFilter::All => ALL,
                StatusFilter::Only(status) => status.as_str(),
            },
        );
        // One extra id tells whether another page follows.
        let ids = table
            .range((org, part, lower.as_str())..=(org, part, upper.as_str()))?
            .take(limit + 1)
            .map(|e| e.map(|(_, id)| id.value()).map_err(StoreError::from))
            .collect::<Result<Vec<u128>, StoreError>>()?;
        let keys = txn.open_table(KEYS)?;
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            let bytes = keys
                .get(id)?
                .ok_or_else(|| StoreError::Corrupt("index names a missing key".into()))?;
            records.push(decode(bytes.value())?);
        }
        Ok(Page::from_overfetch(records, limit))
    }

    async fn counts(&self, org: &OrgId) -> Result<Option<KeyCounts>, StoreError> {
        let txn = self.db.begin_read()?;
        let counts = txn.open_table(COUNTS)?;
        let stored = counts.get(org.as_str())?;
        // Every change counts, and an older file is counted as it opens.
        Ok(Some(
            stored
                .map(|b| decode_counts(b.value()))
                .transpose()?
                .unwrap_or_default(),
        ))
    }

    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        change.validate()?;
        let change = change.clone();
        let retention = self.retention_secs;
        self.write(move |txn| {
            for write in change.writes() {
                match write {
                    KeyWrite::Insert(record) => insert_key(txn, record)?,
                    KeyWrite::Update { before, after } => update_key(txn, before, after)?,
                    KeyWrite::Delete(before) => delete_key(txn, before)?,
                }
            }
            if let Some(guard) = change.guard() {
                let holds = match (read_record(txn, guard.key_id)?, change.at()) {
                    (Some(caller), Some(at)) => guard.holds(&caller, at),
                    _ => false,
                };
                if !holds {
                    return Err(StoreError::ActorChanged);
                }
            }
            if let Some(budget) = change.resets() {
                txn.open_table(USAGE)?.remove(budget.as_u128())?;
            }
            let delta = CountDelta::of_change(&change);
            if let (false, Some(event)) = (delta.is_zero(), change.events().first()) {
                count(txn, event.org_id.as_str(), &delta)?;
            }
            link_and_insert_events(txn, change.events())?;
            if let (Some(secs), Some(at)) = (retention, change.at()) {
                purge_events(txn, at.plus_seconds(-secs))?;
            }
            Ok(())
        })
        .await
    }

    async fn list_events(
        &self,
        org: &OrgId,
        filter: EventFilter,
        limit: usize,
        after: Option<EventId>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let index = filter
            .index()
            .map_err(|e| StoreError::failed(e.to_string()))?;
        let Some((lower, upper)) = filter.id_range(after) else {
            return Ok(Page::from_overfetch(vec![], limit));
        };
        let txn = self.db.begin_read()?;
        let org = org.as_str();
        let ids = match index {
            EventIndex::Org => {
                newest_ids!(
                    txn,
                    EVENTS_BY_ORG,
                    limit,
                    (lower, upper),
                    (org),
                    |k: (&str, u128)| { k.1 }
                )
            }
            EventIndex::Key(key) => newest_ids!(
                txn,
                EVENTS_BY_KEY,
                limit,
                (lower, upper),
                (org, key.as_u128()),
                |k: (&str, u128, u128)| k.2
            ),
            EventIndex::Action(action) => newest_ids!(
                txn,
                EVENTS_BY_ACTION,
                limit,
                (lower, upper),
                (org, action.as_str()),
                |k: (&str, &str, u128)| k.2
            ),
            EventIndex::KeyAction(key, action) => newest_ids!(
                txn,
                EVENTS_BY_KEY_ACTION,
                limit,
                (lower, upper),
                (org, key.as_u128(), action.as_str()),
                |k: (&str, u128, &str, u128)| k.3
            ),
            EventIndex::Actor(actor) => newest_ids!(
                txn,
                EVENTS_BY_ACTOR,
                limit,
                (lower, upper),
                (org, actor.as_u128()),
                |k: (&str, u128, u128)| k.2
            ),
            EventIndex::ActorAction(actor, action) => newest_ids!(
                txn,
                EVENTS_BY_ACTOR_ACTION,
                limit,
                (lower, upper),
                (org, actor.as_u128(), action.as_str()),
                |k: (&str, u128, &str, u128)| k.3
            ),
        };
        let events = txn.open_table(EVENTS)?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let bytes = events
                .get(id)?
                .ok_or_else(|| StoreError::Corrupt("index names a missing event".into()))?;
            found.push(decode_event(bytes.value())?);
        }
        Ok(Page::from_overfetch(found, limit))
    }

    async fn record_use(
        &self,
        id: KeyId,
        at: Timestamp,
        unless_after: Timestamp,
    ) -> Result<bool, StoreError> {
        self.write(move |txn| {
            let Some(mut record) = read_record(txn, id)? else {
                return Ok(false);
            };
            if record.last_used_at.is_some_and(|t| t > unless_after) {
                return Ok(false);
            }
            record.last_used_at = Some(at);
            write_record(txn, &record)?;
            Ok(true)
        })
        .await
    }

    async fn chain_head(&self, org: &OrgId) -> Result<Option<ChainHead>, StoreError> {
        let txn = self.db.begin_read()?;
        let heads = txn.open_table(CHAIN_HEADS)?;
        let bytes = heads.get(org.as_str())?;
        bytes.map(|b| decode_head(b.value())).transpose()
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read()?;
        let keys = txn.open_table(KEYS)?;
        Ok(keys.is_empty()?)
    }

    /// One write transaction: read the budget's counters, decide with the
    /// counters as they are (redb runs one writer at a time, so nothing
    /// counts in between), write them back. Committed to memory, and to
    /// disk at most once a second ([`USAGE_DURABLE_EVERY_MS`]): an fsync per
    /// request would cap a key at a few hundred requests a second.
    async fn admit(
        &self,
        budget: KeyId,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Admission, StoreError> {
        let db = Arc::clone(&self.db);
        let durable_at = Arc::clone(&self.usage_durable_at);
        let limits = *limits;
        tokio::task::spawn_blocking(move || {
            let mut txn = db.begin_write()?;
            let mut doc = read_usage(&txn, budget)?;
            let plan = match plan(&limits, &doc.counters(&limits), now_ms) {
                Planned::Exceeded(e) => return Ok(Admission::Exceeded(e)),
                Planned::Count(plan) => plan,
            };
            doc.set(&limits, &plan.after);
            txn.open_table(USAGE)?
                .insert(budget.as_u128(), encode_usage(&doc)?.as_slice())?;
            let last = durable_at.load(Ordering::Relaxed);
            let durable = now_ms.saturating_sub(last) >= USAGE_DURABLE_EVERY_MS;
            txn.set_durability(if durable {
                Durability::Immediate
            } else {
                Durability::None
            })?;
            txn.commit()?;
            if durable {
                durable_at.store(now_ms, Ordering::Relaxed);
            }
            Ok(Admission::Admitted(plan.after))
        })
        .await?
    }

    async fn counters(&self, budget: KeyId, limits: &Limits) -> Result<Counters, StoreError> {
        let txn = self.db.begin_read()?;
        let usage = txn.open_table(USAGE)?;
        let bytes = usage.get(budget.as_u128())?;
        let doc = bytes
            .map(|b| decode_usage(b.value()))
            .transpose()?
            .unwrap_or_default();
        Ok(doc.counters(limits))
    }
}
