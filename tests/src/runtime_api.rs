//! A local Lambda Runtime API, so the real Lambda binaries can be run and fed
//! events outside AWS: it serves `GET /2018-06-01/runtime/invocation/next`
//! and takes `POST .../{request-id}/response` and `.../error`.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// What the function answered for one invocation.
#[derive(Debug)]
pub enum Answer {
    Response(Value),
    Error(Value),
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Value)>,
    waiting: HashMap<String, oneshot::Sender<Answer>>,
    first_next: Option<Instant>,
    init_error: Option<Value>,
    counter: u64,
}

/// The Runtime API server. Dropping it stops accepting connections.
#[derive(Clone)]
pub struct RuntimeApi {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    queued: Arc<Notify>,
}

impl RuntimeApi {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let api = RuntimeApi {
            addr,
            state: Arc::default(),
            queued: Arc::new(Notify::new()),
        };
        let server = api.clone();
        spawn_http_server(listener, move |req| {
            let server = server.clone();
            async move { server.serve(req).await }
        });
        api
    }

    /// `AWS_LAMBDA_RUNTIME_API` for the function process.
    pub fn endpoint(&self) -> String {
        self.addr.to_string()
    }

    /// When the function first asked for work (end of its cold start).
    pub fn first_next(&self) -> Option<Instant> {
        self.state.lock().ok().and_then(|s| s.first_next)
    }

    pub fn init_error(&self) -> Option<Value> {
        self.state.lock().ok().and_then(|s| s.init_error.clone())
    }

    /// Queue one event and wait for the function's answer.
    pub async fn invoke(&self, event: Value, timeout: Duration) -> Result<Answer, String> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.state.lock().map_err(|e| e.to_string())?;
            state.counter += 1;
            let id = format!("req-{:08}", state.counter);
            state.waiting.insert(id.clone(), tx);
            state.queue.push_back((id, event));
        }
        self.queued.notify_one();
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => Err("the function never answered".into()),
            Err(_) => Err(format!(
                "no answer within {timeout:?}; init error: {:?}",
                self.init_error()
            )),
        }
    }

    async fn serve(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let path = req.uri().path().to_owned();
        if req.method() == hyper::Method::GET && path == NEXT {
            return self.next().await;
        }
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let mut state = match self.state.lock() {
            Ok(s) => s,
            Err(_) => return reply(500, Bytes::new(), &[]),
        };
        if path.ends_with("/init/error") {
            state.init_error = Some(value);
        } else if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            if let Some(tx) = state.waiting.remove(id) {
                let _ = tx.send(if kind == "response" {
                    Answer::Response(value)
                } else {
                    Answer::Error(value)
                });
            }
        }
        reply(202, Bytes::from_static(b"{\"status\":\"OK\"}"), &[])
    }

    async fn next(&self) -> hyper::Response<Full<Bytes>> {
        loop {
            let notified = self.queued.notified();
            {
                let Ok(mut state) = self.state.lock() else {
                    return reply(500, Bytes::new(), &[]);
                };
                state.first_next.get_or_insert_with(Instant::now);
                if let Some((id, event)) = state.queue.pop_front() {
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_millis() + 30_000)
                        .unwrap_or_default()
                        .to_string();
                    return reply(
                        200,
                        Bytes::from(event.to_string()),
                        &[
                            ("lambda-runtime-aws-request-id", id.as_str()),
                            ("lambda-runtime-deadline-ms", deadline.as_str()),
                            (
                                "lambda-runtime-invoked-function-arn",
                                "arn:aws:lambda:us-east-1:000000000000:function:keygate-test",
                            ),
                            (
                                "lambda-runtime-trace-id",
                                "Root=1-00000000-000000000000000000000000",
                            ),
                        ],
                    );
                }
            }
            notified.await;
        }
    }
}

/// Serve HTTP/1.1 on `listener`, one task per connection, answering each
/// request with `handler`, for as long as the runtime runs.
pub fn spawn_http_server<F, Fut>(listener: TcpListener, handler: F)
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = hyper::Response<Full<Bytes>>> + Send + 'static,
{
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

fn reply(status: u16, body: Bytes, headers: &[(&str, &str)]) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    builder
        .body(Full::new(body))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

/// The command that starts a Lambda binary against `api`, with the
/// environment Lambda would give it plus `extra`; killed when dropped.
pub fn function_command(
    binary: &Path,
    api: &RuntimeApi,
    extra: &[(&str, &str)],
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(binary);
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api.endpoint())
        .env("AWS_LAMBDA_FUNCTION_NAME", "keygate-test")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .envs(crate::DUMMY_AWS_ENV)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in extra {
        command.env(k, v);
    }
    command
}

/// Start a Lambda binary against `api` (see [`function_command`]).
pub fn spawn_function(
    binary: &Path,
    api: &RuntimeApi,
    extra: &[(&str, &str)],
) -> tokio::process::Child {
    function_command(binary, api, extra)
        .spawn()
        .expect("start the Lambda binary")
}
