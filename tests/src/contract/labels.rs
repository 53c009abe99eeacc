//! Renaming and describing a key (`PATCH /v1/api-keys/{id}`): only its name
//! and description change, in any status, as one audited change with the
//! fields before and after; anything else in the body, or nothing to
//! change, is refused with nothing written; a rename decided on a key that
//! changed since is refused by the store.

use keygate::domain::audit::{AuditAction, EventFilter, LabelChange};
use keygate::domain::change::Change;
use keygate::domain::lifecycle::Relabel;
use keygate::domain::record::KeyStatus;
use keygate::domain::text::{Description, KeyName};
use keygate::store::{Store, StoreError};
use serde_json::{Value, json};

use super::{events_of, get, id, key_in, origin, unlinked, updated};
use crate::{Harness, id_of};

/// `PATCH /v1/api-keys/{id}` as `key`.
async fn patch<S: Store>(h: &Harness<S>, key: &str, id: &str, body: &str) -> crate::Reply {
    h.call(
        "PATCH",
        &format!("/v1/api-keys/{id}"),
        Some(key),
        Some(body),
    )
    .await
}

/// A rename and a new description are one change with one `update` event
/// naming the fields before and after and who made it (by name); the key's
/// status, permissions and secret stay; repeating it changes nothing.
pub async fn a_rename_is_one_audited_change<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (key, created) = h
        .create(
            &root,
            json!({"name": "ci", "key_type": "service", "permissions": ["runs:read"]}),
        )
        .await;
    let target = id(&created);
    let reply = patch(
        &h,
        &root,
        &target,
        r#"{"name": "ci-deployer", "description": "Deploys from CI"}"#,
    )
    .await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["name"], "ci-deployer");
    assert_eq!(reply.body["description"], "Deploys from CI");
    assert_eq!(reply.body["status"], "active");
    assert_eq!(reply.body["scopes"], json!(["runs:read"]));
    let read = get(&h, &root, &target).await.body;
    assert_eq!(read["name"], "ci-deployer");
    assert_eq!(read["description"], "Deploys from CI");
    assert!(
        h.authorize(&key, "GET /v1/runs").await,
        "the key still works as before"
    );

    let history = h
        .call(
            "GET",
            &format!("/v1/audit-events?key_id={target}"),
            Some(&root),
            None,
        )
        .await
        .body;
    let update = &history["data"][0];
    assert_eq!(update["action"], "update");
    assert_eq!(update["key_name"], "ci-deployer");
    assert_eq!(update["actor_key_id"], id_of(&root));
    assert_eq!(
        update["actor_name"], "root",
        "the actor by the name it had when it acted"
    );
    assert_eq!(
        update["changes"],
        json!([
            {"field": "name", "before": "ci", "after": "ci-deployer"},
            {"field": "description", "before": null, "after": "Deploys from CI"},
        ])
    );
    assert_eq!(update["status_before"], "active");
    assert_eq!(update["status_after"], "active");
    assert_eq!(
        history["data"][1]["changes"],
        json!([]),
        "a create changes no label"
    );

    // The same labels again: a no-op that records nothing.
    let events_before = h.events("acme").await;
    let again = patch(&h, &root, &target, r#"{"name": "ci-deployer"}"#).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["updated_at"], reply.body["updated_at"]);
    assert_eq!(h.events("acme").await, events_before);

    // The description removed, with null or with "".
    for clear in [r#"{"description": null}"#, r#"{"description": ""}"#] {
        let cleared = patch(&h, &root, &target, clear).await;
        assert_eq!(cleared.status, 200, "{clear}: {:#}", cleared.body);
        assert_eq!(cleared.body["description"], Value::Null);
        assert_eq!(cleared.body["name"], "ci-deployer", "the name stays");
    }
    let updates = h
        .events_of(
            "acme",
            EventFilter {
                key_id: Some(keygate::domain::id::KeyId::parse(&target).unwrap()),
                action: Some(AuditAction::Update),
                ..EventFilter::default()
            },
        )
        .await;
    assert_eq!(updates.len(), 2, "the second clear was a no-op");
    assert_eq!(
        updates[0].changes,
        vec![LabelChange::Description {
            before: Some(Description::new("Deploys from CI").unwrap()),
            after: None,
        }]
    );
}

/// A revoked key can still be renamed and described (its labels decide
/// nothing the authorizer checks; its description can say why it was
/// revoked), and stays revoked; a key may rename itself.
pub async fn a_revoked_key_can_be_described_and_a_key_can_rename_itself<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (own, _) = h
        .create_scoped(&root, &["api-keys:write", "api-keys:read"])
        .await;
    let (_, revoked) = h.create_scoped(&root, &["runs:read"]).await;
    let revoked = id(&revoked);
    let reply = h
        .act(&root, &revoked, "revoke", Some(r#"{"reason":"leaked"}"#))
        .await;
    assert_eq!(reply.status, 200);
    let described = patch(
        &h,
        &root,
        &revoked,
        r#"{"description": "leaked in build 5512, see INC-42"}"#,
    )
    .await;
    assert_eq!(described.status, 200, "{:#}", described.body);
    assert_eq!(described.body["status"], "revoked");
    assert_eq!(described.body["revoked_reason"], "leaked");
    assert_eq!(
        described.body["description"],
        "leaked in build 5512, see INC-42"
    );

    let mine = patch(&h, &own, &id_of(&own), r#"{"name": "my own key"}"#).await;
    assert_eq!(mine.status, 200, "{:#}", mine.body);
    assert_eq!(mine.body["name"], "my own key");
    let events = h.events("acme").await;
    assert_eq!(events[0].action, AuditAction::Update);
    assert_eq!(
        events[0].actor_name.as_ref().map(KeyName::as_str),
        Some("scoped"),
        "the name it acted under, before its rename"
    );
}

/// Bad input is a 400 naming the field (never repeating a secret), a key
/// that does not exist a 404, and none of them writes anything: only the
/// name and description can change, so anything else in the body is refused.
pub async fn a_refused_rename_changes_nothing<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (_, target) = h.create_scoped(&root, &["runs:read"]).await;
    let target = id(&target);
    let keys_before = h.snapshot("acme").await;
    let events_before = h.events("acme").await;
    let secret_body = json!({"name": format!("oops {root}")}).to_string();
    for (body, field) in [
        (r#"{}"#, "changes nothing"),
        (r#"{"name": null}"#, "name"),
        (r#"{"name": ""}"#, "name"),
        (r#"{"name": 7}"#, "name"),
        (r#"{"name": "a\u0007bell"}"#, "name"),
        (r#"{"description": 1}"#, "description"),
        (
            &format!(r#"{{"description": "{}"}}"#, "d".repeat(501)),
            "description",
        ),
        (r#"{"permissions": "full"}"#, "\"permissions\""),
        (r#"{"name": "x", "status": "active"}"#, "\"status\""),
        (r#"{"key_type": "user"}"#, "\"key_type\""),
        (secret_body.as_str(), "name"),
        (r#"["name"]"#, "JSON object"),
        (r#"not json"#, "not valid JSON"),
    ] {
        let reply = patch(&h, &root, &target, body).await;
        let code = reply.assert_error(400);
        assert!(
            code == "invalid_request" || code == "invalid_json",
            "{body}: {code}"
        );
        assert!(
            reply.error_message().contains(field),
            "{body}: {}",
            reply.error_message()
        );
        crate::assert_no_secret(
            reply.error_message().as_bytes(),
            &[&root],
            "a refused rename's message",
        );
    }
    let unknown = keygate::domain::id::KeyId::generate().to_string();
    patch(&h, &root, &unknown, r#"{"name": "x"}"#)
        .await
        .assert_error(404);
    let other = h.root_key("other").await;
    let theirs = patch(&h, &other, &target, r#"{"name": "x"}"#).await;
    assert_eq!(
        theirs.assert_error(404),
        "not_found",
        "another org's key is a 404"
    );
    assert_eq!(h.snapshot("acme").await, keys_before);
    assert_eq!(h.events("acme").await, events_before);
}

/// Committed straight into the store: a rename is written with its event;
/// one decided on a key that has changed since (here, renamed meanwhile) is
/// refused as a whole and leaves the key and the trail as they were.
pub async fn a_rename_of_a_key_that_changed_is_refused<S: Store>(store: S) {
    let key = key_in(&store, "acme", KeyStatus::Suspended).await;
    let first = Relabel {
        name: Some(KeyName::new("first").unwrap()),
        description: None,
    };
    let (change, after) = Change::relabel(key.clone(), &first, &origin());
    store.commit(&change).await.expect("rename");
    assert_eq!(store.get(key.id).await.expect("get"), Some(after.clone()));
    assert_eq!(updated(&change), after);
    assert_eq!(
        after.status,
        KeyStatus::Suspended,
        "a rename keeps the status"
    );
    let trail = events_of(&store, "acme").await;
    assert_eq!(unlinked(trail.clone()).first(), change.events().first());

    let stale = Relabel {
        name: Some(KeyName::new("second").unwrap()),
        description: Some(Some(Description::new("late").unwrap())),
    };
    let (late, _) = Change::relabel(key.clone(), &stale, &origin());
    assert!(
        matches!(store.commit(&late).await, Err(StoreError::Changed)),
        "decided on the key before the first rename"
    );
    assert_eq!(store.get(key.id).await.expect("get"), Some(after));
    assert_eq!(events_of(&store, "acme").await, trail);
}
