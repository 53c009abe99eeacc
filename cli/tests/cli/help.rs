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

const LEAF_COMMANDS: [&[&str]; 18] = [
    &["serve"],
    &["bootstrap"],
    &["table", "create"],
    &["table", "upgrade"],
    &["keys", "create"],
    &["keys", "list"],
    &["keys", "get"],
    &["keys", "rename"],
    &["keys", "edit"],
    &["keys", "suspend"],
    &["keys", "reactivate"],
    &["keys", "rotate"],
    &["keys", "revoke"],
    &["keys", "delete"],
    &["audit"],
    &["whoami"],
    &["scopes"],
    &["completions"],
];

/// The options under the "Connection" heading: how to reach the API.
const CONNECTION: [&str; 5] = [
    "--api-url",
    "--api-key",
    "--api-key-file",
    "--allow-http",
    "--json",
];

/// The options and arguments of a help text that have no description: an
/// entry line (`--name <NAME>`, `<ID>`) with nothing after it, and no more
/// deeply indented line below.
fn undescribed(help: &str) -> Vec<String> {
    let lines: Vec<&str> = help.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let is_entry = |l: &str| {
        let t = l.trim_start();
        // clap indents entries by 2 or 6; their descriptions deeper.
        (2..=6).contains(&indent(l))
            && (t.starts_with('-') || t.starts_with('<') || t.starts_with('['))
    };
    let mut missing = vec![];
    for (i, line) in lines.iter().enumerate() {
        if !is_entry(line) {
            continue;
        }
        let described_inline = line.trim().contains("  ");
        let described_below = lines.get(i + 1).is_some_and(|next| {
            !next.trim().is_empty() && !is_entry(next) && indent(next) > indent(line)
        });
        if !described_inline && !described_below {
            missing.push(line.trim().to_owned());
        }
    }
    missing
}

#[test]
fn help_wraps_to_the_terminal_and_describes_every_option() {
    for columns in [100, 80, 60] {
        for command in LEAF_COMMANDS {
            let out = std::process::Command::new(KEYGATE)
                .args(command)
                .arg("--help")
                .env("COLUMNS", columns.to_string())
                .output()
                .unwrap();
            assert!(out.status.success(), "{command:?}");
            let help = stdout(&out);
            crate::common::assert_fits(&help, columns);
            assert_eq!(
                undescribed(&help),
                Vec::<String>::new(),
                "{command:?} has options without help:\n{help}"
            );
            let connection: Vec<&str> = help
                .lines()
                .skip_while(|l| *l != "Connection:")
                // Entries, not a description wrapped onto a line of its own.
                .filter(|l| l.starts_with("      --"))
                .map(|l| l.split_whitespace().next().unwrap())
                .collect();
            for option in connection {
                assert!(
                    CONNECTION.contains(&option),
                    "{command:?}: {option} is under Connection:\n{help}"
                );
            }
        }
    }
    // Wider terminals still get help of at most 100 columns, easier to read.
    let out = std::process::Command::new(KEYGATE)
        .args(["keys", "create", "--help"])
        .env("COLUMNS", "200")
        .output()
        .unwrap();
    crate::common::assert_fits(&stdout(&out), 100);
}
