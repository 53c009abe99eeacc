//! A key as stored, its status and its type.

use serde::{Deserialize, Serialize};

use super::id::KeyId;
use super::key::{NewKey, SecretHash};
use super::limits::Limits;
use super::org::OrgId;
use super::scope::Permissions;
use super::text::{Description, KeyName, Owner, RevokeReason};
use super::time::Timestamp;

/// Where a key is in its lifecycle.
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
pub enum KeyStatus {
    Active,
    Suspended,
    Revoked,
}

impl KeyStatus {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Which keys a list returns: `all`, or one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusFilter {
    All,
    Only(KeyStatus),
}

impl StatusFilter {
    pub const ALL_TEXT: &str = "all";

    pub fn parse(s: &str) -> Option<Self> {
        if s == Self::ALL_TEXT {
            Some(StatusFilter::All)
        } else {
            s.parse().ok().map(StatusFilter::Only)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::All => Self::ALL_TEXT,
            StatusFilter::Only(s) => s.as_str(),
        }
    }

    /// Every filter's text, `all` first.
    pub fn names() -> impl Iterator<Item = &'static str> {
        std::iter::once(Self::ALL_TEXT).chain(
            <KeyStatus as strum::VariantArray>::VARIANTS
                .iter()
                .map(|s| s.as_str()),
        )
    }
}

/// Who a key is for.
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
pub enum KeyType {
    /// For automated systems.
    Service,
    /// For one person, named by `owner`.
    User,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A key as stored: everything but the key and its secret, which are never kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: KeyId,
    pub org_id: OrgId,
    pub name: KeyName,
    pub description: Option<Description>,
    pub key_type: KeyType,
    pub owner: Option<Owner>,
    pub permissions: Permissions,
    pub status: KeyStatus,
    pub hint: String,
    pub secret_hash: SecretHash,
    pub created_at: Timestamp,
    pub created_by: Option<KeyId>,
    pub updated_at: Timestamp,
    pub suspended_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_reason: Option<RevokeReason>,
    pub revoked_by: Option<KeyId>,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    /// The key this one replaced by rotation.
    pub rotated_from: Option<KeyId>,
    /// The key that replaced this one by rotation.
    pub rotated_to: Option<KeyId>,
    /// Counts the changes made to the key (not its uses): every change is
    /// written only if the stored key still has the version it was decided
    /// on, so no change can land on a key that changed and changed back.
    pub version: u64,
    /// Its rate limit and quota (none: unlimited).
    pub limits: Limits,
    /// The budget its requests are counted in: its own id, or the budget of
    /// the key it replaced by rotation, or of the limited key that created
    /// it. Fixed at creation.
    pub budget: KeyId,
}

impl KeyRecord {
    /// A freshly minted, active key with no audit history; callers fill in
    /// the optional fields (`description`, `owner`, `expires_at`, `created_by`).
    pub fn new_active(
        minted: &NewKey,
        org_id: OrgId,
        name: KeyName,
        key_type: KeyType,
        permissions: Permissions,
        now: Timestamp,
    ) -> Self {
        KeyRecord {
            id: minted.id,
            org_id,
            name,
            description: None,
            key_type,
            owner: None,
            permissions,
            status: KeyStatus::Active,
            hint: minted.hint.clone(),
            secret_hash: minted.hash,
            created_at: now,
            created_by: None,
            updated_at: now,
            suspended_at: None,
            revoked_at: None,
            revoked_reason: None,
            revoked_by: None,
            expires_at: None,
            last_used_at: None,
            rotated_from: None,
            rotated_to: None,
            version: 1,
            limits: Limits::NONE,
            budget: minted.id,
        }
    }

    /// Whether `other` is this key with only its state or labels changed:
    /// everything a key is granted (its org, permissions, secret) and who it
    /// is for are fixed at creation. Stores refuse an update that changes any
    /// of them, so an authority check against a key's permissions cannot be
    /// outdated by the time the change is written. (Its labels, name and
    /// description, change only with an `update` event recording them: see
    /// [`KeyRecord::same_labels`].)
    pub fn same_identity(&self, other: &KeyRecord) -> bool {
        self.id == other.id
            && self.org_id == other.org_id
            && self.key_type == other.key_type
            && self.owner == other.owner
            && self.permissions == other.permissions
            && self.hint == other.hint
            && self.secret_hash == other.secret_hash
            && self.created_at == other.created_at
            && self.created_by == other.created_by
            && self.rotated_from == other.rotated_from
            && self.budget == other.budget
    }

    /// Whether `other` has this key's name and description.
    pub fn same_labels(&self, other: &KeyRecord) -> bool {
        self.name == other.name && self.description == other.description
    }

    /// Whether the stored key `current` is still the key a change was decided
    /// on (`self`): the fields a change's checks read. A store writes the
    /// change only if this holds, in the same atomic step as the write.
    pub fn unchanged_in(&self, current: &KeyRecord) -> bool {
        self.version == current.version
            && self.org_id == current.org_id
            && self.status == current.status
            && self.permissions == current.permissions
            && self.expires_at == current.expires_at
            && self.rotated_to == current.rotated_to
            && self.limits == current.limits
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}
