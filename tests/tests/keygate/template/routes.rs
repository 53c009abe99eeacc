//! The routes: each route of the route table served by exactly one
//! function, the one running its operation's binary; the public routes, and
//! only they, skip the authorizer; every keygate path answers other methods
//! with 405; and no route outside the table.

use std::collections::BTreeSet;

use keygate::domain::routes::keygate_paths;

use super::{
    CONSOLE_BINARY, Function, Route, assert_flagged, binaries_and_routes, keygate_routes,
    problems_after,
};

/// Each route of the table is served by exactly one function, the one that
/// builds its operation's binary; public routes, and only they, skip the
/// authorizer; no function serves a route outside the table.
pub(super) fn check_routes(functions: &[Function], out: &mut Vec<String>) {
    for op in keygate_routes() {
        let serving: Vec<(&Function, &Route)> = functions
            .iter()
            .flat_map(|f| f.routes.iter().map(move |r| (f, r)))
            .filter(|(_, r)| r.key == op.route_key())
            .collect();
        match serving.as_slice() {
            [(f, r)] => {
                if f.binary != op.function_name() {
                    out.push(format!(
                        "{} is served by {} (binary {}), expected binary {}",
                        op.route_key(),
                        f.id,
                        f.binary,
                        op.function_name()
                    ));
                }
                if r.public != op.is_public() {
                    out.push(format!(
                        "{} is {} in the template but {} in the route table",
                        op.route_key(),
                        if r.public {
                            "public"
                        } else {
                            "behind the authorizer"
                        },
                        if op.is_public() {
                            "public"
                        } else {
                            "key-protected"
                        },
                    ));
                }
            }
            _ => out.push(format!(
                "{} is served by {} functions, expected exactly one",
                op.route_key(),
                serving.len()
            )),
        }
    }
    // Every keygate path answers other methods with 405: one public `ANY`
    // route each, served by the console function.
    for path in keygate_paths() {
        let key = format!("ANY {path}");
        let serving: Vec<(&Function, &Route)> = functions
            .iter()
            .flat_map(|f| f.routes.iter().map(move |r| (f, r)))
            .filter(|(_, r)| r.key == key)
            .collect();
        match serving.as_slice() {
            [(f, r)] if f.binary == CONSOLE_BINARY && r.public => {}
            _ => out.push(format!(
                "{key} is not served by exactly one public route of the {CONSOLE_BINARY} function"
            )),
        }
    }
    let expected = binaries_and_routes();
    for f in functions {
        let keys: BTreeSet<&str> = f.routes.iter().map(|r| r.key.as_str()).collect();
        for key in &keys {
            let any_route = key
                .strip_prefix("ANY ")
                .is_some_and(|path| keygate_paths().contains(&path));
            if !any_route && !keygate_routes().iter().any(|op| op.route_key() == *key) {
                out.push(format!(
                    "{}: event {key} is not a route of the route table",
                    f.id
                ));
            }
        }
        if let Some(wanted) = expected.get(f.binary)
            && keys.len() != wanted.len()
        {
            out.push(format!(
                "{} ({}) has {} HttpApi events, expected {}",
                f.id,
                f.binary,
                keys.len(),
                wanted.len()
            ));
        }
    }
}

#[test]
fn a_route_missing_from_the_template_is_caught() {
    let found = problems_after(
        "Method: POST\n            Path: /v1/api-keys/{id}/revoke",
        "Method: POST\n            Path: /v1/api-keys/{id}/cancel",
    );
    assert_flagged(
        &found,
        "POST /v1/api-keys/{id}/revoke is served by 0 functions",
    );
    assert_flagged(
        &found,
        "POST /v1/api-keys/{id}/cancel is not a route of the route table",
    );
}

#[test]
fn a_route_served_by_the_wrong_binary_is_caught() {
    let found = problems_after(
        "Method: DELETE\n            Path: /v1/api-keys/{id}\n",
        "Method: POST\n            Path: /v1/api-keys/{id}/suspend\n",
    );
    assert_flagged(&found, "DELETE /v1/api-keys/{id} is served by 0 functions");
    assert_flagged(
        &found,
        "POST /v1/api-keys/{id}/suspend is served by 2 functions",
    );
}

/// The public routes skip the authorizer, and nothing else does.
#[test]
fn only_the_public_routes_skip_the_authorizer() {
    let found = problems_after(
        "            Method: GET\n            Path: /openapi.json\n            Auth:\n              Authorizer: NONE\n",
        "            Method: GET\n            Path: /openapi.json\n",
    );
    assert_flagged(
        &found,
        "GET /openapi.json is behind the authorizer in the template but public",
    );
    let found = problems_after(
        "            Method: POST\n            Path: /v1/api-keys/{id}/rotate\n",
        "            Method: POST\n            Path: /v1/api-keys/{id}/rotate\n            Auth:\n              Authorizer: NONE\n",
    );
    assert_flagged(
        &found,
        "POST /v1/api-keys/{id}/rotate is public in the template but key-protected",
    );
}

/// A keygate path without its 405 route is caught.
#[test]
fn every_keygate_path_answers_other_methods_with_405() {
    let found = problems_after(
        "            Method: ANY\n            Path: /v1/audit-events\n",
        "            Method: ANY\n            Path: /v1/audit-events/extra\n",
    );
    assert_flagged(
        &found,
        "ANY /v1/audit-events is not served by exactly one public route of the console function",
    );
    assert_flagged(&found, "event ANY /v1/audit-events/extra is not a route");
}
