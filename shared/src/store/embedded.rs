//! The embedded store: one redb file, for `keygate serve` and for tests.
//!
//! Tables: `keys` (id → record JSON), `keys_by_org` ((org, id) → ()) and
//! `keys_by_org_status` ((org, status, id) → ()). Ids are time-ordered, so a
//! reverse range over an index is "newest first" and a page starts exactly
//! after the cursor's id without skipping anything. Every write is one redb
//! write transaction (serialised, ACID), which gives the same conditional
//! semantics as DynamoDB's condition expressions.

use std::path::Path;
use std::sync::Arc;

use redb::{
    Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition,
    WriteTransaction,
};
use serde::{Deserialize, Serialize};

use super::{Page, Store, StoreError};
use crate::key::{KeyId, SecretHash};
use crate::lifecycle::{Check, StatusChange, check};
use crate::model::{
    Description, KeyName, KeyRecord, KeyStatus, KeyType, OrgId, Owner, RevokeReason, StatusFilter,
    Timestamp,
};
use crate::scope::Permissions;

const KEYS: TableDefinition<u128, &[u8]> = TableDefinition::new("keys");
const BY_ORG: TableDefinition<(&str, u128), ()> = TableDefinition::new("keys_by_org");
const BY_STATUS: TableDefinition<(&str, &str, u128), ()> =
    TableDefinition::new("keys_by_org_status");

/// The file inside `--data DIR`.
pub const DATA_FILE: &str = "keygate.redb";

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
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

    fn init(db: Database) -> Result<Self, StoreError> {
        let txn = db.begin_write().map_err(failed)?;
        txn.open_table(KEYS).map_err(failed)?;
        txn.open_table(BY_ORG).map_err(failed)?;
        txn.open_table(BY_STATUS).map_err(failed)?;
        txn.commit().map_err(failed)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Run a write transaction off the async executor; commit when `f` succeeds.
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

fn set_status_index(
    txn: &WriteTransaction,
    record: &KeyRecord,
    old: Option<KeyStatus>,
) -> Result<(), StoreError> {
    let mut by_status = txn.open_table(BY_STATUS).map_err(failed)?;
    let org = record.org_id.as_str();
    let id = record.id.as_u128();
    if let Some(old) = old {
        by_status.remove((org, old.as_str(), id)).map_err(failed)?;
    }
    by_status
        .insert((org, record.status.as_str(), id), ())
        .map_err(failed)?;
    Ok(())
}

impl Store for EmbeddedStore {
    async fn insert(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.write(move |txn| {
            if read_record(txn, record.id)?.is_some() {
                return Err(StoreError::AlreadyExists);
            }
            write_record(txn, &record)?;
            txn.open_table(BY_ORG)
                .map_err(failed)?
                .insert((record.org_id.as_str(), record.id.as_u128()), ())
                .map_err(failed)?;
            set_status_index(txn, &record, None)
        })
        .await
    }

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
    ) -> Result<Page, StoreError> {
        let txn = self.db.begin_read().map_err(failed)?;
        let keys = txn.open_table(KEYS).map_err(failed)?;
        let upper = after.map_or(u128::MAX, KeyId::as_u128);
        let upper_inclusive = after.is_none();
        let org = org.as_str();
        // One extra id tells whether another page follows.
        let ids: Vec<u128> = match filter {
            StatusFilter::All => {
                let index = txn.open_table(BY_ORG).map_err(failed)?;
                let range = if upper_inclusive {
                    index.range((org, 0)..=(org, upper))
                } else {
                    index.range((org, 0)..(org, upper))
                }
                .map_err(failed)?;
                range
                    .rev()
                    .take(limit + 1)
                    .map(|e| e.map(|(k, _)| k.value().1).map_err(failed))
                    .collect::<Result<_, _>>()?
            }
            StatusFilter::Only(status) => {
                let index = txn.open_table(BY_STATUS).map_err(failed)?;
                let s = status.as_str();
                let range = if upper_inclusive {
                    index.range((org, s, 0)..=(org, s, upper))
                } else {
                    index.range((org, s, 0)..(org, s, upper))
                }
                .map_err(failed)?;
                range
                    .rev()
                    .take(limit + 1)
                    .map(|e| e.map(|(k, _)| k.value().2).map_err(failed))
                    .collect::<Result<_, _>>()?
            }
        };
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

    async fn transition(
        &self,
        org: &OrgId,
        id: KeyId,
        change: &StatusChange,
    ) -> Result<KeyRecord, StoreError> {
        let org = org.clone();
        let change = change.clone();
        self.write(move |txn| {
            let mut record = read_record(txn, id)?
                .filter(|r| r.org_id == org)
                .ok_or(StoreError::NotFound)?;
            match check(record.status, change.transition) {
                Check::NoOp => Ok(record),
                Check::Conflict => Err(StoreError::Conflict {
                    current: record.status,
                }),
                Check::Apply => {
                    let old = record.status;
                    change.apply_to(&mut record);
                    write_record(txn, &record)?;
                    set_status_index(txn, &record, Some(old))?;
                    Ok(record)
                }
            }
        })
        .await
    }

    async fn delete(&self, org: &OrgId, id: KeyId) -> Result<(), StoreError> {
        let org = org.clone();
        self.write(move |txn| {
            let record = read_record(txn, id)?
                .filter(|r| r.org_id == org)
                .ok_or(StoreError::NotFound)?;
            let raw = id.as_u128();
            txn.open_table(KEYS)
                .map_err(failed)?
                .remove(raw)
                .map_err(failed)?;
            txn.open_table(BY_ORG)
                .map_err(failed)?
                .remove((org.as_str(), raw))
                .map_err(failed)?;
            txn.open_table(BY_STATUS)
                .map_err(failed)?
                .remove((org.as_str(), record.status.as_str(), raw))
                .map_err(failed)?;
            Ok(())
        })
        .await
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

/// Leading byte of every stored record: the layout of [`Doc`].
const FORMAT_VERSION: u8 = 1;

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
    let bytes = vec![FORMAT_VERSION];
    postcard::to_extend(&doc, bytes).map_err(failed)
}

fn decode(bytes: &[u8]) -> Result<KeyRecord, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(e);
    let Some((&FORMAT_VERSION, body)) = bytes.split_first() else {
        return Err(corrupt("unknown record format".into()));
    };
    let d: Doc<'_> = postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    let time = Timestamp::from_unix;
    Ok(KeyRecord {
        id: KeyId::from_u128(d.id),
        org_id: OrgId::new(d.org_id).map_err(corrupt)?,
        name: KeyName::new(d.name).map_err(corrupt)?,
        description: d
            .description
            .map(Description::new)
            .transpose()
            .map_err(corrupt)?,
        key_type: d.key_type,
        owner: d.owner.map(Owner::new).transpose().map_err(corrupt)?,
        permissions: Permissions::from_strings(&d.scopes).map_err(|e| corrupt(e.to_string()))?,
        status: d.status,
        hint: d.hint.to_owned(),
        secret_hash: SecretHash(d.secret_hash),
        created_at: time(d.created_at),
        created_by: d.created_by.map(KeyId::from_u128),
        updated_at: time(d.updated_at),
        suspended_at: d.suspended_at.map(time),
        revoked_at: d.revoked_at.map(time),
        revoked_reason: d
            .revoked_reason
            .map(RevokeReason::new)
            .transpose()
            .map_err(corrupt)?,
        revoked_by: d.revoked_by.map(KeyId::from_u128),
        expires_at: d.expires_at.map(time),
        last_used_at: d.last_used_at.map(time),
    })
}
