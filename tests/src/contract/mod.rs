//! The store contract: what every `Store` implementation must do, run on
//! each by [`contract_suite!`](crate::contract_suite). One module per
//! behaviour; in each, the cases that hold the port itself to its promises
//! (changes committed straight into the store) come first, then the
//! scenarios that drive the same store through the HTTP API, as a user
//! would notice. Each case takes a fresh, empty store.

use keygate::domain::audit::{Actor, AuditEvent, EventFilter};
use keygate::domain::change::{Change, KeyWrite, Origin};
use keygate::domain::id::KeyId;
use keygate::domain::key::KeyFormat;
use keygate::domain::lifecycle::Transition;
use keygate::domain::org::OrgId;
use keygate::domain::record::{KeyRecord, KeyStatus, KeyType};
use keygate::domain::scope::Permissions;
use keygate::domain::text::{KeyName, RevokeReason};
use keygate::domain::time::Timestamp;
use keygate::store::Store;
use serde_json::Value;

use crate::{Harness, Reply};

pub mod audit;
pub mod authority;
pub mod caller_guard;
pub mod consistency;
pub mod create;
pub mod finding;
pub mod labels;
pub mod last_use;
pub mod lifecycle;
pub mod limits;
pub mod pagination;
pub mod rotation;

pub fn org(s: &str) -> OrgId {
    OrgId::new(s).expect("org")
}

/// A fresh active record of `org`, as the create handler would build it.
pub fn record(org_id: &str, name: &str) -> KeyRecord {
    KeyRecord::new_active(
        &KeyFormat::default().generate(),
        org(org_id),
        KeyName::new(name).expect("name"),
        KeyType::Service,
        Permissions::from_strings(&["runs:read", "runs:write"]).expect("scopes"),
        Timestamp::now(),
    )
}

/// A change made by key 7 through a request, 5 seconds from now.
/// Events as a change holds them, before a store links them into its
/// organization's hash chain: to compare what a store wrote with the change.
pub fn unlinked(events: impl IntoIterator<Item = AuditEvent>) -> Vec<AuditEvent> {
    events
        .into_iter()
        .map(|e| AuditEvent { link: None, ..e })
        .collect()
}

pub fn origin() -> Origin {
    Origin::new(
        Actor::Key {
            id: KeyId::from_u128(7),
            hint: "kg_...test".into(),
        },
        Timestamp::now().plus_seconds(5),
        "contract-request",
        Some("203.0.113.1"),
        Some("contract-test/1"),
    )
}

fn reason() -> RevokeReason {
    RevokeReason::new("contract test").expect("reason")
}

/// Commit a create of a fresh key of `org` and bring it into `status`.
pub async fn key_in<S: Store>(store: &S, org_id: &str, status: KeyStatus) -> KeyRecord {
    let r = record(org_id, "lifecycle");
    store
        .commit(&Change::create(r.clone(), &origin()))
        .await
        .expect("create");
    let transition = match status {
        KeyStatus::Active => return r,
        KeyStatus::Suspended => Transition::Suspend,
        KeyStatus::Revoked => Transition::Revoke,
    };
    let change = Change::status(r, transition, Some(reason()), &origin()).0;
    store.commit(&change).await.expect("transition");
    updated(&change)
}

/// The key as a change's (first) update leaves it.
pub fn updated(change: &Change) -> KeyRecord {
    match change.writes().first() {
        Some(KeyWrite::Update { after, .. }) => after.clone(),
        other => panic!("not an update: {other:?}"),
    }
}

/// Put `record` into `store` as-is (with its create event): fixtures that
/// need a key with a particular id.
pub async fn seed<S: Store>(store: &S, record: &KeyRecord) {
    store
        .commit(&Change::create(record.clone(), &origin()))
        .await
        .expect("seed a key");
}

/// Every audit event of `org` in `store`, newest first.
async fn events_of<S: Store>(store: &S, org_id: &str) -> Vec<AuditEvent> {
    crate::all_events(store, &org(org_id), EventFilter::default()).await
}

/// A key's id in its JSON record.
fn id(record: &Value) -> String {
    record["id"].as_str().expect("id").to_owned()
}

/// `GET /v1/api-keys/{id}` as `key`.
async fn get<S: Store>(h: &Harness<S>, key: &str, id: &str) -> Reply {
    h.call("GET", &format!("/v1/api-keys/{id}"), Some(key), None)
        .await
}

/// `POST /v1/api-keys/{id}/rotate` as `key`.
async fn rotate<S: Store>(h: &Harness<S>, key: &str, id: &str, body: Value) -> Reply {
    h.act(key, id, "rotate", Some(&body.to_string())).await
}

/// Expands to one `#[tokio::test]` per case of the contract, in one module
/// per behaviour (so a case's test is named `<behaviour>::<case>`, and
/// `cargo test rotation` runs the rotation cases on every store); `$make`
/// builds a fresh store. A case added to a behaviour module is run only once
/// it is listed here.
#[macro_export]
macro_rules! contract_suite {
    ($make:expr) => {
        $crate::contract_suite!(@behaviours $make;
            create {
                create_then_get,
            },
            lifecycle {
                every_applied_transition,
                delete_removes_the_key_but_keeps_its_history,
                racing_transitions_never_undo_a_revoke,
            },
            consistency {
                a_change_to_a_key_that_changed_is_refused,
                a_change_that_fails_halfway_leaves_nothing,
            },
            last_use {
                last_use_is_recorded_at_most_once_per_window,
            },
            labels {
                a_rename_is_one_audited_change,
                a_revoked_key_can_be_described_and_a_key_can_rename_itself,
                a_refused_rename_changes_nothing,
                a_rename_of_a_key_that_changed_is_refused,
            },
            authority {
                a_key_cannot_change_a_key_it_does_not_cover,
                a_key_may_always_act_on_itself,
                authority_is_decided_on_the_key_as_written,
                a_short_lived_key_cannot_mint_a_longer_lived_one,
                a_short_lived_key_cannot_reactivate_a_longer_lived_one,
                bootstrap_recovers_a_locked_out_organization,
            },
            caller_guard {
                a_change_requires_its_caller_as_it_was,
                a_caller_expired_by_the_change_changes_nothing,
                a_key_changed_during_its_request_changes_nothing,
                a_key_suspended_during_its_request_cannot_revive_or_change_itself,
            },
            rotation {
                rotation_without_grace_revokes_the_old_key_at_once,
                rotation_with_grace_keeps_the_old_key_until_it_ends,
                rotation_refuses_what_cannot_be_rotated,
                racing_rotations_make_exactly_one_successor,
                a_successor_is_not_deleted_while_its_predecessor_still_works,
            },
            audit {
                events_are_listed_by_every_filter,
                every_change_leaves_exactly_one_event,
                refused_calls_leave_no_event,
                the_audit_api_filters_pages_and_isolates,
                each_organization_s_trail_is_one_unbroken_chain,
                events_are_listed_by_actor_and_time,
                the_audit_api_filters_by_actor_and_time,
            },
            pagination {
                pagination_is_exact_newest_first,
            },
            limits {
                fifty_racing_requests_against_a_limit_of_ten_admit_ten,
                a_quota_over_several_processes_allows_exactly_its_requests,
                requests_denied_for_another_reason_spend_nothing,
                the_sliding_window_and_the_month_turn_with_the_clock,
                rotating_or_minting_never_escapes_a_budget,
                limits_change_only_by_another_key_and_leave_an_event,
            },
            finding {
                counts_follow_every_change_and_no_refused_one,
                keys_are_found_by_name_type_and_owner,
                each_key_says_what_the_caller_may_do_to_it,
                the_last_active_full_access_key_is_marked,
            },
        );
    };
    (@behaviours $make:expr; $($behaviour:ident { $($case:ident),* $(,)? }),* $(,)?) => {
        $(
            mod $behaviour {
                // What `$make` names where the suite is expanded.
                #[allow(unused_imports)]
                use super::*;
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        $crate::contract::$behaviour::$case($make).await
                    }
                )*
            }
        )*
    };
}
