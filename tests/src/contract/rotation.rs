//! Rotation: a successor with the old key's settings, the old key revoked
//! at once or kept through a grace period, refused for what cannot be
//! rotated, and exactly one successor however many rotations race.

use std::sync::Arc;

use keygate::domain::audit::{AuditAction, EventFilter};
use keygate::domain::id::KeyId;
use keygate::store::Store;
use serde_json::json;

use super::{get, id, rotate};
use crate::{Harness, id_of};

pub async fn rotation_without_grace_revokes_the_old_key_at_once<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let expires = h.now().plus_seconds(86_400).to_string();
    let (old_key, old) = h
        .create(
            &root,
            json!({"name": "ci", "description": "deploys", "key_type": "user", "owner": "ada",
                   "permissions": ["runs:read"], "expires_at": expires}),
        )
        .await;
    h.clock.advance(10);
    let reply = rotate(&h, &root, &id(&old), json!({})).await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let new = &reply.body;
    for field in [
        "name",
        "description",
        "key_type",
        "owner",
        "scopes",
        "expires_at",
        "org_id",
    ] {
        assert_eq!(new[field], old[field], "{field} carries over");
    }
    assert_eq!(new["rotated_from"], old["id"]);
    assert_eq!(new["status"], "active");
    assert_ne!(new["id"], old["id"]);
    let new_key = new["key"].as_str().expect("the new key, shown once");
    assert!(h.authorize(new_key, "GET /v1/runs").await);
    assert!(
        !h.authorize(&old_key, "GET /v1/runs").await,
        "denied at once"
    );
    let old_now = get(&h, &root, &id(&old)).await.body;
    assert_eq!(old_now["status"], "revoked");
    assert_eq!(old_now["revoked_reason"], "rotated");
    assert_eq!(old_now["revoked_by"], id_of(&root));
    assert_eq!(old_now["rotated_to"], new["id"]);
    assert!(get(&h, &root, &id(new)).await.body.get("key").is_none());

    let again = rotate(&h, &root, &id(new), json!({"reason": "quarterly"})).await;
    assert_eq!(again.status, 201);
    let retired = get(&h, &root, &id(new)).await.body;
    assert_eq!(retired["revoked_reason"], "quarterly");
}

pub async fn rotation_with_grace_keeps_the_old_key_until_it_ends<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (old_key, old) = h.create_scoped(&root, &["runs:read"]).await;
    let rotated_at = h.now();
    let reply = rotate(&h, &root, &id(&old), json!({"grace_period_seconds": 3600})).await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let new_key = reply.body["key"].as_str().expect("key").to_owned();
    assert!(
        reply.body["expires_at"].is_null(),
        "the successor keeps no expiry"
    );
    let old_now = get(&h, &root, &id(&old)).await.body;
    assert_eq!(old_now["status"], "active");
    assert_eq!(
        old_now["expires_at"],
        rotated_at.plus_seconds(3600).to_string()
    );
    assert_eq!(old_now["rotated_to"], reply.body["id"]);
    assert!(h.authorize(&old_key, "GET /v1/runs").await, "both work");
    assert!(h.authorize(&new_key, "GET /v1/runs").await);
    h.clock.advance(3599);
    assert!(
        h.authorize(&old_key, "GET /v1/runs").await,
        "until the grace ends"
    );
    h.clock.advance(1);
    assert!(!h.authorize(&old_key, "GET /v1/runs").await, "then denied");
    assert!(h.authorize(&new_key, "GET /v1/runs").await);

    // The grace never outlives the old key's own expiry; the successor
    // inherits that expiry.
    let expires = h.now().plus_seconds(600).to_string();
    let (_, soon) = h
        .create(
            &root,
            json!({"name": "soon", "key_type": "service", "expires_at": expires}),
        )
        .await;
    let reply = rotate(&h, &root, &id(&soon), json!({"grace_period_seconds": 3600})).await;
    assert_eq!(reply.status, 201);
    assert_eq!(reply.body["expires_at"], expires);
    assert_eq!(get(&h, &root, &id(&soon)).await.body["expires_at"], expires);
}

pub async fn rotation_refuses_what_cannot_be_rotated<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (_, suspended) = h.create_scoped(&root, &["runs:read"]).await;
    h.act(&root, &id(&suspended), "suspend", None).await;
    let (_, revoked) = h.create_scoped(&root, &["runs:read"]).await;
    h.act(&root, &id(&revoked), "revoke", Some(r#"{"reason":"x"}"#))
        .await;
    let (_, expiring) = h
        .create(
            &root,
            json!({"name": "e", "key_type": "service",
                   "expires_at": h.now().plus_seconds(60).to_string()}),
        )
        .await;
    let (_, rotated) = h.create_scoped(&root, &["runs:read"]).await;
    let first = rotate(
        &h,
        &root,
        &id(&rotated),
        json!({"grace_period_seconds": 60}),
    )
    .await;
    assert_eq!(first.status, 201);
    h.clock.advance(61);
    let keys_before = h.snapshot("acme").await;
    let events_before = h.events("acme").await;
    for (target, mention) in [
        (&suspended, "suspended"),
        (&revoked, "revoked"),
        (&expiring, "expired"),
        (&rotated, "already rotated"),
    ] {
        let reply = rotate(&h, &root, &id(target), json!({})).await;
        assert_eq!(reply.assert_error(409), "invalid_transition");
        assert!(
            reply.error_message().contains(mention),
            "{}",
            reply.error_message()
        );
    }
    let (_, fine) = h.create_scoped(&root, &["runs:read"]).await;
    let events_with_fine = h.events("acme").await.len();
    for (body, field) in [
        (json!({"grace_period_seconds": -1}), "grace_period_seconds"),
        (
            json!({"grace_period_seconds": 604_801}),
            "grace_period_seconds",
        ),
        (
            json!({"grace_period_seconds": "1h"}),
            "grace_period_seconds",
        ),
        (json!({"grace_period_seconds": 1.5}), "grace_period_seconds"),
        (json!({"reason": ""}), "reason"),
        (json!({"grace": 60}), "grace"),
    ] {
        let reply = rotate(&h, &root, &id(&fine), body.clone()).await;
        reply.assert_error(400);
        assert!(
            reply.error_message().contains(field),
            "{body}: {}",
            reply.error_message()
        );
    }
    let after: Vec<_> = h
        .snapshot("acme")
        .await
        .into_iter()
        .filter(|r| r.id.to_string() != id(&fine))
        .collect();
    assert_eq!(after, keys_before, "no refused rotation wrote anything");
    assert_eq!(h.events("acme").await.len(), events_with_fine);
    assert_eq!(events_before.len() + 1, events_with_fine);
    // Limits are inclusive.
    let reply = rotate(
        &h,
        &root,
        &id(&fine),
        json!({"grace_period_seconds": 604_800}),
    )
    .await;
    assert_eq!(reply.status, 201);
}

pub async fn racing_rotations_make_exactly_one_successor<S: Store>(store: S) {
    let h = Arc::new(Harness::new(store));
    let root = h.root_key("acme").await;
    let (_, old) = h
        .create(&root, json!({"name": "raced", "key_type": "service"}))
        .await;
    let old_id = id(&old);
    let mut tasks = vec![];
    for i in 0..16u64 {
        let (h, root, old_id) = (h.clone(), root.clone(), old_id.clone());
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(i % 4)).await;
            rotate(&h, &root, &old_id, json!({"grace_period_seconds": 3600})).await
        }));
    }
    let mut won = vec![];
    for t in tasks {
        let reply = t.await.expect("task");
        match reply.status {
            201 => won.push(reply.body),
            _ => assert_eq!(reply.assert_error(409), "invalid_transition"),
        }
    }
    assert_eq!(won.len(), 1, "exactly one rotation wins");
    let named: Vec<_> = h
        .snapshot("acme")
        .await
        .into_iter()
        .filter(|r| r.name.as_str() == "raced")
        .collect();
    assert_eq!(named.len(), 2, "the old key and exactly one successor");
    let rotations = h
        .events_of(
            "acme",
            EventFilter {
                key_id: KeyId::parse(&old_id).ok(),
                action: Some(AuditAction::Rotate),
                ..EventFilter::default()
            },
        )
        .await;
    assert_eq!(rotations.len(), 1, "exactly one rotate event");
    let successor = KeyId::parse(won[0]["id"].as_str().expect("id")).ok();
    let born = h
        .events_of(
            "acme",
            EventFilter {
                key_id: successor,
                action: None,
                ..EventFilter::default()
            },
        )
        .await;
    assert_eq!(
        born.len(),
        1,
        "the successor's history: its creation by the rotation"
    );
    assert_eq!(born[0].action, AuditAction::Create);
    assert_eq!(
        born[0].rotated_from.map(|k| k.to_string()),
        Some(old_id.clone())
    );
    assert_eq!(
        rotations[0].rotated_to.map(|k| k.to_string()),
        won[0]["id"].as_str().map(str::to_owned)
    );
}

/// A rotation's successor cannot be deleted while the key it replaced
/// still works (in its grace period, not revoked): that key would name a
/// successor that is gone and could never be rotated again. Once the old
/// key is revoked, or was revoked by the rotation itself, the successor
/// can be deleted.
pub async fn a_successor_is_not_deleted_while_its_predecessor_still_works<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (_, old) = h.create_scoped(&root, &["runs:read"]).await;
    let reply = rotate(&h, &root, &id(&old), json!({"grace_period_seconds": 3600})).await;
    assert_eq!(reply.status, 201, "{:#}", reply.body);
    let successor = id(&reply.body);
    let keys_before = h.snapshot("acme").await;
    let events_before = h.events("acme").await.len();
    let path = format!("/v1/api-keys/{successor}");
    let refused = h.call("DELETE", &path, Some(&root), None).await;
    assert_eq!(refused.assert_error(409), "invalid_transition");
    assert!(
        refused.error_message().contains(&id(&old))
            && refused.error_message().contains("revoke that key first"),
        "{}",
        refused.error_message()
    );
    assert_eq!(h.snapshot("acme").await, keys_before, "nothing was written");
    assert_eq!(h.events("acme").await.len(), events_before);
    // Revoke the old key: the successor may go.
    let revoked = h
        .act(&root, &id(&old), "revoke", Some(r#"{"reason":"done"}"#))
        .await;
    assert_eq!(revoked.status, 200, "{:#}", revoked.body);
    let deleted = h.call("DELETE", &path, Some(&root), None).await;
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
    // Without grace the old key is revoked at once: nothing stands in the way.
    let (_, other) = h.create_scoped(&root, &["runs:read"]).await;
    let reply = rotate(&h, &root, &id(&other), json!({})).await;
    let deleted = h
        .call(
            "DELETE",
            &format!("/v1/api-keys/{}", id(&reply.body)),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{:#}", deleted.body);
}
