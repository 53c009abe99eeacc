//! `keygate catalog check|diff` and `keygate routes check`: a catalog file
//! read and checked offline, what a change to it does to keys, and its routes
//! against the deployer's own OpenAPI document.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_yaml::Value;

use crate::library::{Catalog, CatalogDiff, catalog_file_schema, shape_of};
use crate::output::terminal_safe;
use crate::store;

/// `FILE`, else `KEYGATE_CATALOG`, else the catalog keygate ships with.
fn load(file: Option<&Path>) -> anyhow::Result<(Catalog, String)> {
    match file {
        Some(path) => Ok((Catalog::load(path)?, path.display().to_string())),
        None => {
            let settings = store::settings()?;
            let name = std::env::var("KEYGATE_CATALOG")
                .unwrap_or_else(|_| "the catalog keygate ships with".to_owned());
            Ok((settings.catalog, name))
        }
    }
}

pub fn check(file: Option<&Path>) -> anyhow::Result<()> {
    let (catalog, name) = load(file)?;
    let routes = catalog.routes().deployer_route_keys().count();
    println!(
        "{}: {} resources, {} scopes, {} presets, {routes} routes, {} retired",
        terminal_safe(&name),
        catalog.resources().len(),
        catalog.scopes().len(),
        catalog.presets().len(),
        catalog.retired().len()
    );
    if routes == 0 {
        println!(
            "warning: no [routes]: every request to your API will be denied (keygate's own routes stay)"
        );
    }
    Ok(())
}

pub fn schema() -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(&catalog_file_schema())?);
    Ok(())
}

pub fn diff(old: &Path, new: &Path) -> anyhow::Result<()> {
    let (before, after) = (Catalog::load(old)?, Catalog::load(new)?);
    let diff = CatalogDiff::between(&before, &after);
    for scope in &diff.added {
        println!("added      {scope}");
    }
    for scope in &diff.retired {
        println!("retired    {scope}: keys that hold it keep it, and it grants nothing");
    }
    for (route, was, is) in &diff.rerouted {
        println!(
            "route      {}: {} -> {}",
            terminal_safe(route),
            terminal_safe(was),
            terminal_safe(is)
        );
    }
    for (scope, was, is) in &diff.redescribed {
        println!(
            "warning: {scope} now means \"{}\" (was \"{}\"): keys that hold it get the new meaning",
            terminal_safe(is),
            terminal_safe(was)
        );
    }
    for scope in &diff.reused {
        println!(
            "warning: {scope} comes back out of [retired]: keys minted before it was retired hold it again, with its new meaning"
        );
    }
    if diff == CatalogDiff::default() {
        println!("no change to scopes or routes");
    }
    if diff.is_refused() {
        let removed: Vec<String> = diff.removed.iter().map(|s| s.to_string()).collect();
        bail!(
            "{} taken out without being listed under [retired]: keys may still hold {}, and the name could come back with another meaning; add each to [retired] with why",
            removed.join(", "),
            if removed.len() == 1 { "it" } else { "them" }
        );
    }
    Ok(())
}

/// Every operation of the deployer's OpenAPI document as an API Gateway
/// route key (`GET /orders/{id}`).
fn operations_of(document: &Value) -> anyhow::Result<BTreeSet<String>> {
    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "options", "head", "patch", "trace",
    ];
    let paths = document
        .get("paths")
        .and_then(Value::as_mapping)
        .context("the OpenAPI document has no paths")?;
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        let Some(path) = path.as_str() else { continue };
        for method in METHODS {
            if item.get(method).is_some() {
                out.insert(format!("{} {path}", method.to_ascii_uppercase()));
            }
        }
    }
    Ok(out)
}

pub fn check_routes(openapi: &Path, catalog: Option<&Path>) -> anyhow::Result<()> {
    let (catalog, name) = load(catalog)?;
    let text = std::fs::read_to_string(openapi)
        .with_context(|| format!("cannot read {}", openapi.display()))?;
    let document: Value = serde_yaml::from_str(&text).with_context(|| {
        format!(
            "{} is not an OpenAPI document (YAML or JSON)",
            openapi.display()
        )
    })?;
    let operations = operations_of(&document)?;
    let rules: Vec<String> = catalog.routes().deployer_route_keys().collect();
    let shapes = |keys: &mut dyn Iterator<Item = &String>| -> BTreeSet<String> {
        keys.map(|k| shape_of(k)).collect()
    };
    let rule_shapes = shapes(&mut rules.iter());
    let operation_shapes = shapes(&mut operations.iter());
    let unruled: Vec<&String> = operations
        .iter()
        .filter(|op| !rule_shapes.contains(&shape_of(op)))
        .collect();
    let unknown: Vec<&String> = rules
        .iter()
        .filter(|rule| !operation_shapes.contains(&shape_of(rule)))
        .collect();
    for op in &unruled {
        println!(
            "no rule     {}: denied to every key; add it to [routes] with the scope it needs",
            terminal_safe(op)
        );
    }
    for rule in &unknown {
        println!(
            "no such op  {}: a rule for a route your API does not have",
            terminal_safe(rule)
        );
    }
    if unruled.is_empty() && unknown.is_empty() {
        println!(
            "{}: every one of the {} operations of {} has a rule, and every rule an operation",
            terminal_safe(&name),
            operations.len(),
            openapi.display()
        );
        return Ok(());
    }
    bail!(
        "{} operations without a rule, {} rules without an operation",
        unruled.len(),
        unknown.len()
    )
}
