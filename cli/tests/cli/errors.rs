//! Errors that help: enumerated options are checked before any call and
//! list their values (which shell completion offers too); a 403 says which
//! scope the call needed and what is wrong with the key; a mistyped scope
//! or preset gets the nearest catalog entry; a missing key is named.

use std::collections::BTreeSet;

use crate::common::{
    KEYGATE, Server, json, json_response, keygate, recorder, request, stderr, stdout,
};

/// The values clap lists for an invalid one of `args`' last option.
fn possible_values(stderr: &str) -> BTreeSet<String> {
    let list = stderr
        .split("[possible values: ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no possible values in {stderr}"));
    list.split(", ").map(str::to_owned).collect()
}

#[test]
fn enumerated_options_are_usage_errors_before_any_call() {
    // Nothing may reach the API: every answer would be a 500.
    let (api, log) = recorder(json_response(500, r#"{"message":"unexpected"}"#));
    let url = format!("http://{api}");
    let key = "kg_0354eiuPHXWwV73zzxesBlhD6ik0W9pzZ9GEDnMr9XJAUyddFxshFAHK3IY1UQoC6";
    let cases: [(&[&str], &[&str]); 9] = [
        (
            &["keys", "list", "--status", "bogus"],
            &["all", "active", "suspended", "revoked"],
        ),
        (
            &["keys", "create", "--name", "x", "--type", "robot"],
            &["service", "user"],
        ),
        (
            &["audit", "--action", "nope"],
            &[
                "create",
                "rotate",
                "suspend",
                "reactivate",
                "revoke",
                "delete",
                "bootstrap",
            ],
        ),
        (
            &["keys", "create", "--name", "x", "--expires-at", "soon"],
            &["2030-01-31", "30d"],
        ),
        (
            &[
                "keys",
                "create",
                "--name",
                "x",
                "--expires-at",
                "2020-01-31",
            ],
            &["in the past"],
        ),
        (
            &[
                "keys",
                "create",
                "--name",
                "x",
                "--expires-at",
                "2030-02-31",
            ],
            &["2030-01-31"],
        ),
        (&["keys", "list", "--limit", "0"], &["1..=100"]),
        (&["audit", "--limit", "101"], &["1..=100"]),
        (
            &["keys", "rotate", "0354eiuPHXWwV73zzxesBl", "--grace", "8d"],
            &["at most 7 days"],
        ),
    ];
    for (args, expected) in cases {
        let out = keygate(&url, key, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        for value in expected {
            assert!(err.contains(value), "{args:?} names {value}: {err}");
        }
    }
    assert!(log.lock().unwrap().is_empty(), "no call was made");

    // Completion scripts offer the same values.
    let bash = stdout(
        &std::process::Command::new(KEYGATE)
            .args(["completions", "bash"])
            .output()
            .unwrap(),
    );
    for values in [
        "all active suspended revoked",
        "service user",
        "create rotate suspend reactivate revoke delete bootstrap",
    ] {
        assert!(bash.contains(values), "bash completes {values}");
    }
}

#[test]
fn the_command_lines_values_are_the_apis() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let document = request("GET", &format!("{}/openapi.json", server.url), None, None).body;
    let enum_of = |schema: &serde_json::Value| -> BTreeSet<String> {
        schema["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("no enum in {schema}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let status = document["paths"]["/v1/api-keys"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "status")
        .unwrap()["schema"]
        .clone();
    let schemas = &document["components"]["schemas"];
    for (args, api) in [
        (vec!["keys", "list", "--status", "?"], enum_of(&status)),
        (
            vec!["keys", "create", "--name", "x", "--type", "?"],
            enum_of(&schemas["KeyType"]),
        ),
        (
            vec!["audit", "--action", "?"],
            enum_of(&schemas["AuditAction"]),
        ),
    ] {
        let out = keygate(&server.url, &root, &args);
        assert_eq!(possible_values(&stderr(&out)), api, "{args:?}");
    }
    server.stop();
}

#[test]
fn expiry_is_a_time_a_date_or_a_duration_from_now() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let run = |args: &[&str]| keygate(&server.url, &root, args);
    let expiry = |when: &str| {
        let created = json(&run(&[
            "keys",
            "create",
            "--name",
            when,
            "--expires-at",
            when,
            "--json",
        ]));
        created["expires_at"].as_str().unwrap().to_owned()
    };
    assert_eq!(expiry("2030-01-31"), "2030-01-31T00:00:00Z", "midnight UTC");
    assert_eq!(expiry("2030-01-31T12:30:00Z"), "2030-01-31T12:30:00Z");
    assert_eq!(expiry("2030-01-31T02:00:00+02:00"), "2030-01-31T00:00:00Z");
    assert!(expiry("30d").ends_with('Z'));
    let list = stdout(&run(&["keys", "list"]));
    let row = |name: &str| list.lines().find(|l| l.contains(name)).unwrap().to_owned();
    assert!(row(" 30d ").contains("in 4 weeks"), "{list}");
    assert!(
        run(&["keys", "create", "--name", "3d", "--expires-at", "3d"])
            .status
            .success()
    );
    let list = stdout(&run(&["keys", "list"]));
    assert!(
        list.lines()
            .any(|l| l.contains(" 3d ") && l.contains("in 3 days")),
        "{list}"
    );
    server.stop();
}

#[test]
fn a_refused_key_is_told_why() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let url = server.url.clone();
    let create = |name: &str, scopes: &str| {
        let created = json(&keygate(
            &url,
            &root,
            &[
                "keys", "create", "--name", name, "--scopes", scopes, "--json",
            ],
        ));
        (
            created["key"].as_str().unwrap().to_owned(),
            created["id"].as_str().unwrap().to_owned(),
        )
    };
    let (reader, reader_id) = create("reader", "api-keys:read,runs:read");
    let (runner, runner_id) = create("runner", "runs:read");
    // The refusal of `key`, which is `real` (itself, or mistyped from it).
    let refusal_of = |key: &str, real: &str, args: &[&str]| {
        let out = keygate(&url, key, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert!(stdout(&out).is_empty());
        let err = stderr(&out);
        assert!(err.starts_with("keygate: 403 Forbidden: "), "{err}");
        keygate_tests::assert_no_secret(&out.stderr, &[real], "a refusal");
        err
    };
    let refusal = |key: &str, args: &[&str]| refusal_of(key, key, args);

    // It can read its own record: the scope it lacks, and those it holds.
    let err = refusal(&reader, &["keys", "create", "--name", "x"]);
    assert!(
        err.contains(&format!(
            "this key ({reader_id}, \"reader\") lacks api-keys:write, which create-key needs"
        )),
        "{err}"
    );
    assert!(err.contains("it holds api-keys:read runs:read"), "{err}");
    let err = refusal(&reader, &["keys", "delete", &runner_id, "--yes"]);
    assert!(
        err.contains("lacks api-keys:delete, which delete-key needs"),
        "{err}"
    );

    // It cannot read itself: what the call needs.
    let err = refusal(&runner, &["keys", "list"]);
    assert!(
        err.contains(&format!(
            "this key ({runner_id}) lacks api-keys:read, which list-keys needs"
        )),
        "{err}"
    );
    let err = refusal(&runner, &["whoami"]);
    assert!(
        err.contains("lacks api-keys:read, which get-key needs"),
        "{err}"
    );
    let err = refusal(&runner, &["keys", "suspend", &reader_id]);
    assert!(
        err.contains("lacks api-keys:write, which suspend-key needs")
            && err.contains("cannot read its own record"),
        "{err}"
    );

    // Suspended, revoked or deleted: the API refuses it everywhere.
    assert!(
        keygate(&url, &root, &["keys", "suspend", &runner_id])
            .status
            .success()
    );
    let err = refusal(&runner, &["keys", "list"]);
    assert!(
        err.contains("refuses this key") && err.contains("suspended"),
        "{err}"
    );
    // A mistyped key is told apart by its checksum.
    let mut mistyped = reader.clone();
    let last = mistyped.pop().unwrap();
    mistyped.push(if last == 'a' { 'b' } else { 'a' });
    let err = refusal_of(&mistyped, &reader, &["keys", "list"]);
    assert!(err.contains("checksum"), "{err}");
    server.stop();
}

#[test]
fn a_mistyped_scope_or_preset_gets_the_nearest_and_a_missing_key_is_named() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let run = |args: &[&str]| keygate(&server.url, &root, args);

    let out = run(&[
        "keys",
        "create",
        "--name",
        "x",
        "--scopes",
        "runs:raed,api-keys:read,runs:fly,bogus:read",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("\"runs:raed\" is not a scope: did you mean runs:read?"),
        "{err}"
    );
    assert!(
        err.contains("\"runs:fly\" is not a scope: runs has runs:read, runs:write"),
        "{err}"
    );
    assert!(err.contains("\"bogus:read\" is not a scope"), "{err}");
    assert!(
        !err.contains("\"api-keys:read\" is not"),
        "a known scope is not flagged: {err}"
    );

    let out = run(&["keys", "create", "--name", "x", "--preset", "read-only"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("did you mean read_only?"),
        "{}",
        stderr(&out)
    );

    // The API does not repeat an id it cannot find; the CLI does.
    let missing = "0354eiuPHXWwV73zzxesBl";
    for args in [
        vec!["keys", "get", missing],
        vec!["keys", "suspend", missing],
        vec!["keys", "delete", missing, "--yes"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr(&out).contains(&format!(
                "404 not_found: no API key {missing} in your organization"
            )),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    server.stop();
}
