//! Operation accounting for tests and benchmarks: an SDK interceptor that
//! records every DynamoDB request sent on the wire (operation, table, index,
//! consistency, and how many writes of a transaction carry a condition).

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;

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
