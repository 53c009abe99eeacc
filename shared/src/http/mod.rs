//! HTTP: keygate's API as API Gateway (payload 2.0) delivers it. Each Lambda
//! binary serves one [`Operation`] through [`handle`]; the authorizer
//! ([`authorizer`]) decides every key-protected request before it and hands
//! the handlers the calling key ([`context`]); public pages ([`public`]) and
//! the OpenAPI document ([`openapi`]) need no key. Every error becomes an
//! answer in one place ([`error`]).
//!
//! Each handler reads: parse the request into validated values, authorize
//! against the calling key ([`crate::domain::authority`]), hand the store
//! one [`crate::domain::change::Change`], answer.

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::app::App;
use crate::domain::audit::Actor;
use crate::domain::authority::Caller;
use crate::domain::change::{ActorGuard, Origin};
use crate::domain::routes::{Operation, Requirement};
use crate::domain::time::Timestamp;
use crate::store::Store;

use self::context::AuthorizerContext;
use self::error::{ApiError, ErrorCode};
use self::request::Input;

pub mod assets;
pub mod authorizer;
pub mod context;
pub mod cursor;
pub mod error;
mod handlers;
pub mod openapi;
pub mod public;
mod request;
pub mod schema;
pub mod views;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 100;

/// The request id API Gateway assigned (or the local server made up).
pub fn request_id(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone(),
        _ => None,
    }
    .or_else(|| req.lambda_context_ref().map(|c| c.request_id.clone()))
    .unwrap_or_else(|| uuid::Uuid::now_v7().to_string())
}

/// The route key API Gateway matched, from the request context.
pub fn route_key(req: &Request) -> Option<&str> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.route_key.as_deref(),
        _ => None,
    }
}

/// The calling key, from the authorizer's context; a request without one
/// did not come through the keygate authorizer.
fn caller_of(context: Option<&AuthorizerContext>) -> Result<Caller, ApiError> {
    context
        .and_then(AuthorizerContext::caller)
        .ok_or_else(ApiError::unauthenticated)
}

/// Defence in depth: the authorizer already checked this route's scope.
fn require(caller: &Caller, requirement: Requirement) -> Result<(), ApiError> {
    match requirement {
        Requirement::AnyValidKey => Ok(()),
        Requirement::Scope(s) if caller.permissions.covers(s) => Ok(()),
        Requirement::Scope(s) => Err(ApiError::new(
            ErrorCode::InsufficientScope,
            format!("this call needs the {s} scope"),
        )),
    }
}

/// Who is changing keys, from where, for the audit trail; and the guard that
/// the calling key is still as the authorizer saw it.
fn origin_of(req: &Request, caller: &Caller, request_id: &str, at: Timestamp) -> Origin {
    let http = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => Some(&ctx.http),
        _ => None,
    };
    let user_agent = http.and_then(|h| h.user_agent.as_deref()).or_else(|| {
        req.headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
    });
    Origin::new(
        Actor::Key {
            id: caller.key_id,
            hint: caller.hint.clone(),
        },
        at,
        request_id,
        http.and_then(|h| h.source_ip.as_deref()),
        user_agent,
    )
    .named(caller.name.clone())
    .guarded(ActorGuard {
        key_id: caller.key_id,
        expires_at: caller.expires_at,
    })
}

/// Serve one call of `op`. Never fails: every error is an HTTP answer, and
/// each answer is logged once, here, with the whole chain of its cause.
pub async fn handle<S: Store>(app: &App<S>, op: Operation, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let context = AuthorizerContext::of_request(&req);
    let result = match route_key(&req) {
        // Fail closed: a function deployed behind another route must not
        // serve it as its own operation.
        Some(route) if route == op.route_key() => {
            dispatch(app, op, &req, context.as_ref(), &request_id).await
        }
        route => {
            tracing::error!(
                operation = op.function_name(),
                expected = op.route_key(),
                received = route.unwrap_or("(none)"),
                request_id = %request_id,
                "misrouted request: this function does not serve that route"
            );
            Err(ApiError::internal(format!(
                "misrouted: {} received {}",
                op.route_key(),
                route.unwrap_or("(none)")
            )))
        }
    };
    let mut response = secure(match result {
        Ok(response) => response,
        Err(e) => {
            log_failure(&e, &request_id);
            e.into_response(&request_id)
        }
    });
    // A key with limits hears where it stands on every answer.
    if let Some(context) = &context {
        for (name, value) in context.ratelimit_headers() {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                response.headers_mut().insert(name, value);
            }
        }
    }
    tracing::info!(
        operation = op.function_name(),
        status = response.status().as_u16(),
        request_id = %request_id,
        "handled"
    );
    response
}

/// One log line for an answer with a cause behind it: an error for a fault,
/// a warning for an outage or throttling (503).
fn log_failure(e: &ApiError, request_id: &str) {
    if std::error::Error::source(e).is_none() {
        return;
    }
    if e.code == ErrorCode::ServiceUnavailable {
        tracing::warn!(request_id = %request_id, error = %e.chain(), "unavailable");
    } else {
        tracing::error!(request_id = %request_id, error = %e.chain(), "failed");
    }
}

async fn dispatch<S: Store>(
    app: &App<S>,
    op: Operation,
    req: &Request,
    context: Option<&AuthorizerContext>,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    let caller = caller_of(context)?;
    // `defer` mode: over its limits, the request is answered before
    // anything else is done.
    if let Some(over) = context.and_then(AuthorizerContext::over_limit) {
        return Err(ApiError::over_limit(&over));
    }
    require(&caller, op.required())?;
    if req.body().len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    let input = Input::of(op, req)?;
    let now = app.clock.now();
    let origin = || origin_of(req, &caller, request_id, now);
    use handlers::{audit, keys, labels, lifecycle, limits, rotation, scopes};
    match op {
        Operation::CreateKey => keys::create(app, &caller, &input, &origin()).await,
        Operation::ListKeys => keys::list(app, &caller, &input, now).await,
        Operation::GetKey => keys::get(app, &caller, req, now).await,
        Operation::UpdateKey => labels::update(app, &caller, req, &input, &origin()).await,
        Operation::ListScopes => scopes::list(&app.catalog),
        Operation::SuspendKey => lifecycle::suspend(app, &caller, req, &origin()).await,
        Operation::ReactivateKey => lifecycle::reactivate(app, &caller, req, &origin()).await,
        Operation::RevokeKey => lifecycle::revoke(app, &caller, req, &input, &origin()).await,
        Operation::DeleteKey => lifecycle::delete(app, &caller, req, &origin()).await,
        Operation::RotateKey => rotation::rotate(app, &caller, req, &input, &origin()).await,
        Operation::ListAuditEvents => audit::list(app, &caller, &input).await,
        Operation::SetLimits => limits::set(app, &caller, req, &input, &origin()).await,
        Operation::GetUsage => limits::get(app, &caller, req).await,
        Operation::ResetUsage => limits::reset(app, &caller, req, &origin()).await,
    }
}

/// Headers on every API answer: never sniffed as another type, and never
/// stored by a cache (create and rotate carry a key; every answer carries
/// key data).
fn secure(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    response
}
