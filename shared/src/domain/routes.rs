//! The route table: which scope each API Gateway route key needs, and what
//! serves it (a keygate operation, a public page, or the deployer's own
//! backend). The authorizer, `keygate serve` and the `template.yaml` test
//! all read this table.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use strum::VariantArray;

use crate::domain::scope::{CATALOG, Scope, UnknownScope};

/// A keygate management call: one Lambda binary each, behind the authorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, VariantArray)]
pub enum Operation {
    CreateKey,
    ListKeys,
    GetKey,
    SuspendKey,
    ReactivateKey,
    RevokeKey,
    RotateKey,
    DeleteKey,
    ListScopes,
    ListAuditEvents,
}

impl Operation {
    /// The API Gateway route key, e.g. `GET /v1/api-keys/{id}`.
    pub fn route_key(self) -> &'static str {
        match self {
            Operation::CreateKey => "POST /v1/api-keys",
            Operation::ListKeys => "GET /v1/api-keys",
            Operation::GetKey => "GET /v1/api-keys/{id}",
            Operation::SuspendKey => "POST /v1/api-keys/{id}/suspend",
            Operation::ReactivateKey => "POST /v1/api-keys/{id}/reactivate",
            Operation::RevokeKey => "POST /v1/api-keys/{id}/revoke",
            Operation::RotateKey => "POST /v1/api-keys/{id}/rotate",
            Operation::DeleteKey => "DELETE /v1/api-keys/{id}",
            Operation::ListScopes => "GET /v1/scopes",
            Operation::ListAuditEvents => "GET /v1/audit-events",
        }
    }

    /// The name of the Lambda binary serving this operation (also its
    /// OpenAPI operationId).
    pub fn function_name(self) -> &'static str {
        match self {
            Operation::CreateKey => "create-key",
            Operation::ListKeys => "list-keys",
            Operation::GetKey => "get-key",
            Operation::SuspendKey => "suspend-key",
            Operation::ReactivateKey => "reactivate-key",
            Operation::RevokeKey => "revoke-key",
            Operation::RotateKey => "rotate-key",
            Operation::DeleteKey => "delete-key",
            Operation::ListScopes => "list-scopes",
            Operation::ListAuditEvents => "list-audit-events",
        }
    }

    /// What the calling key needs.
    pub fn required(self) -> Requirement {
        let scope = match self {
            Operation::CreateKey
            | Operation::SuspendKey
            | Operation::ReactivateKey
            | Operation::RevokeKey
            | Operation::RotateKey => "api-keys:write",
            Operation::ListKeys | Operation::GetKey | Operation::ListAuditEvents => "api-keys:read",
            Operation::DeleteKey => "api-keys:delete",
            Operation::ListScopes => return Requirement::AnyValidKey,
        };
        Requirement::Scope(catalog_scope(scope))
    }
}

/// A page served without a key (and without the authorizer): the console
/// and the OpenAPI document. The `console` Lambda binary serves all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, VariantArray)]
pub enum Page {
    Console,
    ConsoleAsset,
    OpenApiDocument,
}

impl Page {
    /// The name of the Lambda binary serving every page.
    pub const FUNCTION_NAME: &str = "console";

    pub fn route_key(self) -> &'static str {
        match self {
            Page::Console => "GET /",
            Page::ConsoleAsset => "GET /console/{file}",
            Page::OpenApiDocument => "GET /openapi.json",
        }
    }

    /// Its OpenAPI operationId.
    pub fn operation_id(self) -> &'static str {
        match self {
            Page::Console => "console-page",
            Page::ConsoleAsset => "console-asset",
            Page::OpenApiDocument => "openapi",
        }
    }
}

fn catalog_scope(s: &str) -> Scope {
    // Only called with literals from this file; the unit tests prove each one.
    Scope::parse(s).unwrap_or_else(|e| panic!("route table names a scope outside the catalog: {e}"))
}

/// What a key-protected route asks of the calling key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    Scope(Scope),
    /// Any active key of any scope (`GET /v1/scopes`).
    AnyValidKey,
}

impl Requirement {
    /// The text for any valid key, in route tables and the OpenAPI document.
    pub const ANY: &str = "any";

    pub fn parse(s: &str) -> Result<Self, UnknownScope> {
        if s == Self::ANY {
            Ok(Requirement::AnyValidKey)
        } else {
            Scope::parse(s).map(Requirement::Scope)
        }
    }

    /// `"any"` or the scope's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Scope(scope) => scope.as_str(),
            Requirement::AnyValidKey => Self::ANY,
        }
    }
}

/// What answers a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serves {
    /// A keygate management call, behind the authorizer.
    Operation(Operation),
    /// A public page: no key, no authorizer.
    Page(Page),
    /// The deployer's own backend, behind the authorizer.
    Deployer(Requirement),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: String,
    /// Path template with `{param}` segments.
    pub path: String,
    pub serves: Serves,
}

impl Route {
    fn new(route_key: &str, serves: Serves) -> Self {
        let (method, path) = route_key.split_once(' ').unwrap_or(("", ""));
        Route {
            method: method.to_owned(),
            path: path.to_owned(),
            serves,
        }
    }

    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// What the calling key needs; `None` for a public page (no key at all).
    pub fn requirement(&self) -> Option<Requirement> {
        match self.serves {
            Serves::Operation(op) => Some(op.required()),
            Serves::Page(_) => None,
            Serves::Deployer(requirement) => Some(requirement),
        }
    }

    /// Whether keygate itself answers this route (an operation or a page).
    pub fn is_keygate(&self) -> bool {
        !matches!(self.serves, Serves::Deployer(_))
    }
}

/// A route matched against a concrete request path.
#[derive(Debug)]
pub struct Matched<'a> {
    pub route: &'a Route,
    pub route_key: &'a str,
    pub path_parameters: HashMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<Route>,
    keys: Vec<String>,
    /// Each route's path split on `/`, for matching concrete paths.
    segments: Vec<Vec<String>>,
    by_key: HashMap<String, usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum RouteTableError {
    #[error("route table is not a JSON object of \"METHOD /path\": \"scope\": {0}")]
    NotJson(String),
    #[error(
        "route {0:?} is not \"METHOD /path\" with an upper-case method and a path starting with /"
    )]
    BadRouteKey(String),
    #[error("route {route:?}: {reason}")]
    BadScope {
        route: String,
        #[source]
        reason: UnknownScope,
    },
    #[error("route {0:?} is a keygate management route and cannot be remapped")]
    Reserved(String),
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl RouteTable {
    /// The built-in table: keygate's management routes plus a conventional REST
    /// mapping for every other catalog resource.
    pub fn builtin() -> &'static RouteTable {
        static TABLE: LazyLock<RouteTable> = LazyLock::new(RouteTable::build_builtin);
        &TABLE
    }

    fn build_builtin() -> RouteTable {
        let mut routes: Vec<Route> = Operation::VARIANTS
            .iter()
            .map(|&op| Route::new(op.route_key(), Serves::Operation(op)))
            .chain(
                Page::VARIANTS
                    .iter()
                    .map(|&page| Route::new(page.route_key(), Serves::Page(page))),
            )
            .collect();
        for (resource, actions) in CATALOG.iter().filter(|(r, _)| *r != "api-keys") {
            let collection = format!("/v1/{resource}");
            let item = format!("/v1/{resource}/{{id}}");
            for action in *actions {
                let scope = catalog_scope(&format!("{resource}:{action}"));
                let entries: Vec<(&str, &String)> = match *action {
                    "read" => vec![("GET", &collection), ("GET", &item)],
                    "write" => vec![("POST", &collection), ("PUT", &item), ("PATCH", &item)],
                    "submit" => vec![("POST", &collection)],
                    "delete" => vec![("DELETE", &item)],
                    _ => vec![],
                };
                routes.extend(entries.into_iter().map(|(method, path)| Route {
                    method: method.to_owned(),
                    path: path.clone(),
                    serves: Serves::Deployer(Requirement::Scope(scope)),
                }));
            }
        }
        RouteTable::from_routes(routes)
    }

    fn from_routes(routes: Vec<Route>) -> RouteTable {
        let keys: Vec<String> = routes.iter().map(Route::route_key).collect();
        let by_key = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i))
            .collect();
        let segments = routes
            .iter()
            .map(|r| {
                let path = r.path.strip_prefix('/').unwrap_or(&r.path);
                path.split('/').map(str::to_owned).collect()
            })
            .collect();
        RouteTable {
            routes,
            keys,
            segments,
            by_key,
        }
    }

    /// The built-in table with a deployer's routes added or replacing the
    /// conventional ones. JSON: `{"GET /v1/orders/{id}": "runs:read", "GET /v1/health": "any"}`.
    /// Every scope must be in the catalog; management routes cannot be changed.
    pub fn with_overrides(json: &str) -> Result<RouteTable, RouteTableError> {
        let custom: BTreeMap<String, String> =
            serde_json::from_str(json).map_err(|e| RouteTableError::NotJson(e.to_string()))?;
        let mut routes = Self::builtin().routes.clone();
        for (key, scope) in custom {
            let (method, path) = key
                .split_once(' ')
                .filter(|(m, p)| METHODS.contains(m) && p.starts_with('/') && !p.contains(' '))
                .ok_or_else(|| RouteTableError::BadRouteKey(key.clone()))?;
            let requirement =
                Requirement::parse(&scope).map_err(|reason| RouteTableError::BadScope {
                    route: key.clone(),
                    reason,
                })?;
            let route = Route {
                method: method.to_owned(),
                path: path.to_owned(),
                serves: Serves::Deployer(requirement),
            };
            match routes.iter_mut().find(|r| r.route_key() == key) {
                Some(existing) if existing.is_keygate() => {
                    return Err(RouteTableError::Reserved(key));
                }
                Some(existing) => *existing = route,
                None => routes.push(route),
            }
        }
        Ok(RouteTable::from_routes(routes))
    }

    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// What a key needs for a route key; `None` (deny) for routes not in the
    /// table and for public routes, which no key is asked for.
    pub fn required_scope(&self, route_key: &str) -> Option<Requirement> {
        self.by_key
            .get(route_key)
            .and_then(|&i| self.routes[i].requirement())
    }

    /// The methods of keygate's own routes whose path template matches the
    /// concrete `path`, sorted: what a 405's `Allow` lists. Empty when no
    /// keygate route has this path (then the answer is a 404).
    pub fn allowed_methods(&self, path: &str) -> Vec<&str> {
        let mut methods: Vec<&str> = self
            .routes
            .iter()
            .zip(&self.segments)
            .filter(|(r, template)| r.is_keygate() && path_matches(template, path).is_some())
            .map(|(r, _)| r.method.as_str())
            .collect();
        methods.sort_unstable();
        methods.dedup();
        methods
    }

    /// Match a concrete method and path (as API Gateway does) to a route.
    pub fn match_request(&self, method: &str, path: &str) -> Option<Matched<'_>> {
        // Exactly one leading `/`: `//v1/api-keys` is not `/v1/api-keys`.
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        self.routes
            .iter()
            .zip(&self.keys)
            .zip(&self.segments)
            .filter(|((r, _), template)| r.method == method && template.len() == segments.len())
            .find_map(|((route, key), template)| {
                Some(Matched {
                    route,
                    route_key: key,
                    path_parameters: path_matches(template, path)?,
                })
            })
    }
}

/// The path parameters when the concrete `path` fits the split template.
fn path_matches(template: &[String], path: &str) -> Option<HashMap<String, String>> {
    let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
    if segments.len() != template.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (t, s) in template.iter().zip(&segments) {
        match t.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            Some(name) if !s.is_empty() => {
                params.insert(name.to_owned(), (*s).to_owned());
            }
            Some(_) => return None,
            None if t == s => {}
            None => return None,
        }
    }
    Some(params)
}

/// The distinct paths of keygate's own routes (each gets an `ANY` route
/// answering 405 in the template), in route-table order.
pub fn keygate_paths() -> Vec<&'static str> {
    let route_keys = Operation::VARIANTS
        .iter()
        .map(|op| op.route_key())
        .chain(Page::VARIANTS.iter().map(|page| page.route_key()));
    let mut paths: Vec<&'static str> = vec![];
    for route_key in route_keys {
        let path = route_key.split_once(' ').map_or("", |(_, p)| p);
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(s: &str) -> Requirement {
        Requirement::Scope(Scope::parse(s).unwrap())
    }

    #[test]
    fn management_routes_need_the_documented_scopes() {
        let t = RouteTable::builtin();
        assert_eq!(
            t.required_scope("POST /v1/api-keys"),
            Some(scope("api-keys:write"))
        );
        assert_eq!(
            t.required_scope("GET /v1/api-keys/{id}"),
            Some(scope("api-keys:read"))
        );
        assert_eq!(
            t.required_scope("DELETE /v1/api-keys/{id}"),
            Some(scope("api-keys:delete"))
        );
        assert_eq!(
            t.required_scope("GET /v1/scopes"),
            Some(Requirement::AnyValidKey)
        );
        assert_eq!(
            t.required_scope("POST /v1/api-keys/{id}/rotate"),
            Some(scope("api-keys:write"))
        );
        assert_eq!(
            t.required_scope("GET /v1/audit-events"),
            Some(scope("api-keys:read"))
        );
        // Public routes are served without a key: the authorizer denies them.
        assert_eq!(t.required_scope("GET /"), None);
        assert_eq!(t.required_scope("GET /openapi.json"), None);
    }

    #[test]
    fn catalog_resources_get_conventional_routes() {
        let t = RouteTable::builtin();
        assert_eq!(t.required_scope("GET /v1/runs"), Some(scope("runs:read")));
        assert_eq!(
            t.required_scope("GET /v1/runs/{id}"),
            Some(scope("runs:read"))
        );
        assert_eq!(
            t.required_scope("POST /v1/conversations"),
            Some(scope("conversations:submit"))
        );
        assert_eq!(
            t.required_scope("DELETE /v1/metrics/{id}"),
            Some(scope("metrics:delete"))
        );
        assert_eq!(
            t.required_scope("PATCH /v1/run-templates/{id}"),
            Some(scope("run-templates:write"))
        );
        // runs has no delete scope, so there is no delete route: deny.
        assert_eq!(t.required_scope("DELETE /v1/runs/{id}"), None);
        assert_eq!(t.required_scope("GET /v1/unknown"), None);
        assert_eq!(t.required_scope("$default"), None);
    }

    #[test]
    fn every_catalog_scope_is_reachable_by_some_route() {
        let t = RouteTable::builtin();
        for s in Scope::all() {
            assert!(
                t.routes()
                    .iter()
                    .any(|r| r.requirement() == Some(Requirement::Scope(*s))),
                "{s} has no route"
            );
        }
    }

    #[test]
    fn concrete_paths_match_templates() {
        let t = RouteTable::builtin();
        let m = t.match_request("POST", "/v1/api-keys/abc/revoke").unwrap();
        assert_eq!(m.route_key, "POST /v1/api-keys/{id}/revoke");
        assert_eq!(m.path_parameters["id"], "abc");
        assert!(t.match_request("POST", "/v1/api-keys//revoke").is_none());
        assert!(t.match_request("GET", "//v1/api-keys").is_none());
        assert_eq!(t.allowed_methods("/v1/api-keys"), ["GET", "POST"]);
        assert_eq!(t.allowed_methods("/v1/api-keys/abc"), ["DELETE", "GET"]);
        assert!(
            t.allowed_methods("/v1/runs").is_empty(),
            "not keygate's own"
        );
        assert!(t.allowed_methods("/v2/nothing").is_empty());
        assert!(t.match_request("GET", "v1/api-keys").is_none());
        assert_eq!(
            t.match_request("GET", "/").unwrap().route.serves,
            Serves::Page(Page::Console)
        );
        assert_eq!(
            t.match_request("GET", "/console/app.js")
                .unwrap()
                .path_parameters["file"],
            "app.js"
        );
        assert!(t.match_request("PUT", "/v1/api-keys").is_none());
        assert_eq!(
            t.match_request("GET", "/v1/api-keys").unwrap().route.serves,
            Serves::Operation(Operation::ListKeys)
        );
    }

    #[test]
    fn deployer_overrides_are_checked() {
        let t = RouteTable::with_overrides(r#"{"GET /v1/orders/{id}": "runs:read", "GET /health": "any", "DELETE /v1/runs/{id}": "runs:write"}"#).unwrap();
        assert_eq!(
            t.required_scope("GET /v1/orders/{id}"),
            Some(scope("runs:read"))
        );
        assert_eq!(
            t.required_scope("GET /health"),
            Some(Requirement::AnyValidKey)
        );
        assert_eq!(
            t.required_scope("DELETE /v1/runs/{id}"),
            Some(scope("runs:write"))
        );
        assert!(matches!(
            RouteTable::with_overrides(r#"{"GET /x": "orders:read"}"#),
            Err(RouteTableError::BadScope { .. })
        ));
        assert!(matches!(
            RouteTable::with_overrides(r#"{"get /x": "runs:read"}"#),
            Err(RouteTableError::BadRouteKey(_))
        ));
        assert!(matches!(
            RouteTable::with_overrides(r#"{"GET /v1/api-keys": "runs:read"}"#),
            Err(RouteTableError::Reserved(_))
        ));
        assert!(matches!(
            RouteTable::with_overrides("[1]"),
            Err(RouteTableError::NotJson(_))
        ));
    }
}
