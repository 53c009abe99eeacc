//! Finding keys: by the start of their name, or by type and owner, within a
//! status; and how many keys an organization has in each status.
//!
//! Each search is one range of one index, ordered by a sort key built here,
//! so both stores order and page alike:
//!
//! - by name: `<name, lowercased>` `\u{1}` `<inverted id>`: names A→Z, keys
//!   of one name newest first (a rotation's successor carries its
//!   predecessor's name). A search is a case-insensitive prefix: what
//!   someone types first is the start of a name, and a prefix is a range
//!   of the index, so a page is one query however many keys there are (a
//!   substring or fuzzy match would read every key of the organization).
//! - by type: `<type>` `\u{1}` `<owner, lowercased>` `\u{1}` `<inverted id>`:
//!   service keys newest first; user keys by owner A→Z, each owner's newest
//!   first. An owner is matched whole, case-insensitively.
//!
//! `\u{1}` is below every character a name or owner may hold (control
//! characters are refused), so a shorter name sorts before its extensions;
//! the inverted id (`u128::MAX - id`, fixed-width base62) sorts newest first.

use crate::domain::change::{Change, KeyWrite};
use crate::domain::id::KeyId;
use crate::domain::record::{KeyRecord, KeyStatus, KeyType, StatusFilter};
use crate::domain::scope::Permissions;
use crate::domain::text::{KeyName, Owner};

/// Between the parts of a sort key: below any character of a name or owner.
const SEPARATOR: char = '\u{1}';
/// Above any character of a sort key (a noncharacter, which text refuses):
/// a prefix followed by it bounds every key that starts with the prefix.
const ABOVE_ALL: char = '\u{10FFFF}';

/// Text as searches compare it: lowercased character by character (no
/// context-dependent rule, so a prefix of a text stays a prefix of it).
fn folded(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

fn inverted(id: KeyId) -> String {
    KeyId::from_u128(u128::MAX - id.as_u128()).to_string()
}

/// The key a search by name orders `record` by.
pub fn name_sort_key(record: &KeyRecord) -> String {
    format!(
        "{}{SEPARATOR}{}",
        folded(record.name.as_str()),
        inverted(record.id)
    )
}

/// The key a search by type (and owner) orders `record` by.
pub fn type_sort_key(record: &KeyRecord) -> String {
    format!(
        "{}{SEPARATOR}{}{SEPARATOR}{}",
        record.key_type.as_str(),
        record
            .owner
            .as_ref()
            .map_or(String::new(), |o| folded(o.as_str())),
        inverted(record.id)
    )
}

/// What a search looks for, besides a status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySearch {
    /// Names that start with this text, whatever its case.
    NamePrefix(String),
    /// Keys of one type; for user keys, optionally of one owner.
    Type {
        key_type: KeyType,
        owner: Option<String>,
    },
}

/// Why a search cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    #[error("only user keys have an owner; leave key_type out or make it user")]
    OwnerOfServiceKey,
}

impl KeySearch {
    /// Names starting with `prefix` (checked as a name is).
    pub fn name_prefix(prefix: &KeyName) -> Self {
        KeySearch::NamePrefix(folded(prefix.as_str()))
    }

    /// Keys of `key_type` and `owner`; an owner alone means user keys.
    pub fn by_type(key_type: Option<KeyType>, owner: Option<&Owner>) -> Result<Self, SearchError> {
        match (key_type, owner) {
            (Some(KeyType::Service), Some(_)) => Err(SearchError::OwnerOfServiceKey),
            (key_type, owner) => Ok(KeySearch::Type {
                key_type: key_type.unwrap_or(KeyType::User),
                owner: owner.map(|o| folded(o.as_str())),
            }),
        }
    }

    /// Which sort key this search ranges over: `name` or `type`.
    pub fn index(&self) -> SearchIndex {
        match self {
            KeySearch::NamePrefix(_) => SearchIndex::Name,
            KeySearch::Type { .. } => SearchIndex::Type,
        }
    }

    /// The sort key `record` has in this search's index.
    pub fn sort_key(&self, record: &KeyRecord) -> String {
        match self.index() {
            SearchIndex::Name => name_sort_key(record),
            SearchIndex::Type => type_sort_key(record),
        }
    }

    /// Every sort key this search matches starts with this.
    fn prefix(&self) -> String {
        match self {
            KeySearch::NamePrefix(prefix) => prefix.clone(),
            KeySearch::Type {
                key_type,
                owner: None,
            } => format!("{}{SEPARATOR}", key_type.as_str()),
            KeySearch::Type {
                key_type,
                owner: Some(owner),
            } => format!("{}{SEPARATOR}{owner}{SEPARATOR}", key_type.as_str()),
        }
    }

    /// The sort keys a page may hold, both bounds inclusive: those starting
    /// with the search's prefix, after `after` (the last one served).
    /// `None` when none can (a cursor past the end).
    pub fn range(&self, after: Option<&str>) -> Option<(String, String)> {
        let prefix = self.prefix();
        let upper = format!("{prefix}{ABOVE_ALL}");
        let lower = match after {
            // Sort keys hold no character below the separator, so the
            // first key after `after` is at least `after` and a separator.
            Some(after) => format!("{after}{SEPARATOR}").max(prefix),
            None => prefix,
        };
        (lower <= upper).then_some((lower, upper))
    }

    /// A text that tells searches apart, for binding a cursor to its search.
    pub fn fingerprint(&self) -> String {
        format!("{:08x}", crc32fast::hash(self.prefix().as_bytes()))
    }
}

/// The two orders a search ranges over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::IntoStaticStr)]
#[strum(serialize_all = "lowercase")]
pub enum SearchIndex {
    Name,
    Type,
}

/// A search within a status (or all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyQuery {
    pub status: StatusFilter,
    pub search: KeySearch,
}

/// How many keys an organization has in each status, and how many of its
/// active keys have full access (whether one is the last: suspending or
/// revoking that one locks the organization out of managing its keys, until
/// `keygate bootstrap`). An active key that has expired still counts: its
/// status is active although the authorizer denies it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyCounts {
    pub active: u64,
    pub suspended: u64,
    pub revoked: u64,
    pub active_full_access: u64,
}

impl KeyCounts {
    pub fn all(&self) -> u64 {
        self.active + self.suspended + self.revoked
    }

    /// These counts after `delta` (never below zero).
    pub fn plus(self, delta: &CountDelta) -> Self {
        let add = |n: u64, d: i64| n.saturating_add_signed(d);
        KeyCounts {
            active: add(self.active, delta.active),
            suspended: add(self.suspended, delta.suspended),
            revoked: add(self.revoked, delta.revoked),
            active_full_access: add(self.active_full_access, delta.active_full_access),
        }
    }

    /// Whether `record` is its organization's last active full-access key.
    pub fn is_last_full_access(&self, record: &KeyRecord) -> bool {
        counts_as_full_access(record) && self.active_full_access <= 1
    }

    /// The counts of these records (a recount).
    pub fn of<'a>(records: impl IntoIterator<Item = &'a KeyRecord>) -> Self {
        let mut counts = KeyCounts::default();
        for record in records {
            counts = counts.plus(&CountDelta::of(record, 1));
        }
        counts
    }
}

fn counts_as_full_access(record: &KeyRecord) -> bool {
    record.status == KeyStatus::Active && record.permissions == Permissions::Full
}

/// What a change does to its organization's [`KeyCounts`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountDelta {
    pub active: i64,
    pub suspended: i64,
    pub revoked: i64,
    pub active_full_access: i64,
}

impl CountDelta {
    /// `sign` (1 or -1) times one `record`.
    fn of(record: &KeyRecord, sign: i64) -> Self {
        let mut delta = CountDelta::default();
        match record.status {
            KeyStatus::Active => delta.active = sign,
            KeyStatus::Suspended => delta.suspended = sign,
            KeyStatus::Revoked => delta.revoked = sign,
        }
        if counts_as_full_access(record) {
            delta.active_full_access = sign;
        }
        delta
    }

    fn add(self, other: Self) -> Self {
        CountDelta {
            active: self.active + other.active,
            suspended: self.suspended + other.suspended,
            revoked: self.revoked + other.revoked,
            active_full_access: self.active_full_access + other.active_full_access,
        }
    }

    /// Whether it changes nothing (a rename, a rotation's grace period).
    pub fn is_zero(&self) -> bool {
        *self == CountDelta::default()
    }

    /// The sum of what every write of `change` adds and takes away.
    pub fn of_change(change: &Change) -> Self {
        change
            .writes()
            .iter()
            .map(|write| match write {
                KeyWrite::Insert(record) => CountDelta::of(record, 1),
                KeyWrite::Update { before, after } => {
                    CountDelta::of(before, -1).add(CountDelta::of(after, 1))
                }
                KeyWrite::Delete(before) => CountDelta::of(before, -1),
            })
            .fold(CountDelta::default(), CountDelta::add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::change::Origin;
    use crate::domain::key::KeyFormat;
    use crate::domain::lifecycle::{Rotation, Transition};
    use crate::domain::org::OrgId;
    use crate::domain::time::Timestamp;

    fn key(name: &str, key_type: KeyType, owner: Option<&str>) -> KeyRecord {
        KeyRecord {
            owner: owner.map(|o| Owner::new(o).unwrap()),
            ..KeyRecord::new_active(
                &KeyFormat::default().generate(),
                OrgId::new("acme").unwrap(),
                KeyName::new(name).unwrap(),
                key_type,
                Permissions::Full,
                Timestamp::from_unix(1_000),
            )
        }
    }

    fn in_range(search: &KeySearch, record: &KeyRecord, after: Option<&str>) -> bool {
        let key = search.sort_key(record);
        search
            .range(after)
            .is_some_and(|(lower, upper)| lower <= key && key <= upper)
    }

    #[test]
    fn a_name_search_is_a_case_insensitive_prefix() {
        let search = KeySearch::name_prefix(&KeyName::new("CI").unwrap());
        for (name, found) in [
            ("ci", true),
            ("CI-deployer", true),
            ("Ci runner", true),
            ("c", false),
            ("deploy-ci", false),
            ("ÇI", false),
        ] {
            let record = key(name, KeyType::Service, None);
            assert_eq!(in_range(&search, &record, None), found, "{name}");
        }
        // Ordered by name, then newest first; "ci" before its extensions.
        let (a, b, c) = (
            key("ci", KeyType::Service, None),
            key("ci", KeyType::Service, None),
            key("ci-x", KeyType::Service, None),
        );
        assert!(b.id > a.id);
        assert!(name_sort_key(&b) < name_sort_key(&a), "newest first");
        assert!(name_sort_key(&a) < name_sort_key(&c));
        // A page continues after the last key served, and only after it.
        let after = name_sort_key(&b);
        assert!(!in_range(&search, &b, Some(&after)));
        assert!(in_range(&search, &a, Some(&after)));
        assert!(in_range(&search, &c, Some(&after)));
        let last = name_sort_key(&c);
        assert!(!in_range(&search, &a, Some(&last)));
        assert_eq!(search.range(Some("zzz")), None, "past the end");
    }

    #[test]
    fn a_type_search_finds_one_type_and_one_owner_whole() {
        let users = KeySearch::by_type(Some(KeyType::User), None).unwrap();
        let ada = KeySearch::by_type(None, Some(&Owner::new("Ada@Example.com").unwrap())).unwrap();
        let service = key("s", KeyType::Service, None);
        let ada_key = key("a", KeyType::User, Some("ada@example.com"));
        let adam_key = key("b", KeyType::User, Some("ada@example.com.au"));
        assert!(!in_range(&users, &service, None));
        assert!(in_range(&users, &ada_key, None) && in_range(&users, &adam_key, None));
        assert!(in_range(&ada, &ada_key, None));
        assert!(!in_range(&ada, &adam_key, None), "the whole owner");
        assert_eq!(
            KeySearch::by_type(Some(KeyType::Service), Some(&Owner::new("ada").unwrap())),
            Err(SearchError::OwnerOfServiceKey)
        );
        assert_ne!(users.fingerprint(), ada.fingerprint());
    }

    #[test]
    fn each_change_moves_the_counts_it_changes() {
        let origin = Origin::bootstrap(Timestamp::from_unix(2_000));
        let full = key("root", KeyType::Service, None);
        let created = Change::create(full.clone(), &origin);
        let counts = KeyCounts::default().plus(&CountDelta::of_change(&created));
        assert_eq!(
            counts,
            KeyCounts {
                active: 1,
                active_full_access: 1,
                ..KeyCounts::default()
            }
        );
        assert!(counts.is_last_full_access(&full));
        let (suspended, after) = Change::status(full.clone(), Transition::Suspend, None, &origin);
        let counts = counts.plus(&CountDelta::of_change(&suspended));
        assert_eq!(
            (counts.active, counts.suspended, counts.active_full_access),
            (0, 1, 0)
        );
        assert!(!counts.is_last_full_access(&after));
        let (revoked, after) = Change::status(after, Transition::Revoke, None, &origin);
        let counts = counts.plus(&CountDelta::of_change(&revoked));
        assert_eq!((counts.suspended, counts.revoked), (0, 1));
        let counts = counts.plus(&CountDelta::of_change(&Change::delete(after, &origin)));
        assert_eq!(counts, KeyCounts::default());
        // A rotation with grace adds its successor; without, it revokes the old key too.
        let old = key("old", KeyType::Service, None);
        let grace = Rotation {
            grace_secs: 60,
            reason: None,
        };
        let (rotated, _) = Change::rotate(
            old.clone(),
            key("old", KeyType::Service, None),
            &grace,
            &origin,
        );
        let delta = CountDelta::of_change(&rotated);
        assert_eq!(
            (delta.active, delta.revoked, delta.active_full_access),
            (1, 0, 1)
        );
        let now = Rotation {
            grace_secs: 0,
            reason: None,
        };
        let (rotated, _) = Change::rotate(old, key("old", KeyType::Service, None), &now, &origin);
        let delta = CountDelta::of_change(&rotated);
        assert_eq!(
            (delta.active, delta.revoked, delta.active_full_access),
            (0, 1, 0)
        );
    }
}
