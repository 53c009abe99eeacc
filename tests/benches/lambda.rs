//! Cold start and warm invocations of the real authorizer binary, run against
//! the local Lambda Runtime API and a stub DynamoDB endpoint (no network, dummy
//! credentials). Measures exec → first `/next`, peak RSS (`VmHWM`) and the
//! round trip of warm invocations.
//!
//! `cargo bench -p keygate-tests --bench lambda` builds and measures the
//! release binary (`cargo build --release -p keygate-functions --bin authorizer`).
//! Under `cargo test` it runs a smoke version on the debug binary when one is
//! built, and says so; the figures it prints then are not benchmark figures.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use keygate_tests::bench::{authorizer_binary, benching, percentile};
use keygate_tests::runtime_api::{Answer, RuntimeApi, spawn_function, spawn_http_server};
use keygate_tests::{Harness, authorizer_event, set_dummy_aws_env};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const WAIT: Duration = Duration::from_secs(20);
const TABLE: &str = "keygate-bench";
const PEPPER: &str = "a-pepper-for-the-cold-start-benchmark";
const PEPPER_SECRET: &str = "arn:aws:secretsmanager:us-east-1:000000000000:secret:keygate-pepper";

struct Plan {
    mode: &'static str,
    binary: PathBuf,
    cold_starts: usize,
    warm: usize,
    warm_denied: usize,
}

/// A DynamoDB that answers `TransactWriteItems` (the puts of keys, to seed
/// one), `GetItem` and `UpdateItem` (setting `last_used_at`, as keygate's
/// only update on the authorizer path) from memory.
#[derive(Clone, Default)]
struct StubDynamoDb {
    items: Arc<Mutex<HashMap<String, Value>>>,
}

impl StubDynamoDb {
    async fn start(self) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        spawn_http_server(listener, move |req| {
            let stub = self.clone();
            async move { stub.serve(req).await }
        });
        format!("http://{addr}")
    }

    async fn serve(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let target = req
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let input: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let id = |v: &Value| v["id"]["S"].as_str().unwrap_or_default().to_owned();
        let answer = {
            let mut items = self.items.lock().expect("stub lock");
            match target.rsplit('.').next().unwrap_or_default() {
                "TransactWriteItems" => {
                    let writes = input["TransactItems"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    for put in writes.iter().map(|w| &w["Put"]) {
                        if put["TableName"] == TABLE {
                            items.insert(id(&put["Item"]), put["Item"].clone());
                        }
                    }
                    json!({})
                }
                "GetItem" => match items.get(&id(&input["Key"])) {
                    Some(item) => json!({ "Item": item }),
                    None => json!({}),
                },
                "UpdateItem" => {
                    let at = input["ExpressionAttributeValues"][":at"].clone();
                    if let Some(item) = items.get_mut(&id(&input["Key"]))
                        && !at.is_null()
                    {
                        item["last_used_at"] = at;
                    }
                    json!({})
                }
                // Secrets Manager on the same endpoint: the pepper at cold start.
                "GetSecretValue" => json!({
                    "ARN": PEPPER_SECRET, "Name": "keygate-pepper", "SecretString": PEPPER,
                }),
                other => json!({ "__type": "UnknownOperationException", "message": other }),
            }
        };
        hyper::Response::builder()
            .header("content-type", "application/x-amz-json-1.0")
            .body(Full::new(Bytes::from(answer.to_string())))
            .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
    }
}

fn plan() -> Option<Plan> {
    let binary = authorizer_binary();
    if benching() {
        return Some(Plan {
            mode: "release",
            binary,
            cold_starts: 30,
            warm: 10_000,
            warm_denied: 10_000,
        });
    }
    if !binary.exists() {
        println!(
            "lambda bench (test mode): SKIPPED, {} is not built; run \
             `cargo bench -p keygate-tests --bench lambda` for the real figures",
            binary.display()
        );
        return None;
    }
    Some(Plan {
        mode: "test mode: smoke run, not benchmark figures",
        binary,
        cold_starts: 2,
        warm: 50,
        warm_denied: 20,
    })
}

/// A function that does nothing: one keep-alive connection, `GET /next`,
/// `POST` a fixed answer. Its round trip is the floor this harness can measure.
async fn null_function(api: String) -> std::io::Result<()> {
    let stream = TcpStream::connect(api).await?;
    stream.set_nodelay(true)?;
    let mut stream = BufReader::new(stream);
    let mut next = true;
    let mut request_id = String::new();
    loop {
        if next {
            stream
                .write_all(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nhost: l\r\n\r\n")
                .await?;
        } else {
            let body = r#"{"isAuthorized":false,"context":{}}"#;
            let head = format!(
                "POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n\
                 host: l\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body.as_bytes()).await?;
        }
        stream.flush().await?;
        let mut length = 0;
        loop {
            let mut line = String::new();
            if stream.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                let (name, value) = (name.to_ascii_lowercase(), value.trim());
                if name == "content-length" {
                    length = value.parse().unwrap_or(0);
                } else if name == "lambda-runtime-aws-request-id" {
                    request_id = value.to_owned();
                }
            }
        }
        let mut body = vec![0; length];
        stream.read_exact(&mut body).await?;
        next = !next;
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// User and system CPU time of the whole process (all threads), from `/proc`.
fn cpu_time(pid: u32) -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`; utime and stime are fields 14 and 15, in ticks.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Linux reports these in USER_HZ, which is 100 on every mainstream build.
    let ticks = |i: usize| -> Option<Duration> {
        Some(Duration::from_millis(
            fields.get(i)?.parse::<u64>().ok()? * 10,
        ))
    };
    Some((ticks(11)?, ticks(12)?))
}

fn summary(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let mean = samples.iter().sum::<Duration>() / samples.len().max(1) as u32;
    println!(
        "{name}: n={} min={:?} p50={:?} p90={:?} p99={:?} max={:?} mean={:?}",
        samples.len(),
        samples[0],
        percentile(&samples, 0.5),
        percentile(&samples, 0.9),
        percentile(&samples, 0.99),
        samples[samples.len() - 1],
        mean,
    );
}

fn response(answer: Answer) -> Value {
    match answer {
        Answer::Response(v) => v,
        Answer::Error(e) => panic!("the function reported an error: {e}"),
    }
}

async fn measure(plan: Plan) {
    set_dummy_aws_env();
    let stub = StubDynamoDb::default();
    let endpoint = stub.clone().start().await;
    let client = keygate::store::dynamodb::client(
        Some(&endpoint),
        keygate::store::dynamodb::Timeouts::default(),
    )
    .await;
    let tables = keygate::store::dynamodb::Tables::named(TABLE);
    let h = Harness::new(keygate::store::DynamoDbStore::new(client, &tables));
    let key = h.root_key("acme").await;
    let allowed =
        serde_json::to_value(authorizer_event(&key, "GET /v1/api-keys/{id}")).expect("event JSON");
    let denied =
        serde_json::to_value(authorizer_event(&key, "GET /v1/unknown")).expect("event JSON");
    let env = [
        ("TABLE_NAME", TABLE),
        ("AUDIT_TABLE_NAME", tables.audit.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    println!("lambda bench ({}): {}", plan.mode, plan.binary.display());

    // The pepper series: the same binary, reading its pepper from Secrets
    // Manager (the stub) at cold start; its key is minted with that pepper.
    let peppered_format = keygate::domain::key::KeyFormat::new(
        keygate::domain::key::KeyPrefix::default(),
        keygate::domain::key::SecretHasher::new(Some(PEPPER.as_bytes())),
    );
    let peppered_app = keygate::app::App::new(h.app.store.clone(), peppered_format);
    let (_, peppered_key) = peppered_app
        .mint_root_key(
            &keygate::domain::org::OrgId::new("acme").expect("org"),
            "peppered",
        )
        .await
        .expect("mint");
    let peppered_allowed = serde_json::to_value(authorizer_event(
        peppered_key.expose(),
        "GET /v1/api-keys/{id}",
    ))
    .expect("event JSON");
    let mut peppered_env = env.to_vec();
    peppered_env.push(("KEYGATE_PEPPER_SECRET_ID", PEPPER_SECRET));

    for (series, env, allowed) in [
        ("no pepper", &env[..], &allowed),
        (
            "pepper from Secrets Manager",
            &peppered_env[..],
            &peppered_allowed,
        ),
    ] {
        let mut cold = Vec::with_capacity(plan.cold_starts);
        let mut first_invoke = Vec::with_capacity(plan.cold_starts);
        let mut rss_cold = Vec::with_capacity(plan.cold_starts);
        for _ in 0..plan.cold_starts {
            let api = RuntimeApi::start().await;
            let started = Instant::now();
            let mut child = spawn_function(&plan.binary, &api, env);
            let pid = child.id().expect("child pid");
            let first_next = loop {
                if let Some(at) = api.first_next() {
                    break at;
                }
                if started.elapsed() > WAIT {
                    panic!("no /next within {WAIT:?}: {:?}", api.init_error());
                }
                tokio::time::sleep(Duration::from_micros(200)).await;
            };
            cold.push(first_next - started);
            let invoked = Instant::now();
            let answer = response(api.invoke(allowed.clone(), WAIT).await.expect("invoke"));
            first_invoke.push(invoked.elapsed());
            assert_eq!(answer["isAuthorized"], true, "{series}: {answer}");
            rss_cold.push(vm_hwm_kib(pid).unwrap_or(0));
            let _ = child.kill().await;
        }
        summary(&format!("cold start ({series}): exec -> first /next"), cold);
        summary(
            &format!("first invocation after cold start ({series}, allowed)"),
            first_invoke,
        );
        rss_cold.sort_unstable();
        println!(
            "peak RSS (VmHWM) after first invocation ({series}): min={} KiB median={} KiB max={} KiB",
            rss_cold[0],
            rss_cold[rss_cold.len() / 2],
            rss_cold[rss_cold.len() - 1]
        );
    }

    let api = RuntimeApi::start().await;
    let mut child = spawn_function(&plan.binary, &api, &env);
    let pid = child.id().expect("child pid");
    for _ in 0..10 {
        response(api.invoke(allowed.clone(), WAIT).await.expect("warm-up"));
    }
    for (name, event, n, want) in [
        (
            "warm invocation, allowed (GetItem on the stub)",
            &allowed,
            plan.warm,
            true,
        ),
        (
            "warm invocation, unknown route (no store call)",
            &denied,
            plan.warm_denied,
            false,
        ),
    ] {
        let mut samples = Vec::with_capacity(n);
        let cpu_before = cpu_time(pid);
        for _ in 0..n {
            let event = event.clone();
            let t = Instant::now();
            let answer = response(api.invoke(event, WAIT).await.expect("invoke"));
            samples.push(t.elapsed());
            assert_eq!(answer["isAuthorized"], want, "{answer}");
        }
        summary(name, samples);
        if let (Some(before), Some(after)) = (cpu_before, cpu_time(pid)) {
            let per = |a: Duration, b: Duration| a.saturating_sub(b) / n.max(1) as u32;
            println!(
                "  authorizer process CPU per invocation: user {:?} + sys {:?}",
                per(after.0, before.0),
                per(after.1, before.1)
            );
        }
    }
    let null_api = RuntimeApi::start().await;
    tokio::spawn(null_function(null_api.endpoint()));
    let mut samples = Vec::with_capacity(plan.warm_denied);
    for _ in 0..plan.warm_denied {
        let event = denied.clone();
        let t = Instant::now();
        null_api.invoke(event, WAIT).await.expect("invoke");
        samples.push(t.elapsed());
    }
    summary(
        "harness floor: null function in this process (no exec boundary)",
        samples,
    );
    println!(
        "peak RSS (VmHWM) after all warm invocations: {} KiB",
        vm_hwm_kib(pid).unwrap_or(0)
    );
    let _ = child.kill().await;
}

fn main() {
    let Some(plan) = plan() else { return };
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(measure(plan));
}
