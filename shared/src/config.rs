//! Deployment settings from the environment, read once at start-up. Invalid
//! settings fail loudly at start; they never silently allow anything.

use std::time::Duration;

use crate::key::{KeyFormat, KeyPrefix, SecretHasher};
use crate::routes::RouteTable;
use crate::store::dynamodb::Timeouts;

pub const ENV_PREFIX: &str = "KEYGATE_KEY_PREFIX";
pub const ENV_PEPPER: &str = "KEYGATE_PEPPER";
pub const ENV_ROUTES: &str = "KEYGATE_ROUTES";
pub const ENV_TIMEOUT_MS: &str = "KEYGATE_STORE_TIMEOUT_MS";
pub const ENV_TABLE: &str = "TABLE_NAME";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{ENV_PREFIX}: {0}")]
    Prefix(String),
    #[error("{ENV_ROUTES}: {0}")]
    Routes(#[from] crate::routes::RouteTableError),
    #[error("{ENV_TIMEOUT_MS}: {0:?} is not a number of milliseconds from 100 to 30000")]
    Timeout(String),
    #[error("{ENV_TABLE} is not set")]
    NoTable,
}

pub struct Settings {
    pub keys: KeyFormat,
    pub routes: RouteTable,
    pub timeouts: Timeouts,
}

impl Settings {
    /// Read settings through `var` (the process environment in production).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let prefix = match var(ENV_PREFIX).filter(|p| !p.is_empty()) {
            Some(p) => KeyPrefix::new(&p).map_err(ConfigError::Prefix)?,
            None => KeyPrefix::default(),
        };
        let pepper = var(ENV_PEPPER).filter(|p| !p.is_empty());
        let routes = match var(ENV_ROUTES).filter(|r| !r.trim().is_empty()) {
            Some(json) => RouteTable::with_overrides(&json)?,
            None => RouteTable::builtin().clone(),
        };
        let mut timeouts = Timeouts::default();
        if let Some(ms) = var(ENV_TIMEOUT_MS) {
            let parsed = ms
                .parse::<u64>()
                .ok()
                .filter(|n| (100..=30_000).contains(n))
                .ok_or(ConfigError::Timeout(ms))?;
            timeouts.operation = Duration::from_millis(parsed);
            timeouts.attempt = timeouts.attempt.min(timeouts.operation);
            timeouts.connect = timeouts.connect.min(timeouts.operation);
        }
        Ok(Self {
            keys: KeyFormat::new(
                prefix,
                SecretHasher::new(pepper.as_deref().map(str::as_bytes)),
            ),
            routes,
            timeouts,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        Settings::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_and_overrides() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.keys.prefix().as_str(), "kg");
        let s = settings(&[(ENV_PREFIX, "acme"), (ENV_TIMEOUT_MS, "500")]).unwrap();
        assert_eq!(s.keys.prefix().as_str(), "acme");
        assert_eq!(s.timeouts.operation, Duration::from_millis(500));
    }

    #[test]
    fn invalid_settings_fail_at_start() {
        assert!(matches!(
            settings(&[(ENV_PREFIX, "Bad!")]),
            Err(ConfigError::Prefix(_))
        ));
        assert!(matches!(
            settings(&[(ENV_ROUTES, r#"{"GET /x": "nope:read"}"#)]),
            Err(ConfigError::Routes(_))
        ));
        assert!(matches!(
            settings(&[(ENV_TIMEOUT_MS, "0")]),
            Err(ConfigError::Timeout(_))
        ));
    }
}
