//! The audit trail of the caller's organization, newest first.

use lambda_http::{Body, Response};

use super::json_response;
use crate::app::App;
use crate::domain::audit::{AuditAction, EventFilter};
use crate::domain::authority::Caller;
use crate::domain::id::KeyId;
use crate::domain::id::{EventId, IdError};
use crate::domain::redaction::quoted;
use crate::http::cursor::events_scope;
use crate::http::error::ApiError;
use crate::http::request::{Input, next_cursor};
use crate::http::views::AuditEventView;
use crate::http::views::ListBody;
use crate::store::Store;

pub(in crate::http) async fn list<S: Store>(
    app: &App<S>,
    caller: &Caller,
    input: &Input,
) -> Result<Response<Body>, ApiError> {
    let query = &input.query;
    // 22 base62 characters past the largest id have the shape of an id, but
    // no key can have one: no events, rather than a 400.
    let mut no_such_key = false;
    let key_id = match query.get("key_id").map(|k| (k, KeyId::parse(k))) {
        None => None,
        Some((_, Ok(id))) => Some(id),
        Some((_, Err(IdError::OutOfRange))) => {
            no_such_key = true;
            None
        }
        Some((k, Err(_))) => {
            return Err(ApiError::bad_request(
                "key_id",
                format!("{} is not a key id (22 letters or digits)", quoted(k)),
            ));
        }
    };
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
    let filter = EventFilter { key_id, action };
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
