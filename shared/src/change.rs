//! A change to the key store and the audit event that records it, as one
//! value. Handlers build a [`Change`] with the constructors here, which derive
//! the event from the writes; a store applies both in one atomic write
//! (`TransactWriteItems` on DynamoDB, one write transaction on redb), so there
//! is no change without its event and no event without its change.

use crate::audit::{Actor, AuditAction, AuditEvent, EventId, sanitize_context};
use crate::key::KeyId;
use crate::lifecycle::{Rotation, Transition};
use crate::model::{KeyRecord, KeyStatus, RevokeReason, Timestamp};

/// Who asked for a change, when, and through which request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    pub at: Timestamp,
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl Origin {
    /// Request context is kept as [`sanitize_context`] leaves it.
    pub fn new(
        actor: Actor,
        at: Timestamp,
        request_id: &str,
        source_ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Self {
        let keep = |v: Option<&str>| v.map(sanitize_context).filter(|v| !v.is_empty());
        Self {
            actor,
            at,
            request_id: sanitize_context(request_id),
            source_ip: keep(source_ip),
            user_agent: keep(user_agent),
        }
    }

    /// `keygate bootstrap` and the first start of `keygate serve`.
    pub fn bootstrap(at: Timestamp) -> Self {
        let request_id = uuid::Uuid::now_v7().to_string();
        Self::new(Actor::Bootstrap, at, &request_id, None, None)
    }
}

/// One write to one key.
// A change is built once per request and never stored in bulk: boxing the
// larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyWrite {
    /// A new key; refused if the id exists.
    Insert(KeyRecord),
    /// `after`'s state replaces the stored key's, provided the stored key is
    /// still `before` as far as the change's checks went
    /// ([`KeyRecord::unchanged_in`]). `last_used_at` is left as stored.
    Update { before: KeyRecord, after: KeyRecord },
    /// Remove the key, provided it is still `before`.
    Delete(KeyRecord),
}

impl KeyWrite {
    pub fn id(&self) -> KeyId {
        match self {
            KeyWrite::Insert(r) | KeyWrite::Delete(r) => r.id,
            KeyWrite::Update { after, .. } => after.id,
        }
    }
}

/// The writes of one change and its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    writes: Vec<KeyWrite>,
    event: AuditEvent,
}

/// Why a store refuses a change it was handed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedChange {
    #[error("an update may change a key's state only, not what it is or may do")]
    IdentityChanged,
    #[error("the writes and the event name different organizations")]
    MixedOrganizations,
}

impl Change {
    /// A new key (its creator, or `bootstrap`, in `origin`).
    pub fn create(record: KeyRecord, origin: &Origin) -> Self {
        let action = match origin.actor {
            Actor::Bootstrap => AuditAction::Bootstrap,
            Actor::Key { .. } => AuditAction::Create,
        };
        let event = event(origin, action, &record, None, Some(KeyStatus::Active));
        Self {
            writes: vec![KeyWrite::Insert(record)],
            event,
        }
    }

    /// Suspend, reactivate or revoke `before`, which [`crate::lifecycle::check`]
    /// found the transition applies to.
    pub fn status(
        before: KeyRecord,
        transition: Transition,
        reason: Option<RevokeReason>,
        origin: &Origin,
    ) -> Self {
        let after = transition.apply(&before, origin.at, reason.clone(), origin.actor.key_id());
        let action = match transition {
            Transition::Suspend => AuditAction::Suspend,
            Transition::Reactivate => AuditAction::Reactivate,
            Transition::Revoke => AuditAction::Revoke,
        };
        let mut event = event(
            origin,
            action,
            &before,
            Some(before.status),
            Some(after.status),
        );
        event.reason = reason;
        Self {
            writes: vec![KeyWrite::Update { before, after }],
            event,
        }
    }

    pub fn delete(before: KeyRecord, origin: &Origin) -> Self {
        let event = event(
            origin,
            AuditAction::Delete,
            &before,
            Some(before.status),
            None,
        );
        Self {
            writes: vec![KeyWrite::Delete(before)],
            event,
        }
    }

    /// Replace `old` (which [`Rotation::check`] accepted) by `successor`.
    pub fn rotate(
        old: KeyRecord,
        mut successor: KeyRecord,
        rotation: &Rotation,
        origin: &Origin,
    ) -> Self {
        successor.rotated_from = Some(old.id);
        let retired = rotation.retire(&old, successor.id, origin.at, origin.actor.key_id());
        let mut event = event(
            origin,
            AuditAction::Rotate,
            &old,
            Some(old.status),
            Some(retired.status),
        );
        event.reason = rotation.reason.clone();
        event.successor_key_id = Some(successor.id);
        Self {
            writes: vec![
                KeyWrite::Update {
                    before: old,
                    after: retired,
                },
                KeyWrite::Insert(successor),
            ],
            event,
        }
    }

    /// The change with its event under another id. Ids are generated fresh,
    /// so this is only for replays and for tests that inject a fault (an id
    /// that already exists makes the whole change fail).
    pub fn with_event_id(mut self, id: EventId) -> Self {
        self.event.id = id;
        self
    }

    pub fn writes(&self) -> &[KeyWrite] {
        &self.writes
    }

    pub fn event(&self) -> &AuditEvent {
        &self.event
    }

    /// What every store checks before writing: updates keep each key's
    /// identity, and everything is in one organization.
    pub fn validate(&self) -> Result<(), MalformedChange> {
        for write in &self.writes {
            let record = match write {
                KeyWrite::Insert(r) | KeyWrite::Delete(r) => r,
                KeyWrite::Update { before, after } => {
                    if !before.same_identity(after) {
                        return Err(MalformedChange::IdentityChanged);
                    }
                    after
                }
            };
            if record.org_id != self.event.org_id {
                return Err(MalformedChange::MixedOrganizations);
            }
        }
        Ok(())
    }
}

fn event(
    origin: &Origin,
    action: AuditAction,
    key: &KeyRecord,
    status_before: Option<KeyStatus>,
    status_after: Option<KeyStatus>,
) -> AuditEvent {
    AuditEvent {
        id: EventId::generate(),
        org_id: key.org_id.clone(),
        at: origin.at,
        action,
        key_id: key.id,
        key_name: key.name.clone(),
        actor: origin.actor.clone(),
        reason: None,
        status_before,
        status_after,
        successor_key_id: None,
        request_id: origin.request_id.clone(),
        source_ip: origin.source_ip.clone(),
        user_agent: origin.user_agent.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyFormat;
    use crate::model::{KeyName, KeyType, OrgId};
    use crate::scope::Permissions;

    fn record(name: &str) -> KeyRecord {
        KeyRecord::new_active(
            &KeyFormat::default().generate(),
            OrgId::new("acme").unwrap(),
            KeyName::new(name).unwrap(),
            KeyType::Service,
            Permissions::Full,
            Timestamp::from_unix(1_000),
        )
    }

    fn origin() -> Origin {
        Origin::new(
            Actor::Key {
                id: KeyId::from_u128(9),
                hint: "kg_...abcd".into(),
            },
            Timestamp::from_unix(2_000),
            "req-1",
            Some("203.0.113.7"),
            Some("curl/8"),
        )
    }

    #[test]
    fn each_change_derives_its_event() {
        let key = record("k");
        let created = Change::create(key.clone(), &origin());
        let e = created.event();
        assert_eq!(
            (e.action, e.status_before, e.status_after),
            (AuditAction::Create, None, Some(KeyStatus::Active))
        );
        assert_eq!((e.key_id, e.key_name.as_str()), (key.id, "k"));
        assert_eq!(e.source_ip.as_deref(), Some("203.0.113.7"));

        let boot = Change::create(key.clone(), &Origin::bootstrap(Timestamp::from_unix(1)));
        assert_eq!(boot.event().action, AuditAction::Bootstrap);
        assert_eq!(boot.event().actor, Actor::Bootstrap);

        let reason = RevokeReason::new("leaked").unwrap();
        let revoked = Change::status(
            key.clone(),
            Transition::Revoke,
            Some(reason.clone()),
            &origin(),
        );
        let e = revoked.event();
        assert_eq!(
            (e.action, e.status_before, e.status_after),
            (
                AuditAction::Revoke,
                Some(KeyStatus::Active),
                Some(KeyStatus::Revoked)
            )
        );
        assert_eq!(e.reason, Some(reason));
        assert_eq!(revoked.validate(), Ok(()));

        let deleted = Change::delete(key, &origin());
        assert_eq!(deleted.event().status_after, None);
    }

    #[test]
    fn rotation_links_both_keys_and_names_the_successor() {
        let old = record("old");
        let new = record("old");
        let rotation = Rotation {
            grace_secs: 0,
            reason: None,
        };
        let change = Change::rotate(old.clone(), new.clone(), &rotation, &origin());
        let [
            KeyWrite::Update { after: retired, .. },
            KeyWrite::Insert(successor),
        ] = change.writes()
        else {
            panic!("{:?}", change.writes());
        };
        assert_eq!(retired.status, KeyStatus::Revoked);
        assert_eq!(retired.revoked_reason.as_ref().unwrap().as_str(), "rotated");
        assert_eq!(retired.rotated_to, Some(new.id));
        assert_eq!(successor.rotated_from, Some(old.id));
        assert_eq!(change.event().successor_key_id, Some(new.id));
        assert_eq!(change.validate(), Ok(()));
    }

    #[test]
    fn an_update_that_changes_what_a_key_may_do_is_malformed() {
        let before = record("k");
        let mut after = before.clone();
        after.permissions = Permissions::from_strings(&["runs:read"]).unwrap();
        let mut change = Change::delete(before.clone(), &origin());
        change.writes = vec![KeyWrite::Update { before, after }];
        assert_eq!(change.validate(), Err(MalformedChange::IdentityChanged));
    }
}
