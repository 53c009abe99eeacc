//! The payload-2.0 events under `infra/events/`, the keys they name (put
//! into a store by [`seed_fixture_key`]), and the repository they are read
//! from.

use std::path::PathBuf;

use http::HeaderValue;
use keygate::aws_lambda_events::apigw::ApiGatewayV2CustomAuthorizerV2Request;
use keygate::domain::id::KeyId;
use keygate::domain::key::KeyFormat;
use keygate::domain::scope::Permissions;
use keygate::store::Store;

use crate::contract::{record, seed};

/// `infra/events/<name>.json`.
pub fn fixture(name: &str) -> String {
    let path = repo_root()
        .join("infra/events")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The key `infra/events/authorizer.json` sends, which every management
/// fixture acts on (see [`seed_fixture_key`]).
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

/// The calling key every management fixture's authorizer context names
/// (org `acme`, full access, no expiry): another key than the one they act
/// on, since a key cannot reactivate itself.
pub const FIXTURE_CALLER_ID: &str = "0354eiuPHXWwV73zzxesAd";

/// The key of `infra/events/authorizer.json`, which every management
/// fixture acts on, and the key they act as ([`FIXTURE_CALLER_ID`]), both
/// in org `acme` with full access, put into `store`. Returns the first's id.
pub async fn seed_fixture_key<S: Store>(store: &S) -> KeyId {
    let mut caller = record("acme", "fixture caller");
    caller.id = KeyId::parse(FIXTURE_CALLER_ID).expect("a key id");
    caller.budget = caller.id;
    caller.hint = "kg_...Adm1".into();
    caller.permissions = Permissions::Full;
    seed(store, &caller).await;
    let full = fixture_key();
    let format = KeyFormat::default();
    let parsed = format.parse(&full).expect("the fixture key is well-formed");
    let mut fixture = record("acme", "fixture");
    fixture.id = parsed.id;
    fixture.budget = parsed.id;
    fixture.secret_hash = format.hasher().hash(parsed.secret());
    fixture.hint = format!("kg_...{}", &full[full.len() - 4..]);
    fixture.permissions = Permissions::Full;
    seed(store, &fixture).await;
    parsed.id
}
