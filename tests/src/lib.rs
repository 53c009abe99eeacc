//! Test support shared by keygate's cross-crate tests: a harness that drives
//! requests through the local API Gateway stand-in, fixtures from
//! `infra/events/`, a movable clock, store wrappers that count calls or
//! stage races, the DynamoDB (moto) connection, and the store contract run
//! on every store.

mod aws;
mod fixtures;
mod harness;
mod keys;
mod stores;

pub mod bench;
pub mod contract;
pub mod operation_log;
pub mod rie;
pub mod runtime_api;

pub use aws::{
    DUMMY_AWS_ENV, ENV_DYNAMODB_ENDPOINT, create_secret, dynamodb_client, dynamodb_endpoint,
    fresh_dynamodb_store, moto_timeouts, set_dummy_aws_env, unused_endpoint,
};
pub use fixtures::{
    FIXTURE_CALLER_ID, authorizer_event, fixture, fixture_key, repo_root, seed_fixture_key,
};
pub use harness::{Harness, Reply, TestClock};
pub use keys::{SECRET_WINDOW, assert_no_secret, id_of, secret_of};
pub use operation_log::{Call, OperationLog};
pub use stores::{CountingStore, StaleReadStore, all_events};
