//! keygate: API keys with scoped permissions for APIs behind AWS API Gateway.
//!
//! Everything the Lambda binaries and the `keygate` command do lives here:
//! the key format ([`key`]), the scope catalog ([`scope`]), the route table
//! ([`routes`]), the lifecycle ([`lifecycle`]), the storage port and its
//! adapters ([`store`]), the HTTP handlers ([`api`]) and the authorizer
//! ([`authorizer`]).

pub mod api;
pub mod audit;
pub mod authority;
pub mod authorizer;
pub mod change;
pub mod config;
pub mod console;
pub mod error;
pub mod gateway;
pub mod key;
pub mod lambda;
pub mod lifecycle;
pub mod model;
pub mod openapi;
pub mod routes;
pub mod scope;
pub mod store;

pub use aws_lambda_events;
pub use lambda_http;
