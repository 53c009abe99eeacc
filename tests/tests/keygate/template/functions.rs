//! The functions: one per binary of the keygate-functions crate and no
//! more, each built from the crate by cargo-lambda for `provided.al2023` on
//! arm64, with the HTTP API events it serves.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use super::{
    AUTHORIZER_BINARY, Function, Route, assert_flagged, at, binaries, binaries_and_routes,
    keygate_routes, parse, problems, problems_after, ref_target, resources_of, str_at, strings,
    template_text,
};

/// Every function of the template, read into the model; what is wrong with
/// how one is built goes to `out`.
pub(super) fn read<'a>(
    template: &'a Value,
    api: Option<(&str, &Value)>,
    out: &mut Vec<String>,
) -> Vec<Function<'a>> {
    let globals = at(template, &["Globals", "Function"]);
    let effective = |resource: &'a Value, name: &str| {
        at(resource, &["Properties", name]).or_else(|| globals.and_then(|g| g.get(name)))
    };
    let mut functions = vec![];
    for (id, resource) in resources_of(template, "AWS::Serverless::Function") {
        if str_at(resource, &["Metadata", "BuildMethod"]) != Some("rust-cargolambda") {
            out.push(format!(
                "{id}: Metadata.BuildMethod is not rust-cargolambda"
            ));
        }
        let Some(binary) = str_at(resource, &["Metadata", "BuildProperties", "Binary"]) else {
            out.push(format!("{id}: no Metadata.BuildProperties.Binary"));
            continue;
        };
        let code_uri = effective(resource, "CodeUri").and_then(Value::as_str);
        if code_uri.map(|c| c.trim_end_matches('/')) != Some("functions") {
            out.push(format!(
                "{id}: CodeUri {code_uri:?} is not functions/ (the keygate-functions crate)"
            ));
        }
        for (name, expected) in [
            ("Runtime", "provided.al2023"),
            ("Handler", "bootstrap"),
            ("Architectures", "arm64"),
        ] {
            let actual = strings(effective(resource, name));
            if actual != [expected] {
                out.push(format!("{id}: {name} is {actual:?}, expected {expected}"));
            }
        }
        let mut routes = vec![];
        if let Some(Value::Mapping(events)) = at(resource, &["Properties", "Events"]) {
            for (name, event) in events {
                let name = name.as_str().unwrap_or("?");
                if str_at(event, &["Type"]) != Some("HttpApi") {
                    out.push(format!("{id}: event {name} is not an HttpApi event"));
                    continue;
                }
                let api_ref = at(event, &["Properties", "ApiId"]).and_then(ref_target);
                if api_ref.is_none() || api_ref != api.map(|(api_id, _)| api_id) {
                    out.push(format!(
                        "{id}: event {name} is not on the keygate HTTP API (ApiId {api_ref:?})"
                    ));
                }
                let method = str_at(event, &["Properties", "Method"]).unwrap_or_default();
                let path = str_at(event, &["Properties", "Path"]).unwrap_or_default();
                let auth = at(event, &["Properties", "Auth"]);
                let public = match auth.map(|a| str_at(a, &["Authorizer"])) {
                    None => false,
                    Some(Some("NONE")) => true,
                    Some(other) => {
                        out.push(format!(
                            "{id}: event {name} sets Auth (Authorizer {other:?}): a route is \
                             either public (NONE) or behind the default authorizer"
                        ));
                        false
                    }
                };
                routes.push(Route {
                    key: format!("{} {path}", method.to_ascii_uppercase()),
                    public,
                });
            }
        }
        functions.push(Function {
            id,
            binary,
            resource,
            routes,
        });
    }
    functions
}

pub(super) fn check_binaries(
    functions: &[Function],
    binaries: &BTreeSet<String>,
    out: &mut Vec<String>,
) {
    let mut by_binary: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for f in functions {
        by_binary.entry(f.binary).or_default().push(f.id);
    }
    for (binary, ids) in &by_binary {
        if ids.len() > 1 {
            out.push(format!(
                "binary {binary} is built by several functions: {ids:?}"
            ));
        }
        if !binaries.contains(*binary) {
            out.push(format!(
                "{ids:?} build binary {binary}, but functions/src/bin/{binary}.rs does not exist"
            ));
        }
    }
    for binary in binaries {
        if !by_binary.contains_key(binary.as_str()) {
            out.push(format!(
                "functions/src/bin/{binary}.rs has no function in template.yaml"
            ));
        }
    }
}

#[test]
fn every_operation_and_the_authorizer_has_a_binary() {
    let binaries = binaries();
    for op in keygate_routes() {
        assert!(
            binaries.contains(op.function_name()),
            "{}",
            op.function_name()
        );
    }
    assert!(binaries.contains(AUTHORIZER_BINARY));
    let expected: BTreeSet<String> = binaries_and_routes()
        .into_keys()
        .map(str::to_owned)
        .collect();
    assert_eq!(binaries, expected, "one binary per function, no more");
}

#[test]
fn a_binary_without_a_source_file_or_a_function_is_caught() {
    let found = problems_after("Binary: get-key", "Binary: fetch-key");
    assert_flagged(&found, "functions/src/bin/fetch-key.rs does not exist");
    assert_flagged(&found, "functions/src/bin/get-key.rs has no function");

    let mut more = binaries();
    more.insert("export-keys".to_owned());
    let found = problems(&parse(&template_text()), &more);
    assert_flagged(&found, "functions/src/bin/export-keys.rs has no function");
}
