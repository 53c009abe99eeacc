//! `keygate table create`: the DynamoDB keys and audit tables.

use crate::library::dynamodb_store;
use crate::store;

pub async fn create(
    table: &str,
    audit_table: Option<String>,
    endpoint: Option<&str>,
) -> anyhow::Result<()> {
    let settings = store::settings()?;
    let tables = store::tables(table, audit_table);
    dynamodb_store(endpoint, &tables, &settings)
        .await
        .create_tables()
        .await?;
    println!(
        "keygate: tables {} and {} are active",
        tables.keys, tables.audit
    );
    Ok(())
}
