//! `keygate table create`: the DynamoDB keys and audit tables.

use crate::library::DynamoDbStore;
use crate::store;

pub async fn create(
    table: &str,
    audit_table: Option<String>,
    endpoint: Option<&str>,
) -> anyhow::Result<()> {
    let settings = store::settings()?;
    let client = DynamoDbStore::client(endpoint, settings.timeouts, None).await;
    let tables = store::tables(table, audit_table);
    DynamoDbStore::new(client, &tables).create_tables().await?;
    println!(
        "keygate: tables {} and {} are active",
        tables.keys, tables.audit
    );
    Ok(())
}
