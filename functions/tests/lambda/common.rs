//! What every module uses: the binaries, their fixtures, and one invocation
//! of a binary under a fresh emulator.

use std::path::Path;

use keygate::store::DynamoDbStore;
use keygate_tests::rie::Rie;
use keygate_tests::{authorizer_event, fixture};
use serde_json::Value;

/// The authorizer binary, as cargo built it for these tests.
pub const AUTHORIZER: &str = env!("CARGO_BIN_EXE_authorizer");

/// The Lambda environment of a function on `store`'s tables.
pub fn tables(store: &DynamoDbStore) -> (String, String) {
    let tables = store.tables();
    (tables.keys, tables.audit)
}

/// The fixture `infra/events/<name>.json`.
pub fn event(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// The authorizer fixture with another key and route.
pub fn authorizer_with(key: &str, route: &str) -> Value {
    serde_json::to_value(authorizer_event(key, route)).unwrap()
}

/// Invoke `binary` on `event` under a fresh emulator at `RUST_LOG=trace`;
/// the HTTP status, the JSON body (`Null` when there is none), and every
/// line the function and the emulator printed.
pub async fn serve(binary: &str, event: Value, env: &[(&str, &str)]) -> (u64, Value, String) {
    let mut env = env.to_vec();
    env.push(("RUST_LOG", "trace"));
    let rie = Rie::start(Path::new(binary), &env).await;
    let answer = rie
        .invoke(event)
        .await
        .unwrap_or_else(|e| panic!("{binary}: {e}"));
    let status = answer["statusCode"]
        .as_u64()
        .unwrap_or_else(|| panic!("{binary}: no statusCode in {answer}"));
    let body = match answer["body"].as_str() {
        Some(text) if !text.is_empty() => {
            serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
        }
        _ => Value::Null,
    };
    let logs = rie.stop().await;
    (status, body, format!("{}\n{}", logs.output, logs.emulator))
}

/// The binary of the function `name`, as cargo built it for these tests.
pub fn binary(name: &str) -> &'static str {
    match name {
        "get-key" => env!("CARGO_BIN_EXE_get-key"),
        "list-scopes" => env!("CARGO_BIN_EXE_list-scopes"),
        "create-key" => env!("CARGO_BIN_EXE_create-key"),
        "list-keys" => env!("CARGO_BIN_EXE_list-keys"),
        "update-key" => env!("CARGO_BIN_EXE_update-key"),
        "suspend-key" => env!("CARGO_BIN_EXE_suspend-key"),
        "reactivate-key" => env!("CARGO_BIN_EXE_reactivate-key"),
        "rotate-key" => env!("CARGO_BIN_EXE_rotate-key"),
        "list-audit-events" => env!("CARGO_BIN_EXE_list-audit-events"),
        "revoke-key" => env!("CARGO_BIN_EXE_revoke-key"),
        "delete-key" => env!("CARGO_BIN_EXE_delete-key"),
        "set-limits" => env!("CARGO_BIN_EXE_set-limits"),
        "get-usage" => env!("CARGO_BIN_EXE_get-usage"),
        "reset-usage" => env!("CARGO_BIN_EXE_reset-usage"),
        "console" => env!("CARGO_BIN_EXE_console"),
        other => panic!("no binary {other}"),
    }
}
