//! `keygate audit`: the organization's audit trail, newest first.

use serde_json::Value;

use crate::api::Api;
use crate::args::AuditArgs;
use crate::client::Request;
use crate::library::Operation;
use crate::output::{print_json, text};
use crate::table;

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    let api = Api::connect(&args.api)?;
    let mut more = format!("keygate audit --limit {}", args.limit);
    if let Some(k) = &args.key_id {
        more.push_str(&format!(" --key {k}"));
    }
    if let Some(a) = &args.action {
        more.push_str(&format!(" --action {a}"));
    }
    let page = api.call(
        Request::new(Operation::ListAuditEvents)
            .query("limit", args.limit)
            .query_if("key_id", args.key_id)
            .query_if("action", args.action)
            .query_if("cursor", args.cursor),
    )?;
    if api.json {
        print_json(&page);
    } else {
        let events = page["data"].as_array().cloned().unwrap_or_default();
        print!("{}", render_events(&events));
        if let Some(next) = page["next_cursor"].as_str() {
            println!("more: {more} --cursor {next}");
        }
    }
    Ok(())
}

/// Audit events, one per line, newest first.
fn render_events(events: &[Value]) -> String {
    let headers = ["TIME", "ACTION", "KEY", "NAME", "BY", "STATUS", "REASON"];
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let by = match e["actor_type"].as_str() {
                Some("key") => text(&e["actor_hint"]),
                _ => "bootstrap".to_owned(),
            };
            let status = format!(
                "{} -> {}",
                text(&e["status_before"]),
                match &e["status_after"] {
                    Value::Null => "deleted".to_owned(),
                    v => text(v),
                }
            );
            vec![
                text(&e["time"]),
                text(&e["action"]),
                text(&e["key_id"]),
                text(&e["key_name"]),
                by,
                status,
                text(&e["reason"]),
            ]
        })
        .collect();
    table::render(&headers, &rows)
}
