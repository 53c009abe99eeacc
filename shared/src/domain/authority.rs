//! Authority: what a calling key may do to the keys of its organization.
//!
//! One rule, in one function ([`authorize`]), called by every operation that
//! mints or changes a key:
//!
//! - **Scopes.** A key can only mint keys whose permissions it holds itself,
//!   and can only change (suspend, reactivate, revoke, rotate, delete) a key
//!   whose permissions its own cover. Full access covers everything; a scoped
//!   key covers a key whose scopes are a subset of its own, never a
//!   full-access key. A key may always suspend, revoke, rotate or delete
//!   itself (that is how you stop a leak), but never reactivate itself.
//! - **Time.** A key that expires cannot mint a key that outlives it, nor
//!   reactivate one: restoring a key's power is like minting it. Taking
//!   power away (suspend, revoke, delete) needs no such check.
//!
//! The check reads a key's permissions, expiry and status; stores write a
//! change only while those are still what was read (see
//! [`crate::domain::record::KeyRecord::unchanged_in`]), and a key's permissions can
//! never change at all ([`crate::domain::record::KeyRecord::same_identity`]), so a
//! check and its write cannot race.

use crate::domain::id::KeyId;
use crate::domain::org::OrgId;
use crate::domain::record::KeyRecord;
use crate::domain::scope::{Escalation, Permissions};
use crate::domain::text::KeyName;
use crate::domain::time::Timestamp;

/// The calling key, as the authorizer described it to the handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub org: OrgId,
    pub key_id: KeyId,
    /// `<prefix>_...` and the key's last 4 characters, for the audit trail.
    pub hint: String,
    /// Its name when the request was authorized, for the audit trail.
    pub name: Option<KeyName>,
    pub permissions: Permissions,
    pub expires_at: Option<Timestamp>,
}

/// What a caller asks to do.
#[derive(Debug, Clone, Copy)]
pub enum Act<'a> {
    /// Bring a key with these permissions and this expiry into being: create,
    /// or the successor of a rotation.
    Mint {
        permissions: &'a Permissions,
        expires_at: Option<Timestamp>,
    },
    /// Change an existing key: suspend, revoke, rotate, delete.
    Change { target: &'a KeyRecord },
    /// Give a suspended key its power back. Never the caller's own key: a
    /// suspended key cannot call, so only a key suspended while its request
    /// ran could ask, and a leaked key must not outlast its suspension.
    Reactivate { target: &'a KeyRecord },
}

/// Why the caller may not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Minting permissions the caller does not hold.
    #[error("{}", escalation_message(.0))]
    Escalation(Escalation),
    /// Changing a key whose permissions the caller's do not cover.
    #[error("{}", uncovered_message(.0))]
    Uncovered(Escalation),
    /// Reactivating the calling key itself.
    #[error("a key cannot reactivate itself: another key with authority over it must")]
    OwnReactivation,
    /// Minting, or giving its power back to, a key that would outlive the
    /// caller.
    #[error(
        "your key expires at {caller}, so it cannot {} a key that {}",
        .act,
        match .requested { Some(at) => format!("expires later, at {at}"), None => "never expires".to_owned() }
    )]
    Outlives {
        /// `create` or `reactivate`.
        act: &'static str,
        caller: Timestamp,
        requested: Option<Timestamp>,
    },
}

fn escalation_message(e: &Escalation) -> String {
    match e {
        Escalation::FullAccess => e.to_string(),
        Escalation::Scopes(_) => format!("cannot grant scopes {e}"),
    }
}

fn uncovered_message(e: &Escalation) -> String {
    match e {
        Escalation::FullAccess => {
            "this key has full access and yours does not: only a full-access key can change it"
                .to_owned()
        }
        Escalation::Scopes(missing) => format!(
            "this key holds scopes your key does not, so your key cannot change it: {}",
            crate::domain::scope::list(missing)
        ),
    }
}

/// The rule. `Ok` when `caller` may do `act`.
pub fn authorize(caller: &Caller, act: Act<'_>) -> Result<(), Denied> {
    match act {
        Act::Mint {
            permissions,
            expires_at,
        } => {
            caller
                .permissions
                .missing_for(permissions)
                .map_err(Denied::Escalation)?;
            within_lifetime(caller, "create", expires_at)
        }
        Act::Reactivate { target } if target.id == caller.key_id => Err(Denied::OwnReactivation),
        Act::Reactivate { target } => {
            covers(caller, target)?;
            // Restoring a key's power is like minting it.
            within_lifetime(caller, "reactivate", target.expires_at)
        }
        Act::Change { target } if target.id == caller.key_id => Ok(()),
        Act::Change { target } => covers(caller, target),
    }
}

/// The caller's permissions cover the target's.
fn covers(caller: &Caller, target: &KeyRecord) -> Result<(), Denied> {
    caller
        .permissions
        .missing_for(&target.permissions)
        .map_err(Denied::Uncovered)
}

/// A key the caller brings to power expires no later than the caller.
fn within_lifetime(
    caller: &Caller,
    act: &'static str,
    expires_at: Option<Timestamp>,
) -> Result<(), Denied> {
    match (caller.expires_at, expires_at) {
        (Some(limit), Some(at)) if at <= limit => Ok(()),
        (Some(limit), requested) => Err(Denied::Outlives {
            act,
            caller: limit,
            requested,
        }),
        (None, _) => Ok(()),
    }
}

/// The expiry of a key the caller mints: the one asked for, else the
/// caller's own (a short-lived key's keys are short-lived too).
pub fn inherited_expiry(caller: &Caller, requested: Option<Timestamp>) -> Option<Timestamp> {
    requested.or(caller.expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::KeyFormat;
    use crate::domain::record::KeyType;

    fn perms(items: &[&str]) -> Permissions {
        Permissions::from_strings(items).unwrap()
    }

    fn key(permissions: Permissions) -> KeyRecord {
        KeyRecord::new_active(
            &KeyFormat::default().generate(),
            OrgId::new("acme").unwrap(),
            KeyName::new("k").unwrap(),
            KeyType::Service,
            permissions,
            Timestamp::from_unix(1_000),
        )
    }

    fn caller(permissions: Permissions, expires_at: Option<i64>) -> Caller {
        Caller {
            org: OrgId::new("acme").unwrap(),
            key_id: KeyId::generate(),
            hint: "kg_...abcd".into(),
            name: None,
            permissions,
            expires_at: expires_at.map(Timestamp::from_unix),
        }
    }

    #[test]
    fn a_key_changes_only_keys_its_permissions_cover() {
        let writer = caller(perms(&["api-keys:write", "runs:read"]), None);
        let full = key(Permissions::Full);
        let wider = key(perms(&["runs:read", "runs:write"]));
        let narrower = key(perms(&["runs:read"]));
        assert_eq!(
            authorize(&writer, Act::Change { target: &full }),
            Err(Denied::Uncovered(Escalation::FullAccess))
        );
        let err = authorize(&writer, Act::Change { target: &wider }).unwrap_err();
        assert!(err.to_string().ends_with(": runs:write"), "{err}");
        assert_eq!(
            authorize(&writer, Act::Change { target: &narrower }),
            Ok(())
        );
        let root = caller(Permissions::Full, None);
        assert_eq!(authorize(&root, Act::Change { target: &full }), Ok(()));
    }

    #[test]
    fn a_key_may_always_act_on_itself() {
        let mut me = caller(perms(&["api-keys:write"]), None);
        let mut own = key(Permissions::Full);
        me.key_id = own.id;
        assert_eq!(authorize(&me, Act::Change { target: &own }), Ok(()));
        assert_eq!(
            authorize(&me, Act::Reactivate { target: &own }),
            Err(Denied::OwnReactivation),
            "but never reactivate itself"
        );
        own.id = KeyId::generate();
        assert!(authorize(&me, Act::Change { target: &own }).is_err());
    }

    #[test]
    fn a_key_cannot_mint_a_key_that_outlives_it() {
        let short = caller(Permissions::Full, Some(5_000));
        let mint = |expires_at: Option<i64>| Act::Mint {
            permissions: &Permissions::Full,
            expires_at: expires_at.map(Timestamp::from_unix),
        };
        assert_eq!(authorize(&short, mint(Some(5_000))), Ok(()));
        assert_eq!(authorize(&short, mint(Some(4_000))), Ok(()));
        let later = authorize(&short, mint(Some(6_000))).unwrap_err();
        assert!(
            later.to_string().contains("1970-01-01T01:23:20Z"),
            "{later}"
        );
        assert!(
            later.to_string().contains("1970-01-01T01:40:00Z"),
            "{later}"
        );
        assert!(
            authorize(&short, mint(None))
                .unwrap_err()
                .to_string()
                .contains("never expires")
        );
        let forever = caller(Permissions::Full, None);
        assert_eq!(authorize(&forever, mint(None)), Ok(()));
        assert_eq!(
            inherited_expiry(&short, None),
            Some(Timestamp::from_unix(5_000))
        );
        assert_eq!(inherited_expiry(&forever, None), None);
    }

    #[test]
    fn a_key_cannot_reactivate_a_key_that_outlives_it() {
        let short = caller(Permissions::Full, Some(5_000));
        let mut target = key(Permissions::Full);
        let err = authorize(&short, Act::Reactivate { target: &target }).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("cannot reactivate a key that never expires"),
            "{err}"
        );
        target.expires_at = Some(Timestamp::from_unix(6_000));
        assert!(matches!(
            authorize(&short, Act::Reactivate { target: &target }),
            Err(Denied::Outlives {
                act: "reactivate",
                ..
            })
        ));
        target.expires_at = Some(Timestamp::from_unix(5_000));
        assert_eq!(
            authorize(&short, Act::Reactivate { target: &target }),
            Ok(())
        );
        // Taking power away needs no such check.
        target.expires_at = None;
        assert_eq!(authorize(&short, Act::Change { target: &target }), Ok(()));
        let forever = caller(Permissions::Full, None);
        assert_eq!(
            authorize(&forever, Act::Reactivate { target: &target }),
            Ok(())
        );
    }

    #[test]
    fn minting_more_than_the_caller_holds_is_an_escalation() {
        let reader = caller(perms(&["runs:read"]), None);
        assert!(matches!(
            authorize(
                &reader,
                Act::Mint {
                    permissions: &Permissions::Full,
                    expires_at: None
                }
            ),
            Err(Denied::Escalation(Escalation::FullAccess))
        ));
    }
}
