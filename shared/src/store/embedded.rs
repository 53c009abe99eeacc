//! The embedded store: one redb file, for `keygate serve` and for tests.
//!
//! Keys: `keys` (id → record), `keys_by_org` ((org, id) → ()) and
//! `keys_by_org_status` ((org, status, id) → ()). Audit events: `events`
//! (id → event) and one index per filter: `events_by_org` ((org, id)),
//! `events_by_key` ((org, key, id)), `events_by_action` ((org, action, id))
//! and `events_by_key_action` ((org, key, action, id)). Ids are time-ordered,
//! so a reverse range over an index is "newest first" and a page starts
//! exactly after the cursor's id without skipping anything.
//!
//! Every change is one redb write transaction (serialised, ACID): its
//! conditions are checked, its writes made and its event recorded before the
//! commit, and an error anywhere drops the transaction with nothing written.

use std::path::Path;
use std::sync::Arc;

use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::{Page, Store, StoreError};
use crate::audit::{Actor, AuditAction, AuditEvent, EventFilter, EventId};
use crate::change::{Change, KeyWrite};
use crate::key::{KeyId, SecretHash};
use crate::model::{
    Description, KeyName, KeyRecord, KeyStatus, KeyType, OrgId, Owner, RevokeReason, StatusFilter,
    Timestamp,
};
use crate::scope::Permissions;

const KEYS: TableDefinition<u128, &[u8]> = TableDefinition::new("keys");
const BY_ORG: TableDefinition<(&str, u128), ()> = TableDefinition::new("keys_by_org");
const BY_STATUS: TableDefinition<(&str, &str, u128), ()> =
    TableDefinition::new("keys_by_org_status");
const EVENTS: TableDefinition<u128, &[u8]> = TableDefinition::new("events");
const EVENTS_BY_ORG: TableDefinition<(&str, u128), ()> = TableDefinition::new("events_by_org");
const EVENTS_BY_KEY: TableDefinition<(&str, u128, u128), ()> =
    TableDefinition::new("events_by_key");
const EVENTS_BY_ACTION: TableDefinition<(&str, &str, u128), ()> =
    TableDefinition::new("events_by_action");
const EVENTS_BY_KEY_ACTION: TableDefinition<(&str, u128, &str, u128), ()> =
    TableDefinition::new("events_by_key_action");

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
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(
        "the data directory {0} is in use by another keygate process (is `keygate serve` running?)"
    )]
    Locked(String),
    #[error("cannot open the data directory {path}: {reason}")]
    Other { path: String, reason: String },
}

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(e.to_string())
}

impl EmbeddedStore {
    /// Open (or create) `DIR/keygate.redb`. Fails with `Locked` while another
    /// process has it open.
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
        let shown = dir.display().to_string();
        let other = |reason: String| OpenError::Other {
            path: shown.clone(),
            reason,
        };
        std::fs::create_dir_all(dir).map_err(|e| other(e.to_string()))?;
        let db = Database::create(dir.join(DATA_FILE)).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => OpenError::Locked(shown.clone()),
            e => other(e.to_string()),
        })?;
        Self::init(db).map_err(|e| other(e.to_string()))
    }

    /// A store that lives in memory only (tests and benchmarks).
    pub fn in_memory() -> Result<Self, StoreError> {
        let db = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(failed)?;
        Self::init(db)
    }

    /// Remove audit events older than `days` (from the next change on).
    pub fn with_audit_retention(mut self, days: Option<u32>) -> Self {
        self.retention_secs = days.map(|d| i64::from(d) * 86_400);
        self
    }

    fn init(db: Database) -> Result<Self, StoreError> {
        let txn = db.begin_write().map_err(failed)?;
        txn.open_table(KEYS).map_err(failed)?;
        txn.open_table(BY_ORG).map_err(failed)?;
        txn.open_table(BY_STATUS).map_err(failed)?;
        txn.open_table(EVENTS).map_err(failed)?;
        txn.open_table(EVENTS_BY_ORG).map_err(failed)?;
        txn.open_table(EVENTS_BY_KEY).map_err(failed)?;
        txn.open_table(EVENTS_BY_ACTION).map_err(failed)?;
        txn.open_table(EVENTS_BY_KEY_ACTION).map_err(failed)?;
        txn.commit().map_err(failed)?;
        Ok(Self {
            db: Arc::new(db),
            retention_secs: None,
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
            let txn = db.begin_write().map_err(failed)?;
            let out = f(&txn)?;
            txn.commit().map_err(failed)?;
            Ok(out)
        })
        .await
        .map_err(failed)?
    }
}

fn read_record(txn: &WriteTransaction, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
    let keys = txn.open_table(KEYS).map_err(failed)?;
    let bytes = keys.get(id.as_u128()).map_err(failed)?;
    bytes.map(|b| decode(b.value())).transpose()
}

fn write_record(txn: &WriteTransaction, record: &KeyRecord) -> Result<(), StoreError> {
    let mut keys = txn.open_table(KEYS).map_err(failed)?;
    keys.insert(record.id.as_u128(), encode(record)?.as_slice())
        .map_err(failed)?;
    Ok(())
}

fn insert_key(txn: &WriteTransaction, record: &KeyRecord) -> Result<(), StoreError> {
    if read_record(txn, record.id)?.is_some() {
        return Err(StoreError::AlreadyExists);
    }
    write_record(txn, record)?;
    let (org, id) = (record.org_id.as_str(), record.id.as_u128());
    txn.open_table(BY_ORG)
        .map_err(failed)?
        .insert((org, id), ())
        .map_err(failed)?;
    txn.open_table(BY_STATUS)
        .map_err(failed)?
        .insert((org, record.status.as_str(), id), ())
        .map_err(failed)?;
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
        let mut by_status = txn.open_table(BY_STATUS).map_err(failed)?;
        let (org, id) = (next.org_id.as_str(), next.id.as_u128());
        by_status
            .remove((org, current.status.as_str(), id))
            .map_err(failed)?;
        by_status
            .insert((org, next.status.as_str(), id), ())
            .map_err(failed)?;
    }
    Ok(())
}

fn delete_key(txn: &WriteTransaction, before: &KeyRecord) -> Result<(), StoreError> {
    let current = unchanged(txn, before)?;
    let (org, id) = (current.org_id.as_str(), current.id.as_u128());
    txn.open_table(KEYS)
        .map_err(failed)?
        .remove(id)
        .map_err(failed)?;
    txn.open_table(BY_ORG)
        .map_err(failed)?
        .remove((org, id))
        .map_err(failed)?;
    txn.open_table(BY_STATUS)
        .map_err(failed)?
        .remove((org, current.status.as_str(), id))
        .map_err(failed)?;
    Ok(())
}

fn insert_event(txn: &WriteTransaction, event: &AuditEvent) -> Result<(), StoreError> {
    let id = event.id.as_u128();
    let mut events = txn.open_table(EVENTS).map_err(failed)?;
    if events.get(id).map_err(failed)?.is_some() {
        return Err(StoreError::Failed(format!(
            "an audit event with id {} exists",
            event.id
        )));
    }
    events
        .insert(id, encode_event(event)?.as_slice())
        .map_err(failed)?;
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
    let mut by_org = txn.open_table(EVENTS_BY_ORG).map_err(failed)?;
    let mut by_key = txn.open_table(EVENTS_BY_KEY).map_err(failed)?;
    let mut by_action = txn.open_table(EVENTS_BY_ACTION).map_err(failed)?;
    let mut by_key_action = txn.open_table(EVENTS_BY_KEY_ACTION).map_err(failed)?;
    if add {
        by_org.insert((org, id), ()).map_err(failed)?;
        by_key.insert((org, key, id), ()).map_err(failed)?;
        by_action.insert((org, action, id), ()).map_err(failed)?;
        by_key_action
            .insert((org, key, action, id), ())
            .map_err(failed)?;
    } else {
        by_org.remove((org, id)).map_err(failed)?;
        by_key.remove((org, key, id)).map_err(failed)?;
        by_action.remove((org, action, id)).map_err(failed)?;
        by_key_action
            .remove((org, key, action, id))
            .map_err(failed)?;
    }
    Ok(())
}

/// Remove up to [`PURGE_BATCH`] events older than `cutoff`, oldest first.
fn purge_events(txn: &WriteTransaction, cutoff: Timestamp) -> Result<(), StoreError> {
    let expired: Vec<AuditEvent> = {
        let events = txn.open_table(EVENTS).map_err(failed)?;
        let mut found = vec![];
        for entry in events.iter().map_err(failed)?.take(PURGE_BATCH) {
            let (_, bytes) = entry.map_err(failed)?;
            let event = decode_event(bytes.value())?;
            if event.at >= cutoff {
                break;
            }
            found.push(event);
        }
        found
    };
    let mut events = txn.open_table(EVENTS).map_err(failed)?;
    for event in &expired {
        events.remove(event.id.as_u128()).map_err(failed)?;
    }
    drop(events);
    for event in &expired {
        index_event(txn, event, false)?;
    }
    Ok(())
}

/// Up to `limit + 1` ids from a reverse range over an index, newest first.
macro_rules! newest_ids {
    ($txn:expr, $table:expr, $limit:expr, $after:expr, ($($prefix:expr),*), $pick:expr) => {{
        let index = $txn.open_table($table).map_err(failed)?;
        let range = match $after {
            None => index.range(($($prefix,)* 0)..=($($prefix,)* u128::MAX)),
            Some(after) => index.range(($($prefix,)* 0)..($($prefix,)* after)),
        }
        .map_err(failed)?;
        range
            .rev()
            .take($limit + 1)
            .map(|e| e.map(|(k, _)| $pick(k.value())).map_err(failed))
            .collect::<Result<Vec<u128>, StoreError>>()?
    }};
}

impl Store for EmbeddedStore {
    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(failed)?;
        let keys = txn.open_table(KEYS).map_err(failed)?;
        let bytes = keys.get(id.as_u128()).map_err(failed)?;
        bytes.map(|b| decode(b.value())).transpose()
    }

    async fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(failed)?;
        let org = org.as_str();
        let after = after.map(KeyId::as_u128);
        // One extra id tells whether another page follows.
        let ids = match filter {
            StatusFilter::All => {
                newest_ids!(txn, BY_ORG, limit, after, (org), |k: (&str, u128)| k.1)
            }
            StatusFilter::Only(status) => newest_ids!(
                txn,
                BY_STATUS,
                limit,
                after,
                (org, status.as_str()),
                |k: (&str, &str, u128)| k.2
            ),
        };
        let keys = txn.open_table(KEYS).map_err(failed)?;
        let mut records = Vec::with_capacity(ids.len());
        for id in ids {
            let bytes = keys
                .get(id)
                .map_err(failed)?
                .ok_or_else(|| StoreError::Corrupt("index names a missing key".into()))?;
            records.push(decode(bytes.value())?);
        }
        Ok(Page::from_overfetch(records, limit))
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
            for event in change.events() {
                insert_event(txn, event)?;
            }
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
        let txn = self.db.begin_read().map_err(failed)?;
        let org = org.as_str();
        let after = after.map(EventId::as_u128);
        let ids = match (filter.key_id.map(KeyId::as_u128), filter.action) {
            (None, None) => {
                newest_ids!(txn, EVENTS_BY_ORG, limit, after, (org), |k: (
                    &str,
                    u128
                )| {
                    k.1
                })
            }
            (Some(key), None) => newest_ids!(
                txn,
                EVENTS_BY_KEY,
                limit,
                after,
                (org, key),
                |k: (&str, u128, u128)| k.2
            ),
            (None, Some(action)) => newest_ids!(
                txn,
                EVENTS_BY_ACTION,
                limit,
                after,
                (org, action.as_str()),
                |k: (&str, &str, u128)| k.2
            ),
            (Some(key), Some(action)) => newest_ids!(
                txn,
                EVENTS_BY_KEY_ACTION,
                limit,
                after,
                (org, key, action.as_str()),
                |k: (&str, u128, &str, u128)| k.3
            ),
        };
        let events = txn.open_table(EVENTS).map_err(failed)?;
        let mut found = Vec::with_capacity(ids.len());
        for id in ids {
            let bytes = events
                .get(id)
                .map_err(failed)?
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

    async fn is_empty(&self) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(failed)?;
        let keys = txn.open_table(KEYS).map_err(failed)?;
        keys.is_empty().map_err(failed)
    }
}

/// Leading byte of a stored record: 1 is a [`Doc`] alone (written before
/// rotation existed), 2 is a [`Doc`] followed by a [`RotationDoc`].
const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;

/// The on-disk form of a record: postcard (compact, not self-describing)
/// behind a version byte, with strings borrowed from the stored bytes on read.
/// The authorizer decodes one on every request, so this stays cheap.
#[derive(Serialize, Deserialize)]
struct Doc<'a> {
    id: u128,
    org_id: &'a str,
    name: &'a str,
    #[serde(borrow)]
    description: Option<&'a str>,
    key_type: KeyType,
    #[serde(borrow)]
    owner: Option<&'a str>,
    #[serde(borrow)]
    scopes: Vec<&'a str>,
    status: KeyStatus,
    hint: &'a str,
    secret_hash: [u8; 32],
    created_at: i64,
    created_by: Option<u128>,
    updated_at: i64,
    suspended_at: Option<i64>,
    revoked_at: Option<i64>,
    #[serde(borrow)]
    revoked_reason: Option<&'a str>,
    revoked_by: Option<u128>,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
}

/// What format 2 adds after a [`Doc`]: rotation and the change counter
/// (format 1 records read as version 0).
#[derive(Serialize, Deserialize)]
struct RotationDoc {
    rotated_from: Option<u128>,
    rotated_to: Option<u128>,
    version: u64,
}

fn encode(r: &KeyRecord) -> Result<Vec<u8>, StoreError> {
    let scopes = r.permissions.to_strings();
    let doc = Doc {
        id: r.id.as_u128(),
        org_id: r.org_id.as_str(),
        name: r.name.as_str(),
        description: r.description.as_ref().map(Description::as_str),
        key_type: r.key_type,
        owner: r.owner.as_ref().map(Owner::as_str),
        scopes: scopes.iter().map(String::as_str).collect(),
        status: r.status,
        hint: &r.hint,
        secret_hash: r.secret_hash.0,
        created_at: r.created_at.unix(),
        created_by: r.created_by.map(KeyId::as_u128),
        updated_at: r.updated_at.unix(),
        suspended_at: r.suspended_at.map(Timestamp::unix),
        revoked_at: r.revoked_at.map(Timestamp::unix),
        revoked_reason: r.revoked_reason.as_ref().map(RevokeReason::as_str),
        revoked_by: r.revoked_by.map(KeyId::as_u128),
        expires_at: r.expires_at.map(Timestamp::unix),
        last_used_at: r.last_used_at.map(Timestamp::unix),
    };
    let rotation = RotationDoc {
        rotated_from: r.rotated_from.map(KeyId::as_u128),
        rotated_to: r.rotated_to.map(KeyId::as_u128),
        version: r.version,
    };
    let bytes = postcard::to_extend(&doc, vec![FORMAT_V2]).map_err(failed)?;
    postcard::to_extend(&rotation, bytes).map_err(failed)
}

fn decode(bytes: &[u8]) -> Result<KeyRecord, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(e);
    let (version, body) = bytes
        .split_first()
        .ok_or_else(|| corrupt("empty record".into()))?;
    let (d, rest): (Doc<'_>, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    let rotation = match *version {
        FORMAT_V1 => RotationDoc {
            rotated_from: None,
            rotated_to: None,
            version: 0,
        },
        FORMAT_V2 => postcard::from_bytes(rest).map_err(|e| corrupt(e.to_string()))?,
        _ => return Err(corrupt("unknown record format".into())),
    };
    let time = Timestamp::from_unix;
    Ok(KeyRecord {
        id: KeyId::from_u128(d.id),
        org_id: OrgId::new(d.org_id).map_err(corrupt)?,
        name: KeyName::from_stored(d.name),
        description: d.description.map(Description::from_stored),
        key_type: d.key_type,
        owner: d.owner.map(Owner::from_stored),
        permissions: Permissions::from_strings(&d.scopes).map_err(|e| corrupt(e.to_string()))?,
        status: d.status,
        hint: d.hint.to_owned(),
        secret_hash: SecretHash(d.secret_hash),
        created_at: time(d.created_at),
        created_by: d.created_by.map(KeyId::from_u128),
        updated_at: time(d.updated_at),
        suspended_at: d.suspended_at.map(time),
        revoked_at: d.revoked_at.map(time),
        revoked_reason: d.revoked_reason.map(RevokeReason::from_stored),
        revoked_by: d.revoked_by.map(KeyId::from_u128),
        expires_at: d.expires_at.map(time),
        last_used_at: d.last_used_at.map(time),
        rotated_from: rotation.rotated_from.map(KeyId::from_u128),
        rotated_to: rotation.rotated_to.map(KeyId::from_u128),
        version: rotation.version,
    })
}

/// Leading byte of a stored audit event.
const EVENT_FORMAT: u8 = 1;

#[derive(Serialize, Deserialize)]
struct EventDoc<'a> {
    id: u128,
    org_id: &'a str,
    at: i64,
    action: &'a str,
    key_id: u128,
    key_name: &'a str,
    /// `None` for bootstrap.
    actor_key_id: Option<u128>,
    actor_hint: Option<&'a str>,
    reason: Option<&'a str>,
    status_before: Option<KeyStatus>,
    status_after: Option<KeyStatus>,
    rotated_to: Option<u128>,
    rotated_from: Option<u128>,
    request_id: &'a str,
    source_ip: Option<&'a str>,
    user_agent: Option<&'a str>,
}

fn encode_event(e: &AuditEvent) -> Result<Vec<u8>, StoreError> {
    let (actor_key_id, actor_hint) = match &e.actor {
        Actor::Key { id, hint } => (Some(id.as_u128()), Some(hint.as_str())),
        Actor::Bootstrap => (None, None),
    };
    let doc = EventDoc {
        id: e.id.as_u128(),
        org_id: e.org_id.as_str(),
        at: e.at.unix(),
        action: e.action.as_str(),
        key_id: e.key_id.as_u128(),
        key_name: e.key_name.as_str(),
        actor_key_id,
        actor_hint,
        reason: e.reason.as_ref().map(RevokeReason::as_str),
        status_before: e.status_before,
        status_after: e.status_after,
        rotated_to: e.rotated_to.map(KeyId::as_u128),
        rotated_from: e.rotated_from.map(KeyId::as_u128),
        request_id: &e.request_id,
        source_ip: e.source_ip.as_deref(),
        user_agent: e.user_agent.as_deref(),
    };
    postcard::to_extend(&doc, vec![EVENT_FORMAT]).map_err(failed)
}

fn decode_event(bytes: &[u8]) -> Result<AuditEvent, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(e);
    let Some((&EVENT_FORMAT, body)) = bytes.split_first() else {
        return Err(corrupt("unknown event format".into()));
    };
    let d: EventDoc<'_> = postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    let actor = match (d.actor_key_id, d.actor_hint) {
        (Some(id), Some(hint)) => Actor::Key {
            id: KeyId::from_u128(id),
            hint: hint.to_owned(),
        },
        (None, None) => Actor::Bootstrap,
        _ => {
            return Err(corrupt(
                "an event's actor has an id without a hint, or the reverse".into(),
            ));
        }
    };
    Ok(AuditEvent {
        id: EventId::from_u128(d.id),
        org_id: OrgId::new(d.org_id).map_err(corrupt)?,
        at: Timestamp::from_unix(d.at),
        action: AuditAction::parse(d.action)
            .ok_or_else(|| corrupt(format!("unknown action {:?}", d.action)))?,
        key_id: KeyId::from_u128(d.key_id),
        key_name: KeyName::from_stored(d.key_name),
        actor,
        reason: d.reason.map(RevokeReason::from_stored),
        status_before: d.status_before,
        status_after: d.status_after,
        rotated_to: d.rotated_to.map(KeyId::from_u128),
        rotated_from: d.rotated_from.map(KeyId::from_u128),
        request_id: d.request_id.to_owned(),
        source_ip: d.source_ip.map(str::to_owned),
        user_agent: d.user_agent.map(str::to_owned),
    })
}
