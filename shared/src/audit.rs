//! The audit trail: one event per change to a key, written by the store in
//! the same atomic write as the change (see [`crate::change::Change`]).
//! Events outlive the keys they name. They hold who, what, when and from
//! where, never a key, a secret or a hash.

use std::fmt;

use serde::Serialize;

use crate::key::KeyId;
use crate::model::{KeyName, KeyStatus, OrgId, RevokeReason, Timestamp};

crate::key::time_ordered_id!(
    /// An audit event's id: events sort by it, newest last.
    EventId
);

/// What happened to the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditAction {
    Create,
    Rotate,
    Suspend,
    Reactivate,
    Revoke,
    Delete,
    /// A full-access key minted straight into the store (`keygate bootstrap`,
    /// the first start of `keygate serve`).
    Bootstrap,
}

impl AuditAction {
    pub const ALL: [AuditAction; 7] = [
        AuditAction::Create,
        AuditAction::Rotate,
        AuditAction::Suspend,
        AuditAction::Reactivate,
        AuditAction::Revoke,
        AuditAction::Delete,
        AuditAction::Bootstrap,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Rotate => "rotate",
            AuditAction::Suspend => "suspend",
            AuditAction::Reactivate => "reactivate",
            AuditAction::Revoke => "revoke",
            AuditAction::Delete => "delete",
            AuditAction::Bootstrap => "bootstrap",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A key, through the API.
    Key { id: KeyId, hint: String },
    /// Someone with direct access to the store.
    Bootstrap,
}

impl Actor {
    pub fn key_id(&self) -> Option<KeyId> {
        match self {
            Actor::Key { id, .. } => Some(*id),
            Actor::Bootstrap => None,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Actor::Key { .. } => "key",
            Actor::Bootstrap => "bootstrap",
        }
    }
}

/// One change to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: EventId,
    pub org_id: OrgId,
    pub at: Timestamp,
    pub action: AuditAction,
    pub key_id: KeyId,
    pub key_name: KeyName,
    pub actor: Actor,
    pub reason: Option<RevokeReason>,
    /// `None` for a key that did not exist before (create, bootstrap).
    pub status_before: Option<KeyStatus>,
    /// `None` for a key that no longer exists (delete).
    pub status_after: Option<KeyStatus>,
    /// On a `rotate` event, the key that replaced this one.
    pub rotated_to: Option<KeyId>,
    /// On the `create` event of a rotation's new key, the key it replaced.
    pub rotated_from: Option<KeyId>,
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The public JSON form of an event.
#[derive(Debug, Serialize)]
pub struct AuditEventView<'a> {
    pub id: EventId,
    pub org_id: &'a OrgId,
    pub time: Timestamp,
    pub action: AuditAction,
    pub key_id: KeyId,
    pub key_name: &'a KeyName,
    pub actor_type: &'static str,
    pub actor_key_id: Option<KeyId>,
    pub actor_hint: Option<&'a str>,
    pub reason: Option<&'a RevokeReason>,
    pub status_before: Option<KeyStatus>,
    pub status_after: Option<KeyStatus>,
    pub rotated_to: Option<KeyId>,
    pub rotated_from: Option<KeyId>,
    pub request_id: &'a str,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
}

impl AuditEvent {
    pub fn to_view(&self) -> AuditEventView<'_> {
        AuditEventView {
            id: self.id,
            org_id: &self.org_id,
            time: self.at,
            action: self.action,
            key_id: self.key_id,
            key_name: &self.key_name,
            actor_type: self.actor.kind(),
            actor_key_id: self.actor.key_id(),
            actor_hint: match &self.actor {
                Actor::Key { hint, .. } => Some(hint),
                Actor::Bootstrap => None,
            },
            reason: self.reason.as_ref(),
            status_before: self.status_before,
            status_after: self.status_after,
            rotated_to: self.rotated_to,
            rotated_from: self.rotated_from,
            request_id: &self.request_id,
            source_ip: self.source_ip.as_deref(),
            user_agent: self.user_agent.as_deref(),
        }
    }
}

/// Which events a list returns; each combination is one index query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventFilter {
    pub key_id: Option<KeyId>,
    pub action: Option<AuditAction>,
}

impl EventFilter {
    /// The filter as text, binding a pagination cursor to it.
    pub fn cursor_scope(&self) -> String {
        format!(
            "events:{}:{}",
            self.key_id.map(|k| k.to_string()).unwrap_or_default(),
            self.action.map(AuditAction::as_str).unwrap_or_default()
        )
    }

    pub fn matches(&self, event: &AuditEvent) -> bool {
        self.key_id.is_none_or(|k| k == event.key_id)
            && self.action.is_none_or(|a| a == event.action)
    }
}

/// Longest request id, source IP and user agent kept in an event.
pub const MAX_CONTEXT_CHARS: usize = 256;

/// Request context as an event keeps it: no control or format characters,
/// nothing that could be a secret (runs of 20+ base62 characters become
/// `[redacted]`), at most [`MAX_CONTEXT_CHARS`] characters.
pub fn sanitize_context(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_CONTEXT_CHARS));
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() > crate::error::MAX_ECHO_BASE62_RUN {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
            continue;
        }
        flush(&mut run, &mut out);
        let invisible = c.is_control()
            || unicode_general_category::get_general_category(c)
                == unicode_general_category::GeneralCategory::Format;
        if !invisible {
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out.chars().take(MAX_CONTEXT_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_ids_sort_by_time_and_round_trip() {
        let a = EventId::generate();
        let b = EventId::generate();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(EventId::parse(&a.to_string()), Ok(a));
    }

    #[test]
    fn actions_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        assert_eq!(AuditAction::parse("update"), None);
    }

    #[test]
    fn context_is_kept_without_secrets_or_invisible_text() {
        assert_eq!(
            sanitize_context("curl/8.5.0 (x86_64-pc-linux-gnu)"),
            "curl/8.5.0 (x86_64-pc-linux-gnu)"
        );
        let key = crate::key::KeyFormat::default().generate();
        let ua = format!("bot {} \u{202e}x\u{7}", key.key.expose());
        let kept = sanitize_context(&ua);
        assert_eq!(kept, "bot kg_[redacted] x");
        assert_eq!(sanitize_context(&"a-".repeat(500)).chars().count(), 256);
    }
}
