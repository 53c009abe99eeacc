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
use super::text::{KeyName, RevokeReason};
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
    pub reason: Option<RevokeReason>,
    /// `None` for a key that did not exist before (create, bootstrap).
    pub status_before: Option<KeyStatus>,
    /// `None` for a key that no longer exists (delete).
    pub status_after: Option<KeyStatus>,
    /// On a `rotate` event, the key that replaced this one.
    pub rotated_to: Option<KeyId>,
    /// On the `create` event of a rotation's new key, the key it replaced.
    pub rotated_from: Option<KeyId>,
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

/// Which events a list returns; each combination is one index query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventFilter {
    pub key_id: Option<KeyId>,
    pub action: Option<AuditAction>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip() {
        for a in <AuditAction as strum::VariantArray>::VARIANTS {
            assert_eq!(a.as_str().parse::<AuditAction>(), Ok(*a));
        }
        assert!("update".parse::<AuditAction>().is_err());
    }
}
