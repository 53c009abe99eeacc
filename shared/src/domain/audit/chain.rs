//! The audit trail's hash chain: tampering made evident.
//!
//! IAM cannot make a DynamoDB table append-only: a function that may put an
//! event may overwrite one, or give it a past TTL so DynamoDB erases it.
//! So every organization's events form a chain, as CloudTrail's digest
//! files do for its logs: each event carries its place in the trail
//! (`seq`, 1, 2, …), the hash of the event before it, and its own hash,
//! SHA-256 over its canonical form and the previous hash. The chain's head
//! (the last `seq` and hash) is written in the same atomic write as each
//! change, conditional on the head the change was linked to, so two changes
//! can never take the same place. [`verify`] then finds the first broken
//! link: an event altered, removed (a gap, or the newest ones when the head
//! says there are more), or the oldest ones removed before their retention
//! ended.
//!
//! What it does not do: someone who can rewrite every event and the head
//! consistently can rewrite history. Each change logs the new head, so a
//! head taken from the logs (which the functions cannot rewrite) can be
//! checked against the trail: [`verify`]'s `expected_head`.

use std::fmt;

use sha2::{Digest, Sha256};

use super::{Actor, AuditEvent};
use crate::domain::time::Timestamp;

/// SHA-256 of an event's link, or zeros before the first event.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHash(pub [u8; 32]);

impl ChainHash {
    /// What the first event of a trail links to.
    pub const GENESIS: ChainHash = ChainHash([0; 32]);

    /// Lowercase hex, as logs and `keygate audit verify` show it.
    pub fn to_hex(self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 64 || !text.is_ascii() {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHash({})", self.to_hex())
    }
}

impl fmt::Display for ChainHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// An event's place in its organization's chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainLink {
    /// 1 for the organization's first event, then one more each event.
    pub seq: u64,
    /// The time of the event before it; `None` for the first. Lets a
    /// verifier tell events removed by retention from events removed early.
    pub prev_at: Option<Timestamp>,
    pub prev_hash: ChainHash,
    pub hash: ChainHash,
}

/// The last link of an organization's chain; [`ChainHead::START`] before
/// its first event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: u64,
    pub hash: ChainHash,
    /// The last event's time.
    pub at: Option<Timestamp>,
}

impl ChainHead {
    pub const START: ChainHead = ChainHead {
        seq: 0,
        hash: ChainHash::GENESIS,
        at: None,
    };

    /// Link `events`, in order, after this head: each event's link, and the
    /// head after the last.
    pub fn extend(&self, events: &[AuditEvent]) -> (Vec<ChainLink>, ChainHead) {
        let mut head = *self;
        let mut links = Vec::with_capacity(events.len());
        for event in events {
            let seq = head.seq + 1;
            let link = ChainLink {
                seq,
                prev_at: head.at,
                prev_hash: head.hash,
                hash: hash_of(event, seq, head.at, head.hash),
            };
            links.push(link);
            head = ChainHead {
                seq,
                hash: link.hash,
                at: Some(event.at),
            };
        }
        (links, head)
    }
}

impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.seq, self.hash)
    }
}

/// The hash of `event` at place `seq` after an event at `prev_at` with
/// hash `prev`: SHA-256 over a versioned, length-prefixed encoding of every
/// field an event shows, so no two different events encode alike.
pub fn hash_of(
    event: &AuditEvent,
    seq: u64,
    prev_at: Option<Timestamp>,
    prev: ChainHash,
) -> ChainHash {
    let mut h = Sha256::new();
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    let text = |s: Option<&str>| s.map(|s| s.as_bytes().to_vec()).unwrap_or_default();
    let optional = |present: bool| [u8::from(present)];
    field(b"keygate-audit-v1");
    field(&prev.0);
    field(&seq.to_be_bytes());
    field(&optional(prev_at.is_some()));
    field(&prev_at.map_or(0, Timestamp::unix).to_be_bytes());
    field(event.id.to_string().as_bytes());
    field(event.org_id.as_str().as_bytes());
    field(&event.at.unix().to_be_bytes());
    field(event.action.as_str().as_bytes());
    field(event.key_id.to_string().as_bytes());
    field(event.key_name.as_str().as_bytes());
    match &event.actor {
        Actor::Key { id, hint } => {
            field(b"key");
            field(id.to_string().as_bytes());
            field(hint.as_bytes());
        }
        Actor::Bootstrap => field(b"bootstrap"),
    }
    field(&optional(event.reason.is_some()));
    field(&text(event.reason.as_ref().map(|r| r.as_str())));
    for status in [event.status_before, event.status_after] {
        field(&optional(status.is_some()));
        field(&text(status.map(|s| s.as_str())));
    }
    for id in [event.rotated_to, event.rotated_from] {
        field(&optional(id.is_some()));
        field(&text(id.map(|i| i.to_string()).as_deref()));
    }
    field(event.request_id.as_bytes());
    for value in [&event.source_ip, &event.user_agent] {
        field(&optional(value.is_some()));
        field(&text(value.as_deref()));
    }
    // Fields added since version 1, each tagged and only when present, so
    // the hash of an event without them is what it always was.
    if let Some(name) = &event.actor_name {
        field(b"actor_name");
        field(name.as_str().as_bytes());
    }
    for change in &event.changes {
        let (before, after) = change.texts();
        field(b"change");
        field(change.field().as_bytes());
        for value in [before, after] {
            field(&optional(value.is_some()));
            field(&text(value));
        }
    }
    if let Some(limits) = &event.limits {
        field(b"limits");
        field(limits.before.canonical().as_bytes());
        field(limits.after.canonical().as_bytes());
    }
    ChainHash(h.finalize().into())
}

/// What [`verify`] found wrong first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    #[error("event {seq} ({id}) was altered: its hash does not match its content")]
    Altered { seq: u64, id: String },
    #[error("event {seq} ({id}) does not link to the event before it")]
    Unlinked { seq: u64, id: String },
    #[error("events {from} to {to} are missing")]
    Missing { from: u64, to: u64 },
    #[error("event {seq} appears twice")]
    Duplicated { seq: u64 },
    #[error(
        "the trail starts at event {first}; the event before it (at {prev_at}) was removed \
         before its retention ended"
    )]
    StartRemovedEarly { first: u64, prev_at: String },
    #[error("the trail starts at event {first}, but it was never set to expire")]
    StartRemoved { first: u64 },
    #[error("the head says the trail ends at {head}, but its last event is {last}")]
    HeadMismatch { head: String, last: String },
    #[error("the trail does not contain the expected head {expected}")]
    ExpectedHeadMissing { expected: String },
}

/// What [`verify`] checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Events in the chain, checked.
    pub linked: usize,
    /// Events written before the chain began (no link), not checked.
    pub unlinked: usize,
    /// The first and last `seq` present.
    pub first: Option<u64>,
    pub head: ChainHead,
}

/// Check an organization's events (in any order) against each other, its
/// stored head, and (when given) a head taken from the logs. Events may
/// have been removed from the start of the trail by retention: only
/// `retention_secs` before `now` may be missing there.
pub fn verify(
    events: &[AuditEvent],
    stored_head: Option<ChainHead>,
    expected_head: Option<(u64, ChainHash)>,
    retention_secs: Option<i64>,
    now: Timestamp,
) -> Result<Verified, Broken> {
    let mut linked: Vec<(&AuditEvent, ChainLink)> = events
        .iter()
        .filter_map(|e| e.link.map(|l| (e, l)))
        .collect();
    let unlinked = events.len() - linked.len();
    linked.sort_by_key(|(_, l)| l.seq);
    let mut previous: Option<ChainLink> = None;
    for (event, link) in &linked {
        let id = event.id.to_string();
        match previous {
            None if link.seq > 1 => match (link.prev_at, retention_secs) {
                (Some(prev_at), Some(secs)) if prev_at.plus_seconds(secs) > now => {
                    return Err(Broken::StartRemovedEarly {
                        first: link.seq,
                        prev_at: prev_at.to_string(),
                    });
                }
                (_, None) => return Err(Broken::StartRemoved { first: link.seq }),
                _ => {}
            },
            None => {
                if link.prev_hash != ChainHash::GENESIS {
                    return Err(Broken::Unlinked { seq: link.seq, id });
                }
            }
            Some(prev) if link.seq == prev.seq => {
                return Err(Broken::Duplicated { seq: link.seq });
            }
            Some(prev) if link.seq > prev.seq + 1 => {
                return Err(Broken::Missing {
                    from: prev.seq + 1,
                    to: link.seq - 1,
                });
            }
            Some(prev) if link.prev_hash != prev.hash => {
                return Err(Broken::Unlinked { seq: link.seq, id });
            }
            Some(_) => {}
        }
        if hash_of(event, link.seq, link.prev_at, link.prev_hash) != link.hash {
            return Err(Broken::Altered { seq: link.seq, id });
        }
        previous = Some(*link);
    }
    let last = linked
        .last()
        .map_or(ChainHead::START, |(event, link)| ChainHead {
            seq: link.seq,
            hash: link.hash,
            at: Some(event.at),
        });
    if let Some(head) = stored_head
        && (head.seq, head.hash) != (last.seq, last.hash)
    {
        return Err(Broken::HeadMismatch {
            head: head.to_string(),
            last: last.to_string(),
        });
    }
    if let Some((seq, hash)) = expected_head
        && !linked.iter().any(|(_, l)| l.seq == seq && l.hash == hash)
    {
        return Err(Broken::ExpectedHeadMissing {
            expected: format!("{seq}:{hash}"),
        });
    }
    Ok(Verified {
        linked: linked.len(),
        unlinked,
        first: linked.first().map(|(_, l)| l.seq),
        head: last,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::AuditAction;
    use crate::domain::id::{EventId, KeyId};
    use crate::domain::org::OrgId;
    use crate::domain::record::KeyStatus;
    use crate::domain::text::KeyName;

    fn event(n: u128, at: i64) -> AuditEvent {
        AuditEvent {
            id: EventId::from_u128(n),
            org_id: OrgId::new("acme").unwrap(),
            at: Timestamp::from_unix(at),
            action: AuditAction::Suspend,
            key_id: KeyId::from_u128(7),
            key_name: KeyName::new("k").unwrap(),
            actor: Actor::Bootstrap,
            actor_name: None,
            reason: None,
            status_before: Some(KeyStatus::Active),
            status_after: Some(KeyStatus::Suspended),
            rotated_to: None,
            rotated_from: None,
            changes: vec![],
            request_id: "req".into(),
            source_ip: None,
            user_agent: None,
            link: None,
            limits: None,
        }
    }

    /// Five events linked as a store links them, one change at a time.
    fn trail() -> (Vec<AuditEvent>, ChainHead) {
        let mut head = ChainHead::START;
        let mut out = vec![];
        for n in 1..=5 {
            let mut e = event(n, 1_000 * n as i64);
            let (links, next) = head.extend(std::slice::from_ref(&e));
            e.link = Some(links[0]);
            head = next;
            out.push(e);
        }
        (out, head)
    }

    const NOW: Timestamp = Timestamp::from_unix(10_000);

    #[test]
    fn an_untouched_trail_verifies_in_any_order() {
        let (mut events, head) = trail();
        events.reverse();
        let ok = verify(
            &events,
            Some(head),
            Some((3, events[2].link.unwrap().hash)),
            None,
            NOW,
        )
        .unwrap();
        assert_eq!((ok.linked, ok.first, ok.head.seq), (5, Some(1), 5));
        assert_eq!(ChainHash::from_hex(&head.hash.to_hex()), Some(head.hash));
    }

    #[test]
    fn each_kind_of_tampering_is_the_first_thing_reported() {
        let (events, head) = trail();
        // An altered field.
        let mut altered = events.clone();
        altered[2].reason = Some(crate::domain::text::RevokeReason::new("edited").unwrap());
        assert!(matches!(
            verify(&altered, Some(head), None, None, NOW),
            Err(Broken::Altered { seq: 3, .. })
        ));
        // A removed event in the middle.
        let mut gap = events.clone();
        gap.remove(2);
        assert_eq!(
            verify(&gap, Some(head), None, None, NOW),
            Err(Broken::Missing { from: 3, to: 3 })
        );
        // The newest removed: the head says more.
        let truncated = &events[..4];
        assert!(matches!(
            verify(truncated, Some(head), None, None, NOW),
            Err(Broken::HeadMismatch { .. })
        ));
        // A rewritten event, rehashed, no longer links to its successor.
        let mut rehashed = events.clone();
        let mut forged = rehashed[1].clone();
        forged.reason = Some(crate::domain::text::RevokeReason::new("forged").unwrap());
        let link = forged.link.unwrap();
        forged.link = Some(ChainLink {
            hash: hash_of(&forged, link.seq, link.prev_at, link.prev_hash),
            ..link
        });
        rehashed[1] = forged;
        assert!(matches!(
            verify(&rehashed, Some(head), None, None, NOW),
            Err(Broken::Unlinked { seq: 3, .. })
        ));
        // The oldest removed: fine only if retention had removed them.
        let start = &events[2..];
        assert_eq!(
            verify(start, Some(head), None, None, NOW),
            Err(Broken::StartRemoved { first: 3 })
        );
        assert!(matches!(
            verify(start, Some(head), None, Some(60_000), NOW),
            Err(Broken::StartRemovedEarly { first: 3, .. })
        ));
        assert!(verify(start, Some(head), None, Some(5_000), NOW).is_ok());
        // A head from the logs the trail no longer has.
        assert!(matches!(
            verify(&events, Some(head), Some((6, head.hash)), None, NOW),
            Err(Broken::ExpectedHeadMissing { .. })
        ));
    }

    /// The hash of an event that has none of the fields added since the
    /// trail began is what it always was (pinned from the first version),
    /// so trails written then still verify; an actor's name or an update's
    /// changes are covered by the hash once present.
    #[test]
    fn fields_added_later_leave_earlier_hashes_alone_and_are_hashed_when_present() {
        use crate::domain::audit::LabelChange;
        let mut e = event(1, 1_000);
        e.actor = Actor::Key {
            id: KeyId::from_u128(9),
            hint: "kg_...abcd".into(),
        };
        e.reason = Some(crate::domain::text::RevokeReason::new("leaked").unwrap());
        e.source_ip = Some("203.0.113.7".into());
        let hash = |e: &AuditEvent| hash_of(e, 1, None, ChainHash::GENESIS).to_hex();
        assert_eq!(
            hash(&e),
            "0e5de81f4bd428513f4d760d58d0c4c2d49ddf4cbd15c43d45ea868f0822e2d5"
        );
        let mut named = e.clone();
        named.actor_name = Some(KeyName::new("admin").unwrap());
        let mut renamed = named.clone();
        renamed.changes = vec![LabelChange::Name {
            before: KeyName::new("a").unwrap(),
            after: KeyName::new("b").unwrap(),
        }];
        let mut other = renamed.clone();
        other.changes = vec![LabelChange::Name {
            before: KeyName::new("a").unwrap(),
            after: KeyName::new("c").unwrap(),
        }];
        let limits = |text: &str| crate::domain::audit::LimitsChange {
            before: crate::domain::limits::Limits::NONE,
            after: crate::domain::limits::Limits::parse_canonical(text).unwrap(),
        };
        let mut limited = other.clone();
        limited.limits = Some(limits("rate=10/60;quota="));
        let mut limited_more = other.clone();
        limited_more.limits = Some(limits("rate=9/60;quota="));
        let hashes: std::collections::HashSet<String> =
            [&e, &named, &renamed, &other, &limited, &limited_more]
                .into_iter()
                .map(hash)
                .collect();
        assert_eq!(hashes.len(), 6, "each difference changes the hash");
    }

    #[test]
    fn events_before_the_chain_are_counted_not_checked() {
        let (mut events, head) = trail();
        events.push(event(99, 1));
        let ok = verify(&events, Some(head), None, None, NOW).unwrap();
        assert_eq!((ok.linked, ok.unlinked), (5, 1));
    }
}
