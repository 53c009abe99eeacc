//! Suspend, reactivate, revoke and delete: each one conditional write of the
//! key with its audit event, after the caller's authority over the key.

use lambda_http::{Body, Request, Response};

use super::{Decision, Viewer, change_key, json_response, owned_record};
use crate::app::App;
use crate::domain::authority::{Act, Caller};
use crate::domain::change::{Change, Origin};
use crate::domain::lifecycle::{Check, Transition, check, check_delete};
use crate::domain::record::KeyRecord;
use crate::domain::text::RevokeReason;
use crate::http::error::ApiError;
use crate::http::request::{Input, path_id};
use crate::store::Store;

pub(in crate::http) async fn suspend<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    transition(app, caller, req, Transition::Suspend, None, origin).await
}

pub(in crate::http) async fn reactivate<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    transition(app, caller, req, Transition::Reactivate, None, origin).await
}

pub(in crate::http) async fn revoke<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    input: &Input,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let reason = RevokeReason::new(input.body.required_str("reason")?)
        .map_err(|e| ApiError::bad_request("reason", e))?;
    transition(app, caller, req, Transition::Revoke, Some(reason), origin).await
}

async fn transition<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    transition: Transition,
    reason: Option<RevokeReason>,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = path_id(req)?;
    let now = origin.at;
    let record = change_key(app, caller, id, act_of(transition), |before| {
        match check(before.status, transition)? {
            // Already there: a harmless no-op that changes (and records) nothing.
            Check::NoOp => Ok(Decision::Done(before)),
            Check::Apply => {
                let (change, after) = Change::status(before, transition, reason.clone(), origin);
                Ok(Decision::Commit(Box::new(change), after))
            }
        }
    })
    .await?;
    let viewer = Viewer::of(app, caller, now, [&record]).await?;
    json_response(200, &viewer.view(&record))
}

/// The authority a transition needs over its target: reactivating is
/// giving power back, the others take it away.
pub(super) fn act_of(transition: Transition) -> fn(&KeyRecord) -> Act<'_> {
    match transition {
        Transition::Reactivate => |target| Act::Reactivate { target },
        Transition::Suspend | Transition::Revoke => |target| Act::Change { target },
    }
}

pub(in crate::http) async fn delete<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = path_id(req)?;
    // A rotation's successor names the key it replaced, which must not be
    // left naming a successor that is gone while it still works. Which key
    // that is never changes, so it is read once.
    let predecessor = match owned_record(app, caller, id).await?.rotated_from {
        Some(from) => app.store.get(from).await?,
        None => None,
    };
    change_key(
        app,
        caller,
        id,
        |target| Act::Change { target },
        |before| {
            check_delete(&before, predecessor.as_ref(), origin.at)?;
            Ok(Decision::Commit(
                Box::new(Change::delete(before, origin)),
                (),
            ))
        },
    )
    .await?;
    Response::builder()
        .status(204)
        .body(Body::Empty)
        .map_err(ApiError::internal)
}
