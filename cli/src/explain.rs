//! Failed calls explained: why the gateway refused a key (403), and which
//! catalog scope or preset a mistyped one meant.

use std::collections::HashMap;

use serde_json::Value;
use time::OffsetDateTime;

use crate::client::{CallError, Client, Request};
use crate::library::{Operation, REQUIRED_SCOPE, Route, key_id_of, quoted};
use crate::output::{relative_time, terminal_safe, text};

/// Why the gateway answered 403 to `operation`, in a sentence: what the
/// call needs (its `x-required-scope` in the API's OpenAPI document) and
/// what the key is (its own record, when it may read it; else whether the
/// API takes it at all).
pub fn forbidden(client: &Client, operation: Operation) -> String {
    let id = match key_id_of(client.key()) {
        Ok(id) => id.to_string(),
        Err(reason) => return format!("the API key is not a keygate key: {reason}"),
    };
    let call = operation.function_name();
    let scopes = required_scopes(client);
    // "any" (any valid key) names no scope a key could lack.
    let needed = scopes
        .as_ref()
        .and_then(|s| s.get(call))
        .filter(|scope| *scope != "any");
    let own = client.send(&Request::new(Operation::GetKey).id(&id));
    match own {
        Ok(record) => describe(&record, call, needed.map(String::as_str)),
        Err(CallError::Api(failure)) if failure.status == 403 => {
            let reading_itself = scopes
                .as_ref()
                .and_then(|s| s.get(Operation::GetKey.function_name()));
            match client.send(&Request::new(Operation::ListScopes)) {
                // A valid key that cannot read its own record.
                Ok(_) => match (needed, reading_itself) {
                    (Some(needed), Some(reading)) if needed == reading => {
                        format!("this key ({id}) lacks {needed}, which {call} needs")
                    }
                    (Some(needed), Some(reading)) => format!(
                        "this key ({id}) lacks {needed}, which {call} needs (nor does it hold \
                         {reading}, so it cannot read its own record to show what it holds)"
                    ),
                    _ => format!("the API refused this key ({id}) for {call}"),
                },
                Err(CallError::Api(failure)) if failure.status == 403 => format!(
                    "the API refuses this key ({id}) on every call: it is unknown to this \
                     deployment (deleted, or another deployment's), suspended, revoked or expired"
                ),
                Err(_) => format!("the API refused this key ({id}) for {call}"),
            }
        }
        Err(_) => format!("the API refused this key ({id}) for {call}"),
    }
}

/// The refusal of `call` explained by the calling key's own record.
fn describe(record: &Value, call: &str, needed: Option<&str>) -> String {
    let who = format!(
        "this key ({}, \"{}\")",
        text(&record["id"]),
        text(&record["name"])
    );
    let status = record["status"].as_str().unwrap_or_default();
    if status != "active" {
        return format!("{who} is {}", terminal_safe(status));
    }
    if record["expired"] == Value::Bool(true) {
        let when = relative_time(&record["expires_at"], OffsetDateTime::now_utc());
        return format!("{who} expired ({when})");
    }
    let held: Vec<String> = record["scopes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(text)
        .collect();
    let holds = |scope: &str| held.iter().any(|h| h == "*" || h == scope);
    match needed {
        Some(needed) if !holds(needed) => format!(
            "{who} lacks {}, which {call} needs; it holds {}",
            terminal_safe(needed),
            held.join(" ")
        ),
        Some(needed) => format!(
            "{who} holds {}, which {call} needs, yet the API refused it; it may be over a usage \
             limit",
            terminal_safe(needed)
        ),
        None => format!(
            "the API refused {who} for {call}; it holds {}",
            held.join(" ")
        ),
    }
}

/// The scope each operation needs, by operationId (`create-key` →
/// `api-keys:write`), from the API's OpenAPI document; `None` when it
/// cannot be read.
fn required_scopes(client: &Client) -> Option<HashMap<String, String>> {
    let document = client.send(&Request::new(Route::OpenApiDocument)).ok()?;
    let mut scopes = HashMap::new();
    for item in document["paths"].as_object()?.values() {
        for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let (Some(id), Some(scope)) = (
                operation["operationId"].as_str(),
                operation[REQUIRED_SCOPE].as_str(),
            ) {
                scopes.insert(id.to_owned(), scope.to_owned());
            }
        }
    }
    Some(scopes)
}

/// The catalog entry closest to `given`, if one is close enough to be a
/// typo of it.
fn nearest<'a>(given: &str, candidates: &'a [String]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(given, c), c.as_str()))
        .filter(|(distance, c)| *distance <= (c.chars().count() / 4).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, c)| c)
}

/// For each of `requested` that is not in the API's catalog, a line saying
/// what was probably meant; `None` when the catalog cannot be read.
pub fn unknown_scopes(client: &Client, requested: &[String]) -> Option<String> {
    let catalog = client.send(&Request::new(Operation::ListScopes)).ok()?;
    let mut by_resource: Vec<(String, Vec<String>)> = vec![];
    for resource in catalog["resources"].as_array()? {
        let scopes = resource["scopes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        by_resource.push((resource["resource"].as_str()?.to_owned(), scopes));
    }
    let known: Vec<String> = by_resource.iter().flat_map(|(_, s)| s.clone()).collect();
    let hints: Vec<String> = requested
        .iter()
        .filter(|scope| !known.contains(scope))
        .map(|scope| {
            let resource = scope.split(':').next().unwrap_or_default();
            let hint = match (
                nearest(scope, &known),
                by_resource.iter().find(|(r, _)| r == resource),
            ) {
                (Some(meant), _) => format!("did you mean {}?", terminal_safe(meant)),
                (None, Some((_, scopes))) => format!(
                    "{} has {}",
                    terminal_safe(resource),
                    terminal_safe(&scopes.join(", "))
                ),
                (None, None) => "`keygate scopes` lists the catalog".to_owned(),
            };
            format!("  {} is not a scope: {hint}", quoted(scope))
        })
        .collect();
    (!hints.is_empty()).then(|| hints.join("\n"))
}

/// What a preset that is not in the API's catalog probably meant.
pub fn unknown_preset(client: &Client, given: &str) -> Option<String> {
    let catalog = client.send(&Request::new(Operation::ListScopes)).ok()?;
    let presets: Vec<String> = catalog["presets"].as_object()?.keys().cloned().collect();
    let hint = match nearest(given, &presets) {
        Some(meant) => format!("did you mean {}?", terminal_safe(meant)),
        None => format!("the presets are {}", terminal_safe(&presets.join(", "))),
    };
    Some(format!("  {} is not a preset: {hint}", quoted(given)))
}
