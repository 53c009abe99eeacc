//! A local stand-in for API Gateway (HTTP API, payload 2.0): match the route,
//! require the identity source, call the authorizer with an event shaped like
//! API Gateway's, then call the operation's handler with the authorizer's
//! context. `keygate serve` and the handler tests both go through here. A
//! request allowed on a deployer's route is handed back ([`Routed::Deployer`])
//! in the shapes of [`integration`], for `keygate serve --upstream` to pass on.

pub mod integration;

use std::collections::HashMap;

use ::http::{HeaderMap, Method, Uri};
use aws_lambda_events::apigw::{
    ApiGatewayRequestAuthorizer, ApiGatewayV2CustomAuthorizerV2Request,
    ApiGatewayV2httpRequestContext, ApiGatewayV2httpRequestContextHttpDescription,
};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::app::App;
use crate::domain::routes::{Matched, Serves};
use crate::http::authorizer;
use crate::http::context::AuthorizerContext;
use crate::http::error::{GatewayAnswer, method_not_allowed};
use crate::store::Store;
use integration::{DeployerRequest, IntegrationAnswer};

/// One HTTP request as it reaches API Gateway.
pub struct Incoming {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The client's address (`requestContext.http.sourceIp`).
    pub source_ip: Option<String>,
}

/// The authorizer event API Gateway would send for this request, given its
/// parsed query and request context (which the function's request reuses).
fn authorizer_event(
    incoming: &Incoming,
    route_key: &str,
    path_parameters: &HashMap<String, String>,
    query: &HashMap<String, Vec<String>>,
    context: &ApiGatewayV2httpRequestContext,
) -> ApiGatewayV2CustomAuthorizerV2Request {
    let mut event = ApiGatewayV2CustomAuthorizerV2Request::default();
    event.version = Some("2.0".into());
    event.type_ = Some("REQUEST".into());
    event.route_arn = Some(format!(
        "arn:aws:execute-api:local:000000000000:keygate/$default/{}",
        route_key.replacen(' ', "", 1)
    ));
    event.route_key = Some(route_key.to_owned());
    event.raw_path = Some(incoming.uri.path().to_owned());
    event.raw_query_string = Some(incoming.uri.query().unwrap_or_default().to_owned());
    event.identity_source = incoming
        .headers
        .get(authorizer::API_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|v| vec![v.to_owned()]);
    event.headers = incoming.headers.clone();
    event.path_parameters = path_parameters.clone();
    event.query_string_parameters = query
        .iter()
        .map(|(k, v)| (k.clone(), v.join(",")))
        .collect();
    event.request_context = context.clone();
    event
}

fn request_context(
    incoming: &Incoming,
    route_key: &str,
    request_id: &str,
) -> ApiGatewayV2httpRequestContext {
    let mut http_description = ApiGatewayV2httpRequestContextHttpDescription::default();
    http_description.method = incoming.method.clone();
    http_description.path = Some(incoming.uri.path().to_owned());
    http_description.protocol = Some("HTTP/1.1".into());
    http_description.source_ip = incoming.source_ip.clone();
    http_description.user_agent = incoming
        .headers
        .get(::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.route_key = Some(route_key.to_owned());
    context.request_id = Some(request_id.to_owned());
    context.stage = Some("$default".into());
    context.http = http_description;
    context
}

fn query_pairs(uri: &Uri) -> HashMap<String, Vec<String>> {
    let mut query: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        query
            .entry(k.into_owned())
            .or_default()
            .push(v.into_owned());
    }
    query
}

/// What API Gateway decides before it reads a request's body: the route
/// (404 when none matches) and, for a key-protected route, that the identity
/// source is present (401). Public routes need no key.
pub fn admit<'a, S: Store>(
    app: &'a App<S>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Matched<'a>, Refusal> {
    let Some(matched) = app.routes().match_request(method.as_str(), uri.path()) else {
        let allowed = app.routes().allowed_methods(uri.path());
        return Err(if allowed.is_empty() {
            Refusal::NotFound
        } else {
            Refusal::MethodNotAllowed(allowed.join(", "))
        });
    };
    if let Serves::Page(_) = matched.route.serves {
        return Ok(matched);
    }
    let has_key = headers
        .get(authorizer::API_KEY_HEADER)
        .is_some_and(|v| !v.is_empty());
    if !has_key {
        return Err(Refusal::Unauthorized);
    }
    Ok(matched)
}

/// Why API Gateway answers a request without reading its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No route matches: 404 `{"message":"Not Found"}`.
    NotFound,
    /// A keygate path, but not this method: 405 with `Allow` (the stack's
    /// `ANY` routes answer the same, see [`method_not_allowed`]).
    MethodNotAllowed(String),
    /// No identity source on a key-protected route: 401 `{"message":"Unauthorized"}`.
    Unauthorized,
}

impl Refusal {
    pub fn answer(self) -> Response<Body> {
        match self {
            Refusal::NotFound => GatewayAnswer::NotFound.response(),
            Refusal::MethodNotAllowed(allow) => method_not_allowed(&allow),
            Refusal::Unauthorized => GatewayAnswer::Unauthorized.response(),
        }
    }
}

/// Route, identity source, authorizer, then the handler: [`admit`] then
/// [`forward`].
pub async fn dispatch<S: Store>(app: &App<S>, incoming: Incoming) -> Response<Body> {
    match admit(app, &incoming.method, &incoming.uri, &incoming.headers) {
        Ok(matched) => forward(app, matched, incoming).await,
        Err(refusal) => refusal.answer(),
    }
}

/// An admitted request: [`route`], where a deployer's route has no backend
/// (an allowed request there is a 404, as from a stack without that route).
pub async fn forward<S: Store>(
    app: &App<S>,
    matched: Matched<'_>,
    incoming: Incoming,
) -> Response<Body> {
    match route(app, matched, incoming).await {
        Routed::Answer(answer) => answer,
        Routed::Deployer(_) => GatewayAnswer::NotFound.response(),
    }
}

/// Where an admitted request ends.
pub enum Routed {
    /// Answered here: by the authorizer's deny, a keygate handler or a page.
    Answer(Response<Body>),
    /// Allowed on a deployer's route: the deployer's backend answers it.
    Deployer(Box<DeployerRequest>),
}

/// An admitted request: the authorizer (403 when it denies; skipped for
/// public routes), then the operation's handler with the authorizer's
/// context, or the deployer's route with everything its backend is given.
pub async fn route<S: Store>(app: &App<S>, matched: Matched<'_>, incoming: Incoming) -> Routed {
    let request_id = uuid::Uuid::now_v7().to_string();
    let route_key = matched.route_key;
    let query = query_pairs(&incoming.uri);
    let mut context = request_context(&incoming, route_key, &request_id);
    if !matches!(matched.route.serves, Serves::Page(_)) {
        let event = authorizer_event(
            &incoming,
            route_key,
            &matched.path_parameters,
            &query,
            &context,
        );
        let decision = authorizer::authorize(app, &event).await;
        if !decision.is_authorized {
            return Routed::Answer(GatewayAnswer::Forbidden.response());
        }
        let mut authorizer_context = ApiGatewayRequestAuthorizer::default();
        if let serde_json::Value::Object(map) = decision.context {
            authorizer_context.fields = map.into_iter().collect();
        }
        context.authorizer = Some(authorizer_context);
    }
    let serves = matched.route.serves;
    if let Serves::Deployer(_) = serves {
        return deployer_request(incoming, route_key, matched.path_parameters, query, context);
    }
    Routed::Answer(answer(app, serves, matched, query, context, incoming).await)
}

/// The allowed request on a deployer's route, with the authorizer's context
/// typed; a context that is not keygate's (never, from keygate's authorizer)
/// is a 500 rather than a request without its caller.
fn deployer_request(
    incoming: Incoming,
    route_key: &str,
    path_parameters: HashMap<String, String>,
    query: HashMap<String, Vec<String>>,
    context: ApiGatewayV2httpRequestContext,
) -> Routed {
    let fields = context.authorizer.as_ref().map(|a| a.fields.clone());
    let caller = fields.and_then(|fields| {
        serde_json::from_value::<AuthorizerContext>(serde_json::Value::Object(
            fields.into_iter().collect(),
        ))
        .ok()
    });
    let Some(caller) = caller else {
        tracing::error!(
            route_key,
            "no authorizer context on an allowed deployer route"
        );
        return Routed::Answer(IntegrationAnswer::InternalServerError.response());
    };
    Routed::Deployer(Box::new(DeployerRequest {
        incoming,
        route_key: route_key.to_owned(),
        path_parameters,
        query,
        context,
        caller,
    }))
}

/// A keygate operation's handler or a public page, with the request as the
/// Lambda function would receive it.
async fn answer<S: Store>(
    app: &App<S>,
    serves: Serves,
    matched: Matched<'_>,
    query: HashMap<String, Vec<String>>,
    context: ApiGatewayV2httpRequestContext,
    incoming: Incoming,
) -> Response<Body> {
    let body = if incoming.body.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(incoming.body) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let mut request = Request::new(body);
    *request.method_mut() = incoming.method;
    *request.uri_mut() = incoming.uri;
    *request.headers_mut() = incoming.headers;
    let request = request
        .with_path_parameters(matched.path_parameters)
        .with_query_string_parameters(query)
        .with_request_context(RequestContext::ApiGatewayV2(context));
    match serves {
        Serves::Operation(operation) => crate::http::handle(app, operation, request).await,
        Serves::Page(_) | Serves::Deployer(_) => crate::http::public::handle(request, &app.catalog),
    }
}
