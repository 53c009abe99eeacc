//! `keygate audit`: the organization's audit trail, newest first.

use serde_json::Value;

use crate::api::Api;
use crate::args::{AuditArgs, VerifyArgs};
use crate::client::Request;
use crate::library::Operation;
use crate::library::{App, ChainHash, OrgId};
use crate::output::{next_page_hint, print_json, terminal_width, text};
use crate::store;
use crate::table::{Fit, Table, column};

pub fn run(args: AuditArgs) -> anyhow::Result<()> {
    let api = Api::connect(&args.api)?;
    let resolve = |given: &Option<String>| -> anyhow::Result<Option<String>> {
        given
            .as_deref()
            .map(|key| api.resolve_key(key).map(|k| k.id))
            .transpose()
    };
    let key_id = resolve(&args.key)?;
    let actor_id = resolve(&args.actor)?;
    let mut more = format!("keygate audit --limit {}", args.limit);
    for (flag, value) in [
        ("--key", key_id.clone()),
        ("--actor", actor_id.clone()),
        ("--action", args.action.map(|a| a.to_string())),
        ("--since", args.since.clone()),
        ("--until", args.until.clone()),
    ] {
        if let Some(value) = value {
            more.push_str(&format!(" {flag} {value}"));
        }
    }
    let page = api.call(
        Request::new(Operation::ListAuditEvents)
            .query("limit", args.limit)
            .query_if("key_id", key_id)
            .query_if("actor_key_id", actor_id)
            .query_if("action", args.action)
            .query_if("since", args.since)
            .query_if("until", args.until)
            .query_if("cursor", args.cursor),
    )?;
    if api.json {
        print_json(&page);
    } else {
        let events = page["data"].as_array().cloned().unwrap_or_default();
        print!("{}", render_events(&events, terminal_width()));
        next_page_hint(&more, &page)?;
    }
    Ok(())
}

/// Audit events, one per line, newest first.
fn render_events(events: &[Value], width: usize) -> String {
    let mut table = Table::new(vec![
        column("TIME", Fit::Keep),
        column("ACTION", Fit::Keep),
        column("KEY", Fit::Keep),
        column("NAME", Fit::Shrink),
        column("BY", Fit::Shrink),
        column("STATUS", Fit::Optional),
        column("REASON OR CHANGE", Fit::Shrink),
    ]);
    for e in events {
        let by = match (e["actor_type"].as_str(), e["actor_name"].as_str()) {
            (Some("key"), Some(_)) => {
                format!("{} {}", text(&e["actor_name"]), text(&e["actor_hint"]))
            }
            (Some("key"), None) => text(&e["actor_hint"]),
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
        table.row(vec![
            text(&e["time"]).into(),
            text(&e["action"]).into(),
            text(&e["key_id"]).into(),
            text(&e["key_name"]).into(),
            by.into(),
            status.into(),
            match e["action"].as_str() {
                Some("update") => changes(&e["changes"]),
                _ => text(&e["reason"]),
            }
            .into(),
        ]);
    }
    table.render(width)
}

/// What an update changed: `name: old -> new; description: removed`.
fn changes(list: &Value) -> String {
    list.as_array()
        .into_iter()
        .flatten()
        .map(|c| match &c["after"] {
            Value::Null => format!("{}: removed", text(&c["field"])),
            after => format!(
                "{}: {} -> {}",
                text(&c["field"]),
                match &c["before"] {
                    Value::Null => "(none)".to_owned(),
                    before => text(before),
                },
                text(after)
            ),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `keygate audit verify`: the organization's whole trail, read from the
/// store, checked against its hash chain.
pub async fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let org = OrgId::new(&args.org).map_err(anyhow::Error::msg)?;
    let expected = match &args.expect {
        None => None,
        Some(given) => Some(parse_head(given).ok_or_else(|| {
            crate::UsageError(format!(
                "--expect {}: expected SEQ:HASH, a number and 64 hex digits",
                crate::output::terminal_safe(given)
            ))
        })?),
    };
    let settings = store::settings()?;
    let keys = settings.key_format().await?;
    let retention = settings.audit_retention_days;
    let app = App::new(store::open(args.store, &settings).await?, keys);
    let verified = app.verify_audit(&org, retention, expected).await?;
    let checked = match verified.first {
        Some(first) => format!(
            "{} events checked, {first} to {}",
            verified.linked, verified.head.seq
        ),
        None => "no events in the chain yet".to_owned(),
    };
    println!("audit trail of {org}: unbroken; {checked}");
    if verified.unlinked > 0 {
        println!(
            "{} older events were written before the chain began and are not checked",
            verified.unlinked
        );
    }
    println!("head {}", verified.head);
    Ok(())
}

/// `SEQ:HASH`.
fn parse_head(given: &str) -> Option<(u64, ChainHash)> {
    let (seq, hash) = given.split_once(':')?;
    Some((seq.parse().ok()?, ChainHash::from_hex(hash)?))
}
