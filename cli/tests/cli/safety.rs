//! The CLI never sends a key anywhere but the configured API. No redirect is
//! followed with it, plain http:// goes only to this machine unless asked, a
//! key on the command line draws a warning, and the key can come from a file
//! or standard input instead.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use crate::common::{KEYGATE, Server, recorder, stderr};

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
