//! `keygate serve --upstream`: the deployer's own backend behind the local
//! gateway. Allowed requests on the deployer's routes reach it with the
//! caller as API Gateway hands it over (`X-Keygate-*` headers for a web
//! server, `requestContext.authorizer.lambda` for a Lambda function); denied
//! ones never do; a backend that is down or slow gets API Gateway's 502/504.
//! The last test runs the example in `examples/orders-api/` as its README
//! says: its backend under AWS's Lambda Runtime Interface Emulator, keygate
//! in front with the example's catalog.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use keygate::http::context::AuthorizerContext;
use serde_json::{Value, json};

use crate::common::{KEYGATE, Server};

/// A request as a stand-in backend received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query.
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

type Answer = hyper::Response<Full<Bytes>>;

/// A backend on a free loopback port, in a thread of its own, that records
/// every request and answers each with `answer`.
struct Backend {
    addr: std::net::SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Backend {
    fn start(answer: impl Fn(&Seen) -> Answer + Send + Sync + 'static) -> Backend {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&seen);
        let answer = Arc::new(answer);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                while let Ok((stream, _)) = listener.accept().await {
                    let recorded = Arc::clone(&recorded);
                    let answer = Arc::clone(&answer);
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let recorded = Arc::clone(&recorded);
                            let answer = Arc::clone(&answer);
                            async move {
                                let (parts, body) = request.into_parts();
                                let body = body.collect().await.map(|b| b.to_bytes().to_vec());
                                let seen = Seen {
                                    method: parts.method.to_string(),
                                    target: parts.uri.to_string(),
                                    headers: parts
                                        .headers
                                        .iter()
                                        .map(|(n, v)| {
                                            (
                                                n.to_string(),
                                                String::from_utf8_lossy(v.as_bytes()).into(),
                                            )
                                        })
                                        .collect(),
                                    body: body.unwrap_or_default(),
                                };
                                let response = answer(&seen);
                                recorded.lock().unwrap().push(seen);
                                Ok::<_, Infallible>(response)
                            }
                        });
                    tokio::spawn(
                        http1::Builder::new().serve_connection(TokioIo::new(stream), service),
                    );
                }
            });
        });
        Backend { addr, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A port on which nothing listens (bound, then released).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `keygate serve --upstream <upstream>` on a fresh store, plus `args`.
fn serve_with(data: &Path, upstream: &str, args: &[&str]) -> Server {
    let mut command = Command::new(KEYGATE);
    command
        .args(["serve", "--port", "0", "--upstream", upstream, "--data"])
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn");
    Server::spawn(command)
}

/// An HTTP answer with its headers.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// `method url` with `headers` and `body`, following no redirect.
fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let sent = match body {
        Some(body) => agent.run(request.body(body.to_vec()).unwrap()),
        None => agent.run(request.body(()).unwrap()),
    };
    let mut response = sent.expect("request");
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or_default().to_owned()))
        .collect();
    Reply {
        status: response.status().as_u16(),
        headers,
        body: response.body_mut().read_to_vec().expect("body"),
    }
}

/// Create a key with `permissions` as `root`; its record and the full key.
fn create_key(server: &Server, root: &str, name: &str, permissions: Value) -> (Value, String) {
    let body = json!({"name": name, "key_type": "service", "permissions": permissions});
    let created = call(
        "POST",
        &format!("{}/v1/api-keys", server.url),
        &[("x-api-key", root), ("content-type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(created.status, 201, "{}", created.json());
    let record = created.json();
    let key = record["key"].as_str().unwrap().to_owned();
    (record, key)
}

/// The authorizer's context for the key whose record is `record`: what the
/// backend must be told, field for field.
fn context_of(record: &Value) -> BTreeMap<String, String> {
    let scopes = record["scopes"].as_array().unwrap();
    let context = AuthorizerContext {
        org_id: record["org_id"].as_str().unwrap().to_owned(),
        key_id: record["id"].as_str().unwrap().to_owned(),
        key_type: record["key_type"].as_str().unwrap().to_owned(),
        name: record["name"].as_str().unwrap().to_owned(),
        owner: record["owner"].as_str().unwrap_or_default().to_owned(),
        scopes: scopes
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(" "),
        hint: record["hint"].as_str().unwrap().to_owned(),
        expires_at: record["expires_at"].as_str().unwrap_or_default().to_owned(),
        ..AuthorizerContext::default()
    };
    serde_json::from_value(serde_json::to_value(context).unwrap()).unwrap()
}

fn echo(seen: &Seen) -> Answer {
    let body = json!({"method": seen.method, "target": seen.target});
    hyper::Response::builder()
        .status(201)
        .header("content-type", "application/json")
        .header("x-from", "backend")
        .header("set-cookie", "a=1")
        .header("set-cookie", "b=2")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

#[test]
fn a_web_backend_gets_the_request_and_the_caller_but_never_the_key() {
    let backend = Backend::start(echo);
    let data = tempfile::tempdir().unwrap();
    let upstream = format!("http://{}/base", backend.addr);
    let server = serve_with(data.path(), &upstream, &[]);
    assert!(
        server
            .printed
            .contains(&format!("keygate: your routes → {upstream}")),
        "{:?}",
        server.printed
    );
    let root = server.first_key.clone().unwrap();
    let (record, reader) = create_key(&server, &root, "reader", json!(["runs:read"]));

    // Allowed: method, path, query, headers and body arrive; the key does
    // not, and a context header the client made up is replaced.
    let reply = call(
        "GET",
        &format!("{}/v1/runs?status=open&tag=a&tag=b", server.url),
        &[
            ("x-api-key", &reader),
            ("x-keygate-org-id", "someone-else"),
            ("x-keygate-admin", "true"),
            ("accept", "application/json"),
        ],
        None,
    );
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.all("x-from"), ["backend"]);
    assert_eq!(reply.all("set-cookie"), ["a=1", "b=2"]);
    assert_eq!(
        reply.json(),
        json!({"method": "GET", "target": "/base/v1/runs?status=open&tag=a&tag=b"})
    );
    let seen = backend.seen();
    assert_eq!(seen.len(), 1);
    let request = &seen[0];
    assert_eq!(request.header("x-api-key"), None);
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(
        request.header("host"),
        Some(backend.addr.to_string().as_str())
    );
    let sent: BTreeMap<String, String> = request
        .headers
        .iter()
        .filter_map(|(name, value)| {
            let field = name.strip_prefix("x-keygate-")?;
            Some((field.replace('-', "_"), value.clone()))
        })
        .collect();
    assert_eq!(sent, context_of(&record), "one header per context field");
    assert_eq!(sent["org_id"], "default");

    // A body passes through as it came.
    let (writer_record, writer) = create_key(&server, &root, "writer", json!(["runs:write"]));
    let payload = [0u8, 159, 146, 150, 1, 2];
    let reply = call(
        "POST",
        &format!("{}/v1/runs", server.url),
        &[
            ("x-api-key", &writer),
            ("content-type", "application/octet-stream"),
        ],
        Some(&payload),
    );
    assert_eq!(reply.status, 201);
    let seen = backend.seen();
    assert_eq!(seen[1].method, "POST");
    assert_eq!(seen[1].body, payload);
    assert_eq!(
        seen[1].header("x-keygate-key-id"),
        writer_record["id"].as_str()
    );

    // Denied or without a key: the gateway answers, the backend never hears of it.
    let denied = call(
        "POST",
        &format!("{}/v1/runs", server.url),
        &[("x-api-key", &reader)],
        Some(b"{}"),
    );
    assert_eq!(
        (denied.status, denied.json()),
        (403, json!({"message": "Forbidden"}))
    );
    let keyless = call("GET", &format!("{}/v1/runs", server.url), &[], None);
    assert_eq!(
        (keyless.status, keyless.json()),
        (401, json!({"message": "Unauthorized"}))
    );
    assert_eq!(backend.seen().len(), 2, "only the two allowed requests");

    // keygate's own routes are keygate's, upstream or not.
    let scopes = call(
        "GET",
        &format!("{}/v1/scopes", server.url),
        &[("x-api-key", &reader)],
        None,
    );
    assert_eq!(scopes.status, 200);
    assert_eq!(backend.seen().len(), 2);
    server.stop();
}

#[test]
fn a_lambda_backend_gets_the_payload_2_0_event_and_its_answer_is_passed_on() {
    let function = Backend::start(|seen| {
        let event: Value = serde_json::from_slice(&seen.body).unwrap();
        let output = if event["rawPath"] == "/v1/runs/broken" {
            json!({"errorType": "Panic", "errorMessage": "the function failed"})
        } else {
            json!({
                "statusCode": 202,
                "headers": {"content-type": "text/plain", "x-from": "function"},
                "cookies": ["a=1", "b=2; Path=/"],
                "body": "aGVsbG8=",
                "isBase64Encoded": true,
            })
        };
        hyper::Response::new(Full::new(Bytes::from(output.to_string())))
    });
    let data = tempfile::tempdir().unwrap();
    let upstream = format!("lambda+http://{}", function.addr);
    let server = serve_with(data.path(), &upstream, &[]);
    let root = server.first_key.clone().unwrap();
    let (record, writer) = create_key(&server, &root, "writer", json!(["runs:write"]));

    let reply = call(
        "POST",
        &format!("{}/v1/runs?x=1&x=2", server.url),
        &[
            ("x-api-key", &writer),
            ("content-type", "application/json"),
            ("cookie", "session=s1; theme=dark"),
        ],
        Some(br#"{"agent":"a1"}"#),
    );
    assert_eq!(reply.status, 202);
    assert_eq!(reply.all("x-from"), ["function"]);
    assert_eq!(reply.all("set-cookie"), ["a=1", "b=2; Path=/"]);
    assert_eq!(reply.body, b"hello");

    let seen = function.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        (seen[0].method.as_str(), seen[0].target.as_str()),
        ("POST", "/2015-03-31/functions/function/invocations")
    );
    let event: Value = serde_json::from_slice(&seen[0].body).unwrap();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "POST /v1/runs");
    assert_eq!(event["rawPath"], "/v1/runs");
    assert_eq!(event["rawQueryString"], "x=1&x=2");
    assert_eq!(event["queryStringParameters"], json!({"x": "1,2"}));
    assert_eq!(event["cookies"], json!(["session=s1", "theme=dark"]));
    assert_eq!(event["body"], r#"{"agent":"a1"}"#);
    assert_eq!(event["isBase64Encoded"], false);
    assert_eq!(event["requestContext"]["routeKey"], "POST /v1/runs");
    assert_eq!(event["requestContext"]["http"]["method"], "POST");
    let lambda: BTreeMap<String, String> =
        serde_json::from_value(event["requestContext"]["authorizer"]["lambda"].clone()).unwrap();
    assert_eq!(lambda, context_of(&record));

    // A function that fails is API Gateway's 500, not its error text.
    let failed = call(
        "PATCH",
        &format!("{}/v1/runs/broken", server.url),
        &[("x-api-key", &writer)],
        Some(b"{}"),
    );
    assert_eq!(
        (failed.status, failed.json()),
        (500, json!({"message": "Internal Server Error"}))
    );
    server.stop();
}

#[test]
fn a_backend_down_is_a_502_a_hung_one_a_504_and_a_body_over_10_mb_a_413() {
    let data = tempfile::tempdir().unwrap();
    let down = format!("http://127.0.0.1:{}", closed_port());
    let server = serve_with(data.path(), &down, &[]);
    let root = server.first_key.clone().unwrap();
    let runs = format!("{}/v1/runs", server.url);
    let reply = call("GET", &runs, &[("x-api-key", &root)], None);
    assert_eq!(
        (reply.status, reply.json()),
        (502, json!({"message": "Bad Gateway"}))
    );
    // A body over API Gateway's 10 MB is its 413, before any backend.
    let mut body = vec![b'x'; 10 * 1024 * 1024];
    let reply = call("POST", &runs, &[("x-api-key", &root)], Some(&body));
    assert_eq!(reply.status, 502, "10 MB pass");
    body.push(b'x');
    let reply = call("POST", &runs, &[("x-api-key", &root)], Some(&body));
    assert_eq!(
        (reply.status, reply.json()),
        (413, json!({"message": "Request Entity Too Large"}))
    );
    server.stop();

    // Accepts connections and never answers.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hung = format!("lambda+http://{}", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let mut connections = vec![];
        while let Ok((stream, _)) = listener.accept() {
            connections.push(stream);
        }
    });
    let server = serve_with(data.path(), &hung, &[]);
    let started = Instant::now();
    let runs = format!("{}/v1/runs", server.url);
    let reply = call("GET", &runs, &[("x-api-key", &root)], None);
    let waited = started.elapsed();
    assert_eq!(
        (reply.status, reply.json()),
        (504, json!({"message": "Endpoint request timed out"}))
    );
    assert!(
        (Duration::from_secs(10)..Duration::from_secs(20)).contains(&waited),
        "answered after {waited:?}"
    );
    server.stop();
    drop(held);
}

#[test]
fn an_upstream_must_be_on_this_machine() {
    for (upstream, says) in [
        ("http://10.0.0.8:3000", "not a loopback address"),
        ("http://0.0.0.0:3000", "not a loopback address"),
        ("https://127.0.0.1:3000", "not an upstream URL"),
        ("127.0.0.1:3000", "not an upstream URL"),
        ("lambda+http://127.0.0.1:9001/2015-03-31", "has no path"),
        ("http://user@127.0.0.1:3000", "user name"),
        ("http://127.0.0.1:3000/?a=1", "query"),
    ] {
        let data = tempfile::tempdir().unwrap();
        let out = Command::new(KEYGATE)
            .args(["serve", "--port", "0", "--upstream", upstream, "--data"])
            .arg(data.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{upstream}: {stderr}");
        assert!(stderr.contains(says), "{upstream}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing served, no key minted");
    }
}

/// The example's `orders` Lambda binary, built by cargo with the
/// workspace's features (after `cargo test --workspace` that only links it).
fn orders_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut command = Command::new(cargo);
        // Without what cargo sets for a test and never for a build: a build
        // script that watches one (ring watches CARGO_MANIFEST_DIR) would
        // rebuild its crate here, and the next `cargo test` rebuild it again.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
                || name.starts_with("CARGO_BIN_")
                || [
                    "CARGO_MANIFEST_DIR",
                    "CARGO_MANIFEST_PATH",
                    "CARGO_CRATE_NAME",
                    "CARGO_PRIMARY_PACKAGE",
                    "CARGO_TARGET_TMPDIR",
                    "CARGO_RUSTC_CURRENT_DIR",
                ]
                .contains(&name.as_ref())
            {
                command.env_remove(name.as_ref());
            }
        }
        let out = command
            .args([
                "build",
                "--workspace",
                "--bin",
                "orders",
                "--message-format=json-render-diagnostics",
            ])
            .current_dir(keygate_tests::repo_root())
            .output()
            .expect("run cargo");
        assert!(
            out.status.success(),
            "building the example: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "orders")
            .find_map(|m| m["executable"].as_str().map(PathBuf::from))
            .expect("cargo names the orders executable")
    })
}

/// A full-access key for a new organization `org`, minted into `data`.
fn bootstrap(data: &Path, org: &str) -> String {
    let out = Command::new(KEYGATE)
        .args(["bootstrap", "--org", org, "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// How many invocations the emulator has started so far.
fn invocations(rie: &keygate_tests::rie::Rie) -> usize {
    rie.output().matches("START RequestId").count()
}

/// examples/orders-api as its README runs it: the backend under the
/// emulator, keygate in front with the example's catalog, keys created
/// through keygate's API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_example_runs_behind_keygate_serve() {
    let rie = keygate_tests::rie::Rie::start(orders_binary(), &[]).await;
    let data = tempfile::tempdir().unwrap();
    let acme_root = bootstrap(data.path(), "acme");
    let globex_root = bootstrap(data.path(), "globex");
    let catalog = keygate_tests::repo_root().join("examples/orders-api/keygate.toml");
    let server = serve_with(
        data.path(),
        &format!("lambda+http://{}", rie.invoke_addr),
        &["--catalog", catalog.to_str().unwrap()],
    );
    let (_, reader) = create_key(&server, &acme_root, "dashboard", json!(["orders:read"]));
    let (_, shop) = create_key(&server, &acme_root, "shop", json!({"preset": "storefront"}));
    let (_, globex) = create_key(&server, &globex_root, "globex", json!(["orders:read"]));
    let orders = format!("{}/orders", server.url);
    let json_body = ("content-type", "application/json");

    let placed = call(
        "POST",
        &orders,
        &[("x-api-key", &shop), json_body],
        Some(br#"{"item":"anvil","quantity":2}"#),
    );
    assert_eq!(
        placed.status,
        201,
        "{}",
        String::from_utf8_lossy(&placed.body)
    );
    let order = placed.json();
    let id = order["id"].as_str().unwrap().to_owned();

    // orders:read lists acme's orders: the backend saw the caller's org.
    let listed = call("GET", &orders, &[("x-api-key", &reader)], None);
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json(), json!({"org_id": "acme", "data": [order]}));

    // orders:read cannot place an order: the gateway's 403, and the
    // function is not invoked at all.
    let before = invocations(&rie);
    let denied = call(
        "POST",
        &orders,
        &[("x-api-key", &reader), json_body],
        Some(br#"{"item":"sneaky","quantity":1}"#),
    );
    assert_eq!(
        (denied.status, denied.json()),
        (403, json!({"message": "Forbidden"}))
    );
    let keyless = call("GET", &orders, &[], None);
    assert_eq!(
        (keyless.status, keyless.json()),
        (401, json!({"message": "Unauthorized"}))
    );
    assert_eq!(
        invocations(&rie),
        before,
        "no invocation for a refused request"
    );
    let listed = call("GET", &orders, &[("x-api-key", &reader)], None);
    assert_eq!(listed.json()["data"].as_array().unwrap().len(), 1);

    // Another organization's order is the backend's 404 (not the gateway's).
    let item = format!("{orders}/{id}");
    assert_eq!(
        call("GET", &item, &[("x-api-key", &reader)], None).status,
        200
    );
    let theirs = call("GET", &item, &[("x-api-key", &globex)], None);
    assert_eq!(theirs.status, 404);
    assert_eq!(theirs.json()["error"]["code"], "not_found");
    let empty = call("GET", &orders, &[("x-api-key", &globex)], None);
    assert_eq!(empty.json(), json!({"org_id": "globex", "data": []}));

    // "any": every valid key; a route outside the catalog: the gateway's 404.
    let health = call(
        "GET",
        &format!("{}/health", server.url),
        &[("x-api-key", &globex)],
        None,
    );
    assert_eq!(health.json(), json!({"status": "ok", "org_id": "globex"}));
    let unknown = call("DELETE", &item, &[("x-api-key", &acme_root)], None);
    assert_eq!(
        (unknown.status, unknown.json()),
        (404, json!({"message": "Not Found"}))
    );
    server.stop();
    rie.stop().await;
}

/// keygate serve in `defer` mode in front of the example's backend, as the
/// stack with LimitMode=defer: a request over its key's limit reaches the
/// backend with the limit in its context, and the backend's few lines answer
/// it 429 with Retry-After and the RateLimit fields; within the limit, the
/// backend's answers carry the RateLimit fields too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_orders_example_answers_429_over_a_keys_limit_in_defer_mode() {
    let rie = keygate_tests::rie::Rie::start(orders_binary(), &[]).await;
    let data = tempfile::tempdir().unwrap();
    let root = bootstrap(data.path(), "acme");
    let catalog = keygate_tests::repo_root().join("examples/orders-api/keygate.toml");
    let server = serve_with(
        data.path(),
        &format!("lambda+http://{}", rie.invoke_addr),
        &[
            "--catalog",
            catalog.to_str().unwrap(),
            "--limit-mode",
            "defer",
        ],
    );
    let body = json!({"name": "metered", "key_type": "service", "permissions": ["orders:read"],
        "limits": {"quota": {"requests": 2, "period": "day"}}});
    let created = call(
        "POST",
        &format!("{}/v1/api-keys", server.url),
        &[("x-api-key", &root), ("content-type", "application/json")],
        Some(body.to_string().as_bytes()),
    );
    assert_eq!(created.status, 201, "{}", created.json());
    let key = created.json()["key"].as_str().unwrap().to_owned();
    let orders = format!("{}/orders", server.url);
    for left in [1, 0] {
        let listed = call("GET", &orders, &[("x-api-key", &key)], None);
        assert_eq!(listed.status, 200);
        assert_eq!(listed.all("ratelimit-policy"), [r#""quota";q=2;w=86400"#]);
        assert!(
            listed.all("ratelimit")[0].starts_with(&format!("\"quota\";r={left};t=")),
            "{:?}",
            listed.all("ratelimit")
        );
    }
    let before = invocations(&rie);
    let over = call("GET", &orders, &[("x-api-key", &key)], None);
    assert_eq!(over.status, 429, "{}", String::from_utf8_lossy(&over.body));
    assert_eq!(over.json()["error"]["code"], "limit_exceeded");
    let wait: u64 = over.all("retry-after")[0].parse().unwrap();
    assert!((1..=86_400).contains(&wait), "{wait}");
    assert_eq!(over.all("ratelimit"), [format!("\"quota\";r=0;t={wait}")]);
    assert_eq!(invocations(&rie), before + 1, "the backend answered it");
    server.stop();
    rie.stop().await;
}
