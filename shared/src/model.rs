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

/// Why a text field was refused. Never carries the text itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must be {min}-{max} characters (got {got})")]
    Length { min: usize, max: usize, got: usize },
    #[error("must not be blank")]
    Blank,
    #[error("must not contain control characters")]
    Control,
    /// Bidirectional overrides and isolates, zero-width characters and the
    /// rest of Unicode's category Cf: text that displays as something else.
    #[error(
        "must not contain invisible formatting characters (Unicode category Cf, such as U+{0:04X})"
    )]
    Format(u32),
    /// An API key pasted into a name or reason would be shown to everyone
    /// who can list keys, and kept in the audit trail.
    #[error("must not contain an API key")]
    ContainsKey,
}

/// Whether `text` holds something shaped like a keygate key: `_` followed by
/// a run of at least a key body's length of base62 characters.
pub fn contains_key_like(text: &str) -> bool {
    text.split('_').skip(1).any(|after| {
        after.bytes().take_while(u8::is_ascii_alphanumeric).count() >= crate::key::BODY_LEN
    })
}

/// The checks every free-text field shares.
fn check_text(s: &str, min: usize, max: usize) -> Result<(), TextError> {
    let got = s.chars().count();
    if !(min..=max).contains(&got) {
        return Err(TextError::Length { min, max, got });
    }
    if s.chars().any(char::is_control) {
        return Err(TextError::Control);
    }
    if let Some(c) = s.chars().find(|&c| {
        unicode_general_category::get_general_category(c)
            == unicode_general_category::GeneralCategory::Format
    }) {
        return Err(TextError::Format(u32::from(c)));
    }
    if min > 0 && s.trim().is_empty() {
        return Err(TextError::Blank);
    }
    if contains_key_like(s) {
        return Err(TextError::ContainsKey);
    }
    Ok(())
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr) => {
        $(#[$doc])*
        /// Only [`Self::new`] makes one, so every value is valid.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub const MAX_CHARS: usize = $max;

            pub fn new(s: &str) -> Result<Self, TextError> {
                check_text(s, $min, $max)?;
                Ok(Self(s.to_owned()))
            }

            /// A value read back from a store. It was checked when it was
            /// written, and a rule made stricter since must not make existing
            /// keys unreadable (the authorizer reads every key this way).
            pub(crate) fn from_stored(s: &str) -> Self {
                Self(s.to_owned())
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
    /// Why a key was revoked (or rotated): 1–500 characters.
    RevokeReason, 1, 500
);

/// An organization id: 1–64 of `a-z 0-9 - _`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
    /// The key this one replaced by rotation.
    pub rotated_from: Option<KeyId>,
    /// The key that replaced this one by rotation.
    pub rotated_to: Option<KeyId>,
    /// Counts the changes made to the key (not its uses): every change is
    /// written only if the stored key still has the version it was decided
    /// on, so no change can land on a key that changed and changed back.
    pub version: u64,
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
        }
    }

    /// Whether `other` is this key with only its state changed: everything a
    /// key is granted (its org, permissions, secret) and how it is named are
    /// fixed at creation. Stores refuse an update that changes any of them, so
    /// an authority check against a key's permissions cannot be outdated by
    /// the time the change is written.
    pub fn same_identity(&self, other: &KeyRecord) -> bool {
        self.id == other.id
            && self.org_id == other.org_id
            && self.name == other.name
            && self.description == other.description
            && self.key_type == other.key_type
            && self.owner == other.owner
            && self.permissions == other.permissions
            && self.hint == other.hint
            && self.secret_hash == other.secret_hash
            && self.created_at == other.created_at
            && self.created_by == other.created_by
            && self.rotated_from == other.rotated_from
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
            rotated_from: self.rotated_from,
            rotated_to: self.rotated_to,
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
    pub rotated_from: Option<KeyId>,
    pub rotated_to: Option<KeyId>,
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
    fn text_that_displays_as_something_else_is_refused() {
        for (text, code) in [
            ("a\u{202e}b", 0x202e),
            ("zero\u{200b}width", 0x200b),
            ("isolate\u{2066}x", 0x2066),
            ("bom\u{feff}", 0xfeff),
            ("soft\u{00ad}hyphen", 0x00ad),
        ] {
            assert_eq!(KeyName::new(text), Err(TextError::Format(code)), "{text:?}");
            assert_eq!(RevokeReason::new(text), Err(TextError::Format(code)));
        }
        assert_eq!(KeyName::new("bell\u{7}"), Err(TextError::Control));
        assert!(KeyName::new("Zoë's key — ✓ 日本").is_ok());
    }

    #[test]
    fn a_pasted_key_is_refused_but_long_identifiers_are_not() {
        let key = crate::key::KeyFormat::default().generate();
        let text = format!("leaked {} in CI", key.key.expose());
        assert_eq!(RevokeReason::new(&text), Err(TextError::ContainsKey));
        // A 40-character git commit id is not a key.
        assert!(Description::new("deployed 3f2a9c1e5b7d4f6a8c0e2b4d6f8a0c2e4b6d8f0a").is_ok());
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
