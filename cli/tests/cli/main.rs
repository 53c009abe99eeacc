//! The `keygate` command's tests: each runs the built binary and checks what
//! a user would notice (stdout, stderr, exit codes), one module per behaviour.

mod audit;
mod catalog;
mod common;
mod dynamodb;
mod errors;
mod help;
mod keys;
mod limits;
mod safety;
mod scripts;
mod serve;
mod upstream;
mod width;
