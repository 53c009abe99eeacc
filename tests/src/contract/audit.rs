//! The audit trail: exactly one event per change and none for a refused
//! call or a repeat, listed by every filter newest first, in pages, each
//! organization seeing only its own, and never a secret.

use keygate::domain::audit::{AuditAction, EventFilter};
use keygate::domain::change::Change;
use keygate::domain::id::{EventId, KeyId};
use keygate::domain::lifecycle::Transition;
use keygate::domain::record::KeyStatus;
use keygate::store::Store;
use serde_json::{Value, json};

use super::{events_of, get, id, key_in, org, origin, updated};
use crate::{Harness, assert_no_secret, id_of};

/// Events of two orgs, listed by every filter, newest first, in pages.
pub async fn events_are_listed_by_every_filter<S: Store>(store: S) {
    let a = key_in(&store, "acme", KeyStatus::Active).await;
    let b = key_in(&store, "acme", KeyStatus::Suspended).await;
    let theirs = key_in(&store, "other", KeyStatus::Revoked).await;
    let a_suspended = Change::status(a.clone(), Transition::Suspend, None, &origin()).0;
    store.commit(&a_suspended).await.expect("suspend a");
    let a_now = updated(&a_suspended);
    store
        .commit(&Change::status(a_now, Transition::Reactivate, None, &origin()).0)
        .await
        .expect("reactivate a");
    let all = events_of(&store, "acme").await;
    // a: create, suspend, reactivate; b: create, suspend.
    assert_eq!(all.len(), 5);
    let ids: Vec<EventId> = all.iter().map(|e| e.id).collect();
    let mut sorted = ids.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    assert_eq!(ids, sorted, "newest first");
    assert!(all.iter().all(|e| e.org_id == org("acme")));
    assert!(all.iter().all(|e| e.key_id != theirs.id));

    let cases = [
        (Some(a.id), None, 3),
        (Some(b.id), None, 2),
        (None, Some(AuditAction::Suspend), 2),
        (None, Some(AuditAction::Create), 2),
        (Some(a.id), Some(AuditAction::Suspend), 1),
        (Some(b.id), Some(AuditAction::Reactivate), 0),
        (Some(theirs.id), None, 0),
    ];
    for (key_id, action, count) in cases {
        let filter = EventFilter {
            key_id,
            action,
            ..EventFilter::default()
        };
        let want: Vec<EventId> = all
            .iter()
            .filter(|e| {
                key_id.is_none_or(|k| k == e.key_id) && action.is_none_or(|a| a == e.action)
            })
            .map(|e| e.id)
            .collect();
        assert_eq!(want.len(), count, "{filter:?}");
        // Pages of one: every page exact, the last says no more.
        let mut got = vec![];
        let mut after = None;
        loop {
            let page = store
                .list_events(&org("acme"), filter, 1, after)
                .await
                .expect("page");
            got.extend(page.items.iter().map(|e| e.id));
            match page.next_after() {
                Some(e) => after = Some(e.id),
                None => break,
            }
        }
        assert_eq!(got, want, "{filter:?}");
    }
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
        ("action=rename", "action"),
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

/// Every event is linked into its organization's hash chain in the order
/// its change was written: places 1 to n with no gap or repeat, each hash
/// over its event and the one before, the head at the last. Changes racing
/// each other in one organization still make one unbroken chain, and each
/// organization's chain is its own.
pub async fn each_organization_s_trail_is_one_unbroken_chain<S: Store>(store: S) {
    let h = std::sync::Arc::new(Harness::new(store));
    let root = h.root_key("acme").await;
    let theirs = h.root_key("other").await;
    let mut tasks = vec![];
    for i in 0..12 {
        let (h, root) = (h.clone(), root.clone());
        tasks.push(tokio::spawn(async move {
            let (_, created) = h
                .create(
                    &root,
                    json!({"name": format!("k{i}"), "key_type": "service"}),
                )
                .await;
            let reply = h.act(&root, &id(&created), "suspend", None).await;
            assert_eq!(reply.status, 200, "{:#}", reply.body);
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    h.create(&theirs, json!({"name": "theirs", "key_type": "service"}))
        .await;
    let acme = org("acme");
    let events = events_of(h.store(), "acme").await;
    assert_eq!(
        events.len(),
        1 + 12 * 2,
        "bootstrap, then a create and a suspend each"
    );
    let verified = h
        .app
        .verify_audit(&acme, None, None)
        .await
        .expect("the trail verifies");
    assert_eq!(verified.linked, events.len());
    assert_eq!((verified.first, verified.head.seq), (Some(1), 25));
    let mut places: Vec<u64> = events
        .iter()
        .filter_map(|e| e.link.map(|l| l.seq))
        .collect();
    places.sort_unstable();
    assert_eq!(places, (1..=25).collect::<Vec<_>>(), "no gap, no repeat");
    assert_eq!(
        h.store().chain_head(&acme).await.expect("head"),
        Some(verified.head)
    );
    let other = h
        .app
        .verify_audit(&org("other"), None, None)
        .await
        .expect("theirs verifies");
    assert_eq!(
        (other.linked, other.head.seq),
        (2, 2),
        "its own chain from 1"
    );
}

/// Events listed by the key that made them, with or without an action,
/// and by when they were recorded: exactly the matching events, newest
/// first, in pages that continue exactly; bootstrap events have no actor.
pub async fn events_are_listed_by_actor_and_time<S: Store>(store: S) {
    use keygate::domain::audit::Actor;
    use keygate::domain::change::Origin;
    use keygate::domain::time::Timestamp;
    let by = |n: u128| {
        Origin::new(
            Actor::Key {
                id: KeyId::from_u128(n),
                hint: format!("kg_...{n:04}"),
            },
            Timestamp::now(),
            "req",
            None,
            None,
        )
    };
    let boot = super::record("acme", "boot");
    store
        .commit(&Change::create(boot, &Origin::bootstrap(Timestamp::now())))
        .await
        .expect("bootstrap");
    let mut keys = vec![];
    for (n, actor) in [1u128, 2, 1, 1, 2].into_iter().enumerate() {
        let key = super::record("acme", &format!("k{n}"));
        store
            .commit(&Change::create(key.clone(), &by(actor)))
            .await
            .expect("create");
        keys.push(key);
        // A few milliseconds between changes, so a time range can fall
        // between them.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    for key in &keys[..2] {
        let change = Change::status(key.clone(), Transition::Suspend, None, &by(2)).0;
        store.commit(&change).await.expect("suspend");
    }
    let theirs = super::record("other", "theirs");
    store
        .commit(&Change::create(theirs, &by(1)))
        .await
        .expect("another org");
    let all = events_of(&store, "acme").await;
    assert_eq!(all.len(), 8);

    let ms = |e: &keygate::domain::audit::AuditEvent| (e.id.as_u128() >> 80) as u64;
    // Bounds between the oldest and newest events' milliseconds.
    let (oldest, newest) = (ms(&all[all.len() - 1]), ms(&all[0]));
    let middle = (oldest + newest) / 2;
    let at = |m: u64| Some(EventId::first_at_millis(m));
    let actor = |n: u128| Some(KeyId::from_u128(n));
    let cases = [
        (actor(1), None, None, None),
        (actor(2), None, None, None),
        (actor(2), Some(AuditAction::Suspend), None, None),
        (actor(1), Some(AuditAction::Suspend), None, None),
        (actor(9), None, None, None),
        (None, None, at(middle), None),
        (None, None, None, at(middle)),
        (None, None, at(oldest + 1), at(newest)),
        (actor(1), Some(AuditAction::Create), at(middle), None),
        (None, Some(AuditAction::Create), at(newest + 1), None),
    ];
    for (actor, action, since, until) in cases {
        let filter = EventFilter {
            actor,
            action,
            since,
            until,
            ..EventFilter::default()
        };
        let want: Vec<EventId> = all
            .iter()
            .filter(|e| {
                actor.is_none_or(|a| e.actor.key_id() == Some(a))
                    && action.is_none_or(|a| a == e.action)
                    && since.is_none_or(|s| e.id >= s)
                    && until.is_none_or(|u| e.id < u)
            })
            .map(|e| e.id)
            .collect();
        let mut got = vec![];
        let mut after = None;
        loop {
            let page = store
                .list_events(&org("acme"), filter, 2, after)
                .await
                .expect("page");
            assert!(page.items.len() <= 2);
            got.extend(page.items.iter().map(|e| e.id));
            match page.next_after() {
                Some(e) => after = Some(e.id),
                None => break,
            }
        }
        assert_eq!(got, want, "{filter:?}");
    }
    let by_one = EventFilter {
        actor: actor(1),
        ..EventFilter::default()
    };
    let listed = store
        .list_events(&org("acme"), by_one, 100, None)
        .await
        .expect("by actor");
    assert_eq!(listed.items.len(), 3, "three creates by key 1 in acme");
    assert!(
        listed.items.iter().all(|e| e.org_id == org("acme")),
        "another org's events by the same key are not listed"
    );
}

/// Through the API: the audit log filtered by the acting key and by time,
/// with each event naming its actor; filtering by key and actor at once,
/// a time that is not RFC 3339, or an empty range is a 400; a cursor
/// continues only its own filter.
pub async fn the_audit_api_filters_by_actor_and_time<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (writer, _) = h
        .create(
            &root,
            json!({"name": "deployer", "key_type": "service",
                   "permissions": ["api-keys:write", "api-keys:read", "runs:read"]}),
        )
        .await;
    let writer_id = id_of(&writer);
    let mut made = vec![];
    for n in 0..3 {
        let (_, k) = h
            .create(
                &writer,
                json!({"name": format!("made-{n}"), "key_type": "service",
                       "permissions": ["runs:read"]}),
            )
            .await;
        made.push(id(&k));
    }
    h.act(&root, &made[0], "suspend", None).await;
    let by_writer = h
        .call(
            "GET",
            &format!("/v1/audit-events?actor_key_id={writer_id}&limit=2"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(by_writer.status, 200, "{:#}", by_writer.body);
    let first = by_writer.body["data"].as_array().unwrap().clone();
    assert_eq!(first.len(), 2);
    for e in &first {
        assert_eq!(e["actor_key_id"], writer_id.as_str());
        assert_eq!(e["actor_name"], "deployer");
        assert_eq!(e["action"], "create");
    }
    assert_eq!(first[0]["key_id"], made[2].as_str(), "newest first");
    let cursor = by_writer.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = h
        .call(
            "GET",
            &format!("/v1/audit-events?actor_key_id={writer_id}&limit=2&cursor={cursor}"),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(rest.body["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(rest.body["data"][0]["key_id"], made[0].as_str());
    assert!(rest.body["next_cursor"].is_null());
    // The cursor belongs to the actor filter, not another.
    let elsewhere = h
        .call(
            "GET",
            &format!("/v1/audit-events?limit=2&cursor={cursor}"),
            Some(&root),
            None,
        )
        .await;
    assert!(elsewhere.assert_error(400) == "invalid_request");

    // A time range: nothing before the trail began, everything since then.
    let all = h
        .call("GET", "/v1/audit-events?limit=100", Some(&root), None)
        .await
        .body["data"]
        .as_array()
        .unwrap()
        .len();
    let since_all = h
        .call(
            "GET",
            "/v1/audit-events?limit=100&since=2020-01-01T00:00:00Z&until=9999-12-31T00:00:00%2B00:00",
            Some(&root),
            None,
        )
        .await;
    assert_eq!(since_all.body["data"].as_array().map(Vec::len), Some(all));
    let before_all = h
        .call(
            "GET",
            "/v1/audit-events?until=2020-01-01T00:00:00.500Z",
            Some(&root),
            None,
        )
        .await;
    assert_eq!(before_all.body["data"], json!([]));

    for (query, field) in [
        (
            format!("key_id={}&actor_key_id={writer_id}", made[0]),
            "actor_key_id",
        ),
        ("actor_key_id=nope".to_owned(), "actor_key_id"),
        ("since=yesterday".to_owned(), "since"),
        ("until=2026-13-01T00:00:00Z".to_owned(), "until"),
        (
            "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z".to_owned(),
            "until",
        ),
        (
            "since=2026-01-01T00:00:00Z&until=2026-01-01T00:00:00Z".to_owned(),
            "until",
        ),
    ] {
        let reply = h
            .call(
                "GET",
                &format!("/v1/audit-events?{query}"),
                Some(&root),
                None,
            )
            .await;
        reply.assert_error(400);
        assert!(
            reply.error_message().starts_with(field),
            "{query}: {}",
            reply.error_message()
        );
    }
}
