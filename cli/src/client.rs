//! `keygate keys …` and `keygate scopes`: a thin client of the HTTP API.

use std::fmt::Write as _;

use serde_json::{Value, json};

/// A failed call: the API's own message, or why the API could not be reached.
#[derive(Debug)]
pub struct CallError(pub String);

pub struct Client {
    base: String,
    key: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(base: &str, key: &str) -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            agent,
        }
    }

    /// Send one call; `Ok` with the JSON body on 2xx, else the API's message.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, CallError> {
        let url = format!("{}{path}", self.base);
        let unreachable = |e: ureq::Error| CallError(format!("cannot reach {}: {e}", self.base));
        let result = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("x-api-key", &self.key).call(),
            ("DELETE", _) => self
                .agent
                .delete(&url)
                .header("x-api-key", &self.key)
                .call(),
            (_, Some(body)) => self
                .agent
                .post(&url)
                .header("x-api-key", &self.key)
                .send_json(body),
            (_, None) => self
                .agent
                .post(&url)
                .header("x-api-key", &self.key)
                .send_empty(),
        };
        let mut response = result.map_err(unreachable)?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(unreachable)?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = value["error"]["message"]
            .as_str()
            .or(value["message"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        let code = value["error"]["code"].as_str().unwrap_or("");
        Err(CallError(if code.is_empty() {
            format!("{status}: {message}")
        } else {
            format!("{status} {code}: {message}")
        }))
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn scopes_of(record: &Value) -> String {
    record["scopes"]
        .as_array()
        .map(|a| a.iter().map(text).collect::<Vec<_>>().join(","))
        .unwrap_or_default()
}

/// A table of key records, one per line.
pub fn render_table(records: &[Value]) -> String {
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
    let widths: Vec<usize> = (0..headers.len())
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([headers[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", padded.join("  ").trim_end());
    };
    line(headers.to_vec());
    for row in &rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// One record as `field: value` lines.
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
    ];
    let mut out = String::new();
    for f in fields {
        let _ = writeln!(out, "{f:<15} {}", text(&record[f]));
    }
    let _ = writeln!(out, "{:<15} {}", "scopes", scopes_of(record));
    out
}

/// The scope catalog and presets, readable.
pub fn render_scopes(catalog: &Value) -> String {
    let mut out = String::from("SCOPES\n");
    for r in catalog["resources"].as_array().into_iter().flatten() {
        let scopes: Vec<String> = r["scopes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        let _ = writeln!(out, "  {:<16} {}", text(&r["resource"]), scopes.join(" "));
    }
    out.push_str("PRESETS\n");
    if let Some(presets) = catalog["presets"].as_object() {
        for (name, scopes) in presets {
            let list: Vec<String> = scopes.as_array().into_iter().flatten().map(text).collect();
            let _ = writeln!(out, "  {name:<21} {}", list.join(" "));
        }
    }
    let _ = writeln!(out, "FULL ACCESS\n  {}", text(&catalog["full_access"]));
    out
}
