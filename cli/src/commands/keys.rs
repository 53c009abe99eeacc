//! `keygate keys …`: create, list, read and change keys through the API.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead as _, IsTerminal as _};

use anyhow::bail;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::UsageError;
use crate::api::{Api, KeyRef};
use crate::args::{ApiArgs, CreateArgs, KeyType, KeysCommand, LimitArgs, StatusFilter};
use crate::client::{CallError, Request};
use crate::explain;
use crate::library::{Operation, key_id_of};
use crate::output::{
    duration, next_page_hint, print_json, relative_time, shell_word, terminal_safe, terminal_width,
    text,
};
use crate::table::{Cell, Fit, Table, column};

pub fn run(args: &ApiArgs, command: KeysCommand) -> anyhow::Result<()> {
    let api = Api::connect(args)?;
    match command {
        KeysCommand::Create(create) => create_key(&api, create),
        KeysCommand::List {
            status,
            name,
            key_type,
            owner,
            limit,
            cursor,
        } => list(
            &api,
            status,
            Find {
                name,
                key_type,
                owner,
            },
            limit,
            cursor,
        ),
        KeysCommand::Get { key } => act_on(&api, Operation::GetKey, &key),
        KeysCommand::Rename { key, name } => edit(&api, &key, json!({ "name": name })),
        KeysCommand::Edit {
            key,
            name,
            description,
            no_description,
        } => {
            if name.is_none() && description.is_none() && !no_description {
                return Err(UsageError(
                    "nothing to change: pass --name, --description or --no-description".into(),
                )
                .into());
            }
            let mut body = serde_json::Map::new();
            if let Some(name) = name {
                body.insert("name".into(), json!(name));
            }
            if no_description {
                body.insert("description".into(), Value::Null);
            } else if let Some(description) = description {
                body.insert("description".into(), json!(description));
            }
            edit(&api, &key, Value::Object(body))
        }
        KeysCommand::Suspend { key } => act_on(&api, Operation::SuspendKey, &key),
        KeysCommand::Reactivate { key } => act_on(&api, Operation::ReactivateKey, &key),
        KeysCommand::Rotate { key, grace, reason } => {
            rotate(&api, &api.resolve_key(&key)?, grace, reason)
        }
        KeysCommand::Revoke {
            key,
            reason,
            confirm,
        } => {
            let key = api.resolve_key(&key)?;
            confirmed(
                &api,
                &key,
                confirm.yes,
                ("revoke", "revoked"),
                "It stops working now and can never be reactivated.",
            )?;
            let request = Request::new(Operation::RevokeKey)
                .id(&key.id)
                .body(json!({ "reason": reason }));
            print_record(&api, &api.call(request)?)
        }
        KeysCommand::Delete { key, confirm } => {
            let key = api.resolve_key(&key)?;
            confirmed(
                &api,
                &key,
                confirm.yes,
                ("delete", "deleted"),
                "Its record is removed for good; its audit trail stays.",
            )?;
            api.call(Request::new(Operation::DeleteKey).id(&key.id))?;
            if api.json {
                println!("{}", json!({ "deleted": key.id }));
            } else {
                println!("deleted {}", key.id);
            }
            Ok(())
        }
        KeysCommand::Limits {
            key,
            limits,
            no_rate,
            no_quota,
        } => set_limits(&api, &api.resolve_key(&key)?, &limits, no_rate, no_quota),
        KeysCommand::Usage { key } => {
            let key = api.resolve_key(&key)?;
            print_usage(
                &api,
                &api.call(Request::new(Operation::GetUsage).id(&key.id))?,
            )
        }
        KeysCommand::ResetUsage { key, confirm } => {
            let key = api.resolve_key(&key)?;
            confirmed(
                &api,
                &key,
                confirm.yes,
                ("reset the usage of", "reset"),
                "Every key drawing on its budget starts counting from zero.",
            )?;
            print_usage(
                &api,
                &api.call(Request::new(Operation::ResetUsage).id(&key.id))?,
            )
        }
    }
}

/// The limits body `args` ask for; `None` for what they leave unsaid.
fn limits_body(args: &LimitArgs) -> (Option<Value>, Option<Value>) {
    (
        args.rate
            .map(|(requests, window)| json!({"requests": requests, "window_seconds": window})),
        args.quota
            .as_ref()
            .map(|(requests, period)| json!({"requests": requests, "period": period})),
    )
}

/// Change only the limits named: read the key's, replace or remove those,
/// and put the whole back.
fn set_limits(
    api: &Api,
    key: &KeyRef,
    args: &LimitArgs,
    no_rate: bool,
    no_quota: bool,
) -> anyhow::Result<()> {
    if args.rate.is_none() && args.quota.is_none() && !no_rate && !no_quota {
        return Err(UsageError(
            "say what to change: --rate N/WINDOW, --quota N/PERIOD, --no-rate or --no-quota"
                .to_owned(),
        )
        .into());
    }
    let current = api.call(Request::new(Operation::GetKey).id(&key.id))?;
    let (rate, quota) = limits_body(args);
    let keep = |new: Option<Value>, remove: bool, field: &str| match (new, remove) {
        (Some(v), _) => v,
        (None, true) => Value::Null,
        (None, false) => current["limits"][field].clone(),
    };
    let body = json!({
        "rate": keep(rate, no_rate, "rate"),
        "quota": keep(quota, no_quota, "quota"),
    });
    print_record(
        api,
        &api.call(Request::new(Operation::SetLimits).id(&key.id).body(body))?,
    )
}

fn print_usage(api: &Api, usage: &Value) -> anyhow::Result<()> {
    if api.json {
        print_json(usage);
    } else {
        print!("{}", render_usage(usage, terminal_width()));
    }
    Ok(())
}

/// Each limit: what it allows, used, remaining and when it resets.
fn render_usage(usage: &Value, width: usize) -> String {
    if usage["rate"].is_null() && usage["quota"].is_null() {
        return format!("{} has no usage limits.\n", text(&usage["key_id"]));
    }
    let now = OffsetDateTime::now_utc();
    let mut table = Table::new(vec![
        column("LIMIT", Fit::Keep),
        column("ALLOWS", Fit::Shrink),
        column("USED", Fit::Keep),
        column("REMAINING", Fit::Keep),
        column("RESETS", Fit::Keep),
    ]);
    for (kind, limit) in [("rate", "rate"), ("quota", "quota")] {
        let u = &usage[kind];
        if u.is_null() {
            continue;
        }
        table.row(vec![
            limit.into(),
            describe_limit(kind, &usage["limits"][kind]).into(),
            text(&u["used"]).into(),
            text(&u["remaining"]).into(),
            format!(
                "{} ({})",
                text(&u["resets_at"]),
                relative_time(&u["resets_at"], now)
            )
            .into(),
        ]);
    }
    let mut out = table.render(width);
    if usage["budget"] != usage["key_id"] {
        out.push_str(&format!(
            "Counted in the budget of {}, shared with its rotations and the keys it created.\n",
            text(&usage["budget"])
        ));
    }
    out
}

/// "100 per minute", "5 per 10 seconds", "10000 per month".
fn describe_limit(kind: &str, limit: &Value) -> String {
    match kind {
        "rate" => {
            let window = limit["window_seconds"]
                .as_u64()
                .map_or_else(|| "?".to_owned(), duration);
            let window = window.strip_prefix("1 ").unwrap_or(&window).to_owned();
            format!("{} per {window}", text(&limit["requests"]))
        }
        _ => format!(
            "{} per {}",
            text(&limit["requests"]),
            text(&limit["period"])
        ),
    }
}

/// A record's limits in a few words: "100 per minute, 10000 per month", "none".
fn limits_summary(record: &Value) -> String {
    let limits = &record["limits"];
    let parts: Vec<String> = ["rate", "quota"]
        .into_iter()
        .filter(|k| !limits[*k].is_null())
        .map(|k| describe_limit(k, &limits[k]))
        .collect();
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Call `operation` on the key `given` names; print the record it answers.
fn act_on(api: &Api, operation: Operation, given: &str) -> anyhow::Result<()> {
    let key = api.resolve_key(given)?;
    print_record(api, &api.call(Request::new(operation).id(&key.id))?)
}

/// `PATCH` the labels in `body` onto the key `given` names; print the key.
fn edit(api: &Api, given: &str, body: Value) -> anyhow::Result<()> {
    let key = api.resolve_key(given)?;
    print_record(
        api,
        &api.call(Request::new(Operation::UpdateKey).id(&key.id).body(body))?,
    )
}

/// Go ahead with `verb` (delete, revoke) on `key` only if asked to: with
/// `--yes`, or by answering y on the terminal that is standard input.
/// Without a terminal, nobody can answer: refused without `--yes`.
fn confirmed(
    api: &Api,
    key: &KeyRef,
    yes: bool,
    (verb, done): (&str, &str),
    consequence: &str,
) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(UsageError(format!(
            "refusing to {verb} key {} without --yes: standard input is not a terminal, so \
             nobody can confirm; pass --yes to {verb} it without asking",
            key.id
        ))
        .into());
    }
    let name = match &key.name {
        Some(name) => terminal_safe(name),
        None => {
            let record = api.call(Request::new(Operation::GetKey).id(&key.id))?;
            text(&record["name"])
        }
    };
    let mut capitalized = verb.to_owned();
    capitalized[..1].make_ascii_uppercase();
    eprint!(
        "{capitalized} key \"{name}\" ({})? {consequence} [y/N] ",
        key.id
    );
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        bail!("cancelled; key {} was not {done}", key.id)
    }
}

fn create_key(api: &Api, args: CreateArgs) -> anyhow::Result<()> {
    let permissions = match (&args.preset, args.scopes.is_empty()) {
        (Some(p), _) => json!({ "preset": p }),
        (None, false) => json!(args.scopes),
        (None, true) => json!("full"),
    };
    let mut body = json!({
        "name": args.name,
        "description": args.description,
        "key_type": args.key_type.to_string(),
        "owner": args.owner,
        "permissions": permissions,
        "expires_at": args.expires_at,
    });
    if let (rate, quota) = limits_body(&args.limits)
        && (rate.is_some() || quota.is_some())
    {
        body["limits"] = json!({ "rate": rate, "quota": quota });
    }
    let created = api
        .call(Request::new(Operation::CreateKey).body(body))
        .map_err(|e| {
            let hint = match e.downcast_ref::<CallError>() {
                Some(CallError::Api(f)) if f.code.as_deref() == Some("unknown_scope") => {
                    explain::unknown_scopes(&api.client, &args.scopes)
                }
                Some(CallError::Api(f)) if f.code.as_deref() == Some("unknown_preset") => args
                    .preset
                    .as_deref()
                    .and_then(|preset| explain::unknown_preset(&api.client, preset)),
                _ => None,
            };
            match hint {
                Some(hint) => anyhow::anyhow!("{e:#}\n{hint}"),
                None => e,
            }
        })?;
    print_new_key(api, &created)
}

/// What a list looks for besides a status.
struct Find {
    name: Option<String>,
    key_type: Option<KeyType>,
    owner: Option<String>,
}

fn list(
    api: &Api,
    status: StatusFilter,
    find: Find,
    limit: u32,
    cursor: Option<String>,
) -> anyhow::Result<()> {
    let mut more = format!("keygate keys list --status {status} --limit {limit}");
    for (flag, value) in [
        ("--name", find.name.clone()),
        ("--type", find.key_type.map(|t| t.to_string())),
        ("--owner", find.owner.clone()),
    ] {
        if let Some(value) = value {
            more.push_str(&format!(" {flag} {}", shell_word(&value)));
        }
    }
    let page = api.call(
        Request::new(Operation::ListKeys)
            .query("status", status)
            .query_if("name", find.name)
            .query_if("key_type", find.key_type)
            .query_if("owner", find.owner)
            .query("limit", limit)
            .query_if("cursor", cursor),
    )?;
    if api.json {
        print_json(&page);
    } else {
        let records = page["data"].as_array().cloned().unwrap_or_default();
        let presets = if records.iter().all(is_full_access) {
            Presets::new()
        } else {
            presets(api)
        };
        print!("{}", render_keys(&records, &presets, terminal_width()));
        if let Some(counts) = counts_line(&page["counts"]) {
            eprintln!("{counts}");
        }
        next_page_hint(&more, &page)?;
    }
    Ok(())
}

fn rotate(api: &Api, key: &KeyRef, grace: u32, reason: Option<String>) -> anyhow::Result<()> {
    let id = &key.id;
    let body = json!({ "grace_period_seconds": grace, "reason": reason });
    let successor = api.call(Request::new(Operation::RotateKey).id(id).body(body))?;
    checked_key(&successor)?;
    if !api.json {
        let old = if grace == 0 {
            "revoked now".to_owned()
        } else {
            format!("keeps working for {}", duration(u64::from(grace)))
        };
        eprintln!("Rotated {id}: the old key {old}; the new key follows.");
    }
    print_new_key(api, &successor)
}

fn print_record(api: &Api, record: &Value) -> anyhow::Result<()> {
    if api.json {
        print_json(record);
    } else {
        print!("{}", render_record(record, terminal_width()));
    }
    Ok(())
}

/// The new key in a create or rotate answer, if it is a well-formed key
/// of the answer's record: anything else is refused, never printed.
fn checked_key(created: &Value) -> anyhow::Result<&str> {
    let key = created["key"].as_str().unwrap_or_default();
    let id = key_id_of(key).map_err(|reason| {
        anyhow::anyhow!(
            "the API answered a new key that is not a keygate key ({reason}); it is not shown"
        )
    })?;
    if created["id"].as_str() != Some(id.to_string().as_str()) {
        bail!("the API answered a new key that is not the new record's ({id}); it is not shown");
    }
    Ok(key)
}

/// A new key once: with `--json` the API's answer (record and key) on
/// stdout; else the record and a warning to store the key on stderr and
/// only the key on stdout, for `KEY=$(keygate keys create …)`.
fn print_new_key(api: &Api, created: &Value) -> anyhow::Result<()> {
    let key = checked_key(created)?;
    if api.json {
        print_json(created);
    } else {
        eprint!("{}", render_record(created, terminal_width()));
        eprintln!();
        eprintln!("This is the only time the key is shown. Store it somewhere safe now:");
        println!("{key}");
    }
    Ok(())
}

/// The organization's keys by status, from a list's `counts`: "12 keys: 9
/// active, 2 suspended, 1 revoked".
fn counts_line(counts: &Value) -> Option<String> {
    let n = |status: &str| counts[status].as_u64();
    let all = n("all")?;
    Some(format!(
        "{all} {} in the organization: {} active, {} suspended, {} revoked",
        if all == 1 { "key" } else { "keys" },
        n("active")?,
        n("suspended")?,
        n("revoked")?
    ))
}

/// Scope lists of the presets, by name, from `GET /v1/scopes`.
type Presets = BTreeMap<String, BTreeSet<String>>;

/// The catalog's presets; none when the catalog cannot be read (the list
/// then names scopes instead of presets).
fn presets(api: &Api) -> Presets {
    let Ok(catalog) = api.call(Request::new(Operation::ListScopes)) else {
        return Presets::new();
    };
    catalog["presets"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, scopes)| (name.clone(), strings(scopes).into_iter().collect()))
        .collect()
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect()
}

fn is_full_access(record: &Value) -> bool {
    strings(&record["scopes"]).iter().any(|s| s == "*")
}

/// How a key's permissions read, as in the console: "Full access", a
/// preset's name when the scopes are exactly that preset's, else the scopes,
/// or "N scopes" when they do not fit.
fn permissions(record: &Value, presets: &Presets) -> Cell {
    if is_full_access(record) {
        return "Full access".into();
    }
    let scopes = strings(&record["scopes"]);
    let held: BTreeSet<String> = scopes.iter().cloned().collect();
    if let Some((name, _)) = presets.iter().find(|(_, preset)| **preset == held) {
        return terminal_safe(name).into();
    }
    let count = scopes.len();
    Cell::with_short(
        terminal_safe(&scopes.join(" ")),
        format!("{count} {}", if count == 1 { "scope" } else { "scopes" }),
    )
}

fn status(record: &Value) -> String {
    match record["status"].as_str() {
        Some("active") if record["expired"] == json!(true) => "expired".into(),
        _ => text(&record["status"]),
    }
}

/// A table of key records, one per line.
fn render_keys(records: &[Value], presets: &Presets, width: usize) -> String {
    let now = OffsetDateTime::now_utc();
    let mut table = Table::new(vec![
        column("ID", Fit::Keep),
        column("NAME", Fit::Shrink),
        column("TYPE", Fit::Optional),
        column("STATUS", Fit::Keep),
        column("PERMISSIONS", Fit::Shrink),
        column("HINT", Fit::Keep),
        column("CREATED", Fit::Optional),
        column("EXPIRES", Fit::Keep),
        column("LAST USED", Fit::Keep),
        column("LIMITS", Fit::Optional),
    ]);
    for r in records {
        table.row(vec![
            text(&r["id"]).into(),
            text(&r["name"]).into(),
            text(&r["key_type"]).into(),
            status(r).into(),
            permissions(r, presets),
            text(&r["hint"]).into(),
            relative_time(&r["created_at"], now).into(),
            relative_time(&r["expires_at"], now).into(),
            relative_time(&r["last_used_at"], now).into(),
            limits_summary(r).into(),
        ]);
    }
    table.render(width)
}

/// One record as `field value` lines; times also relative to now.
pub fn render_record(record: &Value, width: usize) -> String {
    let now = OffsetDateTime::now_utc();
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
    let mut table =
        Table::new(vec![column("", Fit::Keep), column("", Fit::Wrap)]).without_headers();
    for field in fields {
        let value = &record[field];
        let shown = match value.as_str() {
            Some(_) if field.ends_with("_at") => {
                format!("{} ({})", text(value), relative_time(value, now))
            }
            _ => text(value),
        };
        table.row(vec![field.into(), shown.into()]);
    }
    let scopes = if is_full_access(record) {
        "* (full access)".to_owned()
    } else {
        terminal_safe(&strings(&record["scopes"]).join(" "))
    };
    table.row(vec!["scopes".into(), scopes.into()]);
    table.row(vec!["limits".into(), limits_summary(record).into()]);
    if record["budget"] != record["id"] && !record["budget"].is_null() {
        table.row(vec!["budget".into(), text(&record["budget"]).into()]);
    }
    table.render(width)
}
