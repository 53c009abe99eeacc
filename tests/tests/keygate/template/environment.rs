//! The functions' environment: the key prefix and the audit retention are
//! parameters with the code's defaults; the pepper is never in plain text,
//! and only the functions that hash secrets get its secret's ARN; only the
//! function reads the catalog from the catalog layer.

use keygate::domain::key::KeyPrefix;
use keygate::runtime::config::{
    ENV_AUDIT_RETENTION_DAYS, ENV_CATALOG, ENV_PEPPER, ENV_PEPPER_SECRET, ENV_PREFIX,
};
use serde_yaml::Value;

use super::iam::hashes;
use super::{
    Function, PEPPER_PARAMETER, assert_flagged, global_env, parameter_default, problems_after,
    ref_target,
};

pub(super) fn check_environment(template: &Value, functions: &[Function], out: &mut Vec<String>) {
    let prefix_default =
        global_env(template, ENV_PREFIX).and_then(|v| parameter_default(template, v));
    if prefix_default.and_then(Value::as_str) != Some(KeyPrefix::default().as_str()) {
        out.push(format!(
            "Globals: {ENV_PREFIX} is not a parameter defaulting to {:?}",
            KeyPrefix::default().as_str()
        ));
    }
    let retention = global_env(template, ENV_AUDIT_RETENTION_DAYS)
        .and_then(|v| parameter_default(template, v))
        .and_then(Value::as_u64);
    if retention != Some(400) {
        out.push(format!(
            "Globals: {ENV_AUDIT_RETENTION_DAYS} is not a parameter defaulting to 400 days"
        ));
    }
    // The pepper itself is never in any function's configuration; only the
    // functions that hash get the secret's ARN.
    for name in [ENV_PEPPER, ENV_PEPPER_SECRET] {
        if global_env(template, name).is_some() {
            out.push(format!(
                "Globals: {name} belongs to particular functions only"
            ));
        }
    }
    for f in functions {
        if f.env(ENV_PEPPER).is_some() {
            out.push(format!(
                "{}: {ENV_PEPPER} puts the pepper in plain text in the function's configuration",
                f.id
            ));
        }
        match (
            hashes(f.binary),
            f.env(ENV_PEPPER_SECRET).and_then(ref_target),
        ) {
            (true, Some(PEPPER_PARAMETER)) | (false, None) => {}
            (true, _) => out.push(format!(
                "{}: {ENV_PEPPER_SECRET} is not !Ref {PEPPER_PARAMETER}",
                f.id
            )),
            (false, Some(_)) => out.push(format!(
                "{}: {ENV_PEPPER_SECRET} belongs to the functions that hash secrets only",
                f.id
            )),
        }
    }
    // Every function reads the catalog, from the catalog layer's file.
    if global_env(template, ENV_CATALOG).and_then(Value::as_str) != Some(CATALOG_FILE) {
        out.push(format!("Globals: {ENV_CATALOG} is not {CATALOG_FILE}"));
    }
    let layer_refs: Vec<&str> = template
        .get("Globals")
        .and_then(|g| g.get("Function"))
        .and_then(|f| f.get("Layers"))
        .and_then(Value::as_sequence)
        .map(|l| l.iter().filter_map(ref_target).collect())
        .unwrap_or_default();
    let content = template
        .get("Resources")
        .and_then(|r| r.get(CATALOG_LAYER))
        .and_then(|l| l.get("Properties"))
        .and_then(|p| p.get("ContentUri"))
        .and_then(Value::as_str);
    if layer_refs != [CATALOG_LAYER] || content != Some("catalog/") {
        out.push(format!(
            "Globals: the functions' one layer is not {CATALOG_LAYER} with ContentUri catalog/"
        ));
    }
    for f in functions {
        if f.property("Layers").is_some() || f.env(ENV_CATALOG).is_some() {
            out.push(format!(
                "{}: sets its own layers or catalog; every function reads the one catalog",
                f.id
            ));
        }
    }
}

/// The catalog layer, and where a function finds its file.
const CATALOG_LAYER: &str = "CatalogLayer";
const CATALOG_FILE: &str = "/opt/keygate.toml";

/// The pepper is never in plain text; only the hashing functions may
/// read its secret.
#[test]
fn a_plain_text_pepper_or_a_misplaced_secret_is_caught() {
    let found = problems_after(
        "Description: keygate POST /v1/api-keys\n      Environment:\n        Variables:\n",
        "Description: keygate POST /v1/api-keys\n      Environment:\n        Variables:\n          KEYGATE_PEPPER: !Sub \"{{resolve:secretsmanager:${PepperSecretArn}:SecretString}}\"\n",
    );
    assert_flagged(
        &found,
        "CreateKeyFunction: KEYGATE_PEPPER puts the pepper in plain text",
    );
    let found = problems_after(
        "RUST_LOG: !Ref LogLevel",
        "RUST_LOG: !Ref LogLevel\n        KEYGATE_PEPPER_SECRET_ID: !Ref PepperSecretArn",
    );
    assert_flagged(
        &found,
        "Globals: KEYGATE_PEPPER_SECRET_ID belongs to particular functions only",
    );
    let found = problems_after(
        "      Description: keygate GET /v1/api-keys/{id}\n",
        "      Description: keygate GET /v1/api-keys/{id}\n      Environment:\n        Variables:\n          KEYGATE_PEPPER_SECRET_ID: !Ref PepperSecretArn\n",
    );
    assert_flagged(
        &found,
        "GetKeyFunction: KEYGATE_PEPPER_SECRET_ID belongs to the functions that hash",
    );
    let found = problems_after(
        "Action: [dynamodb:GetItem]\n              Resource: !GetAtt KeysTable.Arn\n\n  UpdateKeyFunction:",
        "Action: [dynamodb:GetItem]\n              Resource: !GetAtt KeysTable.Arn\n            - Effect: Allow\n              Action: [secretsmanager:GetSecretValue]\n              Resource: !Ref PepperSecretArn\n\n  UpdateKeyFunction:",
    );
    assert_flagged(
        &found,
        "GetKeyFunction: the pepper grant is not under !If HasPepper",
    );
    assert_flagged(&found, "GetKeyFunction (get-key): grants");
    // A function of its own catalog would answer for other scopes than
    // the authorizer checks.
    let found = problems_after(
        "KEYGATE_CATALOG: /opt/keygate.toml",
        "KEYGATE_CATALOG: /opt/other.toml",
    );
    assert_flagged(&found, "Globals: KEYGATE_CATALOG is not /opt/keygate.toml");
}
