//! Output fits the terminal: `COLUMNS`, or 100 columns when standard output
//! is not a terminal. Lists cut their widest column with "…" and summarize
//! permissions; the scope catalog wraps instead, losing nothing.

use std::collections::BTreeSet;

use crate::common::{Server, assert_fits, json, keygate, keygate_in, stderr, stdout};

const LONG_NAME: &str =
    "a key for the nightly evaluation runs of the agents that upload conversations";

#[test]
fn keys_list_audit_scopes_and_records_fit_the_terminal() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let url = server.url.clone();
    let run = |args: &[&str]| keygate(&url, &root, args);

    let many = "runs:read,runs:write,agents:read,agents:write,metrics:read,traces:read,\
                traces:write,dashboards:read";
    for args in [
        vec!["keys", "create", "--name", LONG_NAME, "--scopes", many],
        vec![
            "keys",
            "create",
            "--name",
            "reader",
            "--preset",
            "read_only",
        ],
        vec!["keys", "create", "--name", "one", "--scopes", "runs:read"],
        vec![
            "keys",
            "create",
            "--name",
            "鍵の名前とても長い名前です",
            "--type",
            "user",
        ],
    ] {
        let mut args = args;
        if args.contains(&"user") {
            args.extend(["--owner", "ada@example.com"]);
        }
        let out = run(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let rotating = json(&run(&["keys", "create", "--name", "rotating", "--json"]));
    let rotating = rotating["id"].as_str().unwrap().to_owned();
    let out = run(&[
        "keys",
        "rotate",
        &rotating,
        "--grace",
        "1h",
        "--reason",
        "a reason that is long enough to be cut in a narrow terminal",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Not a terminal and no COLUMNS: 100 columns.
    let list = stdout(&run(&["keys", "list"]));
    assert_fits(&list, 100);
    let header = list.lines().next().unwrap();
    for column in [
        "ID",
        "NAME",
        "STATUS",
        "PERMISSIONS",
        "HINT",
        "EXPIRES",
        "LAST USED",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(!list.contains(LONG_NAME), "the long name is cut: {list}");
    assert!(list.contains("a key for the"), "{list}");
    assert!(list.contains('…'), "{list}");
    let row = |name: &str| {
        list.lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no row for {name}: {list}"))
            .to_owned()
    };
    assert!(row("root").contains("Full access"), "{list}");
    assert!(
        row("root").contains("just now"),
        "the root key was just used: {list}"
    );
    assert!(
        row("reader").contains("read_only"),
        "a preset by its name: {list}"
    );
    assert!(row("reader").contains("never"), "{list}");
    assert!(row(" one ").contains("runs:read"), "one scope fits: {list}");
    assert!(row("a key for").contains("8 scopes"), "{list}");
    assert!(
        row(&rotating).contains("in 1 hour"),
        "the rotated key's grace period ends in an hour: {list}"
    );

    for columns in [200, 120, 100, 80, 60, 40] {
        for args in [
            vec!["keys", "list"],
            vec!["audit"],
            vec!["scopes"],
            vec!["keys", "get", &rotating],
            vec!["whoami"],
        ] {
            let out = keygate_in(columns, &url, &root, &args);
            assert!(out.status.success(), "{args:?}: {}", stderr(&out));
            assert_fits(&stdout(&out), columns);
        }
    }

    // A wider terminal shows the whole name, the type and when created;
    // a very wide one the scopes too.
    let wide = stdout(&keygate_in(200, &url, &root, &["keys", "list"]));
    assert!(wide.contains(LONG_NAME), "{wide}");
    let header = wide.lines().next().unwrap();
    assert!(
        header.contains("TYPE") && header.contains("CREATED"),
        "{wide}"
    );
    assert!(wide.contains("8 scopes"), "{wide}");
    let wider = stdout(&keygate_in(300, &url, &root, &["keys", "list"]));
    assert!(
        wider.contains("agents:read agents:write dashboards:read"),
        "{wider}"
    );

    // The audit trail keeps its ids whole and cuts the reason.
    let audit = stdout(&keygate_in(100, &url, &root, &["audit"]));
    assert!(audit.contains(&rotating), "{audit}");
    assert!(
        !audit.contains("a reason that is long enough to be cut in a narrow terminal"),
        "{audit}"
    );

    // The catalog wraps: every scope is still there.
    let catalog = json(&run(&["scopes", "--json"]));
    let scopes = stdout(&keygate_in(60, &url, &root, &["scopes"]));
    let shown: BTreeSet<&str> = scopes.split_whitespace().collect();
    for resource in catalog["resources"].as_array().unwrap() {
        for scope in resource["scopes"].as_array().unwrap() {
            assert!(
                shown.contains(scope.as_str().unwrap()),
                "{scope} in {scopes}"
            );
        }
    }
    let read_only = scopes
        .lines()
        .skip_while(|l| !l.starts_with("read_only"))
        .take_while(|l| l.starts_with("read_only") || l.starts_with(' '))
        .count();
    assert!(read_only > 1, "the preset wraps onto more lines: {scopes}");
    server.stop();
}
