//! The OpenAPI 3.1 document of the HTTP API, built from the code: its paths
//! are the route table's, each operation's documentation is one arm of a
//! `match` over [`Operation`] (so a new operation does not compile until it
//! is documented), the error codes are [`super::error::ErrorCode`]'s, the
//! scopes and presets the deployment's catalog's. Served at `GET /openapi.json`.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use strum::VariantArray;

use schemars::generate::SchemaSettings;

use super::error::ErrorBody;
use super::error::GatewayAnswer;
use super::views::{
    AuditEventView, CatalogView, Created, KeyListBody, KeyView, ListBody, UsageView,
};
use super::{DEFAULT_PAGE, MAX_BODY_BYTES, MAX_PAGE};
use crate::domain::catalog::Catalog;
use crate::domain::lifecycle::MAX_GRACE_SECS;
use crate::domain::limits::{MAX_QUOTA_REQUESTS, MAX_RATE_REQUESTS, MAX_WINDOW_SECONDS};
use crate::domain::record::StatusFilter;
use crate::domain::routes::{Operation, Page};
use crate::domain::time::Timestamp;

/// The document of `catalog` as JSON text, built once per catalog (a
/// process has one; building takes a moment, so it is kept).
pub fn document_json(catalog: &Catalog) -> Arc<str> {
    static BUILT: Mutex<Option<(u64, Arc<str>)>> = Mutex::new(None);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    match &*built {
        Some((fingerprint, text)) if *fingerprint == catalog.fingerprint() => Arc::clone(text),
        _ => {
            let text: Arc<str> = document(catalog).to_string().into();
            *built = Some((catalog.fingerprint(), Arc::clone(&text)));
            text
        }
    }
}

/// The HTTP statuses a document lists for a route (`GET /v1/scopes`).
pub fn documented_statuses(doc: &Value, route_key: &str) -> Vec<u16> {
    let (method, path) = route_key.split_once(' ').unwrap_or(("GET", "/"));
    let mut statuses: Vec<u16> = doc["paths"][path][method.to_ascii_lowercase()]["responses"]
        .as_object()
        .map(|r| r.keys().filter_map(|k| k.parse().ok()).collect())
        .unwrap_or_default();
    statuses.sort_unstable();
    statuses
}

/// The document, for `catalog`'s scopes and presets.
pub fn document(catalog: &Catalog) -> Value {
    let mut paths = Map::new();
    let mut add = |route_key: &str, doc: Value| {
        let (method, path) = route_key.split_once(' ').unwrap_or(("GET", "/"));
        let entry = paths.entry(path.to_owned()).or_insert_with(|| json!({}));
        if let Value::Object(map) = entry {
            map.insert(method.to_ascii_lowercase(), doc);
        }
    };
    for &op in Operation::VARIANTS {
        let mut doc = operation(op, catalog);
        doc[REQUIRED_SCOPE] = op.required().as_str().into();
        add(op.route_key(), doc);
    }
    for &page in Page::VARIANTS {
        let mut doc = page_operation(page);
        doc[REQUIRED_SCOPE] = Value::Null;
        add(page.route_key(), doc);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "keygate",
            "version": env!("CARGO_PKG_VERSION"),
            "summary": "API keys with scoped permissions for APIs behind AWS API Gateway.",
            "description": "Every call under /v1 goes through the keygate authorizer, which \
                reads the key in X-API-Key. API Gateway itself answers 401 \
                {\"message\":\"Unauthorized\"} when the header is missing, 403 \
                {\"message\":\"Forbidden\"} when the authorizer denies the key (unknown, \
                wrong, suspended, revoked, expired, or lacking the route's scope), and 404 \
                {\"message\":\"Not Found\"} for a route that does not exist. keygate's own \
                errors have the Error shape.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/", "description": "the keygate API (keygate serve, or the stack's ApiUrl)"}],
        "security": [{"ApiKey": []}],
        "tags": [
            {"name": "keys", "description": "Create, list, read and rename API keys."},
            {"name": "lifecycle", "description": "Suspend, reactivate, rotate, revoke and delete keys."},
            {"name": "limits", "description": "Per-key rate limits and quotas, and their usage."},
            {"name": "audit", "description": "The organization's audit trail."},
            {"name": "catalog", "description": "Scopes and presets."},
            {"name": "public", "description": "Served without a key."},
        ],
        "paths": paths,
        "components": components(catalog),
    })
}

/// The extension naming what an operation asks of the calling key: a
/// scope, `"any"` (any valid key) or `null` (public, no key). Clients such
/// as the console read it instead of keeping their own copy.
pub const REQUIRED_SCOPE: &str = "x-required-scope";

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn response_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/responses/{name}")})
}

fn json_body(schema: Value, example: Value) -> Value {
    json!({"application/json": {"schema": schema, "example": example}})
}

/// The key-id path parameter.
fn id_parameter() -> Value {
    json!({"$ref": "#/components/parameters/KeyIdPath"})
}

/// A response with a JSON body.
fn ok(description: &str, schema: &str, example: Value) -> Value {
    json!({"description": description, "content": json_body(schema_ref(schema), example)})
}

/// `201` with the new key, and links to act on it.
fn created(description: &str) -> Value {
    json!({
        "description": description,
        "content": json_body(schema_ref("CreatedKey"), example_created()),
        "links": key_links(),
    })
}

/// Links from a response naming a key (`$response.body#/id`) to the calls
/// that take its id: how a client (or Schemathesis) follows a create.
fn key_links() -> Value {
    let link = |op: Operation| {
        json!({
            "operationId": op.function_name(),
            "parameters": {"id": "$response.body#/id"},
        })
    };
    json!({
        "GetKey": link(Operation::GetKey),
        "UpdateKey": link(Operation::UpdateKey),
        "SuspendKey": link(Operation::SuspendKey),
        "RotateKey": link(Operation::RotateKey),
        "RevokeKey": link(Operation::RevokeKey),
        "DeleteKey": link(Operation::DeleteKey),
    })
}

/// The errors a key-protected call can answer besides its own.
fn guarded(mut responses: Map<String, Value>, extra: &[&str]) -> Value {
    responses.insert("401".into(), response_ref("Unauthorized"));
    responses.insert("403".into(), response_ref("Forbidden"));
    // In `defer` mode, a key over its limits (or one whose use could not be
    // counted) is answered before the call is made.
    responses.insert("429".into(), response_ref("TooManyRequests"));
    responses.insert("503".into(), response_ref("Unavailable"));
    for status in extra {
        let name = match *status {
            "400" => "BadRequest",
            "404" => "NotFound",
            "409" => "Conflict",
            "413" => "PayloadTooLarge",
            "503" => "Unavailable",
            _ => continue,
        };
        responses.insert((*status).into(), response_ref(name));
    }
    Value::Object(responses)
}

fn responses(pairs: Vec<(&str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

fn operation(op: Operation, catalog: &Catalog) -> Value {
    let id = op.function_name();
    match op {
        Operation::CreateKey => json!({
            "operationId": id,
            "tags": ["keys"],
            "summary": "Create a key",
            "description": "Needs api-keys:write. The full key is in this answer and never \
                again. A key can grant only scopes it holds (403 privilege_escalation), and a \
                key that expires cannot create one that outlives it: without expires_at the \
                new key gets the caller's expiry; a later one is 403 insufficient_authority.",
            "requestBody": {
                "required": true,
                "content": json_body(schema_ref("CreateKeyRequest"), json!({
                    "name": "ci-deployer", "description": "Deploys from CI",
                    "key_type": "service", "permissions": example_scopes(catalog),
                    "expires_at": example_expiry()
                })),
            },
            "responses": guarded(
                responses(vec![("201", created("The new key, shown once"))]),
                &["400", "413", "503"],
            ),
        }),
        Operation::ListKeys => json!({
            "operationId": id,
            "tags": ["keys"],
            "summary": "List keys, newest first",
            "description": "Needs api-keys:read. Newest first; within a status, and found by \
                name (a case-insensitive prefix of it, names A→Z) or by type and owner \
                (user keys by owner A→Z, each owner's newest first); name cannot be \
                combined with key_type or owner (400). Each page is one DynamoDB Query \
                (a search's page also one BatchGetItem of its keys). counts is the \
                organization's keys by status, whatever the filters.",
            "parameters": [
                {"name": "status", "in": "query", "required": false,
                 "schema": {"type": "string", "enum": StatusFilter::names().collect::<Vec<_>>(),
                    "default": StatusFilter::ALL_TEXT}},
                {"name": "name", "in": "query", "required": false,
                 "description": "Keys whose name starts with this, whatever its case.",
                 "schema": schema_ref("KeyName")},
                {"name": "key_type", "in": "query", "required": false,
                 "description": "Keys of this type.",
                 "schema": schema_ref("KeyType")},
                {"name": "owner", "in": "query", "required": false,
                 "description": "User keys of this owner (the whole owner, whatever its case).",
                 "schema": schema_ref("Owner")},
                {"$ref": "#/components/parameters/Limit"},
                {"$ref": "#/components/parameters/Cursor"},
            ],
            "responses": guarded(
                responses(vec![("200", ok("A page of keys", "KeyRecordList",
                    json!({"data": [example_record()], "next_cursor": null,
                           "counts": {"all": 12, "active": 9, "suspended": 2, "revoked": 1}})))]),
                &["400", "503"],
            ),
        }),
        Operation::GetKey => json!({
            "operationId": id,
            "tags": ["keys"],
            "summary": "Read one key",
            "description": "Needs api-keys:read. Another organization's key is a 404 too.",
            "parameters": [id_parameter()],
            "responses": guarded(
                responses(vec![("200", ok("The key", "KeyRecord", example_record()))]),
                &["404", "503"],
            ),
        }),
        Operation::UpdateKey => json!({
            "operationId": id,
            "tags": ["keys"],
            "summary": "Rename a key or change its description",
            "description": "Needs api-keys:write and authority over the key (your permissions \
                cover its own; a key may always change itself). Changes name and description \
                only: what a key may do never changes. In any status, revoked too (a revoked \
                key's description can say why it was revoked). description null or \"\" \
                removes it. Each change is an audited update event with the fields before \
                and after; giving the values the key already has changes and records nothing.",
            "parameters": [id_parameter()],
            "requestBody": {
                "required": true,
                "content": json_body(schema_ref("UpdateKeyRequest"),
                    json!({"name": "ci-deployer-eu", "description": "Deploys eu-west-1 from CI"})),
            },
            "responses": guarded(
                responses(vec![("200", ok("The key afterwards", "KeyRecord", example_record()))]),
                &["400", "404", "413", "503"],
            ),
        }),
        Operation::SuspendKey | Operation::ReactivateKey => {
            let (summary, from, to) = if op == Operation::SuspendKey {
                ("Suspend a key", "active", "suspended")
            } else {
                ("Reactivate a suspended key", "suspended", "active")
            };
            json!({
                "operationId": id,
                "tags": ["lifecycle"],
                "summary": summary,
                "description": format!(
                    "Needs api-keys:write and authority over the key (your permissions cover \
                     its own; a key may always suspend itself but never reactivate itself). {from} → {to}; a {to} key is \
                     returned unchanged; a revoked key is a 409. Applies on the very next \
                     request through the authorizer."
                ),
                "parameters": [id_parameter()],
                "responses": guarded(
                    responses(vec![("200", ok("The key afterwards", "KeyRecord", example_record()))]),
                    &["404", "409", "413", "503"],
                ),
            })
        }
        Operation::RevokeKey => json!({
            "operationId": id,
            "tags": ["lifecycle"],
            "summary": "Revoke a key for good",
            "description": "Needs api-keys:write and authority over the key. Revoked is final; \
                revoking a revoked key returns it unchanged.",
            "parameters": [id_parameter()],
            "requestBody": {
                "required": true,
                "content": json_body(schema_ref("RevokeRequest"), json!({"reason": "leaked in a build log"})),
            },
            "responses": guarded(
                responses(vec![("200", ok("The revoked key", "KeyRecord", example_record()))]),
                &["400", "404", "413", "503"],
            ),
        }),
        Operation::RotateKey => json!({
            "operationId": id,
            "tags": ["lifecycle"],
            "summary": "Replace a key by a new one",
            "description": "Needs api-keys:write and authority over the key. Creates a \
                successor with the same name, description, type, owner, permissions and \
                expiry, and in the same atomic write revokes the old key (grace 0) or lets it \
                work until the grace period ends (never past its own expiry). Only an active, \
                unexpired key that was not rotated before can be rotated (409 otherwise).",
            "parameters": [id_parameter()],
            "requestBody": {
                "required": false,
                "content": json_body(schema_ref("RotateRequest"),
                    json!({"grace_period_seconds": 86400, "reason": "quarterly rotation"})),
            },
            "responses": guarded(
                responses(vec![("201", created("The successor, its key shown once"))]),
                &["400", "404", "409", "413", "503"],
            ),
        }),
        Operation::DeleteKey => json!({
            "operationId": id,
            "tags": ["lifecycle"],
            "summary": "Delete a key",
            "description": "Needs api-keys:delete and authority over the key. The key's audit \
                trail stays. A rotation's successor cannot be deleted while the key it replaced \
                still works (in its grace period, not revoked): 409 naming that key.",
            "parameters": [id_parameter()],
            "responses": guarded(
                responses(vec![("204", json!({"description": "Deleted"}))]),
                &["404", "409", "503"],
            ),
        }),
        Operation::ListScopes => json!({
            "operationId": id,
            "tags": ["catalog"],
            "summary": "The scope catalog and the presets",
            "description": "Any valid key.",
            "responses": guarded(
                responses(vec![("200", ok("The catalog", "Catalog", example_catalog(catalog)))]),
                &[],
            ),
        }),
        Operation::SetLimits => json!({
            "operationId": id,
            "tags": ["limits"],
            "summary": "Set a key's rate limit and quota",
            "description": "Needs api-keys:write and authority over the key; never your own key. \
                The key's limits become exactly these: a missing or null rate or quota removes \
                it, {} removes both. Raising and removing limits are audited like any change \
                (a set_limits event with before and after). A key with limits of its own can \
                set limits only on keys drawing on its budget, no looser than its own. Applies \
                on the next request; the counts so far stay (reset them with POST …/reset-usage).",
            "parameters": [id_parameter()],
            "requestBody": {
                "required": true,
                "content": json_body(schema_ref("LimitsRequest"), json!({
                    "rate": {"requests": 100, "window_seconds": 60},
                    "quota": {"requests": 100000, "period": "month"}
                })),
            },
            "responses": guarded(
                responses(vec![("200", ok("The key afterwards", "KeyRecord", example_record()))]),
                &["400", "404", "413"],
            ),
        }),
        Operation::GetUsage => json!({
            "operationId": id,
            "tags": ["limits"],
            "summary": "A key's usage: what is used, what is left, when it resets",
            "description": "Needs api-keys:read. The counts of the budget the key draws on \
                (shared with its rotations and, for a limited key's keys, with the key that \
                created them), read with strong consistency.",
            "parameters": [id_parameter()],
            "responses": guarded(
                responses(vec![("200", ok("The key's usage", "Usage", example_usage()))]),
                &["404"],
            ),
        }),
        Operation::ResetUsage => json!({
            "operationId": id,
            "tags": ["limits"],
            "summary": "Reset a key's usage to zero",
            "description": "Needs api-keys:write and authority over the key, and a key without \
                limits of its own; never your own key's budget. Sets the counts of the key's \
                whole budget back to zero, with a reset_usage audit event in the same write.",
            "parameters": [id_parameter()],
            "responses": guarded(
                responses(vec![("200", ok("The key's usage afterwards", "Usage", example_usage()))]),
                &["404", "413"],
            ),
        }),
        Operation::ListAuditEvents => json!({
            "operationId": id,
            "tags": ["audit"],
            "summary": "The audit trail, newest first",
            "description": "Needs api-keys:read. Your organization's events only; a deleted \
                key's history stays. Filter by the key changed (key_id) or by the key that \
                acted (actor_key_id), not both at once (400); either with action; any of \
                them with a time range. Each combination is one DynamoDB Query. since and \
                until compare with when an event was recorded (its id's time, to the \
                millisecond; an event's time is its change's, in whole seconds, so an event \
                of 12:00:00 recorded at 12:00:01.2 is found from since=12:00:01).",
            "parameters": [
                {"name": "key_id", "in": "query", "required": false,
                 "description": "Only the events of this key (the key changed).",
                 "schema": schema_ref("KeyId")},
                {"name": "actor_key_id", "in": "query", "required": false,
                 "description": "Only the events this key made (the key that acted); not with key_id.",
                 "schema": schema_ref("KeyId")},
                {"name": "action", "in": "query", "required": false, "schema": schema_ref("AuditAction")},
                {"name": "since", "in": "query", "required": false,
                 "description": "Only events recorded at or after this time (RFC 3339).",
                 "schema": {"type": "string", "format": "date-time"}},
                {"name": "until", "in": "query", "required": false,
                 "description": "Only events recorded before this time (RFC 3339); later than since.",
                 "schema": {"type": "string", "format": "date-time"}},
                {"$ref": "#/components/parameters/Limit"},
                {"$ref": "#/components/parameters/Cursor"},
            ],
            "responses": guarded(
                responses(vec![("200", ok("A page of events", "AuditEventList",
                    json!({"data": [example_event()], "next_cursor": null})))]),
                &["400", "503"],
            ),
        }),
    }
}

/// The documentation of a public page.
fn page_operation(page: Page) -> Value {
    let id = page.operation_id();
    match page {
        Page::Console => json!({
            "operationId": id,
            "tags": ["public"],
            "summary": "The console",
            "security": [],
            "responses": {"200": {
                "description": "The console's page",
                "content": {"text/html": {"schema": {"type": "string"}}},
            }},
        }),
        Page::ConsoleAsset => json!({
            "operationId": id,
            "tags": ["public"],
            "summary": "A script, style sheet or image of the console",
            "security": [],
            "parameters": [{"name": "file", "in": "path", "required": true,
                "schema": {"type": "string", "enum": super::assets::ASSETS.iter()
                    .map(|a| a.name).filter(|n| *n != "index.html").collect::<Vec<_>>()}}],
            "responses": {
                "200": {"description": "The file", "content": {
                    "text/javascript": {"schema": {"type": "string"}},
                    "text/css": {"schema": {"type": "string"}},
                    "image/svg+xml": {"schema": {"type": "string"}},
                }},
                "404": {"description": "No such file", "content": json_body(
                    schema_ref("GatewayMessage"), json!({"message": "Not Found"}))},
            },
        }),
        Page::OpenApiDocument => json!({
            "operationId": id,
            "tags": ["public"],
            "summary": "This document",
            "security": [],
            "responses": {"200": {
                "description": "The OpenAPI 3.1 document",
                "content": json_body(json!({"type": "object", "required": ["openapi", "info", "paths"]}),
                    json!({"openapi": "3.1.0", "info": {"title": "keygate", "version": env!("CARGO_PKG_VERSION")}, "paths": {}})),
            }},
        }),
    }
}

fn nullable(schema: Value) -> Value {
    json!({"oneOf": [schema, {"type": "null"}]})
}

/// A text field: the domain's text schema `name` (its characters, its
/// length), with what this field holds. One copy of each rule's pattern in
/// the document, however many fields use it.
fn text_ref(name: &str, description: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}"), "description": description})
}

/// The schemas of everything the API answers with, derived from the view
/// types (and, through them, the domain's values), under
/// `#/components/schemas`.
fn derived_schemas() -> Map<String, Value> {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .for_serialize()
        .into_generator();
    generator.subschema_for::<KeyView<'static>>();
    generator.subschema_for::<Created<'static>>();
    generator.subschema_for::<KeyListBody<'static>>();
    generator.subschema_for::<AuditEventView<'static>>();
    generator.subschema_for::<ListBody<AuditEventView<'static>>>();
    generator.subschema_for::<ErrorBody<'static>>();
    generator.subschema_for::<CatalogView<'static>>();
    generator.subschema_for::<UsageView>();
    generator.take_definitions(true)
}

fn components(catalog: &Catalog) -> Value {
    let scopes: Vec<&str> = catalog.scopes().iter().map(|s| s.as_str()).collect();
    let gateway_messages: Vec<&str> = GatewayAnswer::VARIANTS
        .iter()
        .filter(|a| **a != GatewayAnswer::MethodNotAllowed)
        .map(|a| a.message())
        .collect();
    let mut schemas = derived_schemas();
    let written = json!({
        "securitySchemes": {
            "ApiKey": {
                "type": "apiKey", "in": "header", "name": "X-API-Key",
                "description": "A keygate key: <prefix>_ and 65 base62 characters (22 id, 37 secret, 6 checksum).",
            },
        },
        "parameters": {
            "KeyIdPath": {"name": "id", "in": "path", "required": true, "schema": schema_ref("KeyId")},
            "Limit": {"name": "limit", "in": "query", "required": false,
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE}},
            "Cursor": {"name": "cursor", "in": "query", "required": false,
                "description": "The previous page's next_cursor, with the same filters.",
                "schema": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_-]+$"}},
        },
        "headers": {
            "RetryAfter": {"description": "Seconds to wait before retrying.",
                "schema": {"type": "integer", "minimum": 1}},
            "RateLimit": {"description": "IETF draft-ietf-httpapi-ratelimit-headers: each limit's \
                    remaining requests (r) and the seconds until its window or period ends (t), \
                    e.g. \"rate\";r=42;t=17, \"quota\";r=9000;t=1209600.",
                "schema": {"type": "string"}},
            "RateLimitPolicy": {"description": "Each limit's requests (q) per window (w, seconds): \
                    \"rate\";q=100;w=60, \"quota\";q=10000;w=2592000.",
                "schema": {"type": "string"}},
        },
        "responses": {
            "BadRequest": {"description": "Bad input; the message names the field.",
                "content": json_body(schema_ref("Error"), example_error("invalid_request",
                    "name: must be 1-100 characters (got 0)"))},
            "Unauthorized": {"description": "No X-API-Key header (API Gateway's own answer).",
                "content": json_body(schema_ref("GatewayMessage"), json!({"message": "Unauthorized"}))},
            "Forbidden": {"description": "The authorizer denied the key (API Gateway's \
                    {\"message\":\"Forbidden\"}), or keygate refused the call: \
                    insufficient_scope, privilege_escalation, insufficient_authority.",
                "content": json_body(
                    json!({"oneOf": [schema_ref("GatewayMessage"), schema_ref("Error")]}),
                    example_error("insufficient_authority",
                        "this key has full access and yours does not: only a full-access key can change it"))},
            "NotFound": {"description": "No such key in your organization.",
                "content": json_body(schema_ref("Error"), example_error("not_found",
                    "no API key \"0354hGhYKuHPbL24wFhd2p\" in your organization"))},
            "Conflict": {"description": "The key's state does not allow this change.",
                "content": json_body(schema_ref("Error"), example_error("invalid_transition",
                    "cannot reactivate a revoked key: revoked is final"))},
            "PayloadTooLarge": {"description": format!("The body is over {MAX_BODY_BYTES} bytes."),
                "content": json_body(schema_ref("Error"), example_error("payload_too_large",
                    &format!("the request body is larger than {MAX_BODY_BYTES} bytes")))},
            "TooManyRequests": {"description": "In defer mode: the calling key is over its rate \
                    limit or quota; nothing was done. RateLimit and RateLimit-Policy say where it \
                    stands (also on every other answer to a key with limits).",
                "headers": {
                    "Retry-After": {"$ref": "#/components/headers/RetryAfter"},
                    "RateLimit": {"$ref": "#/components/headers/RateLimit"},
                    "RateLimit-Policy": {"$ref": "#/components/headers/RateLimitPolicy"},
                },
                "content": json_body(schema_ref("Error"), example_error("limit_exceeded",
                    "this key is over its rate limit of 100 requests per minute; retry after 12 s"))},
            "Unavailable": {"description": "The key store is throttled, down or timing out (in \
                    defer mode also: the calling key's use could not be counted).",
                "headers": {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}},
                "content": json_body(schema_ref("Error"), example_error("service_unavailable",
                    "the key store is busy or unavailable; retry after 1 s"))},
        },
        "schemas": {
            "Scope": {"type": "string", "enum": scopes, "description": "A scope of the catalog."},
            "CreateKeyRequest": {
                "description": "A service key (no owner) or a user key (owner required).",
                "oneOf": [create_request("service", catalog), create_request("user", catalog)],
            },
            "UpdateKeyRequest": {
                "type": "object", "additionalProperties": false, "minProperties": 1,
                "description": "The labels to change; at least one.",
                "properties": {
                    "name": text_ref("KeyName", "The key's new name."),
                    "description": nullable(text_ref("Description",
                        "What the key is for (null or empty: no description).")),
                },
            },
            "RevokeRequest": {
                "type": "object", "required": ["reason"], "additionalProperties": false,
                "properties": {"reason": text_ref("Reason", "Why the key is revoked.")},
            },
            "RotateRequest": {
                "type": "object", "additionalProperties": false,
                "properties": {
                    "grace_period_seconds": nullable(json!({"type": "integer", "minimum": 0,
                        "maximum": MAX_GRACE_SECS, "default": 0,
                        "description": "How long the old key keeps working; 0 (also when null) revokes it now."})),
                    "reason": nullable(text_ref("Reason",
                        "Why (default \"rotated\" on the old key when it is revoked now).")),
                },
            },
            "LimitsRequest": limits_request(),
            "GatewayMessage": {
                "type": "object", "required": ["message"], "additionalProperties": false,
                "description": "API Gateway's own answer.",
                "properties": {"message": {"type": "string", "enum": gateway_messages}},
            },
        },
    });
    let Value::Object(mut components) = written else {
        return written;
    };
    if let Some(Value::Object(more)) = components.get_mut("schemas") {
        schemas.append(more);
    }
    components.insert("schemas".into(), Value::Object(schemas));
    Value::Object(components)
}

/// The create body of one key type: a service key has no owner, a user key
/// must name one.
fn create_request(key_type: &str, catalog: &Catalog) -> Value {
    let presets: Vec<&str> = catalog.presets().iter().map(|p| p.name.as_str()).collect();
    let mut properties = Map::new();
    properties.insert("name".into(), text_ref("KeyName", "The key's name."));
    properties.insert(
        "description".into(),
        nullable(text_ref("Description", "What the key is for.")),
    );
    properties.insert(
        "key_type".into(),
        json!({"type": "string", "const": key_type}),
    );
    let mut required = vec!["name", "key_type"];
    if key_type == "user" {
        properties.insert(
            "owner".into(),
            text_ref("Owner", "The person the key belongs to."),
        );
        required.push("owner");
    } else {
        properties.insert(
            "owner".into(),
            json!({"type": "null", "description": "Only user keys have an owner."}),
        );
    }
    properties.insert(
        "permissions".into(),
        json!({
            "description": "\"full\" (the default, also when null), a list of scopes, or a preset.",
            "oneOf": [
                {"type": "null"},
                {"type": "string", "const": "full"},
                {"type": "array", "minItems": 1, "items": schema_ref("Scope")},
                {"type": "object", "required": ["preset"], "additionalProperties": false,
                 "properties": {"preset": {"type": "string", "enum": presets}}},
            ],
        }),
    );
    properties.insert(
        "limits".into(),
        nullable(json!({
            "allOf": [schema_ref("LimitsRequest")],
            "description": "Usage limits. By default none, or, when the calling key has limits, \
                the caller's own: a limited key's keys draw on its budget, limited no looser.",
        })),
    );
    properties.insert(
        "expires_at".into(),
        nullable(json!({
            "type": "string", "format": "date-time",
            "description": "RFC 3339; must be in the future, no later than 9999-12-31T23:59:59Z. \
                By default the caller's own expiry, if it has one; never later than it.",
            "examples": [example_expiry()],
        })),
    );
    json!({
        "type": "object",
        "title": format!("{key_type} key"),
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

/// A key's limits as a create or a set-limits call gives them.
fn limits_request() -> Value {
    json!({
        "type": "object", "additionalProperties": false,
        "properties": {
            "rate": nullable(json!({
                "type": "object", "additionalProperties": false,
                "required": ["requests", "window_seconds"],
                "description": "At most requests per window_seconds, as a sliding window.",
                "properties": {
                    "requests": {"type": "integer", "minimum": 1, "maximum": MAX_RATE_REQUESTS},
                    "window_seconds": {"type": "integer", "minimum": 1, "maximum": MAX_WINDOW_SECONDS},
                },
            })),
            "quota": nullable(json!({
                "type": "object", "additionalProperties": false,
                "required": ["requests", "period"],
                "description": "At most requests per calendar period (UTC), reset at its start.",
                "properties": {
                    "requests": {"type": "integer", "minimum": 1, "maximum": MAX_QUOTA_REQUESTS},
                    "period": schema_ref("QuotaPeriod"),
                },
            })),
        },
    })
}

/// An expiry a create may ask for: a year from when the document was
/// built, at midnight UTC, so the example is accepted as it stands (a fixed
/// date would one day be in the past).
fn example_expiry() -> String {
    let now = Timestamp::now().unix();
    let midnight = now - now.rem_euclid(86_400);
    Timestamp::from_unix(midnight + 365 * 86_400).to_string()
}

fn example_record() -> Value {
    json!({
        "id": "0354hGhYKuHPbL24wFhd2p", "org_id": "acme", "name": "ci-deployer",
        "description": "Deploys from CI", "key_type": "service", "owner": null,
        "scopes": ["runs:read", "runs:write"], "status": "active", "expired": false,
        "hint": "kg_...Q6E2", "created_at": "2026-11-27T04:13:34Z",
        "created_by": "0354ehkyfAjyksnKRtpEcG", "updated_at": "2026-11-27T04:13:34Z",
        "suspended_at": null, "revoked_at": null, "revoked_reason": null, "revoked_by": null,
        "expires_at": "2030-01-31T00:00:00Z", "last_used_at": null,
        "rotated_from": null, "rotated_to": null,
        "limits": {"rate": {"requests": 100, "window_seconds": 60}, "quota": null},
        "budget": "0354hGhYKuHPbL24wFhd2p",
        "caller": {
            "update": {"allowed": true, "code": null, "reason": null},
            "suspend": {"allowed": true, "code": null, "reason": null},
            "reactivate": {"allowed": true, "code": null, "reason": null},
            "rotate": {"allowed": true, "code": null, "reason": null},
            "revoke": {"allowed": true, "code": null, "reason": null},
            "delete": {"allowed": false, "code": "insufficient_scope",
                       "reason": "this call needs the api-keys:delete scope"},
            "set_limits": {"allowed": true, "code": null, "reason": null},
            "reset_usage": {"allowed": true, "code": null, "reason": null},
        },
        "last_active_full_access": false
    })
}

fn example_usage() -> Value {
    json!({
        "key_id": "0354hGhYKuHPbL24wFhd2p", "budget": "0354hGhYKuHPbL24wFhd2p",
        "limits": {"rate": {"requests": 100, "window_seconds": 60},
            "quota": {"requests": 100000, "period": "month"}},
        "rate": {"limit": 100, "used": 42, "remaining": 58,
            "resets_at": "2026-11-27T04:14:00Z", "window_seconds": 60},
        "quota": {"limit": 100000, "used": 31377, "remaining": 68623,
            "resets_at": "2026-12-01T00:00:00Z", "window_seconds": 2592000}
    })
}

fn example_created() -> Value {
    let mut record = example_record();
    record["key"] = "kg_0354hGhYKuHPbL24wFhd2pFEFvB6LwN8IXbIW5w4qdNEwSbEdANLwCos0sz2DQ6E2".into();
    record
}

/// Scopes for examples: the catalog's first two (keygate's own when it has
/// no others), so an example is accepted by this deployment as it stands.
fn example_scopes(catalog: &Catalog) -> Vec<&'static str> {
    catalog
        .scopes()
        .iter()
        .take(2)
        .map(|s| s.as_str())
        .collect()
}

/// The deployment's own catalog, as `GET /v1/scopes` answers it.
fn example_catalog(catalog: &Catalog) -> Value {
    serde_json::to_value(CatalogView::of(catalog)).unwrap_or_default()
}

fn example_event() -> Value {
    json!({
        "id": "0354hGmX2bqQ3Yb6qvUy3W", "org_id": "acme", "time": "2026-11-27T05:01:10Z",
        "action": "revoke", "key_id": "0354hGhYKuHPbL24wFhd2p", "key_name": "ci-deployer",
        "actor_type": "key", "actor_key_id": "0354ehkyfAjyksnKRtpEcG", "actor_hint": "kg_...mc0W",
        "actor_name": "admin", "reason": "leaked in a build log", "status_before": "active",
        "status_after": "revoked", "rotated_to": null, "rotated_from": null, "changes": [],
        "request_id": "NpbN7gV4DoEEMVw=", "source_ip": "203.0.113.7",
        "user_agent": "keygate-cli/0.1.0", "limits": null
    })
}

fn example_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "request_id": "01932c3e-7b1a-7c2e-9d4f-2a6b8c0e1f3a"}})
}
