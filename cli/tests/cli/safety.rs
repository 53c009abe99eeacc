//! The CLI never sends a key anywhere but the configured API. No redirect is
//! followed with it, plain http:// goes only to this machine unless asked, a
//! key on the command line draws a warning, and the key can come from a file
//! or standard input instead. And a hostile or broken API cannot drive the
//! terminal: everything it says is printed escaped, and a "new key" or a
//! cursor of the wrong form is refused.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crate::common::{KEYGATE, Server, json_response, keygate, recorder, stderr, stdout, stub};

#[test]
fn a_redirect_is_an_error_and_the_key_never_reaches_its_target() {
    let key = "kg_0354eiuPHXWwV73zzxesBlhD6ik0W9pzZ9GEDnMr9XJAUyddFxshFAHK3IY1UQoC6";
    let (elsewhere, elsewhere_log) = recorder(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 25\r\n\r\n{\"data\":[],\"next_cursor\":null}".to_owned(),
    );
    let location = format!("http://{elsewhere}/v1/api-keys?status=all&limit=50");
    let (api, api_log) = recorder(format!(
        "HTTP/1.1 302 Found\r\nlocation: {location}\r\ncontent-length: 0\r\n\r\n"
    ));
    let out = Command::new(KEYGATE)
        .args(["keys", "list"])
        .env("KEYGATE_API_URL", format!("http://{api}"))
        .env("KEYGATE_API_KEY", key)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&location),
        "names the Location: {}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("does not follow redirects"));
    assert_eq!(
        api_log.lock().unwrap().len(),
        1,
        "the configured API was asked"
    );
    assert!(
        elsewhere_log.lock().unwrap().is_empty(),
        "the redirect target must see no request (and so no key)"
    );
}

#[test]
fn plain_http_goes_only_to_this_machine_unless_allowed() {
    let run = |url: &str, extra: &[&str]| {
        Command::new(KEYGATE)
            .args(["keys", "list"])
            .args(extra)
            .env("KEYGATE_API_URL", url)
            .env("KEYGATE_API_KEY", "kg_x")
            .output()
            .unwrap()
    };
    for url in [
        "http://api.example.com",
        "http://203.0.113.9:8787",
        "http://0.0.0.0:9",
    ] {
        let out = run(url, &[]);
        assert_eq!(out.status.code(), Some(1), "{url}");
        assert!(
            stderr(&out).contains("refusing to send the API key over plain http://"),
            "{url}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains("--allow-http"));
    }
    // Allowed: it goes on to connect (nobody listens on port 9).
    let out = run("http://0.0.0.0:9", &["--allow-http"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
    // Loopback needs no flag.
    for url in ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"] {
        let out = run(url, &[]);
        assert!(
            stderr(&out).contains("cannot reach"),
            "{url}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn the_key_can_come_from_a_file_or_standard_input_and_the_command_line_warns() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let warning = "other users of this machine can read it";

    let from_env = crate::common::keygate(&server.url, &root, &["keys", "list"]);
    assert!(from_env.status.success(), "{}", stderr(&from_env));
    assert!(!stderr(&from_env).contains(warning));

    let on_command_line = Command::new(KEYGATE)
        .args(["keys", "list", "--api-key", &root])
        .env("KEYGATE_API_URL", &server.url)
        .env_remove("KEYGATE_API_KEY")
        .output()
        .unwrap();
    assert!(on_command_line.status.success());
    assert!(
        stderr(&on_command_line).contains(warning),
        "{}",
        stderr(&on_command_line)
    );
    assert!(stderr(&on_command_line).contains("--api-key-file"));

    let file = data.path().join("key.txt");
    std::fs::write(&file, format!("{root}\n")).unwrap();
    let from_file = Command::new(KEYGATE)
        .args(["keys", "list", "--api-key-file"])
        .arg(&file)
        .env("KEYGATE_API_URL", &server.url)
        .env_remove("KEYGATE_API_KEY")
        .output()
        .unwrap();
    assert!(from_file.status.success(), "{}", stderr(&from_file));
    assert!(!stderr(&from_file).contains(warning));

    let mut from_stdin = Command::new(KEYGATE)
        .args(["whoami", "--api-key-file", "-"])
        .env("KEYGATE_API_URL", &server.url)
        .env_remove("KEYGATE_API_KEY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    from_stdin
        .stdin
        .take()
        .unwrap()
        .write_all(root.as_bytes())
        .unwrap();
    let mut out = String::new();
    from_stdin
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(from_stdin.wait().unwrap().success());
    assert!(out.contains("root") && out.contains("default"), "{out}");
    keygate_tests::assert_no_secret(out.as_bytes(), &[&root], "whoami's output");
    server.stop();
}

/// A well-formed key (its checksum holds) whose id is [`ID`].
const KEY: &str = "kg_0354eiuPHXWwV73zzxesBlhD6ik0W9pzZ9GEDnMr9XJAUyddFxshFAHK3IY1UQoC6";
const ID: &str = "0354eiuPHXWwV73zzxesBl";

/// Text that would drive a terminal printed as is: an OSC title change, a
/// bell, a screen clear through the C1 CSI, red, a right-to-left override,
/// a zero-width space, a line separator.
const HOSTILE: &str = r"\u001b]0;pwned\u0007\u009b2J\u001b[31mred\u202eexe.txt\u200b\u2028end";

fn record(id: &str, key: Option<&str>) -> String {
    let key = key.map(|k| format!(r#""key":"{k}","#)).unwrap_or_default();
    format!(
        r#"{{{key}"id":"{id}","org_id":"o","name":"n{HOSTILE}","description":"{HOSTILE}",
        "key_type":"service","owner":null,"scopes":["runs:read{HOSTILE}"],"status":"active",
        "expired":false,"hint":"kg_...{HOSTILE}","created_at":"2026-01-01T00:00:00Z",
        "created_by":null,"updated_at":"2026-01-01T00:00:00Z","suspended_at":null,
        "revoked_at":null,"revoked_reason":null,"revoked_by":null,"expires_at":null,
        "last_used_at":null,"rotated_from":"{HOSTILE}","rotated_to":null}}"#
    )
}

/// Fails if `bytes` hold anything a terminal would act on rather than print.
#[track_caller]
fn assert_inert(bytes: &[u8], what: &str) {
    let text = String::from_utf8_lossy(bytes);
    for c in text.chars() {
        let hidden = (c.is_control() && c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200b}' | '\u{2028}' | '\u{2029}');
        assert!(!hidden, "{what} holds {:?} unescaped: {text}", c);
    }
}

/// An API whose every text is hostile; `created` is its answer to a create.
fn hostile_api(created: String) -> String {
    let (addr, _) = stub(move |line| {
        let answer = |status, body: &str| json_response(status, body);
        let path = line.split(' ').nth(1).unwrap_or_default();
        match line.split(' ').next().unwrap_or_default() {
            "POST" if path == "/v1/api-keys" => answer(201, &created),
            "POST" if path.ends_with("/rotate") => {
                answer(201, &record(ID, Some(&format!(r"{KEY}\u202e"))))
            }
            "GET" if path.starts_with("/v1/api-keys?") => answer(
                200,
                &format!(
                    r#"{{"data":[{}],"next_cursor":"abc{HOSTILE}"}}"#,
                    record(ID, None)
                ),
            ),
            "GET" if path.starts_with("/v1/api-keys/") => answer(
                409,
                &format!(
                    r#"{{"error":{{"code":"c{HOSTILE}","message":"m{HOSTILE}","request_id":"r"}}}}"#
                ),
            ),
            "GET" if path.starts_with("/v1/audit-events") => answer(
                200,
                &format!(
                    r#"{{"data":[{{"time":"{HOSTILE}","action":"revoke","key_id":"{ID}","key_name":"{HOSTILE}",
                    "actor_type":"key","actor_hint":"{HOSTILE}","status_before":"active",
                    "status_after":"revoked","reason":"{HOSTILE}"}}],"next_cursor":"{HOSTILE}"}}"#
                ),
            ),
            "GET" if path == "/v1/scopes" => answer(
                200,
                &format!(
                    r#"{{"full_access":"*{HOSTILE}","presets":{{"p{HOSTILE}":["a:b{HOSTILE}"]}},
                    "resources":[{{"resource":"r{HOSTILE}","scopes":["r:read{HOSTILE}"]}}]}}"#
                ),
            ),
            _ => answer(404, r#"{"message":"Not Found"}"#),
        }
    });
    format!("http://{addr}")
}

#[test]
fn everything_the_api_says_is_printed_escaped() {
    assert_eq!(keygate_tests::id_of(KEY), ID);
    let api = hostile_api(record(ID, Some(KEY)));
    let run = |args: &[&str]| keygate(&api, KEY, args);

    // A well-formed new key is printed; its hostile record escaped.
    let out = run(&["keys", "create", "--name", "x"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{KEY}\n"));
    assert_inert(&out.stderr, "the record on stderr");
    assert!(
        stderr(&out).contains(r"n\u{1b}]0;pwned\u{7}\u{9b}2J"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains(r"\u{202e}exe.txt"),
        "{}",
        stderr(&out)
    );

    for (args, what) in [
        (vec!["keys", "create", "--name", "x", "--json"], "JSON"),
        (vec!["keys", "list"], "a table"),
        (vec!["keys", "list", "--json"], "JSON"),
        (vec!["keys", "get", ID], "an error"),
        (vec!["audit"], "a table"),
        (vec!["audit", "--json"], "JSON"),
        (vec!["scopes"], "the catalog"),
        (vec!["scopes", "--json"], "JSON"),
    ] {
        let out = run(&args);
        assert_inert(&out.stdout, &format!("{args:?}: {what} on stdout"));
        assert_inert(&out.stderr, &format!("{args:?}: stderr"));
    }

    // JSON stays the same JSON: escaped, not changed.
    let listed: serde_json::Value =
        serde_json::from_str(&stdout(&run(&["keys", "list", "--json"]))).unwrap();
    assert_eq!(
        listed["data"][0]["name"],
        "n\u{1b}]0;pwned\u{7}\u{9b}2J\u{1b}[31mred\u{202e}exe.txt\u{200b}\u{2028}end"
    );

    // The error message shows escaped.
    let out = run(&["keys", "get", ID]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(r"409 c\u{1b}]0;pwned"),
        "{}",
        stderr(&out)
    );

    // A cursor that is not URL-safe base64 is refused, after the page.
    for (args, shown) in [(vec!["keys", "list"], ID), (vec!["audit"], "revoke")] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            stdout(&out).contains(shown),
            "the page is shown: {}",
            stdout(&out)
        );
        assert!(!stderr(&out).contains("more:"), "{}", stderr(&out));
        assert!(
            stderr(&out).contains("next_cursor that is not URL-safe base64"),
            "{}",
            stderr(&out)
        );
    }
}

#[test]
fn a_new_key_that_is_not_a_key_is_refused() {
    let wrong = [
        // Escape sequences around a real key.
        (
            record(ID, Some(&format!(r"\u001b]0;pwned\u0007{KEY}"))),
            "not a keygate key",
        ),
        // Not a key at all.
        (record(ID, Some("hello")), "not a keygate key"),
        // The checksum does not hold.
        (
            record(ID, Some(&format!("{}x", &KEY[..KEY.len() - 1]))),
            "not a keygate key",
        ),
        // A key, but not the new record's.
        (
            record("0354eiuPHXWwV73zzxesBm", Some(KEY)),
            "not the new record's",
        ),
        // No key.
        (record(ID, None), "not a keygate key"),
    ];
    for (created, reason) in wrong {
        let api = hostile_api(created);
        for args in [
            vec!["keys", "create", "--name", "x"],
            vec!["keys", "create", "--name", "x", "--json"],
        ] {
            let out = keygate(&api, KEY, &args);
            assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
            assert!(
                stdout(&out).is_empty(),
                "nothing on stdout: {}",
                stdout(&out)
            );
            assert!(stderr(&out).contains(reason), "{}", stderr(&out));
            assert_inert(&out.stderr, "the refusal");
        }
    }
    // Rotation too: its successor carries a right-to-left override.
    let api = hostile_api(record(ID, Some(KEY)));
    let out = keygate(&api, KEY, &["keys", "rotate", ID]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
    assert!(
        !stderr(&out).contains("the new key follows"),
        "{}",
        stderr(&out)
    );
    assert!(
        stderr(&out).contains("not a keygate key"),
        "{}",
        stderr(&out)
    );
}
