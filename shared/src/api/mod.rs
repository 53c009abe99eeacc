//! HTTP handlers for every management call, on `lambda_http` requests that
//! carry the authorizer's context. Each Lambda binary serves one [`Operation`];
//! `keygate serve` routes to the same function.

use std::collections::BTreeMap;
use std::sync::Arc;

use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::error::{ApiError, quoted};
use crate::key::{KeyFormat, KeyId};
use crate::lifecycle::{StatusChange, Transition};
use crate::model::{
    Clock, Description, KeyName, KeyRecord, KeyType, KeyView, OrgId, Owner, RevokeReason,
    StatusFilter, SystemClock, Timestamp,
};
use crate::routes::{Operation, Requirement, RouteTable};
use crate::scope::{CATALOG, Escalation, Permissions, Preset, Scope};
use crate::store::{Cursor, CursorError, Store};

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
pub const DEFAULT_PAGE: usize = 50;
pub const MAX_PAGE: usize = 100;

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

    /// Mint a full-access key for `org` straight into the store (bootstrap and
    /// the first start of `keygate serve`). Returns the record and the full key.
    pub async fn mint_root_key(
        &self,
        org: &OrgId,
        name: &str,
    ) -> Result<(KeyRecord, crate::key::FullKey), ApiError> {
        let name = KeyName::new(name).map_err(|e| ApiError::bad_request("name", e))?;
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
                self.clock.now(),
            )
        };
        self.store.insert(&record).await?;
        Ok((record, new.key))
    }
}

/// The calling key, as the authorizer described it.
#[derive(Debug, Clone)]
pub struct Caller {
    pub org: OrgId,
    pub key_id: KeyId,
    pub permissions: Permissions,
}

impl Caller {
    fn from_request(req: &Request) -> Result<Self, ApiError> {
        let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
            return Err(ApiError::Unauthenticated);
        };
        let fields = &ctx
            .authorizer
            .as_ref()
            .ok_or(ApiError::Unauthenticated)?
            .fields;
        let text = |name: &str| {
            fields
                .get(name)
                .and_then(Value::as_str)
                .ok_or(ApiError::Unauthenticated)
        };
        let scopes: Vec<&str> = text("scopes")?.split_whitespace().collect();
        Ok(Caller {
            org: OrgId::new(text("org_id")?).map_err(|_| ApiError::Unauthenticated)?,
            key_id: KeyId::parse(text("key_id")?).map_err(|_| ApiError::Unauthenticated)?,
            permissions: Permissions::from_strings(&scopes)
                .map_err(|_| ApiError::Unauthenticated)?,
        })
    }

    /// Defence in depth: the authorizer already checked this route's scope.
    fn require(&self, requirement: Requirement) -> Result<(), ApiError> {
        match requirement {
            Requirement::AnyValidKey => Ok(()),
            Requirement::Scope(s) if self.permissions.covers(s) => Ok(()),
            Requirement::Scope(s) => Err(ApiError::Forbidden {
                code: "insufficient_scope",
                message: format!("this call needs the {s} scope"),
            }),
        }
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

/// Serve one management call. Never fails: every error is an HTTP answer.
pub async fn handle<S: Store>(app: &App<S>, op: Operation, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let result = dispatch(app, op, &req).await;
    let response = result.unwrap_or_else(|e| e.into_response(&request_id));
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
) -> Result<Response<Body>, ApiError> {
    let caller = Caller::from_request(req)?;
    caller.require(op.required())?;
    let body = req.body().as_ref();
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge {
            limit: MAX_BODY_BYTES,
        });
    }
    let now = app.clock.now();
    match op {
        Operation::CreateKey => create_key(app, &caller, body, now).await,
        Operation::ListKeys => list_keys(app, &caller, req, now).await,
        Operation::GetKey => {
            let id = path_id(req)?;
            let record = owned_record(app, &caller, id).await?;
            json_response(200, &record.to_view(now))
        }
        Operation::SuspendKey => {
            transition(app, &caller, req, Transition::Suspend, None, now).await
        }
        Operation::ReactivateKey => {
            transition(app, &caller, req, Transition::Reactivate, None, now).await
        }
        Operation::RevokeKey => {
            let reason = revoke_reason(body)?;
            transition(app, &caller, req, Transition::Revoke, Some(reason), now).await
        }
        Operation::DeleteKey => {
            let id = path_id(req)?;
            app.store
                .delete(&caller.org, id)
                .await
                .map_err(|e| not_found_as(e, id))?;
            Response::builder()
                .status(204)
                .body(Body::Empty)
                .map_err(|_| ApiError::Internal)
        }
        Operation::ListScopes => list_scopes(),
    }
}

fn json_response(status: u16, value: &impl Serialize) -> Result<Response<Body>, ApiError> {
    let text = serde_json::to_string(value).map_err(|_| ApiError::Internal)?;
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(text))
        .map_err(|_| ApiError::Internal)
}

fn no_such_key(id: &str) -> ApiError {
    ApiError::NotFound(format!("no API key {} in your organization", quoted(id)))
}

fn not_found_as(e: crate::store::StoreError, id: KeyId) -> ApiError {
    match e {
        crate::store::StoreError::NotFound => no_such_key(&id.to_string()),
        e => e.into(),
    }
}

fn path_id(req: &Request) -> Result<KeyId, ApiError> {
    let params = req.path_parameters_ref();
    let raw = params.and_then(|p| p.first("id")).unwrap_or_default();
    // A malformed id cannot name a key: same answer as an unknown one.
    KeyId::parse(raw).map_err(|_| no_such_key(raw))
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

fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let invalid = |message: String| ApiError::BadRequest {
        code: "invalid_json",
        message,
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid("the request body must be a JSON object".into()));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(invalid("the request body must be a JSON object".into())),
        Err(e) => Err(invalid(format!("the request body is not valid JSON: {e}"))),
    }
}

/// Typed access to a JSON object's fields, with errors that name the field.
struct Fields(Map<String, Value>);

impl Fields {
    fn new(map: Map<String, Value>, allowed: &[&str]) -> Result<Self, ApiError> {
        if let Some(unknown) = map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ApiError::bad_request(
                &quoted(unknown),
                format!("unknown field; expected one of {}", allowed.join(", ")),
            ));
        }
        Ok(Self(map))
    }

    fn optional_str(&self, field: &str) -> Result<Option<&str>, ApiError> {
        match self.0.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::bad_request(field, "must be a string")),
        }
    }

    fn required_str(&self, field: &str) -> Result<&str, ApiError> {
        self.optional_str(field)?
            .ok_or_else(|| ApiError::bad_request(field, "is required"))
    }
}

fn parse_permissions(value: Option<&Value>) -> Result<Permissions, ApiError> {
    let field = "permissions";
    match value {
        None | Some(Value::Null) => Ok(Permissions::Full),
        Some(Value::String(s)) if s == "full" => Ok(Permissions::Full),
        Some(Value::String(s)) => Err(ApiError::bad_request(
            field,
            format!(
                "{} is not \"full\", a list of scopes or {{\"preset\": ...}}",
                quoted(s)
            ),
        )),
        Some(Value::Array(items)) => {
            if items.is_empty() {
                return Err(ApiError::bad_request(field, "must name at least one scope"));
            }
            let mut scopes = std::collections::BTreeSet::new();
            for item in items {
                let s = item
                    .as_str()
                    .ok_or_else(|| ApiError::bad_request(field, "scopes must be strings"))?;
                let scope = Scope::parse(s).map_err(|e| ApiError::BadRequest {
                    code: "unknown_scope",
                    message: format!(
                        "{field}: unknown scope {}; GET /v1/scopes lists the catalog",
                        quoted(&e.0)
                    ),
                })?;
                scopes.insert(scope);
            }
            Ok(Permissions::Scopes(scopes))
        }
        Some(Value::Object(obj)) => {
            let fields = Fields::new(obj.clone(), &["preset"])?;
            let name = fields.required_str("preset")?;
            let preset = Preset::parse(name).ok_or_else(|| ApiError::BadRequest {
                code: "unknown_preset",
                message: format!(
                    "permissions.preset: unknown preset {}; expected one of {}",
                    quoted(name),
                    Preset::ALL.map(Preset::name).join(", ")
                ),
            })?;
            Ok(Permissions::Scopes(preset.scopes()))
        }
        Some(_) => Err(ApiError::bad_request(
            field,
            "must be \"full\", a list of scopes or {\"preset\": ...}",
        )),
    }
}

#[derive(Serialize)]
struct Created<'a> {
    #[serde(flatten)]
    record: KeyView<'a>,
    /// The full key. Shown here and never again.
    key: &'a str,
}

async fn create_key<S: Store>(
    app: &App<S>,
    caller: &Caller,
    body: &[u8],
    now: Timestamp,
) -> Result<Response<Body>, ApiError> {
    let fields = Fields::new(
        parse_object(body)?,
        &[
            "name",
            "description",
            "key_type",
            "owner",
            "permissions",
            "expires_at",
        ],
    )?;
    let name =
        KeyName::new(fields.required_str("name")?).map_err(|e| ApiError::bad_request("name", e))?;
    let description = fields
        .optional_str("description")?
        .map(Description::new)
        .transpose()
        .map_err(|e| ApiError::bad_request("description", e))?;
    let type_text = fields.required_str("key_type")?;
    let key_type = KeyType::parse(type_text).ok_or_else(|| {
        ApiError::bad_request(
            "key_type",
            format!("{} is not \"service\" or \"user\"", quoted(type_text)),
        )
    })?;
    let owner = fields
        .optional_str("owner")?
        .map(Owner::new)
        .transpose()
        .map_err(|e| ApiError::bad_request("owner", e))?;
    match (key_type, &owner) {
        (KeyType::User, None) => {
            return Err(ApiError::bad_request("owner", "is required for a user key"));
        }
        (KeyType::Service, Some(_)) => {
            return Err(ApiError::bad_request(
                "owner",
                "only user keys have an owner",
            ));
        }
        _ => {}
    }
    let permissions = parse_permissions(fields.0.get("permissions"))?;
    let expires_at = fields
        .optional_str("expires_at")?
        .map(Timestamp::parse_rfc3339)
        .transpose()
        .map_err(|e| ApiError::bad_request("expires_at", e))?;
    if expires_at.is_some_and(|at| at <= now) {
        return Err(ApiError::bad_request("expires_at", "must be in the future"));
    }
    caller
        .permissions
        .missing_for(&permissions)
        .map_err(|e| ApiError::Forbidden {
            code: "privilege_escalation",
            message: match e {
                Escalation::FullAccess => e.to_string(),
                Escalation::Scopes(_) => format!("cannot grant scopes {e}"),
            },
        })?;

    let new = app.keys.generate();
    let record = KeyRecord {
        description,
        owner,
        expires_at,
        created_by: Some(caller.key_id),
        ..KeyRecord::new_active(&new, caller.org.clone(), name, key_type, permissions, now)
    };
    app.store.insert(&record).await?;
    tracing::info!(key_id = %record.id, org_id = %record.org_id, created_by = %caller.key_id, "key created");
    json_response(
        201,
        &Created {
            record: record.to_view(now),
            key: new.key.expose(),
        },
    )
}

#[derive(Serialize)]
struct ListBody<'a> {
    data: Vec<KeyView<'a>>,
    next_cursor: Option<String>,
}

async fn list_keys<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    now: Timestamp,
) -> Result<Response<Body>, ApiError> {
    let query = req.query_string_parameters_ref();
    // An empty value (`?status=&limit=`) means the default, as if absent.
    let param = |name: &str| query.and_then(|q| q.first(name)).filter(|v| !v.is_empty());
    if let Some((unknown, _)) = query.and_then(|q| {
        q.iter()
            .find(|(k, _)| !["status", "limit", "cursor"].contains(k))
    }) {
        return Err(ApiError::bad_request(
            &quoted(unknown),
            "unknown query parameter; expected status, limit or cursor",
        ));
    }
    let filter = match param("status") {
        None => StatusFilter::All,
        Some(s) => StatusFilter::parse(s).ok_or_else(|| {
            ApiError::bad_request(
                "status",
                format!(
                    "{} is not one of all, active, suspended, revoked",
                    quoted(s)
                ),
            )
        })?,
    };
    let limit = match param("limit") {
        None => DEFAULT_PAGE,
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "limit",
                    format!("{} is not a number from 1 to {MAX_PAGE}", quoted(s)),
                )
            })?,
    };
    let after = param("cursor")
        .map(|c| Cursor::decode(c, &caller.org, filter))
        .transpose()
        .map_err(|e: CursorError| ApiError::bad_request("cursor", e))?
        .map(|c| c.after);
    let page = app.store.list(&caller.org, filter, limit, after).await?;
    let next_cursor = page.next_after.map(|after| {
        Cursor {
            org: caller.org.clone(),
            filter,
            after,
        }
        .encode()
    });
    json_response(
        200,
        &ListBody {
            data: page.records.iter().map(|r| r.to_view(now)).collect(),
            next_cursor,
        },
    )
}

fn revoke_reason(body: &[u8]) -> Result<RevokeReason, ApiError> {
    let fields = Fields::new(parse_object(body)?, &["reason"])?;
    RevokeReason::new(fields.required_str("reason")?)
        .map_err(|e| ApiError::bad_request("reason", e))
}

async fn transition<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    transition: Transition,
    reason: Option<RevokeReason>,
    now: Timestamp,
) -> Result<Response<Body>, ApiError> {
    let id = path_id(req)?;
    let change = StatusChange {
        transition,
        at: now,
        reason,
        by: Some(caller.key_id),
    };
    let record = app
        .store
        .transition(&caller.org, id, &change)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict { current } => ApiError::Conflict(format!(
                "cannot {} a {current} key: revoked is final",
                transition.verb()
            )),
            e => not_found_as(e, id),
        })?;
    tracing::info!(key_id = %id, org_id = %caller.org, action = transition.verb(), by = %caller.key_id, "key status changed");
    json_response(200, &record.to_view(now))
}

fn list_scopes() -> Result<Response<Body>, ApiError> {
    let resources: Vec<Value> = CATALOG
        .iter()
        .map(|(resource, actions)| {
            json!({
                "resource": resource,
                "scopes": actions.iter().map(|a| format!("{resource}:{a}")).collect::<Vec<_>>(),
            })
        })
        .collect();
    let presets: BTreeMap<&str, Vec<String>> = Preset::ALL
        .iter()
        .map(|p| (p.name(), Permissions::Scopes(p.scopes()).to_strings()))
        .collect();
    json_response(
        200,
        &json!({
            "resources": resources,
            "presets": presets,
            "full_access": crate::scope::FULL_ACCESS,
        }),
    )
}
