//! The HTTP API as the commands use it: the configured client and output.

use std::io::Read as _;

use anyhow::{Context as _, bail};
use serde_json::Value;

use crate::args::ApiArgs;
use crate::client::{Client, Request};

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

    pub fn call(&self, request: Request) -> anyhow::Result<Value> {
        Ok(self.client.send(&request)?)
    }
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
