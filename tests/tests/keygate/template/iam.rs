//! Each function's permissions: only the actions it needs, on the resources
//! it needs them on, as inline statements: no function may change an audit
//! event, only the list function may read the trail, and only the functions
//! that hash secrets may read the pepper.

use std::collections::BTreeSet;

use serde_yaml::Value;

use super::{
    AUTHORIZER_BINARY, Function, PEPPER_PARAMETER, TableIds, assert_flagged, intrinsic, is_arn_of,
    is_index_arn_of, one_or_many, problems_after, ref_target, str_at, strings,
};

/// What a grant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum On {
    Keys,
    /// The keys table, only the usage counters' items (`*#usage`).
    KeysUsage,
    KeysIndexes,
    Audit,
    /// The keys table, only the organizations' counts (`*#counts`).
    KeyCounts,
    /// The audit table, only the chain heads' partitions (`*#chain`).
    AuditHead,
    AuditIndexes,
    Pepper,
}

const GET: (&str, On) = ("dynamodb:GetItem", On::Keys);

/// Every change checks, in its transaction, that the calling key is still
/// active with the expiry its request saw.
const CALLER: (&str, On) = ("dynamodb:ConditionCheckItem", On::Keys);

const UPDATE: (&str, On) = ("dynamodb:UpdateItem", On::Keys);

/// Every change's audit events and the chain head's move, in the change's
/// transaction.
const EVENT: (&str, On) = ("dynamodb:PutItem", On::Audit);

/// Every change reads its organization's chain head first.
const HEAD: (&str, On) = ("dynamodb:GetItem", On::AuditHead);

/// A change's move of its organization's counts, in its transaction, and
/// (for the answer's `last_active_full_access`) their read.
const COUNT: (&str, On) = ("dynamodb:UpdateItem", On::KeyCounts);
const COUNTS: (&str, On) = ("dynamodb:GetItem", On::KeyCounts);

/// Counting a limited key's use.
const COUNT_USE: (&str, On) = ("dynamodb:UpdateItem", On::KeysUsage);

/// The leading keys a statement is limited to, if it is.
fn leading_keys(statement: &Value) -> Vec<&str> {
    strings(
        statement
            .get("Condition")
            .and_then(|c| c.get("ForAllValues:StringLike"))
            .and_then(|c| c.get("dynamodb:LeadingKeys")),
    )
}

/// The condition that limits a statement on the audit table to the chain
/// heads' partitions.
fn heads_only(statement: &Value) -> bool {
    leading_keys(statement) == ["*#chain"]
}

/// The condition that limits a statement on the keys table to the
/// organizations' counts.
fn counts_only(statement: &Value) -> bool {
    leading_keys(statement) == ["*#counts"]
}

/// The one Deny a function may carry: writes to the usage counters' items
/// (`ForAnyValue`: any item of the request whose key is a counter's), on
/// the keys table.
fn usage_guard(statement: &Value, tables: &TableIds) -> bool {
    let keys = statement
        .get("Condition")
        .and_then(|c| c.get("ForAnyValue:StringLike"))
        .and_then(|c| c.get("dynamodb:LeadingKeys"));
    let resources = statement
        .get("Resource")
        .map(one_or_many)
        .unwrap_or_default();
    strings(keys) == ["*#usage"]
        && !resources.is_empty()
        && resources.iter().all(|r| is_arn_of(r, tables.keys))
}

/// Counting a use writes the usage counters only: their items, and no
/// attribute a key has (a status, an expiry), so the authorizer can never
/// change a key through this grant.
fn usage_only(statement: &Value) -> bool {
    let attributes = statement
        .get("Condition")
        .and_then(|c| c.get("ForAllValues:StringLike"))
        .and_then(|c| c.get("dynamodb:Attributes"));
    let counters_only = attributes.is_none_or(|a| {
        strings(Some(a))
            .iter()
            .all(|name| ["id", "r*_ws", "r*_c", "r*_p", "q*_p", "q*_u"].contains(name))
    });
    leading_keys(statement) == ["*#usage"] && counters_only
}

const PEPPER: (&str, On) = ("secretsmanager:GetSecretValue", On::Pepper);

/// Each function's grants, and nothing more. A change reads the key it is
/// decided on (`GetItem`) and writes conditionally on it; no function may
/// update or delete an audit event; only the functions that hash secrets
/// (the authorizer, create-key, rotate-key) may read the pepper.
fn expected_grants(binary: &str) -> Option<BTreeSet<(&'static str, On)>> {
    let grants: &[(&str, On)] = match binary {
        AUTHORIZER_BINARY => &[GET, UPDATE, COUNT_USE, PEPPER],
        "create-key" => &[
            ("dynamodb:PutItem", On::Keys),
            CALLER,
            COUNT,
            COUNTS,
            EVENT,
            HEAD,
            PEPPER,
        ],
        "list-keys" => &[
            ("dynamodb:Query", On::KeysIndexes),
            ("dynamodb:BatchGetItem", On::Keys),
            COUNTS,
        ],
        "get-key" => &[GET],
        "update-key" | "suspend-key" | "reactivate-key" | "revoke-key" => {
            &[GET, UPDATE, CALLER, EVENT, HEAD]
        }
        "rotate-key" => &[
            GET,
            UPDATE,
            ("dynamodb:PutItem", On::Keys),
            CALLER,
            EVENT,
            HEAD,
            PEPPER,
        ],
        "delete-key" => &[
            GET,
            ("dynamodb:DeleteItem", On::Keys),
            CALLER,
            COUNT,
            EVENT,
            HEAD,
        ],
        "list-audit-events" => &[
            ("dynamodb:Query", On::Audit),
            ("dynamodb:Query", On::AuditIndexes),
        ],
        "set-limits" => &[GET, UPDATE, CALLER, EVENT, HEAD],
        "get-usage" => &[GET],
        "reset-usage" => &[
            GET,
            UPDATE,
            CALLER,
            EVENT,
            HEAD,
            ("dynamodb:DeleteItem", On::KeysUsage),
        ],
        "list-scopes" | "console" => &[],
        _ => return None,
    };
    Some(grants.iter().copied().collect())
}

pub(super) fn hashes(binary: &str) -> bool {
    expected_grants(binary).is_some_and(|g| g.contains(&PEPPER))
}

/// One policy statement, or the statement inside `!If [HasPepper, …, NoValue]`.
fn statement_of(value: &Value) -> Option<(&Value, Option<&str>)> {
    match intrinsic(value) {
        Some((name, Value::Sequence(parts))) if name == "If" && parts.len() == 3 => {
            Some((&parts[1], parts[0].as_str()))
        }
        Some(_) => None,
        None => Some((value, None)),
    }
}

pub(super) fn check_permissions(functions: &[Function], tables: &TableIds, out: &mut Vec<String>) {
    for f in functions {
        if f.property("Role").is_some() {
            out.push(format!(
                "{}: an explicit Role bypasses the checked Policies",
                f.id
            ));
        }
        let mut granted: BTreeSet<(&str, On)> = BTreeSet::new();
        // Writes this function may not make to the usage counters.
        let mut denied_on_usage: BTreeSet<&str> = BTreeSet::new();
        for (n, policy) in f
            .property("Policies")
            .map(one_or_many)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            let Some(statements) = policy.get("Statement") else {
                out.push(format!(
                    "{}: policy {n} is not an inline statement (SAM policy templates and \
                     managed policies grant more than keygate uses)",
                    f.id
                ));
                continue;
            };
            for raw in one_or_many(statements) {
                let Some((statement, condition)) = statement_of(raw) else {
                    out.push(format!("{}: policy {n} has an unreadable statement", f.id));
                    continue;
                };
                match str_at(statement, &["Effect"]) {
                    Some("Allow") => {}
                    Some("Deny") if usage_guard(statement, tables) => {
                        denied_on_usage.extend(strings(statement.get("Action")));
                        continue;
                    }
                    _ => {
                        out.push(format!(
                            "{}: policy {n} has a statement that is neither Allow nor the \
                             usage counters' Deny",
                            f.id
                        ));
                        continue;
                    }
                }
                let resources = statement
                    .get("Resource")
                    .map(one_or_many)
                    .unwrap_or_default();
                if resources.is_empty() {
                    out.push(format!("{}: a statement names no Resource", f.id));
                }
                for action in strings(statement.get("Action")) {
                    for resource in &resources {
                        let on = if is_arn_of(resource, tables.keys) && usage_only(statement) {
                            Some(On::KeysUsage)
                        } else if is_arn_of(resource, tables.keys) && counts_only(statement) {
                            Some(On::KeyCounts)
                        } else if is_arn_of(resource, tables.keys) {
                            Some(On::Keys)
                        } else if is_index_arn_of(resource, tables.keys) {
                            Some(On::KeysIndexes)
                        } else if is_arn_of(resource, tables.audit) && heads_only(statement) {
                            Some(On::AuditHead)
                        } else if is_arn_of(resource, tables.audit) {
                            Some(On::Audit)
                        } else if is_index_arn_of(resource, tables.audit) {
                            Some(On::AuditIndexes)
                        } else if ref_target(resource) == Some(PEPPER_PARAMETER) {
                            Some(On::Pepper)
                        } else {
                            None
                        };
                        match on {
                            Some(on) => {
                                granted.insert((action, on));
                            }
                            None => out.push(format!(
                                "{}: {action} is granted on {resource:?}, which is neither \
                                 table, their indexes, nor the pepper secret",
                                f.id
                            )),
                        }
                        if on == Some(On::Pepper) && condition != Some("HasPepper") {
                            out.push(format!(
                                "{}: the pepper grant is not under !If HasPepper",
                                f.id
                            ));
                        }
                    }
                }
            }
        }
        // A write granted on the whole keys table reaches the usage counters
        // too: it must be denied there, unless the function's job is to
        // write them (the authorizer's count, reset-usage's delete).
        for action in [
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        ] {
            let on_usage = granted.contains(&(action, On::KeysUsage));
            let denied = denied_on_usage.contains(action);
            if on_usage && denied {
                out.push(format!(
                    "{}: denies {action} on the usage counters it is granted",
                    f.id
                ));
            } else if granted.contains(&(action, On::Keys)) && !on_usage && !denied {
                out.push(format!(
                    "{}: {action} on the keys table reaches the usage counters: deny it on \
                     \"*#usage\"",
                    f.id
                ));
            }
        }
        let Some(expected) = expected_grants(f.binary) else {
            continue; // reported by check_binaries
        };
        if granted != expected {
            out.push(format!(
                "{} ({}): grants {granted:?}, expected exactly {expected:?}",
                f.id, f.binary
            ));
        }
    }
}

#[test]
fn extra_actions_or_resources_are_caught() {
    let found = problems_after(
        "Action: [dynamodb:Query]\n              Resource: !Sub \"${KeysTable.Arn}/index/*\"",
        "Action: [dynamodb:Query, dynamodb:Scan]\n              Resource: !Sub \"${KeysTable.Arn}/index/*\"",
    );
    assert_flagged(&found, "\"dynamodb:Scan\"");

    let found = problems_after(
        "Action: [dynamodb:GetItem, dynamodb:DeleteItem, dynamodb:ConditionCheckItem]\n              Resource: !GetAtt KeysTable.Arn",
        "Action: [dynamodb:GetItem, dynamodb:DeleteItem, dynamodb:ConditionCheckItem]\n              Resource: \"*\"",
    );
    assert_flagged(
        &found,
        "dynamodb:DeleteItem is granted on String(\"*\"), which is neither",
    );
}

#[test]
fn query_outside_the_indexes_is_caught() {
    let found = problems_after(
        "Resource: !Sub \"${KeysTable.Arn}/index/*\"",
        "Resource: !GetAtt KeysTable.Arn",
    );
    assert_flagged(&found, "ListKeysFunction (list-keys): grants");
}

/// No function may rewrite the audit trail, and only the list
/// function may read it.
#[test]
fn the_audit_trail_is_append_only_and_read_by_one_function() {
    let found = problems_after(
        "dynamodb:LeadingKeys: [\"*#counts\"]\n            # The change's events and the move of the audit chain's head, in the\n            # same transaction. PutItem could overwrite an event: the hash chain\n            # makes that evident (keygate audit verify).\n            - Effect: Allow\n              Action: [dynamodb:PutItem]\n              Resource: !GetAtt AuditTable.Arn\n            # The chain's head, read before the change is linked to it: its\n            # partition (\"<org>#chain\") only, never an event.\n            - Effect: Allow\n              Action: [dynamodb:GetItem]\n              Resource: !GetAtt AuditTable.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"*#chain\"]\n\n  # Serves",
        "dynamodb:LeadingKeys: [\"*#counts\"]\n            # The change's events and the move of the audit chain's head, in the\n            # same transaction. PutItem could overwrite an event: the hash chain\n            # makes that evident (keygate audit verify).\n            - Effect: Allow\n              Action: [dynamodb:PutItem, dynamodb:DeleteItem]\n              Resource: !GetAtt AuditTable.Arn\n            # The chain's head, read before the change is linked to it: its\n            # partition (\"<org>#chain\") only, never an event.\n            - Effect: Allow\n              Action: [dynamodb:GetItem]\n              Resource: !GetAtt AuditTable.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"*#chain\"]\n\n  # Serves",
    );
    assert_flagged(&found, "DeleteKeyFunction (delete-key): grants");
    let found = problems_after(
        "Action: [dynamodb:GetItem]\n              Resource: !GetAtt KeysTable.Arn\n\n  UpdateKeyFunction:",
        "Action: [dynamodb:GetItem, dynamodb:Query]\n              Resource: !GetAtt KeysTable.Arn\n            - Effect: Allow\n              Action: [dynamodb:Query]\n              Resource: !GetAtt AuditTable.Arn\n\n  UpdateKeyFunction:",
    );
    assert_flagged(&found, "GetKeyFunction (get-key): grants");
    // A read of the audit table beyond the chain heads' partitions.
    let found = problems_after(
        "              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"*#chain\"]\n\n  ReactivateKeyFunction",
        "\n  ReactivateKeyFunction",
    );
    assert_flagged(&found, "SuspendKeyFunction (suspend-key): grants");
}

#[test]
fn broad_sam_policy_templates_are_caught() {
    let found = problems_after(
        "      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action: [dynamodb:Query]\n              Resource: !Sub",
        "      Policies:\n        - DynamoDBCrudPolicy:\n            TableName: !Ref KeysTable\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action: [dynamodb:Query]\n              Resource: !Sub",
    );
    assert_flagged(&found, "is not an inline statement");
}

#[test]
fn a_usage_grant_that_reaches_a_key_is_caught() {
    // The authorizer's count, widened to a key's status.
    let found = problems_after(
        r#"dynamodb:Attributes: [id, "r*_ws", "r*_c", "r*_p", "q*_p", "q*_u"]"#,
        r#"dynamodb:Attributes: [id, "r*_ws", "r*_c", "r*_p", "q*_p", "q*_u", status]"#,
    );
    assert_flagged(&found, "AuthorizerFunction (authorizer): grants");
    // reset-usage's delete, on any item of the keys table.
    let found = problems_after(
        "              Action: [dynamodb:DeleteItem]\n              Resource: !GetAtt KeysTable.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"*#usage\"]",
        "              Action: [dynamodb:DeleteItem]\n              Resource: !GetAtt KeysTable.Arn",
    );
    assert_flagged(&found, "ResetUsageFunction (reset-usage): grants");
}

/// A function that writes keys could write a budget's counters through the
/// same grant, and zero it with no audit event: each is denied them.
#[test]
fn a_key_write_that_could_reach_the_usage_counters_is_caught() {
    let guard = "            - Effect: Deny\n              Action: [dynamodb:DeleteItem]\n              Resource: !GetAtt KeysTable.Arn\n              Condition:\n                ForAnyValue:StringLike:\n                  dynamodb:LeadingKeys: [\"*#usage\"]\n";
    let found = problems_after(guard, "");
    assert_flagged(
        &found,
        "DeleteKeyFunction: dynamodb:DeleteItem on the keys table reaches the usage counters",
    );
    // Denying reset-usage its own delete would void it.
    let found = problems_after(
        "              Action: [dynamodb:UpdateItem]\n              Resource: !GetAtt KeysTable.Arn\n              Condition:\n                ForAnyValue:StringLike:\n                  dynamodb:LeadingKeys: [\"*#usage\"]\n            # The change's events and the move of the audit chain's head, in the\n            # same transaction. PutItem could overwrite an event: the hash chain\n            # makes that evident (keygate audit verify).\n            - Effect: Allow\n              Action: [dynamodb:PutItem]\n              Resource: !GetAtt AuditTable.Arn\n            # The chain's head, read before the change is linked to it: its\n            # partition (\"<org>#chain\") only, never an event.\n            - Effect: Allow\n              Action: [dynamodb:GetItem]\n              Resource: !GetAtt AuditTable.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"*#chain\"]\n            # The budget's counters",
        "              Action: [dynamodb:UpdateItem, dynamodb:DeleteItem]\n              Resource: !GetAtt KeysTable.Arn\n              Condition:\n                ForAnyValue:StringLike:\n                  dynamodb:LeadingKeys: [\"*#usage\"]\n            # The change's events and the move of the audit chain's head, in the\n            # same transaction. PutItem could overwrite an event: the hash chain\n            # makes that evident (keygate audit verify).\n            - Effect: Allow\n              Action: [dynamodb:PutItem]\n              Resource: !GetAtt AuditTable.Arn\n            # The chain's head, read before the change is linked to it: its\n            # partition (\"<org>#chain\") only, never an event.\n            - Effect: Allow\n              Action: [dynamodb:GetItem]\n              Resource: !GetAtt AuditTable.Arn\n              Condition:\n                ForAllValues:StringLike:\n                  dynamodb:LeadingKeys: [\"*#chain\"]\n            # The budget's counters",
    );
    assert_flagged(
        &found,
        "ResetUsageFunction: denies dynamodb:DeleteItem on the usage counters it is granted",
    );
    // Any other Deny is not one the checker can reason about.
    let found = problems_after(
        guard,
        &guard.replace("[\"*#usage\"]", "[\"*#usage\", \"*#counts\"]"),
    );
    assert_flagged(&found, "neither Allow nor the usage counters' Deny");
}
