//! Keys and audit events as DynamoDB items, through `serde_dynamo`: one
//! struct per item shape, so the attribute names and types are written once.
//! Absent optional fields are absent attributes (conditions test
//! `attribute_not_exists`); times are epoch seconds (`N`); the secret's hash
//! is binary (`B`). Items hold the hash, never the key or the secret.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Serialize};
use serde_dynamo::aws_sdk_dynamodb_1::{from_item, to_attribute_value, to_item};

use crate::domain::audit::chain::{ChainHash, ChainHead, ChainLink};
use crate::domain::audit::{Actor, ActorKind, AuditAction, AuditEvent, LabelChange, LimitsChange};
use crate::domain::id::{EventId, KeyId};
use crate::domain::key::SecretHash;
use crate::domain::limits::Limits;
use crate::domain::org::OrgId;
use crate::domain::record::{KeyRecord, KeyStatus, KeyType};
use crate::domain::scope::Permissions;
use crate::domain::search::{KeyCounts, name_sort_key, type_sort_key};
use crate::domain::text::{Description, KeyName, Owner, RevokeReason};
use crate::domain::time::Timestamp;
use crate::store::StoreError;

pub(super) type Item = HashMap<String, AttributeValue>;

/// A key item. `org_status` is the `by-org-status` GSI's partition key;
/// `name_key` and `type_key` the search GSIs' sort keys (absent on items
/// written before searches, until their next change or `keygate table
/// upgrade`).
#[derive(Serialize, Deserialize)]
struct KeyItem {
    id: KeyId,
    org_id: String,
    org_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    type_key: Option<String>,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    key_type: KeyType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    /// `["*"]` for full access, else the sorted scopes.
    scopes: Vec<String>,
    status: KeyStatus,
    hint: String,
    #[serde(with = "serde_bytes")]
    secret_hash: Vec<u8>,
    created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_by: Option<KeyId>,
    updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    suspended_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    revoked_by: Option<KeyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_used_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_from: Option<KeyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_to: Option<KeyId>,
    /// Items written before versions existed read as version 0.
    #[serde(default)]
    version: u64,
    /// Absent: no limits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limits: Option<Limits>,
    /// Absent: the key's own id (items written before budgets existed, and
    /// every key that started its own budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    budget: Option<KeyId>,
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(t: Timestamp) -> AttributeValue {
    AttributeValue::N(t.unix().to_string())
}

pub(super) fn org_status(org: &OrgId, status: KeyStatus) -> String {
    format!("{}#{}", org.as_str(), status.as_str())
}

pub(super) fn scopes_value(permissions: &Permissions) -> AttributeValue {
    AttributeValue::L(permissions.to_strings().into_iter().map(s).collect())
}

/// A key's limits as its item holds them; `None` when it has none.
fn limits_value(limits: &Limits) -> Option<AttributeValue> {
    if limits.is_none() {
        return None;
    }
    // A struct of numbers and a lowercase word: serializing cannot fail.
    to_attribute_value(limits).ok()
}

/// The optional fields a change may set or clear (besides `status`,
/// `org_status`, `name` and `updated_at`, which every change sets), as the
/// item holds them.
pub(super) fn state_fields(r: &KeyRecord) -> [(&'static str, Option<AttributeValue>); 8] {
    [
        ("limits", limits_value(&r.limits)),
        ("description", r.description.as_ref().map(|d| s(d.as_str()))),
        ("suspended_at", r.suspended_at.map(n)),
        ("revoked_at", r.revoked_at.map(n)),
        (
            "revoked_reason",
            r.revoked_reason.as_ref().map(|v| s(v.as_str())),
        ),
        ("revoked_by", r.revoked_by.map(|v| s(v.to_string()))),
        ("expires_at", r.expires_at.map(n)),
        ("rotated_to", r.rotated_to.map(|v| s(v.to_string()))),
    ]
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

pub(super) fn key_to_item(r: &KeyRecord) -> Result<Item, StoreError> {
    let item = KeyItem {
        id: r.id,
        org_id: r.org_id.as_str().to_owned(),
        org_status: org_status(&r.org_id, r.status),
        name_key: Some(name_sort_key(r)),
        type_key: Some(type_sort_key(r)),
        name: r.name.as_str().to_owned(),
        description: r.description.as_ref().map(|d| d.as_str().to_owned()),
        key_type: r.key_type,
        owner: r.owner.as_ref().map(|o| o.as_str().to_owned()),
        scopes: r.permissions.to_strings(),
        status: r.status,
        hint: r.hint.clone(),
        secret_hash: r.secret_hash.0.to_vec(),
        created_at: r.created_at.unix(),
        created_by: r.created_by,
        updated_at: r.updated_at.unix(),
        suspended_at: r.suspended_at.map(Timestamp::unix),
        revoked_at: r.revoked_at.map(Timestamp::unix),
        revoked_reason: r.revoked_reason.as_ref().map(|v| v.as_str().to_owned()),
        revoked_by: r.revoked_by,
        expires_at: r.expires_at.map(Timestamp::unix),
        last_used_at: r.last_used_at.map(Timestamp::unix),
        rotated_from: r.rotated_from,
        rotated_to: r.rotated_to,
        version: r.version,
        limits: (!r.limits.is_none()).then_some(r.limits),
        budget: (r.budget != r.id).then_some(r.budget),
    };
    to_item(item).map_err(|e| StoreError::Failed(Box::new(e)))
}

pub(super) fn key_from_item(item: Item) -> Result<KeyRecord, StoreError> {
    let d: KeyItem = from_item(item).map_err(|e| corrupt("key item", e))?;
    let time = Timestamp::from_unix;
    Ok(KeyRecord {
        id: d.id,
        org_id: OrgId::new(&d.org_id).map_err(|e| corrupt("org_id", e))?,
        name: KeyName::from_stored(&d.name),
        description: d.description.as_deref().map(Description::from_stored),
        key_type: d.key_type,
        owner: d.owner.as_deref().map(Owner::from_stored),
        permissions: Permissions::from_strings(&d.scopes).map_err(|e| corrupt("scopes", e))?,
        status: d.status,
        hint: d.hint,
        secret_hash: SecretHash(
            <[u8; 32]>::try_from(d.secret_hash.as_slice())
                .map_err(|_| corrupt("secret_hash", "not 32 bytes"))?,
        ),
        created_at: time(d.created_at),
        created_by: d.created_by,
        updated_at: time(d.updated_at),
        suspended_at: d.suspended_at.map(time),
        revoked_at: d.revoked_at.map(time),
        revoked_reason: d.revoked_reason.as_deref().map(RevokeReason::from_stored),
        revoked_by: d.revoked_by,
        expires_at: d.expires_at.map(time),
        last_used_at: d.last_used_at.map(time),
        rotated_from: d.rotated_from,
        rotated_to: d.rotated_to,
        version: d.version,
        limits: d.limits.unwrap_or_default(),
        budget: d.budget.unwrap_or(d.id),
    })
}

/// An audit event item. `org_key`, `org_action`, `org_key_action`,
/// `org_actor` and `org_actor_action` are the partition keys of the event
/// GSIs (the last two only on events a key made); `purge_at` the TTL, when set.
#[derive(Serialize, Deserialize)]
struct EventItem {
    org_id: String,
    id: EventId,
    org_key: String,
    org_action: String,
    org_key_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org_actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    org_actor_action: Option<String>,
    at: i64,
    action: AuditAction,
    key_id: KeyId,
    key_name: String,
    actor_type: ActorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor_key_id: Option<KeyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor_hint: Option<String>,
    /// The acting key's name when it acted (absent on older events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    actor_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status_before: Option<KeyStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status_after: Option<KeyStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_to: Option<KeyId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rotated_from: Option<KeyId>,
    /// An update's changed fields, before and after.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    changes: Vec<ChangeItem>,
    request_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    purge_at: Option<i64>,
    /// The event's link in its organization's hash chain (absent on events
    /// written before the chain existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prev_at: Option<i64>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_bytes"
    )]
    prev_hash: Option<Vec<u8>>,
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "optional_bytes"
    )]
    hash: Option<Vec<u8>>,
    /// On events that set limits: before and after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limits: Option<LimitsChange>,
}

/// One field an update changed (a map in the event's `changes` list).
#[derive(Serialize, Deserialize)]
struct ChangeItem {
    field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
}

/// An organization's key counts: an item of the keys table under the id
/// `<org>#counts` (no key id contains `#`), with none of the GSIs' keys, so
/// no index holds it and moving it writes nothing else. `exact` is set when
/// it was made with the organization's first change, or by a recount: an
/// organization with keys from before counting has counts that started
/// late, and shows none until it is counted.
#[derive(Serialize, Deserialize)]
struct CountsItem {
    id: String,
    #[serde(default)]
    active: i64,
    #[serde(default)]
    suspended: i64,
    #[serde(default)]
    revoked: i64,
    #[serde(default)]
    active_full: i64,
    #[serde(default)]
    exact: bool,
}

pub(super) fn counts_id(org: &OrgId) -> String {
    format!("{}#counts", org.as_str())
}

/// Exact counts, or `None`.
pub(super) fn counts_from_item(item: Item) -> Result<Option<KeyCounts>, StoreError> {
    let d: CountsItem = from_item(item).map_err(|e| corrupt("key counts", e))?;
    let n = |v: i64| u64::try_from(v).map_err(|_| corrupt("key counts", "below zero"));
    Ok(match d.exact {
        true => Some(KeyCounts {
            active: n(d.active)?,
            suspended: n(d.suspended)?,
            revoked: n(d.revoked)?,
            active_full_access: n(d.active_full)?,
        }),
        false => None,
    })
}

/// An optional binary attribute (`B`).
mod optional_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(bytes) => s.serialize_bytes(bytes),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        Option::<serde_bytes::ByteBuf>::deserialize(d).map(|b| b.map(|b| b.into_vec()))
    }
}

/// The chain head of an organization: an item of the audit table under a
/// partition no organization can have (`#` is not allowed in org ids), so
/// no query of an organization's events ever sees it, and with none of the
/// event indexes' keys, so no index holds it.
#[derive(Serialize, Deserialize)]
struct HeadItem {
    org_id: String,
    id: String,
    seq: u64,
    #[serde(with = "serde_bytes")]
    hash: Vec<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<i64>,
}

const HEAD_ID: &str = "head";

fn head_partition(org: &OrgId) -> String {
    format!("{}#chain", org.as_str())
}

pub(super) fn head_key(org: &OrgId) -> Item {
    Item::from([
        ("org_id".to_owned(), s(head_partition(org))),
        ("id".to_owned(), s(HEAD_ID)),
    ])
}

pub(super) fn head_to_item(org: &OrgId, head: &ChainHead) -> Result<Item, StoreError> {
    let item = HeadItem {
        org_id: head_partition(org),
        id: HEAD_ID.to_owned(),
        seq: head.seq,
        hash: head.hash.0.to_vec(),
        at: head.at.map(Timestamp::unix),
    };
    to_item(item).map_err(|e| StoreError::Failed(Box::new(e)))
}

pub(super) fn head_from_item(item: Item) -> Result<ChainHead, StoreError> {
    let d: HeadItem = from_item(item).map_err(|e| corrupt("chain head", e))?;
    Ok(ChainHead {
        seq: d.seq,
        hash: hash32(&d.hash, "chain head hash")?,
        at: d.at.map(Timestamp::from_unix),
    })
}

fn hash32(bytes: &[u8], what: &str) -> Result<ChainHash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(ChainHash)
        .map_err(|_| corrupt(what, "not 32 bytes"))
}

pub(super) fn event_to_item(
    e: &AuditEvent,
    retention_secs: Option<i64>,
) -> Result<Item, StoreError> {
    let org = e.org_id.as_str();
    let action = e.action.as_str();
    let (actor_key_id, actor_hint) = match &e.actor {
        Actor::Key { id, hint } => (Some(*id), Some(hint.clone())),
        Actor::Bootstrap => (None, None),
    };
    let item = EventItem {
        org_id: org.to_owned(),
        id: e.id,
        org_key: format!("{org}#{}", e.key_id),
        org_action: format!("{org}#{action}"),
        org_key_action: format!("{org}#{}#{action}", e.key_id),
        org_actor: actor_key_id.map(|actor| format!("{org}#{actor}")),
        org_actor_action: actor_key_id.map(|actor| format!("{org}#{actor}#{action}")),
        at: e.at.unix(),
        action: e.action,
        key_id: e.key_id,
        key_name: e.key_name.as_str().to_owned(),
        actor_type: e.actor.kind(),
        actor_key_id,
        actor_hint,
        actor_name: e.actor_name.as_ref().map(|n| n.as_str().to_owned()),
        reason: e.reason.as_ref().map(|r| r.as_str().to_owned()),
        status_before: e.status_before,
        status_after: e.status_after,
        rotated_to: e.rotated_to,
        rotated_from: e.rotated_from,
        changes: e
            .changes
            .iter()
            .map(|c| {
                let (before, after) = c.texts();
                ChangeItem {
                    field: c.field().to_owned(),
                    before: before.map(str::to_owned),
                    after: after.map(str::to_owned),
                }
            })
            .collect(),
        request_id: e.request_id.clone(),
        source_ip: e.source_ip.clone(),
        user_agent: e.user_agent.clone(),
        purge_at: retention_secs.map(|secs| e.at.plus_seconds(secs).unix()),
        seq: e.link.map(|l| l.seq),
        prev_at: e.link.and_then(|l| l.prev_at).map(Timestamp::unix),
        prev_hash: e.link.map(|l| l.prev_hash.0.to_vec()),
        hash: e.link.map(|l| l.hash.0.to_vec()),
        limits: e.limits,
    };
    to_item(item).map_err(|e| StoreError::Failed(Box::new(e)))
}

pub(super) fn event_from_item(item: Item) -> Result<AuditEvent, StoreError> {
    let d: EventItem = from_item(item).map_err(|e| corrupt("event item", e))?;
    let link = match (d.seq, &d.prev_hash, &d.hash) {
        (Some(seq), Some(prev_hash), Some(hash)) => Some(ChainLink {
            seq,
            prev_at: d.prev_at.map(Timestamp::from_unix),
            prev_hash: hash32(prev_hash, "event prev_hash")?,
            hash: hash32(hash, "event hash")?,
        }),
        (None, None, None) => None,
        _ => return Err(corrupt("event link", "seq, prev_hash and hash disagree")),
    };
    let actor = match (d.actor_type, d.actor_key_id, d.actor_hint) {
        (ActorKind::Key, Some(id), Some(hint)) => Actor::Key { id, hint },
        (ActorKind::Bootstrap, None, None) => Actor::Bootstrap,
        _ => return Err(corrupt("event actor", "type, id and hint disagree")),
    };
    let changes = d
        .changes
        .iter()
        .map(|c| {
            LabelChange::from_stored(&c.field, c.before.as_deref(), c.after.as_deref())
                .ok_or_else(|| corrupt("event changes", "an unknown field or a missing value"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(AuditEvent {
        id: d.id,
        org_id: OrgId::new(&d.org_id).map_err(|e| corrupt("event org_id", e))?,
        at: Timestamp::from_unix(d.at),
        action: d.action,
        key_id: d.key_id,
        key_name: KeyName::from_stored(&d.key_name),
        actor,
        actor_name: d.actor_name.as_deref().map(KeyName::from_stored),
        reason: d.reason.as_deref().map(RevokeReason::from_stored),
        status_before: d.status_before,
        status_after: d.status_after,
        rotated_to: d.rotated_to,
        rotated_from: d.rotated_from,
        changes,
        request_id: d.request_id,
        source_ip: d.source_ip,
        user_agent: d.user_agent,
        link,
        limits: d.limits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::KeyFormat;
    use crate::domain::text::KeyName;

    /// The attributes of a key item, as deployed tables already hold them:
    /// the codec must read and write exactly these.
    #[test]
    fn a_key_item_has_the_deployed_layout_and_round_trips() {
        let mut record = KeyRecord::new_active(
            &KeyFormat::default().generate(),
            OrgId::new("acme").unwrap(),
            KeyName::new("ci").unwrap(),
            KeyType::User,
            Permissions::from_strings(&["runs:read", "runs:write"]).unwrap(),
            Timestamp::from_unix(1_000),
        );
        record.owner = Some(Owner::new("ada@example.com").unwrap());
        record.expires_at = Some(Timestamp::from_unix(9_000));
        let item = key_to_item(&record).unwrap();
        assert_eq!(item["id"], s(record.id.to_string()));
        assert_eq!(item["org_status"], s("acme#active"));
        assert_eq!(item["name_key"], s(name_sort_key(&record)));
        assert_eq!(item["type_key"], s(type_sort_key(&record)));
        assert_eq!(item["key_type"], s("user"));
        assert_eq!(item["status"], s("active"));
        assert_eq!(item["scopes"], scopes_value(&record.permissions));
        assert_eq!(item["expires_at"], AttributeValue::N("9000".into()));
        assert_eq!(item["version"], AttributeValue::N("1".into()));
        assert!(matches!(&item["secret_hash"], AttributeValue::B(b) if b.as_ref().len() == 32));
        for absent in [
            "description",
            "suspended_at",
            "revoked_at",
            "rotated_to",
            "last_used_at",
        ] {
            assert!(!item.contains_key(absent), "{absent}");
        }
        assert_eq!(key_from_item(item).unwrap(), record);
    }

    #[test]
    fn an_event_item_has_the_deployed_layout_and_round_trips() {
        let event = AuditEvent {
            id: EventId::from_u128(42),
            org_id: OrgId::new("acme").unwrap(),
            at: Timestamp::from_unix(2_000),
            action: AuditAction::Revoke,
            key_id: KeyId::from_u128(7),
            key_name: KeyName::new("ci").unwrap(),
            actor: Actor::Key {
                id: KeyId::from_u128(9),
                hint: "kg_...abcd".into(),
            },
            actor_name: Some(KeyName::new("admin").unwrap()),
            reason: Some(RevokeReason::new("leaked").unwrap()),
            status_before: Some(KeyStatus::Active),
            status_after: Some(KeyStatus::Revoked),
            rotated_to: None,
            rotated_from: None,
            changes: vec![LabelChange::Name {
                before: KeyName::new("old").unwrap(),
                after: KeyName::new("ci").unwrap(),
            }],
            request_id: "req".into(),
            source_ip: Some("203.0.113.7".into()),
            user_agent: None,
            link: None,
            limits: None,
        };
        let item = event_to_item(&event, Some(100)).unwrap();
        let key = KeyId::from_u128(7).to_string();
        assert_eq!(item["org_key_action"], s(format!("acme#{key}#revoke")));
        let actor = KeyId::from_u128(9).to_string();
        assert_eq!(item["org_actor"], s(format!("acme#{actor}")));
        assert_eq!(item["org_actor_action"], s(format!("acme#{actor}#revoke")));
        assert_eq!(item["action"], s("revoke"));
        assert_eq!(item["actor_type"], s("key"));
        assert_eq!(item["purge_at"], AttributeValue::N("2100".into()));
        assert!(!item.contains_key("user_agent"));
        assert_eq!(item["actor_name"], s("admin"));
        let AttributeValue::L(changes) = &item["changes"] else {
            panic!("changes is a list: {:?}", item["changes"]);
        };
        assert_eq!(changes.len(), 1);
        assert!(!item.contains_key("seq"), "an unlinked event has no link");
        assert_eq!(event_from_item(item).unwrap(), event);
        let (links, head) = ChainHead::START.extend(std::slice::from_ref(&event));
        let linked = AuditEvent {
            link: Some(links[0]),
            ..event
        };
        let item = event_to_item(&linked, None).unwrap();
        assert_eq!(item["seq"], AttributeValue::N("1".into()));
        assert!(matches!(&item["hash"], AttributeValue::B(b) if b.as_ref() == head.hash.0));
        assert_eq!(event_from_item(item).unwrap(), linked);
        let org = OrgId::new("acme").unwrap();
        let head_item = head_to_item(&org, &head).unwrap();
        assert_eq!(head_item["org_id"], s("acme#chain"));
        assert_eq!(head_from_item(head_item).unwrap(), head);
    }
}
