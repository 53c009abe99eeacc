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

/// Whether `host` (from a URL) is this machine.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // Only the name `localhost` and literal loopback addresses: other
    // `*.localhost` names may be resolved by DNS to another machine.
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    /// A client of the API at `base`, which must be `https://`, or `http://`
    /// to this machine (any host with `allow_http`): the key goes nowhere
    /// unencrypted unless asked.
    pub fn new(base: &str, key: &str, allow_http: bool) -> Result<Self, String> {
        let uri: http::Uri = base
            .parse()
            .map_err(|_| format!("the API URL {base:?} is not a URL"))?;
        let host = uri
            .host()
            .ok_or_else(|| format!("the API URL {base:?} has no host"))?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if allow_http || is_loopback(host) => {}
            Some("http") => {
                return Err(format!(
                    "refusing to send the API key over plain http:// to {host}; use https://, \
                     or pass --allow-http if the network to it is trusted"
                ));
            }
            _ => return Err(format!("the API URL {base:?} is not http:// or https://")),
        }
        // A proxy from the environment (HTTP_PROXY, ALL_PROXY) would see the
        // key in plain text on an http:// call; over https it only tunnels
        // the encrypted connection, so only https may use one.
        let proxy = match uri.scheme_str() {
            Some("https") => ureq::Proxy::try_from_env(),
            _ => None,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(proxy)
            .http_status_as_error(false)
            // Never follow a redirect: it would carry the key to wherever
            // the server points.
            .max_redirects(0)
            .user_agent(concat!("keygate-cli/", env!("CARGO_PKG_VERSION")))
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            agent,
        })
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
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location header)");
            return Err(CallError(format!(
                "{status}: the API redirects to {location}; keygate does not follow redirects \
                 with your key. If the API moved, set KEYGATE_API_URL to its new address."
            )));
        }
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
            format!("{status}: {}", terminal_safe(&message))
        } else {
            format!("{status} {code}: {}", terminal_safe(&message))
        }))
    }
}

/// Text from the API as a terminal shows it: control and invisible
/// formatting characters escaped, so no value can move the cursor, recolour
/// the terminal or display as something else.
pub fn terminal_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            let hidden = c.is_control()
                || unicode_general_category::get_general_category(c)
                    == unicode_general_category::GeneralCategory::Format;
            if hidden {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => terminal_safe(s),
        other => terminal_safe(&other.to_string()),
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
    table(&headers, &rows)
}

/// Rows under headers, columns padded to their widest cell.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
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
    for row in rows {
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

/// Audit events, one per line, newest first.
pub fn render_events(events: &[Value]) -> String {
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
    table(&headers, &rows)
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
