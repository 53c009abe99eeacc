//! The payload-2.0 events under `infra/events/`, and the repository they
//! are read from.

use std::path::PathBuf;

use http::HeaderValue;
use keygate::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;

/// `infra/events/<name>.json`.
pub fn fixture(name: &str) -> String {
    let path = repo_root()
        .join("infra/events")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The key `infra/events/authorizer.json` sends, which every management
/// fixture acts on (see [`contract::seed_fixture_key`]).
pub fn fixture_key() -> String {
    let event: serde_json::Value =
        serde_json::from_str(&fixture("authorizer")).expect("the authorizer fixture");
    event["headers"]["x-api-key"]
        .as_str()
        .expect("its X-API-Key")
        .to_owned()
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The authorizer fixture with another key and route.
pub fn authorizer_event(key: &str, route_key: &str) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut event: ApiGatewayV2CustomAuthorizerV2Request =
        serde_json::from_str(&fixture("authorizer")).expect("authorizer fixture parses");
    event.route_key = Some(route_key.to_owned());
    event.request_context.route_key = Some(route_key.to_owned());
    event
        .headers
        .insert("x-api-key", HeaderValue::from_str(key).expect("header"));
    event.identity_source = Some(vec![key.to_owned()]);
    event
}
