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
//! - **Usage.** A key with limits can mint, reactivate or set the limits of
//!   only keys that draw on its own budget, with limits no looser than its
//!   own (so its keys, and its rotations, can never spend more than it
//!   may). No key sets its own limits or resets its own budget's usage.
//!
//! The check reads a key's permissions, expiry and status; stores write a
//! change only while those are still what was read (see
//! [`crate::domain::record::KeyRecord::unchanged_in`]), and a key's permissions can
//! never change at all ([`crate::domain::record::KeyRecord::same_identity`]), so a
//! check and its write cannot race.

use crate::domain::id::KeyId;
use crate::domain::limits::{Limits, Looser};
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
    /// Its limits (none: unlimited) and the budget it draws on.
    pub limits: Limits,
    pub budget: KeyId,
}

/// What a caller asks to do.
#[derive(Debug, Clone, Copy)]
pub enum Act<'a> {
    /// Bring a key with these permissions and this expiry into being: create,
    /// or the successor of a rotation.
    Mint {
        permissions: &'a Permissions,
        expires_at: Option<Timestamp>,
        limits: &'a Limits,
        /// The budget the new key will draw on.
        budget: KeyId,
    },
    /// Change an existing key: suspend, revoke, rotate, delete.
    Change { target: &'a KeyRecord },
    /// Give a suspended key its power back. Never the caller's own key: a
    /// suspended key cannot call, so only a key suspended while its request
    /// ran could ask, and a leaked key must not outlast its suspension.
    Reactivate { target: &'a KeyRecord },
    /// Give a key these limits (none: remove them). Never the caller's own.
    SetLimits {
        target: &'a KeyRecord,
        limits: &'a Limits,
    },
    /// Set the counts of the target's budget back to zero. Never the
    /// caller's own budget: that would loosen its own limits.
    ResetUsage { target: &'a KeyRecord },
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
    /// Setting the calling key's own limits, or resetting its own budget.
    #[error(
        "a key cannot change its own limits or reset its own usage: another key with authority \
         over it must"
    )]
    OwnLimits,
    /// A limited caller acting on a key that draws on another budget.
    #[error(
        "your key has usage limits, so it can create, reactivate or set limits only on keys that \
         draw on its own budget (the keys it created, and their rotations)"
    )]
    OtherBudget,
    /// A limited caller giving a key looser limits than its own.
    #[error(transparent)]
    Looser(#[from] Looser),
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
            limits,
            budget,
        } => {
            caller
                .permissions
                .missing_for(permissions)
                .map_err(Denied::Escalation)?;
            within_lifetime(caller, "create", expires_at)?;
            within_budget(caller, budget, limits)
        }
        Act::Reactivate { target } if target.id == caller.key_id => Err(Denied::OwnReactivation),
        Act::Reactivate { target } => {
            covers(caller, target)?;
            // Restoring a key's power is like minting it.
            within_lifetime(caller, "reactivate", target.expires_at)?;
            within_budget(caller, target.budget, &target.limits)
        }
        Act::SetLimits { target, .. } if target.id == caller.key_id => Err(Denied::OwnLimits),
        Act::SetLimits { target, limits } => {
            covers(caller, target)?;
            within_budget(caller, target.budget, limits)
        }
        Act::ResetUsage { target } if target.budget == caller.budget => Err(Denied::OwnLimits),
        Act::ResetUsage { target } => {
            covers(caller, target)?;
            // A limited caller's own budget is the only one it could touch,
            // and that one it may not reset.
            if caller.limits.is_none() {
                Ok(())
            } else {
                Err(Denied::OtherBudget)
            }
        }
        Act::Change { target } if target.id == caller.key_id => Ok(()),
        Act::Change { target } => covers(caller, target),
    }
}

/// A limited caller brings to power only keys on its own budget, limited
/// no more loosely than itself. An unlimited caller may do anything here.
fn within_budget(caller: &Caller, budget: KeyId, limits: &Limits) -> Result<(), Denied> {
    if caller.limits.is_none() {
        return Ok(());
    }
    if budget != caller.budget {
        return Err(Denied::OtherBudget);
    }
    Ok(limits.within(&caller.limits)?)
}

/// The limits and budget of a key the caller mints: a limited caller's
/// keys draw on its budget, with its limits unless tighter ones are asked
/// for; an unlimited caller's keys start their own budget (`own`) with the
/// limits asked for.
pub fn minted_limits(caller: &Caller, requested: Option<Limits>, own: KeyId) -> (Limits, KeyId) {
    if caller.limits.is_none() {
        (requested.unwrap_or_default(), own)
    } else {
        (requested.unwrap_or(caller.limits), caller.budget)
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
            limits: Limits::NONE,
            budget: KeyId::generate(),
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
            limits: &Limits::NONE,
            budget: KeyId::generate(),
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
                    expires_at: None,
                    limits: &Limits::NONE,
                    budget: reader.budget,
                }
            ),
            Err(Denied::Escalation(Escalation::FullAccess))
        ));
    }

    fn limited(requests: u64) -> Limits {
        Limits {
            rate: Some(crate::domain::limits::RateLimit::new(requests, 60).unwrap()),
            quota: None,
        }
    }

    #[test]
    fn a_limited_key_mints_only_on_its_budget_and_no_looser() {
        let mut me = caller(Permissions::Full, None);
        me.limits = limited(10);
        let mint = |limits: &Limits, budget: KeyId| {
            authorize(
                &me,
                Act::Mint {
                    permissions: &Permissions::Full,
                    expires_at: None,
                    limits,
                    budget,
                },
            )
        };
        assert_eq!(mint(&limited(10), me.budget), Ok(()));
        assert_eq!(mint(&limited(3), me.budget), Ok(()));
        assert!(matches!(
            mint(&limited(11), me.budget),
            Err(Denied::Looser(_))
        ));
        assert!(matches!(
            mint(&Limits::NONE, me.budget),
            Err(Denied::Looser(_))
        ));
        assert_eq!(
            mint(&limited(10), KeyId::generate()),
            Err(Denied::OtherBudget)
        );
        // Left unsaid, a limited key's key takes its limits and its budget.
        let own = KeyId::generate();
        assert_eq!(minted_limits(&me, None, own), (me.limits, me.budget));
        let free = caller(Permissions::Full, None);
        assert_eq!(minted_limits(&free, None, own), (Limits::NONE, own));
        assert_eq!(
            minted_limits(&free, Some(limited(5)), own),
            (limited(5), own)
        );
    }

    #[test]
    fn no_key_sets_its_own_limits_or_resets_its_own_budget() {
        let mut me = caller(Permissions::Full, None);
        let mut own = key(Permissions::Full);
        me.key_id = own.id;
        me.budget = own.budget;
        assert_eq!(
            authorize(
                &me,
                Act::SetLimits {
                    target: &own,
                    limits: &Limits::NONE
                }
            ),
            Err(Denied::OwnLimits)
        );
        assert_eq!(
            authorize(&me, Act::ResetUsage { target: &own }),
            Err(Denied::OwnLimits)
        );
        // Nor a key that shares its budget (its rotation's successor).
        own.id = KeyId::generate();
        assert_eq!(
            authorize(&me, Act::ResetUsage { target: &own }),
            Err(Denied::OwnLimits)
        );
        // Another key's, with authority over it, yes.
        let other = key(Permissions::Full);
        assert_eq!(
            authorize(
                &me,
                Act::SetLimits {
                    target: &other,
                    limits: &limited(5)
                }
            ),
            Ok(())
        );
        assert_eq!(authorize(&me, Act::ResetUsage { target: &other }), Ok(()));
        // A limited key resets nothing, and limits only its own budget's keys.
        me.limits = limited(10);
        assert_eq!(
            authorize(&me, Act::ResetUsage { target: &other }),
            Err(Denied::OtherBudget)
        );
        assert_eq!(
            authorize(
                &me,
                Act::SetLimits {
                    target: &other,
                    limits: &limited(5)
                }
            ),
            Err(Denied::OtherBudget)
        );
        let mut mine = key(Permissions::Full);
        mine.budget = me.budget;
        assert_eq!(
            authorize(
                &me,
                Act::SetLimits {
                    target: &mine,
                    limits: &limited(5)
                }
            ),
            Ok(())
        );
        assert!(matches!(
            authorize(
                &me,
                Act::SetLimits {
                    target: &mine,
                    limits: &Limits::NONE
                }
            ),
            Err(Denied::Looser(_))
        ));
        // Reactivating an unlimited key would hand a limited caller its power.
        assert_eq!(
            authorize(&me, Act::Reactivate { target: &other }),
            Err(Denied::OtherBudget)
        );
    }
}
