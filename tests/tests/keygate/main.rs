//! keygate's cross-crate tests, one module per behaviour. Each drives the
//! API through the local API Gateway stand-in (the authorizer, then the
//! handler each Lambda binary runs) or calls a handler as Lambda would; the
//! cases every store must pass are in `store_contract`, run on each store.

mod authority;
mod authorizer;
mod create;
mod errors;
mod faults;
mod fixtures;
mod gateway;
mod lifecycle;
mod logs;
mod openapi;
mod store_contract;
mod template;
