//! The Lambda binaries proven as Lambda functions: each runs under AWS's
//! Lambda Runtime Interface Emulator (`keygate_tests::rie`; installed by
//! `infra/install-rie.sh`), on DynamoDB (moto), and is fed its payload-2.0
//! fixture from `infra/events/`. One module per behaviour.

mod authorizer;
mod common;
mod config;
mod emulator;
mod faults;
mod operations;
