//! `keygate table create` and `upgrade`: the DynamoDB keys and audit tables.

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

pub async fn upgrade(
    table: &str,
    audit_table: Option<String>,
    endpoint: Option<&str>,
) -> anyhow::Result<()> {
    let settings = store::settings()?;
    let tables = store::tables(table, audit_table);
    let upgraded = dynamodb_store(endpoint, &tables, &settings)
        .await
        .upgrade()
        .await?;
    println!(
        "keygate: {} keys made findable ({} were already), {} organizations counted",
        upgraded.indexed,
        upgraded.already,
        upgraded.counted.len()
    );
    if !upgraded.uncounted.is_empty() {
        let orgs: Vec<&str> = upgraded.uncounted.iter().map(|o| o.as_str()).collect();
        anyhow::bail!(
            "not counted, their keys kept changing: {}; run keygate table upgrade again",
            orgs.join(", ")
        );
    }
    Ok(())
}
