//! The store contract on the DynamoDB store, against moto's DynamoDB API
//! (started by `infra/test.sh`), plus what only DynamoDB can show: the
//! operations sent on the wire, the raw items at rest, TTL.

use aws_sdk_dynamodb::types::AttributeValue;
use keygate::store::dynamodb::{
    EVENT_TTL_ATTRIBUTE, INDEX_BY_ORG, INDEX_BY_ORG_NAME, INDEX_BY_ORG_STATUS,
    INDEX_BY_ORG_STATUS_NAME, INDEX_BY_ORG_STATUS_TYPE, INDEX_BY_ORG_TYPE, INDEX_EVENTS_BY_ACTION,
    INDEX_EVENTS_BY_ACTOR, INDEX_EVENTS_BY_ACTOR_ACTION, INDEX_EVENTS_BY_KEY,
    INDEX_EVENTS_BY_KEY_ACTION, Tables,
};
use keygate_tests::{
    Harness, assert_no_secret, authorizer_event, dynamodb_client, fresh_dynamodb_store, id_of,
};
use serde_json::json;

keygate_tests::contract_suite!(keygate_tests::fresh_dynamodb_store().await.0);

/// `key` with its last character replaced by another base62 character:
/// always a different string, so never the real key.
fn with_last_char_changed(key: &str) -> String {
    let last = key.chars().last().expect("non-empty");
    let replacement = if last == 'x' { 'y' } else { 'x' };
    format!("{}{replacement}", &key[..key.len() - 1])
}

#[tokio::test]
async fn the_authorizer_reads_once_consistently_and_lists_query_a_gsi() {
    let (store, log) = fresh_dynamodb_store().await;
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (key, _) = h.create_scoped(&root, &["runs:read"]).await;

    log.clear();
    let malformed = with_last_char_changed(&key);
    assert_ne!(malformed, key);
    let event = authorizer_event(&malformed, "GET /v1/runs");
    assert!(
        !keygate::http::authorizer::authorize(&h.app, &event)
            .await
            .is_authorized
    );
    assert!(
        log.calls().is_empty(),
        "a malformed key makes no DynamoDB call: {:?}",
        log.calls()
    );

    assert!(h.authorize(&key, "GET /v1/runs").await);
    let reads: Vec<_> = log
        .calls()
        .into_iter()
        .filter(|c| c.operation == "GetItem")
        .collect();
    assert_eq!(reads.len(), 1, "{:?}", log.calls());
    assert!(
        reads[0].consistent_read,
        "the authorizer's read is strongly consistent"
    );
    assert!(log.count("UpdateItem") <= 1, "at most the last-used write");

    // Within the minute the key is not written again.
    log.clear();
    assert!(h.authorize(&key, "GET /v1/runs").await);
    assert_eq!(log.count("GetItem"), 1);
    assert_eq!(log.count("UpdateItem"), 0, "{:?}", log.calls());

    for (status, index) in [
        ("all", INDEX_BY_ORG),
        ("active", INDEX_BY_ORG_STATUS),
        ("revoked", INDEX_BY_ORG_STATUS),
    ] {
        log.clear();
        let reply = h
            .call(
                "GET",
                &format!("/v1/api-keys?status={status}"),
                Some(&root),
                None,
            )
            .await;
        assert_eq!(reply.status, 200);
        let queries: Vec<_> = log
            .calls()
            .into_iter()
            .filter(|c| c.operation == "Query")
            .collect();
        assert_eq!(queries.len(), 1, "{:?}", log.calls());
        assert_eq!(queries[0].index.as_deref(), Some(index));
        assert_eq!(log.count("Scan"), 0);
        assert_eq!(
            log.count("BatchGetItem"),
            0,
            "a list's GSI holds the records"
        );
        assert_eq!(
            log.count("GetItem"),
            2,
            "the authorizer's read of the key, and the organization's counts"
        );
    }
    // A search is one Query of its index for the page's ids, and one
    // BatchGetItem of their records; never a Scan.
    for (query, index) in [
        ("name=sco", INDEX_BY_ORG_NAME),
        ("status=active&name=sco", INDEX_BY_ORG_STATUS_NAME),
        ("key_type=service", INDEX_BY_ORG_TYPE),
        ("status=revoked&owner=ada", INDEX_BY_ORG_STATUS_TYPE),
    ] {
        log.clear();
        let reply = h
            .call("GET", &format!("/v1/api-keys?{query}"), Some(&root), None)
            .await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        let queries: Vec<_> = log
            .calls()
            .into_iter()
            .filter(|c| c.operation == "Query")
            .collect();
        assert_eq!(queries.len(), 1, "{query}: {:?}", log.calls());
        assert_eq!(queries[0].index.as_deref(), Some(index), "{query}");
        assert_eq!(log.count("Scan"), 0);
        let found = reply.body["data"].as_array().map(Vec::len).unwrap_or(0);
        assert_eq!(log.count("BatchGetItem"), usize::from(found > 0), "{query}");
    }
}

/// An organization's counts are one item that no index holds; an
/// organization whose keys predate counting (its counts item gone, here)
/// shows no counts rather than wrong ones, until it is counted again.
#[tokio::test]
async fn counts_are_one_item_in_no_index_and_never_guessed() {
    let (store, _) = fresh_dynamodb_store().await;
    let raw = keygate_tests::dynamodb_client().await;
    let keys_table = store.tables().keys;
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    h.create_scoped(&root, &["runs:read"]).await;
    let counts_key = ("id".to_owned(), AttributeValue::S("acme#counts".into()));
    let item = raw
        .get_item()
        .table_name(&keys_table)
        .key(counts_key.0.clone(), counts_key.1.clone())
        .send()
        .await
        .unwrap()
        .item
        .expect("the counts item");
    for index_key in ["org_id", "org_status", "name_key", "type_key"] {
        assert!(!item.contains_key(index_key), "{index_key}: {item:?}");
    }
    assert_eq!(item["active"], AttributeValue::N("2".into()));
    let listed = h.call("GET", "/v1/api-keys", Some(&root), None).await;
    assert_eq!(listed.body["counts"]["all"], 2);

    raw.delete_item()
        .table_name(&keys_table)
        .key(counts_key.0, counts_key.1)
        .send()
        .await
        .unwrap();
    h.create_scoped(&root, &["runs:read"]).await;
    let listed = h.call("GET", "/v1/api-keys", Some(&root), None).await;
    assert_eq!(listed.status, 200);
    assert!(listed.body["counts"].is_null(), "{:#}", listed.body);
    let me = h
        .call(
            "GET",
            &format!("/v1/api-keys/{}", id_of(&root)),
            Some(&root),
            None,
        )
        .await;
    assert!(me.body["last_active_full_access"].is_null());
    assert_eq!(me.body["caller"]["suspend"]["allowed"], true);
}

/// A key without limits costs what it did before limits existed: one
/// strongly consistent GetItem. A limited key adds one conditional
/// UpdateItem of its budget's counter item (never the key item, whose
/// indexes would be written too); a refusal seen before is confirmed by a
/// read, not a write.
#[tokio::test]
async fn a_limited_key_costs_one_conditional_write_more_and_an_unlimited_one_nothing() {
    let (store, log) = fresh_dynamodb_store().await;
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (free, _) = h.create_scoped(&root, &["runs:read"]).await;
    let (limited, record) = h
        .create(
            &root,
            json!({"name": "limited", "key_type": "service",
                "limits": {"rate": {"requests": 3, "window_seconds": 3600},
                           "quota": {"requests": 1000, "period": "month"}}}),
        )
        .await;
    // First uses write last_used_at; from the second on, the steady state.
    assert!(h.authorize(&free, "GET /v1/runs").await);
    assert!(h.authorize(&limited, "GET /v1/runs").await);

    log.clear();
    assert!(h.authorize(&free, "GET /v1/runs").await);
    let ops: Vec<String> = log.calls().into_iter().map(|c| c.operation).collect();
    assert_eq!(ops, ["GetItem"]);

    log.clear();
    assert!(h.authorize(&limited, "GET /v1/runs").await);
    let calls = log.calls();
    let ops: Vec<&str> = calls.iter().map(|c| c.operation.as_str()).collect();
    assert_eq!(
        ops,
        ["GetItem", "UpdateItem"],
        "one round trip more, one write"
    );
    let counter = &calls[1];
    assert_eq!(
        counter.table.as_deref(),
        Some(h.store().tables().keys.as_str())
    );

    // The counter lives in an item of its own, with no index's key on it.
    let items = dynamodb_client()
        .await
        .get_item()
        .table_name(h.store().tables().keys)
        .key(
            "id",
            AttributeValue::S(format!("{}#usage", record["budget"].as_str().unwrap())),
        )
        .send()
        .await
        .unwrap()
        .item
        .expect("the budget's counter item");
    assert!(!items.contains_key("org_id") && !items.contains_key("org_status"));
    assert_eq!(items["r3600_c"], AttributeValue::N("2".into()));
    assert_eq!(items["qmonth_u"], AttributeValue::N("2".into()));

    // Spent: the third passes, the fourth is refused after one consistent
    // read, and nothing is written for it.
    assert!(h.authorize(&limited, "GET /v1/runs").await);
    log.clear();
    assert!(!h.authorize(&limited, "GET /v1/runs").await);
    let ops: Vec<String> = log.calls().into_iter().map(|c| c.operation).collect();
    assert_eq!(ops, ["GetItem", "GetItem"], "a refusal writes nothing");
}

/// Every change is exactly one conditional write (one
/// `TransactWriteItems` whose every item carries a condition), a repeat is
/// none, and nothing is ever written outside a transaction. A lost revoke
/// would need a second, unconditional write; this catches it without
/// waiting for the bad interleaving.
#[tokio::test]
async fn every_change_is_exactly_one_conditional_transaction() {
    let (store, log) = fresh_dynamodb_store().await;
    let Tables {
        keys: keys_table,
        audit: audit_table,
    } = store.tables();
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    // The authorizer records the root key's use once a minute; do it now so
    // the calls below are only the handlers' own.
    assert!(h.authorize(&root, "GET /v1/api-keys").await);
    let (_, record) = h
        .create(&root, json!({"name": "t", "key_type": "service"}))
        .await;
    let id = record["id"].as_str().unwrap().to_owned();
    // Items: the key write(s), the check that the calling key is still as its
    // request saw it, the event(s), the move of the organization's counts
    // (when they change), and the move of the audit chain's head.
    let cases: [(&str, &str, Option<&str>, usize); 9] = [
        ("POST", "suspend", None, 5),
        ("POST", "suspend", None, 0),
        ("POST", "reactivate", None, 5),
        ("PATCH", "", Some(r#"{"name":"renamed"}"#), 4),
        ("POST", "rotate", Some(r#"{"grace_period_seconds":60}"#), 7),
        ("POST", "revoke", Some(r#"{"reason":"r"}"#), 5),
        ("POST", "revoke", Some(r#"{"reason":"r"}"#), 0),
        ("POST", "reactivate", None, 0),
        ("DELETE", "", None, 5),
    ];
    for (method, verb, body, items) in cases {
        log.clear();
        let path = if verb.is_empty() {
            format!("/v1/api-keys/{id}")
        } else {
            format!("/v1/api-keys/{id}/{verb}")
        };
        let reply = h.call(method, &path, Some(&root), body).await;
        assert!(
            reply.status < 300 || reply.status == 409,
            "{verb}: {:#}",
            reply.body
        );
        let writes: Vec<_> = log
            .calls()
            .into_iter()
            .filter(|c| c.operation != "GetItem" && c.operation != "Query")
            .collect();
        if items == 0 {
            assert!(writes.is_empty(), "{verb} again writes nothing: {writes:?}");
            continue;
        }
        assert_eq!(writes.len(), 1, "{verb}: one write call: {writes:?}");
        assert_eq!(writes[0].operation, "TransactWriteItems", "{verb}");
        // Every item is conditional but the counts' move: an ADD, which
        // commutes, written only with the rest of the transaction, whose
        // head is conditional (a rename changes no count and has none).
        let counted = usize::from(method != "PATCH");
        assert_eq!(
            (writes[0].transact_items, writes[0].conditional_items),
            (items, items - counted),
            "{method} {verb}: the key writes, the events and the head, every one conditional"
        );
        let reads: Vec<_> = log
            .calls()
            .into_iter()
            .filter(|c| c.operation == "GetItem")
            .collect();
        // Reads: the key (and, for a delete, the key it replaced), then the
        // organization's chain head, each strongly consistent.
        assert!(reads.iter().all(|c| c.consistent_read), "{reads:?}");
        assert_eq!(
            reads
                .iter()
                .filter(|c| c.table.as_deref() == Some(audit_table.as_str()))
                .count(),
            1,
            "{verb}: one read of the chain head: {reads:?}"
        );
        assert!(
            reads.iter().all(|c| c.table.as_deref() == Some(&keys_table)
                || c.table.as_deref() == Some(audit_table.as_str())),
            "{reads:?}"
        );
    }
}

/// Each audit filter is one `Query` on its own index, newest first,
/// never a `Scan`.
#[tokio::test]
async fn each_audit_filter_is_one_query() {
    let (store, log) = fresh_dynamodb_store().await;
    let audit_table = store.tables().audit;
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let root_id = id_of(&root);
    let (_, created) = h.create_scoped(&root, &["runs:read"]).await;
    let created_id = created["id"].as_str().unwrap().to_owned();
    let since = "since=2020-01-01T00:00:00Z&until=9999-01-01T00:00:00Z";
    for (query, index, action) in [
        (String::new(), None, "create"),
        (
            format!("key_id={root_id}"),
            Some(INDEX_EVENTS_BY_KEY),
            "bootstrap",
        ),
        (
            "action=bootstrap".to_owned(),
            Some(INDEX_EVENTS_BY_ACTION),
            "bootstrap",
        ),
        (
            format!("key_id={root_id}&action=bootstrap"),
            Some(INDEX_EVENTS_BY_KEY_ACTION),
            "bootstrap",
        ),
        (
            format!("actor_key_id={root_id}"),
            Some(INDEX_EVENTS_BY_ACTOR),
            "create",
        ),
        (
            format!("actor_key_id={root_id}&action=create"),
            Some(INDEX_EVENTS_BY_ACTOR_ACTION),
            "create",
        ),
        (since.to_owned(), None, "create"),
        (
            format!("key_id={created_id}&{since}"),
            Some(INDEX_EVENTS_BY_KEY),
            "create",
        ),
    ] {
        // Warm the authorizer's last-use write out of the count.
        assert!(h.authorize(&root, "GET /v1/audit-events").await);
        log.clear();
        let reply = h
            .call(
                "GET",
                &format!("/v1/audit-events?limit=1&{query}"),
                Some(&root),
                None,
            )
            .await;
        assert_eq!(reply.status, 200, "{:#}", reply.body);
        assert_eq!(reply.body["data"][0]["action"], action, "{query}");
        let queries: Vec<_> = log
            .calls()
            .into_iter()
            .filter(|c| c.operation == "Query")
            .collect();
        assert_eq!(queries.len(), 1, "{query}: {:?}", log.calls());
        assert_eq!(queries[0].table.as_deref(), Some(audit_table.as_str()));
        assert_eq!(queries[0].index.as_deref(), index, "{query}");
        assert_eq!(log.count("Scan"), 0);
    }
}

/// No 12-character window of a key's secret in any raw item of either table,
/// and events carry a TTL only when a retention is set.
#[tokio::test]
async fn nothing_secret_at_rest_and_events_expire_by_ttl() {
    let (store, _) = fresh_dynamodb_store().await;
    let raw = keygate_tests::dynamodb_client().await;
    let Tables {
        keys: keys_table,
        audit: audit_table,
    } = store.tables();
    let h = Harness::new(store.with_audit_retention(Some(400)));
    let root = h.root_key("acme").await;
    let (key, record) = h
        .create(&root, json!({"name": "k", "key_type": "service"}))
        .await;
    let rotated = h
        .act(&root, record["id"].as_str().unwrap(), "rotate", Some("{}"))
        .await;
    let successor = rotated.body["key"].as_str().unwrap().to_owned();
    let mut dump = String::new();
    for table in [&keys_table, &audit_table] {
        let items = raw
            .scan()
            .table_name(table.as_str())
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default();
        assert!(!items.is_empty(), "{table}");
        dump.push_str(&format!("{items:?}"));
        if table == &audit_table {
            // Events expire; the chain head of each organization does not.
            let is_head = |item: &&std::collections::HashMap<String, AttributeValue>| matches!(item.get("org_id"), Some(AttributeValue::S(o)) if o.ends_with("#chain"));
            assert_eq!(items.iter().filter(is_head).count(), 1, "one org, one head");
            for item in items.iter().filter(|i| !is_head(i)) {
                let (Some(AttributeValue::N(at)), Some(AttributeValue::N(purge))) =
                    (item.get("at"), item.get(EVENT_TTL_ATTRIBUTE))
                else {
                    panic!("event without a TTL: {item:?}");
                };
                let (at, purge): (i64, i64) = (at.parse().unwrap(), purge.parse().unwrap());
                assert_eq!(purge - at, 400 * 86_400);
            }
        }
    }
    assert_no_secret(dump.as_bytes(), &[&root, &key, &successor], "raw items");
    assert!(
        dump.contains("secret_hash"),
        "the hash is there, the secret is not"
    );
    let ttl = raw
        .describe_time_to_live()
        .table_name(&audit_table)
        .send()
        .await
        .unwrap();
    let ttl = ttl.time_to_live_description.unwrap();
    assert_eq!(ttl.attribute_name(), Some(EVENT_TTL_ATTRIBUTE));
}

/// What a compromised function could do with PutItem on the audit table
/// (IAM cannot forbid overwriting) is evident: an event rewritten is
/// reported where it happened; an event removed, as the gap it leaves.
#[tokio::test]
async fn tampering_with_the_audit_table_is_evident() {
    use keygate::app::VerifyError;
    use keygate::domain::audit::chain::Broken;
    let (store, _) = fresh_dynamodb_store().await;
    let audit_table = store.tables().audit;
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    for i in 0..3 {
        let (_, created) = h
            .create(
                &root,
                json!({"name": format!("k{i}"), "key_type": "service"}),
            )
            .await;
        let id = created["id"].as_str().unwrap();
        assert_eq!(h.act(&root, id, "suspend", None).await.status, 200);
    }
    let acme = keygate_tests::contract::org("acme");
    let verified = h
        .app
        .verify_audit(&acme, None, None)
        .await
        .expect("untouched");
    assert_eq!(verified.head.seq, 7);
    let raw = keygate_tests::dynamodb_client().await;
    let item_at = |items: &[std::collections::HashMap<String, AttributeValue>], seq: &str| {
        items
            .iter()
            .find(|i| i.get("seq") == Some(&AttributeValue::N(seq.into())))
            .cloned()
            .expect("an event at that place")
    };
    let items = raw
        .scan()
        .table_name(&audit_table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    // Rewritten: event 3 made to say another key was its target's name.
    let original = item_at(&items, "3");
    let mut forged = original.clone();
    forged.insert("key_name".into(), AttributeValue::S("someone else".into()));
    raw.put_item()
        .table_name(&audit_table)
        .set_item(Some(forged))
        .send()
        .await
        .unwrap();
    let broken = h.app.verify_audit(&acme, None, None).await.unwrap_err();
    assert!(
        matches!(broken, VerifyError::Broken(Broken::Altered { seq: 3, .. })),
        "{broken}"
    );
    // Put back, then event 5 removed.
    raw.put_item()
        .table_name(&audit_table)
        .set_item(Some(original))
        .send()
        .await
        .unwrap();
    let fifth = item_at(&items, "5");
    raw.delete_item()
        .table_name(&audit_table)
        .key("org_id", fifth["org_id"].clone())
        .key("id", fifth["id"].clone())
        .send()
        .await
        .unwrap();
    let broken = h.app.verify_audit(&acme, None, None).await.unwrap_err();
    assert!(
        matches!(
            broken,
            VerifyError::Broken(Broken::Missing { from: 5, to: 5 })
        ),
        "{broken}"
    );
}

/// With a lease of 4, one conditional write counts 4 requests, and the
/// process that made it admits the next 3 without writing: about a quarter
/// of the writes, and still never one over the limit, across 4 processes
/// (each its own store, client and leases) taking turns, one request at a
/// time each, as Lambda runs them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_writes_once_per_four_requests_and_never_passes_the_limit() {
    use keygate::app::App;
    use keygate::domain::key::KeyFormat;
    use keygate::store::DynamoDbStore;
    use keygate::store::dynamodb::client_config;

    let (store, log) = fresh_dynamodb_store().await;
    let tables = store.tables();
    let h = Harness::new(store);
    let root = h.root_key("acme").await;
    let (key, _) = h
        .create(
            &root,
            json!({"name": "leased", "key_type": "service",
                "limits": {"rate": {"requests": 100, "window_seconds": 3600}}}),
        )
        .await;
    // The key's first use writes last_used_at; leave that out.
    assert!(h.authorize(&key, "GET /v1/runs/{id}").await);
    let mut apps = vec![];
    for _ in 0..4 {
        let config = client_config(
            Some(&keygate_tests::dynamodb_endpoint()),
            keygate_tests::moto_timeouts(),
        )
        .await
        .interceptor(log.clone());
        let client = aws_sdk_dynamodb::Client::from_conf(config.build());
        let store = DynamoDbStore::new(client, &tables).with_usage_lease(4);
        apps.push(App::new(store, KeyFormat::default()).with_clock(h.clock.clone()));
    }
    log.clear();
    let event = authorizer_event(&key, "GET /v1/runs/{id}");
    let mut allowed = 1;
    for _ in 0..30 {
        for app in &apps {
            allowed += usize::from(
                keygate::http::authorizer::authorize(app, &event)
                    .await
                    .is_authorized,
            );
        }
    }
    assert_eq!(
        allowed, 100,
        "every reserved token spent, none over the limit"
    );
    let writes = log.count("UpdateItem");
    assert!(
        writes * 2 < allowed,
        "{writes} conditional writes (failed ones included) for {allowed} admitted"
    );
}

/// Tables from before searches and counts (key items without their sort
/// keys, no counts item) are made findable and counted by `upgrade`, and a
/// second run finds nothing left to do; a key that changes meanwhile is
/// found all the same.
#[tokio::test]
async fn upgrade_makes_older_keys_findable_and_counts_them() {
    let (store, _) = fresh_dynamodb_store().await;
    let raw = keygate_tests::dynamodb_client().await;
    let keys_table = store.tables().keys;
    let h = Harness::new(store.clone());
    let root = h.root_key("acme").await;
    let (_, a) = h.create_scoped(&root, &["runs:read"]).await;
    let (_, b) = h
        .create(
            &root,
            json!({"name": "ci-old", "key_type": "user", "owner": "ada",
                              "permissions": ["runs:read"]}),
        )
        .await;
    h.act(&root, b["id"].as_str().unwrap(), "suspend", None)
        .await;
    let other = h.root_key("other").await;
    // Back to how an earlier keygate left the table.
    for id in [
        id_of(&root),
        id_of(&other),
        a["id"].as_str().unwrap().to_owned(),
        b["id"].as_str().unwrap().to_owned(),
    ] {
        raw.update_item()
            .table_name(&keys_table)
            .key("id", AttributeValue::S(id))
            .update_expression("REMOVE name_key, type_key")
            .send()
            .await
            .unwrap();
    }
    for org in ["acme#counts", "other#counts"] {
        raw.delete_item()
            .table_name(&keys_table)
            .key("id", AttributeValue::S(org.into()))
            .send()
            .await
            .unwrap();
    }
    let search = |query: &'static str| {
        let h = &h;
        let root = root.clone();
        async move {
            h.call("GET", &format!("/v1/api-keys?{query}"), Some(&root), None)
                .await
                .body
        }
    };
    assert_eq!(
        search("name=ci").await["data"],
        json!([]),
        "not findable yet"
    );
    assert!(
        search("status=all").await["counts"].is_null(),
        "not counted yet"
    );

    let upgraded = store.upgrade().await.unwrap();
    assert_eq!((upgraded.indexed, upgraded.already), (4, 0));
    assert_eq!(upgraded.counted.len(), 2);
    assert!(upgraded.uncounted.is_empty());
    let found = search("name=ci").await;
    assert_eq!(found["data"][0]["id"], b["id"]);
    assert_eq!(
        search("key_type=user&owner=ADA").await["data"][0]["id"],
        b["id"]
    );
    assert_eq!(
        found["counts"],
        json!({"all": 3, "active": 2, "suspended": 1, "revoked": 0})
    );
    // Counted exactly: later changes keep them right.
    h.act(
        &root,
        a["id"].as_str().unwrap(),
        "revoke",
        Some(r#"{"reason":"r"}"#),
    )
    .await;
    assert_eq!(
        search("status=all").await["counts"],
        json!({"all": 3, "active": 1, "suspended": 1, "revoked": 1})
    );
    let me = h
        .call(
            "GET",
            &format!("/v1/api-keys/{}", id_of(&root)),
            Some(&root),
            None,
        )
        .await;
    assert_eq!(me.body["last_active_full_access"], json!(true));
    let again = store.upgrade().await.unwrap();
    assert_eq!((again.indexed, again.already), (0, 4));
}
