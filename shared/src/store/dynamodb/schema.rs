//! The two tables' schema: keys (and usage counters) with their org and
//! org-status GSIs and the keys-only search GSIs, audit events with their
//! key, action, key-action, actor and actor-action GSIs and a TTL. What
//! `keygate table create` and the tests create, and what `template.yaml`
//! declares (a test compares them).

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType as KeyRole,
    Projection, ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::DynamoDbStore;
use super::error::classify;
use crate::store::StoreError;

pub const INDEX_BY_ORG: &str = "by-org";
pub const INDEX_BY_ORG_STATUS: &str = "by-org-status";
pub const INDEX_BY_ORG_NAME: &str = "by-org-name";
pub const INDEX_BY_ORG_STATUS_NAME: &str = "by-org-status-name";
pub const INDEX_BY_ORG_TYPE: &str = "by-org-type";
pub const INDEX_BY_ORG_STATUS_TYPE: &str = "by-org-status-type";
pub const INDEX_EVENTS_BY_KEY: &str = "by-key";
pub const INDEX_EVENTS_BY_ACTION: &str = "by-action";
pub const INDEX_EVENTS_BY_KEY_ACTION: &str = "by-key-action";
pub const INDEX_EVENTS_BY_ACTOR: &str = "by-actor";
pub const INDEX_EVENTS_BY_ACTOR_ACTION: &str = "by-actor-action";
/// The audit table's TTL attribute (epoch seconds), set when a retention is.
pub const EVENT_TTL_ATTRIBUTE: &str = "purge_at";

/// The SDK's builders report a missing required field as a `BuildError`.
impl From<aws_sdk_dynamodb::error::BuildError> for StoreError {
    fn from(e: aws_sdk_dynamodb::error::BuildError) -> Self {
        StoreError::Failed(Box::new(e))
    }
}

impl DynamoDbStore {
    /// Create both tables and their GSIs (for `keygate table create` and
    /// tests), turn on the audit table's TTL, and wait until both are active.
    pub async fn create_tables(&self) -> Result<(), StoreError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(StoreError::from)
        };
        let key = |name: &str, role: KeyRole| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(role)
                .build()
                .map_err(StoreError::from)
        };
        let gsi = |name: &str,
                   pk: &str,
                   sk: &str,
                   projection: ProjectionType|
         -> Result<GlobalSecondaryIndex, StoreError> {
            GlobalSecondaryIndex::builder()
                .index_name(name)
                .key_schema(key(pk, KeyRole::Hash)?)
                .key_schema(key(sk, KeyRole::Range)?)
                .projection(Projection::builder().projection_type(projection).build())
                .build()
                .map_err(StoreError::from)
        };
        let index = |name: &str, pk: &str| gsi(name, pk, "id", ProjectionType::All);
        // The search indexes hold keys only: see the module's documentation.
        let search = |name: &str, pk: &str, sk: &str| gsi(name, pk, sk, ProjectionType::KeysOnly);
        self.client
            .create_table()
            .table_name(self.keys.as_ref())
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attr("id")?)
            .attribute_definitions(attr("org_id")?)
            .attribute_definitions(attr("org_status")?)
            .attribute_definitions(attr("name_key")?)
            .attribute_definitions(attr("type_key")?)
            .key_schema(key("id", KeyRole::Hash)?)
            .global_secondary_indexes(index(INDEX_BY_ORG, "org_id")?)
            .global_secondary_indexes(index(INDEX_BY_ORG_STATUS, "org_status")?)
            .global_secondary_indexes(search(INDEX_BY_ORG_NAME, "org_id", "name_key")?)
            .global_secondary_indexes(search(INDEX_BY_ORG_STATUS_NAME, "org_status", "name_key")?)
            .global_secondary_indexes(search(INDEX_BY_ORG_TYPE, "org_id", "type_key")?)
            .global_secondary_indexes(search(INDEX_BY_ORG_STATUS_TYPE, "org_status", "type_key")?)
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
            .attribute_definitions(attr("org_actor")?)
            .attribute_definitions(attr("org_actor_action")?)
            .key_schema(key("org_id", KeyRole::Hash)?)
            .key_schema(key("id", KeyRole::Range)?)
            .global_secondary_indexes(index(INDEX_EVENTS_BY_KEY, "org_key")?)
            .global_secondary_indexes(index(INDEX_EVENTS_BY_ACTION, "org_action")?)
            .global_secondary_indexes(index(INDEX_EVENTS_BY_KEY_ACTION, "org_key_action")?)
            .global_secondary_indexes(index(INDEX_EVENTS_BY_ACTOR, "org_actor")?)
            .global_secondary_indexes(index(INDEX_EVENTS_BY_ACTOR_ACTION, "org_actor_action")?)
            .send()
            .await
            .map_err(classify)?;
        for table in [self.keys.as_ref(), self.audit.as_ref()] {
            self.wait_until_active(table).await?;
        }
        {
            let table = self.audit.as_ref();
            self.client
                .update_time_to_live()
                .table_name(table)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(EVENT_TTL_ATTRIBUTE)
                        .enabled(true)
                        .build()
                        .map_err(StoreError::from)?,
                )
                .send()
                .await
                .map_err(classify)?;
        }
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
        Err(StoreError::failed(format!(
            "table {table} did not become active in 60 s"
        )))
    }
}
