//! `keygate audit verify`: an organization's trail, read from the store,
//! checked against its hash chain; the head printed, and a head from the
//! logs checked when given.

use std::process::Command;

use crate::common::{KEYGATE, Server, request, stderr, stdout};

fn verify(data: &std::path::Path, extra: &[&str]) -> std::process::Output {
    Command::new(KEYGATE)
        .args(["audit", "verify", "--org", "default", "--data"])
        .arg(data)
        .args(extra)
        .output()
        .expect("run keygate audit verify")
}

#[test]
fn verify_reports_an_unbroken_trail_and_its_head() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start(data.path());
    let root = server.first_key.clone().expect("first key");
    let base = format!("{}/v1/api-keys", server.url);
    for name in ["a", "b"] {
        let body = format!(r#"{{"name":"{name}","key_type":"service"}}"#);
        assert_eq!(request("POST", &base, Some(&root), Some(&body)).status, 201);
    }
    server.stop();

    let out = verify(data.path(), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("audit trail of default: unbroken; 3 events checked, 1 to 3"),
        "{text}"
    );
    let head = text
        .lines()
        .find_map(|l| l.strip_prefix("head "))
        .expect("the head")
        .to_owned();
    assert!(head.starts_with("3:") && head.len() == 2 + 64, "{head}");

    // The head just printed is in the trail; one it never had is a break.
    let out = verify(data.path(), &["--expect", &head]);
    assert!(out.status.success(), "{}", stderr(&out));
    let never = format!("4:{}", &head[2..]);
    let out = verify(data.path(), &["--expect", &never]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the trail does not contain the expected head 4:"),
        "{}",
        stderr(&out)
    );
    // A malformed head is a usage error, before the store is opened.
    let out = verify(data.path(), &["--expect", "three"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}
