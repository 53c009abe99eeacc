//! `template.yaml` against the code, one module per part of the template:
//! its functions and the binaries they run, the routes, the authorizer, the
//! stage's throttling, each function's permissions, the tables, and the
//! functions' environment. Each module has its check, which adds what it
//! finds to a list of problems, and its mutation tests, which break the
//! template on purpose to prove the check can fail; here are what they
//! share: the route table's expectations, readers of CloudFormation YAML,
//! the model the checks work on, and the test that the real template has no
//! problem at all.

use std::collections::{BTreeMap, BTreeSet};

use keygate::domain::routes::{Operation, Page, keygate_paths};
use keygate_tests::repo_root;
use serde_yaml::Value;
use strum::VariantArray;

mod authorizer;
mod environment;
mod functions;
mod iam;
mod routes;
mod tables;
mod throttling;

// ---- what the route table expects ------------------------------------------

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

const AUTHORIZER_BINARY: &str = "authorizer";

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

const PEPPER_PARAMETER: &str = "PepperSecretArn";

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
    let functions = functions::read(template, api, &mut out);
    functions::check_binaries(&functions, binaries, &mut out);
    routes::check_routes(&functions, &mut out);
    let authorizer = functions.iter().find(|f| f.binary == AUTHORIZER_BINARY);
    match (api, authorizer) {
        (Some(api), Some(authorizer)) => {
            authorizer::check_authorizer(template, api, authorizer, &mut out)
        }
        (_, None) => out.push(format!(
            "no function builds the `{AUTHORIZER_BINARY}` binary"
        )),
        (None, Some(_)) => {}
    }
    if let Some(api) = api {
        throttling::check_throttling(template, api, &mut out);
    }
    if let Some(tables) = tables::find(template, &mut out) {
        iam::check_permissions(&functions, &tables, &mut out);
        tables::check_tables(template, &tables, &mut out);
        environment::check_environment(template, &functions, &mut out);
    }
    out
}

// ---- the template, the binaries, and mutations of the template -------------

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
fn template_is_in_step_with_the_route_table_and_the_binaries() {
    let found = problems(&parse(&template_text()), &binaries());
    assert!(found.is_empty(), "template.yaml:\n  {}", found.join("\n  "));
}
