//! Scopes and what a key may do with them. A scope is `resource:action`;
//! which scopes exist is the catalog's business ([`crate::domain::catalog`]),
//! a deployment's data: this module knows only their form, so a key read
//! back keeps exactly the scopes it was given, also ones taken out of the
//! catalog since.

use std::collections::{BTreeSet, HashSet};
use std::fmt;
use std::sync::{LazyLock, RwLock};

use serde::Serialize;

/// The scope text that stands for full access in records and contexts.
pub const FULL_ACCESS: &str = "*";

/// Longest resource name and longest action name.
pub const MAX_RESOURCE_LEN: usize = 48;
pub const MAX_ACTION_LEN: usize = 32;

/// One scope, `resource:action`: each part a lowercase letter, then
/// lowercase letters, digits and `-`. Copy, compared by text; the text is
/// interned once per distinct scope in the process (a deployment has tens
/// or hundreds), so records decode without allocating one per request.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Scope(&'static str);

/// Text that is not of a scope's form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a scope: resource:action, each a lowercase letter then lowercase letters, \
     digits and '-' (resources up to {MAX_RESOURCE_LEN}, actions up to {MAX_ACTION_LEN})"
)]
pub struct BadScope(pub String);

/// A scope the catalog does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}")]
pub struct UnknownScope(pub String);

/// Whether `name` is a resource or action name of at most `max` characters.
pub fn is_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn intern(text: &str) -> &'static str {
    static INTERNED: LazyLock<RwLock<HashSet<&'static str>>> = LazyLock::new(RwLock::default);
    if let Some(found) = INTERNED.read().ok().and_then(|set| set.get(text).copied()) {
        return found;
    }
    let mut set = INTERNED
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(found) = set.get(text) {
        return found;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    set.insert(leaked);
    leaked
}

impl Scope {
    /// A scope of this form, whether or not a catalog has it.
    pub fn parse(s: &str) -> Result<Self, BadScope> {
        match s.split_once(':') {
            Some((resource, action))
                if is_name(resource, MAX_RESOURCE_LEN) && is_name(action, MAX_ACTION_LEN) =>
            {
                Ok(Scope(intern(s)))
            }
            _ => Err(BadScope(s.to_owned())),
        }
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    pub fn resource(self) -> &'static str {
        self.0.split_once(':').map_or(self.0, |(r, _)| r)
    }

    pub fn action(self) -> &'static str {
        self.0.split_once(':').map_or("", |(_, a)| a)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// What a key may do: everything, or a set of scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Permissions {
    /// Every scope, including ones added to the catalog later.
    Full,
    Scopes(BTreeSet<Scope>),
}

impl Permissions {
    pub fn covers(&self, scope: Scope) -> bool {
        match self {
            Permissions::Full => true,
            Permissions::Scopes(set) => set.contains(&scope),
        }
    }

    /// The scopes of `requested` this key does not hold; empty when it may grant them.
    /// Full access can only be granted by a full-access key.
    pub fn missing_for(&self, requested: &Permissions) -> Result<(), Escalation> {
        match (self, requested) {
            (Permissions::Full, _) => Ok(()),
            (Permissions::Scopes(_), Permissions::Full) => Err(Escalation::FullAccess),
            (Permissions::Scopes(held), Permissions::Scopes(wanted)) => {
                let missing: Vec<Scope> = wanted.difference(held).copied().collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(Escalation::Scopes(missing))
                }
            }
        }
    }

    /// `["*"]` for full access, else the sorted scope list.
    pub fn to_strings(&self) -> Vec<String> {
        match self {
            Permissions::Full => vec![FULL_ACCESS.to_owned()],
            Permissions::Scopes(set) => set.iter().map(|s| s.as_str().to_owned()).collect(),
        }
    }

    /// Inverse of [`Permissions::to_strings`]. Checks each scope's form
    /// only: a key keeps a scope taken out of the catalog since (where it
    /// grants nothing, since no route needs it).
    pub fn from_strings<S: AsRef<str>>(items: &[S]) -> Result<Self, BadScope> {
        if items.len() == 1 && items[0].as_ref() == FULL_ACCESS {
            return Ok(Permissions::Full);
        }
        items
            .iter()
            .map(|s| Scope::parse(s.as_ref()))
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Permissions::Scopes)
    }

    /// Space-separated form used in the authorizer context.
    pub fn to_context_string(&self) -> String {
        match self {
            Permissions::Full => FULL_ACCESS.to_owned(),
            Permissions::Scopes(set) => {
                let mut out = String::with_capacity(set.len() * 16);
                for (i, scope) in set.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(scope.as_str());
                }
                out
            }
        }
    }
}

/// A create call asked for more than the calling key holds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Escalation {
    #[error("a key without full access cannot create a full-access key")]
    FullAccess,
    #[error("the calling key does not hold {}", list(.0))]
    Scopes(Vec<Scope>),
}

/// Scopes as `a:b, c:d`.
pub fn list(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(items: &[&str]) -> Permissions {
        Permissions::from_strings(items).unwrap()
    }

    #[test]
    fn a_scope_is_resource_colon_action() {
        for good in ["runs:read", "test-sets:write", "a1:b-2"] {
            assert_eq!(Scope::parse(good).unwrap().as_str(), good);
        }
        for bad in [
            "runs",
            "Runs:read",
            "runs:",
            ":read",
            "1runs:read",
            "runs:read:x",
            "runs read",
        ] {
            assert!(Scope::parse(bad).is_err(), "{bad}");
        }
        let s = Scope::parse("orders:cancel").unwrap();
        assert_eq!((s.resource(), s.action()), ("orders", "cancel"));
        // Interned: one text however often it is parsed.
        assert!(std::ptr::eq(
            Scope::parse("orders:cancel").unwrap().as_str(),
            s.as_str()
        ));
    }

    #[test]
    fn full_access_covers_everything_and_round_trips() {
        let full = scopes(&["*"]);
        assert_eq!(full, Permissions::Full);
        assert!(full.covers(Scope::parse("anything:at-all").unwrap()));
        assert_eq!(full.to_strings(), vec!["*"]);
    }

    #[test]
    fn a_stored_scope_is_kept_whatever_the_catalog() {
        // Read back from a record: a scope no catalog has is still the key's.
        let kept = scopes(&["orders:read", "retired:thing"]);
        assert_eq!(kept.to_strings(), vec!["orders:read", "retired:thing"]);
        assert!(Permissions::from_strings(&["not a scope"]).is_err());
    }

    #[test]
    fn escalation_names_the_missing_scopes() {
        let caller = scopes(&["api-keys:write", "api-keys:read", "runs:read"]);
        assert_eq!(
            caller.missing_for(&scopes(&["runs:write", "runs:read"])),
            Err(Escalation::Scopes(vec![
                Scope::parse("runs:write").unwrap()
            ]))
        );
        assert_eq!(
            caller.missing_for(&Permissions::Full),
            Err(Escalation::FullAccess)
        );
        assert_eq!(caller.missing_for(&scopes(&["runs:read"])), Ok(()));
        assert_eq!(Permissions::Full.missing_for(&Permissions::Full), Ok(()));
    }
}
