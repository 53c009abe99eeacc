//! What a user of the HTTP API would notice, run on every store by
//! [`contract_suite!`](crate::contract_suite): pagination, racing calls,
//! authority, expiry inheritance, recovery, rotation and the audit trail.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keygate::domain::audit::{AuditAction, EventFilter};
use keygate::domain::id::KeyId;
use keygate::domain::record::KeyStatus;
use keygate::store::Store;
use serde_json::{Value, json};

use crate::{Harness, Reply, StaleReadStore, assert_no_secret, id_of};

fn id(record: &Value) -> String {
    record["id"].as_str().expect("id").to_owned()
}

async fn get<S: Store>(h: &Harness<S>, key: &str, id: &str) -> Reply {
    h.call("GET", &format!("/v1/api-keys/{id}"), Some(key), None)
        .await
}

async fn rotate<S: Store>(h: &Harness<S>, key: &str, id: &str, body: Value) -> Reply {
    h.act(key, id, "rotate", Some(&body.to_string())).await
}

/// 250 keys across all statuses, pages of 7, through the HTTP API.
pub async fn pagination_is_exact_newest_first<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let root_id = id_of(&root);
    let mut expected: Vec<(String, KeyStatus)> = vec![(root_id, KeyStatus::Active)];
    for i in 0..249 {
        let (_, created) = h
            .create(&root, json!({"name": format!("k{i}"), "key_type": "service", "permissions": ["runs:read"]}))
            .await;
        let id = id(&created);
        let status = match i % 3 {
            0 => KeyStatus::Active,
            1 => KeyStatus::Suspended,
            _ => KeyStatus::Revoked,
        };
        let action = match status {
            KeyStatus::Active => None,
            KeyStatus::Suspended => Some(("suspend", None)),
            KeyStatus::Revoked => Some(("revoke", Some(r#"{"reason":"test"}"#))),
        };
        if let Some((verb, body)) = action {
            let reply = h.act(&root, &id, verb, body).await;
            assert_eq!(reply.status, 200, "{:#}", reply.body);
        }
        expected.push((id, status));
    }
    // Another org's keys never show up.
    let other = h.root_key("other").await;
    h.create(&other, json!({"name": "theirs", "key_type": "service"}))
        .await;
    expected.reverse(); // newest first

    for filter in ["all", "active", "suspended", "revoked"] {
        let want: Vec<&str> = expected
            .iter()
            .filter(|(_, s)| filter == "all" || s.as_str() == filter)
            .map(|(id, _)| id.as_str())
            .collect();
        let mut got: Vec<String> = vec![];
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut path = format!("/v1/api-keys?status={filter}&limit=7");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let reply = h.call("GET", &path, Some(&root), None).await;
            assert_eq!(reply.status, 200, "{:#}", reply.body);
            let data = reply.body["data"].as_array().expect("data");
            assert!(data.len() <= 7);
            for r in data {
                if filter != "all" {
                    assert_eq!(r["status"], filter);
                }
                got.push(id(r));
            }
            pages += 1;
            match reply.body["next_cursor"].as_str() {
                Some(c) => {
                    assert_eq!(data.len(), 7, "only the last page is short");
                    cursor = Some(c.to_owned());
                }
                None => break,
            }
        }
        assert_eq!(got, want, "status={filter}: exact, newest first");
        assert_eq!(
            got.iter().collect::<HashSet<_>>().len(),
            got.len(),
            "no duplicates"
        );
        assert_eq!(pages, want.len().div_ceil(7).max(1));
    }

    // A cursor is bound to its org and filter, and tampering is a 400.
    let first = h
        .call("GET", "/v1/api-keys?status=all&limit=7", Some(&root), None)
        .await;
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let theirs = h
        .call(
            "GET",
            &format!("/v1/api-keys?limit=7&cursor={cursor}"),
            Some(&other),
            None,
        )
        .await;
    theirs.assert_error(400);
    assert!(theirs.error_message().contains("cursor"));
    let other_filter = h
        .call(
            "GET",
            &format!("/v1/api-keys?status=active&cursor={cursor}"),
            Some(&root),
            None,
        )
        .await;
    other_filter.assert_error(400);
    let mut tampered = cursor.into_bytes();
    let mid = tampered.len() / 2;
    tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let reply = h
        .call(
            "GET",
            &format!("/v1/api-keys?limit=7&cursor={tampered}"),
            Some(&root),
            None,
        )
        .await;
    reply.assert_error(400);
}

#[derive(Debug)]
struct Outcome {
    verb: &'static str,
    started: u64,
    finished: u64,
    status: u16,
    after: Value,
}

/// 40 calls race suspend / reactivate / revoke on one key, through the
/// handlers (read, decide, conditional write, retry).
pub async fn racing_transitions_never_undo_a_revoke<S: Store>(store: S) {
    let h = Arc::new(Harness::new(store));
    let root = h.root_key("acme").await;
    let (_, record) = h
        .create(&root, json!({"name": "raced", "key_type": "service"}))
        .await;
    let target = id(&record);
    let events_before = h.events("acme").await.len();
    let clock = Arc::new(AtomicU64::new(0));
    let mut tasks = vec![];
    for i in 0..40u64 {
        let (h, clock, root, target) = (h.clone(), clock.clone(), root.clone(), target.clone());
        let verb = match i % 5 {
            0 | 1 => "suspend",
            2 | 3 => "reactivate",
            _ => "revoke",
        };
        tasks.push(tokio::spawn(async move {
            // Stagger so revokes land mid-race rather than all first.
            tokio::time::sleep(std::time::Duration::from_millis((i % 10) * 3)).await;
            let body = (verb == "revoke").then_some(r#"{"reason":"race"}"#);
            let started = clock.fetch_add(1, Ordering::SeqCst);
            let reply = h.act(&root, &target, verb, body).await;
            let finished = clock.fetch_add(1, Ordering::SeqCst);
            Outcome {
                verb,
                started,
                finished,
                status: reply.status,
                after: reply.body,
            }
        }));
    }
    let mut outcomes = vec![];
    for t in tasks {
        outcomes.push(t.await.expect("task"));
    }
    let final_status = get(&h, &root, &target).await.body["status"].clone();
    let revoked_at: Option<u64> = outcomes
        .iter()
        .filter(|o| o.verb == "revoke" && o.status == 200)
        .map(|o| o.finished)
        .min();
    assert_eq!(
        final_status == "revoked",
        revoked_at.is_some(),
        "final state is revoked iff a revoke succeeded: {outcomes:#?}"
    );
    if let Some(revoked_at) = revoked_at {
        for o in outcomes.iter().filter(|o| o.started > revoked_at) {
            if o.status == 200 {
                assert_eq!(
                    o.after["status"], "revoked",
                    "a call after the revoke moved the key: {o:?}"
                );
            }
        }
    }
    for o in &outcomes {
        // A call that keeps losing the race to others answers 503 with
        // Retry-After (and writes nothing; the trail below shows it).
        let retry_later = o.status == 503 && o.after["error"]["code"] == "service_unavailable";
        assert!(
            o.status == 200 || (o.status == 409 && o.verb != "revoke") || retry_later,
            "only leaving revoked may fail: {o:?}"
        );
    }
    // Each applied change wrote exactly one event; repeats wrote none. The
    // trail replays the race: every event starts where the previous ended.
    let events = h
        .events_of(
            "acme",
            EventFilter {
                key_id: KeyId::parse(&target).ok(),
                action: None,
            },
        )
        .await;
    assert_eq!(
        h.events("acme").await.len() - events_before,
        events.len() - 1
    );
    let mut state = Some(KeyStatus::Active);
    for e in events.iter().rev().skip(1) {
        assert_eq!(
            e.status_before, state,
            "the trail is continuous: {events:#?}"
        );
        assert_ne!(e.status_before, e.status_after, "no event for a no-op");
        state = e.status_after;
    }
    assert_eq!(state.map(|s| s.as_str()), final_status.as_str());
}

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

/// The calling key is part of the write too: a key suspended, revoked or
/// deleted while its request runs changes nothing (the request was
/// authorized before, but its write is not made).
pub async fn a_key_changed_during_its_request_changes_nothing<S: Store>(store: S) {
    use keygate::domain::change::{Change, Origin};
    use keygate::domain::lifecycle::Transition;
    let h = Harness::new(StaleReadStore::new(store));
    let root = h.root_key("acme").await;
    let (_, target) = h.create_scoped(&root, &["runs:read"]).await;
    let target_id = KeyId::parse(&id(&target)).expect("id");
    for (verb, body) in [
        ("suspend", None),
        ("revoke", Some(r#"{"reason":"x"}"#)),
        ("rotate", Some("{}")),
    ] {
        let (caller, record) = h
            .create_scoped(&root, &["api-keys:write", "runs:read"])
            .await;
        let caller_id = KeyId::parse(&id(&record)).expect("id");
        let stored = h.store().get(caller_id).await.expect("get").expect("key");
        // Root suspends the caller after the authorizer let the request in,
        // before the handler reads its target.
        let (suspend, _) = Change::status(
            stored,
            Transition::Suspend,
            None,
            &Origin::bootstrap(h.now()),
        );
        h.store().meanwhile(target_id, suspend);
        h.store().served.store(false, Ordering::SeqCst);
        let keys_before = h.snapshot("acme").await;
        let events_before = h.events("acme").await.len();
        let reply = h.act(&caller, &id(&target), verb, body).await;
        assert!(
            h.store().served.load(Ordering::SeqCst),
            "{verb}: the race happened"
        );
        assert_eq!(reply.assert_error(403), "insufficient_authority", "{verb}");
        assert!(reply.error_message().contains("while this request ran"));
        // Only the caller's own suspension is new.
        let after: Vec<_> = h
            .snapshot("acme")
            .await
            .into_iter()
            .filter(|r| r.id != caller_id)
            .collect();
        let before: Vec<_> = keys_before
            .into_iter()
            .filter(|r| r.id != caller_id)
            .collect();
        assert_eq!(after, before, "{verb} wrote nothing");
        assert_eq!(h.events("acme").await.len(), events_before + 1, "{verb}");
    }
}

/// A key suspended while its own request runs (after the authorizer let it
/// in, before the handler reads it) cannot write itself: it cannot
/// reactivate itself, which would let a leaked key outlive its suspension
/// by racing it, and its other changes to itself are held to the guard any
/// other change is held to.
pub async fn a_key_suspended_during_its_request_cannot_revive_or_change_itself<S: Store>(store: S) {
    use keygate::domain::change::{Change, Origin};
    use keygate::domain::lifecycle::Transition;
    let h = Harness::new(StaleReadStore::new(store));
    let root = h.root_key("acme").await;
    for (method, verb, body, says) in [
        ("POST", "reactivate", None, "cannot reactivate itself"),
        (
            "POST",
            "revoke",
            Some(r#"{"reason":"x"}"#),
            "while this request ran",
        ),
        ("DELETE", "", None, "while this request ran"),
    ] {
        let (key, record) = h
            .create_scoped(&root, &["api-keys:write", "api-keys:delete"])
            .await;
        let key_id = KeyId::parse(&id(&record)).expect("id");
        let stored = h.store().get(key_id).await.expect("get").expect("key");
        let (suspend, _) = Change::status(
            stored,
            Transition::Suspend,
            None,
            &Origin::bootstrap(h.now()),
        );
        // The authorizer reads the key first and finds it active; the
        // suspension lands before the handler's read.
        h.store().meanwhile_after_reads(key_id, 1, suspend);
        h.store().served.store(false, Ordering::SeqCst);
        let others_before: Vec<_> = h
            .snapshot("acme")
            .await
            .into_iter()
            .filter(|r| r.id != key_id)
            .collect();
        let events_before = h.events("acme").await.len();
        let path = format!("/v1/api-keys/{key_id}/{verb}");
        let reply = h
            .call(method, path.trim_end_matches('/'), Some(&key), body)
            .await;
        assert!(
            h.store().served.load(Ordering::SeqCst),
            "{method} {verb}: the race happened"
        );
        assert_eq!(
            reply.assert_error(403),
            "insufficient_authority",
            "{method} {verb}"
        );
        assert!(
            reply.error_message().contains(says),
            "{}",
            reply.error_message()
        );
        let now = h
            .store()
            .get(key_id)
            .await
            .expect("get")
            .expect("still there");
        assert_eq!(
            now.status,
            KeyStatus::Suspended,
            "{method} {verb}: still suspended"
        );
        let others_after: Vec<_> = h
            .snapshot("acme")
            .await
            .into_iter()
            .filter(|r| r.id != key_id)
            .collect();
        assert_eq!(others_after, others_before);
        assert_eq!(
            h.events("acme").await.len(),
            events_before + 1,
            "{method} {verb}: only the suspension was recorded"
        );
    }
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

/// Each change leaves one event with who, what, when and whence;
/// a repeat that changes nothing leaves none; no event holds a secret.
pub async fn every_change_leaves_exactly_one_event<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let root_hint = get(&h, &root, &id_of(&root)).await.body["hint"].clone();
    let mut seen = h.events("acme").await.len();
    assert_eq!(seen, 1, "bootstrap");
    let (key, record) = h
        .create(&root, json!({"name": "audited", "key_type": "service"}))
        .await;
    let target = id(&record);
    let rotate_body = r#"{"grace_period_seconds": 60, "reason": "scheduled"}"#;
    let mut successor = String::new();
    for (method, verb, body, action, before, after, reason) in [
        (
            "",
            "create",
            None,
            AuditAction::Create,
            None,
            Some("active"),
            None,
        ),
        (
            "POST",
            "suspend",
            None,
            AuditAction::Suspend,
            Some("active"),
            Some("suspended"),
            None,
        ),
        (
            "POST",
            "reactivate",
            None,
            AuditAction::Reactivate,
            Some("suspended"),
            Some("active"),
            None,
        ),
        (
            "POST",
            "rotate",
            Some(rotate_body),
            AuditAction::Rotate,
            Some("active"),
            Some("active"),
            Some("scheduled"),
        ),
        (
            "POST",
            "revoke",
            Some(r#"{"reason":"done"}"#),
            AuditAction::Revoke,
            Some("active"),
            Some("revoked"),
            Some("done"),
        ),
        (
            "DELETE",
            "",
            None,
            AuditAction::Delete,
            Some("revoked"),
            None,
            None,
        ),
    ] {
        let reply = match method {
            "" => None,
            "DELETE" => Some(
                h.call(
                    "DELETE",
                    &format!("/v1/api-keys/{target}"),
                    Some(&root),
                    None,
                )
                .await,
            ),
            _ => Some(h.act(&root, &target, verb, body).await),
        };
        if let Some(reply) = &reply {
            assert!(reply.status < 300, "{verb}: {:#}", reply.body);
            if verb == "rotate" {
                successor = id(&reply.body);
            }
        }
        let events = h.events("acme").await;
        // A rotation changes two keys: the old key's `rotate` and the new
        // key's `create`, newest first.
        let recorded = if verb == "rotate" { 2 } else { 1 };
        assert_eq!(
            events.len(),
            seen + recorded,
            "{verb}: exactly {recorded} event(s)"
        );
        seen += recorded;
        let e = events
            .iter()
            .find(|e| e.key_id.to_string() == target)
            .expect("the target's event");
        if verb == "rotate" {
            let born = &events[0];
            assert_eq!(born.action, AuditAction::Create);
            assert_eq!(born.key_id.to_string(), successor);
            assert_eq!(
                born.rotated_from.map(|k| k.to_string()),
                Some(target.clone())
            );
        }
        assert_eq!(e.action, action);
        assert_eq!(e.key_id.to_string(), target, "{verb}");
        assert_eq!(e.key_name.as_str(), "audited");
        assert_eq!(e.actor.key_id().map(|k| k.to_string()), Some(id_of(&root)));
        assert_eq!(e.status_before.map(|s| s.as_str()), before, "{verb}");
        assert_eq!(e.status_after.map(|s| s.as_str()), after, "{verb}");
        assert_eq!(e.reason.as_ref().map(|r| r.as_str()), reason, "{verb}");
        assert_eq!(e.source_ip.as_deref(), Some("203.0.113.9"));
        assert_eq!(e.user_agent.as_deref(), Some("keygate-tests/1"));
        assert!(!e.request_id.is_empty());
        if action == AuditAction::Rotate {
            assert_eq!(e.rotated_to.map(|k| k.to_string()), Some(successor.clone()));
        }
        // A repeat that changes nothing records nothing.
        if verb == "suspend" {
            assert_eq!(h.act(&root, &target, "suspend", None).await.status, 200);
            assert_eq!(h.events("acme").await.len(), seen, "no event for a no-op");
        }
    }
    // Through the API: the documented shape, and never a key or a hash.
    let listed = h.call("GET", "/v1/audit-events", Some(&root), None).await;
    assert_eq!(listed.status, 200, "{:#}", listed.body);
    let first = &listed.body["data"][0];
    assert_eq!(first["action"], "delete");
    assert_eq!(first["actor_type"], "key");
    assert_eq!(first["actor_hint"], root_hint);
    assert!(first["status_after"].is_null());
    let text = listed.body.to_string();
    assert_no_secret(text.as_bytes(), &[&root, &key], "audit events");
    for event in listed.body["data"].as_array().expect("data") {
        assert!(event.get("key").is_none() && event.get("secret_hash").is_none());
    }
    let last = listed.body["data"]
        .as_array()
        .expect("data")
        .last()
        .cloned();
    assert_eq!(last.expect("bootstrap")["actor_type"], "bootstrap");
}

pub async fn refused_calls_leave_no_event<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (limited, _) = h
        .create_scoped(&root, &["api-keys:write", "api-keys:read", "runs:read"])
        .await;
    let (_, revoked) = h.create_scoped(&root, &["runs:read"]).await;
    h.act(&root, &id(&revoked), "revoke", Some(r#"{"reason":"x"}"#))
        .await;
    let before = h.events("acme").await;
    let unknown = KeyId::generate().to_string();
    for (key, method, path, body, status) in [
        (
            &root,
            "POST",
            "/v1/api-keys".to_owned(),
            Some(r#"{"name":""}"#),
            400,
        ),
        (
            &limited,
            "POST",
            "/v1/api-keys".to_owned(),
            Some(r#"{"name":"x","key_type":"service"}"#),
            403,
        ),
        (
            &limited,
            "POST",
            format!("/v1/api-keys/{}/suspend", id_of(&root)),
            None,
            403,
        ),
        (
            &root,
            "POST",
            format!("/v1/api-keys/{unknown}/suspend"),
            None,
            404,
        ),
        (
            &root,
            "POST",
            format!("/v1/api-keys/{}/reactivate", id(&revoked)),
            None,
            409,
        ),
        (
            &root,
            "POST",
            format!("/v1/api-keys/{}/rotate", id(&revoked)),
            Some("{}"),
            409,
        ),
        (
            &root,
            "POST",
            format!("/v1/api-keys/{}/revoke", id(&revoked)),
            Some("{}"),
            400,
        ),
    ] {
        let reply = h.call(method, &path, Some(key), body).await;
        reply.assert_error(status);
    }
    assert_eq!(h.events("acme").await, before);
}

pub async fn the_audit_api_filters_pages_and_isolates<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let other = h.root_key("other").await;
    let (_, a) = h.create_scoped(&root, &["runs:read"]).await;
    let (_, b) = h.create_scoped(&root, &["runs:read"]).await;
    for _ in 0..3 {
        h.act(&root, &id(&a), "suspend", None).await;
        h.act(&root, &id(&a), "reactivate", None).await;
    }
    h.act(&root, &id(&b), "suspend", None).await;
    h.call(
        "DELETE",
        &format!("/v1/api-keys/{}", id(&b)),
        Some(&root),
        None,
    )
    .await;
    let (reader, _) = h.create_scoped(&root, &["api-keys:read"]).await;
    let (no_read, _) = h.create_scoped(&root, &["runs:read"]).await;

    let page_through = |query: String| {
        let h = &h;
        let reader = reader.clone();
        async move {
            let mut got: Vec<Value> = vec![];
            let mut cursor: Option<String> = None;
            loop {
                let mut path = format!("/v1/audit-events?limit=2{query}");
                if let Some(c) = &cursor {
                    path.push_str(&format!("&cursor={c}"));
                }
                let reply = h.call("GET", &path, Some(&reader), None).await;
                assert_eq!(reply.status, 200, "{path}: {:#}", reply.body);
                let data = reply.body["data"].as_array().expect("data").clone();
                assert!(data.len() <= 2);
                got.extend(data);
                match reply.body["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => return got,
                }
            }
        }
    };
    let a_events = page_through(format!("&key_id={}", id(&a))).await;
    assert_eq!(a_events.len(), 7, "create + 3 suspends + 3 reactivates");
    assert!(a_events.iter().all(|e| e["key_id"] == a["id"]));
    let suspends = page_through("&action=suspend".into()).await;
    assert_eq!(suspends.len(), 4);
    let a_suspends = page_through(format!("&key_id={}&action=suspend", id(&a))).await;
    assert_eq!(a_suspends.len(), 3);
    // A deleted key's history is still there.
    let b_events = page_through(format!("&key_id={}", id(&b))).await;
    let actions: Vec<&str> = b_events
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(actions, ["delete", "suspend", "create"]);
    let all = page_through(String::new()).await;
    let ids: Vec<&str> = all.iter().filter_map(|e| e["id"].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(ids, sorted, "newest first");
    assert!(all.iter().all(|e| e["org_id"] == "acme"));

    // Another org sees none of it, even asking by key id.
    let theirs = h
        .call(
            "GET",
            &format!("/v1/audit-events?key_id={}", id(&a)),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(theirs.status, 200);
    assert_eq!(theirs.body["data"], json!([]));
    let theirs = h.call("GET", "/v1/audit-events", Some(&other), None).await;
    assert_eq!(
        theirs.body["data"].as_array().map(Vec::len),
        Some(1),
        "their bootstrap"
    );

    for (query, field) in [
        ("action=update", "action"),
        ("key_id=nope", "key_id"),
        ("limit=0", "limit"),
        ("cursor=garbage", "cursor"),
        ("status=active", "status"),
        ("action=suspend&action=delete", "action"),
    ] {
        let reply = h
            .call(
                "GET",
                &format!("/v1/audit-events?{query}"),
                Some(&reader),
                None,
            )
            .await;
        reply.assert_error(400);
        assert!(
            reply.error_message().contains(field),
            "{query}: {}",
            reply.error_message()
        );
    }
    // A cursor of one filter does not continue another.
    let first = h
        .call(
            "GET",
            "/v1/audit-events?limit=1&action=suspend",
            Some(&reader),
            None,
        )
        .await;
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    let reply = h
        .call(
            "GET",
            &format!("/v1/audit-events?limit=1&cursor={cursor}"),
            Some(&reader),
            None,
        )
        .await;
    reply.assert_error(400);
    // The trail needs api-keys:read.
    let reply = h
        .call("GET", "/v1/audit-events", Some(&no_read), None)
        .await;
    assert_eq!(
        (reply.status, reply.body),
        (403, json!({"message": "Forbidden"}))
    );
}
