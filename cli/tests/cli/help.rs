//! What the command says without its settings, and its help and completions.

use crate::common::{KEYGATE, stderr, stdout};

#[test]
fn missing_settings_and_help() {
    let out = std::process::Command::new(KEYGATE)
        .args(["keys", "list"])
        .env_remove("KEYGATE_API_URL")
        .env_remove("KEYGATE_API_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("KEYGATE_API_URL"));
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["bootstrap", "--help"],
        vec!["table", "create", "--help"],
        vec!["keys", "--help"],
        vec!["keys", "create", "--help"],
        vec!["keys", "list", "--help"],
        vec!["keys", "revoke", "--help"],
        vec!["scopes", "--help"],
        vec!["keys", "rotate", "--help"],
        vec!["audit", "--help"],
        vec!["whoami", "--help"],
        vec!["completions", "--help"],
    ] {
        let out = std::process::Command::new(KEYGATE)
            .args(&args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}");
        assert!(stdout(&out).contains("Usage"), "{args:?}");
    }
    let out = std::process::Command::new(KEYGATE)
        .args(["keys", "list"])
        .env("KEYGATE_API_URL", "http://127.0.0.1:9")
        .env("KEYGATE_API_KEY", "kg_x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot reach"), "{}", stderr(&out));
    for shell in ["bash", "zsh", "fish"] {
        let out = std::process::Command::new(KEYGATE)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success(), "{shell}");
        let script = stdout(&out);
        assert!(
            script.contains("keygate") && script.contains("rotate"),
            "{shell}"
        );
    }
}
