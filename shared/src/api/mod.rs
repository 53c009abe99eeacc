//! HTTP handlers for every management call, on `lambda_http` requests that
//! carry the authorizer's context. Each Lambda binary serves one
//! [`Operation`]; `keygate serve` routes to the same function.
//!
//! Each handler reads: parse the request into validated values, authorize
//! against the calling key ([`crate::authority`]), hand the store one
//! [`crate::change::Change`], answer.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use crate::audit::Actor;
use crate::authority::Caller;
use crate::change::{ActorGuard, Change, Origin};
use crate::error::{ApiError, ErrorCode};
use crate::key::{FullKey, KeyFormat, KeyId};
use crate::model::{
    Clock, Description, KeyName, KeyRecord, KeyType, OrgId, SystemClock, Timestamp,
};
use crate::routes::{Operation, Requirement, RouteTable};
use crate::scope::Permissions;
use crate::store::{Store, StoreError};

mod audit;
mod keys;
mod lifecycle;
mod request;
mod rotation;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 100;

/// How often a change is decided again when the key changed under it
/// before the answer is a 503.
const CHANGE_ATTEMPTS: usize = 3;

/// Everything a handler or the authorizer needs, built once per process.
pub struct App<S> {
    pub store: S,
    pub keys: KeyFormat,
    pub routes: RouteTable,
    pub clock: Arc<dyn Clock>,
}

impl<S: Store> App<S> {
    pub fn new(store: S, keys: KeyFormat) -> Self {
        Self {
            store,
            keys,
            routes: RouteTable::builtin().clone(),
            clock: Arc::new(SystemClock),
        }
    }

    pub fn with_routes(mut self, routes: RouteTable) -> Self {
        self.routes = routes;
        self
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Mint a full-access key for `org` straight into the store, with a
    /// `bootstrap` audit event: `keygate bootstrap` (also how a locked-out
    /// organization is recovered) and the first start of `keygate serve`.
    /// Returns the record and the full key.
    pub async fn mint_root_key(
        &self,
        org: &OrgId,
        name: &str,
    ) -> Result<(KeyRecord, FullKey), ApiError> {
        let name = KeyName::new(name).map_err(|e| ApiError::bad_request("name", e))?;
        let now = self.clock.now();
        let new = self.keys.generate();
        let record = KeyRecord {
            description: Some(
                Description::new("created by keygate bootstrap")
                    .map_err(|e| ApiError::bad_request("description", e))?,
            ),
            ..KeyRecord::new_active(
                &new,
                org.clone(),
                name,
                KeyType::Service,
                Permissions::Full,
                now,
            )
        };
        self.store
            .commit(&Change::create(record.clone(), &Origin::bootstrap(now)))
            .await?;
        Ok((record, new.key))
    }
}

/// The calling key, from the authorizer's context; a request without one
/// did not come through the keygate authorizer.
fn caller_of(req: &Request) -> Result<Caller, ApiError> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return Err(ApiError::unauthenticated());
    };
    let fields = &ctx
        .authorizer
        .as_ref()
        .ok_or_else(ApiError::unauthenticated)?
        .fields;
    let text = |name: &str| {
        fields
            .get(name)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(ApiError::unauthenticated)
    };
    let scopes: Vec<&str> = text("scopes")?.split_whitespace().collect();
    let expires_at = match text("expires_at")? {
        "" => None,
        at => Some(Timestamp::parse_rfc3339(at).map_err(|_| ApiError::unauthenticated())?),
    };
    Ok(Caller {
        org: OrgId::new(text("org_id")?).map_err(|_| ApiError::unauthenticated())?,
        key_id: KeyId::parse(text("key_id")?).map_err(|_| ApiError::unauthenticated())?,
        hint: text("hint")?.to_owned(),
        permissions: Permissions::from_strings(&scopes).map_err(|_| ApiError::unauthenticated())?,
        expires_at,
    })
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
        Requirement::Public => Err(ApiError::internal(
            "a public route reached a key-protected handler",
        )),
    }
}

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

/// Who is changing keys, from where, for the audit trail.
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
    .guarded(ActorGuard {
        key_id: caller.key_id,
        expires_at: caller.expires_at,
    })
}

/// Serve one call of `op`. Never fails: every error is an HTTP answer, and
/// each answer is logged once, here.
pub async fn handle<S: Store>(app: &App<S>, op: Operation, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let result = match route_key(&req) {
        // Fail closed: a function deployed behind another route must not
        // serve it as its own operation.
        Some(route) if route == op.route_key() => dispatch(app, op, &req, &request_id).await,
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
    let response = match result {
        Ok(response) => response,
        Err(e) => {
            if let Some(detail) = &e.detail {
                if e.status() >= 500 && e.code != ErrorCode::ServiceUnavailable {
                    tracing::error!(request_id = %request_id, error = %detail, "failed");
                } else {
                    tracing::warn!(request_id = %request_id, error = %detail, "unavailable");
                }
            }
            e.into_response(&request_id)
        }
    };
    tracing::info!(
        operation = op.function_name(),
        status = response.status().as_u16(),
        request_id = %request_id,
        "handled"
    );
    response
}

async fn dispatch<S: Store>(
    app: &App<S>,
    op: Operation,
    req: &Request,
    request_id: &str,
) -> Result<Response<Body>, ApiError> {
    if op.is_public() {
        return crate::console::serve(op, req);
    }
    let caller = caller_of(req)?;
    require(&caller, op.required())?;
    let body = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    let now = app.clock.now();
    let origin = || origin_of(req, &caller, request_id, now);
    match op {
        Operation::CreateKey => keys::create(app, &caller, body, &origin()).await,
        Operation::ListKeys => keys::list(app, &caller, req, now).await,
        Operation::GetKey => keys::get(app, &caller, req, now).await,
        Operation::ListScopes => keys::scopes(),
        Operation::SuspendKey => lifecycle::suspend(app, &caller, req, &origin()).await,
        Operation::ReactivateKey => lifecycle::reactivate(app, &caller, req, &origin()).await,
        Operation::RevokeKey => lifecycle::revoke(app, &caller, req, body, &origin()).await,
        Operation::DeleteKey => lifecycle::delete(app, &caller, req, &origin()).await,
        Operation::RotateKey => rotation::rotate(app, &caller, req, body, &origin()).await,
        Operation::ListAuditEvents => audit::list(app, &caller, req).await,
        Operation::ConsolePage | Operation::ConsoleAsset | Operation::OpenApiDocument => {
            crate::console::serve(op, req)
        }
    }
}

fn json_response(status: u16, value: &impl Serialize) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(value).map_err(|e| ApiError::internal(e.to_string()))?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(text))
        .map_err(|e| ApiError::internal(e.to_string()))
}

fn no_such_key(id: &str) -> ApiError {
    ApiError::not_found(format!(
        "no API key {} in your organization",
        crate::error::quoted(id)
    ))
}

/// The record, if it exists in the caller's org; another org's key is a 404 too.
async fn owned_record<S: Store>(
    app: &App<S>,
    caller: &Caller,
    id: KeyId,
) -> Result<KeyRecord, ApiError> {
    app.store
        .get(id)
        .await?
        .filter(|r| r.org_id == caller.org)
        .ok_or_else(|| no_such_key(&id.to_string()))
}

/// What a handler decided for the key it read.
enum Decision<T> {
    /// Nothing to write (a repeated transition): answer with this.
    Done(T),
    /// Write this change; on success answer with `T`.
    Commit(Box<Change>, T),
}

/// Read the caller's key `id`, check the caller's authority over it, let
/// `decide` turn it into a change, and commit that change conditional on
/// the key being as read. When the key changed in between, everything is
/// read and decided again, so a check never acts on a stale key.
async fn change_key<S, T, F>(
    app: &App<S>,
    caller: &Caller,
    id: KeyId,
    act: fn(&KeyRecord) -> crate::authority::Act<'_>,
    mut decide: F,
) -> Result<T, ApiError>
where
    S: Store,
    F: FnMut(KeyRecord) -> Result<Decision<T>, ApiError>,
{
    for _ in 0..CHANGE_ATTEMPTS {
        let record = owned_record(app, caller, id).await?;
        crate::authority::authorize(caller, act(&record)).map_err(denied)?;
        match decide(record)? {
            Decision::Done(answer) => return Ok(answer),
            Decision::Commit(change, answer) => match app.store.commit(&change).await {
                Ok(()) => return Ok(answer),
                Err(StoreError::Changed) => continue,
                Err(e) => return Err(committed(e)),
            },
        }
    }
    Err(ApiError::unavailable(
        Duration::from_secs(1),
        "the key kept changing while the change was being written",
    ))
}

/// A commit's failure as the API answers it: the calling key changed while
/// the request ran (403), or a store fault.
pub(crate) fn committed(e: StoreError) -> ApiError {
    match e {
        StoreError::ActorChanged => ApiError::new(
            ErrorCode::InsufficientAuthority,
            "your key was suspended, revoked, deleted or given an earlier expiry while this \
             request ran; nothing was changed",
        ),
        e => e.into(),
    }
}

/// A refusal of [`crate::authority::authorize`] as the API answers it.
fn denied(e: crate::authority::Denied) -> ApiError {
    let code = match e {
        crate::authority::Denied::Escalation(_) => ErrorCode::PrivilegeEscalation,
        _ => ErrorCode::InsufficientAuthority,
    };
    ApiError::new(code, e.to_string())
}
