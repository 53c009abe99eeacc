//! A change to the key store and the audit event that records it, as one
//! value. Handlers build a [`Change`] with the constructors here, which derive
//! the event from the writes; a store applies both in one atomic write
//! (`TransactWriteItems` on DynamoDB, one write transaction on redb), so there
//! is no change without its event and no event without its change.

use crate::domain::audit::{Actor, AuditAction, AuditEvent, LimitsChange};
use crate::domain::id::EventId;
use crate::domain::id::KeyId;
use crate::domain::lifecycle::{Relabel, Rotation, Transition, changed};
use crate::domain::limits::Limits;
use crate::domain::record::{KeyRecord, KeyStatus};
use crate::domain::redaction::sanitize_context;
use crate::domain::text::{KeyName, RevokeReason};
use crate::domain::time::Timestamp;

/// Who asked for a change, when, and through which request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    /// The acting key's name, as its request saw it (the authorizer's
    /// context): each event records it.
    pub actor_name: Option<KeyName>,
    pub at: Timestamp,
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    /// The calling key as the authorizer saw it; the change is written only
    /// while the key is still so (see [`ActorGuard`]).
    pub guard: Option<ActorGuard>,
}

/// What a change requires of the key that asked for it, checked in the same
/// atomic write: it is still active, with the expiry the authorizer saw. A
/// key suspended, revoked, deleted or given an earlier expiry while its
/// request ran changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActorGuard {
    pub key_id: KeyId,
    pub expires_at: Option<Timestamp>,
}

impl ActorGuard {
    /// Whether the stored calling key `current` still allows a change at `at`.
    pub fn holds(&self, current: &KeyRecord, at: Timestamp) -> bool {
        current.id == self.key_id
            && current.status == KeyStatus::Active
            && current.expires_at == self.expires_at
            && !current.is_expired(at)
    }
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
            actor_name: None,
            at,
            request_id: sanitize_context(request_id),
            source_ip: keep(source_ip),
            user_agent: keep(user_agent),
            guard: None,
        }
    }

    /// The acting key was called `name` when it asked.
    pub fn named(mut self, name: Option<KeyName>) -> Self {
        self.actor_name = name;
        self
    }

    /// The change also requires the calling key to be as the authorizer saw it.
    pub fn guarded(mut self, guard: ActorGuard) -> Self {
        self.guard = Some(guard);
        self
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

/// The writes of one change, the calling key's guard, and the change's
/// events: one per key it changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    writes: Vec<KeyWrite>,
    guard: Option<ActorGuard>,
    events: Vec<AuditEvent>,
    /// A budget whose usage counts the change sets back to zero.
    resets: Option<KeyId>,
}

/// Why a store refuses a change it was handed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedChange {
    #[error("an update may change a key's state only, not what it is or may do")]
    IdentityChanged,
    #[error("the writes and the events name different organizations")]
    MixedOrganizations,
    #[error("a change records at least one event")]
    NoEvent,
    #[error("an update changes a key's name or description without its update event")]
    UnrecordedRelabel,
}

/// Why a store writes nothing of a change before trying: it is malformed (a
/// bug), or it changes the calling key itself, which was decided on a record
/// of that key its guard does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Malformed(#[from] MalformedChange),
    #[error("the calling key is no longer as its request saw it")]
    ActorChanged,
}

impl Change {
    fn new(writes: Vec<KeyWrite>, events: Vec<AuditEvent>, origin: &Origin) -> Self {
        Self {
            writes,
            guard: origin.guard,
            events,
            resets: None,
        }
    }

    /// A new key (its creator, or `bootstrap`, in `origin`).
    pub fn create(record: KeyRecord, origin: &Origin) -> Self {
        let action = match origin.actor {
            Actor::Bootstrap => AuditAction::Bootstrap,
            Actor::Key { .. } => AuditAction::Create,
        };
        let mut event = event(origin, action, &record, None, Some(KeyStatus::Active));
        event.limits = (!record.limits.is_none()).then_some(LimitsChange {
            before: Limits::NONE,
            after: record.limits,
        });
        Self::new(vec![KeyWrite::Insert(record)], vec![event], origin)
    }

    /// Give `before` these limits (none: remove them). Returns the change
    /// and the key as it will be.
    pub fn set_limits(before: KeyRecord, limits: Limits, origin: &Origin) -> (Self, KeyRecord) {
        let after = KeyRecord {
            limits,
            ..changed(&before, origin.at)
        };
        let mut event = event(
            origin,
            AuditAction::SetLimits,
            &before,
            Some(before.status),
            Some(after.status),
        );
        event.limits = Some(LimitsChange {
            before: before.limits,
            after: limits,
        });
        let change = Self::new(
            vec![KeyWrite::Update {
                before,
                after: after.clone(),
            }],
            vec![event],
            origin,
        );
        (change, after)
    }

    /// Set the usage counts of `target`'s budget back to zero (for every
    /// key drawing on it). The key itself moves one version on, so the
    /// reset is written only while it is as the decision read it.
    pub fn reset_usage(target: KeyRecord, origin: &Origin) -> (Self, KeyRecord) {
        let after = changed(&target, origin.at);
        let event = event(
            origin,
            AuditAction::ResetUsage,
            &target,
            Some(target.status),
            Some(after.status),
        );
        let budget = target.budget;
        let mut change = Self::new(
            vec![KeyWrite::Update {
                before: target,
                after: after.clone(),
            }],
            vec![event],
            origin,
        );
        change.resets = Some(budget);
        (change, after)
    }

    /// Suspend, reactivate or revoke `before`, which [`crate::domain::lifecycle::check`]
    /// found the transition applies to. Returns the change and the key as it
    /// will be.
    pub fn status(
        before: KeyRecord,
        transition: Transition,
        reason: Option<RevokeReason>,
        origin: &Origin,
    ) -> (Self, KeyRecord) {
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
        let change = Self::new(
            vec![KeyWrite::Update {
                before,
                after: after.clone(),
            }],
            vec![event],
            origin,
        );
        (change, after)
    }

    /// New labels for `before`, which [`Relabel::changes`] found differ:
    /// an `update` event recording each field before and after. Returns the
    /// change and the key as it will be.
    pub fn relabel(before: KeyRecord, relabel: &Relabel, origin: &Origin) -> (Self, KeyRecord) {
        let after = relabel.apply(&before, origin.at);
        let mut event = event(
            origin,
            AuditAction::Update,
            &after,
            Some(before.status),
            Some(after.status),
        );
        event.changes = relabel.changes(&before);
        let change = Self::new(
            vec![KeyWrite::Update {
                before,
                after: after.clone(),
            }],
            vec![event],
            origin,
        );
        (change, after)
    }

    pub fn delete(before: KeyRecord, origin: &Origin) -> Self {
        let event = event(
            origin,
            AuditAction::Delete,
            &before,
            Some(before.status),
            None,
        );
        Self::new(vec![KeyWrite::Delete(before)], vec![event], origin)
    }

    /// Replace `old` (which [`Rotation::check`] accepted) by `successor`: a
    /// `rotate` event on the old key and a `create` event on the new one, so
    /// each key's history tells where it went or came from. Returns the
    /// change and the successor as it will be stored.
    pub fn rotate(
        old: KeyRecord,
        mut successor: KeyRecord,
        rotation: &Rotation,
        origin: &Origin,
    ) -> (Self, KeyRecord) {
        successor.rotated_from = Some(old.id);
        let retired = rotation.retire(&old, successor.id, origin.at, origin.actor.key_id());
        let mut rotated = event(
            origin,
            AuditAction::Rotate,
            &old,
            Some(old.status),
            Some(retired.status),
        );
        rotated.reason = rotation.reason.clone();
        rotated.rotated_to = Some(successor.id);
        let mut created = event(
            origin,
            AuditAction::Create,
            &successor,
            None,
            Some(KeyStatus::Active),
        );
        created.reason = rotation.reason.clone();
        created.rotated_from = Some(old.id);
        created.limits = (!successor.limits.is_none()).then_some(LimitsChange {
            before: Limits::NONE,
            after: successor.limits,
        });
        let change = Self::new(
            vec![
                KeyWrite::Update {
                    before: old,
                    after: retired,
                },
                KeyWrite::Insert(successor.clone()),
            ],
            vec![rotated, created],
            origin,
        );
        (change, successor)
    }

    pub fn writes(&self) -> &[KeyWrite] {
        &self.writes
    }

    /// The budget whose usage counts the change deletes, if any.
    pub fn resets(&self) -> Option<KeyId> {
        self.resets
    }

    /// What the change requires of the calling key, as a check of its own
    /// beside the writes: when that key is not one of the keys it writes. (A
    /// transaction cannot check and write one item twice; a change to the
    /// calling key is held to the guard by [`Change::validate`] instead.)
    pub fn guard(&self) -> Option<ActorGuard> {
        self.guard
            .filter(|g| self.writes.iter().all(|w| w.id() != g.key_id))
    }

    pub fn events(&self) -> &[AuditEvent] {
        &self.events
    }

    /// The change's time (every event has it).
    pub fn at(&self) -> Option<Timestamp> {
        self.events.first().map(|e| e.at)
    }

    /// What every store checks before writing: updates keep each key's
    /// identity, everything is in one organization, and there is an event.
    /// And a change to the calling key itself must have been decided on a
    /// record of it that the caller's guard allows (active, with the expiry
    /// the authorizer saw, unexpired): the write is conditional on that
    /// record, so the guard holds at commit exactly as a separate check
    /// would. Without this, a key suspended between its authorizer's check
    /// and its handler's read could write itself (reactivate itself).
    pub fn validate(&self) -> Result<(), Refused> {
        let org = &self.events.first().ok_or(MalformedChange::NoEvent)?.org_id;
        for write in &self.writes {
            let record = match write {
                KeyWrite::Insert(r) | KeyWrite::Delete(r) => r,
                KeyWrite::Update { before, after } => {
                    if !before.same_identity(after) {
                        return Err(MalformedChange::IdentityChanged.into());
                    }
                    if !before.same_labels(after) && !self.records_relabel(before, after) {
                        return Err(MalformedChange::UnrecordedRelabel.into());
                    }
                    after
                }
            };
            if &record.org_id != org {
                return Err(MalformedChange::MixedOrganizations.into());
            }
        }
        if self.events.iter().any(|e| &e.org_id != org) {
            return Err(MalformedChange::MixedOrganizations.into());
        }
        if let (Some(guard), Some(at)) = (self.guard, self.at()) {
            // A caller that had expired by the change's time changes nothing,
            // whatever the store would say of it (its check is the same).
            if guard.expires_at.is_some_and(|expires| expires <= at) {
                return Err(Refused::ActorChanged);
            }
            for write in &self.writes {
                let decided_on = match write {
                    KeyWrite::Update { before, .. } | KeyWrite::Delete(before) => before,
                    KeyWrite::Insert(_) => continue,
                };
                if decided_on.id == guard.key_id && !guard.holds(decided_on, at) {
                    return Err(Refused::ActorChanged);
                }
            }
        }
        Ok(())
    }
}

impl Change {
    /// Whether an `update` event of this change records exactly how
    /// `before`'s labels became `after`'s.
    fn records_relabel(&self, before: &KeyRecord, after: &KeyRecord) -> bool {
        let relabel = Relabel {
            name: Some(after.name.clone()),
            description: Some(after.description.clone()),
        };
        let changes = relabel.changes(before);
        self.events.iter().any(|e| {
            e.action == AuditAction::Update && e.key_id == after.id && e.changes == changes
        })
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
        actor_name: origin.actor_name.clone(),
        reason: None,
        status_before,
        status_after,
        rotated_to: None,
        rotated_from: None,
        changes: vec![],
        request_id: origin.request_id.clone(),
        source_ip: origin.source_ip.clone(),
        user_agent: origin.user_agent.clone(),
        link: None,
        limits: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::key::KeyFormat;
    use crate::domain::org::OrgId;
    use crate::domain::record::KeyType;
    use crate::domain::scope::Permissions;
    use crate::domain::text::KeyName;

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
        let e = &created.events()[0];
        assert_eq!(
            (e.action, e.status_before, e.status_after),
            (AuditAction::Create, None, Some(KeyStatus::Active))
        );
        assert_eq!((e.key_id, e.key_name.as_str()), (key.id, "k"));
        assert_eq!(e.source_ip.as_deref(), Some("203.0.113.7"));

        let boot = Change::create(key.clone(), &Origin::bootstrap(Timestamp::from_unix(1)));
        assert_eq!(boot.events()[0].action, AuditAction::Bootstrap);
        assert_eq!(boot.events()[0].actor, Actor::Bootstrap);

        let reason = RevokeReason::new("leaked").unwrap();
        let (revoked, after) = Change::status(
            key.clone(),
            Transition::Revoke,
            Some(reason.clone()),
            &origin(),
        );
        assert_eq!(after.status, KeyStatus::Revoked);
        let e = &revoked.events()[0];
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
        assert_eq!(deleted.events()[0].status_after, None);
    }

    #[test]
    fn rotation_links_both_keys_and_names_the_successor() {
        let old = record("old");
        let new = record("old");
        let rotation = Rotation {
            grace_secs: 0,
            reason: None,
        };
        let (change, successor) = Change::rotate(old.clone(), new.clone(), &rotation, &origin());
        let [
            KeyWrite::Update { after: retired, .. },
            KeyWrite::Insert(inserted),
        ] = change.writes()
        else {
            panic!("{:?}", change.writes());
        };
        assert_eq!(inserted, &successor);
        assert_eq!(retired.status, KeyStatus::Revoked);
        assert_eq!(retired.revoked_reason.as_ref().unwrap().as_str(), "rotated");
        assert_eq!(retired.rotated_to, Some(new.id));
        assert_eq!(successor.rotated_from, Some(old.id));
        let [rotated, created] = change.events() else {
            panic!("{:?}", change.events());
        };
        assert_eq!(
            (rotated.action, rotated.key_id),
            (AuditAction::Rotate, old.id)
        );
        assert_eq!(rotated.rotated_to, Some(new.id));
        assert_eq!(
            (created.action, created.key_id),
            (AuditAction::Create, new.id)
        );
        assert_eq!(created.rotated_from, Some(old.id));
        assert_eq!(change.validate(), Ok(()));
    }

    #[test]
    fn a_change_guards_the_calling_key_unless_it_writes_it() {
        let key = record("k");
        let guard = ActorGuard {
            key_id: KeyId::from_u128(9),
            expires_at: None,
        };
        let guarded = origin().guarded(guard);
        assert_eq!(Change::delete(key.clone(), &guarded).guard(), Some(guard));
        let own = origin().guarded(ActorGuard {
            key_id: key.id,
            expires_at: None,
        });
        assert_eq!(Change::delete(key.clone(), &own).guard(), None);
        assert_eq!(Change::delete(key.clone(), &own).validate(), Ok(()));
        let mut stored = key.clone();
        stored.id = guard.key_id;
        assert!(guard.holds(&stored, Timestamp::from_unix(2_000)));
        stored.status = KeyStatus::Suspended;
        assert!(!guard.holds(&stored, Timestamp::from_unix(2_000)));
        stored.status = KeyStatus::Active;
        stored.expires_at = Some(Timestamp::from_unix(1_500));
        assert!(!guard.holds(&stored, Timestamp::from_unix(2_000)));
    }

    #[test]
    fn a_change_to_the_calling_key_is_held_to_its_guard() {
        let mut me = record("me");
        let own = |expires_at: Option<i64>| {
            origin().guarded(ActorGuard {
                key_id: me.id,
                expires_at: expires_at.map(Timestamp::from_unix),
            })
        };
        // Suspended after the authorizer let the request in: whatever the
        // change, nothing of it may be written.
        me.status = KeyStatus::Suspended;
        for transition in [Transition::Reactivate, Transition::Revoke] {
            let (change, _) = Change::status(me.clone(), transition, None, &own(None));
            assert_eq!(
                change.validate(),
                Err(Refused::ActorChanged),
                "{transition:?}"
            );
        }
        assert_eq!(
            Change::delete(me.clone(), &own(None)).validate(),
            Err(Refused::ActorChanged)
        );
        // Active, but with another expiry than the authorizer saw, or expired.
        me.status = KeyStatus::Active;
        me.expires_at = Some(Timestamp::from_unix(9_000));
        let (change, _) = Change::status(me.clone(), Transition::Suspend, None, &own(None));
        assert_eq!(change.validate(), Err(Refused::ActorChanged));
        let (change, _) = Change::status(me.clone(), Transition::Suspend, None, &own(Some(9_000)));
        assert_eq!(change.validate(), Ok(()));
        me.expires_at = Some(Timestamp::from_unix(1_500));
        let (change, _) = Change::status(me.clone(), Transition::Suspend, None, &own(Some(1_500)));
        assert_eq!(
            change.validate(),
            Err(Refused::ActorChanged),
            "expired at 2000"
        );
    }

    #[test]
    fn a_relabel_records_each_field_before_and_after_and_the_actor_s_name() {
        use crate::domain::text::Description;
        let key = record("old");
        let named = origin().named(Some(KeyName::new("admin").unwrap()));
        let relabel = Relabel {
            name: Some(KeyName::new("new").unwrap()),
            description: Some(Some(Description::new("what it is for").unwrap())),
        };
        let (change, after) = Change::relabel(key.clone(), &relabel, &named);
        assert_eq!(after.name.as_str(), "new");
        assert_eq!(after.status, key.status);
        let e = &change.events()[0];
        assert_eq!(e.action, AuditAction::Update);
        assert_eq!(e.key_name.as_str(), "new");
        assert_eq!(e.actor_name.as_ref().map(KeyName::as_str), Some("admin"));
        assert_eq!(e.changes, relabel.changes(&key));
        assert_eq!(change.validate(), Ok(()));
        // The same write without its record of the change is refused.
        let mut unrecorded = Change::delete(key.clone(), &origin());
        unrecorded.writes = vec![KeyWrite::Update { before: key, after }];
        assert_eq!(
            unrecorded.validate(),
            Err(MalformedChange::UnrecordedRelabel.into())
        );
    }

    #[test]
    fn an_update_that_changes_what_a_key_may_do_is_malformed() {
        let before = record("k");
        let mut after = before.clone();
        after.permissions = Permissions::from_strings(&["runs:read"]).unwrap();
        let mut change = Change::delete(before.clone(), &origin());
        change.writes = vec![KeyWrite::Update { before, after }];
        assert_eq!(
            change.validate(),
            Err(MalformedChange::IdentityChanged.into())
        );
    }
}
