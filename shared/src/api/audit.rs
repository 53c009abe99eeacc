//! The audit trail of the caller's organization, newest first.

use lambda_http::{Body, Request, Response};

use super::request::{ListBody, Query, next_cursor};
use super::{App, json_response};
use crate::audit::{AuditAction, AuditEventView, EventFilter, EventId};
use crate::authority::Caller;
use crate::error::{ApiError, quoted};
use crate::key::{KeyFormatError, KeyId};
use crate::store::Store;

pub(super) async fn list<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
) -> Result<Response<Body>, ApiError> {
    let query = Query::of(req, &["key_id", "action", "limit", "cursor"])?;
    // 22 base62 characters past the largest id have the shape of an id, but
    // no key can have one: no events, rather than a 400.
    let mut no_such_key = false;
    let key_id = match query.get("key_id").map(|k| (k, KeyId::parse(k))) {
        None => None,
        Some((_, Ok(id))) => Some(id),
        Some((_, Err(KeyFormatError::BadId))) => {
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
            AuditAction::parse(a).ok_or_else(|| {
                ApiError::bad_request(
                    "action",
                    format!(
                        "{} is not one of {}",
                        quoted(a),
                        AuditAction::ALL.map(AuditAction::as_str).join(", ")
                    ),
                )
            })
        })
        .transpose()?;
    let filter = EventFilter { key_id, action };
    let limit = query.limit()?;
    let scope = filter.cursor_scope();
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
            data: page.items.iter().map(|e| e.to_view()).collect(),
            next_cursor: next_cursor(&caller.org, &scope, next),
        },
    )
}
