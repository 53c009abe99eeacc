//! The domain: what a key is and what may be done to it, with no I/O and no
//! AWS, Lambda or redb in it. Everything above (stores, the app, HTTP, the
//! runtimes) is built on these types; nothing here knows about them.
//!
//! - [`id`], [`key`]: time-ordered ids and the key format (mint, parse, hash).
//! - [`time`], [`text`], [`org`]: validated values.
//! - [`record`]: a key as stored; [`scope`]: scopes and permissions;
//!   [`catalog`]: which scopes, presets and routes a deployment has (data).
//! - [`routes`]: which scope each route needs, and keygate's operations.
//! - [`lifecycle`], [`authority`], [`change`], [`audit`]: what may change,
//!   who may change it, and the change with its audit event as one value;
//!   the audit trail's hash chain ([`audit::chain`]) makes tampering evident.
//! - [`limits`]: rate limits and quotas, the budget a key's requests are
//!   counted in, and whether one more request fits.
//! - [`search`]: finding keys by name, type and owner, and counting them.
//! - [`redaction`]: every "could this be a secret?" rule.

pub mod audit;
pub mod authority;
pub mod catalog;
pub mod change;
pub mod id;
pub mod key;
pub mod lifecycle;
pub mod limits;
pub mod org;
pub mod record;
pub mod redaction;
pub mod routes;
pub mod scope;
pub mod search;
pub mod text;
pub mod time;
