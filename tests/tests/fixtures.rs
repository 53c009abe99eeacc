//! The payload-2.0 fixtures under `infra/events/`: one per function, each
//! served by that function's handler exactly as Lambda would deliver it.

use keygate::lambda_http::request::from_str;
use keygate::routes::{Operation, RouteTable};
use keygate_tests::{Harness, fixture, id_of};

#[test]
fn there_is_a_fixture_for_every_function_and_it_names_its_route() {
    for op in Operation::ALL {
        let raw: serde_json::Value = serde_json::from_str(&fixture(op.function_name())).unwrap();
        assert_eq!(raw["version"], "2.0", "{}", op.function_name());
        assert_eq!(raw["routeKey"], op.route_key());
        assert_eq!(raw["requestContext"]["routeKey"], op.route_key());
        let path = raw["rawPath"].as_str().unwrap();
        let method = raw["requestContext"]["http"]["method"].as_str().unwrap();
        let matched = RouteTable::builtin().match_request(method, path).unwrap();
        assert_eq!(matched.route.operation, Some(op), "{path}");
        assert!(raw["requestContext"]["authorizer"]["lambda"]["org_id"].is_string());
        from_str(&fixture(op.function_name())).expect("lambda_http reads it");
    }
}

/// Each fixture, as Lambda delivers it, through its handler on a store
/// seeded with the fixture's key id and org.
#[tokio::test]
async fn each_fixture_is_served_by_its_handler() {
    let h = Harness::embedded();
    let sample_key: serde_json::Value = serde_json::from_str(&fixture("authorizer")).unwrap();
    let sample_id = sample_key["pathParameters"]["id"].as_str().unwrap();
    // Seed a key whose id is the one the fixtures name.
    let root = h.root_key("acme").await;
    let mut record = keygate_tests::contract::record("acme", "fixture");
    record.id = keygate::key::KeyId::parse(sample_id).unwrap();
    keygate::store::Store::insert(h.store(), &record)
        .await
        .unwrap();
    assert_ne!(id_of(&root), sample_id);

    let expected = [
        (Operation::ListScopes, 200),
        (Operation::CreateKey, 201),
        (Operation::ListKeys, 200),
        (Operation::GetKey, 200),
        (Operation::SuspendKey, 200),
        (Operation::ReactivateKey, 200),
        (Operation::RevokeKey, 200),
        (Operation::DeleteKey, 204),
        (Operation::GetKey, 404),
    ];
    for (op, status) in expected {
        let request = from_str(&fixture(op.function_name())).unwrap();
        let response = keygate::api::handle(&h.app, op, request).await;
        assert_eq!(
            response.status().as_u16(),
            status,
            "{}: {:?}",
            op.function_name(),
            response.body()
        );
    }
}
