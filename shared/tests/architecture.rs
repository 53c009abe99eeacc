//! The library's architecture, checked on its source: five layers, each
//! using only the layers before it (domain ← store ← app ← http ← runtime),
//! no AWS, Lambda or redb in the domain, and no import cycle between files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LAYERS: [&str; 5] = ["domain", "store", "app", "http", "runtime"];

/// Crates a layer may not name: the domain knows no AWS, Lambda, HTTP
/// framework or storage engine; the store and the app know no HTTP.
fn forbidden_crates(layer: &str) -> &'static [&'static str] {
    match layer {
        "domain" => &[
            "aws_config",
            "aws_sdk_dynamodb",
            "aws_sdk_secretsmanager",
            "aws_lambda_events",
            "lambda_http",
            "lambda_runtime",
            "redb",
            "hyper",
            "schemars",
        ],
        "store" | "app" => &[
            "lambda_http",
            "lambda_runtime",
            "aws_lambda_events",
            "schemars",
        ],
        _ => &[],
    }
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/`, with its module path (`http::handlers::keys`).
fn modules() -> BTreeMap<String, (PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = vec![];
    walk(&src(), &mut files);
    files
        .into_iter()
        .map(|path| {
            let relative = path
                .strip_prefix(src())
                .expect("under src/")
                .with_extension("");
            let mut parts: Vec<String> = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
                parts.pop();
            }
            let text = std::fs::read_to_string(&path).expect("readable");
            (parts.join("::"), (path, text))
        })
        .collect()
}

/// The text without `//` comments (so a doc link is not an import) and
/// without the `#[cfg(test)]` module at the end of a file (tests may reach
/// anywhere).
fn code_of(text: &str) -> String {
    let body = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    body.lines()
        .map(|line| match line.find("//") {
            Some(i) if !line[..i].contains('"') => &line[..i],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a file names: `crate::a::b::…` and `super::…` paths, resolved
/// to the longest module path that exists; and the external crates it names.
fn references(
    module: &str,
    code: &str,
    known: &BTreeSet<String>,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut modules = BTreeSet::new();
    let mut crates = BTreeSet::new();
    // A file's own module path; `super` from a `mod.rs` is its parent's.
    let base: Vec<&str> = if module.is_empty() {
        vec![]
    } else {
        module.split("::").collect()
    };
    let tokens: Vec<&str> = code
        .split(|c: char| !(is_ident(c) || c == ':'))
        .filter(|t| t.contains("::"))
        .collect();
    for token in tokens {
        let parts: Vec<&str> = token.split("::").filter(|p| !p.is_empty()).collect();
        let (mut path, rest): (Vec<&str>, &[&str]) = match parts.first() {
            Some(&"crate") => (vec![], &parts[1..]),
            Some(&"super") => {
                let mut path = base.clone();
                let mut rest = &parts[..];
                while rest.first() == Some(&"super") {
                    path.pop();
                    rest = &rest[1..];
                }
                (path, rest)
            }
            Some(&"self") => (base.clone(), &parts[1..]),
            Some(first) => {
                crates.insert((*first).to_owned());
                continue;
            }
            None => continue,
        };
        let mut found = None;
        for part in rest {
            path.push(part);
            let joined = path.join("::");
            if known.contains(&joined) {
                found = Some(joined);
            }
        }
        if let Some(found) = found
            && found != module
        {
            modules.insert(found);
        }
    }
    (modules, crates)
}

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next().unwrap_or("");
    LAYERS.iter().position(|l| *l == top)
}

#[test]
fn no_module_uses_a_layer_above_its_own_or_a_crate_its_layer_may_not() {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    assert!(
        LAYERS.iter().all(|l| known.contains(*l)),
        "every layer is a module: {known:?}"
    );
    let mut found = vec![];
    for (module, (path, text)) in &modules {
        let Some(layer) = layer_of(module) else {
            continue; // the crate root
        };
        let (uses, crates) = references(module, &code_of(text), &known);
        for used in uses {
            if let Some(used_layer) = layer_of(&used)
                && used_layer > layer
            {
                found.push(format!(
                    "{} ({}) uses {used} ({})",
                    path.display(),
                    LAYERS[layer],
                    LAYERS[used_layer]
                ));
            }
        }
        for name in forbidden_crates(LAYERS[layer]) {
            if crates.contains(*name) {
                found.push(format!(
                    "{} ({}) names {name}",
                    path.display(),
                    LAYERS[layer]
                ));
            }
        }
    }
    assert!(
        found.is_empty(),
        "layering broken:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn no_two_files_import_each_other_even_through_others() {
    let modules = modules();
    let known: BTreeSet<String> = modules.keys().cloned().collect();
    let graph: BTreeMap<&str, BTreeSet<String>> = modules
        .iter()
        .map(|(module, (_, text))| {
            let (uses, _) = references(module, &code_of(text), &known);
            // A module's own children are its parts, not its dependencies;
            // a child naming its parent's items is the usual Rust layout.
            let uses = uses
                .into_iter()
                .filter(|u| {
                    !u.starts_with(&format!("{module}::")) && !module.starts_with(&format!("{u}::"))
                })
                .collect();
            (module.as_str(), uses)
        })
        .collect();
    // Depth-first search for a back edge.
    fn visit<'a>(
        node: &'a str,
        graph: &'a BTreeMap<&'a str, BTreeSet<String>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| *n == node) {
            let mut cycle: Vec<String> = stack[i..].iter().map(|s| (*s).to_owned()).collect();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node) {
            return None;
        }
        stack.push(node);
        for next in graph.get(node).into_iter().flatten() {
            if let Some((key, _)) = graph.get_key_value(next.as_str())
                && let Some(cycle) = visit(key, graph, stack, done)
            {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        let cycle = visit(node, &graph, &mut vec![], &mut done);
        assert!(
            cycle.is_none(),
            "import cycle: {}",
            cycle.unwrap_or_default().join(" → ")
        );
    }
}

#[test]
fn the_checker_sees_an_upward_import_and_a_cycle() {
    // The checker itself must not be blind: a made-up domain file naming the
    // http layer is caught, and a made-up pair of files naming each other is
    // a cycle.
    let known: BTreeSet<String> = [
        "domain",
        "domain::key",
        "http",
        "http::error",
        "http::views",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    let (uses, _) = references("domain::key", "use crate::http::error::ApiError;", &known);
    assert_eq!(uses, BTreeSet::from(["http::error".to_owned()]));
    let (uses, crates) = references(
        "http::views",
        "use super::error::X; use lambda_http::Body;",
        &known,
    );
    assert_eq!(uses, BTreeSet::from(["http::error".to_owned()]));
    assert!(crates.contains("lambda_http"));
    assert_eq!(code_of("let a = 1; // crate::http::x\n"), "let a = 1; ");
}
