//! Everything the CLI takes from the keygate library crate, in one place: a
//! module moving inside the library changes only this file.

pub use keygate::api::{App, MAX_BODY_BYTES};
pub use keygate::config::Settings;
pub use keygate::error::{ApiError, quoted};
pub use keygate::gateway;
pub use keygate::key::KeyId;
pub use keygate::lambda_http;
pub use keygate::lifecycle::MAX_GRACE_SECS;
pub use keygate::model::OrgId;
pub use keygate::routes::Operation;
pub use keygate::store::dynamodb::Tables;
pub use keygate::store::{AnyStore, DynamoDbStore, EmbeddedStore, Store};
