//! The audit trail: one event per change to a key, written by the store in
//! the same atomic write as the change (see [`crate::domain::change::Change`]).
//! Events outlive the keys they name. They hold who, what, when and from
//! where, never a key, a secret or a hash.

use serde::{Deserialize, Serialize};

use self::chain::ChainLink;
use super::id::{EventId, KeyId};
use super::limits::Limits;
use super::org::OrgId;
use super::record::KeyStatus;
use super::text::{Description, KeyName, RevokeReason};
use super::time::Timestamp;

pub mod chain;

/// What happened to the key.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum AuditAction {
    Create,
    Rotate,
    Suspend,
    Reactivate,
    Revoke,
    Delete,
    /// A new name or description (`PATCH /v1/api-keys/{id}`); the event's
    /// `changes` hold each field before and after.
    Update,
    /// A full-access key minted straight into the store (`keygate bootstrap`,
    /// the first start of `keygate serve`).
    Bootstrap,
    /// The key's rate limit or quota set, changed or removed.
    #[serde(rename = "set_limits")]
    #[strum(serialize = "set_limits")]
    SetLimits,
    /// The counts of the key's budget set back to zero.
    #[serde(rename = "reset_usage")]
    #[strum(serialize = "reset_usage")]
    ResetUsage,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A key, through the API.
    Key { id: KeyId, hint: String },
    /// Someone with direct access to the store.
    Bootstrap,
}

impl Actor {
    pub fn key_id(&self) -> Option<KeyId> {
        match self {
            Actor::Key { id, .. } => Some(*id),
            Actor::Bootstrap => None,
        }
    }

    pub fn kind(&self) -> ActorKind {
        match self {
            Actor::Key { .. } => ActorKind::Key,
            Actor::Bootstrap => ActorKind::Bootstrap,
        }
    }
}

/// Which kind of actor made a change, as events show it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum ActorKind {
    Key,
    Bootstrap,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A field of a key an `update` changed, before and after: only a key's
/// labels (its name and description) can change after it is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelChange {
    Name {
        before: KeyName,
        after: KeyName,
    },
    /// `None`: no description.
    Description {
        before: Option<Description>,
        after: Option<Description>,
    },
}

impl LabelChange {
    /// The field's name, as the API spells it.
    pub fn field(&self) -> &'static str {
        match self {
            LabelChange::Name { .. } => "name",
            LabelChange::Description { .. } => "description",
        }
    }

    /// The text before and after (`None` for no description).
    pub fn texts(&self) -> (Option<&str>, Option<&str>) {
        match self {
            LabelChange::Name { before, after } => (Some(before.as_str()), Some(after.as_str())),
            LabelChange::Description { before, after } => (
                before.as_ref().map(Description::as_str),
                after.as_ref().map(Description::as_str),
            ),
        }
    }

    /// A change read back from a store: `field` and its texts as written.
    pub fn from_stored(field: &str, before: Option<&str>, after: Option<&str>) -> Option<Self> {
        match field {
            "name" => Some(LabelChange::Name {
                before: KeyName::from_stored(before?),
                after: KeyName::from_stored(after?),
            }),
            "description" => Some(LabelChange::Description {
                before: before.map(Description::from_stored),
                after: after.map(Description::from_stored),
            }),
            _ => None,
        }
    }
}

/// One change to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: EventId,
    pub org_id: OrgId,
    pub at: Timestamp,
    pub action: AuditAction,
    pub key_id: KeyId,
    pub key_name: KeyName,
    pub actor: Actor,
    /// The acting key's name when it acted: a snapshot, so the trail shows
    /// who acted as they were called then, also once that key is renamed or
    /// deleted. `None` for `bootstrap` and for events written before names
    /// were recorded.
    pub actor_name: Option<KeyName>,
    pub reason: Option<RevokeReason>,
    /// `None` for a key that did not exist before (create, bootstrap).
    pub status_before: Option<KeyStatus>,
    /// `None` for a key that no longer exists (delete).
    pub status_after: Option<KeyStatus>,
    /// On a `rotate` event, the key that replaced this one.
    pub rotated_to: Option<KeyId>,
    /// On the `create` event of a rotation's new key, the key it replaced.
    pub rotated_from: Option<KeyId>,
    /// On an `update` event, each field it changed; empty on every other.
    pub changes: Vec<LabelChange>,
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Its place in the organization's hash chain: set by the store when it
    /// writes the event (see [`chain`]); `None` before then,
    /// and on events written before the chain existed.
    pub link: Option<ChainLink>,
    /// On a `set_limits` event, the limits before and after; on the `create`
    /// event of a key with limits, its limits (before: none).
    pub limits: Option<LimitsChange>,
}

/// A key's limits before and after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitsChange {
    pub before: Limits,
    pub after: Limits,
}

/// Which events a list returns. Each filter [`EventFilter::index`] accepts
/// is one index query, its time range a range of that index's sort key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventFilter {
    /// Only the events of this key (the key changed).
    pub key_id: Option<KeyId>,
    pub action: Option<AuditAction>,
    /// Only the events this key made (the acting key).
    pub actor: Option<KeyId>,
    /// Only events recorded at or after this id's time (see
    /// [`EventId::first_at_millis`]): ids are time-ordered, so a time range
    /// is a range of ids.
    pub since: Option<EventId>,
    /// Only events recorded before this id's time.
    pub until: Option<EventId>,
}

/// The index that serves a filter: its partition, by key, action, actor or
/// none (the organization's whole trail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventIndex {
    Org,
    Key(KeyId),
    Action(AuditAction),
    KeyAction(KeyId, AuditAction),
    Actor(KeyId),
    ActorAction(KeyId, AuditAction),
}

/// A filter no index serves: by the key changed and the acting key at
/// once. (What one key did to another is rare enough not to pay for an
/// index on every event; filter by either and look.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("events cannot be filtered by key_id and actor_key_id at once; filter by one of them")]
pub struct Unindexed;

impl EventFilter {
    /// The index that serves this filter, if one does.
    pub fn index(&self) -> Result<EventIndex, Unindexed> {
        Ok(match (self.key_id, self.actor, self.action) {
            (Some(_), Some(_), _) => return Err(Unindexed),
            (None, None, None) => EventIndex::Org,
            (Some(key), None, None) => EventIndex::Key(key),
            (None, None, Some(action)) => EventIndex::Action(action),
            (Some(key), None, Some(action)) => EventIndex::KeyAction(key, action),
            (None, Some(actor), None) => EventIndex::Actor(actor),
            (None, Some(actor), Some(action)) => EventIndex::ActorAction(actor, action),
        })
    }

    /// The event ids a page may hold, continuing after `after` (the last id
    /// served): at least the first (inclusive), below the second (exclusive;
    /// `None`: no upper bound). `None` when no id can be in range.
    pub fn id_range(&self, after: Option<EventId>) -> Option<(u128, Option<u128>)> {
        let lower = self.since.map_or(0, EventId::as_u128);
        let upper = [self.until, after]
            .into_iter()
            .flatten()
            .map(EventId::as_u128)
            .min();
        match upper {
            Some(upper) if upper <= lower => None,
            upper => Some((lower, upper)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_filter_has_its_index_but_key_and_actor_together() {
        let key = KeyId::from_u128(1);
        let actor = KeyId::from_u128(2);
        let filter = |key_id, actor, action| EventFilter {
            key_id,
            actor,
            action,
            ..EventFilter::default()
        };
        let revoke = Some(AuditAction::Revoke);
        assert_eq!(filter(None, None, None).index(), Ok(EventIndex::Org));
        assert_eq!(
            filter(None, Some(actor), revoke).index(),
            Ok(EventIndex::ActorAction(actor, AuditAction::Revoke))
        );
        assert_eq!(
            filter(Some(key), None, revoke).index(),
            Ok(EventIndex::KeyAction(key, AuditAction::Revoke))
        );
        assert_eq!(filter(Some(key), Some(actor), None).index(), Err(Unindexed));
    }

    #[test]
    fn a_time_range_is_a_range_of_ids_that_a_cursor_narrows() {
        let at = |ms| Some(EventId::first_at_millis(ms));
        let range = EventFilter {
            since: at(1_000),
            until: at(2_000),
            ..EventFilter::default()
        };
        let (from, before) = (1_000u128 << 80, 2_000u128 << 80);
        assert_eq!(range.id_range(None), Some((from, Some(before))));
        let after = EventId::from_u128(from + 5);
        assert_eq!(range.id_range(Some(after)), Some((from, Some(from + 5))));
        assert_eq!(range.id_range(Some(EventId::from_u128(from))), None);
        assert_eq!(EventFilter::default().id_range(None), Some((0, None)));
        let backwards = EventFilter {
            since: at(2_000),
            until: at(1_000),
            ..EventFilter::default()
        };
        assert_eq!(backwards.id_range(None), None);
        // A generated id falls in the range of the millisecond it was made in.
        let now = EventId::generate();
        let ms = (now.as_u128() >> 80) as u64;
        assert!(EventId::first_at_millis(ms) <= now && now < EventId::first_at_millis(ms + 1));
    }

    #[test]
    fn actions_round_trip() {
        for a in <AuditAction as strum::VariantArray>::VARIANTS {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(*a));
        }
        assert!("rename".parse::<AuditAction>().is_err());
    }
}
