//! The payload-2.0 fixtures under `infra/events/`: the authorizer's is the
//! REQUEST event API Gateway sends; every other function's names its route,
//! is served by that function's handler exactly as Lambda would deliver it,
//! and is refused by every other handler.

use keygate::domain::routes::{Operation, Page, Serves};
use keygate::lambda_http::request::from_str;
use keygate::store::EmbeddedStore;
use keygate_tests::{CountingStore, Harness, authorizer_event, fixture, id_of};
use serde_json::Value;
use strum::VariantArray;

const ROUTE: &str = "GET /v1/runs/{id}";

/// Every function's fixture: (its name, the route it names, what serves
/// that route). The console function's three routes share `console.json`
/// (the page's).
fn with_fixture() -> impl Iterator<Item = (&'static str, &'static str, Serves)> {
    Operation::VARIANTS
        .iter()
        .map(|&op| (op.function_name(), op.route_key(), Serves::Operation(op)))
        .chain([(
            Page::FUNCTION_NAME,
            Page::Console.route_key(),
            Serves::Page(Page::Console),
        )])
}

#[tokio::test]
async fn the_fixture_is_an_api_gateway_payload_2_event() {
    let raw: serde_json::Value = serde_json::from_str(&fixture("authorizer")).unwrap();
    assert_eq!(raw["version"], "2.0");
    assert_eq!(raw["type"], "REQUEST");
    assert!(raw["identitySource"].is_array());
    assert!(
        raw["routeArn"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:execute-api:")
    );
    assert_eq!(raw["routeKey"], raw["requestContext"]["routeKey"]);
    let event = authorizer_event("kg_x", ROUTE);
    assert_eq!(event.route_key.as_deref(), Some(ROUTE));
}

#[test]
fn there_is_a_fixture_for_every_function_and_it_names_its_route() {
    for (name, route_key, serves) in with_fixture() {
        let raw: Value = serde_json::from_str(&fixture(name)).unwrap();
        assert_eq!(raw["version"], "2.0", "{name}");
        assert_eq!(raw["routeKey"], route_key);
        assert_eq!(raw["requestContext"]["routeKey"], route_key);
        let path = raw["rawPath"].as_str().unwrap();
        let method = raw["requestContext"]["http"]["method"].as_str().unwrap();
        let matched = keygate::domain::catalog::Catalog::builtin()
            .routes()
            .match_request(method, path)
            .unwrap();
        assert_eq!(matched.route.serves, serves, "{path}");
        let context = &raw["requestContext"]["authorizer"]["lambda"];
        if let Serves::Page(_) = serves {
            assert!(
                context.is_null(),
                "a public route has no authorizer context"
            );
        } else {
            for field in ["org_id", "key_id", "scopes", "hint", "name", "expires_at"] {
                assert!(context[field].is_string(), "{name}: {field}");
            }
        }
        from_str(&fixture(name)).expect("lambda_http reads it");
    }
}

/// Each fixture, as Lambda delivers it, through its handler on a store
/// seeded with the fixture's key id and org.
#[tokio::test]
async fn each_fixture_is_served_by_its_handler() {
    let h = Harness::embedded();
    let root = h.root_key("acme").await;
    let sample_id = keygate_tests::seed_fixture_key(h.store()).await;
    assert_ne!(id_of(&root), sample_id.to_string());

    let expected = [
        (Operation::ListScopes, 200),
        (Operation::CreateKey, 201),
        (Operation::ListKeys, 200),
        (Operation::GetKey, 200),
        (Operation::UpdateKey, 200),
        (Operation::SuspendKey, 200),
        (Operation::ReactivateKey, 200),
        (Operation::RotateKey, 201),
        (Operation::RevokeKey, 200),
        (Operation::ListAuditEvents, 200),
        (Operation::DeleteKey, 204),
        (Operation::GetKey, 404),
    ];
    for (op, status) in expected {
        let request = from_str(&fixture(op.function_name())).unwrap();
        let response = keygate::http::handle(&h.app, op, request).await;
        let body = String::from_utf8_lossy(response.body().as_ref()).into_owned();
        assert_eq!(
            response.status().as_u16(),
            status,
            "{}: {body}",
            op.function_name(),
        );
        if op == Operation::ListAuditEvents {
            let events: Value = serde_json::from_str(&body).unwrap();
            let actions: Vec<&str> = events["data"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["action"].as_str())
                .collect();
            assert_eq!(
                actions,
                [
                    "revoke",
                    "rotate",
                    "reactivate",
                    "suspend",
                    "update",
                    "create"
                ],
                "the fixture key's history, newest first"
            );
            let update = &events["data"][4];
            assert_eq!(
                update["actor_name"], "fixture caller",
                "the name in the authorizer's context is recorded"
            );
            assert_eq!(
                update["changes"],
                serde_json::json!([
                    {"field": "name", "before": "fixture", "after": "fixture renamed"},
                    {"field": "description", "before": null, "after": "renamed by its fixture"},
                ])
            );
        }
    }
    let page = keygate::http::public::handle(
        from_str(&fixture(Page::FUNCTION_NAME)).unwrap(),
        keygate::domain::catalog::Catalog::builtin(),
    );
    assert_eq!(
        page.status(),
        200,
        "the console function serves its fixture"
    );
}

/// A function deployed behind another operation's route refuses
/// the request (fail closed: 500, a log line naming both, no store call)
/// rather than do its own operation to the key the request names.
#[tokio::test]
async fn a_handler_refuses_another_operation_s_event() {
    let h = Harness::new(CountingStore::new(EmbeddedStore::in_memory().unwrap()));
    let id = keygate_tests::seed_fixture_key(h.store()).await;
    let record = keygate::store::Store::get(h.store(), id).await.unwrap();
    let before = h.store().total();
    for &served in Operation::VARIANTS {
        for (sent, _, _) in with_fixture() {
            if served.function_name() == sent {
                continue;
            }
            let request = from_str(&fixture(sent)).unwrap();
            let response = keygate::http::handle(&h.app, served, request).await;
            assert_eq!(
                response.status().as_u16(),
                500,
                "{} served {sent}'s event",
                served.function_name(),
            );
            let body: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
            assert_eq!(body["error"]["code"], "internal_error");
        }
    }
    assert_eq!(
        h.store().total(),
        before,
        "no store call for a misrouted event"
    );
    let stored = keygate::store::Store::get(h.store(), id).await.unwrap();
    assert_eq!(stored, record, "the key the events name is untouched");
    // The console function's own handler refuses a management route too.
    let request = from_str(&fixture("revoke-key")).unwrap();
    assert_eq!(
        keygate::http::public::handle(request, keygate::domain::catalog::Catalog::builtin())
            .status(),
        500
    );
}

/// The stack's `ANY` route on a keygate path reaches the console function
/// for a method keygate does not serve there: 405 naming the ones it does.
#[test]
fn the_console_function_answers_an_unserved_method_with_405_and_allow() {
    for (path, allow) in [
        ("/v1/api-keys/{id}", "DELETE, GET, PATCH"),
        ("/v1/api-keys", "GET, POST"),
        ("/v1/api-keys/{id}/rotate", "POST"),
    ] {
        let mut raw: Value = serde_json::from_str(&fixture("console")).unwrap();
        let route_key = format!("ANY {path}");
        raw["routeKey"] = route_key.clone().into();
        raw["requestContext"]["routeKey"] = route_key.into();
        raw["requestContext"]["http"]["method"] = "PUT".into();
        let request = from_str(&raw.to_string()).unwrap();
        let response =
            keygate::http::public::handle(request, keygate::domain::catalog::Catalog::builtin());
        assert_eq!(response.status(), 405, "{path}");
        assert_eq!(response.headers()["allow"], allow, "{path}");
    }
}
