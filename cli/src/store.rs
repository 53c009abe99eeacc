//! The settings and the store that `serve`, `bootstrap` and `table create`
//! open directly, without the HTTP API.

use std::path::PathBuf;

use crate::args::{DEFAULT_DATA, StoreArgs};
use crate::library::{AnyStore, EmbeddedStore, Settings, Tables, dynamodb_store};

pub fn settings() -> anyhow::Result<Settings> {
    Ok(Settings::from_env()?)
}

/// The keys table `table` and its audit table: `--audit-table`, else `<table>-audit`.
pub fn tables(table: &str, audit_table: Option<String>) -> Tables {
    let mut tables = Tables::named(table);
    if let Some(audit) = audit_table {
        tables.audit = audit;
    }
    tables
}

/// The DynamoDB tables named by `--table`, else the embedded store in `--data`.
pub async fn open(args: StoreArgs, settings: &Settings) -> anyhow::Result<AnyStore> {
    let retention = settings.audit_retention_days;
    match args.table {
        Some(table) => {
            let tables = tables(&table, args.audit_table);
            let store = dynamodb_store(args.dynamodb_endpoint.as_deref(), &tables, settings).await;
            Ok(AnyStore::DynamoDb(
                store
                    .with_audit_retention(retention)
                    .with_usage_lease(settings.limit_lease),
            ))
        }
        None => {
            let dir = args.data.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA));
            let store = EmbeddedStore::open(&dir)?;
            Ok(AnyStore::Embedded(store.with_audit_retention(retention)))
        }
    }
}
