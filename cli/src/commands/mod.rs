//! One module per command family.

pub mod audit;
pub mod bootstrap;
pub mod catalog;
pub mod completions;
pub mod keys;
pub mod scopes;
pub mod serve;
pub mod table;
pub mod whoami;
