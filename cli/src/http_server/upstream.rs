//! `keygate serve --upstream URL`: the deployer's own backend, on this
//! machine, behind the local gateway. A request the authorizer allowed on one
//! of the deployer's routes goes to it, shaped as API Gateway shapes it
//! (`gateway::integration`); its answer comes back as API Gateway passes it
//! on. A backend that is not there is a 502, one that takes longer than
//! [`INTEGRATION_TIMEOUT`] a 504: never a hang.
//!
//! - `http://HOST:PORT[/base]`: a web server, sent the request itself with
//!   the caller in `X-Keygate-*` headers (an HTTP integration's mapping).
//! - `lambda+http://HOST:PORT`: a Lambda function under AWS's Runtime
//!   Interface Emulator, invoked with the payload-2.0 event.
//!
//! Only loopback hosts: the backend trusts the `X-Keygate-*` headers, so
//! they must not travel where anyone else could send them too.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs as _};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::{HttpResponse, to_hyper};
use crate::library::gateway::integration::{
    DeployerRequest, HOP_BY_HOP, INTEGRATION_TIMEOUT, IntegrationAnswer, MAX_PAYLOAD_BYTES,
    lambda_answer,
};

/// The emulator's invoke path (Lambda's `Invoke` API, function `function`).
const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";

/// Where allowed requests on the deployer's routes go.
#[derive(Debug, Clone)]
pub struct Upstream {
    kind: Kind,
    /// The URL as it is shown: scheme, authority and base path.
    url: String,
    /// `host:port`, for the `Host` header.
    authority: String,
    /// The loopback addresses the host names.
    addrs: Vec<SocketAddr>,
    /// `""` or `/base`, before every forwarded path.
    base_path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Http,
    Lambda,
}

/// Why a request got no answer from the backend.
enum Failure {
    Answer(IntegrationAnswer),
    Io(String),
}

impl Upstream {
    /// `http://HOST:PORT[/base]` or `lambda+http://HOST:PORT` with a
    /// loopback host (127.0.0.0/8, ::1, or a name such as `localhost` that
    /// resolves only to those); the reason, for clap to show, when not.
    pub fn parse(text: &str) -> Result<Upstream, String> {
        const FORMS: &str = "use http://HOST:PORT[/base] for a web server or \
                             lambda+http://HOST:PORT for a Lambda function under the Runtime \
                             Interface Emulator";
        let (kind, rest) = if let Some(rest) = text.strip_prefix("http://") {
            (Kind::Http, rest)
        } else if let Some(rest) = text.strip_prefix("lambda+http://") {
            (Kind::Lambda, rest)
        } else {
            return Err(format!("not an upstream URL: {FORMS}"));
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("no host, or a user name in it: {FORMS}"));
        }
        if path.contains(['?', '#']) {
            return Err("a query or fragment has no place in an upstream URL".into());
        }
        let base_path = path.trim_end_matches('/').to_owned();
        if kind == Kind::Lambda && !base_path.is_empty() {
            return Err(format!(
                "a Lambda upstream has no path (keygate posts to {INVOKE_PATH}): \
                 lambda+http://HOST:PORT"
            ));
        }
        let uri: http::uri::Authority = authority
            .parse()
            .map_err(|_| format!("{authority:?} is not HOST:PORT"))?;
        let host = uri.host().trim_start_matches('[').trim_end_matches(']');
        let port = uri.port_u16().unwrap_or(80);
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => (host, port)
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {host}: {e}"))?
                .collect(),
        };
        if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
            return Err(format!(
                "{host} is not a loopback address: the upstream must run on this machine \
                 (127.0.0.1, ::1 or localhost), because the backend trusts the X-Keygate-* \
                 headers keygate adds"
            ));
        }
        let scheme = match kind {
            Kind::Http => "http",
            Kind::Lambda => "lambda+http",
        };
        Ok(Upstream {
            kind,
            url: format!("{scheme}://{authority}{base_path}"),
            authority: authority.to_owned(),
            addrs,
            base_path,
        })
    }

    /// The URL, as `keygate serve` prints it.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend's answer to `request`, or API Gateway's when there is none.
    pub async fn answer(&self, request: DeployerRequest) -> HttpResponse {
        let route_key = request.route_key.clone();
        let exchange = async {
            match self.kind {
                Kind::Http => self.send_http(request).await,
                Kind::Lambda => self.invoke(request).await,
            }
        };
        let failure = match tokio::time::timeout(INTEGRATION_TIMEOUT, exchange).await {
            Ok(Ok(answer)) => return answer,
            Ok(Err(failure)) => failure,
            Err(_) => {
                tracing::warn!(
                    upstream = %self.url, route_key,
                    "no answer within {INTEGRATION_TIMEOUT:?}"
                );
                return to_hyper(IntegrationAnswer::TimedOut.response());
            }
        };
        let answer = match failure {
            Failure::Answer(answer) => answer,
            Failure::Io(error) => {
                tracing::warn!(upstream = %self.url, route_key, error, "upstream failed");
                IntegrationAnswer::BadGateway
            }
        };
        to_hyper(answer.response())
    }

    /// The request itself, to a web server; its answer as it came.
    async fn send_http(&self, request: DeployerRequest) -> Result<HttpResponse, Failure> {
        let request = request
            .into_http_request(&self.authority, &self.base_path)
            .map_err(Failure::Answer)?
            .map(|body| Full::new(Bytes::from(body)));
        let (status, mut headers, body) = self.exchange(request).await?;
        let named: Vec<String> = headers
            .get_all(http::header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(',').map(|n| n.trim().to_ascii_lowercase()))
            .collect();
        for name in HOP_BY_HOP
            .iter()
            .copied()
            .chain(named.iter().map(String::as_str))
        {
            headers.remove(name);
        }
        headers.remove(http::header::CONTENT_LENGTH);
        let mut response = hyper::Response::new(Full::new(body));
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }

    /// The payload-2.0 event, to the emulator; the function's output read as
    /// API Gateway reads it.
    async fn invoke(&self, request: DeployerRequest) -> Result<HttpResponse, Failure> {
        let event = request.into_lambda_event().map_err(|e| {
            tracing::error!(error = %e, "the event does not serialize");
            Failure::Answer(IntegrationAnswer::InternalServerError)
        })?;
        let invocation = hyper::Request::post(INVOKE_PATH)
            .header(http::header::HOST, &self.authority)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(event.to_string())))
            .map_err(|e| Failure::Io(e.to_string()))?;
        let (status, _, output) = self.exchange(invocation).await?;
        if status != http::StatusCode::OK {
            // The emulator's 502: the function exited or failed to start.
            tracing::warn!(
                upstream = %self.url, %status,
                "the function did not run (see the emulator's output)"
            );
            return Err(Failure::Answer(IntegrationAnswer::InternalServerError));
        }
        lambda_answer(&output).map(to_hyper).map_err(|answer| {
            tracing::warn!(
                upstream = %self.url,
                output = %String::from_utf8_lossy(&output[..output.len().min(500)]),
                "the function's output is an error or not a payload-2.0 answer"
            );
            Failure::Answer(answer)
        })
    }

    /// One request on a new connection: the status, headers and whole body.
    async fn exchange(
        &self,
        request: hyper::Request<Full<Bytes>>,
    ) -> Result<(http::StatusCode, http::HeaderMap, Bytes), Failure> {
        let io = |e: &dyn std::fmt::Display| Failure::Io(e.to_string());
        let stream = TcpStream::connect(&self.addrs[..])
            .await
            .map_err(|e| io(&e))?;
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| io(&e))?;
        tokio::spawn(connection);
        let response = sender.send_request(request).await.map_err(|e| io(&e))?;
        let (parts, body) = response.into_parts();
        let body = Limited::new(body, MAX_PAYLOAD_BYTES)
            .collect()
            .await
            .map_err(|e| io(&*e))?
            .to_bytes();
        Ok((parts.status, parts.headers, body))
    }
}
