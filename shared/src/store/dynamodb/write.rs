//! Writes: every change is one `TransactWriteItems` of its key writes, each
//! conditional on the key being as the change read it, a `ConditionCheck`
//! on the calling key when the change does not write it, and the `Put` of
//! each event; and what a cancelled transaction means.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};

use super::DynamoDbStore;
use super::error::{is_retryable, unavailable};
use super::item::{
    counts_id, event_to_item, head_to_item, key_to_item, n, org_status, s, scopes_value,
    state_fields,
};
use crate::domain::audit::AuditEvent;
use crate::domain::audit::chain::ChainHead;
use crate::domain::change::{ActorGuard, Change, KeyWrite};
use crate::domain::org::OrgId;
use crate::domain::record::{KeyRecord, KeyStatus};
use crate::domain::search::{CountDelta, name_sort_key, type_sort_key};
use crate::domain::time::Timestamp;
use crate::store::StoreError;

/// A condition, its update or item, and the placeholders they use.
#[derive(Default)]
struct Expression {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    fn value(&mut self, placeholder: &str, value: AttributeValue) -> String {
        self.values.insert(placeholder.to_owned(), value);
        placeholder.to_owned()
    }

    /// The condition that the stored key is still `before` as far as a
    /// change's checks went: the DynamoDB form of [`KeyRecord::unchanged_in`].
    fn unchanged(&mut self, before: &KeyRecord) -> String {
        self.names.insert("#status".into(), "status".into());
        let mut parts = vec![
            match before.version {
                0 => "attribute_not_exists(version)".to_owned(),
                v => format!(
                    "version = {}",
                    self.value(":c_version", AttributeValue::N(v.to_string()))
                ),
            },
            format!(
                "org_id = {}",
                self.value(":c_org", s(before.org_id.as_str()))
            ),
            format!(
                "#status = {}",
                self.value(":c_status", s(before.status.as_str()))
            ),
            format!(
                "scopes = {}",
                self.value(":c_scopes", scopes_value(&before.permissions))
            ),
        ];
        parts.push(match before.expires_at {
            Some(at) => format!("expires_at = {}", self.value(":c_expires", n(at))),
            None => "attribute_not_exists(expires_at)".into(),
        });
        parts.push(match before.rotated_to {
            Some(to) => format!(
                "rotated_to = {}",
                self.value(":c_rotated", s(to.to_string()))
            ),
            None => "attribute_not_exists(rotated_to)".into(),
        });
        parts.join(" AND ")
    }

    /// `SET`/`REMOVE` of a key's state and labels as in `after`;
    /// `last_used_at` and everything fixed at creation are left alone.
    fn set_state(&mut self, after: &KeyRecord) -> String {
        self.names.insert("#status".into(), "status".into());
        // NAME is one of DynamoDB's reserved words.
        self.names.insert("#name".into(), "name".into());
        let mut set = vec![
            format!(
                "#status = {}",
                self.value(":u_status", s(after.status.as_str()))
            ),
            format!(
                "org_status = {}",
                self.value(":u_org_status", s(org_status(&after.org_id, after.status)))
            ),
            format!("#name = {}", self.value(":u_name", s(after.name.as_str()))),
            // The search GSIs' sort keys: a rename moves the name's; the
            // type's never changes, but is set so items from before searches
            // are found once they change.
            format!(
                "name_key = {}",
                self.value(":u_name_key", s(name_sort_key(after)))
            ),
            format!(
                "type_key = {}",
                self.value(":u_type_key", s(type_sort_key(after)))
            ),
            format!(
                "updated_at = {}",
                self.value(":u_updated", n(after.updated_at))
            ),
            format!(
                "version = {}",
                self.value(":u_version", AttributeValue::N(after.version.to_string()))
            ),
        ];
        let mut remove = vec![];
        for (field, value) in state_fields(after) {
            match value {
                Some(v) => set.push(format!(
                    "{field} = {}",
                    self.value(&format!(":u_{field}"), v)
                )),
                None => remove.push(field),
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        expression
    }
}

impl DynamoDbStore {
    /// One `TransactWriteItems` entry per key write.
    pub(super) fn transact_item(&self, write: &KeyWrite) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expression::default();
        let item = match write {
            KeyWrite::Insert(record) => TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(self.keys.as_ref())
                        .set_item(Some(key_to_item(record)?))
                        .condition_expression("attribute_not_exists(id)")
                        .build()?,
                )
                .build(),
            KeyWrite::Update { before, after } => {
                let condition = expr.unchanged(before);
                let update = expr.set_state(after);
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(self.keys.as_ref())
                            .key("id", s(after.id.to_string()))
                            .update_expression(update)
                            .condition_expression(condition)
                            .set_expression_attribute_names(Some(expr.names))
                            .set_expression_attribute_values(Some(expr.values))
                            .build()?,
                    )
                    .build()
            }
            KeyWrite::Delete(before) => {
                let condition = expr.unchanged(before);
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(self.keys.as_ref())
                            .key("id", s(before.id.to_string()))
                            .condition_expression(condition)
                            .set_expression_attribute_names(Some(expr.names))
                            .set_expression_attribute_values(Some(expr.values))
                            .build()?,
                    )
                    .build()
            }
        };
        Ok(item)
    }

    /// A `ConditionCheck` that the calling key is still active with the
    /// expiry its request saw ([`crate::domain::change::ActorGuard`]).
    /// `at` is the change's time: a key that expired by then changes nothing,
    /// also when its request was allowed (by a cached decision, say) before.
    pub(super) fn guard_item(
        &self,
        guard: &ActorGuard,
        at: Timestamp,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expression::default();
        expr.names.insert("#status".into(), "status".into());
        let active = expr.value(":g_status", s(KeyStatus::Active.as_str()));
        let expiry = match guard.expires_at {
            Some(expires) => format!(
                "expires_at = {} AND expires_at > {}",
                expr.value(":g_expires", n(expires)),
                expr.value(":g_now", n(at))
            ),
            None => "attribute_not_exists(expires_at)".into(),
        };
        Ok(TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(self.keys.as_ref())
                    .key("id", s(guard.key_id.to_string()))
                    .condition_expression(format!("#status = {active} AND {expiry}"))
                    .set_expression_attribute_names(Some(expr.names))
                    .set_expression_attribute_values(Some(expr.values))
                    .build()?,
            )
            .build())
    }

    /// The chain head's move to `next`, conditional on it being `current`
    /// (or absent): two changes of one organization cannot take one place.
    pub(super) fn head_item(
        &self,
        org: &OrgId,
        current: Option<&ChainHead>,
        next: &ChainHead,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder()
            .table_name(self.audit.as_ref())
            .set_item(Some(head_to_item(org, next)?));
        put = match current {
            // HASH is one of DynamoDB's reserved words.
            Some(current) => put
                .condition_expression("seq = :seq AND #hash = :hash")
                .expression_attribute_names("#hash", "hash")
                .expression_attribute_values(":seq", AttributeValue::N(current.seq.to_string()))
                .expression_attribute_values(
                    ":hash",
                    AttributeValue::B(current.hash.0.to_vec().into()),
                ),
            None => put.condition_expression("attribute_not_exists(id)"),
        };
        Ok(TransactWriteItem::builder().put(put.build()?).build())
    }

    /// The move of `org`'s counts by `delta`. Made exact when `first`: the
    /// organization's first change (there was no chain head), so it counts
    /// every key the organization will have.
    pub(super) fn counts_item(
        &self,
        org: &OrgId,
        delta: &CountDelta,
        first: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let number = |v: i64| AttributeValue::N(v.to_string());
        Ok(TransactWriteItem::builder()
            .update(
                Update::builder()
                    .table_name(self.keys.as_ref())
                    .key("id", s(counts_id(org)))
                    .update_expression(
                        "SET exact = if_not_exists(exact, :exact) \
                         ADD active :active, suspended :suspended, revoked :revoked, \
                         active_full :full",
                    )
                    .expression_attribute_values(":exact", AttributeValue::Bool(first))
                    .expression_attribute_values(":active", number(delta.active))
                    .expression_attribute_values(":suspended", number(delta.suspended))
                    .expression_attribute_values(":revoked", number(delta.revoked))
                    .expression_attribute_values(":full", number(delta.active_full_access))
                    .build()?,
            )
            .build())
    }

    pub(super) fn event_item(&self, event: &AuditEvent) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(self.audit.as_ref())
                    .set_item(Some(event_to_item(event, self.retention_secs)?))
                    .condition_expression("attribute_not_exists(id)")
                    .build()?,
            )
            .build())
    }
}

/// Whether a cancelled transaction failed only on the items every change
/// of the organization shares (from `shared` on: its counts, then its chain
/// head, the last item): another change of the organization moved them
/// first.
pub(super) fn only_shared_items_moved(reasons: &[CancellationReason], shared: usize) -> bool {
    let code = |i: usize| reasons.get(i).and_then(|r| r.code()).unwrap_or("None");
    let moved = |i: usize| matches!(code(i), "ConditionalCheckFailed" | "TransactionConflict");
    (shared..reasons.len()).any(moved)
        && (shared..reasons.len()).all(|i| moved(i) || code(i) == "None")
        && (0..shared).all(|i| code(i) == "None")
}

/// What a cancelled transaction means: the first reason that is not `None`,
/// for the item it belongs to (the key writes, then the calling key's check
/// when there is one, then the events).
pub(super) fn cancelled(change: &Change, reasons: &[CancellationReason]) -> StoreError {
    let writes = change.writes().len();
    let guard = usize::from(change.guard().is_some());
    let retry_later = |why: String| unavailable(why, None);
    for (i, reason) in reasons.iter().enumerate() {
        let code = reason.code().unwrap_or("None");
        if code == "None" {
            continue;
        }
        return match change.writes().get(i) {
            Some(KeyWrite::Insert(_)) if code == "ConditionalCheckFailed" => {
                StoreError::AlreadyExists
            }
            Some(_) if code == "ConditionalCheckFailed" || code == "TransactionConflict" => {
                StoreError::Changed
            }
            Some(_) if is_retryable(code) => retry_later(format!("transaction cancelled: {code}")),
            Some(_) => StoreError::failed(format!("transaction cancelled: {code}")),
            None if i < writes + guard => match code {
                "ConditionalCheckFailed" => StoreError::ActorChanged,
                // Another write to the calling key at the same moment (its
                // `last_used_at`, say): decide again, or retry later.
                "TransactionConflict" => StoreError::Changed,
                _ => retry_later(format!("the calling key's check was cancelled ({code})")),
            },
            // The events: whatever kept one from being written (throttling,
            // a conflict, even a clashing id), the change was not made and
            // may be tried again.
            None => retry_later(format!(
                "the audit event was not written ({code}), so neither was the change"
            )),
        };
    }
    StoreError::failed("transaction cancelled without a reason")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::audit::Actor;
    use crate::domain::change::{ActorGuard, Origin};
    use crate::domain::id::KeyId;
    use crate::domain::key::KeyFormat;
    use crate::domain::org::OrgId;
    use crate::domain::record::KeyType;
    use crate::domain::scope::Permissions;
    use crate::domain::text::KeyName;
    use crate::domain::time::Timestamp;

    /// A create by key 9 (guarded) and a delete of that new key by key 9:
    /// items are [write, guard, event].
    fn changes() -> (Change, Change) {
        let record = KeyRecord::new_active(
            &KeyFormat::default().generate(),
            OrgId::new("acme").unwrap(),
            KeyName::new("k").unwrap(),
            KeyType::Service,
            Permissions::Full,
            Timestamp::from_unix(1_000),
        );
        let origin = Origin::new(
            Actor::Key {
                id: KeyId::from_u128(9),
                hint: "kg_...abcd".into(),
            },
            Timestamp::from_unix(2_000),
            "req",
            None,
            None,
        )
        .guarded(ActorGuard {
            key_id: KeyId::from_u128(9),
            expires_at: None,
        });
        (
            Change::create(record.clone(), &origin),
            Change::delete(record, &origin),
        )
    }

    fn reasons(codes: &[&str]) -> Vec<CancellationReason> {
        codes
            .iter()
            .map(|c| CancellationReason::builder().code(*c).build())
            .collect()
    }

    #[test]
    fn the_caller_check_requires_the_key_unexpired_at_the_change_s_time() {
        let store = DynamoDbStore::new(
            aws_sdk_dynamodb::Client::from_conf(
                aws_sdk_dynamodb::Config::builder()
                    .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
                    .build(),
            ),
            &super::super::Tables::named("t"),
        );
        let guard = ActorGuard {
            key_id: KeyId::from_u128(9),
            expires_at: Some(Timestamp::from_unix(5_000)),
        };
        let item = store
            .guard_item(&guard, Timestamp::from_unix(2_000))
            .unwrap();
        let check = item.condition_check().unwrap();
        assert_eq!(
            check.condition_expression(),
            "#status = :g_status AND expires_at = :g_expires AND expires_at > :g_now"
        );
        let values = check.expression_attribute_values().unwrap();
        assert_eq!(values[":g_now"], AttributeValue::N("2000".into()));
        assert_eq!(values[":g_expires"], AttributeValue::N("5000".into()));
    }

    #[test]
    fn a_change_is_tried_again_only_when_the_shared_items_alone_moved() {
        let moved = |codes: &[&str], shared| only_shared_items_moved(&reasons(codes), shared);
        // [key write, guard, event, counts, head]
        assert!(moved(
            &["None", "None", "None", "None", "ConditionalCheckFailed"],
            3
        ));
        assert!(moved(
            &["None", "None", "None", "TransactionConflict", "None"],
            3
        ));
        assert!(moved(
            &[
                "None",
                "None",
                "None",
                "TransactionConflict",
                "ConditionalCheckFailed"
            ],
            3
        ));
        assert!(!moved(
            &["ConditionalCheckFailed", "None", "None", "None", "None"],
            3
        ));
        assert!(!moved(&["None", "None", "None", "None", "None"], 3));
        assert!(!moved(
            &["None", "None", "None", "ThrottlingError", "None"],
            3
        ));
    }

    #[test]
    fn each_cancellation_reason_means_what_failed_where() {
        let (create, delete) = changes();
        let ccf = "ConditionalCheckFailed";
        let conflict = "TransactionConflict";
        let outcome = |change: &Change, codes: &[&str]| cancelled(change, &reasons(codes));
        assert!(matches!(
            outcome(&create, &[ccf, "None", "None"]),
            StoreError::AlreadyExists
        ));
        assert!(matches!(
            outcome(&delete, &[ccf, "None", "None"]),
            StoreError::Changed
        ));
        assert!(matches!(
            outcome(&delete, &[conflict, "None", "None"]),
            StoreError::Changed
        ));
        assert!(matches!(
            outcome(&create, &["None", ccf, "None"]),
            StoreError::ActorChanged
        ));
        assert!(matches!(
            outcome(&create, &["None", conflict, "None"]),
            StoreError::Changed
        ));
        assert!(matches!(
            outcome(&create, &["None", "None", "ThrottlingError"]),
            StoreError::Unavailable { .. }
        ));
        assert!(matches!(
            outcome(&create, &["ValidationError", "None", "None"]),
            StoreError::Failed(_)
        ));
    }
}
