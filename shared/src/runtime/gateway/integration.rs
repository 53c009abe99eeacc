//! What API Gateway hands a deployer's backend for a request the authorizer
//! allowed, and how it reads the backend's answer: the two integrations that
//! `keygate serve --upstream` stands in for.
//!
//! - A Lambda integration, payload format 2.0: the event
//!   ([`DeployerRequest::into_lambda_event`], with the authorizer's context in
//!   `requestContext.authorizer.lambda`) and the function's output read as API
//!   Gateway reads it ([`lambda_answer`]).
//! - An HTTP integration whose parameter mapping removes `X-API-Key` and
//!   overwrites one `X-Keygate-*` header per field of the authorizer's context
//!   (`overwrite:header.x-keygate-org-id` = `$context.authorizer.org_id`, …):
//!   [`DeployerRequest::into_http_request`].
//!
//! Only the shapes live here; connecting, and the timeout, are the caller's.

use std::collections::HashMap;
use std::time::Duration;

use ::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use aws_lambda_events::query_map::QueryMap;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use lambda_http::{Body, Response};
use serde_json::Value;

use super::Incoming;
use crate::http::authorizer::API_KEY_HEADER;
use crate::http::context::AuthorizerContext;

/// How long the gateway waits for the backend's whole answer before it
/// answers [`IntegrationAnswer::TimedOut`].
pub const INTEGRATION_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest request body, and backend answer, API Gateway passes on.
pub const MAX_PAYLOAD_BYTES: usize = 10 * 1024 * 1024;

/// The headers that carry the authorizer's context to an HTTP backend are
/// this prefix and the field's name, `_` as `-`: `x-keygate-org-id`.
pub const CONTEXT_HEADER_PREFIX: &str = "x-keygate-";

/// Headers about one connection, which a proxy never passes on (RFC 9110
/// §7.6.1), besides any that `Connection` names.
pub const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The v1-authorizer fields the event type carries, which API Gateway never
/// puts in a payload-2.0 event.
const NOT_IN_A_V2_EVENT: [&str; 6] = [
    "type",
    "methodArn",
    "httpMethod",
    "identitySource",
    "authorizationToken",
    "resource",
];

/// A request the authorizer allowed on one of the deployer's routes, with
/// what API Gateway knows about it by then.
pub struct DeployerRequest {
    pub incoming: Incoming,
    /// The matched route, `GET /orders/{id}`.
    pub route_key: String,
    pub path_parameters: HashMap<String, String>,
    /// The query, each name's values in order.
    pub query: HashMap<String, Vec<String>>,
    /// `requestContext`, with the authorizer's context in `authorizer.lambda`.
    pub context: ApiGatewayV2httpRequestContext,
    /// The same context, typed.
    pub caller: AuthorizerContext,
}

/// API Gateway's own answers (`{"message": …}`) on a deployer's route when
/// the backend does not answer: never given on keygate's own routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr)]
pub enum IntegrationAnswer {
    /// A request body over [`MAX_PAYLOAD_BYTES`].
    #[strum(serialize = "Request Entity Too Large")]
    TooLarge,
    /// The function failed (an error, a crash, a timeout of its own), or its
    /// output is not an answer API Gateway can read.
    #[strum(serialize = "Internal Server Error")]
    InternalServerError,
    /// The backend is not there, closed the connection, or did not speak HTTP.
    #[strum(serialize = "Bad Gateway")]
    BadGateway,
    /// No whole answer within [`INTEGRATION_TIMEOUT`].
    #[strum(serialize = "Endpoint request timed out")]
    TimedOut,
}

impl IntegrationAnswer {
    pub fn status(self) -> u16 {
        match self {
            IntegrationAnswer::TooLarge => 413,
            IntegrationAnswer::InternalServerError => 500,
            IntegrationAnswer::BadGateway => 502,
            IntegrationAnswer::TimedOut => 504,
        }
    }

    pub fn response(self) -> Response<Body> {
        let message: &'static str = self.into();
        Response::builder()
            .status(self.status())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Text(
                serde_json::json!({ "message": message }).to_string(),
            ))
            .unwrap_or_default()
    }
}

impl DeployerRequest {
    /// The payload-2.0 event API Gateway sends a Lambda integration: header
    /// names lower-case, repeated headers and query values joined with
    /// commas, `Cookie` headers as `cookies`, a body that is not text in
    /// base64, and the caller in `requestContext.authorizer.lambda`.
    pub fn into_lambda_event(self) -> serde_json::Result<Value> {
        let DeployerRequest {
            incoming,
            route_key,
            path_parameters,
            query,
            mut context,
            caller: _,
        } = self;
        let host = incoming
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("localhost")
            .to_owned();
        let mut headers = forwarded(incoming.headers, incoming.source_ip.as_deref());
        let cookies: Vec<String> = headers
            .get_all(header::COOKIE)
            .iter()
            .flat_map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .split(';')
                    .map(|c| c.trim().to_owned())
                    .collect::<Vec<_>>()
            })
            .filter(|c| !c.is_empty())
            .collect();
        headers.remove(header::COOKIE);
        let (body, is_base64_encoded) = event_body(&headers, incoming.body);

        let now = time::OffsetDateTime::now_utc();
        context.account_id = Some("000000000000".into());
        context.apiid = Some("keygate".into());
        context.domain_prefix = host.split('.').next().map(str::to_owned);
        context.domain_name = Some(host);
        context.time = now
            .format(time::macros::format_description!(
                "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
            ))
            .ok();
        context.time_epoch = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(0);

        let mut event = ApiGatewayV2httpRequest::default();
        event.version = Some("2.0".into());
        event.route_key = Some(route_key);
        event.raw_path = Some(incoming.uri.path().to_owned());
        event.raw_query_string = Some(incoming.uri.query().unwrap_or_default().to_owned());
        event.cookies = (!cookies.is_empty()).then_some(cookies);
        event.headers = joined(&headers);
        event.query_string_parameters = QueryMap::from(query);
        event.path_parameters = path_parameters;
        event.request_context = context;
        event.body = body;
        event.is_base64_encoded = is_base64_encoded;

        let mut json = serde_json::to_value(&event)?;
        if let Value::Object(fields) = &mut json {
            for name in NOT_IN_A_V2_EVENT {
                fields.remove(name);
            }
            if fields
                .get("stageVariables")
                .and_then(Value::as_object)
                .is_some_and(|v| v.is_empty())
            {
                fields.remove("stageVariables");
            }
        }
        Ok(json)
    }

    /// The request an HTTP integration sends to `authority` (`host:port`),
    /// its path under `base_path` (`""` or `/base`): the method, path, query,
    /// headers and body as they came, without `X-API-Key`, connection headers
    /// or any `X-Keygate-*` header the client sent, with the authorizer's
    /// context as `X-Keygate-*` headers ([`context_headers`]) and
    /// `X-Forwarded-For`/`-Proto`.
    pub fn into_http_request(
        self,
        authority: &str,
        base_path: &str,
    ) -> Result<::http::Request<Vec<u8>>, IntegrationAnswer> {
        let context = context_headers(&self.caller).map_err(|field| {
            tracing::error!(
                field,
                "the authorizer's context does not fit in a header; not forwarding"
            );
            IntegrationAnswer::InternalServerError
        })?;
        let incoming = self.incoming;
        let mut headers = forwarded(incoming.headers, incoming.source_ip.as_deref());
        headers.remove(API_KEY_HEADER);
        headers.remove(header::CONTENT_LENGTH);
        let client_context: Vec<HeaderName> = headers
            .keys()
            .filter(|name| name.as_str().starts_with(CONTEXT_HEADER_PREFIX))
            .cloned()
            .collect();
        for name in client_context {
            headers.remove(name);
        }
        headers.extend(context);
        let host =
            HeaderValue::from_str(authority).map_err(|_| IntegrationAnswer::InternalServerError)?;
        headers.insert(header::HOST, host);

        let target = match incoming.uri.query() {
            Some(query) => format!("{base_path}{}?{query}", incoming.uri.path()),
            None => format!("{base_path}{}", incoming.uri.path()),
        };
        let mut request = ::http::Request::builder()
            .method(incoming.method)
            .uri(target)
            .body(incoming.body)
            .map_err(|_| IntegrationAnswer::InternalServerError)?;
        *request.headers_mut() = headers;
        Ok(request)
    }
}

/// One `X-Keygate-<field>` header per field of the authorizer's context, in
/// its serialized form: the same strings a Lambda backend reads from
/// `requestContext.authorizer.lambda`. `Err` names a field whose value
/// cannot be a header value.
pub fn context_headers(
    caller: &AuthorizerContext,
) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    let Ok(Value::Object(fields)) = serde_json::to_value(caller) else {
        return Err("(the context)".into());
    };
    fields
        .into_iter()
        .map(|(field, value)| {
            let text = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
            let name = format!("{CONTEXT_HEADER_PREFIX}{}", field.replace('_', "-"));
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(text.as_bytes()),
            ) {
                (Ok(name), Ok(value)) => Ok((name, value)),
                _ => Err(field),
            }
        })
        .collect()
}

/// The function's output read as API Gateway reads a payload-2.0 answer:
/// an object with `statusCode` is the answer (`headers`, `cookies` as
/// `Set-Cookie`, `body`, base64 when `isBase64Encoded`); other JSON is a 200
/// `application/json` body as it stands; a Lambda error (`errorType`,
/// `errorMessage`) or output that is not JSON is a 500.
pub fn lambda_answer(output: &[u8]) -> Result<Response<Body>, IntegrationAnswer> {
    let fail = IntegrationAnswer::InternalServerError;
    let Ok(value) = serde_json::from_slice::<Value>(output) else {
        return Err(fail);
    };
    let Some(fields) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        if value.get("errorType").is_some() && value.get("errorMessage").is_some() {
            return Err(fail);
        }
        let text = String::from_utf8_lossy(output).into_owned();
        return Response::builder()
            .status(200)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::Text(text))
            .map_err(|_| fail);
    };
    let status = fields["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .filter(|s| (100..=599).contains(s))
        .ok_or(fail)?;
    let mut response = Response::builder().status(status);
    if let Some(headers) = fields.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            response = response.header(name.as_str(), text);
        }
    }
    if let Some(cookies) = fields.get("cookies").and_then(Value::as_array) {
        for cookie in cookies.iter().filter_map(Value::as_str) {
            response = response.header(header::SET_COOKIE, cookie);
        }
    }
    let body = match fields.get("body").and_then(Value::as_str) {
        None | Some("") => Body::Empty,
        Some(text) if fields.get("isBase64Encoded") == Some(&Value::Bool(true)) => {
            Body::Binary(BASE64.decode(text).map_err(|_| fail)?)
        }
        Some(text) => Body::Text(text.to_owned()),
    };
    response.body(body).map_err(|_| fail)
}

/// `headers` without connection headers, with the client's address added
/// to `X-Forwarded-For` and `X-Forwarded-Proto: http`, as a proxy sends them.
fn forwarded(mut headers: HeaderMap, source_ip: Option<&str>) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
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
    if let Some(ip) = source_ip {
        let chain = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(earlier) => format!("{earlier}, {ip}"),
            None => ip.to_owned(),
        };
        if let Ok(value) = HeaderValue::from_str(&chain) {
            headers.insert("x-forwarded-for", value);
        }
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    headers
}

/// Each header once, its values joined with commas (payload 2.0 has no
/// multi-value headers); text that is not UTF-8 is replaced, as the event is JSON.
fn joined(headers: &HeaderMap) -> HeaderMap {
    let mut one_each = HeaderMap::new();
    for name in headers.keys() {
        let values: Vec<String> = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if let Ok(value) = HeaderValue::from_str(&values.join(",")) {
            one_each.insert(name.clone(), value);
        }
    }
    one_each
}

/// The event's `body` and `isBase64Encoded`: text as it is when its media
/// type is textual (or not given), anything else in base64.
fn event_body(headers: &HeaderMap, body: Vec<u8>) -> (Option<String>, bool) {
    if body.is_empty() {
        return (None, false);
    }
    let textual = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|media_type| {
            let essence = media_type
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            essence.starts_with("text/")
                || [
                    "application/json",
                    "application/javascript",
                    "application/xml",
                    "application/yaml",
                ]
                .contains(&essence.as_str())
                || essence.ends_with("+json")
                || essence.ends_with("+xml")
        });
    match String::from_utf8(body) {
        Ok(text) if textual => (Some(text), false),
        Ok(text) => (Some(BASE64.encode(text)), true),
        Err(e) => (Some(BASE64.encode(e.into_bytes())), true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> AuthorizerContext {
        AuthorizerContext {
            org_id: "acme".into(),
            key_id: "0123456789abcdef".into(),
            key_type: "user".into(),
            owner: "ana@acme.example".into(),
            scopes: "orders:read orders:write".into(),
            hint: "kg_...Ab3d".into(),
            expires_at: String::new(),
            ..AuthorizerContext::default()
        }
    }

    fn request(headers: &[(&str, &str)], body: &[u8]) -> DeployerRequest {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        let mut context = ApiGatewayV2httpRequestContext::default();
        context.route_key = Some("POST /orders/{id}/cancel".into());
        context.http.method = ::http::Method::POST;
        context.http.path = Some("/orders/o1/cancel".into());
        let mut authorizer = aws_lambda_events::apigw::ApiGatewayRequestAuthorizer::default();
        if let Ok(Value::Object(fields)) = serde_json::to_value(caller()) {
            authorizer.fields = fields.into_iter().collect();
        }
        context.authorizer = Some(authorizer);
        DeployerRequest {
            incoming: Incoming {
                method: ::http::Method::POST,
                uri: "/orders/o1/cancel?x=1&x=2".parse().unwrap(),
                headers: map,
                body: body.to_vec(),
                source_ip: Some("127.0.0.1".into()),
            },
            route_key: "POST /orders/{id}/cancel".into(),
            path_parameters: HashMap::from([("id".into(), "o1".into())]),
            query: HashMap::from([("x".into(), vec!["1".into(), "2".into()])]),
            context,
            caller: caller(),
        }
    }

    #[test]
    fn one_header_per_context_field_with_the_values_a_lambda_reads() {
        let headers = context_headers(&caller()).unwrap();
        let fields = serde_json::to_value(caller()).unwrap();
        let fields = fields.as_object().unwrap();
        assert_eq!(headers.len(), fields.len());
        for (field, value) in fields {
            let name = format!("x-keygate-{}", field.replace('_', "-"));
            let sent = headers.iter().find(|(n, _)| n.as_str() == name).unwrap();
            assert_eq!(sent.1.to_str().unwrap(), value.as_str().unwrap());
        }
    }

    #[test]
    fn the_http_request_drops_the_key_and_any_context_the_client_claims() {
        let forged = request(
            &[
                ("x-api-key", "kg_secret"),
                ("x-keygate-org-id", "globex"),
                ("x-keygate-extra", "forged"),
                ("connection", "keep-alive, x-hop"),
                ("x-hop", "1"),
                ("accept", "application/json"),
                ("content-length", "2"),
            ],
            b"{}",
        );
        let sent = forged.into_http_request("127.0.0.1:3000", "/base").unwrap();
        assert_eq!(sent.uri().to_string(), "/base/orders/o1/cancel?x=1&x=2");
        let headers = sent.headers();
        assert!(headers.get("x-api-key").is_none());
        assert!(headers.get("x-keygate-extra").is_none());
        assert!(headers.get("x-hop").is_none());
        assert!(headers.get("connection").is_none());
        assert!(headers.get("content-length").is_none());
        assert_eq!(headers.get_all("x-keygate-org-id").iter().count(), 1);
        assert_eq!(headers["x-keygate-org-id"], "acme");
        assert_eq!(headers["x-keygate-scopes"], "orders:read orders:write");
        assert_eq!(headers["host"], "127.0.0.1:3000");
        assert_eq!(headers["x-forwarded-for"], "127.0.0.1");
        assert_eq!(headers["accept"], "application/json");
        assert_eq!(sent.body(), b"{}");
    }

    #[test]
    fn the_lambda_event_is_payload_2_0_with_the_callers_context() {
        let event = request(
            &[
                ("x-api-key", "kg_secret"),
                ("cookie", "a=1; b=2"),
                ("accept", "text/html"),
                ("accept", "application/json"),
                ("content-type", "application/json"),
                ("host", "127.0.0.1:8787"),
            ],
            br#"{"reason":"late"}"#,
        )
        .into_lambda_event()
        .unwrap();
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["routeKey"], "POST /orders/{id}/cancel");
        assert_eq!(event["rawPath"], "/orders/o1/cancel");
        assert_eq!(event["rawQueryString"], "x=1&x=2");
        assert_eq!(event["queryStringParameters"]["x"], "1,2");
        assert_eq!(event["pathParameters"]["id"], "o1");
        assert_eq!(event["cookies"], serde_json::json!(["a=1", "b=2"]));
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["headers"]["accept"], "text/html,application/json");
        // A Lambda integration gets every header, the key too.
        assert_eq!(event["headers"]["x-api-key"], "kg_secret");
        assert_eq!(event["body"], r#"{"reason":"late"}"#);
        assert_eq!(event["isBase64Encoded"], false);
        let context = &event["requestContext"];
        assert_eq!(context["authorizer"]["lambda"]["org_id"], "acme");
        assert_eq!(context["domainName"], "127.0.0.1:8787");
        assert!(context["timeEpoch"].as_i64().unwrap() > 0);
        for absent in NOT_IN_A_V2_EVENT {
            assert!(event.get(absent).is_none(), "{absent} in {event}");
        }
        // lambda_http reads it as the request a function sees, its caller
        // through the same type the authorizer wrote.
        let seen = lambda_http::request::from_str(&event.to_string()).unwrap();
        assert_eq!(seen.method(), ::http::Method::POST);
        assert_eq!(seen.uri().path(), "/orders/o1/cancel");
        assert_eq!(AuthorizerContext::of_request(&seen), Some(caller()));
    }

    #[test]
    fn a_body_that_is_not_text_is_base64() {
        let event = request(
            &[("content-type", "application/octet-stream")],
            &[0, 159, 1],
        )
        .into_lambda_event()
        .unwrap();
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], BASE64.encode([0, 159, 1]));
    }

    #[test]
    fn the_functions_output_is_read_as_api_gateway_reads_it() {
        let answer = lambda_answer(
            br#"{"statusCode":201,"headers":{"content-type":"text/plain","x-n":3},
                "cookies":["a=1","b=2; Path=/"],"body":"aGk=","isBase64Encoded":true}"#,
        )
        .unwrap();
        assert_eq!(answer.status(), 201);
        assert_eq!(answer.headers()["content-type"], "text/plain");
        assert_eq!(answer.headers()["x-n"], "3");
        let cookies: Vec<_> = answer.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2; Path=/"]);
        assert_eq!(answer.body(), &Body::Binary(b"hi".to_vec()));

        let bare = lambda_answer(br#"{"orders":[]}"#).unwrap();
        assert_eq!(bare.status(), 200);
        assert_eq!(bare.headers()["content-type"], "application/json");
        assert_eq!(bare.body(), &Body::Text(r#"{"orders":[]}"#.into()));

        for broken in [
            &br#"{"errorType":"Panic","errorMessage":"boom"}"#[..],
            b"Task timed out after 3.00 seconds",
            br#"{"statusCode":"teapot"}"#,
            br#"{"statusCode":200,"body":"%%%","isBase64Encoded":true}"#,
        ] {
            assert_eq!(
                lambda_answer(broken).map(|r| r.status()),
                Err(IntegrationAnswer::InternalServerError),
                "{}",
                String::from_utf8_lossy(broken)
            );
        }
    }
}
