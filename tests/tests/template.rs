//! `template.yaml` against the code: every management route in the route table
//! is served by exactly one function that runs its operation's binary, every
//! binary has a function, the authorizer is wired as the documented REQUEST
//! authorizer, each function may use only the DynamoDB actions it needs, and
//! the table has the store's key schema and indexes. The mutation tests at the
//! end break the template on purpose to prove each check can fail.

use std::collections::{BTreeMap, BTreeSet};

use keygate::config::{ENV_PEPPER, ENV_PREFIX, ENV_ROUTES, ENV_TABLE};
use keygate::key::KeyPrefix;
use keygate::routes::Operation;
use keygate::store::dynamodb::{INDEX_BY_ORG, INDEX_BY_ORG_STATUS};
use keygate_tests::repo_root;
use serde_yaml::Value;

const AUTHORIZER_BINARY: &str = "authorizer";
const QUERY: &str = "dynamodb:Query";

/// The DynamoDB actions each operation's function uses, and nothing more.
/// Transitions read the item after a refused conditional write, to tell a
/// missing key from a transition that is not allowed.
fn operation_actions(op: Operation) -> &'static [&'static str] {
    match op {
        Operation::CreateKey => &["dynamodb:PutItem"],
        Operation::ListKeys => &[QUERY],
        Operation::GetKey => &["dynamodb:GetItem"],
        Operation::SuspendKey | Operation::ReactivateKey | Operation::RevokeKey => {
            &["dynamodb:GetItem", "dynamodb:UpdateItem"]
        }
        Operation::DeleteKey => &["dynamodb:DeleteItem"],
        Operation::ListScopes => &[],
    }
}

/// `GetItem` for the key, `UpdateItem` for `last_used_at`.
const AUTHORIZER_ACTIONS: &[&str] = &["dynamodb:GetItem", "dynamodb:UpdateItem"];

fn expected_actions(binary: &str) -> Option<BTreeSet<&'static str>> {
    let actions = if binary == AUTHORIZER_BINARY {
        AUTHORIZER_ACTIONS
    } else {
        operation_actions(
            *Operation::ALL
                .iter()
                .find(|op| op.function_name() == binary)?,
        )
    };
    Some(actions.iter().copied().collect())
}

// ---- reading CloudFormation YAML -------------------------------------------

/// The value under a path of mapping keys.
fn at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, key| v.get(key))
}

fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    at(value, path).and_then(Value::as_str)
}

/// An intrinsic function in short (`!GetAtt T.Arn`) or long (`Fn::GetAtt:
/// [T, Arn]`) form, as its name without `!`/`Fn::` and its argument.
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => Some((
            tagged.tag.to_string().trim_start_matches('!').to_owned(),
            &tagged.value,
        )),
        Value::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            let key = key.as_str()?;
            let name = if key == "Ref" {
                key
            } else {
                key.strip_prefix("Fn::")?
            };
            Some((name.to_owned(), argument))
        }
        _ => None,
    }
}

/// The logical id or parameter a `!Ref` names.
fn ref_target(value: &Value) -> Option<&str> {
    match intrinsic(value)? {
        (name, target) if name == "Ref" => target.as_str(),
        _ => None,
    }
}

/// `!GetAtt <id>.Arn` in either form.
fn is_arn_of(value: &Value, logical_id: &str) -> bool {
    match intrinsic(value) {
        Some((name, Value::String(s))) if name == "GetAtt" => s == &format!("{logical_id}.Arn"),
        Some((name, Value::Sequence(parts))) if name == "GetAtt" => {
            parts.len() == 2 && parts[0] == logical_id && parts[1] == "Arn"
        }
        _ => false,
    }
}

/// `!Sub "${<id>.Arn}/index/*"`: every index of the table, not the table.
fn is_index_arn_of(value: &Value, logical_id: &str) -> bool {
    matches!(intrinsic(value), Some((name, Value::String(s)))
        if name == "Sub" && s == &format!("${{{logical_id}.Arn}}/index/*"))
}

/// A scalar or a list of scalars, as a list.
fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        other => vec![other],
    }
}

fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .map(one_or_many)
        .unwrap_or_default()
        .into_iter()
        .filter_map(Value::as_str)
        .collect()
}

fn resources_of<'a>(template: &'a Value, kind: &str) -> Vec<(&'a str, &'a Value)> {
    let Some(Value::Mapping(resources)) = template.get("Resources") else {
        return vec![];
    };
    resources
        .iter()
        .filter(|(_, r)| str_at(r, &["Type"]) == Some(kind))
        .filter_map(|(id, r)| Some((id.as_str()?, r)))
        .collect()
}

/// A parameter's `Default`, when the value is a `!Ref` to a parameter.
fn parameter_default<'a>(template: &'a Value, value: &Value) -> Option<&'a Value> {
    at(template, &["Parameters", ref_target(value)?, "Default"])
}

// ---- the model the checks work on ------------------------------------------

struct Function<'a> {
    id: &'a str,
    binary: &'a str,
    resource: &'a Value,
    /// `(METHOD, /path)` of each `HttpApi` event.
    routes: Vec<(String, String)>,
}

impl Function<'_> {
    fn property(&self, name: &str) -> Option<&Value> {
        at(self.resource, &["Properties", name])
    }

    fn env(&self, name: &str) -> Option<&Value> {
        at(
            self.resource,
            &["Properties", "Environment", "Variables", name],
        )
    }
}

/// Every problem found; empty means the template is in step with the code.
fn problems(template: &Value, binaries: &BTreeSet<String>) -> Vec<String> {
    let mut out = vec![];
    let api = single(template, "AWS::Serverless::HttpApi", &mut out);
    let table = single(template, "AWS::DynamoDB::Table", &mut out);
    let functions = functions(template, api, &mut out);
    check_binaries(&functions, binaries, &mut out);
    check_routes(&functions, &mut out);
    let authorizer = functions.iter().find(|f| f.binary == AUTHORIZER_BINARY);
    match (api, authorizer) {
        (Some(api), Some(authorizer)) => check_authorizer(template, api, authorizer, &mut out),
        (_, None) => out.push(format!(
            "no function builds the `{AUTHORIZER_BINARY}` binary"
        )),
        (None, Some(_)) => {}
    }
    if let Some((table_id, table)) = table {
        check_permissions(&functions, table_id, &mut out);
        check_table(table, &mut out);
        check_environment(template, &functions, table_id, &mut out);
    }
    out
}

fn single<'a>(
    template: &'a Value,
    kind: &str,
    out: &mut Vec<String>,
) -> Option<(&'a str, &'a Value)> {
    let found = resources_of(template, kind);
    if found.len() != 1 {
        out.push(format!(
            "expected exactly one {kind}, found {}",
            found.len()
        ));
    }
    found.into_iter().next()
}

fn functions<'a>(
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
                routes.push((method.to_ascii_uppercase(), path.to_owned()));
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

fn check_binaries(functions: &[Function], binaries: &BTreeSet<String>, out: &mut Vec<String>) {
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

fn check_routes(functions: &[Function], out: &mut Vec<String>) {
    let route_keys: BTreeSet<String> = Operation::ALL
        .iter()
        .map(|op| op.route_key().to_owned())
        .collect();
    for op in Operation::ALL {
        let serving: Vec<&Function> = functions
            .iter()
            .filter(|f| {
                f.routes
                    .iter()
                    .any(|(m, p)| format!("{m} {p}") == op.route_key())
            })
            .collect();
        match serving.as_slice() {
            [f] if f.binary == op.function_name() => {}
            [f] => out.push(format!(
                "{} is served by {} (binary {}), expected binary {}",
                op.route_key(),
                f.id,
                f.binary,
                op.function_name()
            )),
            _ => out.push(format!(
                "{} is served by {} functions, expected exactly one",
                op.route_key(),
                serving.len()
            )),
        }
    }
    for f in functions {
        for (method, path) in &f.routes {
            let key = format!("{method} {path}");
            if !route_keys.contains(&key) {
                out.push(format!(
                    "{}: event {key} is not a keygate management route",
                    f.id
                ));
            }
        }
        let expected_events = usize::from(f.binary != AUTHORIZER_BINARY);
        if f.routes.len() != expected_events {
            out.push(format!(
                "{} ({}) has {} HttpApi events, expected {expected_events}",
                f.id,
                f.binary,
                f.routes.len()
            ));
        }
    }
}

fn check_authorizer(
    template: &Value,
    (api_id, api): (&str, &Value),
    authorizer: &Function,
    out: &mut Vec<String>,
) {
    let Some(name) = str_at(api, &["Properties", "Auth", "DefaultAuthorizer"]) else {
        out.push(format!("{api_id}: no Auth.DefaultAuthorizer"));
        return;
    };
    let Some(config) = at(api, &["Properties", "Auth", "Authorizers", name]) else {
        out.push(format!(
            "{api_id}: default authorizer {name} is not defined"
        ));
        return;
    };
    let mut expect = |what: &str, ok: bool| {
        if !ok {
            out.push(format!("{api_id} authorizer {name}: {what}"));
        }
    };
    expect(
        "FunctionArn is not the authorizer function's ARN",
        config
            .get("FunctionArn")
            .is_some_and(|v| is_arn_of(v, authorizer.id)),
    );
    expect(
        "AuthorizerPayloadFormatVersion is not \"2.0\"",
        config.get("AuthorizerPayloadFormatVersion") == Some(&Value::from("2.0")),
    );
    expect(
        "EnableSimpleResponses is not true",
        config.get("EnableSimpleResponses") == Some(&Value::Bool(true)),
    );
    expect(
        "EnableFunctionDefaultPermissions is not true",
        config.get("EnableFunctionDefaultPermissions") == Some(&Value::Bool(true)),
    );
    let headers = strings(at(config, &["Identity", "Headers"]));
    expect(
        "identity source is not the X-API-Key header",
        matches!(headers.as_slice(), [h] if h.eq_ignore_ascii_case("x-api-key")),
    );
    expect(
        "$context.routeKey is not an identity source, so a cached decision could cross routes",
        strings(at(config, &["Identity", "Context"])).contains(&"routeKey"),
    );
    let ttl = at(config, &["Identity", "ReauthorizeEvery"]);
    let ttl_parameter = ttl.and_then(ref_target);
    expect(
        "ReauthorizeEvery is not a parameter",
        ttl_parameter.is_some(),
    );
    if let Some(parameter) = ttl_parameter {
        let spec = at(template, &["Parameters", parameter]);
        let number = |key: &str| spec.and_then(|s| s.get(key)).and_then(Value::as_u64);
        expect(
            "the cache TTL parameter does not default to 0 (caching off)",
            number("Default") == Some(0),
        );
        expect(
            "the cache TTL parameter is not bounded to 0..=3600",
            number("MinValue") == Some(0) && number("MaxValue").is_some_and(|max| max <= 3600),
        );
    }
}

fn check_permissions(functions: &[Function], table_id: &str, out: &mut Vec<String>) {
    for f in functions {
        if f.property("Role").is_some() {
            out.push(format!(
                "{}: an explicit Role bypasses the checked Policies",
                f.id
            ));
        }
        let mut granted: BTreeSet<&str> = BTreeSet::new();
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
            for statement in one_or_many(statements) {
                if str_at(statement, &["Effect"]) != Some("Allow") {
                    out.push(format!(
                        "{}: policy {n} has a statement that is not Allow",
                        f.id
                    ));
                }
                let resources = statement
                    .get("Resource")
                    .map(one_or_many)
                    .unwrap_or_default();
                for action in strings(statement.get("Action")) {
                    granted.insert(action);
                    let on_right_resource = |r: &&Value| {
                        if action == QUERY {
                            is_index_arn_of(r, table_id)
                        } else {
                            is_arn_of(r, table_id)
                        }
                    };
                    if resources.is_empty() || !resources.iter().all(on_right_resource) {
                        let wanted = if action == QUERY {
                            format!("!Sub \"${{{table_id}.Arn}}/index/*\"")
                        } else {
                            format!("!GetAtt {table_id}.Arn")
                        };
                        out.push(format!(
                            "{}: {action} is granted on something other than {wanted}",
                            f.id
                        ));
                    }
                }
            }
        }
        let Some(expected) = expected_actions(f.binary) else {
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

fn check_table(table: &Value, out: &mut Vec<String>) {
    let props = table.get("Properties").unwrap_or(&Value::Null);
    // A key schema as text, e.g. "org_id HASH, id RANGE".
    let key_schema = |value: Option<&Value>| -> String {
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
    };
    if key_schema(props.get("KeySchema")) != "id HASH" {
        out.push("table: key schema is not `id` (HASH) alone".to_owned());
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
    let expected: BTreeMap<&str, String> = [
        (INDEX_BY_ORG, "org_id"),
        (INDEX_BY_ORG_STATUS, "org_status"),
    ]
    .into_iter()
    .map(|(name, hash)| (name, format!("{hash} HASH, id RANGE, projection ALL")))
    .collect();
    if indexes != expected {
        out.push(format!(
            "table: global secondary indexes are {indexes:?}, expected {expected:?}"
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
    let expected_attributes = BTreeSet::from([("id", "S"), ("org_id", "S"), ("org_status", "S")]);
    if attributes != expected_attributes {
        out.push(format!(
            "table: attributes {attributes:?}, expected {expected_attributes:?}"
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
            out.push(format!("table: {what}"));
        }
    }
}

fn check_environment(
    template: &Value,
    functions: &[Function],
    table_id: &str,
    out: &mut Vec<String>,
) {
    let global = |name: &str| {
        at(
            template,
            &["Globals", "Function", "Environment", "Variables", name],
        )
    };
    if global(ENV_TABLE).and_then(ref_target) != Some(table_id) {
        out.push(format!("Globals: {ENV_TABLE} is not !Ref {table_id}"));
    }
    let prefix_default = global(ENV_PREFIX).and_then(|v| parameter_default(template, v));
    if prefix_default.and_then(Value::as_str) != Some(KeyPrefix::default().as_str()) {
        out.push(format!(
            "Globals: {ENV_PREFIX} is not a parameter defaulting to {:?}",
            KeyPrefix::default().as_str()
        ));
    }
    // The pepper comes from a secret store at deploy time, never from the
    // template itself, and only the functions that hash secrets get it.
    if global(ENV_PEPPER).is_some() {
        out.push(format!(
            "Globals: {ENV_PEPPER} belongs to the functions that hash secrets only"
        ));
    }
    for f in functions {
        let hashes = f.binary == AUTHORIZER_BINARY || f.binary == "create-key";
        match (hashes, f.env(ENV_PEPPER)) {
            (true, Some(value)) => {
                let text = serde_yaml::to_string(value).unwrap_or_default();
                if !(text.contains("{{resolve:secretsmanager:") || text.contains("{{resolve:ssm")) {
                    out.push(format!(
                        "{}: {ENV_PEPPER} is not a Secrets Manager or SSM dynamic reference",
                        f.id
                    ));
                }
            }
            (true, None) => out.push(format!("{}: {ENV_PEPPER} is missing", f.id)),
            (false, Some(_)) => out.push(format!(
                "{}: {ENV_PEPPER} belongs to the functions that hash secrets only",
                f.id
            )),
            (false, None) => {}
        }
    }
    if global(ENV_ROUTES).is_some() {
        out.push(format!(
            "Globals: {ENV_ROUTES} belongs to the authorizer only"
        ));
    }
    for f in functions {
        let routes = f.env(ENV_ROUTES);
        if f.binary != AUTHORIZER_BINARY {
            if routes.is_some() {
                out.push(format!(
                    "{}: {ENV_ROUTES} belongs to the authorizer only",
                    f.id
                ));
            }
            continue;
        }
        let default = routes.and_then(|v| parameter_default(template, v));
        if default != Some(&Value::from("")) {
            out.push(format!(
                "{}: {ENV_ROUTES} is not a parameter defaulting to \"\" (built-in routes)",
                f.id
            ));
        }
    }
}

// ---- the tests ---------------------------------------------------------------

fn template_text() -> String {
    let path = repo_root().join("template.yaml");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn parse(text: &str) -> Value {
    serde_yaml::from_str(text).unwrap_or_else(|e| panic!("template.yaml is not YAML: {e}"))
}

/// The binaries of the keygate-functions crate, from `functions/src/bin/`.
fn binaries() -> BTreeSet<String> {
    let dir = repo_root().join("functions/src/bin");
    std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            (path.extension()? == "rs").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect()
}

#[test]
fn template_is_in_step_with_the_route_table_and_the_binaries() {
    let found = problems(&parse(&template_text()), &binaries());
    assert!(found.is_empty(), "template.yaml:\n  {}", found.join("\n  "));
}

#[test]
fn every_operation_and_the_authorizer_has_a_binary() {
    let binaries = binaries();
    for op in Operation::ALL {
        assert!(
            binaries.contains(op.function_name()),
            "{}",
            op.function_name()
        );
    }
    assert!(binaries.contains(AUTHORIZER_BINARY));
    assert_eq!(binaries.len(), Operation::ALL.len() + 1, "{binaries:?}");
}

/// The problems found after replacing `from` (which must occur exactly once)
/// with `to` in template.yaml.
fn problems_after(from: &str, to: &str) -> Vec<String> {
    let text = template_text();
    assert_eq!(
        text.matches(from).count(),
        1,
        "template.yaml should contain {from:?} exactly once; update this mutation test"
    );
    problems(&parse(&text.replacen(from, to, 1)), &binaries())
}

#[track_caller]
fn assert_flagged(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got {problems:#?}"
    );
}

#[test]
fn a_route_missing_from_the_template_is_caught() {
    let found = problems_after(
        "Path: /v1/api-keys/{id}/revoke",
        "Path: /v1/api-keys/{id}/cancel",
    );
    assert_flagged(
        &found,
        "POST /v1/api-keys/{id}/revoke is served by 0 functions",
    );
    assert_flagged(
        &found,
        "POST /v1/api-keys/{id}/cancel is not a keygate management route",
    );
}

#[test]
fn a_route_served_by_the_wrong_binary_is_caught() {
    let found = problems_after(
        "Method: DELETE\n            Path: /v1/api-keys/{id}",
        "Method: POST\n            Path: /v1/api-keys/{id}/suspend",
    );
    assert_flagged(&found, "DELETE /v1/api-keys/{id} is served by 0 functions");
    assert_flagged(
        &found,
        "POST /v1/api-keys/{id}/suspend is served by 2 functions",
    );
}

#[test]
fn a_binary_without_a_source_file_or_a_function_is_caught() {
    let found = problems_after("Binary: get-key", "Binary: fetch-key");
    assert_flagged(&found, "functions/src/bin/fetch-key.rs does not exist");
    assert_flagged(&found, "functions/src/bin/get-key.rs has no function");

    let mut more = binaries();
    more.insert("rotate-key".to_owned());
    let found = problems(&parse(&template_text()), &more);
    assert_flagged(&found, "functions/src/bin/rotate-key.rs has no function");
}

#[test]
fn extra_dynamodb_actions_are_caught() {
    let found = problems_after(
        "Action: [dynamodb:Query]",
        "Action: [dynamodb:Query, dynamodb:Scan]",
    );
    assert_flagged(&found, "\"dynamodb:Scan\"");

    let found = problems_after(
        "Action: [dynamodb:DeleteItem]\n              Resource: !GetAtt KeysTable.Arn",
        "Action: [dynamodb:DeleteItem]\n              Resource: \"*\"",
    );
    assert_flagged(
        &found,
        "dynamodb:DeleteItem is granted on something other than",
    );
}

#[test]
fn query_outside_the_indexes_is_caught() {
    let found = problems_after(
        "Resource: !Sub \"${KeysTable.Arn}/index/*\"",
        "Resource: !GetAtt KeysTable.Arn",
    );
    assert_flagged(&found, "dynamodb:Query is granted on something other than");
}

#[test]
fn broad_sam_policy_templates_are_caught() {
    let found = problems_after(
        "      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action: [dynamodb:DeleteItem]",
        "      Policies:\n        - DynamoDBCrudPolicy:\n            TableName: !Ref KeysTable\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action: [dynamodb:DeleteItem]",
    );
    assert_flagged(&found, "is not an inline statement");
}

#[test]
fn authorizer_settings_are_checked() {
    let found = problems_after(
        "AuthorizerPayloadFormatVersion: \"2.0\"",
        "AuthorizerPayloadFormatVersion: \"1.0\"",
    );
    assert_flagged(&found, "AuthorizerPayloadFormatVersion");
    let found = problems_after(
        "EnableSimpleResponses: true",
        "EnableSimpleResponses: false",
    );
    assert_flagged(&found, "EnableSimpleResponses");
    let found = problems_after("Headers: [X-API-Key]", "Headers: [Authorization]");
    assert_flagged(&found, "X-API-Key header");
    let found = problems_after("Context: [routeKey]", "Context: []");
    assert_flagged(&found, "$context.routeKey");
    let found = problems_after(
        "    Default: 0\n    MinValue: 0",
        "    Default: 300\n    MinValue: 0",
    );
    assert_flagged(&found, "does not default to 0");
}

#[test]
fn table_design_is_checked() {
    let found = problems_after("IndexName: by-org-status", "IndexName: by-status");
    assert_flagged(&found, "global secondary indexes");
    let found = problems_after("DeletionPolicy: Retain", "DeletionPolicy: Delete");
    assert_flagged(&found, "DeletionPolicy");
}

#[test]
fn a_plain_text_pepper_or_misplaced_routes_are_caught() {
    let create_key_pepper = "Description: keygate POST /v1/api-keys
      Environment:
        Variables:
          # Only the functions that hash secrets get the pepper. Resolved by
          # CloudFormation at deploy time; never a template default.
          KEYGATE_PEPPER: !If
            - HasPepper
            - !Sub \"{{resolve:secretsmanager:${PepperSecretId}:SecretString}}\"";
    let found = problems_after(
        create_key_pepper,
        "Description: keygate POST /v1/api-keys
      Environment:
        Variables:
          KEYGATE_PEPPER: !If
            - HasPepper
            - \"not-a-secret\"",
    );
    assert_flagged(&found, "KEYGATE_PEPPER is not a Secrets Manager");
    let found = problems_after(
        "RUST_LOG: !Ref LogLevel",
        "RUST_LOG: !Ref LogLevel\n        KEYGATE_PEPPER: \"\"",
    );
    assert_flagged(
        &found,
        "KEYGATE_PEPPER belongs to the functions that hash secrets only",
    );
    let found = problems_after(
        "RUST_LOG: !Ref LogLevel",
        "RUST_LOG: !Ref LogLevel\n        KEYGATE_ROUTES: \"\"",
    );
    assert_flagged(&found, "KEYGATE_ROUTES belongs to the authorizer only");
}
