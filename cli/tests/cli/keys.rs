//! Every `keygate keys` / `keygate scopes` subcommand against a running
//! `keygate serve`: readable output, `--json` that parses, exit codes.

use crate::common::{Server, is_full_key, json, keygate, keygate_in, stderr, stdout};

#[test]
fn every_subcommand_against_a_running_server() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let url = server.url.clone();
    let run = |args: &[&str]| keygate(&url, &root, args);

    // create: only the key on stdout; the record and a warning on stderr.
    let out = run(&[
        "keys",
        "create",
        "--name",
        "ci",
        "--scopes",
        "runs:read,runs:write",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let key = text.trim_end().to_owned();
    assert!(is_full_key(&key), "{text}");
    assert_eq!(text, format!("{key}\n"), "the key is printed exactly once");
    assert!(stderr(&out).contains("only time"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("runs:read runs:write"),
        "{}",
        stderr(&out)
    );

    let created = json(&run(&[
        "keys",
        "create",
        "--name",
        "ada",
        "--type",
        "user",
        "--owner",
        "ada@example.com",
        "--preset",
        "read_only",
        "--json",
    ]));
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(created["key"].as_str().unwrap().starts_with("kg_"));
    assert_eq!(created["owner"], "ada@example.com");

    // list: a table by default, JSON with --json, filtered by --status.
    let out = run(&["keys", "list"]);
    let table = stdout(&out);
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains(&id) && table.contains("ada"));
    assert_eq!(table.lines().count(), 4, "header + 3 keys: {table}");
    let page = json(&run(&["keys", "list", "--json", "--limit", "2"]));
    assert_eq!(page["data"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = json(&run(&[
        "keys", "list", "--json", "--limit", "2", "--cursor", cursor,
    ]));
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    assert!(rest["next_cursor"].is_null());
    // The "more" hint is a command that works: it keeps --status and --limit.
    let first = stderr(&run(&[
        "keys", "list", "--status", "active", "--limit", "2",
    ]));
    let more = first
        .lines()
        .find_map(|l| l.strip_prefix("more: keygate "))
        .unwrap_or_else(|| panic!("no more hint: {first}"));
    assert!(
        more.contains("--status active") && more.contains("--limit 2"),
        "{more}"
    );
    let args: Vec<&str> = more.split_whitespace().collect();
    let next = run(&args);
    assert!(next.status.success(), "{}", stderr(&next));
    assert_eq!(
        stdout(&next).lines().count(),
        2,
        "header + the third key: {}",
        stdout(&next)
    );

    let got = json(&run(&["keys", "get", &id, "--json"]));
    assert_eq!(got["id"], id);
    assert!(got.get("key").is_none());
    let readable = stdout(&run(&["keys", "get", &id]));
    assert!(
        readable.contains("status") && readable.contains("active"),
        "{readable}"
    );

    assert_eq!(
        json(&run(&["keys", "suspend", &id, "--json"]))["status"],
        "suspended"
    );
    let suspended = json(&run(&["keys", "list", "--status", "suspended", "--json"]));
    assert_eq!(suspended["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        json(&run(&["keys", "reactivate", &id, "--json"]))["status"],
        "active"
    );

    // revoke needs --reason (a usage error, before any call).
    let out = run(&["keys", "revoke", &id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--reason"));
    assert_eq!(
        json(&run(&["keys", "get", &id, "--json"]))["status"],
        "active"
    );
    let revoked = json(&run(&[
        "keys",
        "revoke",
        &id,
        "--reason",
        "left the company",
        "--yes",
        "--json",
    ]));
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["revoked_reason"], "left the company");

    // API errors: non-zero exit and the API's message.
    let out = run(&["keys", "reactivate", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("409") && stderr(&out).contains("revoked"),
        "{}",
        stderr(&out)
    );
    let out = run(&["keys", "create", "--name", "x", "--scopes", "runs:fly"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("runs:fly"), "{}", stderr(&out));
    let out = run(&["keys", "list", "--status", "bogus"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(stderr(&out).contains("status"));

    // rotate: the new key once on stdout, the old one revoked or in grace.
    let out = run(&[
        "keys",
        "create",
        "--name",
        "rotating",
        "--scopes",
        "runs:read",
        "--json",
    ]);
    let rotating = json(&out)["id"].as_str().unwrap().to_owned();
    let out = run(&[
        "keys",
        "rotate",
        &rotating,
        "--grace",
        "1h",
        "--reason",
        "scheduled",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let new_key = stdout(&out).lines().last().unwrap().to_owned();
    assert!(is_full_key(&new_key));
    assert!(
        stderr(&out).contains("keeps working for 1 hour;"),
        "{}",
        stderr(&out)
    );
    let old = json(&run(&["keys", "get", &rotating, "--json"]));
    assert_eq!(old["status"], "active");
    assert!(old["rotated_to"].is_string() && old["expires_at"].is_string());
    let out = run(&["keys", "rotate", &rotating]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("409") && stderr(&out).contains("already rotated"));
    let out = run(&["keys", "rotate", &rotating, "--grace", "8d"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a usage error: {}",
        stderr(&out)
    );

    // audit: a table by default, JSON with --json, filters.
    let events = stdout(&run(&["audit", "--key", &rotating]));
    assert!(events.starts_with("TIME"), "{events}");
    assert!(
        events.contains("rotate") && events.contains("create"),
        "{events}"
    );
    assert!(events.contains("scheduled"));
    let page = json(&run(&["audit", "--action", "rotate", "--json"]));
    assert_eq!(page["data"].as_array().unwrap().len(), 1);
    let out = run(&["audit", "--action", "nope"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(stderr(&out).contains("action"));

    // whoami: the calling key's own record.
    let me = json(&run(&["whoami", "--json"]));
    assert_eq!(me["name"], "root");
    assert_eq!(me["scopes"], serde_json::json!(["*"]));
    let out = keygate(&url, "not-a-key", &["whoami"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("not a keygate key"));

    let out = run(&["keys", "delete", &id, "--yes"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains(&id));
    let out = run(&["keys", "get", &id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("404"));

    let scopes = stdout(&run(&["scopes"]));
    assert!(
        scopes.contains("conversations:submit") && scopes.contains("run_evaluations"),
        "{scopes}"
    );
    let catalog = json(&run(&["scopes", "--json"]));
    assert_eq!(catalog["resources"].as_array().unwrap().len(), 13);

    // A key without api-keys scopes is refused by the gateway.
    let limited = created["key"].as_str().unwrap();
    let out = keygate(&url, limited, &["keys", "create", "--name", "nope"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Forbidden") && !stderr(&out).contains("insufficient_scope"),
        "the gateway's 403, not the handler's: {}",
        stderr(&out)
    );
    let out = keygate(&url, "kg_wrong", &["keys", "list"]);
    assert!(stderr(&out).contains("Forbidden"), "{}", stderr(&out));
    server.stop();
}

/// `keys rename` and `keys edit` change a key's name and description (by
/// its id or its name), and nothing else; asking for no change, or for a
/// description and none at once, is a usage error.
#[test]
fn rename_and_edit_change_only_the_labels() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let url = server.url.clone();
    let run = |args: &[&str]| keygate(&url, &root, args);

    let created = json(&run(&[
        "keys",
        "create",
        "--name",
        "ci",
        "--scopes",
        "runs:read",
        "--json",
    ]));
    let id = created["id"].as_str().unwrap().to_owned();

    let out = run(&["keys", "rename", "ci", "ci-deployer"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("ci-deployer"), "{}", stdout(&out));
    let edited = json(&run(&[
        "keys",
        "edit",
        "ci-deployer",
        "--description",
        "Deploys from CI",
        "--json",
    ]));
    assert_eq!(edited["id"], id);
    assert_eq!(edited["name"], "ci-deployer");
    assert_eq!(edited["description"], "Deploys from CI");
    assert_eq!(edited["scopes"], serde_json::json!(["runs:read"]));
    let cleared = json(&run(&["keys", "edit", &id, "--no-description", "--json"]));
    assert!(cleared["description"].is_null(), "{cleared}");

    for args in [
        vec!["keys", "edit", id.as_str()],
        vec![
            "keys",
            "edit",
            &id,
            "--description",
            "a",
            "--no-description",
        ],
        vec!["keys", "rename", &id],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    }
    // Bad input is the API's 400, naming the field.
    let out = run(&["keys", "rename", &id, ""]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("name:"), "{}", stderr(&out));

    let page = json(&run(&[
        "audit", "--key", &id, "--action", "update", "--json",
    ]));
    let updates = page["data"].as_array().unwrap();
    assert_eq!(updates.len(), 3, "rename, describe, clear: {page}");
    assert_eq!(updates[2]["changes"][0]["before"], "ci");
    assert_eq!(updates[2]["changes"][0]["after"], "ci-deployer");
    server.stop();
}

/// `keys list` finds keys by the start of a name, or by type and owner,
/// says how many keys the organization has, and its "more" hint keeps the
/// search; a key named by its name is found by the API's name search; and
/// `audit` names who acted and filters by actor and time.
#[test]
fn list_finds_keys_and_audit_filters_by_actor_and_time() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let url = server.url.clone();
    let run = |args: &[&str]| keygate(&url, &root, args);
    for name in ["ci deployer", "CI runner", "ci lint", "docs"] {
        let out = run(&["keys", "create", "--name", name, "--scopes", "runs:read"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let ada = json(&run(&[
        "keys",
        "create",
        "--name",
        "laptop",
        "--type",
        "user",
        "--owner",
        "ada@example.com",
        "--scopes",
        "runs:read",
        "--json",
    ]));

    let out = run(&["keys", "list", "--name", "CI", "--limit", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert_eq!(table.lines().count(), 3, "header + 2: {table}");
    assert!(
        table.contains("ci deployer") && table.contains("ci lint"),
        "{table}"
    );
    let notes = stderr(&out);
    assert!(
        notes.contains("6 keys in the organization: 6 active, 0 suspended, 0 revoked"),
        "{notes}"
    );
    let more = notes
        .lines()
        .find_map(|l| l.strip_prefix("more: keygate "))
        .unwrap_or_else(|| panic!("no more hint: {notes}"));
    assert!(more.contains("--name CI"), "{more}");
    let args: Vec<&str> = more.split_whitespace().collect();
    let rest = stdout(&run(&args));
    assert!(
        rest.contains("CI runner") && rest.lines().count() == 2,
        "{rest}"
    );

    let users = json(&run(&["keys", "list", "--type", "user", "--json"]));
    assert_eq!(users["data"].as_array().unwrap().len(), 1);
    assert_eq!(users["data"][0]["id"], ada["id"]);
    let owned = json(&run(&[
        "keys",
        "list",
        "--owner",
        "ADA@example.com",
        "--json",
    ]));
    assert_eq!(owned["data"][0]["id"], ada["id"]);
    assert_eq!(owned["counts"]["all"], 6);
    let out = run(&["keys", "list", "--name", "ci", "--type", "user"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "name with type is a usage error"
    );

    // Named by its name: found among the keys whose name starts so.
    let got = json(&run(&["keys", "get", "ci lint", "--json"]));
    assert_eq!(got["name"], "ci lint");
    let out = run(&["keys", "get", "ci"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no key named"), "{}", stderr(&out));

    // audit: who acted, by name; by actor; by time.
    let out = run(&["keys", "rename", "docs", "docs bot"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let events = stdout(&keygate_in(
        160,
        &url,
        &root,
        &["audit", "--action", "update"],
    ));
    assert!(events.contains("root kg_"), "BY names the actor: {events}");
    assert!(events.contains("name: docs -> docs bot"), "{events}");
    let by_root = json(&run(&[
        "audit", "--actor", "root", "--json", "--limit", "100",
    ]));
    assert_eq!(
        by_root["data"].as_array().unwrap().len(),
        6,
        "5 creates, a rename"
    );
    let recent = json(&run(&[
        "audit", "--since", "1h", "--json", "--limit", "100",
    ]));
    assert_eq!(
        recent["data"].as_array().unwrap().len(),
        7,
        "and the bootstrap"
    );
    let none = json(&run(&["audit", "--until", "2020-01-01", "--json"]));
    assert_eq!(none["data"], serde_json::json!([]));
    let out = run(&["audit", "--since", "someday"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["audit", "--key", "docs bot", "--actor", "root"]);
    assert_eq!(out.status.code(), Some(2), "by key or by actor");
    server.stop();
}
