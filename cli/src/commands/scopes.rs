//! `keygate scopes`: the scope catalog and the presets.

use std::fmt::Write as _;

use serde_json::Value;

use crate::api::Api;
use crate::args::ApiArgs;
use crate::client::Request;
use crate::library::Operation;
use crate::output::{print_json, text};

pub fn run(args: &ApiArgs) -> anyhow::Result<()> {
    let api = Api::connect(args)?;
    let catalog = api.call(Request::new(Operation::ListScopes))?;
    if api.json {
        print_json(&catalog);
    } else {
        print!("{}", render_scopes(&catalog));
    }
    Ok(())
}

/// The scope catalog and presets, readable.
fn render_scopes(catalog: &Value) -> String {
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
