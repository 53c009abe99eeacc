//! The tables: exactly the keys and audit tables the functions are given,
//! each with its store's key schema and indexes, on-demand, recoverable and
//! retained; audit events expire by TTL, keys never do.

use std::collections::{BTreeMap, BTreeSet};

use keygate::runtime::config::{ENV_AUDIT_TABLE, ENV_TABLE};
use keygate::store::dynamodb::{
    EVENT_TTL_ATTRIBUTE, INDEX_BY_ORG, INDEX_BY_ORG_NAME, INDEX_BY_ORG_STATUS,
    INDEX_BY_ORG_STATUS_NAME, INDEX_BY_ORG_STATUS_TYPE, INDEX_BY_ORG_TYPE, INDEX_EVENTS_BY_ACTION,
    INDEX_EVENTS_BY_ACTOR, INDEX_EVENTS_BY_ACTOR_ACTION, INDEX_EVENTS_BY_KEY,
    INDEX_EVENTS_BY_KEY_ACTION,
};
use serde_yaml::Value;

use super::{
    TableIds, assert_flagged, at, global_env, one_or_many, problems_after, ref_target,
    resources_of, str_at,
};

/// The keys and audit tables: what `TABLE_NAME` and `AUDIT_TABLE_NAME` name,
/// and no other table.
pub(super) fn find<'a>(template: &'a Value, out: &mut Vec<String>) -> Option<TableIds<'a>> {
    let declared: BTreeSet<&str> = resources_of(template, "AWS::DynamoDB::Table")
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    let mut named = |env: &str| {
        let id = global_env(template, env).and_then(ref_target);
        if id.is_none_or(|id| !declared.contains(id)) {
            out.push(format!(
                "Globals: {env} is not !Ref of a DynamoDB table ({id:?})"
            ));
        }
        id
    };
    let (keys, audit) = (named(ENV_TABLE), named(ENV_AUDIT_TABLE));
    let (keys, audit) = (keys?, audit?);
    let expected: BTreeSet<&str> = [keys, audit].into();
    if declared != expected {
        out.push(format!(
            "tables {declared:?}, expected exactly the keys and audit tables {expected:?}"
        ));
    }
    Some(TableIds { keys, audit })
}

/// A key schema as text, e.g. "org_id HASH, id RANGE".
fn key_schema(value: Option<&Value>) -> String {
    value
        .map(one_or_many)
        .unwrap_or_default()
        .into_iter()
        .map(|k| {
            let field = |name| str_at(k, &[name]).unwrap_or_default();
            format!("{} {}", field("AttributeName"), field("KeyType"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A GSI as the store designs it: name, hash key, sort key, projection.
type Gsi<'a> = (&'a str, &'a str, &'a str, &'a str);

/// A GSI of every attribute, sorted by `id`: a list newest first.
fn by_id<'a>(name: &'a str, hash: &'a str) -> Gsi<'a> {
    (name, hash, "id", "ALL")
}

/// A search GSI: sorted by a search's sort key, projecting keys only.
fn search<'a>(name: &'a str, hash: &'a str, sort: &'a str) -> Gsi<'a> {
    (name, hash, sort, "KEYS_ONLY")
}

/// One table against the store's design: key schema, GSIs, string
/// attributes, billing, recovery and retention.
fn check_table(name: &str, table: &Value, schema: &str, gsis: &[Gsi], out: &mut Vec<String>) {
    let props = table.get("Properties").unwrap_or(&Value::Null);
    if key_schema(props.get("KeySchema")) != schema {
        out.push(format!("{name}: key schema is not {schema}"));
    }
    let indexes: BTreeMap<&str, String> = props
        .get("GlobalSecondaryIndexes")
        .map(one_or_many)
        .unwrap_or_default()
        .into_iter()
        .map(|index| {
            let projection = str_at(index, &["Projection", "ProjectionType"]);
            (
                str_at(index, &["IndexName"]).unwrap_or_default(),
                format!(
                    "{}, projection {}",
                    key_schema(index.get("KeySchema")),
                    projection.unwrap_or_default()
                ),
            )
        })
        .collect();
    let expected: BTreeMap<&str, String> = gsis
        .iter()
        .map(|(index, hash, sort, projection)| {
            (
                *index,
                format!("{hash} HASH, {sort} RANGE, projection {projection}"),
            )
        })
        .collect();
    if indexes != expected {
        out.push(format!(
            "{name}: global secondary indexes are {indexes:?}, expected {expected:?}"
        ));
    }
    let attributes: BTreeSet<(&str, &str)> = props
        .get("AttributeDefinitions")
        .map(one_or_many)
        .unwrap_or_default()
        .into_iter()
        .map(|a| {
            (
                str_at(a, &["AttributeName"]).unwrap_or_default(),
                str_at(a, &["AttributeType"]).unwrap_or_default(),
            )
        })
        .collect();
    let expected_attributes: BTreeSet<(&str, &str)> = schema
        .split(", ")
        .filter_map(|k| k.split_once(' ').map(|(a, _)| a))
        .chain(gsis.iter().flat_map(|(_, hash, sort, _)| [*hash, *sort]))
        .map(|a| (a, "S"))
        .collect();
    if attributes != expected_attributes {
        out.push(format!(
            "{name}: attributes {attributes:?}, expected {expected_attributes:?}"
        ));
    }
    for (what, ok) in [
        (
            "BillingMode is not PAY_PER_REQUEST",
            str_at(props, &["BillingMode"]) == Some("PAY_PER_REQUEST"),
        ),
        (
            "point-in-time recovery is not enabled",
            at(
                props,
                &[
                    "PointInTimeRecoverySpecification",
                    "PointInTimeRecoveryEnabled",
                ],
            ) == Some(&Value::Bool(true)),
        ),
        (
            "DeletionPolicy is not Retain",
            str_at(table, &["DeletionPolicy"]) == Some("Retain"),
        ),
        (
            "UpdateReplacePolicy is not Retain",
            str_at(table, &["UpdateReplacePolicy"]) == Some("Retain"),
        ),
    ] {
        if !ok {
            out.push(format!("{name}: {what}"));
        }
    }
}

pub(super) fn check_tables(template: &Value, tables: &TableIds, out: &mut Vec<String>) {
    let table = |id: &str| at(template, &["Resources", id]).unwrap_or(&Value::Null);
    check_table(
        tables.keys,
        table(tables.keys),
        "id HASH",
        &[
            by_id(INDEX_BY_ORG, "org_id"),
            by_id(INDEX_BY_ORG_STATUS, "org_status"),
            search(INDEX_BY_ORG_NAME, "org_id", "name_key"),
            search(INDEX_BY_ORG_STATUS_NAME, "org_status", "name_key"),
            search(INDEX_BY_ORG_TYPE, "org_id", "type_key"),
            search(INDEX_BY_ORG_STATUS_TYPE, "org_status", "type_key"),
        ],
        out,
    );
    let audit = table(tables.audit);
    check_table(
        tables.audit,
        audit,
        "org_id HASH, id RANGE",
        &[
            by_id(INDEX_EVENTS_BY_KEY, "org_key"),
            by_id(INDEX_EVENTS_BY_ACTION, "org_action"),
            by_id(INDEX_EVENTS_BY_KEY_ACTION, "org_key_action"),
            by_id(INDEX_EVENTS_BY_ACTOR, "org_actor"),
            by_id(INDEX_EVENTS_BY_ACTOR_ACTION, "org_actor_action"),
        ],
        out,
    );
    let ttl = at(audit, &["Properties", "TimeToLiveSpecification"]);
    let ttl_on = ttl.and_then(|t| t.get("Enabled")) == Some(&Value::Bool(true))
        && ttl.and_then(|t| str_at(t, &["AttributeName"])) == Some(EVENT_TTL_ATTRIBUTE);
    if !ttl_on {
        out.push(format!(
            "{}: TTL is not enabled on {EVENT_TTL_ATTRIBUTE}",
            tables.audit
        ));
    }
    if at(
        table(tables.keys),
        &["Properties", "TimeToLiveSpecification"],
    )
    .is_some()
    {
        out.push(format!("{}: keys never expire by TTL", tables.keys));
    }
}

#[test]
fn table_design_is_checked() {
    let found = problems_after("IndexName: by-org-status\n", "IndexName: by-status\n");
    assert_flagged(&found, "global secondary indexes");
    let found = problems_after("IndexName: by-key-action", "IndexName: by-both");
    assert_flagged(&found, "AuditTable: global secondary indexes");
    // A search index projecting every attribute: every last_used_at write
    // would write it too.
    let found = problems_after(
        "            - AttributeName: type_key\n              KeyType: RANGE\n          Projection:\n            ProjectionType: KEYS_ONLY\n        - IndexName: by-org-status-type",
        "            - AttributeName: type_key\n              KeyType: RANGE\n          Projection:\n            ProjectionType: ALL\n        - IndexName: by-org-status-type",
    );
    assert_flagged(&found, "KeysTable: global secondary indexes");
    let found = problems_after(
        "      TimeToLiveSpecification:\n        AttributeName: purge_at\n        Enabled: true\n",
        "",
    );
    assert_flagged(&found, "TTL is not enabled");
    let found = problems_after(
        "  KeysTable:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Retain",
        "  KeysTable:\n    Type: AWS::DynamoDB::Table\n    DeletionPolicy: Delete",
    );
    assert_flagged(&found, "KeysTable: DeletionPolicy");
}
