//! The audit trail of the caller's organization, newest first, filtered by
//! the key changed or the key that acted, by action, and by time.

use lambda_http::{Body, Response};

use super::json_response;
use crate::app::App;
use crate::domain::audit::{AuditAction, EventFilter};
use crate::domain::authority::Caller;
use crate::domain::id::KeyId;
use crate::domain::id::{EventId, IdError};
use crate::domain::redaction::quoted;
use crate::domain::time::Timestamp;
use crate::http::cursor::events_scope;
use crate::http::error::ApiError;
use crate::http::request::{Input, Query, next_cursor};
use crate::http::views::AuditEventView;
use crate::http::views::ListBody;
use crate::store::Store;

/// A key id parameter: `Ok(None)` when absent; `Err(None)` when it has the
/// shape of an id but no key can have it (22 base62 characters past the
/// largest id): no events, rather than a 400.
fn key_param(query: &Query, name: &str) -> Result<Option<KeyId>, Option<ApiError>> {
    match query.get(name).map(|k| (k, KeyId::parse(k))) {
        None => Ok(None),
        Some((_, Ok(id))) => Ok(Some(id)),
        Some((_, Err(IdError::OutOfRange))) => Err(None),
        Some((k, Err(_))) => Err(Some(ApiError::bad_request(
            name,
            format!("{} is not a key id (22 letters or digits)", quoted(k)),
        ))),
    }
}

/// A time parameter: the first event id of its millisecond.
fn time_param(query: &Query, name: &str) -> Result<Option<EventId>, ApiError> {
    query
        .get(name)
        .map(|t| {
            Timestamp::parse_rfc3339_millis(t)
                .map(EventId::first_at_millis)
                .map_err(|e| ApiError::bad_request(name, format!("{} {e}", quoted(t))))
        })
        .transpose()
}

pub(in crate::http) async fn list<S: Store>(
    app: &App<S>,
    caller: &Caller,
    input: &Input,
) -> Result<Response<Body>, ApiError> {
    let query = &input.query;
    let mut no_such_key = false;
    let mut key = |name| match key_param(query, name) {
        Ok(id) => Ok(id),
        Err(None) => {
            no_such_key = true;
            Ok(None)
        }
        Err(Some(e)) => Err(e),
    };
    let key_id = key("key_id")?;
    let actor = key("actor_key_id")?;
    let action = query
        .get("action")
        .map(|a| {
            a.parse::<AuditAction>().map_err(|_| {
                let actions: Vec<&str> = <AuditAction as strum::VariantArray>::VARIANTS
                    .iter()
                    .map(|a| a.as_str())
                    .collect();
                ApiError::bad_request(
                    "action",
                    format!("{} is not one of {}", quoted(a), actions.join(", ")),
                )
            })
        })
        .transpose()?;
    let since = time_param(query, "since")?;
    let until = time_param(query, "until")?;
    if let (Some(since), Some(until)) = (since, until)
        && until <= since
    {
        return Err(ApiError::bad_request("until", "must be later than since"));
    }
    let filter = EventFilter {
        key_id,
        action,
        actor,
        since,
        until,
    };
    filter
        .index()
        .map_err(|e| ApiError::bad_request("actor_key_id", e))?;
    let limit = query.limit()?;
    let scope = events_scope(&filter);
    let after = query.cursor(&caller.org, &scope)?.map(EventId::from_u128);
    if no_such_key {
        return json_response(
            200,
            &ListBody::<AuditEventView<'_>> {
                data: vec![],
                next_cursor: None,
            },
        );
    }
    let page = app
        .store
        .list_events(&caller.org, filter, limit, after)
        .await?;
    let next = page.next_after().map(|e| e.id.as_u128());
    json_response(
        200,
        &ListBody {
            data: page.items.iter().map(AuditEventView::of).collect(),
            next_cursor: next_cursor(&caller.org, &scope, next),
        },
    )
}
