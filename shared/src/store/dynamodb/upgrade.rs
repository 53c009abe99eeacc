//! `keygate table upgrade`: tables written by an earlier keygate brought up
//! to date, by an operator, once. Key items get the search GSIs' sort keys
//! (`name_key`, `type_key`), and each organization is counted.
//!
//! Reads the whole keys table (a consistent `Scan`): an operator's command,
//! never a request's. Safe while the API serves: a key's sort keys are set
//! only while it still has the version that was read (a key that changed
//! since has them already: every change sets them), and an organization's
//! counts are written only while its audit chain's head is still the one
//! read before the keys were counted (every change that moves a count moves
//! the head too, in the same transaction). An organization whose head kept
//! moving is left for another run, and said so.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};

use super::DynamoDbStore;
use super::error::{classify, is_conditional_failure};
use super::item::{Item, counts_id, head_key, key_from_item, s};
use crate::domain::audit::chain::ChainHead;
use crate::domain::org::OrgId;
use crate::domain::record::KeyRecord;
use crate::domain::search::{KeyCounts, name_sort_key, type_sort_key};
use crate::store::{Store, StoreError};

/// How often an organization is counted again when changes keep moving its
/// audit chain's head while it is being counted.
const COUNT_ATTEMPTS: usize = 3;

/// What an upgrade did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Upgraded {
    /// Keys given their search sort keys.
    pub indexed: usize,
    /// Keys that already had them, or changed (and so got them) meanwhile.
    pub already: usize,
    /// Organizations counted, and those left uncounted (changes kept coming).
    pub counted: Vec<OrgId>,
    pub uncounted: Vec<OrgId>,
}

impl DynamoDbStore {
    /// Bring the tables up to date: see the module's documentation.
    pub async fn upgrade(&self) -> Result<Upgraded, StoreError> {
        let mut report = Upgraded::default();
        let mut orgs: Vec<OrgId> = vec![];
        for (item, record) in self.every_key().await? {
            if !orgs.contains(&record.org_id) {
                orgs.push(record.org_id.clone());
            }
            let current = |attr: &str, want: &str| matches!(item.get(attr), Some(AttributeValue::S(v)) if v == want);
            let (name_key, type_key) = (name_sort_key(&record), type_sort_key(&record));
            if current("name_key", &name_key) && current("type_key", &type_key) {
                report.already += 1;
                continue;
            }
            if self.set_sort_keys(&record, name_key, type_key).await? {
                report.indexed += 1;
            } else {
                report.already += 1;
            }
        }
        // The heads first, then one count of every key: an organization whose
        // head did not move in between is counted exactly.
        let mut heads = vec![];
        for org in &orgs {
            heads.push(self.chain_head(org).await?);
        }
        let keys = self.every_key().await?;
        for (org, head) in orgs.into_iter().zip(heads) {
            let records = keys.iter().map(|(_, r)| r).filter(|r| r.org_id == org);
            let mut counted = self
                .write_counts(&org, head, KeyCounts::of(records))
                .await?;
            for _ in 1..COUNT_ATTEMPTS {
                if counted {
                    break;
                }
                counted = self.count_org(&org).await?;
            }
            if counted {
                report.counted.push(org);
            } else {
                report.uncounted.push(org);
            }
        }
        Ok(report)
    }

    /// Every key item of the table, with its record: a consistent `Scan`
    /// (the counts items and anything else that is not a key are passed by).
    async fn every_key(&self) -> Result<Vec<(Item, KeyRecord)>, StoreError> {
        let mut keys = vec![];
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(self.keys.as_ref())
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(classify)?;
            for item in out.items.unwrap_or_default() {
                if !item.contains_key("org_id") {
                    continue;
                }
                let record = key_from_item(item.clone())?;
                keys.push((item, record));
            }
            match out.last_evaluated_key {
                Some(next) if !next.is_empty() => start = Some(next),
                _ => return Ok(keys),
            }
        }
    }

    /// Set a key's sort keys while it is still the version read; `false`
    /// when it changed or went meanwhile.
    async fn set_sort_keys(
        &self,
        record: &KeyRecord,
        name_key: String,
        type_key: String,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .client
            .update_item()
            .table_name(self.keys.as_ref())
            .key("id", s(record.id.to_string()))
            .update_expression("SET name_key = :name_key, type_key = :type_key")
            .expression_attribute_values(":name_key", s(name_key))
            .expression_attribute_values(":type_key", s(type_key));
        update = match record.version {
            0 => update
                .condition_expression("attribute_exists(id) AND attribute_not_exists(version)"),
            v => update
                .condition_expression("version = :version")
                .expression_attribute_values(":version", AttributeValue::N(v.to_string())),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }

    /// Count `org`'s keys again and write its counts; `false` when its head
    /// moved meanwhile.
    async fn count_org(&self, org: &OrgId) -> Result<bool, StoreError> {
        let head = self.chain_head(org).await?;
        let keys = self.every_key().await?;
        let records = keys.iter().map(|(_, r)| r).filter(|r| &r.org_id == org);
        self.write_counts(org, head, KeyCounts::of(records)).await
    }

    /// Write `org`'s counts, exact, while its chain head is still `head`;
    /// `false` when it moved.
    async fn write_counts(
        &self,
        org: &OrgId,
        head: Option<ChainHead>,
        counts: KeyCounts,
    ) -> Result<bool, StoreError> {
        let mut check = ConditionCheck::builder()
            .table_name(self.audit.as_ref())
            .set_key(Some(head_key(org)));
        check = match head {
            Some(head) => check
                .condition_expression("seq = :seq")
                .expression_attribute_values(":seq", AttributeValue::N(head.seq.to_string())),
            None => check.condition_expression("attribute_not_exists(id)"),
        };
        let number = |n: u64| AttributeValue::N(n.to_string());
        let item: Item = [
            ("id", s(counts_id(org))),
            ("active", number(counts.active)),
            ("suspended", number(counts.suspended)),
            ("revoked", number(counts.revoked)),
            ("active_full", number(counts.active_full_access)),
            ("exact", AttributeValue::Bool(true)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let result = self
            .client
            .transact_write_items()
            .transact_items(
                TransactWriteItem::builder()
                    .condition_check(check.build()?)
                    .build(),
            )
            .transact_items(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(self.keys.as_ref())
                            .set_item(Some(item))
                            .build()?,
                    )
                    .build(),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            // The head moved (or another write met this one): count again.
            Err(SdkError::ServiceError(e))
                if matches!(
                    e.err(),
                    TransactWriteItemsError::TransactionCanceledException(_)
                ) =>
            {
                Ok(false)
            }
            Err(e) => Err(classify(e)),
        }
    }
}
