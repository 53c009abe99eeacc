//! `template.yaml` against the code: every route in the route table is served
//! by exactly one function that runs its operation's binary, every binary has
//! a function, the public routes (and only they) skip the authorizer, the
//! authorizer is wired as the documented REQUEST authorizer, the stage is
//! throttled, each function may use only the actions it needs on the
//! resources it needs them on (only the hashing functions may read the
//! pepper; no function may change an audit event), and both tables have the
//! stores' key schemas and indexes. The mutation tests at the end break the
//! template on purpose to prove each check can fail.

use std::collections::{BTreeMap, BTreeSet};

use keygate::domain::key::KeyPrefix;
use keygate::domain::routes::{Operation, Page, keygate_paths};
use keygate::runtime::config::{
    ENV_AUDIT_RETENTION_DAYS, ENV_AUDIT_TABLE, ENV_PEPPER, ENV_PEPPER_SECRET, ENV_PREFIX,
    ENV_ROUTES, ENV_TABLE,
};
use strum::VariantArray;

/// One of keygate's own routes: its route key, the binary serving it, and
/// whether it is public (no authorizer).
#[derive(Clone, Copy)]
struct KeygateRoute {
    key: &'static str,
    binary: &'static str,
    public: bool,
}

impl KeygateRoute {
    fn route_key(&self) -> &'static str {
        self.key
    }
    fn function_name(&self) -> &'static str {
        self.binary
    }
    fn is_public(&self) -> bool {
        self.public
    }
}

/// Every operation's route and every public page's, from the route table.
fn keygate_routes() -> Vec<KeygateRoute> {
    Operation::VARIANTS
        .iter()
        .map(|op| KeygateRoute {
            key: op.route_key(),
            binary: op.function_name(),
            public: false,
        })
        .chain(Page::VARIANTS.iter().map(|page| KeygateRoute {
            key: page.route_key(),
            binary: Page::FUNCTION_NAME,
            public: true,
        }))
        .collect()
}
use keygate::store::dynamodb::{
    EVENT_TTL_ATTRIBUTE, INDEX_BY_ORG, INDEX_BY_ORG_STATUS, INDEX_EVENTS_BY_ACTION,
    INDEX_EVENTS_BY_KEY, INDEX_EVENTS_BY_KEY_ACTION,
};
use keygate_tests::repo_root;
use serde_yaml::Value;

const AUTHORIZER_BINARY: &str = "authorizer";
const PEPPER_PARAMETER: &str = "PepperSecretArn";

/// What a grant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum On {
    Keys,
    KeysIndexes,
    Audit,
    AuditIndexes,
    Pepper,
}

const GET: (&str, On) = ("dynamodb:GetItem", On::Keys);
/// Every change checks, in its transaction, that the calling key is still
/// active with the expiry its request saw.
const CALLER: (&str, On) = ("dynamodb:ConditionCheckItem", On::Keys);
const UPDATE: (&str, On) = ("dynamodb:UpdateItem", On::Keys);
/// Every change's audit event, in the change's transaction.
const EVENT: (&str, On) = ("dynamodb:PutItem", On::Audit);
const PEPPER: (&str, On) = ("secretsmanager:GetSecretValue", On::Pepper);

/// Each function's grants, and nothing more. A change reads the key it is
/// decided on (`GetItem`) and writes conditionally on it; no function may
/// update or delete an audit event; only the functions that hash secrets
/// (the authorizer, create-key, rotate-key) may read the pepper.
fn expected_grants(binary: &str) -> Option<BTreeSet<(&'static str, On)>> {
    let grants: &[(&str, On)] = match binary {
        AUTHORIZER_BINARY => &[GET, UPDATE, PEPPER],
        "create-key" => &[("dynamodb:PutItem", On::Keys), CALLER, EVENT, PEPPER],
        "list-keys" => &[("dynamodb:Query", On::KeysIndexes)],
        "get-key" => &[GET],
        "suspend-key" | "reactivate-key" | "revoke-key" => &[GET, UPDATE, CALLER, EVENT],
        "rotate-key" => &[
            GET,
            UPDATE,
            ("dynamodb:PutItem", On::Keys),
            CALLER,
            EVENT,
            PEPPER,
        ],
        "delete-key" => &[GET, ("dynamodb:DeleteItem", On::Keys), CALLER, EVENT],
        "list-audit-events" => &[
            ("dynamodb:Query", On::Audit),
            ("dynamodb:Query", On::AuditIndexes),
        ],
        "list-scopes" | "console" => &[],
        _ => return None,
    };
    Some(grants.iter().copied().collect())
}

fn hashes(binary: &str) -> bool {
    expected_grants(binary).is_some_and(|g| g.contains(&PEPPER))
}

const CONSOLE_BINARY: &str = "console";

/// The binaries and their routes, from the route table: each operation's
/// route, and the `ANY` route of every keygate path for the console.
fn binaries_and_routes() -> BTreeMap<&'static str, BTreeSet<String>> {
    let mut out: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    out.insert(AUTHORIZER_BINARY, BTreeSet::new());
    for op in keygate_routes() {
        out.entry(op.function_name())
            .or_default()
            .insert(op.route_key().to_owned());
    }
    out.entry(CONSOLE_BINARY)
        .or_default()
        .extend(keygate_paths().into_iter().map(|p| format!("ANY {p}")));
    out
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

struct Route {
    key: String,
    /// `Auth: {Authorizer: NONE}`: served without the authorizer.
    public: bool,
}

struct Function<'a> {
    id: &'a str,
    binary: &'a str,
    resource: &'a Value,
    routes: Vec<Route>,
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

/// The two tables, found through the functions' environment.
struct TableIds<'a> {
    keys: &'a str,
    audit: &'a str,
}

/// Every problem found; empty means the template is in step with the code.
fn problems(template: &Value, binaries: &BTreeSet<String>) -> Vec<String> {
    let mut out = vec![];
    let api = single(template, "AWS::Serverless::HttpApi", &mut out);
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
    if let Some(api) = api {
        check_throttling(template, api, &mut out);
    }
    if let Some(tables) = tables(template, &mut out) {
        check_permissions(&functions, &tables, &mut out);
        check_tables(template, &tables, &mut out);
        check_environment(template, &functions, &mut out);
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

fn global_env<'a>(template: &'a Value, name: &str) -> Option<&'a Value> {
    at(
        template,
        &["Globals", "Function", "Environment", "Variables", name],
    )
}

/// The keys and audit tables: what `TABLE_NAME` and `AUDIT_TABLE_NAME` name,
/// and no other table.
fn tables<'a>(template: &'a Value, out: &mut Vec<String>) -> Option<TableIds<'a>> {
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

/// Each route of the table is served by exactly one function, the one that
/// builds its operation's binary; public routes, and only they, skip the
/// authorizer; no function serves a route outside the table.
fn check_routes(functions: &[Function], out: &mut Vec<String>) {
    for op in keygate_routes() {
        let serving: Vec<(&Function, &Route)> = functions
            .iter()
            .flat_map(|f| f.routes.iter().map(move |r| (f, r)))
            .filter(|(_, r)| r.key == op.route_key())
            .collect();
        match serving.as_slice() {
            [(f, r)] => {
                if f.binary != op.function_name() {
                    out.push(format!(
                        "{} is served by {} (binary {}), expected binary {}",
                        op.route_key(),
                        f.id,
                        f.binary,
                        op.function_name()
                    ));
                }
                if r.public != op.is_public() {
                    out.push(format!(
                        "{} is {} in the template but {} in the route table",
                        op.route_key(),
                        if r.public {
                            "public"
                        } else {
                            "behind the authorizer"
                        },
                        if op.is_public() {
                            "public"
                        } else {
                            "key-protected"
                        },
                    ));
                }
            }
            _ => out.push(format!(
                "{} is served by {} functions, expected exactly one",
                op.route_key(),
                serving.len()
            )),
        }
    }
    // Every keygate path answers other methods with 405: one public `ANY`
    // route each, served by the console function.
    for path in keygate_paths() {
        let key = format!("ANY {path}");
        let serving: Vec<(&Function, &Route)> = functions
            .iter()
            .flat_map(|f| f.routes.iter().map(move |r| (f, r)))
            .filter(|(_, r)| r.key == key)
            .collect();
        match serving.as_slice() {
            [(f, r)] if f.binary == CONSOLE_BINARY && r.public => {}
            _ => out.push(format!(
                "{key} is not served by exactly one public route of the {CONSOLE_BINARY} function"
            )),
        }
    }
    let expected = binaries_and_routes();
    for f in functions {
        let keys: BTreeSet<&str> = f.routes.iter().map(|r| r.key.as_str()).collect();
        for key in &keys {
            let any_route = key
                .strip_prefix("ANY ")
                .is_some_and(|path| keygate_paths().contains(&path));
            if !any_route && !keygate_routes().iter().any(|op| op.route_key() == *key) {
                out.push(format!(
                    "{}: event {key} is not a route of the route table",
                    f.id
                ));
            }
        }
        if let Some(wanted) = expected.get(f.binary)
            && keys.len() != wanted.len()
        {
            out.push(format!(
                "{} ({}) has {} HttpApi events, expected {}",
                f.id,
                f.binary,
                keys.len(),
                wanted.len()
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

/// The stage is throttled by default, with the limits as parameters.
fn check_throttling(template: &Value, (api_id, api): (&str, &Value), out: &mut Vec<String>) {
    for setting in ["ThrottlingRateLimit", "ThrottlingBurstLimit"] {
        let value = at(api, &["Properties", "DefaultRouteSettings", setting]);
        let default = value
            .and_then(|v| parameter_default(template, v))
            .and_then(Value::as_u64);
        if default.is_none_or(|d| d == 0) {
            out.push(format!(
                "{api_id}: DefaultRouteSettings.{setting} is not a parameter with a positive default"
            ));
        }
    }
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

fn check_permissions(functions: &[Function], tables: &TableIds, out: &mut Vec<String>) {
    for f in functions {
        if f.property("Role").is_some() {
            out.push(format!(
                "{}: an explicit Role bypasses the checked Policies",
                f.id
            ));
        }
        let mut granted: BTreeSet<(&str, On)> = BTreeSet::new();
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
                if resources.is_empty() {
                    out.push(format!("{}: a statement names no Resource", f.id));
                }
                for action in strings(statement.get("Action")) {
                    for resource in &resources {
                        let on = if is_arn_of(resource, tables.keys) {
                            Some(On::Keys)
                        } else if is_index_arn_of(resource, tables.keys) {
                            Some(On::KeysIndexes)
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

/// One table against the store's design: key schema, GSIs (`(name, hash
/// key)`, each with sort key `id` and every attribute projected), string
/// attributes, billing, recovery and retention.
fn check_table(
    name: &str,
    table: &Value,
    schema: &str,
    gsis: &[(&str, &str)],
    out: &mut Vec<String>,
) {
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
        .map(|(index, hash)| (*index, format!("{hash} HASH, id RANGE, projection ALL")))
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
        .chain(gsis.iter().map(|(_, hash)| *hash))
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

fn check_tables(template: &Value, tables: &TableIds, out: &mut Vec<String>) {
    let table = |id: &str| at(template, &["Resources", id]).unwrap_or(&Value::Null);
    check_table(
        tables.keys,
        table(tables.keys),
        "id HASH",
        &[
            (INDEX_BY_ORG, "org_id"),
            (INDEX_BY_ORG_STATUS, "org_status"),
        ],
        out,
    );
    let audit = table(tables.audit);
    check_table(
        tables.audit,
        audit,
        "org_id HASH, id RANGE",
        &[
            (INDEX_EVENTS_BY_KEY, "org_key"),
            (INDEX_EVENTS_BY_ACTION, "org_action"),
            (INDEX_EVENTS_BY_KEY_ACTION, "org_key_action"),
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

fn check_environment(template: &Value, functions: &[Function], out: &mut Vec<String>) {
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
    for name in [ENV_PEPPER, ENV_PEPPER_SECRET, ENV_ROUTES] {
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
        "Method: POST\n            Path: /v1/api-keys/{id}/revoke",
        "Method: POST\n            Path: /v1/api-keys/{id}/cancel",
    );
    assert_flagged(
        &found,
        "POST /v1/api-keys/{id}/revoke is served by 0 functions",
    );
    assert_flagged(
        &found,
        "POST /v1/api-keys/{id}/cancel is not a route of the route table",
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
    more.insert("export-keys".to_owned());
    let found = problems(&parse(&template_text()), &more);
    assert_flagged(&found, "functions/src/bin/export-keys.rs has no function");
}

/// The public routes skip the authorizer, and nothing else does.
#[test]
fn only_the_public_routes_skip_the_authorizer() {
    let found = problems_after(
        "            Method: GET\n            Path: /openapi.json\n            Auth:\n              Authorizer: NONE\n",
        "            Method: GET\n            Path: /openapi.json\n",
    );
    assert_flagged(
        &found,
        "GET /openapi.json is behind the authorizer in the template but public",
    );
    let found = problems_after(
        "            Method: POST\n            Path: /v1/api-keys/{id}/rotate\n",
        "            Method: POST\n            Path: /v1/api-keys/{id}/rotate\n            Auth:\n              Authorizer: NONE\n",
    );
    assert_flagged(
        &found,
        "POST /v1/api-keys/{id}/rotate is public in the template but key-protected",
    );
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
        "Action: [dynamodb:GetItem, dynamodb:DeleteItem, dynamodb:ConditionCheckItem]\n              Resource: !GetAtt KeysTable.Arn\n            # Append-only: the change's audit event, in the same transaction.\n            - Effect: Allow\n              Action: [dynamodb:PutItem]",
        "Action: [dynamodb:GetItem, dynamodb:DeleteItem, dynamodb:ConditionCheckItem]\n              Resource: !GetAtt KeysTable.Arn\n            # Append-only: the change's audit event, in the same transaction.\n            - Effect: Allow\n              Action: [dynamodb:PutItem, dynamodb:DeleteItem]",
    );
    assert_flagged(&found, "DeleteKeyFunction (delete-key): grants");
    let found = problems_after(
        "Action: [dynamodb:GetItem]\n              Resource: !GetAtt KeysTable.Arn\n\n  SuspendKeyFunction:",
        "Action: [dynamodb:GetItem, dynamodb:Query]\n              Resource: !GetAtt KeysTable.Arn\n            - Effect: Allow\n              Action: [dynamodb:Query]\n              Resource: !GetAtt AuditTable.Arn\n\n  SuspendKeyFunction:",
    );
    assert_flagged(&found, "GetKeyFunction (get-key): grants");
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
        "    Default: 0\n    MinValue: 0\n    MaxValue: 3600",
        "    Default: 300\n    MinValue: 0\n    MaxValue: 3600",
    );
    assert_flagged(&found, "does not default to 0");
}

/// A keygate path without its 405 route is caught.
#[test]
fn every_keygate_path_answers_other_methods_with_405() {
    let found = problems_after(
        "            Method: ANY\n            Path: /v1/audit-events\n",
        "            Method: ANY\n            Path: /v1/audit-events/extra\n",
    );
    assert_flagged(
        &found,
        "ANY /v1/audit-events is not served by exactly one public route of the console function",
    );
    assert_flagged(&found, "event ANY /v1/audit-events/extra is not a route");
}

/// The stage is throttled by default: a stage without its rate limit is
/// caught.
#[test]
fn throttling_is_checked() {
    let found = problems_after(
        "        ThrottlingRateLimit: !Ref ApiThrottlingRateLimit\n",
        "",
    );
    assert_flagged(&found, "DefaultRouteSettings.ThrottlingRateLimit");
}

#[test]
fn table_design_is_checked() {
    let found = problems_after("IndexName: by-org-status", "IndexName: by-status");
    assert_flagged(&found, "global secondary indexes");
    let found = problems_after("IndexName: by-key-action", "IndexName: by-both");
    assert_flagged(&found, "AuditTable: global secondary indexes");
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
        "Action: [dynamodb:GetItem]\n              Resource: !GetAtt KeysTable.Arn\n\n  SuspendKeyFunction:",
        "Action: [dynamodb:GetItem]\n              Resource: !GetAtt KeysTable.Arn\n            - Effect: Allow\n              Action: [secretsmanager:GetSecretValue]\n              Resource: !Ref PepperSecretArn\n\n  SuspendKeyFunction:",
    );
    assert_flagged(
        &found,
        "GetKeyFunction: the pepper grant is not under !If HasPepper",
    );
    assert_flagged(&found, "GetKeyFunction (get-key): grants");
    let found = problems_after(
        "RUST_LOG: !Ref LogLevel",
        "RUST_LOG: !Ref LogLevel\n        KEYGATE_ROUTES: \"\"",
    );
    assert_flagged(
        &found,
        "Globals: KEYGATE_ROUTES belongs to particular functions only",
    );
}
