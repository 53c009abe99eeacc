//! `keygate catalog check|diff` and `keygate routes check`: offline checks of
//! a deployer's catalog file, with errors that name the file, line and field.

use std::path::Path;
use std::process::{Command, Output};

use crate::common::{KEYGATE, stderr, stdout};

const ORDERS: &str = r#"version = 1

[resources.orders]
description = "Orders."
actions.read = "Read orders."
actions.write = "Place orders."

[routes]
"GET /orders" = "orders:read"
"GET /orders/{id}" = "orders:read"
"POST /orders" = "orders:write"
"#;

fn keygate(args: &[&str]) -> Output {
    Command::new(KEYGATE)
        .args(args)
        .env_remove("KEYGATE_CATALOG")
        .output()
        .expect("run keygate")
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn check_summarizes_a_catalog_or_names_its_first_mistake() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "orders.toml", ORDERS);
    let out = keygate(&["catalog", "check", &good]);
    assert!(out.status.success(), "{}", stderr(&out));
    // Its resource and keygate's own (api-keys: read, write, delete).
    assert!(
        stdout(&out).contains("2 resources, 5 scopes, 0 presets, 3 routes, 0 retired"),
        "{}",
        stdout(&out)
    );
    let bad = write(
        dir.path(),
        "bad.toml",
        &ORDERS.replace(
            r#""POST /orders" = "orders:write""#,
            r#""POST /orders" = "orders:cancel""#,
        ),
    );
    let out = keygate(&["catalog", "check", &bad]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains(&format!(
            "{bad}:11: routes.\"POST /orders\": orders:cancel is not in the catalog"
        )),
        "{}",
        stderr(&out)
    );
    // The shipped catalog, when no file is named.
    let out = keygate(&["catalog", "check"]);
    assert!(stdout(&out).contains("33 scopes"), "{}", stdout(&out));
}

#[test]
fn diff_refuses_a_silent_removal_and_warns_of_a_new_meaning() {
    let dir = tempfile::tempdir().unwrap();
    let old = write(dir.path(), "old.toml", ORDERS);
    let removed = write(
        dir.path(),
        "removed.toml",
        &ORDERS
            .replace("actions.write = \"Place orders.\"\n", "")
            .replace("\"POST /orders\" = \"orders:write\"\n", ""),
    );
    let out = keygate(&["catalog", "diff", &old, &removed]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("orders:write taken out without being listed under [retired]"),
        "{}",
        stderr(&out)
    );
    let retired = write(
        dir.path(),
        "retired.toml",
        &(std::fs::read_to_string(&removed).unwrap()
            + "\n[retired]\n\"orders:write\" = \"Staff place orders now.\"\n"),
    );
    let out = keygate(&["catalog", "diff", &old, &retired]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("retired    orders:write"),
        "{}",
        stdout(&out)
    );
    let redescribed = write(
        dir.path(),
        "redescribed.toml",
        &ORDERS.replace("Place orders.", "Place and refund orders."),
    );
    let out = keygate(&["catalog", "diff", &old, &redescribed]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("warning: orders:write now means \"Place and refund orders.\""),
        "{}",
        stdout(&out)
    );
}

#[test]
fn routes_check_holds_the_catalog_to_the_api_s_openapi_document() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = write(dir.path(), "orders.toml", ORDERS);
    let api = |paths: &str| {
        format!("openapi: 3.1.0\ninfo: {{title: orders, version: '1'}}\npaths:\n{paths}")
    };
    let matching = write(
        dir.path(),
        "api.yaml",
        &api("  /orders:\n    get: {}\n    post: {}\n  /orders/{orderId}:\n    get: {}\n"),
    );
    let out = keygate(&[
        "routes",
        "check",
        "--openapi",
        &matching,
        "--catalog",
        &catalog,
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("every one of the 3 operations"),
        "{}",
        stdout(&out)
    );
    let drifted = write(
        dir.path(),
        "drifted.yaml",
        &api("  /orders:\n    get: {}\n  /orders/{orderId}:\n    get: {}\n    delete: {}\n"),
    );
    let out = keygate(&[
        "routes",
        "check",
        "--openapi",
        &drifted,
        "--catalog",
        &catalog,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("no rule     DELETE /orders/{orderId}"),
        "{text}"
    );
    assert!(text.contains("no such op  POST /orders"), "{text}");
}

/// The example's catalog, template and OpenAPI document agree: what the
/// README's "Protect your API" runs, run here.
#[test]
fn the_orders_example_s_routes_match_its_openapi_document() {
    let root = keygate_tests::repo_root().join("examples/orders-api");
    let (catalog, api) = (root.join("keygate.toml"), root.join("openapi.yaml"));
    let out = keygate(&["catalog", "check", catalog.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = keygate(&[
        "routes",
        "check",
        "--openapi",
        api.to_str().unwrap(),
        "--catalog",
        catalog.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("every one of the 5 operations"),
        "{}",
        stdout(&out)
    );
}
