//! keygate's cross-crate tests, one module per behaviour: what the API
//! does, driven through the local API Gateway stand-in (the authorizer, then
//! the handler each Lambda binary runs) or with a handler called as Lambda
//! would; what the authorizer decides; and whether the OpenAPI document and
//! template.yaml are in step with the code. The behaviours every store must
//! show (rotation, the audit trail, pagination, the cover rule, the caller
//! guard, ...) are cases of the library's `keygate_tests::contract`, one
//! module per behaviour, run on each store by `store_contract` as
//! `store_contract::<store>::<behaviour>::<case>`: `cargo test rotation`
//! runs every rotation test on both stores.

mod authority;
mod authorizer;
mod catalog;
mod create;
mod errors;
mod faults;
mod fixtures;
mod gateway;
mod lifecycle;
mod limits;
mod logs;
mod openapi;
mod store_contract;
mod template;
