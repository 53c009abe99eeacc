//! The on-disk form of keys and audit events: postcard (compact, not
//! self-describing) behind a version byte, with strings borrowed from the
//! stored bytes on read. The authorizer decodes a key on every request, so
//! this stays cheap.

use serde::{Deserialize, Serialize};

use crate::domain::audit::chain::{ChainHash, ChainHead, ChainLink};
use crate::domain::audit::{Actor, AuditAction, AuditEvent, LabelChange, LimitsChange};
use crate::domain::id::{EventId, KeyId};
use crate::domain::key::SecretHash;
use crate::domain::limits::{
    Counters, Limits, PeriodId, Quota, QuotaCounter, QuotaPeriod, RateCounter, RateLimit,
};
use crate::domain::org::OrgId;
use crate::domain::record::{KeyRecord, KeyStatus, KeyType};
use crate::domain::scope::Permissions;
use crate::domain::search::KeyCounts;
use crate::domain::text::{Description, KeyName, Owner, RevokeReason};
use crate::domain::time::Timestamp;
use crate::store::StoreError;

/// Leading byte of a stored record: 1 is a [`Doc`] alone (written before
/// rotation existed), 2 is a [`Doc`] followed by a [`RotationDoc`], 3 adds
/// a [`LimitsDoc`] after those.
const FORMAT_V1: u8 = 1;
const FORMAT_V2: u8 = 2;
const FORMAT_V3: u8 = 3;

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

/// What format 3 adds: the key's limits and budget (earlier formats read
/// as no limits and the key's own budget).
#[derive(Serialize, Deserialize)]
struct LimitsDoc {
    /// Requests and window seconds.
    rate: Option<(u64, u32)>,
    /// Requests and period.
    quota: Option<(u64, QuotaPeriod)>,
    budget: u128,
}

impl LimitsDoc {
    fn limits(&self) -> Limits {
        Limits {
            rate: self.rate.map(|(requests, window_seconds)| RateLimit {
                requests,
                window_seconds,
            }),
            quota: self
                .quota
                .map(|(requests, period)| Quota { requests, period }),
        }
    }
}

pub(super) fn encode(r: &KeyRecord) -> Result<Vec<u8>, StoreError> {
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
    let limits = LimitsDoc::of(&r.limits, r.budget);
    let bytes = postcard::to_extend(&doc, vec![FORMAT_V3])?;
    let bytes = postcard::to_extend(&rotation, bytes)?;
    Ok(postcard::to_extend(&limits, bytes)?)
}

pub(super) fn decode(bytes: &[u8]) -> Result<KeyRecord, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(e);
    let (version, body) = bytes
        .split_first()
        .ok_or_else(|| corrupt("empty record".into()))?;
    let (d, rest): (Doc<'_>, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    let (rotation, limits) = match *version {
        FORMAT_V1 => (
            RotationDoc {
                rotated_from: None,
                rotated_to: None,
                version: 0,
            },
            None,
        ),
        FORMAT_V2 => (
            postcard::from_bytes(rest).map_err(|e| corrupt(e.to_string()))?,
            None,
        ),
        FORMAT_V3 => {
            let (rotation, rest): (RotationDoc, &[u8]) =
                postcard::take_from_bytes(rest).map_err(|e| corrupt(e.to_string()))?;
            let limits: LimitsDoc =
                postcard::from_bytes(rest).map_err(|e| corrupt(e.to_string()))?;
            (rotation, Some(limits))
        }
        _ => return Err(corrupt("unknown record format".into())),
    };
    let time = Timestamp::from_unix;
    Ok(KeyRecord {
        id: KeyId::from_u128(d.id),
        org_id: OrgId::new(d.org_id).map_err(|e| corrupt(e.to_string()))?,
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
        limits: limits
            .as_ref()
            .map_or_else(Limits::default, LimitsDoc::limits),
        budget: limits.map_or(KeyId::from_u128(d.id), |l| KeyId::from_u128(l.budget)),
    })
}

/// An organization's counts.
#[derive(Serialize, Deserialize)]
struct CountsDoc {
    active: u64,
    suspended: u64,
    revoked: u64,
    active_full_access: u64,
}

pub(super) fn encode_counts(c: &KeyCounts) -> Result<Vec<u8>, StoreError> {
    Ok(postcard::to_allocvec(&CountsDoc {
        active: c.active,
        suspended: c.suspended,
        revoked: c.revoked,
        active_full_access: c.active_full_access,
    })?)
}

pub(super) fn decode_counts(bytes: &[u8]) -> Result<KeyCounts, StoreError> {
    let d: CountsDoc =
        postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("key counts: {e}")))?;
    Ok(KeyCounts {
        active: d.active,
        suspended: d.suspended,
        revoked: d.revoked,
        active_full_access: d.active_full_access,
    })
}

/// Leading byte of a stored audit event: 1 is an [`EventDoc`] alone (written
/// before the hash chain), 2 an [`EventDoc`] followed by a [`LinkDoc`], 3 an
/// [`EventDoc`], an optional [`LinkDoc`] and an [`ExtraDoc`].
const EVENT_FORMAT_V1: u8 = 1;
const EVENT_FORMAT_V2: u8 = 2;
const EVENT_FORMAT_V3: u8 = 3;

/// What format 3 adds: the actor's name, an update's changes and a limits
/// change.
#[derive(Serialize, Deserialize)]
struct ExtraDoc<'a> {
    #[serde(borrow)]
    actor_name: Option<&'a str>,
    #[serde(borrow)]
    changes: Vec<ChangeDoc<'a>>,
    /// Limits before and after (see [`LimitsDoc`]; budget unused).
    limits: Option<(LimitsDoc, LimitsDoc)>,
}

/// One field an update changed.
#[derive(Serialize, Deserialize)]
struct ChangeDoc<'a> {
    field: &'a str,
    #[serde(borrow)]
    before: Option<&'a str>,
    #[serde(borrow)]
    after: Option<&'a str>,
}

impl LimitsDoc {
    fn of(limits: &Limits, budget: KeyId) -> Self {
        LimitsDoc {
            rate: limits.rate.map(|l| (l.requests, l.window_seconds)),
            quota: limits.quota.map(|q| (q.requests, q.period)),
            budget: budget.as_u128(),
        }
    }
}

/// An event's place in its organization's hash chain.
#[derive(Serialize, Deserialize)]
struct LinkDoc {
    seq: u64,
    prev_at: Option<i64>,
    prev_hash: [u8; 32],
    hash: [u8; 32],
}

/// A chain head: the organization's last event's place, hash and time.
#[derive(Serialize, Deserialize)]
struct HeadDoc {
    seq: u64,
    hash: [u8; 32],
    at: Option<i64>,
}

pub(super) fn encode_head(head: &ChainHead) -> Result<Vec<u8>, StoreError> {
    let doc = HeadDoc {
        seq: head.seq,
        hash: head.hash.0,
        at: head.at.map(Timestamp::unix),
    };
    Ok(postcard::to_allocvec(&doc)?)
}

pub(super) fn decode_head(bytes: &[u8]) -> Result<ChainHead, StoreError> {
    let d: HeadDoc =
        postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("chain head: {e}")))?;
    Ok(ChainHead {
        seq: d.seq,
        hash: ChainHash(d.hash),
        at: d.at.map(Timestamp::from_unix),
    })
}

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

pub(super) fn encode_event(e: &AuditEvent) -> Result<Vec<u8>, StoreError> {
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
    let bytes = postcard::to_extend(&doc, vec![EVENT_FORMAT_V3])?;
    let link = e.link.map(|link| LinkDoc {
        seq: link.seq,
        prev_at: link.prev_at.map(Timestamp::unix),
        prev_hash: link.prev_hash.0,
        hash: link.hash.0,
    });
    let bytes = postcard::to_extend(&link, bytes)?;
    let extra = ExtraDoc {
        actor_name: e.actor_name.as_ref().map(KeyName::as_str),
        changes: e
            .changes
            .iter()
            .map(|c| {
                let (before, after) = c.texts();
                ChangeDoc {
                    field: c.field(),
                    before,
                    after,
                }
            })
            .collect(),
        limits: e.limits.as_ref().map(|l| {
            (
                LimitsDoc::of(&l.before, e.key_id),
                LimitsDoc::of(&l.after, e.key_id),
            )
        }),
    };
    Ok(postcard::to_extend(&extra, bytes)?)
}

fn link_of(l: LinkDoc) -> ChainLink {
    ChainLink {
        seq: l.seq,
        prev_at: l.prev_at.map(Timestamp::from_unix),
        prev_hash: ChainHash(l.prev_hash),
        hash: ChainHash(l.hash),
    }
}

pub(super) fn decode_event(bytes: &[u8]) -> Result<AuditEvent, StoreError> {
    let corrupt = |e: String| StoreError::Corrupt(e);
    let (format, body) = bytes
        .split_first()
        .ok_or_else(|| corrupt("empty event".into()))?;
    let (d, rest): (EventDoc<'_>, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| corrupt(e.to_string()))?;
    let (link, extra) = match *format {
        EVENT_FORMAT_V1 => (None, None),
        EVENT_FORMAT_V2 => {
            let l: LinkDoc = postcard::from_bytes(rest).map_err(|e| corrupt(e.to_string()))?;
            (Some(link_of(l)), None)
        }
        EVENT_FORMAT_V3 => {
            let (l, rest): (Option<LinkDoc>, &[u8]) =
                postcard::take_from_bytes(rest).map_err(|e| corrupt(e.to_string()))?;
            let extra: ExtraDoc<'_> =
                postcard::from_bytes(rest).map_err(|e| corrupt(e.to_string()))?;
            (l.map(link_of), Some(extra))
        }
        _ => return Err(corrupt("unknown event format".into())),
    };
    let (actor_name, changes, limits) = match extra {
        None => (None, vec![], None),
        Some(x) => (
            x.actor_name.map(KeyName::from_stored),
            x.changes
                .iter()
                .map(|c| {
                    LabelChange::from_stored(c.field, c.before, c.after)
                        .ok_or_else(|| corrupt(format!("unknown changed field {:?}", c.field)))
                })
                .collect::<Result<Vec<_>, _>>()?,
            x.limits.map(|(before, after)| LimitsChange {
                before: before.limits(),
                after: after.limits(),
            }),
        ),
    };
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
        org_id: OrgId::new(d.org_id).map_err(|e| corrupt(e.to_string()))?,
        at: Timestamp::from_unix(d.at),
        action: d
            .action
            .parse::<AuditAction>()
            .map_err(|_| corrupt(format!("unknown action {:?}", d.action)))?,
        key_id: KeyId::from_u128(d.key_id),
        key_name: KeyName::from_stored(d.key_name),
        actor,
        actor_name,
        reason: d.reason.map(RevokeReason::from_stored),
        status_before: d.status_before,
        status_after: d.status_after,
        rotated_to: d.rotated_to.map(KeyId::from_u128),
        rotated_from: d.rotated_from.map(KeyId::from_u128),
        changes,
        request_id: d.request_id.to_owned(),
        source_ip: d.source_ip.map(str::to_owned),
        user_agent: d.user_agent.map(str::to_owned),
        link,
        limits,
    })
}

/// A budget's usage counters: one rate counter per window length, one
/// quota counter per period kind (keys sharing a budget share the ones
/// their limits have in common).
#[derive(Debug, Default, Serialize, Deserialize)]
pub(super) struct UsageDoc {
    /// Window seconds, window start (ms), current count, previous count.
    pub rates: Vec<(u32, i64, u64, u64)>,
    /// Period kind, period, used.
    pub quotas: Vec<(QuotaPeriod, String, u64)>,
}

impl UsageDoc {
    /// The counters `limits` use.
    pub fn counters(&self, limits: &Limits) -> Counters {
        Counters {
            rate: limits.rate.and_then(|r| {
                self.rates
                    .iter()
                    .find(|(w, ..)| *w == r.window_seconds)
                    .map(|&(_, window_start_ms, current, previous)| RateCounter {
                        window_start_ms,
                        current,
                        previous,
                    })
            }),
            quota: limits.quota.and_then(|q| {
                self.quotas
                    .iter()
                    .find(|(p, ..)| *p == q.period)
                    .map(|(_, period, used)| QuotaCounter {
                        period: PeriodId(period.clone()),
                        used: *used,
                    })
            }),
        }
    }

    /// Store `counters` as the ones `limits` use.
    pub fn set(&mut self, limits: &Limits, counters: &Counters) {
        if let (Some(r), Some(c)) = (limits.rate, counters.rate) {
            self.rates.retain(|(w, ..)| *w != r.window_seconds);
            self.rates
                .push((r.window_seconds, c.window_start_ms, c.current, c.previous));
        }
        if let (Some(q), Some(c)) = (limits.quota, &counters.quota) {
            self.quotas.retain(|(p, ..)| *p != q.period);
            self.quotas.push((q.period, c.period.0.clone(), c.used));
        }
    }
}

pub(super) fn encode_usage(doc: &UsageDoc) -> Result<Vec<u8>, StoreError> {
    Ok(postcard::to_allocvec(doc)?)
}

pub(super) fn decode_usage(bytes: &[u8]) -> Result<UsageDoc, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::Corrupt(format!("usage: {e}")))
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::text::Description;

    fn event() -> AuditEvent {
        AuditEvent {
            id: EventId::from_u128(42),
            org_id: OrgId::new("acme").unwrap(),
            at: Timestamp::from_unix(2_000),
            action: AuditAction::Update,
            key_id: KeyId::from_u128(7),
            key_name: KeyName::new("new").unwrap(),
            actor: Actor::Key {
                id: KeyId::from_u128(9),
                hint: "kg_...abcd".into(),
            },
            actor_name: Some(KeyName::new("admin").unwrap()),
            reason: None,
            status_before: Some(KeyStatus::Revoked),
            status_after: Some(KeyStatus::Revoked),
            rotated_to: None,
            rotated_from: None,
            changes: vec![
                LabelChange::Name {
                    before: KeyName::new("old").unwrap(),
                    after: KeyName::new("new").unwrap(),
                },
                LabelChange::Description {
                    before: Some(Description::new("x").unwrap()),
                    after: None,
                },
            ],
            request_id: "req".into(),
            source_ip: None,
            user_agent: None,
            link: None,
            limits: None,
        }
    }

    #[test]
    fn an_event_with_its_actor_s_name_and_changes_round_trips() {
        let plain = event();
        assert_eq!(decode_event(&encode_event(&plain).unwrap()).unwrap(), plain);
        let (links, _) = ChainHead::START.extend(std::slice::from_ref(&plain));
        let linked = AuditEvent {
            link: Some(links[0]),
            ..plain
        };
        assert_eq!(
            decode_event(&encode_event(&linked).unwrap()).unwrap(),
            linked
        );
    }

    #[test]
    fn an_event_with_a_name_changes_and_a_limits_change_round_trips() {
        use crate::domain::audit::LimitsChange;
        let e = AuditEvent {
            action: AuditAction::SetLimits,
            limits: Some(LimitsChange {
                before: Limits::parse_canonical("rate=100/60;quota=").unwrap(),
                after: Limits::parse_canonical("rate=5/3600;quota=1000/month").unwrap(),
            }),
            ..event()
        };
        let read = decode_event(&encode_event(&e).unwrap()).unwrap();
        assert_eq!(read, e);
        assert!(read.actor_name.is_some() && !read.changes.is_empty());
    }

    #[test]
    fn events_written_in_the_earlier_formats_still_read() {
        let e = AuditEvent {
            actor_name: None,
            changes: vec![],
            action: AuditAction::Revoke,
            ..event()
        };
        let bytes = encode_event(&e).unwrap();
        // Format 1: the same document without the link and names that follow.
        let doc_len = bytes.len()
            - 1
            - postcard::to_allocvec(&None::<LinkDoc>).unwrap().len()
            - postcard::to_allocvec(&ExtraDoc {
                actor_name: None,
                changes: vec![],
                limits: None,
            })
            .unwrap()
            .len();
        let mut v1 = vec![EVENT_FORMAT_V1];
        v1.extend_from_slice(&bytes[1..=doc_len]);
        assert_eq!(decode_event(&v1).unwrap(), e);
        // Format 2: the document and its link.
        let link = LinkDoc {
            seq: 3,
            prev_at: None,
            prev_hash: [1; 32],
            hash: [2; 32],
        };
        let v2 =
            postcard::to_extend(&link, [vec![EVENT_FORMAT_V2], v1[1..].to_vec()].concat()).unwrap();
        let read = decode_event(&v2).unwrap();
        assert_eq!(read.link.map(|l| l.seq), Some(3));
        assert_eq!(read.actor_name, None);
    }
}
