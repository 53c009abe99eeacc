//! The HTTP client of the keygate API: where the key may go, and each call's
//! method and path taken from the library's route table.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::library::Route;
use crate::output::terminal_safe;

/// Characters a path segment keeps as they are: RFC 3986's unreserved ones.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One call: a route of the route table, its path parameters, query and
/// body.
pub struct Request {
    pub route: Route,
    params: Vec<(&'static str, String)>,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl Request {
    pub fn new(route: impl Into<Route>) -> Self {
        Self {
            route: route.into(),
            params: vec![],
            query: vec![],
            body: None,
        }
    }

    /// Fill the path's `{id}`.
    pub fn id(mut self, id: &str) -> Self {
        self.params.push(("id", id.to_owned()));
        self
    }

    /// The value of the path's `{id}`, if it has one.
    pub fn id_param(&self) -> Option<&str> {
        self.params
            .iter()
            .find(|(name, _)| *name == "id")
            .map(|(_, value)| value.as_str())
    }

    pub fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        self.query.push((name, value.to_string()));
        self
    }

    pub fn query_if(self, name: &'static str, value: Option<impl ToString>) -> Self {
        match value {
            Some(value) => self.query(name, value),
            None => self,
        }
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The method and the path with its query, e.g. `("GET",
    /// "/v1/api-keys/0354…?x=y")`: the route key's template with each
    /// `{name}` replaced by its percent-encoded value.
    fn method_and_path(&self) -> Result<(&'static str, String), CallError> {
        let route_key = self.route.route_key();
        let (method, template) = route_key
            .split_once(' ')
            .ok_or_else(|| CallError::Route(route_key.to_owned()))?;
        let mut path = String::new();
        for segment in template.split('/').skip(1) {
            path.push('/');
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    let (_, value) = self
                        .params
                        .iter()
                        .find(|(param, _)| *param == name)
                        .ok_or_else(|| CallError::Route(route_key.to_owned()))?;
                    path.extend(utf8_percent_encode(value, PATH_SEGMENT));
                }
                None => path.push_str(segment),
            }
        }
        if !self.query.is_empty() {
            path.push('?');
            path.push_str(
                &form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&self.query)
                    .finish(),
            );
        }
        Ok((method, path))
    }
}

/// Why a call failed. Every text in it that came from the server is
/// already terminal-safe.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("cannot reach {base}: {reason}")]
    Unreachable { base: String, reason: String },
    #[error(
        "{status}: the API redirects to {location}; keygate does not follow redirects with your \
         key. If the API moved, set KEYGATE_API_URL to its new address."
    )]
    Redirect { status: u16, location: String },
    #[error("{0}")]
    Api(ApiFailure),
    /// The route table has no usable template for the call (a bug here).
    #[error("route {0:?} cannot be called")]
    Route(String),
}

/// An answer outside 2xx: the API's status, error code and message.
#[derive(Debug)]
pub struct ApiFailure {
    pub status: u16,
    /// `error.code`; absent in API Gateway's own answers (`{"message": …}`).
    pub code: Option<String>,
    pub message: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.code {
            Some(code) => write!(f, "{} {code}: {}", self.status, self.message),
            None => write!(f, "{}: {}", self.status, self.message),
        }
    }
}

pub struct Client {
    base: String,
    key: String,
    agent: ureq::Agent,
}

/// Whether `host` (from a URL) is this machine.
fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // Only the name `localhost` and literal loopback addresses: other
    // `*.localhost` names may be resolved by DNS to another machine.
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Client {
    /// A client of the API at `base`, which must be `https://`, or `http://`
    /// to this machine (any host with `allow_http`): the key goes nowhere
    /// unencrypted unless asked.
    pub fn new(base: &str, key: &str, allow_http: bool) -> anyhow::Result<Self> {
        let uri: http::Uri = base
            .parse()
            .map_err(|_| anyhow::anyhow!("the API URL {base:?} is not a URL"))?;
        let host = uri
            .host()
            .ok_or_else(|| anyhow::anyhow!("the API URL {base:?} has no host"))?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if allow_http || is_loopback(host) => {}
            Some("http") => anyhow::bail!(
                "refusing to send the API key over plain http:// to {host}; use https://, or \
                 pass --allow-http if the network to it is trusted"
            ),
            _ => anyhow::bail!("the API URL {base:?} is not http:// or https://"),
        }
        // A proxy from the environment (HTTP_PROXY, ALL_PROXY) would see the
        // key in plain text on an http:// call; over https it only tunnels
        // the encrypted connection, so only https may use one.
        let proxy = match uri.scheme_str() {
            Some("https") => ureq::Proxy::try_from_env(),
            _ => None,
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(proxy)
            .http_status_as_error(false)
            // Never follow a redirect: it would carry the key to wherever
            // the server points.
            .max_redirects(0)
            .user_agent(concat!("keygate-cli/", env!("CARGO_PKG_VERSION")))
            .timeout_global(Some(std::time::Duration::from_secs(30)))
            .build()
            .into();
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            key: key.to_owned(),
            agent,
        })
    }

    /// The key this client calls with.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Send one call; `Ok` with the JSON body (`Null` when empty) on 2xx.
    /// Public routes (the OpenAPI document) are called without the key.
    pub fn send(&self, request: &Request) -> Result<Value, CallError> {
        let (method, path) = request.method_and_path()?;
        let url = format!("{}{path}", self.base);
        let unreachable = |e: ureq::Error| CallError::Unreachable {
            base: self.base.clone(),
            reason: terminal_safe(&e.to_string()),
        };
        let key = (!request.route.is_public()).then_some(self.key.as_str());
        let result = match method {
            "GET" => with_key(self.agent.get(&url), key).call(),
            "DELETE" => with_key(self.agent.delete(&url), key).call(),
            _ => {
                let with_body = match method {
                    "PUT" => self.agent.put(&url),
                    "PATCH" => self.agent.patch(&url),
                    _ => self.agent.post(&url),
                };
                let with_body = match key {
                    Some(key) => with_body.header("x-api-key", key),
                    None => with_body,
                };
                match &request.body {
                    Some(body) => with_body.send_json(body),
                    None => with_body.send_empty(),
                }
            }
        };
        let mut response = result.map_err(unreachable)?;
        let status = response.status().as_u16();
        if (300..400).contains(&status) {
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location header)");
            return Err(CallError::Redirect {
                status,
                location: terminal_safe(location),
            });
        }
        let text = response.body_mut().read_to_string().map_err(unreachable)?;
        let value: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = value["error"]["message"]
            .as_str()
            .or(value["message"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| value.to_string());
        let code = value["error"]["code"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(terminal_safe);
        Err(CallError::Api(ApiFailure {
            status,
            code,
            message: terminal_safe(&message),
        }))
    }
}

fn with_key(
    request: ureq::RequestBuilder<ureq::typestate::WithoutBody>,
    key: Option<&str>,
) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
    match key {
        Some(key) => request.header("x-api-key", key),
        None => request,
    }
}
