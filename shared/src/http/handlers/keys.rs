//! Create, list (by status, and found by name, type or owner) and read keys.

use lambda_http::{Body, Request, Response};
use serde_json::Value;

use super::{Viewer, json_response, owned_record};
use crate::app::App;
use crate::domain::authority::{Act, Caller, authorize, inherited_expiry, minted_limits};
use crate::domain::catalog::Catalog;
use crate::domain::change::{Change, Origin};
use crate::domain::id::KeyId;
use crate::domain::limits::Limits;
use crate::domain::record::{KeyRecord, KeyType, StatusFilter};
use crate::domain::redaction::quoted;
use crate::domain::scope::Permissions;
use crate::domain::search::{KeyQuery, KeySearch, SearchIndex};
use crate::domain::text::{Description, KeyName, Owner};
use crate::domain::time::Timestamp;
use crate::http::error::{ApiError, ErrorCode};
use crate::http::request::{
    Fields, Input, LIMITS_FIELDS, Query, next_cursor, next_search_cursor, path_id,
};
use crate::http::views::{CountsView, Created, KeyListBody};
use crate::store::{Page, Store};

/// A validated create request.
pub(super) struct NewKeyRequest {
    pub name: KeyName,
    pub description: Option<Description>,
    pub key_type: KeyType,
    pub owner: Option<Owner>,
    pub permissions: Permissions,
    pub expires_at: Option<Timestamp>,
    /// `None`: not asked for (a limited caller's key then takes its limits).
    pub limits: Option<Limits>,
}

impl NewKeyRequest {
    /// Parse a create body (its fields are [`crate::http::request::CREATE_FIELDS`]); `now` bounds
    /// `expires_at`.
    pub fn parse(fields: &Fields, now: Timestamp, catalog: &Catalog) -> Result<Self, ApiError> {
        let name = KeyName::new(fields.required_str("name")?)
            .map_err(|e| ApiError::bad_request("name", e))?;
        let description = fields
            .optional_str("description")?
            .map(Description::new)
            .transpose()
            .map_err(|e| ApiError::bad_request("description", e))?;
        let type_text = fields.required_str("key_type")?;
        let key_type = type_text.parse::<KeyType>().map_err(|_| {
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
        let permissions = parse_permissions(fields.get("permissions"), catalog)?;
        let expires_at = fields
            .optional_str("expires_at")?
            .map(Timestamp::parse_rfc3339)
            .transpose()
            .map_err(|e| ApiError::bad_request("expires_at", e))?;
        if expires_at.is_some_and(|at| at <= now) {
            return Err(ApiError::bad_request("expires_at", "must be in the future"));
        }
        let limits = match fields.get("limits") {
            None => None,
            Some(Value::Object(obj)) => {
                let limits = Fields::new(obj.clone(), LIMITS_FIELDS)
                    .map_err(|e| super::limits::under("limits.", e))?;
                Some(super::limits::parse_limits(&limits, "limits.")?)
            }
            Some(_) => {
                return Err(ApiError::bad_request(
                    "limits",
                    "must be an object with rate and/or quota (or null)",
                ));
            }
        };
        Ok(Self {
            name,
            description,
            key_type,
            owner,
            permissions,
            expires_at,
            limits,
        })
    }
}

fn parse_permissions(value: Option<&Value>, catalog: &Catalog) -> Result<Permissions, ApiError> {
    let field = "permissions";
    match value {
        None => Ok(Permissions::Full),
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
                let scope = catalog.scope(s).map_err(|e| {
                    ApiError::new(
                        ErrorCode::UnknownScope,
                        format!(
                            "{field}: unknown scope {}; GET /v1/scopes lists the catalog",
                            quoted(&e.0)
                        ),
                    )
                })?;
                scopes.insert(scope);
            }
            Ok(Permissions::Scopes(scopes))
        }
        Some(Value::Object(obj)) => {
            let fields = Fields::new(obj.clone(), &["preset"])?;
            let name = fields.required_str("preset")?;
            let preset = catalog.preset(name).ok_or_else(|| {
                let names: Vec<&str> = catalog.presets().iter().map(|p| p.name.as_str()).collect();
                ApiError::new(
                    ErrorCode::UnknownPreset,
                    format!(
                        "permissions.preset: unknown preset {}; expected one of {}",
                        quoted(name),
                        names.join(", ")
                    ),
                )
            })?;
            Ok(Permissions::Scopes(preset.scopes.clone()))
        }
        Some(_) => Err(ApiError::bad_request(
            field,
            "must be \"full\", a list of scopes or {\"preset\": ...}",
        )),
    }
}

pub(in crate::http) async fn create<S: Store>(
    app: &App<S>,
    caller: &Caller,
    input: &Input,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let now = origin.at;
    let request = NewKeyRequest::parse(&input.body, now, &app.catalog)?;
    let expires_at = inherited_expiry(caller, request.expires_at);
    let new = app.keys.generate();
    let (limits, budget) = minted_limits(caller, request.limits, new.id);
    authorize(
        caller,
        Act::Mint {
            permissions: &request.permissions,
            expires_at,
            limits: &limits,
            budget,
        },
    )?;

    let record = KeyRecord {
        description: request.description,
        owner: request.owner,
        expires_at,
        created_by: Some(caller.key_id),
        limits,
        budget,
        ..KeyRecord::new_active(
            &new,
            caller.org.clone(),
            request.name,
            request.key_type,
            request.permissions,
            now,
        )
    };
    app.store
        .commit(&Change::create(record.clone(), origin))
        .await?;
    let viewer = Viewer::of(app, caller, now, [&record]).await?;
    json_response(
        201,
        &Created {
            record: viewer.view(&record),
            key: new.key.expose(),
        },
    )
}

/// A list's search, from `name`, or `key_type` and `owner`; `None` for
/// none of them.
fn parse_search(query: &Query) -> Result<Option<KeySearch>, ApiError> {
    let name = query
        .get("name")
        .map(KeyName::new)
        .transpose()
        .map_err(|e| ApiError::bad_request("name", e))?;
    let key_type = query
        .get("key_type")
        .map(|t| {
            t.parse::<KeyType>().map_err(|_| {
                ApiError::bad_request(
                    "key_type",
                    format!("{} is not \"service\" or \"user\"", quoted(t)),
                )
            })
        })
        .transpose()?;
    let owner = query
        .get("owner")
        .map(Owner::new)
        .transpose()
        .map_err(|e| ApiError::bad_request("owner", e))?;
    match (name, key_type, owner) {
        (None, None, None) => Ok(None),
        (Some(name), None, None) => Ok(Some(KeySearch::name_prefix(&name))),
        (Some(_), _, _) => Err(ApiError::bad_request(
            "name",
            "cannot be combined with key_type or owner: search by name, or filter by type \
             and owner",
        )),
        (None, key_type, owner) => KeySearch::by_type(key_type, owner.as_ref())
            .map(Some)
            .map_err(|e| ApiError::bad_request("owner", e)),
    }
}

pub(in crate::http) async fn list<S: Store>(
    app: &App<S>,
    caller: &Caller,
    input: &Input,
    now: Timestamp,
) -> Result<Response<Body>, ApiError> {
    let query = &input.query;
    let filter = match query.get("status") {
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
    let search = parse_search(query)?;
    let limit = query.limit()?;
    let org = &caller.org;
    // The page, and the organization's counts for the status tabs, read
    // side by side.
    let (page, next, counts) = match search {
        None => {
            let scope = filter.as_str();
            let after = query.cursor(org, scope)?.map(KeyId::from_u128);
            let (page, counts) = tokio::join!(
                app.store.list(org, filter, limit, after),
                app.store.counts(org)
            );
            let page: Page<KeyRecord> = page?;
            let next = next_cursor(org, scope, page.next_after().map(|r| r.id.as_u128()));
            (page, next, counts?)
        }
        Some(search) => {
            let index: &str = match search.index() {
                SearchIndex::Name => "name",
                SearchIndex::Type => "type",
            };
            let scope = format!("{}:{index}:{}", filter.as_str(), search.fingerprint());
            let after = query.search_cursor(org, &scope)?;
            let key_query = KeyQuery {
                status: filter,
                search,
            };
            let (page, counts) = tokio::join!(
                app.store.search(org, &key_query, limit, after.as_deref()),
                app.store.counts(org)
            );
            let page: Page<KeyRecord> = page?;
            let last = page
                .next_after()
                .map(|r| (r.id.as_u128(), key_query.search.sort_key(r)));
            let next = next_search_cursor(org, &scope, last);
            (page, next, counts?)
        }
    };
    let viewer = Viewer {
        caller,
        now,
        counts,
    };
    json_response(
        200,
        &KeyListBody {
            data: page.items.iter().map(|r| viewer.view(r)).collect(),
            next_cursor: next,
            counts: counts.as_ref().map(CountsView::of),
        },
    )
}

pub(in crate::http) async fn get<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    now: Timestamp,
) -> Result<Response<Body>, ApiError> {
    let record = owned_record(app, caller, path_id(req)?).await?;
    let viewer = Viewer::of(app, caller, now, [&record]).await?;
    json_response(200, &viewer.view(&record))
}
