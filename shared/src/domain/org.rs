//! Organizations: every key and event belongs to one.

use std::fmt;

use serde::Serialize;

/// An organization id: 1–64 of `a-z 0-9 - _`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OrgId(String);

/// Not an organization id; names what it must be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "organization {0:?} must be 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit"
)]
pub struct BadOrgId(pub String);

impl OrgId {
    /// Longest organization id.
    pub const MAX_LEN: usize = 64;
    /// The rule as a regular expression (the OpenAPI document's pattern).
    pub const PATTERN: &str = "^[a-z0-9][a-z0-9_-]{0,63}$";

    pub fn new(s: &str) -> Result<Self, BadOrgId> {
        let ok = !s.is_empty()
            && s.len() <= Self::MAX_LEN
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(BadOrgId(s.to_owned()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_ids_are_slugs() {
        assert!(OrgId::new("acme-co_1").is_ok());
        for bad in ["", "Acme", "-acme", "a b", &"a".repeat(65)] {
            assert!(OrgId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_published_pattern_is_the_rule() {
        // Spot checks of the pattern's pieces against the code's rule.
        assert!(OrgId::PATTERN.contains("{0,63}"));
        assert!(OrgId::new(&"a".repeat(OrgId::MAX_LEN)).is_ok());
    }
}
