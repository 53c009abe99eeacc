//! The HTTP API as the commands use it: the configured client, failures
//! that say what to do about them, and keys named by id or by name.

use std::collections::HashSet;
use std::io::Read as _;

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;

use crate::UsageError;
use crate::args::ApiArgs;
use crate::client::{CallError, Client, Request};
use crate::explain;
use crate::library::{KeyId, Operation, Route, quoted};
use crate::output::{terminal_safe, text};

/// A client of the configured API, and whether to print its JSON.
pub struct Api {
    pub client: Client,
    pub json: bool,
}

impl Api {
    /// The API at `--api-url` / `KEYGATE_API_URL`, called with the key from
    /// `--api-key-file` or `KEYGATE_API_KEY` (read once: standard input
    /// cannot be read twice).
    pub fn connect(args: &ApiArgs) -> anyhow::Result<Self> {
        let url = args
            .api_url
            .as_deref()
            .context("set KEYGATE_API_URL or pass --api-url")?;
        let key = api_key(args)?;
        Ok(Self {
            client: Client::new(url, &key, args.allow_http)?,
            json: args.json,
        })
    }

    /// Send one call. A failure says what a user can do about it: a
    /// gateway 403 why the key was refused, a 404 which key was not found.
    pub fn call(&self, request: Request) -> anyhow::Result<Value> {
        match self.client.send(&request) {
            Ok(value) => Ok(value),
            // API Gateway's own refusal has no error code.
            Err(CallError::Api(failure)) if failure.status == 403 && failure.code.is_none() => {
                let why = match request.route {
                    Route::Operation(operation) => explain::forbidden(&self.client, operation),
                    Route::OpenApiDocument => "the API refused to serve its public document".into(),
                };
                Err(anyhow!("403 {}: {why}", failure.message))
            }
            Err(CallError::Api(failure))
                if failure.status == 404 && failure.code.as_deref() == Some("not_found") =>
            {
                match request.id_param() {
                    // Ids are not secrets: unlike the API, say which one.
                    Some(id) => Err(anyhow!(
                        "404 not_found: no API key {} in your organization",
                        terminal_safe(id)
                    )),
                    None => Err(CallError::Api(failure).into()),
                }
            }
            Err(other) => Err(other.into()),
        }
    }

    /// The key `given` names: `given` itself when it has the form of a key
    /// id, else the one key of the organization named exactly `given`,
    /// among the keys the API's name search finds for it (names that start
    /// with it, whatever their case), page by page.
    pub fn resolve_key(&self, given: &str) -> anyhow::Result<KeyRef> {
        if let Some(id) = KeyId::in_key(given) {
            return Err(UsageError(format!(
                "that is a full API key, a secret (not repeated here); name a key by its id \
                 ({id}) or its name"
            ))
            .into());
        }
        if KeyId::parse(given).is_ok() {
            return Ok(KeyRef {
                id: given.to_owned(),
                name: None,
            });
        }
        let mut named = vec![];
        let mut cursor: Option<String> = None;
        let mut seen = HashSet::new();
        loop {
            let page = self.call(
                Request::new(Operation::ListKeys)
                    .query("status", "all")
                    .query("name", given)
                    .query("limit", 100)
                    .query_if("cursor", cursor.take()),
            )?;
            let records = page["data"]
                .as_array()
                .context("the API answered a list of keys without data")?;
            named.extend(
                records
                    .iter()
                    .filter(|r| r["name"].as_str() == Some(given))
                    .cloned(),
            );
            match page["next_cursor"].as_str() {
                Some(next) if seen.insert(next.to_owned()) => cursor = Some(next.to_owned()),
                Some(_) => bail!("the API answered the same next_cursor twice while listing keys"),
                None => break,
            }
        }
        match named.as_slice() {
            [] => bail!("no key named {} in your organization", quoted(given)),
            [record] => Ok(KeyRef {
                id: text(&record["id"]),
                name: Some(given.to_owned()),
            }),
            many => {
                let ids: Vec<String> = many
                    .iter()
                    .map(|r| format!("{} ({})", text(&r["id"]), text(&r["status"])))
                    .collect();
                bail!(
                    "{} keys are named {}: {}; name one by its id",
                    many.len(),
                    quoted(given),
                    ids.join(", ")
                )
            }
        }
    }
}

/// A key named on the command line: its id, and its name when it was named
/// by it.
pub struct KeyRef {
    pub id: String,
    pub name: Option<String>,
}

/// The API key: from `--api-key-file` (a file, or standard input with `-`),
/// else `--api-key` / `KEYGATE_API_KEY`.
fn api_key(args: &ApiArgs) -> anyhow::Result<String> {
    let from_file = match &args.api_key_file {
        Some(path) if path.as_os_str() == "-" => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read the API key from standard input")?;
            Some(text)
        }
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the API key from {}", path.display()))?,
        ),
        None => None,
    };
    let key = match from_file {
        Some(text) => text.trim().to_owned(),
        None => args.api_key.clone().context(
            "set KEYGATE_API_KEY, or pass --api-key-file FILE (or - for standard input)",
        )?,
    };
    if key.is_empty() {
        bail!("the API key is empty");
    }
    Ok(key)
}
