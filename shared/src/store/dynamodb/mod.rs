//! The DynamoDB store: what every Lambda function uses when deployed.
//!
//! Keys table (`PAY_PER_REQUEST`):
//!
//! | what             | partition key | sort key | serves                                |
//! |------------------|---------------|----------|---------------------------------------|
//! | table            | `id`          | —        | the authorizer's `GetItem`, writes    |
//! | GSI `by-org`     | `org_id`      | `id`     | `status=all`, newest first            |
//! | GSI `by-org-status` | `org_status` (`<org>#<status>`) | `id` | each status, newest first |
//! | GSI `by-org-name`   | `org_id`      | `name_key` | name search, all statuses  |
//! | GSI `by-org-status-name` | `org_status` | `name_key` | name search in a status |
//! | GSI `by-org-type`   | `org_id`      | `type_key` | type/owner, all statuses   |
//! | GSI `by-org-status-type` | `org_status` | `type_key` | type/owner in a status  |
//!
//! The search GSIs project keys only: updating a key's other attributes
//! (its `last_used_at` above all, which the authorizer writes) writes none
//! of them; a search reads the page's ids from one and the records with one
//! `BatchGetItem`. Each organization's counts are one item of the table
//! (`<org>#counts`, in no index), moved in each change's transaction.
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
//! | GSI `by-actor`      | `org_actor` (`<org>#<key>`)   | `id`     | `actor_key_id=`    |
//! | GSI `by-actor-action` | `org_actor_action`          | `id`     | actor and action   |
//!
//! Ids are UUIDv7 in fixed-width base62, so sorting by `id` is sorting by
//! time, and "after the cursor" and a time range are key conditions, never
//! a skip. Every change
//! is one `TransactWriteItems`: its key writes, each conditional on the state
//! the change was decided on, and the `Put` of its event. Items hold the
//! SHA-256/HMAC of the secret, never the key or the secret.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::Select;

use self::error::{classify, is_conditional_failure};
use self::item::{
    Item, counts_from_item, counts_id, event_from_item, key_from_item, n, org_status, s,
};
use super::{Page, Store, StoreError};
use crate::domain::audit::chain::ChainHead;
use crate::domain::audit::{AuditEvent, EventFilter, EventIndex};
use crate::domain::change::Change;
use crate::domain::id::{EventId, KeyId};
use crate::domain::limits::{Admission, Counters, Limits};
use crate::domain::org::OrgId;
use crate::domain::record::{KeyRecord, StatusFilter};
use crate::domain::search::{CountDelta, KeyCounts, KeyQuery, SearchIndex};
use crate::domain::time::Timestamp;

mod client;
mod error;
mod item;
mod schema;
mod upgrade;
mod usage;
mod write;

pub use self::client::{Timeouts, client, client_config};
pub use self::upgrade::Upgraded;

/// How often a change is linked again when other changes of its
/// organization moved the audit chain's head first.
const HEAD_ATTEMPTS: usize = 16;
pub use self::schema::{
    EVENT_TTL_ATTRIBUTE, INDEX_BY_ORG, INDEX_BY_ORG_NAME, INDEX_BY_ORG_STATUS,
    INDEX_BY_ORG_STATUS_NAME, INDEX_BY_ORG_STATUS_TYPE, INDEX_BY_ORG_TYPE, INDEX_EVENTS_BY_ACTION,
    INDEX_EVENTS_BY_ACTOR, INDEX_EVENTS_BY_ACTOR_ACTION, INDEX_EVENTS_BY_KEY,
    INDEX_EVENTS_BY_KEY_ACTION,
};

/// How often a `BatchGetItem` is sent again for the keys DynamoDB left
/// unprocessed (throttling) before a search answers 503.
const BATCH_ATTEMPTS: usize = 4;

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
    /// The usage counters this process last saw, per budget.
    seen: usage::Seen,
    /// Requests one count reserves for this process (1: no lease).
    lease: u64,
    leases: usage::Leases,
}

impl DynamoDbStore {
    pub fn new(client: Client, tables: &Tables) -> Self {
        Self {
            client,
            keys: Arc::from(tables.keys.as_str()),
            audit: Arc::from(tables.audit.as_str()),
            retention_secs: None,
            seen: usage::Seen::default(),
            lease: 1,
            leases: usage::Leases::default(),
        }
    }

    /// Give each event a TTL `days` after its time (DynamoDB removes it
    /// within a few days of then).
    pub fn with_audit_retention(mut self, days: Option<u32>) -> Self {
        self.retention_secs = days.map(|d| i64::from(d) * 86_400);
        self
    }

    /// Reserve `tokens` requests of a limited key's budget per count and
    /// spend them in this process (1, the default: count every request).
    /// Goes past DynamoDB's per-item write ceiling (about 1,000 counts a
    /// second) at the price of tokens left unspent at a window's end.
    pub fn with_usage_lease(mut self, tokens: u64) -> Self {
        self.lease = tokens.max(1);
        self
    }

    /// The tables this store reads and writes.
    pub fn tables(&self) -> Tables {
        Tables {
            keys: self.keys.to_string(),
            audit: self.audit.to_string(),
        }
    }
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
        out.item.map(key_from_item).transpose()
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
                (0, after.map(KeyId::as_u128)),
            )
            .await?;
        let records = items
            .into_iter()
            .map(key_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_overfetch(records, limit))
    }

    /// The change's writes, the caller's check, its events linked into
    /// their organization's chain, the move of its counts, and the chain
    /// head's move, as one transaction. Another change of the organization
    /// moving the counts or the head first cancels it with nothing written:
    /// link again after the new head and try again.
    async fn commit(&self, change: &Change) -> Result<(), StoreError> {
        change.validate()?;
        let Some(org) = change.events().first().map(|e| e.org_id.clone()) else {
            return Ok(());
        };
        for attempt in 0..HEAD_ATTEMPTS {
            if attempt > 0 {
                // Another change took the place first: wait at random up to
                // a ceiling that doubles each time (10 ms, 20 ms, … 320 ms),
                // so racing changes spread out instead of colliding again.
                let ceiling = 10u64 << (attempt - 1).min(5);
                let ms = rand::random_range(0..=ceiling);
                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            }
            let head = self.chain_head(&org).await?;
            let (links, next) = head.unwrap_or(ChainHead::START).extend(change.events());
            let mut items = change
                .writes()
                .iter()
                .map(|w| self.transact_item(w))
                .collect::<Result<Vec<_>, _>>()?;
            if let (Some(guard), Some(at)) = (change.guard(), change.at()) {
                items.push(self.guard_item(&guard, at)?);
            }
            for (event, link) in change.events().iter().zip(links) {
                let linked = AuditEvent {
                    link: Some(link),
                    ..event.clone()
                };
                items.push(self.event_item(&linked)?);
            }
            // Items other changes and the authorizer move too: when only
            // these were in the way, the change is tried again.
            let shared = items.len();
            if let Some(budget) = change.resets() {
                items.push(self.reset_item(budget)?);
            }
            let delta = CountDelta::of_change(change);
            if !delta.is_zero() {
                items.push(self.counts_item(&org, &delta, head.is_none())?);
            }
            items.push(self.head_item(&org, head.as_ref(), &next)?);
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await;
            match result {
                Ok(_) => {
                    tracing::info!(org = %org, head = %next, "audit chain head");
                    return Ok(());
                }
                Err(SdkError::ServiceError(e)) => match e.err() {
                    TransactWriteItemsError::TransactionCanceledException(t) => {
                        let reasons = t.cancellation_reasons();
                        if write::only_shared_items_moved(reasons, shared) {
                            continue;
                        }
                        return Err(write::cancelled(change, reasons));
                    }
                    _ => return Err(classify(SdkError::ServiceError(e))),
                },
                Err(e) => return Err(classify(e)),
            }
        }
        Err(error::unavailable(
            "other changes of the organization kept moving its audit chain's head",
            None,
        ))
    }

    async fn search(
        &self,
        org: &OrgId,
        query: &KeyQuery,
        limit: usize,
        after: Option<&str>,
    ) -> Result<Page<KeyRecord>, StoreError> {
        let Some((lower, upper)) = query.search.range(after) else {
            return Ok(Page::from_overfetch(vec![], limit));
        };
        let (index, sort_attr) = match (query.search.index(), query.status) {
            (SearchIndex::Name, StatusFilter::All) => (INDEX_BY_ORG_NAME, "name_key"),
            (SearchIndex::Name, StatusFilter::Only(_)) => (INDEX_BY_ORG_STATUS_NAME, "name_key"),
            (SearchIndex::Type, StatusFilter::All) => (INDEX_BY_ORG_TYPE, "type_key"),
            (SearchIndex::Type, StatusFilter::Only(_)) => (INDEX_BY_ORG_STATUS_TYPE, "type_key"),
        };
        let (partition_attr, partition) = match query.status {
            StatusFilter::All => ("org_id", org.as_str().to_owned()),
            StatusFilter::Only(status) => ("org_status", org_status(org, status)),
        };
        let out = self
            .client
            .query()
            .table_name(self.keys.as_ref())
            .index_name(index)
            .key_condition_expression(format!(
                "{partition_attr} = :p AND {sort_attr} BETWEEN :lower AND :upper"
            ))
            .expression_attribute_values(":p", s(partition))
            .expression_attribute_values(":lower", s(lower.clone()))
            .expression_attribute_values(":upper", s(upper.clone()))
            // One extra item tells whether another page follows.
            .limit(i32::try_from(limit + 1).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(classify)?;
        let ids: Vec<String> = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|mut item| match item.remove("id") {
                Some(aws_sdk_dynamodb::types::AttributeValue::S(id)) => Some(id),
                _ => None,
            })
            .collect();
        let more = ids.len() > limit;
        let mut records = self.batch_get(&ids[..ids.len().min(limit)]).await?;
        // The index lags the table a little: a key renamed or moved since
        // it was indexed is left out of a page it no longer belongs to.
        records.retain(|r| {
            let key = query.search.sort_key(r);
            lower <= key
                && key <= upper
                && r.org_id == *org
                && match query.status {
                    StatusFilter::All => true,
                    StatusFilter::Only(status) => r.status == status,
                }
        });
        Ok(Page {
            items: records,
            more,
        })
    }

    async fn counts(&self, org: &OrgId) -> Result<Option<KeyCounts>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.keys.as_ref())
            .key("id", s(counts_id(org)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        match out.item {
            Some(item) => counts_from_item(item),
            None => Ok(None),
        }
    }

    async fn list_events(
        &self,
        org: &OrgId,
        filter: EventFilter,
        limit: usize,
        after: Option<EventId>,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let index = filter
            .index()
            .map_err(|e| StoreError::failed(e.to_string()))?;
        let Some(range) = filter.id_range(after) else {
            return Ok(Page::from_overfetch(vec![], limit));
        };
        let org = org.as_str();
        let (index, partition_attr, partition) = match index {
            EventIndex::Org => (None, "org_id", org.to_owned()),
            EventIndex::Key(key) => (Some(INDEX_EVENTS_BY_KEY), "org_key", format!("{org}#{key}")),
            EventIndex::Action(action) => (
                Some(INDEX_EVENTS_BY_ACTION),
                "org_action",
                format!("{org}#{action}"),
            ),
            EventIndex::KeyAction(key, action) => (
                Some(INDEX_EVENTS_BY_KEY_ACTION),
                "org_key_action",
                format!("{org}#{key}#{action}"),
            ),
            EventIndex::Actor(actor) => (
                Some(INDEX_EVENTS_BY_ACTOR),
                "org_actor",
                format!("{org}#{actor}"),
            ),
            EventIndex::ActorAction(actor, action) => (
                Some(INDEX_EVENTS_BY_ACTOR_ACTION),
                "org_actor_action",
                format!("{org}#{actor}#{action}"),
            ),
        };
        let items = self
            .newest_first(&self.audit, index, partition_attr, partition, limit, range)
            .await?;
        let events = items
            .into_iter()
            .map(event_from_item)
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

    async fn chain_head(&self, org: &OrgId) -> Result<Option<ChainHead>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(self.audit.as_ref())
            .set_key(Some(item::head_key(org)))
            .consistent_read(true)
            .send()
            .await
            .map_err(classify)?;
        out.item.map(item::head_from_item).transpose()
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

    async fn admit(
        &self,
        budget: KeyId,
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Admission, StoreError> {
        self.admit_usage(budget, limits, now_ms).await
    }

    async fn counters(&self, budget: KeyId, limits: &Limits) -> Result<Counters, StoreError> {
        self.read_usage(budget, limits).await
    }
}

impl DynamoDbStore {
    /// The records of `ids`, in that order, strongly consistent; ids no
    /// longer in the table are left out.
    async fn batch_get(&self, ids: &[String]) -> Result<Vec<KeyRecord>, StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut wanted = KeysAndAttributes::builder().consistent_read(true);
        for id in ids {
            wanted = wanted.keys(std::collections::HashMap::from([(
                "id".to_owned(),
                s(id.clone()),
            )]));
        }
        let mut pending = Some(wanted.build()?);
        let mut found: std::collections::HashMap<String, KeyRecord> = Default::default();
        for attempt in 0..BATCH_ATTEMPTS {
            let Some(request) = pending.take() else { break };
            if attempt > 0 {
                tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
            }
            let out = self
                .client
                .batch_get_item()
                .request_items(self.keys.as_ref(), request)
                .send()
                .await
                .map_err(classify)?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(self.keys.as_ref()))
                .unwrap_or_default()
            {
                let record = key_from_item(item)?;
                found.insert(record.id.to_string(), record);
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(self.keys.as_ref()))
                .filter(|k| !k.keys().is_empty());
        }
        if pending.is_some() {
            return Err(error::unavailable(
                "DynamoDB left keys of a search page unread",
                None,
            ));
        }
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    /// One `Query`, newest first: up to `limit + 1` items of one partition
    /// whose `id` is in `range`: from its first (inclusive) to its second
    /// (exclusive; `None`: no bound), which the caller keeps non-empty.
    async fn newest_first(
        &self,
        table: &str,
        index: Option<&str>,
        partition_attr: &str,
        partition: String,
        limit: usize,
        (lower, upper): (u128, Option<u128>),
    ) -> Result<Vec<Item>, StoreError> {
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
        // Ids are fixed-width base62, so their text sorts as the number does.
        let id = |n: u128| s(KeyId::from_u128(n).to_string());
        match (lower, upper) {
            (0, None) => {}
            (0, Some(upper)) => {
                condition.push_str(" AND id < :upper");
                query = query.expression_attribute_values(":upper", id(upper));
            }
            (lower, None) => {
                condition.push_str(" AND id >= :lower");
                query = query.expression_attribute_values(":lower", id(lower));
            }
            (lower, Some(upper)) => {
                condition.push_str(" AND id BETWEEN :lower AND :last");
                query = query
                    .expression_attribute_values(":lower", id(lower))
                    .expression_attribute_values(":last", id(upper.saturating_sub(1)));
            }
        }
        let out = query
            .key_condition_expression(condition)
            .send()
            .await
            .map_err(classify)?;
        Ok(out.items.unwrap_or_default())
    }
}
