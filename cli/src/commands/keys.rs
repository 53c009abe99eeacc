//! `keygate keys …`: create, list, read and change keys through the API.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{Value, json};

use crate::api::Api;
use crate::args::{ApiArgs, CreateArgs, KeysCommand};
use crate::client::Request;
use crate::library::Operation;
use crate::output::{print_json, text};
use crate::table;

pub fn run(args: &ApiArgs, command: KeysCommand) -> anyhow::Result<()> {
    let api = Api::connect(args)?;
    match command {
        KeysCommand::Create(create) => create_key(&api, create),
        KeysCommand::List {
            status,
            limit,
            cursor,
        } => list(&api, &status, limit, cursor),
        KeysCommand::Get { id } => {
            print_record(&api, &api.call(Request::new(Operation::GetKey).id(&id))?)
        }
        KeysCommand::Suspend { id } => print_record(
            &api,
            &api.call(Request::new(Operation::SuspendKey).id(&id))?,
        ),
        KeysCommand::Reactivate { id } => print_record(
            &api,
            &api.call(Request::new(Operation::ReactivateKey).id(&id))?,
        ),
        KeysCommand::Rotate { id, grace, reason } => rotate(&api, &id, grace, reason),
        KeysCommand::Revoke { id, reason } => print_record(
            &api,
            &api.call(
                Request::new(Operation::RevokeKey)
                    .id(&id)
                    .body(json!({ "reason": reason })),
            )?,
        ),
        KeysCommand::Delete { id } => {
            api.call(Request::new(Operation::DeleteKey).id(&id))?;
            if api.json {
                println!("{}", json!({ "deleted": id }));
            } else {
                println!("deleted {id}");
            }
            Ok(())
        }
    }
}

fn create_key(api: &Api, args: CreateArgs) -> anyhow::Result<()> {
    let permissions = match (args.preset, args.scopes.is_empty()) {
        (Some(p), _) => json!({ "preset": p }),
        (None, false) => json!(args.scopes),
        (None, true) => json!("full"),
    };
    let body = json!({
        "name": args.name,
        "description": args.description,
        "key_type": args.key_type,
        "owner": args.owner,
        "permissions": permissions,
        "expires_at": args.expires_at,
    });
    let created = api.call(Request::new(Operation::CreateKey).body(body))?;
    print_new_key(api, &created);
    Ok(())
}

fn list(api: &Api, status: &str, limit: u32, cursor: Option<String>) -> anyhow::Result<()> {
    let page = api.call(
        Request::new(Operation::ListKeys)
            .query("status", status)
            .query("limit", limit)
            .query_if("cursor", cursor),
    )?;
    if api.json {
        print_json(&page);
    } else {
        let records = page["data"].as_array().cloned().unwrap_or_default();
        print!("{}", render_keys(&records));
        if let Some(next) = page["next_cursor"].as_str() {
            println!("more: keygate keys list --status {status} --limit {limit} --cursor {next}");
        }
    }
    Ok(())
}

fn rotate(api: &Api, id: &str, grace: u32, reason: Option<String>) -> anyhow::Result<()> {
    let body = json!({ "grace_period_seconds": grace, "reason": reason });
    let successor = api.call(Request::new(Operation::RotateKey).id(id).body(body))?;
    if !api.json {
        let old = if grace == 0 {
            "revoked now".to_owned()
        } else {
            format!(
                "keeps working for {}",
                humantime::format_duration(Duration::from_secs(u64::from(grace)))
            )
        };
        eprintln!("Rotated {id}: the old key {old}; the new key follows.");
    }
    print_new_key(api, &successor);
    Ok(())
}

fn print_record(api: &Api, record: &Value) -> anyhow::Result<()> {
    if api.json {
        print_json(record);
    } else {
        print!("{}", render_record(record));
    }
    Ok(())
}

/// Print a new key's record, then the key itself once (stdout), with the
/// warning to store it (stderr).
fn print_new_key(api: &Api, created: &Value) {
    if api.json {
        print_json(created);
    } else {
        print!("{}", render_record(created));
        eprintln!();
        eprintln!("This is the only time the key is shown. Store it somewhere safe now:");
        println!("{}", created["key"].as_str().unwrap_or_default());
    }
}

fn scopes_of(record: &Value) -> String {
    record["scopes"]
        .as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// A table of key records, one per line.
fn render_keys(records: &[Value]) -> String {
    let headers = ["ID", "NAME", "STATUS", "TYPE", "HINT", "SCOPES", "CREATED"];
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let mut status = text(&r["status"]);
            if r["expired"] == json!(true) {
                status.push_str(" (expired)");
            }
            vec![
                text(&r["id"]),
                text(&r["name"]),
                status,
                text(&r["key_type"]),
                text(&r["hint"]),
                scopes_of(r),
                text(&r["created_at"]),
            ]
        })
        .collect();
    table::render(&headers, &rows)
}

/// One record as `field value` lines.
pub fn render_record(record: &Value) -> String {
    let fields = [
        "id",
        "name",
        "description",
        "status",
        "expired",
        "key_type",
        "owner",
        "hint",
        "org_id",
        "created_at",
        "created_by",
        "updated_at",
        "suspended_at",
        "revoked_at",
        "revoked_reason",
        "revoked_by",
        "expires_at",
        "last_used_at",
        "rotated_from",
        "rotated_to",
    ];
    let mut out = String::new();
    for f in fields {
        let _ = writeln!(out, "{f:<15} {}", text(&record[f]));
    }
    let _ = writeln!(out, "{:<15} {}", "scopes", scopes_of(record));
    out
}
