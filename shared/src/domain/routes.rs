//! The route table: which scope each API Gateway route key needs, and what
//! serves it (a keygate operation, a public page, or the deployer's own
//! backend). The authorizer, `keygate serve` and the `template.yaml` test
//! all read this table.

use std::collections::HashMap;
use std::sync::LazyLock;

use strum::VariantArray;

use crate::domain::scope::Scope;

/// A keygate management call: one Lambda binary each, behind the authorizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, VariantArray)]
pub enum Operation {
    CreateKey,
    ListKeys,
    GetKey,
    UpdateKey,
    SuspendKey,
    ReactivateKey,
    RevokeKey,
    RotateKey,
    DeleteKey,
    ListScopes,
    ListAuditEvents,
    SetLimits,
    GetUsage,
    ResetUsage,
}

impl Operation {
    /// The API Gateway route key, e.g. `GET /v1/api-keys/{id}`.
    pub fn route_key(self) -> &'static str {
        match self {
            Operation::CreateKey => "POST /v1/api-keys",
            Operation::ListKeys => "GET /v1/api-keys",
            Operation::GetKey => "GET /v1/api-keys/{id}",
            Operation::UpdateKey => "PATCH /v1/api-keys/{id}",
            Operation::SuspendKey => "POST /v1/api-keys/{id}/suspend",
            Operation::ReactivateKey => "POST /v1/api-keys/{id}/reactivate",
            Operation::RevokeKey => "POST /v1/api-keys/{id}/revoke",
            Operation::RotateKey => "POST /v1/api-keys/{id}/rotate",
            Operation::DeleteKey => "DELETE /v1/api-keys/{id}",
            Operation::ListScopes => "GET /v1/scopes",
            Operation::ListAuditEvents => "GET /v1/audit-events",
            Operation::SetLimits => "PUT /v1/api-keys/{id}/limits",
            Operation::GetUsage => "GET /v1/api-keys/{id}/usage",
            Operation::ResetUsage => "POST /v1/api-keys/{id}/reset-usage",
        }
    }

    /// The name of the Lambda binary serving this operation (also its
    /// OpenAPI operationId).
    pub fn function_name(self) -> &'static str {
        match self {
            Operation::CreateKey => "create-key",
            Operation::ListKeys => "list-keys",
            Operation::GetKey => "get-key",
            Operation::UpdateKey => "update-key",
            Operation::SuspendKey => "suspend-key",
            Operation::ReactivateKey => "reactivate-key",
            Operation::RevokeKey => "revoke-key",
            Operation::RotateKey => "rotate-key",
            Operation::DeleteKey => "delete-key",
            Operation::ListScopes => "list-scopes",
            Operation::ListAuditEvents => "list-audit-events",
            Operation::SetLimits => "set-limits",
            Operation::GetUsage => "get-usage",
            Operation::ResetUsage => "reset-usage",
        }
    }

    /// What the calling key needs.
    pub fn required(self) -> Requirement {
        let scope = match self {
            Operation::CreateKey
            | Operation::UpdateKey
            | Operation::SuspendKey
            | Operation::ReactivateKey
            | Operation::RevokeKey
            | Operation::RotateKey
            | Operation::SetLimits
            | Operation::ResetUsage => "api-keys:write",
            Operation::ListKeys
            | Operation::GetKey
            | Operation::ListAuditEvents
            | Operation::GetUsage => "api-keys:read",
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
    // Only called with keygate's own scopes, literals of this file, which
    // every catalog has (see `crate::domain::catalog::KEYGATE_RESOURCE`).
    Scope::parse(s).unwrap_or_else(|e| panic!("keygate's own scope is malformed: {e}"))
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
    #[error(
        "route {0:?} is not \"METHOD /path\" with an upper-case method ({methods}) and a path starting with /",
        methods = METHODS.join(", ")
    )]
    BadRouteKey(String),
    #[error("route {0:?} is one of keygate's own routes and cannot be mapped")]
    Reserved(String),
    #[error("route {route:?} is the same route as {other:?} (API Gateway matches them alike)")]
    Duplicate { route: String, other: String },
}

pub const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

impl RouteTable {
    /// keygate's own routes only: its operations and public pages.
    pub fn keygate() -> &'static RouteTable {
        static TABLE: LazyLock<RouteTable> =
            LazyLock::new(|| RouteTable::from_routes(keygate_routes()));
        &TABLE
    }

    /// keygate's own routes and a deployer's: `"METHOD /path"` route keys
    /// with what each needs. A malformed route key, one of keygate's own,
    /// or two that API Gateway would match alike (`{id}` and `{order}` at
    /// the same place) is an error, never a route silently lost.
    pub fn with_deployer_routes(
        deployer: impl IntoIterator<Item = (String, Requirement)>,
    ) -> Result<RouteTable, RouteTableError> {
        let mut routes = keygate_routes();
        let mut shapes: HashMap<String, String> = routes
            .iter()
            .map(|r| (shape_of(&r.route_key()), r.route_key()))
            .collect();
        for (key, requirement) in deployer {
            let (method, path) = key
                .split_once(' ')
                .filter(|(m, p)| {
                    METHODS.contains(m)
                        && p.starts_with('/')
                        && !p.contains(' ')
                        && !p.contains("//")
                })
                .ok_or_else(|| RouteTableError::BadRouteKey(key.clone()))?;
            if let Some(other) = shapes.get(&shape_of(&key)) {
                let own = routes
                    .iter()
                    .any(|r| r.is_keygate() && r.route_key() == *other);
                return Err(if own {
                    RouteTableError::Reserved(key)
                } else {
                    RouteTableError::Duplicate {
                        route: key,
                        other: other.clone(),
                    }
                });
            }
            shapes.insert(shape_of(&key), key.clone());
            routes.push(Route {
                method: method.to_owned(),
                path: path.to_owned(),
                serves: Serves::Deployer(requirement),
            });
        }
        Ok(RouteTable::from_routes(routes))
    }

    /// The route keys of the deployer's routes, in order.
    pub fn deployer_route_keys(&self) -> impl Iterator<Item = String> + '_ {
        self.routes
            .iter()
            .filter(|r| !r.is_keygate())
            .map(Route::route_key)
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

/// keygate's operations and public pages, as routes.
fn keygate_routes() -> Vec<Route> {
    Operation::VARIANTS
        .iter()
        .map(|&op| Route::new(op.route_key(), Serves::Operation(op)))
        .chain(
            Page::VARIANTS
                .iter()
                .map(|&page| Route::new(page.route_key(), Serves::Page(page))),
        )
        .collect()
}

/// A route key with its path parameters' names blanked: two routes with
/// one shape are one route to API Gateway.
pub fn shape_of(route_key: &str) -> String {
    route_key
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
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
        let t = crate::domain::catalog::Catalog::builtin().routes();
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
            t.required_scope("PATCH /v1/api-keys/{id}"),
            Some(scope("api-keys:write"))
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
        let t = crate::domain::catalog::Catalog::builtin().routes();
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
        let t = crate::domain::catalog::Catalog::builtin().routes();
        for s in crate::domain::catalog::Catalog::builtin().scopes() {
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
        let t = crate::domain::catalog::Catalog::builtin().routes();
        let m = t.match_request("POST", "/v1/api-keys/abc/revoke").unwrap();
        assert_eq!(m.route_key, "POST /v1/api-keys/{id}/revoke");
        assert_eq!(m.path_parameters["id"], "abc");
        assert!(t.match_request("POST", "/v1/api-keys//revoke").is_none());
        assert!(t.match_request("GET", "//v1/api-keys").is_none());
        assert_eq!(t.allowed_methods("/v1/api-keys"), ["GET", "POST"]);
        assert_eq!(
            t.allowed_methods("/v1/api-keys/abc"),
            ["DELETE", "GET", "PATCH"]
        );
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
    fn deployer_routes_are_checked() {
        let route = |k: &str, r: Requirement| (k.to_owned(), r);
        let t = RouteTable::with_deployer_routes([
            route("GET /v1/orders/{id}", scope("orders:read")),
            route("GET /health", Requirement::AnyValidKey),
        ])
        .unwrap();
        assert_eq!(
            t.required_scope("GET /v1/orders/{id}"),
            Some(scope("orders:read"))
        );
        assert_eq!(
            t.required_scope("GET /health"),
            Some(Requirement::AnyValidKey)
        );
        assert_eq!(
            t.deployer_route_keys().collect::<Vec<_>>(),
            ["GET /v1/orders/{id}", "GET /health"]
        );
        assert!(matches!(
            RouteTable::with_deployer_routes([route("get /x", Requirement::AnyValidKey)]),
            Err(RouteTableError::BadRouteKey(_))
        ));
        assert!(matches!(
            RouteTable::with_deployer_routes([route("GET /v1/api-keys", Requirement::AnyValidKey)]),
            Err(RouteTableError::Reserved(_))
        ));
        // One route to API Gateway, whatever its parameter is called.
        assert!(matches!(
            RouteTable::with_deployer_routes([
                route("GET /orders/{id}", Requirement::AnyValidKey),
                route("GET /orders/{order}", Requirement::AnyValidKey),
            ]),
            Err(RouteTableError::Duplicate { .. })
        ));
        assert!(matches!(
            RouteTable::with_deployer_routes([route(
                "DELETE /v1/api-keys/{key}",
                Requirement::AnyValidKey
            )]),
            Err(RouteTableError::Reserved(_))
        ));
    }
}
