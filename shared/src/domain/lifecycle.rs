//! The key lifecycle, exactly as PRODUCT.md's table:
//!
//! | from \ to | active     | suspended | revoked | deleted |
//! |-----------|------------|-----------|---------|---------|
//! | active    | —          | suspend   | revoke  | delete  |
//! | suspended | reactivate | —         | revoke  | delete  |
//! | revoked   | never      | never     | —       | delete  |
//!
//! A handler reads the key, decides with [`check`], and hands the store a
//! [`crate::domain::change::Change`] that is written only while the key is still in
//! the state it read: one conditional write, so two racing calls can never
//! bring a revoked key back.
//!
//! Besides its state, only a key's labels (name and description) change
//! after it is created ([`Relabel`]), in any state: a revoked key can be
//! renamed or described, since its labels decide nothing the authorizer
//! checks, and a revoked key kept for the record is exactly the one whose
//! description says why ("leaked in build 5512, see INC-42"). Each change
//! of a label is an audited `update` with the fields before and after.

use crate::domain::audit::LabelChange;
use crate::domain::id::KeyId;
use crate::domain::record::{KeyRecord, KeyStatus};
use crate::domain::text::{Description, KeyName, RevokeReason};
use crate::domain::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Suspend,
    Reactivate,
    Revoke,
}

impl Transition {
    pub fn target(self) -> KeyStatus {
        match self {
            Transition::Suspend => KeyStatus::Suspended,
            Transition::Reactivate => KeyStatus::Active,
            Transition::Revoke => KeyStatus::Revoked,
        }
    }

    /// The states this transition may leave. The write is conditional on these.
    pub fn allowed_from(self) -> &'static [KeyStatus] {
        match self {
            Transition::Suspend => &[KeyStatus::Active],
            Transition::Reactivate => &[KeyStatus::Suspended],
            Transition::Revoke => &[KeyStatus::Active, KeyStatus::Suspended],
        }
    }

    pub fn verb(self) -> &'static str {
        match self {
            Transition::Suspend => "suspend",
            Transition::Reactivate => "reactivate",
            Transition::Revoke => "revoke",
        }
    }
}

/// What a transition does to a key in a given state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Write the new state.
    Apply,
    /// Already in the target state: return the key unchanged.
    NoOp,
}

/// A transition the lifecycle does not allow from the key's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} a {from} key: revoked is final", .transition.verb())]
pub struct NotAllowed {
    pub transition: Transition,
    pub from: KeyStatus,
}

pub fn check(current: KeyStatus, transition: Transition) -> Result<Check, NotAllowed> {
    if current == transition.target() {
        Ok(Check::NoOp)
    } else if transition.allowed_from().contains(&current) {
        Ok(Check::Apply)
    } else {
        Err(NotAllowed {
            transition,
            from: current,
        })
    }
}

impl Transition {
    /// `before` after this transition at `at` by `by`; `reason` is kept for
    /// revoke only. Call only when [`check`] says [`Check::Apply`].
    pub fn apply(
        self,
        before: &KeyRecord,
        at: Timestamp,
        reason: Option<RevokeReason>,
        by: Option<KeyId>,
    ) -> KeyRecord {
        let mut after = changed(before, at);
        after.status = self.target();
        match self {
            Transition::Suspend => after.suspended_at = Some(at),
            Transition::Reactivate => after.suspended_at = None,
            Transition::Revoke => {
                after.revoked_at = Some(at);
                after.revoked_reason = reason;
                after.revoked_by = by;
            }
        }
        after
    }
}

/// Longest grace period of a rotation: 7 days.
pub const MAX_GRACE_SECS: u32 = 604_800;

/// A rotation's settings, as asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// How long the old key keeps working; 0 revokes it at once.
    pub grace_secs: u32,
    /// Recorded as the old key's `revoked_reason` (default "rotated") and in
    /// the audit event.
    pub reason: Option<RevokeReason>,
}

/// Why a key cannot be rotated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotRotatable {
    #[error("only an active key can be rotated; this key is {0}")]
    NotActive(KeyStatus),
    #[error("this key has expired; create a new key instead")]
    Expired,
    /// Carries the successor's id; the message leaves it to the record's
    /// `rotated_to` (no message repeats a long run of letters and digits).
    #[error("this key was already rotated; rotate its successor (its rotated_to) instead")]
    AlreadyRotated(KeyId),
}

impl Rotation {
    /// Only an active, unexpired key that has not been rotated can be.
    pub fn check(old: &KeyRecord, now: Timestamp) -> Result<(), NotRotatable> {
        if let Some(to) = old.rotated_to {
            return Err(NotRotatable::AlreadyRotated(to));
        }
        if old.status != KeyStatus::Active {
            return Err(NotRotatable::NotActive(old.status));
        }
        if old.is_expired(now) {
            return Err(NotRotatable::Expired);
        }
        Ok(())
    }

    /// The old key once `successor` replaces it at `at` by `by`: revoked now
    /// (grace 0), or active until the grace period ends, never later than
    /// its own expiry; either way it names its successor.
    pub fn retire(
        &self,
        old: &KeyRecord,
        successor: KeyId,
        at: Timestamp,
        by: Option<KeyId>,
    ) -> KeyRecord {
        let mut after = if self.grace_secs == 0 {
            let reason = self.reason.clone().unwrap_or_else(rotated_reason);
            Transition::Revoke.apply(old, at, Some(reason), by)
        } else {
            let grace_ends = at.plus_seconds(i64::from(self.grace_secs));
            let mut after = changed(old, at);
            after.expires_at = Some(old.expires_at.map_or(grace_ends, |e| e.min(grace_ends)));
            after
        };
        after.rotated_to = Some(successor);
        after
    }
}

/// A rotation's successor that cannot be deleted yet: the key it replaced
/// still works (its grace period has not ended, and it is not revoked).
/// Deleting it would leave that key naming a successor that is gone, and
/// impossible to rotate again.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "this key replaced the key {predecessor} by rotation, which is not revoked and works \
     until {grace_ends}; revoke that key first, or delete this one after then"
)]
pub struct StillReplacing {
    pub predecessor: KeyId,
    pub grace_ends: Timestamp,
}

/// Whether `target` may be deleted, given the key it replaced by rotation
/// (if it did and that key still exists) at `now`.
pub fn check_delete(
    target: &KeyRecord,
    predecessor: Option<&KeyRecord>,
    now: Timestamp,
) -> Result<(), StillReplacing> {
    let Some(predecessor) = predecessor else {
        return Ok(());
    };
    let still_replacing = target.rotated_from == Some(predecessor.id)
        && predecessor.rotated_to == Some(target.id)
        && predecessor.status != KeyStatus::Revoked
        && !predecessor.is_expired(now);
    match (still_replacing, predecessor.expires_at) {
        (true, Some(grace_ends)) => Err(StillReplacing {
            predecessor: predecessor.id,
            grace_ends,
        }),
        // A rotation with grace always sets the old key's expiry; without
        // one the old key is revoked.
        _ => Ok(()),
    }
}

/// New labels for a key, as asked for: a field left `None` stays as it is;
/// `description: Some(None)` removes the description.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relabel {
    pub name: Option<KeyName>,
    pub description: Option<Option<Description>>,
}

impl Relabel {
    /// What this would change on `key`: the fields whose value differs,
    /// name first. Empty when the key already has these labels (a
    /// repeated rename is a no-op, like a repeated transition).
    pub fn changes(&self, key: &KeyRecord) -> Vec<LabelChange> {
        let mut changes = vec![];
        if let Some(name) = self.name.as_ref().filter(|n| **n != key.name) {
            changes.push(LabelChange::Name {
                before: key.name.clone(),
                after: name.clone(),
            });
        }
        if let Some(description) = self.description.as_ref().filter(|d| **d != key.description) {
            changes.push(LabelChange::Description {
                before: key.description.clone(),
                after: description.clone(),
            });
        }
        changes
    }

    /// `before` with these labels, changed at `at`.
    pub fn apply(&self, before: &KeyRecord, at: Timestamp) -> KeyRecord {
        let mut after = changed(before, at);
        if let Some(name) = &self.name {
            after.name = name.clone();
        }
        if let Some(description) = &self.description {
            after.description = description.clone();
        }
        after
    }
}

/// `before` as a change at `at` starts it: updated then, one version on.
pub(crate) fn changed(before: &KeyRecord, at: Timestamp) -> KeyRecord {
    KeyRecord {
        updated_at: at,
        version: before.version + 1,
        ..before.clone()
    }
}

fn rotated_reason() -> RevokeReason {
    // A literal that passes every text check.
    RevokeReason::new("rotated").unwrap_or_else(|_| unreachable!("\"rotated\" is a valid reason"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::KeyFormat;
    use crate::domain::org::OrgId;
    use crate::domain::record::KeyType;
    use crate::domain::scope::Permissions;
    use KeyStatus::*;

    fn key() -> KeyRecord {
        KeyRecord::new_active(
            &KeyFormat::default().generate(),
            OrgId::new("acme").unwrap(),
            KeyName::new("k").unwrap(),
            KeyType::Service,
            Permissions::Full,
            Timestamp::from_unix(1_000),
        )
    }

    #[test]
    fn a_successor_cannot_be_deleted_while_its_predecessor_still_works() {
        let old = key();
        let mut new = key();
        new.rotated_from = Some(old.id);
        let grace = Rotation {
            grace_secs: 600,
            reason: None,
        };
        let at = Timestamp::from_unix(2_000);
        let retired = grace.retire(&old, new.id, at, None);
        assert_eq!(
            check_delete(&new, Some(&retired), at),
            Err(StillReplacing {
                predecessor: old.id,
                grace_ends: at.plus_seconds(600),
            })
        );
        // Once the grace period is over, or the old key revoked or gone: yes.
        assert_eq!(
            check_delete(&new, Some(&retired), at.plus_seconds(600)),
            Ok(())
        );
        let revoked = Transition::Revoke.apply(&retired, at, None, None);
        assert_eq!(check_delete(&new, Some(&revoked), at), Ok(()));
        assert_eq!(check_delete(&new, None, at), Ok(()));
        let now_revoked = Rotation {
            grace_secs: 0,
            reason: None,
        }
        .retire(&old, new.id, at, None);
        assert_eq!(check_delete(&new, Some(&now_revoked), at), Ok(()));
    }

    #[test]
    fn a_relabel_changes_only_the_labels_that_differ() {
        let key = key();
        let same = Relabel {
            name: Some(key.name.clone()),
            description: Some(None),
        };
        assert!(same.changes(&key).is_empty(), "nothing to change");
        let renamed = Relabel {
            name: Some(KeyName::new("ci").unwrap()),
            description: Some(Some(Description::new("deploys").unwrap())),
        };
        let changes = renamed.changes(&key);
        assert_eq!(
            changes.iter().map(LabelChange::field).collect::<Vec<_>>(),
            ["name", "description"]
        );
        assert_eq!(changes[0].texts(), (Some("k"), Some("ci")));
        assert_eq!(changes[1].texts(), (None, Some("deploys")));
        let after = renamed.apply(&key, Timestamp::from_unix(2_000));
        assert_eq!(after.name.as_str(), "ci");
        assert_eq!(
            (after.version, after.updated_at),
            (2, Timestamp::from_unix(2_000))
        );
        assert_eq!(after.status, key.status);
        // Clearing the description touches nothing else.
        let cleared = Relabel {
            name: None,
            description: Some(None),
        };
        let changes = cleared.changes(&after);
        assert_eq!(changes[0].texts(), (Some("deploys"), None));
        assert_eq!(
            cleared
                .apply(&after, Timestamp::from_unix(3_000))
                .name
                .as_str(),
            "ci"
        );
    }

    #[test]
    fn every_cell_of_the_table() {
        let refused = |transition| {
            Err(NotAllowed {
                transition,
                from: Revoked,
            })
        };
        let cases = [
            (Active, Transition::Suspend, Ok(Check::Apply)),
            (Active, Transition::Reactivate, Ok(Check::NoOp)),
            (Active, Transition::Revoke, Ok(Check::Apply)),
            (Suspended, Transition::Suspend, Ok(Check::NoOp)),
            (Suspended, Transition::Reactivate, Ok(Check::Apply)),
            (Suspended, Transition::Revoke, Ok(Check::Apply)),
            (Revoked, Transition::Suspend, refused(Transition::Suspend)),
            (
                Revoked,
                Transition::Reactivate,
                refused(Transition::Reactivate),
            ),
            (Revoked, Transition::Revoke, Ok(Check::NoOp)),
        ];
        for (from, t, want) in cases {
            assert_eq!(check(from, t), want, "{from} {t:?}");
        }
        assert_eq!(
            refused(Transition::Suspend).unwrap_err().to_string(),
            "cannot suspend a revoked key: revoked is final"
        );
    }
}
