//! Usage limits from the command line (`keys create --rate/--quota`, `keys
//! limits`, `keys usage`, `keys reset-usage`), and `keygate serve` answering
//! a key over its limits as the stack does in each mode.

use std::process::Command;
use std::time::Duration;

use crate::common::{KEYGATE, Server, json, keygate, stderr, stdout};

#[test]
fn limits_are_set_read_and_reset_from_the_command_line() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().unwrap();
    let run = |args: &[&str]| keygate(&server.url, &root, args);

    let created = json(&run(&[
        "keys",
        "create",
        "--name",
        "metered",
        "--rate",
        "2/1h",
        "--quota",
        "1000/month",
        "--json",
    ]));
    assert_eq!(
        created["limits"],
        serde_json::json!({"rate": {"requests": 2, "window_seconds": 3600},
                           "quota": {"requests": 1000, "period": "month"}})
    );
    let key = created["key"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        crate::common::request(
            "GET",
            &format!("{}/v1/scopes", server.url),
            Some(&key),
            None,
        );
    }

    let out = run(&["keys", "usage", "metered"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = stdout(&out);
    assert!(table.starts_with("LIMIT"), "{table}");
    let rate = table.lines().find(|l| l.starts_with("rate")).unwrap();
    assert!(rate.contains("2 per hour"), "{table}");
    let cells: Vec<&str> = rate.split_whitespace().collect();
    assert_eq!(&cells[4..6], ["2", "0"], "used 2, none left: {table}");
    let quota = table.lines().find(|l| l.starts_with("quota")).unwrap();
    assert!(
        quota.contains("1000 per month") && quota.contains(" 2 "),
        "{table}"
    );

    // Only what is named changes: the quota stays.
    let changed = json(&run(&[
        "keys", "limits", "metered", "--rate", "10/1m", "--json",
    ]));
    assert_eq!(changed["limits"]["rate"]["window_seconds"], 60);
    assert_eq!(changed["limits"]["quota"]["requests"], 1000);
    let changed = json(&run(&["keys", "limits", "metered", "--no-quota", "--json"]));
    assert!(changed["limits"]["quota"].is_null());
    // Nothing named is a usage error, and bad values say what is expected.
    let out = run(&["keys", "limits", "metered"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--rate N/WINDOW"), "{}", stderr(&out));
    let out = run(&["keys", "limits", "metered", "--rate", "10/2d"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("1 second to 1 day"),
        "{}",
        stderr(&out)
    );
    let out = run(&["keys", "limits", "metered", "--quota", "10/week"]);
    assert!(
        stderr(&out).contains("not day or month"),
        "{}",
        stderr(&out)
    );

    // A reset asks on a terminal; without one it needs --yes.
    let out = run(&["keys", "reset-usage", "metered"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    let reset = json(&run(&["keys", "reset-usage", "metered", "--yes", "--json"]));
    assert_eq!(reset["rate"]["used"], 0);

    let events = json(&run(&["audit", "--json"]));
    let actions: Vec<&str> = events["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert_eq!(&actions[..3], ["reset_usage", "set_limits", "set_limits"]);

    // The record shows its limits.
    let out = run(&["keys", "get", "metered"]);
    assert!(stdout(&out).contains("10 per minute"), "{}", stdout(&out));
    server.stop();
}

/// `GET /v1/scopes` with `key`: the status, a header's value, the body.
fn scopes(url: &str, key: &str) -> (u16, ureq::http::HeaderMap, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut response = agent
        .get(format!("{url}/v1/scopes"))
        .header("x-api-key", key)
        .call()
        .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.body_mut().read_to_string().unwrap(),
    )
}

#[test]
fn serve_answers_a_key_over_its_limit_as_the_stack_does_in_each_mode() {
    for (mode, over_status) in [("deny", 403), ("defer", 429)] {
        let data = tempfile::tempdir().unwrap();
        let mut command = Command::new(KEYGATE);
        command
            .args(["serve", "--port", "0", "--limit-mode", mode, "--data"])
            .arg(data.path())
            .env("RUST_LOG", "warn");
        let server = Server::spawn(command);
        let root = server.first_key.clone().unwrap();
        let out = keygate(
            &server.url,
            &root,
            &["keys", "create", "--name", "one", "--rate", "1/1d"],
        );
        let key = stdout(&out).trim().to_owned();

        let (status, headers, _) = scopes(&server.url, &key);
        assert_eq!(status, 200, "{mode}");
        assert_eq!(
            headers["ratelimit-policy"], "\"rate\";q=1;w=86400",
            "{mode}"
        );
        let (status, headers, body) = scopes(&server.url, &key);
        assert_eq!(status, over_status, "{mode}: {body}");
        if mode == "deny" {
            assert_eq!(body, r#"{"message":"Forbidden"}"#);
        } else {
            let body: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(body["error"]["code"], "limit_exceeded");
            let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
            // The last window's count fades over the next: at most two windows.
            assert!((1..=2 * 86_400).contains(&wait), "{wait}");
            assert_eq!(
                headers["ratelimit"],
                format!("\"rate\";r=0;t={wait}").as_str()
            );
        }
        server.stop();
    }
}
