//! The CLI in scripts: stdout carries only what a script captures (the new
//! key, the table), everything for people goes to stderr; destructive
//! commands ask on a terminal and need `--yes` elsewhere; a key is named by
//! its id or its exact name.

use crate::common::{
    Server, answering, is_full_key, json, keygate, keygate_command, request, stderr, stdout,
};

fn assert_only_a_key(stdout: &str) -> String {
    let key = stdout.trim_end();
    assert!(is_full_key(key), "stdout is only the key: {stdout:?}");
    assert_eq!(stdout, format!("{key}\n"), "one line");
    key.to_owned()
}

#[test]
fn create_and_rotate_print_only_the_key_on_stdout() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let run = |args: &[&str]| keygate(&server.url, &root, args);

    let out = run(&[
        "keys",
        "create",
        "--name",
        "deployer",
        "--scopes",
        "runs:read",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = assert_only_a_key(&stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("deployer") && err.contains("runs:read"),
        "the record on stderr: {err}"
    );
    assert!(err.contains("only time"), "{err}");
    assert!(!err.contains(&key), "the key is not on stderr too");
    let id = keygate_tests::id_of(&key);
    assert!(err.contains(&id), "{err}");

    // The key captured from stdout works.
    let me = request("GET", &format!("{}/v1/runs", server.url), Some(&key), None);
    assert_eq!(me.status, 404, "allowed, no backend");

    let out = run(&["keys", "rotate", "deployer", "--grace", "2h"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let successor = assert_only_a_key(&stdout(&out));
    assert_ne!(successor, key);
    let err = stderr(&out);
    assert!(err.contains("keeps working for 2 hours"), "{err}");
    assert!(!err.contains(&successor));

    // --json: the record and the key, both on stdout, as JSON.
    let created = json(&run(&["keys", "create", "--name", "j", "--json"]));
    assert!(created["key"].as_str().unwrap().starts_with("kg_"));
    assert_eq!(created["name"], "j");
    let rotated = json(&run(&[
        "keys",
        "rotate",
        created["id"].as_str().unwrap(),
        "--json",
    ]));
    assert!(rotated["key"].as_str().unwrap().starts_with("kg_"));
    assert_eq!(rotated["rotated_from"], created["id"]);
    server.stop();
}

#[test]
fn the_next_page_hint_goes_to_stderr() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let run = |args: &[&str]| keygate(&server.url, &root, args);
    for name in ["a", "b"] {
        assert!(run(&["keys", "create", "--name", name]).status.success());
    }

    let out = run(&["keys", "list", "--limit", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out).lines().count(),
        3,
        "header and two keys only: {}",
        stdout(&out)
    );
    assert!(!stdout(&out).contains("more"), "{}", stdout(&out));
    let err = stderr(&out);
    let more = err
        .lines()
        .find_map(|l| l.strip_prefix("more: keygate "))
        .unwrap_or_else(|| panic!("no hint on stderr: {err}"));
    let next = run(&more.split_whitespace().collect::<Vec<_>>());
    assert!(next.status.success(), "{}", stderr(&next));
    assert_eq!(
        stdout(&next).lines().count(),
        2,
        "header and the root key: {}",
        stdout(&next)
    );
    assert!(
        !stderr(&next).contains("more:"),
        "the last page has no hint: {}",
        stderr(&next)
    );
    assert_eq!(
        stderr(&next).trim_end(),
        "3 keys in the organization: 3 active, 0 suspended, 0 revoked",
        "only the organization's count"
    );

    let out = run(&["audit", "--limit", "1"]);
    assert_eq!(stdout(&out).lines().count(), 2, "{}", stdout(&out));
    let err = stderr(&out);
    let more = err
        .lines()
        .find_map(|l| l.strip_prefix("more: keygate "))
        .unwrap_or_else(|| panic!("no hint on stderr: {err}"));
    let next = run(&more.split_whitespace().collect::<Vec<_>>());
    assert!(next.status.success(), "{}", stderr(&next));
    assert_eq!(stdout(&next).lines().count(), 2, "{}", stdout(&next));
    server.stop();
}

#[test]
fn delete_and_revoke_ask_on_a_terminal_and_need_yes_elsewhere() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let run = |args: &[&str]| keygate(&server.url, &root, args);
    let status = |id: &str| {
        let got = run(&["keys", "get", id, "--json"]);
        if got.status.success() {
            json(&got)["status"].as_str().unwrap().to_owned()
        } else {
            "deleted".to_owned()
        }
    };
    let id = json(&run(&["keys", "create", "--name", "doomed", "--json"]))["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // No terminal, no --yes: refused before any change, as a usage error.
    for args in [
        vec!["keys", "delete", id.as_str()],
        vec!["keys", "revoke", id.as_str(), "--reason", "r"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("--yes") && err.contains("not a terminal"),
            "{err}"
        );
        assert!(stdout(&out).is_empty());
        assert_eq!(status(&id), "active", "{args:?} changed nothing");
    }

    // On a terminal: asked, with the key's name; anything but y keeps it.
    let on_terminal =
        |args: &[&str], typed: &str| answering(keygate_command(&server.url, &root, args), typed);
    // Ctrl-D: the end of input, no answer at all.
    for typed in ["n\n", "\n", "whatever\n", "\u{4}"] {
        let out = on_terminal(&["keys", "delete", &id], typed);
        assert_eq!(out.status.code(), Some(1), "{typed:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("Delete key \"doomed\"") && err.contains("[y/N]"),
            "{err}"
        );
        assert!(err.contains("not deleted"), "{err}");
        assert_eq!(status(&id), "active");
    }
    let out = on_terminal(&["keys", "revoke", "doomed", "--reason", "done"], "y\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Revoke key \"doomed\""),
        "{}",
        stderr(&out)
    );
    assert_eq!(status(&id), "revoked");
    let out = on_terminal(&["keys", "delete", &id], "yes\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(status(&id), "deleted");

    // --yes: no question, also on a terminal.
    let other = json(&run(&["keys", "create", "--name", "other", "--json"]))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = on_terminal(&["keys", "delete", &other, "--yes"], "");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("[y/N]"), "{}", stderr(&out));
    assert_eq!(status(&other), "deleted");
    server.stop();
}

#[test]
fn a_key_is_named_by_its_id_or_its_exact_unique_name() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let url = server.url.clone();
    let run = |args: &[&str]| keygate(&url, &root, args);
    let base = format!("{url}/v1/api-keys");
    let create = |name: &str| {
        let body =
            format!(r#"{{"name":"{name}","key_type":"service","permissions":["runs:read"]}}"#);
        let created = request("POST", &base, Some(&root), Some(&body));
        assert_eq!(created.status, 201, "{}", created.body);
        created.body["id"].as_str().unwrap().to_owned()
    };
    // The oldest key is on the second page of 100: names are found on any page.
    let oldest = create("the oldest");
    for i in 0..100 {
        create(&format!("filler {i}"));
    }
    let twin_a = create("twin");
    let twin_b = create("twin");

    let got = json(&run(&["keys", "get", "the oldest", "--json"]));
    assert_eq!(got["id"], oldest);
    let suspended = json(&run(&["keys", "suspend", "the oldest", "--json"]));
    assert_eq!(suspended["status"], "suspended");
    assert_eq!(
        json(&run(&["keys", "reactivate", &oldest, "--json"]))["status"],
        "active"
    );
    let events = json(&run(&["audit", "--key", "the oldest", "--json"]));
    assert_eq!(
        events["data"].as_array().unwrap().len(),
        3,
        "create, suspend, reactivate"
    );

    // Two keys of one name: an error naming both ids.
    let out = run(&["keys", "get", "twin"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains(&twin_a) && err.contains(&twin_b), "{err}");
    assert!(err.contains("2 keys are named \"twin\""), "{err}");

    let out = run(&["keys", "get", "nobody"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no key named \"nobody\""),
        "{}",
        stderr(&out)
    );
    // Names are exact: no prefix or case-insensitive match.
    let out = run(&["keys", "get", "The Oldest"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // A full key where a key belongs: refused without repeating it.
    let out = run(&["keys", "get", &root]);
    assert_eq!(out.status.code(), Some(2));
    keygate_tests::assert_no_secret(&out.stderr, &[&root], "the refusal");
    assert!(
        stderr(&out).contains(&keygate_tests::id_of(&root)),
        "{}",
        stderr(&out)
    );
    server.stop();
}
