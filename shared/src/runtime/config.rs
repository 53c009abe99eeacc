//! Deployment settings from the environment, read once at start-up. Invalid
//! settings fail loudly at start; they never silently allow anything.

use std::time::Duration;

use crate::app::{LimitFailure, LimitMode, LimitPolicy};
use crate::domain::catalog::{Catalog, CatalogError};
use crate::domain::key::{KeyFormat, KeyPrefix, SecretHasher};
use crate::store::dynamodb::{Tables, Timeouts};

pub const ENV_PREFIX: &str = "KEYGATE_KEY_PREFIX";
/// The pepper itself: for local use (`keygate serve`, `keygate bootstrap`).
pub const ENV_PEPPER: &str = "KEYGATE_PEPPER";
/// A Secrets Manager secret (name or ARN) whose SecretString is the pepper:
/// what deployed functions use, so the pepper is never in their configuration.
pub const ENV_PEPPER_SECRET: &str = "KEYGATE_PEPPER_SECRET_ID";
/// The catalog file (scopes, presets, routes); default: the one keygate
/// ships with. In the stack, the catalog layer's `/opt/keygate.toml`.
pub const ENV_CATALOG: &str = "KEYGATE_CATALOG";
pub const ENV_TIMEOUT_MS: &str = "KEYGATE_STORE_TIMEOUT_MS";
pub const ENV_AUDIT_RETENTION_DAYS: &str = "KEYGATE_AUDIT_RETENTION_DAYS";
/// `deny` (default) or `defer`: what a request over its key's limits gets.
pub const ENV_LIMIT_MODE: &str = "KEYGATE_LIMIT_MODE";
/// `closed` (default) or `open`: what a request that cannot be counted gets.
pub const ENV_LIMIT_FAILURE: &str = "KEYGATE_LIMIT_FAILURE";
/// Requests one count of a limited key reserves for the process (1-1000,
/// default 1: every request is one conditional write).
pub const ENV_LIMIT_LEASE: &str = "KEYGATE_LIMIT_LEASE";
pub const ENV_TABLE: &str = "TABLE_NAME";
pub const ENV_AUDIT_TABLE: &str = "AUDIT_TABLE_NAME";

/// Longest audit retention: 100 years.
const MAX_RETENTION_DAYS: u32 = 36_500;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The variable's name, then its cause: an error chain shows both once.
    #[error("{ENV_PREFIX}")]
    Prefix(#[from] crate::domain::key::BadPrefix),
    #[error("{ENV_CATALOG}")]
    Catalog(#[from] LoadError),
    #[error("{ENV_TIMEOUT_MS}: {0:?} is not a number of milliseconds from 100 to 30000")]
    Timeout(String),
    #[error("{ENV_AUDIT_RETENTION_DAYS}: {0:?} is not a number of days from 1 to 36500")]
    Retention(String),
    #[error("{ENV_LIMIT_MODE}: {0:?} is not deny or defer")]
    LimitMode(String),
    #[error("{ENV_LIMIT_FAILURE}: {0:?} is not closed or open")]
    LimitFailure(String),
    #[error("{ENV_LIMIT_LEASE}: {0:?} is not a number of requests from 1 to 1000")]
    LimitLease(String),
    #[error("{ENV_TABLE} is not set")]
    NoTable,
    #[error("{ENV_AUDIT_TABLE} is not set")]
    NoAuditTable,
    #[error("set {ENV_PEPPER} or {ENV_PEPPER_SECRET}, not both")]
    TwoPeppers,
    #[error(
        "{ENV_PEPPER} is refused in a Lambda function: anyone who may read its configuration \
         could read the pepper; set {ENV_PEPPER_SECRET} to a Secrets Manager secret instead"
    )]
    PlainPepperInLambda,
    /// The secret could not be read: the function must not run without it.
    #[error("{ENV_PEPPER_SECRET}: cannot read the pepper from Secrets Manager: {0}")]
    PepperSecret(String),
}

/// Where the pepper comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum PepperSource {
    /// No pepper: plain SHA-256.
    None,
    /// The pepper itself (local use).
    Plain(String),
    /// A Secrets Manager secret id, read once at start.
    Secret(String),
}

impl std::fmt::Debug for PepperSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PepperSource::None => f.write_str("None"),
            PepperSource::Plain(_) => f.write_str("Plain(<redacted>)"),
            PepperSource::Secret(id) => write!(f, "Secret({id:?})"),
        }
    }
}

#[derive(Debug)]
pub struct Settings {
    pub prefix: KeyPrefix,
    pub pepper: PepperSource,
    /// The deployment's scopes, presets and routes.
    pub catalog: Catalog,
    pub timeouts: Timeouts,
    /// Keep audit events this many days; `None` keeps them forever.
    pub audit_retention_days: Option<u32>,
    /// What the authorizer does over a key's limits, and when it cannot count.
    pub limit_policy: LimitPolicy,
    /// Requests one count reserves for this process (DynamoDB store).
    pub limit_lease: u64,
}

/// Why a catalog file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}")]
    Unreadable {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Invalid(#[from] CatalogError),
}

impl Catalog {
    /// Read and check the catalog file at `path`.
    pub fn load(path: &std::path::Path) -> Result<Catalog, LoadError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| LoadError::Unreadable {
            path: shown.clone(),
            source,
        })?;
        Ok(Catalog::parse(&text, &shown)?)
    }
}

impl Settings {
    /// Read settings through `var` (the process environment in production).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let prefix = match set(ENV_PREFIX) {
            Some(p) => KeyPrefix::new(&p)?,
            None => KeyPrefix::default(),
        };
        let pepper = match (set(ENV_PEPPER), set(ENV_PEPPER_SECRET)) {
            (Some(_), Some(_)) => return Err(ConfigError::TwoPeppers),
            (Some(p), None) => PepperSource::Plain(p),
            (None, Some(id)) => PepperSource::Secret(id),
            (None, None) => PepperSource::None,
        };
        let catalog = match set(ENV_CATALOG) {
            Some(path) => Catalog::load(std::path::Path::new(&path))?,
            None => Catalog::builtin().clone(),
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
        let audit_retention_days = set(ENV_AUDIT_RETENTION_DAYS)
            .map(|d| {
                d.trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=MAX_RETENTION_DAYS).contains(n))
                    .ok_or(ConfigError::Retention(d))
            })
            .transpose()?;
        let limit_policy = LimitPolicy {
            mode: match set(ENV_LIMIT_MODE) {
                Some(m) => m.trim().parse().map_err(|_| ConfigError::LimitMode(m))?,
                None => LimitMode::default(),
            },
            on_failure: match set(ENV_LIMIT_FAILURE) {
                Some(f) => f.trim().parse().map_err(|_| ConfigError::LimitFailure(f))?,
                None => LimitFailure::default(),
            },
        };
        let limit_lease = set(ENV_LIMIT_LEASE)
            .map(|n| {
                n.trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or(ConfigError::LimitLease(n))
            })
            .transpose()?
            .unwrap_or(1);
        Ok(Self {
            prefix,
            pepper,
            catalog,
            timeouts,
            audit_retention_days,
            limit_policy,
            limit_lease,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// The key format, with the pepper resolved: a secret is read from
    /// Secrets Manager now (the standard AWS environment; `AWS_ENDPOINT_URL`
    /// applies), and any failure to read it is an error, never "no pepper".
    pub async fn key_format(&self) -> Result<KeyFormat, ConfigError> {
        let pepper = match &self.pepper {
            PepperSource::None => None,
            PepperSource::Plain(p) => Some(p.clone()),
            PepperSource::Secret(id) => Some(read_secret(id, self.timeouts).await?),
        };
        Ok(KeyFormat::new(
            self.prefix.clone(),
            SecretHasher::new(pepper.as_deref().map(str::as_bytes)),
        ))
    }

    /// The DynamoDB tables of a Lambda function: `TABLE_NAME` and
    /// `AUDIT_TABLE_NAME`.
    pub fn tables_from_env() -> Result<Tables, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Ok(Tables {
            keys: var(ENV_TABLE).ok_or(ConfigError::NoTable)?,
            audit: var(ENV_AUDIT_TABLE).ok_or(ConfigError::NoAuditTable)?,
        })
    }
}

async fn read_secret(id: &str, timeouts: Timeouts) -> Result<String, ConfigError> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(timeouts.connect)
                .operation_timeout(timeouts.operation)
                .build(),
        )
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let out = client
        .get_secret_value()
        .secret_id(id)
        .send()
        .await
        .map_err(|e| {
            ConfigError::PepperSecret(
                aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
            )
        })?;
    match out.secret_string() {
        Some(s) if !s.is_empty() => Ok(s.to_owned()),
        _ => Err(ConfigError::PepperSecret(format!(
            "the secret {id:?} has no SecretString (or it is empty)"
        ))),
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
        assert_eq!(s.prefix.as_str(), "kg");
        assert_eq!(s.pepper, PepperSource::None);
        assert_eq!(s.audit_retention_days, None);
        assert_eq!(s.limit_policy, LimitPolicy::default());
        assert_eq!(s.limit_lease, 1);
        let s = settings(&[
            (ENV_PREFIX, "acme"),
            (ENV_TIMEOUT_MS, "500"),
            (ENV_AUDIT_RETENTION_DAYS, "400"),
            (ENV_LIMIT_MODE, "defer"),
            (ENV_LIMIT_FAILURE, "open"),
            (ENV_LIMIT_LEASE, "8"),
            (
                ENV_PEPPER_SECRET,
                "arn:aws:secretsmanager:us-east-1:1:secret:p",
            ),
        ])
        .unwrap();
        assert_eq!(s.prefix.as_str(), "acme");
        assert_eq!(s.timeouts.operation, Duration::from_millis(500));
        assert_eq!(s.audit_retention_days, Some(400));
        assert!(matches!(s.pepper, PepperSource::Secret(_)));
        assert_eq!(
            s.limit_policy,
            LimitPolicy {
                mode: LimitMode::Defer,
                on_failure: LimitFailure::Open
            }
        );
        assert_eq!(s.limit_lease, 8);
    }

    #[test]
    fn invalid_settings_fail_at_start() {
        assert!(matches!(
            settings(&[(ENV_PREFIX, "Bad!")]),
            Err(ConfigError::Prefix(_))
        ));
        assert!(matches!(
            settings(&[(ENV_CATALOG, "/nonexistent/keygate.toml")]),
            Err(ConfigError::Catalog(LoadError::Unreadable { .. }))
        ));
        assert!(matches!(
            settings(&[(ENV_TIMEOUT_MS, "0")]),
            Err(ConfigError::Timeout(_))
        ));
        assert!(matches!(
            settings(&[(ENV_AUDIT_RETENTION_DAYS, "0")]),
            Err(ConfigError::Retention(_))
        ));
        for (name, value) in [
            (ENV_LIMIT_MODE, "reject"),
            (ENV_LIMIT_FAILURE, "ajar"),
            (ENV_LIMIT_LEASE, "0"),
            (ENV_LIMIT_LEASE, "1001"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert!(err.to_string().starts_with(name), "{err}");
        }
        assert!(matches!(
            settings(&[(ENV_PEPPER, "p"), (ENV_PEPPER_SECRET, "s")]),
            Err(ConfigError::TwoPeppers)
        ));
    }

    #[test]
    fn a_plain_pepper_never_shows_in_debug_output() {
        let s = settings(&[(ENV_PEPPER, "hunter2-pepper")]).unwrap();
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[tokio::test]
    async fn the_pepper_reaches_the_hasher() {
        let plain = settings(&[]).unwrap().key_format().await.unwrap();
        let peppered = settings(&[(ENV_PEPPER, "pepper")])
            .unwrap()
            .key_format()
            .await
            .unwrap();
        let minted = plain.generate();
        let parsed = plain.parse(minted.key.expose()).unwrap();
        assert!(plain.hasher().verify(&parsed, &minted.hash));
        assert!(
            !peppered.hasher().verify(&parsed, &minted.hash),
            "a key minted without the pepper must not verify with it"
        );
        let salted = peppered.generate();
        let secret = peppered.parse(salted.key.expose()).unwrap();
        assert_ne!(
            peppered.hasher().hash(secret.secret()),
            plain.hasher().hash(secret.secret()),
            "the pepper changes the stored hash"
        );
    }
}
