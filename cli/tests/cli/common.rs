//! Start the built `keygate` binary as a server on a free port and talk to it.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use unicode_width::UnicodeWidthStr as _;

pub const KEYGATE: &str = env!("CARGO_BIN_EXE_keygate");

/// Whether `text` has the form of a full key with the default prefix.
pub fn is_full_key(text: &str) -> bool {
    text.strip_prefix("kg_")
        .is_some_and(|body| body.len() == keygate::domain::key::BODY_LEN)
}

/// A running `keygate serve`, stopped with SIGTERM when dropped.
pub struct Server {
    child: Child,
    pub url: String,
    /// The key printed on first start, if this start printed one.
    pub first_key: Option<String>,
    /// Every line printed up to and with "listening on".
    pub printed: Vec<String>,
}

impl Server {
    pub fn start(data: &Path) -> Server {
        let mut command = Command::new(KEYGATE);
        command
            .args(["serve", "--port", "0", "--data"])
            .arg(data)
            .env("RUST_LOG", "warn");
        Server::spawn(command)
    }

    /// Run `command` (a `keygate serve`) until it prints its address.
    pub fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start keygate serve");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut first_key = None;
        let mut printed = vec![];
        let url = loop {
            let line = lines
                .next()
                .expect("keygate serve exited before listening")
                .expect("read stdout");
            printed.push(line.clone());
            if line.starts_with("kg_") {
                first_key = Some(line);
            } else if let Some(url) = line.strip_prefix("keygate: listening on ") {
                break url.to_owned();
            }
        };
        Server {
            child,
            url,
            first_key,
            printed,
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let status = self.child.wait().expect("wait");
        assert!(
            status.success(),
            "keygate serve did not stop cleanly: {status}"
        );
        std::mem::forget(self);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP answer: status and parsed JSON body (Null when empty).
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

pub fn request(method: &str, url: &str, key: Option<&str>, body: Option<&str>) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        // Generous: a debug build on a busy machine builds its first
        // /openapi.json slowly.
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let with_key = |r: ureq::RequestBuilder<ureq::typestate::WithoutBody>| match key {
        Some(k) => r.header("x-api-key", k),
        None => r,
    };
    let result = match method {
        "GET" => with_key(agent.get(url)).call(),
        "DELETE" => with_key(agent.delete(url)).call(),
        _ => {
            let r = agent.post(url);
            let r = match key {
                Some(k) => r.header("x-api-key", k),
                None => r,
            };
            match body {
                Some(b) => r.header("content-type", "application/json").send(b),
                None => r.send_empty(),
            }
        }
    };
    let mut response = result.expect("request");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    let body = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).expect("JSON body")
    };
    Answer { status, body }
}

/// `keygate <args>` with the API URL and key in the environment, and no
/// `COLUMNS`: output fits the default 100 columns.
pub fn keygate_command(server_url: &str, key: &str, args: &[&str]) -> Command {
    let mut command = Command::new(KEYGATE);
    command
        .args(args)
        .env("KEYGATE_API_URL", server_url)
        .env("KEYGATE_API_KEY", key)
        .env_remove("COLUMNS");
    command
}

/// Run `keygate <args>` with the API URL and key in the environment.
pub fn keygate(server_url: &str, key: &str, args: &[&str]) -> Output {
    keygate_command(server_url, key, args)
        .output()
        .expect("run keygate")
}

/// Run `keygate <args>` as [`keygate`] does, fitting `columns` columns.
pub fn keygate_in(columns: usize, server_url: &str, key: &str, args: &[&str]) -> Output {
    keygate_command(server_url, key, args)
        .env("COLUMNS", columns.to_string())
        .output()
        .expect("run keygate")
}

/// Fails unless every line of `text` is at most `columns` wide on a terminal.
#[track_caller]
pub fn assert_fits(text: &str, columns: usize) {
    for line in text.lines() {
        assert!(
            line.width() <= columns,
            "a line of {} columns, over {columns}: {line:?}\n{text}",
            line.width()
        );
    }
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

pub fn json(out: &std::process::Output) -> Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_str(&stdout(out))
        .unwrap_or_else(|e| panic!("--json output is JSON: {e}: {}", stdout(out)))
}

/// A pseudo-terminal: `terminal` is its far end, to be a child's standard
/// input (which then is a terminal); `keyboard` types into it.
pub struct Pty {
    pub keyboard: std::fs::File,
    pub terminal: std::fs::File,
}

pub fn pty() -> Pty {
    use std::os::fd::FromRawFd as _;
    let (mut keyboard, mut terminal) = (0, 0);
    // SAFETY: openpty writes two new descriptors, which the Files then own.
    let status = unsafe {
        libc::openpty(
            &mut keyboard,
            &mut terminal,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(status, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are open and owned by nothing else.
    unsafe {
        Pty {
            keyboard: std::fs::File::from_raw_fd(keyboard),
            terminal: std::fs::File::from_raw_fd(terminal),
        }
    }
}

/// Run `command` with a terminal as its standard input, typing `typed` on it.
pub fn answering(mut command: Command, typed: &str) -> Output {
    use std::io::Write as _;
    let mut pty = pty();
    let child = command
        .stdin(Stdio::from(
            pty.terminal.try_clone().expect("dup the terminal"),
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start keygate");
    pty.keyboard.write_all(typed.as_bytes()).expect("type");
    let out = child.wait_with_output().expect("wait");
    drop(pty);
    out
}

/// A stand-in for the API on 127.0.0.1 that logs the head of every request
/// and answers each with `answer(request line)`, a whole HTTP response.
/// Returns its address and the log.
pub fn stub(answer: impl Fn(&str) -> String + Send + 'static) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let seen = Arc::new(Mutex::new(vec![]));
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let request_line = head.lines().next().unwrap_or_default().to_owned();
            log.lock().unwrap().push(head);
            let _ = stream.write_all(answer(&request_line).as_bytes());
        }
    });
    (addr, seen)
}

/// A stand-in for the API that answers `answer` to every request.
pub fn recorder(answer: String) -> (String, Arc<Mutex<Vec<String>>>) {
    stub(move |_| answer.clone())
}

/// A whole HTTP response with a JSON body.
pub fn json_response(status: u16, body: &str) -> String {
    format!(
        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}
