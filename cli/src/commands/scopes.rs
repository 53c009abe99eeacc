//! `keygate scopes`: the scope catalog and the presets.

use serde_json::Value;

use crate::api::Api;
use crate::args::ApiArgs;
use crate::client::Request;
use crate::library::Operation;
use crate::output::{print_json, terminal_safe, terminal_width, text};
use crate::table::{Fit, Table, column};

pub fn run(args: &ApiArgs) -> anyhow::Result<()> {
    let api = Api::connect(args)?;
    let catalog = api.call(Request::new(Operation::ListScopes))?;
    if api.json {
        print_json(&catalog);
    } else {
        print!("{}", render_scopes(&catalog, terminal_width()));
    }
    Ok(())
}

fn scope_list(scopes: &Value) -> String {
    let scopes: Vec<String> = scopes.as_array().into_iter().flatten().map(text).collect();
    scopes.join(" ")
}

/// The scope catalog and presets, readable, in `width` columns.
fn render_scopes(catalog: &Value, width: usize) -> String {
    let mut resources = Table::new(vec![
        column("RESOURCE", Fit::Keep),
        column("SCOPES", Fit::Wrap),
    ]);
    for r in catalog["resources"].as_array().into_iter().flatten() {
        resources.row(vec![
            text(&r["resource"]).into(),
            scope_list(&r["scopes"]).into(),
        ]);
    }
    let mut presets = Table::new(vec![
        column("PRESET", Fit::Keep),
        column("SCOPES", Fit::Wrap),
    ]);
    for (name, scopes) in catalog["presets"].as_object().into_iter().flatten() {
        presets.row(vec![terminal_safe(name).into(), scope_list(scopes).into()]);
    }
    let mut full = Table::new(vec![
        column("FULL ACCESS", Fit::Keep),
        column("", Fit::Wrap),
    ]);
    full.row(vec![
        text(&catalog["full_access"]).into(),
        "every scope, also ones added to the catalog later".into(),
    ]);
    format!(
        "{}\n{}\n{}",
        resources.render(width),
        presets.render(width),
        full.render(width)
    )
}
