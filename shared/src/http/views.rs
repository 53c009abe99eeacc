//! The JSON bodies the API answers with: a key record (never its secret or
//! hash), a new key shown once, an audit event, and a page of a list. The
//! OpenAPI document's schemas are derived from these types.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Serialize;

use crate::domain::audit::{Actor, ActorKind, AuditAction, AuditEvent, LabelChange};
use crate::domain::catalog::Catalog;
use crate::domain::id::{EventId, KeyId};
use crate::domain::limits::{LimitKind, LimitUsage, Limits, QuotaPeriod, ceil_seconds};
use crate::domain::org::OrgId;
use crate::domain::record::{KeyRecord, KeyStatus, KeyType};
use crate::domain::scope::FULL_ACCESS;
use crate::domain::search::KeyCounts;
use crate::domain::text::{Description, KeyName, Owner, RevokeReason};
use crate::domain::time::Timestamp;
use crate::http::error::{ApiError, ErrorCode};

/// A key, without its secret or hash.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "KeyRecord", deny_unknown_fields)]
pub struct KeyView<'a> {
    pub id: KeyId,
    pub org_id: &'a OrgId,
    pub name: &'a KeyName,
    pub description: Option<&'a Description>,
    pub key_type: KeyType,
    pub owner: Option<&'a Owner>,
    /// `["*"]` for full access (every scope, also ones added to the catalog
    /// later), else the sorted scopes.
    pub scopes: Vec<String>,
    pub status: KeyStatus,
    /// Whether expires_at has passed: the key is denied although its status
    /// may say active.
    pub expired: bool,
    /// The prefix and the key's last 4 characters.
    pub hint: &'a str,
    pub created_at: Timestamp,
    pub created_by: Option<KeyId>,
    pub updated_at: Timestamp,
    pub suspended_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    pub revoked_reason: Option<&'a RevokeReason>,
    pub revoked_by: Option<KeyId>,
    pub expires_at: Option<Timestamp>,
    pub last_used_at: Option<Timestamp>,
    pub rotated_from: Option<KeyId>,
    pub rotated_to: Option<KeyId>,
    /// Its rate limit and quota; both null: unlimited.
    pub limits: LimitsView,
    /// The budget its requests are counted in: its own id, or the key it
    /// was rotated from's budget, or the limited key that created it's.
    pub budget: KeyId,
    /// What the calling key may do to this key now: each change, as the
    /// call would decide it before writing (its scope, its authority over
    /// the key, the key's state). The call still decides when it is made.
    pub caller: CallerView,
    /// Whether this is its organization's last active full-access key:
    /// suspending, revoking or deleting it leaves no key that can manage
    /// every other (until `keygate bootstrap`). Null when the store cannot
    /// count the organization's keys.
    pub last_active_full_access: Option<bool>,
}

/// What the calling key may do to a key, one field per change.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "CallerPermits", deny_unknown_fields)]
pub struct CallerView {
    pub update: Permit,
    pub suspend: Permit,
    pub reactivate: Permit,
    pub rotate: Permit,
    pub revoke: Permit,
    pub delete: Permit,
    /// `PUT …/limits`: never the calling key's own.
    pub set_limits: Permit,
    /// `POST …/reset-usage`: never the calling key's own budget.
    pub reset_usage: Permit,
}

/// Whether a call would be allowed, and if not the error it would answer.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Permit", deny_unknown_fields)]
pub struct Permit {
    pub allowed: bool,
    /// The error code the call would answer (null when allowed).
    pub code: Option<ErrorCode>,
    /// Its message (null when allowed).
    pub reason: Option<String>,
}

impl Permit {
    pub fn of(decision: Result<(), ApiError>) -> Self {
        match decision {
            Ok(()) => Permit {
                allowed: true,
                code: None,
                reason: None,
            },
            Err(e) => Permit {
                allowed: false,
                code: Some(e.code),
                reason: Some(e.message),
            },
        }
    }
}

/// A key's usage limits.
#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[schemars(rename = "Limits", deny_unknown_fields)]
pub struct LimitsView {
    /// At most `requests` per `window_seconds`, as a sliding window.
    pub rate: Option<RateLimitView>,
    /// At most `requests` per calendar `period` (UTC).
    pub quota: Option<QuotaView>,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[schemars(rename = "RateLimit", deny_unknown_fields)]
pub struct RateLimitView {
    #[schemars(range(min = 1, max = 1_000_000_000))]
    pub requests: u64,
    #[schemars(range(min = 1, max = 86_400))]
    pub window_seconds: u32,
}

#[derive(Debug, Clone, Copy, Serialize, JsonSchema)]
#[schemars(rename = "Quota", deny_unknown_fields)]
pub struct QuotaView {
    #[schemars(range(min = 1, max = 1_000_000_000_000_u64))]
    pub requests: u64,
    pub period: QuotaPeriod,
}

impl LimitsView {
    pub fn of(limits: &Limits) -> Self {
        LimitsView {
            rate: limits.rate.map(|r| RateLimitView {
                requests: r.requests,
                window_seconds: r.window_seconds,
            }),
            quota: limits.quota.map(|q| QuotaView {
                requests: q.requests,
                period: q.period,
            }),
        }
    }
}

/// A key's usage now: each limit's count, what is left and when it resets.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "Usage", deny_unknown_fields)]
pub struct UsageView {
    pub key_id: KeyId,
    /// The budget counted in (shared with its rotations and, for a limited
    /// key's keys, with the key that created them).
    pub budget: KeyId,
    pub limits: LimitsView,
    /// Null when the key has no rate limit.
    pub rate: Option<LimitUsageView>,
    /// Null when the key has no quota.
    pub quota: Option<LimitUsageView>,
}

/// One limit's usage.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "LimitUsage", deny_unknown_fields)]
pub struct LimitUsageView {
    /// The limit: requests per window or period.
    pub limit: u64,
    /// Requests counted now (for a rate limit, this window's plus the
    /// previous window's weighted by how much the sliding window overlaps
    /// it, rounded up).
    pub used: u64,
    pub remaining: u64,
    /// When the current window or period ends.
    pub resets_at: Timestamp,
    /// The window's or period's length in seconds.
    pub window_seconds: u64,
}

impl UsageView {
    pub fn of(record: &KeyRecord, usages: &[LimitUsage]) -> Self {
        let view = |kind: LimitKind| {
            usages
                .iter()
                .find(|u| u.kind == kind)
                .map(|u| LimitUsageView {
                    limit: u.limit,
                    used: u.used,
                    remaining: u.remaining,
                    resets_at: Timestamp::from_unix(ceil_seconds(u.resets_at_ms)),
                    window_seconds: u.window_seconds,
                })
        };
        UsageView {
            key_id: record.id,
            budget: record.budget,
            limits: LimitsView::of(&record.limits),
            rate: view(LimitKind::Rate),
            quota: view(LimitKind::Quota),
        }
    }
}

impl<'a> KeyView<'a> {
    /// The record as the API shows it at `now` to a caller who may do
    /// `caller` to it.
    pub fn of(
        record: &'a KeyRecord,
        now: Timestamp,
        caller: CallerView,
        last_active_full_access: Option<bool>,
    ) -> Self {
        KeyView {
            id: record.id,
            org_id: &record.org_id,
            name: &record.name,
            description: record.description.as_ref(),
            key_type: record.key_type,
            owner: record.owner.as_ref(),
            scopes: record.permissions.to_strings(),
            status: record.status,
            expired: record.is_expired(now),
            hint: &record.hint,
            created_at: record.created_at,
            created_by: record.created_by,
            updated_at: record.updated_at,
            suspended_at: record.suspended_at,
            revoked_at: record.revoked_at,
            revoked_reason: record.revoked_reason.as_ref(),
            revoked_by: record.revoked_by,
            expires_at: record.expires_at,
            last_used_at: record.last_used_at,
            rotated_from: record.rotated_from,
            rotated_to: record.rotated_to,
            limits: LimitsView::of(&record.limits),
            budget: record.budget,
            caller,
            last_active_full_access,
        }
    }
}

/// How many keys the organization has in each status.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "KeyCounts", deny_unknown_fields)]
pub struct CountsView {
    pub all: u64,
    pub active: u64,
    pub suspended: u64,
    pub revoked: u64,
}

impl CountsView {
    pub fn of(counts: &KeyCounts) -> Self {
        CountsView {
            all: counts.all(),
            active: counts.active,
            suspended: counts.suspended,
            revoked: counts.revoked,
        }
    }
}

/// A page of keys, and how many keys the organization has.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "KeyRecordList", deny_unknown_fields)]
pub struct KeyListBody<'a> {
    pub data: Vec<KeyView<'a>>,
    /// The cursor of the next page (pass it as `cursor` with the same
    /// filters); null on the last page.
    pub next_cursor: Option<String>,
    /// The organization's keys by status, whatever this list's filters
    /// (for a status tab's count); null when the store cannot count them.
    pub counts: Option<CountsView>,
}

/// A new key's record and the full key, shown once (create, rotate).
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "CreatedKey")]
pub struct Created<'a> {
    #[serde(flatten)]
    pub record: KeyView<'a>,
    /// The full key. Shown in this answer only; store it now.
    pub key: &'a str,
}

/// One change to one key: who, what, when, from where. Never a key, a
/// secret or a hash.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "AuditEvent", deny_unknown_fields)]
pub struct AuditEventView<'a> {
    pub id: EventId,
    pub org_id: &'a OrgId,
    pub time: Timestamp,
    pub action: AuditAction,
    pub key_id: KeyId,
    pub key_name: &'a KeyName,
    pub actor_type: ActorKind,
    pub actor_key_id: Option<KeyId>,
    pub actor_hint: Option<&'a str>,
    /// The acting key's name when it acted (null for bootstrap, and on
    /// events recorded before names were).
    pub actor_name: Option<&'a KeyName>,
    pub reason: Option<&'a RevokeReason>,
    pub status_before: Option<KeyStatus>,
    pub status_after: Option<KeyStatus>,
    pub rotated_to: Option<KeyId>,
    pub rotated_from: Option<KeyId>,
    /// On an `update` event, each field it changed; empty otherwise.
    pub changes: Vec<ChangeView<'a>>,
    pub request_id: &'a str,
    pub source_ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// On `set_limits` events the limits before and after; on the `create`
    /// event of a key with limits, its limits (before: none).
    pub limits: Option<LimitsChangeView>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "LimitsChange", deny_unknown_fields)]
pub struct LimitsChangeView {
    pub before: LimitsView,
    pub after: LimitsView,
}

/// One field an update changed, before and after.
#[derive(Debug, Serialize, JsonSchema)]
#[schemars(rename = "FieldChange", deny_unknown_fields)]
pub struct ChangeView<'a> {
    /// `name` or `description`.
    #[schemars(extend("enum" = ["name", "description"]))]
    pub field: &'a str,
    /// The value before (null: no description).
    pub before: Option<&'a str>,
    /// The value after (null: no description).
    pub after: Option<&'a str>,
}

impl<'a> ChangeView<'a> {
    fn of(change: &'a LabelChange) -> Self {
        let (before, after) = change.texts();
        ChangeView {
            field: change.field(),
            before,
            after,
        }
    }
}

impl<'a> AuditEventView<'a> {
    pub fn of(event: &'a AuditEvent) -> Self {
        AuditEventView {
            id: event.id,
            org_id: &event.org_id,
            time: event.at,
            action: event.action,
            key_id: event.key_id,
            key_name: &event.key_name,
            actor_type: event.actor.kind(),
            actor_key_id: event.actor.key_id(),
            actor_hint: match &event.actor {
                Actor::Key { hint, .. } => Some(hint),
                Actor::Bootstrap => None,
            },
            actor_name: event.actor_name.as_ref(),
            reason: event.reason.as_ref(),
            status_before: event.status_before,
            status_after: event.status_after,
            rotated_to: event.rotated_to,
            rotated_from: event.rotated_from,
            changes: event.changes.iter().map(ChangeView::of).collect(),
            request_id: &event.request_id,
            source_ip: event.source_ip.as_deref(),
            user_agent: event.user_agent.as_deref(),
            limits: event.limits.map(|l| LimitsChangeView {
                before: LimitsView::of(&l.before),
                after: LimitsView::of(&l.after),
            }),
        }
    }
}

/// The scope catalog and the presets (`GET /v1/scopes`).
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Catalog", deny_unknown_fields)]
pub struct CatalogView<'a> {
    /// Every resource, in the catalog's order, with its scopes.
    pub resources: Vec<ResourceView<'a>>,
    /// Each preset's scopes, by name.
    pub presets: BTreeMap<&'a str, Vec<&'static str>>,
    /// What each preset is for, by name.
    pub preset_descriptions: BTreeMap<&'a str, &'a str>,
    /// The scope text of full access: every scope, also ones added later.
    pub full_access: &'static str,
}

/// One resource of the catalog.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "Resource", deny_unknown_fields)]
pub struct ResourceView<'a> {
    pub resource: &'a str,
    pub description: &'a str,
    /// Its scopes, `resource:action`.
    pub scopes: Vec<&'static str>,
    /// Each scope with what it allows.
    pub actions: Vec<ActionView<'a>>,
}

/// One scope of the catalog and what it allows.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "ScopeDescription", deny_unknown_fields)]
pub struct ActionView<'a> {
    pub scope: &'static str,
    pub description: &'a str,
}

impl<'a> CatalogView<'a> {
    pub fn of(catalog: &'a Catalog) -> Self {
        CatalogView {
            resources: catalog
                .resources()
                .iter()
                .map(|r| ResourceView {
                    resource: &r.name,
                    description: &r.description,
                    scopes: r.actions.iter().map(|a| a.scope.as_str()).collect(),
                    actions: r
                        .actions
                        .iter()
                        .map(|a| ActionView {
                            scope: a.scope.as_str(),
                            description: &a.description,
                        })
                        .collect(),
                })
                .collect(),
            presets: catalog
                .presets()
                .iter()
                .map(|p| {
                    (
                        p.name.as_str(),
                        p.scopes.iter().map(|s| s.as_str()).collect(),
                    )
                })
                .collect(),
            preset_descriptions: catalog
                .presets()
                .iter()
                .map(|p| (p.name.as_str(), p.description.as_str()))
                .collect(),
            full_access: FULL_ACCESS,
        }
    }
}

/// A page of a list, newest first.
#[derive(Serialize, JsonSchema)]
#[schemars(rename = "{T}List", deny_unknown_fields)]
pub struct ListBody<T> {
    pub data: Vec<T>,
    /// The cursor of the next page (pass it as `cursor` with the same
    /// filters); null on the last page.
    pub next_cursor: Option<String>,
}
