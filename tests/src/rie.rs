//! AWS's Lambda Runtime Interface Emulator (RIE) as a test fixture: a real
//! Lambda binary runs under the emulator Lambda's own container images and
//! AWS SAM use, and is invoked over its HTTP API, without Docker.
//!
//! `infra/install-rie.sh` installs the emulator at `target/rie/aws-lambda-rie`
//! (or set [`ENV_RIE`] to another binary). [`Rie::start`] runs
//! `aws-lambda-rie --runtime-interface-emulator-address 127.0.0.1:P1
//! --runtime-api-address 127.0.0.1:P2 BINARY` on two free loopback ports, and
//! [`Rie::invoke`] posts an event to
//! `http://127.0.0.1:P1/2015-03-31/functions/function/invocations`.
//!
//! What the emulator does (aws-sam-cli 1.170.0's RIE, checked by hand and by
//! `functions/tests/lambda/`):
//!
//! - Both ports are bound at start; a taken port makes it exit at once (a
//!   Go panic, exit status 2), and [`Rie::start`] then retries on new ports.
//! - The function is started lazily, by the first invoke (`INIT START`), as
//!   an on-demand Lambda cold start; [`Rie::runtime_pids`] is empty until then.
//!   It runs as the emulator's child in a process group of its own.
//! - An answer is HTTP 200 with the function's bytes. A function error
//!   (`/invocation/{id}/error`) is also a 200, with `{"errorType",
//!   "errorMessage"}` and no header that marks it. A function that exits
//!   before it asks for work (an init error) is a 502 with an empty body;
//!   the emulator resets and runs a new init on the next invoke.
//! - `AWS_LAMBDA_FUNCTION_TIMEOUT` (whole seconds; the emulator's own default
//!   is 300) is honoured, init included: past it the answer is a 200 with the
//!   text body
//!   `Task timed out after N.00 seconds`, and the function is killed; the
//!   next invoke starts a new one.
//! - Its stdout carries `START`, `END` and `REPORT` lines around each invoke
//!   and the function's own stdout and stderr ([`Rie::output`]): the function
//!   inherits the emulator's stdout as both, so a full pipe would stall the
//!   function itself; reader tasks drain it. `REPORT`'s
//!   `Init Duration` is not the init time (≈ 0.03 ms, whatever the function
//!   does) and `Max Memory Used` is the configured size. Its stderr carries
//!   its own `(rapid)` log ([`Rie::emulator_log`]), where
//!   `INIT REPORT(durationMs: …)` is the real init time: from `INIT START`
//!   (just before the exec) to the function's first `GET /next`
//!   ([`Rie::init_durations_ms`]).
//!
//! Dropping a [`Rie`] stops the function (SIGKILL to its process group) and
//! the emulator (SIGTERM, then SIGKILL to its process group), and reaps the
//! emulator.

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Names an `aws-lambda-rie` binary to use instead of `target/rie/aws-lambda-rie`.
pub const ENV_RIE: &str = "KEYGATE_TEST_RIE";

/// The emulator's invoke path (Lambda's `Invoke` API, function name `function`).
pub const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";

/// `AWS_LAMBDA_FUNCTION_TIMEOUT` unless the caller sets one.
pub const DEFAULT_FUNCTION_TIMEOUT_SECS: u64 = 30;

/// How much longer than the function's timeout [`Rie::invoke`] waits.
const INVOKE_MARGIN: Duration = Duration::from_secs(10);

/// How long [`Rie::start`] waits for the emulator to accept connections.
const START_WAIT: Duration = Duration::from_secs(10);

/// The emulator binary: `$KEYGATE_TEST_RIE`, else `target/rie/aws-lambda-rie`.
/// Panics, naming `infra/install-rie.sh`, when there is none.
pub fn rie_path() -> PathBuf {
    if let Some(path) = std::env::var_os(ENV_RIE) {
        let path = PathBuf::from(path);
        assert!(
            is_executable(&path),
            "{ENV_RIE}={} is not an executable file: point it at an aws-lambda-rie binary, \
             or unset it and run `infra/install-rie.sh`",
            path.display()
        );
        return path;
    }
    let path = crate::repo_root().join("target/rie/aws-lambda-rie");
    assert!(
        is_executable(&path),
        "The Lambda Runtime Interface Emulator is not installed at {}. Run `infra/install-rie.sh` \
         (it downloads the pinned aws-sam-cli wheel with pip and extracts only the emulator; \
         `infra/test.sh` runs it), or set {ENV_RIE} to an aws-lambda-rie binary.",
        path.display()
    );
    path
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// What the emulator printed: `output` is its stdout (`START`/`END`/`REPORT`
/// and the function's stdout and stderr), `emulator` its own log (stderr).
#[derive(Debug, Clone, Default)]
pub struct Logs {
    pub output: String,
    pub emulator: String,
}

/// The two streams, filled by reader tasks so that a full pipe never stalls
/// the emulator or the function.
#[derive(Default)]
struct Captured {
    output: Mutex<String>,
    emulator: Mutex<String>,
    changed: Notify,
}

impl Captured {
    fn read(buffer: &Mutex<String>) -> String {
        buffer.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

/// One emulator process running one Lambda binary. Invocations are sent one
/// at a time (as Lambda sends them to one execution environment), on one
/// keep-alive connection.
pub struct Rie {
    child: Child,
    /// The emulator's invoke API (`--runtime-interface-emulator-address`).
    pub invoke_addr: SocketAddr,
    /// The Lambda Runtime API the function talks to (`--runtime-api-address`).
    pub runtime_api_addr: SocketAddr,
    captured: Arc<Captured>,
    readers: Vec<JoinHandle<()>>,
    connection: tokio::sync::Mutex<Option<SendRequest<Full<Bytes>>>>,
    invoke_wait: Duration,
    stopped: bool,
}

impl Rie {
    /// Start the emulator on `binary` with Lambda's environment (function
    /// name, memory, version, `AWS_LAMBDA_FUNCTION_TIMEOUT` = 30 s), dummy AWS
    /// credentials, `AWS_REGION=us-east-1`, `AWS_EC2_METADATA_DISABLED=true`
    /// and `RUST_LOG=warn`, then `env` on top; nothing else from the test's
    /// environment (the emulator hands its environment to the function).
    /// Returns once the emulator accepts connections; the function itself
    /// starts on the first invoke. Panics when the emulator cannot be started.
    pub async fn start(binary: &Path, env: &[(&str, &str)]) -> Rie {
        let rie = rie_path();
        assert!(
            is_executable(binary),
            "no Lambda binary at {}",
            binary.display()
        );
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "function".to_owned());
        let timeout_secs = env
            .iter()
            .rev()
            .find(|(k, _)| *k == "AWS_LAMBDA_FUNCTION_TIMEOUT")
            .and_then(|(_, v)| v.parse::<u64>().ok())
            .unwrap_or(DEFAULT_FUNCTION_TIMEOUT_SECS);
        let default_timeout = DEFAULT_FUNCTION_TIMEOUT_SECS.to_string();
        let lambda_env: Vec<(&str, &str)> = [
            ("AWS_LAMBDA_FUNCTION_NAME", name.as_str()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_TIMEOUT", default_timeout.as_str()),
            ("RUST_LOG", "warn"),
        ]
        .into_iter()
        .chain(crate::DUMMY_AWS_ENV)
        .collect();

        let mut failures = Vec::new();
        // Free ports are picked, then released for the emulator to bind: a
        // port taken in between makes it exit at once, and we try new ones.
        for _ in 0..5 {
            let (invoke_addr, runtime_api_addr) = match two_free_ports() {
                Ok(ports) => ports,
                Err(e) => panic!("no free 127.0.0.1 port for the RIE: {e}"),
            };
            let mut command = Command::new(&rie);
            command
                .arg("--runtime-interface-emulator-address")
                .arg(invoke_addr.to_string())
                .arg("--runtime-api-address")
                .arg(runtime_api_addr.to_string())
                .arg(binary)
                .env_clear()
                .envs(lambda_env.iter().copied())
                .envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                // Its own group, so that the group can be killed as a whole.
                .process_group(0)
                .kill_on_drop(true);
            let mut child = match command.spawn() {
                Ok(child) => child,
                Err(e) => panic!("cannot run the RIE {}: {e}", rie.display()),
            };
            let captured = Arc::new(Captured::default());
            let mut readers = Vec::new();
            if let Some(out) = child.stdout.take() {
                readers.push(capture(out, Arc::clone(&captured), false));
            }
            if let Some(err) = child.stderr.take() {
                readers.push(capture(err, Arc::clone(&captured), true));
            }
            let mut rie = Rie {
                child,
                invoke_addr,
                runtime_api_addr,
                captured,
                readers,
                connection: tokio::sync::Mutex::new(None),
                invoke_wait: Duration::from_secs(timeout_secs) + INVOKE_MARGIN,
                stopped: false,
            };
            match rie.wait_until_listening().await {
                Ok(()) => return rie,
                Err(e) => {
                    let logs = rie.stop().await;
                    let port_taken = logs.emulator.contains("address already in use");
                    failures.push(format!("{e}\n{}{}", logs.emulator, logs.output));
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        panic!(
            "the RIE {} did not start:\n{}",
            rie.display(),
            failures.join("\n---\n")
        );
    }

    async fn wait_until_listening(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + START_WAIT;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("the RIE exited at start ({status})"));
            }
            if let Ok(stream) = TcpStream::connect(self.invoke_addr).await {
                drop(stream);
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the RIE did not accept connections on {} within {START_WAIT:?}",
                    self.invoke_addr
                ));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Invoke the function with `event` and return its JSON answer. `Err` for
    /// a function error, a failed start or exit (the emulator's 502), a
    /// timeout (`Task timed out after …`), an answer that is not JSON, or no
    /// answer within the function's timeout plus 10 s; the message says which.
    pub async fn invoke(&self, event: Value) -> Result<Value, String> {
        let (status, body) = self.invoke_raw(Bytes::from(event.to_string())).await?;
        let text = String::from_utf8_lossy(&body);
        match status {
            200 => match serde_json::from_slice::<Value>(&body) {
                Ok(answer) if is_lambda_error(&answer) => {
                    Err(format!("the function returned an error: {answer}"))
                }
                Ok(answer) => Ok(answer),
                // A timeout is a 200 with a text body.
                Err(_) => Err(format!("the RIE answered: {text}")),
            },
            502 => {
                self.settle().await;
                Err(format!(
                    "HTTP 502 from the RIE{}: the function exited, or failed to start (an init \
                     error). Its output:\n{}",
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(" ({text})")
                    },
                    tail(&self.output(), 4000)
                ))
            }
            other => Err(format!("HTTP {other} from the RIE: {text}")),
        }
    }

    /// POST `body` to the invoke API: the status and body, as they came.
    pub async fn invoke_raw(&self, body: Bytes) -> Result<(u16, Bytes), String> {
        let mut connection = self.connection.lock().await;
        match tokio::time::timeout(self.invoke_wait, self.post(&mut connection, body)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                *connection = None;
                Err(e)
            }
            Err(_) => {
                *connection = None;
                Err(format!(
                    "no answer from the RIE within {:?}",
                    self.invoke_wait
                ))
            }
        }
    }

    async fn post(
        &self,
        connection: &mut Option<SendRequest<Full<Bytes>>>,
        body: Bytes,
    ) -> Result<(u16, Bytes), String> {
        let mut reused = true;
        loop {
            let sender = match connection {
                Some(sender) if !sender.is_closed() => sender,
                _ => {
                    reused = false;
                    connection.insert(self.connect().await?)
                }
            };
            let request = hyper::Request::post(INVOKE_PATH)
                .header(hyper::header::HOST, self.invoke_addr.to_string())
                .header(hyper::header::CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone()))
                .map_err(|e| format!("invoke request: {e}"))?;
            let sent = match sender.ready().await {
                Ok(()) => sender.send_request(request).await,
                Err(e) => Err(e),
            };
            let response = match sent {
                Ok(response) => response,
                // A kept-alive connection the emulator closed meanwhile: the
                // request never left, so it is safe to send it once more.
                Err(e) if reused && e.is_canceled() => {
                    *connection = None;
                    reused = false;
                    continue;
                }
                Err(e) => return Err(format!("invoke over {}: {e}", self.invoke_addr)),
            };
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| format!("reading the invoke answer: {e}"))?
                .to_bytes();
            return Ok((status, body));
        }
    }

    async fn connect(&self) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = TcpStream::connect(self.invoke_addr)
            .await
            .map_err(|e| format!("connect to the RIE at {}: {e}", self.invoke_addr))?;
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake with the RIE: {e}"))?;
        tokio::spawn(connection);
        Ok(sender)
    }

    /// The emulator's stdout so far: `START`/`END`/`REPORT` lines and the
    /// function's own stdout and stderr.
    pub fn output(&self) -> String {
        Captured::read(&self.captured.output)
    }

    /// The emulator's own log so far (its stderr, `(rapid)` lines).
    pub fn emulator_log(&self) -> String {
        Captured::read(&self.captured.emulator)
    }

    /// Each init's duration as the emulator measured it (`INIT REPORT
    /// (durationMs: …)`: from just before the exec to the function's first
    /// `GET /next`), in order. The `REPORT` line's `Init Duration` is not this, see the module.
    pub fn init_durations_ms(&self) -> Vec<f64> {
        self.emulator_log()
            .lines()
            .filter_map(|line| {
                let rest = line.split("INIT REPORT(durationMs: ").nth(1)?;
                rest.split(')').next()?.trim().parse().ok()
            })
            .collect()
    }

    /// Wait until the output ([`Rie::output`]) contains `needle`, at most
    /// `within`; whether it does.
    pub async fn wait_for_output(&self, needle: &str, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let changed = self.captured.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if self.output().contains(needle) {
                return true;
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return self.output().contains(needle);
            }
        }
    }

    /// Give the readers a moment to take in what was already written.
    async fn settle(&self) {
        for _ in 0..20 {
            let changed = self.captured.changed.notified();
            if tokio::time::timeout(Duration::from_millis(25), changed)
                .await
                .is_err()
            {
                return;
            }
        }
    }

    /// The processes the emulator started (the function, once invoked).
    pub fn runtime_pids(&self) -> Vec<u32> {
        self.child.id().map(children_of).unwrap_or_default()
    }

    /// The emulator's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Stop the emulator and the function, wait for both pipes to close, and
    /// return everything they printed.
    pub async fn stop(mut self) -> Logs {
        if self.begin_stop() {
            let wait = tokio::time::timeout(EXIT_WAIT, self.child.wait()).await;
            if !matches!(wait, Ok(Ok(_))) {
                self.force_stop();
                let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
            }
        }
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        Logs {
            output: self.output(),
            emulator: self.emulator_log(),
        }
    }

    /// SIGKILL to the function's process group (the emulator puts it in one
    /// of its own), then SIGTERM to the emulator, which reaps the function
    /// and exits. Only while the emulator has not been reaped: until then
    /// neither id can belong to anyone else. Whether there is an exit to wait for.
    fn begin_stop(&mut self) -> bool {
        if std::mem::replace(&mut self.stopped, true) {
            return false;
        }
        if !matches!(self.child.try_wait(), Ok(None)) {
            return false;
        }
        let Some(pid) = self.child.id() else {
            return false;
        };
        for runtime in children_of(pid) {
            signal_group(runtime, libc::SIGKILL);
        }
        signal_group(pid, libc::SIGTERM);
        true
    }

    /// SIGKILL to the emulator's process group, if it has not exited yet.
    fn force_stop(&mut self) {
        if let (Ok(None), Some(pid)) = (self.child.try_wait(), self.child.id()) {
            signal_group(pid, libc::SIGKILL);
        }
    }
}

/// How long the emulator gets to exit after SIGTERM (it takes a few ms).
const EXIT_WAIT: Duration = Duration::from_millis(500);

impl Drop for Rie {
    /// As [`Rie::stop`], without waiting for the pipes: blocks for the few
    /// milliseconds the emulator takes to exit, so that it is reaped here
    /// rather than left to init as a zombie.
    fn drop(&mut self) {
        if self.begin_stop() {
            let deadline = Instant::now() + EXIT_WAIT;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            self.force_stop();
        }
    }
}

fn signal_group(pid: u32, signal: libc::c_int) {
    let Ok(pid) = i32::try_from(pid) else {
        return;
    };
    // SAFETY: kill(2) takes plain integers and shares no memory with us.
    // `-pid` is the process group `pid` leads; if it leads none (ESRCH),
    // the process alone.
    unsafe {
        if libc::kill(-pid, signal) != 0 {
            libc::kill(pid, signal);
        }
    }
}

/// The children of `pid`, from every thread's `/proc/<pid>/task/<tid>/children`
/// (the emulator is a Go program: any thread may have started the function).
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children: Vec<u32> = tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect();
    children.sort_unstable();
    children.dedup();
    children
}

fn two_free_ports() -> std::io::Result<(SocketAddr, SocketAddr)> {
    let a = StdTcpListener::bind("127.0.0.1:0")?;
    let b = StdTcpListener::bind("127.0.0.1:0")?;
    Ok((a.local_addr()?, b.local_addr()?))
}

fn capture(
    stream: impl AsyncRead + Unpin + Send + 'static,
    captured: Arc<Captured>,
    emulator: bool,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let buffer = if emulator {
                        &captured.emulator
                    } else {
                        &captured.output
                    };
                    if let Ok(mut text) = buffer.lock() {
                        text.push_str(&String::from_utf8_lossy(&line));
                    }
                    captured.changed.notify_waiters();
                }
            }
        }
        captured.changed.notify_waiters();
    })
}

/// Lambda's error shape, as the runtime posts it to `/invocation/{id}/error`.
fn is_lambda_error(answer: &Value) -> bool {
    answer["errorType"].is_string() && answer["errorMessage"].is_string()
}

fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
