//! The key lifecycle, exactly as PRODUCT.md's table:
//!
//! | from \ to | active     | suspended | revoked | deleted |
//! |-----------|------------|-----------|---------|---------|
//! | active    | —          | suspend   | revoke  | delete  |
//! | suspended | reactivate | —         | revoke  | delete  |
//! | revoked   | never      | never     | —       | delete  |
//!
//! Stores apply a [`StatusChange`] as one conditional write whose condition is
//! [`Transition::allowed_from`]; when the condition fails they classify the
//! current state with [`check`].

use crate::key::KeyId;
use crate::model::{KeyRecord, KeyStatus, RevokeReason, Timestamp};

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
    /// Not allowed from this state (leaving revoked).
    Conflict,
}

pub fn check(current: KeyStatus, transition: Transition) -> Check {
    if current == transition.target() {
        Check::NoOp
    } else if transition.allowed_from().contains(&current) {
        Check::Apply
    } else {
        Check::Conflict
    }
}

/// A requested transition with its audit fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusChange {
    pub transition: Transition,
    pub at: Timestamp,
    /// Required for revoke; ignored otherwise.
    pub reason: Option<RevokeReason>,
    /// The key that asked for it.
    pub by: Option<KeyId>,
}

impl StatusChange {
    /// Apply to a record already known to be in an allowed state.
    pub fn apply_to(&self, record: &mut KeyRecord) {
        record.status = self.transition.target();
        record.updated_at = self.at;
        match self.transition {
            Transition::Suspend => record.suspended_at = Some(self.at),
            Transition::Reactivate => record.suspended_at = None,
            Transition::Revoke => {
                record.revoked_at = Some(self.at);
                record.revoked_reason = self.reason.clone();
                record.revoked_by = self.by;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use KeyStatus::*;

    #[test]
    fn every_cell_of_the_table() {
        let cases = [
            (Active, Transition::Suspend, Check::Apply),
            (Active, Transition::Reactivate, Check::NoOp),
            (Active, Transition::Revoke, Check::Apply),
            (Suspended, Transition::Suspend, Check::NoOp),
            (Suspended, Transition::Reactivate, Check::Apply),
            (Suspended, Transition::Revoke, Check::Apply),
            (Revoked, Transition::Suspend, Check::Conflict),
            (Revoked, Transition::Reactivate, Check::Conflict),
            (Revoked, Transition::Revoke, Check::NoOp),
        ];
        for (from, t, want) in cases {
            assert_eq!(check(from, t), want, "{from} {t:?}");
        }
    }
}
