//! Key records and the validated values they are made of.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::key::{KeyId, NewKey, SecretHash};
use crate::scope::Permissions;

/// A point in time, whole seconds, UTC; shown as RFC 3339 (`2026-11-27T04:05:08Z`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn from_unix(secs: i64) -> Self {
        Self(secs)
    }

    pub fn unix(self) -> i64 {
        self.0
    }

    /// RFC 3339 with any offset, kept as UTC; years past 9999 in UTC are refused
    /// so every timestamp can be shown again.
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        /// 9999-12-31T23:59:59Z.
        const LAST_SHOWABLE: i64 = 253_402_300_799;
        let secs = OffsetDateTime::parse(s, &Rfc3339)
            .map_err(|_| "is not an RFC 3339 date-time such as 2030-01-31T12:00:00Z".to_owned())?
            .unix_timestamp();
        if secs > LAST_SHOWABLE {
            return Err("is after the year 9999".to_owned());
        }
        Ok(Self(secs))
    }

    pub fn plus_seconds(self, secs: i64) -> Self {
        Self(self.0.saturating_add(secs))
    }
}

impl fmt::Display for Timestamp {
    /// Never fails: a time RFC 3339 cannot show (only a record keygate did not
    /// write could hold one) is shown as its Unix seconds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
        {
            Some(text) => f.write_str(&text),
            None => write!(f, "{}", self.0),
        }
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse_rfc3339(&s).map_err(serde::de::Error::custom)
    }
}

/// Where time comes from; tests move it.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyStatus {
    Active,
    Suspended,
    Revoked,
}

impl KeyStatus {
    pub const ALL: [KeyStatus; 3] = [KeyStatus::Active, KeyStatus::Suspended, KeyStatus::Revoked];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Suspended => "suspended",
            KeyStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which keys a list returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusFilter {
    All,
    Only(KeyStatus),
}

impl StatusFilter {
    pub fn parse(s: &str) -> Option<Self> {
        if s == "all" {
            Some(StatusFilter::All)
        } else {
            KeyStatus::parse(s).map(StatusFilter::Only)
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Only(s) => s.as_str(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyType {
    /// For automated systems.
    Service,
    /// For one person, named by `owner`.
    User,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Service => "service",
            KeyType::User => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "service" => Some(KeyType::Service),
            "user" => Some(KeyType::User),
            _ => None,
        }
    }
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn new(s: &str) -> Result<Self, String> {
                let chars = s.chars().count();
                if !($min..=$max).contains(&chars) {
                    return Err(format!("must be {}-{} characters (got {chars})", $min, $max));
                }
                if s.chars().any(char::is_control) {
                    return Err("must not contain control characters".to_owned());
                }
                if $min > 0 && s.trim().is_empty() {
                    return Err("must not be blank".to_owned());
                }
                Ok(Self(s.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

bounded_text!(
    /// A key's name: 1–100 characters.
    KeyName, 1, 100
);
bounded_text!(
    /// A key's optional description: up to 500 characters.
    Description, 0, 500
);
bounded_text!(
    /// The person a user key belongs to: 1–200 characters.
    Owner, 1, 200
);
bounded_text!(
    /// Why a key was revoked: 1–500 characters.
    RevokeReason, 1, 500
);

/// An organization id: 1–64 of `a-z 0-9 - _`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrgId(String);

impl OrgId {
    pub fn new(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "organization {s:?} must be 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
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
        }
    }

    pub fn is_expired(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// The public JSON form: no secret, no hash.
    pub fn to_view(&self, now: Timestamp) -> KeyView<'_> {
        KeyView {
            id: self.id,
            org_id: &self.org_id,
            name: &self.name,
            description: self.description.as_ref(),
            key_type: self.key_type,
            owner: self.owner.as_ref(),
            scopes: self.permissions.to_strings(),
            status: self.status,
            expired: self.is_expired(now),
            hint: &self.hint,
            created_at: self.created_at,
            created_by: self.created_by,
            updated_at: self.updated_at,
            suspended_at: self.suspended_at,
            revoked_at: self.revoked_at,
            revoked_reason: self.revoked_reason.as_ref(),
            revoked_by: self.revoked_by,
            expires_at: self.expires_at,
            last_used_at: self.last_used_at,
        }
    }
}

/// The JSON body of a key record.
#[derive(Debug, Serialize)]
pub struct KeyView<'a> {
    pub id: KeyId,
    pub org_id: &'a OrgId,
    pub name: &'a KeyName,
    pub description: Option<&'a Description>,
    pub key_type: KeyType,
    pub owner: Option<&'a Owner>,
    pub scopes: Vec<String>,
    pub status: KeyStatus,
    pub expired: bool,
    pub hint: &'a str,
    pub created_at: Timestamp,
    pub created_by: Option<KeyId>,
    pub updated_at: Timestamp,
    pub suspended_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_reason: Option<&'a RevokeReason>,
    pub revoked_by: Option<KeyId>,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_bounded_in_characters_not_bytes() {
        assert!(KeyName::new("").is_err());
        assert!(KeyName::new("   ").is_err());
        assert!(KeyName::new(&"é".repeat(100)).is_ok());
        assert!(KeyName::new(&"a".repeat(101)).is_err());
        assert!(KeyName::new("tab\there").is_err());
        assert!(Description::new("").is_ok());
        assert!(Description::new(&"d".repeat(501)).is_err());
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = Timestamp::parse_rfc3339("2030-01-31T12:00:00+01:00").unwrap();
        assert_eq!(t.to_string(), "2030-01-31T11:00:00Z");
        assert!(Timestamp::parse_rfc3339("tomorrow").is_err());
        // 23:00 at -02:00 on the last day of 9999 is already year 10000 in UTC.
        assert!(Timestamp::parse_rfc3339("9999-12-31T23:00:00-02:00").is_err());
        assert!(Timestamp::parse_rfc3339("9999-12-31T20:00:00Z").is_ok());
        assert_eq!(
            Timestamp::from_unix(i64::MAX).to_string(),
            i64::MAX.to_string()
        );
    }

    #[test]
    fn org_ids_are_slugs() {
        assert!(OrgId::new("acme-co_1").is_ok());
        for bad in ["", "Acme", "-acme", "a b", &"a".repeat(65)] {
            assert!(OrgId::new(bad).is_err(), "{bad}");
        }
    }
}
