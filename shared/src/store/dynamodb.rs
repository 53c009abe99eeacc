//! The DynamoDB store: what every Lambda function uses when deployed.
//!
//! Table design (one table, `PAY_PER_REQUEST`):
//!
//! | what             | partition key | sort key | serves                                |
//! |------------------|---------------|----------|---------------------------------------|
//! | table            | `id`          | —        | the authorizer's `GetItem`, writes    |
//! | GSI `by-org`     | `org_id`      | `id`     | `status=all`, newest first            |
//! | GSI `by-org-status` | `org_status` (`<org>#<status>`) | `id` | each status, newest first |
//!
//! Ids are UUIDv7 in fixed-width base62, so sorting by `id` is sorting by
//! creation time and "after the cursor" is a key condition, never a skip.
//! Items hold the SHA-256/HMAC of the secret, never the key or the secret.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement,
    KeyType as KeyRole, Projection, ProjectionType, ReturnValue,
    ReturnValuesOnConditionCheckFailure, ScalarAttributeType, Select,
};

use super::{Page, Store, StoreError};
use crate::key::{KeyId, SecretHash};
use crate::lifecycle::{Check, StatusChange, Transition, check};
use crate::model::{
    Description, KeyName, KeyRecord, KeyStatus, KeyType, OrgId, Owner, RevokeReason, StatusFilter,
    Timestamp,
};
use crate::scope::Permissions;

pub const INDEX_BY_ORG: &str = "by-org";
pub const INDEX_BY_ORG_STATUS: &str = "by-org-status";

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

#[derive(Clone)]
pub struct DynamoDbStore {
    client: Client,
    table: Arc<str>,
}

impl DynamoDbStore {
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: Arc::from(table),
        }
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
        &self.table
    }

    /// Create the table and its GSIs (for `keygate table create` and tests);
    /// waits until it is active.
    pub async fn create_table(&self) -> Result<(), StoreError> {
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
            .table_name(self.table.as_ref())
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
        for _ in 0..120 {
            let status = self
                .client
                .describe_table()
                .table_name(self.table.as_ref())
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
        Err(StoreError::Failed(
            "table did not become active in 60 s".into(),
        ))
    }

    async fn consistent_get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.table.as_ref())
            .key("id", s(id.to_string()))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item.as_ref().map(from_item).transpose()
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
    const RETRYABLE: [&str; 6] = [
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "LimitExceededException",
    ];
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
            if RETRYABLE.contains(&code.as_str()) {
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

fn to_item(r: &KeyRecord) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("id".to_owned(), s(r.id.to_string())),
        ("org_id".to_owned(), s(r.org_id.as_str())),
        ("org_status".to_owned(), s(org_status(&r.org_id, r.status))),
        ("name".to_owned(), s(r.name.as_str())),
        ("key_type".to_owned(), s(r.key_type.as_str())),
        (
            "scopes".to_owned(),
            AttributeValue::L(r.permissions.to_strings().into_iter().map(s).collect()),
        ),
        ("status".to_owned(), s(r.status.as_str())),
        ("hint".to_owned(), s(&r.hint)),
        (
            "secret_hash".to_owned(),
            AttributeValue::B(Blob::new(r.secret_hash.0.to_vec())),
        ),
        ("created_at".to_owned(), n(r.created_at)),
        ("updated_at".to_owned(), n(r.updated_at)),
    ]);
    let optional = [
        ("description", r.description.as_ref().map(|v| s(v.as_str()))),
        ("owner", r.owner.as_ref().map(|v| s(v.as_str()))),
        ("created_by", r.created_by.map(|v| s(v.to_string()))),
        ("suspended_at", r.suspended_at.map(n)),
        ("revoked_at", r.revoked_at.map(n)),
        (
            "revoked_reason",
            r.revoked_reason.as_ref().map(|v| s(v.as_str())),
        ),
        ("revoked_by", r.revoked_by.map(|v| s(v.to_string()))),
        ("expires_at", r.expires_at.map(n)),
        ("last_used_at", r.last_used_at.map(n)),
    ];
    item.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v))),
    );
    item
}

fn checked<T>(field: &str, r: Result<T, String>) -> Result<T, StoreError> {
    r.map_err(|e| StoreError::Corrupt(format!("{field}: {e}")))
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
        org_id: checked("org_id", OrgId::new(required("org_id")?))?,
        name: checked("name", KeyName::new(required("name")?))?,
        description: text("description")?
            .map(|v| checked("description", Description::new(v)))
            .transpose()?,
        key_type: KeyType::parse(required("key_type")?)
            .ok_or_else(|| corrupt("key_type", "unknown"))?,
        owner: text("owner")?
            .map(|v| checked("owner", Owner::new(v)))
            .transpose()?,
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
        revoked_reason: text("revoked_reason")?
            .map(|v| checked("revoked_reason", RevokeReason::new(v)))
            .transpose()?,
        revoked_by: id("revoked_by")?,
        expires_at: time("expires_at")?,
        last_used_at: time("last_used_at")?,
    })
}

/// The update expression of one transition: the DynamoDB form of
/// [`StatusChange::apply_to`], which the contract suite holds them to.
fn update_expression(
    org: &OrgId,
    change: &StatusChange,
) -> (String, HashMap<String, AttributeValue>) {
    let to = change.transition.target();
    let mut values = HashMap::from([
        (":org".to_owned(), s(org.as_str())),
        (":to".to_owned(), s(to.as_str())),
        (":org_status".to_owned(), s(org_status(org, to))),
        (":at".to_owned(), n(change.at)),
    ]);
    let mut set = vec![
        "#status = :to",
        "org_status = :org_status",
        "updated_at = :at",
    ];
    let mut remove = vec![];
    match change.transition {
        Transition::Suspend => set.push("suspended_at = :at"),
        Transition::Reactivate => remove.push("suspended_at"),
        Transition::Revoke => {
            set.push("revoked_at = :at");
            match &change.reason {
                Some(reason) => {
                    set.push("revoked_reason = :reason");
                    values.insert(":reason".to_owned(), s(reason.as_str()));
                }
                None => remove.push("revoked_reason"),
            }
            match change.by {
                Some(by) => {
                    set.push("revoked_by = :by");
                    values.insert(":by".to_owned(), s(by.to_string()));
                }
                None => remove.push("revoked_by"),
            }
        }
    }
    let mut expr = format!("SET {}", set.join(", "));
    if !remove.is_empty() {
        expr.push_str(&format!(" REMOVE {}", remove.join(", ")));
    }
    (expr, values)
}

impl Store for DynamoDbStore {
    async fn insert(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(self.table.as_ref())
            .set_item(Some(to_item(record)))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::AlreadyExists),
            Err(e) => Err(classify(e)),
        }
    }

    async fn get(&self, id: KeyId) -> Result<Option<KeyRecord>, StoreError> {
        self.consistent_get(id).await
    }

    async fn list(
        &self,
        org: &OrgId,
        filter: StatusFilter,
        limit: usize,
        after: Option<KeyId>,
    ) -> Result<Page, StoreError> {
        let (index, partition_attr, partition) = match filter {
            StatusFilter::All => (INDEX_BY_ORG, "org_id", org.as_str().to_owned()),
            StatusFilter::Only(status) => {
                (INDEX_BY_ORG_STATUS, "org_status", org_status(org, status))
            }
        };
        let mut condition = format!("{partition_attr} = :p");
        let mut query = self
            .client
            .query()
            .table_name(self.table.as_ref())
            .index_name(index)
            .scan_index_forward(false)
            // One extra item tells whether another page follows.
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .expression_attribute_values(":p", s(partition));
        if let Some(after) = after {
            condition.push_str(" AND id < :after");
            query = query.expression_attribute_values(":after", s(after.to_string()));
        }
        let out = query
            .key_condition_expression(condition)
            .send()
            .await
            .map_err(classify)?;
        let records = out
            .items()
            .iter()
            .map(from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(records, limit))
    }

    async fn transition(
        &self,
        org: &OrgId,
        id: KeyId,
        change: &StatusChange,
    ) -> Result<KeyRecord, StoreError> {
        let (expression, mut values) = update_expression(org, change);
        let from = change.transition.allowed_from();
        let placeholders: Vec<String> = (0..from.len()).map(|i| format!(":from{i}")).collect();
        for (p, status) in placeholders.iter().zip(from) {
            values.insert(p.clone(), s(status.as_str()));
        }
        let condition = format!("org_id = :org AND #status IN ({})", placeholders.join(", "));
        // A condition failure is classified against the item as it was; if it
        // changed in between so that the transition now applies, try again.
        for _ in 0..3 {
            let result = self
                .client
                .update_item()
                .table_name(self.table.as_ref())
                .key("id", s(id.to_string()))
                .update_expression(&expression)
                .condition_expression(&condition)
                .expression_attribute_names("#status", "status")
                .set_expression_attribute_values(Some(values.clone()))
                .return_values(ReturnValue::AllNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            let err = match result {
                Ok(out) => {
                    return out.attributes.as_ref().map(from_item).unwrap_or_else(|| {
                        Err(StoreError::Corrupt("update returned no item".into()))
                    });
                }
                Err(e) if is_conditional_failure(&e) => e,
                Err(e) => return Err(classify(e)),
            };
            let returned = err.as_service_error().and_then(|e| match e {
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(c) => c.item().map(from_item),
                _ => None,
            });
            let current = match returned {
                Some(record) => Some(record?),
                None => self.consistent_get(id).await?,
            };
            let Some(current) = current.filter(|r| &r.org_id == org) else {
                return Err(StoreError::NotFound);
            };
            match check(current.status, change.transition) {
                Check::NoOp => return Ok(current),
                Check::Conflict => {
                    return Err(StoreError::Conflict {
                        current: current.status,
                    });
                }
                Check::Apply => continue,
            }
        }
        Err(StoreError::Unavailable {
            reason: "the key kept changing during the transition".into(),
            retry_after: RETRY_AFTER,
        })
    }

    async fn delete(&self, org: &OrgId, id: KeyId) -> Result<(), StoreError> {
        let result = self
            .client
            .delete_item()
            .table_name(self.table.as_ref())
            .key("id", s(id.to_string()))
            .condition_expression("org_id = :org")
            .expression_attribute_values(":org", s(org.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(StoreError::NotFound),
            Err(e) => Err(classify(e)),
        }
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
            .table_name(self.table.as_ref())
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
            .table_name(self.table.as_ref())
            .limit(1)
            .select(Select::Count)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.count == 0)
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
    /// e.g. `GetItem`, `Query`.
    pub operation: String,
    pub index: Option<String>,
    pub consistent_read: bool,
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
        let call = Call {
            operation,
            index: body["IndexName"].as_str().map(str::to_owned),
            consistent_read: body["ConsistentRead"].as_bool().unwrap_or(false),
        };
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
        Ok(())
    }
}
