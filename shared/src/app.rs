//! The application: the store, the key format, the route table and the
//! clock, built once per process and shared by the handlers and the
//! authorizer; and bootstrap, which mints a key with no caller.

use std::sync::Arc;

use crate::domain::audit::EventFilter;
use crate::domain::audit::chain::{Broken, ChainHash, Verified, verify};
use crate::domain::catalog::Catalog;
use crate::domain::change::{Change, Origin};
use crate::domain::key::{FullKey, KeyFormat};
use crate::domain::org::OrgId;
use crate::domain::record::{KeyRecord, KeyType};
use crate::domain::routes::RouteTable;
use crate::domain::scope::Permissions;
use crate::domain::text::{Description, KeyName, TextError};
use crate::domain::time::{Clock, SystemClock};
use crate::store::{Store, StoreError};

/// Everything a handler or the authorizer needs, built once per process.
pub struct App<S> {
    pub store: S,
    pub keys: KeyFormat,
    /// The deployment's scopes, presets and routes.
    pub catalog: Arc<Catalog>,
    pub clock: Arc<dyn Clock>,
    /// How the authorizer answers a request over a key's limits.
    pub limit_policy: LimitPolicy,
}

/// How the authorizer answers a request over a key's usage limits, and one
/// whose count could not be made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitPolicy {
    pub mode: LimitMode,
    pub on_failure: LimitFailure,
}

/// What the authorizer does with a request over a key's limits.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    strum::Display,
    strum::EnumString,
    strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum LimitMode {
    /// Deny it: API Gateway answers 403 (an authorizer cannot answer 429).
    #[default]
    Deny,
    /// Allow it, saying in the context which limit it exceeds and when it
    /// fits again: keygate's handlers (and a deployer's backend, in a few
    /// lines) answer 429 with `Retry-After` and the RateLimit fields.
    Defer,
}

/// What the authorizer does when a limited key's request cannot be counted
/// (the store throttled or down).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    strum::Display,
    strum::EnumString,
    strum::VariantNames,
)]
#[strum(serialize_all = "lowercase")]
pub enum LimitFailure {
    /// Refuse it: a deny, or in `defer` mode a 503. Never more than the limit.
    #[default]
    Closed,
    /// Let it through uncounted: availability over exactness, the
    /// deployer's explicit choice.
    Open,
}

/// Why `keygate bootstrap` minted nothing.
#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("name: {0}")]
    Name(TextError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why an audit trail did not verify.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("the audit trail is broken: {0}")]
    Broken(#[from] Broken),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The description of every bootstrap key.
const BOOTSTRAP_DESCRIPTION: &str = "created by keygate bootstrap";

impl<S: Store> App<S> {
    pub fn new(store: S, keys: KeyFormat) -> Self {
        Self {
            store,
            keys,
            catalog: Arc::new(Catalog::builtin().clone()),
            clock: Arc::new(SystemClock),
            limit_policy: LimitPolicy::default(),
        }
    }

    pub fn with_limit_policy(mut self, policy: LimitPolicy) -> Self {
        self.limit_policy = policy;
        self
    }

    pub fn with_catalog(mut self, catalog: Catalog) -> Self {
        self.catalog = Arc::new(catalog);
        self
    }

    /// keygate's routes and the deployer's, from the catalog.
    pub fn routes(&self) -> &RouteTable {
        self.catalog.routes()
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Mint a full-access key for `org` straight into the store, with a
    /// `bootstrap` audit event: `keygate bootstrap` (also how a locked-out
    /// organization is recovered) and the first start of `keygate serve`.
    /// Returns the record and the full key.
    pub async fn mint_root_key(
        &self,
        org: &OrgId,
        name: &str,
    ) -> Result<(KeyRecord, FullKey), BootstrapError> {
        let name = KeyName::new(name).map_err(BootstrapError::Name)?;
        let now = self.clock.now();
        let new = self.keys.generate();
        let record = KeyRecord {
            description: Description::new(BOOTSTRAP_DESCRIPTION).ok(),
            ..KeyRecord::new_active(
                &new,
                org.clone(),
                name,
                KeyType::Service,
                Permissions::Full,
                now,
            )
        };
        self.store
            .commit(&Change::create(record.clone(), &Origin::bootstrap(now)))
            .await?;
        Ok((record, new.key))
    }

    /// Check `org`'s whole audit trail against its hash chain and its head
    /// (and `expected`, a head taken from the logs), allowing events older
    /// than `retention_days` to have been removed from its start. Reads
    /// every event: for an operator's check, not for a request.
    pub async fn verify_audit(
        &self,
        org: &OrgId,
        retention_days: Option<u32>,
        expected: Option<(u64, ChainHash)>,
    ) -> Result<Verified, VerifyError> {
        let mut events = vec![];
        let mut after = None;
        loop {
            let page = self
                .store
                .list_events(org, EventFilter::default(), VERIFY_PAGE, after)
                .await?;
            after = page.next_after().map(|e| e.id);
            events.extend(page.items);
            if after.is_none() {
                break;
            }
        }
        let head = self.store.chain_head(org).await?;
        let retention_secs = retention_days.map(|d| i64::from(d) * 86_400);
        Ok(verify(
            &events,
            head,
            expected,
            retention_secs,
            self.clock.now(),
        )?)
    }
}

/// Events read per page when a trail is verified.
const VERIFY_PAGE: usize = 100;
