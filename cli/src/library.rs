//! Everything the CLI takes from the keygate library crate, in one place: a
//! module moving inside the library changes only this file.

pub use keygate::app::{App, LimitFailure, LimitMode};
pub use keygate::domain::audit::chain::ChainHash;
pub use keygate::domain::catalog::{Catalog, CatalogDiff, file_schema as catalog_file_schema};
pub use keygate::domain::id::KeyId;
pub use keygate::domain::key::{KeyFormat, KeyPrefix};
pub use keygate::domain::lifecycle::MAX_GRACE_SECS;
pub use keygate::domain::org::OrgId;
pub use keygate::domain::redaction::quoted;
pub use keygate::domain::routes::{Operation, Page, shape_of};
pub use keygate::http::MAX_BODY_BYTES;
pub use keygate::http::error::ApiError;
pub use keygate::http::openapi::REQUIRED_SCOPE;
pub use keygate::lambda_http;
pub use keygate::runtime::config::Settings;
pub use keygate::runtime::gateway;
pub use keygate::store::dynamodb::Tables;
pub use keygate::store::{AnyStore, DynamoDbStore, EmbeddedStore, Store};

/// A route of the library's route table that the CLI calls: a management
/// operation, behind the authorizer, or the public OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Operation(Operation),
    OpenApiDocument,
}

impl Route {
    /// The API Gateway route key, e.g. `GET /v1/api-keys/{id}`.
    pub fn route_key(self) -> &'static str {
        match self {
            Route::Operation(operation) => operation.route_key(),
            Route::OpenApiDocument => Page::OpenApiDocument.route_key(),
        }
    }

    /// Whether it is served without a key, so none is sent.
    pub fn is_public(self) -> bool {
        self == Route::OpenApiDocument
    }
}

impl From<Operation> for Route {
    fn from(operation: Operation) -> Self {
        Route::Operation(operation)
    }
}

/// The DynamoDB store on `tables` at `endpoint` (default: the standard AWS
/// environment), with the settings' timeouts.
pub async fn dynamodb_store(
    endpoint: Option<&str>,
    tables: &Tables,
    settings: &Settings,
) -> DynamoDbStore {
    let client = keygate::store::dynamodb::client(endpoint, settings.timeouts).await;
    DynamoDbStore::new(client, tables)
}

/// The id of `key` when it is a well-formed keygate key (shape and checksum)
/// of whatever prefix it has: the CLI does not know the deployment's. The
/// reason, which never repeats the key, when it is not.
pub fn key_id_of(key: &str) -> Result<KeyId, String> {
    let (prefix, _) = key
        .split_once('_')
        .ok_or("it is not <prefix>_ and 65 letters or digits")?;
    let prefix = KeyPrefix::new(prefix)
        .map_err(|_| "its prefix is not 1-10 lowercase letters or digits".to_owned())?;
    let format = KeyFormat::new(prefix, Default::default());
    format
        .parse(key)
        .map(|parsed| parsed.id)
        .map_err(|e| e.to_string())
}
