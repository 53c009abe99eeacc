//! The catalog: the scopes a deployment's keys can hold, a line describing
//! each, the presets a create may name, which scope each route of the
//! deployer's API needs, and the scopes taken out of it. It is data — one
//! TOML file a deployer edits (`catalog/keygate.toml` is the one keygate
//! ships) — read once at start, and every part of keygate reads it: the
//! authorizer (routes), the API (`/v1/scopes`, create), the console and the
//! CLI (through the API), the OpenAPI document.
//!
//! Changing it never widens a key: full access covers every scope, also ones
//! added later; a scoped key holds exactly the scopes it was given (a preset
//! is expanded when the key is created); a scope taken out grants nothing (a
//! key keeps it as text, but no route can need it); and a name listed under
//! `[retired]` cannot come back with a new meaning.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::LazyLock;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use super::routes::{Requirement, RouteTable, RouteTableError};
use super::scope::{MAX_ACTION_LEN, MAX_RESOURCE_LEN, Scope, UnknownScope, is_name};

/// keygate's own resource: its management routes need these scopes, so
/// every catalog has them and no file may define them.
pub const KEYGATE_RESOURCE: &str = "api-keys";
const KEYGATE_RESOURCE_DESCRIPTION: &str = "The API keys of your organization.";
const KEYGATE_ACTIONS: [(&str, &str); 3] = [
    ("read", "List and read keys and the audit trail."),
    (
        "write",
        "Create keys (with scopes the key holds) and suspend, reactivate, rotate and revoke keys it covers.",
    ),
    ("delete", "Delete keys it covers."),
];

/// Longest description of a resource, an action or a preset.
pub const MAX_DESCRIPTION: usize = 200;
/// Longest preset name.
const MAX_PRESET_LEN: usize = 48;

/// The file format's version this code reads.
pub const FORMAT_VERSION: u32 = 1;

/// The catalog keygate ships with, compiled in.
pub const BUILTIN_TEXT: &str = include_str!("../../../catalog/keygate.toml");
const BUILTIN_SOURCE: &str = "catalog/keygate.toml (built in)";

/// A resource and its actions, in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub name: String,
    pub description: String,
    pub actions: Vec<Action>,
}

/// One action of a resource: the scope `resource:action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    pub scope: Scope,
    pub description: String,
}

/// A named bundle of scopes a create may ask for, expanded when the key is
/// created: changing a preset later changes no key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preset {
    pub name: String,
    pub description: String,
    pub scopes: BTreeSet<Scope>,
}

/// A scope taken out of the catalog, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retired {
    pub scope: Scope,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Catalog {
    resources: Vec<Resource>,
    presets: Vec<Preset>,
    retired: Vec<Retired>,
    routes: RouteTable,
    /// Every scope, in file order (keygate's own last).
    scopes: Vec<Scope>,
    descriptions: HashMap<Scope, String>,
    /// A hash of what the catalog says, e.g. to cache what is built from it.
    fingerprint: u64,
}

/// Why a catalog file was refused: where, what, why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}{}: {field}{}{problem}", match .line { Some(l) => format!(":{l}"), None => String::new() }, if .field.is_empty() { "" } else { ": " })]
pub struct CatalogError {
    /// The file's name as the user gave it.
    pub source_name: String,
    /// 1-based line, when the problem has one.
    pub line: Option<usize>,
    /// The field at fault, e.g. `routes."GET /orders"`.
    pub field: String,
    pub problem: String,
}

// The file's shape. Spans give the line of a value for errors that only
// show after reading (an unknown scope in a route, say).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    version: Spanned<u32>,
    #[serde(default)]
    resources: IndexMap<Spanned<String>, ResourceFile>,
    #[serde(default)]
    presets: IndexMap<Spanned<String>, PresetFile>,
    #[serde(default)]
    routes: IndexMap<Spanned<String>, Spanned<String>>,
    #[serde(default)]
    retired: IndexMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResourceFile {
    description: Spanned<String>,
    actions: IndexMap<Spanned<String>, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PresetFile {
    description: Spanned<String>,
    scopes: Vec<Spanned<String>>,
}

/// Builds errors that name the file and the line of a span.
struct Errors<'a> {
    source_name: &'a str,
    text: &'a str,
}

impl Errors<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    }

    fn at<T>(
        &self,
        spanned: &Spanned<T>,
        field: String,
        problem: impl fmt::Display,
    ) -> CatalogError {
        CatalogError {
            source_name: self.source_name.to_owned(),
            line: Some(self.line_of(spanned.span().start)),
            field,
            problem: problem.to_string(),
        }
    }

    fn whole(&self, problem: impl fmt::Display) -> CatalogError {
        CatalogError {
            source_name: self.source_name.to_owned(),
            line: None,
            field: String::new(),
            problem: problem.to_string(),
        }
    }
}

fn check_description(
    e: &Errors<'_>,
    value: &Spanned<String>,
    field: String,
) -> Result<String, CatalogError> {
    let text = value.get_ref().trim();
    if text.is_empty() || text.chars().count() > MAX_DESCRIPTION || text.contains(['\n', '\r']) {
        return Err(e.at(
            value,
            field,
            format!("must be one line of 1-{MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(text.to_owned())
}

impl Catalog {
    /// The catalog keygate ships with.
    pub fn builtin() -> &'static Catalog {
        static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
            Catalog::parse(BUILTIN_TEXT, BUILTIN_SOURCE)
                .unwrap_or_else(|e| panic!("the built-in catalog is invalid: {e}"))
        });
        &CATALOG
    }

    /// Read and check a catalog file's text; `source_name` names it in errors.
    pub fn parse(text: &str, source_name: &str) -> Result<Catalog, CatalogError> {
        let e = Errors { source_name, text };
        let file: File = toml::from_str(text).map_err(|err| CatalogError {
            source_name: source_name.to_owned(),
            line: err.span().map(|s| e.line_of(s.start)),
            field: String::new(),
            problem: err.message().trim().to_owned(),
        })?;
        if *file.version.get_ref() != FORMAT_VERSION {
            return Err(e.at(
                &file.version,
                "version".into(),
                format!(
                    "is {}, but this keygate reads version {FORMAT_VERSION}",
                    file.version.get_ref()
                ),
            ));
        }
        let mut resources = vec![];
        let mut descriptions = HashMap::new();
        let mut scopes = vec![];
        for (name, resource) in &file.resources {
            let field = format!("resources.{}", name.get_ref());
            if name.get_ref() == KEYGATE_RESOURCE {
                return Err(e.at(name, field, "is keygate's own resource (read, write, delete); it is always in the catalog and no file may define it"));
            }
            if !is_name(name.get_ref(), MAX_RESOURCE_LEN) {
                return Err(e.at(name, field, format!("a resource name is a lowercase letter, then up to {} lowercase letters, digits and '-'", MAX_RESOURCE_LEN - 1)));
            }
            let description =
                check_description(&e, &resource.description, format!("{field}.description"))?;
            if resource.actions.is_empty() {
                return Err(e.at(
                    name,
                    field,
                    "has no actions: give it at least one (actions.read = \"...\")",
                ));
            }
            let mut actions = vec![];
            for (action, action_description) in &resource.actions {
                let action_field = format!("{field}.actions.{}", action.get_ref());
                if !is_name(action.get_ref(), MAX_ACTION_LEN) {
                    return Err(e.at(action, action_field, format!("an action name is a lowercase letter, then up to {} lowercase letters, digits and '-'", MAX_ACTION_LEN - 1)));
                }
                let scope = Scope::parse(&format!("{}:{}", name.get_ref(), action.get_ref()))
                    .map_err(|err| e.at(action, action_field.clone(), err))?;
                let text = check_description(&e, action_description, action_field)?;
                descriptions.insert(scope, text.clone());
                scopes.push(scope);
                actions.push(Action {
                    scope,
                    description: text,
                });
            }
            resources.push(Resource {
                name: name.get_ref().clone(),
                description,
                actions,
            });
        }
        // keygate's own resource, last.
        let mut own = vec![];
        for (action, text) in KEYGATE_ACTIONS {
            let scope = Scope::parse(&format!("{KEYGATE_RESOURCE}:{action}"))
                .map_err(|err| e.whole(err))?;
            descriptions.insert(scope, text.to_owned());
            scopes.push(scope);
            own.push(Action {
                scope,
                description: text.to_owned(),
            });
        }
        resources.push(Resource {
            name: KEYGATE_RESOURCE.to_owned(),
            description: KEYGATE_RESOURCE_DESCRIPTION.to_owned(),
            actions: own,
        });

        let mut retired = vec![];
        for (name, reason) in &file.retired {
            let field = format!("retired.\"{}\"", name.get_ref());
            let scope =
                Scope::parse(name.get_ref()).map_err(|err| e.at(name, field.clone(), err))?;
            if descriptions.contains_key(&scope) {
                return Err(e.at(name, field, format!(
                    "{scope} is retired and in the catalog too: keys minted before it was retired may still hold it, so reusing the name would give them the new meaning. Name the new scope otherwise, or, to reuse the name on purpose, take it out of [retired] (keygate catalog diff warns of it)"
                )));
            }
            let reason = check_description(&e, reason, field)?;
            retired.push(Retired { scope, reason });
        }

        let catalog_scope =
            |value: &Spanned<String>, field: String| -> Result<Scope, CatalogError> {
                let scope =
                    Scope::parse(value.get_ref()).map_err(|err| e.at(value, field.clone(), err))?;
                if descriptions.contains_key(&scope) {
                    Ok(scope)
                } else if retired.iter().any(|r| r.scope == scope) {
                    Err(e.at(
                    value,
                    field,
                    format!(
                        "{scope} is retired: it grants nothing and no route or preset may name it"
                    ),
                ))
                } else {
                    Err(e.at(
                        value,
                        field,
                        format!("{scope} is not in the catalog ([resources])"),
                    ))
                }
            };

        let mut presets = vec![];
        for (name, preset) in &file.presets {
            let field = format!("presets.{}", name.get_ref());
            let valid = (1..=MAX_PRESET_LEN).contains(&name.get_ref().len())
                && name.get_ref().starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .get_ref()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid {
                return Err(e.at(name, field, format!("a preset name is a lowercase letter, then up to {} lowercase letters, digits and '_'", MAX_PRESET_LEN - 1)));
            }
            let description =
                check_description(&e, &preset.description, format!("{field}.description"))?;
            let mut expanded = BTreeSet::new();
            for pattern in &preset.scopes {
                let scopes_field = format!("{field}.scopes");
                let matched: Vec<Scope> = match pattern.get_ref().split_once(':') {
                    Some(("*", action)) => scopes
                        .iter()
                        .copied()
                        .filter(|s| s.action() == action)
                        .collect(),
                    Some((resource, "*")) => scopes
                        .iter()
                        .copied()
                        .filter(|s| s.resource() == resource)
                        .collect(),
                    _ => vec![catalog_scope(pattern, scopes_field.clone())?],
                };
                if matched.is_empty() {
                    return Err(e.at(
                        pattern,
                        scopes_field,
                        format!("{:?} matches no scope of the catalog", pattern.get_ref()),
                    ));
                }
                expanded.extend(matched);
            }
            if expanded.is_empty() {
                return Err(e.at(name, field, "names no scopes"));
            }
            presets.push(Preset {
                name: name.get_ref().clone(),
                description,
                scopes: expanded,
            });
        }

        let mut deployer_routes = vec![];
        for (route, needs) in &file.routes {
            let field = format!("routes.\"{}\"", route.get_ref());
            let requirement = if needs.get_ref() == Requirement::ANY {
                Requirement::AnyValidKey
            } else {
                Requirement::Scope(catalog_scope(needs, field.clone())?)
            };
            deployer_routes.push((route.get_ref().clone(), requirement, route));
        }
        let routes = RouteTable::with_deployer_routes(
            deployer_routes.iter().map(|(k, r, _)| (k.clone(), *r)),
        )
        .map_err(|err| {
            let at = match &err {
                RouteTableError::BadRouteKey(k) | RouteTableError::Reserved(k) => k,
                RouteTableError::Duplicate { route, .. } => route,
            };
            match deployer_routes.iter().find(|(k, _, _)| k == at) {
                Some((_, _, spanned)) => e.at(*spanned, format!("routes.\"{at}\""), &err),
                None => e.whole(&err),
            }
        })?;

        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            text.hash(&mut h);
            h.finish()
        };
        Ok(Catalog {
            resources,
            presets,
            retired,
            routes,
            scopes,
            descriptions,
            fingerprint,
        })
    }

    /// Every resource, in file order, keygate's own last.
    pub fn resources(&self) -> &[Resource] {
        &self.resources
    }

    /// Every scope of the catalog, in file order.
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    pub fn contains(&self, scope: Scope) -> bool {
        self.descriptions.contains_key(&scope)
    }

    /// The scope named `name`, if the catalog has it.
    pub fn scope(&self, name: &str) -> Result<Scope, UnknownScope> {
        Scope::parse(name)
            .ok()
            .filter(|s| self.contains(*s))
            .ok_or_else(|| UnknownScope(name.to_owned()))
    }

    pub fn description(&self, scope: Scope) -> Option<&str> {
        self.descriptions.get(&scope).map(String::as_str)
    }

    pub fn presets(&self) -> &[Preset] {
        &self.presets
    }

    pub fn preset(&self, name: &str) -> Option<&Preset> {
        self.presets.iter().find(|p| p.name == name)
    }

    pub fn retired(&self) -> &[Retired] {
        &self.retired
    }

    /// keygate's own routes and the deployer's, checked against the catalog.
    pub fn routes(&self) -> &RouteTable {
        &self.routes
    }

    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }
}

/// The JSON Schema of a catalog file, for editors (Even Better TOML reads it
/// from the file's `#:schema` line): built from the rules [`Catalog::parse`]
/// applies, and published as `docs/catalog.schema.json` (a test keeps the
/// copy in step).
pub fn file_schema() -> serde_json::Value {
    let name = |max: usize| format!("^[a-z][a-z0-9-]{{0,{}}}$", max - 1);
    let description = serde_json::json!({
        "type": "string", "minLength": 1, "maxLength": MAX_DESCRIPTION, "pattern": "^[^\\n\\r]+$"
    });
    let scope = format!(
        "^[a-z][a-z0-9-]{{0,{}}}:[a-z][a-z0-9-]{{0,{}}}$",
        MAX_RESOURCE_LEN - 1,
        MAX_ACTION_LEN - 1
    );
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://keygate.invalid/catalog.schema.json",
        "title": "keygate catalog",
        "description": "The scopes a deployment's keys can hold, the presets a create may name, which scope each route of the API needs, and the scopes taken out. keygate adds its own resource, api-keys.",
        "type": "object",
        "additionalProperties": false,
        "required": ["version"],
        "properties": {
            "version": {"const": FORMAT_VERSION},
            "resources": {
                "type": "object",
                "propertyNames": {"pattern": name(MAX_RESOURCE_LEN), "not": {"const": KEYGATE_RESOURCE}},
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["description", "actions"],
                    "properties": {
                        "description": description,
                        "actions": {
                            "type": "object",
                            "minProperties": 1,
                            "propertyNames": {"pattern": name(MAX_ACTION_LEN)},
                            "additionalProperties": description,
                        },
                    },
                },
            },
            "presets": {
                "type": "object",
                "propertyNames": {"pattern": format!("^[a-z][a-z0-9_]{{0,{}}}$", MAX_PRESET_LEN - 1)},
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["description", "scopes"],
                    "properties": {
                        "description": description,
                        "scopes": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "description": "A scope, or *:action, or resource:*"},
                        },
                    },
                },
            },
            "routes": {
                "type": "object",
                "description": "API Gateway route keys of your API to the scope each needs, or \"any\" (any valid key).",
                "propertyNames": {"pattern": format!("^({}) /\\S*$", super::routes::METHODS.join("|"))},
                "additionalProperties": {"type": "string", "pattern": format!("^(any|{})$", &scope[1..scope.len() - 1])},
            },
            "retired": {
                "type": "object",
                "description": "Scopes taken out of the catalog, and why; none may come back in resources.",
                "propertyNames": {"pattern": scope},
                "additionalProperties": description,
            },
        },
    })
}

/// What changed between two catalogs, as `keygate catalog diff` reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CatalogDiff {
    pub added: Vec<Scope>,
    /// Taken out and listed under `[retired]`: keys keep them, they grant nothing.
    pub retired: Vec<Scope>,
    /// Taken out without being retired: an error, since the name could come back.
    pub removed: Vec<Scope>,
    /// Taken out of `[retired]` and in the catalog again: the name now means
    /// whatever the new description says, also for keys minted long ago.
    pub reused: Vec<Scope>,
    /// Same name, another description: a change of meaning?
    pub redescribed: Vec<(Scope, String, String)>,
    /// Routes whose requirement changed (route key, before, after).
    pub rerouted: Vec<(String, String, String)>,
}

impl CatalogDiff {
    pub fn between(old: &Catalog, new: &Catalog) -> Self {
        let mut diff = CatalogDiff::default();
        for &scope in new.scopes() {
            match old.description(scope) {
                None if old.retired.iter().any(|r| r.scope == scope) => diff.reused.push(scope),
                None => diff.added.push(scope),
                Some(before) => {
                    let after = new.description(scope).unwrap_or_default();
                    if before != after {
                        diff.redescribed
                            .push((scope, before.to_owned(), after.to_owned()));
                    }
                }
            }
        }
        for &scope in old.scopes() {
            if !new.contains(scope) {
                if new.retired.iter().any(|r| r.scope == scope) {
                    diff.retired.push(scope);
                } else {
                    diff.removed.push(scope);
                }
            }
        }
        let requirement_of = |table: &RouteTable, key: &str| {
            table
                .required_scope(key)
                .map(|r| r.as_str().to_owned())
                .unwrap_or_else(|| "(no route: denied)".to_owned())
        };
        let keys: BTreeSet<String> = old
            .routes()
            .deployer_route_keys()
            .chain(new.routes().deployer_route_keys())
            .collect();
        for key in keys {
            let (before, after) = (
                requirement_of(old.routes(), &key),
                requirement_of(new.routes(), &key),
            );
            if before != after {
                diff.rerouted.push((key, before, after));
            }
        }
        diff
    }

    /// Whether the change is refused: a scope removed without retiring it.
    pub fn is_refused(&self) -> bool {
        !self.removed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// PRODUCT.md's catalog table, row by row, as the contract states it.
    const CONTRACT_CATALOG: &str = "\
        runs | runs:read, runs:write
        agents | agents:read, agents:write
        conversations | conversations:read, conversations:submit, conversations:delete
        metrics | metrics:read, metrics:write, metrics:delete
        test-sets | test-sets:read, test-sets:write
        test-cases | test-cases:read, test-cases:write
        personas | personas:read, personas:write, personas:delete
        simulations | simulations:read, simulations:write
        traces | traces:read, traces:write
        dashboards | dashboards:read, dashboards:write, dashboards:delete
        scheduled-runs | scheduled-runs:read, scheduled-runs:write, scheduled-runs:delete
        run-templates | run-templates:read, run-templates:write, run-templates:delete
        api-keys | api-keys:read, api-keys:write, api-keys:delete";

    fn contract_scopes() -> impl Iterator<Item = &'static str> {
        CONTRACT_CATALOG
            .lines()
            .flat_map(|row| row.split(" | ").nth(1).unwrap_or("").split(", "))
    }

    fn names(scopes: &BTreeSet<Scope>) -> Vec<&'static str> {
        scopes.iter().map(|s| s.as_str()).collect()
    }

    #[test]
    fn the_shipped_catalog_is_the_contract_s_table() {
        let catalog = Catalog::builtin();
        let rows: Vec<String> = catalog
            .resources()
            .iter()
            .map(|r| {
                let scopes: Vec<&str> = r.actions.iter().map(|a| a.scope.as_str()).collect();
                format!("{} | {}", r.name, scopes.join(", "))
            })
            .collect();
        let contract: Vec<&str> = CONTRACT_CATALOG.lines().map(str::trim).collect();
        assert_eq!(rows, contract);
        let all: Vec<&str> = catalog.scopes().iter().map(|s| s.as_str()).collect();
        assert_eq!(all, contract_scopes().collect::<Vec<_>>());
        assert!(catalog.scope("runs:delete").is_err());
        assert!(
            catalog
                .scopes()
                .iter()
                .all(|s| catalog.description(*s).is_some())
        );
    }

    #[test]
    fn the_shipped_presets_are_the_contract_s() {
        let catalog = Catalog::builtin();
        let preset = |name: &str| names(&catalog.preset(name).expect(name).scopes);
        let read_only: BTreeSet<&str> =
            contract_scopes().filter(|s| s.ends_with(":read")).collect();
        assert_eq!(
            preset("read_only"),
            read_only.into_iter().collect::<Vec<_>>()
        );
        assert_eq!(preset("read_only").len(), 13);
        let mut run_evaluations = vec![
            "runs:read",
            "runs:write",
            "agents:read",
            "test-sets:read",
            "test-cases:read",
            "personas:read",
            "metrics:read",
            "run-templates:read",
            "simulations:read",
        ];
        run_evaluations.sort_unstable();
        assert_eq!(preset("run_evaluations"), run_evaluations);
        assert_eq!(
            preset("upload_conversations"),
            ["conversations:read", "conversations:submit"]
        );
        assert!(catalog.preset("readonly").is_none());
    }

    const ORDERS: &str = r#"version = 1

[resources.orders]
description = "Orders."
actions.read = "Read orders."
actions.write = "Place orders."

[presets.read_only]
description = "Read."
scopes = ["*:read"]

[routes]
"GET /orders" = "orders:read"
"POST /orders" = "orders:write"
"GET /health" = "any"
"#;

    fn parse(text: &str) -> Result<Catalog, CatalogError> {
        Catalog::parse(text, "orders.toml")
    }

    #[test]
    fn a_deployer_s_catalog_has_its_scopes_presets_and_routes_and_keygate_s_own() {
        let catalog = parse(ORDERS).unwrap();
        let all: Vec<&str> = catalog.scopes().iter().map(|s| s.as_str()).collect();
        assert_eq!(
            all,
            [
                "orders:read",
                "orders:write",
                "api-keys:read",
                "api-keys:write",
                "api-keys:delete"
            ]
        );
        assert_eq!(
            names(&catalog.preset("read_only").unwrap().scopes),
            ["api-keys:read", "orders:read"],
            "a wildcard takes every matching scope, keygate's own too"
        );
        let routes = catalog.routes();
        assert_eq!(
            routes.required_scope("GET /orders"),
            Some(Requirement::Scope(catalog.scope("orders:read").unwrap()))
        );
        assert_eq!(
            routes.required_scope("GET /health"),
            Some(Requirement::AnyValidKey)
        );
        assert!(
            routes.required_scope("GET /v1/api-keys").is_some(),
            "keygate's own"
        );
        assert_eq!(
            routes.required_scope("GET /v1/runs"),
            None,
            "not this catalog's"
        );
    }

    /// Each mistake is an error naming the file, the line and the field.
    #[test]
    fn mistakes_name_the_file_line_and_field() {
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                r#""GET /orders" = "orders:read""#,
                r#""GET /orders" = "orders:cancel""#,
                13,
                "orders:cancel is not in the catalog",
            ),
            (
                r#""GET /health" = "any""#,
                r#""GET /orders/" = "any""#,
                0,
                "",
            ),
            (
                r#""GET /health" = "any""#,
                r#""get /health" = "any""#,
                15,
                "is not \"METHOD /path\"",
            ),
            (
                r#""GET /health" = "any""#,
                r#""GET /v1/api-keys" = "any""#,
                15,
                "one of keygate's own routes",
            ),
            (
                r#"scopes = ["*:read"]"#,
                r#"scopes = ["*:cancel"]"#,
                10,
                "matches no scope",
            ),
            (
                "[resources.orders]",
                "[resources.api-keys]",
                3,
                "keygate's own resource",
            ),
            (
                "[resources.orders]",
                "[resources.Orders]",
                3,
                "a resource name is",
            ),
            (
                r#"actions.read = "Read orders.""#,
                r#"actions.read = """#,
                5,
                "must be one line",
            ),
            (
                "version = 1",
                "version = 2",
                1,
                "this keygate reads version 1",
            ),
            (
                r#"description = "Read.""#,
                r#"descripton = "Read.""#,
                9,
                "unknown field",
            ),
            (r#""GET /health" = "any""#, r#""GET /health" = any"#, 15, ""),
        ];
        for (from, to, line, says) in cases {
            assert!(ORDERS.contains(from), "{from}");
            let text = ORDERS.replacen(from, to, 1);
            let result = parse(&text);
            if *line == 0 {
                assert!(result.is_ok(), "{to}: {result:?}");
                continue;
            }
            let err = result.expect_err(to);
            assert_eq!(err.line, Some(*line), "{to}: {err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("orders.toml:{line}: ")),
                "{err}"
            );
            assert!(err.to_string().contains(says), "{to}: {err}");
        }
        // Two routes API Gateway would match alike.
        let text = ORDERS.replace(
            r#""GET /health" = "any""#,
            "\"GET /orders/{id}\" = \"any\"\n\"GET /orders/{order}\" = \"any\"",
        );
        let err = parse(&text).unwrap_err();
        assert!(err.to_string().contains("is the same route as"), "{err}");
        assert_eq!(err.field, r#"routes."GET /orders/{order}""#);
    }

    #[test]
    fn a_retired_scope_cannot_come_back_or_be_needed() {
        let retiring = ORDERS.to_owned()
            + "\n[retired]\n\"orders:cancel\" = \"Cancelling became orders:write.\"\n";
        let catalog = parse(&retiring).unwrap();
        assert_eq!(catalog.retired()[0].scope.as_str(), "orders:cancel");
        assert!(catalog.scope("orders:cancel").is_err(), "grants nothing");
        // Back in [resources] with whatever meaning: refused.
        let reused = retiring.replace(
            r#"actions.write = "Place orders.""#,
            "actions.write = \"Place orders.\"\nactions.cancel = \"Refund orders.\"",
        );
        let err = parse(&reused).unwrap_err();
        assert!(
            err.to_string()
                .contains("is retired and in the catalog too"),
            "{err}"
        );
        // Named by a route: refused as retired, not merely unknown.
        let needed = retiring.replace(
            r#""GET /health" = "any""#,
            r#""DELETE /orders/{id}" = "orders:cancel""#,
        );
        let err = parse(&needed).unwrap_err();
        assert!(
            err.to_string().contains("orders:cancel is retired"),
            "{err}"
        );
    }

    #[test]
    fn a_diff_says_what_a_change_does_to_keys_and_refuses_a_silent_removal() {
        let old = parse(ORDERS).unwrap();
        let mut text = ORDERS.replace(
            r#"actions.write = "Place orders.""#,
            "actions.write = \"Place and change orders.\"\nactions.refund = \"Refund orders.\"",
        );
        text = text.replace(
            r#""POST /orders" = "orders:write""#,
            r#""POST /orders" = "orders:refund""#,
        );
        let new = parse(&text).unwrap();
        let diff = CatalogDiff::between(&old, &new);
        assert_eq!(diff.added, [Scope::parse("orders:refund").unwrap()]);
        assert_eq!(diff.redescribed.len(), 1, "a new meaning is a warning");
        assert_eq!(
            diff.rerouted,
            [(
                "POST /orders".to_owned(),
                "orders:write".to_owned(),
                "orders:refund".to_owned()
            )]
        );
        assert!(!diff.is_refused());
        // Taken out without [retired]: refused; with it: fine.
        let removed = parse(
            &ORDERS
                .replace(r#"actions.write = "Place orders.""#, "")
                .replace(r#""POST /orders" = "orders:write""#, ""),
        )
        .unwrap();
        let diff = CatalogDiff::between(&old, &removed);
        assert_eq!(diff.removed, [Scope::parse("orders:write").unwrap()]);
        assert!(diff.is_refused());
        let retired = parse(
            &(ORDERS
                .replace(r#"actions.write = "Place orders.""#, "")
                .replace(r#""POST /orders" = "orders:write""#, "")
                + "\n[retired]\n\"orders:write\" = \"Orders are placed by staff only.\"\n"),
        )
        .unwrap();
        let diff = CatalogDiff::between(&old, &retired);
        assert_eq!(diff.retired, [Scope::parse("orders:write").unwrap()]);
        assert!(!diff.is_refused());
        // Back from [retired] on purpose: said.
        let back = CatalogDiff::between(&retired, &old);
        assert_eq!(back.reused, [Scope::parse("orders:write").unwrap()]);
    }
}
