//! The DynamoDB store: what every Lambda function uses when deployed.
//!
//! Keys table (`PAY_PER_REQUEST`):
//!
//! | what             | partition key | sort key | serves                                |
//! |------------------|---------------|----------|---------------------------------------|
//! | table            | `id`          | —        | the authorizer's `GetItem`, writes    |
//! | GSI `by-org`     | `org_id`      | `id`     | `status=all`, newest first            |
//! | GSI `by-org-status` | `org_status` (`<org>#<status>`) | `id` | each status, newest first |
//!
//! Audit table, a second table so that IAM can make it append-only (no
//! function may update or delete an event) and its TTL applies to events
//! only:
//!
//! | what                | partition key                 | sort key | serves             |
//! |---------------------|-------------------------------|----------|--------------------|
//! | table               | `org_id`                      | `id`     | all events         |
//! | GSI `by-key`        | `org_key` (`<org>#<key>`)     | `id`     | `key_id=`          |
//! | GSI `by-action`     | `org_action` (`<org>#<action>`) | `id`   | `action=`          |
//! | GSI `by-key-action` | `org_key_action`              | `id`     | both               |
//!
//! Ids are UUIDv7 in fixed-width base62, so sorting by `id` is sorting by
//! time and "after the cursor" is a key condition, never a skip. Every change
//! is one `TransactWriteItems`: its key writes, each conditional on the state
//! the change was decided on, and the `Put` of its event. Items hold the
//! SHA-256/HMAC of the secret, never the key or the secret.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex,
    KeySchemaElement, KeyType as KeyRole, Projection, ProjectionType, Put, ScalarAttributeType,
    Select, TimeToLiveSpecification, TransactWriteItem, Update,
};

use super::{Page, Store, StoreError};
use crate::audit::{Actor, AuditAction, AuditEvent, EventFilter, EventId};
use crate::change::{Change, KeyWrite};
use crate::key::{KeyId, SecretHash};
use crate::model::{
    Description, KeyName, KeyRecord, KeyStatus, KeyType, OrgId, Owner, RevokeReason, StatusFilter,
    Timestamp,
};
use crate::scope::Permissions;

pub const INDEX_BY_ORG: &str = "by-org";
pub const INDEX_BY_ORG_STATUS: &str = "by-org-status";
pub const INDEX_EVENTS_BY_KEY: &str = "by-key";
pub const INDEX_EVENTS_BY_ACTION: &str = "by-action";
pub const INDEX_EVENTS_BY_KEY_ACTION: &str = "by-key-action";
/// The audit table's TTL attribute (epoch seconds), set when a retention is.
pub const EVENT_TTL_ATTRIBUTE: &str = "purge_at";

/// How long a caller is told to wait after throttling or an outage.
const RETRY_AFTER: Duration = Duration::from_secs(1);

/// Connect and operation timeouts, so a hung store cannot hold a Lambda for
/// its whole timeout. The authorizer fails closed when they fire.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
    pub max_attempts: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(1000),
            attempt: Duration::from_millis(1000),
            operation: Duration::from_millis(2500),
            max_attempts: 3,
        }
    }
}

/// The two tables a deployment uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tables {
    pub keys: String,
    pub audit: String,
}

impl Tables {
    /// `keys` and its audit table, `<keys>-audit` (the CLI's default).
    pub fn named(keys: &str) -> Self {
        Self {
            keys: keys.to_owned(),
            audit: format!("{keys}-audit"),
        }
    }
}

#[derive(Clone)]
pub struct DynamoDbStore {
    client: Client,
    keys: Arc<str>,
    audit: Arc<str>,
    /// Events get a TTL this many seconds after their time; `None`: none.
    retention_secs: Option<i64>,
}

impl DynamoDbStore {
    pub fn new(client: Client, tables: &Tables) -> Self {
        Self {
            client,
            keys: Arc::from(tables.keys.as_str()),
            audit: Arc::from(tables.audit.as_str()),
            retention_secs: None,
        }
    }

    /// Give each event a TTL `days` after its time (DynamoDB removes it
    /// within a few days of then).
    pub fn with_audit_retention(mut self, days: Option<u32>) -> Self {
        self.retention_secs = days.map(|d| i64::from(d) * 86_400);
        self
    }

    /// A client from the standard AWS environment (region, credentials,
    /// `AWS_ENDPOINT_URL`), with keygate's timeouts; `endpoint` overrides the URL.
    pub async fn client(
        endpoint: Option<&str>,
        timeouts: Timeouts,
        interceptor: Option<OperationLog>,
    ) -> Client {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(timeouts.connect)
                    .operation_attempt_timeout(timeouts.attempt)
                    .operation_timeout(timeouts.operation)
                    .build(),
            )
            .retry_config(
                aws_config::retry::RetryConfig::standard().with_max_attempts(timeouts.max_attempts),
            );
        if let Some(url) = endpoint {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_dynamodb::config::Builder::from(&shared);
        if let Some(log) = interceptor {
            config = config.interceptor(log);
        }
        Client::from_conf(config.build())
    }

    /// The SDK client, for tooling that inspects raw items.
    pub fn raw_client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.keys
    }

    pub fn audit_table(&self) -> &str {
        &self.audit
    }

    /// Create both tables and their GSIs (for `keygate table create` and
    /// tests), turn on the audit table's TTL, and wait until both are active.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(failed)
        };
        let key = |name: &str, role: KeyRole| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(role)
                .build()
                .map_err(failed)
        };
        let index = |name: &str, pk: &str| -> Result<GlobalSecondaryIndex, StoreError> {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyRole::Hash)?)
                .key_schema(key("id", KeyRole::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(failed)
        };
        self.client
            .create_table()
            .table_name(self.keys.as_ref())
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("id")?)
            .attribute_definitions(attr("org_id")?)
            .attribute_definitions(attr("org_status")?)
            .key_schema(key("id", KeyRole::Hash)?)
            .global_secondary_indexes(index(INDEX_BY_ORG, "org_id")?)
            .global_secondary_indexes(index(INDEX_BY_ORG_STATUS, "org_status")?)
            .send()
            .await
            .map_err(classify)?;
        self.client
            .create_table()
            .table_name(self.audit.as_ref())
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("org_id")?)
            .attribute_definitions(attr("id")?)
            .attribute_definitions(attr("org_key")?)
            .attribute_definitions(attr("org_action")?)
            .attribute_definitions(attr("org_key_action")?)
            .key_schema(key("org_id", KeyRole::Hash)?)
            .key_schema(key("id", KeyRole::Range)?)
            .global_secondary_indexes(index(INDEX_EVENTS_BY_KEY, "org_key")?)
            .global_secondary_indexes(index(INDEX_EVENTS_BY_ACTION, "org_action")?)
            .global_secondary_indexes(index(INDEX_EVENTS_BY_KEY_ACTION, "org_key_action")?)
            .send()
            .await
            .map_err(classify)?;
        for table in [self.keys.as_ref(), self.audit.as_ref()] {
            self.wait_until_active(table).await?;
        }
        self.client
            .update_time_to_live()
            .table_name(self.audit.as_ref())
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(EVENT_TTL_ATTRIBUTE)
                    .enabled(true)
                    .build()
                    .map_err(failed)?,
            )
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    async fn wait_until_active(&self, table: &str) -> Result<(), StoreError> {
        for _ in 0..120 {
            let status = self
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(classify)?
                .table
                .and_then(|t| t.table_status);
            if status == Some(aws_sdk_dynamodb::types::TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Failed(format!(
            "table {table} did not become active in 60 s"
        )))
    }
}

fn failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(e.to_string())
}

/// Throttling, outages and timeouts are `Unavailable` (503 / deny); the rest `Failed`.
fn classify<E, R>(err: SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let unavailable = |reason: String| StoreError::Unavailable {
        reason,
        retry_after: RETRY_AFTER,
    };
    match &err {
        SdkError::TimeoutError(_) => unavailable("timed out".into()),
        SdkError::DispatchFailure(e) => unavailable(format!("cannot reach DynamoDB: {e:?}")),
        SdkError::ResponseError(_) => unavailable("unreadable response".into()),
        SdkError::ServiceError(e) => {
            let code = e.err().code().unwrap_or("unknown").to_owned();
            let message = e.err().message().unwrap_or("").to_owned();
            if is_retryable(&code) {
                unavailable(code)
            } else {
                StoreError::Failed(format!("{code}: {message}"))
            }
        }
        _ => StoreError::Failed(format!(
            "{}",
            aws_smithy_types::error::display::DisplayErrorContext(&err)
        )),
    }
}

/// Error codes (and transaction cancellation reasons) that mean "busy or
/// down, try later" rather than "wrong".
fn is_retryable(code: &str) -> bool {
    const RETRYABLE: [&str; 9] = [
        "ThrottlingException",
        "ThrottlingError",
        "ProvisionedThroughputExceededException",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
        "TransactionInProgressException",
    ];
    RETRYABLE.contains(&code)
}

fn is_conditional_failure<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    matches!(err, SdkError::ServiceError(e) if e.err().code() == Some("ConditionalCheckFailedException"))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(t: Timestamp) -> AttributeValue {
    AttributeValue::N(t.unix().to_string())
}

fn org_status(org: &OrgId, status: KeyStatus) -> String {
    format!("{}#{}", org.as_str(), status.as_str())
}

fn scopes_value(permissions: &Permissions) -> AttributeValue {
    AttributeValue::L(permissions.to_strings().into_iter().map(s).collect())
}

fn to_item(r: &KeyRecord) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("id".to_owned(), s(r.id.to_string())),
        ("org_id".to_owned(), s(r.org_id.as_str())),
        ("org_status".to_owned(), s(org_status(&r.org_id, r.status))),
        ("name".to_owned(), s(r.name.as_str())),
        ("key_type".to_owned(), s(r.key_type.as_str())),
        ("scopes".to_owned(), scopes_value(&r.permissions)),
        ("status".to_owned(), s(r.status.as_str())),
        ("hint".to_owned(), s(&r.hint)),
        (
            "secret_hash".to_owned(),
            AttributeValue::B(Blob::new(r.secret_hash.0.to_vec())),
        ),
        ("created_at".to_owned(), n(r.created_at)),
        ("updated_at".to_owned(), n(r.updated_at)),
        (
            "version".to_owned(),
            AttributeValue::N(r.version.to_string()),
        ),
    ]);
    let optional = [
        ("description", r.description.as_ref().map(|v| s(v.as_str()))),
        ("owner", r.owner.as_ref().map(|v| s(v.as_str()))),
        ("created_by", r.created_by.map(|v| s(v.to_string()))),
        ("last_used_at", r.last_used_at.map(n)),
        ("rotated_from", r.rotated_from.map(|v| s(v.to_string()))),
    ];
    item.extend(
        optional
            .into_iter()
            .chain(state_fields(r))
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))),
    );
    item
}

/// The optional fields a change may set or clear (besides `status`,
/// `org_status` and `updated_at`, which every change sets).
fn state_fields(r: &KeyRecord) -> [(&'static str, Option<AttributeValue>); 6] {
    [
        ("suspended_at", r.suspended_at.map(n)),
        ("revoked_at", r.revoked_at.map(n)),
        (
            "revoked_reason",
            r.revoked_reason.as_ref().map(|v| s(v.as_str())),
        ),
        ("revoked_by", r.revoked_by.map(|v| s(v.to_string()))),
        ("expires_at", r.expires_at.map(n)),
        ("rotated_to", r.rotated_to.map(|v| s(v.to_string()))),
    ]
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<KeyRecord, StoreError> {
    let corrupt = |field: &str, why: &str| StoreError::Corrupt(format!("{field}: {why}"));
    let text = |field: &str| -> Result<Option<&str>, StoreError> {
        match item.get(field) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.as_str())),
            Some(_) => Err(corrupt(field, "not a string")),
        }
    };
    let required = |field: &str| text(field)?.ok_or_else(|| corrupt(field, "missing"));
    let time = |field: &str| -> Result<Option<Timestamp>, StoreError> {
        match item.get(field) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(v)) => v
                .parse()
                .map(|secs| Some(Timestamp::from_unix(secs)))
                .map_err(|_| corrupt(field, "not a number")),
            Some(_) => Err(corrupt(field, "not a number")),
        }
    };
    let id = |field: &str| -> Result<Option<KeyId>, StoreError> {
        text(field)?
            .map(|v| KeyId::parse(v).map_err(|e| corrupt(field, &e.to_string())))
            .transpose()
    };
    let scopes: Vec<&str> = match item.get("scopes") {
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|v| v.as_s().map(String::as_str))
            .collect::<Result<_, _>>()
            .map_err(|_| corrupt("scopes", "not a list of strings"))?,
        _ => return Err(corrupt("scopes", "missing")),
    };
    let secret_hash = match item.get("secret_hash") {
        Some(AttributeValue::B(b)) => {
            <[u8; 32]>::try_from(b.as_ref()).map_err(|_| corrupt("secret_hash", "not 32 bytes"))?
        }
        _ => return Err(corrupt("secret_hash", "missing")),
    };
    Ok(KeyRecord {
        id: id("id")?.ok_or_else(|| corrupt("id", "missing"))?,
        org_id: OrgId::new(required("org_id")?).map_err(|e| corrupt("org_id", &e))?,
        name: KeyName::from_stored(required("name")?),
        description: text("description")?.map(Description::from_stored),
        key_type: KeyType::parse(required("key_type")?)
            .ok_or_else(|| corrupt("key_type", "unknown"))?,
        owner: text("owner")?.map(Owner::from_stored),
        permissions: Permissions::from_strings(&scopes)
            .map_err(|e| corrupt("scopes", &e.to_string()))?,
        status: KeyStatus::parse(required("status")?)
            .ok_or_else(|| corrupt("status", "unknown"))?,
        hint: required("hint")?.to_owned(),
        secret_hash: SecretHash(secret_hash),
        created_at: time("created_at")?.ok_or_else(|| corrupt("created_at", "missing"))?,
        created_by: id("created_by")?,
        updated_at: time("updated_at")?.ok_or_else(|| corrupt("updated_at", "missing"))?,
        suspended_at: time("suspended_at")?,
        revoked_at: time("revoked_at")?,
        revoked_reason: text("revoked_reason")?.map(RevokeReason::from_stored),
        revoked_by: id("revoked_by")?,
        expires_at: time("expires_at")?,
        last_used_at: time("last_used_at")?,
        rotated_from: id("rotated_from")?,
        rotated_to: id("rotated_to")?,
        // Items written before versions existed are version 0.
        version: match item.get("version") {
            None => 0,
            Some(AttributeValue::N(v)) => {
                v.parse().map_err(|_| corrupt("version", "not a number"))?
            }
            Some(_) => return Err(corrupt("version", "not a number")),
        },
    })
}

/// A condition, its update or item, and the placeholders they use.
#[derive(Default)]
struct Expression {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expression {
    fn value(&mut self, placeholder: &str, value: AttributeValue) -> String {
        self.values.insert(placeholder.to_owned(), value);
        placeholder.to_owned()
    }

    /// The condition that the stored key is still `before` as far as a
    /// change's checks went: the DynamoDB form of [`KeyRecord::unchanged_in`].
    fn unchanged(&mut self, before: &KeyRecord) -> String {
        self.names.insert("#status".into(), "status".into());
        let mut parts = vec![
            match before.version {
                0 => "attribute_not_exists(version)".to_owned(),
                v => format!(
                    "version = {}",
                    self.value(":c_version", AttributeValue::N(v.to_string()))
                ),
            },
            format!(
                "org_id = {}",
                self.value(":c_org", s(before.org_id.as_str()))
            ),
            format!(
                "#status = {}",
                self.value(":c_status", s(before.status.as_str()))
            ),
            format!(
                "scopes = {}",
                self.value(":c_scopes", scopes_value(&before.permissions))
            ),
        ];
        parts.push(match before.expires_at {
            Some(at) => format!("expires_at = {}", self.value(":c_expires", n(at))),
            None => "attribute_not_exists(expires_at)".into(),
        });
        parts.push(match before.rotated_to {
            Some(to) => format!(
                "rotated_to = {}",
                self.value(":c_rotated", s(to.to_string()))
            ),
            None => "attribute_not_exists(rotated_to)".into(),
        });
        parts.join(" AND ")
    }

    /// `SET`/`REMOVE` of a key's state as in `after`; `last_used_at` and
    /// everything fixed at creation are left alone.
    fn set_state(&mut self, after: &KeyRecord) -> String {
        self.names.insert("#status".into(), "status".into());
        let mut set = vec![
            format!(
                "#status = {}",
                self.value(":u_status", s(after.status.as_str()))
            ),
            format!(
                "org_status = {}",
                self.value(":u_org_status", s(org_status(&after.org_id, after.status)))
            ),
            format!(
                "updated_at = {}",
                self.value(":u_updated", n(after.updated_at))
            ),
            format!(
                "version = {}",
                self.value(":u_version", AttributeValue::N(after.version.to_string()))
            ),
        ];
        let mut remove = vec![];
        for (field, value) in state_fields(after) {
            match value {
                Some(v) => set.push(format!(
                    "{field} = {}",
                    self.value(&format!(":u_{field}"), v)
                )),
                None => remove.push(field),
            }
        }
        let mut expression = format!("SET {}", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        expression
    }
}

fn to_event_item(e: &AuditEvent, retention_secs: Option<i64>) -> HashMap<String, AttributeValue> {
    let org = e.org_id.as_str();
    let key = e.key_id.to_string();
    let action = e.action.as_str();
    let mut item = HashMap::from([
        ("org_id".to_owned(), s(org)),
        ("id".to_owned(), s(e.id.to_string())),
        ("org_key".to_owned(), s(format!("{org}#{key}"))),
        ("org_action".to_owned(), s(format!("{org}#{action}"))),
        (
            "org_key_action".to_owned(),
            s(format!("{org}#{key}#{action}")),
        ),
        ("at".to_owned(), n(e.at)),
        ("action".to_owned(), s(action)),
        ("key_id".to_owned(), s(key)),
        ("key_name".to_owned(), s(e.key_name.as_str())),
        ("actor_type".to_owned(), s(e.actor.kind())),
        ("request_id".to_owned(), s(&e.request_id)),
    ]);
    let actor_hint = match &e.actor {
        Actor::Key { hint, .. } => Some(s(hint)),
        Actor::Bootstrap => None,
    };
    let optional = [
        ("actor_key_id", e.actor.key_id().map(|id| s(id.to_string()))),
        ("actor_hint", actor_hint),
        ("reason", e.reason.as_ref().map(|r| s(r.as_str()))),
        ("status_before", e.status_before.map(|st| s(st.as_str()))),
        ("status_after", e.status_after.map(|st| s(st.as_str()))),
        ("rotated_to", e.rotated_to.map(|id| s(id.to_string()))),
        ("rotated_from", e.rotated_from.map(|id| s(id.to_string()))),
        ("source_ip", e.source_ip.as_deref().map(s)),
        ("user_agent", e.user_agent.as_deref().map(s)),
        (
            EVENT_TTL_ATTRIBUTE,
            retention_secs.map(|secs| n(e.at.plus_seconds(secs))),
        ),
    ];
    item.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))),
    );
    item
}

fn from_event_item(item: &HashMap<String, AttributeValue>) -> Result<AuditEvent, StoreError> {
    let corrupt = |field: &str, why: &str| StoreError::Corrupt(format!("event {field}: {why}"));
    let text = |field: &str| -> Result<Option<&str>, StoreError> {
        match item.get(field) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.as_str())),
            Some(_) => Err(corrupt(field, "not a string")),
        }
    };
    let required = |field: &str| text(field)?.ok_or_else(|| corrupt(field, "missing"));
    let key_id = |field: &str| -> Result<Option<KeyId>, StoreError> {
        text(field)?
            .map(|v| KeyId::parse(v).map_err(|e| corrupt(field, &e.to_string())))
            .transpose()
    };
    let status = |field: &str| -> Result<Option<KeyStatus>, StoreError> {
        text(field)?
            .map(|v| KeyStatus::parse(v).ok_or_else(|| corrupt(field, "unknown")))
            .transpose()
    };
    let at = match item.get("at") {
        Some(AttributeValue::N(v)) => v
            .parse()
            .map(Timestamp::from_unix)
            .map_err(|_| corrupt("at", "not a number"))?,
        _ => return Err(corrupt("at", "missing")),
    };
    let actor = match (
        required("actor_type")?,
        key_id("actor_key_id")?,
        text("actor_hint")?,
    ) {
        ("key", Some(id), Some(hint)) => Actor::Key {
            id,
            hint: hint.to_owned(),
        },
        ("bootstrap", None, None) => Actor::Bootstrap,
        _ => return Err(corrupt("actor", "type, id and hint disagree")),
    };
    Ok(AuditEvent {
        id: EventId::parse(required("id")?).map_err(|e| corrupt("id", &e.to_string()))?,
        org_id: OrgId::new(required("org_id")?).map_err(|e| corrupt("org_id", &e))?,
        at,
        action: AuditAction::parse(required("action")?)
            .ok_or_else(|| corrupt("action", "unknown"))?,
        key_id: key_id("key_id")?.ok_or_else(|| corrupt("key_id", "missing"))?,
        key_name: KeyName::from_stored(required("key_name")?),
        actor,
        reason: text("reason")?.map(RevokeReason::from_stored),
        status_before: status("status_before")?,
        status_after: status("status_after")?,
        rotated_to: key_id("rotated_to")?,
        rotated_from: key_id("rotated_from")?,
        request_id: required("request_id")?.to_owned(),
        source_ip: text("source_ip")?.map(str::to_owned),
        user_agent: text("user_agent")?.map(str::to_owned),
    })
}

impl DynamoDbStore {
    /// One `TransactWriteItems` entry per key write.
    fn transact_item(&self, write: &KeyWrite) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expression::default();
        let item = match write {
            KeyWrite::Insert(record) => TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(self.keys.as_ref())
                        .set_item(Some(to_item(record)))
                        .condition_expression("attribute_not_exists(id)")
                        .build()
                        .map_err(failed)?,
                )
                .build(),
            KeyWrite::Update { before, after } => {
                let condition = expr.unchanged(before);
                let update = expr.set_state(after);
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(self.keys.as_ref())
                            .key("id", s(after.id.to_string()))
                            .update_expression(update)
                            .condition_expression(condition)
                            .set_expression_attribute_names(Some(expr.names))
                            .set_expression_attribute_values(Some(expr.values))
                            .build()
                            .map_err(failed)?,
                    )
                    .build()
            }
            KeyWrite::Delete(before) => {
                let condition = expr.unchanged(before);
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(self.keys.as_ref())
                            .key("id", s(before.id.to_string()))
                            .condition_expression(condition)
                            .set_expression_attribute_names(Some(expr.names))
                            .set_expression_attribute_values(Some(expr.values))
                            .build()
                            .map_err(failed)?,
                    )
                    .build()
            }
        };
        Ok(item)
    }

    /// A `ConditionCheck` that the calling key is still active with the
    /// expiry its request saw ([`crate::change::ActorGuard`]).
    fn guard_item(
        &self,
        guard: &crate::change::ActorGuard,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expr = Expression::default();
        expr.names.insert("#status".into(), "status".into());
        let active = expr.value(":g_status", s(KeyStatus::Active.as_str()));
        let expiry = match guard.expires_at {
            Some(at) => format!("expires_at = {}", expr.value(":g_expires", n(at))),
            None => "attribute_not_exists(expires_at)".into(),
        };
        Ok(TransactWriteItem::builder()
            .condition_check(
                ConditionCheck::builder()
                    .table_name(self.keys.as_ref())
                    .key("id", s(guard.key_id.to_string()))
                    .condition_expression(format!("#status = {active} AND {expiry}"))
                    .set_expression_attribute_names(Some(expr.names))
                    .set_expression_attribute_values(Some(expr.values))
                    .build()
                    .map_err(failed)?,
            )
            .build())
    }

    fn event_item(&self, event: &AuditEvent) -> Result<TransactWriteItem, StoreError> {
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(self.audit.as_ref())
                    .set_item(Some(to_event_item(event, self.retention_secs)))
                    .condition_expression("attribute_not_exists(id)")
                    .build()
                    .map_err(failed)?,
            )
            .build())
    }
}

/// What a cancelled transaction means: the first reason that is not `None`,
/// for the item it belongs to (the key writes, then the calling key's check
/// when there is one, then the events).
fn cancelled(
    change: &Change,
    reasons: &[aws_sdk_dynamodb::types::CancellationReason],
) -> StoreError {
    let writes = change.writes().len();
    let guard = usize::from(change.guard().is_some());
    let retry_later = |why: String| StoreError::Unavailable {
        reason: why,
        retry_after: RETRY_AFTER,
    };
    for (i, reason) in reasons.iter().enumerate() {
        let code = reason.code().unwrap_or("None");
        if code == "None" {
            continue;
        }
        return match change.writes().get(i) {
            Some(KeyWrite::Insert(_)) if code == "ConditionalCheckFailed" => {
                StoreError::AlreadyExists
            }
            Some(_) if code == "ConditionalCheckFailed" || code == "TransactionConflict" => {
                StoreError::Changed
            }
            Some(_) if is_retryable(code) => retry_later(format!("transaction cancelled: {code}")),
            Some(_) => StoreError::Failed(format!("transaction cancelled: {code}")),
            None if i < writes + guard => match code {
                "ConditionalCheckFailed" => StoreError::ActorChanged,
                // Another write to the calling key at the same moment (its
                // `last_used_at`, say): decide again, or retry later.
                "TransactionConflict" => StoreError::Changed,
                _ => retry_later(format!("the calling key's check was cancelled ({code})")),
            },
            // The events: whatever kept one from being written (throttling,
            // a conflict, even a clashing id), the change was not made and
            // may be tried again.
            None => retry_later(format!(
                "the audit event was not written ({code}), so neither was the change"
            )),
        };
    }
    StoreError::Failed("transaction cancelled without a reason".into())
}

impl Store for DynamoDbStore {
    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.keys.as_ref())
            .key("id", s(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item.as_ref().map(from_item).transpose()
    }

    async fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        let (index, partition_attr, partition) = match filter {
            StatusFilter::All => (INDEX_BY_ORG, "org_id", org.as_str().to_owned()),
            StatusFilter::Only(status) => {
                (INDEX_BY_ORG_STATUS, "org_status", org_status(org, status))
            }
        };
        let items = self
            .newest_first(
                &self.keys,
                Some(index),
                partition_attr,
                partition,
                limit,
                after.map(|a| a.to_string()),
            )
            .await?;
        let records = items.iter().map(from_item).collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(records, limit))
    }

    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        change.validate()?;
        let mut items = change
            .writes()
            .iter()
            .map(|w| self.transact_item(w))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(guard) = change.guard() {
            items.push(self.guard_item(&guard)?);
        }
        for event in change.events() {
            items.push(self.event_item(event)?);
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(e)) => match e.err() {
                TransactWriteItemsError::TransactionCanceledException(t) => {
                    Err(cancelled(change, t.cancellation_reasons()))
                }
                _ => Err(classify(SdkError::ServiceError(e))),
            },
            Err(e) => Err(classify(e)),
        }
    }

    async fn list_events(
        &self,
        org: &OrgId,
        filter: EventFilter,
        limit: usize,
        after: Option<EventId>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let org_text = org.as_str();
        let (index, partition_attr, partition) = match (filter.key_id, filter.action) {
            (None, None) => (None, "org_id", org_text.to_owned()),
            (Some(key), None) => (
                Some(INDEX_EVENTS_BY_KEY),
                "org_key",
                format!("{org_text}#{key}"),
            ),
            (None, Some(action)) => (
                Some(INDEX_EVENTS_BY_ACTION),
                "org_action",
                format!("{org_text}#{action}"),
            ),
            (Some(key), Some(action)) => (
                Some(INDEX_EVENTS_BY_KEY_ACTION),
                "org_key_action",
                format!("{org_text}#{key}#{action}"),
            ),
        };
        let items = self
            .newest_first(
                &self.audit,
                index,
                partition_attr,
                partition,
                limit,
                after.map(|a| a.to_string()),
            )
            .await?;
        let events = items
            .iter()
            .map(from_event_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(events, limit))
    }

    async fn record_use(
        &self,
        id: KeyId,
        at: Timestamp,
        unless_after: Timestamp,
    ) -> Result<bool, StoreError> {
        let result = self
            .client
            .update_item()
            .table_name(self.keys.as_ref())
            .key("id", s(id.to_string()))
            .update_expression("SET last_used_at = :at")
            .condition_expression(
                "attribute_exists(id) AND (attribute_not_exists(last_used_at) OR last_used_at <= :since)",
            )
            .expression_attribute_values(":at", n(at))
            .expression_attribute_values(":since", n(unless_after))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }

    async fn is_empty(&self) -> Result<bool, StoreError> {
        // Only `keygate serve` asks, once at start-up.
        let out = self
            .client
            .scan()
            .table_name(self.keys.as_ref())
            .limit(1)
            .select(Select::Count)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.count == 0)
    }
}

impl DynamoDbStore {
    /// One `Query`, newest first: up to `limit + 1` items of one partition,
    /// after `after` (an id) when given.
    async fn newest_first(
        &self,
        table: &str,
        index: Option<&str>,
        partition_attr: &str,
        partition: String,
        limit: usize,
        after: Option<String>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, StoreError> {
        let mut condition = format!("{partition_attr} = :p");
        let mut query = self
            .client
            .query()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .scan_index_forward(false)
            // One extra item tells whether another page follows.
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .expression_attribute_values(":p", s(partition));
        if let Some(after) = after {
            condition.push_str(" AND id < :after");
            query = query.expression_attribute_values(":after", s(after));
        }
        let out = query
            .key_condition_expression(condition)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.items.unwrap_or_default())
    }
}

/// An SDK interceptor that records every DynamoDB request sent on the wire
/// (operation and index), for operation accounting in tests and diagnostics.
#[derive(Debug, Clone, Default)]
pub struct OperationLog {
    calls: Arc<Mutex<Vec<Call>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// e.g. `GetItem`, `Query`, `TransactWriteItems`.
    pub operation: String,
    pub table: Option<String>,
    pub index: Option<String>,
    pub consistent_read: bool,
    /// For `TransactWriteItems`: how many writes, and which carry a condition.
    pub transact_items: usize,
    pub conditional_items: usize,
}

impl OperationLog {
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub fn count(&self, operation: &str) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.operation == operation)
            .count()
    }

    pub fn clear(&self) {
        if let Ok(mut c) = self.calls.lock() {
            c.clear();
        }
    }
}

impl Intercept for OperationLog {
    fn name(&self) -> &'static str {
        "keygate-operation-log"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.rsplit_once('.'))
            .map(|(_, op)| op.to_owned())
            .unwrap_or_default();
        let body: serde_json::Value = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default();
        let transact = body["TransactItems"].as_array();
        let call = Call {
            operation,
            table: body["TableName"].as_str().map(str::to_owned),
            index: body["IndexName"].as_str().map(str::to_owned),
            consistent_read: body["ConsistentRead"].as_bool().unwrap_or(false),
            transact_items: transact.map_or(0, Vec::len),
            conditional_items: transact.map_or(0, |items| {
                items
                    .iter()
                    .filter_map(|item| item.as_object()?.values().next())
                    .filter(|write| write["ConditionExpression"].is_string())
                    .count()
            }),
        };
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Actor;
    use crate::change::{ActorGuard, Origin};
    use crate::key::KeyFormat;
    use crate::model::KeyType;

    /// A create by key 9 (guarded) and a delete of that new key by key 9:
    /// items are [write, guard, event].
    fn changes() -> (Change, Change) {
        let record = KeyRecord::new_active(
            &KeyFormat::default().generate(),
            OrgId::new("acme").unwrap(),
            KeyName::new("k").unwrap(),
            KeyType::Service,
            Permissions::Full,
            Timestamp::from_unix(1_000),
        );
        let origin = Origin::new(
            Actor::Key {
                id: KeyId::from_u128(9),
                hint: "kg_...abcd".into(),
            },
            Timestamp::from_unix(2_000),
            "req",
            None,
            None,
        )
        .guarded(ActorGuard {
            key_id: KeyId::from_u128(9),
            expires_at: None,
        });
        (
            Change::create(record.clone(), &origin),
            Change::delete(record, &origin),
        )
    }

    fn reasons(codes: &[&str]) -> Vec<aws_sdk_dynamodb::types::CancellationReason> {
        codes
            .iter()
            .map(|c| {
                aws_sdk_dynamodb::types::CancellationReason::builder()
                    .code(*c)
                    .build()
            })
            .collect()
    }

    #[test]
    fn each_cancellation_reason_means_what_failed_where() {
        let (create, delete) = changes();
        let ccf = "ConditionalCheckFailed";
        let conflict = "TransactionConflict";
        let outcome = |change: &Change, codes: &[&str]| cancelled(change, &reasons(codes));
        assert!(matches!(
            outcome(&create, &[ccf, "None", "None"]),
            StoreError::AlreadyExists
        ));
        assert!(matches!(
            outcome(&delete, &[ccf, "None", "None"]),
            StoreError::Changed
        ));
        assert!(matches!(
            outcome(&delete, &[conflict, "None", "None"]),
            StoreError::Changed
        ));
        assert!(matches!(
            outcome(&create, &["None", ccf, "None"]),
            StoreError::ActorChanged
        ));
        assert!(matches!(
            outcome(&create, &["None", conflict, "None"]),
            StoreError::Changed
        ));
        assert!(matches!(
            outcome(&create, &["None", "None", "ThrottlingError"]),
            StoreError::Unavailable { .. }
        ));
        assert!(matches!(
            outcome(&create, &["ValidationError", "None", "None"]),
            StoreError::Failed(_)
        ));
    }
}
