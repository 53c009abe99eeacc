//! The store contract (`keygate_tests::contract`, one module per behaviour)
//! run on each store, and what only each store can show: how it talks to
//! its medium, what it keeps at rest, and how long.

mod dynamodb;
mod embedded;
