//! How keygate runs: settings from the environment ([`config`]), the Lambda
//! start-up every binary shares ([`lambda`]), and the local stand-in for
//! API Gateway that `keygate serve` and the handler tests use ([`gateway`]).

pub mod config;
pub mod gateway;
pub mod lambda;
