//! keygate: API keys with scoped permissions for APIs behind AWS API Gateway.
//!
//! Everything the Lambda binaries and the `keygate` command do lives here,
//! in five layers; each uses only the layers before it (a test holds the
//! crate to that):
//!
//! 1. [`domain`]: ids, the key format, time, text, the key record, scopes,
//!    routes, lifecycle, authority, changes and their audit events. No I/O.
//! 2. [`store`]: the storage port and its adapters (DynamoDB, embedded redb).
//! 3. [`app`]: everything a handler or the authorizer needs, built once.
//! 4. [`http`]: requests, the authorizer and its context, handlers, errors,
//!    views, the public pages and the OpenAPI document.
//! 5. [`runtime`]: Lambda start-up, settings, and the local API Gateway.

pub mod app;
pub mod domain;
pub mod http;
pub mod runtime;
pub mod store;

pub use aws_lambda_events;
pub use lambda_http;

/// An error and each of its causes, `: `-separated: what a log line shows,
/// once, for a failure (axum's and zero2prod's error-chain idiom).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}
