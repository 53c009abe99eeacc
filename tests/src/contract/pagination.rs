//! Listing keys: exact pages, newest first, for every status filter, with a
//! cursor bound to its organization and filter.

use std::collections::HashSet;

use keygate::domain::record::KeyStatus;
use keygate::store::Store;
use serde_json::json;

use super::id;
use crate::{Harness, id_of};

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
