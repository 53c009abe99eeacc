//! What a key may do to other keys: only change a key its permissions cover
//! (decided on the key as written, not as first read), always act on
//! itself, never mint a key that outlives it; and an organization locked
//! out of every full-access key is recovered by whoever can write the store.

use std::sync::atomic::Ordering;

use keygate::domain::audit::AuditAction;
use keygate::domain::id::KeyId;
use keygate::store::Store;
use serde_json::json;

use super::{id, rotate};
use crate::{Harness, StaleReadStore, id_of};

/// Management cannot be turned against a stronger key: a key may suspend,
/// reactivate, revoke, rotate or delete only a key whose permissions its own
/// cover, and a refusal names what it lacks and changes nothing.
pub async fn a_key_cannot_change_a_key_it_does_not_cover<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (writer, _) = h
        .create_scoped(
            &root,
            &[
                "api-keys:write",
                "api-keys:read",
                "api-keys:delete",
                "runs:read",
            ],
        )
        .await;
    let (full_key, full) = h
        .create(&root, json!({"name": "leaked-root", "key_type": "service"}))
        .await;
    let (_, wider) = h.create_scoped(&root, &["runs:read", "runs:write"]).await;
    let (full_id, wider_id) = (id(&full), id(&wider));
    // The org's other full-access key leaked and was suspended.
    assert_eq!(h.act(&root, &full_id, "suspend", None).await.status, 200);
    let keys_before = h.snapshot("acme").await;
    let events_before = h.events("acme").await;

    let revoke = Some(r#"{"reason":"mine now"}"#);
    for (method, path, body, lacks) in [
        (
            "POST",
            format!("/v1/api-keys/{full_id}/reactivate"),
            None,
            "full access",
        ),
        (
            "POST",
            format!("/v1/api-keys/{full_id}/revoke"),
            revoke,
            "full access",
        ),
        (
            "DELETE",
            format!("/v1/api-keys/{full_id}"),
            None,
            "full access",
        ),
        (
            "PATCH",
            format!("/v1/api-keys/{full_id}"),
            Some(r#"{"name":"mine now"}"#),
            "full access",
        ),
        (
            "POST",
            format!("/v1/api-keys/{wider_id}/suspend"),
            None,
            "runs:write",
        ),
        (
            "POST",
            format!("/v1/api-keys/{wider_id}/revoke"),
            revoke,
            "runs:write",
        ),
        (
            "POST",
            format!("/v1/api-keys/{wider_id}/rotate"),
            Some("{}"),
            "runs:write",
        ),
        (
            "DELETE",
            format!("/v1/api-keys/{wider_id}"),
            None,
            "runs:write",
        ),
    ] {
        let reply = h.call(method, &path, Some(&writer), body).await;
        assert_eq!(
            reply.assert_error(403),
            "insufficient_authority",
            "{method} {path}"
        );
        assert!(
            reply.error_message().contains(lacks),
            "{method} {path}: {}",
            reply.error_message()
        );
        assert!(
            !reply.error_message().contains("runs:read,"),
            "names only what is lacking"
        );
    }
    assert_eq!(
        h.snapshot("acme").await,
        keys_before,
        "the targets are unchanged"
    );
    assert_eq!(
        h.events("acme").await,
        events_before,
        "and nothing was recorded"
    );
    assert!(
        !h.authorize(&full_key, "GET /v1/runs").await,
        "still suspended"
    );

    // What the writer's permissions do cover, it may change.
    let (_, narrower) = h.create_scoped(&root, &["runs:read"]).await;
    let reply = h.act(&writer, &id(&narrower), "suspend", None).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    // A full-access key covers everything.
    assert_eq!(h.act(&root, &full_id, "reactivate", None).await.status, 200);
}

pub async fn a_key_may_always_act_on_itself<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    for (scope, verb, body, status) in [
        ("api-keys:write", "suspend", None, 200),
        (
            "api-keys:write",
            "revoke",
            Some(r#"{"reason":"leaked"}"#),
            200,
        ),
        ("api-keys:write", "rotate", Some("{}"), 201),
    ] {
        // A weak key cannot act on any other key, but it can on itself.
        let (own, record) = h.create_scoped(&root, &[scope]).await;
        let reply = h.act(&own, &id(&record), verb, body).await;
        assert_eq!(reply.status, status, "{verb}: {:#}", reply.body);
        assert!(
            !h.authorize(&own, "GET /v1/scopes").await,
            "{verb}: stopped"
        );
    }
    let (own, record) = h.create_scoped(&root, &["api-keys:delete"]).await;
    let reply = h
        .call(
            "DELETE",
            &format!("/v1/api-keys/{}", id(&record)),
            Some(&own),
            None,
        )
        .await;
    assert_eq!(reply.status, 204);
    assert!(!h.authorize(&own, "GET /v1/scopes").await);
}

/// The cover rule under a race: the handler reads the target while it holds
/// narrow scopes, and by the write it holds full access. The write's
/// condition pins the permissions read, so the change is decided again on
/// the key as it is, and refused.
pub async fn authority_is_decided_on_the_key_as_written<S: Store>(store: S) {
    let h = Harness::new(StaleReadStore::new(store));
    let root = h.root_key("acme").await;
    let (writer, _) = h
        .create_scoped(&root, &["api-keys:write", "runs:read"])
        .await;
    let (_, target) = h
        .create(&root, json!({"name": "root-2", "key_type": "service"}))
        .await;
    let target_id = KeyId::parse(&id(&target)).expect("id");
    let real = h.store().get(target_id).await.expect("get").expect("key");
    let mut narrow_view = real.clone();
    narrow_view.permissions =
        keygate::domain::scope::Permissions::from_strings(&["runs:read"]).expect("scopes");
    let keys_before = h.snapshot("acme").await;
    let events_before = h.events("acme").await;
    for (verb, body) in [
        ("suspend", None),
        ("revoke", Some(r#"{"reason":"x"}"#)),
        ("rotate", Some("{}")),
    ] {
        h.store().served.store(false, Ordering::SeqCst);
        h.store().serve_once(narrow_view.clone());
        let reply = h.act(&writer, &id(&target), verb, body).await;
        assert!(
            h.store().served.load(Ordering::SeqCst),
            "the stale read happened"
        );
        assert_eq!(reply.assert_error(403), "insufficient_authority", "{verb}");
    }
    assert_eq!(h.snapshot("acme").await, keys_before);
    assert_eq!(h.events("acme").await, events_before);
}

/// A short-lived key cannot make itself permanent: what it creates inherits
/// its expiry or expires sooner, and it can neither create nor rotate into a
/// key that outlives it.
pub async fn a_short_lived_key_cannot_mint_a_longer_lived_one<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let at = |secs: i64| h.now().plus_seconds(secs).to_string();
    let (short, record) = h
        .create(
            &root,
            json!({"name": "short", "key_type": "service", "expires_at": at(120),
                   "permissions": ["api-keys:write", "api-keys:read", "runs:read"]}),
        )
        .await;
    assert_eq!(record["expires_at"], at(120));

    let (_, inherited) = h
        .create(
            &short,
            json!({"name": "child", "key_type": "service", "permissions": ["runs:read"]}),
        )
        .await;
    assert_eq!(
        inherited["expires_at"],
        at(120),
        "inherits the caller's expiry"
    );
    let (_, sooner) = h
        .create(
            &short,
            json!({"name": "sooner", "key_type": "service", "permissions": ["runs:read"],
                   "expires_at": at(60)}),
        )
        .await;
    assert_eq!(sooner["expires_at"], at(60));

    let keys_before = h.snapshot("acme").await;
    let events_before = h.events("acme").await.len();
    let later = h
        .call(
            "POST",
            "/v1/api-keys",
            Some(&short),
            Some(
                &json!({"name": "forever", "key_type": "service", "permissions": ["runs:read"],
                        "expires_at": at(3600)})
                .to_string(),
            ),
        )
        .await;
    assert_eq!(later.assert_error(403), "insufficient_authority");
    assert!(
        later.error_message().contains(&at(120)),
        "{}",
        later.error_message()
    );
    assert!(
        later.error_message().contains(&at(3600)),
        "{}",
        later.error_message()
    );
    // Rotating a permanent key would mint a permanent successor.
    let (_, permanent) = h.create_scoped(&root, &["runs:read"]).await;
    let reply = rotate(&h, &short, &id(&permanent), json!({})).await;
    assert_eq!(reply.assert_error(403), "insufficient_authority");
    assert!(reply.error_message().contains("never expires"));
    let after: Vec<_> = h
        .snapshot("acme")
        .await
        .into_iter()
        .filter(|r| r.id.to_string() != id(&permanent))
        .collect();
    assert_eq!(after, keys_before, "nothing was written");
    assert_eq!(
        h.events("acme").await.len(),
        events_before + 1,
        "only the create"
    );

    // Keys with no expiry are unaffected.
    let (_, forever) = h
        .create(&root, json!({"name": "forever", "key_type": "service"}))
        .await;
    assert!(forever["expires_at"].is_null());
}

/// An organization whose last full-access key is gone is recovered
/// by whoever can write the store.
pub async fn bootstrap_recovers_a_locked_out_organization<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let reply = h
        .call(
            "DELETE",
            &format!("/v1/api-keys/{}", id_of(&root)),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(reply.status, 204, "a key may delete itself");
    assert!(!h.authorize(&root, "GET /v1/api-keys").await, "locked out");

    let recovered = h.root_key("acme").await;
    let listed = h.call("GET", "/v1/api-keys", Some(&recovered), None).await;
    assert_eq!(listed.status, 200);
    assert_eq!(listed.body["data"][0]["id"], id_of(&recovered));
    assert_eq!(listed.body["data"][0]["scopes"], json!(["*"]));
    let events = h.events("acme").await;
    assert_eq!(events[0].action, AuditAction::Bootstrap);
    assert_eq!(events[0].actor, keygate::domain::audit::Actor::Bootstrap);
    assert_eq!(events[0].key_id.to_string(), id_of(&recovered));
}

/// Restoring a key's power is like minting it: a key that expires cannot
/// reactivate a key that outlives it (never expires, or expires later);
/// it can reactivate one that expires no later; suspending needs no such
/// check.
pub async fn a_short_lived_key_cannot_reactivate_a_longer_lived_one<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let at = |secs: i64| h.now().plus_seconds(secs).to_string();
    let (short, _) = h
        .create(
            &root,
            json!({"name": "short", "key_type": "service", "expires_at": at(3600)}),
        )
        .await;
    let (_, permanent) = h
        .create(&root, json!({"name": "permanent", "key_type": "service"}))
        .await;
    let (_, later) = h
        .create(
            &root,
            json!({"name": "later", "key_type": "service", "expires_at": at(7200)}),
        )
        .await;
    let (_, sooner) = h
        .create(
            &root,
            json!({"name": "sooner", "key_type": "service", "expires_at": at(1800)}),
        )
        .await;
    for target in [&permanent, &later, &sooner] {
        // Taking power away: allowed whatever the target's expiry.
        let reply = h.act(&short, &id(target), "suspend", None).await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
    }
    let keys_before = h.snapshot("acme").await;
    let events_before = h.events("acme").await.len();
    for (target, says) in [
        (&permanent, "never expires".to_owned()),
        (&later, format!("expires later, at {}", at(7200))),
    ] {
        let reply = h.act(&short, &id(target), "reactivate", None).await;
        assert_eq!(reply.assert_error(403), "insufficient_authority");
        assert!(
            reply
                .error_message()
                .contains("cannot reactivate a key that")
                && reply.error_message().contains(&says),
            "{}",
            reply.error_message()
        );
    }
    assert_eq!(h.snapshot("acme").await, keys_before, "nothing was written");
    assert_eq!(h.events("acme").await.len(), events_before);
    let reply = h.act(&short, &id(&sooner), "reactivate", None).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
    assert_eq!(reply.body["status"], "active");
    // A key that never expires may reactivate any key it covers.
    let reply = h.act(&root, &id(&permanent), "reactivate", None).await;
    assert_eq!(reply.status, 200, "{:#}", reply.body);
}
