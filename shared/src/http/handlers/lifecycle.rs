//! Suspend, reactivate, revoke and delete: each one conditional write of the
//! key with its audit event, after the caller's authority over the key.

use lambda_http::{Body, Request, Response};

use super::{Decision, change_key, json_response};
use crate::app::App;
use crate::domain::authority::{Act, Caller};
use crate::domain::change::{Change, Origin};
use crate::domain::lifecycle::{Check, Transition, check};
use crate::domain::record::KeyRecord;
use crate::domain::text::RevokeReason;
use crate::http::error::ApiError;
use crate::http::request::{Input, path_id};
use crate::http::views::KeyView;
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
    let act: fn(&KeyRecord) -> Act<'_> = match transition {
        Transition::Reactivate => |target| Act::Reactivate { target },
        Transition::Suspend | Transition::Revoke => |target| Act::Change { target },
    };
    let record = change_key(app, caller, id, act, |before| {
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
    json_response(200, &KeyView::of(&record, now))
}

pub(in crate::http) async fn delete<S: Store>(
    app: &App<S>,
    caller: &Caller,
    req: &Request,
    origin: &Origin,
) -> Result<Response<Body>, ApiError> {
    let id = path_id(req)?;
    change_key(
        app,
        caller,
        id,
        |target| Act::Change { target },
        |before| {
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
