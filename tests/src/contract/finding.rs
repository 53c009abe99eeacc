//! Finding keys: a case-insensitive name prefix, or a type and an owner,
//! within a status, exactly and in pages; the organization's counts by
//! status, right after every kind of change and after a refused one; and
//! what the calling key may do to each key it is shown, as the calls
//! themselves decide it.

use std::collections::HashSet;

use keygate::domain::change::Change;
use keygate::domain::lifecycle::{Relabel, Rotation, Transition};
use keygate::domain::org::OrgId;
use keygate::domain::record::{KeyRecord, KeyStatus, KeyType, StatusFilter};
use keygate::domain::search::{KeyCounts, KeyQuery, KeySearch};
use keygate::domain::text::{KeyName, Owner};
use keygate::store::{Store, StoreError};
use serde_json::{Value, json};

use super::{get, id, key_in, org, origin, reason, record, updated};
use crate::{Harness, Reply, id_of};

/// Every key of `org`, straight from the store.
async fn every_key<S: Store>(store: &S, org: &OrgId) -> Vec<KeyRecord> {
    let mut all = vec![];
    let mut after = None;
    loop {
        let page = store
            .list(org, StatusFilter::All, 100, after)
            .await
            .expect("list");
        after = page.next_after().map(|r| r.id);
        all.extend(page.items);
        if after.is_none() {
            return all;
        }
    }
}

/// The store's counts of `org` are those of its keys as they are.
async fn assert_counts_right<S: Store>(store: &S, org_id: &str, after: &str) {
    let org = org(org_id);
    let keys = every_key(store, &org).await;
    assert_eq!(
        store.counts(&org).await.expect("counts"),
        Some(KeyCounts::of(&keys)),
        "after {after}"
    );
}

/// Counts stay right across every kind of change, straight into the store,
/// and a change refused (decided on a key that changed since) or failing
/// halfway moves them not at all.
pub async fn counts_follow_every_change_and_no_refused_one<S: Store>(store: S) {
    let root = key_in(&store, "acme", KeyStatus::Active).await;
    assert_counts_right(&store, "acme", "create").await;
    let (suspended, after) = Change::status(root.clone(), Transition::Suspend, None, &origin());
    store.commit(&suspended).await.expect("suspend");
    assert_counts_right(&store, "acme", "suspend").await;
    let (reactivated, root) = Change::status(after, Transition::Reactivate, None, &origin());
    store.commit(&reactivated).await.expect("reactivate");
    assert_counts_right(&store, "acme", "reactivate").await;
    let mut full = record("acme", "full");
    full.permissions = keygate::domain::scope::Permissions::Full;
    store
        .commit(&Change::create(full.clone(), &origin()))
        .await
        .expect("create full");
    let counts = store.counts(&org("acme")).await.unwrap().unwrap();
    assert_eq!(
        (counts.active, counts.active_full_access),
        (2, 1),
        "the record() keys are scoped; this one has full access"
    );
    let rename = Relabel {
        name: Some(KeyName::new("renamed").unwrap()),
        description: None,
    };
    let (renamed, full) = Change::relabel(full, &rename, &origin());
    store.commit(&renamed).await.expect("rename");
    assert_counts_right(&store, "acme", "rename").await;
    let grace = Rotation {
        grace_secs: 600,
        reason: None,
    };
    let (rotated, successor) =
        Change::rotate(full.clone(), record("acme", "successor"), &grace, &origin());
    store.commit(&rotated).await.expect("rotate with grace");
    assert_counts_right(&store, "acme", "rotate with grace").await;
    let now = Rotation {
        grace_secs: 0,
        reason: None,
    };
    let (rotated_now, _) =
        Change::rotate(successor.clone(), record("acme", "third"), &now, &origin());
    store.commit(&rotated_now).await.expect("rotate now");
    assert_counts_right(&store, "acme", "rotate without grace").await;
    let (revoked, revoked_root) =
        Change::status(root.clone(), Transition::Revoke, Some(reason()), &origin());
    store.commit(&revoked).await.expect("revoke");
    assert_counts_right(&store, "acme", "revoke").await;
    store
        .commit(&Change::delete(revoked_root.clone(), &origin()))
        .await
        .expect("delete");
    assert_counts_right(&store, "acme", "delete").await;

    // Refused: decided on a key since deleted, or since suspended; a
    // rotation failing halfway. None of them moves the counts.
    let old = updated(&rotated);
    let stale_revoke = Change::status(old.clone(), Transition::Revoke, Some(reason()), &origin()).0;
    let (suspend, suspended_old) = Change::status(old, Transition::Suspend, None, &origin());
    store
        .commit(&suspend)
        .await
        .expect("suspend the rotated key");
    assert_counts_right(&store, "acme", "suspending the rotated key").await;
    let counts = store.counts(&org("acme")).await.unwrap();
    let gone = Change::status(revoked_root, Transition::Suspend, None, &origin()).0;
    assert!(matches!(
        store.commit(&gone).await,
        Err(StoreError::Changed)
    ));
    assert!(matches!(
        store.commit(&stale_revoke).await,
        Err(StoreError::Changed)
    ));
    let mut clash = record("acme", "clash");
    clash.id = successor.id;
    let doomed = Change::rotate(suspended_old, clash, &now, &origin()).0;
    assert!(store.commit(&doomed).await.is_err());
    assert_eq!(store.counts(&org("acme")).await.unwrap(), counts);
    assert_counts_right(&store, "acme", "refused changes").await;
    // Another organization's counts are its own.
    key_in(&store, "other", KeyStatus::Revoked).await;
    let theirs = store.counts(&org("other")).await.unwrap().unwrap();
    assert_eq!((theirs.all(), theirs.revoked), (1, 1));
    assert_counts_right(&store, "acme", "another org's change").await;
}

/// `GET /v1/api-keys?...` as `key`, every page of `limit`: the records, and
/// each page's answer.
async fn page_through<S: Store>(
    h: &Harness<S>,
    key: &str,
    query: &str,
    limit: usize,
) -> (Vec<Value>, Vec<Reply>) {
    let mut got = vec![];
    let mut replies = vec![];
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/v1/api-keys?limit={limit}&{query}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let reply = h.call("GET", &path, Some(key), None).await;
        assert_eq!(reply.status, 200, "{path}: {:#}", reply.body);
        let data = reply.body["data"].as_array().expect("data").clone();
        assert!(data.len() <= limit);
        got.extend(data);
        cursor = reply.body["next_cursor"].as_str().map(str::to_owned);
        replies.push(reply);
        if cursor.is_none() {
            return (got, replies);
        }
    }
}

/// Through the API: a name prefix (whatever its case) and a type or owner
/// find exactly their keys, in their order, within each status, page after
/// page; a rename moves a key from one search to another; every list
/// carries the organization's counts; bad searches are 400s.
pub async fn keys_are_found_by_name_type_and_owner<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let mut made = vec![];
    for (name, owner, status) in [
        ("ci-deployer", None, "active"),
        ("CI-runner", None, "suspended"),
        ("ci", Some("ada@example.com"), "active"),
        ("ci", Some("Ada@Example.com"), "revoked"),
        ("cider", Some("bob@example.com"), "active"),
        ("Docs bot", None, "active"),
        ("ĉi", Some("ada@example.com.au"), "suspended"),
        ("ci-deployer", None, "active"),
    ] {
        let body = match owner {
            Some(owner) => json!({"name": name, "key_type": "user", "owner": owner,
                                  "permissions": ["runs:read"]}),
            None => json!({"name": name, "key_type": "service", "permissions": ["runs:read"]}),
        };
        let (_, created) = h.create(&root, body).await;
        let target = id(&created);
        match status {
            "suspended" => assert_eq!(h.act(&root, &target, "suspend", None).await.status, 200),
            "revoked" => assert_eq!(
                h.act(&root, &target, "revoke", Some(r#"{"reason":"r"}"#))
                    .await
                    .status,
                200
            ),
            _ => {}
        }
        made.push(target);
    }
    let other = h.root_key("other").await;
    h.create(&other, json!({"name": "ci-theirs", "key_type": "service"}))
        .await;
    let snapshot = h.snapshot("acme").await;
    let org = org("acme");
    for (query, search) in [
        (
            "name=ci",
            KeySearch::name_prefix(&KeyName::new("ci").unwrap()),
        ),
        (
            "name=CI-",
            KeySearch::name_prefix(&KeyName::new("CI-").unwrap()),
        ),
        (
            "name=d",
            KeySearch::name_prefix(&KeyName::new("d").unwrap()),
        ),
        (
            "name=zzz",
            KeySearch::name_prefix(&KeyName::new("zzz").unwrap()),
        ),
        (
            "key_type=service",
            KeySearch::by_type(Some(KeyType::Service), None).unwrap(),
        ),
        (
            "key_type=user",
            KeySearch::by_type(Some(KeyType::User), None).unwrap(),
        ),
        (
            "owner=ADA@example.com",
            KeySearch::by_type(None, Some(&Owner::new("ada@example.com").unwrap())).unwrap(),
        ),
        (
            "key_type=user&owner=bob%40example.com",
            KeySearch::by_type(
                Some(KeyType::User),
                Some(&Owner::new("bob@example.com").unwrap()),
            )
            .unwrap(),
        ),
    ] {
        for status in ["all", "active", "suspended", "revoked"] {
            let filter = StatusFilter::parse(status).unwrap();
            // What the search must find: the keys it matches, in its order.
            let key_query = KeyQuery {
                status: filter,
                search: search.clone(),
            };
            let mut want: Vec<&KeyRecord> = snapshot
                .iter()
                .filter(|r| filter == StatusFilter::All || filter == StatusFilter::Only(r.status))
                .filter(|r| {
                    let key = search.sort_key(r);
                    search
                        .range(None)
                        .is_some_and(|(lower, upper)| lower <= key && key <= upper)
                })
                .collect();
            want.sort_by_key(|r| search.sort_key(r));
            let want: Vec<String> = want.iter().map(|r| r.id.to_string()).collect();
            let (got, replies) =
                page_through(&h, &root, &format!("status={status}&{query}"), 2).await;
            let got: Vec<String> = got.iter().map(id).collect();
            assert_eq!(got, want, "status={status}&{query}");
            assert_eq!(
                got.iter().collect::<HashSet<_>>().len(),
                got.len(),
                "no duplicates"
            );
            for reply in &replies {
                assert_eq!(
                    reply.body["counts"],
                    json!({"all": 9, "active": 6, "suspended": 2, "revoked": 1}),
                    "the organization's counts, whatever the search"
                );
            }
            // The store, asked directly, agrees.
            let page = h
                .store()
                .search(&org, &key_query, 100, None)
                .await
                .expect("search");
            let direct: Vec<String> = page.items.iter().map(|r| r.id.to_string()).collect();
            assert_eq!(direct, want, "store: status={status}&{query}");
        }
    }
    // Names A→Z ignoring case; one name's keys newest first.
    let (ci, _) = page_through(&h, &root, "name=ci", 100).await;
    let names: Vec<&str> = ci.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        names,
        [
            "ci",
            "ci",
            "ci-deployer",
            "ci-deployer",
            "CI-runner",
            "cider"
        ]
    );
    assert!(ci[0]["created_at"].as_str() >= ci[1]["created_at"].as_str());
    assert_eq!(id(&ci[2]), made[7], "the newer ci-deployer first");

    // A rename moves a key from one search to the other.
    let renamed = h
        .call(
            "PATCH",
            &format!("/v1/api-keys/{}", made[5]),
            Some(&root),
            Some(r#"{"name": "ci docs"}"#),
        )
        .await;
    assert_eq!(renamed.status, 200);
    let (docs, _) = page_through(&h, &root, "name=docs", 100).await;
    assert!(docs.is_empty(), "{docs:?}");
    let (ci, _) = page_through(&h, &root, "name=ci%20d", 100).await;
    assert_eq!(ci.iter().map(id).collect::<Vec<_>>(), [made[5].clone()]);

    // A cursor continues its own search only.
    let first = h
        .call("GET", "/v1/api-keys?limit=1&name=ci", Some(&root), None)
        .await;
    let cursor = first.body["next_cursor"]
        .as_str()
        .expect("cursor")
        .to_owned();
    for query in [
        format!("limit=1&name=cid&cursor={cursor}"),
        format!("limit=1&status=active&name=ci&cursor={cursor}"),
        format!("limit=1&cursor={cursor}"),
        format!("limit=1&key_type=user&cursor={cursor}"),
    ] {
        let reply = h
            .call("GET", &format!("/v1/api-keys?{query}"), Some(&root), None)
            .await;
        assert_eq!(reply.assert_error(400), "invalid_request", "{query}");
        assert!(reply.error_message().starts_with("cursor"), "{query}");
    }
    let theirs = h
        .call(
            "GET",
            &format!("/v1/api-keys?limit=1&name=ci&cursor={cursor}"),
            Some(&other),
            None,
        )
        .await;
    theirs.assert_error(400);
    let (their_ci, _) = page_through(&h, &other, "name=ci", 100).await;
    assert_eq!(their_ci.len(), 1, "another org finds only its own");

    let keys_before = h.snapshot("acme").await;
    for (query, field) in [
        ("name=ci&key_type=user", "name"),
        ("name=ci&owner=ada", "name"),
        ("key_type=service&owner=ada", "owner"),
        ("key_type=robot", "key_type"),
        ("name=", "\"name\""),
        ("owner=%07bell", "owner"),
        ("name=%E2%80%AE", "name"),
        ("nam=ci", "\"nam\""),
    ] {
        let reply = h
            .call("GET", &format!("/v1/api-keys?{query}"), Some(&root), None)
            .await;
        reply.assert_error(400);
        assert!(
            reply.error_message().starts_with(field),
            "{query}: {}",
            reply.error_message()
        );
    }
    let secret = h
        .call(
            "GET",
            &format!("/v1/api-keys?name={root}"),
            Some(&root),
            None,
        )
        .await;
    secret.assert_error(400);
    crate::assert_no_secret(
        secret.error_message().as_bytes(),
        &[&root],
        "a refused search",
    );
    assert_eq!(h.snapshot("acme").await, keys_before);
}

/// The body `op` takes in these tests.
fn body_of(op: &str) -> Option<&'static str> {
    match op {
        "update" => Some(r#"{"name": "renamed"}"#),
        "revoke" => Some(r#"{"reason": "r"}"#),
        "rotate" => Some("{}"),
        _ => None,
    }
}

/// `op` on `target` as `key`.
async fn call<S: Store>(h: &Harness<S>, key: &str, op: &str, target: &str) -> Reply {
    let path = format!("/v1/api-keys/{target}");
    match op {
        "update" => h.call("PATCH", &path, Some(key), body_of(op)).await,
        "delete" => h.call("DELETE", &path, Some(key), None).await,
        verb => h.act(key, target, verb, body_of(op)).await,
    }
}

/// Each key a caller is shown says what the caller may do to it, and that
/// is what the call then answers: allowed, or the same error code, for
/// every change, for callers of every kind of permission over keys of
/// every state and strength, and for the caller's own key. And whether a
/// key is the organization's last active full-access key.
pub async fn each_key_says_what_the_caller_may_do_to_it<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let writer = json!(["api-keys:write", "api-keys:read", "runs:read"]);
    let reader = json!(["api-keys:read", "runs:read"]);
    for op in [
        "update",
        "suspend",
        "reactivate",
        "rotate",
        "revoke",
        "delete",
    ] {
        for caller_permissions in [json!("full"), writer.clone(), reader.clone()] {
            let (caller, _) = h
                .create(
                    &root,
                    json!({"name": "caller", "key_type": "service",
                           "permissions": caller_permissions.clone()}),
                )
                .await;
            let mut targets = vec![];
            for (permissions, status) in [
                (json!(["runs:read"]), "active"),
                (json!(["runs:read"]), "suspended"),
                (json!(["runs:read"]), "revoked"),
                (json!(["runs:read", "runs:write"]), "active"),
                (json!("full"), "suspended"),
            ] {
                let (_, t) = h
                    .create(
                        &root,
                        json!({"name": "target", "key_type": "service",
                               "permissions": permissions}),
                    )
                    .await;
                let t = id(&t);
                let moved = match status {
                    "suspended" => Some(h.act(&root, &t, "suspend", None).await),
                    "revoked" => Some(h.act(&root, &t, "revoke", Some(r#"{"reason":"r"}"#)).await),
                    _ => None,
                };
                assert!(moved.is_none_or(|r| r.status == 200));
                targets.push(t);
            }
            // The caller itself last: some calls end it.
            targets.push(id_of(&caller));
            for target in targets {
                let seen = get(&h, &caller, &target).await;
                assert_eq!(seen.status, 200);
                let permit = seen.body["caller"][op].clone();
                let listed = h
                    .call("GET", "/v1/api-keys?limit=100", Some(&caller), None)
                    .await;
                let in_list = listed.body["data"]
                    .as_array()
                    .and_then(|d| d.iter().find(|r| r["id"] == target.as_str()))
                    .map(|r| r["caller"][op].clone());
                assert_eq!(in_list, Some(permit.clone()), "a list shows the same");
                let reply = call(&h, &caller, op, &target).await;
                let context = format!(
                    "{op} by {caller_permissions} on {} ({}): shown {permit}, answered {} {:#}",
                    seen.body["scopes"], seen.body["status"], reply.status, reply.body
                );
                if permit["allowed"] == json!(true) {
                    assert!(reply.status < 300, "{context}");
                    assert!(permit["code"].is_null() && permit["reason"].is_null());
                } else if permit["code"] == "insufficient_scope" {
                    // The authorizer refuses the call before its handler would.
                    assert_eq!(
                        (reply.status, &reply.body),
                        (403, &json!({"message": "Forbidden"})),
                        "{context}"
                    );
                } else {
                    assert!(reply.status >= 400, "{context}");
                    assert_eq!(permit["code"], reply.body["error"]["code"], "{context}");
                    assert_eq!(
                        permit["reason"], reply.body["error"]["message"],
                        "{context}"
                    );
                }
            }
        }
    }
}

/// Whether a key is its organization's last active full-access key: so
/// while it is the only one, no longer once there is another, again once
/// that one is suspended; never for a scoped or suspended key.
pub async fn the_last_active_full_access_key_is_marked<S: Store>(store: S) {
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let root_id = id_of(&root);
    let last = |reply: Reply| reply.body["last_active_full_access"].clone();
    assert_eq!(last(get(&h, &root, &root_id).await), json!(true));
    let (_, second) = h
        .create(&root, json!({"name": "second", "key_type": "service"}))
        .await;
    assert_eq!(second["last_active_full_access"], json!(false));
    assert_eq!(last(get(&h, &root, &root_id).await), json!(false));
    let (_, scoped) = h.create_scoped(&root, &["runs:read"]).await;
    assert_eq!(scoped["last_active_full_access"], json!(false));
    let suspended = h.act(&root, &id(&second), "suspend", None).await;
    assert_eq!(suspended.body["last_active_full_access"], json!(false));
    let listed = h.call("GET", "/v1/api-keys", Some(&root), None).await;
    let marked: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["last_active_full_access"] == json!(true))
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(marked, [root_id.as_str()]);
    let reactivated = h.act(&root, &id(&second), "reactivate", None).await;
    assert_eq!(reactivated.body["last_active_full_access"], json!(false));
    assert_eq!(last(get(&h, &root, &root_id).await), json!(false));
}
